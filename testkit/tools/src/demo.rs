//! `kfpm-local demo`: the function invoked with each event as Lambda would, what it answered,
//! the groups' namespaces (asked of its doctor), and what it made on the cluster.

use std::path::PathBuf;
use std::time::Duration;

use kfpm_fakes::local::LocalStack;
use kfpm_fakes::runtime_api::Invocation;

use crate::options::Options;
use crate::{
    ask_doctor, did_not_start, encoded_groups_hint, mapping_request, print_cluster, print_settings,
    relay, seeded_stack,
};

/// `kfpm-local demo`: each event through the function, then what it made on the cluster.
pub async fn demo(options: Options) -> Result<(), String> {
    if options.events.is_empty() {
        return Err("name at least one event file, e.g. events/v1-adfs-hosted-auth.json".into());
    }
    let events: Vec<(&PathBuf, String)> = options
        .events
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|event| (path, event))
                .map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect::<Result<_, _>>()?;
    let stack = seeded_stack(options.flavor, &options.extra_env()).await;
    println!(
        "fake EKS cluster {} at {} (its own CA); DescribeCluster at {}",
        stack.cluster.config().cluster_name,
        stack.cluster.endpoint(),
        stack.eks.endpoint_url()
    );
    let extra = options.extra_env();
    print_settings(&stack, &extra);
    let _function = relay::spawn(&stack, &options.binary, &extra);
    let mut failed = 0;
    for (path, event) in &events {
        println!("\n== invoke with {}", path.display());
        if let Some(hint) = encoded_groups_hint(event, &extra) {
            println!("== {hint}");
        }
        let answer = stack
            .runtime
            .invoke(event, Duration::from_secs(5), Duration::from_secs(15))
            .await;
        // The function's last lines of this event are relayed by another task: shown first.
        tokio::time::sleep(Duration::from_millis(100)).await;
        match answer {
            Some(Invocation::Response(answer)) => {
                let same = answer == event.trim_end();
                println!(
                    "== answer: the event {}",
                    if same {
                        "unchanged, byte for byte"
                    } else {
                        "CHANGED"
                    }
                );
                if !same {
                    failed += 1;
                }
            }
            Some(Invocation::Error(error)) => {
                println!("== error answer: {error}");
                failed += 1;
            }
            None => {
                if let Some(init) = stack.runtime.init_error() {
                    return Err(did_not_start(&init));
                }
                return Err("no answer within 15 s".into());
            }
        }
    }
    print_namespaces(&stack, &events).await?;
    tokio::time::sleep(Duration::from_millis(500)).await; // let the profile controller catch up
    print_cluster(&stack);
    match failed {
        0 => Ok(()),
        n => Err(format!(
            "{n} of {} sign-ins failed or changed the event",
            options.events.len()
        )),
    }
}

/// Each event's groups and their namespaces, as the function's doctor previews them.
async fn print_namespaces(stack: &LocalStack, events: &[(&PathBuf, String)]) -> Result<(), String> {
    for (path, event) in events {
        if let Some(request) = mapping_request(event) {
            println!(
                "\n== the groups of {} and their namespaces (asked of the function's doctor):",
                path.display()
            );
            let report = ask_doctor(stack, &request).await?;
            for finding in report["findings"].as_array().into_iter().flatten() {
                let detail = finding["detail"].as_str().unwrap_or("");
                if finding["check"] == "sign-in"
                    && (detail.starts_with("group ") || detail.starts_with("would refuse"))
                {
                    println!("   {detail}");
                }
            }
        }
    }
    Ok(())
}
