//! When a person was last seen, and their Cognito user name, recorded by the function itself on
//! the objects it already manages for them. Pure.
//!
//! Cognito keeps no reliable last-sign-in date for federated users, and `AdminGetUser` needs the
//! user name, which for SAML users is not the email. So a sign-in records both as two
//! annotations on one of the person's objects, at most once a day: a repeat sign-in the same day
//! writes nothing. The person's activity is the latest record on any of their objects (the
//! *holder*). The record goes on the holder again when it is a RoleBinding the sign-in keeps,
//! else on another of their RoleBindings, else on their personal Profile; on a first sign-in,
//! into the body of the first RoleBinding it creates (no extra write).

use std::time::SystemTime;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use crate::domain::objects::{Kind, Object, USER_LABEL};

/// The time of the person's latest sign-in (or token refresh), RFC 3339, to the second.
pub const LAST_ACTIVITY_ANNOTATION: &str = "kubeflow-profile-manager/last-activity";
/// The person's Cognito user name, for `AdminGetUser`.
pub const USERNAME_ANNOTATION: &str = "kubeflow-profile-manager/username";
/// Left by a sweep that ran out of time on the first person it did not check: the next sweep
/// starts there.
pub const SWEEP_RESUME_ANNOTATION: &str = "kubeflow-profile-manager/sweep-resume";

const SECONDS_PER_DAY: i64 = 86_400;

/// A recorded activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub username: Option<String>,
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

/// Seconds since the epoch of an RFC 3339 time, as the API server writes them.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    text.parse::<Timestamp>().ok().map(|t| t.as_second())
}

/// The activity recorded on `object`, if any (a malformed record counts as none).
pub fn recorded(object: &Object) -> Option<Activity> {
    let at = parse_rfc3339(object.meta("annotations", LAST_ACTIVITY_ANNOTATION)?)?;
    Some(Activity {
        at,
        username: object
            .meta("annotations", USERNAME_ANNOTATION)
            .filter(|u| !u.is_empty())
            .map(str::to_owned),
    })
}

/// The latest activity recorded on `objects`, with the object holding it (the first of equals).
pub fn latest<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Option<(Activity, &'a Object)> {
    objects
        .into_iter()
        .filter_map(|o| recorded(o).map(|a| (a, o)))
        .fold(None, |best, (activity, object)| match best {
            Some((ref kept, _)) if kept.at >= activity.at => best,
            _ => Some((activity, object)),
        })
}

/// The annotations of a record of activity at `now` by `username` (none when unknown).
pub fn record_annotations(now: SystemTime, username: Option<&str>) -> Value {
    let mut annotations = json!({LAST_ACTIVITY_ANNOTATION: rfc3339(seconds(now))});
    if let Some(username) = username {
        annotations[USERNAME_ANNOTATION] = json!(username);
    }
    annotations
}

/// Whether a sign-in by `username` at `now` records its activity, given the latest record.
pub fn record_due(latest: Option<&Activity>, now: SystemTime, username: &str) -> bool {
    match latest {
        None => true,
        Some(activity) => {
            activity.day() < seconds(now).div_euclid(SECONDS_PER_DAY)
                || activity.username.as_deref() != Some(username)
        }
    }
}

/// A JSON merge patch (RFC 7386) of `annotations` onto `target`, valid only while `target` is
/// still the version that was read (its `resourceVersion`): the API server refuses it (409)
/// when the object changed or was replaced meanwhile, and it never creates one (404).
#[derive(Debug, Clone, PartialEq)]
pub struct Annotate {
    pub target: Object,
    pub patch: Value,
}

impl Annotate {
    /// Sets `annotations` (a `null` value removes one) on `target` as read.
    pub fn new(target: &Object, annotations: Value) -> Self {
        let mut metadata = json!({"annotations": annotations});
        if let Some(version) = target.body.pointer("/metadata/resourceVersion") {
            metadata["resourceVersion"] = version.clone();
        }
        Annotate {
            target: target.clone(),
            patch: json!({"metadata": metadata}),
        }
    }
}

/// Where a sign-in records its activity.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Recorded today already, or nothing of the person's exists to carry it.
    None,
    /// On an existing object.
    Annotate(Annotate),
    /// Into the body of the RoleBinding at `(group, binding)` of the plan, as it is created.
    OnCreate { group: usize, binding: usize },
}

/// Where a sign-in of `username` at `now` records its activity. `persons` are the person's
/// objects the sign-in read (their managed bindings and personal Profile); `kept` tells those
/// the sign-in keeps; `created` lists, per planned group, the bindings it creates.
pub fn place_record(
    persons: &[&Object],
    kept: impl Fn(&Object) -> bool,
    created: &[&[Object]],
    now: SystemTime,
    username: &str,
) -> Record {
    let latest = latest(persons.iter().copied());
    if !record_due(latest.as_ref().map(|(a, _)| a), now, username) {
        return Record::None;
    }
    let annotations = record_annotations(now, Some(username));
    let holder = latest.map(|(_, o)| o).filter(|o| kept(o));
    let mut role_bindings: Vec<&&Object> = persons
        .iter()
        .filter(|o| o.kind == Kind::RoleBinding && kept(o))
        .collect();
    role_bindings.sort_by_key(|o| (o.namespace.clone(), o.name.clone()));
    let profile = persons.iter().find(|o| o.kind == Kind::Profile && kept(o));
    // A RoleBinding first: it is what the sweep deletes first, and only while unchanged.
    if let Some(target) = holder
        .filter(|o| o.kind == Kind::RoleBinding)
        .or(role_bindings.first().map(|o| **o))
        .or(holder)
        .or(profile.copied())
    {
        return Record::Annotate(Annotate::new(target, annotations));
    }
    for (group, bindings) in created.iter().enumerate() {
        if let Some(binding) = bindings.iter().position(|b| b.kind == Kind::RoleBinding) {
            return Record::OnCreate { group, binding };
        }
    }
    Record::None
}

