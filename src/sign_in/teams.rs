//! A sign-in's setup of the teams it granted: each team's AWS role (EKS Pod Identity) and a
//! new team's default objects, inside the sign-in's deadline, never failing it. I/O.

use futures::StreamExt;
use tokio::time::Instant;

use crate::app::App;
use crate::app::clusters::ClusterSession;
use crate::domain::sign_in::summary::SignInSummary;
use crate::domain::sign_in::team_defaults::defaults_due;
use crate::domain::sign_in::team_role::{RoleDue, TeamRoleRecord, roles_due};
use crate::eks::pod_identity::{Associated, associate};
use crate::kubernetes::upkeep::{make_team_defaults, record_team_role};

use super::Planned;

impl App {
    /// Of the teams `granted`, those whose role is still to be given (by EKS Pod Identity) and
    /// the namespaces whose defaults are still due.
    pub(super) fn teams_due(
        &self,
        planned: &Planned,
        granted: &[String],
    ) -> (Vec<RoleDue>, Vec<String>) {
        let roles = roles_due(
            &planned.plan,
            &planned.observed,
            planned.desired.mode,
            self.config.sign_in.pod_identity_role(),
            granted,
        );
        let defaults = defaults_due(
            &planned.plan,
            &planned.observed,
            &self.config.sign_in.team_defaults,
            granted,
        );
        (roles, defaults)
    }

    /// Sets up the teams this sign-in granted, inside `deadline`: the role of each whose
    /// Profile records none, the defaults of each new one. Only once their Profile and
    /// namespace are this function's for that group (never for a namespace deferred or
    /// refused); what is not done by then is done at a later sign-in.
    pub(super) async fn set_up_teams(
        &self,
        cluster: &ClusterSession,
        client: &kube::Client,
        planned: &Planned,
        summary: &SignInSummary,
        deadline: Instant,
    ) {
        let (due, owing) = self.teams_due(planned, &summary.granted);
        let defaults = &self.config.sign_in.team_defaults;
        let roles = async {
            let given = give_team_roles(cluster, &due, deadline).await;
            record_team_roles(client, &given).await;
        };
        let made = futures::future::join_all(owing.iter().map(|namespace| {
            let objects = defaults.in_namespace(namespace);
            async move { make_team_defaults(client, namespace, &objects).await }
        }));
        let _ = tokio::time::timeout_at(deadline, futures::future::join(roles, made)).await;
    }
}

/// EKS calls of one sign-in at once (a person in many new groups does not flood EKS).
const ROLES_AT_ONCE: usize = 8;

/// Gives each team of `due` its role through EKS Pod Identity, a few at once, inside the sign-in's
/// `deadline`: the teams whose namespace has its role now (made, or found already there). A
/// role that cannot be given is logged and asked again at the next sign-in; it never fails
/// the sign-in.
async fn give_team_roles<'a>(
    cluster: &ClusterSession,
    due: &'a [RoleDue],
    deadline: Instant,
) -> Vec<(&'a RoleDue, TeamRoleRecord)> {
    let label = cluster.label();
    let now = Instant::now();
    let asked: Vec<_> = futures::stream::iter(
        due.iter()
            .filter(|due| cluster.may_ask_role(&due.namespace, now)),
    )
    .map(|due| async move {
        let asked = associate(
            cluster.eks(),
            &cluster.target.name,
            &due.namespace,
            &due.role_arn,
        );
        let outcome = tokio::time::timeout_at(deadline, asked).await;
        (due, outcome)
    })
    .buffer_unordered(ROLES_AT_ONCE)
    .collect()
    .await;
    let mut given = Vec::new();
    for (due, outcome) in asked {
        match outcome {
            Ok(Ok(Associated::Made)) => {
                tracing::info!(cluster = %label, namespace = due.namespace.as_str(), role = due.role_arn.as_str(), "the team's role given through EKS Pod Identity");
                given.push((due, TeamRoleRecord::Given));
            }
            Ok(Ok(Associated::Exists)) => {
                tracing::warn!(cluster = %label, namespace = due.namespace.as_str(), role = due.role_arn.as_str(), "the team's default-editor has an EKS Pod Identity association this sign-in did not make (an administrator's, or one left from an earlier team of that name): left as it is, and not recorded as the team's role; the doctor shows it");
                given.push((due, TeamRoleRecord::Existing));
            }
            Ok(Err(error)) => {
                cluster.role_refused(&due.namespace, now);
                tracing::warn!(
                    cluster = %label,
                    namespace = due.namespace.as_str(),
                    role = due.role_arn.as_str(),
                    error = error.chain(),
                    hint = error.hint().unwrap_or(""),
                    "could not give the team its role; asked again at a sign-in after ten minutes"
                )
            }
            Err(_) => tracing::warn!(
                cluster = %label,
                namespace = due.namespace.as_str(),
                "EKS did not answer within the time budget; the team's role is asked again at the next sign-in"
            ),
        }
    }
    given
}

/// Records on each team's Profile what became of its role, all at once.
async fn record_team_roles(client: &kube::Client, given: &[(&RoleDue, TeamRoleRecord)]) {
    futures::future::join_all(
        given
            .iter()
            .map(|(due, record)| record_team_role(client, due, *record)),
    )
    .await;
}
