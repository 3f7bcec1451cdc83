//! Typed configuration, parsed once at cold start from an injected variable lookup. Pure.
//!
//! Every variable has a constant name here. A bad value fails start-up with a message that names
//! the variable and what it accepts; nothing reads the process environment except `main`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

pub const CLUSTER_NAME: &str = "CLUSTER_NAME";
pub const LEGACY_CLUSTER_NAME: &str = "clusterName";
pub const GROUPS_CLAIM: &str = "GROUPS_CLAIM";
pub const LEGACY_GROUPS_CLAIM: &str = "cognitoGroupField";
pub const GROUP_PREFIX: &str = "GROUP_PREFIX";
pub const USER_ROLE: &str = "USER_ROLE";
pub const GROUP_PROFILE_OWNER: &str = "GROUP_PROFILE_OWNER";
pub const USER_PROFILE_PREFIX: &str = "USER_PROFILE_PREFIX";
pub const USER_PROFILE_QUOTA: &str = "USER_PROFILE_QUOTA";
pub const ISTIO_AUTHZ: &str = "ISTIO_AUTHZ";
pub const PROTECTED_NAMESPACES: &str = "PROTECTED_NAMESPACES";
pub const FAIL_MODE: &str = "FAIL_MODE";
pub const TIME_BUDGET_MS: &str = "TIME_BUDGET_MS";
pub const DRY_RUN: &str = "DRY_RUN";
pub const SYNC_ON_REFRESH: &str = "SYNC_ON_REFRESH";
pub const REMOVE_LEGACY_BINDINGS: &str = "REMOVE_LEGACY_BINDINGS";
pub const ALLOW_ALL_GROUPS: &str = "ALLOW_ALL_GROUPS";
pub const DECODE_GROUP_NAMES: &str = "DECODE_GROUP_NAMES";
pub const TRUST_STORED_GROUPS: &str = "TRUST_STORED_GROUPS";
pub const USERID_HEADER: &str = "USERID_HEADER";
pub const USERID_PREFIX: &str = "USERID_PREFIX";
pub const ISTIO_PRINCIPALS: &str = "ISTIO_PRINCIPALS";
pub const USER_POOL_ID: &str = "USER_POOL_ID";
pub const INACTIVE_DAYS: &str = "INACTIVE_DAYS";
pub const GROUP_ROLE_SUFFIXES: &str = "GROUP_ROLE_SUFFIXES";
pub const ALLOW_ADMIN_ROLE: &str = "ALLOW_ADMIN_ROLE";
pub const MESH_LABELS: &str = "MESH_LABELS";
pub const VIEWER_ACCESS: &str = "VIEWER_ACCESS";
pub const FUNCTION_ROLE: &str = "FUNCTION_ROLE";
pub const RECORDS_NAMESPACE: &str = "RECORDS_NAMESPACE";
pub const SWEEP_POOL_RATE: &str = "SWEEP_POOL_RATE";

/// The quota personal Profiles get unless `USER_PROFILE_QUOTA` says otherwise: the personal
/// Profile exists because the Kubeflow dashboard requires one; work happens in group namespaces.
pub const DEFAULT_USER_PROFILE_QUOTA: &str = r#"{"hard":{"cpu":"0","memory":"0Gi","requests.nvidia.com/gpu":"0","persistentvolumeclaims":"0","requests.storage":"0Gi"}}"#;

/// Cognito waits 5 s for the trigger; a budget must leave room to answer.
const TIME_BUDGET_RANGE_MS: std::ops::RangeInclusive<u64> = 50..=4900;

/// The ClusterRole a user is bound to in a group namespace (`kubeflow-<role>`), from the
/// least to the most: when several of a person's groups give one namespace, the highest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    View,
    Edit,
    /// `kubeflow-admin`: also manages the namespace's contributors. Only with `ALLOW_ADMIN_ROLE`.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::View => "view",
            Role::Edit => "edit",
            Role::Admin => "admin",
        }
    }

    /// The role a binding's KFAM `role` annotation names.
    pub fn parse(text: &str) -> Option<Role> {
        [Role::View, Role::Edit, Role::Admin]
            .into_iter()
            .find(|role| role.as_str() == text)
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
        default: default.unwrap_or(FailMode::Closed),
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
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
}

/// A group-name suffix that carries a role (`GROUP_ROLE_SUFFIXES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSuffix {
    pub suffix: String,
    pub role: Role,
}

/// Which Istio objects accompany a RoleBinding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IstioAuthz {
    /// `security.istio.io` AuthorizationPolicy (Kubeflow >= 1.3).
    AuthorizationPolicy,
    /// `rbac.istio.io/v1alpha1` ServiceRoleBinding (Kubeflow 1.2).
    ServiceRoleBinding,
    Both,
    None,
    /// Decided from the API groups the cluster serves.
    Auto,
}

/// The allow-list of AD groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedGroups {
    /// Groups whose exact name starts with this prefix, ignoring the case of ASCII letters.
    Prefix(String),
    /// Every group (`ALLOW_ALL_GROUPS=true`).
    All,
}

