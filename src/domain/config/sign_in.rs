//! The sign-in's settings: which AD groups become namespaces and with which role, the Profiles
//! it makes, the namespaces it never binds, its time budget and what it does on a refresh.
//! Pure.

use std::time::Duration;

use serde_json::Value;

use super::env::{ConfigError, Env, invalid};
use crate::domain::model::quota::check_spec;
use crate::domain::model::team_defaults::TeamDefaults;

/// The user attribute holding the groups (the Python Lambda's `cognitoGroupField` too).
pub const GROUPS_CLAIM: &str = "GROUPS_CLAIM";
pub const LEGACY_GROUPS_CLAIM: &str = "cognitoGroupField";
pub const DEFAULT_GROUPS_CLAIM: &str = "custom:groups";
/// Only groups starting with it become namespaces. Exactly one of it and `ALLOW_ALL_GROUPS`.
pub const GROUP_PREFIX: &str = "GROUP_PREFIX";
/// `true`: every AD group becomes a namespace.
pub const ALLOW_ALL_GROUPS: &str = "ALLOW_ALL_GROUPS";
/// URL-form-decode group names before anything else.
pub const DECODE_GROUP_NAMES: &str = "DECODE_GROUP_NAMES";
pub const DEFAULT_DECODE_GROUP_NAMES: bool = false;
/// Grant from the stored groups on sign-ins the IdP did not just assert.
pub const TRUST_STORED_GROUPS: &str = "TRUST_STORED_GROUPS";
pub const DEFAULT_TRUST_STORED_GROUPS: bool = false;
/// The role given in group namespaces.
pub const USER_ROLE: &str = "USER_ROLE";
pub const DEFAULT_USER_ROLE: Role = Role::Edit;
/// Group-name suffixes that carry a role (`-view=view,-edit=edit`); none by default.
pub const GROUP_ROLE_SUFFIXES: &str = "GROUP_ROLE_SUFFIXES";
/// Whether a suffix may give `admin`.
pub const ALLOW_ADMIN_ROLE: &str = "ALLOW_ADMIN_ROLE";
pub const DEFAULT_ALLOW_ADMIN_ROLE: bool = false;
/// The owner (a Kubeflow user id) of group Profiles.
pub const GROUP_PROFILE_OWNER: &str = "GROUP_PROFILE_OWNER";
pub const DEFAULT_GROUP_PROFILE_OWNER: &str = "admin@kubeflow.com";
/// Personal Profile name = prefix + user name.
pub const USER_PROFILE_PREFIX: &str = "USER_PROFILE_PREFIX";
pub const DEFAULT_USER_PROFILE_PREFIX: &str = "profile-";
/// `resourceQuotaSpec` of personal Profiles (JSON); set but empty: none.
pub const USER_PROFILE_QUOTA: &str = "USER_PROFILE_QUOTA";
/// The quota personal Profiles get unless `USER_PROFILE_QUOTA` says otherwise: the personal
/// Profile exists because the Kubeflow dashboard requires one; work happens in group namespaces.
pub const DEFAULT_USER_PROFILE_QUOTA: &str = r#"{"hard":{"cpu":"0","memory":"0Gi","requests.nvidia.com/gpu":"0","persistentvolumeclaims":"0","requests.storage":"0Gi"}}"#;
/// `resourceQuotaSpec` of group Profiles (JSON); unset: the function leaves team quotas alone.
/// A team's `kubeflow-profile-manager/quota` annotation, an administrator's, overrides it.
pub const GROUP_PROFILE_QUOTA: &str = "GROUP_PROFILE_QUOTA";
/// The IAM role a team namespace's `default-editor` gets through EKS Pod Identity: an ARN, in
/// which `{namespace}` stands for the team's namespace (one role per team), or without it (one
/// role for every team, told apart by the session's `kubernetes-namespace` tag); none by default.
pub const TEAM_ROLE_ARN: &str = "TEAM_ROLE_ARN";
/// How a team namespace's `default-editor` gets `TEAM_ROLE_ARN`: `pod-identity` (an EKS Pod
/// Identity association) or `irsa` (its Profile's `AwsIamForServiceAccount` plugin).
pub const TEAM_ROLE_VIA: &str = "TEAM_ROLE_VIA";
/// The file of the objects created once in each new team namespace (read when the function
/// starts); none by default.
pub const TEAM_DEFAULTS_FILE: &str = "TEAM_DEFAULTS_FILE";
/// Namespaces never bound, added to the built-in list; none by default.
pub const PROTECTED_NAMESPACES: &str = "PROTECTED_NAMESPACES";
/// The answer to Cognito is due within this.
pub const TIME_BUDGET_MS: &str = "TIME_BUDGET_MS";
pub const DEFAULT_TIME_BUDGET_MS: u64 = 4000;
/// Cognito waits 5 s for the trigger; a budget must leave room to answer.
const TIME_BUDGET_RANGE_MS: std::ops::RangeInclusive<u64> = 50..=4900;
/// Also synchronise on token refreshes.
pub const SYNC_ON_REFRESH: &str = "SYNC_ON_REFRESH";
pub const DEFAULT_SYNC_ON_REFRESH: bool = true;
/// Remove the Python Lambda's bindings of a signing-in user once the new ones are in place.
pub const REMOVE_LEGACY_BINDINGS: &str = "REMOVE_LEGACY_BINDINGS";
pub const DEFAULT_REMOVE_LEGACY_BINDINGS: bool = false;

