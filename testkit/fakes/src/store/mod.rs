//! The fake API server's object store: validation, resourceVersion, create/update/apply/delete
//! with field ownership and conflicts, and label/field selectors, the way kube-apiserver does
//! them. Synchronous and pure; the HTTP layer is in `apiserver`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

mod apply;
mod defaults;
mod quantity;
mod selection;
mod storage;
mod validation;

use apply::*;
use validation::*;
pub use validation::{is_dns_label, is_dns_subdomain};

/// How an object's name is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// DNS-1123 label (namespaces, Profiles).
    Label,
    /// DNS-1123 subdomain (most other objects).
    Subdomain,
    /// Any path segment name (RBAC objects): not empty, no `/` or `%`, not `.` or `..`.
    PathSegment,
}

/// A resource the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub group: &'static str,
    pub versions: &'static [&'static str],
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub names: NameRule,
    /// Served by kube-apiserver itself (not a custom resource).
    pub builtin: bool,
}

pub const NAMESPACES: Resource = Resource {
    group: "",
    versions: &["v1"],
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    namespaced: false,
    names: NameRule::Label,
    builtin: true,
};
pub const ROLEBINDINGS: Resource = Resource {
    group: "rbac.authorization.k8s.io",
    versions: &["v1"],
    plural: "rolebindings",
    singular: "rolebinding",
    kind: "RoleBinding",
    namespaced: true,
    names: NameRule::PathSegment,
    builtin: true,
};
pub const CLUSTER_ROLES: Resource = Resource {
    group: "rbac.authorization.k8s.io",
    versions: &["v1"],
    plural: "clusterroles",
    singular: "clusterrole",
    kind: "ClusterRole",
    namespaced: false,
    names: NameRule::PathSegment,
    builtin: true,
};
pub const PROFILES: Resource = Resource {
    group: "kubeflow.org",
    versions: &["v1", "v1beta1"],
    plural: "profiles",
    singular: "profile",
    kind: "Profile",
    namespaced: false,
    names: NameRule::Label,
    builtin: false,
};
pub const AUTHORIZATION_POLICIES: Resource = Resource {
    group: "security.istio.io",
    versions: &["v1beta1", "v1"],
    plural: "authorizationpolicies",
    singular: "authorizationpolicy",
    kind: "AuthorizationPolicy",
    namespaced: true,
    names: NameRule::Subdomain,
    builtin: false,
};
pub const SERVICE_ROLE_BINDINGS: Resource = Resource {
    group: "rbac.istio.io",
    versions: &["v1alpha1"],
    plural: "servicerolebindings",
    singular: "servicerolebinding",
    kind: "ServiceRoleBinding",
    namespaced: true,
    names: NameRule::Subdomain,
    builtin: false,
};

/// `coordination.k8s.io/v1` Leases (kubernetes/api v0.33 `coordination/v1/types.go`): where the
/// function records when each person was last seen, in a namespace of its own.
pub const LEASES: Resource = Resource {
    group: "coordination.k8s.io",
    versions: &["v1"],
    plural: "leases",
    singular: "lease",
    kind: "Lease",
    namespaced: true,
    names: NameRule::Subdomain,
    builtin: true,
};

/// Kubeflow `kubeflow.org/v1alpha1` PodDefaults, a CRD (kubeflow/manifests v1.10.2
/// `applications/admission-webhook/upstream/base/crd.yaml`: `scope: Namespaced`, plural
/// `poddefaults`); validated against its schema in `defaults.rs`.
pub const PODDEFAULTS: Resource = Resource {
    group: "kubeflow.org",
    versions: &["v1alpha1"],
    plural: "poddefaults",
    singular: "poddefault",
    kind: "PodDefault",
    namespaced: true,
    names: NameRule::Subdomain,
    builtin: false,
};

/// Core `v1` LimitRanges (kubernetes/api v0.33.0 `core/v1/types.go`; names are DNS subdomains,
/// `ValidateLimitRangeName`); decoded, defaulted and validated in `defaults.rs`.
pub const LIMITRANGES: Resource = Resource {
    group: "",
    versions: &["v1"],
    plural: "limitranges",
    singular: "limitrange",
    kind: "LimitRange",
    namespaced: true,
    names: NameRule::Subdomain,
    builtin: true,
};

