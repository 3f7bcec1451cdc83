//! The Kubernetes kinds this function reads and writes, and a kind-tagged object. Pure.

use serde_json::Value;

/// The field manager of every write, and the value of `app.kubernetes.io/managed-by`.
pub const MANAGER: &str = "kubeflow-profile-manager";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Label carrying the Cognito `sub` of the person an object was made for (before 0.2: a hash
/// of their email, [`crate::domain::model::names::legacy_user_label_value`]).
pub const USER_LABEL: &str = "kubeflow-profile-manager/user";
/// Label every Profile this function makes carries, with the Profile's name: a sign-in reads the
/// Profiles it needs with one set-based selector on it, whatever the number of other teams.
pub const PROFILE_NAME_LABEL: &str = "kubeflow-profile-manager/profile";
/// Annotation recording the exact name of the AD group a group Profile (and the namespace made
/// ahead of it) belongs to.
pub const GROUP_ANNOTATION: &str = "kubeflow-profile-manager/group";
/// Annotation an administrator may put on a group Profile: that team's `resourceQuotaSpec`
/// (JSON), or `none`, in place of `GROUP_PROFILE_QUOTA`. The function reads it, never writes it.
pub const QUOTA_ANNOTATION: &str = "kubeflow-profile-manager/quota";
/// Annotation of a group Profile recording what became of its role: the IAM role its
/// namespace's `default-editor` was given through EKS Pod Identity, or `existing; asked <role>`
/// when it had an association this function did not make: no later sign-in asks EKS again.
pub const TEAM_ROLE_ANNOTATION: &str = "kubeflow-profile-manager/aws-role";
/// Label the API server puts on every namespace, with the namespace's name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The label the profile controller's namespace-labels ConfigMap gives every Profile namespace
/// (kubeflow/manifests v1.10.2 and v1.11.0
/// `applications/profiles/upstream/base/namespace-labels.yaml`, line 18).
/// KFAM's annotation of a contributor object naming the person (their email) (kubeflow/kubeflow
/// v1.10.0 `components/access-management/kfam/bindings.go`, `USER`).
pub const KFAM_USER_ANNOTATION: &str = "user";
/// KFAM's annotation of a contributor object naming the role (`edit`, `view`, `admin`)
/// (the same file, `ROLE`).
pub const KFAM_ROLE_ANNOTATION: &str = "role";
/// The annotations of a contributor object: KFAM's, naming the person and the role.
pub const CONTRIBUTOR_ANNOTATIONS: [&str; 2] = [KFAM_USER_ANNOTATION, KFAM_ROLE_ANNOTATION];
/// The labels of a contributor object: this function's, and the person's key.
pub const CONTRIBUTOR_LABELS: [&str; 2] = [MANAGED_BY_LABEL, USER_LABEL];
pub const PART_OF_LABEL: &str = "app.kubernetes.io/part-of";
pub const PART_OF_PROFILE: &str = "kubeflow-profile";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Namespace,
    Profile,
    RoleBinding,
    AuthorizationPolicy,
    ServiceRoleBinding,
    /// `coordination.k8s.io` Leases: the function's records of when people were last seen.
    Lease,
    /// Kubeflow's `PodDefault` (admission webhook), a team default (`TEAM_DEFAULTS_FILE`).
    PodDefault,
    /// A core `LimitRange`, a team default (`TEAM_DEFAULTS_FILE`).
    LimitRange,
}

