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

//! - Whether a policy applies depends on the namespace's data plane, from its labels:
//!   - **sidecar** (`istio-injection=enabled`, or a revision `istio.io/rev`): every policy
//!     without `targetRefs` applies; a policy with `targetRefs` is ignored by sidecars
//!     (istio/istio 1.30.3 `pilot/pkg/model/policyattachment.go` lines 131-135).
//!   - **outside the mesh** (neither sidecar nor ambient): no proxy, nothing is enforced:
//!     every request gets in.
//!   - **ambient** (`istio.io/dataplane-mode=ambient`): ztunnel enforces the policies without
//!     `targetRefs` and never the ones with (`pilot/pkg/serviceregistry/ambient/authorization.go`
//!     lines 419-423); in an ALLOW policy it drops every rule with an HTTP attribute (a `when`
//!     key other than `source.ip`, `source.namespace`, `source.principal`, `destination.ip`,
//!     `destination.port`; `to` operations; `from` request principals), so such a rule never
//!     matches (lines 578-614). A waypoint (`istio.io/use-waypoint=<name>` in the namespace,
//!     ingress routed through it with `istio.io/ingress-use-waypoint=true`, KEP-2676 lines
//!     146-157) enforces only the policies whose `targetRefs` name its Gateway in the same
//!     namespace, never `selector` or namespace-wide ones (policyattachment.go lines 139-147,
//!     184-197), and sees the client's principal; ztunnel then sees the waypoint's
//!     (istio.io `docs/ambient/usage/l4-policy/`: "waypoint proxies do not impersonate src
//!     identity").

use serde_json::Value;

/// How a namespace's workloads are in the mesh, from its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dataplane {
    /// Pods get a sidecar (injection on).
    Sidecar,
    /// Ambient; ingress through this waypoint (its Gateway's name), or straight to ztunnel.
    Ambient { waypoint: Option<String> },
    /// No proxy at the workloads: nothing enforced.
    Outside,
}

/// The data plane of a namespace with these `labels`, whose ready waypoints are
/// `waypoint_exists`. A sidecar wins over ambient: istio-cni leaves a pod with a sidecar out of
/// ambient (istio/istio 1.30.3 `cni/pkg/nodeagent/enablement_selector.go` lines 76-80).
/// Injection by revision (`istio.io/rev`) counts only without `istio-injection`.
pub fn dataplane(
    labels: &Value,
    namespace: &str,
    waypoint_exists: impl Fn(&str) -> bool,
) -> Dataplane {
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    let injected = match label("istio-injection") {
        Some(value) => value == "enabled",
        None => label("istio.io/rev").is_some(),
    };
    if injected {
        return Dataplane::Sidecar;
    }
    if label("istio.io/dataplane-mode") == Some("ambient") {
        let same_namespace =
            label("istio.io/use-waypoint-namespace").is_none_or(|ns| ns == namespace);
        let waypoint = label("istio.io/use-waypoint")
            .filter(|w| {
                same_namespace
                    && label("istio.io/ingress-use-waypoint") == Some("true")
                    && waypoint_exists(w)
            })
            .map(str::to_owned);
        return Dataplane::Ambient { waypoint };
    }
    Dataplane::Outside
}

/// The `when` keys ztunnel can evaluate (authorization.go lines 608-614).
const L4_KEYS: [&str; 5] = [
    "source.ip",
    "source.namespace",
    "source.principal",
    "destination.ip",
    "destination.port",
];

/// True when ztunnel cannot evaluate `rule` (it needs HTTP attributes).
fn is_l7(rule: &Value) -> bool {
    let when_l7 = rule["when"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| !L4_KEYS.contains(&c["key"].as_str().unwrap_or("")));
    // A `to` operation's ports stay L4 (authorization.go lines 491-512, 544-547).
    let to_l7 = rule["to"].as_array().into_iter().flatten().any(|to| {
        [
            "hosts",
            "notHosts",
            "methods",
            "notMethods",
            "paths",
            "notPaths",
        ]
        .iter()
        .any(|k| to["operation"].get(*k).is_some())
    });
    let from_l7 = rule["from"].as_array().into_iter().flatten().any(|f| {
        [
            "requestPrincipals",
            "notRequestPrincipals",
            "remoteIpBlocks",
            "notRemoteIpBlocks",
        ]
        .iter()
        .any(|k| f["source"].get(*k).is_some())
    });
    when_l7 || to_l7 || from_l7
}

