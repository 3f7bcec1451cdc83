//! When a person was last seen, recorded where no tenant can write: one `coordination.k8s.io`
//! Lease per person, named by their Cognito `sub`, in the function's own records namespace
//! (`RECORDS_NAMESPACE`, made by deploy/rbac.yaml; no Profile, so no Kubeflow role reaches it).
//! Pure.
//!
//! Cognito keeps no reliable last-sign-in date for federated users, so a sign-in renews the
//! person's Lease (`spec.renewTime`), at most once a day: a repeat sign-in the same day writes
//! nothing. This is what Kubernetes does for node heartbeats (kube-node-lease: a Lease per node,
//! renewed by its kubelet). The sweep judges a person by this record only: the annotations
//! earlier versions wrote on bindings in team namespaces are ignored, since a namespace admin
//! can write those.

use std::time::SystemTime;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use crate::domain::model::names::is_dns_subdomain;
use crate::domain::model::objects::{Kind, MANAGED_BY_LABEL, MANAGER, Object, USER_LABEL};

/// The namespace of the records unless `RECORDS_NAMESPACE` says otherwise (deploy/rbac.yaml).
pub const DEFAULT_RECORDS_NAMESPACE: &str = "kubeflow-profile-manager";
/// The sweep's own Lease in the records namespace: its creation is when records began to be
/// kept (nobody is judged inactive from before it), and it carries where an interrupted sweep
/// resumes. Never a person's: a Cognito `sub` is a UUID.
pub const SWEEP_STATE_LEASE: &str = "kubeflow-profile-manager-sweep";
/// On the sweep's Lease: the key of the first person an interrupted sweep did not settle.
pub const RESUME_ANNOTATION: &str = "kubeflow-profile-manager/resume-at";
/// On a person's Lease: the sweep revoked their access then, for that reason (removed by their
/// next recorded sign-in).
pub const REVOKED_ANNOTATION: &str = "kubeflow-profile-manager/revoked";
/// How far in the future a record may be dated (clock skew between the function's clock and
/// the record's writer); a later one counts as no record.
pub const FUTURE_SKEW_SECONDS: i64 = 300;

const SECONDS_PER_DAY: i64 = 86_400;

/// A recorded activity: seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Activity {
    pub at: i64,
}

impl Activity {
    /// The UTC day of the activity (days since the epoch).
    pub fn day(&self) -> i64 {
        self.at.div_euclid(SECONDS_PER_DAY)
    }

    /// `at` as RFC 3339.
    pub fn timestamp(&self) -> String {
        rfc3339(self.at)
    }

    /// Whole days from this activity to `now`.
    pub fn days_before(&self, now: SystemTime) -> i64 {
        (seconds(now) - self.at).div_euclid(SECONDS_PER_DAY)
    }
}

/// Seconds since the Unix epoch.
pub fn seconds(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    }
}

/// RFC 3339 in UTC, to the second (`2026-11-29T02:07:30Z`).
pub fn rfc3339(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A `metav1.MicroTime` as the API server parses it: RFC 3339 with exactly six fractional
/// digits (`2026-11-29T02:07:30.000000Z`; apimachinery `RFC3339Micro`).
pub fn micro_time(seconds: i64) -> String {
    let text = rfc3339(seconds);
    match text.strip_suffix('Z') {
        Some(to_the_second) => format!("{to_the_second}.000000Z"),
        None => text,
    }
}

/// Seconds since the epoch of an RFC 3339 time, as the API server writes them (fractions of a
/// second dropped).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    text.parse::<Timestamp>().ok().map(|t| t.as_second())
}

/// The name of the Lease recording the person `sub`, when their `sub` can name one (a DNS
/// subdomain, as every Cognito `sub`, a UUID, is).
pub fn record_name(sub: &str) -> Option<&str> {
    is_dns_subdomain(sub).then_some(sub)
}

/// The Lease recording that the person `sub` was seen at `now`, as a sign-in creates it.
pub fn new_record(records_namespace: &str, sub: &str, now: SystemTime) -> Option<Object> {
    let name = record_name(sub)?;
    let at = micro_time(seconds(now));
    Some(Object::new(
        Kind::Lease,
        Some(records_namespace),
        name,
        json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": name,
                "namespace": records_namespace,
                "labels": {MANAGED_BY_LABEL: MANAGER, USER_LABEL: sub},
            },
            "spec": {"acquireTime": at, "renewTime": at},
        }),
    ))
}

/// The activity a Lease records (`spec.renewTime`), if it is one of the function's person
/// records; `None` for anything else, or a time that does not parse.
pub fn recorded(lease: &Object) -> Option<Activity> {
    if lease.kind != Kind::Lease || !lease.is_managed() {
        return None;
    }
    let at = parse_rfc3339(lease.body.pointer("/spec/renewTime")?.as_str()?)?;
    Some(Activity { at })
}

/// The activity a record gives when judged at `now`: `None` when it is dated beyond
/// [`FUTURE_SKEW_SECONDS`] ahead (unusable: the sweep then judges the person as unrecorded).
pub fn usable(activity: Activity, now: SystemTime) -> Option<Activity> {
    (activity.at <= seconds(now) + FUTURE_SKEW_SECONDS).then_some(activity)
}

/// A JSON merge patch (RFC 7386) of `patch` onto `target`, valid only while `target` is still
/// the version that was read (its `resourceVersion`): the API server refuses it (409) when the
/// object changed or was replaced meanwhile, and it never creates one (404).
#[derive(Debug, Clone, PartialEq)]
pub struct Annotate {
    pub target: Object,
    pub patch: Value,
}

