//! The offboarding sweep and the access report (decisions in [`crate::domain::sweep`] and
//! [`crate::domain::access`]): what this function manages, read in pages; each person checked
//! against their activity and the user pool, a few at a time, inside the invocation's time; their
//! bindings revoked when they left. I/O.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{OnceCell, Semaphore};
use tokio::time::Instant;

use crate::App;
use crate::cognito::users::{LookupFailed, pool_user};
use crate::domain::access::{AccessReport, ReportRequest, access_report};
use crate::domain::activity::{
    Annotate, SWEEP_RESUME_ANNOTATION, record_annotations, rfc3339, seconds,
};
use crate::domain::mesh;
use crate::domain::objects::{Kind, Object};
use crate::domain::sweep::{
    ManagedUser, PoolUser, Reason, SweepAnswer, SweepSummary, Verdict, first_look, judge,
    managed_users, revocation_order, sweep_order,
};
use crate::error::Error;
use crate::kubernetes::execute::annotate;
use crate::kubernetes::inventory::{inventory, mesh_labels};
use crate::kubernetes::policy::SignInPolicy;
use crate::kubernetes::typed::KindApi;
use crate::session::ClusterSession;

/// The longest a command takes when Lambda does not say how long it has.
const COMMAND_BUDGET: Duration = Duration::from_secs(60);
/// Kept back from Lambda's deadline (a fifth of the time, when that is less): no person is
/// started later, so that the last ones finish, the resume mark is written and the summary goes
/// out; requests end a tenth of it before the deadline.
const SWEEP_MARGIN: Duration = Duration::from_secs(10);
/// People checked at once, over every cluster: each is at most one `AdminGetUser` (it counts
/// against the account's Cognito request rate quota, shared with everything else in the
/// region) and, rarely, a few deletes.
const PEOPLE_AT_ONCE: usize = 4;

/// When a command started at `started`, with `remaining` of Lambda's time (else
/// [`COMMAND_BUDGET`]), ends its requests, and when it stops starting new work.
fn command_times(started: Instant, remaining: Option<Duration>) -> (Instant, Instant) {
    let remaining = remaining.unwrap_or(COMMAND_BUDGET);
    let margin = SWEEP_MARGIN.min(remaining / 5);
    (
        started + remaining - margin / 10,
        started + remaining - margin,
    )
}

/// What one sweep shares across its clusters.
struct SweepRun {
    pool_id: String,
    now: std::time::SystemTime,
    /// Requests end here.
    deadline: Instant,
    /// No person is started after this.
    stop_starting: Instant,
    /// What the pool said of each user name asked about so far (empty while being asked, or
    /// when it did not answer).
    answers: Mutex<HashMap<String, Arc<OnceCell<PoolUser>>>>,
    cognito_slots: Semaphore,
    cognito_requests: AtomicU32,
}

/// What became of one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Stamped,
    Kept,
    Revoked(Reason, usize),
    /// Checked but not settled: asked again at the next run.
    Left,
    /// Not reached before the run's time was up.
    NotStarted,
}

impl App {
    /// One sweep: every person whose access this function manages, on every cluster at once,
    /// each checked once, from where the latest interrupted sweep of that cluster stopped.
    /// `remaining` is the time Lambda still allows. A cluster that cannot be swept fails the
    /// invocation after the others are done.
    pub async fn sweep(&self, remaining: Option<Duration>) -> Result<SweepAnswer, Error> {
        let started = Instant::now();
        let (deadline, stop_starting) = command_times(started, remaining);
        let run = SweepRun {
            pool_id: self
                .config
                .user_pool_id
                .clone()
                .ok_or(Error::AwsSetup("user pool (set USER_POOL_ID)"))?,
            now: (self.clock)(),
            deadline,
            stop_starting,
            answers: Mutex::new(HashMap::new()),
            cognito_slots: Semaphore::new(PEOPLE_AT_ONCE),
            cognito_requests: AtomicU32::new(0),
        };
        let results = futures::future::join_all(
            self.clusters
                .iter()
                .map(|cluster| self.sweep_cluster(cluster, &run, started)),
        )
        .await;
        let mut answer = SweepAnswer::default();
        let mut failures = Vec::new();
        for (cluster, result) in self.clusters.iter().zip(results) {
            match result {
                Ok(summary) => answer.add(cluster.label(), summary),
                // Logged once, with the command's failure.
                Err(error) => failures.push((cluster.label(), error)),
            }
        }
        answer.total.set_duration(started.elapsed());
        match Error::of_clusters(failures) {
            Some(error) => Err(error),
            None => Ok(answer),
        }
    }

