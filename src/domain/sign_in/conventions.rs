//! How a cluster's Kubeflow represents a contributor: which Istio kinds accompany a
//! RoleBinding, how KFAM names them, and the shape of the user rule (userid header and prefix,
//! trusted principals). Pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIGroupList;
use serde_json::Value;

use crate::domain::config::{Config, IstioAuthz, Principals, ViewerAccess};
use crate::domain::model::mesh::default_mesh_labels;
use crate::domain::model::names::KfamNaming;
use crate::domain::model::objects::{Kind, Object};

/// Kubeflow's default userid header (`userid-header`).
pub const DEFAULT_USERID_HEADER: &str = "kubeflow-userid";
/// The principals Kubeflow >= 1.8's KFAM trusts the header from by default
/// (`ISTIO_INGRESS_GATEWAY_PRINCIPAL`, `KFP_UI_PRINCIPAL`).
pub const DEFAULT_PRINCIPALS: [&str; 2] = [
    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
    "cluster.local/ns/kubeflow/sa/ml-pipeline-ui",
];
/// The Pipelines UI's principal in Kubeflow's defaults (`KFP_UI_PRINCIPAL`,
/// kubeflow/kubeflow v1.10.0 `components/access-management/kfam/bindings.go` lines 84-86).
pub const KFP_UI_PRINCIPAL: &str = "cluster.local/ns/kubeflow/sa/ml-pipeline-ui";

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
    /// The mesh labels of a namespace this function creates ([`crate::domain::model::mesh`]).
    pub mesh_labels: BTreeMap<String, String>,
    /// How far a viewer's Istio access reaches.
    pub viewer_access: ViewerAccess,
    /// The AD groups (ASCII lowercase) that the group Profiles a sign-in read record exactly:
    /// a group ending in a role suffix that a Profile records is its own team, never stripped
    /// into another ([`crate::domain::sign_in::desired`]).
    pub recorded_teams: BTreeSet<String>,
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
            mesh_labels: default_mesh_labels(),
            viewer_access: ViewerAccess::PipelinesUi,
            recorded_teams: BTreeSet::new(),
        }
    }

    /// The principals a contributor rule of `role` trusts the header from. A viewer's, unless
    /// `VIEWER_ACCESS=as-editors`: the Pipelines UI's alone (the learnt one, else Kubeflow's
    /// default `cluster.local/ns/kubeflow/sa/ml-pipeline-ui`), so the ingress gateway does not
    /// take them to notebooks, which run as `default-editor`.
    pub fn principals_for(&self, role: &str) -> Option<Vec<String>> {
        if role != "view" || self.viewer_access == ViewerAccess::AsEditors {
            return self.principals.clone();
        }
        let learnt = self
            .principals
            .iter()
            .flatten()
            .find(|p| p.ends_with("/sa/ml-pipeline-ui"))
            .cloned();
        Some(vec![learnt.unwrap_or_else(|| KFP_UI_PRINCIPAL.to_owned())])
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

/// The name the profile controller gives the owner's AuthorizationPolicy (Kubeflow >= 1.3).
pub const OWNER_POLICY: &str = "ns-owner-access-istio";
/// The name the profile controller gives the owner's ServiceRoleBinding (Kubeflow 1.2).
pub const OWNER_BINDING: &str = "owner-binding-istio";

/// True when `groups` serves `kind`'s group at `kind`'s version.
pub fn serves(groups: &APIGroupList, kind: Kind) -> bool {
    groups.groups.iter().any(|group| {
        group.name == kind.group() && group.versions.iter().any(|v| v.version == kind.version())
    })
}

/// What discovery and the profile controller's own objects say about a cluster; read once per
/// container, alongside discovery.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterFacts {
    /// The Istio kinds the cluster serves.
    pub served: Vec<Kind>,
    /// One `ns-owner-access-istio` AuthorizationPolicy, if the controller wrote any.
    pub owner_policy: Option<Object>,
    /// One `owner-binding-istio` ServiceRoleBinding, if the controller wrote any.
    pub owner_binding: Option<Object>,
    /// Istio kinds of which this function has objects on the cluster.
    pub ours: Vec<Kind>,
    /// The user id of the Profile owner the owner object was written for, once read (from the
    /// Profile of its namespace): the userid prefix is what precedes it.
    pub owner: Option<String>,
    /// The mesh labels of a namespace the profile controller created, when one was found.
    pub mesh_labels: Option<BTreeMap<String, String>>,
}