impl Kind {
    /// API group ("" for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Namespace | Kind::LimitRange => "",
            Kind::Profile | Kind::PodDefault => "kubeflow.org",
            Kind::RoleBinding => "rbac.authorization.k8s.io",
            Kind::AuthorizationPolicy => "security.istio.io",
            Kind::ServiceRoleBinding => "rbac.istio.io",
            Kind::Lease => "coordination.k8s.io",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Kind::Namespace
            | Kind::Profile
            | Kind::RoleBinding
            | Kind::Lease
            | Kind::LimitRange => "v1",
            Kind::AuthorizationPolicy => "v1beta1",
            Kind::ServiceRoleBinding | Kind::PodDefault => "v1alpha1",
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
            Kind::Lease => "Lease",
            Kind::PodDefault => "PodDefault",
            Kind::LimitRange => "LimitRange",
        }
    }

    /// True when the plan reads who set the fields of this kind's objects (`managedFields`):
    /// a team's quota is changed only where no one else set it.
    pub fn field_owners_read(self) -> bool {
        self == Kind::Profile
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::Profile => "profiles",
            Kind::RoleBinding => "rolebindings",
            Kind::AuthorizationPolicy => "authorizationpolicies",
            Kind::ServiceRoleBinding => "servicerolebindings",
            Kind::Lease => "leases",
            Kind::PodDefault => "poddefaults",
            Kind::LimitRange => "limitranges",
        }
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

    /// An object of `kind` built as a typed value (a k8s-openapi type or one of
    /// [`crate::domain::model::crds`]), as its JSON body.
    pub fn typed<T: serde::Serialize>(
        kind: Kind,
        namespace: Option<&str>,
        name: &str,
        object: &T,
    ) -> Self {
        let body = serde_json::to_value(object).expect("typed objects serialise to JSON");
        Object::new(kind, namespace, name, body)
    }

    /// An object of `kind` from its JSON body (as the API server returns it), or `None` when
    /// the body has no name.
    pub fn from_body(kind: Kind, body: Value) -> Option<Self> {
        let name = body.pointer("/metadata/name")?.as_str()?.to_owned();
        let namespace = body
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Some(Object {
            kind,
            namespace,
            name,
            body,
        })
    }

    /// `metadata.uid`, set by the API server.
    pub fn uid(&self) -> Option<&str> {
        self.body.pointer("/metadata/uid")?.as_str()
    }

    /// `metadata.labels[key]` or `metadata.annotations[key]` of the body.
    pub fn meta(&self, field: &str, key: &str) -> Option<&str> {
        self.body.get("metadata")?.get(field)?.get(key)?.as_str()
    }

    /// The entries among `keys` of the object's metadata `field` (`labels` or `annotations`),
    /// as a JSON object: what is kept of an object, or applied again, field by field.
    pub fn meta_subset(&self, field: &str, keys: &[&str]) -> Value {
        let entries = self.body.get("metadata").and_then(|m| m.get(field));
        Value::Object(
            keys.iter()
                .filter_map(|key| Some(((*key).to_owned(), entries?.get(*key)?.clone())))
                .collect(),
        )
    }

    /// `patch`, a merge patch of this object as read, with the version read as its precondition:
    /// the API server refuses it (409) once someone else has written the object since.
    pub fn version_guarded(&self, mut patch: Value) -> Value {
        if let Some(version) = self.body.pointer("/metadata/resourceVersion") {
            patch["metadata"]["resourceVersion"] = version.clone();
        }
        patch
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_object_is_read_from_its_body() {
        let body = json!({"metadata": {"name": "x", "namespace": "ml", "uid": "u-1",
                                       "labels": {MANAGED_BY_LABEL: MANAGER}}});
        let object = Object::from_body(Kind::RoleBinding, body).unwrap();
        assert_eq!(object.describe(), "RoleBinding ml/x");
        assert_eq!(object.uid(), Some("u-1"));
        assert!(object.is_managed());
        assert_eq!(
            Object::from_body(Kind::Profile, json!({"metadata": {}})),
            None
        );
    }

    #[test]
    fn api_versions_follow_the_group() {
        assert_eq!(Kind::Namespace.api_version(), "v1");
        assert_eq!(Kind::Profile.api_version(), "kubeflow.org/v1");
        assert_eq!(
            Kind::AuthorizationPolicy.api_version(),
            "security.istio.io/v1beta1"
        );
        assert_eq!(
            Kind::ServiceRoleBinding.api_version(),
            "rbac.istio.io/v1alpha1"
        );
    }
}
