//! What to change on the cluster: the desired state compared with what the cluster holds. Pure.
//!
//! Safety rules of a shared cluster live here: a group namespace is bound only when it is (or is
//! about to become) a Profile owned by `GROUP_PROFILE_OWNER`; a personal Profile of someone else
//! is left alone; only objects carrying this function's labels for this user are ever repaired
//! or deleted.

use std::collections::HashMap;

use serde_json::Value;

use crate::desired::{DesiredState, GroupAccess, RefusedGroup};
use crate::objects::{Kind, Object};
use crate::protected::Refusal;

/// What the cluster holds, as far as one sign-in is concerned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Every Profile, by name.
    pub profiles: HashMap<String, Object>,
    /// The namespaces of the desired groups that exist, by name.
    pub namespaces: HashMap<String, Object>,
    /// This user's RoleBindings and Istio twins that carry this function's labels.
    pub bindings: Vec<Object>,
    /// The Python Lambda's bindings of this user (by name), when asked for.
    pub legacy_bindings: Vec<Object>,
}

/// The writes a bindable group needs.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    pub group: String,
    pub namespace: String,
    /// Server-side apply of the group Profile, without force: a Profile someone else owns the
    /// owner field of makes the apply conflict instead of being taken over.
    pub create_profile: Option<Object>,
    /// Created (never applied) so that an existing namespace is never taken over.
    pub create_namespace: Option<Object>,
    /// Bindings to create (they do not exist for this user).
    pub create_bindings: Vec<Object>,
    /// This user's managed bindings whose content drifted: applied with force.
    pub repair_bindings: Vec<Object>,
}

