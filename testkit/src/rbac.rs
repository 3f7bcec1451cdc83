//! Kubernetes RBAC for the fake API server: the rules of a ClusterRole manifest (the project's
//! `deploy/rbac.yaml`), checked for every request, including the escalation check that creating a
//! RoleBinding needs `bind` on the role it references.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Document {
    kind: String,
    #[serde(default)]
    rules: Vec<PolicyRule>,
}

/// The rules this project's `deploy/rbac.yaml` grants the function.
pub fn project_rules() -> Vec<PolicyRule> {
    cluster_role_rules(include_str!("../../deploy/rbac.yaml")).expect("deploy/rbac.yaml parses")
}

/// The rules with `deploy/rbac-admin.yaml` applied too (the variant that may bind
/// `kubeflow-admin`).
pub fn project_rules_with_admin() -> Vec<PolicyRule> {
    let mut rules = project_rules();
    rules.extend(
        cluster_role_rules(include_str!("../../deploy/rbac-admin.yaml"))
            .expect("deploy/rbac-admin.yaml parses"),
    );
    rules
}

/// The rules of every ClusterRole in a (multi-document) YAML manifest.
pub fn cluster_role_rules(manifest: &str) -> Result<Vec<PolicyRule>, String> {
    let mut rules = Vec::new();
    for document in serde_norway::Deserializer::from_str(manifest) {
        let document = Document::deserialize(document).map_err(|e| e.to_string())?;
        if document.kind == "ClusterRole" {
            rules.extend(document.rules);
        }
    }
    Ok(rules)
}

/// True when `rules` allow `verb` on `group`/`resource` (named `name` for verbs on one object).
/// As in Kubernetes, a rule with resourceNames never allows list or create.
pub fn allows(
    rules: &[PolicyRule],
    group: &str,
    resource: &str,
    verb: &str,
    name: Option<&str>,
) -> bool {
    let matches = |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
    rules.iter().any(|rule| {
        matches(&rule.api_groups, group)
            && matches(&rule.resources, resource)
            && matches(&rule.verbs, verb)
            && (rule.resource_names.is_empty()
                || name.is_some_and(|n| rule.resource_names.iter().any(|r| r == n)))
    })
}

/// The escalation check of a RoleBinding body: `bind` on the ClusterRole it references.
pub fn may_bind(rules: &[PolicyRule], role_binding: &Value) -> bool {
    let role = role_binding
        .pointer("/roleRef/name")
        .and_then(Value::as_str);
    let kind = role_binding
        .pointer("/roleRef/kind")
        .and_then(Value::as_str);
    match (kind, role) {
        (Some("ClusterRole"), Some(role)) => allows(
            rules,
            "rbac.authorization.k8s.io",
            "clusterroles",
            "bind",
            Some(role),
        ),
        _ => false,
    }
}
