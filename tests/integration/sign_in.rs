//! Sign-in scenarios: the real handler over real HTTPS against the strict fake cluster.

use crate::harness;
use std::time::Duration;

use crate::harness::{Harness, OWNER, granted, refused};
use kfpm_fakes::apiserver::{Fault, Flavor};
use kfpm_fakes::events::{sign_in_event, sub_of, token_event};
use kubeflow_profile_manager::Outcome;
use kubeflow_profile_manager::error::USER_FACING_MESSAGE;
use serde_json::{Value, json};

const RUMESH: &str = "rumesh@corp.example";
const NAME: &str = "user-rumesh-corp-example-clusterrole-edit";

#[tokio::test]
async fn a_first_sign_in_creates_the_profiles_namespaces_and_kfam_shaped_access() {
    let h = Harness::start(Flavor::Current, &[]).await;
    let outcome = h
        .sign_in("rumesh", RUMESH, "[RIDY-RUMESH, RIDY-JOSE]")
        .await
        .unwrap();
    assert_eq!(granted(&outcome), ["ridy-jose", "ridy-rumesh"]);

    let personal = h
        .cluster
        .get("Profile", None, "profile-rumesh")
        .expect("personal Profile");
    assert_eq!(
        personal["spec"]["owner"],
        json!({"kind": "User", "name": RUMESH})
    );
    assert_eq!(personal["spec"]["resourceQuotaSpec"]["hard"]["cpu"], "0");
    for ns in ["ridy-rumesh", "ridy-jose"] {
        let profile = h.cluster.get("Profile", None, ns).expect("group Profile");
        assert_eq!(profile["spec"]["owner"]["name"], OWNER);
        let namespace = h
            .cluster
            .get("Namespace", None, ns)
            .expect("namespace exists on return");
        assert_eq!(namespace["metadata"]["annotations"]["owner"], OWNER);
        let rb = h
            .cluster
            .get("RoleBinding", Some(ns), NAME)
            .expect("RoleBinding");
        assert_eq!(
            rb["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"})
        );
        assert_eq!(
            rb["subjects"],
            json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RUMESH}])
        );
        assert_eq!(rb["metadata"]["annotations"]["user"], RUMESH);
        assert_eq!(rb["metadata"]["annotations"]["role"], "edit");
        assert_eq!(
            rb["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "kubeflow-profile-manager"
        );
        let ap = h
            .cluster
            .get("AuthorizationPolicy", Some(ns), NAME)
            .expect("AuthorizationPolicy");
        assert_eq!(ap["spec"]["rules"][0]["when"][0]["values"], json!([RUMESH]));
    }
    assert!(h.cluster.all("ServiceRoleBinding").is_empty());
    // The sign-in's activity is recorded in the person's Lease, named by their `sub`, in the
    // function's own namespace; no binding or Profile carries it.
    let leases = h.cluster.all("Lease");
    assert_eq!(leases.len(), 1, "{leases:?}");
    let lease = &leases[0];
    assert_eq!(lease["metadata"]["namespace"], "kubeflow-profile-manager");
    assert_eq!(lease["metadata"]["name"], sub_of("rumesh"));
    assert_eq!(
        lease["metadata"]["labels"]["kubeflow-profile-manager/user"],
        sub_of("rumesh")
    );
    assert!(
        lease["spec"]["renewTime"]
            .as_str()
            .unwrap()
            .ends_with(".000000Z")
    );
    let annotated = h
        .cluster
        .all("RoleBinding")
        .into_iter()
        .chain(h.cluster.all("Profile"))
        .filter(|o| {
            o["metadata"]["annotations"]
                .get("kubeflow-profile-manager/last-activity")
                .is_some()
        })
        .count();
    assert_eq!(annotated, 0);

    // The profile controller adopts the namespaces created ahead of it.
    h.cluster
        .wait_until(Duration::from_secs(5), |c| {
            ["ridy-rumesh", "ridy-jose", "profile-rumesh"]
                .iter()
                .all(|ns| {
                    c.get("RoleBinding", Some(ns), "namespaceAdmin").is_some()
                        && c.get("Namespace", None, ns).is_some_and(|n| {
                            n["metadata"]["labels"]["istio-injection"] == "enabled"
                        })
                })
        })
        .await;
    for ns in ["ridy-rumesh", "ridy-jose"] {
        assert!(
            h.cluster
                .get("Profile", None, ns)
                .unwrap()
                .get("status")
                .is_none(),
            "adopted, not failed"
        );
    }
}

