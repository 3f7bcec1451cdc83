//! The desired state of a signing-in person: their personal Profile and, per allowed group, the
//! group Profile and the KFAM-shaped contributor objects. A pure function of the identity and
//! the configuration.

use serde_json::{Value, json};

use crate::domain::config::{Config, Role};
use crate::domain::model::mesh;
use crate::domain::model::names::{
    MAX_LABEL_LEN, collision_safe, dns_label, kfam_binding_name, legacy_binding_name,
    legacy_user_label_value,
};
use crate::domain::model::objects::{
    CONTRIBUTOR_ANNOTATIONS, CONTRIBUTOR_LABELS, GROUP_ANNOTATION, Kind, MANAGED_BY_LABEL, MANAGER,
    Object, PROFILE_NAME_LABEL, USER_LABEL,
};
use crate::domain::model::protected::{Refusal, name_refusal};
use crate::domain::sign_in::admission::{Identity, Mode};
use crate::domain::sign_in::conventions::Conventions;

/// A group this user is to have access to, before the cluster has been consulted.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupAccess {
    /// The team: the AD group's exact name as the IdP sent it, without a role suffix
    /// (`GROUP_ROLE_SUFFIXES`).
    pub group: String,
    /// The role the person gets there: the highest their groups of this team give.
    pub role: Role,
    pub namespace: String,
    /// The group Profile, owned by `GROUP_PROFILE_OWNER`, recording the group's exact name.
    pub profile: Object,
    /// The namespace as this function creates it when the Profile does not exist yet: annotated
    /// with the Profile's owner (so that the profile controller adopts it) and the group.
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

