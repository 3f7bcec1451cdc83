//! Carries out a plan: the personal Profile, the revocations and every group at once; within a
//! group its Profile and namespace first, then its bindings; the Python Lambda's bindings last.
//! Writes only: what each outcome means is the domain's ([`crate::domain::sign_in::summary`]). I/O.

use futures::StreamExt;
use futures::future::join_all;
use serde_json::Value;
use tokio::time::Instant;

use crate::domain::model::objects::Object;
use crate::domain::model::protected::Refusal;
use crate::domain::sign_in::desired::owned_by_profile;
use crate::domain::sign_in::pace::Pace;
use crate::domain::sign_in::plan::{Existing, GroupPlan, PersonalProfile, Plan};
use crate::domain::sign_in::summary::{SignInSummary, Write, WriteOutcome};
use crate::error::Error;
use crate::kubernetes::policy::ran_out_of_time;
use crate::kubernetes::status::{refusal_outcome, status_text};
use crate::kubernetes::typed::KindApi;
use crate::kubernetes::upkeep::{record_activity, repair_namespace, update_quota};

/// The log line of one change (`action` is `create`, `apply`, `delete`, or `would-...` in a dry
/// run). Object names are DNS names this function made or the API server returned.
pub fn log_change(action: &str, object: &Object) {
    tracing::info!(
        action,
        kind = object.kind.name(),
        namespace = object.namespace.as_deref().unwrap_or(""),
        name = object.name.as_str(),
        "change"
    );
}

/// The API server's answer to a refused request, or the error when there was none (no answer
/// in time, or the credentials refused: both end the sign-in's attempt).
fn answer(
    action: &'static str,
    object: &Object,
    error: kube::Error,
) -> Result<kube::core::Status, Error> {
    match error {
        kube::Error::Api(status) if status.code != 401 => Ok(*status),
        source => Err(Error::kubernetes(action, &object.describe(), source)),
    }
}

/// What an apply or delete came to: logged when done, else the API server's refusal judged
/// by the domain (or the error that ends the attempt).
fn written(
    write: Write,
    object: &Object,
    result: Result<(), kube::Error>,
) -> Result<WriteOutcome, Error> {
    match result {
        Ok(()) => {
            log_change(write.verb(), object);
            Ok(WriteOutcome::Done)
        }
        Err(error) => Ok(refusal_outcome(
            write,
            &answer(write.verb(), object, error)?,
            object,
        )),
    }
}

/// Server-side apply; `force` only for objects this function owns for this user.
async fn apply(client: &kube::Client, object: &Object, force: bool) -> Result<WriteOutcome, Error> {
    let result = KindApi::of(client, object)
        .apply(object, force, false)
        .await;
    written(Write::Apply, object, result)
}

/// Deletes one of this user's managed objects, only if it is still the object that was listed.
async fn delete(client: &kube::Client, object: &Object) -> Result<WriteOutcome, Error> {
    let result = KindApi::of(client, object).delete(object, false).await;
    written(Write::Delete, object, result)
}

/// What a create came to.
enum Created {
    /// Made, with the uid the API server gave it.
    Made(Option<String>),
    /// Something of that name exists already, as the API server returned it.
    Exists(Value),
    Not(WriteOutcome),
}

/// Creates `object`, or reads what stands in its place.
async fn create_or_read(client: &kube::Client, object: &Object) -> Result<Created, Error> {
    let api = KindApi::of(client, object);
    let status = match api.create(object, false).await {
        Ok(uid) => {
            log_change(Write::Create.verb(), object);
            return Ok(Created::Made(uid));
        }
        Err(error) => answer(Write::Create.verb(), object, error)?,
    };
    if status.code != 409 {
        return Ok(Created::Not(refusal_outcome(
            Write::Create,
            &status,
            object,
        )));
    }
    Ok(match api.get(&object.name).await {
        Ok(existing) => Created::Exists(existing),
        Err(error) => Created::Not(WriteOutcome::Failed(format!(
            "read {} after a conflict: {}",
            object.describe(),
            status_text(&answer("read", object, error)?)
        ))),
    })
}

/// What a create of `wanted` for `group` came to: an existing object counts when the plan
/// judges it what was wanted (a concurrent invocation of the same sign-in, or access granted
/// by other means). Where KFAM's name is another person's in that namespace (look-alike
/// emails), the object goes under the person's collision-safe name instead, once.
async fn create(
    client: &kube::Client,
    group: &GroupPlan,
    wanted: &Object,
    owner: &str,
    user_key: &str,
) -> Result<WriteOutcome, Error> {
    let existing = match create_or_read(client, wanted).await? {
        Created::Made(_) => return Ok(WriteOutcome::Done),
        Created::Not(outcome) => return Ok(outcome),
        Created::Exists(existing) => existing,
    };
    match group.judge_existing(wanted, &existing, owner, user_key) {
        Existing::Accepted => Ok(WriteOutcome::Done),
        Existing::Refused => Ok(refused_existing(wanted)),
        Existing::CreateInstead(safe) => {
            tracing::warn!(
                kind = wanted.kind.name(),
                namespace = wanted.namespace.as_deref().unwrap_or(""),
                taken = wanted.name.as_str(),
                name = safe.name.as_str(),
                "KFAM's name is another person's here; using a collision-safe name (access works, the dashboard cannot remove it)"
            );
            let created = create_or_read(client, &safe).await?;
            Ok(judged(created, group, &safe, owner, user_key))
        }
    }
}

