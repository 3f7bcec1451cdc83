//! The desired state of a signing-in person: their personal Profile and, per allowed group, the
//! group Profile and the KFAM-shaped contributor objects. A pure function of the identity and
//! the configuration.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::{Value, json};

use crate::domain::config::{Config, Role, SignInConfig, TeamRoleVia};
use crate::domain::model::crds::{
    AuthorizationPolicy, Profile, ProfileOwner, ProfileSpec, ServiceRoleBinding,
};
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
use crate::domain::model::team_defaults::{DEFAULTS_ANNOTATION, DEFAULTS_DUE};
use crate::domain::sign_in::admission::{Identity, Mode};
use crate::domain::sign_in::conventions::Conventions;
use crate::domain::sign_in::team_role::{role_name_fits, team_role};

/// The group the everyone namespace records (`EVERYONE_NAMESPACE`): no AD group's, since no AD
/// group may map to that namespace.
pub const EVERYONE_GROUP: &str = "(everyone)";

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
    let personal_profile = (grants && config.token.personal_profiles)
        .then(|| personal_profile(identity, &config.sign_in))
        .flatten();
    let personal_profile_variant = personal_profile
        .as_ref()
        .map(|base| personal_profile_variant(base, &identity.sub));
    let mut groups: Vec<GroupAccess> = Vec::new();
    let mut refused = Vec::new();
    let mut also_read = Vec::new();
    let admitted: Vec<&String> = identity
        .groups
        .iter()
        .filter(|g| config.sign_in.allowed_groups.admits(g))
        .collect();
    // Everyone of the allow-list (a person with a group it admits) joins the everyone
    // namespace, built like a team's; no AD group may take it.
    let everyone = config.token.everyone.as_ref();
    if let Some(everyone) = everyone.filter(|_| !admitted.is_empty()) {
        let team = (EVERYONE_GROUP, everyone.namespace.clone(), everyone.role);
        add_team(&mut groups, team, identity, config, conventions);
    }
    for ad_group in admitted {
        match team_of(ad_group, config, conventions, &mut also_read) {
            Err(refusal) => refused.push(refusal),
            Ok((_, namespace, _)) if everyone.is_some_and(|e| e.namespace == namespace) => {
                let reason = Refusal::AnotherGroupsNamespace {
                    group: EVERYONE_GROUP.to_owned(),
                };
                refused.push(RefusedGroup::new(ad_group, Some(&namespace), reason));
            }
            Ok((group, namespace, role)) => {
                if let Some(refusal) = add_team(
                    &mut groups,
                    (group, namespace, role),
                    identity,
                    config,
                    conventions,
                ) {
                    refused.push(RefusedGroup::new(ad_group, refusal.0.as_deref(), refusal.1));
                }
            }
        }
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

/// The person's own Profile, named by `USER_PROFILE_PREFIX` and their user name, with the
/// personal quota; `None` when no valid name comes of it.
fn personal_profile(identity: &Identity, config: &SignInConfig) -> Option<Object> {
    let name = dns_label(&format!(
        "{}{}",
        config.user_profile_prefix, identity.user_name
    ))
    .filter(|name| name.starts_with(&config.user_profile_prefix))?;
    Some(profile(
        &name,
        &identity.email,
        config.user_profile_quota.clone(),
        [(USER_LABEL, identity.sub.as_str())],
        [],
    ))
}

/// `base` under the person's collision-safe name (for when a look-alike holds `base`'s).
fn personal_profile_variant(base: &Object, sub: &str) -> Object {
    let name = collision_safe(&base.name, sub, MAX_LABEL_LEN);
    let mut variant = base.body.clone();
    variant["metadata"]["name"] = json!(name);
    variant["metadata"]["labels"][PROFILE_NAME_LABEL] = json!(name);
    Object::new(Kind::Profile, None, &name, variant)
}

/// The team an AD group stands for, its namespace and the role it gives; or why it is refused.
/// A group stripped of a role suffix is read unstripped too (`also_read`): a Profile there that
/// records this very group would win.
fn team_of<'a>(
    ad_group: &'a str,
    config: &Config,
    conventions: &Conventions,
    also_read: &mut Vec<String>,
) -> Result<(&'a str, String, Role), RefusedGroup> {
    let refuse = |namespace: Option<&str>, reason| RefusedGroup::new(ad_group, namespace, reason);
    // A group a Profile records exactly is its own team, whatever suffix it ends with.
    let (group, role) = if conventions
        .recorded_teams
        .contains(&ad_group.to_ascii_lowercase())
    {
        (ad_group, config.sign_in.user_role)
    } else {
        config.sign_in.team_and_role(ad_group)
    };
    if group != ad_group
        && let Some(unstripped) = dns_label(ad_group)
    {
        also_read.push(unstripped);
    }
    let Some(namespace) = dns_label(group) else {
        return Err(refuse(None, Refusal::NoValidName));
    };
    if let Some(reason) = name_refusal(&namespace, config) {
        return Err(refuse(Some(&namespace), reason));
    }
    if role == Role::Admin && !config.sign_in.allow_admin_role {
        return Err(refuse(Some(&namespace), Refusal::AdminNotAllowed));
    }
    Ok((group, namespace, role))
}