/// What a sign-in grants and how.
#[derive(Debug, Clone, PartialEq)]
pub struct SignInConfig {
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
    /// Group-name suffixes that carry a role, longest first (empty: every group gets
    /// `user_role`).
    pub role_suffixes: Vec<RoleSuffix>,
    /// Whether a suffix may give `admin`.
    pub allow_admin_role: bool,
    pub group_profile_owner: String,
    pub user_profile_prefix: String,
    /// `spec.resourceQuotaSpec` of personal Profiles, or none.
    pub user_profile_quota: Option<Value>,
    /// `spec.resourceQuotaSpec` of group Profiles; `None`: team quotas are left alone.
    pub group_profile_quota: Option<Value>,
    /// The team role's ARN, `{namespace}` standing for the team's namespace; `None`: teams get
    /// no AWS role from this function.
    pub team_role_arn: Option<String>,
    /// How teams get `team_role_arn`.
    pub team_role_via: TeamRoleVia,
    /// `TEAM_DEFAULTS_FILE`: where the team defaults are, read when the function starts into
    /// `team_defaults`.
    pub team_defaults_file: Option<String>,
    /// The objects created once in each new team namespace; none unless `TEAM_DEFAULTS_FILE`.
    pub team_defaults: TeamDefaults,
    /// Lowercased, in addition to the built-in list.
    pub protected_namespaces: Vec<String>,
    pub time_budget: Duration,
    pub sync_on_refresh: bool,
    /// Delete the Python Lambda's unlabelled `user-<username>-kubeflow-org-clusterrole-<role>`
    /// bindings of a signing-in user in the namespaces this function now manages for them.
    pub remove_legacy_bindings: bool,
}

