//! `kfpm-local bench-clusters`: the same sign-ins against one cluster and against three (one of
//! them in another region), every API request delayed by the same latency: a sign-in
//! provisions its clusters at once, so three should cost about what one does.

use std::path::Path;
use std::time::Duration;

use kfpm_fakes::ShiftedClock;
use kfpm_fakes::apiserver::FakeClusterConfig;
use kfpm_fakes::events::sign_in_event;
use kfpm_fakes::local::LocalStack;
use kfpm_fakes::runtime_api::Invocation;

use crate::bench::cpu_time;
use tokio::time::Instant;

/// Repeat sign-ins measured per run: their median wall time, and the function's CPU time over
/// all of them (the kernel counts it in 10 ms ticks).
const REPEATS: usize = 20;

/// The wall time of a first sign-in (cold container), of another person's first sign-in and
/// of that person's repeat sign-in (the median of [`REPEATS`]), with `groups` groups, on
/// `clusters` clusters; and the function's CPU time per repeat sign-in.
async fn sign_ins(
    binary: &Path,
    latency: Duration,
    clusters: usize,
    groups: usize,
) -> Result<([Duration; 3], Duration), String> {
    let mut config = FakeClusterConfig::new(ShiftedClock::default().clock());
    config.latency = latency;
    let mut stack = LocalStack::start(config).await;
    for (name, region) in [("kf-two", "us-east-1"), ("kf-three", "us-west-2")]
        .into_iter()
        .take(clusters.saturating_sub(1))
    {
        stack.add_cluster(name, region).await;
    }
    for cluster in stack.clusters() {
        cluster.seed_profile("team-in-use", "alice@corp.example");
    }
    let function = stack.spawn_function(binary, &[], true);
    let pid = function.id().ok_or("the function did not start")?;
    let claim = |team: &str| {
        let names: Vec<String> = (0..groups).map(|i| format!("{team}-{i}")).collect();
        format!("[{}]", names.join(", "))
    };
    let sign_in = async |event: &str| -> Result<Duration, String> {
        let at = Instant::now();
        match stack
            .runtime
            .invoke(event, Duration::from_secs(5), Duration::from_secs(15))
            .await
        {
            Some(Invocation::Response(_)) => Ok(at.elapsed()),
            other => Err(format!(
                "a sign-in failed on {clusters} clusters: {other:?}"
            )),
        }
    };
    let settle = || tokio::time::sleep(Duration::from_millis(600));
    let person = sign_in_event("rumesh", "rumesh@corp.example", &claim("b"));
    settle().await;
    let cold = sign_in(&sign_in_event("jose", "jose@corp.example", &claim("a"))).await?;
    settle().await;
    let warm = sign_in(&person).await?;
    settle().await;
    let cpu_before = cpu_time(pid);
    let mut repeats = Vec::new();
    for _ in 0..REPEATS {
        repeats.push(sign_in(&person).await?);
    }
    let cpu = cpu_time(pid).saturating_sub(cpu_before) / REPEATS as u32;
    repeats.sort();
    Ok(([cold, warm, repeats[REPEATS / 2]], cpu))
}

/// One, then three clusters, `runs` times each (the median is reported); a Markdown table.
pub async fn run(binary: &Path, latency_ms: u64, groups: usize) -> Result<(), String> {
    const RUNS: usize = 3;
    let latency = Duration::from_millis(latency_ms);
    let mut medians = Vec::new();
    let mut cpu = Vec::new();
    for clusters in [1, 3] {
        let mut runs = Vec::new();
        for _ in 0..RUNS {
            runs.push(sign_ins(binary, latency, clusters, groups).await?);
        }
        let median = |i: usize| {
            let mut times: Vec<Duration> = runs.iter().map(|(r, _)| r[i]).collect();
            times.sort();
            times[RUNS / 2]
        };
        medians.push([median(0), median(1), median(2)]);
        cpu.push(runs.iter().map(|(_, c)| *c).sum::<Duration>() / RUNS as u32);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "Sign-ins with {groups} groups, {latency_ms} ms per request, on one cluster and on three (one in another region); median of {RUNS}:\n"
    );
    println!("| sign-in | one cluster (ms) | three clusters (ms) | ratio |");
    println!("|---|---:|---:|---:|");
    for (i, label) in ["first, cold container", "first, warm container", "repeat"]
        .iter()
        .enumerate()
    {
        let (one, three) = (ms(medians[0][i]), ms(medians[1][i]));
        println!("| {label} | {one:.1} | {three:.1} | {:.2} |", three / one);
    }
    println!(
        "\nThe function's CPU per repeat sign-in: {:.1} ms on one cluster, {:.1} ms on three (the fake API servers run on the same cores).",
        ms(cpu[0]),
        ms(cpu[1])
    );
    Ok(())
}
