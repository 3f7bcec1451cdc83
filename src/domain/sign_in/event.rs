//! A read-only view of a Cognito Pre Token Generation event (versions 0 to 3). Pure: the
//! handler returns the raw event it received, untouched.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::domain::model::names::is_label_value;

/// What Cognito is issuing tokens for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerSource {
    HostedAuth,
    Authentication,
    NewPasswordChallenge,
    AuthenticateDevice,
    RefreshTokens,
    /// Machine-to-machine (V3): no user.
    ClientCredentials,
    Other(String),
}

impl TriggerSource {
    fn parse(name: &str) -> Self {
        match name {
            "TokenGeneration_HostedAuth" => Self::HostedAuth,
            "TokenGeneration_Authentication" => Self::Authentication,
            "TokenGeneration_NewPasswordChallenge" => Self::NewPasswordChallenge,
            "TokenGeneration_AuthenticateDevice" => Self::AuthenticateDevice,
            "TokenGeneration_RefreshTokens" => Self::RefreshTokens,
            "TokenGeneration_ClientCredentials" => Self::ClientCredentials,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The fields of the event this function uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEvent {
    pub trigger_source: TriggerSource,
    /// `userName` as Cognito sends it (`adfs_ad\rumesh`); empty when absent.
    pub user_name: String,
    /// Every string-valued user attribute.
    pub user_attributes: HashMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("the event is not a Cognito Pre Token Generation event: {0}")]
pub struct EventError(#[from] serde_json::Error);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(default)]
    trigger_source: Option<String>,
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    request: Option<WireRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest {
    #[serde(default)]
    user_attributes: Option<HashMap<String, Value>>,
}

impl TokenEvent {
    /// Reads the fields this function needs; unknown fields and versions are fine.
    pub fn parse(raw: &str) -> Result<Self, EventError> {
        let wire: Wire = serde_json::from_str(raw)?;
        let user_attributes = wire
            .request
            .and_then(|r| r.user_attributes)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                _ => None,
            })
            .collect();
        Ok(TokenEvent {
            trigger_source: TriggerSource::parse(wire.trigger_source.as_deref().unwrap_or("")),
            user_name: wire.user_name.unwrap_or_default(),
            user_attributes,
        })
    }

    /// `userName` after its last backslash (`adfs_ad\rumesh` -> `rumesh`).
    pub fn short_user_name(&self) -> &str {
        self.user_name
            .rsplit('\\')
            .next()
            .unwrap_or(&self.user_name)
    }

    /// The user's Cognito `sub` (immutable, unique in the user pool), when it can serve as a
    /// label value: 1 to 63 ASCII letters, digits, `-`, `_` or `.`, alphanumeric at both ends.
    pub fn sub(&self) -> Option<&str> {
        self.user_attributes
            .get("sub")
            .map(String::as_str)
            .filter(|sub| !sub.is_empty() && is_label_value(sub))
    }

    /// True when an identity provider has just asserted the user's attributes: a hosted
    /// (federated) sign-in of a user who carries the `identities` attribute, which Cognito
    /// maintains and users cannot write. Only then are the stored attributes fresh from the IdP.
    pub fn is_federated_sign_in(&self) -> bool {
        self.trigger_source == TriggerSource::HostedAuth
            && self
                .user_attributes
                .get("identities")
                .and_then(|identities| serde_json::from_str::<Vec<Value>>(identities).ok())
                .is_some_and(|identities| !identities.is_empty())
    }

    /// The Kubeflow user id: the `email` attribute, exactly as sent, when it is safe to use as a
    /// Kubernetes subject, an annotation value and an Istio header match.
    pub fn email(&self) -> Result<&str, EmailProblem> {
        let email = self
            .user_attributes
            .get("email")
            .ok_or(EmailProblem::Missing)?;
        check_email(email).map(|()| email.as_str())
    }
}

/// Why an `email` attribute cannot be a Kubeflow user id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailProblem {
    #[error("the event has no email attribute")]
    Missing,
    #[error("the email attribute is not of the form local@domain (at most 254 characters)")]
    NotAnAddress,
    #[error(
        "the email attribute holds {0:?}, which Istio or Kubernetes treat specially (a wildcard, a list separator, white space, a quote or a control character)"
    )]
    SpecialCharacter(char),
}

