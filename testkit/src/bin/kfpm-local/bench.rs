//! The benchmark: the function binary against the fake cluster with an injected per-request
//! latency, for several group counts. Prints a Markdown table.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kfpm_testkit::ShiftedClock;
use kfpm_testkit::apiserver::FakeClusterConfig;
use kfpm_testkit::events::sign_in_event;
use kfpm_testkit::local::LocalStack;
use kfpm_testkit::runtime_api::Invocation;
use tokio::time::Instant;

/// One sign-in: wall time and API requests.
#[derive(Clone, Copy)]
struct SignIn {
    wall: Duration,
    requests: usize,
}

/// One run of the sequence: cold start, a first sign-in in the cold container, another user's
/// first sign-in in the warm container, and that user's repeat sign-in.
struct Run {
    init: Duration,
    cold_first: SignIn,
    warm_first: SignIn,
    repeat: SignIn,
    peak_rss_kib: u64,
}

fn event(user: &str, team: &str, groups: usize) -> String {
    let names: Vec<String> = (1..=groups)
        .map(|i| format!("RIDY-{team}-{i:02}"))
        .collect();
    sign_in_event(
        user,
        &format!("{user}@corp.example"),
        &format!("[{}]", names.join(", ")),
    )
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

async fn measure(binary: &Path, latency: Duration, groups: usize) -> Result<Run, String> {
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
    let invoke = async |event: &str| -> Result<SignIn, String> {
        // Let the profile controller settle, as between two real sign-ins.
        tokio::time::sleep(Duration::from_millis(600)).await;
        stack.cluster.clear_requests();
        let at = Instant::now();
        match stack
            .runtime
            .invoke(event, Duration::from_secs(5), Duration::from_secs(15))
            .await
        {
            Some(Invocation::Response(_)) => Ok(SignIn {
                wall: at.elapsed(),
                requests: stack.cluster.requests().len(),
            }),
            other => Err(format!("sign-in failed: {other:?}")),
        }
    };
    let cold_first = invoke(&event("jose", "A", groups)).await?;
    let second = event("rumesh", "B", groups);
    let warm_first = invoke(&second).await?;
    let repeat = invoke(&second).await?;
    let peak_rss_kib = peak_rss_kib(pid);
    drop(function);
    Ok(Run {
        init,
        cold_first,
        warm_first,
        repeat,
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
    let latency = Duration::from_millis(latency_ms.max(1));
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    // Round trips on the critical path: the time the injected latency added, in latencies.
    let trips = |slow: SignIn, fast: SignIn| {
        format!(
            "{:.1}",
            (slow.wall.as_secs_f64() - fast.wall.as_secs_f64()).max(0.0) / latency.as_secs_f64()
        )
    };
    println!(
        "binary: {}; injected latency per API request: {} ms",
        binary.display(),
        latency.as_millis()
    );
    println!("round trips = (wall time at that latency - wall time at no latency) / latency\n");
    println!(
        "| groups | cold-start init (ms) | first sign-in, cold container (ms / requests / round trips) | first sign-in, warm container (ms / requests / round trips) | repeat sign-in (ms / requests / round trips) | peak RSS (MiB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &count in groups {
        let baseline = measure(&binary, Duration::ZERO, count).await?;
        let run = measure(&binary, latency, count).await?;
        let cell = |slow: SignIn, fast: SignIn| {
            format!(
                "{} / {} / {}",
                ms(slow.wall),
                slow.requests,
                trips(slow, fast)
            )
        };
        println!(
            "| {count} | {} | {} | {} | {} | {:.1} |",
            ms(run.init),
            cell(run.cold_first, baseline.cold_first),
            cell(run.warm_first, baseline.warm_first),
            cell(run.repeat, baseline.repeat),
            run.peak_rss_kib.max(baseline.peak_rss_kib) as f64 / 1024.0
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