#[tokio::test]
async fn a_repeat_sign_in_changes_nothing_and_costs_a_constant_number_of_requests() {
    let mut costs = Vec::new();
    for groups in ["[G1]", "[G1, G2, G3, G4, G5, G6, G7, G8, G9, G10]"] {
        let h = Harness::start(Flavor::Current, &[]).await;
        // A cluster in use: its conventions are learnt, and kept, at the first sign-in. (On a
        // cluster with no Profile at all, discovery runs again until one exists.)
        h.cluster.seed_profile("team-a", "alice@corp.example");
        h.sign_in("rumesh", RUMESH, groups).await.unwrap();
        h.cluster
            .wait_until(Duration::from_secs(5), |c| {
                c.get("RoleBinding", Some("g1"), "namespaceAdmin").is_some()
            })
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await; // let every controller run settle
        let before = h.cluster.versions().await;
        h.cluster.clear_requests();
        let outcome = h.sign_in("rumesh", RUMESH, groups).await.unwrap();
        assert!(
            outcome.summary().is_some_and(|r| r.changes == 0),
            "{outcome:?}"
        );
        assert_eq!(
            h.cluster.versions().await,
            before,
            "no resourceVersion moved"
        );
        let lines = h.request_lines();
        assert!(lines.iter().all(|l| l.starts_with("GET ")), "{lines:#?}");
        costs.push(lines.len());
    }
    // Profiles, the person's bindings and twins, the group namespaces, the person's record.
    assert!(costs[0] <= 5, "{costs:?}");
    assert_eq!(costs[0], costs[1], "independent of the number of groups");
}

#[tokio::test]
async fn on_a_cluster_without_profiles_discovery_runs_until_the_conventions_show() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    h.cluster
        .wait_until(Duration::from_secs(5), |c| {
            c.get("AuthorizationPolicy", Some("ml"), "ns-owner-access-istio")
                .is_some()
        })
        .await;
    let discoveries = |h: &Harness| {
        h.request_lines()
            .iter()
            .filter(|l| l.starts_with("GET /apis "))
            .count()
    };
    h.cluster.clear_requests();
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(
        discoveries(&h),
        1,
        "the owner's policy now exists: learnt and kept"
    );
    h.cluster.clear_requests();
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(discoveries(&h), 0);
    assert_eq!(h.request_lines().len(), 5);
}

#[tokio::test]
async fn leaving_a_group_revokes_its_access_but_keeps_the_profile_and_namespace() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.sign_in("rumesh", RUMESH, "[A, B]").await.unwrap();
    assert_eq!(
        h.bindings_of(RUMESH),
        [format!("a/{NAME}"), format!("b/{NAME}")]
    );
    let outcome = h.sign_in("rumesh", RUMESH, "[A]").await.unwrap();
    assert_eq!(granted(&outcome), ["a"]);
    assert_eq!(h.bindings_of(RUMESH), [format!("a/{NAME}")]);
    assert_eq!(
        h.objects_of("AuthorizationPolicy", RUMESH),
        [format!("a/{NAME}")]
    );
    assert!(h.cluster.get("Profile", None, "b").is_some());
    assert!(h.cluster.get("Namespace", None, "b").is_some());
    h.sign_in("rumesh", RUMESH, "").await.unwrap();
    assert!(h.bindings_of(RUMESH).is_empty());
}

