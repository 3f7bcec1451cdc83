//! The offboarding sweep (decisions in [`crate::domain::offboarding::sweep`]): each cluster read page by
//! page into a few dozen bytes per person; the user pool asked once per person over every
//! cluster, by `sub`, at a steady rate; then each person settled in order, from where the latest
//! interrupted sweep stopped, inside the invocation's time. I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::app::App;
use crate::app::budget::{Budget, COMMAND_TIME};
use crate::app::clusters::ClusterSession;
use crate::cognito::users::{LookupFailed, by_sub, estimated_users, pool_page};
use crate::domain::model::activity::{
    Annotate, RESUME_ANNOTATION, REVOKED_ANNOTATION, SWEEP_STATE_LEASE, micro_time, rfc3339,
    seconds,
};
use crate::domain::model::mesh;
use crate::domain::model::objects::{Kind, MANAGED_BY_LABEL, MANAGER, Object};
use crate::domain::offboarding::sweep::{
    FirstLook, People, PoolAnswer, PoolAnswers, PoolLookup, Reason, SweepAnswer, SweepSummary,
    asks_pool, first_look, judge, pool_lookup, sweep_order,
};
use crate::error::Error;
use crate::kubernetes::execute::annotate;
use crate::kubernetes::inventory::{
    bindings_of, count_bindings, created, mesh_labels, profiles, records,
};
use crate::kubernetes::policy::RequestPolicy;
use crate::kubernetes::typed::KindApi;
use crate::lambda::logging::emit_metrics;

/// People settled at once on a cluster (each a few deletes).
const PEOPLE_AT_ONCE: usize = 8;
/// Contributor policies brought to their namespace's mesh mode in one run; the rest wait for
/// the next run (or a sign-in).
const MAX_RESHAPED: usize = 1000;

/// What one sweep shares across its clusters.
struct SweepRun {
    now: SystemTime,
    /// Requests end here.
    deadline: Instant,
    /// No person is started after this.
    stop_starting: Instant,
    /// No question to the user pool is asked after this: two thirds of the run, so that the
    /// people it answered for are settled in the same run.
    stop_asking: Instant,
}

/// What the sweep read of one cluster.
struct ClusterRead {
    client: kube::Client,
    policy: std::sync::Arc<RequestPolicy>,
    /// The binding kinds the cluster serves.
    kinds: Vec<Kind>,
    people: People,
    territory: BTreeSet<String>,
    /// When records began (seconds): the sweep's own Lease's creation.
    since: i64,
    /// The sweep's own Lease (made now when there was none), and where to resume.
    state: Option<Object>,
    resume_at: Option<String>,
}

/// What became of one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Kept,
    Revoked(Reason, usize),
    Forgotten,
    /// Not settled: asked again at the next run.
    Left,
}

/// Spaces requests to the user pool `interval` apart, over every cluster.
struct Pacer {
    next: tokio::sync::Mutex<Instant>,
    interval: Duration,
}

impl Pacer {
    fn new(per_second: u32) -> Self {
        Pacer {
            next: tokio::sync::Mutex::new(Instant::now()),
            interval: Duration::from_secs(1) / per_second.max(1),
        }
    }

    /// Waits for the next slot; false when it comes after `deadline`.
    async fn wait(&self, deadline: Instant) -> bool {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        if slot >= deadline {
            return false;
        }
        tokio::time::sleep_until(slot).await;
        true
    }
}

