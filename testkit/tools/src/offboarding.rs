//! `kfpm-local access-report` and `kfpm-local bench-sweep`: the function's access report after
//! local sign-ins, and the offboarding sweep over thousands of managed people at a given
//! per-request latency.

use std::path::Path;
use std::time::{Duration, SystemTime};

use kfpm_fakes::ShiftedClock;
use kfpm_fakes::apiserver::FakeClusterConfig;
use kfpm_fakes::events::sub_of;
use kfpm_fakes::local::{LOCAL_USER_POOL, LocalStack};
use kfpm_fakes::members::{Record, seed_group, seed_member, seed_record, username_of};
use kfpm_fakes::runtime_api::{FakeRuntimeApi, Invocation};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::bench::{cpu_time, peak_rss_kib};

/// Invokes the function running on `runtime` with a command (Lambda's deadline `deadline`
/// from now) and returns its answer.
pub async fn command(
    runtime: &FakeRuntimeApi,
    request: &Value,
    deadline: Duration,
) -> Result<Value, String> {
    match runtime
        .invoke(
            &request.to_string(),
            deadline,
            deadline + Duration::from_secs(5),
        )
        .await
    {
        Some(Invocation::Response(answer)) => {
            serde_json::from_str(&answer).map_err(|e| format!("the answer: {e}"))
        }
        Some(Invocation::Error(error)) => Err(format!("the function failed: {error}")),
        None => Err(runtime
            .init_error()
            .map_or("no answer in time".into(), |e| {
                format!("the function failed to start: {e}")
            })),
    }
}

/// Signs each event's person in, then prints the function's access report (`format`: json or
/// csv) of the cluster.
pub async fn access_report(
    stack: &LocalStack,
    binary: &Path,
    extra: &[(&str, &str)],
    events: &[std::path::PathBuf],
    format: &str,
) -> Result<(), String> {
    let _trigger = stack.spawn_function(binary, extra, true);
    let _sweep = stack.spawn_sweep_function(binary, extra, true);
    for path in events {
        let event =
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        match stack
            .runtime
            .invoke(&event, Duration::from_secs(5), Duration::from_secs(15))
            .await
        {
            Some(Invocation::Response(_)) => eprintln!("signed in: {}", path.display()),
            other => {
                return Err(format!(
                    "the sign-in of {} failed: {other:?}",
                    path.display()
                ));
            }
        }
    }
    let request = json!({"kubeflow-profile-manager": "access-report", "format": format});
    let answer = command(&stack.sweep_runtime, &request, Duration::from_secs(30)).await?;
    match answer["csv"].as_str() {
        Some(csv) => print!("{csv}"),
        None => println!(
            "{}",
            serde_json::to_string_pretty(&answer).map_err(|e| e.to_string())?
        ),
    }
    Ok(())
}

/// Who the benchmark's people are: members of two of `groups` teams (never the same one twice:
/// `groups` is 50), all seen yesterday, most still in the pool, one in twenty deleted from it,
/// one in twenty disabled.
fn seed_people(stack: &LocalStack, people: usize, groups: usize) -> (usize, usize) {
    for group in 0..groups {
        seed_group(&stack.cluster, &format!("team-{group:03}"));
    }
    stack.cognito.add_pool(LOCAL_USER_POOL);
    let yesterday = SystemTime::now() - Duration::from_secs(86_400);
    let (mut deleted, mut disabled) = (0, 0);
    for person in 0..people {
        let user = format!("person-{person:06}");
        // Two teams each.
        for team in [person % groups, (person * 7 + 3) % groups] {
            seed_member(
                &stack.cluster,
                &user,
                &format!("team-{team:03}"),
                Record::None,
            );
        }
        seed_record(&stack.cluster, &user, yesterday);
        match person % 20 {
            0 => deleted += 1,
            1 => {
                disabled += 1;
                stack
                    .cognito
                    .add_user(LOCAL_USER_POOL, &username_of(&user), &sub_of(&user), false);
            }
            _ => stack
                .cognito
                .add_user(LOCAL_USER_POOL, &username_of(&user), &sub_of(&user), true),
        }
    }
    (deleted, disabled)
}