#[tokio::test]
async fn system_personal_bare_and_foreign_namespaces_are_never_bound() {
    let h = Harness::start(Flavor::Current, &[("PROTECTED_NAMESPACES", "monitoring")]).await;
    for ns in [
        "kube-system",
        "default",
        "kubeflow",
        "istio-system",
        "monitoring",
        "bare",
    ] {
        h.cluster
            .seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    h.cluster.seed_profile("profile-jose", "jose@corp.example");
    h.cluster.seed_profile("data-team", "eve@corp.example");
    let groups = "[kube-system, KUBE-PUBLIC, default, Kubeflow, istio-system, monitoring, profile-jose, bare, data-team, auth, ok]";
    let outcome = h.sign_in("rumesh", RUMESH, groups).await.unwrap();
    assert_eq!(granted(&outcome), ["ok"]);
    assert_eq!(
        refused(&outcome),
        [
            "KUBE-PUBLIC",
            "Kubeflow",
            "auth",
            "bare",
            "data-team",
            "default",
            "istio-system",
            "kube-system",
            "monitoring",
            "profile-jose"
        ]
    );
    assert_eq!(h.bindings_of(RUMESH), [format!("ok/{NAME}")]);
    for ns in ["kube-system", "default", "bare", "monitoring"] {
        assert!(
            h.cluster.get("Profile", None, ns).is_none(),
            "no Profile claims {ns}"
        );
    }
    assert_eq!(
        h.cluster.get("Profile", None, "data-team").unwrap()["spec"]["owner"]["name"],
        "eve@corp.example"
    );
}

#[tokio::test]
async fn a_group_profile_over_a_namespace_it_does_not_own_is_never_bound() {
    // An administrator's Profile over an existing bare namespace: the profile controller
    // refuses to adopt the namespace, and so does the function.
    let h = Harness::start(Flavor::Current, &[]).await;
    h.cluster
        .seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}}));
    h.cluster.seed_profile("payments", OWNER);
    let failed = h.cluster.get("Profile", None, "payments").unwrap();
    assert_eq!(failed["status"]["conditions"][0]["type"], "Failed");
    let outcome = h.sign_in("rumesh", RUMESH, "[payments]").await.unwrap();
    assert_eq!(refused(&outcome), ["payments"]);
    assert!(h.bindings_of(RUMESH).is_empty());
}

#[tokio::test]
async fn someone_elses_personal_profile_is_never_taken_over() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.cluster
        .seed_profile("profile-rumesh", "impostor@corp.example");
    let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"]);
    let personal = h.cluster.get("Profile", None, "profile-rumesh").unwrap();
    assert_eq!(personal["spec"]["owner"]["name"], "impostor@corp.example");
    // No quota of the function's (the profile controller writes an empty one back itself).
    assert!(personal["spec"]["resourceQuotaSpec"].get("hard").is_none());
}

#[tokio::test]
async fn a_profile_created_concurrently_by_someone_else_is_not_taken_over() {
    // The owner field belongs to another field manager: a non-forced apply conflicts.
    let h = Harness::start(Flavor::Current, &[]).await;
    h.cluster.seed(
        json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": {"name": "race"},
                          "spec": {"owner": {"kind": "User", "name": "eve@corp.example"}}}),
    );
    let outcome = h.sign_in("rumesh", RUMESH, "[race]").await.unwrap();
    assert_eq!(refused(&outcome), ["race"]);
    assert_eq!(
        h.cluster.get("Profile", None, "race").unwrap()["spec"]["owner"]["name"],
        "eve@corp.example"
    );
    assert!(h.bindings_of(RUMESH).is_empty());
}

#[tokio::test]
async fn bindings_made_by_hand_or_by_the_dashboard_survive() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.cluster.seed_group_profile("shared", OWNER, "shared");
    h.cluster.seed_group_profile("other", OWNER, "other");
    let kfam = |ns: &str, email: &str, name: &str| {
        json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns, "annotations": {"user": email, "role": "edit"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": email}]})
    };
    // Another contributor, and this user's own dashboard-made binding in a namespace their groups do not give.
    h.cluster.seed(kfam(
        "shared",
        "jose@corp.example",
        "user-jose-corp-example-clusterrole-edit",
    ));
    h.cluster.seed(kfam("other", RUMESH, NAME));
    // The same access, made through the dashboard, in a namespace the groups do give.
    h.cluster.seed(kfam("shared", RUMESH, NAME));
    let before = h.cluster.get("RoleBinding", Some("shared"), NAME).unwrap();

    let outcome = h.sign_in("rumesh", RUMESH, "[shared]").await.unwrap();
    assert_eq!(granted(&outcome), ["shared"]);
    assert!(
        h.cluster
            .get(
                "RoleBinding",
                Some("shared"),
                "user-jose-corp-example-clusterrole-edit"
            )
            .is_some()
    );
    assert!(
        h.cluster.get("RoleBinding", Some("other"), NAME).is_some(),
        "not ours: never revoked"
    );
    let after = h.cluster.get("RoleBinding", Some("shared"), NAME).unwrap();
    assert_eq!(
        after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
        "not modified"
    );
    h.sign_in("rumesh", RUMESH, "").await.unwrap();
    assert!(
        h.cluster.get("RoleBinding", Some("shared"), NAME).is_some(),
        "unlabelled: never revoked"
    );
}