impl AllowedGroups {
    /// True when `group` (its exact name) is admitted.
    pub fn admits(&self, group: &str) -> bool {
        match self {
            AllowedGroups::All => true,
            AllowedGroups::Prefix(prefix) => group
                .as_bytes()
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes())),
        }
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

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The clusters every sign-in provisions, in `CLUSTER_NAME`'s order; at least one.
    pub clusters: Vec<ClusterTarget>,
    pub groups_claim: String,
    /// Which AD groups may become namespaces: exactly one of `GROUP_PREFIX` and
    /// `ALLOW_ALL_GROUPS=true` says so.
    pub allowed_groups: AllowedGroups,
    /// URL-form-decode group names (`Data+Science` -> `Data Science`) before anything else.
    pub decode_group_names: bool,
    /// Grant from the stored groups attribute on sign-ins the IdP did not just assert (token
    /// refreshes, local users): safe only when users cannot write that attribute.
    pub trust_stored_groups: bool,
    pub user_role: Role,
    pub group_profile_owner: String,
    pub user_profile_prefix: String,
    /// `spec.resourceQuotaSpec` of personal Profiles, or none.
    pub user_profile_quota: Option<Value>,
    pub istio_authz: IstioAuthz,
    /// Lowercased, in addition to the built-in list.
    pub protected_namespaces: Vec<String>,
    /// What a failed provisioning does to the sign-in, per cluster.
    pub fail_mode: FailModes,
    pub time_budget: Duration,
    pub dry_run: bool,
    pub sync_on_refresh: bool,
    /// The userid header of the contributor policy; `None`: learnt from the cluster.
    pub userid_header: Option<String>,
    /// What precedes the email in that header; `None`: learnt from the cluster.
    pub userid_prefix: Option<String>,
    /// The principals the contributor policy trusts the header from: `None` learnt from the
    /// cluster, `Some(None)` no `from` at all, `Some(Some(list))` that list.
    pub istio_principals: Option<Option<Vec<String>>>,
    /// Delete the Python Lambda's unlabelled `user-<username>-kubeflow-org-clusterrole-<role>`
    /// bindings of a signing-in user in the namespaces this function now manages for them.
    pub remove_legacy_bindings: bool,
    /// The user pool whose trigger this is (the stack derives it from `UserPoolArn`): the doctor
    /// checks its app clients.
    pub user_pool_id: Option<String>,
    /// The sweep revokes the access of people whose last activity is older than this many
    /// days; 0: never for inactivity.
    pub inactive_days: u32,
    /// Requests per second the sweep makes to the user pool (a share of Cognito's `UserList`
    /// quota, 30 per second per account and region).
    pub sweep_pool_rate: u32,
    /// Group-name suffixes that carry a role, longest first (empty: every group gets
    /// `user_role`).
    pub role_suffixes: Vec<RoleSuffix>,
    /// Whether a suffix may give `admin`.
    pub allow_admin_role: bool,
    /// The mesh labels of the namespaces this function creates; `None`: learnt from the
    /// cluster (README, What it learns from the cluster); empty: none (`MESH_LABELS=none`).
    pub mesh_labels: Option<BTreeMap<String, String>>,
    /// How far the Istio access of a person whose role is `view` reaches.
    pub viewer_access: ViewerAccess,
    /// Which function of the stack this process is: set by its deployment, never by a payload.
    pub function_role: FunctionRole,
    /// The namespace of the function's records (a Lease per person): never a team namespace.
    pub records_namespace: String,
}

/// Which function a process is (`FUNCTION_ROLE`), and so which invocations it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionRole {
    /// The Cognito trigger (unset, the drop-in case): Cognito events and the doctor.
    Trigger,
    /// The sweep function: the offboarding sweep and the access report.
    Sweep,
}

impl FunctionRole {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionRole::Trigger => "trigger",
            FunctionRole::Sweep => "sweep",
        }
    }
}

/// What a viewer's Istio policy admits (`VIEWER_ACCESS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerAccess {
    /// Only requests the Pipelines UI makes on the viewer's behalf (its runs and artifacts), not
    /// the ingress gateway: no notebook, TensorBoard or model endpoint, which run as
    /// `default-editor` and would give a viewer an editor's rights.
    PipelinesUi,
    /// KFAM's contributor policy, the same for every role.
    AsEditors,
}

impl Config {
    /// The team an AD group stands for and the role it gives there: the group without the
    /// longest suffix it ends with (ASCII letters in any case) and that suffix's role, when the
    /// team left passes `GROUP_PREFIX` too; else the group itself with `USER_ROLE`. (With
    /// `GROUP_PREFIX=KF-`, `KF-EDIT` is the team `KF-EDIT`, never `KF`, outside the prefix.)
    pub fn team_and_role<'a>(&self, group: &'a str) -> (&'a str, Role) {
        self.role_suffixes
            .iter()
            .find_map(|s| {
                let cut = group.len().checked_sub(s.suffix.len())?;
                let (team, tail) = (group.get(..cut)?, group.get(cut..)?);
                let stripped = !team.is_empty()
                    && tail.eq_ignore_ascii_case(&s.suffix)
                    && self.allowed_groups.admits(team);
                stripped.then_some((team, s.role))
            })
            .unwrap_or((group, self.user_role))
    }

    /// Every role a sign-in may bind: `USER_ROLE` and the suffixes' (admin only when allowed).
    pub fn roles(&self) -> Vec<Role> {
        let mut roles: Vec<Role> = std::iter::once(self.user_role)
            .chain(self.role_suffixes.iter().map(|s| s.role))
            .filter(|r| *r != Role::Admin || self.allow_admin_role)
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{variable} is required: {expected}")]
    Missing {
        variable: &'static str,
        expected: &'static str,
    },
    #[error("{variable}={value:?} is invalid: expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: String,
    },
    #[error(
        "set exactly one of GROUP_PREFIX (only groups starting with it become namespaces) and ALLOW_ALL_GROUPS=true (every AD group does); {found}"
    )]
    AllowList { found: &'static str },
    #[error(
        "{variable} and {legacy} are both set, to different values ({value:?} and {legacy_value:?}); set only {variable}"
    )]
    Conflicting {
        variable: &'static str,
        legacy: &'static str,
        value: String,
        legacy_value: String,
    },
}

