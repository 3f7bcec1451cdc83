//! Team members as a cluster in use holds them: group Profiles and, per member, the KFAM-shaped
//! RoleBinding and AuthorizationPolicy kubeflow-profile-manager made at their sign-ins, with or
//! without its activity record (objects made before it kept one have none). For the sweep's and
//! the access report's tests and benchmark, where signing thousands of people in first would
//! only slow them down.

use std::time::SystemTime;

use serde_json::json;

use crate::apiserver::{FakeCluster, rfc3339};
use crate::events::sub_of;

pub const GROUP_OWNER: &str = "admin@kubeflow.com";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const MANAGER: &str = "kubeflow-profile-manager";

/// The email of a test user.
pub fn email_of(user: &str) -> String {
    format!("{user}@corp.example")
}

/// The Cognito user name of a test user, as the federated sign-in events carry it.
pub fn username_of(user: &str) -> String {
    format!("adfs_ad\\{user}")
}

/// A group Profile (and, through the profile controller, its namespace) as the function makes
/// them for the AD group of the same name.
pub fn seed_group(cluster: &FakeCluster, namespace: &str) {
    cluster.seed(json!({
        "apiVersion": "kubeflow.org/v1", "kind": "Profile",
        "metadata": {"name": namespace,
            "labels": {MANAGED_BY: MANAGER, "kubeflow-profile-manager/profile": namespace},
            "annotations": {"kubeflow-profile-manager/group": namespace}},
        "spec": {"owner": {"kind": "User", "name": GROUP_OWNER}},
    }));
    cluster.reconcile(namespace);
}

/// What the function's activity record says of a member.
#[derive(Debug, Clone, Copy)]
pub enum Record {
    /// Made before records were kept.
    None,
    /// Seen at that time, with their Cognito user name.
    Seen(SystemTime),
}

/// A member's contributor RoleBinding and AuthorizationPolicy in `namespace`.
pub fn seed_member(cluster: &FakeCluster, user: &str, namespace: &str, record: Record) {
    let email = email_of(user);
    let name = format!("user-{user}-corp-example-clusterrole-edit");
    let mut annotations = json!({"user": email, "role": "edit"});
    if let Record::Seen(at) = record {
        annotations["kubeflow-profile-manager/last-activity"] = json!(rfc3339(at));
        annotations["kubeflow-profile-manager/username"] = json!(username_of(user));
    }
    let metadata = json!({"name": name, "namespace": namespace,
        "labels": {MANAGED_BY: MANAGER, "kubeflow-profile-manager/user": sub_of(user)},
        "annotations": annotations});
    cluster.seed(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": email}],
    }));
    let mut policy_metadata = metadata.clone();
    if let Some(annotations) = policy_metadata["annotations"].as_object_mut() {
        annotations.retain(|key, _| key == "user" || key == "role");
    }
    cluster.seed(json!({
        "apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
        "metadata": policy_metadata,
        "spec": {"action": "ALLOW", "rules": [{
            "from": [{"source": {"principals": ["cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"]}}],
            "when": [{"key": "request.headers[kubeflow-userid]", "values": [email]}],
        }]},
    }));
}