#[tokio::test]
async fn a_kubeflow_1_2_cluster_gets_service_role_bindings_discovered_automatically() {
    let h = Harness::start(Flavor::Kubeflow12, &[]).await;
    // A Profile in use: its controller wrote the owner's ServiceRoleBinding.
    h.cluster.seed_profile("team-a", "alice@corp.example");
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    let srb = h
        .cluster
        .get("ServiceRoleBinding", Some("ml"), NAME)
        .expect("ServiceRoleBinding");
    assert_eq!(
        srb["spec"]["roleRef"],
        json!({"kind": "ServiceRole", "name": "ns-access-istio"})
    );
    assert_eq!(
        srb["spec"]["subjects"],
        json!([{"properties": {"request.headers[kubeflow-userid]": RUMESH}}])
    );
    assert!(h.cluster.all("AuthorizationPolicy").is_empty());
    // Discovery happens once per container.
    h.cluster.clear_requests();
    h.sign_in("rumesh", RUMESH, "").await.unwrap();
    assert!(!h.request_lines().iter().any(|l| l.contains("GET /apis ")));
    assert!(
        h.cluster
            .get("ServiceRoleBinding", Some("ml"), NAME)
            .is_none(),
        "revoked too"
    );
}

#[tokio::test]
async fn an_explicit_istio_setting_writes_what_it_names() {
    let h = Harness::start(
        Flavor::Current,
        &[("ISTIO_AUTHZ", "none"), ("USER_ROLE", "view")],
    )
    .await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    let view = "user-rumesh-corp-example-clusterrole-view";
    assert_eq!(
        h.cluster.get("RoleBinding", Some("ml"), view).unwrap()["roleRef"]["name"],
        "kubeflow-view"
    );
    assert!(h.cluster.all("AuthorizationPolicy").is_empty());
}

#[tokio::test]
async fn a_stale_token_is_reminted_and_a_refused_one_is_retried_once() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(h.app.token_mints(), 1);
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(h.app.token_mints(), 1, "a fresh token is reused");
    h.clock.advance(Duration::from_secs(11 * 60));
    h.cluster.clear_requests();
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(
        h.app.token_mints(),
        2,
        "re-minted before the server's 15 minutes"
    );
    assert!(h.request_lines().iter().all(|l| !l.ends_with(" 401")));
    h.cluster.inject(
        Fault::Status {
            code: 401,
            retry_after: None,
        },
        1,
        None,
    );
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(h.app.token_mints(), 3, "a 401 makes one re-mint and retry");
    h.cluster.inject(
        Fault::Status {
            code: 401,
            retry_after: None,
        },
        20,
        None,
    );
    assert!(
        h.sign_in("rumesh", RUMESH, "[ml]").await.is_err(),
        "a token refused twice fails"
    );
    assert_eq!(h.app.token_mints(), 4, "only one re-mint per sign-in");
}

#[tokio::test]
async fn describe_cluster_failing_then_recovering_needs_no_restart() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.eks.fail_next(1);
    let err = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        USER_FACING_MESSAGE,
        "no internals shown to the user"
    );
    assert!(h.cluster.requests().is_empty());
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(h.eks.calls(), 2, "the failure was not kept; the success is");
}