impl RefusedGroup {
    pub fn new(group: &str, namespace: Option<&str>, reason: Refusal) -> Self {
        RefusedGroup {
            group: group.to_owned(),
            namespace: namespace.map(str::to_owned),
            reason,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredState {
    pub mode: Mode,
    pub email: String,
    /// The value of [`USER_LABEL`] on this person's objects: their Cognito `sub`.
    pub user_key: String,
    /// The label value earlier versions gave this person's objects (a hash of the email), looked
    /// up so that they are re-labelled; only when the email was just asserted by the IdP.
    pub legacy_user_key: Option<String>,
    /// `None` when the user name leaves no valid Profile name, or when this sign-in may not
    /// grant.
    pub personal_profile: Option<Object>,
    /// The same Profile under a collision-safe name, for when the name derived from the user
    /// name is someone else's.
    pub personal_profile_variant: Option<Object>,
    pub groups: Vec<GroupAccess>,
    pub refused: Vec<RefusedGroup>,
    /// With `REMOVE_LEGACY_BINDINGS`: the name of the Python Lambda's bindings of this user.
    pub legacy_binding_name: Option<String>,
    /// Where the person's activity record (a Lease named by their `sub`) lives.
    pub records_namespace: String,
    /// The Profiles to read besides the groups' own: those named after a group whose role
    /// suffix was stripped, which win when they record that very group.
    pub also_read: Vec<String>,
}

/// Computes what `identity` should have on a cluster with `conventions`.
///
/// Only groups the allow-list admits are considered. A group whose namespace name is not
/// bindable is refused; so is a group whose namespace an earlier group of the same claim
/// already maps to (`Data_Science` after `data-science`): one namespace, one AD group.
pub fn desired_state(
    identity: &Identity,
    mode: Mode,
    config: &Config,
    conventions: &Conventions,
) -> DesiredState {
    let email = identity.email.as_str();
    let grants = mode == Mode::Grant;
    let personal_profile = dns_label(&format!(
        "{}{}",
        config.sign_in.user_profile_prefix, identity.user_name
    ))
    .filter(|name| grants && name.starts_with(&config.sign_in.user_profile_prefix))
    .map(|name| {
        let mut spec = json!({"owner": {"kind": "User", "name": email}});
        if let Some(quota) = &config.sign_in.user_profile_quota {
            spec["resourceQuotaSpec"] = quota.clone();
        }
        profile(&name, spec, json!({USER_LABEL: identity.sub}), json!({}))
    });
    let personal_profile_variant = personal_profile.as_ref().map(|base| {
        let name = collision_safe(&base.name, &identity.sub, MAX_LABEL_LEN);
        let mut variant = base.body.clone();
        variant["metadata"]["name"] = json!(name);
        variant["metadata"]["labels"][PROFILE_NAME_LABEL] = json!(name);
        Object::new(Kind::Profile, None, &name, variant)
    });

    let mut groups: Vec<GroupAccess> = Vec::new();
    let mut refused = Vec::new();
    let mut also_read = Vec::new();
    for ad_group in identity
        .groups
        .iter()
        .filter(|g| config.sign_in.allowed_groups.admits(g))
    {
        let refuse =
            |namespace: Option<&str>, reason| RefusedGroup::new(ad_group, namespace, reason);
        // A group a Profile records exactly is its own team, whatever suffix it ends with.
        let (group, role) = if conventions
            .recorded_teams
            .contains(&ad_group.to_ascii_lowercase())
        {
            (ad_group.as_str(), config.sign_in.user_role)
        } else {
            config.sign_in.team_and_role(ad_group)
        };
        if group != ad_group.as_str()
            && let Some(unstripped) = dns_label(ad_group)
        {
            // Read too: a Profile there that records this very group would win.
            also_read.push(unstripped);
        }
        let Some(namespace) = dns_label(group) else {
            refused.push(refuse(None, Refusal::NoValidName));
            continue;
        };
        if let Some(reason) = name_refusal(&namespace, config) {
            refused.push(refuse(Some(&namespace), reason));
            continue;
        }
        if role == Role::Admin && !config.sign_in.allow_admin_role {
            refused.push(refuse(Some(&namespace), Refusal::AdminNotAllowed));
            continue;
        }
        if let Some(first) = groups.iter_mut().find(|g| g.namespace == namespace) {
            if first.group.eq_ignore_ascii_case(group) {
                // Another role in the same team: the highest wins.
                if role > first.role {
                    first.role = role;
                    first.bindings = contributor_objects(
                        &namespace,
                        email,
                        &identity.sub,
                        role.as_str(),
                        conventions,
                    );
                }
                continue;
            }
            let reason = Refusal::AnotherGroupsNamespace {
                group: first.group.clone(),
            };
            refused.push(refuse(Some(&namespace), reason));
            continue;
        }
        let owner = config.sign_in.group_profile_owner.as_str();
        let record = json!({GROUP_ANNOTATION: group});
        groups.push(GroupAccess {
            group: group.to_owned(),
            role,
            profile: profile(
                &namespace,
                json!({"owner": {"kind": "User", "name": owner}}),
                json!({}),
                record.clone(),
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
                        "annotations": {"owner": owner, GROUP_ANNOTATION: group},
                        "labels": namespace_labels(&namespace, conventions),
                    },
                }),
            ),
            bindings: contributor_objects(
                &namespace,
                email,
                &identity.sub,
                role.as_str(),
                conventions,
            ),
            namespace,
        });
    }
    DesiredState {
        mode,
        email: email.to_owned(),
        user_key: identity.sub.clone(),
        legacy_user_key: grants.then(|| legacy_user_label_value(email)),
        personal_profile,
        personal_profile_variant,
        groups,
        refused,
        legacy_binding_name: (grants && config.sign_in.remove_legacy_bindings)
            .then(|| legacy_binding_name(&identity.user_name, "edit")),
        records_namespace: config.offboarding.records_namespace.clone(),
        also_read,
    }
}

/// The labels of a group namespace this function creates ahead of the profile controller: its
/// own, and the mesh labels the controller gives the namespaces it creates, which it would not
/// add to this one when it adopts it ([`crate::domain::model::mesh`]).
fn namespace_labels(namespace: &str, conventions: &Conventions) -> Value {
    let mut labels = json!({MANAGED_BY_LABEL: MANAGER});
    for (key, value) in mesh::for_namespace(&conventions.mesh_labels, namespace) {
        labels[key] = json!(value);
    }
    labels
}

