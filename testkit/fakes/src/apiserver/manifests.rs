//! What the fake cluster holds from the start: Kubeflow's ClusterRoles, the project's RBAC
//! manifest (its namespaces) and its admission policies, read from `deploy/`. Pure (on the
//! store).

#[allow(unused_imports)]
use super::*;

/// The aggregated ClusterRoles Kubeflow's `kubeflow-roles` component installs (their rules
/// aggregate from labelled roles; only their names matter here).
pub(super) fn seed_kubeflow_roles(store: &mut Store) {
    let target = Target {
        resource: CLUSTER_ROLES,
        version: "v1",
        namespace: None,
    };
    for role in ["kubeflow-admin", "kubeflow-edit", "kubeflow-view"] {
        let body = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": role, "labels": {"app.kubernetes.io/component": "kubeflow-roles"}},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {
                format!("rbac.kubeflow.org/aggregate-to-{role}"): "true"}}]},
            "rules": []});
        store
            .create(&target, body, "kustomize")
            .expect("a valid ClusterRole");
    }
}

/// The namespaces `kubectl apply -f deploy/rbac.yaml` creates (the function's records).
pub(super) fn seed_project_namespaces(store: &mut Store) {
    let target = Target {
        resource: NAMESPACES,
        version: "v1",
        namespace: None,
    };
    for document in
        serde_norway::Deserializer::from_str(include_str!("../../../../deploy/rbac.yaml"))
    {
        let Ok(body) = <Value as serde::Deserialize>::deserialize(document) else {
            continue;
        };
        if body["kind"] == "Namespace" {
            store
                .create(&target, body, "kubectl-client-side-apply")
                .expect("deploy/rbac.yaml's namespace is valid");
        }
    }
}

/// The policies and bindings `kubectl apply -f deploy/admission.yaml` creates (what they
/// enforce is `config.admission`).
pub(super) fn seed_admission_policies(store: &mut Store) {
    for document in
        serde_norway::Deserializer::from_str(include_str!("../../../../deploy/admission.yaml"))
    {
        let Ok(body) = <Value as serde::Deserialize>::deserialize(document) else {
            continue;
        };
        let Some(resource) = resource_of(body["kind"].as_str().unwrap_or("")) else {
            continue;
        };
        let target = Target {
            resource,
            version: "v1",
            namespace: None,
        };
        store
            .create(&target, body, "kubectl-client-side-apply")
            .expect("deploy/admission.yaml's objects are valid");
    }
}
