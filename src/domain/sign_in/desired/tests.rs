//! The unit tests of `desired`. Pure.

use super::*;
use crate::domain::config::test_config as config;

const SUB: &str = "12ec26be-e8d1-482b-9602-e402c7896cb3";

fn identity(groups: &[&str]) -> Identity {
    Identity {
        user_name: "rumesh".into(),
        signed_in: true,
        sub: SUB.into(),
        email: "rumesh@corp.example".into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn granting(identity: &Identity, config: &Config, twins: &[Kind]) -> DesiredState {
    let mut conventions = Conventions::defaults(twins.to_vec());
    conventions.viewer_access = config.istio.viewer_access;
    desired_state(identity, Mode::Grant, config, &conventions)
}

#[test]
fn role_suffixes_make_one_team_whose_highest_role_wins_and_admin_needs_enabling() {
    let suffixes = ("GROUP_ROLE_SUFFIXES", "-view=view,-edit=edit,-admin=admin");
    let state = granting(
        &identity(&["KF-A-VIEW", "kf-a-Edit", "KF-B-VIEW", "KF-C-ADMIN", "KF-D"]),
        &config(&[suffixes]),
        &[],
    );
    let teams: Vec<(&str, &str, Role)> = state
        .groups
        .iter()
        .map(|g| (g.group.as_str(), g.namespace.as_str(), g.role))
        .collect();
    assert_eq!(
        teams,
        [
            ("KF-A", "kf-a", Role::Edit),
            ("KF-B", "kf-b", Role::View),
            ("KF-D", "kf-d", Role::Edit)
        ]
    );
    assert_eq!(
        state.groups[0].bindings[0].name,
        "user-rumesh-corp-example-clusterrole-edit"
    );
    assert_eq!(
        state.groups[1].bindings[0].body["roleRef"]["name"],
        "kubeflow-view"
    );
    assert_eq!(
        state.refused,
        [RefusedGroup::new(
            "KF-C-ADMIN",
            Some("kf-c"),
            Refusal::AdminNotAllowed
        )]
    );
    let allowed = granting(
        &identity(&["KF-C-ADMIN", "KF-C-VIEW"]),
        &config(&[suffixes, ("ALLOW_ADMIN_ROLE", "true")]),
        &[],
    );
    assert_eq!(allowed.groups[0].role, Role::Admin);
    assert_eq!(
        allowed.groups[0].bindings[0].body["roleRef"]["name"],
        "kubeflow-admin"
    );
}

#[test]
fn the_role_binding_has_the_kfam_shape() {
    let state = granting(&identity(&["ridy-jose"]), &config(&[]), &[]);
    let rb = &state.groups[0].bindings[0];
    assert_eq!(rb.kind, Kind::RoleBinding);
    assert_eq!(rb.namespace.as_deref(), Some("ridy-jose"));
    assert_eq!(
        rb.body,
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {
                "name": "user-rumesh-corp-example-clusterrole-edit",
                "namespace": "ridy-jose",
                "annotations": {"user": "rumesh@corp.example", "role": "edit"},
                "labels": {
                    "app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                    "kubeflow-profile-manager/user": SUB,
                },
            },
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "rumesh@corp.example"}],
        })
    );
}