#[tokio::test]
async fn fail_open_lets_the_sign_in_through() {
    let h = Harness::start(Flavor::Current, &[("FAIL_MODE", "open")]).await;
    h.eks.fail_next(1);
    assert_eq!(
        h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap(),
        Outcome::FailedOpen
    );
}

/// The requests since the last `clear_requests` that were not reads.
fn writes_of(h: &Harness) -> Vec<String> {
    h.request_lines()
        .into_iter()
        .filter(|l| !l.starts_with("GET "))
        .collect()
}

#[tokio::test]
async fn activity_is_recorded_at_most_once_a_day_in_the_persons_own_lease() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.cluster.seed_profile("team-a", "alice@corp.example");
    h.sign_in("rumesh", RUMESH, "[ml, nlp]").await.unwrap();
    h.settle().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lease = sub_of("rumesh");
    let renewed = |h: &Harness| -> String {
        let lease = h
            .cluster
            .get("Lease", Some("kubeflow-profile-manager"), &lease)
            .expect("the person's record");
        lease["spec"]["renewTime"].as_str().unwrap().to_owned()
    };
    let first = renewed(&h);

    // Later the same day: nothing written.
    h.clock.advance(Duration::from_secs(60));
    h.cluster.clear_requests();
    h.sign_in("rumesh", RUMESH, "[ml, nlp]").await.unwrap();
    let writes = writes_of(&h);
    assert!(writes.is_empty(), "{writes:?}");

    // The next day: one merge patch of the Lease, only while it is the version read.
    h.clock.advance(Duration::from_secs(86_400));
    h.cluster.clear_requests();
    h.sign_in("rumesh", RUMESH, "[ml, nlp]").await.unwrap();
    let writes = writes_of(&h);
    assert_eq!(
        writes,
        [format!(
            "PATCH /apis/coordination.k8s.io/v1/namespaces/kubeflow-profile-manager/leases/{lease} 200"
        )]
    );
    assert!(renewed(&h) > first);

    // A token refresh the day after is no activity: the IdP is not asked again, so a leaver's
    // refresh token would otherwise keep them looking active for its whole lifetime.
    let before = renewed(&h);
    h.clock.advance(Duration::from_secs(86_400));
    h.cluster.clear_requests();
    let refresh = token_event(
        "TokenGeneration_RefreshTokens",
        true,
        "rumesh",
        RUMESH,
        "[ml, nlp]",
    );
    let outcome = h.app.handle(&refresh, None).await.unwrap();
    assert_eq!(
        granted(&outcome),
        ["ml", "nlp"],
        "the refresh is synchronised"
    );
    let writes = writes_of(&h);
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(renewed(&h), before);

    // Without its namespace (deploy/rbac.yaml not applied) nothing is recorded, and the
    // sign-in still grants.
    let h = Harness::start_with(&[], |config| config.project_namespaces = false).await;
    let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"]);
    assert!(h.cluster.all("Lease").is_empty());
}

#[tokio::test]
async fn a_dry_run_reports_the_changes_and_writes_nothing() {
    let h = Harness::start(Flavor::Current, &[("DRY_RUN", "true")]).await;
    let outcome = h
        .sign_in("rumesh", RUMESH, "[ml, kube-system]")
        .await
        .unwrap();
    let report = harness::report(&outcome);
    assert_eq!(report.granted, ["ml"]);
    assert_eq!(
        report.changes, 5,
        "personal Profile, group Profile, namespace, RoleBinding, AuthorizationPolicy"
    );
    assert!(
        h.cluster.versions().await.is_empty(),
        "{:?}",
        h.cluster.versions().await
    );
    assert!(h.request_lines().iter().all(|l| l.starts_with("GET ")));
}

