//! The unit tests of `istio`. Pure.

use super::*;
use serde_json::json;

const IGW: &str = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";

fn user_policy(value: &str, from: bool) -> Value {
    let mut rule =
        json!({"when": [{"key": "request.headers[kubeflow-userid]", "values": [value]}]});
    if from {
        rule["from"] = json!([{"source": {"principals": [IGW]}}]);
    }
    json!({"spec": {"rules": [rule]}})
}

#[test]
fn allow_policies_admit_only_what_a_rule_matches() {
    let alice = Request::through_gateway(IGW, "Kubeflow-Userid", "alice@x");
    let bob = Request::through_gateway(IGW, "kubeflow-userid", "bob@x");
    let elsewhere =
        Request::through_gateway("cluster.local/ns/evil/sa/x", "kubeflow-userid", "alice@x");
    assert!(
        authorization_policies_allow(&[], &bob),
        "no ALLOW policy: allowed"
    );
    let policies = [user_policy("alice@x", true)];
    assert!(authorization_policies_allow(&policies, &alice));
    assert!(!authorization_policies_allow(&policies, &bob));
    assert!(
        !authorization_policies_allow(&policies, &elsewhere),
        "from another principal"
    );
    let wildcard = [user_policy("*@x", false)];
    assert!(
        authorization_policies_allow(&wildcard, &bob),
        "a * value is a suffix match"
    );
    assert_eq!(alice.source_namespace, "istio-system");
}

#[test]
fn istio_rbac_admits_bound_subjects_only() {
    let binding = json!({"spec": {"roleRef": {"kind": "ServiceRole", "name": "ns-access-istio"},
        "subjects": [{"properties": {"request.headers[kubeflow-userid]": "alice@x"}}]}});
    let alice = Request::through_gateway(IGW, "kubeflow-userid", "alice@x");
    let bob = Request::through_gateway(IGW, "kubeflow-userid", "bob@x");
    assert!(service_role_bindings_allow(
        std::slice::from_ref(&binding),
        &alice
    ));
    assert!(!service_role_bindings_allow(&[binding], &bob));
    assert!(
        !service_role_bindings_allow(&[], &alice),
        "ON_WITH_INCLUSION: denied unless bound"
    );
}

#[test]
fn ztunnel_drops_what_reads_http_and_a_waypoint_must_exist() {
    let labels = json!({"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint",
                        "istio.io/ingress-use-waypoint": "true"});
    assert_eq!(
        dataplane(&labels, "ml", |_| false),
        Dataplane::Ambient { waypoint: None },
        "a label naming no ready waypoint routes nothing through one"
    );
    assert_eq!(
        dataplane(&labels, "ml", |w| w == "waypoint"),
        Dataplane::Ambient {
            waypoint: Some("waypoint".into())
        }
    );
    let mut both = labels.clone();
    both["istio-injection"] = json!("enabled");
    assert_eq!(dataplane(&both, "ml", |_| true), Dataplane::Sidecar);
    let alice = Request::through_gateway(IGW, "kubeflow-userid", "alice@x");
    let plane = Dataplane::Ambient { waypoint: None };
    // The header rule is dropped: the ALLOW policy admits nobody.
    assert!(!workload_admits(
        &plane,
        &[user_policy("alice@x", true)],
        "ml",
        &alice
    ));
    // A DENY rule on a header never fires at ztunnel.
    let deny = json!({"spec": {"action": "DENY", "rules": [{"when": [
        {"key": "request.headers[kubeflow-userid]", "values": ["alice@x"]}]}]}});
    assert!(workload_admits(&plane, &[deny], "ml", &alice));
    // A port is L4 and stays.
    let by_port = json!({"spec": {"rules": [{"to": [{"operation": {"ports": ["8888"]}}]}]}});
    assert!(!is_l7(&by_port["spec"]["rules"][0]));
}

#[test]
fn a_rule_on_what_the_model_does_not_evaluate_never_matches() {
    let alice = Request::through_gateway(IGW, "kubeflow-userid", "alice@x");
    let post_only = json!({"spec": {"rules": [{"to": [{"operation": {"methods": ["POST"]}}]}]}});
    assert!(
        !authorization_policies_allow(&[post_only], &alice),
        "a GET is not a POST"
    );
    let hosts = json!({"spec": {"rules": [{"to": [{"operation": {"hosts": ["x"]}}]}]}});
    assert!(!authorization_policies_allow(&[hosts], &alice));
}
