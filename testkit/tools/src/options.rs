//! `kfpm-local`'s options: parsed and checked before anything is built or started.

use std::path::PathBuf;

use kfpm_fakes::apiserver::Flavor;

/// What the command line asks for.
pub struct Options {
    pub binary: PathBuf,
    pub flavor: Flavor,
    pub env: Vec<(String, String)>,
    pub latency_ms: u64,
    pub groups: Vec<usize>,
    pub events: Vec<PathBuf>,
    pub env_file: Option<PathBuf>,
    pub email: Option<String>,
    pub ad_groups: Vec<String>,
    pub format: String,
    pub people: usize,
    pub ballast: usize,
}

impl Options {
    /// The `--env` settings, as the stack's spawn functions take them.
    pub fn extra_env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// Cargo's target directory: `CARGO_TARGET_DIR`, else `target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

/// The command line after the command: its options and event files, checked.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        binary: target_dir().join("debug/kubeflow-profile-manager"),
        flavor: Flavor::Current,
        env: Vec::new(),
        latency_ms: 20,
        groups: vec![1, 10, 50],
        events: Vec::new(),
        env_file: None,
        email: None,
        ad_groups: Vec::new(),
        format: "json".into(),
        people: 5000,
        ballast: 0,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--binary" => options.binary = PathBuf::from(value()?),
            "--flavor" => options.flavor = flavor(&value()?)?,
            "--env" => {
                let pair = value()?;
                let (k, v) = pair.split_once('=').ok_or("--env takes KEY=VALUE")?;
                options.env.push((k.to_owned(), v.to_owned()));
            }
            "--env-file" => options.env_file = Some(PathBuf::from(value()?)),
            "--email" => options.email = Some(value()?),
            "--ad-groups" => options.ad_groups = comma_list(&value()?),
            "--format" => {
                options.format = value()?;
                if !matches!(options.format.as_str(), "json" | "csv") {
                    return Err("--format takes json or csv".into());
                }
            }
            "--ballast" => {
                options.ballast = value()?.parse().map_err(|_| "--ballast takes a number")?
            }
            "--people" => {
                options.people = value()?.parse().map_err(|_| "--people takes a number")?
            }
            "--latency-ms" => {
                options.latency_ms = value()?
                    .parse()
                    .map_err(|_| "--latency-ms takes a number")?
            }
            "--groups" => options.groups = group_counts(&value()?)?,
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            // Checked before anything is built or started.
            event if !std::path::Path::new(event).is_file() => {
                return Err(format!(
                    "{event}: no such event file (events/ holds the samples, e.g. events/v1-adfs-hosted-auth.json)"
                ));
            }
            event => options.events.push(PathBuf::from(event)),
        }
    }
    if options.env_file.is_none() && !options.binary.exists() {
        return Err(format!(
            "{} does not exist: build it first (cargo build)",
            options.binary.display()
        ));
    }
    Ok(options)
}

/// The fake cluster's Kubeflow, as `--flavor` names it.
fn flavor(name: &str) -> Result<Flavor, String> {
    Ok(match name {
        "current" => Flavor::Current,
        "kubeflow-1.3" => Flavor::Kubeflow13To17,
        "kubeflow-1.2" => Flavor::Kubeflow12,
        "upgraded-from-1.2" => Flavor::UpgradedFrom12,
        "ambient-with-waypoint" => Flavor::AmbientWithWaypoint,
        "ambient-without-waypoint" => Flavor::AmbientWithoutWaypoint,
        other => {
            return Err(format!(
                "--flavor takes current, kubeflow-1.3, kubeflow-1.2, upgraded-from-1.2, ambient-with-waypoint or ambient-without-waypoint, not {other}"
            ));
        }
    })
}

/// `--groups 1,10,50`.
fn group_counts(text: &str) -> Result<Vec<usize>, String> {
    text.split(',')
        .map(|g| {
            g.trim()
                .parse()
                .map_err(|_| "--groups takes numbers like 1,10,50".to_owned())
        })
        .collect()
}

/// A comma list, its items trimmed, empty ones left out.
fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty())
        .collect()
}
