//! What the function decides in Cognito's token path besides namespaces: who may sign in at all
//! (`SIGN_IN_GATE`), whether people get a personal Profile (`PERSONAL_PROFILES`), one namespace
//! everyone joins (`EVERYONE_NAMESPACE`), and the vetted groups in the tokens (`TOKEN_GROUPS`).
//! Every one is off by default: the event then goes back unchanged, as before. Pure.

use super::env::{ConfigError, Env, invalid};
use super::sign_in::Role;
use crate::domain::model::names::is_dns_label;

/// Refuse a federated sign-in whose groups admit no namespace.
pub const SIGN_IN_GATE: &str = "SIGN_IN_GATE";
/// What Cognito shows the person the gate refuses.
pub const SIGN_IN_GATE_MESSAGE: &str = "SIGN_IN_GATE_MESSAGE";
pub const DEFAULT_SIGN_IN_GATE_MESSAGE: &str = "You are in no group that gives access to Kubeflow. Ask your Kubeflow administrator, or your IT service desk, to add you to your team's group.";
/// The longest gate message: Cognito shows it in one line, inside its own words ("... failed
/// with error <message>.").
const MAX_GATE_MESSAGE: usize = 300;
/// Make each person's own Profile (as Kubeflow's registration flow would).
pub const PERSONAL_PROFILES: &str = "PERSONAL_PROFILES";
/// One namespace every person of the allow-list joins; none by default.
pub const EVERYONE_NAMESPACE: &str = "EVERYONE_NAMESPACE";
/// The role they have there: `view` (the default) or `edit`.
pub const EVERYONE_ROLE: &str = "EVERYONE_ROLE";
/// Put the vetted groups in the tokens: `off` (default), `groups` or `namespaces`.
pub const TOKEN_GROUPS: &str = "TOKEN_GROUPS";
/// The claims that carry them: `cognito:groups` (the group override, the default) and/or named
/// claims.
pub const TOKEN_GROUPS_CLAIMS: &str = "TOKEN_GROUPS_CLAIMS";
/// Also in the access token (V2 and V3 events; V1 events change the ID token only).
pub const TOKEN_GROUPS_IN_ACCESS_TOKEN: &str = "TOKEN_GROUPS_IN_ACCESS_TOKEN";
/// Suppress the raw groups attribute (`GROUPS_CLAIM`) from the ID token.
pub const SUPPRESS_GROUPS_ATTRIBUTE: &str = "SUPPRESS_GROUPS_ATTRIBUTE";

/// The group override's claim.
pub const COGNITO_GROUPS: &str = "cognito:groups";

/// The claims a trigger may not add, change or suppress (awsdocs/amazon-cognito-developer-guide,
/// `doc_source/user-pool-lambda-pre-token-generation.md`, "You can't modify the following
/// claims"; cognito-local 5.3.0 `lib/services/tokenGenerator.js` `RESERVED_CLAIMS`, the same),
/// the access token's own (`client_id`, `scope`, `username`, `version`, `event_id`), and the
/// standard claims a list cannot replace or Kubeflow reads (`email`, `email_verified`,
/// `phone_number`, `phone_number_verified`, `address`, `updated_at`).
const RESERVED_CLAIMS: [&str; 29] = [
    "acr",
    "amr",
    "aud",
    "at_hash",
    "auth_time",
    "azp",
    "c_hash",
    "cognito:username",
    "exp",
    "iat",
    "identities",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "origin_jti",
    "sub",
    "token_use",
    "client_id",
    "scope",
    "username",
    "event_id",
    "version",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

/// The token path's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenPathConfig {
    /// `Some(message)`: refuse a federated sign-in whose groups admit no namespace.
    pub gate: Option<String>,
    pub personal_profiles: bool,
    pub everyone: Option<Everyone>,
    pub token_groups: Option<TokenGroups>,
}

/// The namespace everyone joins, and with which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Everyone {
    pub namespace: String,
    pub role: Role,
}

/// What the tokens carry of a person's groups, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGroups {
    pub values: TokenGroupValues,
    /// `cognito:groups` and/or named claims, in the order given.
    pub claims: Vec<String>,
    pub in_access_token: bool,
    /// The raw groups attribute, suppressed from the ID token.
    pub suppress_attribute: Option<String>,
}

