//! Bringing kept people's contributor policies to their namespace's mesh mode. I/O.

#[allow(unused_imports)]
use super::*;

impl App {
    /// Brings each of `misshapen` (contributor policies of the people kept, as listed, and
    /// their namespace's mesh labels) to the shape their namespace's mesh mode calls for now, as
    /// a sign-in would: an operator who switched a namespace between sidecar and ambient finds
    /// its contributors' access working by the next sweep ([`mesh::misshapen`]). Each is re-read
    /// and applied only while it is that version; one that cannot be is logged and left for the
    /// next sweep or sign-in. How many were reshaped (or, in a dry run, would be).
    pub(super) async fn reshape_policies(
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
    pub(super) async fn reshape_policy(
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
