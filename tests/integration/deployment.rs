//! The deployment artefacts grant nothing beyond what the function needs, and carry the same
//! configuration defaults as the code.

use std::collections::BTreeMap;

use crate::harness::Harness;
use kfpm_fakes::apiserver::rbac::{PolicyRule, Rbac, UserInfo, allows};
use kubeflow_profile_manager::domain::config::{self, Config};
use kubeflow_profile_manager::domain::offboarding::sweep::SweepSummary;
use kubeflow_profile_manager::domain::sign_in::metrics::SignInMetrics;
use serde::Deserialize;
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
    let rbac = Rbac::project();
    assert_eq!(
        rbac.cluster_role_rules("kubeflow-profile-manager"),
        vec![
            rule(
                &["kubeflow.org"],
                &["profiles"],
                &["get", "list", "create", "patch"],
                &[]
            ),
            rule(
                &[""],
                &["namespaces"],
                &["get", "list", "create", "patch"],
                &[]
            ),
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
            rule(&["kubeflow.org"], &["poddefaults"], &["create"], &[]),
            rule(&[""], &["limitranges"], &["create"], &[]),
            rule(
                &["rbac.authorization.k8s.io"],
                &["clusterroles"],
                &["bind", "get"],
                &["kubeflow-edit", "kubeflow-view"]
            ),
            rule(
                &["admissionregistration.k8s.io"],
                &[
                    "validatingadmissionpolicies",
                    "validatingadmissionpolicybindings"
                ],
                &["get"],
                &[
                    "kubeflow-profile-manager-marks",
                    "kubeflow-profile-manager-own-writes"
                ]
            ),
        ]
    );
    // The records: the trigger reads, creates and renews a person's Lease, nothing else.
    assert_eq!(
        rbac.role_rules("kubeflow-profile-manager", "kubeflow-profile-manager"),
        vec![rule(
            &["coordination.k8s.io"],
            &["leases"],
            &["get", "create", "patch"],
            &[]
        )]
    );
    // The sweep function: no create, no bind, no write on namespaces or Profiles.
    assert_eq!(
        rbac.cluster_role_rules("kubeflow-profile-manager-sweep"),
        vec![
            rule(&["kubeflow.org"], &["profiles"], &["list"], &[]),
            rule(&[""], &["namespaces"], &["list"], &[]),
            rule(
                &["rbac.authorization.k8s.io"],
                &["rolebindings"],
                &["list", "delete"],
                &[]
            ),
            rule(
                &["security.istio.io"],
                &["authorizationpolicies"],
                &["get", "list", "patch", "delete"],
                &[]
            ),
            rule(
                &["rbac.istio.io"],
                &["servicerolebindings"],
                &["list", "delete"],
                &[]
            ),
        ]
    );
    assert_eq!(
        rbac.role_rules("kubeflow-profile-manager", "kubeflow-profile-manager-sweep"),
        vec![rule(&["coordination.k8s.io"], &["leases"], &crud, &[])]
    );
    // Each function's group holds its own roles only.
    let trigger = UserInfo::new("trigger", &["kubeflow-profile-manager"]);
    let sweep = UserInfo::new("sweep", &["kubeflow-profile-manager-sweep"]);
    let may = |user: &UserInfo, ns: Option<&str>, group: &str, resource: &str, verb: &str| {
        allows(&rbac.rules_for(user, ns), group, resource, verb, None)
    };
    assert!(may(
        &trigger,
        Some("ml"),
        "rbac.authorization.k8s.io",
        "rolebindings",
        "create"
    ));
    assert!(!may(
        &sweep,
        Some("ml"),
        "rbac.authorization.k8s.io",
        "rolebindings",
        "create"
    ));
    assert!(!may(&sweep, None, "", "namespaces", "create"));
    assert!(!may(
        &trigger,
        Some("kubeflow-profile-manager"),
        "coordination.k8s.io",
        "leases",
        "delete"
    ));
    assert!(may(
        &sweep,
        Some("kubeflow-profile-manager"),
        "coordination.k8s.io",
        "leases",
        "delete"
    ));
    assert!(!may(
        &sweep,
        Some("ml"),
        "coordination.k8s.io",
        "leases",
        "list"
    ));
    let manifest = std::fs::read_to_string("deploy/rbac.yaml").unwrap();
    assert!(!manifest.contains('*'), "no wildcards");
    assert!(!manifest.contains("cluster-admin") && !manifest.contains("system:masters"));
    assert!(manifest.contains("kind: Group\n    name: kubeflow-profile-manager\n"));
    assert!(manifest.contains("kind: Group\n    name: kubeflow-profile-manager-sweep\n"));
}

#[test]
fn the_admin_variant_adds_bind_on_kubeflow_admin_only() {
    let with_admin = Rbac::project_with_admin();
    let base = Rbac::project();
    let trigger = UserInfo::new("trigger", &["kubeflow-profile-manager"]);
    let (more, less) = (
        with_admin.rules_for(&trigger, None),
        base.rules_for(&trigger, None),
    );
    assert_eq!(&more[..less.len()], &less[..]);
    assert_eq!(
        &more[less.len()..],
        [rule(
            &["rbac.authorization.k8s.io"],
            &["clusterroles"],
            &["bind", "get"],
            &["kubeflow-admin"]
        )]
    );
    let manifest = std::fs::read_to_string("deploy/rbac-admin.yaml").unwrap();
    assert!(!manifest.contains('*'), "no wildcards");
    assert!(manifest.contains("kind: Group\n    name: kubeflow-profile-manager"));
}

