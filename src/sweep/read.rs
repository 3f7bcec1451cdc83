//! The sweep's reading of one cluster: its territory, its people (their records and
//! bindings), and the sweep's own Lease (made by its first run: when records began). I/O.

#[allow(unused_imports)]
use super::*;

impl App {
    /// Reads one cluster: its territory, its people (their records and bindings), the sweep's
    /// own Lease (made now, outside a dry run, when there is none).
    pub(super) async fn read_cluster(
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
    pub(super) async fn start_records(
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
}
