//! A PodDefault team default, checked as its CRD's structural schema checks it (kubeflow/
//! manifests v1.10.2 `applications/admission-webhook/upstream/base/crd.yaml`; the spec's fields
//! are kubeflow/kubeflow v1.10.0's `PodDefaultSpec`, admission webhook, `settings/v1alpha1`
//! `poddefault_types.go`). Pure.

use serde_json::{Map, Value};

use super::string_map;

/// Whether a JSON value is of a field's type.
type JsonType = fn(&Value) -> bool;

/// The fields of a PodDefault's spec, each with its JSON type; `initContainers`, `sidecars`,
/// `command` and `args` are left out on purpose: a default that runs or replaces a container
/// is a workload, not a default.
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

/// The string fields each item of a list requires (the CRD's `required` of `EnvVar`,
/// `Volume`, `VolumeMount`).
const REQUIRED_IN_ITEMS: [(&str, &[&str]); 3] = [
    ("env", &["name"]),
    ("volumes", &["name"]),
    ("volumeMounts", &["name", "mountPath"]),
];

/// A PodDefault's spec: its `selector` (required), only known fields, typed, the required
/// fields of its lists' items, and a selector whose labels are strings.
pub(super) fn check_pod_default(spec: &Map<String, Value>) -> Result<(), String> {
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
    for (list, required) in REQUIRED_IN_ITEMS {
        let items = spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for (index, item) in items.enumerate() {
            if let Some(field) = required
                .iter()
                .find(|field| !item.get(**field).is_some_and(Value::is_string))
            {
                return Err(format!("spec.{list}[{index}].{field}: required, a string"));
            }
        }
    }
    let labels = spec.get("selector").and_then(|s| s.get("matchLabels"));
    if labels.is_some_and(|l| string_map(l).is_none()) {
        return Err("spec.selector.matchLabels: a map of strings".into());
    }
    Ok(())
}
