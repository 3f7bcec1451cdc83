//! The benchmark: the function binary against the fake cluster with an injected per-request
//! latency, for several group counts. Prints a Markdown table.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kfpm_fakes::ShiftedClock;
use kfpm_fakes::apiserver::FakeClusterConfig;
use kfpm_fakes::apiserver::admission::Admission;
use kfpm_fakes::events::sign_in_event;
use kfpm_fakes::local::LocalStack;
use kfpm_fakes::runtime_api::Invocation;
use tokio::time::Instant;

/// One sign-in: wall time, API requests, the bytes of their answers, and the function's CPU
/// time (user + system).
#[derive(Clone, Copy)]
pub(crate) struct SignIn {
    pub(crate) wall: Duration,
    pub(crate) requests: usize,
    bytes: usize,
    cpu: Duration,
}

/// The CPU time (user + system) process `pid` has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// The team roles the fake EKS lets the function pass (the bench's `TEAM_ROLE_ARN`).
const TEAM_ROLES_PASSED: &str = "arn:aws:iam::111122223333:role/kf-team-*";

/// How one run is set up.
#[derive(Clone, Copy)]
pub(crate) struct Setup {
    pub(crate) latency: Duration,
    pub(crate) groups: usize,
    /// Other teams' Profiles (and their namespaces) on the cluster.
    pub(crate) others: usize,
    /// Run the function under a CPU quota of this many thousandths of a core (Lambda gives a
    /// function CPU in proportion to its memory: about 72 at 128 MB, 144 at 256 MB).
    pub(crate) throttle: Option<u32>,
    /// The function's settings beyond the stack's.
    pub(crate) vars: &'static [(&'static str, &'static str)],
}

/// A cgroup v1 CPU quota on a process; removed when dropped.
struct CpuQuota(PathBuf);

impl CpuQuota {
    /// Puts `pid` under a quota of `per_mille` thousandths of a core, or says why it cannot
    /// (cgroup v2, not root).
    fn limit(pid: u32, per_mille: u32) -> Result<CpuQuota, String> {
        let dir = PathBuf::from(format!("/sys/fs/cgroup/cpu/kfpm-bench-{pid}"));
        let write = |file: &str, value: &str| {
            std::fs::write(dir.join(file), value)
                .map_err(|e| format!("{}: {e}", dir.join(file).display()))
        };
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let quota = CpuQuota(dir.clone());
        write("cpu.cfs_period_us", "100000")?;
        write("cpu.cfs_quota_us", &(per_mille * 100).to_string())?;
        write("cgroup.procs", &pid.to_string())?;
        Ok(quota)
    }
}

impl Drop for CpuQuota {
    fn drop(&mut self) {
        // The process is gone by now; an empty cgroup can be removed.
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Seeds `count` other teams: Profiles made by this function, reconciled by the controller.
fn seed_other_teams(stack: &LocalStack, count: usize) {
    for i in 0..count {
        let name = format!("other-team-{i:05}");
        stack.cluster.seed(serde_json::json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                                                 "kubeflow-profile-manager/profile": name},
                         "annotations": {"kubeflow-profile-manager/group": name}},
            "spec": {"owner": {"kind": "User", "name": "admin@kubeflow.com"}}}));
        stack.cluster.reconcile(&name);
    }
}