impl Config {
    /// Parses the configuration from `(variable, value)` pairs; unset variables take defaults.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    /// Parses the configuration from `lookup` (the process environment in `main`, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned());
        let with_legacy = |variable: &'static str, legacy: &'static str| match (
            get(variable).filter(|v| !v.is_empty()),
            get(legacy).filter(|v| !v.is_empty()),
        ) {
            (Some(value), Some(legacy_value)) if value != legacy_value => {
                Err(ConfigError::Conflicting {
                    variable,
                    legacy,
                    value,
                    legacy_value,
                })
            }
            (Some(value), _) | (None, Some(value)) => Ok(Some(value)),
            (None, None) => Ok(None),
        };

        // Lambda sets AWS_REGION: the function's own region.
        let home = get("AWS_REGION");
        let clusters = parse_clusters(
            &with_legacy(CLUSTER_NAME, LEGACY_CLUSTER_NAME)?.unwrap_or_default(),
            home.as_deref(),
        )?;
        let fail_mode = parse_fail_modes(get(FAIL_MODE), &clusters, home.as_deref())?;
        let groups_claim = with_legacy(GROUPS_CLAIM, LEGACY_GROUPS_CLAIM)?
            .unwrap_or_else(|| "custom:groups".to_owned());

        let user_profile_prefix = get(USER_PROFILE_PREFIX).unwrap_or_else(|| "profile-".into());
        if !is_label_prefix(&user_profile_prefix) {
            return Err(invalid(
                USER_PROFILE_PREFIX,
                &user_profile_prefix,
                "a non-empty prefix of lowercase letters, digits and '-', starting with a letter or digit, at most 30 characters",
            ));
        }

        let records_namespace = get(RECORDS_NAMESPACE)
            .map(|n| n.trim().to_owned())
            .unwrap_or_else(|| crate::domain::activity::DEFAULT_RECORDS_NAMESPACE.into());
        if !crate::domain::names::is_dns_label(&records_namespace) {
            return Err(invalid(
                RECORDS_NAMESPACE,
                &records_namespace,
                "a namespace name (lowercase letters, digits and '-'), the one deploy/rbac.yaml makes",
            ));
        }

        let group_profile_owner =
            get(GROUP_PROFILE_OWNER).unwrap_or_else(|| "admin@kubeflow.com".into());
        if group_profile_owner.is_empty() || group_profile_owner.chars().any(char::is_control) {
            return Err(invalid(
                GROUP_PROFILE_OWNER,
                &group_profile_owner,
                "the Kubeflow user id (email) that owns group Profiles",
            ));
        }

        let group_prefix = get(GROUP_PREFIX).unwrap_or_default();
        if group_prefix.chars().any(|c| c.is_control() || c == ',') {
            return Err(invalid(
                GROUP_PREFIX,
                &group_prefix,
                "the start of the AD group names to use, without commas or control characters",
            ));
        }
        let allowed_groups = match (
            group_prefix.is_empty(),
            parse_bool(ALLOW_ALL_GROUPS, get(ALLOW_ALL_GROUPS), false)?,
        ) {
            (false, false) => AllowedGroups::Prefix(group_prefix),
            (true, true) => AllowedGroups::All,
            (false, true) => {
                return Err(ConfigError::AllowList {
                    found: "both are set",
                });
            }
            (true, false) => {
                return Err(ConfigError::AllowList {
                    found: "neither is set",
                });
            }
        };

