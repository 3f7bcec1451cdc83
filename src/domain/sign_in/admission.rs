//! Which token events provision, for which person, and how far: a sign-in whose groups an
//! identity provider has just asserted may grant; any other may only take away. Pure.
//!
//! Cognito lets a signed-in user rewrite their own mutable attributes (`UpdateUserAttributes`
//! with the `aws.cognito.signin.user.admin` scope), custom ones included, and an attribute
//! mapped from a SAML IdP must be mutable; the IdP rewrites it only at its next sign-in. So the
//! groups attribute is the IdP's word only on a federated sign-in. A person is their Cognito
//! `sub`, which no one can change; the email is used only where Kubeflow needs it.

use crate::domain::config::SignInConfig;
use crate::domain::sign_in::event::{EmailProblem, TokenEvent, TriggerSource};
use crate::domain::sign_in::groups::parse_groups;

/// Who is signing in, as far as provisioning is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name after its domain (`rumesh`).
    pub user_name: String,
    /// A sign-in (the person authenticated just now), not a token refresh: only a sign-in is
    /// activity. A refresh does not ask the IdP again, so a leaver's refresh token would keep
    /// them looking active for its whole lifetime.
    pub signed_in: bool,
    /// The Cognito `sub`: the key of everything this function makes for the person.
    pub sub: String,
    /// The Kubeflow user id, exactly as this sign-in sent it.
    pub email: String,
    /// The groups' exact names (decoded only when configured), before the allow-list.
    pub groups: Vec<String>,
}

/// How far a sign-in may change the person's access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The groups were just asserted by the IdP (or `TRUST_STORED_GROUPS`): grant and revoke.
    Grant,
    /// The groups may have been written by the user: only remove access they no longer give.
    RevokeOnly,
}

/// Why an event provisions nothing (it is returned unchanged all the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    NotATokenEvent,
    MachineToMachine,
    RefreshNotSynchronised,
    NoUsableSub,
    Email(EmailProblem),
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::NotATokenEvent => f.write_str("not a Pre Token Generation event"),
            Skip::MachineToMachine => f.write_str("machine-to-machine token: no user"),
            Skip::RefreshNotSynchronised => f.write_str("token refresh and SYNC_ON_REFRESH=false"),
            Skip::NoUsableSub => f.write_str("the event has no usable sub attribute"),
            Skip::Email(problem) => problem.fmt(f),
        }
    }
}

