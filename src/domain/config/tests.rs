//! The configuration's unit tests. Pure.

use super::clusters::is_region;
use super::*;
use std::collections::BTreeMap;
use std::time::Duration;

fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    try_test_config(vars)
}

/// Asserts that `vars` are refused with an error naming `variable`.
fn refused(vars: &[(&str, &str)], variable: &str) {
    let errors = parse(vars).expect_err("accepted");
    assert!(errors.to_string().contains(variable), "{vars:?}: {errors}");
}

#[test]
fn defaults_match_the_documented_table() {
    let config = parse(&[]).unwrap();
    assert_eq!(config.clusters.targets[0].label(), "kf");
    assert_eq!(config.sign_in.groups_claim, "custom:groups");
    assert_eq!(config.sign_in.allowed_groups, AllowedGroups::All);
    assert!(!config.sign_in.decode_group_names);
    assert!(!config.sign_in.trust_stored_groups);
    assert_eq!(config.sign_in.user_role, Role::Edit);
    assert_eq!(config.sign_in.group_profile_owner, "admin@kubeflow.com");
    assert_eq!(config.sign_in.user_profile_prefix, "profile-");
    assert_eq!(
        config.sign_in.user_profile_quota,
        Some(serde_json::from_str(DEFAULT_USER_PROFILE_QUOTA).unwrap())
    );
    assert_eq!(config.istio.authz, IstioAuthz::Auto);
    assert!(config.sign_in.protected_namespaces.is_empty());
    assert_eq!(config.clusters.fail_mode.default, FailMode::Closed);
    assert_eq!(config.sign_in.time_budget, Duration::from_millis(4000));
    assert!(!config.dry_run);
    assert!(config.sign_in.sync_on_refresh);
    assert!(!config.sign_in.remove_legacy_bindings);
    assert_eq!(config.offboarding.inactive_days, 90);
    assert_eq!(config.istio.userid_header, None, "learnt from the cluster");
    assert_eq!(config.istio.userid_prefix, None);
    assert_eq!(config.istio.principals, Principals::Learnt);
}

#[test]
fn the_user_rule_can_be_set_instead_of_learnt() {
    let config = parse(&[
        (USERID_HEADER, "x-auth-request-email"),
        (USERID_PREFIX, "accounts.google.com:"),
        (
            ISTIO_PRINCIPALS,
            " cluster.local/ns/auth/sa/oauth2-proxy , cluster.local/ns/kubeflow/sa/ml-pipeline-ui",
        ),
    ])
    .unwrap();
    assert_eq!(
        config.istio.userid_header.as_deref(),
        Some("x-auth-request-email")
    );
    assert_eq!(
        config.istio.userid_prefix.as_deref(),
        Some("accounts.google.com:")
    );
    assert_eq!(
        config.istio.principals,
        Principals::These(vec![
            "cluster.local/ns/auth/sa/oauth2-proxy".to_owned(),
            "cluster.local/ns/kubeflow/sa/ml-pipeline-ui".to_owned()
        ])
    );
    assert_eq!(
        parse(&[(ISTIO_PRINCIPALS, "None")])
            .unwrap()
            .istio
            .principals,
        Principals::Anyone
    );
    for (variable, value) in [
        (USERID_HEADER, "bad header"),
        (USERID_PREFIX, "a*"),
        (ISTIO_PRINCIPALS, "a b"),
    ] {
        let err = parse(&[(variable, value)]).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{variable}=")), "{err}");
    }
}

#[test]
fn the_python_lambdas_variable_names_keep_working() {
    let config = parse(&[
        (LEGACY_CLUSTER_NAME, "legacy"),
        (LEGACY_GROUPS_CLAIM, "custom:adgroups"),
    ])
    .unwrap();
    assert_eq!(config.clusters.targets[0].label(), "legacy");
    assert_eq!(config.sign_in.groups_claim, "custom:adgroups");
}

