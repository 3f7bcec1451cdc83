//! What kube-apiserver refuses in the two kinds that set defaults for a profile's workloads:
//! Kubeflow `PodDefault`s, checked against their CRD's structural schema, and `LimitRange`s,
//! decoded and validated as the built-in type is. Pure.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use super::quantity::{self, MAX_MILLI_VALUE, Quantity};
use super::*;

/// The `v1alpha1` `openAPIV3Schema` of `poddefaults.kubeflow.org`, descriptions dropped, one
/// `spec` property a line: kubeflow/manifests v1.10.2
/// `applications/admission-webhook/upstream/base/crd.yaml` (the same schema as v1.9.1's
/// `apps/admission-webhook/upstream/base/crd.yaml` and v1.11.0's).
static POD_DEFAULT_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("poddefault.schema.json")).expect("the PodDefault schema")
});

/// A PodDefault's schema violations, as kube-apiserver words them for a custom resource:
/// kubernetes/apiextensions-apiserver v0.33.0 `pkg/apiserver/validation/validation.go`
/// `kubeOpenAPIResultToFieldErrors` over kubernetes/kube-openapi c8a335a9a2ff (the version
/// v0.33.0 pins) `pkg/validation/validate`: `spec.selector: Required value`,
/// `spec.desc: Invalid value: "integer": spec.desc in body must be of type string: "integer"`.
/// Unknown fields are not refused (kube-apiserver prunes them; the fake keeps them).
pub(super) fn pod_default_causes(body: &Value) -> Vec<String> {
    let mut causes = Vec::new();
    schema::structural(&POD_DEFAULT_SCHEMA, body, "", &mut causes);
    causes
}

/// The fields of a `LimitRangeItem` that are `ResourceList`s.
const LISTS: [&str; 5] = [
    "max",
    "min",
    "default",
    "defaultRequest",
    "maxLimitRequestRatio",
];
const MAX: usize = 0;
const MIN: usize = 1;
const DEFAULT: usize = 2;
const DEFAULT_REQUEST: usize = 3;
const RATIO: usize = 4;

/// A decoded `v1.LimitRangeItem` (kubernetes/api v0.33.0 `core/v1/types.go`).
#[derive(Debug, Default)]
struct Limit {
    kind: String,
    lists: [BTreeMap<String, Quantity>; 5],
}

/// Decoding a LimitRange into `v1.LimitRange` as kube-apiserver does (sigs.k8s.io/json, with
/// `Quantity.UnmarshalJSON`): a field of the wrong JSON type or a quantity that does not parse
/// fails the request with 400 BadRequest, worded by kubernetes/apiserver v0.33.0
/// `pkg/endpoints/handlers/rest.go` `transformDecodeError` (the type errors' wording is
/// encoding/json's `UnmarshalTypeError`, approximately).
pub(super) fn decode_error(resource: &Resource, body: &Value) -> Option<ApiError> {
    if resource.kind != "LimitRange" {
        return None;
    }
    let error = decode_limit_range(body).err()?;
    Some(ApiError::new(
        400,
        "BadRequest",
        format!("LimitRange in version \"v1\" cannot be handled as a LimitRange: {error}"),
    ))
}

fn unmarshal(got: &Value, field: &str, go_type: &str) -> String {
    let got = match got {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        _ => "object",
    };
    format!("json: cannot unmarshal {got} into Go struct field {field} of type {go_type}")
}

fn decode_limit_range(body: &Value) -> Result<Vec<Limit>, String> {
    let spec = match body.get("spec") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(spec)) => spec,
        Some(other) => return Err(unmarshal(other, "LimitRange.spec", "v1.LimitRangeSpec")),
    };
    match spec.get("limits") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(decode_limit).collect(),
        Some(other) => Err(unmarshal(
            other,
            "LimitRangeSpec.spec.limits",
            "[]v1.LimitRangeItem",
        )),
    }
}

fn decode_limit(item: &Value) -> Result<Limit, String> {
    let item = match item {
        Value::Null => return Ok(Limit::default()),
        Value::Object(item) => item,
        other => {
            return Err(unmarshal(
                other,
                "LimitRangeSpec.spec.limits",
                "v1.LimitRangeItem",
            ));
        }
    };
    let mut limit = Limit::default();
    match item.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(kind)) => limit.kind = kind.clone(),
        Some(other) => {
            return Err(unmarshal(
                other,
                "LimitRangeItem.spec.limits.type",
                "v1.LimitType",
            ));
        }
    }
    for (list, field) in limit.lists.iter_mut().zip(LISTS) {
        let entries = match item.get(field) {
            None | Some(Value::Null) => continue,
            Some(Value::Object(entries)) => entries,
            Some(other) => {
                let place = format!("LimitRangeItem.spec.limits.{field}");
                return Err(unmarshal(other, &place, "v1.ResourceList"));
            }
        };
        for (name, value) in entries {
            // `UnmarshalJSON`: `null` is zero; a string loses its quotes and surrounding space;
            // anything else is parsed as its JSON text.
            let parsed = match value {
                Value::Null => Ok(Quantity::ZERO),
                Value::String(text) => quantity::parse(text.trim()),
                other => quantity::parse(&other.to_string()),
            };
            list.insert(name.clone(), parsed.map_err(str::to_owned)?);
        }
    }
    Ok(limit)
}

