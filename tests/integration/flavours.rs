//! The sign-in on every cluster shape found in the field: Kubeflow >= 1.8, 1.3 to 1.7, 1.2,
//! upgraded from 1.2, 1.11 in Istio ambient mode with and without waypoints, and deployments
//! with their own userid header, prefix and gateway. Each scenario asks the fake's Istio model
//! whether the person can actually reach a notebook the mesh protects (a sidecar, or a
//! waypoint), and after revocation whether they are kept out: a RoleBinding the dashboard lists
//! is not access, and a namespace outside the mesh lets everyone in.

use crate::harness;
use crate::harness::{Harness, OWNER, granted};
use kfpm_fakes::apiserver::{FakeClusterConfig, Flavor};
use kfpm_fakes::events::sub_of;
use kubeflow_profile_manager::domain::model::names::legacy_user_label_value;
use serde_json::json;

const RUMESH: &str = "rumesh@corp.example";

/// A cluster of `flavor` already in use: one Profile whose owner objects the controller wrote.
async fn in_use(flavor: Flavor, adjust: impl FnOnce(&mut FakeClusterConfig)) -> Harness {
    let h = Harness::start_with(&[], |config| {
        config.flavor = flavor;
        adjust(config);
    })
    .await;
    h.cluster.seed_profile("team-a", "alice@corp.example");
    h
}

/// Signs rumesh into `ml`, checks he gets in (and the group owner and Profile owner still do,
/// nobody else does), then out of every group, and checks he is kept out.
async fn gets_in_then_out(h: &Harness, label: &str) {
    let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"], "{label}");
    h.cluster
        .wait_until(std::time::Duration::from_secs(5), |c| {
            c.get("RoleBinding", Some("ml"), "namespaceAdmin").is_some()
        })
        .await;
    assert!(
        h.cluster.workloads_are_protected("ml"),
        "{label}: ml's notebooks would run outside the mesh: {:?}",
        h.cluster.dataplane("ml")
    );
    assert!(
        h.cluster.admits_user("ml", RUMESH),
        "{label}: rumesh cannot get into ml"
    );
    assert!(
        h.cluster.admits_user("ml", OWNER),
        "{label}: the group owner lost ml"
    );
    assert!(
        h.cluster.admits_user("team-a", "alice@corp.example"),
        "{label}: alice lost team-a"
    );
    assert!(
        !h.cluster.admits_user("ml", "eve@corp.example"),
        "{label}: anyone gets into ml"
    );
    assert!(
        !h.cluster.admits_user("team-a", RUMESH),
        "{label}: rumesh got into team-a"
    );
    h.sign_in("rumesh", RUMESH, "[]").await.unwrap();
    assert!(
        !h.cluster.admits_user("ml", RUMESH),
        "{label}: rumesh still gets into ml"
    );
    assert!(
        h.cluster.admits_user("ml", OWNER),
        "{label}: the group owner lost ml"
    );
}

#[tokio::test]
async fn a_contributor_gets_in_and_out_on_every_flavour() {
    // Ambient without a waypoint admits nobody by header: its own test below.
    for flavor in Flavor::ALL
        .into_iter()
        .filter(|f| *f != Flavor::AmbientWithoutWaypoint)
    {
        let h = in_use(flavor, |_| {}).await;
        gets_in_then_out(&h, &format!("{flavor:?}")).await;
        let twin = match flavor {
            Flavor::Kubeflow12 => "ServiceRoleBinding",
            _ => "AuthorizationPolicy",
        };
        h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
        assert_eq!(h.objects_of(twin, RUMESH).len(), 1, "{flavor:?}: {twin}");
        let other = if twin == "ServiceRoleBinding" {
            "AuthorizationPolicy"
        } else {
            "ServiceRoleBinding"
        };
        assert!(
            h.objects_of(other, RUMESH).is_empty(),
            "{flavor:?}: no {other}"
        );
    }
}

