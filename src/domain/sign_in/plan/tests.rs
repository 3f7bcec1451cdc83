//! The plan's unit tests. Pure.

use super::existing::{
    accepts_group_namespace, accepts_group_profile, collision_safe_binding, grants_the_same,
    is_another_persons,
};
use super::*;
use crate::domain::config::test_config;
use crate::domain::model::names::legacy_user_label_value;
use crate::domain::model::objects::{GROUP_ANNOTATION, Kind, MANAGED_BY_LABEL, MANAGER};
use crate::domain::sign_in::admission::Identity;
use crate::domain::sign_in::conventions::Conventions;
use crate::domain::sign_in::desired::desired_state;
use serde_json::{Value, json};

const OWNER: &str = "admin@kubeflow.com";
const SUB: &str = "12ec26be-e8d1-482b-9602-e402c7896cb3";
const EMAIL: &str = "rumesh@corp.example";

fn desired_in(mode: Mode, groups: &[&str]) -> DesiredState {
    let identity = Identity {
        user_name: "rumesh".into(),
        signed_in: true,
        sub: SUB.into(),
        email: EMAIL.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    };
    desired_state(
        &identity,
        mode,
        &test_config(&[]),
        &Conventions::defaults(vec![Kind::AuthorizationPolicy]),
    )
}

fn desired(groups: &[&str]) -> DesiredState {
    desired_in(Mode::Grant, groups)
}

fn profile(name: &str, owner: &str, annotations: Value) -> Object {
    Object::new(
        Kind::Profile,
        None,
        name,
        json!({"metadata": {"name": name, "uid": "u1", "annotations": annotations},
               "spec": {"owner": {"kind": "User", "name": owner}}}),
    )
}

fn namespace(name: &str, labels: Value, annotations: Value) -> Object {
    Object::new(
        Kind::Namespace,
        None,
        name,
        json!({"metadata": {"name": name, "labels": labels, "annotations": annotations}}),
    )
}

/// What the cluster holds after a successful sign-in with `state`.
fn provisioned(state: &DesiredState) -> Observed {
    let mut observed = Observed::default();
    for object in state
        .personal_profile
        .iter()
        .chain(state.groups.iter().map(|g| &g.profile))
    {
        observed
            .profiles
            .insert(object.name.clone(), object.clone());
    }
    for group in &state.groups {
        let ns = &group.namespace_object;
        observed.namespaces.insert(ns.name.clone(), ns.clone());
    }
    observed.bindings = state
        .groups
        .iter()
        .flat_map(|g| g.bindings.clone())
        .collect();
    observed
}

fn described(objects: &[Object]) -> Vec<String> {
    objects.iter().map(Object::describe).collect()
}

fn refusals(plan: &Plan) -> Vec<(&str, &Refusal)> {
    plan.refused
        .iter()
        .map(|r| (r.group.as_str(), &r.reason))
        .collect()
}

#[test]
fn a_first_sign_in_creates_everything() {
    let state = desired(&["ridy-jose", "ml"]);
    let plan = plan(&state, &Observed::default(), OWNER);
    assert_eq!(
        plan.apply_personal_profile.as_ref(),
        state.personal_profile.as_ref()
    );
    assert_eq!(plan.groups.len(), 2);
    for group in &plan.groups {
        assert!(group.create_profile.is_some() && group.create_namespace.is_some());
        assert_eq!(group.create_bindings.len(), 2);
    }
    assert_eq!(plan.writes(), 1 + 2 * 4);
    assert!(plan.revoke.is_empty() && plan.refused.is_empty());
}

#[test]
fn a_repeat_sign_in_plans_no_write() {
    let state = desired(&["ridy-jose", "ml"]);
    let plan = plan(&state, &provisioned(&state), OWNER);
    assert_eq!(plan.writes(), 0, "{plan:#?}");
    assert_eq!(plan.groups.len(), 2);
}

#[test]
fn server_added_fields_do_not_count_as_drift() {
    let state = desired(&["ml"]);
    let mut observed = provisioned(&state);
    for binding in &mut observed.bindings {
        binding.body["metadata"]["resourceVersion"] = json!("12");
        binding.body["metadata"]["labels"]["extra"] = json!("x");
    }
    assert_eq!(plan(&state, &observed, OWNER).writes(), 0);
}

