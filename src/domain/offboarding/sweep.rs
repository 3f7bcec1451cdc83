//! The offboarding sweep's decisions: who the function manages access for, in which order they
//! are settled, how the user pool is asked about them, and what becomes of each. Pure.
//!
//! A person is *managed* on a cluster when it holds contributor bindings (RoleBindings and their
//! Istio twins) this function made for them in group Profiles' namespaces. Their access (the
//! bindings, never a Profile or a namespace) is revoked when the user pool no longer has their
//! `sub`, has them disabled, or when their last activity is older than `INACTIVE_DAYS`.
//!
//! What decides is out of every tenant's reach: the person's record (a Lease in the function's
//! records namespace, [`crate::domain::model::activity`]), the user pool asked by `sub`, and the
//! creation times the API server gives objects. A person with no usable record (none, or one
//! dated in the future) is judged by their oldest binding's creation; nobody is judged inactive
//! from before records began (the sweep's own Lease's creation), so an upgrade takes nobody's
//! access. Labels and annotations a namespace admin can write only say *whose* binding it is:
//! a forged one counts as that person's binding, and never changes when they were last seen.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::model::activity::{Activity, seconds, usable};
use crate::domain::model::metrics::{COUNT, MILLISECONDS, emf_document};

const SECONDS_PER_DAY: i64 = 86_400;

/// One person as a sweep reads them on one cluster, page by page: a few dozen bytes, whatever
/// the cluster or the tenants store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// What their record says, as read (usable or not), and the version read.
    pub record: Option<(Activity, String)>,
    /// Their contributor bindings in group namespaces.
    pub bindings: u32,
    /// The creation of the oldest of them (seconds since the epoch).
    pub oldest_binding: Option<i64>,
    /// A personal Profile labelled with them exists.
    pub personal_profile: bool,
}

impl Person {
    /// Counts a binding of theirs created at `created` (seconds; `None` when it says nothing).
    pub fn add_binding(&mut self, created: Option<i64>) {
        self.bindings += 1;
        if let Some(created) = created {
            self.oldest_binding = Some(self.oldest_binding.map_or(created, |o| o.min(created)));
        }
    }

    /// When the person was last seen, as far as the sweep may tell at `now`: their usable
    /// record, else their oldest binding's creation, never before `since` (records began).
    pub fn last_seen(&self, since: i64, now: SystemTime) -> i64 {
        let recorded = self
            .record
            .as_ref()
            .and_then(|(activity, _)| usable(*activity, now));
        let seen = match recorded {
            Some(activity) => activity.at,
            None => self.oldest_binding.unwrap_or_else(|| seconds(now)),
        };
        seen.max(since)
    }
}

/// Why access is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The user pool has no user with their `sub` any more.
    Deleted,
    Disabled,
    /// No activity for longer than `INACTIVE_DAYS`.
    Inactive,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Deleted => "deleted from the user pool",
            Reason::Disabled => "disabled in the user pool",
            Reason::Inactive => "inactive longer than INACTIVE_DAYS",
        })
    }
}

/// What the user pool says of a `sub` (`ListUsers` filtered by it, or a scan of the pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolAnswer {
    /// No user has it.
    Missing,
    Found {
        enabled: bool,
    },
}

/// What becomes of one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstLook {
    /// Nothing of theirs to revoke here, and a record worth keeping (or none).
    Keep,
    /// Their user pool record decides.
    AskPool,
    Revoke(Reason),
    /// Nothing of theirs is left here and they have been gone longer than `INACTIVE_DAYS`:
    /// their record goes too, so the records do not grow with everyone who ever left.
    Forget,
}

/// The first look at a person, before the user pool is asked: revoke the inactive
/// (`inactive_days` > 0), forget the records of the long gone, keep those with nothing to
/// revoke, ask about the rest.
pub fn first_look(person: &Person, since: i64, now: SystemTime, inactive_days: u32) -> FirstLook {
    let inactive = inactive_days > 0
        && (seconds(now) - person.last_seen(since, now)).div_euclid(SECONDS_PER_DAY)
            >= i64::from(inactive_days);
    match (person.bindings, inactive) {
        (0, true) if !person.personal_profile && person.record.is_some() => FirstLook::Forget,
        (0, _) => FirstLook::Keep,
        (_, true) => FirstLook::Revoke(Reason::Inactive),
        (_, false) => FirstLook::AskPool,
    }
}

/// Whether the pool can be asked about the person `key`: a Cognito `sub` is a UUID
/// (`12ec26be-e8d1-482b-9602-e402c7896cb3`). Any other key (the email hash version 0.1
/// labelled bindings with, until the person's next sign-in relabels them; an empty or forged
/// label) is never asked about, so no answer for it can revoke anyone, or fail the sweep: such
/// a person is judged by inactivity only.
pub fn asks_pool(key: &str) -> bool {
    let groups: Vec<&str> = key.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| {
            g.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The verdict on a person whose `sub` the user pool answered `answer` for.
pub fn judge(answer: PoolAnswer) -> FirstLook {
    match answer {
        PoolAnswer::Missing => FirstLook::Revoke(Reason::Deleted),
        PoolAnswer::Found { enabled: false } => FirstLook::Revoke(Reason::Disabled),
        PoolAnswer::Found { enabled: true } => FirstLook::Keep,
    }
}

/// The order a sweep settles people in (their keys): by key, starting at `resume_at` (the
/// first person an interrupted sweep did not settle), so that every person is settled within a
/// few runs even when no run gets through them all.
pub fn sweep_order<'a>(
    keys: impl Iterator<Item = &'a str> + Clone,
    resume_at: Option<&str>,
) -> Vec<&'a str> {
    let start = resume_at.unwrap_or("");
    keys.clone()
        .filter(|k| *k >= start)
        .chain(keys.filter(|k| *k < start))
        .collect()
}