impl App {
    /// One sweep of every cluster: each read, the pool asked once about everyone who needs it,
    /// each person settled. `remaining` is the time Lambda still allows. A cluster that cannot
    /// be swept fails the invocation after the others are done.
    pub async fn sweep(&self, remaining: Option<Duration>) -> Result<SweepAnswer, Error> {
        let budget = Budget::new(Instant::now(), remaining, COMMAND_TIME);
        let (started, deadline, stop_starting) =
            (budget.started, budget.deadline, budget.stop_starting);
        let pool_id = self
            .config
            .offboarding
            .user_pool_id
            .clone()
            .ok_or(Error::AwsSetup("user pool (set USER_POOL_ID)"))?;
        let run = SweepRun {
            now: (self.clock)(),
            deadline,
            stop_starting,
            stop_asking: started + (stop_starting - started) * 2 / 3,
        };
        let reads = self
            .on_every_cluster(|cluster| self.read_cluster(cluster, &run))
            .await;
        let days = self.config.offboarding.inactive_days;
        let wanted: BTreeSet<&str> = reads
            .iter()
            .flatten()
            .flat_map(|read| {
                read.people
                    .iter()
                    .filter(|(key, p)| {
                        first_look(p, read.since, run.now, days) == FirstLook::AskPool
                            && asks_pool(key)
                    })
                    .map(|(key, _)| key.as_str())
            })
            .collect();
        let resume_at = reads.iter().flatten().find_map(|r| r.resume_at.clone());
        let asked = self
            .ask_pool(&pool_id, &wanted, resume_at.as_deref(), &run)
            .await;
        let (answers, cognito_requests, lookup) = match asked {
            Ok(asked) => asked,
            Err(error) => {
                tracing::error!(
                    error = error.chain(),
                    "the user pool refuses the sweep's questions"
                );
                return Err(error);
            }
        };
        let settled = futures::future::join_all(
            self.clusters
                .iter()
                .zip(&reads)
                .filter_map(|(cluster, read)| read.as_ref().ok().map(|read| (cluster, read)))
                .map(|(cluster, read)| self.settle(cluster, read, &answers, &run, started)),
        )
        .await;
        let mut answer = SweepAnswer::default();
        let mut settled = settled.into_iter();
        let mut failures = Vec::new();
        for (cluster, read) in self.clusters.iter().zip(reads) {
            match read {
                Ok(_) => answer.add(cluster.label(), settled.next().unwrap_or_default()),
                // Logged once, with the command's failure.
                Err(error) => failures.push((cluster.label(), error)),
            }
        }
        answer.total.cognito_requests = cognito_requests;
        answer.total.pool_lookup = Some(lookup);
        answer.total.set_duration(started.elapsed());
        match Error::of_clusters(failures) {
            Some(error) => Err(error),
            None => Ok(answer),
        }
    }

    /// Reads one cluster: its territory, its people (their records and bindings), the sweep's
    /// own Lease (made now, outside a dry run, when there is none).
    async fn read_cluster(
        &self,
        cluster: &ClusterSession,
        run: &SweepRun,
    ) -> Result<ClusterRead, Error> {
        let policy = RequestPolicy::for_command(run.deadline);
        // A fresh token: a sweep may outlast one minted for an earlier invocation.
        let client = cluster.client(policy.clone(), true).await?;
        let facts = cluster.facts(&client).await?;
        let (twins, _) = facts
            .twins(self.config.istio.authz)
            .map_err(Error::Conventions)?;
        let kinds = facts.binding_kinds(&twins);
        let namespace = self.config.offboarding.records_namespace.as_str();
        let (found, read) = futures::join!(
            profiles(&client, &self.config.sign_in.group_profile_owner),
            records(&client, namespace),
        );
        let (found, read) = (found?, read?);
        let mut people: People = BTreeMap::new();
        for (key, record) in read.people {
            people.entry(key).or_default().record = Some(record);
        }
        for key in found.personal.keys() {
            people.entry(key.clone()).or_default().personal_profile = true;
        }
        let unreadable = count_bindings(&client, &kinds, &found.territory, &mut people).await?;
        if unreadable > 0 {
            tracing::warn!(cluster = %cluster.label(), unreadable, "objects that are not objects of their kind were ignored");
        }
        let state = match read.state {
            Some(state) => Some(state),
            None => self.start_records(&client, run).await?,
        };
        let since = state
            .as_ref()
            .and_then(created)
            .unwrap_or_else(|| seconds(run.now));
        let resume_at = state
            .as_ref()
            .and_then(|s| s.meta("annotations", RESUME_ANNOTATION))
            .map(str::to_owned);
        Ok(ClusterRead {
            client,
            policy,
            kinds,
            people,
            territory: found.territory,
            since,
            state,
            resume_at,
        })
    }

