//! Each way into another team's namespace that the security review found, tried as an attacker
//! would against the strict fake cluster, and shown refused.

use crate::harness;
use crate::harness::{Harness, OWNER, granted, refused};
use kfpm_fakes::apiserver::Flavor;
use kfpm_fakes::events::{sign_in_event, sub_of, token_event};
use kubeflow_profile_manager::Outcome;
use kubeflow_profile_manager::domain::model::names::legacy_user_label_value;
use kubeflow_profile_manager::domain::sign_in::admission::Skip;
use kubeflow_profile_manager::domain::sign_in::event::EmailProblem;
use serde_json::{Value, json};

const RUMESH: &str = "rumesh@corp.example";
const MALLORY: &str = "mallory@corp.example";
const RUMESH_BINDING: &str = "user-rumesh-corp-example-clusterrole-edit";
const MALLORY_BINDING: &str = "user-mallory-corp-example-clusterrole-edit";
const RECORD: &str = "kubeflow-profile-manager/group";

fn refresh(user: &str, email: &str, groups: &str) -> String {
    token_event("TokenGeneration_RefreshTokens", true, user, email, groups)
}

async fn handle(h: &Harness, event: &str) -> Outcome {
    h.app
        .handle(event, None)
        .await
        .expect("the sign-in succeeds")
}

fn withheld(outcome: &Outcome) -> Vec<String> {
    harness::report(outcome).withheld.clone()
}

#[tokio::test]
async fn a_group_written_into_the_stored_attribute_is_not_granted_on_a_refresh() {
    let h = Harness::start(Flavor::Current, &[]).await;
    // The real teams: finance-ml's member signs in through ADFS; mallory is in ml and old.
    handle(
        &h,
        &sign_in_event("fatima", "fatima@corp.example", "[finance-ml]"),
    )
    .await;
    handle(&h, &sign_in_event("mallory", MALLORY, "[ml, old]")).await;
    assert_eq!(
        h.bindings_of(MALLORY),
        [
            format!("ml/{MALLORY_BINDING}"),
            format!("old/{MALLORY_BINDING}")
        ]
    );
    h.settle().await;
    let before = h.cluster.versions().await;

    // UpdateUserAttributes on herself, then a token refresh.
    let outcome = handle(
        &h,
        &refresh("mallory", MALLORY, "[ml, finance-ml, new-team]"),
    )
    .await;
    assert_eq!(granted(&outcome), ["ml"], "what she already has stays");
    assert_eq!(withheld(&outcome), ["finance-ml", "new-team"]);
    assert_eq!(
        h.bindings_of(MALLORY),
        [format!("ml/{MALLORY_BINDING}")],
        "old/ revoked"
    );
    assert!(
        h.cluster.get("Profile", None, "new-team").is_none(),
        "no Profile made"
    );
    for (key, version) in &before {
        if !key.starts_with("RoleBinding old/") && !key.starts_with("AuthorizationPolicy old/") {
            assert_eq!(
                h.cluster.versions().await.get(key),
                Some(version),
                "{key} changed"
            );
        }
    }
    // Her next federated sign-in, where ADFS asserts her real groups, is what grants.
    let outcome = handle(&h, &sign_in_event("mallory", MALLORY, "[ml, new-team]")).await;
    assert_eq!(granted(&outcome), ["ml", "new-team"]);
}

#[tokio::test]
async fn a_local_users_groups_grant_nothing_unless_the_operator_trusts_stored_groups() {
    for (trust, expected) in [("false", Vec::<&str>::new()), ("true", vec!["ml-platform"])] {
        let h = Harness::start(Flavor::Current, &[("TRUST_STORED_GROUPS", trust)]).await;
        let local = token_event(
            "TokenGeneration_Authentication",
            false,
            "alice",
            "alice@corp.example",
            "[ML-PLATFORM]",
        );
        let outcome = handle(&h, &local).await;
        assert_eq!(granted(&outcome), expected, "TRUST_STORED_GROUPS={trust}");
        let personal = h.cluster.get("Profile", None, "profile-alice").is_some();
        assert_eq!(personal, trust == "true", "TRUST_STORED_GROUPS={trust}");
        // A hosted-UI sign-in of a local user carries no identities: not an IdP assertion either.
        let hosted = token_event(
            "TokenGeneration_HostedAuth",
            false,
            "bob",
            "bob@corp.example",
            "[ops]",
        );
        let outcome = handle(&h, &hosted).await;
        assert_eq!(granted(&outcome).is_empty(), trust == "false");
    }
}