#[tokio::test]
async fn a_deployment_with_its_own_userid_header_prefix_and_gateway_is_followed() {
    for flavor in [Flavor::Current, Flavor::Kubeflow13To17, Flavor::Kubeflow12] {
        let h = in_use(flavor, |config| {
            config.userid_header = "x-auth-request-email".into();
            config.userid_prefix = "accounts.google.com:".into();
            config.gateway_principal = "cluster.local/ns/auth/sa/oauth2-proxy".into();
        })
        .await;
        gets_in_then_out(&h, &format!("custom {flavor:?}")).await;
    }
}

#[tokio::test]
async fn the_policy_shape_matches_the_kubeflow_version() {
    let h = in_use(Flavor::Kubeflow13To17, |_| {}).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    let name = "user-rumesh-corp-example-clusterrole-edit";
    let policy = h
        .cluster
        .get("AuthorizationPolicy", Some("ml"), name)
        .unwrap();
    assert_eq!(
        policy["spec"],
        json!({"rules": [{"when": [{"key": "request.headers[kubeflow-userid]", "values": [RUMESH]}]}]}),
        "Kubeflow 1.3 to 1.7: no from, as KFAM makes it"
    );
    let h = in_use(Flavor::Current, |_| {}).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    let policy = h
        .cluster
        .get("AuthorizationPolicy", Some("ml"), name)
        .unwrap();
    assert_eq!(
        policy["spec"]["rules"][0]["from"],
        json!([{"source": {"principals": [
            "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
            "cluster.local/ns/kubeflow/sa/ml-pipeline-ui"]}}])
    );
}

#[tokio::test]
async fn a_dashboard_made_policy_without_from_counts_as_granted_on_kubeflow_1_3_to_1_7() {
    let h = in_use(Flavor::Kubeflow13To17, |_| {}).await;
    h.cluster.seed_group_profile("ml", OWNER, "ml");
    let name = "user-rumesh-corp-example-clusterrole-edit";
    let annotations = json!({"user": RUMESH, "role": "edit"});
    h.cluster.seed(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": "ml", "annotations": annotations},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RUMESH}]}));
    h.cluster.seed(json!({"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
        "metadata": {"name": name, "namespace": "ml", "annotations": annotations},
        "spec": {"rules": [{"when": [{"key": "request.headers[kubeflow-userid]", "values": [RUMESH]}]}]}}));
    let dashboards = |versions: std::collections::BTreeMap<String, String>| -> Vec<String> {
        ["RoleBinding", "AuthorizationPolicy"]
            .iter()
            .map(|kind| versions[&format!("{kind} ml/{name}")].clone())
            .collect()
    };
    let before = dashboards(h.cluster.versions().await);
    for _ in 0..2 {
        let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
        assert_eq!(granted(&outcome), ["ml"], "the dashboard's grant counts");
        assert!(harness::refused(&outcome).is_empty());
    }
    assert_eq!(
        dashboards(h.cluster.versions().await),
        before,
        "the dashboard's objects are not touched"
    );
    assert!(h.cluster.admits_user("ml", RUMESH));
}

#[tokio::test]
async fn an_upgraded_cluster_gets_authorization_policies_and_loses_our_old_service_role_bindings() {
    let h = in_use(Flavor::UpgradedFrom12, |_| {}).await;
    h.cluster.seed_group_profile("ml", OWNER, "ml");
    // What the previous version made there under Kubeflow 1.2: a ServiceRoleBinding with 1.2's
    // KFAM name (capitals dropped) and the old user label.
    let email = "Rumesh@Corp.example";
    let old_name = "user-umesh-orp-example-clusterrole-edit";
    let labels = json!({"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                        "kubeflow-profile-manager/user": legacy_user_label_value(email)});
    let annotations = json!({"user": email, "role": "edit"});
    h.cluster.seed(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": old_name, "namespace": "ml", "labels": labels, "annotations": annotations},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": email}]}));
    h.cluster.seed(json!({"apiVersion": "rbac.istio.io/v1alpha1", "kind": "ServiceRoleBinding",
        "metadata": {"name": old_name, "namespace": "ml", "labels": labels, "annotations": annotations},
        "spec": {"roleRef": {"kind": "ServiceRole", "name": "ns-access-istio"},
                 "subjects": [{"properties": {"request.headers[kubeflow-userid]": email}}]}}));
    assert!(
        !h.cluster.admits_user("ml", email),
        "Istio >= 1.6 ignores the old binding"
    );
    let outcome = h.sign_in("rumesh", email, "[ml]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"]);
    assert!(h.cluster.admits_user("ml", email), "access that works now");
    let new_name = "user-rumesh-corp-example-clusterrole-edit";
    for kind in ["RoleBinding", "AuthorizationPolicy"] {
        let object = h.cluster.get(kind, Some("ml"), new_name).expect(kind);
        assert_eq!(
            object["metadata"]["labels"]["kubeflow-profile-manager/user"],
            sub_of("rumesh")
        );
    }
    for kind in ["RoleBinding", "ServiceRoleBinding"] {
        assert!(
            h.cluster.get(kind, Some("ml"), old_name).is_none(),
            "old {kind} revoked"
        );
    }
}

