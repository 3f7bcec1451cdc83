//! The layout is the design. Each layer imports only the layers below it:
//!
//! | layer | folders | may import |
//! |---|---|---|
//! | the entry | `src/lib.rs`, `src/main.rs`, `src/invoke.rs` | everything |
//! | a room per use case | `src/sign_in`, `src/sweep`, `src/access_report`, `src/doctor` | `app`, the edges, the core; never another room (the doctor previews a sign-in: it may use `sign_in`) |
//! | what a warm container keeps | `src/app` | the edges, the core |
//! | the I/O edges | `src/kubernetes`, `src/eks`, `src/cognito`, `src/lambda` | `error`, each other, the core |
//! | the errors | `src/error.rs` | the core |
//! | the pure core | `src/domain` | itself only, and no client, network, runtime or SDK crate |
//!
//! Inside the core, the shared model (`domain::model`) and the configuration never import a
//! use case's rules.

use std::path::{Path, PathBuf};

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
    "println!",
    "tracing::",
];

const USE_CASES: &[&str] = &["sign_in", "sweep", "access_report", "doctor"];
const EDGES: &[&str] = &["kubernetes", "eks", "cognito", "lambda"];
const ENTRY: &[&str] = &["lib", "main", "invoke"];

/// Every `.rs` file under `dir`, at any depth, in a stable order.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The top-level module a file of `src` belongs to (`lib` for `src/lib.rs`).
fn top_module(file: &Path) -> String {
    let relative = file.strip_prefix("src").unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_owned()
}

/// The layer of a top-level module: higher layers may import lower ones.
fn layer(module: &str) -> u8 {
    match module {
        "domain" => 0,
        "error" => 1,
        m if EDGES.contains(&m) => 2,
        "app" => 3,
        m if USE_CASES.contains(&m) => 4,
        m if ENTRY.contains(&m) => 5,
        other => panic!("src/{other} has no layer: add it to tests/layout.rs and the README"),
    }
}

/// The code of `text`, without comments (doc links name modules they do not import).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.split("//").next().unwrap_or("")))
}

/// Each `crate::<name>` the code of `text` refers to, with its line.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in code_lines(text) {
        for (at, _) in line.match_indices("crate::") {
            let preceded = line[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            if preceded {
                continue;
            }
            let rest = &line[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '{')
                .collect();
            found.push((number, name));
        }
    }
    found
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let files = rust_files(Path::new("src"));
    assert!(files.len() >= 40, "{files:?}");
    let mut climbs = Vec::new();
    for file in &files {
        let own = top_module(file);
        let text = std::fs::read_to_string(file).unwrap();
        for (line, target) in crate_paths(&text) {
            let climb = if target.starts_with(|c: char| c.is_uppercase() || c == '{') {
                // The crate root's re-exports (`crate::App`): only the entry may use them.
                !ENTRY.contains(&own.as_str())
            } else {
                let (from, to) = (layer(&own), layer(&target));
                let other_room = from == 4 && to == 4 && own != target;
                to > from || (other_room && !(own == "doctor" && target == "sign_in"))
            };
            if climb {
                climbs.push(format!("{}:{line} uses crate::{target}", file.display()));
            }
        }
    }
    assert!(
        climbs.is_empty(),
        "imports that climb:\n{}",
        climbs.join("\n")
    );
}

#[test]
fn the_shared_model_and_the_configuration_never_import_a_use_cases_rules() {
    for dir in ["src/domain/model", "src/domain/config"] {
        for file in rust_files(Path::new(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (line, code) in code_lines(&text) {
                for rules in ["sign_in", "offboarding", "doctor", "router"] {
                    assert!(
                        !code.contains(&format!("domain::{rules}")),
                        "{}:{line} imports domain::{rules}",
                        file.display()
                    );
                }
            }
        }
    }
}

#[test]
fn the_core_uses_no_client_network_runtime_or_sdk_crate_and_prints_nothing() {
    let files = rust_files(Path::new("src/domain"));
    assert!(files.len() >= 20, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, code) in code_lines(&text) {
            for forbidden in FORBIDDEN_IN_THE_CORE {
                assert!(
                    !code.contains(forbidden),
                    "{}:{line} uses {forbidden}",
                    file.display()
                );
            }
            let outside = crate_paths(code)
                .into_iter()
                .any(|(_, target)| target != "domain");
            assert!(
                !outside,
                "{}:{line} reaches out of the core",
                file.display()
            );
        }
    }
}