/// The victim's group takes its namespace first; the attacker's look-alike group comes second.
async fn look_alike(
    victims_group: &str,
    attackers_group: &str,
    vars: &[(&str, &str)],
) -> (Harness, String) {
    let h = Harness::start(Flavor::Current, vars).await;
    let victim = handle(
        &h,
        &sign_in_event("rumesh", RUMESH, &format!("[{victims_group}]")),
    )
    .await;
    let [namespace] = &granted(&victim)[..] else {
        panic!("the victim's group is granted: {victim:?}")
    };
    let namespace = namespace.clone();
    let outcome = handle(
        &h,
        &sign_in_event("mallory", MALLORY, &format!("[{attackers_group}]")),
    )
    .await;
    assert!(
        !granted(&outcome).contains(&namespace),
        "{attackers_group:?} reached {namespace}"
    );
    assert!(
        h.cluster
            .get("RoleBinding", Some(&namespace), MALLORY_BINDING)
            .is_none()
    );
    assert!(
        h.cluster
            .get("AuthorizationPolicy", Some(&namespace), MALLORY_BINDING)
            .is_none()
    );
    let profile = h.cluster.get("Profile", None, &namespace).unwrap();
    assert_eq!(profile["metadata"]["annotations"][RECORD], victims_group);
    // The victim keeps their access.
    let again = handle(
        &h,
        &sign_in_event("rumesh", RUMESH, &format!("[{victims_group}]")),
    )
    .await;
    assert_eq!(granted(&again), std::slice::from_ref(&namespace));
    (h, namespace)
}

#[tokio::test]
async fn a_group_named_like_anothers_hashed_namespace_is_refused() {
    let (h, namespace) = look_alike("\u{c9}quipe Vision", "quipe-vision-3c99bb3d", &[]).await;
    assert_eq!(namespace, "quipe-vision-3c99bb3d");
    let outcome = handle(
        &h,
        &sign_in_event("mallory", MALLORY, "[quipe-vision-3c99bb3d]"),
    )
    .await;
    assert_eq!(refused(&outcome), ["quipe-vision-3c99bb3d"]);
    // And the other way round: the hashed name's owner came first.
    look_alike("quipe-vision-3c99bb3d", "\u{c9}quipe Vision", &[]).await;
}

#[tokio::test]
async fn a_group_differing_only_in_separators_is_refused() {
    let (h, _) = look_alike("data-science", "Data_Science", &[]).await;
    let outcome = handle(&h, &sign_in_event("mallory", MALLORY, "[Data_Science]")).await;
    assert_eq!(refused(&outcome), ["Data_Science"]);
    // The same AD group in other ASCII capitals is the same group.
    let outcome = handle(
        &h,
        &sign_in_event("jose", "jose@corp.example", "[DATA-SCIENCE]"),
    )
    .await;
    assert_eq!(granted(&outcome), ["data-science"]);
}

#[tokio::test]
async fn a_group_starting_with_the_kelvin_sign_never_reaches_the_k_namespace() {
    let (h, _) = look_alike("kubeflow-team", "\u{212A}ubeflow-team", &[]).await;
    let outcome = handle(
        &h,
        &sign_in_event("mallory", MALLORY, "[\u{212A}ubeflow-team]"),
    )
    .await;
    // It is a group of its own, in a namespace of its own.
    let [own] = &granted(&outcome)[..] else {
        panic!("{outcome:?}")
    };
    assert!(own.starts_with("ubeflow-team-"), "{own}");
    assert_eq!(h.bindings_of(MALLORY), [format!("{own}/{MALLORY_BINDING}")]);
}

#[tokio::test]
async fn a_percent_encoded_group_does_not_pass_the_prefix() {
    let h = Harness::start(Flavor::Current, &[("GROUP_PREFIX", "RIDY-")]).await;
    handle(&h, &sign_in_event("rumesh", RUMESH, "[RIDY-finance]")).await;
    let outcome = handle(
        &h,
        &sign_in_event(
            "mallory",
            MALLORY,
            "[%52IDY-finance, RIDY_finance, ridy-ml]",
        ),
    )
    .await;
    assert_eq!(
        granted(&outcome),
        ["ridy-ml"],
        "the prefix is checked on the exact name"
    );
    assert!(
        refused(&outcome).is_empty(),
        "not admitted at all, so not even refused"
    );
    assert!(
        h.cluster
            .get("RoleBinding", Some("ridy-finance"), MALLORY_BINDING)
            .is_none()
    );
    // With decoding configured the claim is decoded once, first: %52IDY-finance then *is* the
    // name RIDY-finance, as ADFS would have sent it encoded (a group literally named
    // "%52IDY-finance" arrives as %2552IDY-finance, which decodes to that and not to RIDY-).
    let h = Harness::start(
        Flavor::Current,
        &[("GROUP_PREFIX", "RIDY-"), ("DECODE_GROUP_NAMES", "true")],
    )
    .await;
    let outcome = handle(&h, &sign_in_event("mallory", MALLORY, "[%2552IDY-finance]")).await;
    assert!(granted(&outcome).is_empty());
}

#[tokio::test]
async fn without_an_allow_list_the_function_does_not_start() {
    let err =
        kubeflow_profile_manager::domain::config::Config::from_pairs(&[("CLUSTER_NAME", "kf")])
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("GROUP_PREFIX") && err.contains("ALLOW_ALL_GROUPS=true"),
        "{err}"
    );
}