#[tokio::test]
async fn events_without_a_user_or_an_email_touch_nothing() {
    let h = Harness::start(Flavor::Current, &[("SYNC_ON_REFRESH", "false")]).await;
    let m2m = include_str!("../../events/v3-client-credentials.json");
    assert!(matches!(
        h.app.handle(m2m, None).await,
        Ok(Outcome::Skipped(_))
    ));
    let no_email = sign_in_event("rumesh", "", "[ml]");
    assert!(matches!(
        h.app.handle(&no_email, None).await,
        Ok(Outcome::Skipped(_))
    ));
    let refresh = include_str!("../../events/v1-refresh-tokens.json");
    assert!(matches!(
        h.app.handle(refresh, None).await,
        Ok(Outcome::Skipped(_))
    ));
    assert!(matches!(
        h.app.handle("[1,2]", None).await,
        Ok(Outcome::Skipped(_))
    ));
    assert_eq!(h.eks.calls(), 0);
    assert!(h.cluster.requests().is_empty());
}

#[tokio::test]
async fn a_cluster_whose_certificate_is_not_from_the_described_ca_is_never_sent_a_token() {
    let h = Harness::start(Flavor::Current, &[]).await;
    let impostor = Harness::start(Flavor::Current, &[]).await;
    // EKS describes the impostor's endpoint with the real cluster's CA.
    let eks = kfpm_fakes::eks::FakeEks::start(kfpm_fakes::eks::DescribedCluster {
        name: h.cluster.config().cluster_name.clone(),
        endpoint: impostor.cluster.endpoint(),
        ca_base64: h.cluster.ca_base64(),
        access_key_ids: vec![h.cluster.config().credentials.access_key_id.clone()],
        region: h.cluster.config().region.clone(),
    })
    .await;
    let app = harness::app_for(&h.cluster, &eks, h.app.config().clone(), h.clock.clock()).await;
    let event = sign_in_event("rumesh", RUMESH, "[ml]");
    assert!(
        app.handle(&event, Some(Duration::from_secs(2)))
            .await
            .is_err()
    );
    assert!(
        impostor.cluster.requests().is_empty(),
        "TLS failed before any request"
    );
}

#[tokio::test]
async fn concurrent_duplicates_of_one_sign_in_all_succeed_with_one_consistent_state() {
    let h = Harness::start(Flavor::Current, &[]).await;
    let (a, b) = (h.another_container().await, h.another_container().await);
    let event = sign_in_event("rumesh", RUMESH, "[RIDY-RUMESH, RIDY-JOSE, ML]");
    let (x, y, z) = tokio::join!(
        h.app.handle(&event, None),
        a.handle(&event, None),
        b.handle(&event, None)
    );
    for outcome in [x, y, z] {
        assert_eq!(
            granted(&outcome.expect("every duplicate succeeds")),
            ["ml", "ridy-jose", "ridy-rumesh"]
        );
    }
    assert_eq!(h.bindings_of(RUMESH).len(), 3);
    assert_eq!(h.objects_of("AuthorizationPolicy", RUMESH).len(), 3);
    let profiles: Vec<Value> = h.cluster.all("Profile");
    assert_eq!(profiles.len(), 4);
}

#[tokio::test]
async fn the_python_lambdas_bindings_are_removed_only_in_group_namespaces_once_the_new_ones_are_in_place()
 {
    let legacy_name = "user-rumesh-kubeflow-org-clusterrole-edit";
    let legacy = |ns: &str| {
        json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": legacy_name, "namespace": ns, "annotations": {"user": "rumesh@kubeflow.org", "role": "edit"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "rumesh@kubeflow.org"}]})
    };
    for remove in [false, true] {
        let flag = if remove { "true" } else { "false" };
        let h = Harness::start(Flavor::Current, &[("REMOVE_LEGACY_BINDINGS", flag)]).await;
        h.cluster.seed_group_profile("ml", OWNER, "ml");
        h.cluster.seed(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}),
        );
        h.cluster.seed(legacy("ml"));
        h.cluster.seed(legacy("kube-system"));
        let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
        assert_eq!(granted(&outcome), ["ml"]);
        assert!(h.cluster.get("RoleBinding", Some("ml"), NAME).is_some());
        // Only in the namespaces of group Profiles: never in kube-system, whatever the setting.
        for (ns, stays) in [("ml", !remove), ("kube-system", true)] {
            let left = h
                .cluster
                .get("RoleBinding", Some(ns), legacy_name)
                .is_some();
            assert_eq!(left, stays, "REMOVE_LEGACY_BINDINGS={flag}, {ns}");
        }
    }
}

