//! What the binary does when started by hand instead of by Lambda: `--help` and `--version`
//! answer and exit, and outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) it says how to run it
//! locally instead of panicking in the runtime client. No I/O: `main` prints the text and exits.

/// How this process was started.
#[derive(Debug, PartialEq, Eq)]
pub enum Launch {
    /// By Lambda: run the runtime loop.
    Runtime,
    /// Print this text on stdout and exit 0.
    Answer(String),
    /// Print this text on stderr and exit 2.
    Refuse(String),
}

/// Decides from the arguments (without the program name) and whether
/// `AWS_LAMBDA_RUNTIME_API` is set.
pub fn launch(args: &[String], runtime_api_set: bool) -> Launch {
    match args.first().map(String::as_str) {
        Some("--help" | "-h" | "help") => Launch::Answer(usage()),
        Some("--version" | "-V") => Launch::Answer(format!(
            "{} {}",
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION")
        )),
        Some(other) => Launch::Refuse(format!(
            "{}: unknown argument {other}; it takes none (see --help)",
            env!("CARGO_PKG_NAME")
        )),
        None if runtime_api_set => Launch::Runtime,
        None => Launch::Refuse(format!(
            "{}: AWS_LAMBDA_RUNTIME_API is not set, so this is not a Lambda execution \
             environment. Deploy it (make deploy) or run it locally against a fake cluster: \
             make demo, or kfpm-local demo --binary PATH EVENT.json (see --help).",
            env!("CARGO_PKG_NAME")
        )),
    }
}

fn usage() -> String {
    format!(
        "{name} {version}: the Amazon Cognito Pre Token Generation trigger that maps Active \
         Directory groups to Kubeflow Profiles and contributor access on EKS.\n\n\
         It runs as an AWS Lambda custom runtime (provided.al2023) and takes no arguments: \
         Lambda starts it with AWS_LAMBDA_RUNTIME_API set, and its settings come from \
         environment variables (CLUSTER_NAME, GROUP_PREFIX or ALLOW_ALL_GROUPS, FAIL_MODE, \
         DRY_RUN, ...; README, Configuration).\n\n\
         Locally: make demo EVENT=events/v1-adfs-hosted-auth.json runs it against a fake EKS \
         cluster; make bench measures it.\n\n\
         Options:\n  -h, --help     this text\n  -V, --version  the version\n",
        name = env!("CARGO_PKG_NAME"),
        version = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn under_lambda_without_arguments_it_runs_the_runtime() {
        assert_eq!(launch(&[], true), Launch::Runtime);
    }

    #[test]
    fn help_and_version_answer_in_or_out_of_lambda() {
        for set in [true, false] {
            let Launch::Answer(help) = launch(&args(&["--help"]), set) else {
                panic!("--help answers")
            };
            assert!(help.contains("AWS_LAMBDA_RUNTIME_API") && help.contains("make demo"));
            assert_eq!(
                launch(&args(&["--version"]), set),
                Launch::Answer(format!(
                    "kubeflow-profile-manager {}",
                    env!("CARGO_PKG_VERSION")
                ))
            );
        }
    }

    #[test]
    fn outside_lambda_it_refuses_and_says_how_to_run_it_locally() {
        let Launch::Refuse(message) = launch(&[], false) else {
            panic!("refused outside Lambda")
        };
        assert!(
            message.contains("AWS_LAMBDA_RUNTIME_API is not set"),
            "{message}"
        );
        assert!(message.contains("kfpm-local demo"), "{message}");
    }

    #[test]
    fn an_unknown_argument_is_refused() {
        let Launch::Refuse(message) = launch(&args(&["--cluster"]), true) else {
            panic!("refused")
        };
        assert!(message.contains("unknown argument --cluster"), "{message}");
    }
}