#[tokio::test]
async fn the_fake_cluster_enforces_the_manifest() {
    // Without `bind` on kubeflow-edit the API server refuses the RoleBinding, as EKS would.
    let h = Harness::start_with(&[], |config| {
        config.rbac = Some(
            Rbac::project().with_role("kubeflow-profile-manager", |rules| {
                rules.retain(|r| !r.verbs.contains(&"bind".to_string()));
            }),
        );
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

/// The actions of an IAM policy statement whose `Action` is a list.
fn actions(statement: &Value) -> Vec<&str> {
    statement["Action"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
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
    let shared = &t["Globals"]["Function"];
    assert_eq!(shared["Runtime"], "provided.al2023");
    assert_eq!(shared["Handler"], "bootstrap");
    assert_eq!(shared["Architectures"][0], "arm64");
    assert_eq!(shared["LoggingConfig"]["LogFormat"], "JSON");
    let function = &t["Resources"]["ProfileManagerFunction"]["Properties"];
    assert_eq!(function["MemorySize"], 256, "what the benchmark recommends");
    let timeout = function["Timeout"].as_u64().unwrap();
    assert!(
        (6..=10).contains(&timeout),
        "a little above Cognito's 5 s: {timeout}"
    );
    let policies = function["Policies"].as_sequence().unwrap();
    assert_eq!(policies.len(), 3);
    let statements = policies[0]["Statement"].as_sequence().unwrap();
    // It describes its clusters, and nothing of Cognito: a function that parses Cognito events
    // reads no app client (and so no client secret); make pool-check does, as the operator.
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Effect"], "Allow");
    assert_eq!(statements[0]["Action"], "eks:DescribeCluster");
    assert!(kfpm_fakes::local::TRIGGER_POOL_ACTIONS.is_empty());
    let one_cluster = Stack {
        template: &t,
        given: vec![("ClusterName", Value::from("kf"))],
    };
    assert_eq!(
        one_cluster.evaluate(&statements[0]["Resource"]),
        "arn:aws:eks:eu-west-1:111122223333:cluster/kf"
    );
    // With TeamRoleArn only: the association on its clusters, and the team role passed to Pod
    // Identity and nothing else.
    let Value::Tagged(team) = &policies[1] else {
        panic!("{}", tagged(&policies[1]))
    };
    assert_eq!(team.tag.to_string(), "!If");
    assert_eq!(team.value[0], "HasTeamRole");
    let team_statements = team.value[1]["Statement"].as_sequence().unwrap();
    assert_eq!(team_statements.len(), 3);
    assert_eq!(
        team_statements[0]["Action"],
        "eks:CreatePodIdentityAssociation"
    );
    assert_eq!(
        one_cluster.evaluate(&team_statements[0]["Resource"]),
        "arn:aws:eks:eu-west-1:111122223333:cluster/kf"
    );
    assert_eq!(
        actions(&team_statements[1]),
        ["eks:ListPodIdentityAssociations", "eks:DescribeAddon"]
    );
    let team_statements = &team_statements[1..];
    assert_eq!(team_statements[1]["Action"], "iam:PassRole");
    let with_role = Stack {
        template: &t,
        given: vec![(
            "TeamRoleArn",
            Value::from("arn:aws:iam::111122223333:role/kf-team-{namespace}"),
        )],
    };
    assert_eq!(
        with_role.evaluate(&team_statements[1]["Resource"]),
        "arn:aws:iam::111122223333:role/kf-team-*"
    );
    assert_eq!(
        team_statements[1]["Condition"]["StringEquals"]["iam:PassedToService"],
        "pods.eks.amazonaws.com"
    );
    // The VPC execution role only when the function runs in a VPC.
    assert!(
        tagged(&policies[2]).starts_with("!If - InVpc\n"),
        "{}",
        tagged(&policies[2])
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
            "TeamDefaultsLayer",
            "ProfileManagerFunction",
            "CognitoInvokePermission",
            "ClusterAccessEntry",
            "SweepFunction",
            "SweepAccessEntry",
            "FailedSweepsAlarm",
            "FailedSignInsAlarm",
            "Dashboard"
        ]
    );
}

/// A stack's parameter values (a template default where `given` names none) and what
/// CloudFormation's pseudo parameters are in the tests' account and region.
struct Stack<'t> {
    template: &'t Value,
    given: Vec<(&'static str, Value)>,
}

impl Stack<'_> {
    fn parameter(&self, name: &str) -> Value {
        match name {
            "AWS::Partition" => return Value::from("aws"),
            "AWS::Region" => return Value::from("eu-west-1"),
            "AWS::AccountId" => return Value::from("111122223333"),
            _ => {}
        }
        if let Some((_, value)) = self.given.iter().find(|(n, _)| *n == name) {
            return value.clone();
        }
        let declared = &self.template["Parameters"][name];
        let default = declared
            .get("Default")
            .unwrap_or_else(|| panic!("{name} has no value"));
        match declared["Type"].as_str() {
            // CloudFormation splits a list parameter's value on commas: "" is [""].
            Some("CommaDelimitedList") => Value::Sequence(
                default
                    .as_str()
                    .unwrap()
                    .split(',')
                    .map(Value::from)
                    .collect(),
            ),
            _ => default.clone(),
        }
    }

    fn condition(&self, name: &str) -> bool {
        self.evaluate(&self.template["Conditions"][name]) == Value::Bool(true)
    }

    fn text(&self, value: &Value) -> String {
        match self.evaluate(value) {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => panic!("not a string: {other:?}"),
        }
    }

    fn substitute(&self, template: &str, variables: &Value) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            let name = &rest[start + 2..end];
            out.push_str(&match variables.get(name) {
                Some(value) => self.text(value),
                None => self.text(&self.parameter(name)),
            });
            rest = &rest[end + 1..];
        }
        out + rest
    }

    /// CloudFormation's intrinsic functions, as far as the template uses them
    /// (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html):
    /// a `!GetAtt` stays a placeholder, `!Ref AWS::NoValue` is `Null`.
    fn evaluate(&self, value: &Value) -> Value {
        let Value::Tagged(tagged) = value else {
            return match value {
                Value::Sequence(items) => Value::Sequence(
                    items
                        .iter()
                        .map(|item| self.evaluate(item))
                        .filter(|item| !item.is_null())
                        .collect(),
                ),
                other => other.clone(),
            };
        };
        let arguments = &tagged.value;
        let nth = |i: usize| self.evaluate(&arguments[i]);
        match tagged.tag.to_string().as_str() {
            "!Ref" if arguments.as_str() == Some("AWS::NoValue") => Value::Null,
            "!Ref" => self.parameter(arguments.as_str().unwrap()),
            "!GetAtt" => Value::from(format!("<{}>", arguments.as_str().unwrap())),
            "!Join" => {
                let parts: Vec<String> = nth(1)
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|part| self.text(part))
                    .collect();
                Value::from(parts.join(arguments[0].as_str().unwrap()))
            }
            "!Split" => Value::Sequence(
                self.text(&arguments[1])
                    .split(arguments[0].as_str().unwrap())
                    .map(Value::from)
                    .collect(),
            ),
            "!Select" => {
                let index = self.text(&arguments[0]).parse::<usize>().unwrap();
                nth(1)[index].clone()
            }
            "!Sub" => match arguments {
                Value::String(template) => Value::from(self.substitute(template, &Value::Null)),
                _ => Value::from(self.substitute(arguments[0].as_str().unwrap(), &arguments[1])),
            },
            "!If" => {
                if self.condition(arguments[0].as_str().unwrap()) {
                    nth(1)
                } else {
                    nth(2)
                }
            }
            "!Condition" => Value::Bool(self.condition(arguments.as_str().unwrap())),
            "!Equals" => Value::Bool(
                nth(0) == nth(1) || self.text(&arguments[0]) == self.text(&arguments[1]),
            ),
            "!Not" => Value::Bool(nth(0) != Value::Bool(true)),
            "!And" => Value::Bool(
                (0..arguments.as_sequence().unwrap().len()).all(|i| nth(i) == Value::Bool(true)),
            ),
            "!Or" => Value::Bool(
                (0..arguments.as_sequence().unwrap().len()).any(|i| nth(i) == Value::Bool(true)),
            ),
            other => panic!("the test's evaluator does not know {other}"),
        }
    }

    /// The resources that exist in this stack (their `Condition` holds).
    fn resources(&self) -> Vec<String> {
        self.template["Resources"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(_, resource)| {
                resource
                    .get("Condition")
                    .is_none_or(|c| self.condition(c.as_str().unwrap()))
            })
            .map(|(name, _)| name.as_str().unwrap().to_owned())
            .collect()
    }
}