/// What a create of `wanted` for `group` came to, an existing object judged by the plan (no
/// other name tried).
fn judged(
    created: Created,
    group: &GroupPlan,
    wanted: &Object,
    owner: &str,
    user_key: &str,
) -> WriteOutcome {
    match created {
        Created::Made(_) => WriteOutcome::Done,
        Created::Not(outcome) => outcome,
        Created::Exists(existing) => match group.judge_existing(wanted, &existing, owner, user_key)
        {
            Existing::Accepted => WriteOutcome::Done,
            Existing::Refused | Existing::CreateInstead(_) => refused_existing(wanted),
        },
    }
}

/// The refusal of a create whose name something else holds.
fn refused_existing(object: &Object) -> WriteOutcome {
    WriteOutcome::Refused(Refusal::WriteRefused {
        detail: format!("{} exists and is not this function's", object.describe()),
    })
}

/// Phase one of a group: its Profile and namespace, both created; an existing one is accepted
/// only when it is owned by `owner` and belongs to this group. A namespace created with its
/// Profile is created after it, owned by it (the Profile's uid), so that deleting the team
/// Profile deletes the namespace, as for the namespaces the profile controller creates.
async fn prepare_group(
    client: &kube::Client,
    group: &GroupPlan,
    owner: &str,
    user_key: &str,
) -> Result<WriteOutcome, Error> {
    let profile_then_namespace = async {
        let (profile, uid) = match &group.create_profile {
            Some(wanted) => {
                let created = create_or_read(client, wanted).await?;
                let uid = match &created {
                    Created::Made(uid) => uid.clone(),
                    Created::Exists(existing) => existing
                        .pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    Created::Not(_) => None,
                };
                let outcome = judged(created, group, wanted, owner, user_key);
                (outcome, uid)
            }
            None => (WriteOutcome::Done, None),
        };
        if profile != WriteOutcome::Done {
            return Ok::<_, Error>((profile, WriteOutcome::Done));
        }
        let namespace = match &group.create_namespace {
            Some(wanted) => {
                let wanted = match &uid {
                    Some(uid) => owned_by_profile(wanted, uid),
                    None => wanted.clone(),
                };
                create(client, group, &wanted, owner, user_key).await?
            }
            None => WriteOutcome::Done,
        };
        Ok((profile, namespace))
    };
    let label = async {
        match &group.label_profile {
            Some(profile) => apply(client, profile, false).await,
            None => Ok(WriteOutcome::Done),
        }
    };
    let relabel = async {
        if let Some(patch) = &group.repair_namespace {
            repair_namespace(client, patch).await;
        }
        if let Some(patch) = &group.update_quota {
            update_quota(client, patch).await;
        }
    };
    let (created, label, ()) = futures::join!(profile_then_namespace, label, relabel);
    // A Profile that could not be labelled is found by name next time: no reason to hold back.
    let _ = label?;
    Ok(match created? {
        (WriteOutcome::Done, WriteOutcome::Done) => WriteOutcome::Done,
        (WriteOutcome::Refused(r), _) | (_, WriteOutcome::Refused(r)) => WriteOutcome::Refused(r),
        (WriteOutcome::Failed(f), _) | (_, WriteOutcome::Failed(f)) => WriteOutcome::Failed(f),
    })
}

/// Phase two of a group: the user's bindings; on a role change, the higher role goes first
/// (a downgrade) or last, once the higher one is in place (an upgrade).
async fn bind_group(
    client: &kube::Client,
    group: &GroupPlan,
    owner: &str,
    user_key: &str,
) -> Result<Vec<WriteOutcome>, Error> {
    let mut outcomes = delete_all(client, &group.remove_before).await?;
    let creates = group
        .create_bindings
        .iter()
        .map(|b| create(client, group, b, owner, user_key));
    let repairs = group.repair_bindings.iter().map(|b| apply(client, b, true));
    let (created, repaired) = futures::join!(join_all(creates), join_all(repairs));
    let bound: Vec<WriteOutcome> = created
        .into_iter()
        .chain(repaired)
        .collect::<Result<_, _>>()?;
    let in_place = bound.iter().all(|o| *o == WriteOutcome::Done);
    outcomes.extend(bound);
    // The lower role stays until the higher one is in place.
    if in_place {
        outcomes.extend(delete_all(client, &group.remove_after).await?);
    }
    Ok(outcomes)
}

