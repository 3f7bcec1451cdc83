//! How a cluster's Kubeflow represents a contributor: which Istio kinds accompany a
//! RoleBinding, how KFAM names them, and the shape of the user rule (userid header and prefix,
//! trusted principals). Pure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIGroupList;

use crate::domain::names::KfamNaming;
use crate::domain::objects::Kind;

/// Kubeflow's default userid header (`userid-header`).
pub const DEFAULT_USERID_HEADER: &str = "kubeflow-userid";
/// The principals Kubeflow >= 1.8's KFAM trusts the header from by default
/// (`ISTIO_INGRESS_GATEWAY_PRINCIPAL`, `KFP_UI_PRINCIPAL`).
pub const DEFAULT_PRINCIPALS: [&str; 2] = [
    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
    "cluster.local/ns/kubeflow/sa/ml-pipeline-ui",
];

/// How the cluster represents a contributor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conventions {
    /// The Istio kinds paired with each RoleBinding.
    pub twins: Vec<Kind>,
    /// KFAM's naming generation.
    pub naming: KfamNaming,
    /// The header carrying the user id.
    pub userid_header: String,
    /// What precedes the email in that header.
    pub userid_prefix: String,
    /// The principals the user rule trusts the header from; `None`: the rule has no `from`
    /// (Kubeflow 1.3 to 1.7).
    pub principals: Option<Vec<String>>,
}

impl Conventions {
    /// Kubeflow >= 1.8's defaults, with `twins`; KFAM 1.2's names where the twins are
    /// ServiceRoleBindings only (Kubeflow 1.2).
    pub fn defaults(twins: Vec<Kind>) -> Self {
        let naming = if twins == [Kind::ServiceRoleBinding] {
            KfamNaming::Kubeflow12
        } else {
            KfamNaming::Current
        };
        Conventions {
            twins,
            naming,
            userid_header: DEFAULT_USERID_HEADER.to_owned(),
            userid_prefix: String::new(),
            principals: Some(DEFAULT_PRINCIPALS.iter().map(|p| p.to_string()).collect()),
        }
    }

    /// The value of the userid header for `email`.
    pub fn userid(&self, email: &str) -> String {
        format!("{}{email}", self.userid_prefix)
    }

    /// The header's key in Istio conditions: `request.headers[<header>]`.
    pub fn header_key(&self) -> String {
        format!("request.headers[{}]", self.userid_header)
    }
}

/// True when `groups` serves `kind`'s group at `kind`'s version.
pub fn serves(groups: &APIGroupList, kind: Kind) -> bool {
    groups.groups.iter().any(|group| {
        group.name == kind.group() && group.versions.iter().any(|v| v.version == kind.version())
    })
}

/// The Istio kinds to pair with each RoleBinding on a cluster serving `groups`: Kubeflow 1.2
/// authorises with Istio RBAC, and adding an ALLOW AuthorizationPolicy there would change who
/// may reach the namespace, so a cluster serving `rbac.istio.io` gets ServiceRoleBindings only;
/// otherwise `security.istio.io` AuthorizationPolicies; neither when neither is served.
pub fn istio_kinds(groups: &APIGroupList) -> Vec<Kind> {
    if serves(groups, Kind::ServiceRoleBinding) {
        vec![Kind::ServiceRoleBinding]
    } else if serves(groups, Kind::AuthorizationPolicy) {
        vec![Kind::AuthorizationPolicy]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// API groups and their versions.
    type Served<'a> = &'a [(&'a str, &'a [&'a str])];

    fn groups(served: Served) -> APIGroupList {
        let groups: Vec<_> = served
            .iter()
            .map(|(name, versions)| {
                let versions: Vec<_> = versions
                    .iter()
                    .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
                    .collect();
                json!({"name": name, "versions": versions})
            })
            .collect();
        serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "APIGroupList", "groups": groups}),
        )
        .unwrap()
    }

    #[test]
    fn the_served_istio_api_decides_the_twins() {
        let cases: &[(Served, &[Kind])] = &[
            (
                &[("security.istio.io", &["v1beta1", "v1"])],
                &[Kind::AuthorizationPolicy],
            ),
            (
                &[
                    ("security.istio.io", &["v1beta1"]),
                    ("rbac.istio.io", &["v1alpha1"]),
                ],
                &[Kind::ServiceRoleBinding],
            ),
            (&[("security.istio.io", &["v1"])], &[]),
            (&[("apps", &["v1"])], &[]),
        ];
        for (served, expected) in cases {
            assert_eq!(istio_kinds(&groups(served)), *expected, "{served:?}");
        }
    }
}
