//! Typed configuration, parsed once at cold start from an injected variable lookup. Pure.
//!
//! Every variable has a constant name here. A bad value fails start-up with a message that names
//! the variable and what it accepts; nothing reads the process environment except `main`.

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

/// The quota personal Profiles get unless `USER_PROFILE_QUOTA` says otherwise: the personal
/// Profile exists because the Kubeflow dashboard requires one; work happens in group namespaces.
pub const DEFAULT_USER_PROFILE_QUOTA: &str = r#"{"hard":{"cpu":"0","memory":"0Gi","requests.nvidia.com/gpu":"0","persistentvolumeclaims":"0","requests.storage":"0Gi"}}"#;

/// Cognito waits 5 s for the trigger; a budget must leave room to answer.
const TIME_BUDGET_RANGE_MS: std::ops::RangeInclusive<u64> = 50..=4900;

/// The ClusterRole a user is bound to in a group namespace (`kubeflow-<role>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Edit,
    View,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Edit => "edit",
            Role::View => "view",
        }
    }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// A failed grant or revoke fails the sign-in.
    Closed,
    /// A failed grant or revoke is logged and the sign-in goes through.
    Open,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub cluster_name: String,
    pub groups_claim: String,
    /// Lowercased; empty means every group.
    pub group_prefix: String,
    pub user_role: Role,
    pub group_profile_owner: String,
    pub user_profile_prefix: String,
    /// `spec.resourceQuotaSpec` of personal Profiles, or none.
    pub user_profile_quota: Option<Value>,
    pub istio_authz: IstioAuthz,
    /// Lowercased, in addition to the built-in list.
    pub protected_namespaces: Vec<String>,
    pub fail_mode: FailMode,
    pub time_budget: Duration,
    pub dry_run: bool,
    pub sync_on_refresh: bool,
    /// Delete the Python Lambda's unlabelled `user-<username>-kubeflow-org-clusterrole-<role>`
    /// bindings of a signing-in user in the namespaces this function now manages for them.
    pub remove_legacy_bindings: bool,
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

        let cluster_name =
            with_legacy(CLUSTER_NAME, LEGACY_CLUSTER_NAME)?.ok_or(ConfigError::Missing {
                variable: CLUSTER_NAME,
                expected: "the EKS cluster name (or the legacy clusterName)",
            })?;
        if !is_eks_cluster_name(&cluster_name) {
            return Err(invalid(
                CLUSTER_NAME,
                &cluster_name,
                "an EKS cluster name: 1-100 letters, digits, '-' or '_', starting with a letter or digit",
            ));
        }
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

        let group_profile_owner =
            get(GROUP_PROFILE_OWNER).unwrap_or_else(|| "admin@kubeflow.com".into());
        if group_profile_owner.is_empty() || group_profile_owner.chars().any(char::is_control) {
            return Err(invalid(
                GROUP_PROFILE_OWNER,
                &group_profile_owner,
                "the Kubeflow user id (email) that owns group Profiles",
            ));
        }

        Ok(Config {
            cluster_name,
            groups_claim,
            group_prefix: get(GROUP_PREFIX).unwrap_or_default().to_lowercase(),
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
            fail_mode: parse_choice(
                FAIL_MODE,
                get(FAIL_MODE),
                &[("closed", FailMode::Closed), ("open", FailMode::Open)],
                FailMode::Closed,
            )?,
            time_budget: parse_time_budget(get(TIME_BUDGET_MS))?,
            dry_run: parse_bool(DRY_RUN, get(DRY_RUN), false)?,
            sync_on_refresh: parse_bool(SYNC_ON_REFRESH, get(SYNC_ON_REFRESH), true)?,
            remove_legacy_bindings: parse_bool(
                REMOVE_LEGACY_BINDINGS,
                get(REMOVE_LEGACY_BINDINGS),
                false,
            )?,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_documented_table() {
        let config = parse(&[(CLUSTER_NAME, "kf")]).unwrap();
        assert_eq!(config.cluster_name, "kf");
        assert_eq!(config.groups_claim, "custom:groups");
        assert_eq!(config.group_prefix, "");
        assert_eq!(config.user_role, Role::Edit);
        assert_eq!(config.group_profile_owner, "admin@kubeflow.com");
        assert_eq!(config.user_profile_prefix, "profile-");
        assert_eq!(
            config.user_profile_quota,
            Some(serde_json::from_str(DEFAULT_USER_PROFILE_QUOTA).unwrap())
        );
        assert_eq!(config.istio_authz, IstioAuthz::Auto);
        assert!(config.protected_namespaces.is_empty());
        assert_eq!(config.fail_mode, FailMode::Closed);
        assert_eq!(config.time_budget, Duration::from_millis(4000));
        assert!(!config.dry_run);
        assert!(config.sync_on_refresh);
        assert!(!config.remove_legacy_bindings);
    }

    #[test]
    fn the_python_lambdas_variable_names_keep_working() {
        let config = parse(&[
            (LEGACY_CLUSTER_NAME, "legacy"),
            (LEGACY_GROUPS_CLAIM, "custom:adgroups"),
        ])
        .unwrap();
        assert_eq!(config.cluster_name, "legacy");
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
        let err = parse(&[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CLUSTER_NAME is required: the EKS cluster name (or the legacy clusterName)"
        );
    }

    #[test]
    fn every_setting_is_read() {
        let config = parse(&[
            (CLUSTER_NAME, "kf"),
            (GROUP_PREFIX, "RIDY-"),
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
        ])
        .unwrap();
        assert_eq!(config.group_prefix, "ridy-");
        assert_eq!(config.user_role, Role::View);
        assert_eq!(config.group_profile_owner, "groups@corp.example");
        assert_eq!(config.user_profile_prefix, "home-");
        assert_eq!(config.user_profile_quota, None);
        assert_eq!(config.istio_authz, IstioAuthz::ServiceRoleBinding);
        assert_eq!(config.protected_namespaces, vec!["monitoring", "logging"]);
        assert_eq!(config.fail_mode, FailMode::Open);
        assert_eq!(config.time_budget, Duration::from_millis(2500));
        assert!(config.dry_run);
        assert!(!config.sync_on_refresh);
        assert!(config.remove_legacy_bindings);
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
        ];
        for (variable, value, message) in cases {
            let mut vars = vec![(*variable, *value)];
            if *variable != CLUSTER_NAME {
                vars.push((CLUSTER_NAME, "kf"));
            }
            let err = parse(&vars).unwrap_err().to_string();
            assert!(err.starts_with(message), "{variable}={value}: {err}");
        }
    }
}