/// Users per `ListUsers` page: the most the service returns (its model's `QueryLimitType`, 0 to
/// 60).
pub const POOL_PAGE: u64 = 60;

/// How the user pool is asked about the people who need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolLookup {
    /// Nobody needs asking.
    None,
    /// One `ListUsers` filtered by `sub` per person.
    EachPerson,
    /// Every page of `ListUsers`, once: fewer requests when most of the pool is managed.
    Scan,
}

/// The cheaper way to ask about `wanted` people in a pool of about `estimated_users` (both in
/// Cognito's `UserList` quota category): one request each, or a page per [`POOL_PAGE`] users.
pub fn pool_lookup(wanted: usize, estimated_users: u64) -> PoolLookup {
    let scan_pages = estimated_users.div_ceil(POOL_PAGE).max(1);
    match wanted {
        0 => PoolLookup::None,
        wanted if (wanted as u64) <= scan_pages => PoolLookup::EachPerson,
        _ => PoolLookup::Scan,
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepSummary {
    /// People with access managed by this function.
    pub users: usize,
    /// People settled this run.
    pub checked: usize,
    pub kept: usize,
    pub revoked_deleted: usize,
    pub revoked_disabled: usize,
    pub revoked_inactive: usize,
    /// Bindings deleted (or, in a dry run, that would be).
    pub bindings_deleted: usize,
    /// Records of people with nothing left here, gone longer than `INACTIVE_DAYS`, deleted.
    pub records_deleted: usize,
    /// Contributor policies of the people kept brought to their namespace's mesh mode (or, in a
    /// dry run, that would be): the namespace was switched between sidecar and ambient.
    pub policies_reshaped: usize,
    /// People left for the next run: the user pool did not answer for them in time, a write
    /// failed, a sign-in changed their record meanwhile, or the run's time was up.
    pub left_for_next_run: usize,
    /// True when every person was settled.
    pub finished: bool,
    pub dry_run: bool,
    pub inactive_days: u32,
    pub duration_ms: u64,
    pub kubernetes_requests: u32,
    /// Requests to the user pool (`DescribeUserPool`, `ListUsers`; the SDK's retries of a
    /// throttled call not counted), and how it was asked.
    pub cognito_requests: u32,
    pub pool_lookup: Option<PoolLookup>,
}

impl SweepSummary {
    pub fn record_revocation(&mut self, reason: Reason) {
        match reason {
            Reason::Deleted => self.revoked_deleted += 1,
            Reason::Disabled => self.revoked_disabled += 1,
            Reason::Inactive => self.revoked_inactive += 1,
        }
    }

    pub fn revoked(&self) -> usize {
        self.revoked_deleted + self.revoked_disabled + self.revoked_inactive
    }

    pub fn set_duration(&mut self, duration: Duration) {
        self.duration_ms = duration.as_millis() as u64;
    }

    /// Adds another cluster's sweep to this one.
    pub fn add(&mut self, other: &SweepSummary) {
        self.users += other.users;
        self.checked += other.checked;
        self.kept += other.kept;
        self.revoked_deleted += other.revoked_deleted;
        self.revoked_disabled += other.revoked_disabled;
        self.revoked_inactive += other.revoked_inactive;
        self.bindings_deleted += other.bindings_deleted;
        self.records_deleted += other.records_deleted;
        self.policies_reshaped += other.policies_reshaped;
        self.left_for_next_run += other.left_for_next_run;
        self.kubernetes_requests += other.kubernetes_requests;
        self.finished &= other.finished;
        self.dry_run = other.dry_run;
        self.inactive_days = other.inactive_days;
        self.duration_ms = self.duration_ms.max(other.duration_ms);
    }

    /// The EMF document of the sweep of `cluster` at `now`: its counts as metrics in the
    /// function's namespace, over every cluster and per `Cluster`.
    pub fn emf(&self, cluster: &str, now: SystemTime) -> Value {
        emf_document(
            cluster,
            now,
            &[
                ("SweepUsers", COUNT, json!(self.users)),
                ("SweepRevoked", COUNT, json!(self.revoked())),
                ("SweepLeftForNextRun", COUNT, json!(self.left_for_next_run)),
                ("SweepDurationMs", MILLISECONDS, json!(self.duration_ms)),
            ],
        )
    }
}

/// What a sweep answers: the counts over every cluster, then each cluster's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepAnswer {
    #[serde(flatten)]
    pub total: SweepSummary,
    pub clusters: Vec<ClusterSweep>,
}

impl Default for SweepAnswer {
    fn default() -> Self {
        SweepAnswer {
            total: SweepSummary {
                finished: true,
                ..SweepSummary::default()
            },
            clusters: Vec::new(),
        }
    }
}

impl SweepAnswer {
    /// Adds the sweep of `cluster`.
    pub fn add(&mut self, cluster: String, summary: SweepSummary) {
        self.total.add(&summary);
        self.clusters.push(ClusterSweep { cluster, summary });
    }
}

/// One cluster's sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSweep {
    pub cluster: String,
    #[serde(flatten)]
    pub summary: SweepSummary,
}

/// The pool's answers for the people asked about, by `sub`.
pub type PoolAnswers<'a> = HashMap<&'a str, PoolAnswer>;

/// Every cluster's people, by key.
pub type People = BTreeMap<String, Person>;

#[cfg(test)]
mod tests;
