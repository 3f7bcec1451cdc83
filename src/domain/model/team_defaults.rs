//! A team's default objects: the few objects `TEAM_DEFAULTS_FILE` declares (Kubeflow
//! `PodDefault`s, `LimitRange`s), created once in each new team namespace. Read and checked
//! whole when the function starts, so that a file the API server would refuse never reaches a
//! sign-in. Pure.

use k8s_openapi::api::core::v1::LimitRange;
use serde_json::{Map, Value, json};

use crate::domain::model::names::is_dns_subdomain;
use crate::domain::model::objects::{Kind, MANAGED_BY_LABEL, MANAGER, Object};
use crate::domain::model::quantity::{self, Quantity};

/// At most this many objects: a few defaults, not a deployment.
pub const MAX_TEAM_DEFAULTS: usize = 8;

/// The annotation on a team namespace that says whether its defaults are still to be made
/// (`due`, set when the function creates the namespace) or were (`made`).
pub const DEFAULTS_ANNOTATION: &str = "kubeflow-profile-manager/team-defaults";
pub const DEFAULTS_DUE: &str = "due";
pub const DEFAULTS_MADE: &str = "made";

/// The declared objects, without namespace; none when `TEAM_DEFAULTS_FILE` is unset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TeamDefaults {
    objects: Vec<Object>,
}

impl TeamDefaults {
    /// The objects of `text` (YAML documents, or one JSON list), each checked, or every problem
    /// found, one per line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let documents = documents(text)?;
        let mut problems = Vec::new();
        let mut objects: Vec<Object> = Vec::new();
        for (index, document) in documents.iter().enumerate() {
            match checked(document) {
                Ok(object) if objects.iter().any(|o| same_place(o, &object)) => {
                    problems.push(format!(
                        "object {}: {} is declared twice",
                        index + 1,
                        object.describe()
                    ))
                }
                Ok(object) => objects.push(object),
                Err(why) => problems.push(format!("object {}: {why}", index + 1)),
            }
        }
        if documents.len() > MAX_TEAM_DEFAULTS {
            problems.push(format!(
                "{} objects: at most {MAX_TEAM_DEFAULTS} (defaults, not a deployment)",
                documents.len()
            ));
        }
        if problems.is_empty() {
            Ok(TeamDefaults { objects })
        } else {
            Err(problems.join("; "))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// `Kind/name` of each, in the file's order.
    pub fn names(&self) -> Vec<String> {
        self.objects
            .iter()
            .map(|o| format!("{}/{}", o.kind.name(), o.name))
            .collect()
    }

    /// The objects as they are made in `namespace`: with its name and the function's label.
    pub fn in_namespace(&self, namespace: &str) -> Vec<Object> {
        self.objects
            .iter()
            .map(|template| {
                let mut object = template.clone();
                object.namespace = Some(namespace.to_owned());
                object.body["metadata"]["namespace"] = json!(namespace);
                object.body["metadata"]["labels"][MANAGED_BY_LABEL] = json!(MANAGER);
                object
            })
            .collect()
    }
}

fn same_place(a: &Object, b: &Object) -> bool {
    a.kind == b.kind && a.name == b.name
}

/// The documents of a YAML stream (a JSON list is one YAML document holding a list).
fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut documents = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value: Value = serde::Deserialize::deserialize(document)
            .map_err(|e| format!("not YAML or JSON: {e}"))?;
        match value {
            Value::Null => {}
            Value::Array(items) => documents.extend(items),
            other => documents.push(other),
        }
    }
    Ok(documents)
}

/// The metadata a default may carry; the namespace is each team's.
const METADATA_KEYS: [&str; 3] = ["name", "labels", "annotations"];

/// One declared object, checked: its kind, metadata and spec.
fn checked(document: &Value) -> Result<Object, String> {
    let fields = document.as_object().ok_or("not an object")?;
    let text = |key: &str| fields.get(key).and_then(Value::as_str).unwrap_or("");
    let kind = match (text("apiVersion"), text("kind")) {
        ("kubeflow.org/v1alpha1", "PodDefault") => Kind::PodDefault,
        ("v1", "LimitRange") => Kind::LimitRange,
        (api_version, kind) => {
            return Err(format!(
                "{api_version}/{kind}: only kubeflow.org/v1alpha1 PodDefault and v1 LimitRange are team defaults"
            ));
        }
    };
    if let Some(key) = fields
        .keys()
        .find(|k| !["apiVersion", "kind", "metadata", "spec"].contains(&k.as_str()))
    {
        return Err(format!("{}: unknown field {key:?}", kind.name()));
    }
    let metadata = fields
        .get("metadata")
        .and_then(Value::as_object)
        .ok_or("metadata: required")?;
    let name = check_metadata(metadata)?;
    let spec = fields
        .get("spec")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{} {name}: spec: required", kind.name()))?;
    let checked = match kind {
        Kind::PodDefault => check_pod_default(spec),
        _ => check_limit_range(document),
    };
    checked.map_err(|why| format!("{} {name}: {why}", kind.name()))?;
    Ok(Object::new(kind, None, &name, document.clone()))
}

