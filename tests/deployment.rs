//! The deployment artefacts grant nothing beyond what the function needs, and carry the same
//! configuration defaults as the code.

mod common;

use std::collections::BTreeMap;

use common::Harness;
use kfpm_testkit::rbac::{PolicyRule, project_rules};
use kubeflow_profile_manager::domain::config::{self, Config};
use serde_norway::Value;

const RUMESH: &str = "rumesh@corp.example";

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str], names: &[&str]) -> PolicyRule {
    let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
    PolicyRule {
        api_groups: strings(groups),
        resources: strings(resources),
        verbs: strings(verbs),
        resource_names: strings(names),
    }
}

#[test]
fn the_rbac_manifest_grants_exactly_the_documented_list() {
    let crud = ["get", "list", "create", "patch", "delete"];
    assert_eq!(
        project_rules(),
        vec![
            rule(
                &["kubeflow.org"],
                &["profiles"],
                &["get", "list", "create", "patch"],
                &[]
            ),
            rule(&[""], &["namespaces"], &["get", "list", "create"], &[]),
            rule(
                &["rbac.authorization.k8s.io"],
                &["rolebindings"],
                &crud,
                &[]
            ),
            rule(
                &["security.istio.io"],
                &["authorizationpolicies"],
                &crud,
                &[]
            ),
            rule(&["rbac.istio.io"], &["servicerolebindings"], &crud, &[]),
            rule(
                &["rbac.authorization.k8s.io"],
                &["clusterroles"],
                &["bind"],
                &["kubeflow-edit", "kubeflow-view"]
            ),
        ]
    );
    let manifest = std::fs::read_to_string("deploy/rbac.yaml").unwrap();
    assert!(!manifest.contains('*'), "no wildcards");
    assert!(!manifest.contains("cluster-admin") && !manifest.contains("system:masters"));
    assert!(manifest.contains("kind: Group\n    name: kubeflow-profile-manager"));
}

#[tokio::test]
async fn the_fake_cluster_enforces_the_manifest() {
    // Without `bind` on kubeflow-edit the API server refuses the RoleBinding, as EKS would.
    let h = Harness::start_with(&[], |config| {
        let mut rules = project_rules();
        rules.retain(|r| !r.verbs.contains(&"bind".to_string()));
        config.rbac = Some(rules);
    })
    .await;
    assert!(h.sign_in("rumesh", RUMESH, "[ml]").await.is_err());
    assert!(
        h.cluster
            .requests()
            .iter()
            .any(|r| r.status == 403 && r.path.ends_with("/rolebindings"))
    );
    assert!(h.bindings_of(RUMESH).is_empty());
}

