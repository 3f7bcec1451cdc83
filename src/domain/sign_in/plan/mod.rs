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

mod existing;
mod group;
mod personal;

use std::collections::HashMap;
use std::time::SystemTime;

use crate::domain::model::activity::{RecordWrite, new_record, record_write};
use crate::domain::model::objects::{KFAM_USER_ANNOTATION, Object, USER_LABEL};
use crate::domain::model::protected::Refusal;
use crate::domain::sign_in::admission::Mode;
use crate::domain::sign_in::desired::{DesiredState, RefusedGroup};

pub use existing::{Existing, covers};
use group::{order_role_changes, plan_group};
use personal::plan_personal;

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
    /// ([`crate::domain::model::mesh::repair_patch`]).
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
    /// The merge patch that brings the team's quota to `GROUP_PROFILE_QUOTA` or the team's own
    /// (its Profile's quota annotation), only while no one else has set it and only while the
    /// Profile is the version read ([`crate::domain::model::quota`]).
    pub update_quota: Option<Object>,
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
            + usize::from(self.update_quota.is_some())
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
    let decided = decide_groups(desired, observed, group_owner, &persons);
    let (granted_namespaces, held_namespaces) = (decided.granted, decided.held);
    let (mut groups, refused, withheld) = (decided.groups, decided.refused, decided.withheld);
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
                    .any(|wanted| existing::same_place(wanted, object, &desired.user_key)))
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

/// What becomes of each of the desired groups.
struct GroupDecisions<'a> {
    groups: Vec<GroupPlan>,
    refused: Vec<RefusedGroup>,
    withheld: Vec<String>,
    /// Namespaces whose desired objects are kept (and others of the person's there revoked).
    granted: Vec<&'a str>,
    /// Namespaces where whatever the person has is held as it is.
    held: Vec<&'a str>,
}

/// Each desired group planned, refused, withheld (a sign-in that may not grant), or held.
fn decide_groups<'a>(
    desired: &'a DesiredState,
    observed: &Observed,
    group_owner: &str,
    persons: &[&Object],
) -> GroupDecisions<'a> {
    let mut decided = GroupDecisions {
        groups: Vec::new(),
        refused: desired.refused.clone(),
        withheld: Vec::new(),
        granted: Vec::new(),
        held: Vec::new(),
    };
    for access in &desired.groups {
        match plan_group(access, observed, group_owner, persons, &desired.user_key) {
            Ok(mut group) => match desired.mode {
                Mode::Grant => {
                    if group.workloads_unreachable {
                        decided.refused.push(RefusedGroup::new(
                            &access.group,
                            Some(&access.namespace),
                            Refusal::WorkloadsUnreachable,
                        ));
                    }
                    decided.granted.push(&access.namespace);
                    decided.groups.push(group);
                }
                // Only what the groups no longer give goes: whatever the user has in a
                // namespace their groups still give stays as it is.
                Mode::RevokeOnly => {
                    group.label_profile = None;
                    group.update_quota = None;
                    decided.held.push(&access.namespace);
                    if group.writes() > 0 {
                        decided.withheld.push(group.group);
                    } else {
                        decided.groups.push(group);
                    }
                }
            },
            Err(reason) => {
                // A group Profile made before groups were recorded, under a sanitised name:
                // nothing new is granted there until an administrator records its group, and
                // nothing the person has there is taken away meanwhile.
                if reason == Refusal::NoGroupRecord {
                    decided.held.push(&access.namespace);
                }
                decided.refused.push(RefusedGroup::new(
                    &access.group,
                    Some(&access.namespace),
                    reason,
                ));
            }
        }
    }
    decided
}

/// What this sign-in at `now` writes to record the person's activity: their Lease created, or
/// renewed when its last renewal was before today ([`crate::domain::model::activity`]); nothing when it
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
                && object.meta("annotations", KFAM_USER_ANNOTATION) == Some(desired.email.as_str())
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

#[cfg(test)]
mod tests;