        let userid_header = lookup(USERID_HEADER).filter(|h| !h.trim().is_empty());
        if let Some(header) = &userid_header
            && !header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                USERID_HEADER,
                header,
                "an HTTP header name (letters, digits, '-' and '_'), e.g. kubeflow-userid",
            ));
        }
        let userid_prefix = lookup(USERID_PREFIX).filter(|p| !p.is_empty());
        if let Some(prefix) = &userid_prefix
            && prefix
                .chars()
                .any(|c| c.is_control() || c == ',' || c == '*')
        {
            return Err(invalid(
                USERID_PREFIX,
                prefix,
                "the text before the email in the userid header, without control characters, commas or '*'",
            ));
        }
        let user_pool_id = lookup(USER_POOL_ID).filter(|id| !id.is_empty());
        if let Some(id) = &user_pool_id
            && !is_user_pool_id(id)
        {
            return Err(invalid(
                USER_POOL_ID,
                id,
                "a user pool id (<region>_<letters and digits>), e.g. eu-west-1_AbC123",
            ));
        }
        let istio_principals = match get(ISTIO_PRINCIPALS).filter(|p| !p.is_empty()) {
            None => None,
            Some(none) if none.eq_ignore_ascii_case("none") => Some(None),
            Some(list) => {
                let principals: Vec<String> = list
                    .split(',')
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty())
                    .collect();
                if principals.iter().any(|p| p.contains(char::is_whitespace)) {
                    return Err(invalid(
                        ISTIO_PRINCIPALS,
                        &list,
                        "a comma list of Istio principals (cluster.local/ns/<ns>/sa/<sa>), or none",
                    ));
                }
                Some(Some(principals))
            }
        };

        Ok(Config {
            clusters,
            groups_claim,
            allowed_groups,
            decode_group_names: parse_bool(DECODE_GROUP_NAMES, get(DECODE_GROUP_NAMES), false)?,
            trust_stored_groups: parse_bool(TRUST_STORED_GROUPS, get(TRUST_STORED_GROUPS), false)?,
            user_role: parse_choice(
                USER_ROLE,
                get(USER_ROLE),
                &[("edit", Role::Edit), ("view", Role::View)],
                Role::Edit,
            )?,
            group_profile_owner,
            user_profile_prefix,
            user_profile_quota: parse_quota(get(USER_PROFILE_QUOTA))?,
            istio_authz: parse_choice(
                ISTIO_AUTHZ,
                get(ISTIO_AUTHZ),
                &[
                    ("auto", IstioAuthz::Auto),
                    ("authorizationpolicy", IstioAuthz::AuthorizationPolicy),
                    ("servicerolebinding", IstioAuthz::ServiceRoleBinding),
                    ("both", IstioAuthz::Both),
                    ("none", IstioAuthz::None),
                ],
                IstioAuthz::Auto,
            )?,
            protected_namespaces: get(PROTECTED_NAMESPACES)
                .unwrap_or_default()
                .split(',')
                .map(|n| n.trim().to_lowercase())
                .filter(|n| !n.is_empty())
                .collect(),
            fail_mode,
            time_budget: parse_time_budget(get(TIME_BUDGET_MS))?,
            dry_run: parse_bool(DRY_RUN, get(DRY_RUN), false)?,
            sync_on_refresh: parse_bool(SYNC_ON_REFRESH, get(SYNC_ON_REFRESH), true)?,
            userid_header,
            userid_prefix,
            istio_principals,
            remove_legacy_bindings: parse_bool(
                REMOVE_LEGACY_BINDINGS,
                get(REMOVE_LEGACY_BINDINGS),
                false,
            )?,
            user_pool_id,
            inactive_days: parse_inactive_days(get(INACTIVE_DAYS))?,
            sweep_pool_rate: parse_pool_rate(get(SWEEP_POOL_RATE))?,
            role_suffixes: parse_role_suffixes(get(GROUP_ROLE_SUFFIXES))?,
            allow_admin_role: parse_bool(ALLOW_ADMIN_ROLE, get(ALLOW_ADMIN_ROLE), false)?,
            mesh_labels: parse_mesh_labels(get(MESH_LABELS))?,
            viewer_access: parse_choice(
                VIEWER_ACCESS,
                get(VIEWER_ACCESS),
                &[
                    ("pipelines-ui", ViewerAccess::PipelinesUi),
                    ("as-editors", ViewerAccess::AsEditors),
                ],
                ViewerAccess::PipelinesUi,
            )?,
            records_namespace,
            function_role: parse_choice(
                FUNCTION_ROLE,
                get(FUNCTION_ROLE),
                &[
                    ("trigger", FunctionRole::Trigger),
                    ("sweep", FunctionRole::Sweep),
                ],
                FunctionRole::Trigger,
            )?,
        })
    }
}

/// Cognito's pattern for user pool ids: `[\w-]+_[0-9a-zA-Z]+`.
pub fn is_user_pool_id(id: &str) -> bool {
    id.split_once('_').is_some_and(|(region, suffix)| {
        !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !suffix.is_empty()
            && suffix.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

fn invalid(variable: &'static str, value: &str, expected: &str) -> ConfigError {
    ConfigError::Invalid {
        variable,
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

/// Case-insensitive choice among `choices`; unset or empty gives `default`.
fn parse_choice<T: Copy>(
    variable: &'static str,
    value: Option<String>,
    choices: &[(&str, T)],
    default: T,
) -> Result<T, ConfigError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    choices
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&value))
        .map(|(_, choice)| *choice)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            invalid(variable, &value, &format!("one of {}", names.join(", ")))
        })
}

fn parse_bool(
    variable: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    parse_choice(
        variable,
        value,
        &[("true", true), ("false", false)],
        default,
    )
}

fn parse_time_budget(value: Option<String>) -> Result<Duration, ConfigError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(Duration::from_millis(4000));
    };
    value
        .parse::<u64>()
        .ok()
        .filter(|ms| TIME_BUDGET_RANGE_MS.contains(ms))
        .map(Duration::from_millis)
        .ok_or_else(|| {
            invalid(
                TIME_BUDGET_MS,
                &value,
                &format!(
                    "whole milliseconds from {} to {} (Cognito waits 5000)",
                    TIME_BUDGET_RANGE_MS.start(),
                    TIME_BUDGET_RANGE_MS.end()
                ),
            )
        })
}

/// `-view=view,-edit=edit,-admin=admin`: suffixes (each at most once) and their roles, longest
/// first so that `-read-edit` is tried before `-edit`.
/// `istio-injection=enabled`, `istio.io/dataplane-mode=ambient,istio.io/use-waypoint=waypoint`,
/// or `none`; empty: learnt.
fn parse_mesh_labels(
    value: Option<String>,
) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
    let Some(text) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if text.eq_ignore_ascii_case("none") {
        return Ok(Some(BTreeMap::new()));
    }
    let expected = "a comma list of KEY=VALUE mesh labels (keys among istio-injection, istio.io/rev, istio.io/dataplane-mode, istio.io/use-waypoint, istio.io/use-waypoint-namespace, istio.io/ingress-use-waypoint; a value of {namespace} is the namespace's own name), or none";
    let mut labels = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .ok_or_else(|| invalid(MESH_LABELS, &text, expected))?;
        let value_ok = value == crate::domain::mesh::OWN_NAMESPACE
            || (value.len() <= 63
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
        if !crate::domain::mesh::MESH_LABEL_KEYS.contains(&key) || value.is_empty() || !value_ok {
            return Err(invalid(MESH_LABELS, &text, expected));
        }
        labels.insert(key.to_owned(), value.to_owned());
    }
    Ok(Some(labels))
}

