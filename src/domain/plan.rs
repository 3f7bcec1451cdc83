//! What to change on the cluster: the desired state compared with what the cluster holds. Pure.
//!
//! Safety rules of a shared cluster live here:
//! - a group namespace is bound only when it is (or is about to become) a Profile owned by
//!   `GROUP_PROFILE_OWNER` that belongs to that very AD group (its recorded group);
//! - a personal Profile of someone else is left alone;
//! - only objects carrying this function's labels for this person, in namespaces of Profiles
//!   owned by `GROUP_PROFILE_OWNER`, are ever repaired or deleted: look-alikes elsewhere are
//!   ignored;
//! - a sign-in that may not grant only removes what the groups no longer give;
//! - a sign-in makes at most [`MAX_CHANGES_PER_SIGN_IN`] changes; the rest waits for the next.

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::Value;

use crate::domain::activity::{RecordWrite, new_record, record_write};
use crate::domain::admission::Mode;
use crate::domain::config::Role;
use crate::domain::desired::{DesiredState, GroupAccess, RefusedGroup};
use crate::domain::desired::{owned_by_profile, profile_owner_reference};
use crate::domain::mesh;
use crate::domain::names::collision_safe;
use crate::domain::objects::{
    GROUP_ANNOTATION, MANAGED_BY_LABEL, MANAGER, Object, PROFILE_NAME_LABEL, USER_LABEL,
};
use crate::domain::protected::Refusal;

/// The most creates, applies and deletes one sign-in makes; what is left is logged and done at
/// the next sign-in, so that no claim and no pile of look-alike objects can make a sign-in
/// unbounded.
pub const MAX_CHANGES_PER_SIGN_IN: usize = 1000;

/// What the cluster holds, as far as one sign-in is concerned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Every Profile, by name.
    pub profiles: HashMap<String, Object>,
    /// The namespaces of the desired groups that exist, by name.
    pub namespaces: HashMap<String, Object>,
    /// RoleBindings and Istio twins carrying this person's user label (their `sub`, or the
    /// legacy email hash), wherever they are: the plan keeps those in its territory.
    pub bindings: Vec<Object>,
    /// The Python Lambda's bindings of this user (by name), when asked for.
    pub legacy_bindings: Vec<Object>,
    /// The person's activity record.
    pub record: RecordState,
}

/// The person's activity record as a sign-in found it.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum RecordState {
    /// It could not be read (logged): nothing is written to it this time.
    #[default]
    Unread,
    Missing,
    Found(Object),
}

/// The writes a bindable group needs.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    pub group: String,
    pub namespace: String,
    /// Created (never applied): a Profile that already exists is accepted only when it is owned
    /// by `GROUP_PROFILE_OWNER` and belongs to this group.
    pub create_profile: Option<Object>,
    /// Created (never applied) so that an existing namespace is never taken over.
    pub create_namespace: Option<Object>,
    /// A namespace this function made (an earlier version, or before the mesh labels were
    /// learnt) that carries no mesh label or no owner: the merge patch that adds the mesh
    /// labels and its Profile as owner, only while it is the version read
    /// ([`crate::domain::mesh::repair_patch`]).
    pub repair_namespace: Option<Object>,
    /// The namespace is in Istio ambient mode without a waypoint: the person gets the
    /// RoleBinding, and no policy can let them reach its workloads through the gateway.
    pub workloads_unreachable: bool,
    /// Bindings to create (they do not exist for this user).
    pub create_bindings: Vec<Object>,
    /// This user's managed bindings whose content drifted (or that carry an earlier version's
    /// label): applied with force.
    pub repair_bindings: Vec<Object>,
    /// A group Profile this function made before Profiles carried their name label: applied
    /// (without force) once, so later sign-ins find it with the others.
    pub label_profile: Option<Object>,
    /// A role change replaces the person's binding (a RoleBinding's roleRef cannot change) and
    /// its twin: a higher role they had here, deleted before the lower one is created.
    pub remove_before: Vec<Object>,
    /// A lower role they had here, deleted once the higher one is in place.
    pub remove_after: Vec<Object>,
}

