//! The Kubeflow profile controller, as the flavour's version reconciles a Profile: the namespace
//! (created, or adopted when its `owner` annotation names the Profile's owner), its labels,
//! the owner's RoleBinding and Istio access, each version's shapes. Pure (on the store).

#[allow(unused_imports)]
use super::*;

/// Runs the profile controller for `profile` after the configured delay.
pub(super) fn schedule_profile_controller(shared: &Arc<Shared>, profile: &Value) {
    let Some(name) = profile.pointer("/metadata/name").and_then(Value::as_str) else {
        return;
    };
    let name = name.to_owned();
    let shared = shared.clone();
    shared.controller_runs.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.controller_delay).await;
        reconcile_as_controller(&mut shared.lock().store, &name, &shared.config);
        shared.controller_runs.fetch_sub(1, Ordering::SeqCst);
    });
}

pub(super) const CONTROLLER: &str = "profile-controller";

/// Who the profile controller is to the API server: the ServiceAccount kubeflow/manifests
/// v1.10.2 runs it (and KFAM) as (`applications/profiles/upstream/overlays/kubeflow/patches/
/// kfam.yaml`, `manager/service-account.yaml`, `namePrefix: profiles-`).
pub fn profile_controller_identity() -> UserInfo {
    UserInfo::new(
        "system:serviceaccount:kubeflow:profiles-controller-service-account",
        &[
            "system:serviceaccounts",
            "system:serviceaccounts:kubeflow",
            "system:authenticated",
        ],
    )
}

/// [`reconcile_profile`] as the profile controller's own identity: its writes go through
/// admission like anyone's.
pub(super) fn reconcile_as_controller(store: &mut Store, name: &str, config: &FakeClusterConfig) {
    store.set_caller(Some(profile_controller_identity()), false);
    reconcile_profile(store, name, config);
    store.set_caller(None, false);
}

/// What Kubeflow's profile controller does for a Profile: create (owning it) or adopt (labels
/// only, when its `owner` annotation matches) its namespace, bind the owner as namespace admin,
/// and give the owner Istio access as the flavour's controller does.
pub fn reconcile_profile(store: &mut Store, name: &str, config: &FakeClusterConfig) {
    let Some(profile) = store.raw(&PROFILES, None, name).cloned() else {
        return;
    };
    let owner = profile
        .pointer("/spec/owner/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !reconcile_namespace(store, name, &profile, &owner, config) {
        return;
    }
    write_owner_access(store, name, &owner, config);
    write_back(store, name, &profile);
}

/// The controller's update of the Profile (`PatchDefaultPluginSpec`, profile_controller.go
/// line 729, an `r.Update` at every reconcile) writes it back from its Go struct, whose
/// `resourceQuotaSpec` is a struct, not a pointer (api/v1/profile_types.go): a Profile without a
/// quota comes back with an empty one, the controller its owner.
fn write_back(store: &mut Store, name: &str, profile: &Value) {
    if profile.pointer("/spec/resourceQuotaSpec").is_some() {
        return;
    }
    let mut written = profile.clone();
    written["spec"]["resourceQuotaSpec"] = json!({});
    if let Some(meta) = written["metadata"].as_object_mut() {
        meta.remove("managedFields");
    }
    store.controller_update(&PROFILES, None, name, written, CONTROLLER);
}

/// The Profile's namespace created or adopted; false (the Profile marked failed, or the create
/// refused) when the namespace is someone else's.
fn reconcile_namespace(
    store: &mut Store,
    name: &str,
    profile: &Value,
    owner: &str,
    config: &FakeClusterConfig,
) -> bool {
    let namespaces = Target {
        resource: NAMESPACES,
        version: "v1",
        namespace: None,
    };
    match store.raw(&NAMESPACES, None, name).cloned() {
        None => store
            .create(
                &namespaces,
                created_namespace(name, profile, owner, config),
                CONTROLLER,
            )
            .is_ok(),
        Some(existing)
            if existing
                .pointer("/metadata/annotations/owner")
                .and_then(Value::as_str)
                == Some(owner) =>
        {
            // The same file, lines 175-190: an existing namespace whose `owner` matches gets the
            // ConfigMap's labels only (`setNamespaceLabels`), never `istio-injection` and never
            // an ownerReference. PR #267 (line 188) also forces its mesh labels there.
            let mut adopted = existing.clone();
            if !adopted["metadata"]["labels"].is_object() {
                adopted["metadata"]["labels"] = json!({});
            }
            set_namespace_labels(&mut adopted["metadata"]["labels"]);
            set_mesh_labels(&mut adopted, name, config.flavor);
            if adopted != existing {
                store.controller_update(&NAMESPACES, None, name, adopted, CONTROLLER);
            }
            true
        }
        Some(_) => {
            let mut failed = profile.clone();
            failed["status"] = json!({"conditions": [{"type": "Failed", "status": "True",
                "message": format!("namespace already exist, but not owned by profile creator {owner}")}]});
            store.controller_update(&PROFILES, None, name, failed, CONTROLLER);
            false
        }
    }
}