#[test]
fn the_istio_twins_have_the_kubeflow_shapes() {
    // KFAM's shape, the same for every role, as VIEWER_ACCESS=as-editors asks.
    let state = granting(
        &identity(&["ridy-jose"]),
        &config(&[("USER_ROLE", "view"), ("VIEWER_ACCESS", "as-editors")]),
        &[Kind::AuthorizationPolicy, Kind::ServiceRoleBinding],
    );
    let [rb, ap, srb] = &state.groups[0].bindings[..] else {
        panic!("expected three objects");
    };
    assert_eq!(rb.body["roleRef"]["name"], "kubeflow-view");
    for twin in [ap, srb] {
        assert_eq!(twin.name, "user-rumesh-corp-example-clusterrole-view");
        assert_eq!(twin.body["metadata"], rb.body["metadata"]);
    }
    assert_eq!(ap.body["apiVersion"], "security.istio.io/v1beta1");
    assert_eq!(ap.body["kind"], "AuthorizationPolicy");
    assert_eq!(
        ap.body["spec"],
        json!({"rules": [{
            "from": [{"source": {"principals": [
                "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
                "cluster.local/ns/kubeflow/sa/ml-pipeline-ui"]}}],
            "when": [{"key": "request.headers[kubeflow-userid]", "values": ["rumesh@corp.example"]}],
        }]})
    );
    assert!(
        ap.body["spec"].get("action").is_none(),
        "ALLOW is the default"
    );
    assert_eq!(srb.body["apiVersion"], "rbac.istio.io/v1alpha1");
    assert_eq!(
        srb.body["spec"],
        json!({
            "roleRef": {"kind": "ServiceRole", "name": "ns-access-istio"},
            "subjects": [{"properties": {"request.headers[kubeflow-userid]": "rumesh@corp.example"}}],
        })
    );
}

#[test]
fn a_viewer_is_admitted_only_from_the_pipelines_ui_and_an_editor_as_kfam_does() {
    let twins = [Kind::AuthorizationPolicy];
    let principals = |vars: &[(&str, &str)]| {
        let state = granting(&identity(&["ridy-jose"]), &config(vars), &twins);
        state.groups[0].bindings[1].body["spec"]["rules"][0]["from"].clone()
    };
    assert_eq!(
        principals(&[("USER_ROLE", "view")]),
        json!([{"source": {"principals": ["cluster.local/ns/kubeflow/sa/ml-pipeline-ui"]}}]),
        "no ingress gateway: no notebook, which runs as default-editor"
    );
    assert_eq!(
        principals(&[("USER_ROLE", "edit")]),
        json!([{"source": {"principals": [
            "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
            "cluster.local/ns/kubeflow/sa/ml-pipeline-ui"]}}])
    );
}

#[test]
fn a_namespace_it_creates_carries_the_mesh_labels_of_the_controllers_namespaces() {
    let state = granting(&identity(&["ridy-jose"]), &config(&[]), &[]);
    let labels = &state.groups[0].namespace_object.body["metadata"]["labels"];
    assert_eq!(labels["istio-injection"], "enabled", "{labels}");
    assert_eq!(labels[MANAGED_BY_LABEL], MANAGER);
}

#[test]
fn profiles_have_the_kubeflow_shape() {
    let state = granting(&identity(&["ridy-jose"]), &config(&[]), &[]);
    let personal = state.personal_profile.unwrap();
    assert_eq!(personal.name, "profile-rumesh");
    assert_eq!(personal.body["apiVersion"], "kubeflow.org/v1");
    assert_eq!(personal.body["kind"], "Profile");
    assert_eq!(
        personal.body["spec"],
        json!({
            "owner": {"kind": "User", "name": "rumesh@corp.example"},
            "resourceQuotaSpec": {"hard": {"cpu": "0", "memory": "0Gi", "requests.nvidia.com/gpu": "0",
                "persistentvolumeclaims": "0", "requests.storage": "0Gi"}},
        })
    );
    let group = &state.groups[0];
    assert_eq!(
        group.profile.body["spec"],
        json!({"owner": {"kind": "User", "name": "admin@kubeflow.com"}})
    );
    assert_eq!(
        group.profile.meta("labels", MANAGED_BY_LABEL),
        Some(MANAGER)
    );
    assert_eq!(
        group.profile.body["metadata"]["annotations"],
        json!({"kubeflow-profile-manager/group": "ridy-jose"})
    );
    assert_eq!(
        group.namespace_object.body["metadata"]["annotations"],
        json!({"owner": "admin@kubeflow.com", "kubeflow-profile-manager/group": "ridy-jose"})
    );
    assert_eq!(personal.meta("labels", USER_LABEL), Some(SUB));
    assert_eq!(group.profile.meta("labels", USER_LABEL), None);
    assert_eq!(
        state.legacy_user_key,
        Some(legacy_user_label_value("rumesh@corp.example"))
    );
}

