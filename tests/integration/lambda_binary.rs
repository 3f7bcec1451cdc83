//! The release-shaped binary as a Lambda custom runtime: it polls a (fake) Runtime API, answers
//! every sample event with the event byte for byte, reports bad configuration as an init error,
//! finds EKS through `AWS_ENDPOINT_URL_EKS`, and, started by hand, answers `--help` and says it
//! is not in Lambda instead of panicking.

use std::path::Path;
use std::time::Duration;

use kfpm_fakes::ShiftedClock;
use kfpm_fakes::apiserver::FakeClusterConfig;
use kfpm_fakes::local::{LocalStack, wait_exit};
use kfpm_fakes::runtime_api::Invocation;

const BINARY: &str = env!("CARGO_BIN_EXE_kubeflow-profile-manager");
const TIMEOUT: Duration = Duration::from_secs(20);

async fn stack() -> LocalStack {
    LocalStack::start(FakeClusterConfig::new(ShiftedClock::default().clock())).await
}

#[tokio::test]
async fn every_sample_event_is_answered_with_itself_byte_for_byte() {
    let stack = stack().await;
    // The samples' groups are URL-form-encoded, as Cognito sends SAML values with spaces.
    let _function =
        stack.spawn_function(Path::new(BINARY), &[("DECODE_GROUP_NAMES", "true")], true);
    let mut events: Vec<_> = std::fs::read_dir("events")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    events.sort();
    assert!(events.len() >= 6, "{events:?}");
    for path in &events {
        let event = std::fs::read_to_string(path).unwrap();
        let answer = stack
            .runtime
            .invoke(&event, Duration::from_secs(5), TIMEOUT)
            .await;
        // The JSON value exactly as received (a file's trailing newline is not part of it).
        let sent = event.trim_end().to_owned();
        assert_eq!(
            answer,
            Some(Invocation::Response(sent)),
            "{}",
            path.display()
        );
    }
    // The sign-ins did their work through the fake EKS endpoint given in the environment.
    assert_eq!(stack.eks.calls(), 1, "DescribeCluster once per container");
    // rumesh signed in with three groups, then refreshed with two: ridy-jose was revoked.
    let name = "user-rumesh-corp-example-clusterrole-edit";
    assert!(
        stack
            .cluster
            .get("RoleBinding", Some("ridy-rumesh"), name)
            .is_some()
    );
    assert!(
        stack
            .cluster
            .get("RoleBinding", Some("ridy-jose"), name)
            .is_none()
    );
    // The awkward user got the usable groups only, and nothing in system namespaces.
    let awkward = "user-mallory-oneil-ml-corp-example-clusterrole-edit";
    assert!(
        stack
            .cluster
            .get("RoleBinding", Some("data-science"), awkward)
            .is_some()
    );
    assert!(
        stack
            .cluster
            .get("RoleBinding", Some("r-d-eu"), awkward)
            .is_some()
    );
    for ns in ["kube-system", "kubeflow", "istio-system", "profile-rumesh"] {
        assert!(
            stack
                .cluster
                .get("RoleBinding", Some(ns), awkward)
                .is_none(),
            "{ns}"
        );
    }
    // "Data Science" claimed data-science first; DATA_SCIENCE is another AD group.
    let data_science = stack.cluster.get("Profile", None, "data-science").unwrap();
    assert_eq!(
        data_science["metadata"]["annotations"]["kubeflow-profile-manager/group"],
        "Data Science"
    );
    // cognito-local's user is local (no IdP): nothing is granted from its stored groups.
    let alice = "user-alice-smith-corp-example-clusterrole-edit";
    assert!(
        stack
            .cluster
            .get("RoleBinding", Some("ml-platform"), alice)
            .is_none()
    );
    assert!(
        stack
            .cluster
            .get("Profile", None, "profile-alice")
            .is_none()
    );
    assert!(stack.runtime.init_error().is_none());
}

#[tokio::test]
async fn a_failed_sign_in_is_an_error_answer_without_internals() {
    let stack = stack().await;
    stack.eks.fail_next(1);
    let _function = stack.spawn_function(Path::new(BINARY), &[], true);
    let event = std::fs::read_to_string("events/v1-adfs-hosted-auth.json").unwrap();
    let Some(Invocation::Error(error)) = stack
        .runtime
        .invoke(&event, Duration::from_secs(5), TIMEOUT)
        .await
    else {
        panic!("expected an error answer");
    };
    let error: serde_json::Value = serde_json::from_str(&error).unwrap();
    assert_eq!(
        error["errorType"], "SignInFailed",
        "a stable name for CloudWatch and Cognito"
    );
    let message = error["errorMessage"].as_str().unwrap();
    assert_eq!(
        message,
        kubeflow_profile_manager::error::USER_FACING_MESSAGE
    );
    assert!(!message.contains("127.0.0.1"));
}