/// An app whose clock and cluster name may differ from the harness's, talking to `eks`.
async fn app_with(
    h: &Harness,
    eks: &kfpm_fakes::eks::FakeEks,
    cluster_name: &str,
    clock: kubeflow_profile_manager::Clock,
) -> kubeflow_profile_manager::App {
    let mut config = h.app.config().clone();
    config.clusters.targets = vec![kubeflow_profile_manager::domain::config::ClusterTarget {
        region: None,
        name: cluster_name.to_owned(),
    }];
    harness::app_for(&h.cluster, eks, config, clock).await
}

#[tokio::test]
async fn the_api_server_refuses_a_token_minted_for_another_cluster() {
    let h = Harness::start(Flavor::Current, &[]).await;
    // EKS (wrongly) points "other" at this cluster: the token names "other", the server its own name.
    let eks = kfpm_fakes::eks::FakeEks::start(kfpm_fakes::eks::DescribedCluster {
        name: "other".into(),
        endpoint: h.cluster.endpoint(),
        ca_base64: h.cluster.ca_base64(),
        access_key_ids: vec![h.cluster.config().credentials.access_key_id.clone()],
        region: h.cluster.config().region.clone(),
    })
    .await;
    let app = app_with(&h, &eks, "other", h.clock.clock()).await;
    let event = sign_in_event("rumesh", RUMESH, "[ml]");
    assert!(app.handle(&event, None).await.is_err());
    assert_eq!(app.token_mints(), 2, "re-minted once after the 401");
    let rejected = h.cluster.rejected_tokens();
    assert!(
        !rejected.is_empty() && rejected.iter().all(|r| r.contains("signature")),
        "{rejected:?}"
    );
    assert!(h.cluster.versions().await.is_empty(), "nothing written");
}

#[tokio::test]
async fn the_api_server_refuses_an_expired_token() {
    let h = Harness::start(Flavor::Current, &[]).await;
    // The server's clock is 16 minutes ahead of the function's: every token is expired to it.
    h.clock.advance(Duration::from_secs(16 * 60));
    let eks = kfpm_fakes::eks::FakeEks::for_cluster(&h.cluster).await;
    let name = h.cluster.config().cluster_name.clone();
    let app = app_with(
        &h,
        &eks,
        &name,
        std::sync::Arc::new(std::time::SystemTime::now),
    )
    .await;
    let event = sign_in_event("rumesh", RUMESH, "[ml]");
    assert!(app.handle(&event, None).await.is_err());
    let rejected = h.cluster.rejected_tokens();
    assert!(
        !rejected.is_empty() && rejected.iter().all(|r| r == "token expired"),
        "{rejected:?}"
    );
}

#[tokio::test]
async fn a_cluster_in_a_china_region_accepts_the_token() {
    let h = Harness::start_with(&[], |config| config.region = "cn-north-1".into()).await;
    let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"]);
    assert!(h.cluster.rejected_tokens().is_empty());
}

#[tokio::test]
async fn a_namespace_being_deleted_is_refused_not_failed() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.cluster.seed_group_profile("dying", OWNER, "dying");
    h.cluster.terminate_namespace("dying");
    let outcome = h.sign_in("rumesh", RUMESH, "[ml, dying]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"]);
    assert_eq!(refused(&outcome), ["dying"]);
    let report = harness::report(&outcome);
    assert_eq!(
        report.refused[0].reason.to_string(),
        "the namespace is being deleted"
    );
    let refusals = h
        .request_lines()
        .into_iter()
        .filter(|l| {
            l.starts_with("POST /apis/rbac.authorization.k8s.io/v1/namespaces/dying/")
                && l.ends_with(" 403")
        })
        .count();
    assert_eq!(refusals, 1, "one create met the terminating namespace");
}