/// The namespace the controller creates for the Profile.
fn created_namespace(
    name: &str,
    profile: &Value,
    owner: &str,
    config: &FakeClusterConfig,
) -> Value {
    // kubeflow/kubeflow v1.10.0 (= kubeflow/dashboard v2.0.0)
    // components/profile-controller/controllers/profile_controller.go, Reconcile: a
    // namespace it creates gets the `owner` annotation and `istio-injection: enabled`
    // (lines 127-136), the ConfigMap's labels (137) and its controller ownerReference,
    // `controller` and `blockOwnerDeletion` true (139; controller-runtime v0.12.1
    // controllerutil.go 74-81). PR #267 starts from no label instead and sets the mesh's.
    let owner_reference = json!([{"apiVersion": "kubeflow.org/v1", "kind": "Profile",
        "name": name, "uid": profile["metadata"]["uid"], "controller": true,
        "blockOwnerDeletion": true}]);
    let mut labels = match config.flavor {
        Flavor::AmbientWithWaypoint => json!({}),
        _ => json!({"istio-injection": "enabled"}),
    };
    set_namespace_labels(&mut labels);
    let mut namespace = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "annotations": {"owner": owner}, "labels": labels,
                     "ownerReferences": owner_reference}});
    set_mesh_labels(&mut namespace, name, config.flavor);
    if config.flavor == Flavor::AmbientWithoutWaypoint {
        // The manual switch of manifests v1.11.0's CI (istio_validation.yaml lines
        // 140-144), done once to the namespace the controller made, never to one it
        // adopts.
        if let Some(labels) = namespace["metadata"]["labels"].as_object_mut() {
            labels.remove("istio-injection");
        }
        namespace["metadata"]["labels"]["istio.io/dataplane-mode"] = json!("ambient");
    }
    namespace
}

/// The owner's `namespaceAdmin` RoleBinding and Istio access (and, with a waypoint, the
/// waypoint and its L4 policy).
fn write_owner_access(store: &mut Store, name: &str, owner: &str, config: &FakeClusterConfig) {
    let bindings = Target {
        resource: ROLEBINDINGS,
        version: "v1",
        namespace: Some(name),
    };
    let admin = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "namespaceAdmin", "namespace": name, "annotations": {"role": "admin", "user": owner}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": owner}]});
    let _ = store.create(&bindings, admin, CONTROLLER);
    let (target, owner_access) = owner_istio_access(name, owner, config);
    let _ = store.create(&target, owner_access, CONTROLLER);
    if config.flavor == Flavor::AmbientWithWaypoint {
        // PR #267 `createWaypoint` with `-create-waypoint` (lines 874-944, called at 217).
        store
            .waypoints
            .insert((name.to_owned(), WAYPOINT.to_owned()));
        // PR #267 `updateL4AuthorizationPolicy` (lines 947-1006): the waypoint's traffic is let
        // through ztunnel; its principal is the waypoint's ServiceAccount, named as the Gateway.
        let l4 = json!({"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "waypoint-l4-access", "namespace": name},
            "spec": {"action": "ALLOW", "rules": [{"from": [{"source": {"principals": [
                format!("cluster.local/ns/{name}/sa/{WAYPOINT}")]}}]}]}});
        let _ = store.create(&target, l4, CONTROLLER);
    }
}

/// The labels of the profile controller's namespace-labels ConfigMap (kubeflow/manifests v1.10.2
/// and v1.11.0 `applications/profiles/upstream/base/namespace-labels.yaml`, lines 15-18): no
/// `istio-injection` among them.
pub(super) const CONFIGMAP_LABELS: [(&str, &str); 4] = [
    ("katib.kubeflow.org/metrics-collector-injection", "enabled"),
    ("serving.kubeflow.org/inferenceservice", "enabled"),
    ("pipelines.kubeflow.org/enabled", "true"),
    ("app.kubernetes.io/part-of", "kubeflow-profile"),
];

