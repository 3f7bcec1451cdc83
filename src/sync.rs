//! Reads what the cluster holds for a sign-in and carries out the plan: lists in one round trip,
//! then every group at its own pace (its Profile and namespace, then its bindings) with the
//! revocations alongside. I/O.

use std::collections::HashMap;

use futures::future::join_all;
use http::Method;
use serde_json::{Value, json};

use crate::config::Config;
use crate::desired::{DesiredState, RefusedGroup};
use crate::error::Error;
use crate::kube_api::{APPLY_PATCH, JSON, KubeApi, Reply, encode_query_value};
use crate::objects::{Kind, MANAGED_BY_LABEL, MANAGER, NAMESPACE_NAME_LABEL, Object, USER_LABEL};
use crate::plan::{
    GroupPlan, Observed, PersonalProfile, Plan, accepts_group_namespace, accepts_group_profile,
    covers, plan,
};
use crate::protected::Refusal;

/// What a sign-in did to the cluster.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SyncReport {
    /// Namespaces the user has access to after the sign-in.
    pub granted: Vec<String>,
    /// Objects deleted (or, in a dry run, to be deleted).
    pub revoked: Vec<String>,
    pub refused: Vec<RefusedGroup>,
    /// Groups that need a grant this sign-in may not make (not an IdP assertion).
    pub withheld: Vec<String>,
    /// Groups left for the next sign-in by the bound on changes per sign-in.
    pub deferred: Vec<String>,
    /// Deletions left for the next sign-in by the same bound.
    pub deferred_deletions: usize,
    /// Objects created, applied or deleted (or, in a dry run, to be).
    pub changes: usize,
    /// Changes that failed, described for the log.
    pub failures: Vec<String>,
}

/// Collection path of `kind`, cluster-wide or in `namespace`.
fn collection_path(kind: Kind, namespace: Option<&str>) -> String {
    let root = match kind.group() {
        "" => format!("/api/{}", kind.version()),
        group => format!("/apis/{group}/{}", kind.version()),
    };
    match namespace {
        Some(ns) => format!("{root}/namespaces/{ns}/{}", kind.plural()),
        None => format!("{root}/{}", kind.plural()),
    }
}

fn object_path(object: &Object) -> String {
    format!(
        "{}/{}",
        collection_path(object.kind, object.namespace.as_deref()),
        object.name
    )
}

/// The label selector of a person's managed objects: their `sub`, and (when it is looked up)
/// the label value earlier versions used.
pub fn user_selector(desired: &DesiredState) -> String {
    let keys: Vec<&str> = std::iter::once(desired.user_key.as_str())
        .chain(desired.legacy_user_key.as_deref())
        .collect();
    format!(
        "{MANAGED_BY_LABEL}={MANAGER},{USER_LABEL} in ({})",
        keys.join(",")
    )
}

