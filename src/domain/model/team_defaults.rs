//! A team's default objects: the few objects `TEAM_DEFAULTS_FILE` declares (Kubeflow
//! `PodDefault`s, `LimitRange`s), created once in each new team namespace. Read and checked
//! whole when the function starts, so that a file the API server would refuse never reaches a
//! sign-in. Pure.

use serde_json::{Map, Value, json};

use crate::domain::model::names::{is_dns_subdomain, is_label_value, is_qualified_name};
use crate::domain::model::objects::{Kind, MANAGED_BY_LABEL, MANAGER, Object};

mod limit_range;
mod pod_default;

use limit_range::{check_limit_range, normalised_limit_range};
use pod_default::check_pod_default;

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
    // A LimitRange's quantities as the API server takes them: `cpu: 1` is "1", `max: null` none.
    let document = match kind {
        Kind::LimitRange => normalised_limit_range(document),
        _ => document.clone(),
    };
    let checked = match kind {
        Kind::PodDefault => check_pod_default(spec),
        _ => check_limit_range(&document),
    };
    checked.map_err(|why| format!("{} {name}: {why}", kind.name()))?;
    Ok(Object::new(kind, None, &name, document))
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
        if let Some(key) = entries.keys().find(|k| !is_qualified_name(k)) {
            return Err(format!(
                "{name}: metadata.{field}.{key}: not a qualified name"
            ));
        }
        let bad_value = |v: &Value| !is_label_value(v.as_str().unwrap_or(""));
        if field == "labels"
            && let Some((key, _)) = entries.iter().find(|(_, v)| bad_value(v))
        {
            return Err(format!(
                "{name}: metadata.labels.{key}: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
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

#[cfg(test)]
mod tests;