/// Adds `group`'s access to `groups`: a new team, or a higher role in a team already there.
/// The namespace and reason when another group of the claim holds that namespace.
fn add_team(
    groups: &mut Vec<GroupAccess>,
    (group, namespace, role): (&str, String, Role),
    identity: &Identity,
    config: &Config,
    conventions: &Conventions,
) -> Option<(Option<String>, Refusal)> {
    let bindings = |role: Role| {
        contributor_objects(
            &namespace,
            &identity.email,
            &identity.sub,
            role.as_str(),
            conventions,
        )
    };
    if let Some(first) = groups.iter_mut().find(|g| g.namespace == namespace) {
        if !first.group.eq_ignore_ascii_case(group) {
            let reason = Refusal::AnotherGroupsNamespace {
                group: first.group.clone(),
            };
            return Some((Some(namespace), reason));
        }
        // Another role in the same team: the highest wins.
        if role > first.role {
            first.role = role;
            first.bindings = bindings(role);
        }
        return None;
    }
    let owner = config.sign_in.group_profile_owner.as_str();
    let mut annotations = string_map([("owner", owner), (GROUP_ANNOTATION, group)]);
    // A namespace made now is a new team's: its defaults are due (made after the grant).
    if !config.sign_in.team_defaults.is_empty() {
        annotations.insert(DEFAULTS_ANNOTATION.to_owned(), DEFAULTS_DUE.to_owned());
    }
    let namespace_object = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.clone()),
            annotations: Some(annotations),
            labels: Some(namespace_labels(&namespace, conventions)),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    groups.push(GroupAccess {
        group: group.to_owned(),
        role,
        profile: with_plugins(
            profile(
                &namespace,
                owner,
                config.sign_in.group_profile_quota.clone(),
                [],
                [(GROUP_ANNOTATION, group)],
            ),
            team_plugins(&namespace, &config.sign_in),
        ),
        namespace_object: Object::typed(Kind::Namespace, None, &namespace, &namespace_object),
        bindings: bindings(role),
        namespace,
    });
    None
}

/// The labels of a group namespace this function creates ahead of the profile controller: its
/// own, and the mesh labels the controller gives the namespaces it creates, which it would not
/// add to this one when it adopts it ([`crate::domain::model::mesh`]).
fn namespace_labels(namespace: &str, conventions: &Conventions) -> BTreeMap<String, String> {
    let mut labels = string_map([(MANAGED_BY_LABEL, MANAGER)]);
    for (key, value) in mesh::for_namespace(&conventions.mesh_labels, namespace) {
        labels.insert(key.to_owned(), value.to_owned());
    }
    labels
}

/// A label or annotation map of `entries`.
fn string_map<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, String> {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
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
    let reference = OwnerReference {
        api_version: Kind::Profile.api_version(),
        kind: Kind::Profile.name().to_owned(),
        name: name.to_owned(),
        uid: uid.to_owned(),
        ..OwnerReference::default()
    };
    serde_json::to_value([reference]).expect("an owner reference serialises")
}

