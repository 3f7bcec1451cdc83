//! The sign-in's log lines: one per refused group, one summary per cluster. I/O.

use std::time::Duration;

use crate::domain::config::Config;
use crate::domain::sign_in::admission::{Identity, Mode};
use crate::domain::sign_in::desired::RefusedGroup;
use crate::domain::sign_in::summary::SignInSummary;

/// One refused group's log line; `cluster` when the refusal depends on the cluster (the same
/// group may be granted on another). The group is untrusted and logged escaped; the namespace
/// is a DNS label this function derived, and the reason escapes what it quotes.
pub(super) fn log_refused(cluster: Option<&str>, refused: &RefusedGroup) {
    tracing::warn!(cluster, group = ?refused.group, namespace = refused.namespace.as_deref(), reason = %refused.reason, "group refused");
}

/// The summary of a provisioned sign-in (and what it withheld or deferred).
pub(super) fn log_report(
    cluster: &str,
    identity: &Identity,
    mode: Mode,
    report: &SignInSummary,
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
