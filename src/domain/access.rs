//! The access report: every access this function manages (who, where, which role, whether its
//! Istio twin is there, since when, last activity) and the personal Profiles of people inactive
//! longer than `INACTIVE_DAYS`, as JSON or CSV. Pure.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::domain::activity::{rfc3339, seconds};
use crate::domain::objects::{Kind, Object};
use crate::domain::plan::profile_owner;
use crate::domain::sweep::ManagedUser;

/// The access report's request: filters, and the form of the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportRequest {
    /// Only this person: their email (any case), Cognito `sub` or Cognito user name.
    pub user: Option<String>,
    /// Only this namespace (for the inactive personal Profiles: this Profile).
    pub namespace: Option<String>,
    #[serde(default)]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
}

/// One person's access to one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    /// `name` or `region/name`, as `CLUSTER_NAME` gives it.
    pub cluster: String,
    pub user: String,
    pub sub: String,
    pub username: Option<String>,
    pub namespace: String,
    /// `edit` or `view` (from the RoleBinding); `None` when only an Istio twin is left.
    pub role: Option<String>,
    pub istio_twin: bool,
    /// When the RoleBinding was made (its `creationTimestamp`).
    pub granted_since: Option<String>,
    pub last_activity: Option<String>,
}

/// A personal Profile of someone inactive longer than `INACTIVE_DAYS`: the sweep leaves it (the
/// profile controller made its owner its admin), so it is listed for a person to decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InactiveProfile {
    pub cluster: String,
    pub profile: String,
    pub owner: String,
    pub sub: String,
    pub username: Option<String>,
    pub last_activity: String,
    pub days_inactive: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessReport {
    pub generated_at: String,
    pub inactive_days: u32,
    pub accesses: Vec<Access>,
    pub inactive_personal_profiles: Vec<InactiveProfile>,
}

/// The report of each cluster's `users` at `now`, filtered as `request` asks.
pub fn access_report(
    clusters: &[(String, Vec<ManagedUser>)],
    request: &ReportRequest,
    now: SystemTime,
    inactive_days: u32,
) -> AccessReport {
    let mut accesses = Vec::new();
    let mut inactive_personal_profiles = Vec::new();
    for (cluster, user) in clusters
        .iter()
        .flat_map(|(cluster, users)| users.iter().map(move |u| (cluster, u)))
    {
        let activity = user.activity().map(|(a, _)| a);
        let username = activity.as_ref().and_then(|a| a.username.clone());
        let last_activity = activity.as_ref().map(|a| a.timestamp());
        let email = user.email().unwrap_or_default().to_owned();
        if let Some(wanted) = &request.user {
            let matches = email.eq_ignore_ascii_case(wanted)
                || user.key == *wanted
                || username.as_deref() == Some(wanted.as_str());
            if !matches {
                continue;
            }
        }
        let mut by_namespace: BTreeMap<&str, Vec<&Object>> = BTreeMap::new();
        for binding in &user.bindings {
            if let Some(namespace) = binding.namespace.as_deref() {
                by_namespace.entry(namespace).or_default().push(binding);
            }
        }
        for (namespace, objects) in by_namespace {
            if request.namespace.as_deref().is_some_and(|n| n != namespace) {
                continue;
            }
            let role_binding = objects.iter().find(|o| o.kind == Kind::RoleBinding);
            accesses.push(Access {
                cluster: cluster.clone(),
                user: email.clone(),
                sub: user.key.clone(),
                username: username.clone(),
                namespace: namespace.to_owned(),
                role: role_binding.and_then(|rb| role_of(rb)),
                istio_twin: objects.iter().any(|o| o.kind != Kind::RoleBinding),
                granted_since: role_binding
                    .and_then(|rb| rb.body.pointer("/metadata/creationTimestamp"))
                    .and_then(|t| t.as_str())
                    .map(str::to_owned),
                last_activity: last_activity.clone(),
            });
        }
        let Some(activity) = activity
            .filter(|a| inactive_days > 0 && a.days_before(now) >= i64::from(inactive_days))
        else {
            continue;
        };
        for profile in &user.profiles {
            if request
                .namespace
                .as_deref()
                .is_some_and(|n| n != profile.name)
            {
                continue;
            }
            inactive_personal_profiles.push(InactiveProfile {
                cluster: cluster.clone(),
                profile: profile.name.clone(),
                owner: profile_owner(profile).unwrap_or_default().to_owned(),
                sub: user.key.clone(),
                username: username.clone(),
                last_activity: activity.timestamp(),
                days_inactive: activity.days_before(now),
            });
        }
    }
    AccessReport {
        generated_at: rfc3339(seconds(now)),
        inactive_days,
        accesses,
        inactive_personal_profiles,
    }
}