impl Annotate {
    /// Sets `annotations` (a `null` value removes one) on `target` as read.
    pub fn new(target: &Object, annotations: Value) -> Self {
        Self::merge(target, json!({"metadata": {"annotations": annotations}}))
    }

    /// Merges `patch` into `target` as read.
    pub fn merge(target: &Object, patch: Value) -> Self {
        Annotate {
            target: target.clone(),
            patch: target.version_guarded(patch),
        }
    }
}

/// What a sign-in writes to record the person's activity.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordWrite {
    /// Recorded today already, the person's `sub` names no Lease, or a dry run.
    None,
    /// Their first record.
    Create(Object),
    /// Their record renewed (and a sweep's revocation mark removed), only while it is the
    /// version read.
    Renew(Annotate),
}

/// What a sign-in at `now` writes given the person's record as read (`existing`) and the one it
/// would create (`wanted`): nothing when the record is from today; a record dated in the future
/// is renewed to now.
pub fn record_write(
    existing: Option<&Object>,
    wanted: Option<Object>,
    now: SystemTime,
) -> RecordWrite {
    let Some(wanted) = wanted else {
        return RecordWrite::None;
    };
    let Some(existing) = existing else {
        return RecordWrite::Create(wanted);
    };
    let today = seconds(now).div_euclid(SECONDS_PER_DAY);
    match recorded(existing) {
        Some(activity) if activity.day() == today => RecordWrite::None,
        _ => RecordWrite::Renew(Annotate::merge(
            existing,
            json!({
                "metadata": {"annotations": {REVOKED_ANNOTATION: Value::Null}},
                "spec": {"renewTime": micro_time(seconds(now))},
            }),
        )),
    }
}

/// The person (`USER_LABEL`) an object was made for.
pub fn user_key(object: &Object) -> Option<&str> {
    object.meta("labels", USER_LABEL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const NOV_29: u64 = 1_795_919_250; // 2026-11-29T02:27:30Z
    const SUB: &str = "12ec26be-e8d1-482b-9602-e402c7896cb3";

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn stored(record: Object) -> Object {
        let mut body = record.body;
        body["metadata"]["resourceVersion"] = json!("7");
        Object { body, ..record }
    }

    #[test]
    fn times_are_written_and_read_as_the_api_server_writes_them() {
        assert_eq!(rfc3339(NOV_29 as i64), "2026-11-29T02:27:30Z");
        assert_eq!(micro_time(NOV_29 as i64), "2026-11-29T02:27:30.000000Z");
        assert_eq!(parse_rfc3339("2026-11-29T02:27:30Z"), Some(NOV_29 as i64));
        assert_eq!(
            parse_rfc3339("2026-11-29T02:27:30.123456Z"),
            Some(NOV_29 as i64)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn a_person_is_recorded_in_a_lease_named_by_their_sub() {
        let record = new_record("kubeflow-profile-manager", SUB, at(NOV_29)).unwrap();
        assert_eq!(
            record.describe(),
            format!("Lease kubeflow-profile-manager/{SUB}")
        );
        assert_eq!(record.meta("labels", USER_LABEL), Some(SUB));
        assert!(record.is_managed());
        assert_eq!(recorded(&record), Some(Activity { at: NOV_29 as i64 }));
        // A `sub` that names no Lease (not a DNS subdomain) is not recorded.
        assert_eq!(
            new_record("kubeflow-profile-manager", "Sub_1", at(NOV_29)),
            None
        );
        // Another Lease, or one without the function's label, records nothing.
        let mut foreign = record.clone();
        foreign.body["metadata"]["labels"] = json!({});
        assert_eq!(recorded(&foreign), None);
    }

    #[test]
    fn a_record_is_written_once_a_day_and_a_future_one_is_renewed() {
        let wanted = || new_record("records", SUB, at(NOV_29));
        let today = stored(new_record("records", SUB, at(NOV_29 - 3600)).unwrap());
        assert_eq!(
            record_write(Some(&today), wanted(), at(NOV_29)),
            RecordWrite::None
        );
        assert!(matches!(
            record_write(None, wanted(), at(NOV_29)),
            RecordWrite::Create(_)
        ));
        let yesterday = stored(new_record("records", SUB, at(NOV_29 - 86_400)).unwrap());
        let RecordWrite::Renew(renew) = record_write(Some(&yesterday), wanted(), at(NOV_29)) else {
            panic!("expected a renewal")
        };
        assert_eq!(
            renew.patch,
            json!({"metadata": {"resourceVersion": "7",
                                "annotations": {REVOKED_ANNOTATION: null}},
                   "spec": {"renewTime": "2026-11-29T02:27:30.000000Z"}})
        );
        let ahead = stored(new_record("records", SUB, at(NOV_29 + 86_400 * 400)).unwrap());
        assert!(matches!(
            record_write(Some(&ahead), wanted(), at(NOV_29)),
            RecordWrite::Renew(_)
        ));
        assert_eq!(record_write(None, None, at(NOV_29)), RecordWrite::None);
    }

    #[test]
    fn a_record_dated_beyond_the_skew_is_unusable() {
        let now = at(NOV_29);
        let soon = Activity {
            at: NOV_29 as i64 + FUTURE_SKEW_SECONDS,
        };
        let later = Activity {
            at: NOV_29 as i64 + FUTURE_SKEW_SECONDS + 1,
        };
        assert_eq!(usable(soon, now), Some(soon));
        assert_eq!(usable(later, now), None);
        assert_eq!(
            Activity {
                at: NOV_29 as i64 - 86_400 * 2 - 5
            }
            .days_before(now),
            2
        );
    }
}
