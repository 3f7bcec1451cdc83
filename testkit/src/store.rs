//! The fake API server's object store: validation, resourceVersion, create/update/apply/delete
//! with field ownership and conflicts, and label/field selectors, the way kube-apiserver does
//! them. Synchronous and pure; the HTTP layer is in `apiserver`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

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

/// `admissionregistration.k8s.io/v1` ValidatingAdmissionPolicies and their bindings (served
/// since Kubernetes 1.30): stored, so that the doctor can see them; what they enforce is
/// [`crate::admission`]'s.
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
    admission: Option<crate::admission::Admission>,
    /// Who the request being served comes from (`None`: the fake's own setup, as an
    /// administrator before any policy, which admission does not see).
    caller: Option<crate::rbac::UserInfo>,
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

/// Fields the server owns, never a manager.
fn is_server_field(path: &[String]) -> bool {
    match path.first().map(String::as_str) {
        Some("apiVersion" | "kind" | "status") => true,
        Some("metadata") => matches!(
            path.get(1).map(String::as_str),
            Some(
                "name"
                    | "namespace"
                    | "uid"
                    | "resourceVersion"
                    | "creationTimestamp"
                    | "managedFields"
                    | "generation"
                    | "deletionTimestamp"
            )
        ),
        _ => false,
    }
}

/// Leaf paths of a JSON object (lists and scalars are leaves; so is an empty object).
fn leaves(value: &Value, prefix: &mut Vec<String>, out: &mut BTreeSet<Vec<String>>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                prefix.push(key.clone());
                leaves(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {
            if !prefix.is_empty() && !is_server_field(prefix) {
                out.insert(prefix.clone());
            }
        }
    }
}

fn owned_leaves(value: &Value) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    leaves(value, &mut Vec::new(), &mut out);
    out
}

fn value_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

fn set_at(value: &mut Value, path: &[String], leaf: Value) {
    let mut current = value;
    for key in &path[..path.len() - 1] {
        if !current.get(key).is_some_and(Value::is_object) {
            current[key.as_str()] = json!({});
        }
        current = &mut current[key.as_str()];
    }
    current[path[path.len() - 1].as_str()] = leaf;
}

/// Removes the leaf at `path` and any object it leaves empty.
fn remove_at(value: &mut Value, path: &[String]) {
    fn go(value: &mut Value, path: &[String]) -> bool {
        let Some(map) = value.as_object_mut() else {
            return false;
        };
        if path.len() == 1 {
            map.remove(&path[0]);
        } else if let Some(child) = map.get_mut(&path[0])
            && go(child, &path[1..])
        {
            map.remove(&path[0]);
        }
        map.is_empty()
    }
    go(value, path);
}

fn dotted(path: &[String]) -> String {
    format!(".{}", path.join("."))
}

/// The 409 a write with a stale `resourceVersion` gets.
fn modified(resource: &Resource, name: &str) -> ApiError {
    ApiError::new(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            qualified(resource)
        ),
    )
}

