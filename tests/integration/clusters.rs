//! One sign-in, several clusters (`CLUSTER_NAME=kf-a,kf-b,us-west-2/kf-c`): every cluster
//! provisioned at once, each described in its own region and sent a token signed for it there;
//! a cluster that is down or refuses the token fails the sign-in only under `FAIL_MODE=closed`,
//! and never keeps the others from their access.

use crate::harness;
use std::time::Duration;

use kfpm_fakes::ShiftedClock;
use kfpm_fakes::apiserver::{FakeCluster, FakeClusterConfig};
use kfpm_fakes::eks::{DescribedCluster, FakeEks};
use kfpm_fakes::events::sign_in_event;
use kubeflow_profile_manager::domain::config::Config;
use kubeflow_profile_manager::{App, Outcome};

const JANE: &str = "jane@corp.example";

struct Clusters {
    clusters: Vec<FakeCluster>,
    eks: FakeEks,
    clock: ShiftedClock,
}

/// Fake clusters `(name, region)`, all described by one fake EKS.
async fn clusters(
    specs: &[(&str, &str)],
    adjust: impl Fn(&str, &mut FakeClusterConfig),
) -> Clusters {
    let clock = ShiftedClock::default();
    let mut clusters = Vec::new();
    for (name, region) in specs {
        let mut config = FakeClusterConfig::new(clock.clock());
        config.cluster_name = (*name).to_owned();
        config.region = (*region).to_owned();
        config.controller_delay = Duration::from_millis(20);
        adjust(name, &mut config);
        clusters.push(FakeCluster::start(config).await);
    }
    let eks = FakeEks::for_cluster(&clusters[0]).await;
    for cluster in &clusters[1..] {
        eks.add_cluster(cluster);
    }
    Clusters {
        clusters,
        eks,
        clock,
    }
}

impl Clusters {
    /// The function, configured with `cluster_names` and `vars`, in the first cluster's region.
    async fn app(&self, cluster_names: &str, vars: &[(&str, &str)]) -> App {
        let mut pairs = vec![
            ("CLUSTER_NAME", cluster_names),
            ("ALLOW_ALL_GROUPS", "true"),
        ];
        pairs.extend_from_slice(vars);
        let config = Config::from_pairs(&pairs).expect("valid configuration");
        harness::app_for(&self.clusters[0], &self.eks, config, self.clock.clock()).await
    }

    /// Jane's RoleBindings on cluster `index`, as namespaces.
    fn access_on(&self, index: usize) -> Vec<String> {
        let mut namespaces: Vec<String> = self.clusters[index]
            .all("RoleBinding")
            .iter()
            .filter(|rb| rb["subjects"][0]["name"] == JANE)
            .filter(|rb| rb["metadata"]["name"] != "namespaceAdmin")
            .map(|rb| rb["metadata"]["namespace"].as_str().unwrap().to_owned())
            .collect();
        namespaces.sort();
        namespaces
    }
}

const THREE: [(&str, &str); 3] = [
    ("kf-a", "us-east-1"),
    ("kf-b", "us-east-1"),
    ("kf-c", "us-west-2"),
];

#[tokio::test]
async fn one_sign_in_grants_on_three_clusters_one_of_them_in_another_region() {
    let c = clusters(&THREE, |_, _| {}).await;
    let app = c.app("kf-a,kf-b,us-west-2/kf-c", &[]).await;
    let outcome = app
        .handle(&sign_in_event("jane", JANE, "[ml, nlp]"), None)
        .await
        .unwrap();
    let Outcome::Synchronised(reports) = outcome else {
        panic!("{outcome:?}")
    };
    let granted: Vec<(String, Vec<String>)> = reports
        .iter()
        .map(|r| {
            let mut granted = r.summary.granted.clone();
            granted.sort();
            (r.cluster.clone(), granted)
        })
        .collect();
    let both = vec!["ml".to_owned(), "nlp".to_owned()];
    assert_eq!(
        granted,
        [
            ("kf-a".to_owned(), both.clone()),
            ("kf-b".to_owned(), both.clone()),
            ("us-west-2/kf-c".to_owned(), both.clone())
        ]
    );
    for index in 0..3 {
        assert_eq!(c.access_on(index), both, "cluster {index}");
    }
    assert_eq!(
        app.token_mints(),
        3,
        "a token per cluster, each for its name and region"
    );
    assert_eq!(c.eks.calls(), 3, "each cluster described once");
    // A repeat sign-in: nothing described or minted again, nothing written anywhere.
    let before = futures::future::join_all(c.clusters.iter().map(FakeCluster::versions)).await;
    app.handle(&sign_in_event("jane", JANE, "[ml, nlp]"), None)
        .await
        .unwrap();
    let after = futures::future::join_all(c.clusters.iter().map(FakeCluster::versions)).await;
    assert_eq!(before, after);
    assert_eq!((c.eks.calls(), app.token_mints()), (3, 3));
}