/// One run of the sequence: cold start, a first sign-in in the cold container, another user's
/// first sign-in in the warm container, and that user's repeat sign-in.
pub(crate) struct Run {
    init: Duration,
    cold_first: SignIn,
    pub(crate) warm_first: SignIn,
    repeat: SignIn,
    peak_rss_kib: u64,
    /// TLS connections the cold container opened for its first sign-in.
    connections: usize,
    /// EKS calls of the first sign-in in the warm container (the team roles).
    pub(crate) warm_first_eks_calls: usize,
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

/// The most resident memory process `pid` has used (KiB).
pub fn peak_rss_kib(pid: u32) -> u64 {
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

pub(crate) async fn measure(binary: &Path, setup: Setup) -> Result<Run, String> {
    let Setup {
        latency,
        groups,
        others,
        throttle,
        vars,
    } = setup;
    let mut config = FakeClusterConfig::new(ShiftedClock::default().clock());
    // The admission policies as make admission renders them for these settings.
    config.admission = Some(Admission::for_settings(vars));
    let stack = LocalStack::start(config).await;
    // A cluster in use: one team's Profile, and the other teams asked for.
    stack
        .cluster
        .seed_profile("team-in-use", "alice@corp.example");
    seed_other_teams(&stack, others);
    stack.cluster.set_latency(latency);
    stack.eks.allow_pass_role(TEAM_ROLES_PASSED);
    let started = Instant::now();
    let function = stack.spawn_function(binary, vars, true);
    let pid = function.id().ok_or("the function did not start")?;
    let _quota = match throttle {
        Some(per_mille) => Some(CpuQuota::limit(pid, per_mille)?),
        None => None,
    };
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
        let cpu_before = cpu_time(pid);
        let at = Instant::now();
        match stack
            .runtime
            .invoke(event, Duration::from_secs(5), Duration::from_secs(15))
            .await
        {
            Some(Invocation::Response(_)) => {
                let requests = stack.cluster.requests();
                Ok(SignIn {
                    wall: at.elapsed(),
                    requests: requests.len(),
                    bytes: requests.iter().map(|r| r.response_bytes).sum(),
                    cpu: cpu_time(pid).saturating_sub(cpu_before),
                })
            }
            other => Err(format!("sign-in failed: {other:?}")),
        }
    };
    let cold_first = invoke(&event("jose", "A", groups)).await?;
    let connections = stack.cluster.connections().len();
    let second = event("rumesh", "B", groups);
    let eks_before = stack.eks.calls();
    let warm_first = invoke(&second).await?;
    let warm_first_eks_calls = stack.eks.calls() - eks_before;
    let repeat = invoke(&second).await?;
    let peak_rss_kib = peak_rss_kib(pid);
    drop(function);
    Ok(Run {
        init,
        cold_first,
        warm_first,
        repeat,
        peak_rss_kib,
        connections,
        warm_first_eks_calls,
    })
}

/// Sign-ins of one user with `groups` new groups until all are granted (at most 6): each
/// sign-in's wall time and whether it succeeded, and the groups granted after it.
async fn until_all_granted(
    binary: &Path,
    setup: Setup,
) -> Result<Vec<(Duration, bool, usize)>, String> {
    let stack = LocalStack::start(FakeClusterConfig::new(ShiftedClock::default().clock())).await;
    stack
        .cluster
        .seed_profile("team-in-use", "alice@corp.example");
    stack.cluster.set_latency(setup.latency);
    let function = stack.spawn_function(binary, &[], true);
    let pid = function.id().ok_or("the function did not start")?;
    let _quota = match setup.throttle {
        Some(per_mille) => Some(CpuQuota::limit(pid, per_mille)?),
        None => None,
    };
    let claim = event("rumesh", "Z", setup.groups);
    let mut sign_ins = Vec::new();
    for _ in 0..6 {
        let at = Instant::now();
        let answer = stack
            .runtime
            .invoke(&claim, Duration::from_secs(5), Duration::from_secs(30))
            .await;
        let granted = stack
            .cluster
            .all("RoleBinding")
            .iter()
            .filter(|b| b["metadata"]["annotations"]["user"] == "rumesh@corp.example")
            .count();
        sign_ins.push((
            at.elapsed(),
            matches!(answer, Some(Invocation::Response(_))),
            granted,
        ));
        if granted >= setup.groups {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(function);
    Ok(sign_ins)
}

fn size_line(label: &str, path: &Path) -> Option<String> {
    let size = std::fs::metadata(path).ok()?.len();
    Some(format!(
        "{label}: {} ({:.1} MiB)",
        path.display(),
        size as f64 / 1_048_576.0
    ))
}

/// `make bench`: each table in turn, then the binaries' sizes.
pub async fn run(binary: PathBuf, latency_ms: u64, groups: &[usize]) -> Result<(), String> {
    let latency = Duration::from_millis(latency_ms.max(1));
    println!(
        "binary: {}; injected latency per API request: {} ms",
        binary.display(),
        latency.as_millis()
    );
    sign_in_table(&binary, latency, groups).await?;
    crate::bench_teams::team_setup_table(&binary, latency).await?;
    other_teams_table(&binary, latency).await?;
    cpu_quota_table(&binary, latency).await;
    until_all_granted_list(&binary, latency).await;
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

/// Milliseconds, to a tenth.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// `groups` sign-ins measured at `latency`, with no other team on the cluster.
pub(crate) fn setup(latency: Duration, groups: usize) -> Setup {
    Setup {
        latency,
        groups,
        others: 0,
        throttle: None,
        vars: &[],
    }
}

/// Sign-ins of each size: wall time, requests and round trips, cold, warm and repeated.
async fn sign_in_table(binary: &Path, latency: Duration, groups: &[usize]) -> Result<(), String> {
    // Round trips on the critical path: the time the injected latency added, in latencies.
    let trips = |slow: SignIn, fast: SignIn| {
        format!(
            "{:.1}",
            (slow.wall.as_secs_f64() - fast.wall.as_secs_f64()).max(0.0) / latency.as_secs_f64()
        )
    };
    println!("round trips = (wall time at that latency - wall time at no latency) / latency\n");
    println!(
        "| groups | cold-start init (ms) | first sign-in, cold container (ms / requests / round trips) | first sign-in, warm container (ms / requests / round trips) | repeat sign-in (ms / requests / round trips) | peak RSS (MiB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &count in groups {
        let baseline = measure(binary, setup(Duration::ZERO, count)).await?;
        let run = measure(binary, setup(latency, count)).await?;
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
    Ok(())
}

/// What one repeat sign-in reads as the cluster holds more teams.
async fn other_teams_table(binary: &Path, latency: Duration) -> Result<(), String> {
    println!("\nOther teams on the cluster (10 groups): what one repeat sign-in reads");
    println!("\n| other teams | repeat sign-in (ms / requests / KiB read) |");
    println!("|---:|---:|");
    for others in [50, 1000, 5000] {
        let run = measure(
            binary,
            Setup {
                others,
                ..setup(latency, 10)
            },
        )
        .await?;
        println!(
            "| {others} | {} / {} / {:.1} |",
            ms(run.repeat.wall),
            run.repeat.requests,
            run.repeat.bytes as f64 / 1024.0
        );
    }
    Ok(())
}

/// Sign-ins of 50 groups with the function under a CPU quota.
async fn cpu_quota_table(binary: &Path, latency: Duration) {
    println!("\nThe function under a CPU quota (a Lambda's share of a vCPU), 50 groups");
    println!(
        "\n| CPU | first sign-in, cold container (ms / requests / TLS connections / CPU ms) | first sign-in, warm container (ms / CPU ms) | repeat sign-in (ms / CPU ms) |"
    );
    println!("|---|---:|---:|---:|");
    for throttle in [None, Some(144), Some(72)] {
        let measured = measure(
            binary,
            Setup {
                throttle,
                ..setup(latency, 50)
            },
        )
        .await;
        let label = match throttle {
            None => "unthrottled".to_owned(),
            Some(per_mille) => format!(
                "{:.1}% of a core ({} MB Lambda)",
                f64::from(per_mille) / 10.0,
                per_mille * 128 / 72
            ),
        };
        match measured {
            Ok(run) => println!(
                "| {label} | {} / {} / {} / {} | {} / {} | {} / {} |",
                ms(run.cold_first.wall),
                run.cold_first.requests,
                run.connections,
                ms(run.cold_first.cpu),
                ms(run.warm_first.wall),
                ms(run.warm_first.cpu),
                ms(run.repeat.wall),
                ms(run.repeat.cpu)
            ),
            Err(why) => println!("| {label} | skipped: {why} | | |"),
        }
    }
}

/// 500 new groups on 7.2% of a core: each sign-in until all are granted.
async fn until_all_granted_list(binary: &Path, latency: Duration) {
    println!("\n500 new groups at once, on 7.2% of a core: every sign-in until all are granted");
    match until_all_granted(
        binary,
        Setup {
            throttle: Some(72),
            ..setup(latency, 500)
        },
    )
    .await
    {
        Ok(sign_ins) => {
            for (i, (wall, ok, granted)) in sign_ins.iter().enumerate() {
                println!(
                    "- sign-in {}: {} ms, {}, {granted} of 500 granted",
                    i + 1,
                    ms(*wall),
                    if *ok { "succeeded" } else { "FAILED" }
                );
            }
        }
        Err(why) => println!("- skipped: {why}"),
    }
}