#[tokio::test]
async fn look_alike_people_get_distinct_objects_and_both_get_in() {
    for flavor in [Flavor::Current, Flavor::Kubeflow12] {
        let h = in_use(flavor, |_| {}).await;
        let (dot, underscore) = ("jo.smith@corp.example", "jo_smith@corp.example");
        for (user, email) in [("jo.smith", dot), ("jo_smith", underscore)] {
            let outcome = h.sign_in(user, email, "[ml]").await.unwrap();
            assert_eq!(granted(&outcome), ["ml"], "{flavor:?} {email}");
        }
        for email in [dot, underscore] {
            assert!(
                h.cluster.admits_user("ml", email),
                "{flavor:?}: {email} cannot get in"
            );
            assert_eq!(h.bindings_of(email).len(), 1, "{flavor:?}: {email}");
        }
        assert_ne!(h.bindings_of(dot), h.bindings_of(underscore));
        // Two personal Profiles, one each.
        let owners: Vec<String> = h
            .cluster
            .all("Profile")
            .iter()
            .filter(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("profile-jo-smith")
            })
            .map(|p| p["spec"]["owner"]["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(owners.len(), 2, "{flavor:?}: {owners:?}");
        // One leaving takes nothing from the other.
        h.sign_in("jo_smith", underscore, "[]").await.unwrap();
        assert!(!h.cluster.admits_user("ml", underscore), "{flavor:?}");
        assert!(h.cluster.admits_user("ml", dot), "{flavor:?}");
    }
}

#[tokio::test]
async fn the_same_person_with_other_capitals_keeps_working_access() {
    for flavor in [Flavor::Current, Flavor::Kubeflow12] {
        let h = in_use(flavor, |_| {}).await;
        h.sign_in("rumesh", "Rumesh@Corp.example", "[ml]")
            .await
            .unwrap();
        assert!(
            h.cluster.admits_user("ml", "Rumesh@Corp.example"),
            "{flavor:?}"
        );
        // The IdP now sends the email in lower case: Istio compares exactly.
        let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
        assert_eq!(granted(&outcome), ["ml"]);
        assert!(
            h.cluster.admits_user("ml", RUMESH),
            "{flavor:?}: the new form gets in"
        );
        assert!(
            !h.cluster.admits_user("ml", "Rumesh@Corp.example"),
            "{flavor:?}: the old one does not"
        );
        assert_eq!(
            h.bindings_of(RUMESH).len(),
            1,
            "{flavor:?}: one binding, updated or replaced"
        );
        assert!(
            h.bindings_of("Rumesh@Corp.example").is_empty(),
            "{flavor:?}"
        );
        // The personal Profile keeps its owner: the controller would refuse a changed one.
        let personal = h.cluster.get("Profile", None, "profile-rumesh").unwrap();
        assert_eq!(personal["spec"]["owner"]["name"], "Rumesh@Corp.example");
    }
}

#[tokio::test]
async fn a_configured_istio_kind_the_cluster_does_not_serve_is_skipped_or_fails_the_sign_in() {
    // `both` on a cluster without rbac.istio.io: AuthorizationPolicies only (the other is skipped).
    let h = Harness::start_with(&[("ISTIO_AUTHZ", "both")], |c| c.flavor = Flavor::Current).await;
    h.cluster.seed_profile("team-a", "alice@corp.example");
    let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"]);
    assert!(h.cluster.admits_user("ml", RUMESH));
    assert!(h.cluster.all("ServiceRoleBinding").is_empty());
    // Only a kind it does not serve: a RoleBinding alone is no working access, so the sign-in
    // fails (FAIL_MODE=closed) and nothing is written.
    for (mode, lets_through) in [("closed", false), ("open", true)] {
        let h = Harness::start_with(
            &[("ISTIO_AUTHZ", "servicerolebinding"), ("FAIL_MODE", mode)],
            |c| c.flavor = Flavor::Current,
        )
        .await;
        let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await;
        assert_eq!(outcome.is_ok(), lets_through, "{mode}");
        assert!(h.bindings_of(RUMESH).is_empty(), "{mode}");
    }
}

#[tokio::test]
async fn a_namespace_it_creates_is_in_the_mesh_the_profile_controller_would_have_put_it_in() {
    for (flavor, labels) in [
        (Flavor::Current, json!({"istio-injection": "enabled"})),
        (
            Flavor::AmbientWithWaypoint,
            json!({"istio-injection": "disabled", "istio.io/dataplane-mode": "ambient",
                   "istio.io/use-waypoint": "waypoint", "istio.io/use-waypoint-namespace": "ml",
                   "istio.io/ingress-use-waypoint": "true"}),
        ),
    ] {
        let h = in_use(flavor, |_| {}).await;
        h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
        h.cluster.settle().await;
        let namespace = h.cluster.get("Namespace", None, "ml").unwrap();
        for (key, value) in labels.as_object().unwrap() {
            assert_eq!(
                &namespace["metadata"]["labels"][key], value,
                "{flavor:?}: {key} on {namespace}"
            );
        }
        // The controller adopted it and added its ConfigMap's labels, nothing of the mesh.
        assert_eq!(
            namespace["metadata"]["labels"]["app.kubernetes.io/part-of"],
            "kubeflow-profile"
        );
    }
    // MESH_LABELS overrides what is learnt.
    let h = Harness::start_with(&[("MESH_LABELS", "istio.io/rev=1-22")], |_| {}).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    let labels = h.cluster.get("Namespace", None, "ml").unwrap()["metadata"]["labels"].clone();
    assert_eq!(labels["istio.io/rev"], "1-22", "{labels}");
    assert!(labels.get("istio-injection").is_none(), "{labels}");
    assert!(h.cluster.workloads_are_protected("ml"));
}

#[tokio::test]
async fn a_namespace_an_earlier_version_made_outside_the_mesh_is_brought_into_it() {
    let h = in_use(Flavor::Current, |_| {}).await;
    // What 0.1 and 0.2 development builds made: the function's namespace, no mesh label, then
    // adopted by the controller (ConfigMap labels only).
    h.cluster.seed(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml",
        "annotations": {"owner": OWNER, "kubeflow-profile-manager/group": "ml"},
        "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager"}}}),
    );
    h.cluster.seed_group_profile("ml", OWNER, "ml");
    assert_eq!(
        h.cluster.dataplane("ml"),
        kfpm_fakes::istio::Dataplane::Outside
    );
    assert!(
        h.cluster.admits_user("ml", "eve@corp.example"),
        "outside the mesh nothing keeps anyone out"
    );
    gets_in_then_out(&h, "repaired").await;
    assert_eq!(
        h.cluster.get("Namespace", None, "ml").unwrap()["metadata"]["labels"]["istio-injection"],
        "enabled"
    );
    // A namespace whose mode an administrator chose (any mesh label) is left as it is.
    h.cluster.seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "nlp",
        "annotations": {"owner": OWNER, "kubeflow-profile-manager/group": "nlp"},
        "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager", "istio-injection": "disabled"}}}));
    h.cluster.seed_group_profile("nlp", OWNER, "nlp");
    h.sign_in("rumesh", RUMESH, "[nlp]").await.unwrap();
    assert_eq!(
        h.cluster.get("Namespace", None, "nlp").unwrap()["metadata"]["labels"]["istio-injection"],
        "disabled"
    );
}