#[tokio::test]
async fn look_alike_bindings_in_someone_elses_namespace_are_ignored() {
    let h = Harness::start(Flavor::Current, &[]).await;
    handle(&h, &sign_in_event("rumesh", RUMESH, "[ml]")).await;
    // Mallory is admin of her own Profile's namespace and fills it with bindings carrying the
    // function's labels and rumesh's sub.
    h.cluster.seed_profile("profile-mallory", MALLORY);
    for i in 0..1500 {
        h.cluster.seed(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("look-alike-{i}"), "namespace": "profile-mallory",
                         "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                                    "kubeflow-profile-manager/user": sub_of("rumesh")},
                         "annotations": {"user": RUMESH, "role": "edit"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": MALLORY}]}));
    }
    h.cluster.clear_requests();
    // Answered within the time budget (it would have failed closed otherwise), access kept.
    let outcome = handle(&h, &sign_in_event("rumesh", RUMESH, "[ml]")).await;
    assert_eq!(granted(&outcome), ["ml"]);
    let deletes = h
        .request_lines()
        .iter()
        .filter(|l| l.starts_with("DELETE"))
        .count();
    assert_eq!(deletes, 0);
    let left = h
        .cluster
        .all("RoleBinding")
        .iter()
        .filter(|b| b["metadata"]["namespace"] == "profile-mallory")
        .count();
    assert_eq!(
        left,
        1500 + 1,
        "every look-alike and her namespaceAdmin are untouched"
    );
    // Leaving ml revokes rumesh's real access and nothing else.
    handle(&h, &sign_in_event("rumesh", RUMESH, "[]")).await;
    assert!(
        h.cluster
            .get("RoleBinding", Some("ml"), RUMESH_BINDING)
            .is_none()
    );
    assert!(
        h.cluster
            .get("AuthorizationPolicy", Some("ml"), RUMESH_BINDING)
            .is_none()
    );
    assert_eq!(
        h.cluster.all("RoleBinding").len(),
        1500 + 1 + 2,
        "look-alikes + 2 namespaceAdmins"
    );
}

#[tokio::test]
async fn an_email_with_an_istio_wildcard_is_refused() {
    let h = Harness::start(Flavor::Current, &[]).await;
    for (email, problem) in [
        ("*@corp.example", EmailProblem::SpecialCharacter('*')),
        ("mallory@corp.*", EmailProblem::SpecialCharacter('*')),
        (
            "mallory@corp.example,rumesh@corp.example",
            EmailProblem::SpecialCharacter(','),
        ),
    ] {
        let outcome = handle(&h, &sign_in_event("mallory", email, "[ml]")).await;
        assert_eq!(outcome, Outcome::Skipped(Skip::Email(problem)), "{email}");
    }
    assert!(h.cluster.versions().await.is_empty(), "nothing written");
    assert!(
        h.cluster.requests().is_empty(),
        "the cluster was not even asked"
    );
}

#[tokio::test]
async fn an_email_changed_to_someone_elses_on_a_refresh_takes_nothing_from_them() {
    let h = Harness::start(Flavor::Current, &[]).await;
    handle(&h, &sign_in_event("rumesh", RUMESH, "[ml, payroll]")).await;
    handle(&h, &sign_in_event("mallory", MALLORY, "[ml]")).await;
    let victims = h.bindings_of(RUMESH);
    // Mallory writes rumesh's email into her own attributes and refreshes, with fewer groups.
    let outcome = handle(&h, &refresh("mallory", RUMESH, "[]")).await;
    assert!(granted(&outcome).is_empty());
    assert_eq!(
        h.bindings_of(RUMESH),
        victims,
        "rumesh's access is untouched"
    );
    assert!(
        h.bindings_of(MALLORY).is_empty(),
        "she only removed her own"
    );
    // And with more groups: nothing is granted to anyone.
    let outcome = handle(&h, &refresh("mallory", RUMESH, "[payroll]")).await;
    assert_eq!(withheld(&outcome), ["payroll"]);
    assert_eq!(h.bindings_of(RUMESH), victims);
    let rumesh = h
        .cluster
        .get("RoleBinding", Some("payroll"), RUMESH_BINDING)
        .unwrap();
    assert_eq!(
        rumesh["metadata"]["labels"]["kubeflow-profile-manager/user"],
        sub_of("rumesh")
    );
}

#[tokio::test]
async fn legacy_removal_never_reaches_outside_group_namespaces() {
    let h = Harness::start(Flavor::Current, &[("REMOVE_LEGACY_BINDINGS", "true")]).await;
    let legacy_name = "user-rumesh-kubeflow-org-clusterrole-edit";
    h.cluster.seed_profile("profile-jose", "jose@corp.example");
    for ns in ["kube-system", "auth"] {
        h.cluster
            .seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    h.cluster.seed_group_profile("ml", OWNER, "ml");
    for ns in ["kube-system", "auth", "profile-jose", "ml"] {
        h.cluster.seed(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": legacy_name, "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "rumesh@kubeflow.org"}]}));
    }
    handle(&h, &sign_in_event("rumesh", RUMESH, "[ml]")).await;
    for (ns, stays) in [
        ("kube-system", true),
        ("auth", true),
        ("profile-jose", true),
        ("ml", false),
    ] {
        let left = h
            .cluster
            .get("RoleBinding", Some(ns), legacy_name)
            .is_some();
        assert_eq!(left, stays, "{ns}");
    }
}