/// A fourth cluster EKS describes at an address where nothing answers.
fn add_a_cluster_that_is_down(c: &Clusters) {
    c.eks.add(DescribedCluster {
        name: "kf-down".into(),
        endpoint: "https://127.0.0.1:9".into(),
        ca_base64: c.clusters[0].ca_base64(),
        access_key_ids: vec![c.clusters[0].config().credentials.access_key_id.clone()],
        region: "us-east-1".into(),
    });
}

#[tokio::test]
async fn a_cluster_that_is_down_fails_a_closed_sign_in_and_the_others_still_get_their_access() {
    let c = clusters(&THREE, |_, _| {}).await;
    add_a_cluster_that_is_down(&c);
    let app = c
        .app(
            "kf-a,kf-down,kf-b,us-west-2/kf-c",
            &[("TIME_BUDGET_MS", "1500")],
        )
        .await;
    let result = app.handle(&sign_in_event("jane", JANE, "[ml]"), None).await;
    assert!(result.is_err(), "{result:?}");
    for index in 0..3 {
        assert_eq!(c.access_on(index), ["ml"], "cluster {index}");
    }
}

#[tokio::test]
async fn a_cluster_that_is_down_is_logged_and_let_through_when_open() {
    let c = clusters(&THREE, |_, _| {}).await;
    add_a_cluster_that_is_down(&c);
    let app = c
        .app(
            "kf-a,kf-down,kf-b,us-west-2/kf-c",
            &[("TIME_BUDGET_MS", "1500"), ("FAIL_MODE", "open")],
        )
        .await;
    let outcome = app
        .handle(&sign_in_event("jane", JANE, "[ml]"), None)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::FailedOpen);
    for index in 0..3 {
        assert_eq!(c.access_on(index), ["ml"], "cluster {index}");
    }
}

