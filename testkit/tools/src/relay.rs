//! The function's output, relayed line by line for a person reading a local run: its log lines
//! as they are, and its CloudWatch Embedded Metric Format documents (one JSON line per sign-in,
//! meant for CloudWatch, not for eyes) as one short line of their values.

use std::path::Path;

use kfpm_fakes::local::LocalStack;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;

/// Starts the function binary with `extra` settings, its output relayed to ours.
pub fn spawn(stack: &LocalStack, binary: &Path, extra: &[(&str, &str)]) -> Child {
    let mut child = stack.spawn_function_capturing(binary, extra);
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(relay(stdout));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(relay(stderr));
    }
    child
}

async fn relay(stream: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        println!("{}", readable(&line));
    }
}

/// `line`, or the summary of the EMF document it is.
pub fn readable(line: &str) -> String {
    let Ok(document) = serde_json::from_str::<Value>(line) else {
        return line.to_owned();
    };
    let Some(metrics) = document
        .pointer("/_aws/CloudWatchMetrics/0/Metrics")
        .and_then(Value::as_array)
    else {
        return line.to_owned();
    };
    let values: Vec<String> = metrics
        .iter()
        .filter_map(|metric| {
            let name = metric["Name"].as_str()?;
            let value = document[name].as_f64()?;
            Some(format!("{name}={}", (value * 10.0).round() / 10.0))
        })
        .collect();
    let cluster = document["Cluster"]
        .as_str()
        .map(|c| format!(" cluster={c}"))
        .unwrap_or_default();
    format!(
        " EMF metrics (for CloudWatch){cluster}: {}",
        values.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_becomes_its_values_and_a_log_line_stays() {
        let emf = r#"{"ApiRequests":23,"Cluster":"kf","DurationMs":159.31419,"_aws":{"CloudWatchMetrics":[{"Dimensions":[[],["Cluster"]],"Metrics":[{"Name":"DurationMs","Unit":"Milliseconds"},{"Name":"ApiRequests","Unit":"Count"}],"Namespace":"KubeflowProfileManager"}],"Timestamp":1}}"#;
        assert_eq!(
            readable(emf),
            " EMF metrics (for CloudWatch) cluster=kf: DurationMs=159.3 ApiRequests=23"
        );
        for line in [" INFO change action=\"create\"", "{\"not\": \"emf\"}"] {
            assert_eq!(readable(line), line);
        }
    }
}