fn arns(list: &[&str]) -> Value {
    Value::Sequence(list.iter().map(|a| Value::from(*a)).collect())
}

#[test]
fn several_clusters_get_the_permission_each_needs_as_plain_lists_sam_build_can_build() {
    let t = template();
    // No language extension: SAM CLI's `sam build` cannot build Fn::ForEach (CI runs it).
    assert_eq!(t["Transform"], "AWS::Serverless-2016-10-31");
    assert!(
        t["Resources"]
            .as_mapping()
            .unwrap()
            .keys()
            .all(|name| !name.as_str().unwrap().starts_with("Fn::ForEach")),
        "no Fn::ForEach"
    );
    let dr = "arn:aws:eks:us-west-2:111122223333:cluster/kf-dr";
    let two = "arn:aws:eks:eu-west-1:111122223333:cluster/kf-two";
    let here = "arn:aws:eks:eu-west-1:111122223333:cluster/kf";
    for (more, described, clusters) in [
        (arns(&[""]), vec![here], vec!["kf"]),
        (
            arns(&[two, dr]),
            vec![here, two, dr],
            vec!["kf", "eu-west-1/kf-two", "us-west-2/kf-dr"],
        ),
    ] {
        let stack = Stack {
            template: &t,
            given: vec![
                ("ClusterName", Value::from("kf")),
                ("MoreClusterArns", more),
            ],
        };
        // The function is told every cluster, and reads them as the stack names them.
        let cluster_name =
            stack.text(&t["Globals"]["Function"]["Environment"]["Variables"]["CLUSTER_NAME"]);
        let config = Config::from_pairs(&[
            (config::CLUSTER_NAME, cluster_name.as_str()),
            (config::GROUP_PREFIX, "KF-"),
        ])
        .unwrap();
        let labels: Vec<String> = config.clusters.targets.iter().map(|c| c.label()).collect();
        assert_eq!(labels, clusters, "{cluster_name}");
        // Both roles may describe exactly those clusters.
        for function in ["ProfileManagerFunction", "SweepFunction"] {
            let statement = &t["Resources"][function]["Properties"]["Policies"][0]["Statement"][0];
            assert_eq!(statement["Action"], "eks:DescribeCluster");
            let resource = stack.evaluate(&statement["Resource"]);
            let resource: Vec<&str> = match &resource {
                Value::String(one) => vec![one.as_str()],
                list => list
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap())
                    .collect(),
            };
            assert_eq!(resource, described, "{function}");
        }
        // The stack makes the two access entries of ClusterName, and no others (those of more
        // clusters are made by hand: README, Several clusters).
        let entries: Vec<String> = stack
            .resources()
            .into_iter()
            .filter(|r| t["Resources"][r.as_str()]["Type"] == "AWS::EKS::AccessEntry")
            .collect();
        assert_eq!(entries, ["ClusterAccessEntry", "SweepAccessEntry"]);
    }
    let refused = t["Parameters"]["MoreClusterArns"]["AllowedPattern"]
        .as_str()
        .unwrap();
    assert!(refused.starts_with("^$|^arn:aws"), "{refused}");
}