impl GroupPlan {
    pub fn writes(&self) -> usize {
        usize::from(self.create_profile.is_some())
            + usize::from(self.create_namespace.is_some())
            + self.create_bindings.len()
            + self.repair_bindings.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonalProfile {
    /// Nothing to do: it exists as desired, or is not ours to change.
    Unchanged,
    /// No valid Profile name could be derived from the user name.
    NoName,
    /// It exists with another owner: left alone.
    OwnedBySomeoneElse { name: String, owner: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Applied without force.
    pub apply_personal_profile: Option<Object>,
    pub personal_profile: PersonalProfile,
    /// Groups the user is to have access to, with what each still needs.
    pub groups: Vec<GroupPlan>,
    /// This user's managed bindings that no allowed group calls for any more.
    pub revoke: Vec<Object>,
    /// The Python Lambda's unlabelled bindings of this user, removed once the new access is in place.
    pub remove_legacy: Vec<Object>,
    pub refused: Vec<RefusedGroup>,
}

impl Plan {
    /// The number of writes the plan makes (creates, applies and deletes).
    pub fn writes(&self) -> usize {
        usize::from(self.apply_personal_profile.is_some())
            + self.groups.iter().map(GroupPlan::writes).sum::<usize>()
            + self.revoke.len()
            + self.remove_legacy.len()
    }
}

/// The owner (`spec.owner.name`) of a Profile.
pub fn profile_owner(profile: &Object) -> Option<&str> {
    profile.body.pointer("/spec/owner/name")?.as_str()
}

/// Compares `desired` with `observed`, given `group_owner` (`GROUP_PROFILE_OWNER`).
pub fn plan(desired: &DesiredState, observed: &Observed, group_owner: &str) -> Plan {
    let (apply_personal_profile, personal_profile) = plan_personal(desired, observed);
    let mut refused = desired.refused.clone();
    let mut groups = Vec::new();
    for access in &desired.groups {
        match plan_group(access, observed, group_owner) {
            Ok(group) => groups.push(group),
            Err(reason) => refused.push(RefusedGroup {
                group: access.group.clone(),
                namespace: Some(access.namespace.clone()),
                reason,
            }),
        }
    }
    let kept: Vec<&Object> = desired
        .groups
        .iter()
        .filter(|g| groups.iter().any(|p| p.namespace == g.namespace))
        .flat_map(|g| &g.bindings)
        .collect();
    let revoke = observed
        .bindings
        .iter()
        .filter(|o| o.is_managed() && !kept.iter().any(|k| same_ref(k, o)))
        .cloned()
        .collect();
    let remove_legacy = observed
        .legacy_bindings
        .iter()
        .filter(|o| !o.is_managed())
        .cloned()
        .collect();
    Plan {
        apply_personal_profile,
        personal_profile,
        groups,
        revoke,
        remove_legacy,
        refused,
    }
}

fn plan_personal(desired: &DesiredState, observed: &Observed) -> (Option<Object>, PersonalProfile) {
    let Some(wanted) = &desired.personal_profile else {
        return (None, PersonalProfile::NoName);
    };
    match observed.profiles.get(&wanted.name) {
        None => (Some(wanted.clone()), PersonalProfile::Unchanged),
        Some(existing) => match profile_owner(existing) {
            Some(owner) if owner == desired.email => {
                let drifted = existing.is_managed() && !covers(&wanted.body, &existing.body);
                (drifted.then(|| wanted.clone()), PersonalProfile::Unchanged)
            }
            owner => (
                None,
                PersonalProfile::OwnedBySomeoneElse {
                    name: wanted.name.clone(),
                    owner: owner.unwrap_or_default().to_owned(),
                },
            ),
        },
    }
}

fn plan_group(
    access: &GroupAccess,
    observed: &Observed,
    group_owner: &str,
) -> Result<GroupPlan, Refusal> {
    let (create_profile, create_namespace) = match observed.profiles.get(&access.namespace) {
        Some(profile) => match profile_owner(profile) {
            Some(owner) if owner == group_owner => match observed.namespaces.get(&access.namespace)
            {
                // The profile controller creates the namespace asynchronously; creating it now
                // (annotated with the same owner, which the controller adopts) lets the bindings in.
                None => (None, Some(access.namespace_object.clone())),
                Some(ns) if ns.meta("annotations", "owner") == Some(group_owner) => (None, None),
                // The controller refuses to adopt a namespace someone else owns; so does this.
                Some(_) => return Err(Refusal::NotAProfile),
            },
            owner => {
                return Err(Refusal::OwnedBySomeoneElse {
                    owner: owner.unwrap_or_default().to_owned(),
                });
            }
        },
        None => match observed.namespaces.get(&access.namespace) {
            None => (
                Some(access.profile.clone()),
                Some(access.namespace_object.clone()),
            ),
            // A namespace this function created for the group earlier, whose Profile is gone
            // or was never written: the Profile is due, the namespace is ours.
            Some(ns) if ns.is_managed() && ns.meta("annotations", "owner") == Some(group_owner) => {
                (Some(access.profile.clone()), None)
            }
            Some(_) => return Err(Refusal::NotAProfile),
        },
    };
    let mut create_bindings = Vec::new();
    let mut repair_bindings = Vec::new();
    for wanted in &access.bindings {
        match observed.bindings.iter().find(|o| same_ref(wanted, o)) {
            None => create_bindings.push(wanted.clone()),
            Some(existing) if !covers(&wanted.body, &existing.body) => {
                repair_bindings.push(wanted.clone())
            }
            Some(_) => {}
        }
    }
    Ok(GroupPlan {
        group: access.group.clone(),
        namespace: access.namespace.clone(),
        create_profile,
        create_namespace,
        create_bindings,
        repair_bindings,
    })
}

fn same_ref(a: &Object, b: &Object) -> bool {
    a.kind == b.kind && a.namespace == b.namespace && a.name == b.name
}

/// True when `observed` holds everything `desired` says: every object field of `desired` is in
/// `observed` (which may hold more, such as server-set metadata); arrays and scalars are equal.
pub fn covers(desired: &Value, observed: &Value) -> bool {
    match (desired, observed) {
        (Value::Object(want), Value::Object(have)) => want
            .iter()
            .all(|(key, value)| have.get(key).is_some_and(|h| covers(value, h))),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| covers(w, h))
        }
        _ => desired == observed,
    }
}

/// True for the kinds whose objects are a user's contributor access.
pub fn is_binding_kind(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::RoleBinding | Kind::AuthorizationPolicy | Kind::ServiceRoleBinding
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::desired::{Identity, desired_state};
    use crate::objects::{MANAGED_BY_LABEL, MANAGER};
    use serde_json::json;

    const OWNER: &str = "admin@kubeflow.com";

    fn config() -> Config {
        Config::from_lookup(|n| (n == "CLUSTER_NAME").then(|| "kf".to_string())).unwrap()
    }

    fn desired(groups: &[&str]) -> DesiredState {
        let identity = Identity {
            user_name: "rumesh".into(),
            email: "rumesh@corp.example".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        desired_state(&identity, &config(), &[Kind::AuthorizationPolicy])
    }

    fn profile(name: &str, owner: &str) -> Object {
        Object::new(
            Kind::Profile,
            None,
            name,
            json!({"metadata": {"name": name, "uid": "u1"}, "spec": {"owner": {"kind": "User", "name": owner}}}),
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
        let revoked: Vec<String> = plan.revoke.iter().map(Object::describe).collect();
        assert_eq!(
            revoked,
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
    fn legacy_bindings_are_removed_only_when_unlabelled() {
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
            legacy("other", json!({MANAGED_BY_LABEL: MANAGER})),
        ];
        let plan = plan(&state, &observed, OWNER);
        let removed: Vec<_> = plan.remove_legacy.iter().map(Object::describe).collect();
        assert_eq!(
            removed,
            [
                "RoleBinding ml/user-rumesh-kubeflow-org-clusterrole-edit",
                "RoleBinding kube-system/user-rumesh-kubeflow-org-clusterrole-edit",
            ]
        );
        assert_eq!(plan.writes(), 2);
    }

    #[test]
    fn foreign_bare_and_personal_namespaces_are_refused() {
        let state = desired(&["foreign", "bare", "adopted", "fresh"]);
        let mut observed = Observed::default();
        observed
            .profiles
            .insert("foreign".into(), profile("foreign", "eve@corp.example"));
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
        let plan = plan(&state, &observed, OWNER);
        let refused: Vec<(&str, &Refusal)> = plan
            .refused
            .iter()
            .map(|r| (r.group.as_str(), &r.reason))
            .collect();
        assert_eq!(
            refused,
            [
                (
                    "foreign",
                    &Refusal::OwnedBySomeoneElse {
                        owner: "eve@corp.example".into()
                    }
                ),
                ("bare", &Refusal::NotAProfile),
            ]
        );
        let adopted = &plan.groups[0];
        assert_eq!(adopted.namespace, "adopted");
        assert!(adopted.create_profile.is_some() && adopted.create_namespace.is_none());
        assert_eq!(plan.groups[1].namespace, "fresh");
    }

    #[test]
    fn a_profile_whose_namespace_someone_else_owns_is_refused() {
        let state = desired(&["ml"]);
        let mut observed = Observed::default();
        observed.profiles.insert("ml".into(), profile("ml", OWNER));
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
        assert!(
            plan.groups[0].create_namespace.is_some() && plan.groups[0].create_profile.is_none()
        );
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
    fn someone_elses_personal_profile_is_left_alone() {
        let state = desired(&[]);
        let mut observed = Observed::default();
        observed.profiles.insert(
            "profile-rumesh".into(),
            profile("profile-rumesh", "other@corp.example"),
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
    fn a_personal_profile_made_by_hand_keeps_its_quota() {
        let state = desired(&[]);
        let mut observed = Observed::default();
        observed.profiles.insert(
            "profile-rumesh".into(),
            profile("profile-rumesh", "rumesh@corp.example"),
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
}
