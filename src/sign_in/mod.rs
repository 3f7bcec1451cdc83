//! The sign-in: admission (pure), then on every cluster at once, inside one time budget,
//! provisioning (observe, plan, execute) and the `FAIL_MODE` verdict (pure). Its rules are in
//! [`crate::domain::sign_in`]. I/O.

mod log;
mod teams;
mod token;

use std::time::Duration;

use tokio::time::Instant;

use crate::app::App;
use crate::app::budget::{Budget, TimeRule};
use crate::app::clusters::ClusterSession;
use crate::domain::config::Config;
use crate::domain::model::objects::GROUP_ANNOTATION;
use crate::domain::model::protected::Refusal;
use crate::domain::sign_in::admission::{Identity, Mode, Skip, admit};
use crate::domain::sign_in::conventions::{ClusterFacts, Conventions};
use crate::domain::sign_in::desired::{DesiredState, desired_state};
use crate::domain::sign_in::event::TokenEvent;
use crate::domain::sign_in::metrics::SignInMetrics;
use crate::domain::sign_in::metrics::gate_refusal_emf;
use crate::domain::sign_in::pace::Pace;
use crate::domain::sign_in::plan::{Observed, Plan, plan, profile_owner, record_activity};
use crate::domain::sign_in::summary::{
    SignInSummary, SignInVerdict, Write, planned_changes, verdict,
};
use crate::domain::sign_in::token::gated;
use crate::error::{Error, SignInFailed};
use crate::kubernetes::execute::{execute, log_change};
use crate::kubernetes::observe::observe;
use crate::kubernetes::policy::RequestPolicy;
use crate::lambda::logging::emit_metrics;
use log::{log_refused, log_report};

/// Time kept back from Lambda's own deadline to send the answer.
const ANSWER_MARGIN: Duration = Duration::from_millis(150);
/// A sign-in's requests end this much before its budget does, so that one cut by the deadline
/// comes back as such (a group deferred) before the budget's own timeout ends the sign-in.
const REQUESTS_END_EARLIER: Duration = Duration::from_millis(50);

/// How a sign-in was handled (the event goes back unchanged in every case).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing to provision: why.
    Skipped(Skip),
    /// Provisioned, on every cluster (in `CLUSTER_NAME`'s order).
    Synchronised(Vec<ClusterSignIn>),
    /// Provisioning failed and `FAIL_MODE=open` let the sign-in through.
    FailedOpen,
    /// The gate refused the person (`SIGN_IN_GATE`): their groups admit no namespace. What
    /// access they still had was removed first.
    Gated,
}

/// What a sign-in did on one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSignIn {
    pub cluster: String,
    pub summary: SignInSummary,
}

impl Outcome {
    /// The first cluster's summary, when the sign-in was provisioned.
    pub fn summary(&self) -> Option<&SignInSummary> {
        match self {
            Outcome::Synchronised(clusters) => clusters.first().map(|c| &c.summary),
            _ => None,
        }
    }
}

impl App {
    /// Handles one Pre Token Generation event. `remaining` is the time Lambda still allows.
    /// The caller returns the event unchanged on `Ok`.
    pub async fn handle(
        &self,
        raw_event: &str,
        remaining: Option<Duration>,
    ) -> Result<Outcome, SignInFailed> {
        let (identity, mode) = match TokenEvent::parse(raw_event) {
            Ok(event) => match admit(&event, &self.config.sign_in) {
                Ok(admitted) => admitted,
                Err(skip) => {
                    // User-supplied values are logged escaped (`?`), never as raw text.
                    if matches!(skip, Skip::MachineToMachine | Skip::RefreshNotSynchronised) {
                        // Expected: said, not warned about.
                        tracing::info!(user = ?event.user_name, reason = %skip, "event skipped");
                    } else {
                        tracing::warn!(user = ?event.user_name, reason = %skip, "nothing provisioned");
                    }
                    // A federated person with no usable identity admits no namespace either.
                    let unusable = matches!(skip, Skip::Email(_) | Skip::NoUsableSub);
                    if unusable && event.is_federated_sign_in() && self.gate_refuses() {
                        return Ok(Outcome::Gated);
                    }
                    return Ok(Outcome::Skipped(skip));
                }
            },
            Err(error) => {
                tracing::warn!(%error, "not a Pre Token Generation event; returned unchanged");
                return Ok(Outcome::Skipped(Skip::NotATokenEvent));
            }
        };

        // A person the gate refuses is only taken out of what they still had, and not
        // recorded as active.
        let gate = gated(&identity, mode, &self.config)
            && {
                tracing::warn!(user = ?identity.email, groups = ?identity.groups, "sign-in refused by the gate: no group admits a namespace (SIGN_IN_GATE)");
                self.gate_refuses()
            };
        let (identity, mode) = if gate {
            let quiet = Identity {
                signed_in: false,
                ..identity
            };
            (quiet, Mode::RevokeOnly)
        } else {
            (identity, mode)
        };
        let budget = Budget::new(Instant::now(), remaining, self.time_rule());
        // Every cluster at once, inside the one budget.
        let results = self
            .on_every_cluster(|cluster| self.sign_in_on(cluster, &identity, mode, budget))
            .await;
        let failed_modes = self
            .clusters
            .iter()
            .zip(&results)
            .filter(|(_, result)| result.is_err())
            .map(|(cluster, _)| self.config.clusters.fail_mode.of(&cluster.target));
        match verdict(failed_modes) {
            _ if gate => Ok(Outcome::Gated),
            SignInVerdict::Synchronised => Ok(Outcome::Synchronised(
                results.into_iter().filter_map(Result::ok).collect(),
            )),
            SignInVerdict::FailedOpen => Ok(Outcome::FailedOpen),
            SignInVerdict::FailedClosed => Err(SignInFailed),
        }
    }