#[test]
fn no_reserved_concurrency_unless_asked_so_a_new_account_can_deploy() {
    // Lambda refuses a reservation that leaves fewer than 10 unreserved executions, and a new
    // account's limit is 10 (docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
    let t = template();
    for (given, trigger, sweep) in [
        (vec![], Value::Null, Value::Null),
        (
            vec![
                ("ReservedConcurrency", Value::from(50)),
                ("SweepReservedConcurrency", Value::from(1)),
            ],
            Value::from(50),
            Value::from(1),
        ),
    ] {
        let mut given = given;
        given.push(("ClusterName", Value::from("kf")));
        let stack = Stack {
            template: &t,
            given,
        };
        for (function, expected) in [
            ("ProfileManagerFunction", &trigger),
            ("SweepFunction", &sweep),
        ] {
            let reserved = stack
                .evaluate(&t["Resources"][function]["Properties"]["ReservedConcurrentExecutions"]);
            assert_eq!(&reserved, expected, "{function}");
        }
    }
}

#[test]
fn the_sweep_runs_on_a_schedule_with_its_own_time_and_may_only_ask_the_pool_about_people() {
    let t = template();
    let sweep = &t["Resources"]["SweepFunction"];
    assert_eq!(
        sweep["Metadata"]["BuildProperties"]["Binary"], "kubeflow-profile-manager",
        "the same code as the trigger"
    );
    let sweep = &sweep["Properties"];
    assert_eq!(sweep["Timeout"], 900, "Lambda's longest");
    assert!(
        tagged(&sweep["ReservedConcurrentExecutions"]).contains("OneSweepAtATime"),
        "one at a time when SweepReservedConcurrency=1"
    );
    assert_eq!(sweep["EventInvokeConfig"]["MaximumRetryAttempts"], 0);
    let schedule = &sweep["Events"]["Schedule"];
    assert_eq!(schedule["Type"], "Schedule");
    assert_eq!(
        tagged(&schedule["Properties"]["Schedule"]),
        "!Ref SweepSchedule"
    );
    assert!(tagged(&schedule["Properties"]["State"]).contains("SweepOn"));
    assert_eq!(t["Parameters"]["SweepSchedule"]["Default"], "rate(1 day)");
    // The scheduled input is the sweep command, as the function reads it.
    let input = schedule["Properties"]["Input"].as_str().unwrap();
    assert_eq!(
        kubeflow_profile_manager::domain::router::classify(input),
        kubeflow_profile_manager::domain::router::Invocation::Sweep
    );
    let policies = sweep["Policies"].as_sequence().unwrap();
    let statements = policies[0]["Statement"].as_sequence().unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(statements[0]["Action"], "eks:DescribeCluster");
    assert_eq!(
        actions(&statements[1]),
        kfpm_fakes::local::SWEEP_POOL_ACTIONS.map(|a| format!("cognito-idp:{a}"))
    );
    assert_eq!(tagged(&statements[1]["Resource"]), "!Ref UserPoolArn");
    assert!(tagged(&policies[1]).starts_with("!If - InVpc\n"));
    // The trigger keeps its 6 s and its grants; the sweep's role gets its own access entry.
    let trigger = &t["Resources"]["ProfileManagerFunction"]["Properties"];
    assert_eq!(trigger["Timeout"], 6);
    let entry = &t["Resources"]["SweepAccessEntry"];
    assert_eq!(entry["Condition"], "CreateAccessEntry");
    assert_eq!(
        tagged(&entry["Properties"]["PrincipalArn"]),
        "!GetAtt SweepFunctionRole.Arn"
    );
    assert_eq!(
        tagged(&entry["Properties"]["KubernetesGroups"][0]),
        "!Sub ${KubernetesGroup}-sweep"
    );
    let alarm = &t["Resources"]["FailedSweepsAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"], "AWS/Lambda");
    assert_eq!(
        tagged(&alarm["Dimensions"][0]["Value"]),
        "!Ref SweepFunction"
    );
    assert!(
        tagged(&t["Outputs"]["NextAccessReport"]["Value"]).contains("make access-report FUNCTION=")
    );
}