#[tokio::test]
async fn a_viewer_reaches_a_namespace_only_through_the_pipelines_ui() {
    for flavor in [
        Flavor::Current,
        Flavor::Kubeflow13To17,
        Flavor::AmbientWithWaypoint,
    ] {
        let h = Harness::start_with(&[("USER_ROLE", "view")], |c| c.flavor = flavor).await;
        h.cluster.seed_profile("team-a", "alice@corp.example");
        h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
        h.cluster.settle().await;
        assert!(h.cluster.workloads_are_protected("ml"), "{flavor:?}");
        assert!(
            !h.cluster.admits_user("ml", RUMESH),
            "{flavor:?}: a viewer reaches ml's notebooks through the gateway"
        );
        assert!(
            h.cluster.admits_through_kfp_ui("ml", RUMESH),
            "{flavor:?}: the Pipelines UI cannot show a viewer's runs"
        );
        h.sign_in("rumesh", RUMESH, "[]").await.unwrap();
        assert!(!h.cluster.admits_through_kfp_ui("ml", RUMESH), "{flavor:?}");
        // VIEWER_ACCESS=as-editors: KFAM's policy, the same for every role.
        let h = Harness::start_with(
            &[("USER_ROLE", "view"), ("VIEWER_ACCESS", "as-editors")],
            |c| c.flavor = flavor,
        )
        .await;
        h.cluster.seed_profile("team-a", "alice@corp.example");
        h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
        h.cluster.settle().await;
        assert!(h.cluster.admits_user("ml", RUMESH), "{flavor:?}");
    }
}