#[test]
fn every_module_says_what_it_owns_and_whether_it_does_io() {
    for file in rust_files(Path::new("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//! ") || text.starts_with("//! #"),
            "{} has no module doc",
            file.display()
        );
        if file.ends_with("lib.rs") {
            continue;
        }
        let doc: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        let says = if top_module(&file) == "domain" {
            doc.contains("pure")
        } else {
            doc.contains("i/o") || doc.contains("pure")
        };
        assert!(says, "{} does not say whether it does I/O", file.display());
    }
}

#[test]
fn no_kubernetes_url_is_written_by_hand() {
    for file in rust_files(Path::new("src")) {
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

/// The paths in the first column of the README's layout table, each cell's back-quoted paths.
fn readme_layout_paths() -> Vec<String> {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme
        .find("\n## Layout")
        .expect("README has a Layout section")
        + 1;
    let mut paths = Vec::new();
    for row in readme[start..].lines().skip(1) {
        if row.starts_with("## ") {
            break;
        }
        let Some(cell) = row.strip_prefix("| ").and_then(|r| r.split(" | ").next()) else {
            continue;
        };
        // The first path of a cell is from the repository's root; the others are in its
        // folder (the path itself when it is a folder).
        let mut folder: Option<String> = None;
        for quoted in cell.split('`').skip(1).step_by(2) {
            let path = match &folder {
                None => quoted.to_owned(),
                Some(folder) => format!("{folder}{quoted}"),
            };
            if folder.is_none() {
                folder = Some(if path.ends_with('/') {
                    path.clone()
                } else {
                    path[..path.rfind('/').map_or(0, |i| i + 1)].to_owned()
                });
            }
            paths.push(path);
        }
    }
    paths
}

#[test]
fn the_readmes_layout_table_matches_the_tree() {
    let listed = readme_layout_paths();
    assert!(listed.len() >= 20, "{listed:?}");
    for path in &listed {
        let path = path.split(' ').next().unwrap();
        assert!(
            Path::new(path).exists(),
            "the README's layout lists {path}, which does not exist"
        );
    }
    // Every folder of src, the test kit and the tests, and every file at their roots, is
    // listed, itself or by a file in it.
    let mut entries: Vec<PathBuf> = std::fs::read_dir("src")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for folder in ["src/domain", "testkit", "testkit/fakes/src", "tests"] {
        if let Ok(read) = std::fs::read_dir(folder) {
            entries.extend(read.map(|e| e.unwrap().path()));
        }
    }
    for entry in entries {
        let entry = entry.to_string_lossy().into_owned();
        // A folder of a file's submodules (`istio/` beside `istio.rs`) goes with the file.
        let covered = listed.iter().any(|path| {
            path.trim_end_matches('/') == entry
                || path.starts_with(&format!("{entry}/"))
                || *path == format!("{entry}.rs")
        });
        assert!(covered, "the README's layout does not list {entry}");
    }
}

/// Each function of `text` longer than `most` lines: its name and its first line.
fn long_functions(text: &str, most: usize) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let signature = ["pub(super) ", "pub(crate) ", "pub ", "async ", "const "]
            .iter()
            .fold(trimmed, |rest, prefix| {
                rest.strip_prefix(prefix).unwrap_or(rest)
            });
        let signature = signature.strip_prefix("async ").unwrap_or(signature);
        let Some(name) = signature.strip_prefix("fn ") else {
            continue;
        };
        let name: String = name
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // A declaration without a body (a trait's) ends at its semicolon.
        let Some(open) =
            (start..lines.len()).find(|&i| lines[i].contains('{') || lines[i].ends_with(';'))
        else {
            continue;
        };
        if !lines[open].contains('{') {
            continue;
        }
        let closing = " ".repeat(indent) + "}";
        if let Some(end) = (open..lines.len()).find(|&i| lines[i] == closing)
            && end - start + 1 > most
        {
            found.push((name, start + 1));
        }
    }
    found
}

#[test]
fn no_file_is_over_500_lines_and_no_function_over_80_outside_the_tests() {
    let mut files = rust_files(Path::new("src"));
    files.extend(rust_files(Path::new("testkit")));
    let mut too_long = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("tests.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        let lines = text.lines().count();
        if lines > 500 {
            too_long.push(format!("{}: {lines} lines", file.display()));
        }
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (name, line) in long_functions(code, 80) {
            too_long.push(format!(
                "{}:{line}: fn {name} over 80 lines",
                file.display()
            ));
        }
    }
    assert!(too_long.is_empty(), "{}", too_long.join("\n"));
    let sample = "fn short() {\n}\n\nfn long() {\n".to_owned() + &"    x();\n".repeat(80) + "}\n";
    assert_eq!(long_functions(&sample, 80), [("long".to_owned(), 4)]);
}
