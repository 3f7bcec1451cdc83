//! `kfpm-local` behaves like a tool: `--help` lists its commands, a wrong command or option is
//! refused with a non-zero exit, and `demo` and `doctor` exit 1 when the sign-in failed or a
//! check found a problem. Runs the function binary built next to it (`cargo test --workspace`).

use std::path::PathBuf;
use std::process::{Command, Output};

const KFPM_LOCAL: &str = env!("CARGO_BIN_EXE_kfpm-local");

/// The function binary cargo built next to `kfpm-local`.
fn function_binary() -> PathBuf {
    let binary = PathBuf::from(KFPM_LOCAL).with_file_name("kubeflow-profile-manager");
    assert!(
        binary.exists(),
        "{} is missing: run cargo test --workspace",
        binary.display()
    );
    binary
}

fn run(args: &[&str]) -> (i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(KFPM_LOCAL).args(args).output().unwrap();
    (
        status.code().unwrap(),
        String::from_utf8_lossy(&stdout).into_owned() + &String::from_utf8_lossy(&stderr),
    )
}

#[test]
fn help_lists_the_commands_and_mistakes_are_refused() {
    let (code, help) = run(&["--help"]);
    assert_eq!(code, 0);
    for command in [
        "demo",
        "doctor",
        "bench",
        "serve",
        "access-report",
        "bench-sweep",
        "bench-clusters",
        "--ad-groups",
        "--flavor",
        "--format",
        "--people",
    ] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
    assert_eq!(run(&[]).0, 2, "no command");
    let (code, said) = run(&["access-report", "--format", "xlsx"]);
    assert_eq!(code, 2);
    assert!(said.contains("--format takes json or csv"), "{said}");
    let (code, said) = run(&["demo", "--bogus"]);
    assert_eq!(code, 2);
    assert!(said.contains("unknown option --bogus"), "{said}");
    let binary = function_binary();
    let (code, said) = run(&["cure", "--binary", binary.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        said.contains(
            "unknown command cure: demo, doctor, bench, bench-clusters, access-report, bench-sweep or serve"
        ),
        "{said}"
    );
}

#[test]
fn demo_shows_the_groups_and_the_cluster_and_fails_when_the_sign_in_does() {
    let binary = function_binary();
    let binary = binary.to_str().unwrap();
    let event = "../../events/v1-adfs-hosted-auth.json";
    let (code, shown) = run(&["demo", "--binary", binary, event]);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("group \"RIDY-JOSE\" -> namespace ridy-jose"),
        "{shown}"
    );
    assert!(shown.contains("* RoleBinding"), "{shown}");
    assert!(
        shown.contains("(made by the profile controller)"),
        "{shown}"
    );
    assert!(
        shown.contains("(already there, as on a cluster in use)"),
        "{shown}"
    );
    let (code, shown) = run(&[
        "demo",
        "--binary",
        binary,
        "--env",
        "CLUSTER_NAME=nope",
        event,
    ]);
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("1 of 1 sign-ins failed"), "{shown}");
}

#[test]
fn the_readmes_team_defaults_demo_makes_them_in_each_new_team_namespace() {
    // README, Team defaults: make demo ENV="TEAM_DEFAULTS_FILE=deploy/team-defaults/team-defaults.yaml"
    // (make runs kfpm-local from the repository's root; this test runs in testkit/tools).
    let binary = function_binary();
    let (code, shown) = run(&[
        "demo",
        "--binary",
        binary.to_str().unwrap(),
        "--env",
        "TEAM_DEFAULTS_FILE=../../deploy/team-defaults/team-defaults.yaml",
        "../../events/v1-adfs-hosted-auth.json",
    ]);
    assert_eq!(code, 0, "{shown}");
    for made in [
        "* PodDefault",
        "ridy-jose/access-ml-pipeline",
        "* LimitRange",
        "ridy-jose/team-limits",
    ] {
        assert!(shown.contains(made), "{made}: {shown}");
    }
    assert!(
        !shown.contains("could not create a team default"),
        "{shown}"
    );
}