#[tokio::test]
async fn in_ambient_without_a_waypoint_the_binding_is_written_and_the_workloads_refused() {
    let h = in_use(Flavor::AmbientWithoutWaypoint, |_| {}).await;
    let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    h.cluster.settle().await;
    assert_eq!(granted(&outcome), ["ml"]);
    assert_eq!(
        harness::refused(&outcome).len(),
        1,
        "reported: {:?}",
        harness::refused(&outcome)
    );
    assert_eq!(h.objects_of("RoleBinding", RUMESH).len(), 1);
    assert!(
        h.objects_of("AuthorizationPolicy", RUMESH).is_empty(),
        "no policy that could not work"
    );
    assert_eq!(
        h.cluster.dataplane("ml"),
        kfpm_fakes::istio::Dataplane::Ambient { waypoint: None }
    );
    assert!(!h.cluster.admits_user("ml", RUMESH));
    assert!(!h.cluster.admits_user("ml", "eve@corp.example"));
}

#[tokio::test]
async fn a_namespace_switched_to_ambient_gets_its_policies_attached_to_the_waypoint() {
    let h = in_use(Flavor::Current, |_| {}).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    h.cluster.settle().await;
    assert!(h.cluster.admits_user("ml", RUMESH));
    // An operator switches ml to ambient with a waypoint (PR #267's labels, by hand).
    h.cluster.add_waypoint("ml", "waypoint");
    h.cluster.label_namespace(
        "ml",
        &[
            ("istio-injection", "disabled"),
            ("istio.io/dataplane-mode", "ambient"),
            ("istio.io/use-waypoint", "waypoint"),
            ("istio.io/ingress-use-waypoint", "true"),
        ],
    );
    // Nothing is attached to the waypoint yet, so it lets every request on, and ztunnel then
    // sees them come from the waypoint, in ml, which the owner policy's `source.namespace` rule
    // admits: the namespace is open to everyone until the policies are attached.
    assert!(h.cluster.admits_user("ml", "eve@corp.example"));
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    let name = "user-rumesh-corp-example-clusterrole-edit";
    let policy = h
        .cluster
        .get("AuthorizationPolicy", Some("ml"), name)
        .unwrap();
    assert_eq!(
        policy["spec"]["targetRefs"],
        json!([{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "waypoint"}])
    );
    assert!(h.cluster.admits_user("ml", RUMESH));
    assert!(!h.cluster.admits_user("ml", "eve@corp.example"));
}