#[test]
fn new_and_legacy_names_with_different_values_are_refused() {
    let err = parse(&[(CLUSTER_NAME, "a"), (LEGACY_CLUSTER_NAME, "b")]).unwrap_err();
    assert!(err.to_string().contains("CLUSTER_NAME and clusterName"));
    assert!(parse(&[(CLUSTER_NAME, "a"), (LEGACY_CLUSTER_NAME, "a")]).is_ok());
}

#[test]
fn a_missing_cluster_name_names_the_variable() {
    let err = Config::from_pairs(&[(ALLOW_ALL_GROUPS, "true")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "CLUSTER_NAME is required: the EKS cluster name (or the legacy clusterName); several, comma-separated"
    );
}

#[test]
fn several_clusters_are_a_comma_list_each_optionally_in_its_region() {
    let config = Config::from_pairs(&[
        (CLUSTER_NAME, " kf-prod, us-west-2/kf-dr,cn-north-1/kf_cn, "),
        (ALLOW_ALL_GROUPS, "true"),
    ])
    .unwrap();
    let labels: Vec<String> = config
        .clusters
        .targets
        .iter()
        .map(ClusterTarget::label)
        .collect();
    assert_eq!(labels, ["kf-prod", "us-west-2/kf-dr", "cn-north-1/kf_cn"]);
    assert_eq!(
        config.clusters.targets[1].region.as_deref(),
        Some("us-west-2")
    );
    assert_eq!(config.clusters.targets[1].name, "kf-dr");
    let from_arns = Config::from_pairs(&[
        (
            CLUSTER_NAME,
            "kf,arn:aws:eks:us-west-2:111122223333:cluster/kf-dr,arn:aws-cn:eks:cn-north-1:111122223333:cluster/kf_cn",
        ),
        (ALLOW_ALL_GROUPS, "true"),
    ])
    .unwrap();
    let labels: Vec<String> = from_arns
        .clusters
        .targets
        .iter()
        .map(ClusterTarget::label)
        .collect();
    assert_eq!(labels, ["kf", "us-west-2/kf-dr", "cn-north-1/kf_cn"]);
    for bad in [
        "kf,kf",
        "mars/kf",
        "us-west-2/",
        "a b",
        "us-west-2/kf/x",
        "arn:aws:eks:us-west-2:1111:cluster/kf",
        "arn:aws:iam::111122223333:role/kf",
        "arn:aws:eks:us-west-2:111122223333:nodegroup/kf",
        "arn:aws:eks:mars:111122223333:cluster/kf",
        "arn:aws:eks:us-west-2:111122223333:cluster/kf:x",
    ] {
        let error = Config::from_pairs(&[(CLUSTER_NAME, bad), (ALLOW_ALL_GROUPS, "true")])
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("CLUSTER_NAME="), "{bad}: {error}");
    }
    assert!(is_region("us-gov-west-1") && is_region("eu-central-2"));
}

#[test]
fn a_cluster_named_with_and_without_the_functions_region_is_one_cluster() {
    let home = ("AWS_REGION", "eu-west-1");
    for twice in [
        "kf,eu-west-1/kf",
        "eu-west-1/kf,kf",
        "kf,arn:aws:eks:eu-west-1:111122223333:cluster/kf",
    ] {
        let error = Config::from_pairs(&[(CLUSTER_NAME, twice), (ALLOW_ALL_GROUPS, "true"), home])
            .unwrap_err()
            .to_string();
        assert!(error.contains("each cluster once"), "{twice}: {error}");
    }
    let config = Config::from_pairs(&[
        (CLUSTER_NAME, "eu-west-1/kf,us-west-2/kf"),
        (ALLOW_ALL_GROUPS, "true"),
        home,
    ])
    .unwrap();
    let labels: Vec<String> = config
        .clusters
        .targets
        .iter()
        .map(ClusterTarget::label)
        .collect();
    assert_eq!(
        labels,
        ["kf", "us-west-2/kf"],
        "the home region is left out"
    );
}

