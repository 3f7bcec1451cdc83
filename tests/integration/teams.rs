//! A team namespace ready to work in: its `default-editor` given the team's IAM role through
//! EKS Pod Identity (the fake EKS serves the associations as the EKS API does).

use crate::harness::{Harness, granted, seed_team};
use kfpm_fakes::apiserver::Flavor;
use kfpm_fakes::apiserver::admission::Admission;
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

/// The annotation `key` of the cluster-scoped object `kind` `name`, if both exist.
fn annotation(h: &Harness, kind: &str, name: &str, key: &str) -> Option<String> {
    h.cluster.get(kind, None, name).and_then(|o| {
        o["metadata"]["annotations"][key]
            .as_str()
            .map(str::to_owned)
    })
}

/// The role the team's Profile records.
fn recorded(h: &Harness, team: &str) -> Option<String> {
    annotation(h, "Profile", team, "kubeflow-profile-manager/aws-role")
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

/// The file the template packages.
const DEFAULTS_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/team-defaults/team-defaults.yaml"
);

/// `Kind namespace/name` of each team default the cluster holds.
fn defaults(h: &Harness) -> Vec<String> {
    let mut found: Vec<String> = ["PodDefault", "LimitRange"]
        .iter()
        .flat_map(|kind| {
            h.cluster.all(kind).into_iter().map(move |o| {
                format!(
                    "{kind} {}/{}",
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap_or("")
                )
            })
        })
        .collect();
    found.sort();
    found
}

/// The packaged defaults, made in `ml`.
const ML_DEFAULTS: [&str; 2] = [
    "LimitRange ml/team-limits",
    "PodDefault ml/access-ml-pipeline",
];

/// `ml`'s LimitRange `team-limits`.
fn team_limits(h: &Harness) -> serde_json::Value {
    h.cluster
        .get("LimitRange", Some("ml"), "team-limits")
        .expect("team-limits in ml")
}

/// The team's namespace's mark: whether its defaults are `due` or `made`.
fn defaults_mark(h: &Harness, team: &str) -> Option<String> {
    annotation(
        h,
        "Namespace",
        team,
        "kubeflow-profile-manager/team-defaults",
    )
}

#[tokio::test]
async fn a_new_teams_defaults_are_made_once_and_left_as_the_team_changes_them() {
    let h = Harness::start(Flavor::Current, &[("TEAM_DEFAULTS_FILE", DEFAULTS_FILE)]).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(defaults(&h), ML_DEFAULTS);
    let limits = team_limits(&h);
    assert_eq!(
        limits["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kubeflow-profile-manager"
    );
    assert_eq!(limits["spec"]["limits"][0]["default"]["cpu"], "1");
    assert_eq!(defaults_mark(&h, "ml").as_deref(), Some("made"));
    // The team edits one and deletes the other: neither is made again, nor changed back.
    let mut edited = limits.clone();
    edited["spec"]["limits"][0]["default"]["cpu"] = "2".into();
    for server_set in [
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "managedFields",
    ] {
        edited["metadata"]
            .as_object_mut()
            .unwrap()
            .remove(server_set);
    }
    h.cluster.replace(edited);
    h.cluster
        .delete("PodDefault", Some("ml"), "access-ml-pipeline");
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    h.sign_in("jane", "jane@corp.example", "[ml]")
        .await
        .unwrap();
    assert_eq!(defaults(&h), ["LimitRange ml/team-limits"]);
    let limits = team_limits(&h);
    assert_eq!(limits["spec"]["limits"][0]["default"]["cpu"], "2");
}

#[tokio::test]
async fn an_existing_team_gets_defaults_only_when_marked_due_and_an_object_there_is_left_alone() {
    // The cluster's admission policies rendered for the defaults (make admission), the
    // function not yet given them.
    let h = Harness::start_with(&[], |c| {
        c.admission = Some(Admission::for_settings(&[(
            "TEAM_DEFAULTS_FILE",
            DEFAULTS_FILE,
        )]));
    })
    .await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    // Defaults declared later: ml is no new team.
    let later = h
        .another_container_with(&[("TEAM_DEFAULTS_FILE", DEFAULTS_FILE)])
        .await;
    let sign_in = async || {
        later
            .handle(&sign_in_event("rumesh", RUMESH, "[ml]"), None)
            .await
            .unwrap()
    };
    sign_in().await;
    assert!(defaults(&h).is_empty(), "{:?}", defaults(&h));
    assert_eq!(defaults_mark(&h, "ml"), None);
    // The team has a LimitRange of that name; the break-glass group marks its defaults due.
    h.cluster.seed(serde_json::json!({
        "apiVersion": "v1", "kind": "LimitRange",
        "metadata": {"name": "team-limits", "namespace": "ml"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "4"}}]},
    }));
    h.cluster.annotate(
        "Namespace",
        None,
        "ml",
        "kubeflow-profile-manager/team-defaults",
        "due",
    );
    sign_in().await;
    assert_eq!(defaults(&h), ML_DEFAULTS);
    let limits = team_limits(&h);
    assert_eq!(
        limits["spec"]["limits"][0]["max"]["cpu"], "4",
        "the one there is left as it is"
    );
    assert!(limits["metadata"]["labels"].is_null());
    assert_eq!(defaults_mark(&h, "ml").as_deref(), Some("made"));
}

