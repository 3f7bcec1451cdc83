//! CloudWatch Embedded Metric Format documents, so operators get dashboards and alarms from the
//! logs alone: one per sign-in and one per sweep of a cluster. Built here; the use cases print
//! them ([`crate::lambda::logging::emit_metrics`]). Pure.

use std::time::SystemTime;

use serde_json::{Value, json};

pub const METRIC_NAMESPACE: &str = "KubeflowProfileManager";

pub const COUNT: &str = "Count";
pub const MILLISECONDS: &str = "Milliseconds";

/// The EMF document of `metrics` (name, unit, value) at `now`, in this function's namespace:
/// each metric over every cluster (no dimension: the alarm and the dashboard) and per
/// `Cluster`.
pub fn emf_document(cluster: &str, now: SystemTime, metrics: &[(&str, &str, Value)]) -> Value {
    let timestamp = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let declared: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
        .collect();
    let mut document = json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [[], ["Cluster"]],
                "Metrics": declared,
            }],
        },
        "Cluster": cluster,
    });
    for (name, _, value) in metrics {
        document[*name] = value.clone();
    }
    document
}
