//! The unit tests of `conventions`. Pure.

use super::*;
use crate::domain::config::test_config;
use serde_json::json;

const OWNER: &str = "alice@corp.example";
const IGW: &str = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";

fn groups(served: &[(&str, &str)]) -> APIGroupList {
    let groups: Vec<_> = served
        .iter()
        .map(|(name, version)| {
            json!({"name": name, "versions": [{"groupVersion": format!("{name}/{version}"), "version": version}]})
        })
        .collect();
    serde_json::from_value(json!({"groups": groups})).unwrap()
}

fn served(kinds: &[Kind]) -> APIGroupList {
    let pairs: Vec<(&str, &str)> = kinds.iter().map(|k| (k.group(), k.version())).collect();
    groups(&pairs)
}

/// `ns-owner-access-istio` as the profile controller writes it: the user rule (with `from`
/// from 1.8 on), then the namespace's own workloads and Knative's probe paths.
fn owner_policy(header: &str, value: &str, principals: Option<&[&str]>) -> Object {
    let mut user_rule =
        json!({"when": [{"key": format!("request.headers[{header}]"), "values": [value]}]});
    if let Some(principals) = principals {
        user_rule["from"] = json!([{"source": {"principals": principals}}]);
    }
    let body = json!({"metadata": {"name": OWNER_POLICY, "namespace": "team"},
    "spec": {"action": "ALLOW", "rules": [
        {"when": [{"key": "source.namespace", "values": ["team"]}]},
        user_rule,
        {"to": [{"operation": {"paths": ["/healthz", "/metrics", "/wait-for-drain"]}}]},
    ]}});
    Object::from_body(Kind::AuthorizationPolicy, body).unwrap()
}

fn owner_binding(header: &str, value: &str) -> Object {
    let body = json!({"metadata": {"name": OWNER_BINDING, "namespace": "team"},
        "spec": {"roleRef": {"kind": "ServiceRole", "name": "ns-access-istio"},
                 "subjects": [{"properties": {format!("request.headers[{header}]"): value}},
                              {"properties": {"source.namespace": "team"}}]}});
    Object::from_body(Kind::ServiceRoleBinding, body).unwrap()
}

fn profiles() -> HashMap<String, Object> {
    let profile =
        json!({"metadata": {"name": "team"}, "spec": {"owner": {"kind": "User", "name": OWNER}}});
    HashMap::from([(
        "team".to_owned(),
        Object::from_body(Kind::Profile, profile).unwrap(),
    )])
}

fn learn(facts: &ClusterFacts, vars: &[(&str, &str)]) -> Conventions {
    let config = test_config(vars);
    let (twins, _) = facts.twins(config.istio.authz).unwrap();
    let mut facts = facts.clone();
    facts.learn_owner(&profiles());
    facts.conventions(twins, &config)
}

#[test]
fn the_istio_kind_follows_what_the_profile_controller_wrote() {
    let both = served(&[Kind::AuthorizationPolicy, Kind::ServiceRoleBinding]);
    let ap_only = served(&[Kind::AuthorizationPolicy]);
    let policy = || Some(owner_policy("kubeflow-userid", OWNER, Some(&[IGW])));
    let binding = || Some(owner_binding("kubeflow-userid", OWNER));
    let cases = [
        // Kubeflow >= 1.3.
        (
            ClusterFacts::new(&ap_only, policy(), None, vec![]),
            vec![Kind::AuthorizationPolicy],
        ),
        // Upgraded from 1.2: both APIs served, only AuthorizationPolicies enforced.
        (
            ClusterFacts::new(&both, policy(), binding(), vec![]),
            vec![Kind::AuthorizationPolicy],
        ),
        // Kubeflow 1.2.
        (
            ClusterFacts::new(&both, None, binding(), vec![]),
            vec![Kind::ServiceRoleBinding],
        ),
        // No Profile namespace yet: security.istio.io when served.
        (
            ClusterFacts::new(&both, None, None, vec![]),
            vec![Kind::AuthorizationPolicy],
        ),
        (
            ClusterFacts::new(&served(&[Kind::ServiceRoleBinding]), None, None, vec![]),
            vec![Kind::ServiceRoleBinding],
        ),
        (ClusterFacts::new(&groups(&[]), None, None, vec![]), vec![]),
    ];
    for (facts, expected) in cases {
        assert_eq!(
            facts.twins(IstioAuthz::Auto).unwrap(),
            (expected, vec![]),
            "{facts:?}"
        );
    }
}

