//! The doctor, through the real binary as Lambda runs it: on every cluster flavour it reports
//! the cluster, the token, each permission (SelfSubjectAccessReview), Kubeflow's ClusterRoles,
//! the learnt conventions and a preview of one
//! sign-in, and writes nothing; each broken deployment is named with its fix.

use std::path::Path;
use std::time::Duration;

use kfpm_fakes::ShiftedClock;
use kfpm_fakes::apiserver::rbac::Rbac;
use kfpm_fakes::apiserver::{FakeClusterConfig, Flavor};
use kfpm_fakes::local::LocalStack;
use kfpm_fakes::runtime_api::Invocation;
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_kubeflow-profile-manager");
const TIMEOUT: Duration = Duration::from_secs(20);

async fn stack_with(adjust: impl FnOnce(&mut FakeClusterConfig)) -> LocalStack {
    let mut config = FakeClusterConfig::new(ShiftedClock::default().clock());
    config.controller_delay = Duration::from_millis(50);
    adjust(&mut config);
    let stack = LocalStack::start(config).await;
    stack.cluster.seed_profile("team-a", "alice@corp.example");
    stack
        .cluster
        .seed_group_profile("ml-ops", "admin@kubeflow.com", "ml-ops");
    stack
}

/// Starts the function with `extra` settings, asks its doctor `request`, returns the report.
async fn doctor(stack: &LocalStack, extra: &[(&str, &str)], request: Value) -> Value {
    let _function = stack.spawn_function(Path::new(BINARY), extra, true);
    let mut request = request;
    request["kubeflow-profile-manager"] = json!("doctor");
    match stack
        .runtime
        .invoke(&request.to_string(), Duration::from_secs(6), TIMEOUT)
        .await
    {
        Some(Invocation::Response(report)) => serde_json::from_str(&report).unwrap(),
        other => panic!(
            "no report: {other:?}, init error {:?}",
            stack.runtime.init_error()
        ),
    }
}

/// The findings of `check`, as `ok|PROBLEM detail`.
fn lines(report: &Value, check: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"].as_str().unwrap().starts_with(check))
        .map(|f| {
            format!(
                "{} {}",
                if f["ok"] == true { "ok" } else { "PROBLEM" },
                f["detail"].as_str().unwrap()
            )
        })
        .collect()
}

