//! # kubeflow-profile-manager
//!
//! A Cognito Pre Token Generation trigger that gives people signing in through Active Directory
//! their Kubeflow access on EKS: a personal Profile, a Profile per AD group, and contributor
//! access (a RoleBinding plus its Istio twin) in each group namespace; access the user's groups
//! no longer call for is removed. The event is returned exactly as received.
//!
//! The folders carry the design: [`domain`] is the pure core (event, admission, names, desired
//! state, plan, report); [`eks`], [`kubernetes`] and [`lambda`] are the I/O edges. [`App`] holds
//! what a warm container keeps, and [`App::handle`] reads as admission (pure), provisioning
//! (observe, plan, execute) and the `FAIL_MODE` verdict (pure).
#![forbid(unsafe_code)]

mod access_report;
pub mod cognito;
mod doctor;
pub mod domain;
pub mod eks;
pub mod error;
pub mod kubernetes;
pub mod lambda;
mod offboarding;
pub mod session;

pub use domain::config;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::domain::access::{AccessReport, ReportFormat};
use crate::domain::admission::{Identity, Mode, Skip, admit};
use crate::domain::config::Config;
use crate::domain::conventions::{ClusterFacts, Conventions};
use crate::domain::desired::{DesiredState, RefusedGroup, desired_state};
use crate::domain::doctor::{DoctorReport, Invocation, classify};
use crate::domain::event::TokenEvent;
use crate::domain::metrics::SignInMetrics;
use crate::domain::objects::GROUP_ANNOTATION;
use crate::domain::pace::Pace;
use crate::domain::plan::{Observed, Plan, plan, profile_owner, record_activity};
use crate::domain::protected::Refusal;
use crate::domain::report::{SyncReport, Verdict, log_change, planned_changes, verdict};
use crate::domain::sweep::SweepAnswer;
use crate::error::{Error, InvocationFailed, SignInFailed};
use crate::kubernetes::execute::execute;
use crate::kubernetes::observe::observe;
use crate::kubernetes::policy::SignInPolicy;
use crate::session::ClusterSession;

/// Time kept back from Lambda's own deadline to send the answer.
const ANSWER_MARGIN: Duration = Duration::from_millis(150);

/// The wall clock, injected so tests can move it.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// How a sign-in was handled (the event goes back unchanged in every case).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing to provision: why.
    Skipped(Skip),
    /// Provisioned, on every cluster (in `CLUSTER_NAME`'s order).
    Synchronised(Vec<ClusterReport>),
    /// Provisioning failed and `FAIL_MODE=open` let the sign-in through.
    FailedOpen,
}

/// What a sign-in did on one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterReport {
    pub cluster: String,
    pub report: SyncReport,
}

impl Outcome {
    /// The first cluster's report, when the sign-in was provisioned.
    pub fn report(&self) -> Option<&SyncReport> {
        match self {
            Outcome::Synchronised(clusters) => clusters.first().map(|c| &c.report),
            _ => None,
        }
    }
}

/// What an invocation answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The event, exactly as received.
    Unchanged,
    /// The doctor's report.
    Report(DoctorReport),
    /// What the sweep did.
    Sweep(SweepAnswer),
    /// The access report.
    Access(AccessAnswer),
}

/// The access report as asked: JSON, or one CSV table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum AccessAnswer {
    Json(AccessReport),
    /// One CSV table, and where the next page starts.
    Csv {
        csv: String,
        next: Option<String>,
    },
}

/// What a warm container keeps between sign-ins.
pub struct App {
    config: Config,
    cognito: aws_sdk_cognitoidentityprovider::Client,
    region: String,
    clock: Clock,
    /// One per cluster of `CLUSTER_NAME`, in its order.
    clusters: Vec<ClusterSession>,
}