/// Lists `kind` in every namespace, by label selector or (`name`) by name.
async fn list(api: &KubeApi, kind: Kind, selector: Selector<'_>) -> Result<Vec<Object>, Error> {
    let path = match selector {
        Selector::All => collection_path(kind, None),
        Selector::Labels(labels) => format!(
            "{}?labelSelector={}",
            collection_path(kind, None),
            encode_query_value(labels)
        ),
        Selector::Name(name) => format!(
            "{}?fieldSelector={}",
            collection_path(kind, None),
            encode_query_value(&format!("metadata.name={name}"))
        ),
    };
    let target = format!("{} list", kind.name());
    let reply = api.get(&path).await.map_err(|source| Error::Request {
        action: "list",
        target: target.clone(),
        source,
    })?;
    if !reply.is_success() {
        return Err(Error::Unexpected {
            action: "list",
            target,
            answer: reply.status_text(),
        });
    }
    let items = match reply.body {
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    Ok(items
        .into_iter()
        .filter_map(|item| {
            let name = item.pointer("/metadata/name")?.as_str()?.to_owned();
            let namespace = item
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Some(Object {
                kind,
                namespace,
                name,
                body: item,
            })
        })
        .collect())
}

#[derive(Clone, Copy)]
enum Selector<'a> {
    All,
    Labels(&'a str),
    Name(&'a str),
}

/// Which Istio kinds the cluster serves, from its API group list (one request).
pub async fn discover_istio_kinds(api: &KubeApi) -> Result<Vec<Kind>, Error> {
    let failed = |answer: String| Error::Unexpected {
        action: "discover",
        target: "API groups".into(),
        answer,
    };
    let reply = api.get("/apis").await.map_err(|source| Error::Request {
        action: "discover",
        target: "API groups".into(),
        source,
    })?;
    if !reply.is_success() {
        return Err(failed(reply.status_text()));
    }
    let serves = |kind: Kind| {
        reply.body["groups"].as_array().is_some_and(|groups| {
            groups.iter().any(|g| {
                g["name"] == kind.group()
                    && g["versions"]
                        .as_array()
                        .is_some_and(|vs| vs.iter().any(|v| v["version"] == kind.version()))
            })
        })
    };
    // Kubeflow 1.2 authorises with Istio RBAC; adding an ALLOW AuthorizationPolicy there would
    // change who may reach the namespace, so a cluster serving rbac.istio.io gets only that.
    Ok(if serves(Kind::ServiceRoleBinding) {
        vec![Kind::ServiceRoleBinding]
    } else if serves(Kind::AuthorizationPolicy) {
        vec![Kind::AuthorizationPolicy]
    } else {
        Vec::new()
    })
}

/// Reads what the cluster holds for `desired`, in one round trip of concurrent lists.
pub async fn observe(
    api: &KubeApi,
    desired: &DesiredState,
    twins: &[Kind],
) -> Result<Observed, Error> {
    let selector = user_selector(desired);
    let namespace_selector = (!desired.groups.is_empty()).then(|| {
        let names: Vec<&str> = desired
            .groups
            .iter()
            .map(|g| g.namespace.as_str())
            .collect();
        format!("{NAMESPACE_NAME_LABEL} in ({})", names.join(","))
    });
    let binding_kinds: Vec<Kind> = std::iter::once(Kind::RoleBinding)
        .chain(twins.iter().copied())
        .collect();
    let (profiles, namespaces, bindings, legacy) = futures::join!(
        list(api, Kind::Profile, Selector::All),
        async {
            match &namespace_selector {
                Some(selector) => list(api, Kind::Namespace, Selector::Labels(selector)).await,
                None => Ok(Vec::new()),
            }
        },
        join_all(
            binding_kinds
                .iter()
                .map(|kind| list(api, *kind, Selector::Labels(&selector)))
        ),
        join_all(desired.legacy_binding_name.iter().flat_map(|name| {
            binding_kinds
                .iter()
                .map(move |kind| list(api, *kind, Selector::Name(name)))
        })),
    );
    let by_name = |objects: Vec<Object>| -> HashMap<String, Object> {
        objects.into_iter().map(|o| (o.name.clone(), o)).collect()
    };
    let mut user_bindings = Vec::new();
    for listed in bindings {
        user_bindings.extend(listed?);
    }
    let mut legacy_bindings = Vec::new();
    for listed in legacy {
        legacy_bindings.extend(listed?);
    }
    Ok(Observed {
        profiles: by_name(profiles?),
        namespaces: by_name(namespaces?),
        bindings: user_bindings,
        legacy_bindings,
    })
}

/// How one write ended.
enum WriteOutcome {
    Done,
    /// The cluster holds something this function must not take over.
    Refused(Refusal),
    Failed(String),
}

fn log_change(action: &str, object: &Object) {
    tracing::info!(
        action,
        kind = object.kind.name(),
        namespace = object.namespace.as_deref().unwrap_or(""),
        name = object.name.as_str(),
        "change"
    );
}

fn body_bytes(object: &Object) -> Vec<u8> {
    serde_json::to_vec(&object.body).unwrap_or_default()
}

async fn send(
    api: &KubeApi,
    action: &'static str,
    object: &Object,
    method: Method,
    path: String,
    body: Option<(&'static str, Vec<u8>)>,
) -> Result<Reply, Error> {
    api.send(method, &path, body)
        .await
        .map_err(|source| Error::Request {
            action,
            target: object.describe(),
            source,
        })
}

/// Server-side apply; `force` only for objects this function owns for this user.
async fn apply(api: &KubeApi, object: &Object, force: bool) -> Result<WriteOutcome, Error> {
    let path = format!(
        "{}?fieldManager={MANAGER}{}",
        object_path(object),
        if force { "&force=true" } else { "" }
    );
    let reply = send(
        api,
        "apply",
        object,
        Method::PATCH,
        path,
        Some((APPLY_PATCH, body_bytes(object))),
    )
    .await?;
    Ok(match reply.status {
        200 | 201 => {
            log_change("apply", object);
            WriteOutcome::Done
        }
        409 => WriteOutcome::Refused(Refusal::WriteRefused {
            detail: reply.status_text(),
        }),
        _ => WriteOutcome::Failed(format!(
            "apply {}: {}",
            object.describe(),
            reply.status_text()
        )),
    })
}

/// Creates `object`; if it already exists, `accept(existing)` says whether it is what we wanted
/// (a concurrent invocation of the same sign-in, or access granted by other means).
async fn create(
    api: &KubeApi,
    object: &Object,
    accept: impl Fn(&Value) -> bool,
) -> Result<WriteOutcome, Error> {
    let path = format!(
        "{}?fieldManager={MANAGER}",
        collection_path(object.kind, object.namespace.as_deref())
    );
    let reply = send(
        api,
        "create",
        object,
        Method::POST,
        path,
        Some((JSON, body_bytes(object))),
    )
    .await?;
    match reply.status {
        200 | 201 => {
            log_change("create", object);
            return Ok(WriteOutcome::Done);
        }
        409 => {}
        _ => {
            return Ok(WriteOutcome::Failed(format!(
                "create {}: {}",
                object.describe(),
                reply.status_text()
            )));
        }
    }
    let existing = send(api, "read", object, Method::GET, object_path(object), None).await?;
    Ok(if existing.is_success() && accept(&existing.body) {
        WriteOutcome::Done
    } else if existing.is_success() {
        WriteOutcome::Refused(Refusal::WriteRefused {
            detail: format!("{} exists and is not this function's", object.describe()),
        })
    } else {
        WriteOutcome::Failed(format!(
            "read {} after a conflict: {}",
            object.describe(),
            existing.status_text()
        ))
    })
}

/// Deletes one of this user's managed objects, only if it is still the object that was listed.
async fn delete(api: &KubeApi, object: &Object) -> Result<WriteOutcome, Error> {
    let mut options =
        json!({"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"});
    if let Some(uid) = object.body.pointer("/metadata/uid") {
        options["preconditions"] = json!({"uid": uid});
    }
    let bytes = serde_json::to_vec(&options).unwrap_or_default();
    let reply = send(
        api,
        "delete",
        object,
        Method::DELETE,
        object_path(object),
        Some((JSON, bytes)),
    )
    .await?;
    Ok(match reply.status {
        200 | 202 => {
            log_change("delete", object);
            WriteOutcome::Done
        }
        // Gone already, or replaced by another object since it was listed: nothing of ours to delete.
        404 | 409 => WriteOutcome::Done,
        _ => WriteOutcome::Failed(format!(
            "delete {}: {}",
            object.describe(),
            reply.status_text()
        )),
    })
}

/// True when `existing` grants what `wanted` grants (roleRef, subjects, spec), whoever made it.
fn grants_the_same(wanted: &Object, existing: &Value) -> bool {
    wanted.body.as_object().is_some_and(|fields| {
        fields
            .iter()
            .filter(|(key, _)| *key != "metadata")
            .all(|(key, value)| existing.get(key).is_some_and(|e| covers(value, e)))
    }) && existing.pointer("/metadata/annotations/user")
        == wanted.body.pointer("/metadata/annotations/user")
}

/// Phase one of a group: its Profile and namespace, both created; an existing one is accepted
/// only when it is owned by `owner` and belongs to this group.
async fn prepare_group(
    api: &KubeApi,
    group: &GroupPlan,
    owner: &str,
) -> Result<WriteOutcome, Error> {
    let profile = async {
        match &group.create_profile {
            Some(profile) => {
                create(api, profile, |existing| {
                    accepts_group_profile(existing, group, owner)
                })
                .await
            }
            None => Ok(WriteOutcome::Done),
        }
    };
    let namespace = async {
        match &group.create_namespace {
            Some(ns) => {
                create(api, ns, |existing| {
                    accepts_group_namespace(existing, group, owner)
                })
                .await
            }
            None => Ok(WriteOutcome::Done),
        }
    };
    let (profile, namespace) = futures::join!(profile, namespace);
    Ok(match (profile?, namespace?) {
        (WriteOutcome::Done, WriteOutcome::Done) => WriteOutcome::Done,
        (WriteOutcome::Refused(r), _) | (_, WriteOutcome::Refused(r)) => WriteOutcome::Refused(r),
        (WriteOutcome::Failed(f), _) | (_, WriteOutcome::Failed(f)) => WriteOutcome::Failed(f),
    })
}

/// A group at its own pace: its Profile and namespace, then (when they are ready) its bindings,
/// not waiting for the slowest group.
async fn provision_group(
    api: &KubeApi,
    group: &GroupPlan,
    owner: &str,
) -> Result<Vec<WriteOutcome>, Error> {
    match prepare_group(api, group, owner).await? {
        WriteOutcome::Done => bind_group(api, group).await,
        not_ready => Ok(vec![not_ready]),
    }
}

/// Phase two of a group: the user's bindings.
async fn bind_group(api: &KubeApi, group: &GroupPlan) -> Result<Vec<WriteOutcome>, Error> {
    let creates = group.create_bindings.iter().map(|b| {
        let wanted = b.clone();
        async move { create(api, b, |existing| grants_the_same(&wanted, existing)).await }
    });
    let repairs = group.repair_bindings.iter().map(|b| apply(api, b, true));
    let (created, repaired) = futures::join!(join_all(creates), join_all(repairs));
    created.into_iter().chain(repaired).collect()
}

/// Carries out `plan`: the personal Profile, the revocations and every group at once; within a
/// group, its Profile and namespace first, then its bindings.
pub async fn execute(api: &KubeApi, plan: Plan, config: &Config) -> Result<SyncReport, Error> {
    let owner = config.group_profile_owner.as_str();
    let mut report = SyncReport {
        refused: plan.refused.clone(),
        withheld: plan.withheld.clone(),
        deferred: plan.deferred_groups.clone(),
        deferred_deletions: plan.deferred_deletions,
        changes: plan.writes(),
        ..SyncReport::default()
    };
    if let PersonalProfile::OwnedBySomeoneElse { name, owner } = &plan.personal_profile {
        tracing::warn!(
            profile = name.as_str(),
            ?owner,
            "the personal Profile belongs to someone else; left alone"
        );
    }
    let personal = async {
        match &plan.apply_personal_profile {
            Some(profile) => apply(api, profile, false).await.map(Some),
            None => Ok(None),
        }
    };
    // Each group goes at its own pace: its bindings follow its own namespace, not the slowest group's.
    let (personal, provisioned, revoked) = futures::join!(
        personal,
        join_all(plan.groups.iter().map(|g| provision_group(api, g, owner))),
        join_all(plan.revoke.iter().map(|o| delete(api, o))),
    );
    match personal? {
        Some(WriteOutcome::Refused(reason)) => {
            tracing::warn!(%reason, "the personal Profile was not written; left alone")
        }
        Some(WriteOutcome::Failed(detail)) => report.failures.push(detail),
        _ => {}
    }
    record_deletions(&mut report, &plan.revoke, revoked)?;
    for (group, outcomes) in plan.groups.iter().zip(provisioned) {
        let mut complete = true;
        for outcome in outcomes? {
            match outcome {
                WriteOutcome::Done => {}
                WriteOutcome::Refused(reason) => {
                    complete = false;
                    report.refused.push(RefusedGroup {
                        group: group.group.clone(),
                        namespace: Some(group.namespace.clone()),
                        reason,
                    });
                }
                WriteOutcome::Failed(detail) => {
                    complete = false;
                    report.failures.push(detail);
                }
            }
        }
        if complete {
            report.granted.push(group.namespace.clone());
        }
    }
    // The Python Lambda's bindings go once the new access is in place, not before.
    if report.failures.is_empty() {
        let removed = join_all(plan.remove_legacy.iter().map(|o| delete(api, o))).await;
        record_deletions(&mut report, &plan.remove_legacy, removed)?;
    }
    Ok(report)
}

/// Adds the outcomes of deleting `objects` to `report`: revoked, or failed.
fn record_deletions(
    report: &mut SyncReport,
    objects: &[Object],
    outcomes: Vec<Result<WriteOutcome, Error>>,
) -> Result<(), Error> {
    for (object, outcome) in objects.iter().zip(outcomes) {
        match outcome? {
            WriteOutcome::Failed(detail) => report.failures.push(detail),
            _ => report.revoked.push(object.describe()),
        }
    }
    Ok(())
}

/// Logs what `plan` would change, and reports it, without writing.
pub fn dry_run(plan: &Plan) -> SyncReport {
    let planned = plan
        .apply_personal_profile
        .iter()
        .map(|o| ("would-apply", o))
        .chain(plan.groups.iter().flat_map(|g| {
            g.create_profile
                .iter()
                .map(|o| ("would-create", o))
                .chain(g.create_namespace.iter().map(|o| ("would-create", o)))
                .chain(g.create_bindings.iter().map(|o| ("would-create", o)))
                .chain(g.repair_bindings.iter().map(|o| ("would-apply", o)))
        }))
        .chain(
            plan.revoke
                .iter()
                .chain(&plan.remove_legacy)
                .map(|o| ("would-delete", o)),
        );
    for (action, object) in planned {
        log_change(action, object);
    }
    SyncReport {
        granted: plan.groups.iter().map(|g| g.namespace.clone()).collect(),
        revoked: plan
            .revoke
            .iter()
            .chain(&plan.remove_legacy)
            .map(Object::describe)
            .collect(),
        refused: plan.refused.clone(),
        withheld: plan.withheld.clone(),
        deferred: plan.deferred_groups.clone(),
        deferred_deletions: plan.deferred_deletions,
        changes: plan.writes(),
        failures: Vec::new(),
    }
}

/// Observes, plans and (unless `config.dry_run`) executes one sign-in.
pub async fn synchronise(
    api: &KubeApi,
    desired: &DesiredState,
    twins: &[Kind],
    config: &Config,
) -> Result<SyncReport, Error> {
    let observed = observe(api, desired, twins).await?;
    let plan = plan(desired, &observed, &config.group_profile_owner);
    if config.dry_run {
        return Ok(dry_run(&plan));
    }
    execute(api, plan, config).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_kubernetes_api_layout() {
        assert_eq!(collection_path(Kind::Namespace, None), "/api/v1/namespaces");
        assert_eq!(
            collection_path(Kind::Profile, None),
            "/apis/kubeflow.org/v1/profiles"
        );
        assert_eq!(
            collection_path(Kind::RoleBinding, Some("ml")),
            "/apis/rbac.authorization.k8s.io/v1/namespaces/ml/rolebindings"
        );
        let ap = Object::new(Kind::AuthorizationPolicy, Some("ml"), "user-x", Value::Null);
        assert_eq!(
            object_path(&ap),
            "/apis/security.istio.io/v1beta1/namespaces/ml/authorizationpolicies/user-x"
        );
        let srb = Object::new(Kind::ServiceRoleBinding, Some("ml"), "user-x", Value::Null);
        assert_eq!(
            object_path(&srb),
            "/apis/rbac.istio.io/v1alpha1/namespaces/ml/servicerolebindings/user-x"
        );
    }
}
