//! The custom resources this function writes, as small typed structs that carry only what it
//! owns or reads: Kubeflow's Profile and PodDefault, Istio's AuthorizationPolicy
//! (`security.istio.io`) and Kubeflow 1.2's ServiceRoleBinding (`rbac.istio.io`). What else the
//! cluster holds in them (a Profile's `status`) is neither read nor written; a Profile's
//! `plugins` are written only when the function creates it (IRSA) and read for its team role.
//! Pure.
//!
//! Shapes: kubeflow/kubeflow v1.10.0 `components/profile-controller/api/v1/profile_types.go`
//! (`ProfileSpec`: `owner`, `resourceQuotaSpec`, `plugins`); istio/api 1.30 `security/v1beta1/
//! authorization_policy.proto` (`selector`, `targetRef(s)`, `action`, `rules`); istio/api 1.4
//! `rbac/v1alpha1/rbac.proto` (`ServiceRoleBinding`: `subjects`, `roleRef`).

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::model::objects::Kind;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<ProfileOwner>,
    /// A Kubernetes `ResourceQuotaSpec`, as `USER_PROFILE_QUOTA` gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_quota_spec: Option<Value>,
    /// The plugins of a team Profile this function creates: with `TEAM_ROLE_VIA=irsa`, its
    /// `AwsIamForServiceAccount` (kubeflow/kubeflow v1.10.0 `components/profile-controller/
    /// controllers/plugin_iam.go`: `awsIamRole`, `annotateOnly`). Never written afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Vec<Value>>,
}

/// The Profile's owner: an RBAC subject (`kind: User`, `name`: the Kubeflow user id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileOwner {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub name: String,
}

/// A custom resource of this module: the struct (`apiVersion`, `kind`, `metadata` and a
/// `spec` of type `$spec`), with its `kube::Resource` for `$kind` (group, version and plural, as
/// [`Kind`] says) in `$scope`.
macro_rules! spec_resource {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $scope:ty, $spec:ty, $spec_doc:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            /// `apiVersion`, as written and as the API server answers.
            #[serde(
                rename = "apiVersion",
                default,
                skip_serializing_if = "String::is_empty"
            )]
            pub api_version: String,
            #[serde(default, skip_serializing_if = "String::is_empty")]
            pub kind: String,
            pub metadata: ObjectMeta,
            #[doc = $spec_doc]
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub spec: Option<$spec>,
        }

        impl kube::core::Resource for $name {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind.name())
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind.group())
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind.version())
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind.plural())
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

spec_resource!(
    /// A Kubeflow Profile: a namespace, its owner and its quota.
    Profile,
    Kind::Profile,
    kube::core::ClusterResourceScope,
    ProfileSpec,
    "Its owner, quota and plugins; its `status` is not read."
);
spec_resource!(
    /// An Istio AuthorizationPolicy: KFAM's contributor policy, or the owner's.
    AuthorizationPolicy,
    Kind::AuthorizationPolicy,
    kube::core::NamespaceResourceScope,
    Value,
    "`action`, `rules`, `selector`, `targetRef(s)`: the rules are Istio's to interpret."
);
spec_resource!(
    /// An Istio 1.4 ServiceRoleBinding (Kubeflow 1.2).
    ServiceRoleBinding,
    Kind::ServiceRoleBinding,
    kube::core::NamespaceResourceScope,
    Value,
    "`subjects` (with the userid header's `properties`) and `roleRef`."
);
spec_resource!(
    /// Kubeflow's PodDefault (a team default): its `spec` carried whole, as the administrator's
    /// `TEAM_DEFAULTS_FILE` gives it (kubeflow/kubeflow v1.10.0, the admission webhook's
    /// `settings/v1alpha1/poddefault_types.go`).
    PodDefault,
    Kind::PodDefault,
    kube::core::NamespaceResourceScope,
    Value,
    "The PodDefault's `selector`, `env`, `volumes`, ... as declared."
);

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Resource;
    use serde_json::json;

    #[test]
    fn a_profile_keeps_what_the_function_reads_and_nothing_else() {
        let stored = json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile",
            "metadata": {"name": "ml", "uid": "u-1", "labels": {"a": "b"}},
            "spec": {"owner": {"kind": "User", "name": "admin@kubeflow.com"},
                     "plugins": [{"kind": "WorkloadIdentity"}]},
            "status": {"conditions": []}});
        let profile: Profile = serde_json::from_value(stored).unwrap();
        assert_eq!(
            profile
                .spec
                .as_ref()
                .and_then(|s| s.owner.as_ref())
                .map(|o| o.name.as_str()),
            Some("admin@kubeflow.com")
        );
        let written = serde_json::to_value(&profile).unwrap();
        assert_eq!(
            written["spec"]["plugins"],
            json!([{"kind": "WorkloadIdentity"}]),
            "read for a team's IRSA role (the access report, the doctor)"
        );
        assert_eq!(written.get("status"), None);
        assert_eq!(Profile::api_version(&()), "kubeflow.org/v1");
        assert_eq!(Profile::plural(&()), "profiles");
    }

    #[test]
    fn istio_kinds_are_their_groups_and_versions() {
        assert_eq!(
            AuthorizationPolicy::api_version(&()),
            "security.istio.io/v1beta1"
        );
        assert_eq!(
            ServiceRoleBinding::api_version(&()),
            "rbac.istio.io/v1alpha1"
        );
        assert_eq!(AuthorizationPolicy::plural(&()), "authorizationpolicies");
    }
}