impl App {
    /// Builds the app from the configuration and the AWS SDK configuration; no network.
    pub fn new(config: Config, sdk: &aws_config::SdkConfig, clock: Clock) -> Result<Self, Error> {
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or(Error::AwsSetup("region (set AWS_REGION)"))?;
        let credentials = sdk
            .credentials_provider()
            .ok_or(Error::AwsSetup("credentials provider"))?;
        let clusters = config
            .clusters
            .iter()
            .map(|target| {
                ClusterSession::new(
                    target.clone(),
                    sdk,
                    &region,
                    credentials.clone(),
                    clock.clone(),
                    config.istio_authz,
                )
            })
            .collect();
        Ok(App {
            config,
            cognito: aws_sdk_cognitoidentityprovider::Client::new(sdk),
            region,
            clock,
            clusters,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Bearer tokens minted by this container so far, for every cluster.
    pub fn token_mints(&self) -> u32 {
        self.clusters.iter().map(ClusterSession::token_mints).sum()
    }

    /// Handles one invocation: a Cognito event (the caller returns it unchanged on
    /// [`Answer::Unchanged`]) or a command to this function (the doctor, the sweep, the access
    /// report).
    pub async fn invoke(
        &self,
        raw: &str,
        remaining: Option<Duration>,
    ) -> Result<Answer, InvocationFailed> {
        let invocation = classify(raw);
        if let Some(message) = invocation.refused_by(self.config.function_role) {
            tracing::warn!(%message, "invocation refused");
            return Err(InvocationFailed::WrongFunction(message));
        }
        match invocation {
            Invocation::SignIn => {
                self.handle(raw, remaining).await?;
                Ok(Answer::Unchanged)
            }
            Invocation::Doctor(request) => {
                Ok(Answer::Report(self.doctor(&request, remaining).await))
            }
            Invocation::Sweep => self
                .sweep(remaining)
                .await
                .map(Answer::Sweep)
                .map_err(|error| command_failed("sweep", &error)),
            Invocation::AccessReport(request) => {
                let report = self
                    .access_report(&request, remaining)
                    .await
                    .map_err(|error| command_failed("access-report", &error))?;
                Ok(Answer::Access(match request.format {
                    ReportFormat::Json => AccessAnswer::Json(report),
                    ReportFormat::Csv => AccessAnswer::Csv {
                        csv: report.to_csv(),
                        next: report.next.clone(),
                    },
                }))
            }
            Invocation::BadCommand(message) => {
                tracing::warn!(%message, "command refused");
                Err(InvocationFailed::BadCommand(message))
            }
        }
    }

    /// Handles one Pre Token Generation event. `remaining` is the time Lambda still allows.
    /// The caller returns the event unchanged on `Ok`.
    pub async fn handle(
        &self,
        raw_event: &str,
        remaining: Option<Duration>,
    ) -> Result<Outcome, SignInFailed> {
        let (identity, mode) = match TokenEvent::parse(raw_event) {
            Ok(event) => match admit(&event, &self.config) {
                Ok(admitted) => admitted,
                Err(skip) => {
                    // User-supplied values are logged escaped (`?`), never as raw text.
                    if matches!(skip, Skip::MachineToMachine | Skip::RefreshNotSynchronised) {
                        // Expected: said, not warned about.
                        tracing::info!(user = ?event.user_name, reason = %skip, "event skipped");
                    } else {
                        tracing::warn!(user = ?event.user_name, reason = %skip, "nothing provisioned");
                    }
                    return Ok(Outcome::Skipped(skip));
                }
            },
            Err(error) => {
                tracing::warn!(%error, "not a Pre Token Generation event; returned unchanged");
                return Ok(Outcome::Skipped(Skip::NotATokenEvent));
            }
        };

        let started = Instant::now();
        let budget = remaining
            .map(|r| r.saturating_sub(ANSWER_MARGIN))
            .map_or(self.config.time_budget, |r| r.min(self.config.time_budget));
        // Every cluster at once, inside the one budget.
        let results = futures::future::join_all(
            self.clusters
                .iter()
                .map(|cluster| self.sign_in_on(cluster, &identity, mode, started, budget)),
        )
        .await;
        let failed_modes = self
            .clusters
            .iter()
            .zip(&results)
            .filter(|(_, result)| result.is_err())
            .map(|(cluster, _)| self.config.fail_mode.of(&cluster.target));
        match verdict(failed_modes) {
            Verdict::Synchronised => Ok(Outcome::Synchronised(
                results.into_iter().filter_map(Result::ok).collect(),
            )),
            Verdict::FailedOpen => Ok(Outcome::FailedOpen),
            Verdict::FailedClosed => Err(SignInFailed),
        }
    }

    /// One sign-in on one cluster, inside `budget` from `started`: its metrics line and its log
    /// line, and its report, or `Err` (logged) when it failed.
    async fn sign_in_on(
        &self,
        cluster: &ClusterSession,
        identity: &Identity,
        mode: Mode,
        started: Instant,
        budget: Duration,
    ) -> Result<ClusterReport, ()> {
        let mut requests = 0;
        let result = match tokio::time::timeout_at(
            started + budget,
            self.provision(cluster, identity, mode, started + budget, &mut requests),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(Error::TimeBudget {
                budget_ms: budget.as_millis(),
            }),
        };
        let result = result.and_then(|report| match report.failures.first() {
            None => Ok(report),
            Some(first) => Err(Error::Changes {
                failed: report.failures.len(),
                first: first.clone(),
            }),
        });
        let elapsed = started.elapsed();
        let label = cluster.label();
        SignInMetrics::new(result.as_ref().ok(), elapsed, requests).emit(&label, (self.clock)());
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
                Ok(ClusterReport {
                    cluster: label,
                    report,
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
                    fail_mode = self.config.fail_mode.of(&cluster.target).as_str(),
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
    ) -> Result<SyncReport, Error> {
        let mut renew = false;
        loop {
            let policy = SignInPolicy::new(deadline);
            let client = cluster.client(policy.clone(), renew).await?;
            let result = async {
                let facts = cluster.facts(&client).await?;
                // Logged once per sign-in, not again on the retry after a 401.
                let mut planned = self
                    .read_and_plan(cluster, &client, facts, identity, mode, !renew)
                    .await?;
                if self.config.dry_run {
                    for (write, object) in planned_changes(&planned.plan) {
                        log_change(write.dry_run_action(), object);
                    }
                    return Ok(SyncReport::dry_run(&planned.plan));
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
                execute(
                    &client,
                    &planned.plan,
                    &self.config.group_profile_owner,
                    &planned.desired.user_key,
                    deadline,
                    pace,
                )
                .await
            }
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

    /// What a sign-in of `identity` would change: its desired state (under the conventions the
    /// cluster shows) against what the cluster holds. `log_refusals` logs each refused group.
    async fn read_and_plan(
        &self,
        cluster: &ClusterSession,
        client: &kube::Client,
        facts: ClusterFacts,
        identity: &Identity,
        mode: Mode,
        log_refusals: bool,
    ) -> Result<Planned, Error> {
        let (twins, _) = facts
            .twins(self.config.istio_authz)
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
        let plan = plan(&desired, &observed, &self.config.group_profile_owner);
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

/// The AD groups (ASCII lowercase) recorded by the group Profiles a sign-in read, owned by
/// `GROUP_PROFILE_OWNER`.
fn recorded_teams(observed: &Observed, config: &Config) -> std::collections::BTreeSet<String> {
    observed
        .profiles
        .values()
        .filter(|p| profile_owner(p) == Some(config.group_profile_owner.as_str()))
        .filter_map(|p| p.meta("annotations", GROUP_ANNOTATION))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// One refused group's log line; `cluster` when the refusal depends on the cluster (the same
/// group may be granted on another). The group is untrusted and logged escaped; the namespace
/// is a DNS label this function derived, and the reason escapes what it quotes.
fn log_refused(cluster: Option<&str>, refused: &RefusedGroup) {
    tracing::warn!(cluster, group = ?refused.group, namespace = refused.namespace.as_deref(), reason = %refused.reason, "group refused");
}

/// A command that failed: logged with its causes and fix, reported to Lambda with them.
fn command_failed(command: &'static str, error: &Error) -> InvocationFailed {
    tracing::error!(
        command,
        error = error.chain(),
        hint = error.hint().unwrap_or(""),
        "command failed"
    );
    InvocationFailed::CommandFailed(format!("{command}: {}", error.with_fix()))
}

/// A sign-in's plan with what it was made from.
struct Planned {
    desired: DesiredState,
    observed: Observed,
    plan: Plan,
}

/// The summary of a provisioned sign-in (and what it withheld or deferred).
fn log_report(
    cluster: &str,
    identity: &Identity,
    mode: Mode,
    report: &SyncReport,
    elapsed: Duration,
    requests: u32,
    config: &Config,
) {
    if !report.withheld.is_empty() {
        tracing::info!(
            cluster,
            user = ?identity.email,
            groups = ?report.withheld,
            "groups not granted: this sign-in's groups were not just asserted by the identity provider (a refresh or a local user); they are granted at the next federated sign-in"
        );
    }
    if !report.deferred.is_empty() || report.deferred_deletions > 0 {
        tracing::warn!(
            cluster,
            user = ?identity.email,
            groups = ?report.deferred,
            deletions = report.deferred_deletions,
            "more changes than one sign-in makes; the rest is done at the next sign-in"
        );
    }
    let outcome = match (report.changes, config.dry_run) {
        (0, _) => "nothing to change",
        (_, true) => "changes logged, none made (dry run)",
        (_, false) => "changes made",
    };
    tracing::info!(
        cluster,
        user = ?identity.email,
        sub = identity.sub.as_str(),
        outcome,
        mode = ?mode,
        granted = ?report.granted,
        revoked = ?report.revoked,
        refused = ?report.refused.iter().map(|r| format!("{}: {}", r.group, r.reason)).collect::<Vec<_>>(),
        changes = report.changes,
        duration_ms = elapsed.as_millis() as u64,
        api_requests = requests,
        dry_run = config.dry_run,
        "sign-in synchronised"
    );
}