#[test]
fn the_fail_mode_is_set_for_every_cluster_and_per_cluster() {
    let clusters = (CLUSTER_NAME, "kf-prod,us-west-2/kf-dr,kf-dev");
    let with = |mode: &str| {
        Config::from_pairs(&[
            clusters,
            (ALLOW_ALL_GROUPS, "true"),
            (FAIL_MODE, mode),
            ("AWS_REGION", "eu-west-1"),
        ])
    };
    let config = with("closed,kf-dev=open,us-west-2/kf-dr=open").unwrap();
    let modes: Vec<FailMode> = config
        .clusters
        .targets
        .iter()
        .map(|c| config.clusters.fail_mode.of(c))
        .collect();
    assert_eq!(modes, [FailMode::Closed, FailMode::Open, FailMode::Open]);
    assert_eq!(
        config.clusters.fail_mode.describe(),
        "closed,kf-dev=open,us-west-2/kf-dr=open"
    );
    // The home region may be written or not; the default may come anywhere, or not at all.
    let config = with("eu-west-1/kf-prod=open").unwrap();
    assert_eq!(
        config.clusters.fail_mode.of(&config.clusters.targets[0]),
        FailMode::Open
    );
    assert_eq!(config.clusters.fail_mode.default, FailMode::Closed);
    assert_eq!(
        with("open").unwrap().clusters.fail_mode.default,
        FailMode::Open
    );
    for bad in [
        "shut",
        "closed,open",
        "kf-other=open",
        "kf-dev=maybe",
        "kf-dev=open,kf-dev=closed",
    ] {
        let error = with(bad).unwrap_err().to_string();
        assert!(error.starts_with("FAIL_MODE="), "{bad}: {error}");
    }
}

#[test]
fn every_setting_is_read() {
    let config = parse(&[
        (GROUP_PREFIX, "RIDY-"),
        (DECODE_GROUP_NAMES, "true"),
        (TRUST_STORED_GROUPS, "true"),
        (USER_ROLE, "VIEW"),
        (GROUP_PROFILE_OWNER, "groups@corp.example"),
        (USER_PROFILE_PREFIX, "home-"),
        (USER_PROFILE_QUOTA, ""),
        (ISTIO_AUTHZ, "ServiceRoleBinding"),
        (PROTECTED_NAMESPACES, " Monitoring, ,logging "),
        (FAIL_MODE, "open"),
        (TIME_BUDGET_MS, "2500"),
        (DRY_RUN, "true"),
        (SYNC_ON_REFRESH, "false"),
        (REMOVE_LEGACY_BINDINGS, "true"),
        (INACTIVE_DAYS, "0"),
    ])
    .unwrap();
    assert_eq!(
        config.sign_in.allowed_groups,
        AllowedGroups::Prefix("RIDY-".into())
    );
    assert!(config.sign_in.decode_group_names);
    assert!(config.sign_in.trust_stored_groups);
    assert_eq!(config.sign_in.user_role, Role::View);
    assert_eq!(config.sign_in.group_profile_owner, "groups@corp.example");
    assert_eq!(config.sign_in.user_profile_prefix, "home-");
    assert_eq!(config.sign_in.user_profile_quota, None);
    assert_eq!(config.istio.authz, IstioAuthz::ServiceRoleBinding);
    assert_eq!(
        config.sign_in.protected_namespaces,
        vec!["monitoring", "logging"]
    );
    assert_eq!(config.clusters.fail_mode.default, FailMode::Open);
    assert_eq!(config.sign_in.time_budget, Duration::from_millis(2500));
    assert!(config.dry_run);
    assert!(!config.sign_in.sync_on_refresh);
    assert!(config.sign_in.remove_legacy_bindings);
    assert_eq!(config.offboarding.inactive_days, 0);
}

