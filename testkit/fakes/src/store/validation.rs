//! What kube-apiserver refuses before storing: names, labels, annotations and metadata, each
//! kind's schema (Leases' `MicroTime` among them), and admission. Pure.

#[allow(unused_imports)]
use super::*;

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
pub(super) fn is_qualified_name_part(text: &str, allow_empty: bool) -> bool {
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

pub(super) fn is_qualified_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_qualified_name_part(name, false),
        None => is_qualified_name_part(key, false),
    }
}

/// kubernetes/apimachinery v0.33.0 `pkg/util/validation/validation.go` `RegexError`.
fn regex_error(message: &str, regex: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    let examples = examples.join(" or ");
    format!("{message} (e.g. {examples}regex used for validation is '{regex}')")
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$` (no length limit).
fn matches_subdomain(text: &str) -> bool {
    text.split('.').all(|label| {
        let b = label.as_bytes();
        let end = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        b.first().is_some_and(end)
            && b.last().is_some_and(end)
            && b.iter().all(|c| end(c) || *c == b'-')
    })
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$` (no length limit).
fn matches_qualified(text: &str) -> bool {
    let b = text.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// kubernetes/apimachinery v0.33.0 `pkg/util/validation/validation.go` `IsQualifiedName`,
/// with its messages.
pub(super) fn qualified_name_errors(value: &str) -> Vec<String> {
    const FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
    const MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
    const DNS_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
    const DNS_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    let name_regex = regex_error(MSG, FMT, &["MyName", "my.name", "123-abc"]);
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts[..] {
        [name] => name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_owned());
            } else {
                if prefix.len() > 253 {
                    errors.push("prefix part must be no more than 253 characters".to_owned());
                }
                if !matches_subdomain(prefix) {
                    let regex = regex_error(DNS_MSG, DNS_FMT, &["example.com"]);
                    errors.push(format!("prefix part {regex}"));
                }
            }
            name
        }
        _ => {
            let example =
                "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
            return vec![format!("a qualified name {name_regex} {example}")];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errors.push("name part must be no more than 63 characters".to_owned());
    }
    if !matches_qualified(name) {
        errors.push(format!("name part {name_regex}"));
    }
    errors
}

pub(super) fn validate_name(resource: &Resource, name: &str) -> Result<(), String> {
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

pub(super) fn validate_metadata(meta: &Value) -> Vec<String> {
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
pub(super) fn validate_kind(resource: &Resource, body: &Value) -> Vec<String> {
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
        "PodDefault" => causes.extend(super::defaults::pod_default_causes(body)),
        "LimitRange" => causes.extend(super::defaults::limit_range_causes(body)),
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
pub(super) fn lease_causes(body: &Value) -> Vec<String> {
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
pub(super) fn is_micro_time(text: &str) -> bool {
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

impl Store {
    /// Checks what every write checks: type, name, namespace, metadata, schema, and that the
    /// namespace of a namespaced object exists.
    pub(super) fn validate(
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
        // Decoding into the built-in type comes first (400 when it fails).
        if let Some(error) = super::defaults::decode_error(resource, body) {
            return Err(error);
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
    pub(super) fn admit_new_content(&self, target: &Target, name: &str) -> Result<(), ApiError> {
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
}
