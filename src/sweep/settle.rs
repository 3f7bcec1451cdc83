//! Settling a cluster's people in order, from where the latest interrupted sweep stopped:
//! revocations (the record marked first), forgotten records, the resume mark. I/O.

#[allow(unused_imports)]
use super::*;

impl App {
    /// Settles every person of one cluster, in order, from where the latest interrupted sweep
    /// stopped: revokes, forgets records, reshapes the kept people's policies, marks where the
    /// next run resumes. Its summary line and its EMF line.
    pub(super) async fn settle(
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

        let mut summary = tally(&fates, read, self.config.dry_run, days);
        summary.policies_reshaped = self.reshape_policies(read, misshapen).await;
        let first_left = fates
            .iter()
            .find(|(_, f)| *f == Fate::Left)
            .map(|(k, _)| *k);
        self.mark_resume(read, first_left).await;
        summary.kubernetes_requests = read.policy.requests();
        summary.set_duration(started.elapsed());
        emit_metrics(&summary.emf(&label, (self.clock)()));
        log_summary(&label, &summary);
        summary
    }

    /// The bindings of the people to revoke, and the contributor policies of everyone else
    /// whose shape their namespace's mesh mode no longer calls for (at most [`MAX_RESHAPED`]),
    /// with those namespaces' mesh labels. A cluster that cannot be read again leaves both empty
    /// (logged): the people are then left for the next run.
    pub(super) async fn second_look(
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
    pub(super) fn record_of(&self, read: &ClusterRead, key: &str) -> Option<Object> {
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
    pub(super) async fn revoke(
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
    pub(super) async fn forget(&self, read: &ClusterRead, key: &str) -> Fate {
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
    pub(super) async fn mark_resume(&self, read: &ClusterRead, first_left: Option<&str>) {
        let Some(state) = read.state.as_ref().filter(|_| !self.config.dry_run) else {
            return;
        };
        if first_left == read.resume_at.as_deref() {
            return;
        }
        let mark = json!({RESUME_ANNOTATION: first_left});
        annotate(&read.client, &Annotate::new(state, mark)).await;
    }
}

/// What became of one cluster's people, counted.
pub(super) fn tally(
    fates: &[(&str, Fate)],
    read: &ClusterRead,
    dry_run: bool,
    days: u32,
) -> SweepSummary {
    let mut summary = SweepSummary {
        users: read.people.values().filter(|p| p.bindings > 0).count(),
        dry_run,
        inactive_days: days,
        ..SweepSummary::default()
    };
    for (_, fate) in fates {
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
    summary
}

/// The sweep's summary line of one cluster.
pub(super) fn log_summary(label: &str, summary: &SweepSummary) {
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
}

/// The person a RoleBinding names (its first `User` subject: what RBAC enforces).
pub(super) fn subject_user(binding: &Object) -> Option<&str> {
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
pub(super) async fn delete_binding(
    client: &kube::Client,
    object: &Object,
    email: &str,
) -> Result<bool, ()> {
    match KindApi::of(client, object).delete(object, false).await {
        Ok(()) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(false),
        Err(error) => {
            tracing::warn!(object = %object.describe(), user = ?email, %error, "could not revoke; left for the next run");
            Err(())
        }
    }
}