/// RFC 7386: members of `patch` replace those of `target`, recursively for objects; `null`
/// removes one.
fn merge_json(target: &mut Value, patch: &Value) {
    let Some(members) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let fields = target.as_object_mut().expect("made an object above");
    for (key, value) in members {
        if value.is_null() {
            fields.remove(key);
        } else {
            merge_json(fields.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

pub fn is_dns_label(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// A label value or the name part of a label/annotation key.
fn is_qualified_name_part(text: &str, allow_empty: bool) -> bool {
    if text.is_empty() {
        return allow_empty;
    }
    let b = text.as_bytes();
    b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn is_qualified_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_qualified_name_part(name, false),
        None => is_qualified_name_part(key, false),
    }
}

fn validate_name(resource: &Resource, name: &str) -> Result<(), String> {
    let ok = match resource.names {
        NameRule::Label => is_dns_label(name),
        NameRule::Subdomain => is_dns_subdomain(name),
        NameRule::PathSegment => {
            !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%'])
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "metadata.name: Invalid value: {name:?}: must be a valid {:?} name",
            resource.names
        ))
    }
}

fn validate_metadata(meta: &Value) -> Vec<String> {
    let mut causes = Vec::new();
    if let Some(labels) = meta.get("labels") {
        match labels.as_object() {
            Some(labels) => {
                for (key, value) in labels {
                    if !is_qualified_key(key) {
                        causes.push(format!("metadata.labels: Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.'"));
                    }
                    match value.as_str() {
                        Some(v) if is_qualified_name_part(v, true) => {}
                        _ => causes.push(format!("metadata.labels: Invalid value: {value}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', at most 63")),
                    }
                }
            }
            None => causes.push("metadata.labels: must be a map of strings".into()),
        }
    }
    if let Some(annotations) = meta.get("annotations") {
        match annotations.as_object() {
            Some(annotations) => {
                for (key, value) in annotations {
                    if !is_qualified_key(key) || !value.is_string() {
                        causes.push(format!("metadata.annotations: Invalid value: {key:?}"));
                    }
                }
            }
            None => causes.push("metadata.annotations: must be a map of strings".into()),
        }
    }
    causes
}

/// Schema checks of the kinds the fake serves.
fn validate_kind(resource: &Resource, body: &Value) -> Vec<String> {
    let mut causes = Vec::new();
    let text = |path: &str| body.pointer(path).and_then(Value::as_str).unwrap_or("");
    match resource.kind {
        "RoleBinding" => {
            if text("/roleRef/apiGroup") != "rbac.authorization.k8s.io" {
                causes.push("roleRef.apiGroup: Unsupported value".into());
            }
            if !matches!(text("/roleRef/kind"), "ClusterRole" | "Role") {
                causes.push("roleRef.kind: Unsupported value".into());
            }
            if text("/roleRef/name").is_empty() {
                causes.push("roleRef.name: Required value".into());
            }
            for subject in body["subjects"].as_array().into_iter().flatten() {
                let kind = subject["kind"].as_str().unwrap_or("");
                let group = subject["apiGroup"].as_str().unwrap_or("");
                let ok = match kind {
                    "User" | "Group" => group == "rbac.authorization.k8s.io",
                    "ServiceAccount" => group.is_empty(),
                    _ => false,
                };
                if !ok || subject["name"].as_str().unwrap_or("").is_empty() {
                    causes.push(format!("subjects: Invalid value: {subject}"));
                }
            }
        }
        "Profile" if text("/spec/owner/kind").is_empty() || text("/spec/owner/name").is_empty() => {
            causes.push("spec.owner: Required value".into());
        }
        "AuthorizationPolicy" => {
            if let Some(action) = body.pointer("/spec/action")
                && !matches!(action.as_str(), Some("ALLOW" | "DENY" | "AUDIT" | "CUSTOM"))
            {
                causes.push("spec.action: Unsupported value".into());
            }
            if body.pointer("/spec/rules").is_some_and(|r| !r.is_array()) {
                causes.push("spec.rules: must be a list".into());
            }
            // istio/api 1.30.3 security/v1beta1/authorization_policy.proto line 273 (the CRD's
            // CEL rule): "only one of targetRefs or selector can be set".
            if body.pointer("/spec/selector").is_some()
                && body.pointer("/spec/targetRefs").is_some()
            {
                causes.push(
                    "spec: Invalid value: only one of targetRefs or selector can be set".into(),
                );
            }
        }
        "Lease" => causes.extend(lease_causes(body)),
        "ServiceRoleBinding" if text("/spec/roleRef/name").is_empty() => {
            causes.push("spec.roleRef.name: Required value".into());
        }
        _ => {}
    }
    causes
}

/// What kube-apiserver refuses in a Lease's spec: `metav1.MicroTime` fields that do not parse
/// as `RFC3339Micro` ("2006-01-02T15:04:05.000000Z07:00", exactly six fractional digits:
/// kubernetes/apimachinery v0.33 `pkg/apis/meta/v1/micro_time.go` UnmarshalJSON), and the checks
/// of kubernetes/kubernetes v1.33 `pkg/apis/coordination/validation/validation.go`
/// `ValidateLeaseSpec` (a positive `leaseDurationSeconds`, non-negative `leaseTransitions`).
fn lease_causes(body: &Value) -> Vec<String> {
    let mut causes = Vec::new();
    for field in ["acquireTime", "renewTime"] {
        if let Some(value) = body.pointer(&format!("/spec/{field}"))
            && !value.as_str().is_some_and(is_micro_time)
        {
            causes.push(format!(
                "spec.{field}: Invalid value: {value}: parsing time as \"2006-01-02T15:04:05.000000Z07:00\""
            ));
        }
    }
    if let Some(duration) = body.pointer("/spec/leaseDurationSeconds")
        && duration.as_i64().is_none_or(|d| d <= 0)
    {
        causes.push("spec.leaseDurationSeconds: Invalid value: must be greater than 0".into());
    }
    if let Some(transitions) = body.pointer("/spec/leaseTransitions")
        && transitions.as_i64().is_none_or(|t| t < 0)
    {
        causes.push(
            "spec.leaseTransitions: Invalid value: must be greater than or equal to 0".into(),
        );
    }
    causes
}

/// `2026-12-06T21:34:37.000000Z` (or with a `+hh:mm` offset): RFC 3339 with exactly six
/// fractional digits.
fn is_micro_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    let zone = &text.get(26..).unwrap_or("");
    bytes.len() >= 27
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19)
        && bytes[19] == b'.'
        && digits(20..26)
        && (*zone == "Z"
            || (zone.len() == 6
                && matches!(zone.as_bytes()[0], b'+' | b'-')
                && zone.as_bytes()[3] == b':'))
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

fn parse_label_selector(selector: &str) -> Result<Vec<Requirement>, ApiError> {
    let bad = || {
        ApiError::new(
            400,
            "BadRequest",
            format!("unable to parse requirement: invalid label selector {selector:?}"),
        )
    };
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in selector.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    let key_ok = |k: &str| is_qualified_key(k);
    let mut requirements = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let requirement = if let Some((key, values)) = part
            .split_once(" notin ")
            .or_else(|| part.split_once(" in "))
        {
            let values = values
                .trim()
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(bad)?
                .split(',')
                .map(|v| v.trim().to_owned())
                .collect::<Vec<_>>();
            if values.iter().any(|v| !is_qualified_name_part(v, true)) {
                return Err(bad());
            }
            let key = key.trim().to_owned();
            if part.contains(" notin ") {
                Requirement::NotIn(key, values)
            } else {
                Requirement::In(key, values)
            }
        } else if let Some((key, value)) = part.split_once("!=") {
            Requirement::NotEquals(key.trim().into(), value.trim().into())
        } else if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
            Requirement::Equals(key.trim().into(), value.trim().into())
        } else if let Some(key) = part.strip_prefix('!') {
            Requirement::NotExists(key.trim().into())
        } else {
            Requirement::Exists(part.into())
        };
        let (Requirement::Equals(key, _)
        | Requirement::NotEquals(key, _)
        | Requirement::In(key, _)
        | Requirement::NotIn(key, _)
        | Requirement::Exists(key)
        | Requirement::NotExists(key)) = &requirement;
        if !key_ok(key) {
            return Err(bad());
        }
        if let Requirement::Equals(_, v) | Requirement::NotEquals(_, v) = &requirement
            && !is_qualified_name_part(v, true)
        {
            return Err(bad());
        }
        requirements.push(requirement);
    }
    Ok(requirements)
}