/// The role a RoleBinding gives: its ClusterRole (`roleRef`, which RBAC enforces), without the
/// `kubeflow-` prefix. Never KFAM's `role` annotation: a namespace admin can write that one to
/// anything (issue "Nothing a tenant writes steers access", item 7).
fn role_of(binding: &Object) -> Option<String> {
    let role = binding.body.pointer("/roleRef/name")?.as_str()?;
    Some(role.strip_prefix("kubeflow-").unwrap_or(role).to_owned())
}

const CSV_HEADER: &str = "kind,cluster,user,sub,username,namespace,role,istio_twin,granted_since,last_activity,days_inactive";

impl AccessReport {
    /// One CSV table (RFC 4180): an `access` row per access, an `inactive-personal-profile` row
    /// per such Profile (its owner is its admin). Fields a spreadsheet would read as a formula
    /// are quoted with a leading apostrophe: the names come from users and the IdP.
    pub fn to_csv(&self) -> String {
        let mut lines = vec![CSV_HEADER.to_owned()];
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        for access in &self.accesses {
            lines.push(csv_line(&[
                "access".into(),
                access.cluster.clone(),
                access.user.clone(),
                access.sub.clone(),
                text(&access.username),
                access.namespace.clone(),
                text(&access.role),
                access.istio_twin.to_string(),
                text(&access.granted_since),
                text(&access.last_activity),
                String::new(),
            ]));
        }
        for profile in &self.inactive_personal_profiles {
            lines.push(csv_line(&[
                "inactive-personal-profile".into(),
                profile.cluster.clone(),
                profile.owner.clone(),
                profile.sub.clone(),
                text(&profile.username),
                profile.profile.clone(),
                "admin".into(),
                String::new(),
                String::new(),
                profile.last_activity.clone(),
                profile.days_inactive.to_string(),
            ]));
        }
        lines.join("\r\n") + "\r\n"
    }
}

fn csv_line(fields: &[String]) -> String {
    fields
        .iter()
        .map(|field| csv_field(field))
        .collect::<Vec<_>>()
        .join(",")
}

