//! The service-mesh labels of a Profile namespace: which ones there are, what the cluster's own
//! profile controller gives the namespaces it creates (learnt from one of them), and whether a
//! namespace this function made still lacks them. Pure.
//!
//! Why the function sets them: Kubeflow's profile controller labels a namespace for the mesh
//! only when it creates it. kubeflow/kubeflow v1.10.0 (= kubeflow/dashboard v2.0.0)
//! `components/profile-controller/controllers/profile_controller.go`, `Reconcile`: the namespace
//! it creates carries `istio-injection: enabled` (lines 127-136); an existing namespace whose
//! `owner` matches, which is what it finds when this function made the namespace first, only
//! gets the labels of its namespace-labels ConfigMap (line 181, `setNamespaceLabels`), and that
//! ConfigMap has no mesh label (kubeflow/manifests v1.10.2 and v1.11.0
//! `applications/profiles/upstream/base/namespace-labels.yaml`). Without the label the
//! namespace's pods start without a sidecar, and no AuthorizationPolicy protects them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::domain::model::objects::{CONTRIBUTOR_ANNOTATIONS, CONTRIBUTOR_LABELS, Kind, Object};

/// The labels that put a namespace's workloads in the mesh, in sidecar or ambient mode: Istio's
/// injection switch and revision, and the ambient labels of kubeflow/dashboard PR #267
/// (`setNamespaceLabelsAndServiceMesh`, lines 833-853 of its head 5a878ec9).
pub const MESH_LABEL_KEYS: [&str; 6] = [
    "istio-injection",
    "istio.io/rev",
    "istio.io/dataplane-mode",
    "istio.io/use-waypoint",
    "istio.io/use-waypoint-namespace",
    "istio.io/ingress-use-waypoint",
];

/// Stands, in a learnt value, for the namespace the label is on (PR #267 sets
/// `istio.io/use-waypoint-namespace` to the Profile's own namespace). Not a valid label value,
/// so it never meets a real one.
pub const OWN_NAMESPACE: &str = "{namespace}";

/// What the profile controller of Kubeflow >= 1.8 in sidecar mode gives a namespace it creates.
pub fn default_mesh_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("istio-injection".to_owned(), "enabled".to_owned())])
}

/// The mesh labels of a namespace the cluster's profile controller created (it has the
/// controller ownerReference to a Profile, which the controller sets only on a namespace it
/// creates: profile_controller.go v1.10.0 line 139) and this function did not: its labels among
/// [`MESH_LABEL_KEYS`], a value naming the namespace itself written as [`OWN_NAMESPACE`].
/// `None` for any other namespace.
pub fn learnt_from(namespace: &Object, managed_by_us: bool) -> Option<BTreeMap<String, String>> {
    if managed_by_us || !made_by_profile_controller(&namespace.body) {
        return None;
    }
    let labels = namespace.body.pointer("/metadata/labels")?.as_object()?;
    Some(
        MESH_LABEL_KEYS
            .iter()
            .filter_map(|key| {
                let value = labels.get(*key)?.as_str()?;
                let value = if value == namespace.name {
                    OWN_NAMESPACE
                } else {
                    value
                };
                Some(((*key).to_owned(), value.to_owned()))
            })
            .collect(),
    )
}

fn made_by_profile_controller(namespace: &Value) -> bool {
    namespace
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|r| r["kind"] == "Profile" && r["controller"] == true)
}

/// `labels` for the namespace `namespace`: [`OWN_NAMESPACE`] becomes its name.
pub fn for_namespace(
    labels: &BTreeMap<String, String>,
    namespace: &str,
) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|(k, v)| {
            let value = if v == OWN_NAMESPACE { namespace } else { v };
            (k.clone(), value.to_owned())
        })
        .collect()
}

/// True when `namespace` carries none of the mesh labels: outside the mesh, as the namespaces
/// earlier versions of this function made are. A namespace with any of them is left as it is
/// (an administrator's choice of mode is not undone).
pub fn lacks_mesh_labels(namespace: &Object) -> bool {
    let labels = namespace.body.pointer("/metadata/labels");
    MESH_LABEL_KEYS
        .iter()
        .all(|key| labels.and_then(|l| l.get(*key)).is_none())
}

