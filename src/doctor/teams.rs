//! The doctor's view of team namespaces: whether the cluster has the Pod Identity Agent (when
//! teams get a role), and for each team of a previewed sign-in the role it gets, whether its
//! service account has an association, the quota it gets and its defaults. It writes nothing.
//! I/O.

use crate::app::App;
use crate::app::clusters::ClusterSession;
use crate::domain::config::TeamRoleVia;
use crate::domain::doctor::Finding;
use crate::domain::model::objects::Object;
use crate::domain::model::quota::{TeamQuota, team_quota};
use crate::domain::model::team_defaults::{DEFAULTS_ANNOTATION, DEFAULTS_DUE, DEFAULTS_MADE};
use crate::domain::sign_in::team_role::team_role;
use crate::eks::pod_identity::{AGENT_ADDON, agent_installed, has_association};
use crate::sign_in::Planned;

use super::problem;

const CHECK: &str = "teams";

impl App {
    /// Whether the cluster can give pods their team's role, when `TEAM_ROLE_ARN` is set.
    pub(super) async fn agent_finding(&self, cluster: &ClusterSession) -> Option<Finding> {
        self.config.sign_in.pod_identity_role()?;
        Some(
            match agent_installed(cluster.eks(), &cluster.target.name).await {
                Ok(true) => Finding::ok(
                    CHECK,
                    format!("the {AGENT_ADDON} add-on gives pods their team's role"),
                ),
                Ok(false) => Finding::problem(
                    CHECK,
                    format!(
                        "TEAM_ROLE_ARN is set but the cluster has no {AGENT_ADDON} add-on: install it (aws eks create-addon --addon-name {AGENT_ADDON}); on EKS Auto Mode the agent is built in and this can be ignored"
                    ),
                ),
                Err(error) => problem(CHECK, &error),
            },
        )
    }

    /// For each team of a previewed sign-in: its role (and whether its `default-editor` has an
    /// association) and its quota.
    pub(super) async fn team_findings(
        &self,
        cluster: &ClusterSession,
        planned: &Planned,
    ) -> Vec<Finding> {
        let checks = planned.plan.groups.iter().map(|group| async move {
            let mut found = Vec::new();
            let profile = planned.observed.profiles.get(&group.namespace);
            if let (Some(template), TeamRoleVia::Irsa) = (
                &self.config.sign_in.team_role_arn,
                self.config.sign_in.team_role_via,
            ) {
                found.push(irsa_finding(profile, &group.namespace, template));
            }
            if let Some(template) = self.config.sign_in.pod_identity_role() {
                let role = team_role(template, &group.namespace);
                found.push(
                    match has_association(cluster.eks(), &cluster.target.name, &group.namespace)
                        .await
                    {
                        Ok(true) => Finding::ok(
                            CHECK,
                            format!(
                                "team {}: its default-editor has an EKS Pod Identity association (the function gives {role} where it has none)",
                                group.namespace
                            ),
                        ),
                        Ok(false) => Finding::ok(
                            CHECK,
                            format!(
                                "team {}: would get {role} through EKS Pod Identity",
                                group.namespace
                            ),
                        ),
                        Err(error) => problem(CHECK, &error),
                    },
                );
            }
            let configured = self.config.sign_in.group_profile_quota.as_ref();
            let quota = match profile.map(|p| team_quota(p, configured)) {
                Some(TeamQuota::Spec(spec)) => format!("quota {spec}"),
                Some(TeamQuota::Removed) => "no quota (its Profile says none)".to_owned(),
                Some(TeamQuota::Unmanaged) => "its quota left as it is".to_owned(),
                None => match configured {
                    Some(spec) => format!("quota {spec}"),
                    None => "no quota from this function".to_owned(),
                },
            };
            found.push(Finding::ok(
                CHECK,
                format!("team {}: {quota}", group.namespace),
            ));
            let defaults = &self.config.sign_in.team_defaults;
            if !defaults.is_empty() {
                let namespace = planned.observed.namespaces.get(&group.namespace);
                found.push(Finding::ok(
                    CHECK,
                    format!(
                        "team {}: {}",
                        group.namespace,
                        defaults_state(namespace, &defaults.names())
                    ),
                ));
            }
            found
        });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

/// What becomes of a team's defaults (`names`), by its namespace's mark.
fn defaults_state(namespace: Option<&Object>, names: &[String]) -> String {
    let names = names.join(", ");
    let mark = namespace.map(|ns| (ns.is_managed(), ns.meta("annotations", DEFAULTS_ANNOTATION)));
    match mark {
        None => {
            format!("its namespace, made at its first member's sign-in, gets the defaults {names}")
        }
        Some((true, Some(DEFAULTS_DUE))) => {
            format!("the defaults {names} are due: made at a member's next sign-in")
        }
        Some((_, Some(DEFAULTS_MADE))) => {
            format!("the defaults {names} were made (each left as it is since)")
        }
        Some(_) => format!(
            "gets no defaults: its namespace was not made by this function with them ({names})"
        ),
    }
}

/// What a team gets of its role through IRSA: its Profile's `AwsIamForServiceAccount` plugin,
/// set only when the function creates the Profile.
fn irsa_finding(profile: Option<&Object>, namespace: &str, template: &str) -> Finding {
    let role = team_role(template, namespace);
    let plugin = profile.and_then(|p| {
        p.body
            .pointer("/spec/plugins")?
            .as_array()?
            .iter()
            .find(|plugin| plugin["kind"] == "AwsIamForServiceAccount")
            .and_then(|plugin| plugin.pointer("/spec/awsIamRole")?.as_str())
    });
    let detail = match (profile, plugin) {
        (None, _) => format!(
            "team {namespace}: its Profile, made at its first member's sign-in, gets {role} through IRSA (AwsIamForServiceAccount, annotateOnly)"
        ),
        (Some(_), Some(plugin)) => format!(
            "team {namespace}: its Profile gives {plugin} through IRSA (its default-editor's eks.amazonaws.com/role-arn)"
        ),
        (Some(_), None) => format!(
            "team {namespace}: its Profile has no AwsIamForServiceAccount plugin (made before TEAM_ROLE_VIA=irsa, or by someone else): the function never changes a Profile's plugins; add it by hand"
        ),
    };
    Finding::ok(CHECK, detail)
}