fn csv_field(field: &str) -> String {
    let defused = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::{LAST_ACTIVITY_ANNOTATION, USERNAME_ANNOTATION};
    use serde_json::json;
    use std::time::Duration;

    const NOW: u64 = 1_795_919_250;
    const DAY: u64 = 86_400;

    fn object(kind: Kind, namespace: Option<&str>, name: &str, extra: serde_json::Value) -> Object {
        let mut body = json!({"metadata": {"name": name, "creationTimestamp": "2026-01-02T03:04:05Z",
            "annotations": {"user": "jane@corp.example", "role": "edit"}}});
        if let Some(ns) = namespace {
            body["metadata"]["namespace"] = json!(ns);
        }
        for (key, value) in extra.as_object().unwrap() {
            body["metadata"]["annotations"][key] = value.clone();
        }
        if kind == Kind::RoleBinding {
            body["roleRef"] = json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"});
        }
        Object::new(kind, namespace, name, body)
    }

    fn jane(days_ago: u64) -> ManagedUser {
        let seen = json!({LAST_ACTIVITY_ANNOTATION: rfc3339((NOW - days_ago * DAY) as i64),
                          USERNAME_ANNOTATION: "adfs_jane"});
        let mut profile = object(Kind::Profile, None, "profile-jane", json!({}));
        profile.body["spec"] = json!({"owner": {"kind": "User", "name": "jane@corp.example"}});
        ManagedUser {
            key: "sub-j".into(),
            bindings: vec![
                object(Kind::RoleBinding, Some("ml"), "user-jane", seen),
                object(
                    Kind::AuthorizationPolicy,
                    Some("ml"),
                    "user-jane",
                    json!({}),
                ),
                object(Kind::RoleBinding, Some("nlp"), "user-jane", json!({})),
            ],
            profiles: vec![profile],
        }
    }

    /// `user` on the one cluster `kf`.
    fn one(user: ManagedUser) -> Vec<(String, Vec<ManagedUser>)> {
        vec![("kf".into(), vec![user])]
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn the_role_is_the_one_rbac_enforces_not_the_annotation() {
        let mut user = jane(3);
        // A namespace admin rewrote the annotation; RBAC still gives admin.
        user.bindings[0].body["metadata"]["annotations"]["role"] = json!("view");
        user.bindings[0].body["roleRef"]["name"] = json!("kubeflow-admin");
        let report = access_report(&one(user), &ReportRequest::default(), now(), 90);
        assert_eq!(report.accesses[0].role.as_deref(), Some("admin"));
        assert_eq!(report.accesses[1].role.as_deref(), Some("edit"));
    }

    #[test]
    fn every_access_is_listed_with_its_role_twin_and_dates() {
        let report = access_report(&one(jane(3)), &ReportRequest::default(), now(), 90);
        assert_eq!(report.accesses.len(), 2);
        let ml = &report.accesses[0];
        assert_eq!(
            (ml.namespace.as_str(), ml.role.as_deref(), ml.istio_twin),
            ("ml", Some("edit"), true)
        );
        assert_eq!(ml.granted_since.as_deref(), Some("2026-01-02T03:04:05Z"));
        assert_eq!(ml.username.as_deref(), Some("adfs_jane"));
        assert_eq!(ml.last_activity.as_deref(), Some("2026-11-26T02:27:30Z"));
        assert!(!report.accesses[1].istio_twin);
        assert!(report.inactive_personal_profiles.is_empty());
    }

    #[test]
    fn the_personal_profiles_of_the_inactive_are_listed_unless_inactivity_is_off() {
        let report = access_report(&one(jane(120)), &ReportRequest::default(), now(), 90);
        assert_eq!(report.inactive_personal_profiles.len(), 1);
        assert_eq!(report.inactive_personal_profiles[0].days_inactive, 120);
        assert_eq!(
            report.inactive_personal_profiles[0].owner,
            "jane@corp.example"
        );
        let off = access_report(&one(jane(120)), &ReportRequest::default(), now(), 0);
        assert!(off.inactive_personal_profiles.is_empty());
    }

    #[test]
    fn every_cluster_is_reported_with_its_name() {
        let clusters = vec![
            ("kf".to_owned(), vec![jane(3)]),
            ("us-west-2/kf-dr".to_owned(), vec![jane(3)]),
        ];
        let report = access_report(&clusters, &ReportRequest::default(), now(), 90);
        let places: Vec<(&str, &str)> = report
            .accesses
            .iter()
            .map(|a| (a.cluster.as_str(), a.namespace.as_str()))
            .collect();
        assert_eq!(
            places,
            [
                ("kf", "ml"),
                ("kf", "nlp"),
                ("us-west-2/kf-dr", "ml"),
                ("us-west-2/kf-dr", "nlp")
            ]
        );
    }

    #[test]
    fn filters_pick_a_person_by_email_sub_or_user_name_and_a_namespace() {
        for who in ["JANE@corp.example", "sub-j", "adfs_jane"] {
            let request = ReportRequest {
                user: Some(who.into()),
                ..ReportRequest::default()
            };
            assert_eq!(
                access_report(&one(jane(1)), &request, now(), 90)
                    .accesses
                    .len(),
                2
            );
        }
        let nobody = ReportRequest {
            user: Some("bob@corp.example".into()),
            ..ReportRequest::default()
        };
        assert!(
            access_report(&one(jane(1)), &nobody, now(), 90)
                .accesses
                .is_empty()
        );
        let nlp = ReportRequest {
            namespace: Some("nlp".into()),
            ..ReportRequest::default()
        };
        let report = access_report(&one(jane(1)), &nlp, now(), 90);
        assert_eq!(report.accesses.len(), 1);
        assert_eq!(report.accesses[0].namespace, "nlp");
    }

    #[test]
    fn csv_is_one_table_quoted_and_safe_in_a_spreadsheet() {
        let mut report = access_report(&one(jane(120)), &ReportRequest::default(), now(), 90);
        report.accesses[1].user = "=HYPERLINK(\"x\"),y".into();
        let csv = report.to_csv();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(
            lines[1],
            "access,kf,jane@corp.example,sub-j,adfs_jane,ml,edit,true,2026-01-02T03:04:05Z,2026-08-01T02:27:30Z,"
        );
        assert!(
            lines[2].starts_with("access,kf,\"'=HYPERLINK(\"\"x\"\"),y\",sub-j,"),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines[3],
            "inactive-personal-profile,kf,jane@corp.example,sub-j,adfs_jane,profile-jane,admin,,,2026-08-01T02:27:30Z,120"
        );
        assert_eq!(lines.len(), 5, "a line break ends the last row");
    }
}
