//! A role per AD group (`GROUP_ROLE_SUFFIXES`): `KF-TEAM-A-VIEW` and `KF-TEAM-A-EDIT` are one
//! team, one namespace, and the highest role wins; a role change replaces the binding and its
//! Istio twin under KFAM's name for the new role, in the safe order; `admin` only when enabled
//! (and `deploy/rbac-admin.yaml` applied); what someone else made is never touched.

use crate::harness;
use crate::harness::Harness;
use kfpm_fakes::apiserver::Flavor;
use kfpm_fakes::apiserver::rbac::Rbac;
use serde_json::json;

const JANE: &str = "jane@corp.example";
const SUFFIXES: (&str, &str) = ("GROUP_ROLE_SUFFIXES", "-view=view,-edit=edit,-admin=admin");

fn binding(role: &str) -> String {
    format!("user-jane-corp-example-clusterrole-{role}")
}

/// The roles Jane's RoleBindings in `namespace` give, from their roleRefs.
fn roles_in(h: &Harness, namespace: &str) -> Vec<String> {
    let mut roles: Vec<String> = h
        .cluster
        .all("RoleBinding")
        .iter()
        .filter(|rb| rb["metadata"]["namespace"] == namespace)
        .filter(|rb| rb["subjects"][0]["name"] == JANE)
        .map(|rb| rb["roleRef"]["name"].as_str().unwrap().to_owned())
        .collect();
    roles.sort();
    roles
}

/// Writes to Jane's objects, in order, as `METHOD name`.
fn writes(h: &Harness) -> Vec<String> {
    h.cluster
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && r.path.contains("user-jane") || r.method == "POST")
        .filter(|r| r.path.contains("rolebindings") || r.path.contains("authorizationpolicies"))
        .map(|r| {
            let name = r.path.rsplit('/').next().unwrap();
            let kind = if r.path.contains("rolebindings") {
                "RoleBinding"
            } else {
                "AuthorizationPolicy"
            };
            format!("{} {kind} {name}", r.method)
        })
        .collect()
}

#[tokio::test]
async fn a_view_and_an_edit_group_of_one_team_give_one_namespace_with_edit() {
    let h = Harness::start(Flavor::Current, &[SUFFIXES]).await;
    let outcome = h
        .sign_in("jane", JANE, "[KF-TEAM-A-VIEW, KF-TEAM-A-EDIT]")
        .await
        .unwrap();
    assert_eq!(harness::granted(&outcome), ["kf-team-a"]);
    assert!(harness::refused(&outcome).is_empty());
    assert_eq!(roles_in(&h, "kf-team-a"), ["kubeflow-edit"]);
    let profile = h.cluster.get("Profile", None, "kf-team-a").unwrap();
    assert_eq!(
        profile["metadata"]["annotations"]["kubeflow-profile-manager/group"], "KF-TEAM-A",
        "the team, not one of its role groups"
    );
    let policy = h
        .cluster
        .get("AuthorizationPolicy", Some("kf-team-a"), &binding("edit"))
        .expect("the twin under KFAM's name for edit");
    assert_eq!(policy["metadata"]["annotations"]["role"], "edit");
    // Case does not split a team.
    let outcome = h
        .sign_in("jane", JANE, "[kf-team-a-view, KF-TEAM-A-Edit]")
        .await
        .unwrap();
    assert!(harness::refused(&outcome).is_empty());
    assert_eq!(roles_in(&h, "kf-team-a"), ["kubeflow-edit"]);
}

#[tokio::test]
async fn leaving_the_edit_group_downgrades_to_view_removing_edit_first() {
    let h = Harness::start(Flavor::Current, &[SUFFIXES]).await;
    h.sign_in("jane", JANE, "[KF-TEAM-A-VIEW, KF-TEAM-A-EDIT]")
        .await
        .unwrap();
    h.settle().await;
    h.cluster.clear_requests();
    h.sign_in("jane", JANE, "[KF-TEAM-A-VIEW]").await.unwrap();
    assert_eq!(roles_in(&h, "kf-team-a"), ["kubeflow-view"]);
    assert!(
        h.cluster
            .get("AuthorizationPolicy", Some("kf-team-a"), &binding("edit"))
            .is_none()
    );
    let writes = writes(&h);
    let delete_edit = writes
        .iter()
        .position(|w| *w == format!("DELETE RoleBinding {}", binding("edit")))
        .expect("edit removed");
    let create_view = writes
        .iter()
        .position(|w| w == "POST RoleBinding rolebindings")
        .expect("view created");
    assert!(delete_edit < create_view, "{writes:?}");
}

