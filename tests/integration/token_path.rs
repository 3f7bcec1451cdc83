//! The token path: the sign-in gate, personal Profiles off, the everyone namespace, and the
//! vetted groups in the tokens, through the function's entry as Lambda calls it.

use crate::harness::{Harness, granted};
use kfpm_fakes::apiserver::Flavor;
use kfpm_fakes::events::{sign_in_event, token_event};
use kubeflow_profile_manager::Answer;
use kubeflow_profile_manager::error::InvocationFailed;
use serde_json::{Value, json};

const RUMESH: &str = "rumesh@corp.example";
const GATE: &str = "No Kubeflow group: ask the ML platform team (#ml-platform) for one.";

/// The function's answer to `event`: the event it returns, or its error.
async fn answer(h: &Harness, event: &str) -> Result<Value, InvocationFailed> {
    match h.app.invoke(event, None).await? {
        Answer::Unchanged => Ok(serde_json::from_str(event).unwrap()),
        Answer::Event(text) => Ok(serde_json::from_str(&text).unwrap()),
        other => panic!("{other:?}"),
    }
}

fn profiles(h: &Harness) -> Vec<String> {
    let mut names: Vec<String> = h
        .cluster
        .all("Profile")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_gate_refuses_exactly_the_people_with_no_admitted_group_and_takes_what_they_had() {
    let h = Harness::start(
        Flavor::Current,
        &[
            ("GROUP_PREFIX", "KF-"),
            ("SIGN_IN_GATE", "true"),
            ("SIGN_IN_GATE_MESSAGE", GATE),
        ],
    )
    .await;
    let refused = answer(&h, &sign_in_event("jose", "jose@corp.example", "[Payroll]")).await;
    let Err(InvocationFailed::Gated(message)) = refused else {
        panic!("not refused: {refused:?}");
    };
    assert_eq!(message, GATE);
    assert!(profiles(&h).is_empty(), "nothing made for a refused person");
    // Admitted: provisioned, the event unchanged.
    let event = sign_in_event("rumesh", RUMESH, "[KF-ML, Payroll]");
    assert_eq!(
        answer(&h, &event).await.unwrap(),
        serde_json::from_str::<Value>(&event).unwrap()
    );
    assert_eq!(h.bindings_of(RUMESH).len(), 1);
    // A token refresh is never gated; a sign-in after leaving KF-ML is, and takes its access.
    let refresh = token_event(
        "TokenGeneration_RefreshTokens",
        true,
        "rumesh",
        RUMESH,
        "[Payroll]",
    );
    answer(&h, &refresh).await.expect("a refresh is not gated");
    let left = answer(&h, &sign_in_event("rumesh", RUMESH, "[Payroll]")).await;
    assert!(matches!(left, Err(InvocationFailed::Gated(_))), "{left:?}");
    assert!(
        h.bindings_of(RUMESH).is_empty(),
        "{:?}",
        h.bindings_of(RUMESH)
    );
    // A federated sign-in with no usable email admits no namespace either.
    let mut no_email: Value =
        serde_json::from_str(&sign_in_event("ana", "ana@corp.example", "[KF-ML]")).unwrap();
    no_email["request"]["userAttributes"]
        .as_object_mut()
        .unwrap()
        .remove("email");
    let refused = answer(&h, &no_email.to_string()).await;
    assert!(
        matches!(refused, Err(InvocationFailed::Gated(_))),
        "{refused:?}"
    );
    // A machine-to-machine token is no person's.
    let m2m = r#"{"version":"3","triggerSource":"TokenGeneration_ClientCredentials","request":{},"response":{}}"#;
    answer(&h, m2m)
        .await
        .expect("machine-to-machine tokens pass");
}

#[tokio::test]
async fn without_personal_profiles_a_person_gets_their_teams_only() {
    let h = Harness::start(Flavor::Current, &[("PERSONAL_PROFILES", "false")]).await;
    let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"]);
    assert_eq!(profiles(&h), ["ml"], "no profile-rumesh");
}

#[tokio::test]
async fn the_everyone_namespace_is_granted_and_revoked_like_a_team() {
    let h = Harness::start(
        Flavor::Current,
        &[
            ("GROUP_PREFIX", "KF-"),
            ("EVERYONE_NAMESPACE", "kf-everyone"),
        ],
    )
    .await;
    let outcome = h
        .sign_in("rumesh", RUMESH, "[KF-ML, KF-Everyone]")
        .await
        .unwrap();
    assert_eq!(granted(&outcome), ["kf-everyone", "kf-ml"]);
    let report = crate::harness::report(&outcome);
    assert_eq!(
        report
            .refused
            .iter()
            .map(|r| r.group.as_str())
            .collect::<Vec<_>>(),
        ["KF-Everyone"],
        "no AD group takes the everyone namespace"
    );
    let profile = h.cluster.get("Profile", None, "kf-everyone").unwrap();
    assert_eq!(profile["spec"]["owner"]["name"], "admin@kubeflow.com");
    assert_eq!(
        profile["metadata"]["annotations"]["kubeflow-profile-manager/group"],
        "(everyone)"
    );
    let everyone: Vec<String> = h
        .bindings_of(RUMESH)
        .into_iter()
        .filter(|b| b.starts_with("kf-everyone/"))
        .collect();
    let [binding] = everyone.as_slice() else {
        panic!("{everyone:?}");
    };
    let name = binding.split('/').nth(1).unwrap();
    let rb = h
        .cluster
        .get("RoleBinding", Some("kf-everyone"), name)
        .unwrap();
    assert_eq!(
        rb["roleRef"]["name"], "kubeflow-view",
        "EVERYONE_ROLE's default"
    );
    // Out of every admitted group: out of the everyone namespace too.
    let outcome = h.sign_in("rumesh", RUMESH, "[Payroll]").await.unwrap();
    assert!(granted(&outcome).is_empty());
    assert!(
        h.bindings_of(RUMESH).is_empty(),
        "{:?}",
        h.bindings_of(RUMESH)
    );
}

#[tokio::test]
async fn the_token_carries_exactly_the_vetted_groups_and_nothing_changes_when_off() {
    let vars = [
        ("GROUP_PREFIX", "KF-"),
        ("TOKEN_GROUPS", "groups"),
        ("TOKEN_GROUPS_CLAIMS", "cognito:groups,kubeflow-groups"),
        ("SUPPRESS_GROUPS_ATTRIBUTE", "true"),
    ];
    let h = Harness::start(Flavor::Current, &vars).await;
    // kf-vision is someone else's: refused, so KF-Vision is not vetted.
    h.cluster.seed_profile("kf-vision", "mallory@corp.example");
    let event = sign_in_event("rumesh", RUMESH, "[KF-ML, KF-Vision, Payroll]");
    let answered = answer(&h, &event).await.unwrap();
    assert_eq!(
        answered["response"],
        json!({"claimsOverrideDetails": {
            "claimsToAddOrOverride": {"kubeflow-groups": "KF-ML"},
            "claimsToSuppress": ["custom:groups"],
            "groupOverrideDetails": {"groupsToOverride": ["KF-ML"], "iamRolesToOverride": [],
                                     "preferredRole": null},
        }})
    );
    // A refresh whose attribute the person rewrote: only what they hold is vetted.
    let rewritten = token_event(
        "TokenGeneration_RefreshTokens",
        true,
        "rumesh",
        RUMESH,
        "[KF-ML, KF-Finance]",
    );
    let answered = answer(&h, &rewritten).await.unwrap();
    assert_eq!(
        answered["response"]["claimsOverrideDetails"]["groupOverrideDetails"]["groupsToOverride"],
        json!(["KF-ML"])
    );
    // Off (the default): the event goes back as it came.
    let off = Harness::start(Flavor::Current, &[("GROUP_PREFIX", "KF-")]).await;
    assert!(matches!(
        off.app.invoke(&event, None).await.unwrap(),
        Answer::Unchanged
    ));
}

#[tokio::test]
async fn a_dry_run_only_says_whom_the_gate_would_refuse_and_changes_no_token() {
    let h = Harness::start(
        Flavor::Current,
        &[
            ("GROUP_PREFIX", "KF-"),
            ("SIGN_IN_GATE", "true"),
            ("TOKEN_GROUPS", "groups"),
            ("DRY_RUN", "true"),
        ],
    )
    .await;
    let event = sign_in_event("jose", "jose@corp.example", "[Payroll]");
    assert_eq!(
        answer(&h, &event).await.expect("not refused in a dry run"),
        serde_json::from_str::<Value>(&event).unwrap(),
        "the event unchanged"
    );
}

#[tokio::test]
async fn the_doctor_says_whom_the_gate_would_refuse_and_what_the_token_would_carry() {
    let h = Harness::start(
        Flavor::Current,
        &[
            ("GROUP_PREFIX", "KF-"),
            ("SIGN_IN_GATE", "true"),
            ("SIGN_IN_GATE_MESSAGE", GATE),
            ("TOKEN_GROUPS", "groups"),
        ],
    )
    .await;
    let doctor = |groups: &str| {
        format!(
            r#"{{"kubeflow-profile-manager": "doctor", "email": "rumesh@corp.example",
                "groups": {groups}, "userName": "rumesh"}}"#
        )
    };
    let said = async |groups: &str| -> Vec<String> {
        let Answer::Doctor(report) = h.app.invoke(&doctor(groups), None).await.unwrap() else {
            panic!("a doctor's report");
        };
        report
            .findings
            .iter()
            .filter(|f| f.check == "token-path")
            .map(|f| f.detail.clone())
            .collect()
    };
    assert_eq!(
        said(r#"["KF-ML", "Payroll"]"#).await,
        [
            "SIGN_IN_GATE would let \"rumesh@corp.example\" in".to_owned(),
            "TOKEN_GROUPS: the token would carry [\"KF-ML\"] in cognito:groups".to_owned(),
        ]
    );
    let refused = said(r#"["Payroll"]"#).await;
    assert!(
        refused[0].starts_with("SIGN_IN_GATE would refuse \"rumesh@corp.example\"")
            && refused[0].contains(GATE),
        "{refused:?}"
    );
}