/// The waypoint PR #267 names by default (`-waypoint-name`, main.go line 88).
pub const WAYPOINT: &str = "waypoint";

/// `setNamespaceLabels` (profile_controller.go v1.10.0 lines 754-773): each ConfigMap label is
/// added when its key is absent, never overwritten (an empty value would remove the key).
pub(super) fn set_namespace_labels(labels: &mut Value) {
    for (key, value) in CONFIGMAP_LABELS {
        if labels.get(key).is_none() {
            labels[key] = json!(value);
        }
    }
}

/// The mesh labels a flavour's controller forces on a Profile namespace, created or adopted:
/// PR #267 `setNamespaceLabelsAndServiceMesh` (lines 833-844, called at 142 and 188) in ambient
/// mode; nothing for the v1.10.0 controller.
pub(super) fn set_mesh_labels(namespace: &mut Value, name: &str, flavor: Flavor) {
    let labels = &mut namespace["metadata"]["labels"];
    if flavor == Flavor::AmbientWithWaypoint {
        labels["istio-injection"] = json!("disabled");
        labels["istio.io/dataplane-mode"] = json!("ambient");
        labels["istio.io/use-waypoint"] = json!(WAYPOINT);
        labels["istio.io/use-waypoint-namespace"] = json!(name);
        labels["istio.io/ingress-use-waypoint"] = json!("true");
    }
}

/// The owner's Istio access the flavour's profile controller writes in namespace `ns`
/// (kubeflow/kubeflow `components/profile-controller`: `ns-owner-access-istio` from 1.3, its
/// user rule with `from` principals from 1.8; `owner-binding-istio` in 1.2).
pub(super) fn owner_istio_access<'a>(
    ns: &'a str,
    owner: &str,
    config: &FakeClusterConfig,
) -> (Target<'a>, Value) {
    let key = format!("request.headers[{}]", config.userid_header);
    let value = format!("{}{owner}", config.userid_prefix);
    if config.flavor == Flavor::Kubeflow12 {
        let binding = json!({"apiVersion": "rbac.istio.io/v1alpha1", "kind": "ServiceRoleBinding",
            "metadata": {"name": "owner-binding-istio", "namespace": ns, "annotations": {"role": "admin", "user": owner}},
            "spec": {"roleRef": {"kind": "ServiceRole", "name": "ns-access-istio"},
                     "subjects": [{"properties": {key: value}}, {"properties": {"source.namespace": ns}}]}});
        let target = Target {
            resource: SERVICE_ROLE_BINDINGS,
            version: "v1alpha1",
            namespace: Some(ns),
        };
        return (target, binding);
    }
    let mut user_rule = json!({"when": [{"key": key, "values": [value]}]});
    if config.flavor != Flavor::Kubeflow13To17 {
        user_rule["from"] =
            json!([{"source": {"principals": [config.gateway_principal, KFP_UI_PRINCIPAL]}}]);
    }
    // profile_controller.go v1.10.0 `getAuthorizationPolicy` (lines 432-503), annotations
    // `user` and `role: admin` (512-519); PR #267 adds `targetRefs` to the waypoint in ambient
    // mode (547-557), with no selector.
    let mut policy = json!({"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
    "metadata": {"name": "ns-owner-access-istio", "namespace": ns,
                 "annotations": {"user": owner, "role": "admin"}},
    "spec": {"action": "ALLOW", "rules": [
        user_rule,
        {"when": [{"key": "source.namespace", "values": [ns]}]},
        {"to": [{"operation": {"paths": ["/healthz", "/metrics", "/wait-for-drain"]}}]},
        {"from": [{"source": {"principals": ["cluster.local/ns/kubeflow/sa/notebook-controller-service-account"]}}],
         "to": [{"operation": {"methods": ["GET"], "paths": ["*/api/kernels"]}}]},
    ]}});
    if config.flavor == Flavor::AmbientWithWaypoint {
        policy["spec"]["targetRefs"] = json!([{"kind": "Gateway",
            "group": "gateway.networking.k8s.io", "name": WAYPOINT}]);
    }
    let target = Target {
        resource: AUTHORIZATION_POLICIES,
        version: "v1beta1",
        namespace: Some(ns),
    };
    (target, policy)
}