#[tokio::test]
async fn a_defaults_file_the_api_server_would_refuse_stops_the_function_at_start() {
    let dir = std::env::temp_dir().join(format!("kfpm-defaults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("team-defaults.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: LimitRange\nmetadata: {name: l}\nspec:\n  limits:\n    - {type: Container, default: {cpu: \"4\"}, max: {cpu: \"2\"}}\n",
    )
    .unwrap();
    let h = Harness::start(Flavor::Current, &[]).await;
    let Err(error) = h
        .try_container_with(&[("TEAM_DEFAULTS_FILE", file.to_str().unwrap())])
        .await
    else {
        panic!("started with a file the API server would refuse");
    };
    assert!(
        error.contains("TEAM_DEFAULTS_FILE=") && error.contains("default is greater than max"),
        "{error}"
    );
    let Err(missing) = h
        .try_container_with(&[("TEAM_DEFAULTS_FILE", "/nowhere/team-defaults.yaml")])
        .await
    else {
        panic!("started without its file");
    };
    assert!(missing.contains("/nowhere/team-defaults.yaml"), "{missing}");
}

#[tokio::test]
async fn with_irsa_a_new_teams_profile_carries_the_plugin_and_eks_is_asked_nothing() {
    let h = Harness::start(
        Flavor::Current,
        &[("TEAM_ROLE_ARN", TEMPLATE), ("TEAM_ROLE_VIA", "irsa")],
    )
    .await;
    h.eks.allow_pass_role(PASSABLE);
    // A team made before: its Profile's plugins are never changed.
    seed_team(&h.cluster, "vision");
    let outcome = h.sign_in("rumesh", RUMESH, "[ml, vision]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml", "vision"]);
    h.settle().await;
    let plugins =
        |team: &str| h.cluster.get("Profile", None, team).unwrap()["spec"]["plugins"].clone();
    // kubeflow/kubeflow v1.10.0 plugin_iam.go: kind AwsIamForServiceAccount, spec awsIamRole
    // and annotateOnly.
    assert_eq!(
        plugins("ml"),
        serde_json::json!([{"kind": "AwsIamForServiceAccount",
            "spec": {"awsIamRole": "arn:aws:iam::111122223333:role/kf-team-ml", "annotateOnly": true}}])
    );
    assert!(plugins("vision").is_null(), "{}", plugins("vision"));
    assert_eq!(
        h.eks.calls(),
        1,
        "DescribeCluster only: IRSA is the profile controller's"
    );
    assert!(associations(&h).is_empty());
    let doctor = r#"{"kubeflow-profile-manager": "doctor", "email": "rumesh@corp.example",
                    "groups": ["ml", "vision"], "userName": "rumesh"}"#;
    let kubeflow_profile_manager::Answer::Doctor(report) =
        h.app.invoke(doctor, None).await.unwrap()
    else {
        panic!("a doctor's report");
    };
    let teams: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.check == "teams")
        .map(|f| f.detail.as_str())
        .collect();
    assert!(teams.contains(&"team ml: its Profile gives arn:aws:iam::111122223333:role/kf-team-ml through IRSA (its default-editor's eks.amazonaws.com/role-arn)"), "{teams:?}");
    assert!(
        teams.iter().any(
            |t| t.starts_with("team vision: its Profile has no AwsIamForServiceAccount plugin")
        ),
        "{teams:?}"
    );
    assert!(
        !teams.iter().any(|t| t.contains("eks-pod-identity-agent")),
        "no Pod Identity Agent needed: {teams:?}"
    );
}
