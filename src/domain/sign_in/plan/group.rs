//! One group's plan: its Profile and namespace (made ahead of the profile controller, or
//! accepted as this group's), the namespace brought into the mesh, the person's contributor
//! objects shaped for how the namespace is reached, and role changes in a safe order. Pure.

use crate::domain::config::Role;
use crate::domain::model::objects::{KFAM_ROLE_ANNOTATION, Object, PROFILE_NAME_LABEL};
use crate::domain::model::protected::Refusal;
use crate::domain::model::{mesh, quota};
use crate::domain::sign_in::desired::{
    DesiredState, GroupAccess, owned_by_profile, profile_owner_reference,
};

use super::existing::{check_group_record, collision_safe_binding, covers, same_place};
use super::{GroupPlan, Observed, profile_owner};

/// The writes `access`'s group needs, given `observed`, `group_owner` (`GROUP_PROFILE_OWNER`)
/// and the person's objects `persons` (keyed `user_key`); or why it is refused.
pub(super) fn plan_group(
    access: &GroupAccess,
    observed: &Observed,
    group_owner: &str,
    persons: &[&Object],
    user_key: &str,
) -> Result<GroupPlan, Refusal> {
    let namespace = access.namespace.as_str();
    let label_profile = observed
        .profiles
        .get(namespace)
        .filter(|p| p.is_managed() && p.meta("labels", PROFILE_NAME_LABEL).is_none())
        .map(|_| without_quota(&access.profile));
    let (create_profile, create_namespace) = place(access, observed, group_owner)?;
    let update_quota = observed
        .profiles
        .get(namespace)
        .filter(|p| p.is_managed() && profile_owner(p) == Some(group_owner))
        .and_then(|profile| {
            quota::update(
                profile,
                access.profile.body.pointer("/spec/resourceQuotaSpec"),
            )
        });
    let repair_namespace = namespace_repair(access, observed, group_owner);
    let reach = reach_once_written(access, observed, repair_namespace.as_ref());
    let bindings = plan_bindings(access, persons, user_key, &reach);
    Ok(GroupPlan {
        group: access.group.clone(),
        namespace: namespace.to_owned(),
        create_profile,
        create_namespace,
        repair_namespace,
        workloads_unreachable: reach == mesh::Reach::NoHeaderRules,
        create_bindings: bindings.create,
        repair_bindings: bindings.repair,
        label_profile,
        update_quota,
        remove_before: bindings.replace,
        remove_after: Vec::new(),
    })
}

/// The group's Profile and namespace to create: none, the namespace (the profile controller
/// has not made it yet), or both; or why the group is refused.
fn place(
    access: &GroupAccess,
    observed: &Observed,
    group_owner: &str,
) -> Result<(Option<Object>, Option<Object>), Refusal> {
    let (group, namespace) = (access.group.as_str(), access.namespace.as_str());
    Ok(match observed.profiles.get(namespace) {
        Some(profile) => {
            match profile_owner(profile) {
                Some(owner) if owner == group_owner => {}
                owner => {
                    return Err(Refusal::OwnedBySomeoneElse {
                        owner: owner.unwrap_or_default().to_owned(),
                    });
                }
            }
            check_group_record(&profile.body, group, namespace)?;
            match observed.namespaces.get(namespace) {
                // The profile controller creates the namespace asynchronously; creating it now
                // (annotated with the same owner, which the controller adopts, and owned by the
                // Profile) lets the bindings in.
                None => (
                    None,
                    Some(match profile.uid() {
                        Some(uid) => owned_by_profile(&access.namespace_object, uid),
                        None => access.namespace_object.clone(),
                    }),
                ),
                Some(ns) if ns.meta("annotations", "owner") == Some(group_owner) => (None, None),
                // The controller refuses to adopt a namespace someone else owns; so does this.
                Some(_) => return Err(Refusal::NotAProfile),
            }
        }
        None => match observed.namespaces.get(namespace) {
            None => (
                Some(access.profile.clone()),
                Some(access.namespace_object.clone()),
            ),
            // A namespace this function created for the group earlier, whose Profile is gone
            // or was never written: the Profile is due, the namespace is ours.
            Some(ns) if ns.is_managed() && ns.meta("annotations", "owner") == Some(group_owner) => {
                check_group_record(&ns.body, group, namespace)?;
                (Some(access.profile.clone()), None)
            }
            Some(_) => return Err(Refusal::NotAProfile),
        },
    })
}

/// The merge patch that brings a namespace this function made into the mesh and under its
/// Profile, when it lacks either ([`mesh::repair_patch`]).
fn namespace_repair(
    access: &GroupAccess,
    observed: &Observed,
    group_owner: &str,
) -> Option<Object> {
    let namespace = access.namespace.as_str();
    let owner_uid = observed
        .profiles
        .get(namespace)
        .filter(|p| profile_owner(p) == Some(group_owner))
        .and_then(Object::uid);
    observed
        .namespaces
        .get(namespace)
        .filter(|ns| ns.is_managed())
        .and_then(|ns| {
            let labels = access
                .namespace_object
                .body
                .pointer("/metadata/labels")
                .filter(|_| mesh::lacks_mesh_labels(ns));
            let unowned = ns.body.pointer("/metadata/ownerReferences").is_none();
            let owner = owner_uid
                .filter(|_| unowned)
                .map(|uid| profile_owner_reference(namespace, uid));
            mesh::repair_patch(ns, labels, owner)
        })
}

