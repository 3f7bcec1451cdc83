//! Kubernetes RBAC for the fake API server: the ClusterRoles, Roles and their bindings of a
//! manifest (the project's `deploy/rbac.yaml`), checked for every request by the caller's user
//! name and groups, including the escalation check that creating a RoleBinding needs `bind` on
//! the role it references.
//!
//! As kubernetes/kubernetes `plugin/pkg/auth/authorizer/rbac/rbac.go` (v1.33): a request is
//! allowed when a rule of a ClusterRoleBinding naming the caller allows it, or, for a request
//! in namespace N, a rule of a RoleBinding in N naming the caller (its role a Role of N or a
//! ClusterRole). A list across namespaces or of a cluster-scoped kind only counts cluster-wide
//! bindings.

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

/// Who a request comes from, as the authenticator maps it (for EKS: the access entry of the
/// IAM role's Kubernetes groups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    pub fn new(username: &str, groups: &[&str]) -> Self {
        UserInfo {
            username: username.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    fn is(&self, subject: &Subject) -> bool {
        match subject.kind.as_str() {
            "User" => subject.name == self.username,
            "Group" => self.groups.contains(&subject.name),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Subject {
    kind: String,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct RoleRef {
    kind: String,
    name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    name: String,
    namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    kind: String,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    rules: Vec<PolicyRule>,
    role_ref: Option<RoleRef>,
    #[serde(default)]
    subjects: Vec<Subject>,
}

/// A role: a ClusterRole (`namespace` none) or a Role of one namespace.
#[derive(Debug, Clone)]
struct Role {
    namespace: Option<String>,
    name: String,
    rules: Vec<PolicyRule>,
}

/// A ClusterRoleBinding (`namespace` none) or a RoleBinding.
#[derive(Debug, Clone)]
struct Binding {
    namespace: Option<String>,
    role: RoleRef,
    subjects: Vec<Subject>,
}

/// The RBAC objects of one or more manifests.
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    roles: Vec<Role>,
    bindings: Vec<Binding>,
}

impl Rbac {
    /// What this project's `deploy/rbac.yaml` grants.
    pub fn project() -> Self {
        Self::from_manifests(&[include_str!("../../../../deploy/rbac.yaml")])
            .expect("deploy/rbac.yaml parses")
    }

    /// `deploy/rbac.yaml` with `deploy/rbac-admin.yaml` applied too (the variant that may bind
    /// `kubeflow-admin`).
    pub fn project_with_admin() -> Self {
        Self::from_manifests(&[
            include_str!("../../../../deploy/rbac.yaml"),
            include_str!("../../../../deploy/rbac-admin.yaml"),
        ])
        .expect("deploy/rbac.yaml and deploy/rbac-admin.yaml parse")
    }

    /// The roles and bindings of every (multi-document) YAML manifest.
    pub fn from_manifests(manifests: &[&str]) -> Result<Self, String> {
        let mut rbac = Rbac::default();
        for manifest in manifests {
            for document in serde_norway::Deserializer::from_str(manifest) {
                let document = Document::deserialize(document).map_err(|e| e.to_string())?;
                let namespace = document.metadata.namespace.clone();
                match document.kind.as_str() {
                    "ClusterRole" | "Role" => rbac.roles.push(Role {
                        namespace: namespace.filter(|_| document.kind == "Role"),
                        name: document.metadata.name,
                        rules: document.rules,
                    }),
                    "ClusterRoleBinding" | "RoleBinding" => rbac.bindings.push(Binding {
                        namespace: namespace.filter(|_| document.kind == "RoleBinding"),
                        role: document.role_ref.ok_or("a binding without roleRef")?,
                        subjects: document.subjects,
                    }),
                    _ => {}
                }
            }
        }
        Ok(rbac)
    }

    /// This RBAC with the rules of the ClusterRole or Role `name` changed by `change` (a test
    /// that takes a permission away).
    pub fn with_role(mut self, name: &str, change: impl Fn(&mut Vec<PolicyRule>)) -> Self {
        for role in self.roles.iter_mut().filter(|r| r.name == name) {
            change(&mut role.rules);
        }
        self
    }

    /// The rules of every ClusterRole (what `deploy/rbac.yaml` grants cluster-wide, whoever
    /// it is bound to).
    pub fn cluster_role_rules(&self, name: &str) -> Vec<PolicyRule> {
        self.roles
            .iter()
            .filter(|r| r.namespace.is_none() && r.name == name)
            .flat_map(|r| r.rules.clone())
            .collect()
    }

    /// The rules of the Role `name` in `namespace`.
    pub fn role_rules(&self, namespace: &str, name: &str) -> Vec<PolicyRule> {
        self.roles
            .iter()
            .filter(|r| r.namespace.as_deref() == Some(namespace) && r.name == name)
            .flat_map(|r| r.rules.clone())
            .collect()
    }

    /// The rules that apply to `user` in `namespace` (`None`: cluster-wide only).
    pub fn rules_for(&self, user: &UserInfo, namespace: Option<&str>) -> Vec<PolicyRule> {
        let mut rules = Vec::new();
        for binding in &self.bindings {
            let applies = match &binding.namespace {
                None => true,
                Some(bound) => namespace == Some(bound.as_str()),
            };
            if !applies || !binding.subjects.iter().any(|s| user.is(s)) {
                continue;
            }
            let role_namespace = match binding.role.kind.as_str() {
                "Role" => binding.namespace.as_deref(),
                _ => None,
            };
            rules.extend(
                self.roles
                    .iter()
                    .filter(|r| {
                        r.name == binding.role.name && r.namespace.as_deref() == role_namespace
                    })
                    .flat_map(|r| r.rules.iter().cloned()),
            );
        }
        rules
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
  - {apiGroups: [''], resources: [namespaces], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: readers}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: writer, namespace: records}
rules:
  - {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: writer, namespace: records}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: writer}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: readers}]
";

    #[test]
    fn bindings_grant_their_roles_to_their_subjects_where_they_are() {
        let rbac = Rbac::from_manifests(&[MANIFEST]).unwrap();
        let reader = UserInfo::new("r", &["readers"]);
        let stranger = UserInfo::new("s", &["others"]);
        let lease = |user: &UserInfo, ns| {
            allows(
                &rbac.rules_for(user, ns),
                "coordination.k8s.io",
                "leases",
                "create",
                None,
            )
        };
        assert!(lease(&reader, Some("records")));
        assert!(
            !lease(&reader, Some("ml")),
            "a Role counts in its namespace only"
        );
        assert!(!lease(&reader, None));
        assert!(!lease(&stranger, Some("records")));
        let list =
            |user: &UserInfo| allows(&rbac.rules_for(user, None), "", "namespaces", "list", None);
        assert!(list(&reader));
        assert!(!list(&stranger));
    }
}