    /// Whether a sign-in the gate would refuse is refused: counted, and refused unless
    /// `DRY_RUN` (which only logs that it would be).
    fn gate_refuses(&self) -> bool {
        if self.config.token.gate.is_none() {
            return false;
        }
        if self.config.dry_run {
            tracing::info!(action = "would-refuse", "change");
            return false;
        }
        emit_metrics(&gate_refusal_emf((self.clock)()));
        true
    }

    /// A sign-in's use of Lambda's time: at most `TIME_BUDGET_MS`, and [`ANSWER_MARGIN`] before
    /// Lambda's deadline.
    fn time_rule(&self) -> TimeRule {
        TimeRule {
            at_most: Some(self.config.sign_in.time_budget),
            when_unknown: self.config.sign_in.time_budget + ANSWER_MARGIN,
            answer_margin: |_| ANSWER_MARGIN,
            finish_margin: |_| REQUESTS_END_EARLIER,
        }
    }

    /// One sign-in on one cluster, inside `budget`: its metrics line and its log
    /// line, and its report, or `Err` (logged) when it failed.
    async fn sign_in_on(
        &self,
        cluster: &ClusterSession,
        identity: &Identity,
        mode: Mode,
        budget: Budget,
    ) -> Result<ClusterSignIn, ()> {
        let mut requests = 0;
        let result = match tokio::time::timeout_at(
            budget.deadline,
            self.provision(cluster, identity, mode, budget.stop_starting, &mut requests),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(Error::TimeBudget {
                budget_ms: budget.length().as_millis(),
            }),
        };
        let result = result.and_then(|report| match report.failures.first() {
            None => Ok(report),
            Some(first) => Err(Error::Changes {
                failed: report.failures.len(),
                first: first.clone(),
            }),
        });
        let elapsed = budget.started.elapsed();
        let label = cluster.label();
        let metrics = SignInMetrics::new(result.as_ref().ok(), elapsed, requests);
        emit_metrics(&metrics.emf(&label, (self.clock)()));
        match result {
            Ok(report) => {
                log_report(
                    &label,
                    identity,
                    mode,
                    &report,
                    elapsed,
                    requests,
                    &self.config,
                );
                Ok(ClusterSignIn {
                    cluster: label,
                    summary: report,
                })
            }
            Err(error) => {
                tracing::error!(
                    cluster = %label,
                    user = ?identity.email,
                    error = error.chain(),
                    hint = error.hint().unwrap_or(""),
                    duration_ms = elapsed.as_millis() as u64,
                    api_requests = requests,
                    fail_mode = self.config.clusters.fail_mode.of(&cluster.target).as_str(),
                    "sign-in provisioning failed"
                );
                Err(())
            }
        }
    }

    /// Observes, plans and (unless `DRY_RUN`) executes one sign-in, minting a new token and
    /// trying once more if the API server refuses the one it had.
    async fn provision(
        &self,
        cluster: &ClusterSession,
        identity: &Identity,
        mode: Mode,
        deadline: Instant,
        requests: &mut u32,
    ) -> Result<SignInSummary, Error> {
        let mut renew = false;
        loop {
            let policy = RequestPolicy::for_sign_in(deadline);
            let client = cluster.client(policy.clone(), renew).await?;
            let result = self
                .sign_in_once(cluster, &client, &policy, identity, mode, !renew)
                .await;
            *requests += policy.requests();
            match result {
                Err(error) if error.is_unauthorized() && !renew => {
                    tracing::warn!(
                        cluster = %cluster.label(),
                        "the API server refused the bearer token; minting a new one and retrying once"
                    );
                    renew = true;
                }
                other => return other,
            }
        }
    }

