//! The Kubernetes kinds this function reads and writes, and a kind-tagged object. Pure.

use serde_json::Value;

/// The field manager of every write, and the value of `app.kubernetes.io/managed-by`.
pub const MANAGER: &str = "kubeflow-profile-manager";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Label carrying the Cognito `sub` of the person an object was made for (before 0.2: a hash
/// of their email, [`crate::names::legacy_user_label_value`]).
pub const USER_LABEL: &str = "kubeflow-profile-manager/user";
/// Annotation recording the exact name of the AD group a group Profile (and the namespace made
/// ahead of it) belongs to.
pub const GROUP_ANNOTATION: &str = "kubeflow-profile-manager/group";
/// Label the API server puts on every namespace, with the namespace's name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Namespace,
    Profile,
    RoleBinding,
    AuthorizationPolicy,
    ServiceRoleBinding,
}

impl Kind {
    /// API group ("" for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Namespace => "",
            Kind::Profile => "kubeflow.org",
            Kind::RoleBinding => "rbac.authorization.k8s.io",
            Kind::AuthorizationPolicy => "security.istio.io",
            Kind::ServiceRoleBinding => "rbac.istio.io",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Kind::Namespace | Kind::Profile | Kind::RoleBinding => "v1",
            Kind::AuthorizationPolicy => "v1beta1",
            Kind::ServiceRoleBinding => "v1alpha1",
        }
    }

    pub fn api_version(self) -> String {
        match self.group() {
            "" => self.version().to_owned(),
            group => format!("{group}/{}", self.version()),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Profile => "Profile",
            Kind::RoleBinding => "RoleBinding",
            Kind::AuthorizationPolicy => "AuthorizationPolicy",
            Kind::ServiceRoleBinding => "ServiceRoleBinding",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::Profile => "profiles",
            Kind::RoleBinding => "rolebindings",
            Kind::AuthorizationPolicy => "authorizationpolicies",
            Kind::ServiceRoleBinding => "servicerolebindings",
        }
    }

    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::Namespace | Kind::Profile)
    }
}

/// An object of a known kind: where it lives and its full JSON body (apiVersion, kind, metadata…).
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub name: String,
    pub body: Value,
}

impl Object {
    pub fn new(kind: Kind, namespace: Option<&str>, name: &str, body: Value) -> Self {
        Object {
            kind,
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
            body,
        }
    }

    /// `metadata.labels[key]` or `metadata.annotations[key]` of the body.
    pub fn meta(&self, field: &str, key: &str) -> Option<&str> {
        self.body.get("metadata")?.get(field)?.get(key)?.as_str()
    }

    pub fn is_managed(&self) -> bool {
        self.meta("labels", MANAGED_BY_LABEL) == Some(MANAGER)
    }

    /// `Kind namespace/name`, for logs.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind.name(), self.name),
            None => format!("{} {}", self.kind.name(), self.name),
        }
    }
}
