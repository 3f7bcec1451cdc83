//! The offboarding sweep (decisions in [`crate::domain::offboarding::sweep`]): each cluster read page by
//! page into a few dozen bytes per person; the user pool asked once per person over every
//! cluster, by `sub`, at a steady rate; then each person settled in order, from where the latest
//! interrupted sweep stopped, inside the invocation's time. I/O.

mod pool;
mod read;
mod reshape;
mod settle;

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
use crate::kubernetes::inventory::{
    bindings_of, count_bindings, created, mesh_labels, profiles, records,
};
use crate::kubernetes::policy::RequestPolicy;
use crate::kubernetes::typed::KindApi;
use crate::kubernetes::upkeep::annotate;
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
}