#[tokio::test]
async fn bad_configuration_is_reported_as_an_init_error_naming_the_variable() {
    let stack = stack().await;
    let mut function = stack.spawn_function(Path::new(BINARY), &[("FAIL_MODE", "sometimes")], true);
    let status = wait_exit(&mut function, TIMEOUT)
        .await
        .expect("the runtime exits");
    assert!(!status.success());
    let report = stack
        .runtime
        .init_error()
        .expect("an init error was posted");
    assert!(report.contains("FAIL_MODE"), "{report}");
    assert!(report.contains("one of closed, open"), "{report}");
    assert!(
        stack.runtime.first_poll().is_none(),
        "never asked for an event"
    );
}

#[tokio::test]
async fn the_legacy_variable_names_configure_the_binary() {
    let stack = stack().await;
    let cluster = stack.cluster.config().cluster_name.clone();
    let _function = stack.spawn_function(
        Path::new(BINARY),
        &[
            ("CLUSTER_NAME", ""),
            ("clusterName", &cluster),
            ("cognitoGroupField", "custom:adgroups"),
        ],
        true,
    );
    let event = std::fs::read_to_string("events/v1-adfs-hosted-auth.json")
        .unwrap()
        .replace("custom:groups", "custom:adgroups");
    let answer = stack
        .runtime
        .invoke(&event, Duration::from_secs(5), TIMEOUT)
        .await;
    assert_eq!(
        answer,
        Some(Invocation::Response(event.trim_end().to_owned()))
    );
    assert!(stack.cluster.get("Profile", None, "ridy-rumesh").is_some());
}

