//! A custom resource against its CRD's structural schema, as kube-apiserver validates one:
//! kubernetes/apiextensions-apiserver v0.33.0 `pkg/apiserver/validation/validation.go`
//! (`kubeOpenAPIResultToFieldErrors`) over kubernetes/kube-openapi c8a335a9a2ff (the version
//! v0.33.0 pins) `pkg/validation/validate`. The keywords are those the PodDefault schema uses:
//! `type`, `format`, `properties`, `required`, `items`, `additionalProperties`, `default`, the
//! int-or-string `anyOf`, Quantity's `pattern`, `x-kubernetes-list-type: map`. Pure.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::quantity;

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The JSON type kube-openapi names for `value` (`schemaInfoForType`), and its format: the
/// unstructured decoder makes integers int64 and other numbers float64.
fn json_type(value: &Value) -> (&'static str, &'static str) {
    match value {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::Number(n) if n.is_f64() => ("number", "float64"),
        Value::Number(_) => ("integer", "int64"),
        Value::String(_) => ("string", ""),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

/// kube-openapi `errors.InvalidType` turned into `field.TypeInvalid`.
fn type_invalid(path: &str, expected: &str, got: &str) -> String {
    format!("{path}: Invalid value: {got:?}: {path} in body must be of type {expected}: {got:?}")
}

/// kube-openapi `validate/type.go` `typeValidator.Validate`: the schema's `type` (an integral
/// float passes for an integer, an integer for a number), or, for a non-string value of a
/// field with a `format`, that format.
fn type_cause(schema: &Value, value: &Value, path: &str) -> Option<String> {
    let expected = schema["type"].as_str()?;
    let (got, got_format) = json_type(value);
    let float_int = got == "number"
        && expected == "integer"
        && value.as_f64().is_some_and(|f| f.fract() == 0.0);
    let int_float = got == "integer" && expected == "number";
    let matches = expected == got || float_int || int_float;
    let format = schema["format"].as_str().unwrap_or("");
    if !value.is_null() && !matches!(got, "string" | "array") && !format.is_empty() {
        return (!(matches || got_format == format))
            .then(|| type_invalid(path, format, got_format));
    }
    (!matches).then(|| type_invalid(path, expected, got))
}

/// One value against its structural schema (kube-openapi `SchemaValidator.Validate`).
pub(super) fn structural(schema: &Value, value: &Value, path: &str, causes: &mut Vec<String>) {
    if schema["x-kubernetes-int-or-string"] == true {
        // `anyOf: [{type: integer}, {type: string}]` (`schema_props.go`): neither matching,
        // the anyOf failure (a plain error, reported at field path `<nil>`) and the first
        // branch's.
        let (got, _) = json_type(value);
        let integral = value.as_f64().is_some_and(|f| f.fract() == 0.0);
        if !(got == "string" || got == "integer" || (got == "number" && integral)) {
            causes.push(format!(
                "<nil>: Invalid value: \"\": \"{path}\" must validate at least one schema (anyOf)"
            ));
            causes.push(type_invalid(path, "integer", got));
            return;
        }
    } else if let Some(cause) = type_cause(schema, value, path) {
        causes.push(cause);
        return;
    }
    match value {
        Value::Object(fields) => object(schema, fields, path, causes),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                structural(&schema["items"], item, &format!("{path}[{i}]"), causes);
            }
            if schema["x-kubernetes-list-type"] == "map" {
                causes.extend(list_map_duplicates(schema, items, path));
            }
        }
        Value::String(text) => {
            // The only patterns of this schema are Quantity's.
            if let Some(pattern) = schema["pattern"].as_str()
                && pattern == quantity::QUANTITY_PATTERN
                && !quantity::matches_quantity_pattern(text)
            {
                causes.push(format!(
                    "{path}: Invalid value: {text:?}: {path} in body should match '{pattern}'"
                ));
            }
        }
        _ => {}
    }
}

/// kube-openapi `object_validator.go`: `additionalProperties`, `required`, `properties`. A null
/// field is absent: apiextensions-apiserver v0.33.0 `pkg/apiserver/schema/defaulting/
/// prunenulls.go` drops it before validation, and a field with a `default` is defaulted.
fn object(schema: &Value, fields: &Map<String, Value>, path: &str, causes: &mut Vec<String>) {
    let properties = schema["properties"].as_object();
    let declared = |key: &str| properties.and_then(|p| p.get(key));
    if schema["additionalProperties"].is_object() {
        for (key, value) in fields {
            if declared(key).is_none() && !value.is_null() {
                structural(
                    &schema["additionalProperties"],
                    value,
                    &child(path, key),
                    causes,
                );
            }
        }
    }
    for key in schema["required"].as_array().into_iter().flatten() {
        let key = key.as_str().unwrap_or("");
        let defaulted = declared(key).is_some_and(|s| s.get("default").is_some());
        if fields.get(key).is_none_or(Value::is_null) && !defaulted {
            causes.push(format!("{}: Required value", child(path, key)));
        }
    }
    for (key, sub) in properties.into_iter().flatten() {
        if let Some(value) = fields.get(key).filter(|v| !v.is_null()) {
            structural(sub, value, &child(path, key), causes);
        }
    }
}

/// apiextensions-apiserver v0.33.0 `pkg/apiserver/schema/listtype/validation.go`
/// `validateListMap`: the second item with the same keys (defaults applied, as `protocol:
/// TCP` is before validation) is a `Duplicate value`, shown as Go prints the key map.
fn list_map_duplicates(schema: &Value, items: &[Value], path: &str) -> Vec<String> {
    let keys: Vec<&str> = schema["x-kubernetes-list-map-keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut causes = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(item) = item.as_object() else {
            continue;
        };
        let mut shown: Vec<String> = Vec::new();
        for key in &keys {
            let value = item
                .get(*key)
                .or_else(|| schema["items"]["properties"][*key].get("default"));
            if let Some(value) = value {
                shown.push(format!("{key:?}:{value}"));
            }
        }
        shown.sort();
        let shown = format!("map[string]interface {{}}{{{}}}", shown.join(", "));
        let times = seen.entry(shown.clone()).or_default();
        *times += 1;
        if *times == 2 {
            causes.push(format!("{path}[{i}]: Duplicate value: {shown}"));
        }
    }
    causes
}
