//! The layout is the design: the pure core (`src/domain`) uses no client, network, runtime or
//! SDK crate; the I/O lives in the edges (`src/eks`, `src/kubernetes`, `src/lambda`).

use std::path::Path;

/// Paths whose use would bring I/O into the core.
const FORBIDDEN_IN_THE_CORE: &[&str] = &[
    "kube::Client",
    "kube::Api",
    "kube::api",
    "kube::client",
    "kube::discovery",
    "kube::runtime",
    "tokio",
    "hyper",
    "tower",
    "lambda_runtime",
    "aws_sdk",
    "aws_config",
    "aws_sigv4",
    "aws_credential_types",
    "std::net",
    "std::fs",
    "std::process",
    "crate::eks",
    "crate::kubernetes",
    "crate::lambda",
];

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_core_uses_no_client_network_runtime_or_sdk_crate() {
    let files = rust_files(Path::new("src/domain"));
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in FORBIDDEN_IN_THE_CORE {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}",
                file.display()
            );
        }
    }
}

#[test]
fn every_module_says_what_it_owns_and_whether_it_does_io() {
    for dir in [
        "src/domain",
        "src/cognito",
        "src/eks",
        "src/kubernetes",
        "src/lambda",
    ] {
        for file in rust_files(Path::new(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                text.starts_with("//! "),
                "{} has no module doc",
                file.display()
            );
            let doc: String = text
                .lines()
                .take_while(|l| l.starts_with("//!"))
                .collect::<Vec<_>>()
                .join(" ");
            let doc = doc.to_lowercase();
            let says = if dir == "src/domain" {
                doc.contains("pure")
            } else {
                doc.contains("i/o")
            };
            assert!(says, "{} does not say whether it does I/O", file.display());
        }
    }
}

#[test]
fn no_kubernetes_url_is_written_by_hand() {
    for dir in [
        "src",
        "src/domain",
        "src/eks",
        "src/kubernetes",
        "src/lambda",
    ] {
        for file in rust_files(Path::new(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for literal in [
                "\"/api",
                "/apis/",
                "labelSelector=",
                "fieldManager=",
                "/namespaces/",
            ] {
                assert!(
                    !text.contains(literal),
                    "{} builds {literal}",
                    file.display()
                );
            }
        }
    }
}