fn problems(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["ok"] == false)
        .map(|f| {
            format!(
                "{}: {}",
                f["check"].as_str().unwrap(),
                f["detail"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn on_every_flavour_a_sound_deployment_is_reported_ok_and_nothing_is_written() {
    // Ambient without a waypoint is not sound: its own test below.
    for flavor in Flavor::ALL
        .into_iter()
        .filter(|f| *f != Flavor::AmbientWithoutWaypoint)
    {
        let stack = stack_with(|c| c.flavor = flavor).await;
        let before = stack.cluster.versions().await;
        let report = doctor(
            &stack,
            &[],
            json!({"email": "rumesh@corp.example", "groups": ["ml", "ml-ops", "team-a", "kube-system"]}),
        )
        .await;
        assert_eq!(report["ok"], true, "{flavor:?}: {:?}", problems(&report));
        let twin = match flavor {
            Flavor::Kubeflow12 => "ServiceRoleBinding",
            _ => "AuthorizationPolicy",
        };
        let conventions = lines(&report, "conventions").join("\n");
        assert!(
            conventions.contains(&format!("Istio twins {twin};")),
            "{flavor:?}: {conventions}"
        );
        let naming = if flavor == Flavor::Kubeflow12 {
            "Kubeflow 1.2"
        } else {
            "Kubeflow >= 1.3"
        };
        assert!(conventions.contains(naming), "{flavor:?}: {conventions}");
        assert!(
            lines(&report, "permissions")[0].starts_with("ok all "),
            "{flavor:?}"
        );
        assert_eq!(lines(&report, "ClusterRole").len(), 2);
        let preview = lines(&report, "sign-in");
        for expected in [
            "ok group \"ml\" -> namespace ml".to_owned(),
            "ok would refuse group \"kube-system\" (namespace kube-system): system namespace".to_owned(),
            "ok would refuse group \"team-a\" (namespace team-a): owned by \"alice@corp.example\"".to_owned(),
            "ok would create Profile ml (server dry run: accepted)".to_owned(),
            // ml's namespace does not exist yet: its binding is computed, not dry-run.
            "ok would create RoleBinding ml/user-rumesh-corp-example-clusterrole-edit (computed: its namespace does not exist yet)".to_owned(),
            // ml-ops exists: the binding goes through the API server's own checks.
            "ok would create RoleBinding ml-ops/user-rumesh-corp-example-clusterrole-edit (server dry run: accepted)".to_owned(),
        ] {
            assert!(preview.contains(&expected), "{flavor:?}: {expected} not in {preview:#?}");
        }
        assert!(
            preview
                .iter()
                .any(|l| l.contains(&format!("would create {twin} ml-ops/"))
                    && l.ends_with("(server dry run: accepted)")),
            "{flavor:?}: {preview:#?}"
        );
        assert_eq!(
            stack.cluster.versions().await,
            before,
            "{flavor:?}: the doctor wrote"
        );
        let dry_runs = stack
            .cluster
            .requests()
            .iter()
            .filter(|r| r.query.contains("dryRun=All"))
            .count();
        assert!(dry_runs >= 4, "{flavor:?}: {dry_runs} dry runs");
    }
}

#[tokio::test]
async fn a_missing_permission_is_named_with_its_fix() {
    let stack = stack_with(|c| {
        c.rbac = Some(
            Rbac::project().with_role("kubeflow-profile-manager", |rules| {
                for rule in rules.iter_mut().filter(|r| r.resources == ["rolebindings"]) {
                    rule.verbs.retain(|v| v != "delete");
                }
            }),
        );
    })
    .await;
    let report = doctor(&stack, &[], json!({})).await;
    assert_eq!(report["ok"], false);
    assert_eq!(
        lines(&report, "permission"),
        [
            "PROBLEM delete rolebindings.rbac.authorization.k8s.io is not granted. Fix: apply deploy/rbac.yaml for the stack's KubernetesGroup (make -s rbac | kubectl apply -f -; it grants exactly what the function needs), and check that the access entry maps the role to that group"
        ]
    );
}

#[tokio::test]
async fn a_wrong_cluster_name_is_named_with_its_fix() {
    let stack = stack_with(|_| {}).await;
    let report = doctor(&stack, &[("CLUSTER_NAME", "prod-kubeflow")], json!({})).await;
    assert_eq!(report["ok"], false);
    let cluster = lines(&report, "cluster");
    assert_eq!(cluster.len(), 1, "{cluster:?}");
    assert!(
        cluster[0].starts_with("PROBLEM EKS DescribeCluster for \"prod-kubeflow\" failed: "),
        "{cluster:?}"
    );
    // The SDK's message once, not repeated, then the fix.
    assert_eq!(
        cluster[0]
            .matches("No cluster found for name: prod-kubeflow.")
            .count(),
        1,
        "{cluster:?}"
    );
    assert!(
        cluster[0].contains("Fix: EKS has no cluster of this name in the function's region"),
        "{cluster:?}"
    );
    assert!(
        lines(&report, "token").is_empty(),
        "nothing after the cluster is checked"
    );
}

#[tokio::test]
async fn a_refused_token_is_named_with_its_fix() {
    let stack = stack_with(|_| {}).await;
    // EKS checks only the key id's scope; the API server verifies the signature and refuses it.
    let report = doctor(
        &stack,
        &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
        json!({}),
    )
    .await;
    assert_eq!(report["ok"], false);
    let token = lines(&report, "token");
    assert_eq!(token.len(), 1, "{token:?}");
    assert!(token[0].contains("401"), "{token:?}");
    assert!(
        token[0].contains(
            "Fix: the API server does not know the function's role: give it an EKS access entry"
        ),
        "{token:?}"
    );
    assert!(!stack.cluster.rejected_tokens().is_empty());
}

#[tokio::test]
async fn missing_kubeflow_roles_are_problems() {
    let stack = stack_with(|c| c.kubeflow_roles = false).await;
    let report = doctor(&stack, &[], json!({})).await;
    let roles = lines(&report, "ClusterRole");
    assert_eq!(roles.len(), 2);
    assert!(
        roles
            .iter()
            .all(|r| r.starts_with("PROBLEM missing: Kubeflow installs it")),
        "{roles:?}"
    );
    // The function reads no app client: the pool is not even asked.
    assert!(
        stack.cognito.calls().is_empty(),
        "{:?}",
        stack.cognito.calls()
    );
}

#[tokio::test]
async fn an_unknown_command_is_refused_and_a_sign_in_still_answers() {
    let stack = stack_with(|_| {}).await;
    let _function = stack.spawn_function(Path::new(BINARY), &[], true);
    let answer = stack
        .runtime
        .invoke(
            r#"{"kubeflow-profile-manager":"cure"}"#,
            Duration::from_secs(5),
            TIMEOUT,
        )
        .await;
    match answer {
        Some(Invocation::Error(error)) => {
            assert!(
                error.contains("BadCommand") && error.contains("cure"),
                "{error}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn in_ambient_without_a_waypoint_the_doctor_reports_the_workloads_refused() {
    let stack = stack_with(|c| c.flavor = Flavor::AmbientWithoutWaypoint).await;
    let report = doctor(
        &stack,
        &[],
        json!({"email": "rumesh@corp.example", "groups": ["ml-ops"]}),
    )
    .await;
    assert_eq!(report["ok"], false);
    let problems = problems(&report);
    assert_eq!(
        problems,
        [
            "sign-in: would refuse group \"ml-ops\" (namespace ml-ops): workloads refused: the namespace is in Istio ambient mode without a waypoint, where no per-person policy admits anyone; the RoleBinding is written (give the namespace a waypoint: istio.io/use-waypoint, istio.io/ingress-use-waypoint=true)"
        ],
        "{problems:?}"
    );
}

#[tokio::test]
async fn the_doctor_names_a_namespace_an_earlier_version_made_outside_the_mesh() {
    let stack = stack_with(|_| {}).await;
    stack.cluster.seed(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml",
        "annotations": {"owner": "admin@kubeflow.com", "kubeflow-profile-manager/group": "ml"},
        "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager"}}}),
    );
    let report = doctor(&stack, &[], json!({})).await;
    assert_eq!(report["ok"], false);
    assert_eq!(
        problems(&report),
        [
            "mesh: namespace ml: no mesh label, so its pods run without a sidecar and no Istio policy protects them; a member's next federated sign-in adds istio-injection=enabled (pods already running there get their sidecar only when restarted)"
        ]
    );
}

#[tokio::test]
async fn the_doctor_says_whether_the_admission_policies_are_enforced() {
    let stack = stack_with(|_| {}).await;
    let report = doctor(&stack, &[], json!({})).await;
    let said = lines(&report, "admission policies");
    assert_eq!(
        said,
        ["ok kubeflow-profile-manager-marks, kubeflow-profile-manager-own-writes enforced (Deny)"]
    );
    // Not applied (or a cluster before Kubernetes 1.30): a problem, with the command.
    let stack = stack_with(|c| c.admission = None).await;
    let report = doctor(&stack, &[], json!({})).await;
    let said = lines(&report, "admission policies");
    assert!(said[0].starts_with("PROBLEM kubeflow-profile-manager-marks, kubeflow-profile-manager-own-writes not enforced"), "{said:?}");
    assert!(
        said[0].contains("make -s admission | kubectl apply -f -"),
        "{said:?}"
    );
}