/// kubernetes/kubernetes `pkg/apis/core/v1/defaults.go` `SetDefaults_LimitRangeItem` (read at
/// commit 023f88a3, a v1.33-era tree): a Container's missing `default` is its `max`, a missing
/// `defaultRequest` its `default`, else its `min`. Applied before validation.
fn default_limit(limit: &mut Limit) {
    if limit.kind != "Container" {
        return;
    }
    for (source, target) in [
        (MAX, DEFAULT),
        (DEFAULT, DEFAULT_REQUEST),
        (MIN, DEFAULT_REQUEST),
    ] {
        let from = limit.lists[source].clone();
        for (name, value) in from {
            limit.lists[target].entry(name).or_insert(value);
        }
    }
}

/// A LimitRange's validation errors: kubernetes/kubernetes
/// `pkg/apis/core/validation/validation.go` `ValidateLimitRange` (read at commit 000f2605, a
/// tree with v1.32's PodLevelResources; its LimitRange code is that of v1.33.0 as far as could
/// be checked here), after decoding and defaulting. Keys are visited in sorted order (upstream:
/// Go map order). A quantity's bad value is shown as its string (upstream: the Go struct).
pub(super) fn limit_range_causes(body: &Value) -> Vec<String> {
    let mut limits = match decode_limit_range(body) {
        Ok(limits) => limits,
        Err(error) => return vec![error],
    };
    let mut causes = Vec::new();
    let mut types = BTreeSet::new();
    for (i, limit) in limits.iter_mut().enumerate() {
        default_limit(limit);
        let path = format!("spec.limits[{i}]");
        causes.extend(limit_type_causes(&limit.kind, &format!("{path}.type")));
        if !types.insert(limit.kind.clone()) {
            causes.push(format!("{path}.type: Duplicate value: {:?}", limit.kind));
        }
        causes.extend(limit_causes(limit, &path));
    }
    causes
}

/// The names of one limit's resources, the Pod and PVC rules, and the orderings per resource.
fn limit_causes(limit: &Limit, path: &str) -> Vec<String> {
    let mut causes = Vec::new();
    let names = |index: usize, causes: &mut Vec<String>| {
        for name in limit.lists[index].keys() {
            let at = format!("{path}.{}[{name}]", LISTS[index]);
            causes.extend(resource_name_causes(&limit.kind, name, &at));
        }
    };
    names(MAX, &mut causes);
    names(MIN, &mut causes);
    if limit.kind == "Pod" {
        for index in [DEFAULT, DEFAULT_REQUEST] {
            if !limit.lists[index].is_empty() {
                causes.push(format!(
                    "{path}.{}: Forbidden: may not be specified when `type` is 'Pod'",
                    LISTS[index]
                ));
            }
        }
    } else {
        names(DEFAULT, &mut causes);
        names(DEFAULT_REQUEST, &mut causes);
    }
    if limit.kind == "PersistentVolumeClaim"
        && !limit.lists[MIN].contains_key("storage")
        && !limit.lists[MAX].contains_key("storage")
    {
        causes.push(format!("{path}.limits: Required value: either minimum or maximum storage value is required, but neither was provided"));
    }
    names(RATIO, &mut causes);
    // A Pod's default and defaultRequest are refused above and compared with nothing.
    let compared =
        |index: usize| limit.kind != "Pod" || ![DEFAULT, DEFAULT_REQUEST].contains(&index);
    let keys: BTreeSet<&String> = (0..LISTS.len())
        .filter(|i| compared(*i))
        .flat_map(|i| limit.lists[i].keys())
        .collect();
    for key in keys {
        let get = |index: usize| limit.lists[index].get(key).filter(|_| compared(index));
        let found = [
            get(MAX),
            get(MIN),
            get(DEFAULT),
            get(DEFAULT_REQUEST),
            get(RATIO),
        ];
        causes.extend(ordering_causes(path, key, found));
    }
    causes
}

