//! The sweep's questions to the user pool: by `sub`, or one scan of the pool when that takes
//! fewer requests, at a steady rate over every cluster. I/O.

#[allow(unused_imports)]
use super::*;

/// Spaces requests to the user pool `interval` apart, over every cluster.
pub(super) struct Pacer {
    next: tokio::sync::Mutex<Instant>,
    interval: Duration,
}

impl Pacer {
    pub(super) fn new(per_second: u32) -> Self {
        Pacer {
            next: tokio::sync::Mutex::new(Instant::now()),
            interval: Duration::from_secs(1) / per_second.max(1),
        }
    }

    /// Waits for the next slot; false when it comes after `deadline`.
    pub(super) async fn wait(&self, deadline: Instant) -> bool {
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
    /// Asks the pool about `wanted` (every cluster's people whose verdict it holds), the cheaper
    /// way ([`pool_lookup`]), at `SWEEP_POOL_RATE`, until the run stops starting work. `Err` only
    /// when no question can be answered.
    pub(super) async fn ask_pool<'a>(
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
}