/// Refuses what would make the email mean more than one person: Istio treats a leading or
/// trailing `*` in a header match as a wildcard; a comma separates values of one header; white
/// space, quotes, backslashes and control characters have no place in a user id.
fn check_email(email: &str) -> Result<(), EmailProblem> {
    if let Some(special) = email
        .chars()
        .find(|&c| c.is_control() || c.is_whitespace() || matches!(c, '*' | ',' | '"' | '\\'))
    {
        return Err(EmailProblem::SpecialCharacter(special));
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && email.len() <= 254 =>
        {
            Ok(())
        }
        _ => Err(EmailProblem::NotAnAddress),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED_V1: &str = include_str!("../../../events/v1-adfs-hosted-auth.json");

    #[test]
    fn the_captured_adfs_event_gives_user_email_and_groups() {
        let event = TokenEvent::parse(CAPTURED_V1).unwrap();
        assert_eq!(event.trigger_source, TriggerSource::HostedAuth);
        assert_eq!(event.user_name, "adfs_ad\\rumesh");
        assert_eq!(event.short_user_name(), "rumesh");
        assert_eq!(event.email(), Ok("rumesh@corp.example"));
        assert_eq!(event.sub(), Some("12ec26be-e8d1-482b-9602-e402c7896cb3"));
        assert!(event.is_federated_sign_in());
        assert_eq!(
            crate::domain::sign_in::groups::parse_groups(
                &event.user_attributes["custom:groups"],
                false
            ),
            ["RIDY-RUMESH", "RIDY-JOSE", "RUMESH"]
        );
    }

    #[test]
    fn only_a_hosted_sign_in_with_identities_is_an_idp_assertion() {
        let identities = serde_json::json!([{"userId": "AD\\rumesh", "providerName": "ADFS",
                                             "providerType": "SAML", "primary": true}])
        .to_string();
        let event = |source: &str, identities: Option<&str>| {
            let mut attributes = serde_json::json!({"email": "a@b.c", "sub": "s-1"});
            if let Some(identities) = identities {
                attributes["identities"] = identities.into();
            }
            let raw = serde_json::json!({"triggerSource": source, "request": {"userAttributes": attributes}});
            TokenEvent::parse(&raw.to_string()).unwrap()
        };
        let cases = [
            (
                "TokenGeneration_HostedAuth",
                Some(identities.as_str()),
                true,
            ),
            ("TokenGeneration_HostedAuth", None, false),
            ("TokenGeneration_HostedAuth", Some("[]"), false),
            ("TokenGeneration_HostedAuth", Some("not json"), false),
            (
                "TokenGeneration_RefreshTokens",
                Some(identities.as_str()),
                false,
            ),
            (
                "TokenGeneration_Authentication",
                Some(identities.as_str()),
                false,
            ),
            ("TokenGeneration_Authentication", None, false),
            ("TokenGeneration_NewPasswordChallenge", None, false),
            ("TokenGeneration_Future", Some(identities.as_str()), false),
        ];
        for (source, identities, federated) in cases {
            assert_eq!(
                event(source, identities).is_federated_sign_in(),
                federated,
                "{source} {identities:?}"
            );
        }
    }

    #[test]
    fn a_sub_is_used_only_when_it_is_a_label_value() {
        for (sub, usable) in [
            ("12ec26be-e8d1-482b-9602-e402c7896cb3", true),
            ("local_user.1", true),
            ("", false),
            ("-x", false),
            ("a/b", false),
            (&*"a".repeat(64), false),
        ] {
            let raw = serde_json::json!({"request": {"userAttributes": {"sub": sub}}});
            let event = TokenEvent::parse(&raw.to_string()).unwrap();
            assert_eq!(event.sub().is_some(), usable, "{sub:?}");
        }
    }

    #[test]
    fn every_version_and_trigger_source_parses() {
        let cases = [
            (
                "0",
                "TokenGeneration_Authentication",
                TriggerSource::Authentication,
            ),
            (
                "1",
                "TokenGeneration_NewPasswordChallenge",
                TriggerSource::NewPasswordChallenge,
            ),
            (
                "2",
                "TokenGeneration_AuthenticateDevice",
                TriggerSource::AuthenticateDevice,
            ),
            (
                "3",
                "TokenGeneration_RefreshTokens",
                TriggerSource::RefreshTokens,
            ),
            (
                "3",
                "TokenGeneration_ClientCredentials",
                TriggerSource::ClientCredentials,
            ),
            (
                "4",
                "TokenGeneration_Future",
                TriggerSource::Other("TokenGeneration_Future".into()),
            ),
        ];
        for (version, source, expected) in cases {
            let raw = format!(
                r#"{{"version":"{version}","triggerSource":"{source}","userName":"u","newTopLevel":{{"x":1}},
                   "request":{{"userAttributes":{{"email":"u@example.com","n":1}},"scopes":["openid"]}},
                   "response":{{"claimsAndScopeOverrideDetails":null}}}}"#
            );
            let event = TokenEvent::parse(&raw).unwrap();
            assert_eq!(event.trigger_source, expected);
            assert_eq!(event.email(), Ok("u@example.com"));
            assert!(!event.user_attributes.contains_key("n"));
        }
    }

    #[test]
    fn a_client_credentials_event_has_no_user() {
        let raw = r#"{"version":"3","triggerSource":"TokenGeneration_ClientCredentials","region":"us-east-1",
            "userPoolId":"us-east-1_x","userName":null,"callerContext":{"clientId":"c"},
            "request":{"userAttributes":null,"scopes":["api/read"]},"response":{"claimsAndScopeOverrideDetails":null}}"#;
        let event = TokenEvent::parse(raw).unwrap();
        assert_eq!(event.trigger_source, TriggerSource::ClientCredentials);
        assert_eq!(event.user_name, "");
        assert_eq!(event.email(), Err(EmailProblem::Missing));
    }

    #[test]
    fn emails_that_could_stand_for_someone_else_are_refused() {
        use EmailProblem::*;
        let cases: &[(&str, Result<(), EmailProblem>)] = &[
            ("rumesh@corp.example", Ok(())),
            ("Mallory.ONeil+ml@corp.example", Ok(())),
            ("o'neil@corp.example", Ok(())),
            ("", Err(NotAnAddress)),
            ("rumesh", Err(NotAnAddress)),
            ("@corp.example", Err(NotAnAddress)),
            ("a@", Err(NotAnAddress)),
            ("a@b@c", Err(NotAnAddress)),
            ("*@corp.example", Err(SpecialCharacter('*'))),
            ("rumesh@corp.*", Err(SpecialCharacter('*'))),
            ("a@b.c,eve@corp.example", Err(SpecialCharacter(','))),
            ("a b@c.d", Err(SpecialCharacter(' '))),
            ("a@b\nc", Err(SpecialCharacter('\n'))),
            ("a\u{7}@b", Err(SpecialCharacter('\u{7}'))),
            ("\"a\"@b.c", Err(SpecialCharacter('"'))),
            (" a@b.c", Err(SpecialCharacter(' '))),
        ];
        for (email, expected) in cases {
            let raw = serde_json::json!({"request": {"userAttributes": {"email": email}}});
            let event = TokenEvent::parse(&raw.to_string()).unwrap();
            assert_eq!(event.email().map(drop), *expected, "{email:?}");
        }
        assert_eq!(TokenEvent::parse("{}").unwrap().email(), Err(Missing));
        let long = format!("{}@corp.example", "a".repeat(250));
        let raw = serde_json::json!({"request": {"userAttributes": {"email": long}}});
        assert_eq!(
            TokenEvent::parse(&raw.to_string()).unwrap().email(),
            Err(NotAnAddress)
        );
    }

    #[test]
    fn user_names_without_a_domain_are_kept_whole() {
        let event = TokenEvent::parse(r#"{"userName":"jose"}"#).unwrap();
        assert_eq!(event.short_user_name(), "jose");
        let event = TokenEvent::parse(r#"{"userName":"adfs_a\\b\\c"}"#).unwrap();
        assert_eq!(event.short_user_name(), "c");
    }

    #[test]
    fn json_that_is_not_an_object_is_an_error() {
        assert!(TokenEvent::parse("[1,2]").is_err());
        assert!(TokenEvent::parse("\"x\"").is_err());
        assert!(TokenEvent::parse(r#"{"request":"x"}"#).is_err());
    }
}