#[test]
fn mesh_labels_and_viewer_access_are_read() {
    let config = parse(&[
        (
            MESH_LABELS,
            "istio.io/dataplane-mode=ambient, istio.io/use-waypoint=waypoint,istio.io/use-waypoint-namespace={namespace}",
        ),
        (VIEWER_ACCESS, "as-editors"),
    ])
    .unwrap();
    let labels = config.istio.mesh_labels.unwrap();
    assert_eq!(labels["istio.io/dataplane-mode"], "ambient");
    assert_eq!(labels["istio.io/use-waypoint-namespace"], "{namespace}");
    assert_eq!(config.istio.viewer_access, ViewerAccess::AsEditors);
    let defaults = parse(&[]).unwrap();
    assert_eq!(defaults.istio.mesh_labels, None, "learnt");
    assert_eq!(defaults.istio.viewer_access, ViewerAccess::PipelinesUi);
    assert_eq!(
        parse(&[(MESH_LABELS, "None")]).unwrap().istio.mesh_labels,
        Some(BTreeMap::new())
    );
    for bad in [
        "istio-injection",
        "app=x",
        "istio-injection=en abled",
        "istio-injection=",
    ] {
        let error = parse(&[(MESH_LABELS, bad)]).unwrap_err().to_string();
        assert!(error.starts_with("MESH_LABELS="), "{bad}: {error}");
    }
}

