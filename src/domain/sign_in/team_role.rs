//! A team's AWS role: which teams of a sign-in still need their namespace's `default-editor`
//! to get the role `TEAM_ROLE_ARN` names (through EKS Pod Identity), and how the Profile records
//! that it has. Pure.

use serde_json::json;

use crate::domain::model::objects::{Kind, Object, TEAM_ROLE_ANNOTATION};
use crate::domain::sign_in::admission::Mode;
use crate::domain::sign_in::plan::{Observed, Plan};

/// A team namespace whose `default-editor` is to get `role_arn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDue {
    pub namespace: String,
    pub role_arn: String,
}

/// The role of the team namespace `namespace` by `template` (`{namespace}` replaced).
pub fn team_role(template: &str, namespace: &str) -> String {
    template.replace("{namespace}", namespace)
}

/// The teams this sign-in grants whose Profile does not record their role yet (a Profile made
/// now records none); none on a sign-in that may not grant, or without a `template`.
pub fn roles_due(
    plan: &Plan,
    observed: &Observed,
    mode: Mode,
    template: Option<&str>,
) -> Vec<RoleDue> {
    let Some(template) = template.filter(|_| mode == Mode::Grant) else {
        return Vec::new();
    };
    plan.groups
        .iter()
        .map(|group| RoleDue {
            namespace: group.namespace.clone(),
            role_arn: team_role(template, &group.namespace),
        })
        .filter(|due| {
            observed
                .profiles
                .get(&due.namespace)
                .and_then(|profile| profile.meta("annotations", TEAM_ROLE_ANNOTATION))
                != Some(due.role_arn.as_str())
        })
        .collect()
}

/// The merge patch recording on the team's Profile that its namespace has its role.
pub fn role_recorded(due: &RoleDue) -> Object {
    Object::new(
        Kind::Profile,
        None,
        &due.namespace,
        json!({"metadata": {"annotations": {TEAM_ROLE_ANNOTATION: due.role_arn}}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_teams_role_is_the_template_with_its_namespace() {
        assert_eq!(
            team_role("arn:aws:iam::111122223333:role/kf-team-{namespace}", "ml"),
            "arn:aws:iam::111122223333:role/kf-team-ml"
        );
        assert_eq!(
            team_role("arn:aws:iam::111122223333:role/kf-teams", "ml"),
            "arn:aws:iam::111122223333:role/kf-teams",
            "one role for every team (ABAC)"
        );
    }
}