/// `namespace` owned by its Profile (uid `uid`): the garbage collector deletes it with the
/// Profile, as it deletes a namespace the profile controller created (profile_controller.go
/// v1.10.0 line 139 sets that ownerReference only on a namespace it creates). Neither
/// `controller` nor `blockOwnerDeletion`: the controller owns nothing here, and
/// `blockOwnerDeletion` only matters to foreground deletion (and would need the Profile's
/// `finalizers` where OwnerReferencesPermissionEnforcement runs; EKS does not enable that plugin:
/// awsdocs/amazon-eks-user-guide `latest/ug/clusters/platform-versions.adoc`, 1.29 to 1.31).
pub fn owned_by_profile(namespace: &Object, uid: &str) -> Object {
    let mut owned = namespace.clone();
    owned.body["metadata"]["ownerReferences"] = profile_owner_reference(&namespace.name, uid);
    owned
}

/// The ownerReferences that make Profile `name` (uid `uid`) the owner.
pub fn profile_owner_reference(name: &str, uid: &str) -> Value {
    json!([{"apiVersion": Kind::Profile.api_version(), "kind": "Profile", "name": name, "uid": uid}])
}

/// A Profile named `name` with `spec`, this function's label plus `labels`, and `annotations`.
fn profile(name: &str, spec: Value, labels: Value, annotations: Value) -> Object {
    let mut all_labels = json!({MANAGED_BY_LABEL: MANAGER, PROFILE_NAME_LABEL: name});
    for (key, value) in labels.as_object().into_iter().flatten() {
        all_labels[key] = value.clone();
    }
    let mut metadata = json!({"name": name, "labels": all_labels});
    if annotations.as_object().is_some_and(|a| !a.is_empty()) {
        metadata["annotations"] = annotations;
    }
    Object::new(
        Kind::Profile,
        None,
        name,
        json!({
            "apiVersion": Kind::Profile.api_version(),
            "kind": "Profile",
            "metadata": metadata,
            "spec": spec,
        }),
    )
}