#[test]
fn demo_reads_as_a_newcomer_would_want_it() {
    let binary = function_binary();
    let binary = binary.to_str().unwrap();
    let (code, shown) = run(&[
        "demo",
        "--binary",
        binary,
        "--env",
        "DRY_RUN=false",
        "../../events/v1-adfs-hosted-auth.json",
        "../../events/v3-client-credentials.json",
    ]);
    assert_eq!(code, 0, "{shown}");
    // Its settings first, before anything ran.
    let settings = shown.find("== the function's settings").expect(&shown);
    assert!(settings < shown.find("== invoke").unwrap(), "{shown}");
    assert!(
        shown.contains("   ALLOW_ALL_GROUPS=true  (the demo's allow-list: a deployment sets GROUP_PREFIX, or ALLOW_ALL_GROUPS=true)"),
        "{shown}"
    );
    assert!(shown.contains("   DRY_RUN=false  (--env)"), "{shown}");
    // One readable line per event: no span prefix, no raw EMF document.
    assert!(!shown.contains("Lambda runtime invoke"), "{shown}");
    assert!(!shown.contains("requestId"), "{shown}");
    assert!(!shown.contains("\"_aws\""), "{shown}");
    assert!(
        shown.contains(" EMF metrics (for CloudWatch) cluster=kubeflow-test: DurationMs="),
        "{shown}"
    );
    // The sign-in's summary comes before its answer; the skipped event says it was skipped.
    let summary = shown.find("sign-in synchronised").expect(&shown);
    let second = shown
        .find("== invoke with ../../events/v3-client-credentials.json")
        .unwrap();
    assert!(summary < second, "{shown}");
    assert!(
        shown[second..]
            .contains("event skipped user=\"\" reason=machine-to-machine token: no user"),
        "{shown}"
    );
    // The profile controller's Istio objects say whom they admit.
    assert!(
        shown.contains("ns-owner-access-istio                         owner rumesh@corp.example (by request.headers[kubeflow-userid])"),
        "{shown}"
    );
    assert!(!shown.contains("user ?"), "{shown}");
}

#[test]
fn demo_says_what_is_wrong_before_starting_anything() {
    let binary = function_binary();
    let (code, said) = run(&[
        "demo",
        "--binary",
        binary.to_str().unwrap(),
        "events/nope.json",
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        said,
        "kfpm-local: events/nope.json: no such event file (events/ holds the samples, e.g. events/v1-adfs-hosted-auth.json)\n"
    );
    // A bad setting: the function's one line and its init error, in words.
    let (code, said) = run(&[
        "demo",
        "--binary",
        binary.to_str().unwrap(),
        "--env",
        "FAIL_MODE=sometimes",
        "../../events/v1-adfs-hosted-auth.json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        said.matches("FAIL_MODE=\"sometimes\" is invalid").count(),
        2,
        "{said}"
    );
    assert!(
        said.contains("ERROR invalid configuration error=FAIL_MODE=\"sometimes\" is invalid: expected one of closed, open"),
        "{said}"
    );
    assert!(
        said.contains("kfpm-local: the function did not start (Runtime.ConfigError): FAIL_MODE=\"sometimes\" is invalid: expected one of closed, open"),
        "{said}"
    );
    assert!(
        !said.contains("Error: ") && !said.contains("ConfigError {"),
        "{said}"
    );
}

#[test]
fn doctor_exits_one_when_a_check_finds_a_problem() {
    let binary = function_binary();
    let binary = binary.to_str().unwrap();
    let (code, report) = run(&[
        "doctor",
        "--binary",
        binary,
        "--email",
        "jo@corp.example",
        "--ad-groups",
        "ml",
    ]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("ok       sign-in: group \"ml\" -> namespace ml"),
        "{report}"
    );
    let (code, report) = run(&["doctor", "--binary", binary, "--env", "CLUSTER_NAME=nope"]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("PROBLEM  cluster: EKS DescribeCluster for \"nope\" failed"),
        "{report}"
    );
}

#[test]
fn access_report_lists_the_access_a_local_sign_in_got_as_csv() {
    let binary = function_binary();
    let event = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/v1-adfs-hosted-auth.json"
    );
    let (code, said) = run(&[
        "access-report",
        "--binary",
        binary.to_str().unwrap(),
        "--format",
        "csv",
        event,
    ]);
    assert_eq!(code, 0, "{said}");
    let rows: Vec<Vec<&str>> = said
        .lines()
        .filter(|l| l.starts_with("access,"))
        .map(|l| l.split(',').collect())
        .collect();
    // kind,cluster,namespace,name,subjects,role,managed,sub,istio_twin,...
    let managed: Vec<&Vec<&str>> = rows.iter().filter(|r| r[6] == "true").collect();
    assert_eq!(managed.len(), 3, "{said}");
    for row in managed {
        assert_eq!(row[1], "kubeflow-test", "{row:?}");
        assert_eq!(
            row[3], "user-rumesh-corp-example-clusterrole-edit",
            "{row:?}"
        );
        assert_eq!(row[4], "rumesh@corp.example", "{row:?}");
        assert_eq!(
            (row[5], row[7], row[8]),
            ("edit", "12ec26be-e8d1-482b-9602-e402c7896cb3", "true"),
            "{row:?}"
        );
    }
}