impl GroupPlan {
    pub fn writes(&self) -> usize {
        usize::from(self.create_profile.is_some())
            + usize::from(self.label_profile.is_some())
            + usize::from(self.create_namespace.is_some())
            + usize::from(self.repair_namespace.is_some())
            + self.create_bindings.len()
            + self.repair_bindings.len()
            + self.remove_before.len()
            + self.remove_after.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonalProfile {
    /// Nothing to do: it exists as desired, or is not ours to change.
    Unchanged,
    /// No valid Profile name could be derived from the user name, or this sign-in may not grant.
    NoName,
    /// The name and its collision-safe variant are both someone else's: left alone.
    OwnedBySomeoneElse { name: String, owner: String },
    /// This person's Profile names an earlier form of their email as its owner. The owner is
    /// never changed: the profile controller would then refuse the namespace.
    OwnerIsAnEarlierEmail { name: String, owner: String },
    /// The name derived from the user name is someone else's (a look-alike person): this
    /// person's Profile has the collision-safe name `name`.
    Variant { name: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Applied without force.
    pub apply_personal_profile: Option<Object>,
    pub personal_profile: PersonalProfile,
    /// Groups the user is to have access to, with what each still needs.
    pub groups: Vec<GroupPlan>,
    /// This person's managed bindings that no allowed group calls for any more.
    pub revoke: Vec<Object>,
    /// The Python Lambda's unlabelled bindings of this user, removed once the new access is in place.
    pub remove_legacy: Vec<Object>,
    pub refused: Vec<RefusedGroup>,
    /// Groups that need a grant this sign-in may not make (its groups were not just asserted
    /// by the IdP); the user keeps what they already have there.
    pub withheld: Vec<String>,
    /// Groups left for the next sign-in by [`MAX_CHANGES_PER_SIGN_IN`].
    pub deferred_groups: Vec<String>,
    /// Revocations (and legacy removals) left for the next sign-in by the same bound.
    pub deferred_deletions: usize,
    /// What records the person's activity ([`record_activity`]).
    pub record: RecordWrite,
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

/// Whether a group Profile (or the namespace made ahead of it), as the cluster holds it, belongs
/// to the AD group `group` that maps to `namespace`: it records that group (ignoring the case of
/// ASCII letters, as AD does), or it records none, was made by this function before groups
/// were recorded, and its name is the group's own name (so no sanitising could have mapped
/// another group there).
pub fn check_group_record(body: &Value, group: &str, namespace: &str) -> Result<(), Refusal> {
    let metadata = body.get("metadata");
    let recorded = metadata
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(GROUP_ANNOTATION))
        .and_then(Value::as_str);
    let managed = metadata
        .and_then(|m| m.get("labels"))
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .and_then(Value::as_str)
        == Some(MANAGER);
    match recorded {
        Some(recorded) if recorded.eq_ignore_ascii_case(group) => Ok(()),
        Some(recorded) => Err(Refusal::AnotherGroupsNamespace {
            group: recorded.to_owned(),
        }),
        None if managed && group.eq_ignore_ascii_case(namespace) => Ok(()),
        None => Err(Refusal::NoGroupRecord),
    }
}

/// True when an existing group Profile may stand for the one `access` wanted.
pub fn accepts_group_profile(existing: &Value, access: &GroupPlan, owner: &str) -> bool {
    existing.pointer("/spec/owner/name").and_then(Value::as_str) == Some(owner)
        && check_group_record(existing, &access.group, &access.namespace).is_ok()
}

/// True when an existing namespace may stand for the one this function wanted to create for
/// `access` (whose Profile is this group's): annotated for `owner`, so the profile controller
/// adopts it (or made it), and recording no other group. A namespace the controller made for
/// the Profile records nothing; the Profile's record is what decides.
pub fn accepts_group_namespace(existing: &Value, access: &GroupPlan, owner: &str) -> bool {
    existing
        .pointer("/metadata/annotations/owner")
        .and_then(Value::as_str)
        == Some(owner)
        && !matches!(
            check_group_record(existing, &access.group, &access.namespace),
            Err(Refusal::AnotherGroupsNamespace { .. })
        )
}

/// True when `object` is in the namespace of a Profile owned by `group_owner`: the only
/// places this function ever repairs, deletes or annotates a person's objects.
fn in_territory(object: &Object, observed: &Observed, group_owner: &str) -> bool {
    object
        .namespace
        .as_ref()
        .and_then(|ns| observed.profiles.get(ns))
        .is_some_and(|profile| profile_owner(profile) == Some(group_owner))
}

/// Compares `desired` with `observed`, given `group_owner` (`GROUP_PROFILE_OWNER`).
pub fn plan(desired: &DesiredState, observed: &Observed, group_owner: &str) -> Plan {
    let in_territory = |object: &Object| in_territory(object, observed, group_owner);
    let persons: Vec<&Object> = observed
        .bindings
        .iter()
        .filter(|o| o.is_managed() && is_persons(o, desired) && in_territory(o))
        .collect();
    let (apply_personal_profile, personal_profile) = plan_personal(desired, observed);
    let mut refused = desired.refused.clone();
    let mut groups = Vec::new();
    let mut withheld = Vec::new();
    // Namespaces whose desired objects are kept (and others of the person's there revoked), and
    // namespaces where whatever the person has is held as it is.
    let mut granted_namespaces: Vec<&str> = Vec::new();
    let mut held_namespaces: Vec<&str> = Vec::new();
    for access in &desired.groups {
        match plan_group(access, observed, group_owner, &persons, &desired.user_key) {
            Ok(mut group) => match desired.mode {
                Mode::Grant => {
                    if group.workloads_unreachable {
                        refused.push(RefusedGroup::new(
                            &access.group,
                            Some(&access.namespace),
                            Refusal::WorkloadsUnreachable,
                        ));
                    }
                    granted_namespaces.push(&access.namespace);
                    groups.push(group);
                }
                // Only what the groups no longer give goes: whatever the user has in a
                // namespace their groups still give stays as it is.
                Mode::RevokeOnly => {
                    group.label_profile = None;
                    held_namespaces.push(&access.namespace);
                    if group.writes() > 0 {
                        withheld.push(group.group);
                    } else {
                        groups.push(group);
                    }
                }
            },
            Err(reason) => {
                // A group Profile made before groups were recorded, under a sanitised name:
                // nothing new is granted there until an administrator records its group, and
                // nothing the person has there is taken away meanwhile.
                if reason == Refusal::NoGroupRecord {
                    held_namespaces.push(&access.namespace);
                }
                refused.push(RefusedGroup::new(
                    &access.group,
                    Some(&access.namespace),
                    reason,
                ));
            }
        }
    }
    let kept = |object: &Object| {
        let Some(namespace) = object.namespace.as_deref() else {
            return false;
        };
        held_namespaces.contains(&namespace)
            || (granted_namespaces.contains(&namespace)
                && desired
                    .groups
                    .iter()
                    .flat_map(|g| &g.bindings)
                    .any(|wanted| same_place(wanted, object, &desired.user_key)))
    };
    let mut revoke: Vec<Object> = persons
        .iter()
        .filter(|o| !kept(o))
        .map(|o| (*o).clone())
        .collect();
    order_role_changes(&mut groups, desired, &mut revoke);
    let remove_legacy: Vec<Object> = observed
        .legacy_bindings
        .iter()
        .filter(|o| !o.is_managed() && in_territory(o))
        .cloned()
        .collect();
    let mut plan = Plan {
        apply_personal_profile,
        personal_profile,
        groups,
        revoke,
        remove_legacy,
        refused,
        withheld,
        deferred_groups: Vec::new(),
        deferred_deletions: 0,
        record: RecordWrite::None,
    };
    bound_changes(&mut plan, MAX_CHANGES_PER_SIGN_IN);
    plan
}

/// What this sign-in at `now` writes to record the person's activity: their Lease created, or
/// renewed when its last renewal was before today ([`crate::domain::activity`]); nothing when it
/// could not be read.
pub fn record_activity(
    plan: &mut Plan,
    desired: &DesiredState,
    observed: &Observed,
    now: SystemTime,
) {
    let wanted = new_record(&desired.records_namespace, &desired.user_key, now);
    plan.record = match &observed.record {
        RecordState::Unread => RecordWrite::None,
        RecordState::Missing => record_write(None, wanted, now),
        RecordState::Found(record) => record_write(Some(record), wanted, now),
    };
}

/// True when `object` carries this person's user label: their `sub`, or (on a sign-in whose
/// email the IdP just asserted) the email hash of earlier versions, on an object made for
/// that very email.
fn is_persons(object: &Object, desired: &DesiredState) -> bool {
    match object.meta("labels", USER_LABEL) {
        Some(key) if key == desired.user_key => true,
        Some(key) => {
            desired.legacy_user_key.as_deref() == Some(key)
                && object.meta("annotations", "user") == Some(desired.email.as_str())
        }
        None => false,
    }
}

/// Keeps the plan within `limit` changes: revocations first (they take access away), then the
/// personal Profile, then whole groups in the claim's order, then legacy removals.
fn bound_changes(plan: &mut Plan, limit: usize) {
    let mut left = limit;
    let revocations = plan.revoke.len().min(left);
    left -= revocations;
    plan.deferred_deletions += plan.revoke.len() - revocations;
    plan.revoke.truncate(revocations);
    if plan.apply_personal_profile.is_some() {
        if left == 0 {
            plan.apply_personal_profile = None;
        } else {
            left -= 1;
        }
    }
    let mut fitted = Vec::with_capacity(plan.groups.len());
    for group in std::mem::take(&mut plan.groups) {
        let writes = group.writes();
        if writes <= left {
            left -= writes;
            fitted.push(group);
        } else {
            plan.deferred_groups.push(group.group);
        }
    }
    plan.groups = fitted;
    let removals = plan.remove_legacy.len().min(left);
    plan.deferred_deletions += plan.remove_legacy.len() - removals;
    plan.remove_legacy.truncate(removals);
}

fn plan_personal(desired: &DesiredState, observed: &Observed) -> (Option<Object>, PersonalProfile) {
    let (Some(base), Some(variant)) =
        (&desired.personal_profile, &desired.personal_profile_variant)
    else {
        return (None, PersonalProfile::NoName);
    };
    let candidates = [base, variant];
    let existing = |wanted: &Object| observed.profiles.get(&wanted.name);
    let is_theirs = |profile: &Object| {
        profile_owner(profile) != Some(desired.email.as_str())
            && !is_persons_profile(profile, desired)
    };
    // This person's existing Profile (under either name), else the first free name.
    let mine = candidates
        .iter()
        .find(|c| existing(c).is_some_and(|p| !is_theirs(p)))
        .or_else(|| candidates.iter().find(|c| existing(c).is_none()));
    let Some(&wanted) = mine else {
        let owner = existing(base).and_then(profile_owner).unwrap_or_default();
        return (
            None,
            PersonalProfile::OwnedBySomeoneElse {
                name: base.name.clone(),
                owner: owner.to_owned(),
            },
        );
    };
    let chosen = if wanted.name == variant.name {
        PersonalProfile::Variant {
            name: variant.name.clone(),
        }
    } else {
        PersonalProfile::Unchanged
    };
    match existing(wanted) {
        None => (Some(wanted.clone()), chosen),
        Some(profile) => match profile_owner(profile) {
            Some(owner) if owner == desired.email => {
                let drifted = profile.is_managed() && !covers(&wanted.body, &profile.body);
                (drifted.then(|| wanted.clone()), chosen)
            }
            owner => (
                None,
                PersonalProfile::OwnerIsAnEarlierEmail {
                    name: wanted.name.clone(),
                    owner: owner.unwrap_or_default().to_owned(),
                },
            ),
        },
    }
}

/// True when a Profile carries this person's user label (their `sub`, or on a federated
/// sign-in the email hash of earlier versions).
fn is_persons_profile(profile: &Object, desired: &DesiredState) -> bool {
    profile.is_managed()
        && profile.meta("labels", USER_LABEL).is_some_and(|key| {
            key == desired.user_key || desired.legacy_user_key.as_deref() == Some(key)
        })
}

fn plan_group(
    access: &GroupAccess,
    observed: &Observed,
    group_owner: &str,
    persons: &[&Object],
    user_key: &str,
) -> Result<GroupPlan, Refusal> {
    let (group, namespace) = (access.group.as_str(), access.namespace.as_str());
    let label_profile = observed
        .profiles
        .get(namespace)
        .filter(|p| p.is_managed() && p.meta("labels", PROFILE_NAME_LABEL).is_none())
        .map(|_| access.profile.clone());
    let (create_profile, create_namespace) = match observed.profiles.get(namespace) {
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
                    Some(match profile.meta_uid() {
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
    };
    let owner_uid = observed
        .profiles
        .get(namespace)
        .filter(|p| profile_owner(p) == Some(group_owner))
        .and_then(Object::meta_uid);
    let repair_namespace = observed
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
        });
    // The namespace's labels as they are, or will be once this sign-in made or relabelled it
    // (a repair that only adds the owner leaves them as they are).
    let relabelled = repair_namespace
        .as_ref()
        .is_some_and(|patch| patch.body.pointer("/metadata/labels").is_some());
    let labels = match observed.namespaces.get(namespace) {
        Some(ns) if !relabelled => ns.body.pointer("/metadata/labels"),
        _ => access.namespace_object.body.pointer("/metadata/labels"),
    };
    let reach = mesh::reach(labels, namespace);
    let mut create_bindings = Vec::new();
    let mut repair_bindings = Vec::new();
    let mut replace_bindings = Vec::new();
    for wanted in &mesh::shaped(&access.bindings, &reach) {
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
    Ok(GroupPlan {
        group: group.to_owned(),
        namespace: namespace.to_owned(),
        create_profile,
        create_namespace,
        repair_namespace,
        workloads_unreachable: reach == mesh::Reach::NoHeaderRules,
        create_bindings,
        repair_bindings,
        label_profile,
        remove_before: replace_bindings,
        remove_after: Vec::new(),
    })
}

/// True unless `wanted` is a RoleBinding and `existing` binds another role: RBAC keeps
/// `roleRef` immutable (kubernetes/kubernetes, the rbac `validation.go` of pkg/apis,
/// `ValidateRoleBindingUpdate`), so such a binding can only be replaced.
fn same_role_ref(wanted: &Object, existing: &Object) -> bool {
    wanted.kind != crate::domain::objects::Kind::RoleBinding
        || wanted.body.get("roleRef") == existing.body.get("roleRef")
}

/// The role a contributor object grants: KFAM's `role` annotation.
fn role_of(object: &Object) -> Option<Role> {
    Role::parse(object.meta("annotations", "role")?)
}

/// Takes the person's bindings of another role out of `revoke` into the group whose new role
/// they give way to, in the safe order: where the group creates its binding, a higher role goes
/// before the lower one is made, a lower one once the higher one is in place. (Where the new
/// role's binding exists already, the old one is simply revoked.)
fn order_role_changes(groups: &mut [GroupPlan], desired: &DesiredState, revoke: &mut Vec<Object>) {
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
                    && role_of(o).is_some_and(|r| r != role)
            });
        *revoke = kept;
        for object in changed {
            if role_of(&object) > Some(role) {
                group.remove_before.push(object);
            } else {
                group.remove_after.push(object);
            }
        }
    }
}

/// True when `existing` (found where `wanted` was to be created, made by whoever) grants what
/// `wanted` grants: the same roleRef, subjects or spec, for the same user. A contributor made
/// through the dashboard counts; so does a concurrent duplicate of this sign-in.
pub fn grants_the_same(wanted: &Object, existing: &Value) -> bool {
    wanted.body.as_object().is_some_and(|fields| {
        fields
            .iter()
            .filter(|(key, _)| *key != "metadata")
            .all(|(key, value)| existing.get(key).is_some_and(|e| covers(value, e)))
    }) && existing.pointer("/metadata/annotations/user")
        == wanted.body.pointer("/metadata/annotations/user")
}

fn same_ref(a: &Object, b: &Object) -> bool {
    a.kind == b.kind && a.namespace == b.namespace && a.name == b.name
}

/// Longest name of a RoleBinding or Istio object (a DNS subdomain / path segment).
const MAX_OBJECT_NAME_LEN: usize = 253;

/// `wanted` under its collision-safe name for the person `user_key`: where KFAM's name is
/// already another person's in that namespace (look-alike emails such as `jo.smith@` and
/// `jo_smith@` give one KFAM name). Access works; the dashboard cannot remove it by name.
pub fn collision_safe_binding(wanted: &Object, user_key: &str) -> Object {
    let name = collision_safe(&wanted.name, user_key, MAX_OBJECT_NAME_LEN);
    let mut body = wanted.body.clone();
    body["metadata"]["name"] = Value::String(name.clone());
    Object::new(wanted.kind, wanted.namespace.as_deref(), &name, body)
}

/// True when `existing`, found where `wanted` was to be created, is another person's: made
/// for another user id.
pub fn is_another_persons(wanted: &Object, existing: &Value) -> bool {
    existing
        .pointer("/metadata/annotations/user")
        .and_then(Value::as_str)
        .is_some_and(|user| Some(user) != wanted.meta("annotations", "user"))
}

/// True when `existing` stands where `wanted` is meant to: same kind and namespace, and KFAM's
/// name or the person's collision-safe one.
fn same_place(wanted: &Object, existing: &Object, user_key: &str) -> bool {
    same_ref(wanted, existing)
        || (wanted.kind == existing.kind
            && wanted.namespace == existing.namespace
            && existing.name == collision_safe(&wanted.name, user_key, MAX_OBJECT_NAME_LEN))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::admission::Identity;
    use crate::domain::config::test_config;
    use crate::domain::conventions::Conventions;
    use crate::domain::desired::desired_state;
    use crate::domain::names::legacy_user_label_value;
    use crate::domain::objects::Kind;
    use serde_json::json;

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
        observed.bindings.retain(|b| {
            !(b.namespace.as_deref() == Some("ml") && b.kind == Kind::AuthorizationPolicy)
        });
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
        two_subjects["subjects"] =
            json!([wanted.body["subjects"][0], {"kind": "User", "name": "eve"}]);
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
}