/// The RoleBinding of `email` with ClusterRole `kubeflow-<role>` in `namespace`, then one Istio
/// twin per kind the cluster's `conventions` call for, all named and annotated as KFAM does on
/// that cluster and labelled with `user_key`. The Istio user rule has the owner rule's shape:
/// its header, its prefix before the user id, its `from` (or none).
pub fn contributor_objects(
    namespace: &str,
    email: &str,
    user_key: &str,
    role: &str,
    conventions: &Conventions,
) -> Vec<Object> {
    let name = kfam_binding_name(email, role, conventions.naming);
    let metadata = json!({
        "name": name,
        "namespace": namespace,
        "annotations": {CONTRIBUTOR_ANNOTATIONS[0]: email, CONTRIBUTOR_ANNOTATIONS[1]: role},
        "labels": {CONTRIBUTOR_LABELS[0]: MANAGER, CONTRIBUTOR_LABELS[1]: user_key},
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
    let (key, userid) = (conventions.header_key(), conventions.userid(email));
    for &kind in &conventions.twins {
        let spec = match kind {
            Kind::AuthorizationPolicy => {
                let mut rule = json!({"when": [{"key": key, "values": [userid]}]});
                if let Some(principals) = conventions.principals_for(role) {
                    rule["from"] = json!([{"source": {"principals": principals}}]);
                }
                json!({"rules": [rule]})
            }
            Kind::ServiceRoleBinding => json!({
                "roleRef": {"kind": "ServiceRole", "name": "ns-access-istio"},
                "subjects": [{"properties": {key.as_str(): userid}}],
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
    use crate::domain::config::test_config as config;

    const SUB: &str = "12ec26be-e8d1-482b-9602-e402c7896cb3";

    fn identity(groups: &[&str]) -> Identity {
        Identity {
            user_name: "rumesh".into(),
            signed_in: true,
            sub: SUB.into(),
            email: "rumesh@corp.example".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn granting(identity: &Identity, config: &Config, twins: &[Kind]) -> DesiredState {
        let mut conventions = Conventions::defaults(twins.to_vec());
        conventions.viewer_access = config.istio.viewer_access;
        desired_state(identity, Mode::Grant, config, &conventions)
    }

    #[test]
    fn role_suffixes_make_one_team_whose_highest_role_wins_and_admin_needs_enabling() {
        let suffixes = ("GROUP_ROLE_SUFFIXES", "-view=view,-edit=edit,-admin=admin");
        let state = granting(
            &identity(&["KF-A-VIEW", "kf-a-Edit", "KF-B-VIEW", "KF-C-ADMIN", "KF-D"]),
            &config(&[suffixes]),
            &[],
        );
        let teams: Vec<(&str, &str, Role)> = state
            .groups
            .iter()
            .map(|g| (g.group.as_str(), g.namespace.as_str(), g.role))
            .collect();
        assert_eq!(
            teams,
            [
                ("KF-A", "kf-a", Role::Edit),
                ("KF-B", "kf-b", Role::View),
                ("KF-D", "kf-d", Role::Edit)
            ]
        );
        assert_eq!(
            state.groups[0].bindings[0].name,
            "user-rumesh-corp-example-clusterrole-edit"
        );
        assert_eq!(
            state.groups[1].bindings[0].body["roleRef"]["name"],
            "kubeflow-view"
        );
        assert_eq!(
            state.refused,
            [RefusedGroup::new(
                "KF-C-ADMIN",
                Some("kf-c"),
                Refusal::AdminNotAllowed
            )]
        );
        let allowed = granting(
            &identity(&["KF-C-ADMIN", "KF-C-VIEW"]),
            &config(&[suffixes, ("ALLOW_ADMIN_ROLE", "true")]),
            &[],
        );
        assert_eq!(allowed.groups[0].role, Role::Admin);
        assert_eq!(
            allowed.groups[0].bindings[0].body["roleRef"]["name"],
            "kubeflow-admin"
        );
    }

    #[test]
    fn the_role_binding_has_the_kfam_shape() {
        let state = granting(&identity(&["ridy-jose"]), &config(&[]), &[]);
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
                        "kubeflow-profile-manager/user": SUB,
                    },
                },
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "rumesh@corp.example"}],
            })
        );
    }

    #[test]
    fn the_istio_twins_have_the_kubeflow_shapes() {
        // KFAM's shape, the same for every role, as VIEWER_ACCESS=as-editors asks.
        let state = granting(
            &identity(&["ridy-jose"]),
            &config(&[("USER_ROLE", "view"), ("VIEWER_ACCESS", "as-editors")]),
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
    fn a_viewer_is_admitted_only_from_the_pipelines_ui_and_an_editor_as_kfam_does() {
        let twins = [Kind::AuthorizationPolicy];
        let principals = |vars: &[(&str, &str)]| {
            let state = granting(&identity(&["ridy-jose"]), &config(vars), &twins);
            state.groups[0].bindings[1].body["spec"]["rules"][0]["from"].clone()
        };
        assert_eq!(
            principals(&[("USER_ROLE", "view")]),
            json!([{"source": {"principals": ["cluster.local/ns/kubeflow/sa/ml-pipeline-ui"]}}]),
            "no ingress gateway: no notebook, which runs as default-editor"
        );
        assert_eq!(
            principals(&[("USER_ROLE", "edit")]),
            json!([{"source": {"principals": [
                "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
                "cluster.local/ns/kubeflow/sa/ml-pipeline-ui"]}}])
        );
    }

    #[test]
    fn a_namespace_it_creates_carries_the_mesh_labels_of_the_controllers_namespaces() {
        let state = granting(&identity(&["ridy-jose"]), &config(&[]), &[]);
        let labels = &state.groups[0].namespace_object.body["metadata"]["labels"];
        assert_eq!(labels["istio-injection"], "enabled", "{labels}");
        assert_eq!(labels[MANAGED_BY_LABEL], MANAGER);
    }

    #[test]
    fn profiles_have_the_kubeflow_shape() {
        let state = granting(&identity(&["ridy-jose"]), &config(&[]), &[]);
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
            group.profile.body["metadata"]["annotations"],
            json!({"kubeflow-profile-manager/group": "ridy-jose"})
        );
        assert_eq!(
            group.namespace_object.body["metadata"]["annotations"],
            json!({"owner": "admin@kubeflow.com", "kubeflow-profile-manager/group": "ridy-jose"})
        );
        assert_eq!(personal.meta("labels", USER_LABEL), Some(SUB));
        assert_eq!(group.profile.meta("labels", USER_LABEL), None);
        assert_eq!(
            state.legacy_user_key,
            Some(legacy_user_label_value("rumesh@corp.example"))
        );
    }

    #[test]
    fn a_sign_in_that_may_not_grant_makes_no_personal_profile_and_looks_up_no_legacy_label() {
        let state = desired_state(
            &identity(&["ridy-jose"]),
            Mode::RevokeOnly,
            &config(&[("REMOVE_LEGACY_BINDINGS", "true")]),
            &Conventions::defaults(Vec::new()),
        );
        assert_eq!(state.personal_profile, None);
        assert_eq!(state.legacy_user_key, None);
        assert_eq!(state.legacy_binding_name, None);
        assert_eq!(
            state.groups.len(),
            1,
            "the groups still say what may be kept"
        );
    }

    #[test]
    fn an_empty_quota_setting_gives_a_profile_without_quota() {
        let state = granting(&identity(&[]), &config(&[("USER_PROFILE_QUOTA", "")]), &[]);
        let spec = &state.personal_profile.unwrap().body["spec"];
        assert!(spec.get("resourceQuotaSpec").is_none());
    }

    #[test]
    fn refused_filtered_and_claimed_groups() {
        let state = granting(
            &identity(&[
                "kube-system",
                "data science",
                "Data_Science",
                "profile-jose",
                "---",
                "ridy-jose",
                "monitoring",
                "quipe-vision-3c99bb3d",
                "\u{c9}quipe Vision",
                "\u{212A}ubeflow",
            ]),
            &config(&[("PROTECTED_NAMESPACES", "monitoring")]),
            &[],
        );
        let granted: Vec<(&str, &str)> = state
            .groups
            .iter()
            .map(|g| (g.group.as_str(), g.namespace.as_str()))
            .collect();
        let kelvin = dns_label("\u{212A}ubeflow").unwrap();
        assert_eq!(
            granted,
            [
                ("data science", "data-science"),
                ("ridy-jose", "ridy-jose"),
                ("quipe-vision-3c99bb3d", "quipe-vision-3c99bb3d"),
                ("\u{212A}ubeflow", kelvin.as_str()),
            ]
        );
        assert!(kelvin.starts_with("ubeflow-"), "{kelvin}");
        let refused: Vec<(&str, &Refusal)> = state
            .refused
            .iter()
            .map(|r| (r.group.as_str(), &r.reason))
            .collect();
        let claimed = |group: &str| Refusal::AnotherGroupsNamespace {
            group: group.into(),
        };
        assert_eq!(
            refused,
            [
                ("kube-system", &Refusal::SystemNamespace),
                ("Data_Science", &claimed("data science")),
                ("profile-jose", &Refusal::PersonalProfileName),
                ("---", &Refusal::NoValidName),
                ("monitoring", &Refusal::ProtectedByConfig),
                ("\u{c9}quipe Vision", &claimed("quipe-vision-3c99bb3d")),
            ]
        );
    }

    #[test]
    fn the_group_prefix_selects_groups_and_stays_in_the_name() {
        let state = granting(
            &identity(&["RIDY-jose", "rumesh", "ridy-ml", "%52IDY-finance", "RIDY_x"]),
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
        let state = granting(&who, &config(&[]), &[]);
        assert!(
            state
                .personal_profile
                .is_some_and(|p| p.name.starts_with("profile-"))
        );
        who.user_name = String::new();
        let state = granting(&who, &config(&[]), &[]);
        assert_eq!(state.personal_profile, None);
        assert_eq!(state.groups.len(), 1);
    }
}
