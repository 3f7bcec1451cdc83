//! Would Istio let a request into a namespace? A model of Istio's authorization, written from
//! its documentation, evaluated over the policies the fake cluster holds:
//!
//! - AuthorizationPolicy (`security.istio.io`, Istio >= 1.4; the only authorization from 1.6):
//!   a DENY policy that matches denies; with no ALLOW policy the request is allowed; otherwise
//!   it is allowed when a rule of an ALLOW policy matches (istio.io, "Authorization Policy",
//!   implicit enablement and evaluation order). A rule matches when each of its `from`, `to`
//!   and `when` present matches; a value matches exactly, or as a prefix (`abc*`), a suffix
//!   (`*abc`) or presence (`*`) (istio.io, "Authorization Policy Conditions").
//! - Istio RBAC (`rbac.istio.io/v1alpha1`, Istio <= 1.5, what Kubeflow 1.2 uses, with
//!   `ClusterRbacConfig` ON_WITH_INCLUSION for Profile namespaces): a request is allowed only
//!   when a ServiceRoleBinding of the namespace has a subject whose properties all match; when
//!   an AuthorizationPolicy applies to the workload, Istio 1.5 uses it instead ("for a given
//!   workload, the v1beta1 version will take precedence"), and Istio 1.6 dropped RBAC (istio.io,
//!   "Migrate pre-Istio 1.4 Alpha security policy to the current APIs").

use serde_json::Value;

/// A request at a namespace's workloads, as its sidecar sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// HTTP headers (names in any case).
    pub headers: Vec<(String, String)>,
    /// The mTLS principal of the caller (`cluster.local/ns/<ns>/sa/<sa>`).
    pub principal: String,
    /// The caller's namespace.
    pub source_namespace: String,
    pub path: String,
}

impl Request {
    /// A request through the ingress gateway `principal` carrying `header: value`.
    pub fn through_gateway(principal: &str, header: &str, value: &str) -> Self {
        let source_namespace = principal
            .split('/')
            .skip_while(|part| *part != "ns")
            .nth(1)
            .unwrap_or("")
            .to_owned();
        Request {
            headers: vec![(header.to_owned(), value.to_owned())],
            principal: principal.to_owned(),
            source_namespace,
            path: "/".to_owned(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of a condition key, if the request has it.
    fn attribute(&self, key: &str) -> Option<&str> {
        if let Some(name) = key
            .strip_prefix("request.headers[")
            .and_then(|k| k.strip_suffix(']'))
        {
            return self.header(name);
        }
        match key {
            "source.namespace" => Some(&self.source_namespace),
            "source.principal" => Some(&self.principal),
            _ => None,
        }
    }
}

/// Istio's string match: exact, prefix `abc*`, suffix `*abc`, presence `*`.
fn matches_value(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return !value.is_empty();
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return value.starts_with(prefix);
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return value.ends_with(suffix);
    }
    pattern == value
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A field's values match when it is absent, or when `value` matches one of them.
fn field_matches(field: Option<&Value>, value: &str) -> bool {
    field.is_none() || strings(field).iter().any(|p| matches_value(p, value))
}

fn source_matches(source: &Value, request: &Request) -> bool {
    field_matches(source.get("principals"), &request.principal)
        && field_matches(source.get("namespaces"), &request.source_namespace)
}

fn rule_matches(rule: &Value, request: &Request) -> bool {
    let from = rule.get("from").and_then(Value::as_array);
    let to = rule.get("to").and_then(Value::as_array);
    let when = rule.get("when").and_then(Value::as_array);
    let from_ok = from.is_none_or(|from| {
        from.iter()
            .any(|f| f.get("source").is_some_and(|s| source_matches(s, request)))
    });
    let to_ok = to.is_none_or(|to| {
        to.iter().any(|t| {
            t.get("operation")
                .is_some_and(|op| field_matches(op.get("paths"), &request.path))
        })
    });
    let when_ok = when.is_none_or(|when| {
        when.iter().all(|condition| {
            let key = condition.get("key").and_then(Value::as_str).unwrap_or("");
            request.attribute(key).is_some_and(|value| {
                field_matches(condition.get("values"), value)
                    && !strings(condition.get("notValues"))
                        .iter()
                        .any(|p| matches_value(p, value))
            })
        })
    });
    from_ok && to_ok && when_ok
}

fn policy_matches(policy: &Value, request: &Request) -> bool {
    policy
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .is_some_and(|rules| rules.iter().any(|r| rule_matches(r, request)))
}

/// AuthorizationPolicy evaluation over the namespace's `policies`.
pub fn authorization_policies_allow(policies: &[Value], request: &Request) -> bool {
    let action = |p: &Value| {
        p.pointer("/spec/action")
            .and_then(Value::as_str)
            .unwrap_or("ALLOW")
            .to_owned()
    };
    if policies
        .iter()
        .any(|p| action(p) == "DENY" && policy_matches(p, request))
    {
        return false;
    }
    let allow: Vec<&Value> = policies.iter().filter(|p| action(p) == "ALLOW").collect();
    allow.is_empty() || allow.iter().any(|p| policy_matches(p, request))
}

/// Istio RBAC evaluation over the namespace's `bindings` (ON_WITH_INCLUSION: deny unless bound).
pub fn service_role_bindings_allow(bindings: &[Value], request: &Request) -> bool {
    bindings.iter().any(|binding| {
        binding
            .pointer("/spec/roleRef/name")
            .and_then(Value::as_str)
            == Some("ns-access-istio")
            && binding
                .pointer("/spec/subjects")
                .and_then(Value::as_array)
                .is_some_and(|subjects| {
                    subjects.iter().any(|subject| {
                        subject
                            .get("properties")
                            .and_then(Value::as_object)
                            .is_some_and(|properties| {
                                properties.iter().all(|(key, pattern)| {
                                    request.attribute(key).is_some_and(|value| {
                                        pattern.as_str().is_some_and(|p| matches_value(p, value))
                                    })
                                })
                            })
                    })
                })
    })
}

#[cfg(test)]
mod tests {
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
}