#[test]
fn every_setting_is_a_parameter_with_the_codes_default() {
    let t = template();
    // Both functions take the one configuration, from Globals; the sweep function adds only
    // which function it is (SAM merges a function's variables into Globals').
    // The trigger adds only where its team defaults are: the layer's file, when the stack
    // packages it (TeamDefaults=true), else empty, the code's default.
    let trigger = &t["Resources"]["ProfileManagerFunction"]["Properties"];
    let trigger_own = trigger["Environment"]["Variables"].as_mapping().unwrap();
    assert_eq!(
        trigger_own.len(),
        1,
        "the trigger's own variables: {trigger_own:?}"
    );
    assert_eq!(
        tagged(&trigger["Environment"]["Variables"][config::TEAM_DEFAULTS_FILE]),
        "!If - HasTeamDefaults\n- /opt/team-defaults.yaml\n- ''"
    );
    assert_eq!(
        tagged(&trigger["Layers"]),
        "!If - HasTeamDefaults\n- - !Ref TeamDefaultsLayer\n- !Ref AWS::NoValue"
    );
    assert_eq!(t["Parameters"]["TeamDefaults"]["Default"], "false");
    let layer = &t["Resources"]["TeamDefaultsLayer"];
    assert_eq!(layer["Condition"], "HasTeamDefaults");
    assert_eq!(layer["Properties"]["ContentUri"], "deploy/team-defaults/");
    assert!(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/team-defaults/team-defaults.yaml")
            .is_file(),
        "the layer holds the file TEAM_DEFAULTS_FILE names"
    );
    let own = &t["Resources"]["SweepFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        own.as_mapping().unwrap().len(),
        1,
        "the sweep function's own variables: {own:?}"
    );
    assert_eq!(own[config::FUNCTION_ROLE], "sweep");
    let variables = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap();
    let mut defaults: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in variables {
        let name = name.as_str().unwrap().to_owned();
        let reference = tagged(value);
        if name == config::CLUSTER_NAME {
            // Every cluster parameter, in order (checked in the several-clusters test).
            defaults.insert(name, "kf".into());
            continue;
        }
        if name == config::USER_POOL_ID {
            // Derived from the pool's ARN, which the permission also needs.
            assert_eq!(
                reference,
                "!Select - 1\n- !Split\n  - /\n  - !Ref UserPoolArn"
            );
            continue;
        }
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
        config::GROUP_PROFILE_QUOTA,
        config::TEAM_ROLE_ARN,
        config::TEAM_ROLE_VIA,
        config::SIGN_IN_GATE,
        config::SIGN_IN_GATE_MESSAGE,
        config::PERSONAL_PROFILES,
        config::EVERYONE_NAMESPACE,
        config::EVERYONE_ROLE,
        config::TOKEN_GROUPS,
        config::TOKEN_GROUPS_CLAIMS,
        config::TOKEN_GROUPS_IN_ACCESS_TOKEN,
        config::SUPPRESS_GROUPS_ATTRIBUTE,
        config::ISTIO_AUTHZ,
        config::PROTECTED_NAMESPACES,
        config::REMOVE_LEGACY_BINDINGS,
        config::FAIL_MODE,
        config::TIME_BUDGET_MS,
        config::DRY_RUN,
        config::SYNC_ON_REFRESH,
        config::USER_POOL_ID,
        config::INACTIVE_DAYS,
        config::GROUP_ROLE_SUFFIXES,
        config::ALLOW_ADMIN_ROLE,
        config::MESH_LABELS,
        config::VIEWER_ACCESS,
        config::SWEEP_POOL_RATE,
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

#[test]
fn the_alarm_and_the_dashboard_watch_metrics_the_function_emits() {
    let t = template();
    let emitted = SignInMetrics::new(None, std::time::Duration::ZERO, 0)
        .emf("kf", std::time::SystemTime::UNIX_EPOCH);
    let namespace = emitted["_aws"]["CloudWatchMetrics"][0]["Namespace"]
        .as_str()
        .unwrap();
    let alarm = &t["Resources"]["FailedSignInsAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"], namespace);
    assert!(emitted.get(alarm["MetricName"].as_str().unwrap()).is_some());
    assert!(tagged(&alarm["AlarmActions"]).contains("NotifyTopic"));
    let body = tagged(&t["Resources"]["Dashboard"]["Properties"]["DashboardBody"]);
    for name in [
        "DurationMs",
        "ApiRequests",
        "GroupsGranted",
        "GroupsRefused",
        "GroupsWithheld",
        "ChangesDeferred",
        "BindingsRevoked",
        "Errors",
    ] {
        assert!(emitted.get(name).is_some(), "{name} is not emitted");
        assert!(
            body.contains(&format!("\"{name}\"")),
            "{name} is not on the dashboard"
        );
    }
    let sweep = SweepSummary::default().emf("kf", std::time::SystemTime::UNIX_EPOCH);
    for name in ["SweepUsers", "SweepRevoked", "SweepLeftForNextRun"] {
        assert!(sweep.get(name).is_some(), "{name} is not emitted");
        assert!(
            body.contains(&format!("\"{name}\"")),
            "{name} is not on the dashboard"
        );
    }
    let shared = &t["Globals"]["Function"];
    assert_eq!(tagged(&shared["Tracing"]), "!Ref Tracing");
    assert!(tagged(&shared["VpcConfig"]).contains("SubnetIds: !Ref VpcSubnetIds"));
    let function = &t["Resources"]["ProfileManagerFunction"]["Properties"];
    assert!(tagged(&function["ReservedConcurrentExecutions"]).contains("CapConcurrency"));
    let outputs = &t["Outputs"];
    assert!(tagged(&outputs["NextDoctor"]["Value"]).contains("make doctor FUNCTION="));
    assert!(tagged(&outputs["NextTrigger"]["Value"]).contains("make set-trigger USER_POOL_ID="));
}

/// Runs `script` with `args` against the fake AWS CLI, in a scratch directory `prepare` fills;
/// returns the exit code, what it printed, and the JSON file `recorded` the fake wrote there.
fn with_fake_aws(
    script: &str,
    args: &[&str],
    prepare: impl FnOnce(&std::path::Path),
    recorded: &str,
) -> (i32, String, Option<serde_json::Value>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static RUN: AtomicUsize = AtomicUsize::new(0);
    // Not the system temporary directory, which may be mounted noexec.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "kfpm-fake-aws-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("tests/fixtures/fake-aws", dir.join("aws")).unwrap();
    prepare(&dir);
    let output = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .env("AWS_CLI", dir.join("aws"))
        .env("FAKE_AWS_DIR", &dir)
        .output()
        .unwrap();
    let recorded = std::fs::read_to_string(dir.join(recorded))
        .ok()
        .map(|text| serde_json::from_str(&text).unwrap());
    let printed = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
    (output.status.code().unwrap(), printed, recorded)
}

/// Runs `scripts/set-trigger.py` with `args` over a copy of the recorded DescribeUserPool
/// answer (`adjust` changes it first); returns the exit code, what it printed and the
/// UpdateUserPool input it sent, if any.
fn set_trigger(
    args: &[&str],
    adjust: impl FnOnce(&mut serde_json::Value),
) -> (i32, String, Option<serde_json::Value>) {
    let mut pool: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/describe-user-pool.json").unwrap(),
    )
    .unwrap();
    adjust(&mut pool["UserPool"]);
    with_fake_aws(
        "scripts/set-trigger.py",
        args,
        |dir| std::fs::write(dir.join("pool.json"), pool.to_string()).unwrap(),
        "update.json",
    )
}