/// Decides whether `event` provisions, for whom, and in which [`Mode`].
pub fn admit(event: &TokenEvent, config: &SignInConfig) -> Result<(Identity, Mode), Skip> {
    match event.trigger_source {
        TriggerSource::ClientCredentials => return Err(Skip::MachineToMachine),
        TriggerSource::RefreshTokens if !config.sync_on_refresh => {
            return Err(Skip::RefreshNotSynchronised);
        }
        _ => {}
    }
    let sub = event.sub().ok_or(Skip::NoUsableSub)?;
    let email = event.email().map_err(Skip::Email)?;
    let identity = Identity {
        user_name: event.short_user_name().to_owned(),
        signed_in: event.trigger_source != TriggerSource::RefreshTokens,
        sub: sub.to_owned(),
        email: email.to_owned(),
        groups: event
            .user_attributes
            .get(&config.groups_claim)
            .map(|claim| parse_groups(claim, config.decode_group_names))
            .unwrap_or_default(),
    };
    let mode = if event.is_federated_sign_in() || config.trust_stored_groups {
        Mode::Grant
    } else {
        Mode::RevokeOnly
    };
    Ok((identity, mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::test_config;
    use serde_json::json;

    const SUB: &str = "12ec26be-e8d1-482b-9602-e402c7896cb3";

    fn event(source: &str, federated: bool, attributes: serde_json::Value) -> TokenEvent {
        let mut all =
            json!({"sub": SUB, "email": "rumesh@corp.example", "custom:groups": "[A, b]"});
        if federated {
            all["identities"] = json!(r#"[{"providerName":"ADFS","providerType":"SAML"}]"#);
        }
        for (key, value) in attributes.as_object().into_iter().flatten() {
            all[key] = value.clone();
        }
        let raw = json!({"triggerSource": source, "userName": "adfs_ad\\rumesh",
                         "request": {"userAttributes": all}});
        TokenEvent::parse(&raw.to_string()).unwrap()
    }

    #[test]
    fn only_a_federated_sign_in_grants_unless_stored_groups_are_trusted() {
        let default = test_config(&[]);
        let trusting = test_config(&[("TRUST_STORED_GROUPS", "true")]);
        let cases = [
            ("TokenGeneration_HostedAuth", true, Mode::Grant, Mode::Grant),
            (
                "TokenGeneration_HostedAuth",
                false,
                Mode::RevokeOnly,
                Mode::Grant,
            ),
            (
                "TokenGeneration_RefreshTokens",
                true,
                Mode::RevokeOnly,
                Mode::Grant,
            ),
            (
                "TokenGeneration_Authentication",
                false,
                Mode::RevokeOnly,
                Mode::Grant,
            ),
            (
                "TokenGeneration_NewPasswordChallenge",
                false,
                Mode::RevokeOnly,
                Mode::Grant,
            ),
            (
                "TokenGeneration_AuthenticateDevice",
                true,
                Mode::RevokeOnly,
                Mode::Grant,
            ),
            (
                "TokenGeneration_SomethingNew",
                true,
                Mode::RevokeOnly,
                Mode::Grant,
            ),
        ];
        for (source, federated, by_default, when_trusted) in cases {
            let event = event(source, federated, json!({}));
            assert_eq!(
                admit(&event, &default.sign_in).unwrap().1,
                by_default,
                "{source}"
            );
            assert_eq!(
                admit(&event, &trusting.sign_in).unwrap().1,
                when_trusted,
                "{source}"
            );
        }
    }

    #[test]
    fn the_person_is_the_sub_and_the_email_is_kept_as_sent() {
        let (identity, _) = admit(
            &event(
                "TokenGeneration_HostedAuth",
                true,
                json!({"email": "Rumesh@Corp.example"}),
            ),
            &test_config(&[]).sign_in,
        )
        .unwrap();
        assert_eq!(
            identity,
            Identity {
                user_name: "rumesh".into(),
                signed_in: true,
                sub: SUB.into(),
                email: "Rumesh@Corp.example".into(),
                groups: vec!["A".into(), "b".into()],
            }
        );
    }

    #[test]
    fn events_without_a_person_or_a_safe_email_provision_nothing() {
        let config = test_config(&[("SYNC_ON_REFRESH", "false")]);
        let cases = [
            (
                "TokenGeneration_ClientCredentials",
                json!({}),
                Skip::MachineToMachine,
            ),
            (
                "TokenGeneration_RefreshTokens",
                json!({}),
                Skip::RefreshNotSynchronised,
            ),
            (
                "TokenGeneration_HostedAuth",
                json!({"sub": ""}),
                Skip::NoUsableSub,
            ),
            (
                "TokenGeneration_HostedAuth",
                json!({"sub": "a/b"}),
                Skip::NoUsableSub,
            ),
            (
                "TokenGeneration_HostedAuth",
                json!({"email": "*@corp.example"}),
                Skip::Email(EmailProblem::SpecialCharacter('*')),
            ),
            (
                "TokenGeneration_HostedAuth",
                json!({"email": "rumesh"}),
                Skip::Email(EmailProblem::NotAnAddress),
            ),
        ];
        for (source, attributes, skip) in cases {
            let event = event(source, true, attributes.clone());
            assert_eq!(
                admit(&event, &config.sign_in),
                Err(skip),
                "{source} {attributes}"
            );
        }
    }

    #[test]
    fn group_names_are_decoded_only_when_configured() {
        let event = event(
            "TokenGeneration_HostedAuth",
            true,
            json!({"custom:groups": "[Data+Science, %52IDY-x]"}),
        );
        let (plain, _) = admit(&event, &test_config(&[]).sign_in).unwrap();
        assert_eq!(plain.groups, ["Data+Science", "%52IDY-x"]);
        let (decoded, _) = admit(
            &event,
            &test_config(&[("DECODE_GROUP_NAMES", "true")]).sign_in,
        )
        .unwrap();
        assert_eq!(decoded.groups, ["Data Science", "RIDY-x"]);
    }
}
