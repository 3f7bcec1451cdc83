//! How contributor access meets Istio: which kinds accompany a RoleBinding, the user rule of
//! the contributor policy (header, prefix, principals), the mesh labels of the namespaces the
//! function creates, and how far a viewer reaches. Unset, most are learnt from the cluster.
//! Pure.

use std::collections::BTreeMap;

use super::env::{ConfigError, Env, invalid};

/// `auto`, `authorizationpolicy`, `servicerolebinding`, `both` or `none`.
pub const ISTIO_AUTHZ: &str = "ISTIO_AUTHZ";
pub const DEFAULT_ISTIO_AUTHZ: IstioAuthz = IstioAuthz::Auto;
/// The header carrying the Kubeflow user id; learnt when unset.
pub const USERID_HEADER: &str = "USERID_HEADER";
/// The text before the email in that header; learnt when unset.
pub const USERID_PREFIX: &str = "USERID_PREFIX";
/// Principals the contributor policy trusts the header from, or `none`; learnt when unset.
pub const ISTIO_PRINCIPALS: &str = "ISTIO_PRINCIPALS";
/// The mesh labels of the namespaces the function creates, or `none`; learnt when unset.
pub const MESH_LABELS: &str = "MESH_LABELS";
/// `pipelines-ui` or `as-editors`.
pub const VIEWER_ACCESS: &str = "VIEWER_ACCESS";
pub const DEFAULT_VIEWER_ACCESS: ViewerAccess = ViewerAccess::PipelinesUi;

/// The Istio side of contributor access.
#[derive(Debug, Clone, PartialEq)]
pub struct IstioConfig {
    pub authz: IstioAuthz,
    /// The userid header of the contributor policy; `None`: learnt from the cluster.
    pub userid_header: Option<String>,
    /// What precedes the email in that header; `None`: learnt from the cluster.
    pub userid_prefix: Option<String>,
    /// The principals the contributor policy trusts the header from.
    pub principals: Principals,
    /// The mesh labels of the namespaces this function creates; `None`: learnt from the
    /// cluster (README, What it learns from the cluster); empty: none (`MESH_LABELS=none`).
    pub mesh_labels: Option<BTreeMap<String, String>>,
    /// How far the Istio access of a person whose role is `view` reaches.
    pub viewer_access: ViewerAccess,
}

/// Whom the contributor policy trusts the userid header from (`ISTIO_PRINCIPALS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principals {
    /// Learnt from the cluster (the owner's policy).
    Learnt,
    /// No `from` at all (`none`).
    Anyone,
    /// These principals.
    These(Vec<String>),
}

impl IstioConfig {
    pub(super) fn read(env: &Env) -> Self {
        IstioConfig {
            authz: env.choice(
                ISTIO_AUTHZ,
                &[
                    ("auto", IstioAuthz::Auto),
                    ("authorizationpolicy", IstioAuthz::AuthorizationPolicy),
                    ("servicerolebinding", IstioAuthz::ServiceRoleBinding),
                    ("both", IstioAuthz::Both),
                    ("none", IstioAuthz::None),
                ],
                DEFAULT_ISTIO_AUTHZ,
            ),
            userid_header: env.parse(USERID_HEADER, None, |header| {
                header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    .then(|| Some(header.to_owned()))
                    .ok_or_else(|| {
                        "an HTTP header name (letters, digits, '-' and '_'), e.g. kubeflow-userid"
                            .into()
                    })
            }),
            userid_prefix: env.parse(USERID_PREFIX, None, |prefix| {
                (!prefix.chars().any(|c| c.is_control() || c == ',' || c == '*'))
                    .then(|| Some(prefix.to_owned()))
                    .ok_or_else(|| {
                        "the text before the email in the userid header, without control characters, commas or '*'".into()
                    })
            }),
            principals: env.parse(ISTIO_PRINCIPALS, Principals::Learnt, parse_principals),
            mesh_labels: env.take(parse_mesh_labels(env.value(MESH_LABELS)), None),
            viewer_access: env.choice(
                VIEWER_ACCESS,
                &[
                    ("pipelines-ui", ViewerAccess::PipelinesUi),
                    ("as-editors", ViewerAccess::AsEditors),
                ],
                DEFAULT_VIEWER_ACCESS,
            ),
        }
    }
}

/// `none`, or a comma list of principals.
fn parse_principals(list: &str) -> Result<Principals, String> {
    if list.eq_ignore_ascii_case("none") {
        return Ok(Principals::Anyone);
    }
    let principals: Vec<String> = list
        .split(',')
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if principals.iter().any(|p| p.contains(char::is_whitespace)) {
        return Err(
            "a comma list of Istio principals (cluster.local/ns/<ns>/sa/<sa>), or none".into(),
        );
    }
    Ok(Principals::These(principals))
}

/// Which Istio objects accompany a RoleBinding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IstioAuthz {
    /// `security.istio.io` AuthorizationPolicy (Kubeflow >= 1.3).
    AuthorizationPolicy,
    /// `rbac.istio.io/v1alpha1` ServiceRoleBinding (Kubeflow 1.2).
    ServiceRoleBinding,
    Both,
    None,
    /// Decided from the API groups the cluster serves.
    Auto,
}

/// What a viewer's Istio policy admits (`VIEWER_ACCESS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerAccess {
    /// Only requests the Pipelines UI makes on the viewer's behalf (its runs and artifacts), not
    /// the ingress gateway: no notebook, TensorBoard or model endpoint, which run as
    /// `default-editor` and would give a viewer an editor's rights.
    PipelinesUi,
    /// KFAM's contributor policy, the same for every role.
    AsEditors,
}

/// `istio-injection=enabled`, `istio.io/dataplane-mode=ambient,istio.io/use-waypoint=waypoint`,
/// or `none`; empty: learnt.
fn parse_mesh_labels(
    value: Option<String>,
) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
    let Some(text) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if text.eq_ignore_ascii_case("none") {
        return Ok(Some(BTreeMap::new()));
    }
    let expected = "a comma list of KEY=VALUE mesh labels (keys among istio-injection, istio.io/rev, istio.io/dataplane-mode, istio.io/use-waypoint, istio.io/use-waypoint-namespace, istio.io/ingress-use-waypoint; a value of {namespace} is the namespace's own name), or none";
    let mut labels = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .ok_or_else(|| invalid(MESH_LABELS, &text, expected))?;
        let value_ok = value == crate::domain::model::mesh::OWN_NAMESPACE
            || (value.len() <= 63
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
        if !crate::domain::model::mesh::MESH_LABEL_KEYS.contains(&key)
            || value.is_empty()
            || !value_ok
        {
            return Err(invalid(MESH_LABELS, &text, expected));
        }
        labels.insert(key.to_owned(), value.to_owned());
    }
    Ok(Some(labels))
}