/// `ValidateLimitRange`'s comparisons of one resource's max, min, default, defaultRequest and
/// maxLimitRequestRatio, in upstream's order and words.
fn ordering_causes(path: &str, key: &str, found: [Option<&Quantity>; 5]) -> Vec<String> {
    let [max, min, default, request, ratio] = found;
    let mut causes = Vec::new();
    let mut invalid = |field: &str, bad: &Quantity, detail: String| {
        let bad = bad.text();
        causes.push(format!(
            "{path}.{field}[{key}]: Invalid value: {bad:?}: {detail}"
        ));
    };
    // (a, b, a's words, b's words, the field reported, its value reported): a > b is refused.
    let orderings = [
        (min, max, "min", "max", "min", min),
        (
            min,
            request,
            "min",
            "default request",
            "defaultRequest",
            request,
        ),
        (
            request,
            max,
            "default request",
            "max",
            "defaultRequest",
            request,
        ),
        (
            request,
            default,
            "default request",
            "default limit",
            "defaultRequest",
            request,
        ),
        (min, default, "min", "default", "default", min),
        (default, max, "default", "max", "default", max),
    ];
    for (a, b, a_words, b_words, field, bad) in orderings {
        if let (Some(a), Some(b), Some(bad)) = (a, b, bad)
            && a.cmp(b) == Ordering::Greater
        {
            let (a, b) = (a.text(), b.text());
            invalid(
                field,
                bad,
                format!("{a_words} value {a} is greater than {b_words} value {b}"),
            );
        }
    }
    if let Some(ratio) = ratio {
        let text = ratio.text();
        if ratio.cmp(&Quantity::from_int(1)) == Ordering::Less {
            invalid(
                "maxLimitRequestRatio",
                ratio,
                format!("ratio {text} is less than 1"),
            );
        }
        if let (Some(min), Some(max)) = (min, max)
            && let Some(limit) = ratio_limit(ratio, min, max)
        {
            let detail = format!("ratio {text} is greater than max/min = {limit:.6}");
            invalid("maxLimitRequestRatio", ratio, detail);
        }
    }
    // GPUs, hugepages and other resources that may not be overcommitted.
    if let (Some(default), Some(request)) = (default, request)
        && !overcommit_allowed(key)
        && default.cmp(request) != Ordering::Equal
    {
        let (d, r) = (default.text(), request.text());
        let detail = format!("default value {d} must equal to defaultRequest value {r} in {key}");
        invalid("defaultRequest", request, detail);
    }
    causes
}

/// max/min when `ratio` exceeds it, computed as upstream does (in thousandths when all three
/// fit, else in whole units, as float64).
fn ratio_limit(ratio: &Quantity, min: &Quantity, max: &Quantity) -> Option<f64> {
    let small = [ratio, min, max]
        .iter()
        .all(|q| q.value() < MAX_MILLI_VALUE);
    let (ratio_value, min_value, max_value) = if small {
        (
            ratio.milli_value() as f64 / 1000.0,
            min.milli_value(),
            max.milli_value(),
        )
    } else {
        (ratio.value() as f64, min.value(), max.value())
    };
    let limit = max_value as f64 / min_value as f64;
    (ratio_value > limit).then_some(limit)
}

/// `validateLimitRangeTypeName`: a qualified name, and a standard type unless prefixed.
fn limit_type_causes(kind: &str, path: &str) -> Vec<String> {
    let invalid = |detail: &str| format!("{path}: Invalid value: {kind:?}: {detail}");
    let errors = qualified_name_errors(kind);
    if !errors.is_empty() {
        return errors.iter().map(|e| invalid(e)).collect();
    }
    if !kind.contains('/') && !matches!(kind, "Pod" | "Container" | "PersistentVolumeClaim") {
        return vec![invalid("must be a standard limit type or fully qualified")];
    }
    Vec::new()
}

/// `validateLimitRangeResourceName`: a Pod's or Container's resources are checked by
/// `validateContainerResourceName`, others' by `validateResourceName` only.
fn resource_name_causes(kind: &str, name: &str, path: &str) -> Vec<String> {
    let invalid = |detail: &str| format!("{path}: Invalid value: {name:?}: {detail}");
    let mut causes: Vec<String> = qualified_name_errors(name)
        .iter()
        .map(|e| invalid(e))
        .collect();
    if causes.is_empty() && !name.contains('/') && !standard_resource(name) {
        causes.push(invalid(
            "must be a standard resource type or fully qualified",
        ));
    }
    if matches!(kind, "Pod" | "Container") {
        if !name.contains('/') {
            let container = matches!(name, "cpu" | "memory" | "ephemeral-storage")
                || name.starts_with("hugepages-");
            if !container {
                causes.push(invalid("must be a standard resource for containers"));
            }
        } else if !native_resource(name) && !extended_resource(name) {
            causes.push(invalid("doesn't follow extended resource name standard"));
        }
    }
    causes
}

/// kubernetes/kubernetes `pkg/apis/core/helper/helpers.go` `IsStandardResourceName`.
fn standard_resource(name: &str) -> bool {
    const STANDARD: [&str; 20] = [
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "storage",
        "requests.storage",
        "services.nodeports",
        "services.loadbalancers",
    ];
    STANDARD.contains(&name)
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
}

/// helpers.go `IsNativeResource`: unprefixed, or in `kubernetes.io/`.
fn native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// helpers.go `IsExtendedResourceName`.
fn extended_resource(name: &str) -> bool {
    !native_resource(name)
        && !name.starts_with("requests.")
        && qualified_name_errors(&format!("requests.{name}")).is_empty()
}

/// helpers.go `IsOvercommitAllowed`: native and not hugepages.
fn overcommit_allowed(name: &str) -> bool {
    native_resource(name) && !name.starts_with("hugepages-")
}

mod schema;
#[cfg(test)]
mod tests;
