//! The offboarding sweep and the access report (decisions in [`crate::domain::sweep`] and
//! [`crate::domain::access`]): what this function manages, read in pages; each person checked
//! against their activity and the user pool, a few at a time, inside the invocation's time; their
//! bindings revoked when they left. I/O.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::App;
use crate::cognito::users::{LookupFailed, pool_user};
use crate::domain::access::{AccessReport, ReportRequest, access_report};
use crate::domain::activity::{
    Annotate, SWEEP_RESUME_ANNOTATION, record_annotations, rfc3339, seconds,
};
use crate::domain::objects::Object;
use crate::domain::sweep::{
    ManagedUser, Reason, SweepSummary, Verdict, first_look, judge, managed_users, revocation_order,
    sweep_order,
};
use crate::error::Error;
use crate::kubernetes::execute::annotate;
use crate::kubernetes::inventory::inventory;
use crate::kubernetes::policy::SignInPolicy;
use crate::kubernetes::typed::KindApi;

/// The longest a command takes when Lambda does not say how long it has.
const COMMAND_BUDGET: Duration = Duration::from_secs(60);
/// Kept back from Lambda's deadline (a fifth of the time, when that is less): no person is
/// started later, so that the last ones finish, the resume mark is written and the summary goes
/// out; requests end a tenth of it before the deadline.
const SWEEP_MARGIN: Duration = Duration::from_secs(10);
/// People checked at once: each is at most one `AdminGetUser` (Cognito's "UserRead" category
/// allows 120 a second per account by default) and, rarely, a few deletes.
const PEOPLE_AT_ONCE: usize = 4;

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
    /// One sweep: every person whose access this function manages, checked once, from where
    /// the latest interrupted sweep stopped. `remaining` is the time Lambda still allows.
    pub async fn sweep(&self, remaining: Option<Duration>) -> Result<SweepSummary, Error> {
        let started = Instant::now();
        let remaining = remaining.unwrap_or(COMMAND_BUDGET);
        let margin = SWEEP_MARGIN.min(remaining / 5);
        let deadline = started + remaining - margin / 10;
        let stop_starting = started + remaining - margin;
        let pool_id = self
            .config
            .user_pool_id
            .clone()
            .ok_or(Error::AwsSetup("user pool (set USER_POOL_ID)"))?;
        let policy = SignInPolicy::for_command(deadline);
        // A fresh token: a sweep may outlast one minted for an earlier invocation.
        let client = self.command_client(policy.clone(), true).await?;
        let users = self.managed_users(&client).await?;
        let now = (self.clock)();
        let order = sweep_order(&users);
        let cognito_requests = AtomicU32::new(0);
        let fatal: Mutex<Option<Error>> = Mutex::new(None);
        let fates: Vec<(usize, Fate)> = futures::stream::iter(order.iter().copied())
            .map(|index| {
                let (client, users, pool_id) = (&client, &users, pool_id.as_str());
                let (cognito_requests, fatal) = (&cognito_requests, &fatal);
                async move {
                    let stopped = fatal.lock().unwrap_or_else(|p| p.into_inner()).is_some();
                    if stopped || Instant::now() >= stop_starting {
                        return (index, Fate::NotStarted);
                    }
                    let person = &users[index];
                    let fate = self
                        .check_person(client, person, pool_id, (now, deadline), cognito_requests)
                        .await;
                    match fate {
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
        let mut not_started: Vec<usize> = Vec::new();
        for (index, fate) in &fates {
            match *fate {
                Fate::Stamped => summary.stamped += 1,
                Fate::Kept => summary.kept += 1,
                Fate::Revoked(reason, deleted) => {
                    summary.record_revocation(reason);
                    summary.bindings_deleted += deleted;
                }
                Fate::Left => summary.left_for_next_run += 1,
                Fate::NotStarted => not_started.push(*index),
            }
        }
        summary.checked = fates.len() - not_started.len();
        summary.left_for_next_run += not_started.len();
        summary.finished = not_started.is_empty() && summary.left_for_next_run == 0;
        // Resume where this run stopped: the first person, in this run's order, not reached.
        let not_reached: std::collections::HashSet<usize> = not_started.iter().copied().collect();
        let first_not_started = order.iter().find(|i| not_reached.contains(i));
        if let Some(person) = first_not_started.and_then(|i| users[*i].anchor())
            && !self.config.dry_run
        {
            let mark = json!({SWEEP_RESUME_ANNOTATION: rfc3339(seconds(now))});
            annotate(&client, &Annotate::new(person, mark)).await;
        }
        summary.cognito_requests = cognito_requests.load(Ordering::Relaxed);
        summary.kubernetes_requests = policy.requests();
        summary.set_duration(started.elapsed());
        println!("{}", summary.emf((self.clock)()));
        tracing::info!(
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

    /// The access report `request` asks for.
    pub async fn access_report(
        &self,
        request: &ReportRequest,
        remaining: Option<Duration>,
    ) -> Result<AccessReport, Error> {
        let remaining = remaining.unwrap_or(COMMAND_BUDGET);
        let policy = SignInPolicy::for_command(
            Instant::now() + remaining - SWEEP_MARGIN.min(remaining / 5) / 10,
        );
        let client = self.command_client(policy, false).await?;
        let users = self.managed_users(&client).await?;
        Ok(access_report(
            &users,
            request,
            (self.clock)(),
            self.config.inactive_days,
        ))
    }

    /// A client for a command's requests, all following `policy`; with `fresh_token`, under a
    /// token minted now.
    async fn command_client(
        &self,
        policy: std::sync::Arc<SignInPolicy>,
        fresh_token: bool,
    ) -> Result<kube::Client, Error> {
        let info = self.cluster_info().await?;
        let token = self.token(fresh_token).await?;
        self.pool(&info).await?.for_sign_in(&token, policy)
    }

    /// Everyone this function manages access for, by key.
    async fn managed_users(&self, client: &kube::Client) -> Result<Vec<ManagedUser>, Error> {
        let facts = self.cluster_facts(client).await?;
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
        pool_id: &str,
        (now, deadline): (std::time::SystemTime, Instant),
        cognito_requests: &AtomicU32,
    ) -> Result<Fate, Error> {
        let verdict = match first_look(person, now, self.config.inactive_days) {
            Verdict::AskPool(username) => {
                cognito_requests.fetch_add(1, Ordering::Relaxed);
                let asked = pool_user(&self.cognito, pool_id, &username);
                let answer = tokio::time::timeout_at(deadline, asked)
                    .await
                    .unwrap_or_else(|_| Err(LookupFailed::ForNow("no answer in time".into())));
                match answer {
                    Ok(answer) => judge(person, &answer),
                    Err(LookupFailed::ForNow(why)) => {
                        tracing::warn!(sub = person.key.as_str(), %why, "the user pool did not answer; left for the next run");
                        return Ok(Fate::Left);
                    }
                    Err(LookupFailed::Always(error)) => return Err(error),
                }
            }
            verdict => verdict,
        };
        let marked = person.resume_mark().is_some();
        let dry_run = self.config.dry_run;
        Ok(match verdict {
            Verdict::Stamp => {
                let Some(anchor) = person.anchor() else {
                    return Ok(Fate::Kept);
                };
                let mut annotations = record_annotations(now, None);
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