/// The object's name, when its metadata holds only a valid name, labels and annotations (maps
/// of strings), and none of the function's own marks.
fn check_metadata(metadata: &Map<String, Value>) -> Result<String, String> {
    if let Some(key) = metadata
        .keys()
        .find(|k| !METADATA_KEYS.contains(&k.as_str()))
    {
        return Err(format!(
            "metadata.{key}: only a name, labels and annotations (each team's namespace is its own)"
        ));
    }
    let name = metadata.get("name").and_then(Value::as_str).unwrap_or("");
    if !is_dns_subdomain(name) {
        return Err(format!(
            "metadata.name {name:?}: a DNS subdomain (lowercase letters, digits, '-' and '.')"
        ));
    }
    for field in ["labels", "annotations"] {
        let Some(entries) = metadata.get(field) else {
            continue;
        };
        let entries = string_map(entries)
            .ok_or_else(|| format!("{name}: metadata.{field}: a map of strings"))?;
        if let Some(key) = entries
            .keys()
            .find(|k| k.starts_with("kubeflow-profile-manager/") || *k == MANAGED_BY_LABEL)
        {
            return Err(format!(
                "{name}: metadata.{field}.{key}: the function's own mark, which it sets itself"
            ));
        }
    }
    Ok(name.to_owned())
}

fn string_map(value: &Value) -> Option<&Map<String, Value>> {
    value
        .as_object()
        .filter(|m| m.values().all(Value::is_string))
}

/// Whether a JSON value is of a field's type.
type JsonType = fn(&Value) -> bool;

/// The fields of a PodDefault's spec (kubeflow/kubeflow v1.10.0 `components/admission-webhook/
/// poddefault_types.go` of its admission webhook's `settings/v1alpha1` API, `PodDefaultSpec`), each with its JSON type;
/// `initContainers`, `sidecars`, `command` and `args` are left out on purpose: a default that
/// runs or replaces a container is a workload, not a default.
const POD_DEFAULT_FIELDS: [(&str, JsonType); 12] = [
    ("selector", Value::is_object),
    ("desc", Value::is_string),
    ("serviceAccountName", Value::is_string),
    ("automountServiceAccountToken", Value::is_boolean),
    ("env", Value::is_array),
    ("envFrom", Value::is_array),
    ("volumes", Value::is_array),
    ("volumeMounts", Value::is_array),
    ("annotations", |v| string_map(v).is_some()),
    ("labels", |v| string_map(v).is_some()),
    ("tolerations", Value::is_array),
    ("imagePullSecrets", Value::is_array),
];

/// A PodDefault's spec: `selector` (required by its CRD, kubeflow/manifests v1.10.2
/// `applications/admission-webhook/upstream/base/crd.yaml`) and only known fields, typed.
fn check_pod_default(spec: &Map<String, Value>) -> Result<(), String> {
    if !spec.contains_key("selector") {
        return Err("spec.selector: required (the pods it applies to)".into());
    }
    for (key, value) in spec {
        match POD_DEFAULT_FIELDS.iter().find(|(field, _)| field == key) {
            Some((_, typed)) if typed(value) => {}
            Some(_) => return Err(format!("spec.{key}: of the wrong type")),
            None if ["initContainers", "sidecars", "command", "args"].contains(&key.as_str()) => {
                return Err(format!(
                    "spec.{key}: a default that runs or replaces a container is a workload, not a team default"
                ));
            }
            None => return Err(format!("spec.{key}: unknown field")),
        }
    }
    Ok(())
}