/// Runs `scripts/access-report.py` with `args`, the function answering `answer`; returns the exit
/// code, what it printed and the payload it sent.
fn access_report(
    args: &[&str],
    answer: serde_json::Value,
) -> (i32, String, Option<serde_json::Value>) {
    with_fake_aws(
        "scripts/access-report.py",
        args,
        |dir| std::fs::write(dir.join("answer.json"), answer.to_string()).unwrap(),
        "payload.json",
    )
}

#[test]
fn the_access_report_script_asks_for_the_filters_and_prints_json_or_csv() {
    let csv = "kind,user\r\naccess,jane@corp.example\r\n";
    let (code, printed, payload) = access_report(
        &[
            "--function",
            "kfpm-sweep",
            "--user",
            "jane@corp.example",
            "--format",
            "csv",
        ],
        serde_json::json!({"csv": csv}),
    );
    assert_eq!(code, 0, "{printed}");
    assert_eq!(printed, csv);
    assert_eq!(
        payload.unwrap(),
        serde_json::json!({"kubeflow-profile-manager": "access-report", "format": "csv",
                           "user": "jane@corp.example"})
    );
    let report = serde_json::json!({"accesses": [], "inactivePersonalProfiles": []});
    let (code, printed, payload) = access_report(
        &["--function", "kfpm-sweep", "--namespace", "ml"],
        report.clone(),
    );
    assert_eq!(code, 0, "{printed}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&printed).unwrap(),
        report
    );
    assert_eq!(payload.unwrap()["namespace"], "ml");
    let (code, printed, _) = access_report(
        &["--function", "kfpm-sweep"],
        serde_json::json!({"errorType": "CommandFailed", "errorMessage": "access-report: no cluster"}),
    );
    assert_eq!(code, 1);
    assert!(printed.contains("no cluster"), "{printed}");
}

#[test]
fn the_access_report_script_asks_for_every_page_and_prints_them_as_one() {
    let pages = |answers: serde_json::Value, args: &[&str]| {
        with_fake_aws(
            "scripts/access-report.py",
            args,
            |dir| std::fs::write(dir.join("answers.json"), answers.to_string()).unwrap(),
            "payload.json",
        )
    };
    let header = "kind,cluster,namespace,name\r\n";
    let answers = serde_json::json!([
        {"csv": format!("{header}access,kf,ml,a\r\n"), "next": "a|0|ml|a"},
        {"csv": format!("{header}access,kf,ml,b\r\n"), "next": null},
    ]);
    let dir_args = ["--function", "kfpm-sweep", "--format", "csv"];
    let (code, printed, last) = pages(answers, &dir_args);
    assert_eq!(code, 0, "{printed}");
    assert_eq!(
        printed,
        format!("{header}access,kf,ml,a\r\naccess,kf,ml,b\r\n")
    );
    assert_eq!(
        last.unwrap()["after"],
        "a|0|ml|a",
        "the second page starts after the first"
    );
    let answers = serde_json::json!([
        {"accesses": [{"binding": "a"}], "inactivePersonalProfiles": [], "next": "a|0|ml|a"},
        {"accesses": [{"binding": "b"}], "inactivePersonalProfiles": [{"profile": "p"}], "next": null},
    ]);
    let (code, printed, _) = pages(answers, &["--function", "kfpm-sweep"]);
    assert_eq!(code, 0, "{printed}");
    let joined: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(
        joined["accesses"],
        serde_json::json!([{"binding": "a"}, {"binding": "b"}])
    );
    assert_eq!(
        joined["inactivePersonalProfiles"],
        serde_json::json!([{"profile": "p"}])
    );
    assert!(joined.get("next").is_none());
}

const POOL: &str = "eu-west-1_AbC123xyz";
const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-1:111122223333:function:kfpm";

