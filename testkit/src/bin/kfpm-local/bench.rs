//! The benchmark: the function binary against the fake cluster with an injected per-request
//! latency, for several group counts. Prints a Markdown table.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kfpm_testkit::ShiftedClock;
use kfpm_testkit::apiserver::FakeClusterConfig;
use kfpm_testkit::local::LocalStack;
use kfpm_testkit::runtime_api::Invocation;
use serde_json::json;
use tokio::time::Instant;

struct Row {
    groups: usize,
    init: Duration,
    first: Duration,
    first_requests: usize,
    repeat: Duration,
    repeat_requests: usize,
    peak_rss_kib: u64,
}

fn event(groups: usize) -> String {
    let names: Vec<String> = (1..=groups).map(|i| format!("RIDY-TEAM-{i:02}")).collect();
    json!({
        "version": "1", "triggerSource": "TokenGeneration_HostedAuth", "region": "us-east-1",
        "userPoolId": "us-east-1_mg7wscVHr", "userName": "adfs_ad\\rumesh",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1qlg2f7sagm6ob7s5985rm1qk8"},
        "request": {"userAttributes": {"email": "rumesh@corp.example", "custom:groups": format!("[{}]", names.join(", "))},
                    "groupConfiguration": {"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": null}},
        "response": {"claimsOverrideDetails": null},
    })
    .to_string()
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

async fn measure(binary: &Path, latency: Duration, groups: usize) -> Result<Row, String> {
    let stack = LocalStack::start(FakeClusterConfig::new(ShiftedClock::default().clock())).await;
    stack.cluster.set_latency(latency);
    let started = Instant::now();
    let function = stack.spawn_function(binary, &[], true);
    let pid = function.id().ok_or("the function did not start")?;
    let deadline = started + Duration::from_secs(10);
    let init = loop {
        if let Some(at) = stack.runtime.first_poll() {
            break at - started;
        }
        if Instant::now() > deadline {
            return Err("the function never asked for an event".into());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    };
    let event = event(groups);
    let invoke = async || -> Result<(Duration, usize), String> {
        stack.cluster.clear_requests();
        let at = Instant::now();
        match stack
            .runtime
            .invoke(&event, Duration::from_secs(5), Duration::from_secs(15))
            .await
        {
            Some(Invocation::Response(_)) => Ok((at.elapsed(), stack.cluster.requests().len())),
            other => Err(format!("sign-in failed: {other:?}")),
        }
    };
    let (first, first_requests) = invoke().await?;
    // Let the profile controller settle, as between two real sign-ins.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (repeat, repeat_requests) = invoke().await?;
    let peak_rss_kib = peak_rss_kib(pid);
    drop(function);
    Ok(Row {
        groups,
        init,
        first,
        first_requests,
        repeat,
        repeat_requests,
        peak_rss_kib,
    })
}

fn size_line(label: &str, path: &Path) -> Option<String> {
    let size = std::fs::metadata(path).ok()?.len();
    Some(format!(
        "{label}: {} ({:.1} MiB)",
        path.display(),
        size as f64 / 1_048_576.0
    ))
}

pub async fn run(binary: PathBuf, latency_ms: u64, groups: &[usize]) -> Result<(), String> {
    let latency = Duration::from_millis(latency_ms);
    let mut rows = Vec::new();
    for &count in groups {
        rows.push(measure(&binary, latency, count).await?);
    }
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    let trips = |d: Duration| format!("{:.1}", d.as_secs_f64() / latency.as_secs_f64().max(1e-9));
    println!(
        "binary: {}; injected latency per API request: {latency_ms} ms\n",
        binary.display()
    );
    println!(
        "| groups | cold-start init (ms) | first sign-in (ms) | first: API requests | first: round trips | repeat sign-in (ms) | repeat: API requests | repeat: round trips | peak RSS (MiB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            row.groups,
            ms(row.init),
            ms(row.first),
            row.first_requests,
            trips(row.first),
            ms(row.repeat),
            row.repeat_requests,
            trips(row.repeat),
            row.peak_rss_kib as f64 / 1024.0
        );
    }
    println!();
    for line in [
        size_line("this binary", &binary),
        size_line(
            "arm64 Lambda bootstrap (cargo lambda build --release --arm64)",
            &crate::target_dir().join("lambda/kubeflow-profile-manager/bootstrap"),
        ),
    ]
    .into_iter()
    .flatten()
    {
        println!("{line}");
    }
    Ok(())
}
