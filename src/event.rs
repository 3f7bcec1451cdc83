//! A read-only view of a Cognito Pre Token Generation event (versions 0 to 3), and the groups
//! claim parser. Pure: the handler returns the raw event it received, untouched.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

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

    /// The Kubeflow user id: the `email` attribute, when it looks like one.
    pub fn email(&self) -> Option<&str> {
        self.user_attributes
            .get("email")
            .map(|e| e.trim())
            .filter(|e| is_plausible_email(e))
    }
}

/// An email usable as a Kubeflow user id and in annotation values and header matches.
fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && email.len() <= 200
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Parses a groups claim: `[A, B]`, `A, B`, a bare `A`, or a JSON array string `["A","B"]`.
/// Each value is trimmed, URL-form-decoded, lowercased; empties are dropped, duplicates removed,
/// first occurrence order kept.
pub fn parse_groups(claim: &str) -> Vec<String> {
    let claim = claim.trim();
    let values: Vec<String> = match serde_json::from_str::<Vec<Value>>(claim) {
        Ok(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        Err(_) => {
            let inner = claim
                .strip_prefix('[')
                .and_then(|c| c.strip_suffix(']'))
                .unwrap_or(claim);
            inner.split(',').map(str::to_owned).collect()
        }
    };
    let mut groups: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let group = form_decode(value.trim()).trim().to_lowercase();
        if !group.is_empty() && !groups.contains(&group) {
            groups.push(group);
        }
    }
    groups
}

/// `application/x-www-form-urlencoded` value decoding: `+` is a space, `%XX` a byte. A `%` not
/// followed by two hex digits stays as it is; invalid UTF-8 becomes U+FFFD.
fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).and_then(|p| hex_pair(p[0], p[1])) {
                Some(decoded) => {
                    out.push(decoded);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_claims_in_every_form_parse_alike() {
        let cases: &[(&str, &[&str])] = &[
            (
                "[RIDY-RUMESH, RIDY-JOSE, RUMESH]",
                &["ridy-rumesh", "ridy-jose", "rumesh"],
            ),
            ("RIDY-RUMESH, RIDY-JOSE", &["ridy-rumesh", "ridy-jose"]),
            ("RIDY-RUMESH", &["ridy-rumesh"]),
            ("[RIDY-RUMESH]", &["ridy-rumesh"]),
            (
                r#"["RIDY-RUMESH","RIDY-JOSE"]"#,
                &["ridy-rumesh", "ridy-jose"],
            ),
            (r#"["Data Science", 7, "ops"]"#, &["data science", "ops"]),
            ("[Data+Science, R%26D%2C+EU]", &["data science", "r&d, eu"]),
            ("[ A , , a, B,b ]", &["a", "b"]),
            ("100%, 5%zz, %4", &["100%", "5%zz", "%4"]),
            ("%C3%89quipe", &["équipe"]),
            ("%FF", &["\u{fffd}"]),
            ("", &[]),
            ("[]", &[]),
            ("[ , ]", &[]),
        ];
        for (claim, expected) in cases {
            assert_eq!(parse_groups(claim), *expected, "claim {claim:?}");
        }
    }

    const CAPTURED_V1: &str = include_str!("../events/v1-adfs-hosted-auth.json");

    #[test]
    fn the_captured_adfs_event_gives_user_email_and_groups() {
        let event = TokenEvent::parse(CAPTURED_V1).unwrap();
        assert_eq!(event.trigger_source, TriggerSource::HostedAuth);
        assert_eq!(event.user_name, "adfs_ad\\rumesh");
        assert_eq!(event.short_user_name(), "rumesh");
        assert_eq!(event.email(), Some("rumesh@corp.example"));
        assert_eq!(
            parse_groups(&event.user_attributes["custom:groups"]),
            ["ridy-rumesh", "ridy-jose", "rumesh"]
        );
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
            assert_eq!(event.email(), Some("u@example.com"));
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
        assert_eq!(event.email(), None);
    }

    #[test]
    fn emails_that_cannot_be_user_ids_are_ignored() {
        for email in [
            "",
            "rumesh",
            "@corp.example",
            "a@",
            "a b@c.d",
            "a@b\nc",
            "a\u{7}@b",
        ] {
            let raw = serde_json::json!({"request": {"userAttributes": {"email": email}}});
            let event = TokenEvent::parse(&raw.to_string()).unwrap();
            assert_eq!(event.email(), None, "{email:?}");
        }
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
