//! A LimitRange team default, checked as kube-apiserver checks it: kubernetes/kubernetes v1.33.0,
//! the core API's validation package (`validation.go`: `ValidateLimitRange`,
//! `validateLimitRangeTypeName`, `validateLimitRangeResourceName`, `validateContainerResourceName`)
//! and helper package (`helpers.go`: `IsStandardContainerResourceName`, `IsOvercommitAllowed`).
//! Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::LimitRange;
use serde_json::Value;

use crate::domain::model::names::is_qualified_name;
use crate::domain::model::quantity;

/// The lists of a limit that hold quantities.
const LISTS: [&str; 5] = [
    "min",
    "max",
    "default",
    "defaultRequest",
    "maxLimitRequestRatio",
];

/// `document` as the API server reads it: a quantity written as a number (`cpu: 1`) is the
/// string of that number, a list written `null` is none.
pub(super) fn normalised_limit_range(document: &Value) -> Value {
    let mut document = document.clone();
    let limits = document
        .pointer_mut("/spec/limits")
        .and_then(Value::as_array_mut);
    for limit in limits.into_iter().flatten() {
        let Some(limit) = limit.as_object_mut() else {
            continue;
        };
        limit.retain(|_, value| !value.is_null());
        for list in LISTS {
            let Some(entries) = limit.get_mut(list).and_then(Value::as_object_mut) else {
                continue;
            };
            for value in entries.values_mut() {
                if let Value::Number(number) = value {
                    *value = Value::String(number.to_string());
                }
            }
        }
    }
    document
}

/// A LimitRange as kube-apiserver accepts it: only known fields; each type once (`Pod`,
/// `Container`, `PersistentVolumeClaim`, or a qualified name with a domain); resources a
/// container may have; no `default` or `defaultRequest` for a Pod; a storage min or max for a
/// claim; quantities that are quantities, none negative; min <= defaultRequest <= default <=
/// max; a maxLimitRequestRatio of at least 1 and at most max/min; a resource that cannot be
/// overcommitted asked for exactly as limited.
pub(super) fn check_limit_range(document: &Value) -> Result<(), String> {
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
        let standard = ["Pod", "Container", "PersistentVolumeClaim"].contains(&kind);
        let qualified = kind.contains('/') && is_qualified_name(kind);
        if !(standard || qualified) {
            return Err(format!(
                "spec.limits[{index}].type {kind:?}: Pod, Container, PersistentVolumeClaim or a qualified name with a domain"
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

/// The quantities of one limit of type `kind`, as [`check_limit_range`] says.
fn check_limit(limit: &Value, kind: &str) -> Result<(), String> {
    let [min, max, default, request, ratio] = LISTS.map(|list| read_list(limit, list, kind));
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
    let resources = [&min, &max, &default, &request, &ratio]
        .into_iter()
        .flat_map(|m| m.keys().cloned());
    for resource in resources {
        let [lo, hi, limit, ask, most] =
            [&min, &max, &default, &request, &ratio].map(|m| m.get(&resource).copied());
        check_order(&resource, [lo, hi, limit, ask, most])?;
    }
    Ok(())
}

/// The amounts of one list of a limit, by resource (in units; compared, never written).
type Amounts = BTreeMap<String, f64>;

/// The quantities of `list` in `limit`, each a quantity of 0 or more, of a resource a limit of
/// type `kind` may name.
fn read_list(limit: &Value, list: &str, kind: &str) -> Result<Amounts, String> {
    let Some(entries) = limit.get(list).and_then(Value::as_object) else {
        return Ok(Amounts::new());
    };
    let mut read = Amounts::new();
    for (resource, value) in entries {
        resource_fits(resource, kind).map_err(|why| format!("{list}.{resource}: {why}"))?;
        let amount = quantity::parse(value.as_str().unwrap_or(""))
            .map_err(|why| format!("{list}.{resource}: {why}"))?;
        if amount.is_negative() {
            return Err(format!("{list}.{resource}: must be 0 or more"));
        }
        read.insert(resource.clone(), amount.as_f64());
    }
    Ok(read)
}

/// Whether a limit of type `kind` may name `resource`: a container's (and a pod's) are `cpu`,
/// `memory`, `ephemeral-storage`, `hugepages-*` or an extended resource (a qualified name with a
/// domain other than kubernetes.io); any other type's, a qualified name (`validateResourceName`).
fn resource_fits(resource: &str, kind: &str) -> Result<(), &'static str> {
    let fits = match kind {
        "Pod" | "Container" => {
            ["cpu", "memory", "ephemeral-storage"].contains(&resource)
                || resource.starts_with("hugepages-")
                || (!overcommit_allowed(resource) && is_qualified_name(resource))
        }
        _ => is_qualified_name(resource),
    };
    if fits {
        Ok(())
    } else {
        Err("not a resource this type of limit may name")
    }
}

/// min <= defaultRequest <= default <= max, the ratio at least 1 and at most max/min, and for a
/// resource that cannot be overcommitted, default == defaultRequest.
fn check_order(resource: &str, amounts: [Option<f64>; 5]) -> Result<(), String> {
    let [lo, hi, limit, ask, most] = amounts;
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
    if let Some(most) = most {
        if most < 1.0 {
            return Err(format!("{resource}: maxLimitRequestRatio is less than 1"));
        }
        if let (Some(lo), Some(hi)) = (lo, hi)
            && lo > 0.0
            && most > hi / lo
        {
            return Err(format!(
                "{resource}: maxLimitRequestRatio is greater than max/min"
            ));
        }
    }
    if !overcommit_allowed(resource)
        && let (Some(limit), Some(ask)) = (limit, ask)
        && limit != ask
    {
        return Err(format!(
            "{resource}: default must equal defaultRequest (it cannot be overcommitted)"
        ));
    }
    Ok(())
}

/// Whether kube-apiserver lets a limit of `resource` exceed its request: a native resource
/// (no domain, or `kubernetes.io`) that is no huge page (`IsOvercommitAllowed`).
fn overcommit_allowed(resource: &str) -> bool {
    let native = match resource.split_once('/') {
        None => true,
        Some((domain, _)) => domain == "kubernetes.io" || domain.ends_with(".kubernetes.io"),
    };
    native && !resource.starts_with("hugepages-")
}