#[tokio::test]
async fn the_fail_mode_of_the_cluster_that_failed_decides() {
    let c = clusters(&THREE, |_, _| {}).await;
    add_a_cluster_that_is_down(&c);
    // The development cluster is down: open there, the sign-in goes through.
    let app = c
        .app(
            "kf-a,kf-down,kf-b,us-west-2/kf-c",
            &[
                ("TIME_BUDGET_MS", "1500"),
                ("FAIL_MODE", "closed,kf-down=open"),
            ],
        )
        .await;
    let outcome = app
        .handle(&sign_in_event("jane", JANE, "[ml]"), None)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::FailedOpen);
    for index in 0..3 {
        assert_eq!(c.access_on(index), ["ml"], "cluster {index}");
    }
    // Closed there, open everywhere else: it fails.
    let app = c
        .app(
            "kf-a,kf-down,kf-b,us-west-2/kf-c",
            &[
                ("TIME_BUDGET_MS", "1500"),
                ("FAIL_MODE", "open,kf-down=closed"),
            ],
        )
        .await;
    assert!(
        app.handle(&sign_in_event("jane", JANE, "[ml]"), None)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn what_one_namespace_holds_refuses_that_group_on_that_cluster_only_and_fails_nothing() {
    let c = clusters(&THREE, |_, _| {}).await;
    // On kf-b, an admin of ops made, under Jane's KFAM name, a binding for someone else.
    harness::seed_team(&c.clusters[1], "ops");
    c.clusters[1].seed(serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "user-jane-corp-example-clusterrole-edit", "namespace": "ops"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory@corp.example"}],
    }));
    let app = c
        .app("kf-a,kf-b,us-west-2/kf-c", &[("FAIL_MODE", "closed")])
        .await;
    let outcome = app
        .handle(&sign_in_event("jane", JANE, "[ml, ops]"), None)
        .await
        .expect("a refusal fails no sign-in, even closed");
    let Outcome::Synchronised(reports) = outcome else {
        panic!("{outcome:?}")
    };
    let refused: Vec<(String, Vec<String>)> = reports
        .iter()
        .map(|r| {
            (
                r.cluster.clone(),
                r.summary.refused.iter().map(|g| g.group.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("kf-a".to_owned(), vec![]),
            ("kf-b".to_owned(), vec!["ops".to_owned()]),
            ("us-west-2/kf-c".to_owned(), vec![]),
        ]
    );
    assert_eq!(c.access_on(0), ["ml", "ops"]);
    assert_eq!(c.access_on(1), ["ml"]);
    assert_eq!(c.access_on(2), ["ml", "ops"]);
}

#[tokio::test]
async fn a_token_refused_by_one_cluster_only_fails_that_cluster_alone() {
    // kf-b trusts another key pair: it refuses the function's signature, the others accept it.
    let c = clusters(&THREE, |name, config| {
        if name == "kf-b" {
            config.credentials.secret_access_key =
                "another/secret/the/function/does/not/have".into();
        }
    })
    .await;
    let app = c.app("kf-a,kf-b,us-west-2/kf-c", &[]).await;
    let result = app.handle(&sign_in_event("jane", JANE, "[ml]"), None).await;
    assert!(result.is_err());
    assert_eq!(c.access_on(0), ["ml"]);
    assert!(c.access_on(1).is_empty());
    assert_eq!(c.access_on(2), ["ml"]);
    assert!(!c.clusters[1].rejected_tokens().is_empty());
    assert!(c.clusters[0].rejected_tokens().is_empty());
    assert_eq!(
        app.token_mints(),
        4,
        "one per cluster, and one more for kf-b after its 401"
    );
}

mod through_the_binary {
    //! The doctor, the sweep and the access report cover every cluster (the binary under the
    //! fake Runtime API, with a fake Cognito).

    use std::path::Path;
    use std::time::{Duration, SystemTime};

    use kfpm_fakes::apiserver::FakeClusterConfig;
    use kfpm_fakes::events::sub_of;
    use kfpm_fakes::local::{LOCAL_USER_POOL, LocalStack};
    use kfpm_fakes::members::{Record, seed_group, seed_member, username_of};
    use kfpm_fakes::runtime_api::Invocation;
    use serde_json::{Value, json};

    const BINARY: &str = env!("CARGO_BIN_EXE_kubeflow-profile-manager");

    async fn two_clusters() -> LocalStack {
        let mut config = FakeClusterConfig::new(kfpm_fakes::ShiftedClock::default().clock());
        config.controller_delay = Duration::from_millis(20);
        let mut stack = LocalStack::start(config).await;
        stack.add_cluster("kf-dr", "us-west-2").await;
        stack
    }

    async fn command(stack: &LocalStack, request: Value) -> Value {
        command_on(&stack.runtime, request).await
    }

    /// A command to the function running on `runtime` (the trigger's or the sweep function's).
    async fn command_on(
        runtime: &kfpm_fakes::runtime_api::FakeRuntimeApi,
        request: Value,
    ) -> Value {
        match runtime
            .invoke(
                &request.to_string(),
                Duration::from_secs(20),
                Duration::from_secs(40),
            )
            .await
        {
            Some(Invocation::Response(answer)) => serde_json::from_str(&answer).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_sweep_covers_every_cluster_and_asks_the_pool_once_per_person() {
        let stack = two_clusters().await;
        let seen = Record::Seen(SystemTime::now());
        for cluster in stack.clusters() {
            seed_group(cluster, "ml");
            // Bob left; Jane stays; both on both clusters.
            seed_member(cluster, "bob", "ml", seen);
            seed_member(cluster, "jane", "ml", seen);
        }
        stack
            .cognito
            .add_user(LOCAL_USER_POOL, &username_of("jane"), &sub_of("jane"), true);
        let _function = stack.spawn_sweep_function(Path::new(BINARY), &[], true);
        let answer = command_on(
            &stack.sweep_runtime,
            json!({"kubeflow-profile-manager": "sweep"}),
        )
        .await;
        assert_eq!(answer["users"], 4, "{answer}");
        assert_eq!(answer["revokedDeleted"], 2, "{answer}");
        assert_eq!(answer["kept"], 2, "{answer}");
        // The pool is asked once for both clusters' people: its size, then its one page (two
        // people wanted, one page holds the whole pool).
        assert_eq!(answer["cognitoRequests"], 2, "{answer}");
        assert_eq!(answer["poolLookup"], "scan", "{answer}");
        let clusters: Vec<&str> = answer["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["cluster"].as_str().unwrap())
            .collect();
        assert_eq!(clusters, ["kubeflow-test", "us-west-2/kf-dr"]);
        for cluster in stack.clusters() {
            let left: Vec<String> = cluster
                .all("RoleBinding")
                .iter()
                .filter(|rb| rb["metadata"]["namespace"] == "ml")
                .filter_map(|rb| rb["subjects"][0]["name"].as_str().map(str::to_owned))
                .filter(|name| name.ends_with("@corp.example"))
                .collect();
            assert_eq!(
                left,
                ["jane@corp.example"],
                "{}",
                cluster.config().cluster_name
            );
        }

        let report = command_on(
            &stack.sweep_runtime,
            json!({"kubeflow-profile-manager": "access-report", "format": "csv"}),
        )
        .await;
        let rows: Vec<&str> = report["csv"]
            .as_str()
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("access,") && l.contains("@corp.example"))
            .collect();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows[0].starts_with(
            "access,kubeflow-test,ml,user-jane-corp-example-clusterrole-edit,jane@corp.example,"
        ));
        assert!(rows[1].starts_with(
            "access,us-west-2/kf-dr,ml,user-jane-corp-example-clusterrole-edit,jane@corp.example,"
        ));
    }

    #[tokio::test]
    async fn the_doctor_checks_every_cluster_and_names_it() {
        let stack = two_clusters().await;
        let _function = stack.spawn_function(Path::new(BINARY), &[], true);
        let report = command(&stack, json!({"kubeflow-profile-manager": "doctor"})).await;
        let checks: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["ok"] == true)
            .map(|f| f["check"].as_str().unwrap().to_owned())
            .collect();
        for cluster in ["kubeflow-test", "us-west-2/kf-dr"] {
            for check in ["cluster", "token"] {
                let wanted = format!("{cluster} {check}");
                assert!(checks.contains(&wanted), "{wanted} missing from {checks:?}");
            }
        }
        let configuration = report["findings"][0]["detail"].as_str().unwrap();
        assert!(
            configuration.starts_with("clusters kubeflow-test, us-west-2/kf-dr "),
            "{configuration}"
        );
    }
}