#[test]
fn a_configured_kind_the_cluster_does_not_serve_is_skipped_or_an_error() {
    let facts = ClusterFacts::new(&served(&[Kind::AuthorizationPolicy]), None, None, vec![]);
    assert_eq!(
        facts.twins(IstioAuthz::Both).unwrap(),
        (
            vec![Kind::AuthorizationPolicy],
            vec![Kind::ServiceRoleBinding]
        )
    );
    assert_eq!(
        facts.twins(IstioAuthz::ServiceRoleBinding),
        Err(NotServed {
            wanted: vec![Kind::ServiceRoleBinding]
        })
    );
    assert_eq!(facts.twins(IstioAuthz::None).unwrap(), (vec![], vec![]));
}

#[test]
fn the_user_rule_mirrors_the_owners() {
    let both = served(&[Kind::AuthorizationPolicy, Kind::ServiceRoleBinding]);
    // Kubeflow >= 1.8, a custom header, prefix and gateway.
    let custom = ClusterFacts::new(
        &both,
        Some(owner_policy(
            "x-auth-request-email",
            &format!("accounts.google.com:{OWNER}"),
            Some(&["cluster.local/ns/auth/sa/oauth2-proxy"]),
        )),
        None,
        vec![],
    );
    let learnt = learn(&custom, &[]);
    assert_eq!(learnt.userid_header, "x-auth-request-email");
    assert_eq!(learnt.userid_prefix, "accounts.google.com:");
    assert_eq!(
        learnt.principals,
        Some(vec!["cluster.local/ns/auth/sa/oauth2-proxy".to_owned()])
    );
    assert_eq!(learnt.naming, KfamNaming::Current);
    assert_eq!(
        learnt.userid("bob@corp.example"),
        "accounts.google.com:bob@corp.example"
    );
    // Kubeflow 1.3 to 1.7: no `from`.
    let no_from = ClusterFacts::new(
        &both,
        Some(owner_policy("kubeflow-userid", OWNER, None)),
        None,
        vec![],
    );
    assert_eq!(learn(&no_from, &[]).principals, None);
    // Kubeflow 1.2: the owner's ServiceRoleBinding, KFAM 1.2 names.
    let kf12 = ClusterFacts::new(
        &both,
        None,
        Some(owner_binding("x-user", &format!("p:{OWNER}"))),
        vec![],
    );
    let learnt = learn(&kf12, &[]);
    assert_eq!(
        (learnt.userid_header.as_str(), learnt.userid_prefix.as_str()),
        ("x-user", "p:")
    );
    assert_eq!(learnt.naming, KfamNaming::Kubeflow12);
    assert_eq!(learnt.twins, [Kind::ServiceRoleBinding]);
    // Nothing to learn from: Kubeflow >= 1.8's defaults.
    let fresh = ClusterFacts::new(&both, None, None, vec![]);
    assert_eq!(
        learn(&fresh, &[]),
        Conventions::defaults(vec![Kind::AuthorizationPolicy])
    );
    // Settings win over what is learnt.
    let set = learn(
        &custom,
        &[
            ("USERID_HEADER", "kubeflow-userid"),
            ("USERID_PREFIX", "x:"),
            ("ISTIO_PRINCIPALS", "none"),
        ],
    );
    assert_eq!(
        (set.userid_header.as_str(), set.userid_prefix.as_str()),
        ("kubeflow-userid", "x:")
    );
    assert_eq!(set.principals, None);
}

#[test]
fn the_owner_is_read_once() {
    let both = served(&[Kind::AuthorizationPolicy]);
    let mut facts = ClusterFacts::new(
        &both,
        Some(owner_policy("kubeflow-userid", OWNER, None)),
        None,
        vec![],
    );
    assert_eq!(facts.owner_namespaces(), ["team"]);
    assert!(!facts.learn_owner(&HashMap::new()), "not in what was read");
    assert!(facts.learn_owner(&profiles()));
    assert_eq!(facts.owner.as_deref(), Some(OWNER));
    assert!(
        facts.owner_namespaces().is_empty(),
        "no need to read it again"
    );
    assert!(!facts.learn_owner(&profiles()));
}

#[test]
fn objects_of_ours_of_another_istio_kind_are_read_so_they_can_go() {
    let both = served(&[Kind::AuthorizationPolicy, Kind::ServiceRoleBinding]);
    let upgraded = ClusterFacts::new(&both, None, None, vec![Kind::ServiceRoleBinding]);
    assert_eq!(
        upgraded.binding_kinds(&[Kind::AuthorizationPolicy]),
        [
            Kind::RoleBinding,
            Kind::AuthorizationPolicy,
            Kind::ServiceRoleBinding
        ]
    );
    let fresh = ClusterFacts::new(&both, None, None, vec![]);
    assert_eq!(
        fresh.binding_kinds(&[Kind::AuthorizationPolicy]),
        [Kind::RoleBinding, Kind::AuthorizationPolicy]
    );
}
