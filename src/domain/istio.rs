//! Which Istio kinds accompany a RoleBinding, from the API groups the cluster serves. Pure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIGroupList;

use crate::domain::objects::Kind;

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