#[tokio::test]
async fn objects_made_by_the_previous_version_are_relabelled_at_the_next_federated_sign_in() {
    let h = Harness::start(Flavor::Current, &[]).await;
    // What version 0.1 left: a Profile without a group record, and bindings labelled with the
    // hash of the email.
    h.cluster.seed(json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile",
        "metadata": {"name": "ml", "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager"}},
        "spec": {"owner": {"kind": "User", "name": OWNER}}}));
    h.cluster.reconcile("ml");
    let old_labels = json!({"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                            "kubeflow-profile-manager/user": legacy_user_label_value(RUMESH)});
    let metadata = json!({"name": RUMESH_BINDING, "namespace": "ml", "labels": old_labels,
                          "annotations": {"user": RUMESH, "role": "edit"}});
    h.cluster.seed(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RUMESH}]}));
    // A refresh does not look for them: it cannot know the email is really the user's.
    handle(&h, &refresh("rumesh", RUMESH, "[]")).await;
    assert!(
        h.cluster
            .get("RoleBinding", Some("ml"), RUMESH_BINDING)
            .is_some()
    );

    let outcome = handle(&h, &sign_in_event("rumesh", RUMESH, "[ML]")).await;
    assert_eq!(
        granted(&outcome),
        ["ml"],
        "its own name may claim an unrecorded Profile of ours"
    );
    let rb = h
        .cluster
        .get("RoleBinding", Some("ml"), RUMESH_BINDING)
        .unwrap();
    assert_eq!(
        rb["metadata"]["labels"]["kubeflow-profile-manager/user"],
        sub_of("rumesh")
    );
    assert_eq!(
        h.bindings_of(RUMESH),
        [format!("ml/{RUMESH_BINDING}")],
        "relabelled, not duplicated"
    );
    handle(&h, &refresh("rumesh", RUMESH, "[]")).await;
    assert!(
        h.bindings_of(RUMESH).is_empty(),
        "found by its sub from now on"
    );
}

#[tokio::test]
async fn an_administrators_group_profile_is_bound_only_when_it_records_the_group() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.cluster.seed_profile("research", OWNER);
    h.cluster
        .seed_group_profile("computer-vision", OWNER, "Computer Vision");
    h.cluster
        .seed_group_profile("vision", OWNER, "Computer Vision");
    let outcome = handle(
        &h,
        &sign_in_event("rumesh", RUMESH, "[research, Computer Vision, vision]"),
    )
    .await;
    assert_eq!(granted(&outcome), ["computer-vision"]);
    let report = harness::report(&outcome);
    let reasons: Vec<(String, String)> = report
        .refused
        .iter()
        .map(|r| (r.group.clone(), r.reason.to_string()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "research".to_owned(),
                "the Profile records no AD group (annotation kubeflow-profile-manager/group)"
                    .to_owned()
            ),
            (
                "vision".to_owned(),
                "the namespace belongs to the AD group \"Computer Vision\"".to_owned()
            ),
        ]
    );
    assert_eq!(
        h.cluster
            .get("RoleBinding", Some("computer-vision"), RUMESH_BINDING)
            .unwrap()["subjects"][0]["name"],
        Value::from(RUMESH)
    );
    assert!(
        h.cluster
            .get("RoleBinding", Some("vision"), RUMESH_BINDING)
            .is_none()
    );
}

#[tokio::test]
async fn huge_bindings_a_namespace_admin_labels_with_a_colleague_slow_their_sign_in_but_never_fill_its_memory()
 {
    // Mallory, an admin of her own team, gives Rumesh 30 bindings of 200 KiB there, labelled
    // with his `sub`. His sign-in reads his bindings 250 a page while a page is small; this
    // one is over 2 MiB, so it is refused as it arrives and read again 20 a page. Nothing of
    // his access changes, and the oversized bindings are left alone (items over 64 KiB are no
    // binding the function writes).
    let h = Harness::start(Flavor::Current, &[]).await;
    harness::seed_team(&h.cluster, "mallory-team");
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    for i in 0..30 {
        h.cluster.seed(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("for-rumesh-{i}"), "namespace": "mallory-team",
                "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                           "kubeflow-profile-manager/user": sub_of("rumesh")},
                "annotations": {"ballast": "x".repeat(200 * 1024)}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RUMESH}],
        }));
    }
    h.cluster.clear_requests();
    let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"]);
    let lists: Vec<String> = h
        .cluster
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET" && r.path == "/apis/rbac.authorization.k8s.io/v1/rolebindings"
        })
        .map(|r| r.query.clone())
        .collect();
    assert!(lists.len() >= 3, "{lists:?}");
    assert!(lists[0].contains("limit=250"), "{lists:?}");
    assert!(
        lists[1..].iter().all(|q| q.contains("limit=20")),
        "{lists:?}"
    );
    let forged = h
        .cluster
        .all("RoleBinding")
        .iter()
        .filter(|b| {
            b["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("for-rumesh-"))
        })
        .count();
    assert_eq!(forged, 30, "left alone");
}