#[tokio::test]
async fn a_repeat_sign_in_reads_the_same_bytes_whatever_the_number_of_other_teams() {
    let mut read = Vec::new();
    for others in [0, 300] {
        let h = Harness::start(Flavor::Current, &[]).await;
        h.cluster.seed_profile("team-a", "alice@corp.example");
        // Other teams' Profiles, as this function made them for their members.
        for i in 0..others {
            let name = format!("other-{i}");
            h.cluster.seed(json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile",
                "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                                                     "kubeflow-profile-manager/profile": name},
                             "annotations": {"kubeflow-profile-manager/group": name}},
                "spec": {"owner": {"kind": "User", "name": OWNER}}}));
            h.cluster.reconcile(&name);
        }
        h.sign_in("rumesh", RUMESH, "[ml, ops]").await.unwrap();
        h.settle().await;
        h.cluster.clear_requests();
        h.sign_in("rumesh", RUMESH, "[ml, ops]").await.unwrap();
        let requests = h.cluster.requests();
        assert_eq!(requests.len(), 5, "{:?}", h.request_lines());
        read.push(requests.iter().map(|r| r.response_bytes).sum::<usize>());
    }
    // The same objects; only their resourceVersions and uids have more digits.
    assert!(
        read[1] * 100 <= read[0] * 101,
        "bytes with 0 and 300 other teams: {read:?}"
    );
}

/// The quota of team `ml` as its Profile holds it.
fn team_quota(h: &Harness) -> Value {
    h.cluster.get("Profile", None, "ml").unwrap()["spec"]["resourceQuotaSpec"].clone()
}

#[tokio::test]
async fn a_team_gets_the_configured_quota_its_own_or_an_administrators_and_nothing_else() {
    let quota = r#"{"hard": {"cpu": "8", "requests.nvidia.com/gpu": "1"}}"#;
    let h = Harness::start(Flavor::Current, &[("GROUP_PROFILE_QUOTA", quota)]).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(
        team_quota(&h),
        serde_json::from_str::<Value>(quota).unwrap()
    );

    // The team's own quota, set by an administrator on its Profile, replaces it at the next
    // sign-in; the annotation stays theirs.
    let own = r#"{"hard": {"cpu": "32"}}"#;
    h.cluster
        .annotate("Profile", None, "ml", "kubeflow-profile-manager/quota", own);
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(team_quota(&h), json!({"hard": {"cpu": "32"}}));
    h.cluster.clear_requests();
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert!(
        h.request_lines().iter().all(|r| !r.starts_with("PATCH")),
        "nothing left to change: {:?}",
        h.request_lines()
    );

    // An administrator's own edit of the quota is never overwritten.
    let admin = kfpm_fakes::apiserver::rbac::UserInfo::new(
        "ops",
        &["kubeflow-profile-manager-break-glass", "system:masters"],
    );
    h.cluster
        .update_as_user(&admin, "Profile", None, "ml", |profile| {
            profile["spec"]["resourceQuotaSpec"]["hard"]["memory"] = json!("64Gi");
        })
        .unwrap();
    h.cluster.annotate(
        "Profile",
        None,
        "ml",
        "kubeflow-profile-manager/quota",
        "none",
    );
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(
        team_quota(&h),
        json!({"hard": {"cpu": "32", "memory": "64Gi"}})
    );
}

#[tokio::test]
async fn without_a_configured_quota_team_quotas_are_left_alone() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    h.settle().await;
    assert_eq!(team_quota(&h).get("hard"), None, "none made");
    h.cluster
        .annotate("Profile", None, "ml", "kubeflow-profile-manager/quota", "{");
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(team_quota(&h).get("hard"), None, "not a quota: left alone");
}

#[tokio::test]
async fn a_quota_configured_later_reaches_teams_made_before() {
    // The profile controller wrote the team's Profile back with an empty quota it owns: that
    // is no one's quota, and the one configured later is applied.
    let h = Harness::start(Flavor::Current, &[]).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    h.settle().await;
    assert_eq!(team_quota(&h), json!({}));
    let later = h
        .another_container_with(&[("GROUP_PROFILE_QUOTA", r#"{"hard": {"cpu": "8"}}"#)])
        .await;
    later
        .handle(&sign_in_event("rumesh", RUMESH, "[ml]"), None)
        .await
        .unwrap();
    assert_eq!(team_quota(&h), json!({"hard": {"cpu": "8"}}));
}