    /// The sweep of one cluster: its summary line and its EMF line.
    async fn sweep_cluster(
        &self,
        cluster: &ClusterSession,
        run: &SweepRun,
        started: Instant,
    ) -> Result<SweepSummary, Error> {
        let label = cluster.label();
        let policy = SignInPolicy::for_command(run.deadline);
        // A fresh token: a sweep may outlast one minted for an earlier invocation.
        let client = cluster.client(policy.clone(), true).await?;
        let users = self.managed_users(cluster, &client).await?;
        let order = sweep_order(&users);
        let fatal: Mutex<Option<Error>> = Mutex::new(None);
        let asked = AtomicU32::new(0);
        let fates: Vec<(usize, Fate)> = futures::stream::iter(order.iter().copied())
            .map(|index| {
                let (client, users, fatal, asked) = (&client, &users, &fatal, &asked);
                async move {
                    let stopped = fatal.lock().unwrap_or_else(|p| p.into_inner()).is_some();
                    if stopped || Instant::now() >= run.stop_starting {
                        return (index, Fate::NotStarted);
                    }
                    match self.check_person(client, &users[index], run, asked).await {
                        Ok(fate) => (index, fate),
                        Err(error) => {
                            fatal
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(error);
                            (index, Fate::NotStarted)
                        }
                    }
                }
            })
            .buffer_unordered(PEOPLE_AT_ONCE)
            .collect()
            .await;

        let mut summary = SweepSummary {
            users: users.len(),
            dry_run: self.config.dry_run,
            inactive_days: self.config.inactive_days,
            ..SweepSummary::default()
        };
        let mut not_started: HashSet<usize> = HashSet::new();
        for (index, fate) in &fates {
            match *fate {
                Fate::Stamped => summary.stamped += 1,
                Fate::Kept => summary.kept += 1,
                Fate::Revoked(reason, deleted) => {
                    summary.record_revocation(reason);
                    summary.bindings_deleted += deleted;
                }
                Fate::Left => summary.left_for_next_run += 1,
                Fate::NotStarted => drop(not_started.insert(*index)),
            }
        }
        let kept = fates
            .iter()
            .filter(|(_, fate)| matches!(fate, Fate::Kept | Fate::Stamped))
            .flat_map(|(index, _)| &users[*index].bindings);
        summary.policies_reshaped = self.reshape_policies(&client, kept).await;
        summary.checked = fates.len() - not_started.len();
        summary.left_for_next_run += not_started.len();
        summary.finished = not_started.is_empty() && summary.left_for_next_run == 0;
        // Resume where this run stopped: the first person, in this run's order, not reached.
        let first_not_started = order.iter().find(|i| not_started.contains(i));
        if let Some(person) = first_not_started.and_then(|i| users[*i].anchor())
            && !self.config.dry_run
        {
            let mark = json!({SWEEP_RESUME_ANNOTATION: rfc3339(seconds(run.now))});
            annotate(&client, &Annotate::new(person, mark)).await;
        }
        summary.kubernetes_requests = policy.requests();
        summary.cognito_requests = asked.load(Ordering::Relaxed);
        summary.set_duration(started.elapsed());
        println!("{}", summary.emf(&label, (self.clock)()));
        tracing::info!(
            cluster = %label,
            users = summary.users,
            checked = summary.checked,
            stamped = summary.stamped,
            kept = summary.kept,
            revoked = summary.revoked(),
            deleted_users = summary.revoked_deleted,
            disabled_users = summary.revoked_disabled,
            replaced_users = summary.revoked_replaced,
            inactive_users = summary.revoked_inactive,
            bindings_deleted = summary.bindings_deleted,
            policies_reshaped = summary.policies_reshaped,
            left_for_next_run = summary.left_for_next_run,
            finished = summary.finished,
            dry_run = summary.dry_run,
            inactive_days = summary.inactive_days,
            duration_ms = summary.duration_ms,
            kubernetes_requests = summary.kubernetes_requests,
            cognito_requests = summary.cognito_requests,
            "sweep"
        );
        match fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(error) => Err(error),
            None => Ok(summary),
        }
    }

    /// The access report `request` asks for, of every cluster.
    pub async fn access_report(
        &self,
        request: &ReportRequest,
        remaining: Option<Duration>,
    ) -> Result<AccessReport, Error> {
        let (deadline, _) = command_times(Instant::now(), remaining);
        let read = futures::future::join_all(self.clusters.iter().map(|cluster| async move {
            let client = cluster
                .client(SignInPolicy::for_command(deadline), false)
                .await?;
            let users = self.managed_users(cluster, &client).await?;
            Ok::<_, Error>((cluster.label(), users))
        }))
        .await;
        let clusters = read.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(access_report(
            &clusters,
            request,
            (self.clock)(),
            self.config.inactive_days,
        ))
    }

    /// Everyone this function manages access for on `cluster`, by key.
    async fn managed_users(
        &self,
        cluster: &ClusterSession,
        client: &kube::Client,
    ) -> Result<Vec<ManagedUser>, Error> {
        let facts = cluster.facts(client).await?;
        let (twins, _) = facts
            .twins(self.config.istio_authz)
            .map_err(Error::Conventions)?;
        let inventory = inventory(client, &facts.binding_kinds(&twins)).await?;
        Ok(managed_users(
            inventory.bindings,
            &inventory.profiles,
            &self.config.group_profile_owner,
        ))
    }

    /// Checks one person and acts on the verdict. `Err` only for what stops the whole sweep.
    async fn check_person(
        &self,
        client: &kube::Client,
        person: &ManagedUser,
        run: &SweepRun,
        asked: &AtomicU32,
    ) -> Result<Fate, Error> {
        let verdict = match first_look(person, run.now, self.config.inactive_days) {
            Verdict::AskPool(username) => match self.pool_user(run, &username, asked).await {
                Ok(answer) => judge(person, &answer),
                Err(LookupFailed::ForNow(why)) => {
                    tracing::warn!(sub = person.key.as_str(), %why, "the user pool did not answer; left for the next run");
                    return Ok(Fate::Left);
                }
                Err(LookupFailed::Always(error)) => return Err(error),
            },
            verdict => verdict,
        };
        let marked = person.resume_mark().is_some();
        let dry_run = self.config.dry_run;
        Ok(match verdict {
            Verdict::Stamp => {
                let Some(anchor) = person.anchor() else {
                    return Ok(Fate::Kept);
                };
                let mut annotations = record_annotations(run.now, None);
                if marked {
                    annotations[SWEEP_RESUME_ANNOTATION] = Value::Null;
                }
                if dry_run {
                    tracing::info!(object = %anchor.describe(), "would-stamp");
                    Fate::Stamped
                } else if annotate(client, &Annotate::new(anchor, annotations)).await {
                    Fate::Stamped
                } else {
                    Fate::Left
                }
            }
            Verdict::Keep | Verdict::AskPool(_) => {
                if marked && !dry_run {
                    self.unmark(client, person).await;
                }
                Fate::Kept
            }
            Verdict::Revoke(reason) => self.revoke(client, person, reason).await,
        })
    }

    /// What the pool says of `username`: asked once per sweep (a person may be on several
    /// clusters), at most [`PEOPLE_AT_ONCE`] questions in flight over every cluster, and only
    /// until the run's deadline.
    async fn pool_user(
        &self,
        run: &SweepRun,
        username: &str,
        asked: &AtomicU32,
    ) -> Result<PoolUser, LookupFailed> {
        // One cell per user name: a second cluster asking about the same person waits for the
        // first one's answer instead of asking again.
        let cell = run
            .answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(username.to_owned())
            .or_default()
            .clone();
        let ask = || async {
            let _slot = run.cognito_slots.acquire().await;
            run.cognito_requests.fetch_add(1, Ordering::Relaxed);
            asked.fetch_add(1, Ordering::Relaxed);
            pool_user(&self.cognito, &run.pool_id, username).await
        };
        tokio::time::timeout_at(run.deadline, cell.get_or_try_init(ask))
            .await
            .unwrap_or_else(|_| Err(LookupFailed::ForNow("no answer in time".into())))
            .cloned()
    }

    /// Brings the contributor policies among `bindings` (of the people kept) to the shape their
    /// namespace's mesh mode calls for now, as a sign-in would: an operator who switched a
    /// namespace between sidecar and ambient finds its contributors' access working by the
    /// next sweep ([`mesh::misshapen`]). Each is re-read and applied only while it is that
    /// version; one that cannot be is logged and left for the next sweep or sign-in. How many
    /// were reshaped (or, in a dry run, would be).
    async fn reshape_policies<'a>(
        &self,
        client: &kube::Client,
        bindings: impl Iterator<Item = &'a Object>,
    ) -> usize {
        let policies: Vec<&Object> = bindings
            .filter(|b| b.kind == Kind::AuthorizationPolicy)
            .collect();
        let territory: BTreeSet<&str> = policies
            .iter()
            .filter_map(|p| p.namespace.as_deref())
            .collect();
        if territory.is_empty() {
            return 0;
        }
        let labels = match mesh_labels(client, &territory).await {
            Ok(labels) => labels,
            Err(error) => {
                tracing::warn!(%error, "could not read the namespaces' mesh modes; contributor policies left in the shape they have until the next sweep");
                return 0;
            }
        };
        let misshapen = policies.into_iter().filter_map(|policy| {
            let namespace_labels = labels.get(policy.namespace.as_deref()?);
            mesh::misshapen(policy, namespace_labels).then_some((policy, namespace_labels))
        });
        let reshaped = futures::stream::iter(misshapen)
            .map(|(policy, namespace_labels)| self.reshape_policy(client, policy, namespace_labels))
            .buffer_unordered(PEOPLE_AT_ONCE)
            .collect::<Vec<bool>>()
            .await;
        reshaped.into_iter().filter(|done| *done).count()
    }

    /// Re-reads `policy` and applies it in the shape of a namespace labelled `labels`.
    async fn reshape_policy(
        &self,
        client: &kube::Client,
        policy: &Object,
        labels: Option<&Value>,
    ) -> bool {
        let describe = policy.describe();
        if self.config.dry_run {
            tracing::info!(object = %describe, "would-reshape");
            return true;
        }
        let api = KindApi::of(client, policy);
        let stored = match api.get_opt(&policy.name).await {
            Ok(Some(body)) => Object::from_body(policy.kind, body),
            Ok(None) => return false,
            Err(error) => {
                tracing::warn!(object = %describe, %error, "could not read the contributor policy to reshape; left for the next sweep");
                return false;
            }
        };
        // Re-judged as read: a sign-in since the listing may have reshaped it already.
        let Some(stored) = stored.filter(|s| mesh::misshapen(s, labels)) else {
            return false;
        };
        match api
            .apply(&mesh::reshaped(&stored, labels), true, false)
            .await
        {
            Ok(()) => {
                tracing::info!(object = %describe, "contributor policy brought to its namespace's mesh mode (sidecar or waypoint)");
                true
            }
            Err(error) => {
                tracing::warn!(object = %describe, %error, "could not reshape the contributor policy; left for the next sweep");
                false
            }
        }
    }

    /// Removes the resume marks from a person's objects.
    async fn unmark(&self, client: &kube::Client, person: &ManagedUser) {
        let marked = person
            .objects()
            .filter(|o| o.meta("annotations", SWEEP_RESUME_ANNOTATION).is_some());
        for object in marked {
            let unmark = json!({SWEEP_RESUME_ANNOTATION: Value::Null});
            annotate(client, &Annotate::new(object, unmark)).await;
        }
    }

    /// Deletes a person's bindings (never a Profile or a namespace), the activity holder first
    /// and only while unchanged: a sign-in since the listing stops the revocation.
    async fn revoke(&self, client: &kube::Client, person: &ManagedUser, reason: Reason) -> Fate {
        let email = person.email().unwrap_or_default();
        let order = revocation_order(person);
        if self.config.dry_run {
            for object in &order {
                tracing::info!(object = %object.describe(), user = ?email, %reason, "would-delete");
            }
            return Fate::Revoked(reason, order.len());
        }
        // The holder first and alone: its refusal (a sign-in since the listing) stops the rest.
        let Some((first, rest)) = order.split_first() else {
            return Fate::Revoked(reason, 0);
        };
        let Ok(first) = delete_binding(client, first, true, email).await else {
            return Fate::Left;
        };
        let rest =
            futures::future::join_all(rest.iter().map(|o| delete_binding(client, o, false, email)))
                .await;
        if rest.iter().any(Result::is_err) {
            return Fate::Left;
        }
        let deleted = usize::from(first) + rest.iter().filter(|r| matches!(r, Ok(true))).count();
        let objects: Vec<String> = order.iter().map(|o| o.describe()).collect();
        tracing::info!(user = ?email, sub = person.key.as_str(), %reason, ?objects, "access revoked");
        Fate::Revoked(reason, deleted)
    }
}

/// Deletes one binding of a person (`unchanged`: only the very version listed): whether it was
/// there to delete, or `Err` when it could not be deleted (logged).
async fn delete_binding(
    client: &kube::Client,
    object: &Object,
    unchanged: bool,
    email: &str,
) -> Result<bool, ()> {
    match KindApi::of(client, object)
        .delete_if(object, false, unchanged)
        .await
    {
        Ok(()) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(error) => {
            tracing::warn!(object = %object.describe(), user = ?email, %error, "could not revoke; left for the next run");
            Err(())
        }
    }
}