/// `admissionregistration.k8s.io/v1` ValidatingAdmissionPolicies and their bindings (served
/// since Kubernetes 1.30): stored, so that the doctor can see them; what they enforce is
/// [`crate::apiserver::admission`]'s.
pub const VALIDATING_ADMISSION_POLICIES: Resource = Resource {
    group: "admissionregistration.k8s.io",
    versions: &["v1"],
    plural: "validatingadmissionpolicies",
    singular: "validatingadmissionpolicy",
    kind: "ValidatingAdmissionPolicy",
    namespaced: false,
    names: NameRule::Subdomain,
    builtin: true,
};
pub const VALIDATING_ADMISSION_POLICY_BINDINGS: Resource = Resource {
    group: "admissionregistration.k8s.io",
    versions: &["v1"],
    plural: "validatingadmissionpolicybindings",
    singular: "validatingadmissionpolicybinding",
    kind: "ValidatingAdmissionPolicyBinding",
    namespaced: false,
    names: NameRule::Subdomain,
    builtin: true,
};

/// A Kubernetes `Status` failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// The Status's `details`, when the real server gives some.
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

fn not_found(resource: &Resource, name: &str) -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", qualified(resource)),
    )
}

fn invalid(resource: &Resource, name: &str, causes: &[String]) -> ApiError {
    ApiError::new(
        422,
        "Invalid",
        format!(
            "{} \"{name}\" is invalid: {}",
            resource.kind,
            causes.join(", ")
        ),
    )
}

