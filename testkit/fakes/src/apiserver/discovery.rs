//! Discovery as kube-apiserver answers it (`/api`, `/apis`, each group version's resources),
//! for the resources the flavour serves. Pure.

#[allow(unused_imports)]
use super::*;

pub(super) fn discovery(shared: &Shared, path: &[&str]) -> Option<Value> {
    let served = shared.served();
    let group_versions = |group: &str| -> Vec<&'static str> {
        let mut versions: Vec<&'static str> = Vec::new();
        for r in served.iter().filter(|r| r.group == group) {
            for v in shared.versions_of(r) {
                if !versions.contains(v) {
                    versions.push(v);
                }
            }
        }
        versions
    };
    let resource_list = |group: &str, version: &str| {
        let resources: Vec<Value> = served
            .iter()
            .filter(|r| r.group == group && shared.versions_of(r).contains(&version))
            .map(|r| json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                            "kind": r.kind, "verbs": ["create","delete","get","list","patch","update","watch"]}))
            .collect();
        let group_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
    };
    match path {
        ["version"] => Some(
            json!({"major": "1", "minor": "33", "gitVersion": "v1.33.5-eks-fake", "platform": "linux/amd64"}),
        ),
        ["api"] => Some(json!({"kind": "APIVersions", "versions": ["v1"],
                               "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}]})),
        ["api", "v1"] => Some(resource_list("", "v1")),
        ["apis"] => {
            let mut groups: Vec<&str> = served
                .iter()
                .map(|r| r.group)
                .filter(|g| !g.is_empty())
                .collect();
            groups.dedup();
            let groups: Vec<Value> = groups
                .into_iter()
                .map(|g| {
                    let versions: Vec<Value> = group_versions(g)
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
                })
                .collect();
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        ["apis", group, version] if group_versions(group).contains(version) => {
            Some(resource_list(group, version))
        }
        _ => None,
    }
}