#[tokio::test]
async fn joining_the_edit_group_upgrades_creating_edit_before_removing_view() {
    let h = Harness::start(Flavor::Current, &[SUFFIXES]).await;
    h.sign_in("jane", JANE, "[KF-TEAM-A-VIEW]").await.unwrap();
    h.settle().await;
    h.cluster.clear_requests();
    h.sign_in("jane", JANE, "[KF-TEAM-A-VIEW, KF-TEAM-A-EDIT]")
        .await
        .unwrap();
    assert_eq!(roles_in(&h, "kf-team-a"), ["kubeflow-edit"]);
    let writes = writes(&h);
    let create_edit = writes
        .iter()
        .position(|w| w == "POST RoleBinding rolebindings")
        .expect("edit created");
    let delete_view = writes
        .iter()
        .position(|w| *w == format!("DELETE RoleBinding {}", binding("view")))
        .expect("view removed");
    assert!(create_edit < delete_view, "{writes:?}");
    let delete_view_twin = writes
        .iter()
        .position(|w| *w == format!("DELETE AuthorizationPolicy {}", binding("view")))
        .expect("the view twin removed");
    assert!(create_edit < delete_view_twin, "{writes:?}");
}

#[tokio::test]
async fn admin_is_refused_unless_enabled_and_then_needs_the_admin_rbac() {
    let h = Harness::start(Flavor::Current, &[SUFFIXES]).await;
    let outcome = h
        .sign_in("jane", JANE, "[KF-TEAM-A-ADMIN, KF-TEAM-B-EDIT]")
        .await
        .unwrap();
    assert_eq!(harness::refused(&outcome), ["KF-TEAM-A-ADMIN"]);
    assert_eq!(harness::granted(&outcome), ["kf-team-b"]);
    assert!(h.cluster.get("Profile", None, "kf-team-a").is_none());

    // Enabled, under the function's own RBAC with the admin variant applied.
    let h = Harness::start_with(&[SUFFIXES, ("ALLOW_ADMIN_ROLE", "true")], |config| {
        config.rbac = Some(Rbac::project_with_admin());
        config.admission = Some(kfpm_fakes::apiserver::admission::Admission::project_with_admin());
    })
    .await;
    let outcome = h
        .sign_in("jane", JANE, "[KF-TEAM-A-ADMIN, KF-TEAM-A-VIEW]")
        .await
        .unwrap();
    assert_eq!(harness::granted(&outcome), ["kf-team-a"]);
    assert_eq!(roles_in(&h, "kf-team-a"), ["kubeflow-admin"]);

    // Enabled without the admin variant: the API server refuses the binding, as EKS would.
    let h = Harness::start_with(&[SUFFIXES, ("ALLOW_ADMIN_ROLE", "true")], |config| {
        config.rbac = Some(Rbac::project())
    })
    .await;
    assert!(h.sign_in("jane", JANE, "[KF-TEAM-A-ADMIN]").await.is_err());
    assert!(roles_in(&h, "kf-team-a").is_empty());
}

#[tokio::test]
async fn a_binding_made_by_hand_or_by_the_dashboard_is_never_touched_on_a_role_change() {
    let h = Harness::start(Flavor::Current, &[SUFFIXES]).await;
    h.sign_in("jane", JANE, "[KF-TEAM-A-EDIT]").await.unwrap();
    h.settle().await;
    // The dashboard's "Manage contributors" made Jane a viewer too (KFAM's shape, no labels).
    h.cluster.seed(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": binding("view"), "namespace": "kf-team-a",
                     "annotations": {"user": JANE, "role": "view"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": JANE}],
    }));
    let before = h
        .cluster
        .get("RoleBinding", Some("kf-team-a"), &binding("view"))
        .unwrap();
    // Downgraded to view: the edit binding goes; the dashboard's view binding stands for it.
    h.sign_in("jane", JANE, "[KF-TEAM-A-VIEW]").await.unwrap();
    assert_eq!(roles_in(&h, "kf-team-a"), ["kubeflow-view"]);
    assert_eq!(
        h.cluster
            .get("RoleBinding", Some("kf-team-a"), &binding("view"))
            .unwrap()["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"],
        "the dashboard's binding is left as it was"
    );
    // Leaving the team: this function's objects go, the dashboard's stays.
    h.sign_in("jane", JANE, "[]").await.unwrap();
    assert_eq!(roles_in(&h, "kf-team-a"), ["kubeflow-view"]);
}

#[tokio::test]
async fn a_team_whose_profile_records_its_exact_group_keeps_it_when_suffixes_are_turned_on() {
    // KF-OPS-ADMIN was a team of its own (namespace kf-ops-admin) before `-admin=admin`.
    let h = Harness::start_with(&[SUFFIXES, ("ALLOW_ADMIN_ROLE", "true")], |config| {
        config.rbac = Some(Rbac::project_with_admin());
        config.admission = Some(kfpm_fakes::apiserver::admission::Admission::project_with_admin());
    })
    .await;
    h.cluster
        .seed_group_profile("kf-ops-admin", harness::OWNER, "KF-OPS-ADMIN");
    h.settle().await;
    let outcome = h
        .sign_in("jane", JANE, "[KF-OPS-ADMIN, KF-NEW-ADMIN]")
        .await
        .unwrap();
    // The recorded team stays whole, with USER_ROLE; a new group's suffix still gives its role.
    assert_eq!(harness::granted(&outcome), ["kf-new", "kf-ops-admin"]);
    assert_eq!(roles_in(&h, "kf-ops-admin"), ["kubeflow-edit"]);
    assert_eq!(roles_in(&h, "kf-new"), ["kubeflow-admin"]);
    assert!(
        h.cluster.get("Profile", None, "kf-ops").is_none(),
        "no team moved"
    );
}
