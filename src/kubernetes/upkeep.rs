//! The upkeep writes of a sign-in and the sweep, none of which fails them: a person's activity
//! record, a namespace brought into the mesh and under its Profile, a team's quota, the record
//! of a team's role, a new team's default objects, the sweep's marks. Each that cannot be made
//! is logged and left for a later run. I/O.

use crate::domain::model::activity::{Annotate, RecordWrite};
use crate::domain::model::objects::Object;
use crate::domain::sign_in::summary::Write;
use crate::domain::sign_in::team_defaults::defaults_made;
use crate::domain::sign_in::team_role::{RoleDue, TeamRoleRecord, role_recorded};
use crate::kubernetes::execute::log_change;
use crate::kubernetes::typed::KindApi;

/// Sets the annotations of `annotate` on its object, if it is still the version read. A write
/// that cannot be made is logged and left for a later sign-in: it only records activity.
pub async fn annotate(client: &kube::Client, annotate: &Annotate) -> bool {
    let target = &annotate.target;
    match KindApi::of(client, target)
        .merge_patch(&target.name, &annotate.patch, false)
        .await
    {
        Ok(()) => {
            tracing::debug!(object = %target.describe(), "annotated");
            true
        }
        Err(error) => {
            tracing::warn!(object = %target.describe(), %error, "could not annotate; left for a later run");
            false
        }
    }
}

/// Records the person's activity as `write` says. A record that cannot be written is logged
/// and left for a later sign-in; a conflict means another sign-in recorded it meanwhile.
pub(crate) async fn record_activity(client: &kube::Client, write: &RecordWrite) {
    let (record, result) = match write {
        RecordWrite::None => return,
        RecordWrite::Create(record) => (
            record,
            KindApi::of(client, record)
                .create(record, false)
                .await
                .map(drop),
        ),
        RecordWrite::Renew(renew) => (
            &renew.target,
            KindApi::of(client, &renew.target)
                .merge_patch(&renew.target.name, &renew.patch, false)
                .await,
        ),
    };
    match result {
        Ok(()) => tracing::debug!(object = %record.describe(), "activity recorded"),
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => tracing::warn!(
            object = %record.describe(),
            %error,
            "could not record the person's activity; left for a later sign-in (make -s rbac | kubectl apply -f - makes its namespace and grants it)"
        ),
    }
}

/// Repairs a namespace this function made: its mesh labels, its Profile as owner (`patch`,
/// which holds only while the namespace is the version read). A namespace that cannot be
/// patched is logged and left for a later sign-in: the person's access is there either way,
/// and the doctor reports it.
pub(crate) async fn repair_namespace(client: &kube::Client, patch: &Object) {
    match patched(client, patch).await {
        Ok(()) => {
            if let Some(labels) = patch.body.pointer("/metadata/labels") {
                tracing::warn!(
                    namespace = patch.name.as_str(),
                    %labels,
                    "namespace brought into the mesh: pods already running there get their sidecar only when they are restarted (none is restarted by this function)"
                );
            }
            if patch.body.pointer("/metadata/ownerReferences").is_some() {
                tracing::info!(
                    namespace = patch.name.as_str(),
                    "namespace now owned by its Profile: deleting the team Profile deletes it"
                );
            }
        }
        Err(error) => tracing::warn!(
            namespace = patch.name.as_str(),
            %error,
            "could not repair the namespace (mesh labels, owner); left for a later sign-in (make -s rbac | kubectl apply -f - grants the patch)"
        ),
    }
}

/// Brings a team's quota to what it is to be; one that cannot be (an administrator's edit since
/// it was read) is logged and left for a later sign-in: the group's access does not wait on it.
pub(crate) async fn update_quota(client: &kube::Client, patch: &Object) {
    if let Err(error) = patched(client, patch).await {
        tracing::warn!(
            profile = patch.name.as_str(),
            %error,
            "could not set the team's quota; left for a later sign-in"
        );
    }
}

/// Records on the team's Profile the role its namespace was given (a mark no one else may
/// write); one that cannot be written is logged, and EKS is asked again at the next sign-in.
pub async fn record_team_role(client: &kube::Client, due: &RoleDue, record: TeamRoleRecord) {
    let patch = role_recorded(due, record);
    if let Err(error) = patched(client, &patch).await {
        tracing::warn!(
            profile = patch.name.as_str(),
            %error,
            "could not record the team's role on its Profile; left for a later sign-in"
        );
    }
}

/// Creates a new team's defaults in its namespace, each once: one already there (its own,
/// an administrator's or a tenant's) is left as it is. When every one is there, marks the
/// namespace's defaults made; otherwise they stay due and are tried again at the next sign-in
/// of a member, each failure logged with its cause.
pub async fn make_team_defaults(client: &kube::Client, namespace: &str, objects: &[Object]) {
    let created = futures::future::join_all(objects.iter().map(|object| async move {
        match KindApi::of(client, object).create(object, false).await {
            Ok(_) => {
                log_change(Write::Create.verb(), object);
                true
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                tracing::info!(object = %object.describe(), "a team default is there already: left as it is");
                true
            }
            Err(error) => {
                tracing::warn!(
                    object = %object.describe(),
                    %error,
                    "could not create a team default; tried again at the next sign-in of a member (the doctor shows it; make -s rbac | kubectl apply -f - grants the create, and its CRD must be installed)"
                );
                false
            }
        }
    }))
    .await;
    if created.iter().all(|made| *made) {
        let mark = defaults_made(namespace);
        if let Err(error) = patched(client, &mark).await {
            tracing::warn!(namespace, %error, "could not mark the team's defaults made; they are looked at again at the next sign-in, and left as they are");
        }
    }
}

/// The merge patch `patch` (its body, onto the object it names), logged as a change when made.
async fn patched(client: &kube::Client, patch: &Object) -> Result<(), kube::Error> {
    KindApi::of(client, patch)
        .merge_patch(&patch.name, &patch.body, false)
        .await?;
    log_change(Write::Patch.verb(), patch);
    Ok(())
}
