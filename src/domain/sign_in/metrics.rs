//! The sign-in's metrics: one CloudWatch Embedded Metric Format document per sign-in and
//! cluster. Pure.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::domain::model::metrics::{COUNT, MILLISECONDS, emf_document};
use crate::domain::sign_in::summary::SignInSummary;

#[derive(Debug, Clone, PartialEq)]
pub struct SignInMetrics {
    pub duration: Duration,
    pub api_requests: u32,
    pub granted: usize,
    pub revoked: usize,
    pub refused: usize,
    /// Groups a sign-in that was not an IdP assertion could not grant.
    pub withheld: usize,
    /// Groups and deletions left for the next sign-in by the bound on changes per sign-in.
    pub deferred: usize,
    /// 1 when the sign-in's provisioning failed (whatever `FAIL_MODE` made of it).
    pub errors: usize,
}

impl SignInMetrics {
    /// `report` is `None` when provisioning failed.
    pub fn new(report: Option<&SignInSummary>, duration: Duration, api_requests: u32) -> Self {
        SignInMetrics {
            duration,
            api_requests,
            granted: report.map_or(0, |r| r.granted.len()),
            revoked: report.map_or(0, |r| r.revoked.len()),
            refused: report.map_or(0, |r| r.refused.len()),
            withheld: report.map_or(0, |r| r.withheld.len()),
            deferred: report.map_or(0, |r| r.deferred.len() + r.deferred_deletions),
            errors: usize::from(report.is_none()),
        }
    }

    /// The EMF document of the sign-in on `cluster` at `now`.
    pub fn emf(&self, cluster: &str, now: SystemTime) -> Value {
        emf_document(
            cluster,
            now,
            &[
                (
                    "DurationMs",
                    MILLISECONDS,
                    json!(self.duration.as_secs_f64() * 1000.0),
                ),
                ("ApiRequests", COUNT, json!(self.api_requests)),
                ("GroupsGranted", COUNT, json!(self.granted)),
                ("BindingsRevoked", COUNT, json!(self.revoked)),
                ("GroupsRefused", COUNT, json!(self.refused)),
                ("GroupsWithheld", COUNT, json!(self.withheld)),
                ("ChangesDeferred", COUNT, json!(self.deferred)),
                ("Errors", COUNT, json!(self.errors)),
            ],
        )
    }
}

/// The EMF document of one sign-in the gate refused at `now` (`SIGN_IN_GATE`), before any
/// cluster: its `Cluster` dimension says `gate` (CloudWatch takes no empty dimension value).
pub fn gate_refusal_emf(now: SystemTime) -> Value {
    emf_document("gate", now, &[("SignInsRefused", COUNT, json!(1))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emf_line_declares_every_metric_it_carries() {
        let report = SignInSummary {
            granted: vec!["a".into(), "b".into()],
            revoked: vec!["RoleBinding c/x".into()],
            withheld: vec!["w".into()],
            deferred: vec!["d".into()],
            deferred_deletions: 2,
            ..SignInSummary::default()
        };
        let metrics = SignInMetrics::new(Some(&report), Duration::from_millis(42), 4);
        let doc = metrics.emf(
            "us-west-2/kf-dr",
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        );
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        for declared in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            let name = declared["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "{name} is declared but not set");
        }
        // Over every cluster, and per cluster: each dimension it names is set.
        let dimensions = &doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
        assert_eq!(*dimensions, serde_json::json!([[], ["Cluster"]]));
        assert_eq!(doc["Cluster"], "us-west-2/kf-dr");
        assert_eq!(doc["DurationMs"], 42.0);
        assert_eq!(doc["ApiRequests"], 4);
        assert_eq!(doc["GroupsGranted"], 2);
        assert_eq!(doc["BindingsRevoked"], 1);
        assert_eq!(doc["GroupsWithheld"], 1);
        assert_eq!(doc["ChangesDeferred"], 3);
        assert_eq!(doc["Errors"], 0);
        let failed = SignInMetrics::new(None, Duration::ZERO, 2).emf("kf", SystemTime::UNIX_EPOCH);
        assert_eq!(failed["Errors"], 1);
    }
}
