//! The desired state of a signing-in user: their personal Profile and, per allowed group, the
//! group Profile and the KFAM-shaped contributor objects. A pure function of the identity and the
//! configuration.

use serde_json::{Value, json};

use crate::config::Config;
use crate::event::{TokenEvent, parse_groups};
use crate::names::{dns_label, kfam_binding_name, legacy_binding_name, user_label_value};
use crate::objects::{Kind, MANAGED_BY_LABEL, MANAGER, Object, USER_LABEL};
use crate::protected::{Refusal, name_refusal};

/// Principals that forward the `kubeflow-userid` header (Kubeflow's Istio gateway and the
/// Pipelines UI); the AuthorizationPolicy trusts the header only from them.
const TRUSTED_PRINCIPALS: [&str; 2] = [
    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
    "cluster.local/ns/kubeflow/sa/ml-pipeline-ui",
];

/// Who is signing in, as far as provisioning is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name after its domain (`rumesh`).
    pub user_name: String,
    /// The Kubeflow user id.
    pub email: String,
    /// Parsed groups (lowercased, decoded, de-duplicated), before any filtering.
    pub groups: Vec<String>,
}

impl Identity {
    /// The identity of a sign-in event, or `None` when it has no usable email.
    pub fn from_event(event: &TokenEvent, groups_claim: &str) -> Option<Self> {
        Some(Identity {
            user_name: event.short_user_name().to_owned(),
            email: event.email()?.to_owned(),
            groups: event
                .user_attributes
                .get(groups_claim)
                .map(|claim| parse_groups(claim))
                .unwrap_or_default(),
        })
    }
}

/// A group this user is to have access to, before the cluster has been consulted.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupAccess {
    /// The group as parsed from the claim.
    pub group: String,
    pub namespace: String,
    /// The group Profile, owned by `GROUP_PROFILE_OWNER`.
    pub profile: Object,
    /// The namespace as this function creates it when the Profile does not exist yet: annotated
    /// with the Profile's owner, so that the profile controller adopts it.
    pub namespace_object: Object,
    /// The RoleBinding first, then its Istio twins.
    pub bindings: Vec<Object>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedGroup {
    pub group: String,
    pub namespace: Option<String>,
    pub reason: Refusal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredState {
    pub email: String,
    /// `None` when the user name leaves no valid Profile name.
    pub personal_profile: Option<Object>,
    pub groups: Vec<GroupAccess>,
    pub refused: Vec<RefusedGroup>,
    /// With `REMOVE_LEGACY_BINDINGS`: the name of the Python Lambda's bindings of this user.
    pub legacy_binding_name: Option<String>,
}

/// Computes what `identity` should have. `twins` are the Istio kinds to pair with each
/// RoleBinding (resolved from `ISTIO_AUTHZ`).
pub fn desired_state(identity: &Identity, config: &Config, twins: &[Kind]) -> DesiredState {
    let email = identity.email.as_str();
    let personal_profile = dns_label(&format!(
        "{}{}",
        config.user_profile_prefix, identity.user_name
    ))
    .filter(|name| name.starts_with(&config.user_profile_prefix))
    .map(|name| {
        let mut spec = json!({"owner": {"kind": "User", "name": email}});
        if let Some(quota) = &config.user_profile_quota {
            spec["resourceQuotaSpec"] = quota.clone();
        }
        profile(&name, spec, Some(email))
    });

    let mut groups: Vec<GroupAccess> = Vec::new();
    let mut refused = Vec::new();
    let selected = identity
        .groups
        .iter()
        .filter(|g| g.starts_with(&config.group_prefix));
    for group in selected {
        let Some(namespace) = dns_label(group) else {
            refused.push(RefusedGroup {
                group: group.clone(),
                namespace: None,
                reason: Refusal::NoValidName,
            });
            continue;
        };
        if let Some(reason) = name_refusal(&namespace, config) {
            refused.push(RefusedGroup {
                group: group.clone(),
                namespace: Some(namespace),
                reason,
            });
            continue;
        }
        if groups.iter().any(|g| g.namespace == namespace) {
            continue; // "Data Science" and "data_science" share one namespace
        }
        let owner = config.group_profile_owner.as_str();
        groups.push(GroupAccess {
            group: group.clone(),
            profile: profile(
                &namespace,
                json!({"owner": {"kind": "User", "name": owner}}),
                None,
            ),
            namespace_object: Object::new(
                Kind::Namespace,
                None,
                &namespace,
                json!({
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": namespace,
                        "annotations": {"owner": owner},
                        "labels": {MANAGED_BY_LABEL: MANAGER},
                    },
                }),
            ),
            bindings: contributor_objects(&namespace, email, config.user_role.as_str(), twins),
            namespace,
        });
    }
    DesiredState {
        email: email.to_owned(),
        personal_profile,
        groups,
        refused,
        legacy_binding_name: config
            .remove_legacy_bindings
            .then(|| legacy_binding_name(&identity.user_name, "edit")),
    }
}