fn qualified(resource: &Resource) -> String {
    match resource.group {
        "" => resource.plural.to_owned(),
        group => format!("{}.{group}", resource.plural),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Apply,
    Update,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ManagedEntry {
    manager: String,
    operation: Operation,
    fields: BTreeSet<Vec<String>>,
}

#[derive(Debug, Clone)]
struct Stored {
    resource: Resource,
    body: Value,
    managed: Vec<ManagedEntry>,
}

/// An object's place: its resource, namespace and name, ordered as the API server orders the
/// keys `/registry/<resource>/<namespace>/<name>`, the order every list comes in: from etcd a
/// range read of the prefix, answered in key byte order (k8s.io/apiserver v0.34.0, kubernetes
/// v1.34.0's staging copy, `pkg/storage/etcd3/store.go` `GetList`); from the watch cache a
/// B-tree ordered `a.Key < b.Key` (`pkg/storage/cacher/store_btree.go` 145).
type Key = (&'static str, Ns, String);

/// A namespace in a [`Key`]: ordered as `<namespace>/` is, bytewise, so that `team-a/x` comes
/// before `team/y` as in etcd ('-' is below '/'), where plain string order would put `team`
/// first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Ns(String);

impl Ord for Ns {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let path = |ns: &Ns| {
            ns.0.bytes()
                .chain(std::iter::once(b'/'))
                .collect::<Vec<u8>>()
        };
        if self.0 == other.0 {
            std::cmp::Ordering::Equal
        } else {
            path(self).cmp(&path(other))
        }
    }
}

impl PartialOrd for Ns {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq<String> for Ns {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl std::ops::Deref for Ns {
    type Target = String;
    fn deref(&self) -> &String {
        &self.0
    }
}

/// All objects of the fake cluster.
#[derive(Default, Clone)]
pub struct Store {
    objects: BTreeMap<Key, Stored>,
    /// The ValidatingAdmissionPolicies every write by a known caller goes through.
    admission: Option<crate::apiserver::admission::Admission>,
    /// Who the request being served comes from (`None`: the fake's own setup, as an
    /// administrator before any policy, which admission does not see).
    caller: Option<crate::apiserver::rbac::UserInfo>,
    /// The request being served is a dry run.
    dry_run: bool,
    /// The objects that have owners (what the garbage collector looks at).
    owned: BTreeSet<Key>,
    resource_version: u64,
    uids: u64,
    now: String,
    /// The waypoint Gateways (`gatewayClassName: istio-waypoint`) that exist and are ready, as
    /// (namespace, name). Not served through the API (the function never reads them); Istio
    /// routes to a namespace's `istio.io/use-waypoint` only when such a Gateway exists and is
    /// ready (istio/istio 1.30.3 `pilot/pkg/serviceregistry/ambient/waypoints.go` 113-126).
    pub waypoints: std::collections::BTreeSet<(String, String)>,
}

/// Where a request points.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub resource: Resource,
    pub version: &'a str,
    pub namespace: Option<&'a str>,
}

/// One page of a list: at most `limit` items after the object `after` names (namespace, name).
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    pub limit: usize,
    pub after: Option<(&'a str, &'a str)>,
}

impl Store {
    pub fn set_now(&mut self, rfc3339: String) {
        self.now = rfc3339;
    }

    /// Enforces `admission` on every write of a known caller.
    pub fn set_admission(&mut self, admission: Option<crate::apiserver::admission::Admission>) {
        self.admission = admission;
    }

    /// Stores `stored` at `key`, keeping the index of the objects that have owners.
    fn put(&mut self, key: Key, stored: Stored) {
        let owned = stored
            .body
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|owners| !owners.is_empty());
        if owned {
            self.owned.insert(key.clone());
        } else {
            self.owned.remove(&key);
        }
        self.objects.insert(key, stored);
    }

    /// The caller of the request about to be served, and whether it is a dry run.
    pub fn set_caller(&mut self, caller: Option<crate::apiserver::rbac::UserInfo>, dry_run: bool) {
        self.caller = caller;
        self.dry_run = dry_run;
    }

    /// Admission of a write of `caller`'s: the enforced policies' verdict on it.
    fn admit(
        &self,
        operation: &str,
        resource: &Resource,
        key: &Key,
        object: Option<&Value>,
        old_object: Option<&Value>,
    ) -> Result<(), ApiError> {
        let (Some(admission), Some(caller)) = (&self.admission, &self.caller) else {
            return Ok(());
        };
        let namespace = (!key.1.is_empty()).then_some(key.1.as_str());
        let namespace_object = namespace.and_then(|ns| {
            self.objects
                .get(&(NAMESPACES.plural, Ns::default(), ns.to_owned()))
                .map(|n| &n.body)
        });
        admission.review(&crate::apiserver::admission::Review {
            operation,
            user: caller,
            resource,
            version: resource.versions[0],
            namespace,
            name: &key.2,
            object,
            old_object,
            namespace_object,
            dry_run: self.dry_run,
        })
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    fn key(target: &Target, name: &str) -> Key {
        (
            target.resource.plural,
            Ns(target.namespace.unwrap_or("").to_owned()),
            name.to_owned(),
        )
    }

    /// The object as the API returns it for `version`.
    fn render(&self, stored: &Stored, version: &str) -> Value {
        let mut body = stored.body.clone();
        let group = stored.resource.group;
        body["apiVersion"] = json!(if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        });
        body["kind"] = json!(stored.resource.kind);
        let managed: Vec<Value> = stored
            .managed
            .iter()
            .filter(|e| !e.fields.is_empty())
            .map(|e| {
                let mut fields = json!({});
                for path in &e.fields {
                    let prefixed: Vec<String> = path.iter().map(|k| format!("f:{k}")).collect();
                    set_at(&mut fields, &prefixed, json!({}));
                }
                json!({
                    "manager": e.manager,
                    "operation": if e.operation == Operation::Apply { "Apply" } else { "Update" },
                    "apiVersion": body["apiVersion"], "time": self.now,
                    "fieldsType": "FieldsV1", "fieldsV1": fields,
                })
            })
            .collect();
        body["metadata"]["managedFields"] = Value::Array(managed);
        body
    }

    pub fn get(&self, target: &Target, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&Self::key(target, name))
            .map(|s| self.render(s, target.version))
            .ok_or_else(|| not_found(&target.resource, name))
    }

    pub fn exists(&self, resource: &Resource, namespace: Option<&str>, name: &str) -> bool {
        self.objects.contains_key(&(
            resource.plural,
            Ns(namespace.unwrap_or("").to_owned()),
            name.to_owned(),
        ))
    }

    /// Direct access for the simulated controllers and for tests.
    pub fn raw(&self, resource: &Resource, namespace: Option<&str>, name: &str) -> Option<&Value> {
        self.objects
            .get(&(
                resource.plural,
                Ns(namespace.unwrap_or("").to_owned()),
                name.to_owned(),
            ))
            .map(|s| &s.body)
    }

    /// Every object of `resource`, as stored.
    pub fn all(&self, resource: &Resource) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((plural, _, _), _)| *plural == resource.plural)
            .map(|(_, s)| s.body.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
