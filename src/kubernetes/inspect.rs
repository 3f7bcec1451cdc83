//! What the doctor asks the API server, changing nothing: SelfSubjectAccessReviews as the
//! function's own identity, the ClusterRoles a sign-in binds, a person's `sub` from their
//! access, and server-side dry runs of a sign-in's writes. I/O.

use futures::future::join_all;
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, ListParams, PostParams};
use kube::core::{Expression, Selector};

use crate::domain::doctor::Permission;
use crate::domain::model::objects::{
    GROUP_ANNOTATION, KFAM_USER_ANNOTATION, Kind, MANAGED_BY_LABEL, MANAGER, Object, USER_LABEL,
};
use crate::domain::sign_in::summary::Write;
use crate::kubernetes::typed::KindApi;

/// Whether the API server would allow each of `permissions` to the caller, asked concurrently.
pub async fn review_permissions(
    client: &kube::Client,
    permissions: &[Permission],
) -> Vec<Result<bool, kube::Error>> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    join_all(permissions.iter().map(|permission| {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    group: Some(permission.group.to_owned()),
                    resource: Some(permission.resource.to_owned()),
                    verb: Some(permission.verb.to_owned()),
                    name: permission.name.clone(),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let api = api.clone();
        async move {
            let answer = api.create(&PostParams::default(), &review).await?;
            Ok(answer.status.is_some_and(|s| s.allowed))
        }
    }))
    .await
}

/// Whether the ClusterRole `name` exists.
pub async fn cluster_role_exists(client: &kube::Client, name: &str) -> Result<bool, kube::Error> {
    let api: Api<ClusterRole> = Api::all(client.clone());
    Ok(api.get_opt(name).await?.is_some())
}

/// The group Profiles owned by `owner` that record an AD group (name, group), at most 500.
pub async fn recorded_groups(
    client: &kube::Client,
    owner: &str,
) -> Result<Vec<(String, String)>, kube::Error> {
    let profiles = KindApi::new(client, Kind::Profile, None)
        .list(&ListParams::default().limit(500))
        .await?;
    Ok(profiles
        .iter()
        .filter(|p| crate::domain::sign_in::plan::profile_owner(p) == Some(owner))
        .filter_map(|p| {
            Some((
                p.name.clone(),
                p.meta("annotations", GROUP_ANNOTATION)?.to_owned(),
            ))
        })
        .collect())
}

/// The names of deploy/admission.yaml's policies (each bound by a binding of the same name).
pub const ADMISSION_POLICIES: [&str; 2] = [
    "kubeflow-profile-manager-marks",
    "kubeflow-profile-manager-own-writes",
];

/// Whether the ValidatingAdmissionPolicy `name` is applied and bound to deny: the policy and a
/// binding of the same name with the `Deny` action.
pub async fn admission_policy_enforced(
    client: &kube::Client,
    name: &str,
) -> Result<bool, kube::Error> {
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    let (policy, binding) = futures::join!(policies.get_opt(name), bindings.get_opt(name));
    let denies = binding?.and_then(|b| b.spec).is_some_and(|spec| {
        spec.validation_actions
            .unwrap_or_default()
            .iter()
            .any(|a| a == "Deny")
    });
    Ok(policy?.is_some() && denies)
}

/// The `sub` of the person with Kubeflow user id `email`, from the label of a RoleBinding this
/// function made for them; `None` when they have none.
pub async fn sub_of(client: &kube::Client, email: &str) -> Result<Option<String>, kube::Error> {
    let ours = ListParams::default().labels_from(&Selector::from_iter([
        Expression::Equal(MANAGED_BY_LABEL.into(), MANAGER.into()),
        Expression::Exists(USER_LABEL.into()),
    ]));
    let bindings = KindApi::new(client, Kind::RoleBinding, None)
        .list(&ours)
        .await?;
    Ok(bindings
        .iter()
        .find(|b| b.meta("annotations", KFAM_USER_ANNOTATION) == Some(email))
        .and_then(|b| b.meta("labels", USER_LABEL))
        .map(str::to_owned))
}

/// The namespaces this function made (its managed-by label), at most 500.
pub async fn our_namespaces(client: &kube::Client) -> Result<Vec<Object>, kube::Error> {
    let ours = ListParams::default()
        .labels_from(&Selector::from(Expression::Equal(
            MANAGED_BY_LABEL.into(),
            MANAGER.into(),
        )))
        .limit(500);
    KindApi::new(client, Kind::Namespace, None)
        .list(&ours)
        .await
}

/// The Profiles called `names`, those that exist.
pub async fn profiles(client: &kube::Client, names: &[String]) -> Result<Vec<Object>, kube::Error> {
    let api = KindApi::new(client, Kind::Profile, None);
    let read = join_all(names.iter().map(|name| api.get_opt(name))).await;
    let mut found = Vec::new();
    for body in read {
        found.extend(body?.and_then(|b| Object::from_body(Kind::Profile, b)));
    }
    Ok(found)
}

/// A sign-in's change run as a server-side dry run: validated, admitted and authorized by the
/// API server, stored nowhere.
pub async fn dry_run(
    client: &kube::Client,
    write: Write,
    object: &Object,
) -> Result<(), kube::Error> {
    let api = KindApi::of(client, object);
    match write {
        Write::Create => api.create(object, true).await.map(drop),
        // As a sign-in applies: with force only the person's own bindings and twins.
        Write::Apply => api.apply(object, object.kind != Kind::Profile, true).await,
        Write::Delete => api.delete(object, true).await,
        Write::Patch => api.merge_patch(&object.name, &object.body, true).await,
    }
}
