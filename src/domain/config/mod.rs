//! Typed configuration by concern, parsed once at cold start from an injected variable
//! lookup. Pure.
//!
//! Each concern's file names its variables with their defaults beside them: the clusters
//! ([`clusters`]), the sign-in ([`sign_in`]), Istio ([`istio`]), offboarding
//! ([`offboarding`]); which function this is and the dry run are the function's own. A bad
//! environment fails start-up with every problem at once, each naming the variable and what it
//! accepts; nothing reads the process environment except `main`.

pub mod clusters;
mod env;
pub mod istio;
pub mod offboarding;
pub mod sign_in;
pub mod token_path;

pub use clusters::{
    CLUSTER_NAME, ClusterTarget, ClustersConfig, FAIL_MODE, FailMode, FailModes,
    LEGACY_CLUSTER_NAME,
};
pub use env::{ConfigError, ConfigErrors};
pub use istio::{
    ISTIO_AUTHZ, ISTIO_PRINCIPALS, IstioAuthz, IstioConfig, MESH_LABELS, Principals, USERID_HEADER,
    USERID_PREFIX, VIEWER_ACCESS, ViewerAccess,
};
pub use offboarding::{
    INACTIVE_DAYS, OffboardingConfig, RECORDS_NAMESPACE, SWEEP_POOL_RATE, USER_POOL_ID,
    is_user_pool_id,
};
pub use sign_in::{
    ALLOW_ADMIN_ROLE, ALLOW_ALL_GROUPS, AllowedGroups, DECODE_GROUP_NAMES,
    DEFAULT_USER_PROFILE_QUOTA, GROUP_PREFIX, GROUP_PROFILE_OWNER, GROUP_PROFILE_QUOTA,
    GROUP_ROLE_SUFFIXES, GROUPS_CLAIM, LEGACY_GROUPS_CLAIM, PROTECTED_NAMESPACES,
    REMOVE_LEGACY_BINDINGS, Role, RoleSuffix, SYNC_ON_REFRESH, SignInConfig, TEAM_DEFAULTS_FILE,
    TEAM_ROLE_ARN, TEAM_ROLE_VIA, TIME_BUDGET_MS, TRUST_STORED_GROUPS, TeamRoleVia,
    USER_PROFILE_PREFIX, USER_PROFILE_QUOTA, USER_ROLE,
};

pub use token_path::{
    COGNITO_GROUPS, EVERYONE_NAMESPACE, EVERYONE_ROLE, Everyone, PERSONAL_PROFILES, SIGN_IN_GATE,
    SIGN_IN_GATE_MESSAGE, SUPPRESS_GROUPS_ATTRIBUTE, TOKEN_GROUPS, TOKEN_GROUPS_CLAIMS,
    TOKEN_GROUPS_IN_ACCESS_TOKEN, TokenGroupValues, TokenGroups, TokenPathConfig,
};

use crate::domain::model::protected::name_refusal;
use env::Env;

/// Which function of the stack this is: `trigger` or `sweep`.
pub const FUNCTION_ROLE: &str = "FUNCTION_ROLE";
pub const DEFAULT_FUNCTION_ROLE: FunctionRole = FunctionRole::Trigger;
/// Compute and log the changes, write nothing.
pub const DRY_RUN: &str = "DRY_RUN";
pub const DEFAULT_DRY_RUN: bool = false;

/// The whole configuration, by concern.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub clusters: ClustersConfig,
    pub sign_in: SignInConfig,
    pub istio: IstioConfig,
    pub offboarding: OffboardingConfig,
    /// The gate, personal Profiles, the everyone namespace, the groups in the tokens.
    pub token: TokenPathConfig,
    /// Which function of the stack this process is: set by its deployment, never by a payload.
    pub function_role: FunctionRole,
    /// Compute and log the changes, write nothing (every job).
    pub dry_run: bool,
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

impl Config {
    /// Parses the configuration from `(variable, value)` pairs; unset variables take defaults.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, ConfigErrors> {
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    /// Parses the configuration from `lookup` (the process environment in `main`, a map in
    /// tests): every problem, or the configuration.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        let env = Env::new(&lookup);
        let clusters = ClustersConfig::read(&env);
        let sign_in = SignInConfig::read(&env);
        let token = TokenPathConfig::read(&env, &sign_in.groups_claim, sign_in.sync_on_refresh);
        let config = Config {
            clusters,
            sign_in,
            token,
            istio: IstioConfig::read(&env),
            offboarding: OffboardingConfig::read(&env),
            function_role: env.choice(
                FUNCTION_ROLE,
                &[
                    ("trigger", FunctionRole::Trigger),
                    ("sweep", FunctionRole::Sweep),
                ],
                DEFAULT_FUNCTION_ROLE,
            ),
            dry_run: env.flag(DRY_RUN, DEFAULT_DRY_RUN),
        };
        if let Some(everyone) = &config.token.everyone
            && let Some(reason) = name_refusal(&everyone.namespace, &config)
        {
            env.report(env::invalid(
                EVERYONE_NAMESPACE,
                &everyone.namespace,
                &format!("a namespace the function may bind, not this one: {reason}"),
            ));
        }
        match env.problems() {
            Some(problems) => Err(problems),
            None => Ok(config),
        }
    }
}

/// The configuration unit tests use: `vars` plus the two settings every configuration needs
/// (a cluster name and an allow-list), unless `vars` sets them.
#[cfg(test)]
pub(crate) fn try_test_config(vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
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
mod tests;
