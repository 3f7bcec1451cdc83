//! Which namespaces may never receive user bindings, whatever a group is called. Pure.
//!
//! These checks need only names; the checks that need the cluster (is it a Profile, who owns it)
//! are in [`crate::domain::sign_in::plan`].

use crate::domain::config::Config;

/// System and platform namespaces of Kubernetes, EKS and Kubeflow.
pub const SYSTEM_NAMESPACES: &[&str] = &[
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "kubeflow",
    "istio-system",
    "auth",
    "cert-manager",
    "knative-serving",
    "knative-eventing",
    "oauth2-proxy",
];

/// Why a group's namespace is not bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing of the group name is usable in a namespace name.
    NoValidName,
    /// A Kubernetes, EKS or Kubeflow system namespace.
    SystemNamespace,
    /// Listed in `PROTECTED_NAMESPACES`.
    ProtectedByConfig,
    /// Starts with `USER_PROFILE_PREFIX`: reserved for personal Profiles.
    PersonalProfileName,
    /// The namespace exists but is not a Kubeflow Profile.
    NotAProfile,
    /// The namespace's Profile (or namespace owner annotation) names someone else.
    OwnedBySomeoneElse { owner: String },
    /// The namespace belongs to another AD group: its Profile (or, before the Profile exists,
    /// the namespace this function made for it) records that group's exact name.
    AnotherGroupsNamespace { group: String },
    /// A group Profile that records no AD group and whose name is not the group's own name:
    /// an administrator must record the group (annotation `kubeflow-profile-manager/group`).
    NoGroupRecord,
    /// The namespace is being deleted: the API server creates nothing in it any more.
    NamespaceTerminating,
    /// The cluster refused a write the grant depends on.
    WriteRefused { detail: String },
    /// The group's suffix gives `admin`, and `ALLOW_ADMIN_ROLE` is not set.
    AdminNotAllowed,
    /// The namespace is in Istio ambient mode without a waypoint: the RoleBinding is written,
    /// but no per-person policy can let anyone reach its workloads ([`crate::domain::model::mesh`]).
    WorkloadsUnreachable,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoValidName => f.write_str("no valid namespace name"),
            Refusal::SystemNamespace => f.write_str("system namespace"),
            Refusal::ProtectedByConfig => f.write_str("listed in PROTECTED_NAMESPACES"),
            Refusal::PersonalProfileName => {
                f.write_str("name reserved for personal Profiles (USER_PROFILE_PREFIX)")
            }
            Refusal::NotAProfile => f.write_str("namespace exists and is not a Kubeflow Profile"),
            Refusal::OwnedBySomeoneElse { owner } => write!(f, "owned by {owner:?}"),
            Refusal::AnotherGroupsNamespace { group } => {
                write!(f, "the namespace belongs to the AD group {group:?}")
            }
            Refusal::NoGroupRecord => f.write_str(
                "the Profile records no AD group (annotation kubeflow-profile-manager/group)",
            ),
            Refusal::NamespaceTerminating => f.write_str("the namespace is being deleted"),
            Refusal::WriteRefused { detail } => write!(f, "write refused: {detail}"),
            Refusal::AdminNotAllowed => {
                f.write_str("its suffix gives admin, and ALLOW_ADMIN_ROLE is not true")
            }
            Refusal::WorkloadsUnreachable => f.write_str(
                "workloads refused: the namespace is in Istio ambient mode without a waypoint, where no per-person policy admits anyone; the RoleBinding is written (give the namespace a waypoint: istio.io/use-waypoint, istio.io/ingress-use-waypoint=true)",
            ),
        }
    }
}

/// The reason `namespace` may never be bound from a group, if there is one.
pub fn name_refusal(namespace: &str, config: &Config) -> Option<Refusal> {
    if SYSTEM_NAMESPACES.contains(&namespace)
        || namespace.starts_with("kube-")
        || namespace == config.offboarding.records_namespace
    {
        Some(Refusal::SystemNamespace)
    } else if config
        .sign_in
        .protected_namespaces
        .iter()
        .any(|p| p == namespace)
    {
        Some(Refusal::ProtectedByConfig)
    } else if namespace.starts_with(&config.sign_in.user_profile_prefix) {
        Some(Refusal::PersonalProfileName)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(protected: &str) -> Config {
        crate::domain::config::test_config(&[("PROTECTED_NAMESPACES", protected)])
    }

    #[test]
    fn system_configured_and_personal_names_are_refused() {
        let config = config("monitoring,Logging");
        let cases: &[(&str, Option<Refusal>)] = &[
            ("default", Some(Refusal::SystemNamespace)),
            ("kube-system", Some(Refusal::SystemNamespace)),
            ("kube-anything", Some(Refusal::SystemNamespace)),
            ("kubeflow", Some(Refusal::SystemNamespace)),
            ("istio-system", Some(Refusal::SystemNamespace)),
            ("auth", Some(Refusal::SystemNamespace)),
            ("cert-manager", Some(Refusal::SystemNamespace)),
            ("knative-serving", Some(Refusal::SystemNamespace)),
            ("knative-eventing", Some(Refusal::SystemNamespace)),
            ("oauth2-proxy", Some(Refusal::SystemNamespace)),
            // The function's own records.
            ("kubeflow-profile-manager", Some(Refusal::SystemNamespace)),
            ("monitoring", Some(Refusal::ProtectedByConfig)),
            ("logging", Some(Refusal::ProtectedByConfig)),
            ("profile-rumesh", Some(Refusal::PersonalProfileName)),
            ("ridy-rumesh", None),
            ("kubeflow-team", None),
            ("kube", None),
            ("defaults", None),
        ];
        for (namespace, expected) in cases {
            assert_eq!(&name_refusal(namespace, &config), expected, "{namespace}");
        }
    }
}