mod logs {
    //! What the real binary writes: user-supplied values cannot forge a line, and no level shows
    //! a credential.

    use std::path::Path;
    use std::time::Duration;

    use kfpm_fakes::ShiftedClock;
    use kfpm_fakes::apiserver::FakeClusterConfig;
    use kfpm_fakes::local::{LocalStack, stop_and_collect_output};
    use kfpm_fakes::runtime_api::Invocation;

    const BINARY: &str = env!("CARGO_BIN_EXE_kubeflow-profile-manager");
    /// A whole text log line, as an attacker would like it to appear.
    const FORGED_TEXT: &str = "ERROR forged: kube-system granted to mallory";
    /// A whole JSON log line; its commas are encoded so the claim does not split it.
    const FORGED_JSON: &str = r#"{"level":"ERROR"%2C"fields":{"message":"forged"}}"#;

    /// Runs the binary with `extra` settings on `event`, and returns what it printed.
    async fn output_of(extra: &[(&str, &str)], event: &str) -> String {
        let stack =
            LocalStack::start(FakeClusterConfig::new(ShiftedClock::default().clock())).await;
        let function = stack.spawn_function_capturing(Path::new(BINARY), extra);
        let answer = stack
            .runtime
            .invoke(event, Duration::from_secs(5), Duration::from_secs(20))
            .await;
        assert!(
            matches!(answer, Some(Invocation::Response(_))),
            "{answer:?}"
        );
        stop_and_collect_output(function).await
    }

    fn forging_event() -> String {
        // A raw newline in a group name, and encoded ones for when decoding is configured.
        let groups =
            format!("[ml, kube-x\n{FORGED_TEXT}, kube-y%0A{FORGED_TEXT}, kube-z%0A{FORGED_JSON}]");
        super::sign_in_event("mallory", "mallory@corp.example", &groups)
    }

    #[tokio::test]
    async fn a_group_name_cannot_forge_a_text_log_line() {
        for decode in ["false", "true"] {
            let output = output_of(&[("DECODE_GROUP_NAMES", decode)], &forging_event()).await;
            assert!(
                output.contains("group refused"),
                "the name was logged:\n{output}"
            );
            for line in output.lines().map(str::trim_start) {
                assert!(
                    !line.starts_with("ERROR forged") && !line.starts_with("{\"level"),
                    "forged line:\n{output}"
                );
            }
            assert!(
                output.contains(r"kube-x\nERROR forged"),
                "escaped, not raw:\n{output}"
            );
        }
    }

    #[tokio::test]
    async fn a_group_name_cannot_forge_a_json_log_line() {
        let extra = [
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("DECODE_GROUP_NAMES", "true"),
        ];
        let output = output_of(&extra, &forging_event()).await;
        let mut refusals = 0;
        for line in output.lines().filter(|l| !l.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON document ({e}): {line}"));
            assert_ne!(value["fields"]["message"], "forged", "{line}");
            refusals += usize::from(value["fields"]["message"] == "group refused");
        }
        assert_eq!(refusals, 3, "{output}");
    }

    #[tokio::test]
    async fn no_log_level_shows_a_credential() {
        let stack_credentials = kfpm_fakes::eks::sigv4::TestCredentials::example();
        let secrets = [
            stack_credentials.secret_access_key.clone(),
            stack_credentials.session_token.clone().unwrap(),
            "k8s-aws-v1.".to_owned(),
            "X-Amz-Signature".to_owned(),
        ];
        let event = super::sign_in_event("rumesh", "rumesh@corp.example", "[ml]");
        for level in ["TRACE", "DEBUG"] {
            let output = output_of(&[("AWS_LAMBDA_LOG_LEVEL", level)], &event).await;
            assert!(
                output.contains("DEBUG"),
                "{level}: the log is verbose:\n{output}"
            );
            for secret in &secrets {
                assert!(!output.contains(secret.as_str()), "{level} shows {secret}");
            }
            // The session token's distinctive middle, in case some crate escapes the rest.
            assert!(!output.contains("FAKESESSIONTOKEN"), "{level}");
        }
    }
}