/// A LimitRange as kube-apiserver accepts it (kubernetes/kubernetes v1.33.0
/// `validation.go` of the core API's validation package, `ValidateLimitRange`): only known fields, types
/// `Pod`, `Container` or `PersistentVolumeClaim`, each once; no `default` or `defaultRequest`
/// for a Pod; a storage min or max for a claim; quantities that are quantities, none negative,
/// and min <= defaultRequest <= default <= max, maxLimitRequestRatio at least 1.
fn check_limit_range(document: &Value) -> Result<(), String> {
    let typed: LimitRange =
        serde_json::from_value(document.clone()).map_err(|e| format!("not a LimitRange: {e}"))?;
    if serde_json::to_value(&typed).ok().as_ref() != Some(document) {
        return Err("a field of the wrong type, or one LimitRange does not have".into());
    }
    let limits = document
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or("spec.limits: at least one")?;
    let mut types = Vec::new();
    for (index, limit) in limits.iter().enumerate() {
        let kind = limit["type"].as_str().unwrap_or("");
        if !["Pod", "Container", "PersistentVolumeClaim"].contains(&kind) {
            return Err(format!(
                "spec.limits[{index}].type {kind:?}: Pod, Container or PersistentVolumeClaim"
            ));
        }
        if types.contains(&kind) {
            return Err(format!(
                "spec.limits[{index}].type {kind:?}: declared twice"
            ));
        }
        types.push(kind);
        check_limit(limit, kind).map_err(|why| format!("spec.limits[{index}]: {why}"))?;
    }
    Ok(())
}

/// The quantities of one limit, as [`check_limit_range`] says.
fn check_limit(limit: &Value, kind: &str) -> Result<(), String> {
    let read = |field: &str| -> Result<Map<String, Value>, String> {
        let Some(entries) = limit.get(field).and_then(Value::as_object) else {
            return Ok(Map::new());
        };
        for (resource, value) in entries {
            let amount = quantity::parse(value.as_str().unwrap_or(""))
                .map_err(|why| format!("{field}.{resource}: {why}"))?;
            if amount.is_negative() {
                return Err(format!("{field}.{resource}: must be 0 or more"));
            }
        }
        Ok(entries.clone())
    };
    let [min, max, default, request, ratio] = [
        "min",
        "max",
        "default",
        "defaultRequest",
        "maxLimitRequestRatio",
    ]
    .map(read);
    let (min, max, default, request, ratio) = (min?, max?, default?, request?, ratio?);
    if kind == "Pod" && !(default.is_empty() && request.is_empty()) {
        return Err("default and defaultRequest: not for type Pod".into());
    }
    if kind == "PersistentVolumeClaim"
        && !min.contains_key("storage")
        && !max.contains_key("storage")
    {
        return Err("a min or max storage: required for type PersistentVolumeClaim".into());
    }
    let amount = |map: &Map<String, Value>, key: &str| -> Option<Quantity> {
        quantity::parse(map.get(key)?.as_str()?).ok()
    };
    let resources = [&min, &max, &default, &request, &ratio]
        .into_iter()
        .flat_map(|m| m.keys().cloned());
    for resource in resources {
        let [lo, hi, limit, ask, most] =
            [&min, &max, &default, &request, &ratio].map(|m| amount(m, &resource));
        let order = [
            ("min", lo, "max", hi),
            ("min", lo, "defaultRequest", ask),
            ("defaultRequest", ask, "max", hi),
            ("defaultRequest", ask, "default", limit),
            ("min", lo, "default", limit),
            ("default", limit, "max", hi),
        ];
        for (small, a, large, b) in order {
            if let (Some(a), Some(b)) = (a, b)
                && a > b
            {
                return Err(format!("{resource}: {small} is greater than {large}"));
            }
        }
        if most.is_some_and(|r| r < quantity::parse("1").expect("1 is a quantity")) {
            return Err(format!("{resource}: maxLimitRequestRatio is less than 1"));
        }
        // A resource that cannot be overcommitted (hugepages, an extended one such as
        // nvidia.com/gpu: `helper.IsOvercommitAllowed`) is asked for exactly as limited.
        if !overcommit_allowed(&resource)
            && let (Some(limit), Some(ask)) = (limit, ask)
            && limit != ask
        {
            return Err(format!(
                "{resource}: default must equal defaultRequest (it cannot be overcommitted)"
            ));
        }
    }
    Ok(())
}

/// Whether kube-apiserver lets a limit of `resource` exceed its request: a native resource
/// (no domain, or `kubernetes.io`) that is no huge page (kubernetes/kubernetes v1.33.0
/// `helpers.go` of the core API's helper package, `IsOvercommitAllowed`).
fn overcommit_allowed(resource: &str) -> bool {
    let native = match resource.split_once('/') {
        None => true,
        Some((domain, _)) => domain == "kubernetes.io" || domain.ends_with(".kubernetes.io"),
    };
    native && !resource.starts_with("hugepages-")
}

#[cfg(test)]
mod tests;
