//! A team namespace ready to work in: its `default-editor` given the team's IAM role through
//! EKS Pod Identity (the fake EKS serves the associations as the EKS API does).

use crate::harness::{Harness, granted};
use kfpm_fakes::apiserver::Flavor;
use kfpm_fakes::events::sign_in_event;

const RUMESH: &str = "rumesh@corp.example";
const TEMPLATE: &str = "arn:aws:iam::111122223333:role/kf-team-{namespace}";
const PASSABLE: &str = "arn:aws:iam::111122223333:role/kf-team-*";

/// The associations of the fake EKS, as `namespace/serviceAccount=role`.
fn associations(h: &Harness) -> Vec<String> {
    h.eks
        .associations()
        .iter()
        .map(|a| format!("{}/{}={}", a.namespace, a.service_account, a.role_arn))
        .collect()
}

/// The role the team's Profile records.
fn recorded(h: &Harness, team: &str) -> Option<String> {
    h.cluster.get("Profile", None, team).and_then(|p| {
        p["metadata"]["annotations"]["kubeflow-profile-manager/aws-role"]
            .as_str()
            .map(str::to_owned)
    })
}

#[tokio::test]
async fn a_new_team_gets_its_role_once_and_a_second_sign_in_asks_eks_nothing() {
    let h = Harness::start(Flavor::Current, &[("TEAM_ROLE_ARN", TEMPLATE)]).await;
    h.eks.allow_pass_role(PASSABLE);
    let outcome = h.sign_in("rumesh", RUMESH, "[ml, vision]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml", "vision"]);
    let mut made = associations(&h);
    made.sort();
    assert_eq!(
        made,
        [
            "ml/default-editor=arn:aws:iam::111122223333:role/kf-team-ml",
            "vision/default-editor=arn:aws:iam::111122223333:role/kf-team-vision",
        ]
    );
    assert_eq!(
        recorded(&h, "ml").as_deref(),
        Some("arn:aws:iam::111122223333:role/kf-team-ml")
    );
    let calls = h.eks.calls();
    h.sign_in("rumesh", RUMESH, "[ml, vision]").await.unwrap();
    assert_eq!(h.eks.calls(), calls, "no AWS call at a repeat sign-in");
    assert_eq!(associations(&h).len(), 2, "exactly one association each");
}

#[tokio::test]
async fn an_administrators_own_association_is_left_alone() {
    let h = Harness::start(Flavor::Current, &[("TEAM_ROLE_ARN", TEMPLATE)]).await;
    h.eks.allow_pass_role(PASSABLE);
    let theirs = "arn:aws:iam::111122223333:role/ml-hand-made";
    h.eks
        .add_association(&h.cluster.config().cluster_name, "ml", theirs);
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(associations(&h), [format!("ml/default-editor={theirs}")]);
    assert_eq!(
        recorded(&h, "ml").as_deref(),
        Some("existing; asked arn:aws:iam::111122223333:role/kf-team-ml"),
        "not recorded as the team's role"
    );
    let calls = h.eks.calls();
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(h.eks.calls(), calls, "recorded as handled: not asked again");
}

#[tokio::test]
async fn a_role_the_function_may_not_pass_is_reported_and_the_sign_in_still_grants() {
    // FAIL_MODE=closed: the team's role is not access to Kubeflow; the sign-in grants.
    let h = Harness::start(Flavor::Current, &[("TEAM_ROLE_ARN", TEMPLATE)]).await;
    let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"]);
    assert!(associations(&h).is_empty());
    assert_eq!(recorded(&h, "ml"), None, "asked again later");
    h.eks.allow_pass_role(PASSABLE);
    // Not at every sign-in: this container waits ten minutes before asking EKS again.
    let calls = h.eks.calls();
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(h.eks.calls(), calls);
    let another = h.another_container().await;
    another
        .handle(&sign_in_event("rumesh", RUMESH, "[ml]"), None)
        .await
        .unwrap();
    assert_eq!(
        associations(&h),
        ["ml/default-editor=arn:aws:iam::111122223333:role/kf-team-ml"]
    );
}

#[tokio::test]
async fn without_a_team_role_eks_is_asked_nothing_but_the_cluster() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.eks.allow_pass_role(PASSABLE);
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert!(associations(&h).is_empty());
    assert_eq!(recorded(&h, "ml"), None);
}

#[tokio::test]
async fn the_doctor_shows_a_teams_role_its_association_quota_and_the_pod_identity_agent() {
    let h = Harness::start(
        Flavor::Current,
        &[
            ("TEAM_ROLE_ARN", TEMPLATE),
            ("GROUP_PROFILE_QUOTA", r#"{"hard": {"cpu": "8"}}"#),
        ],
    )
    .await;
    let doctor = r#"{"kubeflow-profile-manager": "doctor", "email": "rumesh@corp.example",
                    "groups": ["ml"], "userName": "rumesh"}"#;
    let details = |answer: kubeflow_profile_manager::Answer| match answer {
        kubeflow_profile_manager::Answer::Doctor(report) => report
            .findings
            .iter()
            .filter(|f| f.check == "teams")
            .map(|f| format!("{} {}", if f.ok { "ok" } else { "PROBLEM" }, f.detail))
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let before = details(h.app.invoke(doctor, None).await.unwrap());
    assert!(
        before
            .iter()
            .any(|d| d.starts_with("PROBLEM") && d.contains("eks-pod-identity-agent")),
        "{before:?}"
    );
    assert!(
        before.contains(&"ok team ml: would get arn:aws:iam::111122223333:role/kf-team-ml through EKS Pod Identity".to_owned()),
        "{before:?}"
    );
    assert!(
        before.contains(&r#"ok team ml: quota {"hard":{"cpu":"8"}}"#.to_owned()),
        "{before:?}"
    );
    h.eks
        .install_pod_identity_agent(&h.cluster.config().cluster_name);
    h.eks.allow_pass_role(PASSABLE);
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    let after = details(h.app.invoke(doctor, None).await.unwrap());
    assert!(after.iter().all(|d| d.starts_with("ok")), "{after:?}");
    assert!(
        after
            .iter()
            .any(|d| d.contains("has an EKS Pod Identity association")),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_namespace_the_function_does_not_grant_gets_no_role() {
    // A Profile of that name owned by someone else: the group is refused, and its namespace
    // (someone else's) never gets the team role.
    let h = Harness::start(Flavor::Current, &[("TEAM_ROLE_ARN", TEMPLATE)]).await;
    h.eks.allow_pass_role(PASSABLE);
    h.cluster.seed_profile("ml", "mallory@corp.example");
    let outcome = h.sign_in("rumesh", RUMESH, "[ml, vision]").await.unwrap();
    assert_eq!(granted(&outcome), ["vision"]);
    assert_eq!(
        associations(&h),
        ["vision/default-editor=arn:aws:iam::111122223333:role/kf-team-vision"]
    );
}