fn profile(name: &str, spec: Value, user: Option<&str>) -> Object {
    let mut labels = json!({MANAGED_BY_LABEL: MANAGER});
    if let Some(email) = user {
        labels[USER_LABEL] = json!(user_label_value(email));
    }
    Object::new(
        Kind::Profile,
        None,
        name,
        json!({
            "apiVersion": Kind::Profile.api_version(),
            "kind": "Profile",
            "metadata": {"name": name, "labels": labels},
            "spec": spec,
        }),
    )
}

/// The RoleBinding of `email` with ClusterRole `kubeflow-<role>` in `namespace`, then one Istio
/// twin per kind in `twins`, all named and annotated as KFAM does.
pub fn contributor_objects(
    namespace: &str,
    email: &str,
    role: &str,
    twins: &[Kind],
) -> Vec<Object> {
    let name = kfam_binding_name(email, role);
    let metadata = json!({
        "name": name,
        "namespace": namespace,
        "annotations": {"user": email, "role": role},
        "labels": {MANAGED_BY_LABEL: MANAGER, USER_LABEL: user_label_value(email)},
    });
    let role_binding = json!({
        "apiVersion": Kind::RoleBinding.api_version(),
        "kind": "RoleBinding",
        "metadata": metadata,
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": format!("kubeflow-{role}"),
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": email}],
    });
    let mut objects = vec![Object::new(
        Kind::RoleBinding,
        Some(namespace),
        &name,
        role_binding,
    )];
    for &kind in twins {
        let spec = match kind {
            Kind::AuthorizationPolicy => json!({
                "rules": [{
                    "from": [{"source": {"principals": TRUSTED_PRINCIPALS}}],
                    "when": [{"key": "request.headers[kubeflow-userid]", "values": [email]}],
                }],
            }),
            Kind::ServiceRoleBinding => json!({
                "roleRef": {"kind": "ServiceRole", "name": "ns-access-istio"},
                "subjects": [{"properties": {"request.headers[kubeflow-userid]": email}}],
            }),
            _ => continue,
        };
        let body = json!({
            "apiVersion": kind.api_version(),
            "kind": kind.name(),
            "metadata": metadata,
            "spec": spec,
        });
        objects.push(Object::new(kind, Some(namespace), &name, body));
    }
    objects
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| {
            if name == "CLUSTER_NAME" {
                return Some("kf".into());
            }
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    fn identity(groups: &[&str]) -> Identity {
        Identity {
            user_name: "rumesh".into(),
            email: "rumesh@corp.example".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn the_role_binding_has_the_kfam_shape() {
        let state = desired_state(&identity(&["ridy-jose"]), &config(&[]), &[]);
        let rb = &state.groups[0].bindings[0];
        assert_eq!(rb.kind, Kind::RoleBinding);
        assert_eq!(rb.namespace.as_deref(), Some("ridy-jose"));
        assert_eq!(
            rb.body,
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {
                    "name": "user-rumesh-corp-example-clusterrole-edit",
                    "namespace": "ridy-jose",
                    "annotations": {"user": "rumesh@corp.example", "role": "edit"},
                    "labels": {
                        "app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                        "kubeflow-profile-manager/user": user_label_value("rumesh@corp.example"),
                    },
                },
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "rumesh@corp.example"}],
            })
        );
    }

    #[test]
    fn the_istio_twins_have_the_kubeflow_shapes() {
        let state = desired_state(
            &identity(&["ridy-jose"]),
            &config(&[("USER_ROLE", "view")]),
            &[Kind::AuthorizationPolicy, Kind::ServiceRoleBinding],
        );
        let [rb, ap, srb] = &state.groups[0].bindings[..] else {
            panic!("expected three objects");
        };
        assert_eq!(rb.body["roleRef"]["name"], "kubeflow-view");
        for twin in [ap, srb] {
            assert_eq!(twin.name, "user-rumesh-corp-example-clusterrole-view");
            assert_eq!(twin.body["metadata"], rb.body["metadata"]);
        }
        assert_eq!(ap.body["apiVersion"], "security.istio.io/v1beta1");
        assert_eq!(ap.body["kind"], "AuthorizationPolicy");
        assert_eq!(
            ap.body["spec"],
            json!({"rules": [{
                "from": [{"source": {"principals": [
                    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
                    "cluster.local/ns/kubeflow/sa/ml-pipeline-ui"]}}],
                "when": [{"key": "request.headers[kubeflow-userid]", "values": ["rumesh@corp.example"]}],
            }]})
        );
        assert!(
            ap.body["spec"].get("action").is_none(),
            "ALLOW is the default"
        );
        assert_eq!(srb.body["apiVersion"], "rbac.istio.io/v1alpha1");
        assert_eq!(
            srb.body["spec"],
            json!({
                "roleRef": {"kind": "ServiceRole", "name": "ns-access-istio"},
                "subjects": [{"properties": {"request.headers[kubeflow-userid]": "rumesh@corp.example"}}],
            })
        );
    }

    #[test]
    fn profiles_have_the_kubeflow_shape() {
        let state = desired_state(&identity(&["ridy-jose"]), &config(&[]), &[]);
        let personal = state.personal_profile.unwrap();
        assert_eq!(personal.name, "profile-rumesh");
        assert_eq!(personal.body["apiVersion"], "kubeflow.org/v1");
        assert_eq!(personal.body["kind"], "Profile");
        assert_eq!(
            personal.body["spec"],
            json!({
                "owner": {"kind": "User", "name": "rumesh@corp.example"},
                "resourceQuotaSpec": {"hard": {"cpu": "0", "memory": "0Gi", "requests.nvidia.com/gpu": "0",
                    "persistentvolumeclaims": "0", "requests.storage": "0Gi"}},
            })
        );
        let group = &state.groups[0];
        assert_eq!(
            group.profile.body["spec"],
            json!({"owner": {"kind": "User", "name": "admin@kubeflow.com"}})
        );
        assert_eq!(
            group.profile.meta("labels", MANAGED_BY_LABEL),
            Some(MANAGER)
        );
        assert_eq!(
            group.namespace_object.body["metadata"]["annotations"],
            json!({"owner": "admin@kubeflow.com"})
        );
    }

    #[test]
    fn an_empty_quota_setting_gives_a_profile_without_quota() {
        let state = desired_state(&identity(&[]), &config(&[("USER_PROFILE_QUOTA", "")]), &[]);
        let spec = &state.personal_profile.unwrap().body["spec"];
        assert!(spec.get("resourceQuotaSpec").is_none());
    }

    #[test]
    fn refused_filtered_and_merged_groups() {
        let state = desired_state(
            &identity(&[
                "kube-system",
                "data science",
                "data_science",
                "profile-jose",
                "---",
                "ridy-jose",
                "monitoring",
            ]),
            &config(&[("PROTECTED_NAMESPACES", "monitoring")]),
            &[],
        );
        let granted: Vec<&str> = state.groups.iter().map(|g| g.namespace.as_str()).collect();
        assert_eq!(granted, ["data-science", "ridy-jose"]);
        let refused: Vec<(&str, &Refusal)> = state
            .refused
            .iter()
            .map(|r| (r.group.as_str(), &r.reason))
            .collect();
        assert_eq!(
            refused,
            [
                ("kube-system", &Refusal::SystemNamespace),
                ("profile-jose", &Refusal::PersonalProfileName),
                ("---", &Refusal::NoValidName),
                ("monitoring", &Refusal::ProtectedByConfig),
            ]
        );
    }

    #[test]
    fn the_group_prefix_selects_groups_and_stays_in_the_name() {
        let state = desired_state(
            &identity(&["ridy-jose", "rumesh", "ridy-ml"]),
            &config(&[("GROUP_PREFIX", "RIDY-")]),
            &[],
        );
        let granted: Vec<&str> = state.groups.iter().map(|g| g.namespace.as_str()).collect();
        assert_eq!(granted, ["ridy-jose", "ridy-ml"]);
        assert!(state.refused.is_empty());
    }

    #[test]
    fn a_user_name_that_loses_letters_is_hashed_and_an_empty_one_gets_no_personal_profile() {
        let mut who = identity(&["ridy-jose"]);
        who.user_name = "数据".into();
        let state = desired_state(&who, &config(&[]), &[]);
        assert!(
            state
                .personal_profile
                .is_some_and(|p| p.name.starts_with("profile-"))
        );
        who.user_name = String::new();
        let state = desired_state(&who, &config(&[]), &[]);
        assert_eq!(state.personal_profile, None);
        assert_eq!(state.groups.len(), 1);
    }
}
