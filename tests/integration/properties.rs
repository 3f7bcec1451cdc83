//! Property tests: untrusted input never panics the parser, and every name produced is a valid,
//! stable, non-colliding, never-protected namespace name.

use proptest::prelude::*;
use serde_json::Value;

use kubeflow_profile_manager::domain::config::Config;
use kubeflow_profile_manager::domain::model::names::{dns_label, is_dns_label};
use kubeflow_profile_manager::domain::model::objects::Kind;
use kubeflow_profile_manager::domain::model::protected::SYSTEM_NAMESPACES;
use kubeflow_profile_manager::domain::sign_in::admission::{Identity, Mode};
use kubeflow_profile_manager::domain::sign_in::conventions::Conventions;
use kubeflow_profile_manager::domain::sign_in::desired::desired_state;
use kubeflow_profile_manager::domain::sign_in::event::TokenEvent;
use kubeflow_profile_manager::domain::sign_in::groups::parse_groups;

/// Names from a small alphabet, so that near-collisions (case, separators, accents) are common.
fn group_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-cA-C0-9 _.,+%-]{0,80}",
        "[a-zA-Zé数 \\-_]{0,12}",
        // Look-alikes under Unicode case mapping: the Kelvin sign, long s, dotted and dotless i.
        "[kKsSiI\u{212A}\u{17F}\u{130}\u{131}\u{a0} _-]{1,10}",
        any::<String>(),
        prop::sample::select(vec![
            "kube-system",
            "KUBE-SYSTEM",
            "kube_public",
            " Kube.Node.Lease ",
            "Default",
            "kubeflow",
            "ISTIO_SYSTEM",
            "auth",
            "cert-manager",
            "Knative Serving",
            "knative-eventing",
            "oauth2_proxy",
            "kube-anything",
            "profile-jose",
            "Profile_Admin",
            "monitoring",
        ])
        .prop_map(str::to_owned),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        group_name().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "version",
                    "triggerSource",
                    "userName",
                    "request",
                    "userAttributes",
                    "email",
                    "custom:groups",
                    "scopes",
                    "response",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The ASCII letter-and-digit runs of a name, ASCII letters lowercased: what a namespace name
/// keeps of it.
fn runs(name: &str) -> Vec<String> {
    name.to_ascii_lowercase()
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

fn config() -> Config {
    Config::from_pairs(&[
        ("CLUSTER_NAME", "kf"),
        ("ALLOW_ALL_GROUPS", "true"),
        ("PROTECTED_NAMESPACES", "monitoring"),
    ])
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_groups_claim_parses_into_clean_distinct_groups(
        claim in prop_oneof![any::<String>(), "[\\[\\], a-zA-Z%+2C\"\u{212A}]{0,60}"],
        decode in any::<bool>(),
    ) {
        let groups = parse_groups(&claim, decode);
        for (i, group) in groups.iter().enumerate() {
            prop_assert!(!group.is_empty());
            prop_assert_eq!(group.trim_matches(|c: char| c.is_ascii_whitespace()), group.as_str());
            prop_assert!(
                !groups[..i].iter().any(|earlier| earlier.eq_ignore_ascii_case(group)),
                "{:?} repeats an earlier group", group
            );
            if !decode && !claim.trim_start().starts_with("[\"") {
                prop_assert!(claim.contains(group.as_str()), "{:?} is not in the claim", group);
            }
        }
    }

    #[test]
    fn any_event_json_parses_or_errs_without_panicking(event in json_value()) {
        let text = event.to_string();
        if let Ok(parsed) = TokenEvent::parse(&text) {
            let _ = parsed.email();
            let _ = parsed.short_user_name();
        }
    }

    #[test]
    fn any_text_as_an_event_never_panics(text in any::<String>()) {
        let _ = TokenEvent::parse(&text);
    }

    #[test]
    fn every_name_is_a_valid_label_and_sanitizing_is_idempotent(name in group_name()) {
        if let Some(label) = dns_label(&name) {
            prop_assert!(is_dns_label(&label), "{:?} -> {:?}", name, label);
            prop_assert!(label.len() <= 63);
            prop_assert_eq!(dns_label(&label), Some(label.clone()));
        }
    }

    #[test]
    fn distinct_names_collide_only_when_they_differ_in_case_or_separators(a in group_name(), b in group_name()) {
        if let (Some(x), Some(y)) = (dns_label(&a), dns_label(&b)) && x == y {
            prop_assert_eq!(runs(&a), runs(&b), "{:?} and {:?} both became {:?}", a, b, x);
        }
    }

    #[test]
    fn protected_names_are_never_bindable(groups in prop::collection::vec(group_name(), 0..12)) {
        let config = config();
        let identity = Identity {
            user_name: "rumesh".into(),
            signed_in: true,
            sub: "12ec26be-e8d1-482b-9602-e402c7896cb3".into(),
            email: "rumesh@corp.example".into(),
            groups: parse_groups(&format!("[{}]", groups.join(", ")), false),
        };
        let state = desired_state(&identity, Mode::Grant, &config, &Conventions::defaults(vec![Kind::AuthorizationPolicy]));
        for (i, group) in state.groups.iter().enumerate() {
            prop_assert!(
                state.groups[..i].iter().all(|g| g.namespace != group.namespace),
                "two groups of one sign-in share {}", group.namespace
            );
            let ns = group.namespace.as_str();
            prop_assert!(is_dns_label(ns));
            prop_assert!(!SYSTEM_NAMESPACES.contains(&ns), "{}", ns);
            prop_assert!(!ns.starts_with("kube-"), "{}", ns);
            prop_assert!(!ns.starts_with("profile-"), "{}", ns);
            prop_assert!(ns != "monitoring");
            for object in &group.bindings {
                prop_assert_eq!(object.namespace.as_deref(), Some(ns));
            }
        }
    }
}