impl SignInConfig {
    pub(super) fn read(env: &Env) -> Self {
        SignInConfig {
            groups_claim: env
                .value_or_legacy(GROUPS_CLAIM, LEGACY_GROUPS_CLAIM)
                .unwrap_or_else(|| DEFAULT_GROUPS_CLAIM.to_owned()),
            allowed_groups: read_allowed_groups(env),
            decode_group_names: env.flag(DECODE_GROUP_NAMES, DEFAULT_DECODE_GROUP_NAMES),
            trust_stored_groups: env.flag(TRUST_STORED_GROUPS, DEFAULT_TRUST_STORED_GROUPS),
            user_role: env.choice(
                USER_ROLE,
                &[("edit", Role::Edit), ("view", Role::View)],
                DEFAULT_USER_ROLE,
            ),
            role_suffixes: env.take(parse_role_suffixes(env.value(GROUP_ROLE_SUFFIXES)), Vec::new()),
            allow_admin_role: env.flag(ALLOW_ADMIN_ROLE, DEFAULT_ALLOW_ADMIN_ROLE),
            group_profile_owner: env.parse(
                GROUP_PROFILE_OWNER,
                DEFAULT_GROUP_PROFILE_OWNER.to_owned(),
                |owner| {
                    (!owner.chars().any(char::is_control))
                        .then(|| owner.to_owned())
                        .ok_or_else(|| "the Kubeflow user id (email) that owns group Profiles".into())
                },
            ),
            user_profile_prefix: env.parse(
                USER_PROFILE_PREFIX,
                DEFAULT_USER_PROFILE_PREFIX.to_owned(),
                |prefix| {
                    is_label_prefix(prefix).then(|| prefix.to_owned()).ok_or_else(|| {
                        "a non-empty prefix of lowercase letters, digits and '-', starting with a letter or digit, at most 30 characters".into()
                    })
                },
            ),
            user_profile_quota: read_quota(env),
            group_profile_quota: env.parse(GROUP_PROFILE_QUOTA, None, |text| {
                parse_quota(text).map(Some)
            }),
            team_role_arn: env.parse(TEAM_ROLE_ARN, None, |arn| {
                is_role_arn_template(arn)
                    .then(|| Some(arn.to_owned()))
                    .ok_or_else(|| {
                        "an IAM role ARN, {namespace} standing for the team's namespace: arn:aws:iam::111122223333:role/kf-team-{namespace}".into()
                    })
            }),
            team_role_via: read_team_role_via(env),
            team_defaults_file: env.value(TEAM_DEFAULTS_FILE),
            team_defaults: TeamDefaults::default(),
            protected_namespaces: env
                .value(PROTECTED_NAMESPACES)
                .unwrap_or_default()
                .split(',')
                .map(|n| n.trim().to_lowercase())
                .filter(|n| !n.is_empty())
                .collect(),
            time_budget: Duration::from_millis(env.number(
                TIME_BUDGET_MS,
                DEFAULT_TIME_BUDGET_MS,
                TIME_BUDGET_RANGE_MS,
                &format!(
                    "whole milliseconds from {} to {} (Cognito waits 5000)",
                    TIME_BUDGET_RANGE_MS.start(),
                    TIME_BUDGET_RANGE_MS.end()
                ),
            )),
            sync_on_refresh: env.flag(SYNC_ON_REFRESH, DEFAULT_SYNC_ON_REFRESH),
            remove_legacy_bindings: env.flag(REMOVE_LEGACY_BINDINGS, DEFAULT_REMOVE_LEGACY_BINDINGS),
        }
    }

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

