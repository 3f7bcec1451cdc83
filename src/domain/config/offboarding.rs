//! Offboarding's settings: the user pool the sweep asks about people, when it revokes for
//! inactivity, how fast it asks, and where the function keeps its records. Pure.

use super::env::Env;

/// The user pool (the template sets it from `UserPoolArn`); none by default.
pub const USER_POOL_ID: &str = "USER_POOL_ID";
/// Days without activity after which the sweep revokes access; 0: never for inactivity.
pub const INACTIVE_DAYS: &str = "INACTIVE_DAYS";
pub const DEFAULT_INACTIVE_DAYS: u32 = 90;
/// Requests per second the sweep makes to the user pool.
pub const SWEEP_POOL_RATE: &str = "SWEEP_POOL_RATE";
pub const DEFAULT_SWEEP_POOL_RATE: u32 = 10;
/// The namespace of the function's records (a Lease per person).
pub const RECORDS_NAMESPACE: &str = "RECORDS_NAMESPACE";
pub const DEFAULT_RECORDS_NAMESPACE: &str =
    crate::domain::model::activity::DEFAULT_RECORDS_NAMESPACE;

/// What the sweep and the records need.
#[derive(Debug, Clone, PartialEq)]
pub struct OffboardingConfig {
    /// The user pool whose trigger this is: the sweep asks it about people.
    pub user_pool_id: Option<String>,
    /// The sweep revokes the access of people whose last activity is older than this many
    /// days; 0: never for inactivity.
    pub inactive_days: u32,
    /// Requests per second the sweep makes to the user pool (a share of Cognito's `UserList`
    /// quota, 30 per second per account and region).
    pub sweep_pool_rate: u32,
    /// The namespace of the function's records (a Lease per person): never a team namespace.
    pub records_namespace: String,
}

impl OffboardingConfig {
    pub(super) fn read(env: &Env) -> Self {
        OffboardingConfig {
            user_pool_id: env.parse(USER_POOL_ID, None, |id| {
                is_user_pool_id(id).then(|| Some(id.to_owned())).ok_or_else(|| {
                    "a user pool id (<region>_<letters and digits>), e.g. eu-west-1_AbC123".into()
                })
            }),
            inactive_days: env.number(
                INACTIVE_DAYS,
                DEFAULT_INACTIVE_DAYS.into(),
                0..=36_500,
                "whole days from 0 (never revoke for inactivity) to 36500",
            ) as u32,
            sweep_pool_rate: env.number(
                SWEEP_POOL_RATE,
                DEFAULT_SWEEP_POOL_RATE.into(),
                1..=30,
                "requests per second to the user pool, 1 to 30 (Cognito's ListUsers quota, shared by the account's region)",
            ) as u32,
            records_namespace: env.parse(
                RECORDS_NAMESPACE,
                DEFAULT_RECORDS_NAMESPACE.to_owned(),
                |namespace| {
                    crate::domain::model::names::is_dns_label(namespace)
                        .then(|| namespace.to_owned())
                        .ok_or_else(|| {
                            "a namespace name (lowercase letters, digits and '-'), the one deploy/rbac.yaml makes".into()
                        })
                },
            ),
        }
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