#[test]
fn a_drifted_binding_of_ours_is_repaired() {
    let state = desired(&["ml"]);
    let mut observed = provisioned(&state);
    observed.bindings[1].body["spec"]["rules"] = json!([]);
    let plan = plan(&state, &observed, OWNER);
    assert_eq!(
        plan.groups[0].repair_bindings,
        vec![state.groups[0].bindings[1].clone()]
    );
    assert_eq!(plan.writes(), 1);
}

#[test]
fn leaving_a_group_revokes_its_bindings_only() {
    let before = desired(&["ridy-jose", "ml"]);
    let observed = provisioned(&before);
    let plan = plan(&desired(&["ml"]), &observed, OWNER);
    assert_eq!(
        described(&plan.revoke),
        [
            "RoleBinding ridy-jose/user-rumesh-corp-example-clusterrole-edit",
            "AuthorizationPolicy ridy-jose/user-rumesh-corp-example-clusterrole-edit",
        ]
    );
    assert_eq!(plan.writes(), 2);
}

#[test]
fn an_object_without_the_managed_by_label_is_never_revoked() {
    let mut observed = provisioned(&desired(&["ridy-jose"]));
    for binding in &mut observed.bindings {
        binding.body["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove(MANAGED_BY_LABEL);
    }
    assert!(plan(&desired(&[]), &observed, OWNER).revoke.is_empty());
}

#[test]
fn look_alike_objects_outside_group_profiles_are_ignored() {
    // Someone's own namespace holds objects with this function's labels and this person's
    // sub: they are not this person's access, and never touched.
    let state = desired(&["ml"]);
    let mut observed = provisioned(&state);
    observed.profiles.insert(
        "profile-mallory".into(),
        profile("profile-mallory", "mallory@corp.example", json!({})),
    );
    for (i, ns) in ["profile-mallory", "no-profile-at-all"].iter().enumerate() {
        let mut fake = state.groups[0].bindings[0].clone();
        fake.namespace = Some(ns.to_string());
        fake.name = format!("look-alike-{i}");
        observed.bindings.push(fake);
    }
    let plan = plan(&desired(&[]), &observed, OWNER);
    assert_eq!(
        described(&plan.revoke),
        [
            "RoleBinding ml/user-rumesh-corp-example-clusterrole-edit",
            "AuthorizationPolicy ml/user-rumesh-corp-example-clusterrole-edit",
        ]
    );
}

#[test]
fn another_persons_objects_are_never_this_persons() {
    let state = desired(&["ml"]);
    let mut observed = provisioned(&state);
    for binding in &mut observed.bindings {
        binding.body["metadata"]["labels"][USER_LABEL] = json!("someone-elses-sub");
    }
    let plan = plan(&desired(&[]), &observed, OWNER);
    assert!(plan.revoke.is_empty());
}

#[test]
fn objects_labelled_by_an_earlier_version_are_relabelled_or_revoked() {
    let state = desired(&["ml", "old"]);
    let mut observed = provisioned(&state);
    for binding in &mut observed.bindings {
        binding.body["metadata"]["labels"][USER_LABEL] = json!(legacy_user_label_value(EMAIL));
    }
    let plan = plan(&desired(&["ml"]), &observed, OWNER);
    assert_eq!(
        described(&plan.groups[0].repair_bindings),
        [
            "RoleBinding ml/user-rumesh-corp-example-clusterrole-edit",
            "AuthorizationPolicy ml/user-rumesh-corp-example-clusterrole-edit",
        ]
    );
    assert_eq!(
        plan.groups[0].repair_bindings[0].meta("labels", USER_LABEL),
        Some(SUB)
    );
    assert_eq!(plan.revoke.len(), 2, "old/ is no longer given");
    // An email-hash label counts only on objects made for that email.
    let mut other = observed.clone();
    for binding in &mut other.bindings {
        binding.body["metadata"]["annotations"]["user"] = json!("someone@corp.example");
    }
    let plan = super::plan(&desired(&[]), &other, OWNER);
    assert!(plan.revoke.is_empty());
    // And not at all on a sign-in that may not grant.
    let plan = super::plan(&desired_in(Mode::RevokeOnly, &[]), &observed, OWNER);
    assert!(plan.revoke.is_empty());
}

#[test]
fn a_sign_in_that_may_not_grant_only_removes_what_the_groups_no_longer_give() {
    let before = desired(&["ml", "ridy-jose"]);
    let mut observed = provisioned(&before);
    // "ml" lost its Istio twin; "new" exists as a group Profile the user was never given.
    observed
        .bindings
        .retain(|b| !(b.namespace.as_deref() == Some("ml") && b.kind == Kind::AuthorizationPolicy));
    let new = desired(&["new"]);
    observed
        .profiles
        .insert("new".into(), new.groups[0].profile.clone());
    observed
        .namespaces
        .insert("new".into(), new.groups[0].namespace_object.clone());
    let plan = plan(
        &desired_in(Mode::RevokeOnly, &["ml", "new", "fresh"]),
        &observed,
        OWNER,
    );
    assert_eq!(plan.apply_personal_profile, None);
    assert!(plan.groups.is_empty(), "{:?}", plan.groups);
    assert_eq!(plan.withheld, ["ml", "new", "fresh"]);
    assert_eq!(
        described(&plan.revoke),
        [
            "RoleBinding ridy-jose/user-rumesh-corp-example-clusterrole-edit",
            "AuthorizationPolicy ridy-jose/user-rumesh-corp-example-clusterrole-edit",
        ],
        "what ml still has stays; only ridy-jose goes"
    );
    assert_eq!(plan.writes(), 2);
    // In place already: reported as granted, nothing written.
    let plan = super::plan(
        &desired_in(Mode::RevokeOnly, &["ridy-jose"]),
        &provisioned(&before),
        OWNER,
    );
    assert_eq!(plan.groups.len(), 1);
    assert!(plan.withheld.is_empty());
}

#[test]
fn legacy_bindings_are_removed_only_when_unlabelled_and_in_group_namespaces() {
    let state = desired(&["ml"]);
    let mut observed = provisioned(&state);
    let legacy = |ns: &str, labels: Value| {
        Object::new(
            Kind::RoleBinding,
            Some(ns),
            "user-rumesh-kubeflow-org-clusterrole-edit",
            json!({"metadata": {"labels": labels}}),
        )
    };
    observed.legacy_bindings = vec![
        legacy("ml", json!({})),
        legacy("kube-system", json!({})),
        legacy("auth", json!({})),
        legacy("ml", json!({MANAGED_BY_LABEL: MANAGER})),
    ];
    let plan = plan(&state, &observed, OWNER);
    assert_eq!(
        described(&plan.remove_legacy),
        ["RoleBinding ml/user-rumesh-kubeflow-org-clusterrole-edit"]
    );
    assert_eq!(plan.writes(), 1);
}

#[test]
fn foreign_bare_and_unrecorded_namespaces_are_refused() {
    let state = desired(&["foreign", "bare", "adopted", "fresh", "admins", "recorded"]);
    let mut observed = Observed::default();
    observed.profiles.insert(
        "foreign".into(),
        profile("foreign", "eve@corp.example", json!({})),
    );
    observed
        .namespaces
        .insert("bare".into(), namespace("bare", json!({}), json!({})));
    observed.namespaces.insert(
        "adopted".into(),
        namespace(
            "adopted",
            json!({MANAGED_BY_LABEL: MANAGER}),
            json!({"owner": OWNER}),
        ),
    );
    // A group Profile an administrator made: bound only when it records the group.
    observed
        .profiles
        .insert("admins".into(), profile("admins", OWNER, json!({})));
    observed.profiles.insert(
        "recorded".into(),
        profile("recorded", OWNER, json!({GROUP_ANNOTATION: "RECORDED"})),
    );
    for ns in ["admins", "recorded"] {
        observed
            .namespaces
            .insert(ns.into(), namespace(ns, json!({}), json!({"owner": OWNER})));
    }
    let plan = plan(&state, &observed, OWNER);
    assert_eq!(
        refusals(&plan),
        [
            (
                "foreign",
                &Refusal::OwnedBySomeoneElse {
                    owner: "eve@corp.example".into()
                }
            ),
            ("bare", &Refusal::NotAProfile),
            ("admins", &Refusal::NoGroupRecord),
        ]
    );
    let planned: Vec<&str> = plan.groups.iter().map(|g| g.namespace.as_str()).collect();
    assert_eq!(planned, ["adopted", "fresh", "recorded"]);
    let adopted = &plan.groups[0];
    assert!(adopted.create_profile.is_some() && adopted.create_namespace.is_none());
}

#[test]
fn a_namespace_belongs_to_the_one_group_its_profile_records() {
    let mut observed = Observed::default();
    let ours = desired(&["data-science"]).groups[0].profile.clone();
    observed.profiles.insert("data-science".into(), ours);
    observed.namespaces.insert(
        "data-science".into(),
        namespace("data-science", json!({}), json!({"owner": OWNER})),
    );
    let claimed = Refusal::AnotherGroupsNamespace {
        group: "data-science".into(),
    };
    let plan_for = |group: &str| plan(&desired(&[group]), &observed, OWNER);
    assert_eq!(
        refusals(&plan_for("Data_Science")),
        [("Data_Science", &claimed)]
    );
    assert_eq!(
        refusals(&plan_for("Data Science")),
        [("Data Science", &claimed)]
    );
    assert!(
        plan_for("DATA-SCIENCE").refused.is_empty(),
        "ASCII case is the same AD group"
    );
    // A Profile of ours made before groups were recorded: only its own name may claim it.
    let mut unrecorded = observed.clone();
    let profile = unrecorded.profiles.get_mut("data-science").unwrap();
    profile.body["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    let plan_for = |group: &str| plan(&desired(&[group]), &unrecorded, OWNER);
    assert_eq!(
        refusals(&plan_for("Data_Science")),
        [("Data_Science", &Refusal::NoGroupRecord)]
    );
    assert!(plan_for("Data-Science").refused.is_empty());
}

#[test]
fn an_orphaned_namespace_of_ours_is_reclaimed_only_by_its_group() {
    let state = desired(&["quipe-vision-3c99bb3d"]);
    let mut observed = Observed::default();
    let made_for = desired(&["\u{c9}quipe Vision"]);
    let ns = made_for.groups[0].namespace_object.clone();
    assert_eq!(ns.name, "quipe-vision-3c99bb3d");
    observed.namespaces.insert(ns.name.clone(), ns);
    assert_eq!(
        refusals(&plan(&state, &observed, OWNER)),
        [(
            "quipe-vision-3c99bb3d",
            &Refusal::AnotherGroupsNamespace {
                group: "\u{c9}quipe Vision".into()
            }
        )]
    );
    assert!(plan(&made_for, &observed, OWNER).refused.is_empty());
}

#[test]
fn existing_objects_are_accepted_only_for_their_own_group() {
    let state = desired(&["ml"]);
    let group = plan(&state, &Observed::default(), OWNER).groups.remove(0);
    let profile = &state.groups[0].profile.body;
    let namespace = &state.groups[0].namespace_object.body;
    assert!(accepts_group_profile(profile, &group, OWNER));
    assert!(accepts_group_namespace(namespace, &group, OWNER));
    assert!(!accepts_group_profile(profile, &group, "eve@corp.example"));
    let other = &desired(&["ML_"]).groups[0];
    assert!(!accepts_group_profile(&other.profile.body, &group, OWNER));
    let mut recorded_other = namespace.clone();
    recorded_other["metadata"]["annotations"][GROUP_ANNOTATION] = json!("Ml ");
    assert!(!accepts_group_namespace(&recorded_other, &group, OWNER));
    // The profile controller's own namespace for the Profile records nothing: accepted.
    let by_controller = json!({"metadata": {"name": "ml", "annotations": {"owner": OWNER}}});
    assert!(accepts_group_namespace(&by_controller, &group, OWNER));
    assert!(!accepts_group_namespace(
        &by_controller,
        &group,
        "eve@corp.example"
    ));
}

#[test]
fn access_under_an_unrecorded_sanitised_profile_is_held_not_revoked() {
    // Version 0.1 made "data-science" for "Data Science" without a record.
    let state = desired(&["Data Science"]);
    let mut observed = provisioned(&state);
    let profile = observed.profiles.get_mut("data-science").unwrap();
    profile.body["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    let plan = plan(&state, &observed, OWNER);
    assert_eq!(refusals(&plan), [("Data Science", &Refusal::NoGroupRecord)]);
    assert!(plan.revoke.is_empty(), "held until the group is recorded");
    assert_eq!(plan.writes(), 0);
    // Leaving the group still takes it away.
    let plan = super::plan(&desired(&[]), &observed, OWNER);
    assert_eq!(plan.revoke.len(), 2);
}

#[test]
fn an_existing_binding_grants_the_same_when_its_content_and_user_match() {
    let wanted = desired(&["ml"]).groups[0].bindings[0].clone();
    let dashboard_made = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": wanted.name, "annotations": {"user": EMAIL, "role": "edit"}},
        "roleRef": wanted.body["roleRef"], "subjects": wanted.body["subjects"],
    });
    assert!(grants_the_same(&wanted, &dashboard_made));
    let mut viewer = dashboard_made.clone();
    viewer["roleRef"]["name"] = json!("kubeflow-view");
    assert!(!grants_the_same(&wanted, &viewer));
    let mut someone_else = dashboard_made.clone();
    someone_else["metadata"]["annotations"]["user"] = json!("eve@corp.example");
    assert!(!grants_the_same(&wanted, &someone_else));
    let mut two_subjects = dashboard_made;
    two_subjects["subjects"] = json!([wanted.body["subjects"][0], {"kind": "User", "name": "eve"}]);
    assert!(!grants_the_same(&wanted, &two_subjects));
}

#[test]
fn a_profile_whose_namespace_someone_else_owns_is_refused() {
    let state = desired(&["ml"]);
    let mut observed = Observed::default();
    observed
        .profiles
        .insert("ml".into(), state.groups[0].profile.clone());
    observed.namespaces.insert(
        "ml".into(),
        namespace("ml", json!({}), json!({"owner": "eve@corp.example"})),
    );
    assert_eq!(
        plan(&state, &observed, OWNER).refused[0].reason,
        Refusal::NotAProfile
    );
    observed.namespaces.insert(
        "ml".into(),
        namespace("ml", json!({}), json!({"owner": OWNER})),
    );
    assert!(plan(&state, &observed, OWNER).refused.is_empty());
    observed.namespaces.clear();
    let plan = plan(&state, &observed, OWNER);
    assert!(plan.groups[0].create_namespace.is_some() && plan.groups[0].create_profile.is_none());
}

#[test]
fn a_namespace_annotated_for_another_owner_is_not_adopted() {
    let state = desired(&["ns"]);
    let mut observed = Observed::default();
    observed.namespaces.insert(
        "ns".into(),
        namespace(
            "ns",
            json!({MANAGED_BY_LABEL: MANAGER}),
            json!({"owner": "eve@corp.example"}),
        ),
    );
    assert_eq!(
        plan(&state, &observed, OWNER).refused[0].reason,
        Refusal::NotAProfile
    );
}

#[test]
fn a_look_alike_persons_personal_profile_is_left_alone_and_this_person_gets_a_variant() {
    let state = desired(&[]);
    let variant = state.personal_profile_variant.clone().unwrap();
    assert!(
        variant.name.starts_with("profile-rumesh-"),
        "{}",
        variant.name
    );
    let mut observed = Observed::default();
    observed.profiles.insert(
        "profile-rumesh".into(),
        profile("profile-rumesh", "other@corp.example", json!({})),
    );
    let first = plan(&state, &observed, OWNER);
    assert_eq!(first.apply_personal_profile.as_ref(), Some(&variant));
    assert_eq!(
        first.personal_profile,
        PersonalProfile::Variant {
            name: variant.name.clone()
        }
    );
    // Once it exists, nothing more; and it stays the person's even if the other goes.
    observed
        .profiles
        .insert(variant.name.clone(), variant.clone());
    assert_eq!(plan(&state, &observed, OWNER).writes(), 0);
    observed.profiles.remove("profile-rumesh");
    assert_eq!(
        plan(&state, &observed, OWNER).writes(),
        0,
        "no second Profile"
    );
    // Both names someone else's: left alone.
    observed.profiles.insert(
        "profile-rumesh".into(),
        profile("profile-rumesh", "other@corp.example", json!({})),
    );
    observed.profiles.insert(
        variant.name.clone(),
        profile(&variant.name, "third@corp.example", json!({})),
    );
    let plan = plan(&state, &observed, OWNER);
    assert_eq!(plan.apply_personal_profile, None);
    assert_eq!(
        plan.personal_profile,
        PersonalProfile::OwnedBySomeoneElse {
            name: "profile-rumesh".into(),
            owner: "other@corp.example".into()
        }
    );
}

#[test]
fn a_personal_profiles_owner_is_never_changed_when_the_email_changes_case() {
    let state = desired(&[]);
    let mut observed = Observed::default();
    let mut mine = state.personal_profile.clone().unwrap();
    mine.body["spec"]["owner"]["name"] = json!("Rumesh@Corp.example");
    observed.profiles.insert("profile-rumesh".into(), mine);
    let plan = plan(&state, &observed, OWNER);
    assert_eq!(plan.writes(), 0);
    assert_eq!(
        plan.personal_profile,
        PersonalProfile::OwnerIsAnEarlierEmail {
            name: "profile-rumesh".into(),
            owner: "Rumesh@Corp.example".into()
        }
    );
}

#[test]
fn a_binding_under_the_persons_collision_safe_name_is_theirs() {
    let state = desired(&["ml", "old"]);
    let mut observed = provisioned(&state);
    // jo.smith@ holds KFAM's name in ml; this person's objects there are collision-safe.
    for binding in observed
        .bindings
        .iter_mut()
        .filter(|b| b.namespace.as_deref() == Some("ml"))
    {
        *binding = collision_safe_binding(binding, SUB);
    }
    let plan = super::plan(&desired(&["ml"]), &observed, OWNER);
    assert_eq!(plan.groups[0].writes(), 0, "nothing to create or repair");
    assert_eq!(
        described(&plan.revoke),
        [
            "RoleBinding old/user-rumesh-corp-example-clusterrole-edit",
            "AuthorizationPolicy old/user-rumesh-corp-example-clusterrole-edit",
        ],
        "kept in ml, revoked where the group is gone"
    );
    // A drifted one is repaired under the name it has.
    observed.bindings[0].body["subjects"] = json!([]);
    let plan = super::plan(&desired(&["ml"]), &observed, OWNER);
    assert_eq!(
        plan.groups[0].repair_bindings[0].name,
        observed.bindings[0].name
    );
    let existing = json!({"metadata": {"annotations": {"user": "jo.smith@corp.example"}}});
    assert!(is_another_persons(&state.groups[0].bindings[0], &existing));
}

#[test]
fn a_personal_profile_made_by_hand_keeps_its_quota() {
    let state = desired(&[]);
    let mut observed = Observed::default();
    observed.profiles.insert(
        "profile-rumesh".into(),
        profile("profile-rumesh", EMAIL, json!({})),
    );
    assert_eq!(plan(&state, &observed, OWNER).writes(), 0);
    let mut ours = state.personal_profile.clone().unwrap();
    ours.body["spec"]["resourceQuotaSpec"]["hard"]["cpu"] = json!("4");
    observed.profiles.insert("profile-rumesh".into(), ours);
    assert_eq!(
        plan(&state, &observed, OWNER).apply_personal_profile,
        state.personal_profile
    );
}

#[test]
fn a_sign_in_makes_a_bounded_number_of_changes_revocations_first() {
    let groups: Vec<String> = (0..300).map(|i| format!("g{i}")).collect();
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    let before = desired(&names[..260]);
    let mut observed = provisioned(&before);
    // 520 revocations, then 40 new groups of 4 writes each, a personal Profile.
    observed.profiles.remove("profile-rumesh");
    let mut plan = plan(&desired(&names[260..]), &observed, OWNER);
    assert_eq!(plan.revoke.len(), 520);
    assert_eq!(plan.groups.len(), 40);
    assert_eq!(plan.writes(), 520 + 1 + 160);
    bound_changes(&mut plan, 600);
    assert_eq!(plan.revoke.len(), 520, "revocations first");
    assert!(plan.apply_personal_profile.is_some());
    assert_eq!(
        plan.groups.len(),
        19,
        "whole groups that fit: (600 - 521) / 4"
    );
    assert_eq!(plan.deferred_groups.len(), 21);
    assert_eq!(plan.deferred_groups[0], "g279");
    assert_eq!(plan.writes(), 597);
    bound_changes(&mut plan, 100);
    assert_eq!((plan.revoke.len(), plan.deferred_deletions), (100, 420));
    assert!(plan.groups.is_empty() && plan.apply_personal_profile.is_none());
}