fn parse_role_suffixes(value: Option<String>) -> Result<Vec<RoleSuffix>, ConfigError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    let bad = || {
        invalid(
            GROUP_ROLE_SUFFIXES,
            &value,
            "a comma list of SUFFIX=ROLE, each suffix once, ROLE one of view, edit, admin (e.g. -view=view,-edit=edit)",
        )
    };
    let mut suffixes: Vec<RoleSuffix> = Vec::new();
    for entry in value.split(',') {
        let (suffix, role) = entry.split_once('=').ok_or_else(bad)?;
        let (suffix, role) = (suffix.trim(), role.trim().to_ascii_lowercase());
        let role = Role::parse(&role).ok_or_else(bad)?;
        let taken = suffixes
            .iter()
            .any(|s| s.suffix.eq_ignore_ascii_case(suffix));
        if suffix.is_empty() || suffix.chars().any(char::is_control) || taken {
            return Err(bad());
        }
        suffixes.push(RoleSuffix {
            suffix: suffix.to_owned(),
            role,
        });
    }
    suffixes.sort_by_key(|s| std::cmp::Reverse(s.suffix.len()));
    Ok(suffixes)
}

/// Days without activity after which the sweep revokes access: 90 when unset, 0 for never.
fn parse_inactive_days(value: Option<String>) -> Result<u32, ConfigError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(90);
    };
    value
        .parse::<u32>()
        .ok()
        .filter(|days| *days <= 36_500)
        .ok_or_else(|| {
            invalid(
                INACTIVE_DAYS,
                &value,
                "whole days from 0 (never revoke for inactivity) to 36500",
            )
        })
}

/// Requests per second to the user pool: 10 unless set, at most Cognito's `UserList` quota (30).
fn parse_pool_rate(value: Option<String>) -> Result<u32, ConfigError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(10);
    };
    value
        .parse::<u32>()
        .ok()
        .filter(|rate| (1..=30).contains(rate))
        .ok_or_else(|| {
            invalid(
                SWEEP_POOL_RATE,
                &value,
                "requests per second to the user pool, 1 to 30 (Cognito's ListUsers quota, shared by the account's region)",
            )
        })
}

/// Unset gives the zero quota; an empty string gives none; anything else must be a JSON object.
fn parse_quota(value: Option<String>) -> Result<Option<Value>, ConfigError> {
    let text = match value {
        None => DEFAULT_USER_PROFILE_QUOTA.to_owned(),
        Some(v) if v.is_empty() => return Ok(None),
        Some(v) => v,
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(quota @ Value::Object(_)) => Ok(Some(quota)),
        _ => Err(invalid(
            USER_PROFILE_QUOTA,
            &text,
            "a JSON object (a Kubernetes resourceQuotaSpec such as {\"hard\":{\"cpu\":\"1\"}}), or an empty string for no quota",
        )),
    }
}

fn is_eks_cluster_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 100
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_label_prefix(prefix: &str) -> bool {
    prefix.len() <= 30
        && prefix.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The configuration unit tests use: `vars` plus the two settings every configuration needs
/// (a cluster name and an allow-list), unless `vars` sets them.
#[cfg(test)]
pub(crate) fn try_test_config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let sets = |names: &[&str]| vars.iter().any(|(v, _)| names.contains(v));
    let mut all = vars.to_vec();
    if !sets(&[CLUSTER_NAME, LEGACY_CLUSTER_NAME]) {
        all.push((CLUSTER_NAME, "kf"));
    }
    if !sets(&[GROUP_PREFIX, ALLOW_ALL_GROUPS]) {
        all.push((ALLOW_ALL_GROUPS, "true"));
    }
    Config::from_pairs(&all)
}