/// What a namespace admin of team-000 stores there without the admission policies: `count`
/// RoleBindings with the function's labels, each naming a person nobody is, each with a 200 KiB
/// annotation (the API server's limit for all annotations is 256 KiB).
fn seed_ballast(stack: &LocalStack, count: usize) {
    let ballast = "x".repeat(200 * 1024);
    for i in 0..count {
        stack.cluster.seed(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("ballast-{i:05}"), "namespace": "team-000",
                "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                           "kubeflow-profile-manager/user": format!("00000000-0000-0000-0000-{i:012}")},
                "annotations": {"ballast": ballast}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory@corp.example"}],
        }));
    }
}

/// The sweep over `people` managed people at `latency` per request (Kubernetes and Cognito):
/// wall time, requests per person, memory; a Markdown table.
pub async fn bench_sweep(
    binary: &Path,
    latency_ms: u64,
    people: usize,
    ballast: usize,
) -> Result<(), String> {
    let latency = Duration::from_millis(latency_ms);
    let mut config = FakeClusterConfig::new(ShiftedClock::default().clock());
    config.controller_delay = Duration::from_millis(1);
    let stack = LocalStack::start(config).await;
    let function = stack.spawn_sweep_function(binary, &[], true);
    let pid = function.id().ok_or("the function did not start")?;
    // Warm the container (cold start is measured by `bench`) on the empty cluster, then seed
    // the people and measure one sweep.
    let _ = command(
        &stack.sweep_runtime,
        &json!({"kubeflow-profile-manager": "access-report"}),
        Duration::from_secs(30),
    )
    .await?;
    let groups = 50;
    eprintln!(
        "seeding {people} people ({} bindings, {people} records)...",
        people * 4
    );
    let (deleted, disabled) = seed_people(&stack, people, groups);
    seed_ballast(&stack, ballast);
    stack.cluster.clear_requests();
    let cognito_before = stack.cognito.calls().len();
    stack.cluster.set_latency(latency);
    stack.cognito.set_latency(latency);
    let cpu_before = cpu_time(pid);
    let rss_before = peak_rss_kib(pid);
    let started = Instant::now();
    let summary = command(
        &stack.sweep_runtime,
        &json!({"kubeflow-profile-manager": "sweep"}),
        Duration::from_secs(900),
    )
    .await?;
    let wall = started.elapsed();
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    let kubernetes = stack.cluster.requests().len();
    let cognito = stack.cognito.calls().len() - cognito_before;
    let per = |n: usize| n as f64 / people.max(1) as f64;
    println!(
        "Sweep of {people} managed people ({} bindings, and {ballast} labelled bindings of 200 KiB a namespace admin stored), {latency_ms} ms per request, one invocation (15 minutes at most):\n",
        people * 4
    );
    println!(
        "| people | wall time | Kubernetes requests (per person) | pool requests ({}) | over the pool's quotas | revoked (deleted + disabled) | finished | CPU | peak RSS (before the sweep) |",
        summary["poolLookup"].as_str().unwrap_or("?")
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {people} | {:.1} s | {kubernetes} ({:.3}) | {cognito} | {} | {} ({deleted} + {disabled}) | {} | {:.2} s | {} MiB ({} MiB) |",
        wall.as_secs_f64(),
        per(kubernetes),
        stack.cognito.over_quota(),
        summary["revokedDeleted"].as_u64().unwrap_or(0)
            + summary["revokedDisabled"].as_u64().unwrap_or(0),
        summary["finished"],
        cpu.as_secs_f64(),
        peak_rss_kib(pid) / 1024,
        rss_before / 1024,
    );
    if summary["finished"] != true {
        return Err(format!("the sweep did not finish: {summary}"));
    }
    Ok(())
}
