//! Team members as a cluster in use holds them: group Profiles and, per member, the KFAM-shaped
//! RoleBinding and AuthorizationPolicy kubeflow-profile-manager made at their sign-ins, and the
//! record of when they were last seen (a Lease named by their `sub` in the function's records
//! namespace), or none. For the sweep's and the access report's tests and benchmark, where
//! signing thousands of people in first would only slow them down.

use std::time::SystemTime;

use serde_json::json;

use crate::apiserver::{FakeCluster, rfc3339};
use crate::events::sub_of;

pub const GROUP_OWNER: &str = "admin@kubeflow.com";
/// deploy/rbac.yaml's namespace, where the function keeps its records.
pub const RECORDS_NAMESPACE: &str = "kubeflow-profile-manager";
/// The sweep's own Lease: its creation is when records began.
pub const SWEEP_STATE: &str = "kubeflow-profile-manager-sweep";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const MANAGER: &str = "kubeflow-profile-manager";
const USER_LABEL: &str = "kubeflow-profile-manager/user";

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
    /// No record (made before records were kept, or never signed in since).
    None,
    /// Seen at that time.
    Seen(SystemTime),
}

/// `time` as a Lease's `metav1.MicroTime`.
fn micro_time(time: SystemTime) -> String {
    let text = rfc3339(time);
    format!("{}.000000Z", text.trim_end_matches('Z'))
}

/// The member's record: their Lease, renewed at `at` (replacing any earlier one).
pub fn seed_record(cluster: &FakeCluster, user: &str, at: SystemTime) {
    let sub = sub_of(user);
    cluster.replace(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": sub, "namespace": RECORDS_NAMESPACE,
                     "labels": {MANAGED_BY: MANAGER, USER_LABEL: sub}},
        "spec": {"acquireTime": micro_time(at), "renewTime": micro_time(at)},
    }));
}

/// The sweep's own Lease, made at `at`: records have been kept since then.
pub fn seed_records_began(cluster: &FakeCluster, at: SystemTime) {
    cluster.seed_at(
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": SWEEP_STATE, "namespace": RECORDS_NAMESPACE,
                         "labels": {MANAGED_BY: MANAGER}},
            "spec": {"renewTime": micro_time(at)},
        }),
        at,
    );
}

/// A member's contributor RoleBinding and AuthorizationPolicy in `namespace`, made now, and
/// their record.
pub fn seed_member(cluster: &FakeCluster, user: &str, namespace: &str, record: Record) {
    seed_member_made(cluster, user, namespace, record, None);
}

/// [`seed_member`] with the bindings made at `made` (their `creationTimestamp`).
pub fn seed_member_made(
    cluster: &FakeCluster,
    user: &str,
    namespace: &str,
    record: Record,
    made: Option<SystemTime>,
) {
    let email = email_of(user);
    let name = format!("user-{user}-corp-example-clusterrole-edit");
    let metadata = json!({"name": name, "namespace": namespace,
        "labels": {MANAGED_BY: MANAGER, USER_LABEL: sub_of(user)},
        "annotations": {"user": email, "role": "edit"}});
    let seed = |body| match made {
        Some(at) => cluster.seed_at(body, at),
        None => cluster.seed(body),
    };
    seed(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": email}],
    }));
    seed(json!({
        "apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
        "metadata": metadata,
        "spec": {"action": "ALLOW", "rules": [{
            "from": [{"source": {"principals": ["cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"]}}],
            "when": [{"key": "request.headers[kubeflow-userid]", "values": [email]}],
        }]},
    }));
    if let Record::Seen(at) = record {
        seed_record(cluster, user, at);
    }
}
