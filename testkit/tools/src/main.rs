//! Runs the function binary locally, as Lambda would, against the loopback fake EKS cluster.
//!
//! The commands and options are in [`USAGE`] (`kfpm-local --help`).

use std::process::ExitCode;
use std::time::Duration;

use kfpm_fakes::ShiftedClock;
use kfpm_fakes::apiserver::admission::Admission;
use kfpm_fakes::apiserver::{FakeClusterConfig, Flavor};
use kfpm_fakes::local::{LocalStack, allow_list_yields};
use serde_json::{Value, json};

use demo::demo;
use options::{Options, parse, target_dir};

mod bench;
mod bench_teams;
mod clusters;
mod demo;
mod offboarding;
mod options;
mod relay;

/// What `kfpm-local --help` prints.
const USAGE: &str = "\
kfpm-local: runs the function binary locally, as Lambda would, against a loopback fake EKS cluster.

usage:
  kfpm-local demo [--binary PATH] [--flavor F] [--env KEY=VALUE]... EVENT.json...
      invoke the function with each event, then show what it created on the cluster;
      exits 1 if any sign-in failed or was answered with a changed event
  kfpm-local bench [--binary PATH] [--latency-ms 20] [--groups 1,10,50]
      measure cold start, sign-in wall time, requests, round trips, bytes, CPU and memory
  kfpm-local doctor [--binary PATH] [--flavor F] [--env KEY=VALUE]... [--email E] [--ad-groups A,B]
      invoke the function's doctor (README, Doctor) on the fake cluster and print its report;
      with --email, preview that person's sign-in; exits 1 if any check found a problem
  kfpm-local access-report [--binary PATH] [--flavor F] [--env KEY=VALUE]... [--format json|csv] [EVENT.json...]
      sign each event's person in, then print the function's access report of the cluster
  kfpm-local bench-clusters [--binary PATH] [--latency-ms 20] [--groups 10]
      measure the same sign-ins on one cluster and on three (CLUSTER_NAME with three names)
  kfpm-local bench-sweep [--binary PATH] [--latency-ms 20] [--people 5000] [--ballast 0]
      measure one offboarding sweep over that many managed people (wall time, requests, memory),
      with that many 200 KiB bindings a namespace admin stored under the function's labels
  kfpm-local serve --env-file PATH [--flavor F]
      run the fake cluster and EKS until SIGINT/SIGTERM, write the function's environment
      to PATH (for `cargo lambda watch --env-file`), and show the cluster on exit

options:
  --binary PATH      the function binary (default: $CARGO_TARGET_DIR/debug/kubeflow-profile-manager)
  --flavor F         the fake cluster's Kubeflow: current, kubeflow-1.3, kubeflow-1.2,
                     upgraded-from-1.2, ambient-with-waypoint, ambient-without-waypoint
                     (default: current)
  --env KEY=VALUE    an extra environment variable for the function (repeatable)
  --env-file PATH    where serve writes the function's environment
  --email E          doctor: the person whose sign-in to preview
  --ad-groups LIST   doctor: their AD groups, comma-separated
  --latency-ms N     bench: latency added to every API request (default: 20)
  --groups LIST      bench: group counts to measure (default: 1,10,50)
  --format F         access-report: json or csv (default: json)
  --people N         bench-sweep: managed people on the cluster (default: 5000)
  --ballast N        bench-sweep: a tenant's labelled bindings with 200 KiB annotations (default: 0)
  -h, --help         this text
";

