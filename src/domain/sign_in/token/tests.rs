//! The gate's decision, the vetted names, and the response as Cognito's schema has it. Pure.

use super::*;
use crate::domain::config::test_config;

fn identity(groups: &[&str], signed_in: bool) -> Identity {
    Identity {
        user_name: "rumesh".into(),
        signed_in,
        sub: "12ec26be-e8d1-482b-9602-e402c7896cb3".into(),
        email: "rumesh@corp.example".into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn settings(config: &Config) -> TokenGroups {
    config.token.token_groups.clone().expect("TOKEN_GROUPS set")
}

const V1: &str = r#"{"version":"1","triggerSource":"TokenGeneration_HostedAuth","userName":"adfs_ad\\rumesh",
  "request":{"userAttributes":{"custom:groups":"[KF-ML, KF-Vision, Payroll]"},
             "groupConfiguration":{"groupsToOverride":["us-east-1_x_ADFS"],"iamRolesToOverride":[],"preferredRole":null}},
  "response":{"claimsOverrideDetails":null}}"#;

#[test]
fn the_gate_refuses_only_a_federated_sign_in_whose_groups_admit_no_namespace() {
    let gate = test_config(&[
        ("GROUP_PREFIX", "KF-"),
        ("SIGN_IN_GATE", "true"),
        ("PROTECTED_NAMESPACES", "kf-secret"),
    ]);
    let none = identity(&["Payroll"], true);
    assert!(gated(&none, Mode::Grant, &gate));
    assert!(!gated(&identity(&["KF-ML"], true), Mode::Grant, &gate));
    assert!(
        !gated(&none, Mode::RevokeOnly, &gate),
        "not an IdP assertion"
    );
    assert!(
        !gated(&identity(&["Payroll"], false), Mode::Grant, &gate),
        "a refresh"
    );
    // A group the allow-list admits but whose namespace the function may never bind.
    assert!(gated(&identity(&["KF-Secret"], true), Mode::Grant, &gate));
    let off = test_config(&[("GROUP_PREFIX", "KF-")]);
    assert!(!gated(&none, Mode::Grant, &off));
    // The everyone namespace is no group's: it admits nobody by itself.
    let everyone = test_config(&[
        ("GROUP_PREFIX", "KF-"),
        ("SIGN_IN_GATE", "true"),
        ("EVERYONE_NAMESPACE", "kubeflow-everyone"),
        ("PROTECTED_NAMESPACES", "kf-secret"),
    ]);
    assert!(gated(
        &identity(&["KF-Secret"], true),
        Mode::Grant,
        &everyone
    ));
}

#[test]
fn the_vetted_groups_are_those_that_gave_a_namespace_held_now() {
    let config = test_config(&[
        ("GROUP_PREFIX", "KF-"),
        ("TOKEN_GROUPS", "groups"),
        ("GROUP_ROLE_SUFFIXES", "-view=view,-admin=admin"),
    ]);
    let person = identity(
        &[
            "KF-ML",
            "KF-ML-view",
            "KF-Vision",
            "Payroll",
            "KF-ML",
            "KF_ML",
            "KF-ML-admin",
        ],
        true,
    );
    let granted: BTreeSet<String> = ["kf-ml".to_owned()].into();
    assert_eq!(
        vetted(&settings(&config), &person, &config, &granted),
        ["KF-ML"],
        "the team, once: not KF-Vision (not held), not Payroll (not admitted), not KF_ML \
         (another group's namespace), not KF-ML-admin (admin not allowed), not the suffix"
    );
    let namespaces = test_config(&[("GROUP_PREFIX", "KF-"), ("TOKEN_GROUPS", "namespaces")]);
    let granted: BTreeSet<String> = ["kf-vision".to_owned(), "kf-ml".to_owned()].into();
    assert_eq!(
        vetted(&settings(&namespaces), &person, &namespaces, &granted),
        ["kf-ml", "kf-vision"]
    );
}

#[test]
fn a_v1_response_overrides_cognito_groups_and_writes_named_claims_as_strings() {
    let config = test_config(&[
        ("GROUP_PREFIX", "KF-"),
        ("TOKEN_GROUPS", "groups"),
        ("TOKEN_GROUPS_CLAIMS", "cognito:groups, kubeflow-groups"),
        ("SUPPRESS_GROUPS_ATTRIBUTE", "true"),
    ]);
    let answer = with_token_groups(
        V1,
        &settings(&config),
        &["KF-ML".into(), "KF-Vision".into()],
    )
    .unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer["response"],
        json!({"claimsOverrideDetails": {
            "claimsToAddOrOverride": {"kubeflow-groups": "KF-ML,KF-Vision"},
            "claimsToSuppress": ["custom:groups"],
            "groupOverrideDetails": {"groupsToOverride": ["KF-ML", "KF-Vision"],
                                     "iamRolesToOverride": [], "preferredRole": null},
        }})
    );
    assert_eq!(
        answer["request"],
        serde_json::from_str::<Value>(V1).unwrap()["request"]
    );
}

#[test]
fn a_v2_response_writes_lists_in_the_id_token_and_keeps_the_groups_it_does_not_override() {
    let config = test_config(&[
        ("GROUP_PREFIX", "KF-"),
        ("TOKEN_GROUPS", "namespaces"),
        ("TOKEN_GROUPS_CLAIMS", "kubeflow-groups"),
        ("TOKEN_GROUPS_IN_ACCESS_TOKEN", "true"),
    ]);
    let v2 = V1
        .replace(r#""version":"1""#, r#""version":"2""#)
        .replace("claimsOverrideDetails", "claimsAndScopeOverrideDetails");
    let answer = with_token_groups(&v2, &settings(&config), &["kf-ml".into()]).unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer["response"],
        json!({"claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {"claimsToAddOrOverride": {"kubeflow-groups": ["kf-ml"]},
                                  "claimsToSuppress": []},
            "accessTokenGeneration": {"claimsToAddOrOverride": {"kubeflow-groups": ["kf-ml"]}},
            "groupOverrideDetails": {"groupsToOverride": ["us-east-1_x_ADFS"],
                                     "iamRolesToOverride": [], "preferredRole": null},
        }}),
        "the request's groups, copied: an empty override would drop them"
    );
}