/// [`try_test_config`] for valid settings.
#[cfg(test)]
pub(crate) fn test_config(vars: &[(&str, &str)]) -> Config {
    try_test_config(vars).expect("valid test configuration")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        try_test_config(vars)
    }

    #[test]
    fn defaults_match_the_documented_table() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.clusters[0].label(), "kf");
        assert_eq!(config.groups_claim, "custom:groups");
        assert_eq!(config.allowed_groups, AllowedGroups::All);
        assert!(!config.decode_group_names);
        assert!(!config.trust_stored_groups);
        assert_eq!(config.user_role, Role::Edit);
        assert_eq!(config.group_profile_owner, "admin@kubeflow.com");
        assert_eq!(config.user_profile_prefix, "profile-");
        assert_eq!(
            config.user_profile_quota,
            Some(serde_json::from_str(DEFAULT_USER_PROFILE_QUOTA).unwrap())
        );
        assert_eq!(config.istio_authz, IstioAuthz::Auto);
        assert!(config.protected_namespaces.is_empty());
        assert_eq!(config.fail_mode.default, FailMode::Closed);
        assert_eq!(config.time_budget, Duration::from_millis(4000));
        assert!(!config.dry_run);
        assert!(config.sync_on_refresh);
        assert!(!config.remove_legacy_bindings);
        assert_eq!(config.inactive_days, 90);
        assert_eq!(config.userid_header, None, "learnt from the cluster");
        assert_eq!(config.userid_prefix, None);
        assert_eq!(config.istio_principals, None);
    }

    #[test]
    fn the_user_rule_can_be_set_instead_of_learnt() {
        let config = parse(&[
            (USERID_HEADER, "x-auth-request-email"),
            (USERID_PREFIX, "accounts.google.com:"),
            (ISTIO_PRINCIPALS, " cluster.local/ns/auth/sa/oauth2-proxy , cluster.local/ns/kubeflow/sa/ml-pipeline-ui"),
        ])
        .unwrap();
        assert_eq!(
            config.userid_header.as_deref(),
            Some("x-auth-request-email")
        );
        assert_eq!(
            config.userid_prefix.as_deref(),
            Some("accounts.google.com:")
        );
        assert_eq!(
            config.istio_principals,
            Some(Some(vec![
                "cluster.local/ns/auth/sa/oauth2-proxy".to_owned(),
                "cluster.local/ns/kubeflow/sa/ml-pipeline-ui".to_owned()
            ]))
        );
        assert_eq!(
            parse(&[(ISTIO_PRINCIPALS, "None")])
                .unwrap()
                .istio_principals,
            Some(None)
        );
        for (variable, value) in [
            (USERID_HEADER, "bad header"),
            (USERID_PREFIX, "a*"),
            (ISTIO_PRINCIPALS, "a b"),
        ] {
            let err = parse(&[(variable, value)]).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{variable}=")), "{err}");
        }
    }

    #[test]
    fn the_python_lambdas_variable_names_keep_working() {
        let config = parse(&[
            (LEGACY_CLUSTER_NAME, "legacy"),
            (LEGACY_GROUPS_CLAIM, "custom:adgroups"),
        ])
        .unwrap();
        assert_eq!(config.clusters[0].label(), "legacy");
        assert_eq!(config.groups_claim, "custom:adgroups");
    }

    #[test]
    fn new_and_legacy_names_with_different_values_are_refused() {
        let err = parse(&[(CLUSTER_NAME, "a"), (LEGACY_CLUSTER_NAME, "b")]).unwrap_err();
        assert!(err.to_string().contains("CLUSTER_NAME and clusterName"));
        assert!(parse(&[(CLUSTER_NAME, "a"), (LEGACY_CLUSTER_NAME, "a")]).is_ok());
    }

    #[test]
    fn a_missing_cluster_name_names_the_variable() {
        let err = Config::from_pairs(&[(ALLOW_ALL_GROUPS, "true")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CLUSTER_NAME is required: the EKS cluster name (or the legacy clusterName); several, comma-separated"
        );
    }

    #[test]
    fn several_clusters_are_a_comma_list_each_optionally_in_its_region() {
        let config = Config::from_pairs(&[
            (CLUSTER_NAME, " kf-prod, us-west-2/kf-dr,cn-north-1/kf_cn, "),
            (ALLOW_ALL_GROUPS, "true"),
        ])
        .unwrap();
        let labels: Vec<String> = config.clusters.iter().map(ClusterTarget::label).collect();
        assert_eq!(labels, ["kf-prod", "us-west-2/kf-dr", "cn-north-1/kf_cn"]);
        assert_eq!(config.clusters[1].region.as_deref(), Some("us-west-2"));
        assert_eq!(config.clusters[1].name, "kf-dr");
        let from_arns = Config::from_pairs(&[
            (
                CLUSTER_NAME,
                "kf,arn:aws:eks:us-west-2:111122223333:cluster/kf-dr,arn:aws-cn:eks:cn-north-1:111122223333:cluster/kf_cn",
            ),
            (ALLOW_ALL_GROUPS, "true"),
        ])
        .unwrap();
        let labels: Vec<String> = from_arns
            .clusters
            .iter()
            .map(ClusterTarget::label)
            .collect();
        assert_eq!(labels, ["kf", "us-west-2/kf-dr", "cn-north-1/kf_cn"]);
        for bad in [
            "kf,kf",
            "mars/kf",
            "us-west-2/",
            "a b",
            "us-west-2/kf/x",
            "arn:aws:eks:us-west-2:1111:cluster/kf",
            "arn:aws:iam::111122223333:role/kf",
            "arn:aws:eks:us-west-2:111122223333:nodegroup/kf",
            "arn:aws:eks:mars:111122223333:cluster/kf",
            "arn:aws:eks:us-west-2:111122223333:cluster/kf:x",
        ] {
            let error = Config::from_pairs(&[(CLUSTER_NAME, bad), (ALLOW_ALL_GROUPS, "true")])
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("CLUSTER_NAME="), "{bad}: {error}");
        }
        assert!(is_region("us-gov-west-1") && is_region("eu-central-2"));
    }

    #[test]
    fn a_cluster_named_with_and_without_the_functions_region_is_one_cluster() {
        let home = ("AWS_REGION", "eu-west-1");
        for twice in [
            "kf,eu-west-1/kf",
            "eu-west-1/kf,kf",
            "kf,arn:aws:eks:eu-west-1:111122223333:cluster/kf",
        ] {
            let error =
                Config::from_pairs(&[(CLUSTER_NAME, twice), (ALLOW_ALL_GROUPS, "true"), home])
                    .unwrap_err()
                    .to_string();
            assert!(error.contains("each cluster once"), "{twice}: {error}");
        }
        let config = Config::from_pairs(&[
            (CLUSTER_NAME, "eu-west-1/kf,us-west-2/kf"),
            (ALLOW_ALL_GROUPS, "true"),
            home,
        ])
        .unwrap();
        let labels: Vec<String> = config.clusters.iter().map(ClusterTarget::label).collect();
        assert_eq!(
            labels,
            ["kf", "us-west-2/kf"],
            "the home region is left out"
        );
    }

    #[test]
    fn the_fail_mode_is_set_for_every_cluster_and_per_cluster() {
        let clusters = (CLUSTER_NAME, "kf-prod,us-west-2/kf-dr,kf-dev");
        let with = |mode: &str| {
            Config::from_pairs(&[
                clusters,
                (ALLOW_ALL_GROUPS, "true"),
                (FAIL_MODE, mode),
                ("AWS_REGION", "eu-west-1"),
            ])
        };
        let config = with("closed,kf-dev=open,us-west-2/kf-dr=open").unwrap();
        let modes: Vec<FailMode> = config
            .clusters
            .iter()
            .map(|c| config.fail_mode.of(c))
            .collect();
        assert_eq!(modes, [FailMode::Closed, FailMode::Open, FailMode::Open]);
        assert_eq!(
            config.fail_mode.describe(),
            "closed,kf-dev=open,us-west-2/kf-dr=open"
        );
        // The home region may be written or not; the default may come anywhere, or not at all.
        let config = with("eu-west-1/kf-prod=open").unwrap();
        assert_eq!(config.fail_mode.of(&config.clusters[0]), FailMode::Open);
        assert_eq!(config.fail_mode.default, FailMode::Closed);
        assert_eq!(with("open").unwrap().fail_mode.default, FailMode::Open);
        for bad in [
            "shut",
            "closed,open",
            "kf-other=open",
            "kf-dev=maybe",
            "kf-dev=open,kf-dev=closed",
        ] {
            let error = with(bad).unwrap_err().to_string();
            assert!(error.starts_with("FAIL_MODE="), "{bad}: {error}");
        }
    }

    #[test]
    fn every_setting_is_read() {
        let config = parse(&[
            (GROUP_PREFIX, "RIDY-"),
            (DECODE_GROUP_NAMES, "true"),
            (TRUST_STORED_GROUPS, "true"),
            (USER_ROLE, "VIEW"),
            (GROUP_PROFILE_OWNER, "groups@corp.example"),
            (USER_PROFILE_PREFIX, "home-"),
            (USER_PROFILE_QUOTA, ""),
            (ISTIO_AUTHZ, "ServiceRoleBinding"),
            (PROTECTED_NAMESPACES, " Monitoring, ,logging "),
            (FAIL_MODE, "open"),
            (TIME_BUDGET_MS, "2500"),
            (DRY_RUN, "true"),
            (SYNC_ON_REFRESH, "false"),
            (REMOVE_LEGACY_BINDINGS, "true"),
            (INACTIVE_DAYS, "0"),
        ])
        .unwrap();
        assert_eq!(config.allowed_groups, AllowedGroups::Prefix("RIDY-".into()));
        assert!(config.decode_group_names);
        assert!(config.trust_stored_groups);
        assert_eq!(config.user_role, Role::View);
        assert_eq!(config.group_profile_owner, "groups@corp.example");
        assert_eq!(config.user_profile_prefix, "home-");
        assert_eq!(config.user_profile_quota, None);
        assert_eq!(config.istio_authz, IstioAuthz::ServiceRoleBinding);
        assert_eq!(config.protected_namespaces, vec!["monitoring", "logging"]);
        assert_eq!(config.fail_mode.default, FailMode::Open);
        assert_eq!(config.time_budget, Duration::from_millis(2500));
        assert!(config.dry_run);
        assert!(!config.sync_on_refresh);
        assert!(config.remove_legacy_bindings);
        assert_eq!(config.inactive_days, 0);
    }

    #[test]
    fn mesh_labels_and_viewer_access_are_read() {
        let config = parse(&[
            (
                MESH_LABELS,
                "istio.io/dataplane-mode=ambient, istio.io/use-waypoint=waypoint,istio.io/use-waypoint-namespace={namespace}",
            ),
            (VIEWER_ACCESS, "as-editors"),
        ])
        .unwrap();
        let labels = config.mesh_labels.unwrap();
        assert_eq!(labels["istio.io/dataplane-mode"], "ambient");
        assert_eq!(labels["istio.io/use-waypoint-namespace"], "{namespace}");
        assert_eq!(config.viewer_access, ViewerAccess::AsEditors);
        let defaults = parse(&[]).unwrap();
        assert_eq!(defaults.mesh_labels, None, "learnt");
        assert_eq!(defaults.viewer_access, ViewerAccess::PipelinesUi);
        assert_eq!(
            parse(&[(MESH_LABELS, "None")]).unwrap().mesh_labels,
            Some(BTreeMap::new())
        );
        for bad in [
            "istio-injection",
            "app=x",
            "istio-injection=en abled",
            "istio-injection=",
        ] {
            let error = parse(&[(MESH_LABELS, bad)]).unwrap_err().to_string();
            assert!(error.starts_with("MESH_LABELS="), "{bad}: {error}");
        }
    }

    #[test]
    fn role_suffixes_are_read_longest_first_and_match_in_any_case() {
        let config = Config::from_pairs(&[
            (CLUSTER_NAME, "kf"),
            (ALLOW_ALL_GROUPS, "true"),
            (
                GROUP_ROLE_SUFFIXES,
                "-edit=edit, -read-edit=view ,-admin=ADMIN",
            ),
        ])
        .unwrap();
        let suffixes: Vec<&str> = config
            .role_suffixes
            .iter()
            .map(|s| s.suffix.as_str())
            .collect();
        assert_eq!(suffixes, ["-read-edit", "-admin", "-edit"]);
        assert_eq!(config.team_and_role("KF-A-READ-EDIT"), ("KF-A", Role::View));
        assert_eq!(config.team_and_role("KF-A-Edit"), ("KF-A", Role::Edit));
        assert_eq!(
            config.team_and_role("KF-A"),
            ("KF-A", Role::Edit),
            "USER_ROLE"
        );
        assert_eq!(
            config.team_and_role("-edit"),
            ("-edit", Role::Edit),
            "no team left"
        );
        let prefixed = parse(&[
            (GROUP_PREFIX, "KF-"),
            (GROUP_ROLE_SUFFIXES, "-edit=edit,-view=view"),
        ])
        .unwrap();
        assert_eq!(
            prefixed.team_and_role("KF-EDIT"),
            ("KF-EDIT", Role::Edit),
            "KF is outside the prefix"
        );
        assert_eq!(prefixed.team_and_role("KF-A-VIEW"), ("KF-A", Role::View));
        assert_eq!(
            config.roles(),
            [Role::View, Role::Edit],
            "admin not allowed"
        );
        let admin = Config::from_pairs(&[
            (CLUSTER_NAME, "kf"),
            (ALLOW_ALL_GROUPS, "true"),
            (GROUP_ROLE_SUFFIXES, "-admin=admin"),
            (ALLOW_ADMIN_ROLE, "true"),
        ])
        .unwrap();
        assert_eq!(admin.roles(), [Role::Edit, Role::Admin]);
        for bad in ["-view", "-view=owner", "=view", "-a=view,-A=edit"] {
            let error = Config::from_pairs(&[
                (CLUSTER_NAME, "kf"),
                (ALLOW_ALL_GROUPS, "true"),
                (GROUP_ROLE_SUFFIXES, bad),
            ])
            .unwrap_err()
            .to_string();
            assert!(error.starts_with("GROUP_ROLE_SUFFIXES="), "{bad}: {error}");
        }
    }

    #[test]
    fn bad_values_name_the_variable_and_the_accepted_values() {
        let cases: &[(&str, &str, &str)] = &[
            (
                USER_ROLE,
                "admin",
                "USER_ROLE=\"admin\" is invalid: expected one of edit, view",
            ),
            (
                ISTIO_AUTHZ,
                "istio",
                "ISTIO_AUTHZ=\"istio\" is invalid: expected one of auto, authorizationpolicy, servicerolebinding, both, none",
            ),
            (
                FAIL_MODE,
                "ajar",
                "FAIL_MODE=\"ajar\" is invalid: expected one of closed, open",
            ),
            (
                DRY_RUN,
                "yes",
                "DRY_RUN=\"yes\" is invalid: expected one of true, false",
            ),
            (
                TIME_BUDGET_MS,
                "6000",
                "TIME_BUDGET_MS=\"6000\" is invalid: expected whole milliseconds from 50 to 4900 (Cognito waits 5000)",
            ),
            (TIME_BUDGET_MS, "4s", "TIME_BUDGET_MS=\"4s\" is invalid"),
            (
                INACTIVE_DAYS,
                "-1",
                "INACTIVE_DAYS=\"-1\" is invalid: expected whole days from 0 (never revoke for inactivity) to 36500",
            ),
            (
                USER_PROFILE_QUOTA,
                "[1]",
                "USER_PROFILE_QUOTA=\"[1]\" is invalid: expected a JSON object",
            ),
            (
                USER_PROFILE_QUOTA,
                "{",
                "USER_PROFILE_QUOTA=\"{\" is invalid",
            ),
            (
                USER_PROFILE_PREFIX,
                "Profile_",
                "USER_PROFILE_PREFIX=\"Profile_\" is invalid",
            ),
            (
                CLUSTER_NAME,
                "my cluster",
                "CLUSTER_NAME=\"my cluster\" is invalid",
            ),
            (
                ALLOW_ALL_GROUPS,
                "yes",
                "ALLOW_ALL_GROUPS=\"yes\" is invalid: expected one of true, false",
            ),
            (GROUP_PREFIX, "a,b", "GROUP_PREFIX=\"a,b\" is invalid"),
        ];
        for (variable, value, message) in cases {
            let err = parse(&[(*variable, *value)]).unwrap_err().to_string();
            assert!(err.starts_with(message), "{variable}={value}: {err}");
        }
    }

    #[test]
    fn exactly_one_allow_list_is_required_and_the_error_names_both() {
        let neither = Config::from_pairs(&[(CLUSTER_NAME, "kf")]).unwrap_err();
        let both = Config::from_pairs(&[
            (CLUSTER_NAME, "kf"),
            (GROUP_PREFIX, "KF-"),
            (ALLOW_ALL_GROUPS, "true"),
        ])
        .unwrap_err();
        let all_false =
            Config::from_pairs(&[(CLUSTER_NAME, "kf"), (ALLOW_ALL_GROUPS, "false")]).unwrap_err();
        for (err, found) in [
            (neither, "neither is set"),
            (both, "both are set"),
            (all_false, "neither is set"),
        ] {
            let message = err.to_string();
            assert!(
                message.contains("GROUP_PREFIX") && message.contains("ALLOW_ALL_GROUPS=true"),
                "{message}"
            );
            assert!(message.ends_with(found), "{message}");
        }
    }

    #[test]
    fn the_prefix_admits_exact_names_ignoring_only_ascii_case() {
        let prefix = AllowedGroups::Prefix("RIDY-".into());
        for (group, admitted) in [
            ("RIDY-finance", true),
            ("ridy-finance", true),
            ("RIDY-", true),
            ("%52IDY-finance", false),
            ("RIDY_finance", false),
            ("RID", false),
            (" RIDY-finance", false),
            // U+0130 (İ) lowercases to an ASCII i under Unicode rules; it is not an I.
            ("R\u{130}DY-finance", false),
        ] {
            assert_eq!(prefix.admits(group), admitted, "{group:?}");
        }
        assert!(AllowedGroups::All.admits("anything at all"));
        let kelvin = AllowedGroups::Prefix("KF-".into());
        assert!(
            !kelvin.admits("\u{212A}F-team"),
            "the Kelvin sign is not a K"
        );
    }
}