fn matches_labels(requirements: &[Requirement], body: &Value) -> bool {
    let label = |k: &str| {
        body.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    requirements.iter().all(|r| match r {
        Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
        Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
        Requirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
        Requirement::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
        Requirement::Exists(k) => label(k).is_some(),
        Requirement::NotExists(k) => label(k).is_none(),
    })
}

/// `metadata.name` / `metadata.namespace` field selectors, the only ones custom resources support.
fn parse_field_selector(selector: &str) -> Result<Vec<(String, bool, String)>, ApiError> {
    selector
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|part| {
            let (field, negated, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, false, v)
            } else {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!("invalid field selector {part:?}"),
                ));
            };
            let field = field.trim();
            if field != "metadata.name" && field != "metadata.namespace" {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!("field label not supported: {field}"),
                ));
            }
            Ok((field.to_owned(), negated, value.trim().to_owned()))
        })
        .collect()
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
    pub fn set_admission(&mut self, admission: Option<crate::admission::Admission>) {
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
    pub fn set_caller(&mut self, caller: Option<crate::rbac::UserInfo>, dry_run: bool) {
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
        admission.review(&crate::admission::Review {
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

    /// LIST, in key order (namespace, name). With `page`, at most that many items after the
    /// one `after` names, and the key of the last one when more remain.
    pub fn list(
        &self,
        target: &Target,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
        page: Option<Page<'_>>,
    ) -> Result<(Value, Option<(String, String)>), ApiError> {
        let labels = parse_label_selector(label_selector.unwrap_or(""))?;
        let fields = parse_field_selector(field_selector.unwrap_or(""))?;
        let plural = target.resource.plural;
        let after = page.and_then(|p| p.after);
        let start: Key = match after {
            Some((ns, name)) => (plural, Ns(ns.to_owned()), name.to_owned()),
            None => (plural, Ns::default(), String::new()),
        };
        let limit = page.map_or(usize::MAX, |p| p.limit);
        let from = start.clone();
        let mut matching = self
            .objects
            .range(start..)
            .take_while(|((p, _, _), _)| *p == plural)
            // The range starts at the `after` object itself, which is not part of the page.
            .filter(|(key, _)| after.is_none() || **key != from)
            .filter(|((_, ns, name), _)| {
                target.namespace.is_none_or(|t| t == ns.as_str())
                    && fields.iter().all(|(field, negated, value)| {
                        let actual = if field == "metadata.name" {
                            name
                        } else {
                            &ns.0
                        };
                        (actual == value) != *negated
                    })
            })
            .filter(|(_, stored)| matches_labels(&labels, &stored.body));
        let mut items = Vec::new();
        let mut last = None;
        for ((_, ns, name), stored) in matching.by_ref().take(limit) {
            let mut item = self.render(stored, target.version);
            // kube-apiserver leaves the type out of the items of built-in lists (clients
            // see empty TypeMeta there); custom resources' items keep theirs.
            if target.resource.builtin
                && let Some(fields) = item.as_object_mut()
            {
                fields.remove("apiVersion");
                fields.remove("kind");
            }
            items.push(item);
            last = Some((ns.0.clone(), name.clone()));
        }
        let more = matching.next().is_some();
        let group = target.resource.group;
        let list = json!({
            "apiVersion": if group.is_empty() { target.version.to_owned() } else { format!("{group}/{}", target.version) },
            "kind": format!("{}List", target.resource.kind),
            "metadata": {"resourceVersion": self.resource_version.to_string()},
            "items": items,
        });
        Ok((list, last.filter(|_| more)))
    }

    /// Checks what every write checks: type, name, namespace, metadata, schema, and that the
    /// namespace of a namespaced object exists.
    fn validate(
        &self,
        target: &Target,
        name: Option<&str>,
        body: &Value,
    ) -> Result<String, ApiError> {
        let resource = &target.resource;
        let expected_api_version = if resource.group.is_empty() {
            target.version.to_owned()
        } else {
            format!("{}/{}", resource.group, target.version)
        };
        if body["apiVersion"].as_str() != Some(expected_api_version.as_str())
            || body["kind"].as_str() != Some(resource.kind)
        {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!(
                    "the API version in the data ({}) does not match the expected API version ({expected_api_version}), or the kind is not {}",
                    body["apiVersion"], resource.kind
                ),
            ));
        }
        let body_name = body
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(name) = name
            && body_name != name
        {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "the name of the object does not match the name on the URL",
            ));
        }
        let body_ns = body.pointer("/metadata/namespace").and_then(Value::as_str);
        if resource.namespaced {
            if body_ns.is_some_and(|ns| Some(ns) != target.namespace) {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        } else if body_ns.is_some_and(|ns| !ns.is_empty()) {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "a cluster-scoped object has no namespace",
            ));
        }
        let mut causes = Vec::new();
        if let Err(cause) = validate_name(resource, body_name) {
            causes.push(cause);
        }
        causes.extend(validate_metadata(&body["metadata"]));
        causes.extend(validate_kind(resource, body));
        if !causes.is_empty() {
            return Err(invalid(resource, body_name, &causes));
        }
        if let Some(ns) = target.namespace
            && !self.exists(&NAMESPACES, None, ns)
        {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("namespaces \"{ns}\" not found"),
            ));
        }
        Ok(body_name.to_owned())
    }

    /// kube-apiserver's NamespaceLifecycle admission: nothing new is created in a namespace that
    /// is being deleted (403 Forbidden with the `NamespaceTerminating` cause).
    fn admit_new_content(&self, target: &Target, name: &str) -> Result<(), ApiError> {
        let Some(ns) = target.namespace else {
            return Ok(());
        };
        let terminating = self
            .raw(&NAMESPACES, None, ns)
            .is_some_and(|n| n.pointer("/metadata/deletionTimestamp").is_some());
        if !terminating {
            return Ok(());
        }
        let mut error = ApiError::new(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                qualified(&target.resource)
            ),
        );
        error.details = Some(json!({
            "name": name, "group": target.resource.group, "kind": target.resource.plural,
            "causes": [{"reason": "NamespaceTerminating",
                        "message": format!("namespace {ns} is being terminated"),
                        "field": "metadata.namespace"}],
        }));
        Err(error)
    }

    /// Starts deleting namespace `name`: it keeps existing (its finalizer holds it) but takes
    /// no new content.
    pub fn terminate_namespace(&mut self, name: &str) {
        let key = (NAMESPACES.plural, Ns::default(), name.to_owned());
        if let Some(stored) = self.objects.get_mut(&key) {
            stored.body["metadata"]["deletionTimestamp"] = json!(self.now);
            stored.body["status"]["phase"] = json!("Terminating");
        }
        self.next_version();
    }

    fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// Fills server-set metadata of a new object.
    fn admit_new(
        &mut self,
        resource: &Resource,
        body: &mut Value,
        name: &str,
        namespace: Option<&str>,
    ) {
        self.uids += 1;
        let meta = &mut body["metadata"];
        meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012}", self.uids));
        meta["creationTimestamp"] = json!(self.now);
        meta["generation"] = json!(1);
        if let Some(ns) = namespace {
            meta["namespace"] = json!(ns);
        }
        if resource.kind == "Namespace" {
            meta["labels"]["kubernetes.io/metadata.name"] = json!(name);
            body["spec"] = json!({"finalizers": ["kubernetes"]});
            body["status"] = json!({"phase": "Active"});
        }
    }

    /// POST.
    pub fn create(
        &mut self,
        target: &Target,
        mut body: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        if body.pointer("/metadata/resourceVersion").is_some() {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let name = self.validate(target, None, &body)?;
        let key = Self::key(target, &name);
        if !self.objects.contains_key(&key) {
            self.admit_new_content(target, &name)?;
        }
        if self.objects.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", qualified(&target.resource)),
            ));
        }
        self.admit_new(&target.resource, &mut body, &name, target.namespace);
        self.admit("CREATE", &target.resource, &key, Some(&body), None)?;
        body["metadata"]["resourceVersion"] = json!(self.next_version());
        let stored = Stored {
            resource: target.resource,
            managed: vec![ManagedEntry {
                manager: manager.to_owned(),
                operation: Operation::Update,
                fields: owned_leaves(&body),
            }],
            body,
        };
        let rendered = self.render(&stored, target.version);
        self.put(key, stored);
        Ok(rendered)
    }

    /// PUT: requires the current resourceVersion; `roleRef` of a RoleBinding cannot change.
    pub fn update(
        &mut self,
        target: &Target,
        name: &str,
        body: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        self.validate(target, Some(name), &body)?;
        let key = Self::key(target, name);
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| not_found(&target.resource, name))?;
        match body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            None => {
                return Err(invalid(&target.resource, name, &["metadata.resourceVersion: Invalid value: 0x0: must be specified for an update".into()]));
            }
            Some(rv) if rv != stored.body["metadata"]["resourceVersion"] => {
                return Err(modified(&target.resource, name));
            }
            Some(_) => {}
        }
        let mut next = body;
        if let Some(meta) = next["metadata"].as_object_mut() {
            meta.remove("managedFields");
        }
        for field in ["uid", "creationTimestamp", "generation"] {
            next["metadata"][field] = stored.body["metadata"][field].clone();
        }
        if let Some(ns) = target.namespace {
            next["metadata"]["namespace"] = json!(ns);
        }
        if target.resource.kind == "Namespace" {
            next["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            next["spec"] = stored.body["spec"].clone();
            next["status"] = stored.body["status"].clone();
        }
        self.commit_update(key, next, manager)
    }

    /// PATCH with `application/merge-patch+json` (RFC 7386): the patch merged onto the stored
    /// object. A `metadata.resourceVersion` in it is a precondition (409 when the object
    /// changed); it never creates (404); the name and uid cannot change.
    pub fn merge_patch(
        &mut self,
        target: &Target,
        name: &str,
        patch: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        if !patch.is_object() {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "the merge patch is not a JSON object",
            ));
        }
        let key = Self::key(target, name);
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| not_found(&target.resource, name))?;
        if let Some(rv) = patch.pointer("/metadata/resourceVersion")
            && *rv != stored.body["metadata"]["resourceVersion"]
        {
            return Err(modified(&target.resource, name));
        }
        if let Some(uid) = patch.pointer("/metadata/uid")
            && *uid != stored.body["metadata"]["uid"]
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    stored.body["metadata"]["uid"]
                ),
            ));
        }
        let mut next = self.render(stored, target.version);
        merge_json(&mut next, &patch);
        if next["metadata"]["name"] != json!(name) {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    next["metadata"]["name"]
                ),
            ));
        }
        if let Some(meta) = next["metadata"].as_object_mut() {
            meta.remove("managedFields");
        }
        self.validate(target, Some(name), &next)?;
        let causes = validate_kind(&target.resource, &next);
        if !causes.is_empty() {
            return Err(invalid(&target.resource, name, &causes));
        }
        // Stored as it was written, whatever version this request spoke.
        for field in ["apiVersion", "kind"] {
            match stored.body.get(field) {
                Some(value) => next[field] = value.clone(),
                None => drop(next.as_object_mut().map(|o| o.remove(field))),
            }
        }
        self.commit_update(key, next, manager)
    }

    /// Replaces an object's content, moving ownership of changed fields to `manager`.
    fn commit_update(
        &mut self,
        key: Key,
        mut next: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        let stored = self.objects.get(&key).expect("caller checked").clone();
        if stored.resource.kind == "RoleBinding" && next["roleRef"] != stored.body["roleRef"] {
            return Err(invalid(
                &stored.resource,
                &key.2,
                &["roleRef: Invalid value: cannot change roleRef".into()],
            ));
        }
        next["metadata"]["resourceVersion"] = stored.body["metadata"]["resourceVersion"].clone();
        if next == stored.body {
            return Ok(self.render(&stored, stored.resource.versions[0]));
        }
        self.admit(
            "UPDATE",
            &stored.resource,
            &key,
            Some(&next),
            Some(&stored.body),
        )?;
        let old_leaves = owned_leaves(&stored.body);
        let new_leaves = owned_leaves(&next);
        let changed: BTreeSet<Vec<String>> = new_leaves
            .iter()
            .filter(|p| !old_leaves.contains(*p) || value_at(&stored.body, p) != value_at(&next, p))
            .cloned()
            .collect();
        let mut managed = stored.managed.clone();
        for entry in &mut managed {
            entry
                .fields
                .retain(|p| new_leaves.contains(p) && !changed.contains(p));
        }
        match managed
            .iter_mut()
            .find(|e| e.manager == manager && e.operation == Operation::Update)
        {
            Some(entry) => entry.fields.extend(changed),
            None => managed.push(ManagedEntry {
                manager: manager.to_owned(),
                operation: Operation::Update,
                fields: changed,
            }),
        }
        next["metadata"]["resourceVersion"] = json!(self.next_version());
        if stored.resource.kind != "Namespace" && next.get("spec") != stored.body.get("spec") {
            let generation = stored.body["metadata"]["generation"].as_u64().unwrap_or(1) + 1;
            next["metadata"]["generation"] = json!(generation);
        }
        let updated = Stored {
            resource: stored.resource,
            body: next,
            managed,
        };
        let rendered = self.render(&updated, stored.resource.versions[0]);
        self.put(key, updated);
        Ok(rendered)
    }

    /// Server-side apply (`PATCH` with `application/apply-patch+yaml`).
    pub fn apply(
        &mut self,
        target: &Target,
        name: &str,
        body: Value,
        manager: Option<&str>,
        force: bool,
    ) -> Result<(Value, bool), ApiError> {
        let manager = manager.filter(|m| !m.is_empty()).ok_or_else(|| {
            ApiError::new(
                400,
                "BadRequest",
                "PATCH requests with apply patch require fieldManager",
            )
        })?;
        if body.pointer("/metadata/managedFields").is_some() {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "metadata.managedFields must be nil",
            ));
        }
        self.validate(target, Some(name), &body)?;
        let key = Self::key(target, name);
        let applied = owned_leaves(&body);
        let Some(stored) = self.objects.get(&key).cloned() else {
            if body.pointer("/metadata/resourceVersion").is_some() {
                return Err(not_found(&target.resource, name));
            }
            self.admit_new_content(target, name)?;
            let mut body = body;
            self.admit_new(&target.resource, &mut body, name, target.namespace);
            self.admit("CREATE", &target.resource, &key, Some(&body), None)?;
            body["metadata"]["resourceVersion"] = json!(self.next_version());
            let stored = Stored {
                resource: target.resource,
                body,
                managed: vec![ManagedEntry {
                    manager: manager.to_owned(),
                    operation: Operation::Apply,
                    fields: applied,
                }],
            };
            let rendered = self.render(&stored, target.version);
            self.put(key, stored);
            return Ok((rendered, true));
        };
        if let Some(rv) = body.pointer("/metadata/resourceVersion")
            && *rv != stored.body["metadata"]["resourceVersion"]
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                "the object has been modified",
            ));
        }

        let is_self = |e: &ManagedEntry| e.manager == manager && e.operation == Operation::Apply;
        let mut conflicts = Vec::new();
        for entry in stored.managed.iter().filter(|e| !is_self(e)) {
            for path in applied.intersection(&entry.fields) {
                if value_at(&stored.body, path) != value_at(&body, path) {
                    conflicts.push(format!(
                        "conflict with {:?}: {}",
                        entry.manager,
                        dotted(path)
                    ));
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Apply failed with {} conflict(s): {}",
                    conflicts.len(),
                    conflicts.join("; ")
                ),
            ));
        }

        let mut next = stored.body.clone();
        let previously: BTreeSet<Vec<String>> = stored
            .managed
            .iter()
            .filter(|e| is_self(e))
            .flat_map(|e| e.fields.iter().cloned())
            .collect();
        let mut managed: Vec<ManagedEntry> = stored.managed.clone();
        for entry in managed.iter_mut().filter(|e| !is_self(e)) {
            entry.fields.retain(|p| {
                !(applied.contains(p) && value_at(&stored.body, p) != value_at(&body, p))
            });
        }
        for dropped in previously.difference(&applied) {
            let owned_elsewhere = managed
                .iter()
                .any(|e| !is_self(e) && e.fields.contains(dropped));
            if !owned_elsewhere {
                remove_at(&mut next, dropped);
            }
        }
        for path in &applied {
            if let Some(value) = value_at(&body, path) {
                set_at(&mut next, path, value.clone());
            }
        }
        match managed.iter_mut().find(|e| is_self(e)) {
            Some(entry) => entry.fields = applied,
            None => managed.push(ManagedEntry {
                manager: manager.to_owned(),
                operation: Operation::Apply,
                fields: applied,
            }),
        }
        managed.retain(|e| !e.fields.is_empty());
        if stored.resource.kind == "RoleBinding" && next["roleRef"] != stored.body["roleRef"] {
            return Err(invalid(
                &stored.resource,
                name,
                &["roleRef: Invalid value: cannot change roleRef".into()],
            ));
        }
        let causes = validate_kind(&stored.resource, &next);
        if !causes.is_empty() {
            return Err(invalid(&stored.resource, name, &causes));
        }
        if next == stored.body && managed == stored.managed {
            return Ok((self.render(&stored, target.version), false));
        }
        if next != stored.body {
            next["metadata"]["resourceVersion"] = json!(self.next_version());
            if next.get("spec") != stored.body.get("spec") && stored.resource.kind != "Namespace" {
                let generation = stored.body["metadata"]["generation"].as_u64().unwrap_or(1) + 1;
                next["metadata"]["generation"] = json!(generation);
            }
        } else {
            // Only ownership changed: that is a write too.
            next["metadata"]["resourceVersion"] = json!(self.next_version());
        }
        if next != stored.body {
            self.admit(
                "UPDATE",
                &stored.resource,
                &key,
                Some(&next),
                Some(&stored.body),
            )?;
        }
        let updated = Stored {
            resource: stored.resource,
            body: next,
            managed,
        };
        let rendered = self.render(&updated, target.version);
        self.put(key, updated);
        Ok((rendered, false))
    }

    /// DELETE, honouring `preconditions.uid` / `preconditions.resourceVersion`. Deleting a
    /// namespace deletes what is in it.
    pub fn delete(
        &mut self,
        target: &Target,
        name: &str,
        options: &Value,
    ) -> Result<Value, ApiError> {
        let key = Self::key(target, name);
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| not_found(&target.resource, name))?;
        for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
            if let Some(expected) = options
                .pointer(&format!("/preconditions/{field}"))
                .and_then(Value::as_str)
                && stored.body["metadata"][field].as_str() != Some(expected)
            {
                return Err(ApiError::new(
                    409,
                    "Conflict",
                    format!(
                        "Precondition failed: {label} in precondition: {expected}, {label} in object meta: {}",
                        stored.body["metadata"][field]
                    ),
                ));
            }
        }
        self.admit("DELETE", &target.resource, &key, None, Some(&stored.body))?;
        let rendered = self.render(stored, target.version);
        let uid = stored.body["metadata"]["uid"].as_str().map(str::to_owned);
        self.remove(&key);
        if let Some(uid) = uid {
            self.collect_garbage(target.namespace, uid);
        }
        self.next_version();
        Ok(rendered)
    }

    /// Removes the object at `key`; a namespace takes what is in it.
    fn remove(&mut self, key: &Key) {
        self.owned.remove(key);
        if let Some(removed) = self.objects.remove(key)
            && removed.resource.kind == "Namespace"
        {
            let name = key.2.clone();
            self.objects.retain(|(_, ns, _), _| *ns != name);
            self.owned.retain(|(_, ns, _)| *ns != name);
        }
    }

    /// The garbage collector's background cascading deletion, at once: an object whose
    /// ownerReferences name only owners that are gone is deleted, and so on down (kubernetes.io
    /// "Garbage Collection" and "Use Cascading Deletion": background is the default
    /// propagation; kube-controller-manager `pkg/controller/garbagecollector`). `uid` was just
    /// deleted, from `namespace`: a namespaced owner's dependents are in its own namespace, a
    /// cluster-scoped owner's anywhere ("Owners and Dependents": cross-namespace owner
    /// references are disallowed by design).
    fn collect_garbage(&mut self, namespace: Option<&str>, uid: String) {
        let mut gone_uids: BTreeSet<String> = BTreeSet::new();
        let mut pending = vec![(namespace.map(str::to_owned), uid)];
        while let Some((scope, uid)) = pending.pop() {
            gone_uids.insert(uid.clone());
            let orphaned = |stored: &Stored| {
                let owners = stored
                    .body
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array);
                owners.is_some_and(|owners| {
                    owners.iter().any(|o| o["uid"] == uid.as_str())
                        && owners
                            .iter()
                            .all(|o| o["uid"].as_str().is_none_or(|u| gone_uids.contains(u)))
                })
            };
            // Only objects with owners can be dependents; a namespaced owner's are in its
            // own namespace.
            let dependents: Vec<Key> = self
                .owned
                .iter()
                .filter(|key| scope.as_ref().is_none_or(|ns| key.1 == *ns))
                .filter(|key| self.objects.get(*key).is_some_and(&orphaned))
                .cloned()
                .collect();
            for key in dependents {
                let scope = (!key.1.is_empty()).then(|| key.1.0.clone());
                let uid = self.objects[&key].body["metadata"]["uid"]
                    .as_str()
                    .map(str::to_owned);
                self.remove(&key);
                if let Some(uid) = uid {
                    pending.push((scope, uid));
                }
            }
        }
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

    /// Writes `next` as `manager` would with an update (used by the simulated controllers).
    pub fn controller_update(
        &mut self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        next: Value,
        manager: &str,
    ) {
        let key = (
            resource.plural,
            Ns(namespace.unwrap_or("").to_owned()),
            name.to_owned(),
        );
        if self.objects.contains_key(&key) {
            let _ = self.commit_update(key, next, manager);
        }
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
mod tests {
    use super::*;

    fn target(resource: Resource, namespace: Option<&'static str>) -> Target<'static> {
        Target {
            resource,
            version: resource.versions[0],
            namespace,
        }
    }

    fn store_with_namespace(name: &str) -> Store {
        let mut store = Store::default();
        store
            .create(
                &target(NAMESPACES, None),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
                "test",
            )
            .unwrap();
        store
    }

    fn profile(owner: &str) -> Value {
        json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": {"name": "team"},
               "spec": {"owner": {"kind": "User", "name": owner}}})
    }

    #[test]
    fn apply_conflicts_with_another_managers_field_unless_forced() {
        let mut store = Store::default();
        let t = target(PROFILES, None);
        store
            .apply(&t, "team", profile("a@x"), Some("kubectl"), false)
            .unwrap();
        let err = store
            .apply(&t, "team", profile("b@x"), Some("other"), false)
            .unwrap_err();
        assert_eq!((err.code, err.reason), (409, "Conflict"));
        assert!(err.message.contains(".spec.owner.name"), "{}", err.message);
        // Same value: shared ownership, no conflict, no new resourceVersion.
        let rv = store.resource_version();
        store
            .apply(&t, "team", profile("a@x"), Some("other"), false)
            .unwrap();
        assert!(store.resource_version() > rv, "ownership changed");
        let rv = store.resource_version();
        store
            .apply(&t, "team", profile("a@x"), Some("other"), false)
            .unwrap();
        assert_eq!(store.resource_version(), rv, "a no-op apply moves nothing");
        let (forced, _) = store
            .apply(&t, "team", profile("b@x"), Some("other"), true)
            .unwrap();
        assert_eq!(
            forced["spec"]["owner"]["name"], "b@x",
            "force takes the field over"
        );
    }

    #[test]
    fn lists_come_in_storage_key_order_and_pages_follow_it() {
        // `/registry/rolebindings/team-a/...` sorts before `/registry/rolebindings/team/...`.
        let mut store = store_with_namespace("team");
        store
            .create(
                &target(NAMESPACES, None),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
                "test",
            )
            .unwrap();
        let rb = |name: &str| {
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": name},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "a@x"}]})
        };
        for (ns, name) in [
            ("team", "a"),
            ("team-a", "b"),
            ("team", "c"),
            ("team-a", "d"),
        ] {
            let t = Target {
                resource: ROLEBINDINGS,
                version: "v1",
                namespace: Some(ns),
            };
            store.create(&t, rb(name), "test").unwrap();
        }
        let all = target(ROLEBINDINGS, None);
        let place = |item: &Value| {
            format!(
                "{}/{}",
                item["metadata"]["namespace"].as_str().unwrap(),
                item["metadata"]["name"].as_str().unwrap()
            )
        };
        let (list, _) = store.list(&all, None, None, None).unwrap();
        let order: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(place)
            .collect();
        assert_eq!(order, ["team-a/b", "team-a/d", "team/a", "team/c"]);
        let page = Page {
            limit: 2,
            after: None,
        };
        let (first, last) = store.list(&all, None, None, Some(page)).unwrap();
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        let last = last.unwrap();
        let page = Page {
            limit: 2,
            after: Some((last.0.as_str(), last.1.as_str())),
        };
        let (second, last) = store.list(&all, None, None, Some(page)).unwrap();
        let order: Vec<String> = second["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(place)
            .collect();
        assert_eq!(
            (order, last),
            (vec!["team/a".to_owned(), "team/c".to_owned()], None)
        );
    }

    #[test]
    fn names_labels_namespaces_and_duplicates_are_checked() {
        let mut store = store_with_namespace("ml");
        let rb = |name: &str, labels: Value| {
            json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "a@x"}]})
        };
        let ml = target(ROLEBINDINGS, Some("ml"));
        assert_eq!(
            store
                .create(&ml, rb("a/b", json!({})), "t")
                .unwrap_err()
                .code,
            422
        );
        assert_eq!(
            store
                .create(&ml, rb("ok", json!({"k": "a@x"})), "t")
                .unwrap_err()
                .code,
            422
        );
        assert_eq!(
            store
                .create(
                    &target(ROLEBINDINGS, Some("nope")),
                    rb("ok", json!({})),
                    "t"
                )
                .unwrap_err()
                .code,
            404
        );
        store.create(&ml, rb("ok", json!({})), "t").unwrap();
        assert_eq!(
            store
                .create(&ml, rb("ok", json!({})), "t")
                .unwrap_err()
                .code,
            409
        );
        let mut changed = rb("ok", json!({}));
        changed["roleRef"]["name"] = json!("kubeflow-admin");
        let err = store
            .apply(&ml, "ok", changed, Some("t"), true)
            .unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            store
                .apply(&ml, "ok", rb("ok", json!({})), None, false)
                .unwrap_err()
                .code,
            400
        );
        let bad_ns = target(NAMESPACES, None);
        let err = store
            .create(
                &bad_ns,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Bad_Name"}}),
                "t",
            )
            .unwrap_err();
        assert_eq!(err.code, 422);
    }

    #[test]
    fn updates_need_the_current_resource_version() {
        let mut store = store_with_namespace("ml");
        let t = target(NAMESPACES, None);
        let current = store.get(&t, "ml").unwrap();
        let mut stale = current.clone();
        stale["metadata"]["managedFields"] = Value::Null;
        stale["metadata"]["labels"]["x"] = json!("1");
        store.update(&t, "ml", stale.clone(), "t").unwrap();
        assert_eq!(store.update(&t, "ml", stale, "t").unwrap_err().code, 409);
    }

    #[test]
    fn label_selectors_select() {
        let store = store_with_namespace("ml");
        let t = target(NAMESPACES, None);
        let count = |sel: &str| {
            store.list(&t, Some(sel), None, None).unwrap().0["items"]
                .as_array()
                .unwrap()
                .len()
        };
        assert_eq!(count("kubernetes.io/metadata.name in (ml,other)"), 1);
        assert_eq!(count("kubernetes.io/metadata.name notin (ml)"), 0);
        assert_eq!(count("kubernetes.io/metadata.name=ml,!missing"), 1);
        assert_eq!(count("missing"), 0);
        assert_eq!(
            store.list(&t, Some("a in b"), None, None).unwrap_err().code,
            400
        );
        assert_eq!(
            store
                .list(&t, None, Some("spec.x=1"), None)
                .unwrap_err()
                .code,
            400
        );
    }
}