/// A Profile named `name` owned by `owner` (a Kubeflow user id) with `quota`, this function's
/// labels plus `labels`, and `annotations`.
fn profile<'a>(
    name: &str,
    owner: &str,
    quota: Option<Value>,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Object {
    let mut all_labels = string_map([(MANAGED_BY_LABEL, MANAGER), (PROFILE_NAME_LABEL, name)]);
    all_labels.extend(string_map(labels));
    let annotations = string_map(annotations);
    let profile = Profile {
        api_version: Kind::Profile.api_version(),
        kind: Kind::Profile.name().to_owned(),
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(all_labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(ProfileSpec {
            owner: Some(ProfileOwner {
                kind: "User".to_owned(),
                name: owner.to_owned(),
            }),
            resource_quota_spec: quota,
            plugins: None,
        }),
    };
    Object::typed(Kind::Profile, None, name, &profile)
}

/// The plugins of the team Profile of `namespace`: with `TEAM_ROLE_VIA=irsa`, the team role
/// as the profile controller's `AwsIamForServiceAccount` plugin, `annotateOnly` (it annotates
/// the namespace's `default-editor` with `eks.amazonaws.com/role-arn` and leaves the role's
/// trust policy alone: kubeflow/kubeflow v1.10.0 `components/profile-controller/controllers/
/// plugin_iam.go`, `ApplyPlugin`, `isAnnotateOnly`).
fn team_plugins(namespace: &str, config: &SignInConfig) -> Vec<Value> {
    match (&config.team_role_arn, config.team_role_via) {
        (Some(template), TeamRoleVia::Irsa) if role_name_fits(&team_role(template, namespace)) => {
            vec![json!({
                "kind": "AwsIamForServiceAccount",
                "spec": {"awsIamRole": team_role(template, namespace), "annotateOnly": true},
            })]
        }
        _ => Vec::new(),
    }
}

/// `profile` with `plugins`, when there are any.
fn with_plugins(mut profile: Object, plugins: Vec<Value>) -> Object {
    if !plugins.is_empty() {
        profile.body["spec"]["plugins"] = Value::Array(plugins);
    }
    profile
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
    let metadata = ObjectMeta {
        name: Some(name.clone()),
        namespace: Some(namespace.to_owned()),
        annotations: Some(string_map([
            (CONTRIBUTOR_ANNOTATIONS[0], email),
            (CONTRIBUTOR_ANNOTATIONS[1], role),
        ])),
        labels: Some(string_map([
            (CONTRIBUTOR_LABELS[0], MANAGER),
            (CONTRIBUTOR_LABELS[1], user_key),
        ])),
        ..ObjectMeta::default()
    };
    let role_binding = RoleBinding {
        metadata: metadata.clone(),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: format!("kubeflow-{role}"),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "User".to_owned(),
            name: email.to_owned(),
            namespace: None,
        }]),
    };
    let mut objects = vec![Object::typed(
        Kind::RoleBinding,
        Some(namespace),
        &name,
        &role_binding,
    )];
    let (key, userid) = (conventions.header_key(), conventions.userid(email));
    for &kind in &conventions.twins {
        let twin = match kind {
            Kind::AuthorizationPolicy => {
                let mut rule = json!({"when": [{"key": key, "values": [userid]}]});
                if let Some(principals) = conventions.principals_for(role) {
                    rule["from"] = json!([{"source": {"principals": principals}}]);
                }
                let policy = AuthorizationPolicy {
                    api_version: kind.api_version(),
                    kind: kind.name().to_owned(),
                    metadata: metadata.clone(),
                    spec: Some(json!({"rules": [rule]})),
                };
                Object::typed(kind, Some(namespace), &name, &policy)
            }
            Kind::ServiceRoleBinding => {
                let binding = ServiceRoleBinding {
                    api_version: kind.api_version(),
                    kind: kind.name().to_owned(),
                    metadata: metadata.clone(),
                    spec: Some(json!({
                        "roleRef": {"kind": "ServiceRole", "name": "ns-access-istio"},
                        "subjects": [{"properties": {key.as_str(): userid}}],
                    })),
                };
                Object::typed(kind, Some(namespace), &name, &binding)
            }
            _ => continue,
        };
        objects.push(twin);
    }
    objects
}

#[cfg(test)]
mod tests;