fn template() -> Value {
    let text = std::fs::read_to_string("template.yaml").unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn tagged(value: &Value) -> String {
    match value {
        Value::Tagged(t) => format!(
            "{} {}",
            t.tag,
            serde_norway::to_string(&t.value).unwrap().trim()
        ),
        other => serde_norway::to_string(other).unwrap().trim().to_owned(),
    }
}

#[test]
fn the_function_may_describe_only_its_cluster_and_be_invoked_only_by_its_user_pool() {
    let t = template();
    let function = &t["Resources"]["ProfileManagerFunction"]["Properties"];
    assert_eq!(function["Runtime"], "provided.al2023");
    assert_eq!(function["Handler"], "bootstrap");
    assert_eq!(function["Architectures"][0], "arm64");
    assert_eq!(function["MemorySize"], 256, "what the benchmark recommends");
    let timeout = function["Timeout"].as_u64().unwrap();
    assert!(
        (6..=10).contains(&timeout),
        "a little above Cognito's 5 s: {timeout}"
    );
    assert_eq!(function["LoggingConfig"]["LogFormat"], "JSON");
    let policies = function["Policies"].as_sequence().unwrap();
    assert_eq!(policies.len(), 1);
    let statements = policies[0]["Statement"].as_sequence().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Effect"], "Allow");
    assert_eq!(statements[0]["Action"], "eks:DescribeCluster");
    assert_eq!(
        tagged(&statements[0]["Resource"]),
        "!Sub arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/${ClusterName}"
    );
    let permission = &t["Resources"]["CognitoInvokePermission"]["Properties"];
    assert_eq!(permission["Principal"], "cognito-idp.amazonaws.com");
    assert_eq!(tagged(&permission["SourceArn"]), "!Ref UserPoolArn");
    let entry = &t["Resources"]["ClusterAccessEntry"];
    assert_eq!(entry["Type"], "AWS::EKS::AccessEntry");
    assert_eq!(entry["Condition"], "CreateAccessEntry");
    assert_eq!(
        t["Parameters"]["KubernetesGroup"]["Default"],
        "kubeflow-profile-manager"
    );
    let resources: Vec<&str> = t["Resources"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(
        resources,
        [
            "ProfileManagerFunction",
            "CognitoInvokePermission",
            "ClusterAccessEntry"
        ]
    );
}

#[test]
fn every_setting_is_a_parameter_with_the_codes_default() {
    let t = template();
    let variables =
        t["Resources"]["ProfileManagerFunction"]["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .unwrap();
    let mut defaults: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in variables {
        let name = name.as_str().unwrap().to_owned();
        let reference = tagged(value);
        let parameter = reference
            .strip_prefix("!Ref ")
            .expect("a parameter reference");
        if let Some(default) = t["Parameters"][parameter].get("Default") {
            let default = match default {
                Value::Number(n) => n.to_string(),
                other => other.as_str().unwrap().to_owned(),
            };
            defaults.insert(name, default);
        }
    }
    let expected: Vec<&str> = vec![
        config::CLUSTER_NAME,
        config::GROUPS_CLAIM,
        config::GROUP_PREFIX,
        config::ALLOW_ALL_GROUPS,
        config::DECODE_GROUP_NAMES,
        config::TRUST_STORED_GROUPS,
        config::USERID_HEADER,
        config::USERID_PREFIX,
        config::ISTIO_PRINCIPALS,
        config::USER_ROLE,
        config::GROUP_PROFILE_OWNER,
        config::USER_PROFILE_PREFIX,
        config::USER_PROFILE_QUOTA,
        config::ISTIO_AUTHZ,
        config::PROTECTED_NAMESPACES,
        config::REMOVE_LEGACY_BINDINGS,
        config::FAIL_MODE,
        config::TIME_BUDGET_MS,
        config::DRY_RUN,
        config::SYNC_ON_REFRESH,
    ];
    let mut names: Vec<&str> = variables.keys().map(|k| k.as_str().unwrap()).collect();
    let mut wanted = expected.clone();
    names.sort();
    wanted.sort();
    assert_eq!(names, wanted, "every setting is passed to the function");
    // The template's defaults configure the function exactly as the code's own defaults do,
    // once the deployer has made the two choices both require (cluster and allow-list).
    let chosen = [(config::CLUSTER_NAME, "kf"), (config::GROUP_PREFIX, "KF-")];
    let from_template = Config::from_lookup(|name| {
        chosen
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
            .or_else(|| defaults.get(name).cloned())
    })
    .unwrap();
    let from_code = Config::from_pairs(&chosen).unwrap();
    assert_eq!(from_template, from_code);
    // Left at its defaults, neither the template nor the code has an allow-list: both refuse.
    assert!(
        Config::from_lookup(|name| defaults
            .get(name)
            .cloned()
            .or_else(|| { (name == config::CLUSTER_NAME).then(|| "kf".into()) }))
        .is_err()
    );
}

#[test]
fn the_template_refuses_a_stack_without_exactly_one_allow_list() {
    let t = template();
    let assertion = &t["Rules"]["ExactlyOneAllowList"]["Assertions"][0];
    let text = serde_norway::to_string(&assertion["Assert"]).unwrap();
    for parameter in ["GroupPrefix", "AllowAllGroups"] {
        assert!(text.contains(parameter), "{text}");
    }
    let description = assertion["AssertDescription"].as_str().unwrap();
    assert!(description.contains("GroupPrefix") && description.contains("AllowAllGroups=true"));
}