#[test]
fn started_by_hand_it_answers_help_and_refuses_to_run_outside_lambda_without_panicking() {
    let run = |args: &[&str]| {
        std::process::Command::new(BINARY)
            .args(args)
            .env_clear()
            .output()
            .expect("the binary starts")
    };
    let help = run(&["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("custom runtime"));

    let outside = run(&[]);
    assert_eq!(outside.status.code(), Some(2));
    let message = String::from_utf8_lossy(&outside.stderr);
    assert!(
        message.contains("AWS_LAMBDA_RUNTIME_API is not set"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
}

/// Signs one person in through the binary started with `extra`, and returns what it logged.
async fn failed_sign_in_log(extra: &[(&str, &str)]) -> String {
    let stack = stack().await;
    let function = stack.spawn_function_capturing(Path::new(BINARY), extra);
    let event = kfpm_fakes::events::sign_in_event("rumesh", "rumesh@corp.example", "[ml]");
    let answer = stack
        .runtime
        .invoke(&event, Duration::from_secs(5), TIMEOUT)
        .await;
    assert!(
        matches!(answer, Some(Invocation::Error(ref e)) if e.contains("SignInFailed")),
        "{answer:?}"
    );
    kfpm_fakes::local::stop_and_collect_output(function).await
}

#[tokio::test]
async fn a_failed_sign_in_is_one_line_with_its_causes_once_and_the_fix() {
    let log = failed_sign_in_log(&[("CLUSTER_NAME", "prod-kubeflow")]).await;
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("sign-in provisioning failed"))
        .collect();
    assert_eq!(failures.len(), 1, "{log}");
    let line = failures[0];
    assert_eq!(
        line.matches("No cluster found for name: prod-kubeflow.")
            .count(),
        1,
        "{line}"
    );
    assert!(
        line.contains("hint=\"EKS has no cluster of this name in the function's region"),
        "{line}"
    );
    assert!(line.contains("fail_mode=\"closed\""), "{line}");
    assert!(!line.contains("Some("), "{line}");
    // The API server refusing the token (no access entry): the hint says so.
    let log = failed_sign_in_log(&[("AWS_SECRET_ACCESS_KEY", "not-the-secret")]).await;
    let line = log
        .lines()
        .find(|l| l.contains("sign-in provisioning failed"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("401"), "{line}");
    assert!(
        line.contains("hint=\"the API server does not know the function's role"),
        "{line}"
    );
    assert!(!log.contains("not-the-secret"), "a credential was logged");
}

#[tokio::test]
async fn a_payload_that_is_not_json_is_answered_as_a_malformed_event_in_words() {
    let stack = stack().await;
    let function = stack.spawn_function_capturing(Path::new(BINARY), &[]);
    let Some(Invocation::Error(error)) = stack
        .runtime
        .invoke("not json", Duration::from_secs(5), TIMEOUT)
        .await
    else {
        panic!("expected an error answer");
    };
    let error: serde_json::Value = serde_json::from_str(&error).unwrap();
    assert_eq!(
        error["errorType"], "MalformedEvent",
        "ours, not a Rust type name"
    );
    assert_eq!(
        error["errorMessage"],
        "the event is not JSON (expected ident at line 1 column 2): a Cognito Pre Token Generation event, or a command of this function, is a JSON object (README, The event and the names)"
    );
    let log = kfpm_fakes::local::stop_and_collect_output(function).await;
    let said: Vec<&str> = log.lines().filter(|l| l.contains("not JSON")).collect();
    assert_eq!(said.len(), 1, "{log}");
    assert!(
        !log.contains("DeserializeError") && !log.contains("LambdaEvent<"),
        "{log}"
    );
}

#[tokio::test]
async fn a_failed_command_is_one_log_line_in_words() {
    let stack = stack().await;
    let function = stack.spawn_function_capturing(
        Path::new(BINARY),
        &[("USER_POOL_ID", ""), ("FUNCTION_ROLE", "sweep")],
    );
    let Some(Invocation::Error(error)) = stack
        .runtime
        .invoke(
            r#"{"kubeflow-profile-manager": "sweep"}"#,
            Duration::from_secs(30),
            TIMEOUT,
        )
        .await
    else {
        panic!("expected an error answer");
    };
    let error: serde_json::Value = serde_json::from_str(&error).unwrap();
    assert_eq!(error["errorType"], "CommandFailed");
    assert_eq!(
        error["errorMessage"],
        "sweep: the AWS configuration has no user pool (set USER_POOL_ID)"
    );
    let log = kfpm_fakes::local::stop_and_collect_output(function).await;
    let said: Vec<&str> = log.lines().filter(|l| l.contains("USER_POOL_ID")).collect();
    assert_eq!(said.len(), 1, "once: {log}");
    assert!(
        said[0].contains("ERROR command failed command=\"sweep\""),
        "{log}"
    );
    assert!(!log.contains("CommandFailed("), "no Rust Debug: {log}");
}

#[tokio::test]
async fn a_bad_setting_is_one_log_line_and_the_init_error_without_a_debug_dump() {
    let stack = stack().await;
    let mut function =
        stack.spawn_function_capturing(Path::new(BINARY), &[("FAIL_MODE", "sometimes")]);
    wait_exit(&mut function, TIMEOUT)
        .await
        .expect("the runtime exits");
    let log = kfpm_fakes::local::stop_and_collect_output(function).await;
    assert_eq!(
        log.trim_end(),
        "ERROR invalid configuration error=FAIL_MODE=\"sometimes\" is invalid: expected one of closed, open, optionally followed by CLUSTER=closed|open for the clusters of CLUSTER_NAME whose mode differs (closed,kf-dev=open)"
    );
    let report: serde_json::Value =
        serde_json::from_str(&stack.runtime.init_error().unwrap()).unwrap();
    assert_eq!(report["errorType"], "Runtime.ConfigError");
}

/// The error answer of `function` (started on `runtime`) to `payload`.
async fn refusal(
    runtime: &kfpm_fakes::runtime_api::FakeRuntimeApi,
    payload: &str,
) -> serde_json::Value {
    let Some(Invocation::Error(error)) = runtime
        .invoke(payload, Duration::from_secs(30), TIMEOUT)
        .await
    else {
        panic!("expected {payload} refused");
    };
    serde_json::from_str(&error).unwrap()
}

#[tokio::test]
async fn each_function_does_only_its_own_job_whatever_the_payload_says() {
    // Issue "Nothing a tenant writes steers access", item 4: permission to invoke the sweep
    // function (an auditor's, for the access report) must not be a grant right, and the
    // trigger runs no sweep.
    let stack = stack().await;
    let _trigger = stack.spawn_function(Path::new(BINARY), &[], true);
    let _sweep = stack.spawn_sweep_function(Path::new(BINARY), &[], true);
    let event = kfpm_fakes::events::sign_in_event("rumesh", "rumesh@corp.example", "[ml]");
    let before = stack.cluster.versions().await;
    let bound = || {
        let binding = "user-rumesh-corp-example-clusterrole-edit";
        stack
            .cluster
            .get("RoleBinding", Some("ml"), binding)
            .is_some()
    };

    let refused = refusal(&stack.sweep_runtime, &event).await;
    assert_eq!(refused["errorType"], "WrongFunction", "{refused}");
    assert!(
        refused["errorMessage"]
            .as_str()
            .unwrap()
            .contains("FUNCTION_ROLE=sweep"),
        "{refused}"
    );
    let doctor = refusal(
        &stack.sweep_runtime,
        r#"{"kubeflow-profile-manager": "doctor"}"#,
    )
    .await;
    assert_eq!(doctor["errorType"], "WrongFunction");
    assert_eq!(stack.cluster.versions().await, before, "nothing granted");
    assert!(!bound(), "nothing granted");

    for command in ["sweep", "access-report"] {
        let payload = format!(r#"{{"kubeflow-profile-manager": "{command}"}}"#);
        let refused = refusal(&stack.runtime, &payload).await;
        assert_eq!(
            refused["errorType"], "WrongFunction",
            "{command}: {refused}"
        );
    }
    // And each still does its own.
    match stack
        .runtime
        .invoke(&event, Duration::from_secs(5), TIMEOUT)
        .await
    {
        Some(Invocation::Response(answer)) => assert_eq!(answer, event.trim_end()),
        other => panic!("the trigger's sign-in: {other:?}"),
    }
    assert!(bound());
    match stack
        .sweep_runtime
        .invoke(
            r#"{"kubeflow-profile-manager": "access-report"}"#,
            Duration::from_secs(30),
            TIMEOUT,
        )
        .await
    {
        Some(Invocation::Response(answer)) => {
            assert!(answer.contains("rumesh@corp.example"), "{answer}")
        }
        other => panic!("the sweep function's report: {other:?}"),
    }
}