/// An `ISTIO_AUTHZ` that the cluster cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "ISTIO_AUTHZ asks for {wanted:?} and the cluster serves none of them: a RoleBinding without its Istio twin is not working access (set ISTIO_AUTHZ=auto)"
)]
pub struct NotServed {
    pub wanted: Vec<Kind>,
}

impl ClusterFacts {
    pub fn new(
        groups: &APIGroupList,
        owner_policy: Option<Object>,
        owner_binding: Option<Object>,
        ours: Vec<Kind>,
    ) -> Self {
        let served = [Kind::AuthorizationPolicy, Kind::ServiceRoleBinding]
            .into_iter()
            .filter(|kind| serves(groups, *kind))
            .collect();
        ClusterFacts {
            served,
            owner_policy,
            owner_binding,
            ours,
            owner: None,
            mesh_labels: None,
        }
    }

    /// The namespace of the owner object learnt from, while its owner is not known yet: its
    /// Profile gives the owner's user id (read once).
    pub fn owner_namespaces(&self) -> Vec<String> {
        if self.owner.is_some() {
            return Vec::new();
        }
        self.owner_policy
            .iter()
            .chain(&self.owner_binding)
            .filter_map(|o| o.namespace.clone())
            .collect()
    }

    /// Takes the owner's user id from the Profile of the owner object's namespace in `profiles`;
    /// true when it was not known before and now is.
    pub fn learn_owner(&mut self, profiles: &HashMap<String, Object>) -> bool {
        if self.owner.is_some() {
            return false;
        }
        self.owner = self
            .owner_namespaces()
            .iter()
            .filter_map(|ns| profiles.get(ns))
            .find_map(|p| p.body.pointer("/spec/owner/name").and_then(Value::as_str))
            .map(str::to_owned);
        self.owner.is_some()
    }

    /// True when a profile controller's owner object was found: what is learnt from it holds
    /// for the life of the container.
    pub fn has_shown_its_conventions(&self) -> bool {
        self.owner_policy.is_some() || self.owner_binding.is_some()
    }

    /// True when what the profile controller wrote says Kubeflow 1.2: the owner's
    /// ServiceRoleBinding and no owner AuthorizationPolicy.
    fn is_kubeflow_12(&self) -> bool {
        self.owner_policy.is_none() && self.owner_binding.is_some()
    }

    /// The Istio kinds to pair with each RoleBinding, and the configured ones skipped because
    /// the cluster does not serve them.
    ///
    /// `auto` follows what the profile controller wrote: the owner's AuthorizationPolicy means
    /// AuthorizationPolicies (an upgraded cluster still serves `rbac.istio.io`, which Istio >=
    /// 1.6 no longer enforces); the owner's ServiceRoleBinding alone means Kubeflow 1.2; with
    /// no Profile namespace yet, `security.istio.io` when it is served.
    pub fn twins(&self, configured: IstioAuthz) -> Result<(Vec<Kind>, Vec<Kind>), NotServed> {
        let served = |kind: &Kind| self.served.contains(kind);
        let wanted = match configured {
            IstioAuthz::Auto => {
                let learnt = if self.owner_policy.is_some() {
                    Kind::AuthorizationPolicy
                } else if self.owner_binding.is_some() {
                    Kind::ServiceRoleBinding
                } else if served(&Kind::AuthorizationPolicy) {
                    Kind::AuthorizationPolicy
                } else {
                    Kind::ServiceRoleBinding
                };
                return Ok((std::iter::once(learnt).filter(served).collect(), Vec::new()));
            }
            IstioAuthz::None => return Ok((Vec::new(), Vec::new())),
            IstioAuthz::AuthorizationPolicy => vec![Kind::AuthorizationPolicy],
            IstioAuthz::ServiceRoleBinding => vec![Kind::ServiceRoleBinding],
            IstioAuthz::Both => vec![Kind::AuthorizationPolicy, Kind::ServiceRoleBinding],
        };
        let (twins, skipped): (Vec<Kind>, Vec<Kind>) = wanted.iter().partition(|k| served(k));
        if twins.is_empty() {
            return Err(NotServed { wanted });
        }
        Ok((twins, skipped))
    }