#[test]
fn the_trigger_script_sets_the_trigger_and_sends_back_every_other_setting() {
    let (code, printed, update) = set_trigger(
        &["--user-pool-id", POOL, "--function-arn", FUNCTION_ARN],
        |_| {},
    );
    assert_eq!(code, 0, "{printed}");
    let update = update.expect("update-user-pool was called");
    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/describe-user-pool.json").unwrap(),
    )
    .unwrap();
    let pool = &recorded["UserPool"];
    // Every setting UpdateUserPool takes is sent back as it was described.
    for key in [
        "Policies",
        "DeletionProtection",
        "AutoVerifiedAttributes",
        "VerificationMessageTemplate",
        "UserAttributeUpdateSettings",
        "MfaConfiguration",
        "EmailConfiguration",
        "UserPoolTags",
        "AccountRecoverySetting",
        "UserPoolTier",
    ] {
        assert_eq!(update[key], pool[key], "{key}");
    }
    assert_eq!(update["UserPoolId"], POOL);
    assert_eq!(update["PoolName"], "corp-kubeflow");
    // What UpdateUserPool does not take (read-only or fixed at creation) is not sent.
    for key in [
        "Id",
        "Arn",
        "Name",
        "SchemaAttributes",
        "UsernameAttributes",
        "UsernameConfiguration",
        "Domain",
        "EstimatedNumberOfUsers",
        "CreationDate",
    ] {
        assert!(update.get(key).is_none(), "{key} was sent");
    }
    // The deprecated twin of TemporaryPasswordValidityDays is dropped; the rest kept.
    assert_eq!(
        update["AdminCreateUserConfig"],
        serde_json::json!({"AllowAdminCreateUserOnly": true})
    );
    // The other triggers stay; the pre token generation trigger is set in both forms.
    let lambdas = &update["LambdaConfig"];
    assert_eq!(
        lambdas["PreAuthentication"],
        pool["LambdaConfig"]["PreAuthentication"]
    );
    assert_eq!(
        lambdas["CustomMessage"],
        pool["LambdaConfig"]["CustomMessage"]
    );
    assert_eq!(lambdas["PreTokenGeneration"], FUNCTION_ARN);
    assert_eq!(
        lambdas["PreTokenGenerationConfig"],
        serde_json::json!({"LambdaVersion": "V1_0", "LambdaArn": FUNCTION_ARN})
    );
    assert!(printed.contains("-> "), "{printed}");
}

#[test]
fn the_trigger_script_refuses_what_the_pool_cannot_take_and_changes_nothing() {
    // V2_0 needs the Essentials or Plus feature plan; the recorded pool is Lite.
    let (code, printed, update) = set_trigger(
        &[
            "--user-pool-id",
            POOL,
            "--function-arn",
            FUNCTION_ARN,
            "--version",
            "V2_0",
        ],
        |_| {},
    );
    assert_eq!(code, 2, "{printed}");
    assert!(printed.contains("Essentials or Plus"), "{printed}");
    assert!(update.is_none());
    // On Essentials it is set, with that version.
    let (code, printed, update) = set_trigger(
        &[
            "--user-pool-id",
            POOL,
            "--function-arn",
            FUNCTION_ARN,
            "--version",
            "V2_0",
        ],
        |pool| pool["UserPoolTier"] = serde_json::json!("ESSENTIALS"),
    );
    assert_eq!(code, 0, "{printed}");
    assert_eq!(
        update.unwrap()["LambdaConfig"]["PreTokenGenerationConfig"]["LambdaVersion"],
        "V2_0"
    );
    // Another function's trigger is replaced only when asked.
    let other = |pool: &mut serde_json::Value| {
        pool["LambdaConfig"]["PreTokenGeneration"] =
            serde_json::json!("arn:aws:lambda:eu-west-1:111122223333:function:python-lambda")
    };
    let (code, printed, update) = set_trigger(
        &["--user-pool-id", POOL, "--function-arn", FUNCTION_ARN],
        other,
    );
    assert_eq!(code, 2, "{printed}");
    assert!(
        printed.contains("python-lambda") && printed.contains("--replace"),
        "{printed}"
    );
    assert!(update.is_none());
    let (code, _, update) = set_trigger(
        &[
            "--user-pool-id",
            POOL,
            "--function-arn",
            FUNCTION_ARN,
            "--replace",
        ],
        other,
    );
    assert_eq!(code, 0);
    assert_eq!(
        update.unwrap()["LambdaConfig"]["PreTokenGeneration"],
        FUNCTION_ARN
    );
    // A dry run sends nothing; an unknown pool is the CLI's error, exit 1.
    let (code, printed, update) = set_trigger(
        &[
            "--user-pool-id",
            POOL,
            "--function-arn",
            FUNCTION_ARN,
            "--dry-run",
        ],
        |_| {},
    );
    assert_eq!(code, 0);
    assert!(
        printed.contains("\"PreTokenGenerationConfig\""),
        "{printed}"
    );
    assert!(update.is_none());
    let (code, printed, _) = set_trigger(
        &[
            "--user-pool-id",
            "eu-west-1_Nope",
            "--function-arn",
            FUNCTION_ARN,
        ],
        |_| {},
    );
    assert_eq!(code, 1, "{printed}");
    assert!(printed.contains("ResourceNotFoundException"), "{printed}");
}