#[tokio::test]
async fn deleting_a_team_profile_deletes_the_namespace_the_function_made_for_it() {
    let h = in_use(Flavor::Current, |_| {}).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    h.cluster.settle().await;
    let profile_uid = h.cluster.get("Profile", None, "ml").unwrap()["metadata"]["uid"].clone();
    let namespace = h.cluster.get("Namespace", None, "ml").unwrap();
    assert_eq!(
        namespace["metadata"]["ownerReferences"],
        json!([{"apiVersion": "kubeflow.org/v1", "kind": "Profile", "name": "ml", "uid": profile_uid}])
    );
    h.cluster.delete("Profile", None, "ml");
    assert!(
        h.cluster.get("Namespace", None, "ml").is_none(),
        "the namespace outlived its Profile"
    );
    assert!(h.objects_of("RoleBinding", RUMESH).is_empty());
    // One an earlier version made (no owner) gets its Profile as owner at the next sign-in.
    h.cluster.seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "nlp",
        "annotations": {"owner": OWNER, "kubeflow-profile-manager/group": "nlp"},
        "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager", "istio-injection": "enabled"}}}));
    h.cluster.seed_group_profile("nlp", OWNER, "nlp");
    h.sign_in("rumesh", RUMESH, "[nlp]").await.unwrap();
    let uid = h.cluster.get("Profile", None, "nlp").unwrap()["metadata"]["uid"].clone();
    assert_eq!(
        h.cluster.get("Namespace", None, "nlp").unwrap()["metadata"]["ownerReferences"][0]["uid"],
        uid
    );
    h.cluster.delete("Profile", None, "nlp");
    assert!(h.cluster.get("Namespace", None, "nlp").is_none());
    // A namespace someone else made (an administrator's, adopted) is never given an owner.
    h.cluster.seed(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cv",
        "annotations": {"owner": OWNER}, "labels": {"istio-injection": "enabled"}}}),
    );
    h.cluster.seed_group_profile("cv", OWNER, "cv");
    h.sign_in("rumesh", RUMESH, "[cv]").await.unwrap();
    let cv = h.cluster.get("Namespace", None, "cv").unwrap();
    assert!(cv["metadata"].get("ownerReferences").is_none(), "{cv}");
}

#[tokio::test]
async fn an_earlier_namespace_given_its_owner_keeps_the_mesh_mode_it_has() {
    // One of ours, switched to ambient with a waypoint by an operator, made before namespaces
    // were owned: the repair adds only the owner, and the policy follows the ambient labels.
    let h = in_use(Flavor::Current, |_| {}).await;
    h.cluster.seed(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml",
        "annotations": {"owner": OWNER, "kubeflow-profile-manager/group": "ml"},
        "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                   "istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint",
                   "istio.io/ingress-use-waypoint": "true"}}}),
    );
    h.cluster.add_waypoint("ml", "waypoint");
    h.cluster.seed_group_profile("ml", OWNER, "ml");
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    let namespace = h.cluster.get("Namespace", None, "ml").unwrap();
    assert_eq!(
        namespace["metadata"]["ownerReferences"][0]["kind"],
        "Profile"
    );
    assert!(
        namespace["metadata"]["labels"]
            .get("istio-injection")
            .is_none()
    );
    let name = "user-rumesh-corp-example-clusterrole-edit";
    let policy = h
        .cluster
        .get("AuthorizationPolicy", Some("ml"), name)
        .unwrap();
    assert_eq!(policy["spec"]["targetRefs"][0]["name"], "waypoint");
    assert!(h.cluster.admits_user("ml", RUMESH));
}