fn has_target_refs(policy: &Value) -> bool {
    policy
        .pointer("/spec/targetRefs")
        .and_then(Value::as_array)
        .is_some_and(|refs| !refs.is_empty())
}

/// True when `policy` is attached to the waypoint Gateway `waypoint` of its namespace.
fn targets_waypoint(policy: &Value, waypoint: &str) -> bool {
    policy
        .pointer("/spec/targetRefs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|r| {
            r["kind"] == "Gateway"
                && r["group"] == "gateway.networking.k8s.io"
                && r["name"] == waypoint
                && r.get("namespace")
                    .is_none_or(|ns| *ns == policy["metadata"]["namespace"])
        })
}

/// `policy` as ztunnel holds it: its rules that need HTTP attributes left out. In an ALLOW
/// policy such a rule never matches (authorization.go lines 599-603); in a DENY policy ztunnel
/// skips the match it cannot evaluate, so the rule never fires either (ztunnel `rbac.rs`, which
/// skips empty matches). A policy left with no rule still counts: an ALLOW one then admits
/// nothing.
fn as_ztunnel_sees_it(policy: &Value) -> Value {
    let mut seen = policy.clone();
    if let Some(rules) = seen
        .pointer_mut("/spec/rules")
        .and_then(Value::as_array_mut)
    {
        rules.retain(|r| !is_l7(r));
    }
    seen
}

/// Would `request` reach a workload of `namespace` (data plane `plane`), given the
/// namespace's AuthorizationPolicies?
pub fn workload_admits(
    plane: &Dataplane,
    policies: &[Value],
    namespace: &str,
    request: &Request,
) -> bool {
    let ztunnel = |request: &Request| {
        let seen: Vec<Value> = policies
            .iter()
            .filter(|p| !has_target_refs(p))
            .map(as_ztunnel_sees_it)
            .collect();
        authorization_policies_allow(&seen, request)
    };
    match plane {
        Dataplane::Outside => true,
        Dataplane::Sidecar => {
            let applied: Vec<Value> = policies
                .iter()
                .filter(|p| !has_target_refs(p))
                .cloned()
                .collect();
            authorization_policies_allow(&applied, request)
        }
        Dataplane::Ambient { waypoint: None } => ztunnel(request),
        Dataplane::Ambient {
            waypoint: Some(waypoint),
        } => {
            let attached: Vec<Value> = policies
                .iter()
                .filter(|p| targets_waypoint(p, waypoint))
                .cloned()
                .collect();
            let from_waypoint = Request {
                principal: format!("cluster.local/ns/{namespace}/sa/{waypoint}"),
                source_namespace: namespace.to_owned(),
                ..request.clone()
            };
            authorization_policies_allow(&attached, request) && ztunnel(&from_waypoint)
        }
    }
}

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
    pub method: String,
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
            method: "GET".to_owned(),
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

/// Source fields this model does not evaluate: a rule that uses one never matches here
/// (stricter than Istio for ALLOW, more lenient for DENY, which no Kubeflow policy and no
/// policy of this function's uses).
const UNMODELLED_SOURCE: [&str; 10] = [
    "notPrincipals",
    "notNamespaces",
    "ipBlocks",
    "notIpBlocks",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
    "requestPrincipals",
    "notRequestPrincipals",
    "serviceAccounts",
    "notServiceAccounts",
];

/// Operation fields this model does not evaluate, likewise.
const UNMODELLED_OPERATION: [&str; 6] = [
    "hosts",
    "notHosts",
    "ports",
    "notPorts",
    "notMethods",
    "notPaths",
];

fn source_matches(source: &Value, request: &Request) -> bool {
    !UNMODELLED_SOURCE.iter().any(|k| source.get(*k).is_some())
        && field_matches(source.get("principals"), &request.principal)
        && field_matches(source.get("namespaces"), &request.source_namespace)
}

fn operation_matches(operation: &Value, request: &Request) -> bool {
    !UNMODELLED_OPERATION
        .iter()
        .any(|k| operation.get(*k).is_some())
        && field_matches(operation.get("paths"), &request.path)
        && field_matches(operation.get("methods"), &request.method)
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
                .is_some_and(|op| operation_matches(op, request))
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
mod tests;
