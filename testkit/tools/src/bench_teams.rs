//! `make bench`'s cost of a new team's setup: a first sign-in into new teams with nothing, with
//! `TEAM_ROLE_ARN` (an EKS Pod Identity association per team), with `TEAM_DEFAULTS_FILE` (the
//! packaged PodDefault and LimitRange per team), and with both.

use std::path::Path;
use std::time::Duration;

use crate::bench::{SignIn, measure, ms, setup};

/// The file the template packages.
const DEFAULTS_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/team-defaults/team-defaults.yaml"
);
const ROLE: &str = "arn:aws:iam::111122223333:role/kf-team-{namespace}";

/// The settings compared, by name.
const SETTINGS: [(&str, &[(&str, &str)]); 4] = [
    ("neither", &[]),
    ("TEAM_ROLE_ARN", &[("TEAM_ROLE_ARN", ROLE)]),
    (
        "TEAM_DEFAULTS_FILE",
        &[("TEAM_DEFAULTS_FILE", DEFAULTS_FILE)],
    ),
    (
        "both",
        &[
            ("TEAM_ROLE_ARN", ROLE),
            ("TEAM_DEFAULTS_FILE", DEFAULTS_FILE),
        ],
    ),
];

/// A first sign-in (warm container) into 1 and 10 new teams under each setting: wall time,
/// Kubernetes requests, round trips, EKS calls.
pub async fn team_setup_table(binary: &Path, latency: Duration) -> Result<(), String> {
    println!("\nA new team's setup: first sign-in into new teams, warm container");
    println!(
        "\n| new teams | setting | ms / Kubernetes requests / round trips | EKS calls (not delayed) |"
    );
    println!("|---:|---|---:|---:|");
    for groups in [1, 10] {
        for (name, vars) in SETTINGS {
            let with = |latency| crate::bench::Setup {
                vars,
                ..setup(latency, groups)
            };
            let fast = measure(binary, with(Duration::ZERO)).await?;
            let slow = measure(binary, with(latency)).await?;
            let (SignIn { wall, requests, .. }, base) = (slow.warm_first, fast.warm_first.wall);
            let trips = (wall.as_secs_f64() - base.as_secs_f64()).max(0.0) / latency.as_secs_f64();
            println!(
                "| {groups} | {name} | {} / {requests} / {trips:.1} | {} |",
                ms(wall),
                slow.warm_first_eks_calls
            );
        }
    }
    Ok(())
}