#[test]
fn a_sign_in_that_may_not_grant_makes_no_personal_profile_and_looks_up_no_legacy_label() {
    let state = desired_state(
        &identity(&["ridy-jose"]),
        Mode::RevokeOnly,
        &config(&[("REMOVE_LEGACY_BINDINGS", "true")]),
        &Conventions::defaults(Vec::new()),
    );
    assert_eq!(state.personal_profile, None);
    assert_eq!(state.legacy_user_key, None);
    assert_eq!(state.legacy_binding_name, None);
    assert_eq!(
        state.groups.len(),
        1,
        "the groups still say what may be kept"
    );
}

#[test]
fn an_empty_quota_setting_gives_a_profile_without_quota() {
    let state = granting(&identity(&[]), &config(&[("USER_PROFILE_QUOTA", "")]), &[]);
    let spec = &state.personal_profile.unwrap().body["spec"];
    assert!(spec.get("resourceQuotaSpec").is_none());
}

#[test]
fn refused_filtered_and_claimed_groups() {
    let state = granting(
        &identity(&[
            "kube-system",
            "data science",
            "Data_Science",
            "profile-jose",
            "---",
            "ridy-jose",
            "monitoring",
            "quipe-vision-3c99bb3d",
            "\u{c9}quipe Vision",
            "\u{212A}ubeflow",
        ]),
        &config(&[("PROTECTED_NAMESPACES", "monitoring")]),
        &[],
    );
    let granted: Vec<(&str, &str)> = state
        .groups
        .iter()
        .map(|g| (g.group.as_str(), g.namespace.as_str()))
        .collect();
    let kelvin = dns_label("\u{212A}ubeflow").unwrap();
    assert_eq!(
        granted,
        [
            ("data science", "data-science"),
            ("ridy-jose", "ridy-jose"),
            ("quipe-vision-3c99bb3d", "quipe-vision-3c99bb3d"),
            ("\u{212A}ubeflow", kelvin.as_str()),
        ]
    );
    assert!(kelvin.starts_with("ubeflow-"), "{kelvin}");
    let refused: Vec<(&str, &Refusal)> = state
        .refused
        .iter()
        .map(|r| (r.group.as_str(), &r.reason))
        .collect();
    let claimed = |group: &str| Refusal::AnotherGroupsNamespace {
        group: group.into(),
    };
    assert_eq!(
        refused,
        [
            ("kube-system", &Refusal::SystemNamespace),
            ("Data_Science", &claimed("data science")),
            ("profile-jose", &Refusal::PersonalProfileName),
            ("---", &Refusal::NoValidName),
            ("monitoring", &Refusal::ProtectedByConfig),
            ("\u{c9}quipe Vision", &claimed("quipe-vision-3c99bb3d")),
        ]
    );
}

#[test]
fn the_group_prefix_selects_groups_and_stays_in_the_name() {
    let state = granting(
        &identity(&["RIDY-jose", "rumesh", "ridy-ml", "%52IDY-finance", "RIDY_x"]),
        &config(&[("GROUP_PREFIX", "RIDY-")]),
        &[],
    );
    let granted: Vec<&str> = state.groups.iter().map(|g| g.namespace.as_str()).collect();
    assert_eq!(granted, ["ridy-jose", "ridy-ml"]);
    assert!(state.refused.is_empty());
}

#[test]
fn a_user_name_that_loses_letters_is_hashed_and_an_empty_one_gets_no_personal_profile() {
    let mut who = identity(&["ridy-jose"]);
    who.user_name = "数据".into();
    let state = granting(&who, &config(&[]), &[]);
    assert!(
        state
            .personal_profile
            .is_some_and(|p| p.name.starts_with("profile-"))
    );
    who.user_name = String::new();
    let state = granting(&who, &config(&[]), &[]);
    assert_eq!(state.personal_profile, None);
    assert_eq!(state.groups.len(), 1);
}
