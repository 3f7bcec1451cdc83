//! What stands where the plan means to create or keep something: whether an existing group
//! Profile or namespace belongs to the group, whether an existing contributor object grants
//! the same (made by a concurrent sign-in or through the dashboard) or is another person's,
//! and the names a person's objects may have. Pure.

use serde_json::Value;

use crate::domain::model::names::collision_safe;
use crate::domain::model::objects::{
    GROUP_ANNOTATION, KFAM_USER_ANNOTATION, Kind, MANAGED_BY_LABEL, MANAGER, Object,
};
use crate::domain::model::protected::Refusal;

use super::GroupPlan;

/// What a create found standing in its place, judged.
#[derive(Debug, Clone, PartialEq)]
pub enum Existing {
    /// What was wanted: made by a concurrent sign-in, or access granted by other means.
    Accepted,
    /// Not this function's to take over.
    Refused,
    /// Another person's contributor object under KFAM's name (look-alike emails): the person's
    /// goes under its collision-safe name instead.
    CreateInstead(Object),
}

impl GroupPlan {
    /// What `existing`, found where this group's `wanted` was to be created, comes to; `owner`
    /// is `GROUP_PROFILE_OWNER`, `user_key` the person's key. The writer tries a collision-safe
    /// name once: what stands under it too is refused unless it is accepted.
    pub fn judge_existing(
        &self,
        wanted: &Object,
        existing: &Value,
        owner: &str,
        user_key: &str,
    ) -> Existing {
        let accepted = match wanted.kind {
            Kind::Profile => accepts_group_profile(existing, self, owner),
            Kind::Namespace => accepts_group_namespace(existing, self, owner),
            _ if grants_the_same(wanted, existing) => true,
            _ if is_another_persons(wanted, existing) => {
                return Existing::CreateInstead(collision_safe_binding(wanted, user_key));
            }
            _ => false,
        };
        if accepted {
            Existing::Accepted
        } else {
            Existing::Refused
        }
    }
}

/// Whether a group Profile (or the namespace made ahead of it), as the cluster holds it, belongs
/// to the AD group `group` that maps to `namespace`: it records that group (ignoring the case of
/// ASCII letters, as AD does), or it records none, was made by this function before groups
/// were recorded, and its name is the group's own name (so no sanitising could have mapped
/// another group there).
pub(super) fn check_group_record(
    body: &Value,
    group: &str,
    namespace: &str,
) -> Result<(), Refusal> {
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
pub(super) fn accepts_group_profile(existing: &Value, access: &GroupPlan, owner: &str) -> bool {
    existing.pointer("/spec/owner/name").and_then(Value::as_str) == Some(owner)
        && check_group_record(existing, &access.group, &access.namespace).is_ok()
}

/// True when an existing namespace may stand for the one this function wanted to create for
/// `access` (whose Profile is this group's): annotated for `owner`, so the profile controller
/// adopts it (or made it), and recording no other group. A namespace the controller made for
/// the Profile records nothing; the Profile's record is what decides.
pub(super) fn accepts_group_namespace(existing: &Value, access: &GroupPlan, owner: &str) -> bool {
    existing
        .pointer("/metadata/annotations/owner")
        .and_then(Value::as_str)
        == Some(owner)
        && !matches!(
            check_group_record(existing, &access.group, &access.namespace),
            Err(Refusal::AnotherGroupsNamespace { .. })
        )
}

/// True when `existing` (found where `wanted` was to be created, made by whoever) grants what
/// `wanted` grants: the same roleRef, subjects or spec, for the same user. A contributor made
/// through the dashboard counts; so does a concurrent duplicate of this sign-in.
pub(super) fn grants_the_same(wanted: &Object, existing: &Value) -> bool {
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
pub(super) fn collision_safe_binding(wanted: &Object, user_key: &str) -> Object {
    let name = collision_safe(&wanted.name, user_key, MAX_OBJECT_NAME_LEN);
    let mut body = wanted.body.clone();
    body["metadata"]["name"] = Value::String(name.clone());
    Object::new(wanted.kind, wanted.namespace.as_deref(), &name, body)
}

/// True when `existing`, found where `wanted` was to be created, is another person's: made
/// for another user id.
pub(super) fn is_another_persons(wanted: &Object, existing: &Value) -> bool {
    existing
        .pointer("/metadata/annotations/user")
        .and_then(Value::as_str)
        .is_some_and(|user| Some(user) != wanted.meta("annotations", KFAM_USER_ANNOTATION))
}

/// True when `existing` stands where `wanted` is meant to: same kind and namespace, and KFAM's
/// name or the person's collision-safe one.
pub(super) fn same_place(wanted: &Object, existing: &Object, user_key: &str) -> bool {
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