    /// `TEAM_ROLE_ARN` when teams get it through EKS Pod Identity (not IRSA).
    pub fn pod_identity_role(&self) -> Option<&str> {
        self.team_role_arn
            .as_deref()
            .filter(|_| self.team_role_via == TeamRoleVia::PodIdentity)
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

/// How a team namespace's `default-editor` gets the team role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamRoleVia {
    /// An EKS Pod Identity association, asked for at the team's first sign-in.
    PodIdentity,
    /// IRSA: the team Profile's `AwsIamForServiceAccount` plugin with `annotateOnly`, set when
    /// the function creates the Profile; the profile controller annotates the ServiceAccount.
    Irsa,
}

/// `TEAM_ROLE_VIA`; `irsa` needs a role per team (`{namespace}` in `TEAM_ROLE_ARN`): an IRSA
/// session carries no namespace tag for one shared role's policy to tell teams apart by, and a
/// trust policy that lets every namespace's `default-editor` in lets any Kubeflow user (admin
/// of their own namespace) annotate theirs and take the role.
fn read_team_role_via(env: &Env) -> TeamRoleVia {
    let via = env.choice(
        TEAM_ROLE_VIA,
        &[
            ("pod-identity", TeamRoleVia::PodIdentity),
            ("irsa", TeamRoleVia::Irsa),
        ],
        TeamRoleVia::PodIdentity,
    );
    let shared = env
        .value(TEAM_ROLE_ARN)
        .is_some_and(|arn| !arn.contains("{namespace}"));
    if via == TeamRoleVia::Irsa && shared {
        env.report(invalid(
            TEAM_ROLE_VIA,
            "irsa",
            "pod-identity while TEAM_ROLE_ARN names one role for every team (IRSA needs a role per team: {namespace} in TEAM_ROLE_ARN)",
        ));
    }
    via
}

/// `GROUP_PREFIX` or `ALLOW_ALL_GROUPS=true`: exactly one.
fn read_allowed_groups(env: &Env) -> AllowedGroups {
    let prefix = env.parse(GROUP_PREFIX, String::new(), |prefix| {
        (!prefix.chars().any(|c| c.is_control() || c == ','))
            .then(|| prefix.to_owned())
            .ok_or_else(|| {
                "the start of the AD group names to use, without commas or control characters"
                    .into()
            })
    });
    match (prefix.is_empty(), env.flag(ALLOW_ALL_GROUPS, false)) {
        (false, false) => AllowedGroups::Prefix(prefix),
        (true, true) => AllowedGroups::All,
        (false, true) => {
            env.report(ConfigError::AllowList {
                found: "both are set",
            });
            AllowedGroups::All
        }
        (true, false) => {
            env.report(ConfigError::AllowList {
                found: "neither is set",
            });
            AllowedGroups::All
        }
    }
}

/// Unset gives the zero quota; set but empty gives none; anything else must be a JSON object.
fn read_quota(env: &Env) -> Option<Value> {
    if env.is_set(USER_PROFILE_QUOTA) && env.value(USER_PROFILE_QUOTA).is_none() {
        return None;
    }
    let default = serde_json::from_str(DEFAULT_USER_PROFILE_QUOTA).ok();
    env.parse(USER_PROFILE_QUOTA, default, |text| {
        parse_quota(text).map(Some)
    })
}

/// A `resourceQuotaSpec`: a JSON object.
pub fn parse_quota(text: &str) -> Result<Value, String> {
    let expected = "a JSON object (a Kubernetes resourceQuotaSpec such as {\"hard\":{\"cpu\":\"1\"}}), or an empty string for no quota";
    let quota: Value = serde_json::from_str(text).map_err(|_| expected.to_owned())?;
    check_spec(&quota).map_err(|why| format!("{expected}; here {why}"))?;
    Ok(quota)
}

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

/// A group-name suffix that carries a role (`GROUP_ROLE_SUFFIXES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSuffix {
    pub suffix: String,
    pub role: Role,
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

/// `-view=view,-edit=edit,-admin=admin`: suffixes (each at most once) and their roles, longest
/// first so that `-read-edit` is tried before `-edit`.
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

fn is_label_prefix(prefix: &str) -> bool {
    prefix.len() <= 30
        && prefix.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `arn:<partition>:iam::<12 digits>:role/<path and name>`, the name's characters those IAM
/// allows (`[\w+=,.@-]`, `/` in the path), `{namespace}` at most once, in the name after a
/// fixed prefix.
fn is_role_arn_template(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return false;
    };
    // `{namespace}` only in the role's name, after a fixed prefix: the team role pattern the
    // stack may pass (`kf-team-*`) never covers every role of the account (`*`).
    let final_name = path_and_name.rsplit('/').next().unwrap_or_default();
    let placeholders = path_and_name.matches("{namespace}").count();
    if placeholders > 1
        || (placeholders == 1
            && (!final_name.contains("{namespace}") || final_name.starts_with("{namespace}")))
    {
        return false;
    }
    let name = path_and_name.replace("{namespace}", "n");
    partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c))
}