    /// The sweep's own Lease, made on its first run: from its creation on, records are kept.
    async fn start_records(
        &self,
        client: &kube::Client,
        run: &SweepRun,
    ) -> Result<Option<Object>, Error> {
        if self.config.dry_run {
            return Ok(None);
        }
        let namespace = self.config.offboarding.records_namespace.as_str();
        let state = Object::new(
            Kind::Lease,
            Some(namespace),
            SWEEP_STATE_LEASE,
            json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": SWEEP_STATE_LEASE, "namespace": namespace,
                             "labels": {MANAGED_BY_LABEL: MANAGER}},
                "spec": {"renewTime": micro_time(seconds(run.now))},
            }),
        );
        let api = KindApi::of(client, &state);
        match api.create(&state, false).await {
            Ok(_) | Err(kube::Error::Api(_)) => {}
            Err(source) => return Err(Error::kubernetes("create", &state.describe(), source)),
        }
        // Whoever made it, it is read back with its creation time.
        let read = api
            .get_opt(SWEEP_STATE_LEASE)
            .await
            .map_err(|source| Error::kubernetes("read", &state.describe(), source))?;
        match read {
            Some(body) => Ok(Object::from_body(Kind::Lease, body)),
            None => Err(Error::RecordsMissing(namespace.to_owned())),
        }
    }

    /// Asks the pool about `wanted` (every cluster's people whose verdict it holds), the cheaper
    /// way ([`pool_lookup`]), at `SWEEP_POOL_RATE`, until the run stops starting work. `Err` only
    /// when no question can be answered.
    async fn ask_pool<'a>(
        &self,
        pool_id: &str,
        wanted: &BTreeSet<&'a str>,
        resume_at: Option<&str>,
        run: &SweepRun,
    ) -> Result<(PoolAnswers<'a>, u32, PoolLookup), Error> {
        let pacer = Pacer::new(self.config.offboarding.sweep_pool_rate);
        let requests = AtomicU32::new(0);
        let mut answers = PoolAnswers::new();
        if wanted.is_empty() {
            return Ok((answers, 0, PoolLookup::None));
        }
        let always = |failure: LookupFailed| match failure {
            LookupFailed::Always(error) => Err(error),
            LookupFailed::ForNow(why) => Ok(why),
        };
        requests.fetch_add(1, Ordering::Relaxed);
        let estimated = match estimated_users(&self.pool, pool_id).await {
            Ok(estimated) => estimated,
            Err(failure) => {
                let why = always(failure)?;
                tracing::warn!(%why, "the user pool did not say its size; everyone it decides is left for the next run");
                return Ok((answers, 1, PoolLookup::None));
            }
        };
        let lookup = pool_lookup(wanted.len(), estimated);
        match lookup {
            PoolLookup::None => {}
            PoolLookup::EachPerson => {
                for key in sweep_order(wanted.iter().copied(), resume_at) {
                    if !pacer.wait(run.stop_asking).await {
                        break;
                    }
                    requests.fetch_add(1, Ordering::Relaxed);
                    match by_sub(&self.pool, pool_id, key).await {
                        Ok(answer) => drop(answers.insert(key, answer)),
                        Err(failure) => {
                            let why = always(failure)?;
                            tracing::warn!(sub = key, %why, "the user pool did not answer; left for the next run");
                        }
                    }
                }
            }
            PoolLookup::Scan => {
                let mut token = None;
                loop {
                    if !pacer.wait(run.stop_asking).await {
                        tracing::warn!(
                            "the user pool's scan did not finish in time; the people it did not reach are left for the next run"
                        );
                        return Ok((answers, requests.into_inner(), lookup));
                    }
                    requests.fetch_add(1, Ordering::Relaxed);
                    let (users, next) = match pool_page(&self.pool, pool_id, token).await {
                        Ok(page) => page,
                        Err(failure) => {
                            let why = always(failure)?;
                            tracing::warn!(%why, "the user pool's scan stopped; the people it did not reach are left for the next run");
                            return Ok((answers, requests.into_inner(), lookup));
                        }
                    };
                    for (sub, enabled) in users {
                        if let Some(key) = wanted.get(sub.as_str()) {
                            answers.insert(*key, PoolAnswer::Found { enabled });
                        }
                    }
                    match next {
                        Some(next) => token = Some(next),
                        None => break,
                    }
                }
                // The whole pool was read: whoever it did not hold is gone.
                for key in wanted {
                    answers.entry(*key).or_insert(PoolAnswer::Missing);
                }
            }
        }
        Ok((answers, requests.into_inner(), lookup))
    }

    /// Settles every person of one cluster, in order, from where the latest interrupted sweep
    /// stopped: revokes, forgets records, reshapes the kept people's policies, marks where the
    /// next run resumes. Its summary line and its EMF line.
    async fn settle(
        &self,
        cluster: &ClusterSession,
        read: &ClusterRead,
        answers: &PoolAnswers<'_>,
        run: &SweepRun,
        started: Instant,
    ) -> SweepSummary {
        let label = cluster.label();
        let days = self.config.offboarding.inactive_days;
        let verdict_of = |key: &str| {
            let person = &read.people[key];
            match first_look(person, read.since, run.now, days) {
                // A key that is no `sub` is never asked about: inactivity alone decides.
                FirstLook::AskPool if !asks_pool(key) => Some(FirstLook::Keep),
                FirstLook::AskPool => answers.get(key).map(|a| judge(*a)),
                verdict => Some(verdict),
            }
        };
        let order = sweep_order(
            read.people.keys().map(String::as_str),
            read.resume_at.as_deref(),
        );
        let revoked: BTreeSet<&str> = order
            .iter()
            .copied()
            .filter(|key| matches!(verdict_of(key), Some(FirstLook::Revoke(_))))
            .collect();
        // The revoked people's bindings, and the kept people's policies out of shape.
        let (mut found, misshapen) = self.second_look(read, &revoked).await;
        let fates: Vec<(&str, Fate)> = futures::stream::iter(order.iter().copied())
            .map(|key| {
                let bindings = found.remove(key).unwrap_or_default();
                async move {
                    if Instant::now() >= run.stop_starting {
                        return (key, Fate::Left);
                    }
                    let fate = match verdict_of(key) {
                        None => Fate::Left,
                        Some(FirstLook::Keep | FirstLook::AskPool) => Fate::Kept,
                        Some(FirstLook::Forget) => self.forget(read, key).await,
                        Some(FirstLook::Revoke(reason)) => {
                            self.revoke(read, key, &bindings, reason, run).await
                        }
                    };
                    (key, fate)
                }
            })
            .buffered(PEOPLE_AT_ONCE)
            .collect()
            .await;

        let mut summary = SweepSummary {
            users: read.people.values().filter(|p| p.bindings > 0).count(),
            dry_run: self.config.dry_run,
            inactive_days: days,
            ..SweepSummary::default()
        };
        for (_, fate) in &fates {
            match *fate {
                Fate::Kept => summary.kept += 1,
                Fate::Forgotten => summary.records_deleted += 1,
                Fate::Revoked(reason, deleted) => {
                    summary.record_revocation(reason);
                    summary.bindings_deleted += deleted;
                }
                Fate::Left => summary.left_for_next_run += 1,
            }
        }
        summary.checked = fates.len() - summary.left_for_next_run;
        summary.finished = summary.left_for_next_run == 0;
        summary.policies_reshaped = self.reshape_policies(read, misshapen).await;
        let first_left = fates
            .iter()
            .find(|(_, f)| *f == Fate::Left)
            .map(|(k, _)| *k);
        self.mark_resume(read, first_left).await;
        summary.kubernetes_requests = read.policy.requests();
        summary.set_duration(started.elapsed());
        emit_metrics(&summary.emf(&label, (self.clock)()));
        tracing::info!(
            cluster = %label,
            users = summary.users,
            checked = summary.checked,
            kept = summary.kept,
            revoked = summary.revoked(),
            deleted_users = summary.revoked_deleted,
            disabled_users = summary.revoked_disabled,
            inactive_users = summary.revoked_inactive,
            bindings_deleted = summary.bindings_deleted,
            records_deleted = summary.records_deleted,
            policies_reshaped = summary.policies_reshaped,
            left_for_next_run = summary.left_for_next_run,
            finished = summary.finished,
            dry_run = summary.dry_run,
            inactive_days = summary.inactive_days,
            duration_ms = summary.duration_ms,
            kubernetes_requests = summary.kubernetes_requests,
            "sweep"
        );
        summary
    }

    /// The bindings of the people to revoke, and the contributor policies of everyone else
    /// whose shape their namespace's mesh mode no longer calls for (at most [`MAX_RESHAPED`]),
    /// with those namespaces' mesh labels. A cluster that cannot be read again leaves both empty
    /// (logged): the people are then left for the next run.
    async fn second_look(
        &self,
        read: &ClusterRead,
        revoked: &BTreeSet<&str>,
    ) -> (BTreeMap<String, Vec<Object>>, Vec<(Object, Option<Value>)>) {
        let labels = match mesh_labels(&read.client, &read.territory).await {
            Ok(labels) => labels,
            Err(error) => {
                tracing::warn!(%error, "could not read the namespaces' mesh modes; contributor policies left in the shape they have until the next sweep");
                BTreeMap::new()
            }
        };
        let mut misshapen = Vec::new();
        let kinds: Vec<Kind> = read
            .kinds
            .iter()
            .copied()
            .filter(|k| !revoked.is_empty() || *k == Kind::AuthorizationPolicy)
            .collect();
        let found = bindings_of(&read.client, &kinds, &read.territory, revoked, |binding| {
            let namespace_labels = binding.namespace.as_deref().and_then(|ns| labels.get(ns));
            if misshapen.len() < MAX_RESHAPED && mesh::misshapen(&binding, namespace_labels) {
                misshapen.push((binding, namespace_labels.cloned()));
            }
        })
        .await;
        match found {
            Ok(found) => (found, misshapen),
            Err(error) => {
                tracing::warn!(%error, "could not read the bindings again; the people to revoke are left for the next run");
                (BTreeMap::new(), Vec::new())
            }
        }
    }

    /// The Lease of the person `key` as the sweep read it (to write to it only while unchanged).
    fn record_of(&self, read: &ClusterRead, key: &str) -> Option<Object> {
        let (_, version) = read.people.get(key)?.record.as_ref()?;
        let namespace = self.config.offboarding.records_namespace.as_str();
        Some(Object::new(
            Kind::Lease,
            Some(namespace),
            key,
            json!({"metadata": {"name": key, "namespace": namespace, "resourceVersion": version}}),
        ))
    }

    /// Revokes a person's `bindings` (never a Profile or a namespace). Their record is marked
    /// first, only while it is the version read: a sign-in since (which renews it) stops the
    /// revocation.
    async fn revoke(
        &self,
        read: &ClusterRead,
        key: &str,
        bindings: &[Object],
        reason: Reason,
        run: &SweepRun,
    ) -> Fate {
        let email = bindings.iter().find_map(subject_user).unwrap_or_default();
        if self.config.dry_run {
            for object in bindings {
                tracing::info!(object = %object.describe(), user = ?email, %reason, "would-delete");
            }
            return Fate::Revoked(reason, bindings.len());
        }
        if let Some(record) = self.record_of(read, key) {
            let mark =
                json!({REVOKED_ANNOTATION: format!("{} {reason}", rfc3339(seconds(run.now)))});
            if !annotate(&read.client, &Annotate::new(&record, mark)).await {
                return Fate::Left;
            }
        }
        let deleted = futures::future::join_all(
            bindings
                .iter()
                .map(|o| delete_binding(&read.client, o, email)),
        )
        .await;
        if deleted.iter().any(Result::is_err) {
            return Fate::Left;
        }
        let objects: Vec<String> = bindings.iter().map(Object::describe).collect();
        tracing::info!(user = ?email, sub = key, %reason, ?objects, "access revoked");
        Fate::Revoked(
            reason,
            deleted.iter().filter(|r| matches!(r, Ok(true))).count(),
        )
    }

    /// Deletes the record of a person with nothing left here, only while unchanged.
    async fn forget(&self, read: &ClusterRead, key: &str) -> Fate {
        let Some(record) = self.record_of(read, key) else {
            return Fate::Kept;
        };
        if self.config.dry_run {
            tracing::info!(object = %record.describe(), "would-delete");
            return Fate::Forgotten;
        }
        match KindApi::of(&read.client, &record)
            .delete_if(&record, false, true)
            .await
        {
            Ok(()) => Fate::Forgotten,
            Err(kube::Error::Api(status)) if status.code == 404 => Fate::Forgotten,
            Err(error) => {
                tracing::warn!(object = %record.describe(), %error, "could not delete the record; left for the next run");
                Fate::Left
            }
        }
    }

    /// Writes where the next run resumes (`first_left`), or removes the mark when every person
    /// was settled. Nothing in a dry run.
    async fn mark_resume(&self, read: &ClusterRead, first_left: Option<&str>) {
        let Some(state) = read.state.as_ref().filter(|_| !self.config.dry_run) else {
            return;
        };
        if first_left == read.resume_at.as_deref() {
            return;
        }
        let mark = json!({RESUME_ANNOTATION: first_left});
        annotate(&read.client, &Annotate::new(state, mark)).await;
    }

    /// Brings each of `misshapen` (contributor policies of the people kept, as listed, and
    /// their namespace's mesh labels) to the shape their namespace's mesh mode calls for now, as
    /// a sign-in would: an operator who switched a namespace between sidecar and ambient finds
    /// its contributors' access working by the next sweep ([`mesh::misshapen`]). Each is re-read
    /// and applied only while it is that version; one that cannot be is logged and left for the
    /// next sweep or sign-in. How many were reshaped (or, in a dry run, would be).
    async fn reshape_policies(
        &self,
        read: &ClusterRead,
        misshapen: Vec<(Object, Option<Value>)>,
    ) -> usize {
        let reshaped = futures::stream::iter(misshapen)
            .map(|(policy, labels)| async move {
                self.reshape_policy(&read.client, &policy, labels.as_ref())
                    .await
            })
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
}

/// The person a RoleBinding names (its first `User` subject: what RBAC enforces).
fn subject_user(binding: &Object) -> Option<&str> {
    binding
        .body
        .get("subjects")?
        .as_array()?
        .iter()
        .find(|s| s["kind"] == "User")?
        .get("name")?
        .as_str()
}

/// Deletes one binding of a person, only if it is still the one listed (its uid): whether it
/// was there to delete, or `Err` when it could not be deleted (logged).
async fn delete_binding(client: &kube::Client, object: &Object, email: &str) -> Result<bool, ()> {
    match KindApi::of(client, object).delete(object, false).await {
        Ok(()) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(false),
        Err(error) => {
            tracing::warn!(object = %object.describe(), user = ?email, %error, "could not revoke; left for the next run");
            Err(())
        }
    }
}
