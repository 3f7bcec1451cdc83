//! The doctor's preview of one person's sign-in: what a federated sign-in would do on a
//! cluster (each group's namespace, each refusal, each change), the changes run as server-side
//! dry runs where their namespace exists. It writes nothing. I/O.

use crate::app::App;
use crate::app::clusters::ClusterSession;
use crate::domain::doctor::{DoctorRequest, Finding};
use crate::domain::model::protected::Refusal;
use crate::domain::sign_in::admission::{Identity, Mode, admit};
use crate::domain::sign_in::conventions::ClusterFacts;
use crate::domain::sign_in::event::TokenEvent;
use crate::domain::sign_in::summary::{SignInSummary, Write, planned_changes};
use crate::domain::sign_in::token::{gated, vetted};
use crate::kubernetes::inspect::{dry_run, sub_of};
use crate::sign_in::Planned;

use super::{kube_problem, problem};

/// The check the preview's findings belong to.
const CHECK: &str = "sign-in";
/// The check of what the token path would do (the gate, the groups in the token).
const TOKEN_CHECK: &str = "token-path";
/// The `sub` a preview uses for a person who has no access yet.
const PREVIEW_SUB: &str = "doctor-preview";

impl App {
    /// What a federated sign-in of the request's person would do: each group's namespace, each
    /// refusal, and each change, run as a server-side dry run where its namespace exists.
    pub(super) async fn preview(
        &self,
        cluster: &ClusterSession,
        client: &kube::Client,
        facts: ClusterFacts,
        request: &DoctorRequest,
    ) -> Vec<Finding> {
        let (identity, mode) = match self.previewed_sign_in(client, request).await {
            Ok(Some(admitted)) => admitted,
            Ok(None) => return Vec::new(),
            Err(finding) => return vec![finding],
        };
        let planned = match self
            .read_and_plan(cluster, client, facts, &identity, mode, false)
            .await
        {
            Ok(planned) => planned,
            Err(error) => return vec![problem(CHECK, &error)],
        };
        let mut findings = plan_findings(&planned);
        findings.extend(self.token_path_findings(&identity, mode, &planned));
        findings.extend(self.team_findings(cluster, &planned).await);
        findings.extend(dry_run_findings(client, &planned).await);
        findings
    }

    /// What the token path would make of the sign-in: whether the gate refuses it, and which
    /// names the token would carry (what it would grant, vetted as a sign-in vets them).
    fn token_path_findings(
        &self,
        identity: &Identity,
        mode: Mode,
        planned: &Planned,
    ) -> Vec<Finding> {
        let mut findings = Vec::new();
        if let Some(message) = &self.config.token.gate {
            let detail = if gated(identity, mode, &self.config) {
                format!(
                    "SIGN_IN_GATE would refuse {:?}: no group admits a namespace; Cognito would show {message:?}",
                    identity.email
                )
            } else {
                format!("SIGN_IN_GATE would let {:?} in", identity.email)
            };
            findings.push(Finding::ok(TOKEN_CHECK, detail));
        }
        if let Some(settings) = &self.config.token.token_groups {
            let granted = SignInSummary::dry_run(&planned.plan)
                .granted
                .into_iter()
                .collect();
            let names = vetted(settings, identity, &self.config, &granted);
            findings.push(Finding::ok(
                TOKEN_CHECK,
                format!(
                    "TOKEN_GROUPS: the token would carry {names:?} in {}",
                    settings.claims.join(", ")
                ),
            ));
        }
        findings
    }

    /// The person the request names, admitted as a real sign-in would be: their `sub` (looked
    /// up from their access when the request has none), `None` without an email.
    async fn previewed_sign_in(
        &self,
        client: &kube::Client,
        request: &DoctorRequest,
    ) -> Result<Option<(Identity, Mode)>, Finding> {
        let email = request.email.as_deref().unwrap_or_default();
        let sub = match &request.sub {
            Some(sub) => sub.clone(),
            None => sub_of(client, email)
                .await
                .map_err(|e| kube_problem(CHECK, "list", "managed RoleBindings", e))?
                .unwrap_or_else(|| PREVIEW_SUB.to_owned()),
        };
        let Some(raw) = request.preview_event(&self.config.sign_in.groups_claim, &sub) else {
            return Ok(None);
        };
        TokenEvent::parse(&raw)
            .map_err(|e| e.to_string())
            .and_then(|event| admit(&event, &self.config.sign_in).map_err(|skip| skip.to_string()))
            .map(Some)
            .map_err(|why| {
                Finding::problem(
                    CHECK,
                    format!("a sign-in of {email:?} would provision nothing: {why}"),
                )
            })
    }
}

/// Each group's namespace, each refusal, or that nothing would change.
fn plan_findings(planned: &Planned) -> Vec<Finding> {
    let mut findings: Vec<Finding> = planned
        .plan
        .groups
        .iter()
        .map(|g| {
            Finding::ok(
                CHECK,
                format!("group {:?} -> namespace {}", g.group, g.namespace),
            )
        })
        .collect();
    for refused in SignInSummary::of_plan(&planned.plan).refused {
        let detail = format!(
            "would refuse group {:?}{}: {}",
            refused.group,
            refused
                .namespace
                .map(|n| format!(" (namespace {n})"))
                .unwrap_or_default(),
            refused.reason
        );
        // A refused group is the rules at work; refused workloads are a namespace its
        // people cannot use.
        findings.push(Finding {
            check: CHECK.into(),
            ok: refused.reason != Refusal::WorkloadsUnreachable,
            detail,
        });
    }
    if planned_changes(&planned.plan).is_empty() {
        findings.push(Finding::ok(
            CHECK,
            "nothing to change: the access already matches the groups",
        ));
    }
    findings
}

/// Each change: through the API server's own checks (a server-side dry run, all at once) where
/// its namespace exists, else as computed.
async fn dry_run_findings(client: &kube::Client, planned: &Planned) -> Vec<Finding> {
    let existing = &planned.observed.namespaces;
    let checked = planned_changes(&planned.plan)
        .into_iter()
        .map(|(write, object)| {
            let exists = object
                .namespace
                .as_ref()
                .is_none_or(|ns| write == Write::Delete || existing.contains_key(ns));
            async move {
                let verb = write.verb();
                if !exists {
                    return Finding::ok(
                        CHECK,
                        format!(
                            "would {verb} {} (computed: its namespace does not exist yet)",
                            object.describe()
                        ),
                    );
                }
                match dry_run(client, write, object).await {
                    Ok(()) => Finding::ok(
                        CHECK,
                        format!(
                            "would {verb} {} (server dry run: accepted)",
                            object.describe()
                        ),
                    ),
                    Err(error) => kube_problem(CHECK, "dry run", &object.describe(), error),
                }
            }
        });
    futures::future::join_all(checked).await
}