#[tokio::test]
async fn a_large_sign_in_never_has_more_than_64_requests_in_flight() {
    // The longest budget: what is measured is the bound on requests, not the time.
    let h = Harness::start(Flavor::Current, &[("TIME_BUDGET_MS", "4900")]).await;
    // Every answer takes a while, so requests pile up as far as the function lets them.
    h.cluster.set_latency(std::time::Duration::from_millis(30));
    let groups: Vec<String> = (0..120).map(|i| format!("team-{i}")).collect();
    let outcome = handle(
        &h,
        &sign_in_event("rumesh", RUMESH, &format!("[{}]", groups.join(", "))),
    )
    .await;
    assert_eq!(granted(&outcome).len(), 120);
    let most = h.cluster.max_in_flight();
    assert!(
        most <= kubeflow_profile_manager::kubernetes::policy::MAX_IN_FLIGHT,
        "{most} in flight"
    );
    assert!(
        most > 32,
        "the groups still move together: {most} in flight"
    );
}

#[tokio::test]
async fn access_under_a_sanitised_profile_of_the_previous_version_waits_for_its_record() {
    let h = Harness::start(Flavor::Current, &[("DECODE_GROUP_NAMES", "true")]).await;
    // 0.1 made "data-science" for "Data+Science" (decoded and lowercased), without a record.
    h.cluster.seed(json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile",
        "metadata": {"name": "data-science", "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager"}},
        "spec": {"owner": {"kind": "User", "name": OWNER}}}));
    h.cluster.reconcile("data-science");
    h.cluster.seed(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": RUMESH_BINDING, "namespace": "data-science",
                     "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                                "kubeflow-profile-manager/user": legacy_user_label_value(RUMESH)},
                     "annotations": {"user": RUMESH, "role": "edit"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RUMESH}]}));
    // Neither the real group nor a look-alike is granted anything new; rumesh keeps what he has.
    let outcome = handle(&h, &sign_in_event("rumesh", RUMESH, "[Data+Science]")).await;
    assert_eq!(refused(&outcome), ["Data Science"]);
    assert!(
        h.cluster
            .get("RoleBinding", Some("data-science"), RUMESH_BINDING)
            .is_some()
    );
    let outcome = handle(&h, &sign_in_event("mallory", MALLORY, "[Data_Science]")).await;
    assert_eq!(refused(&outcome), ["Data_Science"]);
    assert!(
        h.cluster
            .get("RoleBinding", Some("data-science"), MALLORY_BINDING)
            .is_none()
    );
    // The administrator records the group, as the README says.
    h.cluster
        .annotate("Profile", None, "data-science", RECORD, "Data Science");
    let outcome = handle(&h, &sign_in_event("rumesh", RUMESH, "[Data+Science]")).await;
    assert_eq!(granted(&outcome), ["data-science"]);
    let rb = h
        .cluster
        .get("RoleBinding", Some("data-science"), RUMESH_BINDING)
        .unwrap();
    assert_eq!(
        rb["metadata"]["labels"]["kubeflow-profile-manager/user"],
        sub_of("rumesh")
    );
    let outcome = handle(&h, &sign_in_event("mallory", MALLORY, "[Data_Science]")).await;
    assert_eq!(refused(&outcome), ["Data_Science"]);
}

#[tokio::test]
async fn a_managed_binding_a_tenant_replaced_with_another_role_is_put_back_and_fails_nothing_else()
{
    // Attack 2 of "Nothing a tenant writes steers access": an admin of ml replaces rumesh's
    // binding there by one of the same name, labels and subject, with roleRef kubeflow-view. A
    // roleRef is immutable, so an apply of the right one meets 422; with FAIL_MODE=closed that
    // used to fail rumesh's every sign-in, on every cluster.
    let h = Harness::start(Flavor::Current, &[]).await;
    granted(&h.sign_in("rumesh", RUMESH, "[ml, nlp]").await.unwrap());
    let mut forged = h
        .cluster
        .get("RoleBinding", Some("ml"), RUMESH_BINDING)
        .unwrap();
    h.cluster.delete("RoleBinding", Some("ml"), RUMESH_BINDING);
    forged["roleRef"]["name"] = json!("kubeflow-view");
    for field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
        "generation",
    ] {
        forged["metadata"].as_object_mut().unwrap().remove(field);
    }
    h.cluster.seed(forged);

    let outcome = h
        .sign_in("rumesh", RUMESH, "[ml, nlp]")
        .await
        .expect("the sign-in succeeds");
    assert_eq!(granted(&outcome), ["ml", "nlp"]);
    let binding = h
        .cluster
        .get("RoleBinding", Some("ml"), RUMESH_BINDING)
        .unwrap();
    assert_eq!(binding["roleRef"]["name"], "kubeflow-edit", "{binding}");
    assert!(h.cluster.admits_user("ml", RUMESH));
}

/// A namespace admin of ml, signing in to the cluster with kubectl (an access entry or OIDC).
fn tenant() -> kfpm_fakes::apiserver::rbac::UserInfo {
    kfpm_fakes::apiserver::rbac::UserInfo::new(MALLORY, &["system:authenticated"])
}

/// A RoleBinding in `namespace` as a tenant would write it, `labels` and `annotations` given.
fn binding_of(namespace: &str, name: &str, labels: Value, annotations: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": MALLORY}],
    })
}