#[test]
fn make_rbac_binds_the_manifests_to_the_stacks_kubernetes_group_and_changes_nothing_else() {
    let rendered = |args: &[&str]| {
        let output = std::process::Command::new("python3")
            .arg("scripts/rbac.py")
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code().unwrap(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let original = std::fs::read_to_string("deploy/rbac.yaml").unwrap()
        + "---\n"
        + &std::fs::read_to_string("deploy/rbac-admin.yaml").unwrap();
    let (code, text, _) = rendered(&["--group", "kf-pm.prod", "--admin"]);
    assert_eq!(code, 0);
    let mut groups = BTreeMap::new();
    for document in serde_norway::Deserializer::from_str(&text) {
        let object = Value::deserialize(document).unwrap();
        if matches!(
            object["kind"].as_str(),
            Some("ClusterRoleBinding" | "RoleBinding")
        ) {
            assert_eq!(object["subjects"][0]["kind"], "Group");
            let group = object["subjects"][0]["name"].as_str().unwrap().to_owned();
            *groups.entry(group).or_insert(0) += 1;
        }
    }
    // The trigger's bindings (cluster, records, admin variant) and the sweep function's.
    assert_eq!(
        groups,
        BTreeMap::from([
            ("kf-pm.prod".to_owned(), 3),
            ("kf-pm.prod-sweep".to_owned(), 2)
        ])
    );
    assert_eq!(
        text.replace(
            "name: kf-pm.prod-sweep\n",
            "name: kubeflow-profile-manager-sweep\n"
        )
        .replace("name: kf-pm.prod\n", "name: kubeflow-profile-manager\n"),
        original,
        "only the subjects change"
    );
    // Without a group, the template's default: the files as they are.
    assert_eq!(
        rendered(&[]).1,
        std::fs::read_to_string("deploy/rbac.yaml").unwrap()
    );
    // The template's KubernetesGroup parameter and the script accept the same names.
    let pattern = kubernetes_group_pattern();
    assert_eq!(pattern, "^[a-z0-9]([-a-z0-9.]{0,55}[a-z0-9])?$");
    let script = std::fs::read_to_string("scripts/rbac.py").unwrap();
    assert!(script.contains(&format!("re.compile(r\"{pattern}\")")));
    let (code, text, error) = rendered(&["--group", "Kubeflow Admins"]);
    assert_eq!((code, text.as_str()), (2, ""));
    assert!(
        error.contains("no Kubernetes group the template accepts"),
        "{error}"
    );
}

fn kubernetes_group_pattern() -> String {
    template()["Parameters"]["KubernetesGroup"]["AllowedPattern"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_crate_is_the_changelogs_newest_release_and_the_upgrade_notes_name_releases() {
    let changelog = std::fs::read_to_string("CHANGELOG.md").unwrap();
    let releases: Vec<&str> = changelog
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .collect();
    assert_eq!(releases.first().copied(), Some(env!("CARGO_PKG_VERSION")));
    let readme = std::fs::read_to_string("README.md").unwrap();
    let named: Vec<&str> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("## Upgrading from version "))
        .map(|rest| rest.split_whitespace().next().unwrap())
        .collect();
    assert!(!named.is_empty());
    for version in named {
        assert!(
            releases
                .iter()
                .any(|r| r.starts_with(&format!("{version}."))),
            "the README names {version}, which the changelog does not release"
        );
    }
}

#[test]
fn make_admission_renders_the_stacks_settings_into_policies_the_fake_enforces() {
    let rendered = |args: &[&str]| {
        let output = std::process::Command::new("python3")
            .args(["scripts/rbac.py", "--admission"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    // As the files are, the defaults; with ADMIN=true, what the test kit enforces for it.
    let manifest = std::fs::read_to_string("deploy/admission.yaml").unwrap();
    assert_eq!(rendered(&[]), manifest);
    let (default, admin) = kfpm_fakes::apiserver::admission::ADMIN_ROLES;
    assert_eq!(rendered(&["--admin"]), manifest.replace(default, admin));
    // Another stack's groups: the policies trust those, and no longer the default ones.
    let text = rendered(&["--group", "kf-pm", "--break-glass", "platform-admins"]);
    assert!(
        text.contains("['kf-pm', 'kf-pm-sweep', 'platform-admins']"),
        "{text}"
    );
    assert!(!text.contains("'kubeflow-profile-manager-sweep'"), "{text}");
    let policies = kfpm_fakes::apiserver::admission::Admission::from_manifest(&text).unwrap();
    let resource = kfpm_fakes::store::ROLEBINDINGS;
    let forged = serde_json::json!({"metadata": {"name": "x", "namespace": "ml",
        "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager"}}});
    let review = |user: &kfpm_fakes::apiserver::rbac::UserInfo| {
        policies.review(&kfpm_fakes::apiserver::admission::Review {
            operation: "DELETE",
            user,
            resource: &resource,
            version: "v1",
            namespace: Some("ml"),
            name: "x",
            object: None,
            old_object: Some(&forged),
            namespace_object: None,
            dry_run: false,
        })
    };
    let break_glass = kfpm_fakes::apiserver::rbac::UserInfo::new("ops", &["platform-admins"]);
    assert!(review(&break_glass).is_ok());
    let default_group =
        kfpm_fakes::apiserver::rbac::UserInfo::new("old", &["kubeflow-profile-manager"]);
    assert!(review(&default_group).is_err());
    // A stack with team defaults and IRSA: exactly what the test kit enforces for it.
    let file = "deploy/team-defaults/team-defaults.yaml";
    let role = "arn:aws:iam::111122223333:role/kf-team-{namespace}";
    let objects: Vec<serde_json::Value> =
        serde_norway::Deserializer::from_str(&std::fs::read_to_string(file).unwrap())
            .map(|document| serde_json::Value::deserialize(document).unwrap())
            .collect();
    let by_test_kit = kfpm_fakes::apiserver::admission::render_irsa_role(
        &kfpm_fakes::apiserver::admission::render_team_defaults(&manifest, &objects),
        role,
    );
    assert_eq!(
        rendered(&["--team-defaults", file, "--irsa-role", role]),
        by_test_kit
    );
    assert!(by_test_kit.contains("\"PodDefault/access-ml-pipeline\":{"));
    // A value that cannot be written into a CEL literal is refused, nothing printed.
    let output = std::process::Command::new("python3")
        .args(["scripts/rbac.py", "--admission", "--break-glass", "x'y"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}