/// The merge patch that repairs a namespace this function made, only while it is the version
/// read (its `resourceVersion`): the mesh labels among `wanted` (a namespace's desired labels),
/// and `owner_references` (its Profile) when given. An [`Object`] of the namespace whose body
/// is the patch; `None` when there is nothing to repair.
pub fn repair_patch(
    namespace: &Object,
    wanted: Option<&Value>,
    owner_references: Option<Value>,
) -> Option<Object> {
    let labels: serde_json::Map<String, Value> = MESH_LABEL_KEYS
        .iter()
        .filter_map(|key| Some(((*key).to_owned(), wanted?.get(*key)?.clone())))
        .collect();
    if labels.is_empty() && owner_references.is_none() {
        return None;
    }
    let mut metadata = serde_json::json!({});
    if !labels.is_empty() {
        metadata["labels"] = Value::Object(labels);
    }
    if let Some(owners) = owner_references {
        metadata["ownerReferences"] = owners;
    }
    Some(Object::new(
        namespace.kind,
        None,
        &namespace.name,
        namespace.version_guarded(serde_json::json!({"metadata": metadata})),
    ))
}

/// The labels among `wanted` that `namespace` does not carry with that value: what the doctor
/// reports as a difference.
pub fn differences(
    namespace: &Object,
    wanted: &BTreeMap<String, String>,
) -> Vec<(String, Option<String>, String)> {
    let labels = namespace.body.pointer("/metadata/labels");
    for_namespace(wanted, &namespace.name)
        .into_iter()
        .filter_map(|(key, want)| {
            let have = labels
                .and_then(|l| l.get(&key))
                .and_then(Value::as_str)
                .map(str::to_owned);
            (have.as_deref() != Some(want.as_str())).then_some((key, have, want))
        })
        .collect()
}

/// How a namespace's workloads can be reached, as far as a contributor's Istio policy goes,
/// from its labels (those it has, or will have when this function creates it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Sidecars (or no mesh at all): the contributor policy as KFAM writes it.
    Sidecar,
    /// Ambient, ingress through the namespace's waypoint Gateway of this name: the policy is
    /// attached to it (`targetRefs`), as kubeflow/dashboard PR #267 attaches the owner's (lines
    /// 547-557); a waypoint enforces only such policies (istio/istio 1.30.3
    /// `pilot/pkg/model/policyattachment.go` lines 139-147, 184-197).
    Waypoint(String),
    /// Ambient without a waypoint: ztunnel drops every ALLOW rule that reads a header
    /// (`pilot/pkg/serviceregistry/ambient/authorization.go` lines 578-614), so no per-person
    /// policy can admit anyone: the RoleBinding is written, no policy.
    NoHeaderRules,
}

/// The [`Reach`] of the namespace `namespace` with `labels`. The waypoint counts when the
/// namespace uses one of its own (`istio.io/use-waypoint`, in this namespace) and routes
/// ingress through it (`istio.io/ingress-use-waypoint=true`; KEP-2676, kubeflow/community #891,
/// lines 146-157): a policy can only attach to a Gateway of its own namespace
/// (authorization_policy.proto, istio/api 1.30.3, lines 291-295).
pub fn reach(labels: Option<&Value>, namespace: &str) -> Reach {
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    // A sidecar wins over ambient: istio-cni leaves a pod with a sidecar out of ambient
    // (istio/istio 1.30.3 `cni/pkg/nodeagent/enablement_selector.go` lines 76-80).
    if label("istio-injection") == Some("enabled")
        || label("istio.io/dataplane-mode") != Some("ambient")
    {
        return Reach::Sidecar;
    }
    let own = label("istio.io/use-waypoint-namespace").is_none_or(|ns| ns == namespace);
    match label("istio.io/use-waypoint") {
        Some(waypoint) if own && label("istio.io/ingress-use-waypoint") == Some("true") => {
            Reach::Waypoint(waypoint.to_owned())
        }
        _ => Reach::NoHeaderRules,
    }
}

/// The `targetRefs` a contributor AuthorizationPolicy carries in a namespace of `reach`: the
/// waypoint Gateway, or none (a sidecar enforces only policies without them:
/// `policyattachment.go` lines 139-147). `None` as well where no policy is written.
fn target_refs(reach: &Reach) -> Option<Value> {
    match reach {
        Reach::Waypoint(waypoint) => Some(serde_json::json!([{
            "kind": "Gateway",
            "group": "gateway.networking.k8s.io",
            "name": waypoint,
        }])),
        Reach::Sidecar | Reach::NoHeaderRules => None,
    }
}

/// A person's contributor objects in a namespace of `reach`: AuthorizationPolicies attached to
/// the waypoint, or left out where none could work.
pub fn shaped(objects: &[Object], reach: &Reach) -> Vec<Object> {
    objects
        .iter()
        .filter(|o| !(*reach == Reach::NoHeaderRules && o.kind == Kind::AuthorizationPolicy))
        .map(|o| match target_refs(reach) {
            Some(refs) if o.kind == Kind::AuthorizationPolicy => {
                let mut attached = o.clone();
                attached.body["spec"]["targetRefs"] = refs;
                attached
            }
            _ => o.clone(),
        })
        .collect()
}