#[test]
fn role_suffixes_are_read_longest_first_and_match_in_any_case() {
    let config = Config::from_pairs(&[
        (CLUSTER_NAME, "kf"),
        (ALLOW_ALL_GROUPS, "true"),
        (
            GROUP_ROLE_SUFFIXES,
            "-edit=edit, -read-edit=view ,-admin=ADMIN",
        ),
    ])
    .unwrap();
    let suffixes: Vec<&str> = config
        .sign_in
        .role_suffixes
        .iter()
        .map(|s| s.suffix.as_str())
        .collect();
    assert_eq!(suffixes, ["-read-edit", "-admin", "-edit"]);
    assert_eq!(
        config.sign_in.team_and_role("KF-A-READ-EDIT"),
        ("KF-A", Role::View)
    );
    assert_eq!(
        config.sign_in.team_and_role("KF-A-Edit"),
        ("KF-A", Role::Edit)
    );
    assert_eq!(
        config.sign_in.team_and_role("KF-A"),
        ("KF-A", Role::Edit),
        "USER_ROLE"
    );
    assert_eq!(
        config.sign_in.team_and_role("-edit"),
        ("-edit", Role::Edit),
        "no team left"
    );
    let prefixed = parse(&[
        (GROUP_PREFIX, "KF-"),
        (GROUP_ROLE_SUFFIXES, "-edit=edit,-view=view"),
    ])
    .unwrap();
    assert_eq!(
        prefixed.sign_in.team_and_role("KF-EDIT"),
        ("KF-EDIT", Role::Edit),
        "KF is outside the prefix"
    );
    assert_eq!(
        prefixed.sign_in.team_and_role("KF-A-VIEW"),
        ("KF-A", Role::View)
    );
    assert_eq!(
        config.sign_in.roles(),
        [Role::View, Role::Edit],
        "admin not allowed"
    );
    let admin = Config::from_pairs(&[
        (CLUSTER_NAME, "kf"),
        (ALLOW_ALL_GROUPS, "true"),
        (GROUP_ROLE_SUFFIXES, "-admin=admin"),
        (ALLOW_ADMIN_ROLE, "true"),
    ])
    .unwrap();
    assert_eq!(admin.sign_in.roles(), [Role::Edit, Role::Admin]);
    for bad in ["-view", "-view=owner", "=view", "-a=view,-A=edit"] {
        let error = Config::from_pairs(&[
            (CLUSTER_NAME, "kf"),
            (ALLOW_ALL_GROUPS, "true"),
            (GROUP_ROLE_SUFFIXES, bad),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.starts_with("GROUP_ROLE_SUFFIXES="), "{bad}: {error}");
    }
}

#[test]
fn bad_values_name_the_variable_and_the_accepted_values() {
    let cases: &[(&str, &str, &str)] = &[
        (
            USER_ROLE,
            "admin",
            "USER_ROLE=\"admin\" is invalid: expected one of edit, view",
        ),
        (
            ISTIO_AUTHZ,
            "istio",
            "ISTIO_AUTHZ=\"istio\" is invalid: expected one of auto, authorizationpolicy, servicerolebinding, both, none",
        ),
        (
            FAIL_MODE,
            "ajar",
            "FAIL_MODE=\"ajar\" is invalid: expected one of closed, open",
        ),
        (
            DRY_RUN,
            "yes",
            "DRY_RUN=\"yes\" is invalid: expected one of true, false",
        ),
        (
            TIME_BUDGET_MS,
            "6000",
            "TIME_BUDGET_MS=\"6000\" is invalid: expected whole milliseconds from 50 to 4900 (Cognito waits 5000)",
        ),
        (TIME_BUDGET_MS, "4s", "TIME_BUDGET_MS=\"4s\" is invalid"),
        (
            INACTIVE_DAYS,
            "-1",
            "INACTIVE_DAYS=\"-1\" is invalid: expected whole days from 0 (never revoke for inactivity) to 36500",
        ),
        (
            USER_PROFILE_QUOTA,
            "[1]",
            "USER_PROFILE_QUOTA=\"[1]\" is invalid: expected a JSON object",
        ),
        (
            USER_PROFILE_QUOTA,
            "{",
            "USER_PROFILE_QUOTA=\"{\" is invalid",
        ),
        (
            USER_PROFILE_PREFIX,
            "Profile_",
            "USER_PROFILE_PREFIX=\"Profile_\" is invalid",
        ),
        (
            CLUSTER_NAME,
            "my cluster",
            "CLUSTER_NAME=\"my cluster\" is invalid",
        ),
        (
            ALLOW_ALL_GROUPS,
            "yes",
            "ALLOW_ALL_GROUPS=\"yes\" is invalid: expected one of true, false",
        ),
        (GROUP_PREFIX, "a,b", "GROUP_PREFIX=\"a,b\" is invalid"),
    ];
    for (variable, value, message) in cases {
        let err = parse(&[(*variable, *value)]).unwrap_err().to_string();
        assert!(err.starts_with(message), "{variable}={value}: {err}");
    }
}

#[test]
fn exactly_one_allow_list_is_required_and_the_error_names_both() {
    let neither = Config::from_pairs(&[(CLUSTER_NAME, "kf")]).unwrap_err();
    let both = Config::from_pairs(&[
        (CLUSTER_NAME, "kf"),
        (GROUP_PREFIX, "KF-"),
        (ALLOW_ALL_GROUPS, "true"),
    ])
    .unwrap_err();
    let all_false =
        Config::from_pairs(&[(CLUSTER_NAME, "kf"), (ALLOW_ALL_GROUPS, "false")]).unwrap_err();
    for (err, found) in [
        (neither, "neither is set"),
        (both, "both are set"),
        (all_false, "neither is set"),
    ] {
        let message = err.to_string();
        assert!(
            message.contains("GROUP_PREFIX") && message.contains("ALLOW_ALL_GROUPS=true"),
            "{message}"
        );
        assert!(message.ends_with(found), "{message}");
    }
}

#[test]
fn the_prefix_admits_exact_names_ignoring_only_ascii_case() {
    let prefix = AllowedGroups::Prefix("RIDY-".into());
    for (group, admitted) in [
        ("RIDY-finance", true),
        ("ridy-finance", true),
        ("RIDY-", true),
        ("%52IDY-finance", false),
        ("RIDY_finance", false),
        ("RID", false),
        (" RIDY-finance", false),
        // U+0130 (İ) lowercases to an ASCII i under Unicode rules; it is not an I.
        ("R\u{130}DY-finance", false),
    ] {
        assert_eq!(prefix.admits(group), admitted, "{group:?}");
    }
    assert!(AllowedGroups::All.admits("anything at all"));
    let kelvin = AllowedGroups::Prefix("KF-".into());
    assert!(
        !kelvin.admits("\u{212A}F-team"),
        "the Kelvin sign is not a K"
    );
}

#[test]
fn every_problem_of_a_bad_environment_is_reported_at_once() {
    let errors = Config::from_pairs(&[
        (CLUSTER_NAME, "my cluster"),
        (USER_ROLE, "admin"),
        (TIME_BUDGET_MS, "6000"),
        (MESH_LABELS, "app=x"),
        (INACTIVE_DAYS, "-1"),
    ])
    .unwrap_err();
    let variables: Vec<&str> = errors
        .0
        .iter()
        .map(|error| match error {
            ConfigError::Invalid { variable, .. } | ConfigError::Missing { variable, .. } => {
                *variable
            }
            ConfigError::AllowList { .. } => "allow-list",
            ConfigError::Conflicting { variable, .. } => variable,
        })
        .collect();
    assert_eq!(
        variables,
        [
            CLUSTER_NAME,
            "allow-list",
            USER_ROLE,
            TIME_BUDGET_MS,
            MESH_LABELS,
            INACTIVE_DAYS
        ],
        "in the order they are read"
    );
    let message = errors.to_string();
    assert!(
        message.starts_with("CLUSTER_NAME=\"my cluster\" is invalid"),
        "{message}"
    );
    assert!(
        message.contains("; USER_ROLE=\"admin\" is invalid"),
        "{message}"
    );
}

#[test]
fn every_variable_is_trimmed_alike() {
    let config = parse(&[
        (USERID_PREFIX, " accounts.google.com: "),
        (RECORDS_NAMESPACE, " records "),
        (GROUP_PROFILE_OWNER, " groups@corp.example "),
    ])
    .unwrap();
    assert_eq!(
        config.istio.userid_prefix.as_deref(),
        Some("accounts.google.com:")
    );
    assert_eq!(config.offboarding.records_namespace, "records");
    assert_eq!(config.sign_in.group_profile_owner, "groups@corp.example");
}

#[test]
fn the_team_role_names_one_role_or_a_prefix_and_the_namespace() {
    for good in [
        "arn:aws:iam::111122223333:role/kf-team-{namespace}",
        "arn:aws:iam::111122223333:role/kubeflow/kf-team-{namespace}-s3",
        "arn:aws:iam::111122223333:role/kf-teams",
        "arn:aws-cn:iam::111122223333:role/kf-team-{namespace}",
    ] {
        assert!(parse(&[(TEAM_ROLE_ARN, good)]).is_ok(), "{good}");
    }
    for bad in [
        "arn:aws:iam::111122223333:role/{namespace}",
        "arn:aws:iam::111122223333:role/{namespace}/kf-team",
        "arn:aws:iam::111122223333:role/kf-{namespace}-{namespace}",
        "arn:aws:iam::1111:role/kf-team-{namespace}",
        "arn:aws:iam::111122223333:user/kf-team-{namespace}",
        "arn:aws:s3:::bucket",
        "kf-team-{namespace}",
    ] {
        let error = parse(&[(TEAM_ROLE_ARN, bad)]).unwrap_err().to_string();
        assert!(error.starts_with("TEAM_ROLE_ARN="), "{bad}: {error}");
    }
}

#[test]
fn the_token_path_is_off_by_default() {
    let config = parse(&[]).unwrap();
    assert_eq!(
        config.token,
        TokenPathConfig {
            gate: None,
            personal_profiles: true,
            everyone: None,
            token_groups: None,
        }
    );
    let on = parse(&[
        (SIGN_IN_GATE, "true"),
        (EVERYONE_NAMESPACE, "kubeflow-everyone"),
        (EVERYONE_ROLE, "edit"),
        (TOKEN_GROUPS, "namespaces"),
    ])
    .unwrap();
    assert_eq!(
        on.token.gate.as_deref(),
        Some(token_path::DEFAULT_SIGN_IN_GATE_MESSAGE)
    );
    assert_eq!(
        on.token.everyone,
        Some(Everyone {
            namespace: "kubeflow-everyone".into(),
            role: Role::Edit
        })
    );
    let groups = on.token.token_groups.unwrap();
    assert_eq!(groups.claims, [COGNITO_GROUPS]);
    assert_eq!(groups.values, TokenGroupValues::Namespaces);
}

#[test]
fn what_cognito_or_kubernetes_would_refuse_in_the_token_path_is_an_init_error_naming_it() {
    refused(
        &[(SIGN_IN_GATE, "true"), (SIGN_IN_GATE_MESSAGE, "two\nlines")],
        SIGN_IN_GATE_MESSAGE,
    );
    refused(
        &[
            (SIGN_IN_GATE, "true"),
            (SIGN_IN_GATE_MESSAGE, &"x".repeat(301)),
        ],
        SIGN_IN_GATE_MESSAGE,
    );
    refused(&[(EVERYONE_NAMESPACE, "Everyone_All")], EVERYONE_NAMESPACE);
    refused(&[(EVERYONE_NAMESPACE, "kube-public")], EVERYONE_NAMESPACE);
    refused(&[(EVERYONE_NAMESPACE, "profile-all")], EVERYONE_NAMESPACE);
    refused(
        &[(EVERYONE_NAMESPACE, "all"), (EVERYONE_ROLE, "admin")],
        EVERYONE_ROLE,
    );
    for claim in [
        "sub",
        "cognito:username",
        "cognito:roles",
        "my claim",
        ",",
        "aud,x",
    ] {
        refused(
            &[(TOKEN_GROUPS, "groups"), (TOKEN_GROUPS_CLAIMS, claim)],
            TOKEN_GROUPS_CLAIMS,
        );
    }
    refused(
        &[
            (TOKEN_GROUPS, "groups"),
            (TOKEN_GROUPS_CLAIMS, "custom:groups"),
            (SUPPRESS_GROUPS_ATTRIBUTE, "true"),
        ],
        SUPPRESS_GROUPS_ATTRIBUTE,
    );
    refused(
        &[(TOKEN_GROUPS, "groups"), (SYNC_ON_REFRESH, "false")],
        TOKEN_GROUPS,
    );
    refused(&[(TOKEN_GROUPS, "everything")], TOKEN_GROUPS);
    refused(
        &[(SUPPRESS_GROUPS_ATTRIBUTE, "true")],
        SUPPRESS_GROUPS_ATTRIBUTE,
    );
    refused(
        &[(TOKEN_GROUPS, "groups"), (TOKEN_GROUPS_CLAIMS, "email")],
        TOKEN_GROUPS_CLAIMS,
    );
}

#[test]
fn irsa_needs_a_role_per_team() {
    // One role for every team through IRSA.
    refused(
        &[
            (TEAM_ROLE_ARN, "arn:aws:iam::111122223333:role/kf-teams"),
            (TEAM_ROLE_VIA, "irsa"),
        ],
        TEAM_ROLE_VIA,
    );
    let per_team = parse(&[
        (
            TEAM_ROLE_ARN,
            "arn:aws:iam::111122223333:role/kf-team-{namespace}",
        ),
        (TEAM_ROLE_VIA, "irsa"),
    ])
    .unwrap();
    assert_eq!(per_team.sign_in.team_role_via, TeamRoleVia::Irsa);
}

#[test]
fn a_quota_the_api_server_would_refuse_is_an_init_error() {
    for quota in [
        r#"{"hard": {"cpu": "lots"}}"#,
        r#"{"hard": {"cpu": "-1"}}"#,
        r#"{"hard": {"bad name!": "1"}}"#,
        r#"{"hrad": {"cpu": "1"}}"#,
        r#"{"scopes": ["Sometimes"]}"#,
        "[]",
    ] {
        for variable in [GROUP_PROFILE_QUOTA, USER_PROFILE_QUOTA] {
            refused(&[(variable, quota)], variable);
        }
    }
    let fine = parse(&[(
        GROUP_PROFILE_QUOTA,
        r#"{"hard": {"cpu": 32, "requests.nvidia.com/gpu": "4", "memory": "64Gi"}, "scopes": ["NotBestEffort"]}"#,
    )])
    .unwrap();
    assert!(fine.sign_in.group_profile_quota.is_some());
}