/// How people reach the namespace's workloads once this sign-in made or relabelled it: by its
/// labels as they are, or as they will be (a repair that only adds the owner leaves them).
fn reach_once_written(
    access: &GroupAccess,
    observed: &Observed,
    repair_namespace: Option<&Object>,
) -> mesh::Reach {
    let relabelled =
        repair_namespace.is_some_and(|patch| patch.body.pointer("/metadata/labels").is_some());
    let labels = match observed.namespaces.get(&access.namespace) {
        Some(ns) if !relabelled => ns.body.pointer("/metadata/labels"),
        _ => access.namespace_object.body.pointer("/metadata/labels"),
    };
    mesh::reach(labels, &access.namespace)
}

/// The person's contributor objects of one group, by what they need.
#[derive(Default)]
struct BindingWrites {
    create: Vec<Object>,
    /// Drifted: applied with force.
    repair: Vec<Object>,
    /// Bound to another role (a roleRef cannot change): deleted, then made anew.
    replace: Vec<Object>,
}

/// What the person's contributor objects in the group's namespace need, shaped for `reach`.
fn plan_bindings(
    access: &GroupAccess,
    persons: &[&Object],
    user_key: &str,
    reach: &mesh::Reach,
) -> BindingWrites {
    let mut writes = BindingWrites::default();
    let (create_bindings, repair_bindings, replace_bindings) =
        (&mut writes.create, &mut writes.repair, &mut writes.replace);
    for wanted in &mesh::shaped(&access.bindings, reach) {
        match persons.iter().find(|o| same_place(wanted, o, user_key)) {
            None => create_bindings.push(wanted.clone()),
            Some(existing) => {
                // Under the name it has (KFAM's, or the collision-safe one).
                let wanted = if existing.name == wanted.name {
                    wanted.clone()
                } else {
                    collision_safe_binding(wanted, user_key)
                };
                if !same_role_ref(&wanted, existing) {
                    // A roleRef cannot be changed (the API server answers 422): the binding a
                    // namespace admin rewrote goes, this very one only (its uid), and the right
                    // one is made.
                    replace_bindings.push((*existing).clone());
                    create_bindings.push(wanted);
                } else if !covers(&wanted.body, &existing.body)
                    || !mesh::attached_alike(&wanted, existing)
                {
                    repair_bindings.push(wanted);
                }
            }
        }
    }
    writes
}

/// True unless `wanted` is a RoleBinding and `existing` binds another role: RBAC keeps
/// `roleRef` immutable (kubernetes/kubernetes, the rbac `validation.go` of pkg/apis,
/// `ValidateRoleBindingUpdate`), so such a binding can only be replaced.
fn same_role_ref(wanted: &Object, existing: &Object) -> bool {
    wanted.kind != crate::domain::model::objects::Kind::RoleBinding
        || wanted.body.get("roleRef") == existing.body.get("roleRef")
}

/// The role a contributor object grants: KFAM's `role` annotation.
fn kfam_role(object: &Object) -> Option<Role> {
    Role::parse(object.meta("annotations", KFAM_ROLE_ANNOTATION)?)
}

/// Takes the person's bindings of another role out of `revoke` into the group whose new role
/// they give way to, in the safe order: where the group creates its binding, a higher role goes
/// before the lower one is made, a lower one once the higher one is in place. (Where the new
/// role's binding exists already, the old one is simply revoked.)
pub(super) fn order_role_changes(
    groups: &mut [GroupPlan],
    desired: &DesiredState,
    revoke: &mut Vec<Object>,
) {
    for group in groups.iter_mut().filter(|g| !g.create_bindings.is_empty()) {
        let Some(role) = desired
            .groups
            .iter()
            .find(|g| g.namespace == group.namespace)
            .map(|g| g.role)
        else {
            continue;
        };
        let (changed, kept): (Vec<Object>, Vec<Object>) =
            std::mem::take(revoke).into_iter().partition(|o| {
                o.namespace.as_deref() == Some(group.namespace.as_str())
                    && kfam_role(o).is_some_and(|r| r != role)
            });
        *revoke = kept;
        for object in changed {
            if kfam_role(&object) > Some(role) {
                group.remove_before.push(object);
            } else {
                group.remove_after.push(object);
            }
        }
    }
}

/// `profile` without its quota and plugins: the relabelling of an old Profile applies its
/// labels, never a quota (that is [`quota::update`]'s, only where no one else set one) nor a
/// plugin (set only when the function creates a Profile).
fn without_quota(profile: &Object) -> Object {
    let mut relabel = profile.clone();
    if let Some(spec) = relabel.body.get_mut("spec").and_then(|s| s.as_object_mut()) {
        spec.remove("resourceQuotaSpec");
        spec.remove("plugins");
    }
    relabel
}
