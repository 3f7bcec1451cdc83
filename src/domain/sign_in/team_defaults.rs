//! A new team's default objects: which teams of a sign-in still owe them (their namespace made
//! by this function with the defaults due, and granted now), and the mark that says they were
//! made. Pure.

use serde_json::json;

use crate::domain::model::objects::{Kind, Object};
use crate::domain::model::team_defaults::{
    DEFAULTS_ANNOTATION, DEFAULTS_DUE, DEFAULTS_MADE, TeamDefaults,
};
use crate::domain::sign_in::plan::{Observed, Plan};

/// The namespaces of `granted` (this sign-in granted them: Profile and namespace this
/// function's, for that group) whose defaults are due: the namespace made now, or made earlier
/// and still marked due. None without defaults.
pub fn defaults_due(
    plan: &Plan,
    observed: &Observed,
    defaults: &TeamDefaults,
    granted: &[String],
) -> Vec<String> {
    if defaults.is_empty() {
        return Vec::new();
    }
    let due = |namespace: &Object| {
        namespace.meta("annotations", DEFAULTS_ANNOTATION) == Some(DEFAULTS_DUE)
    };
    plan.groups
        .iter()
        .filter(|group| granted.contains(&group.namespace))
        .filter(|group| {
            group.create_namespace.as_ref().is_some_and(due)
                || observed
                    .namespaces
                    .get(&group.namespace)
                    .is_some_and(|ns| ns.is_managed() && due(ns))
        })
        .map(|group| group.namespace.clone())
        .collect()
}

/// The merge patch that marks `namespace`'s defaults made.
pub fn defaults_made(namespace: &str) -> Object {
    Object::new(
        Kind::Namespace,
        None,
        namespace,
        json!({"metadata": {"annotations": {DEFAULTS_ANNOTATION: DEFAULTS_MADE}}}),
    )
}