/// The refusal of a write at admission by `policy`.
fn refused_by(result: Result<Value, kfpm_fakes::store::ApiError>, policy: &str) {
    let error = result.expect_err("refused at admission");
    assert!(
        error
            .message
            .contains(&format!("ValidatingAdmissionPolicy '{policy}'")),
        "{}",
        error.message
    );
    assert_eq!(error.code, 403, "{}", error.message);
}

#[tokio::test]
async fn with_the_admission_policies_every_forgery_of_a_namespace_admin_is_refused() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    h.sign_in("mallory", MALLORY, "[ml]").await.unwrap();
    h.settle().await;
    let me = tenant();
    let ours = json!({"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                      "kubeflow-profile-manager/user": sub_of("rumesh")});
    let marks = "kubeflow-profile-manager-marks";
    // A forged record, a look-alike with the function's labels.
    refused_by(
        h.cluster.create_as(
            &me,
            binding_of(
                "ml",
                "rumesh-record",
                ours.clone(),
                json!({
                "kubeflow-profile-manager/last-activity": "2099-01-01T00:00:00Z"}),
            ),
        ),
        marks,
    );
    refused_by(
        h.cluster.create_as(
            &me,
            binding_of(
                "ml",
                "look-alike",
                json!({}),
                json!({"kubeflow-profile-manager/username": "nobody"}),
            ),
        ),
        marks,
    );
    // A colleague's binding changed or deleted; her own relabelled to outlive her group.
    refused_by(
        h.cluster
            .update_as_user(&me, "RoleBinding", Some("ml"), RUMESH_BINDING, |rb| {
                rb["subjects"][0]["name"] = json!(MALLORY);
            }),
        marks,
    );
    refused_by(
        h.cluster
            .delete_as(&me, "RoleBinding", Some("ml"), RUMESH_BINDING),
        marks,
    );
    refused_by(
        h.cluster
            .update_as_user(&me, "RoleBinding", Some("ml"), MALLORY_BINDING, |rb| {
                rb["metadata"]["labels"] = json!({});
            }),
        marks,
    );
    // A team's record of its AD group, and a record in the function's own namespace.
    refused_by(
        h.cluster.update_as_user(&me, "Profile", None, "ml", |p| {
            p["metadata"]["annotations"][RECORD] = json!("KF-MALLORY");
        }),
        marks,
    );
    refused_by(
        h.cluster.create_as(
            &me,
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                   "metadata": {"name": "forged", "namespace": "kubeflow-profile-manager",
                                "labels": ours}}),
        ),
        marks,
    );
    // What a namespace admin may do stays possible: a contributor of their own (KFAM's shape).
    h.cluster
        .create_as(
            &me,
            binding_of(
                "ml",
                "user-eve-corp-example-clusterrole-view",
                json!({}),
                json!({"user": "eve@corp.example", "role": "view"}),
            ),
        )
        .expect("a hand-made contributor is admitted");
    // And everything still works as it did.
    let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"]);
    assert!(h.cluster.admits_user("ml", RUMESH));
}