/// Adds the record's annotations to the body of an object about to be created.
pub fn annotate_body(body: &mut Value, annotations: &Value) {
    for (key, value) in annotations.as_object().into_iter().flatten() {
        body["metadata"]["annotations"][key] = value.clone();
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

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn binding(namespace: &str, annotations: Value) -> Object {
        Object::new(
            Kind::RoleBinding,
            Some(namespace),
            "user-x",
            json!({"metadata": {"name": "user-x", "namespace": namespace, "resourceVersion": "7",
                                "annotations": annotations}}),
        )
    }

    const NOV_29: u64 = 1_795_919_250; // 2026-11-29T02:27:30Z

    #[test]
    fn times_are_written_and_read_as_the_api_server_writes_them() {
        assert_eq!(rfc3339(NOV_29 as i64), "2026-11-29T02:27:30Z");
        assert_eq!(parse_rfc3339("2026-11-29T02:27:30Z"), Some(NOV_29 as i64));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn the_latest_record_wins_and_malformed_ones_count_as_none() {
        let old = binding("a", record_annotations(at(NOV_29 - 86_400 * 3), Some("u")));
        let new = binding("b", record_annotations(at(NOV_29), Some("u")));
        let broken = binding("c", json!({LAST_ACTIVITY_ANNOTATION: "soon"}));
        let (activity, holder) = latest([&old, &broken, &new]).unwrap();
        assert_eq!(holder.namespace.as_deref(), Some("b"));
        assert_eq!(activity.username.as_deref(), Some("u"));
        assert_eq!(activity.days_before(at(NOV_29 + 86_400 * 2 + 5)), 2);
        assert_eq!(latest([&broken]), None);
    }

    #[test]
    fn a_record_is_due_once_a_day_or_when_the_user_name_is_new() {
        let today = Activity {
            at: NOV_29 as i64,
            username: Some("adfs_jane".into()),
        };
        assert!(!record_due(Some(&today), at(NOV_29 + 3600), "adfs_jane"));
        assert!(record_due(Some(&today), at(NOV_29 + 86_400), "adfs_jane"));
        assert!(record_due(Some(&today), at(NOV_29 + 60), "adfs_other"));
        assert!(record_due(None, at(NOV_29), "adfs_jane"));
    }

    #[test]
    fn the_record_goes_on_the_kept_holder_then_a_role_binding_then_the_profile_then_a_create() {
        let now = at(NOV_29);
        let holder = binding("z", record_annotations(at(NOV_29 - 86_400), Some("u")));
        let plain = binding("a", json!({}));
        let profile = Object::new(
            Kind::Profile,
            None,
            "profile-u",
            json!({"metadata": {"name": "profile-u"}}),
        );
        let persons = [&plain, &holder, &profile];
        let Record::Annotate(annotate) = place_record(&persons, |_| true, &[], now, "u") else {
            panic!("expected a record on the holder")
        };
        assert_eq!(annotate.target.namespace.as_deref(), Some("z"));
        assert_eq!(
            annotate.patch,
            json!({"metadata": {"resourceVersion": "7", "annotations": {
                LAST_ACTIVITY_ANNOTATION: "2026-11-29T02:27:30Z", USERNAME_ANNOTATION: "u"}}})
        );
        // A record held by the Profile moves to a RoleBinding once there is one.
        let on_profile = Object {
            body: json!({"metadata": {"name": "profile-u", "annotations":
                record_annotations(at(NOV_29 - 86_400), Some("u"))}}),
            ..profile.clone()
        };
        let Record::Annotate(annotate) =
            place_record(&[&plain, &on_profile], |_| true, &[], now, "u")
        else {
            panic!("expected a record on the binding")
        };
        assert_eq!(annotate.target.namespace.as_deref(), Some("a"));
        let not_z = |o: &Object| o.namespace.as_deref() != Some("z");
        let Record::Annotate(annotate) = place_record(&persons, not_z, &[], now, "u") else {
            panic!("expected a record on a kept binding")
        };
        assert_eq!(annotate.target.namespace.as_deref(), Some("a"));
        let only_profile = |o: &Object| o.kind == Kind::Profile;
        let Record::Annotate(annotate) = place_record(&persons, only_profile, &[], now, "u") else {
            panic!("expected a record on the Profile")
        };
        assert_eq!(annotate.target.name, "profile-u");
        let created = [vec![], vec![plain.clone()]];
        let created: Vec<&[Object]> = created.iter().map(Vec::as_slice).collect();
        assert_eq!(
            place_record(&[], |_| true, &created, now, "u"),
            Record::OnCreate {
                group: 1,
                binding: 0
            }
        );
        assert_eq!(place_record(&[], |_| true, &[], now, "u"), Record::None);
        let today = binding("a", record_annotations(now, Some("u")));
        assert_eq!(
            place_record(&[&today], |_| true, &created, now, "u"),
            Record::None
        );
    }
}