    /// The kinds whose objects of a person are read at each sign-in: RoleBindings, the twins,
    /// and any other Istio kind this function has objects of (left by an earlier version or
    /// another `ISTIO_AUTHZ`), so that they are revoked.
    pub fn binding_kinds(&self, twins: &[Kind]) -> Vec<Kind> {
        let mut kinds = vec![Kind::RoleBinding];
        kinds.extend(twins);
        kinds.extend(
            self.ours
                .iter()
                .filter(|k| self.served.contains(k) && !twins.contains(k)),
        );
        kinds
    }

    /// How the cluster represents a contributor: `twins`, KFAM's naming of this Kubeflow, and
    /// the user rule of the owner's Istio object (its header, the prefix before the owner's
    /// user id, its `from`), unless `config` sets them; Kubeflow >= 1.8's defaults otherwise.
    pub fn conventions(&self, twins: Vec<Kind>, config: &Config) -> Conventions {
        let mut conventions = Conventions::defaults(twins);
        conventions.naming = if self.is_kubeflow_12()
            || (self.owner_policy.is_none() && conventions.twins == [Kind::ServiceRoleBinding])
        {
            KfamNaming::Kubeflow12
        } else {
            KfamNaming::Current
        };
        let learnt = match (&self.owner_policy, &self.owner_binding) {
            (Some(policy), _) => user_rule_of_policy(policy),
            (None, Some(binding)) => user_rule_of_binding(binding),
            (None, None) => None,
        };
        if let Some(rule) = learnt {
            conventions.userid_header = rule.header;
            if let Some(prefix) = self
                .owner
                .as_deref()
                .and_then(|owner| rule.value.strip_suffix(owner))
            {
                conventions.userid_prefix = prefix.to_owned();
            }
            conventions.principals = rule.principals;
        }
        if let Some(header) = &config.istio.userid_header {
            conventions.userid_header = header.clone();
        }
        if let Some(prefix) = &config.istio.userid_prefix {
            conventions.userid_prefix = prefix.clone();
        }
        match &config.istio.principals {
            Principals::Learnt => {}
            Principals::Anyone => conventions.principals = None,
            Principals::These(list) => conventions.principals = Some(list.clone()),
        }
        conventions.mesh_labels = config
            .istio
            .mesh_labels
            .clone()
            .or_else(|| self.mesh_labels.clone())
            .unwrap_or_else(default_mesh_labels);
        conventions.viewer_access = config.istio.viewer_access;
        conventions
    }
}

/// The user rule of an owner object: the userid header, its value (prefix + owner), and the
/// principals it trusts the header from (`None`: no `from`).
struct UserRule {
    header: String,
    value: String,
    principals: Option<Vec<String>>,
}

/// `request.headers[<header>]` -> `<header>`.
fn header_of(key: &str) -> Option<&str> {
    key.strip_prefix("request.headers[")?.strip_suffix(']')
}

/// The owner's user rule of `ns-owner-access-istio`: the rule whose condition is the userid
/// header (the policy has other rules, for the namespace's own workloads, Knative's probes and
/// the notebook controller, that are not the user's).
fn user_rule_of_policy(policy: &Object) -> Option<UserRule> {
    let rules = policy.body.pointer("/spec/rules")?.as_array()?;
    rules.iter().find_map(|rule| {
        let condition = rule.get("when")?.as_array()?.iter().find(|c| {
            c.get("key")
                .and_then(Value::as_str)
                .and_then(header_of)
                .is_some()
        })?;
        let header = header_of(condition.get("key")?.as_str()?)?.to_owned();
        let value = condition.get("values")?.get(0)?.as_str()?.to_owned();
        let principals = rule.get("from").and_then(Value::as_array).map(|from| {
            from.iter()
                .filter_map(|f| f.pointer("/source/principals").and_then(Value::as_array))
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        });
        Some(UserRule {
            header,
            value,
            principals,
        })
    })
}

/// The owner's subject of `owner-binding-istio` (Kubeflow 1.2): the one whose property is the
/// userid header. ServiceRoleBindings have no `from`.
fn user_rule_of_binding(binding: &Object) -> Option<UserRule> {
    let subjects = binding.body.pointer("/spec/subjects")?.as_array()?;
    subjects.iter().find_map(|subject| {
        let (key, value) = subject
            .get("properties")?
            .as_object()?
            .iter()
            .find(|(key, _)| header_of(key).is_some())?;
        Some(UserRule {
            header: header_of(key)?.to_owned(),
            value: value.as_str()?.to_owned(),
            principals: None,
        })
    })
}

#[cfg(test)]
mod tests;