#[tokio::test]
async fn with_the_admission_policies_a_stolen_function_token_writes_nothing_beyond_its_job() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    h.cluster
        .seed_profile("profile-alice", "alice@corp.example");
    h.cluster.seed(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}),
    );
    h.settle().await;
    let trigger = kfpm_fakes::apiserver::rbac::UserInfo::new(
        "arn:aws:sts::111122223333:assumed-role/kubeflow-profile-manager-FunctionRole/stolen",
        &[kfpm_fakes::apiserver::TRIGGER_GROUP, "system:authenticated"],
    );
    let sweep = kfpm_fakes::apiserver::rbac::UserInfo::new(
        "arn:aws:sts::111122223333:assumed-role/kubeflow-profile-manager-SweepRole/stolen",
        &[kfpm_fakes::apiserver::SWEEP_GROUP, "system:authenticated"],
    );
    let own = "kubeflow-profile-manager-own-writes";
    let ours = json!({"app.kubernetes.io/managed-by": "kubeflow-profile-manager"});
    let with_role = |namespace: &str, role: &str, subjects: Value| {
        let mut rb = binding_of(namespace, "stolen", ours.clone(), json!({}));
        rb["roleRef"]["name"] = json!(role);
        rb["subjects"] = subjects;
        rb
    };
    let one = json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": MALLORY}]);
    // Outside its territory: a system namespace, another person's personal namespace.
    refused_by(
        h.cluster.create_as(
            &trigger,
            with_role("kube-system", "kubeflow-edit", one.clone()),
        ),
        own,
    );
    refused_by(
        h.cluster.create_as(
            &trigger,
            with_role("profile-alice", "kubeflow-edit", one.clone()),
        ),
        own,
    );
    // Another role, several subjects, a group.
    refused_by(
        h.cluster
            .create_as(&trigger, with_role("ml", "cluster-admin", one.clone())),
        own,
    );
    let two = json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": MALLORY},
                     {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RUMESH}]);
    refused_by(
        h.cluster
            .create_as(&trigger, with_role("ml", "kubeflow-edit", two)),
        own,
    );
    let group = json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]);
    refused_by(
        h.cluster
            .create_as(&trigger, with_role("ml", "kubeflow-edit", group)),
        own,
    );
    // An Istio policy not of the contributor shape.
    let policy = |spec: Value| {
        json!({"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "stolen", "namespace": "ml", "labels": ours}, "spec": spec})
    };
    refused_by(
        h.cluster
            .create_as(&trigger, policy(json!({"action": "DENY", "rules": [{}]}))),
        own,
    );
    refused_by(
        h.cluster.create_as(
            &trigger,
            policy(json!({"rules": [{"when": [{"key": "source.ip", "values": ["0.0.0.0/0"]}]}]})),
        ),
        own,
    );
    // A Profile's owner, a namespace without the owner, a binding it did not make.
    refused_by(
        h.cluster
            .update_as_user(&trigger, "Profile", None, "ml", |p| {
                p["spec"]["owner"]["name"] = json!(MALLORY);
            }),
        own,
    );
    refused_by(
        h.cluster.create_as(
            &trigger,
            json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "stolen", "labels": ours}}),
        ),
        own,
    );
    refused_by(
        h.cluster
            .delete_as(&trigger, "RoleBinding", Some("ml"), "namespaceAdmin"),
        own,
    );
    // The sweep's identity creates nothing but its records.
    refused_by(
        h.cluster
            .create_as(&sweep, with_role("ml", "kubeflow-edit", one.clone())),
        own,
    );
    // A team default: none of a stack without TEAM_DEFAULTS_FILE (make admission renders
    // none), whatever its shape.
    let pod_default = |namespace: &str, spec: Value| {
        json!({"apiVersion": "kubeflow.org/v1alpha1", "kind": "PodDefault",
               "metadata": {"name": "access-ml-pipeline", "namespace": namespace, "labels": ours},
               "spec": spec})
    };
    refused_by(
        h.cluster.create_as(
            &trigger,
            pod_default("ml", json!({"selector": {}, "desc": "x"})),
        ),
        own,
    );
    // What its job needs is admitted: a contributor binding in a team namespace.
    h.cluster
        .create_as(&trigger, with_role("ml", "kubeflow-view", one))
        .expect("a contributor binding of its own shape");
}

#[tokio::test]
async fn with_the_admission_policies_a_stolen_token_makes_only_the_declared_defaults_where_due() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/team-defaults/team-defaults.yaml"
    );
    let h = Harness::start(Flavor::Current, &[("TEAM_DEFAULTS_FILE", file)]).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    let trigger = kfpm_fakes::apiserver::rbac::UserInfo::new(
        "arn:aws:sts::111122223333:assumed-role/kubeflow-profile-manager-FunctionRole/stolen",
        &[kfpm_fakes::apiserver::TRIGGER_GROUP, "system:authenticated"],
    );
    let own = "kubeflow-profile-manager-own-writes";
    let declared = h
        .cluster
        .get("PodDefault", Some("ml"), "access-ml-pipeline")
        .expect("made by the sign-in, as declared");
    let again = |namespace: &str, edit: &dyn Fn(&mut Value)| {
        let mut object = json!({"apiVersion": "kubeflow.org/v1alpha1", "kind": "PodDefault",
            "metadata": {"name": "access-ml-pipeline", "namespace": namespace},
            "spec": declared["spec"].clone()});
        edit(&mut object);
        object
    };
    // The declared default once more: ml's defaults are made, no longer due.
    h.cluster
        .delete("PodDefault", Some("ml"), "access-ml-pipeline");
    refused_by(h.cluster.create_as(&trigger, again("ml", &|_| {})), own);
    // Marking them due again is the break-glass group's, never the function's.
    refused_by(
        h.cluster
            .update_as_user(&trigger, "Namespace", None, "ml", |ns| {
                ns["metadata"]["annotations"]["kubeflow-profile-manager/team-defaults"] =
                    json!("due");
            }),
        own,
    );
    // In a new team's namespace (due): only the declared content, under a declared name.
    h.sign_in("rumesh", RUMESH, "[ml, vision]").await.unwrap();
    h.cluster
        .delete("PodDefault", Some("vision"), "access-ml-pipeline");
    h.cluster.annotate(
        "Namespace",
        None,
        "vision",
        "kubeflow-profile-manager/team-defaults",
        "due",
    );
    let poisoned = again("vision", &|o| {
        o["spec"]["env"][0]["value"] = json!("/tmp/stolen");
    });
    refused_by(h.cluster.create_as(&trigger, poisoned), own);
    let renamed = again("vision", &|o| o["metadata"]["name"] = json!("other"));
    refused_by(h.cluster.create_as(&trigger, renamed), own);
    h.cluster
        .create_as(&trigger, again("vision", &|_| {}))
        .expect("the declared default, where due");
}