    /// One attempt of a sign-in on `cluster` through `client` (under `policy`, whose deadline
    /// the teams' roles keep too): observe, plan
    /// and (unless `DRY_RUN`) execute, then the teams' roles. `log_refusals` logs each refused
    /// group (not again on the retry after a 401).
    async fn sign_in_once(
        &self,
        cluster: &ClusterSession,
        client: &kube::Client,
        policy: &RequestPolicy,
        identity: &Identity,
        mode: Mode,
        log_refusals: bool,
    ) -> Result<SignInSummary, Error> {
        let deadline = policy.deadline();
        let facts = cluster.facts(client).await?;
        // Logged once per sign-in, not again on the retry after a 401.
        let mut planned = self
            .read_and_plan(cluster, client, facts, identity, mode, log_refusals)
            .await?;
        if self.config.dry_run {
            return Ok(self.dry_run(&planned));
        }
        // Only a sign-in is activity, never a token refresh.
        if identity.signed_in {
            record_activity(
                &mut planned.plan,
                &planned.desired,
                &planned.observed,
                (self.clock)(),
            );
        }
        let round_trip = policy
            .fastest_answer()
            .unwrap_or(Duration::from_millis(100));
        let pace = Pace::new(round_trip);
        let summary = execute(
            client,
            &planned.plan,
            &self.config.sign_in.group_profile_owner,
            &planned.desired.user_key,
            deadline,
            pace,
        )
        .await?;
        self.set_up_teams(cluster, client, &planned, &summary, deadline)
            .await;
        Ok(summary)
    }

    /// What a sign-in would change, logged (`DRY_RUN`): its writes, the teams' roles and
    /// defaults.
    fn dry_run(&self, planned: &Planned) -> SignInSummary {
        for (write, object) in planned_changes(&planned.plan) {
            log_change(write.dry_run_action(), object);
        }
        let summary = SignInSummary::dry_run(&planned.plan);
        let (roles, owing) = self.teams_due(planned, &summary.granted);
        for due in roles {
            tracing::info!(
                action = "would-associate",
                namespace = due.namespace.as_str(),
                role = due.role_arn.as_str(),
                "change"
            );
        }
        for namespace in owing {
            for object in self.config.sign_in.team_defaults.in_namespace(&namespace) {
                log_change(Write::Create.dry_run_action(), &object);
            }
        }
        summary
    }

    /// What a sign-in of `identity` would change: its desired state (under the conventions the
    /// cluster shows) against what the cluster holds. `log_refusals` logs each refused group.
    pub(crate) async fn read_and_plan(
        &self,
        cluster: &ClusterSession,
        client: &kube::Client,
        facts: ClusterFacts,
        identity: &Identity,
        mode: Mode,
        log_refusals: bool,
    ) -> Result<Planned, Error> {
        let (twins, _) = facts
            .twins(self.config.istio.authz)
            .map_err(Error::Conventions)?;
        // What to read depends on the person and their groups, not on the cluster's
        // conventions, which are complete only once the Profiles are read.
        let lookup = desired_state(
            identity,
            mode,
            &self.config,
            &Conventions::defaults(twins.clone()),
        );
        for refused in lookup.refused.iter().filter(|_| log_refusals) {
            log_refused(None, refused);
        }
        let observed = observe(
            client,
            &lookup,
            &facts.binding_kinds(&twins),
            &facts.owner_namespaces(),
        )
        .await?;
        let mut facts = facts;
        if facts.learn_owner(&observed.profiles) {
            cluster.keep_facts(&facts).await;
        }
        let mut conventions = facts.conventions(twins, &self.config);
        conventions.recorded_teams = recorded_teams(&observed, &self.config);
        let desired = desired_state(identity, mode, &self.config, &conventions);
        let plan = plan(
            &desired,
            &observed,
            &self.config.sign_in.group_profile_owner,
        );
        let unreachable = plan
            .refused
            .iter()
            .filter(|r| r.reason == Refusal::WorkloadsUnreachable && log_refusals);
        for refused in unreachable {
            log_refused(Some(&cluster.label()), refused);
        }
        Ok(Planned {
            desired,
            observed,
            plan,
        })
    }
}

/// A sign-in's plan with what it was made from.
pub(crate) struct Planned {
    pub desired: DesiredState,
    pub observed: Observed,
    pub plan: Plan,
}

/// The AD groups (ASCII lowercase) recorded by the group Profiles a sign-in read, owned by
/// `GROUP_PROFILE_OWNER`.
fn recorded_teams(observed: &Observed, config: &Config) -> std::collections::BTreeSet<String> {
    observed
        .profiles
        .values()
        .filter(|p| profile_owner(p) == Some(config.sign_in.group_profile_owner.as_str()))
        .filter_map(|p| p.meta("annotations", GROUP_ANNOTATION))
        .map(str::to_ascii_lowercase)
        .collect()
}
