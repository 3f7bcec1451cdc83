//! Which clusters every sign-in provisions (`CLUSTER_NAME`) and what a failure on each does to
//! the sign-in (`FAIL_MODE`). Pure.

use super::env::{ConfigError, Env, invalid};

/// Comma list of EKS clusters, each `name`, `region/name` or its ARN (the Python Lambda's
/// `clusterName` too); required.
pub const CLUSTER_NAME: &str = "CLUSTER_NAME";
pub const LEGACY_CLUSTER_NAME: &str = "clusterName";
/// `closed` or `open`, with exceptions per cluster (`closed,kf-dev=open`).
pub const FAIL_MODE: &str = "FAIL_MODE";
pub const DEFAULT_FAIL_MODE: FailMode = FailMode::Closed;
/// The function's own region, which Lambda sets.
const AWS_REGION: &str = "AWS_REGION";

/// The clusters and their fail modes.
#[derive(Debug, Clone, PartialEq)]
pub struct ClustersConfig {
    /// The clusters every sign-in provisions, in `CLUSTER_NAME`'s order; at least one.
    pub targets: Vec<ClusterTarget>,
    /// What a failed provisioning does to the sign-in, per cluster.
    pub fail_mode: FailModes,
}

impl ClustersConfig {
    pub(super) fn read(env: &Env) -> Self {
        let home = env.value(AWS_REGION);
        let named = env
            .value_or_legacy(CLUSTER_NAME, LEGACY_CLUSTER_NAME)
            .unwrap_or_default();
        let targets = env.take(parse_clusters(&named, home.as_deref()), Vec::new());
        let fail_mode = env.take(
            parse_fail_modes(env.value(FAIL_MODE), &targets, home.as_deref()),
            FailModes {
                default: DEFAULT_FAIL_MODE,
                by_cluster: Vec::new(),
            },
        );
        ClustersConfig { targets, fail_mode }
    }
}

/// One EKS cluster of `CLUSTER_NAME`: its name, and its region when it is not the function's
/// (DescribeCluster and the token are regional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTarget {
    pub region: Option<String>,
    pub name: String,
}

impl ClusterTarget {
    /// `name`, or `region/name`, as `CLUSTER_NAME` writes it; logs and metrics use it.
    pub fn label(&self) -> String {
        match &self.region {
            Some(region) => format!("{region}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One entry of `CLUSTER_NAME`: `name`, `region/name` or the cluster's ARN, its region left out
/// when it is `home`, the function's (so that `kf` and `<home>/kf` are one cluster); `None` when
/// it is none of those.
fn parse_cluster(entry: &str, home: Option<&str>) -> Option<ClusterTarget> {
    let (region, name) = match cluster_arn(entry) {
        Some((region, name)) => (Some(region), name),
        None => match entry.split_once('/') {
            Some((region, name)) => (Some(region), name),
            None => (None, entry),
        },
    };
    if !is_eks_cluster_name(name) || region.is_some_and(|r| !is_region(r)) {
        return None;
    }
    Some(ClusterTarget {
        region: region.filter(|r| Some(*r) != home).map(str::to_owned),
        name: name.to_owned(),
    })
}

/// `kf-prod, us-west-2/kf-dr, arn:aws:eks:eu-west-1:111122223333:cluster/kf-eu`: the clusters,
/// each once (`kf` and `<home>/kf` are the same cluster), empty entries ignored. An ARN (what
/// the template's `MoreClusterArns` passes) names the cluster's region and name.
fn parse_clusters(value: &str, home: Option<&str>) -> Result<Vec<ClusterTarget>, ConfigError> {
    let mut clusters: Vec<ClusterTarget> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let target = parse_cluster(entry, home).ok_or_else(|| {
            invalid(
                CLUSTER_NAME,
                value,
                "a comma list of EKS clusters, each a name (1-100 letters, digits, '-' or '_', starting with a letter or digit), region/name, or the cluster's ARN: kf-prod,us-west-2/kf-dr,arn:aws:eks:eu-west-1:111122223333:cluster/kf-eu",
            )
        })?;
        if clusters.contains(&target) {
            return Err(invalid(
                CLUSTER_NAME,
                value,
                "each cluster once (a cluster of the function's own region is the same with or without its region, or as its ARN)",
            ));
        }
        clusters.push(target);
    }
    if clusters.is_empty() {
        return Err(ConfigError::Missing {
            variable: CLUSTER_NAME,
            expected: "the EKS cluster name (or the legacy clusterName); several, comma-separated",
        });
    }
    Ok(clusters)
}

/// `FAIL_MODE`: the mode of every cluster, and the clusters whose mode differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailModes {
    pub default: FailMode,
    pub by_cluster: Vec<(ClusterTarget, FailMode)>,
}

impl FailModes {
    /// The mode of the cluster `target`.
    pub fn of(&self, target: &ClusterTarget) -> FailMode {
        self.by_cluster
            .iter()
            .find(|(t, _)| t == target)
            .map_or(self.default, |(_, mode)| *mode)
    }

    /// `closed`, or `closed,kf-dev=open`, as `FAIL_MODE` writes it.
    pub fn describe(&self) -> String {
        std::iter::once(self.default.as_str().to_owned())
            .chain(
                self.by_cluster
                    .iter()
                    .map(|(t, mode)| format!("{}={}", t.label(), mode.as_str())),
            )
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// A failed grant or revoke fails the sign-in.
    Closed,
    /// A failed grant or revoke is logged and the sign-in goes through.
    Open,
}

impl FailMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Closed => "closed",
            FailMode::Open => "open",
        }
    }
}