/// A group at its own pace: its Profile and namespace, then (when they are ready) its bindings,
/// not waiting for the slowest group.
async fn provision_group(
    client: &kube::Client,
    group: &GroupPlan,
    owner: &str,
    user_key: &str,
) -> Result<Vec<WriteOutcome>, Error> {
    match prepare_group(client, group, owner, user_key).await? {
        WriteOutcome::Done => bind_group(client, group, owner, user_key).await,
        not_ready => Ok(vec![not_ready]),
    }
}

async fn delete_all(client: &kube::Client, objects: &[Object]) -> Result<Vec<WriteOutcome>, Error> {
    join_all(objects.iter().map(|o| delete(client, o)))
        .await
        .into_iter()
        .collect()
}

/// A group's write outcomes, or `None` for a group not started (deferred).
type GroupOutcomes = Option<Vec<WriteOutcome>>;

/// Groups moving at once: each has up to two requests in flight, so this keeps the sign-in's
/// requests near its in-flight bound, and lets later groups start later (see [`Pace`]).
const GROUPS_AT_ONCE: usize = 32;

/// The groups of `plan`, in the claim's order, a bounded number at once; a group starts only
/// while the time left before `deadline` is at least what one group takes. Each group's
/// outcomes, or `None` for a group not started or cut by the deadline (deferred: a grant
/// withheld until the next sign-in is never a grant made in error; revocations are not
/// deferred).
async fn provision_groups(
    client: &kube::Client,
    plan: &Plan,
    owner: &str,
    user_key: &str,
    deadline: Instant,
    pace: Pace,
) -> Result<Vec<GroupOutcomes>, Error> {
    let pace = std::sync::Mutex::new(pace);
    let pace = &pace;
    let mut done: Vec<(usize, Result<GroupOutcomes, Error>)> =
        futures::stream::iter(plan.groups.iter().enumerate())
            .map(|(index, group)| async move {
                let remaining = deadline.saturating_duration_since(Instant::now());
                let may_start = pace
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .may_start(remaining);
                // A group with nothing to write takes no time and is never held back.
                if !may_start && group.writes() > 0 {
                    return (index, Ok(None));
                }
                let started = Instant::now();
                let outcomes = match provision_group(client, group, owner, user_key).await {
                    // Cut by the deadline: deferred like a group not started; what was written
                    // stays and the rest comes at the next sign-in (every write is idempotent).
                    Err(error) if ran_out_of_time(&error) => {
                        tracing::info!(group = %group.group, error = %error.chain(), "deferred: the time budget ran out while the group was being provisioned");
                        Ok(None)
                    }
                    outcomes => outcomes.map(Some),
                };
                pace.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .group_took(started.elapsed());
                (index, outcomes)
            })
            .buffer_unordered(GROUPS_AT_ONCE)
            .collect()
            .await;
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, outcomes)| outcomes).collect()
}

/// Why the personal Profile was left alone, when it was.
fn log_personal(plan: &Plan, outcome: Option<&WriteOutcome>) {
    if let PersonalProfile::OwnedBySomeoneElse { name, owner } = &plan.personal_profile {
        tracing::warn!(
            profile = name.as_str(),
            ?owner,
            "the personal Profile belongs to someone else; left alone"
        );
    }
    if let Some(WriteOutcome::Refused(reason)) = outcome {
        tracing::warn!(reason = ?reason.to_string(), "the personal Profile was not written; left alone");
    }
}

/// Carries out `plan` for the person `user_key` before `deadline`, the groups at `pace`;
/// `owner` is `GROUP_PROFILE_OWNER`.
pub async fn execute(
    client: &kube::Client,
    plan: &Plan,
    owner: &str,
    user_key: &str,
    deadline: Instant,
    pace: Pace,
) -> Result<SignInSummary, Error> {
    let mut report = SignInSummary::of_plan(plan);
    let personal = async {
        match &plan.apply_personal_profile {
            Some(profile) => apply(client, profile, false).await.map(Some),
            None => Ok(None),
        }
    };
    let record = record_activity(client, &plan.record);
    let (personal, provisioned, revoked, ()) = futures::join!(
        personal,
        provision_groups(client, plan, owner, user_key, deadline, pace),
        delete_all(client, &plan.revoke),
        record,
    );
    let personal = personal?;
    log_personal(plan, personal.as_ref());
    report.record_personal(personal);
    report.record_deletions(&plan.revoke, revoked?);
    for (group, outcomes) in plan.groups.iter().zip(provisioned?) {
        match outcomes {
            Some(outcomes) => report.record_group(group, outcomes),
            None => report.record_deferred(group),
        }
    }
    if report.may_remove_legacy() {
        let removed = delete_all(client, &plan.remove_legacy).await?;
        report.record_deletions(&plan.remove_legacy, removed);
    }
    Ok(report)
}