/// True when `existing` is attached where `wanted` is (both to the same waypoint, or neither):
/// what [`crate::domain::sign_in::plan::covers`] cannot see, since a policy attached to a waypoint holds
/// everything the unattached one says, and more.
pub fn attached_alike(wanted: &Object, existing: &Object) -> bool {
    let refs = |o: &Object| o.body.pointer("/spec/targetRefs").cloned();
    wanted.kind != Kind::AuthorizationPolicy || refs(wanted) == refs(existing)
}

/// True when the contributor AuthorizationPolicy `policy` (as listed: its `spec.targetRefs`, if
/// any, kept) is not in the shape its namespace, labelled `labels`, calls for: attached to no
/// waypoint in a sidecar namespace, or not to the namespace's waypoint in an ambient one. What
/// an operator's switch between sidecar and ambient leaves behind; a namespace where no
/// per-person policy works ([`Reach::NoHeaderRules`]) calls for none, and is left alone.
pub fn misshapen(policy: &Object, labels: Option<&Value>) -> bool {
    let Some(namespace) = policy.namespace.as_deref() else {
        return false;
    };
    let reach = reach(labels, namespace);
    policy.kind == Kind::AuthorizationPolicy
        && reach != Reach::NoHeaderRules
        && policy.body.pointer("/spec/targetRefs") != target_refs(&reach).as_ref()
}

/// The server-side apply that brings the contributor policy `stored` (as read, whole) to the
/// shape of its namespace (labelled `labels`), only while it is the version read. It carries
/// exactly the fields this function applies to a contributor policy (the labels, annotations
/// and rules of [`crate::domain::sign_in::desired::contributor_objects`]), so that applying it moves no
/// other field's ownership: the activity record, written by merge patch, stays as it is.
pub fn reshaped(stored: &Object, labels: Option<&Value>) -> Object {
    let namespace = stored.namespace.as_deref().unwrap_or_default();
    let mut spec = serde_json::json!({"rules": stored.body["spec"]["rules"].clone()});
    if let Some(refs) = target_refs(&reach(labels, namespace)) {
        spec["targetRefs"] = refs;
    }
    let body = serde_json::json!({
        "apiVersion": stored.kind.api_version(),
        "kind": stored.kind.name(),
        "metadata": {
            "name": stored.name,
            "namespace": namespace,
            "resourceVersion": stored.body["metadata"]["resourceVersion"].clone(),
            "labels": stored.meta_subset("labels", &CONTRIBUTOR_LABELS),
            "annotations": stored.meta_subset("annotations", &CONTRIBUTOR_ANNOTATIONS),
        },
        "spec": spec,
    });
    Object::new(stored.kind, Some(namespace), &stored.name, body)
}

/// What the doctor says of the namespaces this function made (`namespaces`), against the mesh
/// labels a namespace it creates gets now (`wanted`): `(ok, detail)` per namespace that is not
/// as the profile controller would have it, or whose workloads no contributor can reach.
pub fn territory_report(
    namespaces: &[Object],
    wanted: &BTreeMap<String, String>,
) -> Vec<(bool, String)> {
    let mut said = Vec::new();
    for namespace in namespaces {
        let name = &namespace.name;
        if lacks_mesh_labels(namespace) && !wanted.is_empty() {
            said.push((false, format!(
                "namespace {name}: no mesh label, so its pods run without a sidecar and no Istio policy protects them; a member's next federated sign-in adds {} (pods already running there get their sidecar only when restarted)",
                describe(&for_namespace(wanted, name))
            )));
            continue;
        }
        if reach(namespace.body.pointer("/metadata/labels"), name) == Reach::NoHeaderRules {
            said.push((false, format!(
                "namespace {name}: Istio ambient mode without a waypoint: no contributor can reach its workloads through the gateway (give it a waypoint: istio.io/use-waypoint, istio.io/ingress-use-waypoint=true)"
            )));
            continue;
        }
        let differences = differences(namespace, wanted);
        if !differences.is_empty() {
            let shown: Vec<String> = differences
                .iter()
                .map(|(key, have, want)| {
                    format!(
                        "{key}={} (a new one gets {want})",
                        have.as_deref().unwrap_or("<none>")
                    )
                })
                .collect();
            said.push((
                true,
                format!(
                    "namespace {name}: mesh labels chosen otherwise, left as they are: {}",
                    shown.join(", ")
                ),
            ));
        }
    }
    said
}

fn describe(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests;