/// The local stack on a fake cluster of `flavor`, seeded as a cluster in use, its admission
/// policies rendered for the function's settings `extra` (as `make admission` would).
async fn seeded_stack(flavor: Flavor, extra: &[(&str, &str)]) -> LocalStack {
    let mut config = FakeClusterConfig::new(ShiftedClock::default().clock());
    config.flavor = flavor;
    config.admission = Some(Admission::for_settings(extra));
    let stack = LocalStack::start(config).await;
    seed(&stack);
    stack
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    if args.iter().any(|arg| arg == "--help" || arg == "-h") || command == "help" {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(&args[1..]) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("kfpm-local: {message}");
            return ExitCode::from(2);
        }
    };
    let result = match command.as_str() {
        "demo" => demo(options).await,
        "bench" => bench::run(options.binary, options.latency_ms, &options.groups).await,
        "doctor" => doctor(options).await,
        "serve" => serve(options).await,
        "access-report" => {
            let stack = seeded_stack(options.flavor, &options.extra_env()).await;
            offboarding::access_report(
                &stack,
                &options.binary,
                &options.extra_env(),
                &options.events,
                &options.format,
            )
            .await
        }
        "bench-clusters" => {
            let groups = options.groups.first().copied().unwrap_or(10);
            clusters::run(&options.binary, options.latency_ms, groups).await
        }
        "bench-sweep" => {
            offboarding::bench_sweep(
                &options.binary,
                options.latency_ms,
                options.people,
                options.ballast,
            )
            .await
        }
        other => Err(format!(
            "unknown command {other}: demo, doctor, bench, bench-clusters, access-report, bench-sweep or serve (see --help)"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kfpm-local: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A cluster as an operator has it: system namespaces, a team's Profile, a bare namespace.
fn seed(stack: &LocalStack) {
    for ns in [
        "kube-system",
        "kubeflow",
        "istio-system",
        "auth",
        "monitoring",
    ] {
        stack
            .cluster
            .seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    stack
        .cluster
        .seed_profile("data-science-eu", "eve@corp.example");
}

/// The init error a function posted, in words: its type and message.
fn did_not_start(init_error: &str) -> String {
    let error: Value = serde_json::from_str(init_error).unwrap_or_default();
    match (error["errorType"].as_str(), error["errorMessage"].as_str()) {
        (Some(kind), Some(message)) => format!("the function did not start ({kind}): {message}"),
        _ => format!("the function did not start: {init_error}"),
    }
}

/// The settings the function runs with, before anything runs: the demo's own (the fakes'
/// endpoints and credentials aside), then `--env`'s, which win.
fn print_settings(stack: &LocalStack, extra: &[(&str, &str)]) {
    println!("== the function's settings (every other one at its default: README, Configuration)");
    for (key, value) in allow_list_yields(stack.function_env(), extra) {
        let why = match key.as_str() {
            "CLUSTER_NAME" => "the fake cluster",
            "USER_POOL_ID" => "the fake user pool, which the doctor and the sweep ask",
            "ALLOW_ALL_GROUPS" => {
                "the demo's allow-list: a deployment sets GROUP_PREFIX, or ALLOW_ALL_GROUPS=true"
            }
            _ => continue,
        };
        println!("   {key}={value}  ({why})");
    }
    for (key, value) in extra {
        println!("   {key}={value}  (--env)");
    }
}

/// A note for an event whose groups look URL-form-encoded (`%C3%89quipe+Vision`), as Cognito
/// may store a SAML value, when `DECODE_GROUP_NAMES` is not set: their names are then taken as
/// they are.
fn encoded_groups_hint(event: &str, extra: &[(&str, &str)]) -> Option<&'static str> {
    let decoding = extra
        .iter()
        .any(|(k, v)| *k == "DECODE_GROUP_NAMES" && *v == "true");
    let groups = serde_json::from_str::<Value>(event)
        .ok()?
        .pointer("/request/userAttributes/custom:groups")?
        .as_str()?
        .to_owned();
    (!decoding && (groups.contains('%') || groups.contains('+'))).then_some(
        "its groups look URL-form-encoded (% and +): without DECODE_GROUP_NAMES=true they are taken as written (make demo ENV=DECODE_GROUP_NAMES=true decodes them first)",
    )
}

/// A doctor request previewing the sign-in of `event`'s person: their email and the groups of
/// the `custom:groups` claim (`[A, B]`, `A, B` or a JSON array).
fn mapping_request(event: &str) -> Option<Value> {
    let event: Value = serde_json::from_str(event).ok()?;
    let attributes = event.pointer("/request/userAttributes")?;
    let claim = attributes["custom:groups"].as_str().unwrap_or("");
    let groups: Vec<String> = serde_json::from_str(claim).unwrap_or_else(|_| {
        claim
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .collect()
    });
    Some(json!({"kubeflow-profile-manager": "doctor",
                "email": attributes["email"].as_str()?,
                "sub": attributes["sub"], "groups": groups}))
}

/// Invokes the running function with a doctor `request` and returns its report.
async fn ask_doctor(stack: &LocalStack, request: &Value) -> Result<Value, String> {
    offboarding::command(&stack.runtime, request, Duration::from_secs(6)).await
}

async fn doctor(options: Options) -> Result<(), String> {
    let stack = seeded_stack(options.flavor, &options.extra_env()).await;
    let extra = options.extra_env();
    let _function = stack.spawn_function(&options.binary, &extra, true);
    let mut request = json!({"kubeflow-profile-manager": "doctor", "groups": options.ad_groups});
    if let Some(email) = &options.email {
        request["email"] = json!(email);
    }
    let report = ask_doctor(&stack, &request).await?;
    print!("{}", report["text"].as_str().unwrap_or_default());
    if report["ok"] == true {
        Ok(())
    } else {
        Err("the doctor found a problem".into())
    }
}

async fn serve(options: Options) -> Result<(), String> {
    let env_file = options
        .env_file
        .clone()
        .ok_or("serve needs --env-file PATH")?;
    let stack = seeded_stack(options.flavor, &options.extra_env()).await;
    let extra = options.extra_env();
    let lines: Vec<String> = allow_list_yields(stack.function_env(), &extra)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_LAMBDA_"))
        .chain(options.env.clone())
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    // Written last and whole, so a waiting script never reads half of it.
    let partial = env_file.with_extension("partial");
    std::fs::write(&partial, lines.join("\n") + "\n").map_err(|e| e.to_string())?;
    std::fs::rename(&partial, &env_file).map_err(|e| e.to_string())?;
    println!(
        "fake EKS cluster at {}; DescribeCluster at {}; environment in {}",
        stack.cluster.endpoint(),
        stack.eks.endpoint_url(),
        env_file.display()
    );
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    print_cluster(&stack);
    Ok(())
}

fn print_cluster(stack: &LocalStack) {
    println!("\n== the cluster now holds (objects made by kubeflow-profile-manager marked *):");
    for kind in [
        "Profile",
        "Namespace",
        "RoleBinding",
        "AuthorizationPolicy",
        "ServiceRoleBinding",
        "PodDefault",
        "LimitRange",
    ] {
        for object in stack.cluster.all(kind) {
            let meta = &object["metadata"];
            let managed =
                meta["labels"]["app.kubernetes.io/managed-by"] == "kubeflow-profile-manager";
            let place = match meta["namespace"].as_str() {
                Some(ns) => format!("{ns}/{}", meta["name"].as_str().unwrap_or("")),
                None => meta["name"].as_str().unwrap_or("").to_owned(),
            };
            let detail = match kind {
                "Profile" => format!(
                    "owner {}",
                    object
                        .pointer("/spec/owner/name")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                ),
                "RoleBinding" => format!(
                    "{} -> {}",
                    object
                        .pointer("/subjects/0/name")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    object
                        .pointer("/roleRef/name")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                ),
                "Namespace" => format!(
                    "owner {}",
                    meta["annotations"]["owner"].as_str().unwrap_or("-")
                ),
                "PodDefault" => format!(
                    "\"{}\"",
                    object
                        .pointer("/spec/desc")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                ),
                "LimitRange" => "a team default".to_owned(),
                _ => admits(&object),
            };
            let why = if managed {
                String::new()
            } else {
                format!("  ({})", why_there(&object))
            };
            println!(
                "{} {kind:<20} {place:<60} {detail}{why}",
                if managed { "*" } else { " " }
            );
        }
    }
}

/// Whom an Istio object admits: the KFAM `user` annotation of a contributor's, else the value
/// its rule requires of the userid header (the profile controller's owner objects carry no
/// annotation: `ns-owner-access-istio`'s `when`, `owner-binding-istio`'s subject properties).
fn admits(object: &Value) -> String {
    let owners = ["ns-owner-access-istio", "owner-binding-istio"];
    if let Some(user) = object["metadata"]["annotations"]["user"].as_str()
        && !owners.contains(&object["metadata"]["name"].as_str().unwrap_or(""))
    {
        return format!("user {user}");
    }
    let from_rules = object
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|rule| rule["when"].as_array().into_iter().flatten())
        .find_map(|when| Some((when["key"].as_str()?, when["values"][0].as_str()?)));
    let from_subjects = || {
        object
            .pointer("/spec/subjects/0/properties")
            .and_then(Value::as_object)?
            .iter()
            .find_map(|(key, value)| Some((key.as_str(), value.as_str()?)))
    };
    match from_rules.or_else(from_subjects) {
        Some((header, value)) => format!("owner {value} (by {header})"),
        None => "whom: no header rule".to_owned(),
    }
}

/// Why an object this function did not make is on the cluster: what the profile controller
/// makes for a Profile (its namespace, the owner's binding and Istio object), or what the demo
/// seeded as on a cluster in use.
fn why_there(object: &Value) -> &'static str {
    let meta = &object["metadata"];
    let by_controller = match object["kind"].as_str().unwrap_or("") {
        "Namespace" => meta["annotations"]["owner"].is_string(),
        "RoleBinding" => meta["name"] == "namespaceAdmin",
        "AuthorizationPolicy" => meta["name"] == "ns-owner-access-istio",
        "ServiceRoleBinding" => meta["name"] == "owner-binding-istio",
        _ => false,
    };
    if by_controller {
        "made by the profile controller"
    } else {
        "already there, as on a cluster in use"
    }
}
