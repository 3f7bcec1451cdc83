//! What a team namespace's Profile says of its setup, for the access report: its AWS role
//! (recorded after an EKS Pod Identity association, or its IRSA plugin's) and its quota. Pure.

use serde_json::Value;

use crate::domain::model::objects::{Object, TEAM_ROLE_ANNOTATION};

/// A team's AWS role (as its Profile records it) and its quota (`resourceQuotaSpec`, as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamSetup {
    pub aws_role: Option<String>,
    pub quota: Option<String>,
}

impl TeamSetup {
    /// What the team's Profile `profile` says.
    pub fn of(profile: &Object) -> Self {
        let quota = profile
            .body
            .pointer("/spec/resourceQuotaSpec")
            .filter(|spec| spec.as_object().is_some_and(|fields| !fields.is_empty()))
            .map(ToString::to_string);
        // Through IRSA, the role is the Profile's AwsIamForServiceAccount plugin's.
        let irsa = profile
            .body
            .pointer("/spec/plugins")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|plugin| plugin["kind"] == "AwsIamForServiceAccount")
            .find_map(|plugin| plugin.pointer("/spec/awsIamRole")?.as_str());
        TeamSetup {
            aws_role: profile
                .meta("annotations", TEAM_ROLE_ANNOTATION)
                .or(irsa)
                .map(str::to_owned),
            quota,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::objects::Kind;
    use serde_json::json;

    #[test]
    fn a_teams_role_is_its_recorded_association_or_its_irsa_plugins() {
        let profile = |annotations: Value, plugins: Value| {
            Object::new(
                Kind::Profile,
                None,
                "ml",
                json!({"metadata": {"name": "ml", "annotations": annotations},
                       "spec": {"plugins": plugins, "resourceQuotaSpec": {}}}),
            )
        };
        let irsa = json!([{"kind": "AwsIamForServiceAccount",
                           "spec": {"awsIamRole": "arn:aws:iam::1:role/kf-team-ml", "annotateOnly": true}}]);
        let through_irsa = TeamSetup::of(&profile(json!({}), irsa));
        assert_eq!(
            through_irsa.aws_role.as_deref(),
            Some("arn:aws:iam::1:role/kf-team-ml")
        );
        assert_eq!(
            through_irsa.quota, None,
            "the controller's empty quota is none"
        );
        let recorded = TeamSetup::of(&profile(
            json!({TEAM_ROLE_ANNOTATION: "arn:aws:iam::1:role/kf-team-ml"}),
            json!([]),
        ));
        assert_eq!(
            recorded.aws_role.as_deref(),
            Some("arn:aws:iam::1:role/kf-team-ml")
        );
    }
}