/// Which names the claim holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenGroupValues {
    /// The AD groups that gave the person a namespace, exactly as the IdP sent them.
    Groups,
    /// The namespaces the person has access to.
    Namespaces,
}

impl TokenPathConfig {
    pub(super) fn read(env: &Env, groups_claim: &str, sync_on_refresh: bool) -> Self {
        let gate = env.flag(SIGN_IN_GATE, false).then(|| {
            env.parse(
                SIGN_IN_GATE_MESSAGE,
                DEFAULT_SIGN_IN_GATE_MESSAGE.to_owned(),
                parse_gate_message,
            )
        });
        let everyone = env
            .parse(EVERYONE_NAMESPACE, None, |name| {
                is_dns_label(name).then(|| Some(name.to_owned())).ok_or_else(|| {
                    "a namespace name: lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit".into()
                })
            })
            .map(|namespace| Everyone {
                namespace,
                role: env.choice(
                    EVERYONE_ROLE,
                    &[("view", Role::View), ("edit", Role::Edit)],
                    Role::View,
                ),
            });
        TokenPathConfig {
            gate,
            personal_profiles: env.flag(PERSONAL_PROFILES, true),
            everyone,
            token_groups: read_token_groups(env, groups_claim, sync_on_refresh),
        }
    }
}

/// A message Cognito can show: one line of readable text.
fn parse_gate_message(text: &str) -> Result<String, String> {
    (text.chars().count() <= MAX_GATE_MESSAGE && !text.chars().any(char::is_control))
        .then(|| text.to_owned())
        .ok_or_else(|| {
            format!(
                "one line of text, at most {MAX_GATE_MESSAGE} characters, for the person refused"
            )
        })
}

fn read_token_groups(env: &Env, groups_claim: &str, sync_on_refresh: bool) -> Option<TokenGroups> {
    let values = env.choice(
        TOKEN_GROUPS,
        &[
            ("off", None),
            ("groups", Some(TokenGroupValues::Groups)),
            ("namespaces", Some(TokenGroupValues::Namespaces)),
        ],
        None,
    );
    let Some(values) = values else {
        if env.flag(SUPPRESS_GROUPS_ATTRIBUTE, false) {
            env.report(invalid(
                SUPPRESS_GROUPS_ATTRIBUTE,
                "true",
                "false while TOKEN_GROUPS=off (the event goes back unchanged)",
            ));
        }
        return None;
    };
    let claims = env.parse(
        TOKEN_GROUPS_CLAIMS,
        vec![COGNITO_GROUPS.to_owned()],
        parse_claims,
    );
    let suppress = env.flag(SUPPRESS_GROUPS_ATTRIBUTE, false);
    if suppress && claims.iter().any(|c| c == groups_claim) {
        env.report(invalid(
            SUPPRESS_GROUPS_ATTRIBUTE,
            "true",
            &format!("false while TOKEN_GROUPS_CLAIMS names {groups_claim} (Cognito suppresses a claim both suppressed and overridden)"),
        ));
    }
    if !sync_on_refresh {
        // A refreshed token is vetted by what the person still holds, read at the refresh.
        env.report(ConfigError::Invalid {
            variable: TOKEN_GROUPS,
            value: env.value(TOKEN_GROUPS).unwrap_or_default(),
            expected: "off while SYNC_ON_REFRESH=false: a refreshed token's groups are vetted at the refresh".into(),
        });
    }
    Some(TokenGroups {
        values,
        claims,
        in_access_token: env.flag(TOKEN_GROUPS_IN_ACCESS_TOKEN, false),
        suppress_attribute: suppress.then(|| groups_claim.to_owned()),
    })
}

/// Comma-separated claim names Cognito lets a trigger write: not one of its own, no other
/// `cognito:` claim than the group override, no space, quote or control character.
fn parse_claims(text: &str) -> Result<Vec<String>, String> {
    let claims: Vec<String> = text
        .split(',')
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let writable = |claim: &String| {
        claim.len() <= 128
            && !RESERVED_CLAIMS.contains(&claim.as_str())
            && (claim == COGNITO_GROUPS || !claim.starts_with("cognito:"))
            && !claim
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
    };
    if claims.is_empty() || !claims.iter().all(writable) {
        return Err("comma-separated claim names a trigger may write: cognito:groups (the group override) and/or your own (kubeflow-groups), none of the claims Cognito writes itself (sub, iss, aud, exp, cognito:username, ...)".into());
    }
    Ok(claims)
}