/// `closed`, `open`, or that with exceptions per cluster: `closed,kf-dev=open` (each cluster
/// written as `CLUSTER_NAME` may write it, and one of its clusters).
fn parse_fail_modes(
    value: Option<String>,
    clusters: &[ClusterTarget],
    home: Option<&str>,
) -> Result<FailModes, ConfigError> {
    const EXPECTED: &str = "one of closed, open, optionally followed by CLUSTER=closed|open for the clusters of CLUSTER_NAME whose mode differs (closed,kf-dev=open)";
    let text = value.unwrap_or_default();
    let mode = |word: &str| match word.trim() {
        "closed" => Some(FailMode::Closed),
        "open" => Some(FailMode::Open),
        _ => None,
    };
    let mut default = None;
    let mut by_cluster: Vec<(ClusterTarget, FailMode)> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || invalid(FAIL_MODE, &text, EXPECTED);
        match entry.rsplit_once('=') {
            None if default.is_none() => default = Some(mode(entry).ok_or_else(bad)?),
            None => return Err(bad()),
            Some((cluster, word)) => {
                let target = parse_cluster(cluster.trim(), home)
                    .filter(|t| clusters.contains(t) && !by_cluster.iter().any(|(b, _)| b == t))
                    .ok_or_else(bad)?;
                by_cluster.push((target, mode(word).ok_or_else(bad)?));
            }
        }
    }
    Ok(FailModes {
        default: default.unwrap_or(DEFAULT_FAIL_MODE),
        by_cluster,
    })
}

/// `arn:<partition>:eks:<region>:<account>:cluster/<name>`: the region and the name (both checked
/// by the caller), or `None` when `entry` is no EKS cluster ARN.
fn cluster_arn(entry: &str) -> Option<(&str, &str)> {
    let mut parts = entry.split(':');
    let (arn, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    let well_formed = arn == "arn"
        && partition.starts_with("aws")
        && service == "eks"
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && parts.next().is_none();
    let name = resource.strip_prefix("cluster/")?;
    well_formed.then_some((region, name))
}

/// An AWS region name: `us-east-1`, `cn-north-1`, `us-gov-west-1`, `eu-central-2`.
pub(super) fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
}

fn is_eks_cluster_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 100
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
