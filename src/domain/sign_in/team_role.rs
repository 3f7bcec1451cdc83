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

/// The longest IAM role name (IAM User Guide, *IAM object quotas*: role names up to 64
/// characters).
const MAX_ROLE_NAME: usize = 64;

/// What a team's Profile records of its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamRoleRecord {
    /// The association was made with the role asked for.
    Given,
    /// The team's `default-editor` had an association this function did not make: left alone,
    /// and not asked about again.
    Existing,
}

/// The value [`TEAM_ROLE_ANNOTATION`] takes for an association found already there: the role
/// asked for is not recorded as the team's.
pub fn existing_record(role_arn: &str) -> String {
    format!("existing; asked {role_arn}")
}

/// The teams of `granted` (the namespaces this sign-in granted: Profile and namespace this
/// function's, for that group) whose Profile records nothing of their role yet; none on a
/// sign-in that may not grant, without a `template`, or where the role's name would be longer
/// than IAM allows (no call could succeed).
pub fn roles_due(
    plan: &Plan,
    observed: &Observed,
    mode: Mode,
    template: Option<&str>,
    granted: &[String],
) -> Vec<RoleDue> {
    let Some(template) = template.filter(|_| mode == Mode::Grant) else {
        return Vec::new();
    };
    plan.groups
        .iter()
        .filter(|group| granted.contains(&group.namespace))
        .map(|group| RoleDue {
            namespace: group.namespace.clone(),
            role_arn: team_role(template, &group.namespace),
        })
        .filter(|due| role_name_fits(&due.role_arn))
        .filter(|due| {
            let recorded = observed
                .profiles
                .get(&due.namespace)
                .and_then(|profile| profile.meta("annotations", TEAM_ROLE_ANNOTATION));
            recorded != Some(due.role_arn.as_str())
                && recorded != Some(existing_record(&due.role_arn).as_str())
        })
        .collect()
}

/// True when the role's name (after `role/` and its path) is one IAM allows.
pub fn role_name_fits(role_arn: &str) -> bool {
    role_arn
        .rsplit('/')
        .next()
        .is_some_and(|name| name.len() <= MAX_ROLE_NAME)
}

/// The merge patch recording on the team's Profile what became of its role.
pub fn role_recorded(due: &RoleDue, record: TeamRoleRecord) -> Object {
    let value = match record {
        TeamRoleRecord::Given => due.role_arn.clone(),
        TeamRoleRecord::Existing => existing_record(&due.role_arn),
    };
    Object::new(
        Kind::Profile,
        None,
        &due.namespace,
        json!({"metadata": {"annotations": {TEAM_ROLE_ANNOTATION: value}}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_name_longer_than_iam_allows_is_never_asked_for() {
        let short = team_role("arn:aws:iam::111122223333:role/kf-team-{namespace}", "ml");
        assert!(role_name_fits(&short));
        let long = team_role(
            "arn:aws:iam::111122223333:role/kf-team-{namespace}",
            &"n".repeat(63),
        );
        assert!(!role_name_fits(&long));
    }

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
