//! The sign-in's say on the token itself: the gate (a federated sign-in whose groups admit no
//! namespace is refused), and the vetted groups written into the tokens as Cognito's response
//! schema has them. Pure.
//!
//! Response shapes: a `V1_0` event (Cognito's `"version": "1"`, cognito-local's `"0"`) answers
//! in `response.claimsOverrideDetails` (`claimsToAddOrOverride`, string values only;
//! `claimsToSuppress`; `groupOverrideDetails`), which changes the ID token, and the group
//! override both tokens' `cognito:groups`. A `V2_0` or `V3_0` event answers in
//! `response.claimsAndScopeOverrideDetails` (`idTokenGeneration` and `accessTokenGeneration`,
//! each with `claimsToAddOrOverride`, whose values may be lists: the guide's *Event versions*,
//! "complex data types ... arrays", except in `phone_number_verified`, `email_verified`,
//! `updated_at` and `address` of the ID token; and `claimsToSuppress`; and
//! `groupOverrideDetails`). Cognito replaces the groups with the `groupOverrideDetails` a
//! response gives, and drops them for an empty one: a response that does not override them
//! copies the request's `groupConfiguration` (Amazon Cognito Developer Guide, *Pre token
//! generation Lambda trigger*, "groupOverrideDetails"; the field names as aws-lambda-go
//! `events/cognito.go` (`CognitoEventUserPoolsPreTokenGenV2_0`) and the `aws_lambda_events`
//! crate (`event/cognito`, `ClaimsAndScopeOverrideDetailsV2`) model them).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::domain::config::{COGNITO_GROUPS, Config, TokenGroupValues, TokenGroups};
use crate::domain::sign_in::admission::{Identity, Mode};
use crate::domain::sign_in::conventions::Conventions;
use crate::domain::sign_in::desired::{EVERYONE_GROUP, desired_state};

/// True when the gate refuses `identity`'s sign-in: the gate is on, the IdP has just asserted
/// the groups (a federated sign-in, not a refresh), and none of them admits a namespace (the
/// allow-list, then the names the function may bind; the everyone namespace is no group's).
pub fn gated(identity: &Identity, mode: Mode, config: &Config) -> bool {
    if config.token.gate.is_none() || mode != Mode::Grant || !identity.signed_in {
        return false;
    }
    // A group admits a namespace stripped of a role suffix or, as a Profile may record it,
    // whole (`DATA-ADMIN`, a team's own name): either is enough.
    let stripped = Conventions::defaults(Vec::new());
    let mut whole = stripped.clone();
    whole.recorded_teams = identity
        .groups
        .iter()
        .map(|g| g.to_ascii_lowercase())
        .collect();
    let admits = |conventions: &Conventions| {
        desired_state(identity, mode, config, conventions)
            .groups
            .iter()
            .any(|g| g.group != EVERYONE_GROUP)
    };
    !admits(&stripped) && !admits(&whole)
}

/// The names the tokens carry: the namespaces `granted` (what the person has access to after
/// this sign-in, the everyone namespace among them), or the teams those namespaces are, by the
/// AD group name each stands for (without a role suffix), in the claim's order. A name is
/// vetted by access actually held and by the rules that grant it (the allow-list, one
/// namespace per group, no admin unless allowed), never by the groups attribute alone, which
/// the person may have rewritten: a group the sign-in refuses is never in it.
pub fn vetted(
    settings: &TokenGroups,
    identity: &Identity,
    config: &Config,
    granted: &BTreeSet<String>,
) -> Vec<String> {
    match settings.values {
        TokenGroupValues::Namespaces => granted.iter().cloned().collect(),
        TokenGroupValues::Groups => {
            let desired = desired_state(
                identity,
                Mode::Grant,
                config,
                &Conventions::defaults(Vec::new()),
            );
            desired
                .groups
                .into_iter()
                .filter(|g| g.group != EVERYONE_GROUP && granted.contains(&g.namespace))
                .map(|g| g.group)
                .collect()
        }
    }
}

/// `raw_event` with its response carrying `values` as `settings` says; an error when it is no
/// JSON object.
pub fn with_token_groups(
    raw_event: &str,
    settings: &TokenGroups,
    values: &[String],
) -> Result<String, serde_json::Error> {
    let mut event: Value = serde_json::from_str(raw_event)?;
    let version_one = matches!(
        event.get("version").and_then(Value::as_str),
        Some("0" | "1")
    ) || event.get("version").is_none();
    let groups = group_override(&event, settings, values);
    let named: Vec<&String> = settings
        .claims
        .iter()
        .filter(|c| *c != COGNITO_GROUPS)
        .collect();
    let suppress: Vec<&String> = settings.suppress_attribute.iter().collect();
    let response = if version_one {
        // V1 claims are strings: the names joined by commas.
        let claims: Map<String, Value> = named
            .iter()
            .map(|c| ((*c).clone(), json!(values.join(","))))
            .collect();
        json!({"claimsOverrideDetails": {
            "claimsToAddOrOverride": claims,
            "claimsToSuppress": suppress,
            "groupOverrideDetails": groups,
        }})
    } else {
        let claims: Map<String, Value> = named
            .iter()
            .map(|c| ((*c).clone(), json!(values)))
            .collect();
        let mut details = json!({
            "idTokenGeneration": {"claimsToAddOrOverride": claims, "claimsToSuppress": suppress},
            "groupOverrideDetails": groups,
        });
        if settings.in_access_token {
            details["accessTokenGeneration"] = json!({"claimsToAddOrOverride": claims});
        }
        json!({"claimsAndScopeOverrideDetails": details})
    };
    if let Some(object) = event.as_object_mut() {
        object.insert("response".to_owned(), response);
    }
    serde_json::to_string(&event)
}

/// The `groupOverrideDetails` of the response: the vetted names as `cognito:groups` when asked,
/// else the request's own group configuration, unchanged.
fn group_override(event: &Value, settings: &TokenGroups, values: &[String]) -> Value {
    let requested = event
        .pointer("/request/groupConfiguration")
        .cloned()
        .unwrap_or(Value::Null);
    if !settings.claims.iter().any(|c| c == COGNITO_GROUPS) {
        return requested;
    }
    let mut groups = match requested {
        Value::Object(fields) => Value::Object(fields),
        _ => json!({}),
    };
    groups["groupsToOverride"] = json!(values);
    groups
}

#[cfg(test)]
mod tests;
