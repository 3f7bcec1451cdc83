//! The access report: every RoleBinding of the group Profiles' namespaces (who, which role as
//! RBAC enforces it, whether this function manages it and its Istio twin is there, since when,
//! last activity, the team's AWS role and quota), and the personal Profiles of people inactive longer than `INACTIVE_DAYS`, as
//! JSON or CSV, a page at a time. Pure.
//!
//! A page holds at most `limit` rows and [`MAX_ANSWER_BYTES`] of them, whatever the cluster
//! holds, so the answer stays under Lambda's 6 MB; `next` says where the following page starts.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::domain::model::activity::{Activity, rfc3339, seconds};
use crate::domain::model::objects::Object;
pub use crate::domain::offboarding::team_setup::TeamSetup;

/// Rows a page holds unless the request says otherwise, and the most it may ask for.
pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 5000;
/// The most a page's rows weigh (as JSON): Lambda answers at most 6 MB.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The access report's request: filters, the page, and the form of the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportRequest {
    /// Only this person: an email (any case) among a binding's subjects, or a Cognito `sub`.
    pub user: Option<String>,
    /// Only this namespace (for the inactive personal Profiles: this Profile).
    pub namespace: Option<String>,
    #[serde(default)]
    pub format: ReportFormat,
    /// Where this page starts: the `next` of the previous page.
    pub after: Option<String>,
    /// Rows per page (at most [`MAX_LIMIT`]).
    pub limit: Option<usize>,
}

impl ReportRequest {
    /// The page size asked for, within bounds.
    pub fn page_size(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    /// Where the page starts, when the request says (a cursor this report wrote).
    pub fn start(&self) -> Result<Option<Cursor>, String> {
        self.after.as_deref().map(Cursor::parse).transpose()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
}

/// A row's place in the report: accesses before inactive Profiles, clusters in `CLUSTER_NAME`'s
/// order, then `namespace/name` byte by byte: the API server's own list order, that of its
/// storage keys `/registry/<resource>/<namespace>/<name>` (k8s.io/apiserver v0.34.0
/// `pkg/storage/etcd3/store.go` `GetList`, `pkg/storage/cacher/store_btree.go`), in which
/// `team-a/x` comes before `team/y`. A page ends where the list's order says it does, so the
/// next one starts where the list left off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub section: Section,
    pub cluster: usize,
    pub namespace: String,
    pub name: String,
}

impl Cursor {
    /// `namespace/name`, as in the storage key.
    fn key(&self) -> impl Iterator<Item = u8> + '_ {
        self.namespace
            .bytes()
            .chain(std::iter::once(b'/'))
            .chain(self.name.bytes())
    }
}

impl Ord for Cursor {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.section, self.cluster)
            .cmp(&(other.section, other.cluster))
            .then_with(|| self.key().cmp(other.key()))
    }
}

impl PartialOrd for Cursor {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Accesses,
    InactiveProfiles,
}

impl Cursor {
    pub fn parse(text: &str) -> Result<Cursor, String> {
        let bad = || format!("after: {text:?} is not a page this report gave (its `next`)");
        let mut parts = text.splitn(4, '|');
        let section = match parts.next() {
            Some("a") => Section::Accesses,
            Some("p") => Section::InactiveProfiles,
            _ => return Err(bad()),
        };
        let cluster = parts.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        let namespace = parts.next().ok_or_else(bad)?.to_owned();
        let name = parts.next().ok_or_else(bad)?.to_owned();
        Ok(Cursor {
            section,
            cluster,
            namespace,
            name,
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let section = match self.section {
            Section::Accesses => "a",
            Section::InactiveProfiles => "p",
        };
        write!(
            f,
            "{section}|{}|{}|{}",
            self.cluster, self.namespace, self.name
        )
    }
}

/// One RoleBinding of a group namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    /// `name` or `region/name`, as `CLUSTER_NAME` gives it.
    pub cluster: String,
    pub namespace: String,
    pub binding: String,
    /// Its subjects: users by name, others as `Group:name` or `ServiceAccount:namespace/name`.
    pub subjects: Vec<String>,
    /// Subjects beyond the first ones kept.
    pub subjects_omitted: usize,
    /// The role RBAC enforces (its `roleRef`): `edit`, `view`, `admin` for Kubeflow's
    /// ClusterRoles, else `ClusterRole/<name>` or `Role/<name>`. Never KFAM's `role`
    /// annotation, which a namespace admin can rewrite.
    pub role: String,
    /// Made and managed by this function (revoked when the person leaves).
    pub managed: bool,
    /// The person's Cognito `sub` (managed bindings).
    pub sub: Option<String>,
    /// Whether its Istio twin is there (managed bindings).
    pub istio_twin: Option<bool>,
    /// When the RoleBinding was made (its `creationTimestamp`).
    pub granted_since: Option<String>,
    /// The person's last recorded activity (managed bindings).
    pub last_activity: Option<String>,
    /// The namespace's AWS role, as its Profile records it (`TEAM_ROLE_ARN`).
    pub team_role: Option<String>,
    /// The namespace's quota (its Profile's `resourceQuotaSpec`, as JSON).
    pub team_quota: Option<String>,
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
    /// Where the next page starts (`after`), when there is more.
    pub next: Option<String>,
    /// Objects read for this page but left out of it: not an object of its kind (never from a
    /// real API server, which validates what it stores). A binding however large is listed,
    /// its values cut at 1,024 characters and its subjects after 16.
    pub omitted_unreadable: usize,
}

/// The role a RoleBinding gives, from its `roleRef`.
pub fn role_ref_name(binding: &Object) -> String {
    let kind = binding
        .body
        .pointer("/roleRef/kind")
        .and_then(|k| k.as_str());
    let name = binding
        .body
        .pointer("/roleRef/name")
        .and_then(|n| n.as_str())
        .unwrap_or_default();
    match (kind, name.strip_prefix("kubeflow-")) {
        (Some("ClusterRole"), Some(role @ ("admin" | "edit" | "view"))) => role.to_owned(),
        (kind, _) => format!("{}/{name}", kind.unwrap_or("?")),
    }
}

/// A binding's subjects as the report writes them.
pub fn subjects_of(binding: &Object) -> Vec<String> {
    let subjects = binding.body.get("subjects").and_then(|s| s.as_array());
    subjects
        .into_iter()
        .flatten()
        .map(|subject| {
            let text = |key: &str| subject.get(key).and_then(|v| v.as_str()).unwrap_or("");
            match text("kind") {
                "User" => text("name").to_owned(),
                "ServiceAccount" => {
                    format!("ServiceAccount:{}/{}", text("namespace"), text("name"))
                }
                kind => format!("{kind}:{}", text("name")),
            }
        })
        .collect()
}

/// The row of `binding` on `cluster`: `managed` with the person's key, whether their twin is
/// there and their last activity.
pub fn access_row(
    cluster: &str,
    binding: &Object,
    team: Option<&TeamSetup>,
    managed: Option<(&str, bool, Option<Activity>)>,
) -> Access {
    Access {
        cluster: cluster.to_owned(),
        namespace: binding.namespace.clone().unwrap_or_default(),
        binding: binding.name.clone(),
        subjects: subjects_of(binding),
        subjects_omitted: binding
            .body
            .get("subjectsOmitted")
            .and_then(|n| n.as_u64())
            .unwrap_or(0) as usize,
        role: role_ref_name(binding),
        managed: managed.is_some(),
        sub: managed.map(|(key, _, _)| key.to_owned()),
        istio_twin: managed.map(|(_, twin, _)| twin),
        granted_since: binding
            .body
            .pointer("/metadata/creationTimestamp")
            .and_then(|t| t.as_str())
            .map(str::to_owned),
        last_activity: managed.and_then(|(_, _, activity)| activity.map(|a| a.timestamp())),
        team_role: team.and_then(|t| t.aws_role.clone()),
        team_quota: team.and_then(|t| t.quota.clone()),
    }
}

/// Whether `request`'s person filter admits a binding with these subjects and key.
pub fn admits_person(request: &ReportRequest, subjects: &[String], key: Option<&str>) -> bool {
    match &request.user {
        None => true,
        Some(wanted) => {
            key == Some(wanted.as_str()) || subjects.iter().any(|s| s.eq_ignore_ascii_case(wanted))
        }
    }
}

/// The row of a personal Profile whose owner was last seen `activity`, if that is longer ago
/// than `inactive_days` (never when 0).
pub fn inactive_row(
    cluster: &str,
    profile: &str,
    owner: &str,
    key: &str,
    activity: Activity,
    now: SystemTime,
    inactive_days: u32,
) -> Option<InactiveProfile> {
    let days = activity.days_before(now);
    (inactive_days > 0 && days >= i64::from(inactive_days)).then(|| InactiveProfile {
        cluster: cluster.to_owned(),
        profile: profile.to_owned(),
        owner: owner.to_owned(),
        sub: key.to_owned(),
        last_activity: activity.timestamp(),
        days_inactive: days,
    })
}

/// A page being filled: rows after the request's start, until `limit` rows or
/// [`MAX_ANSWER_BYTES`]; once a row does not fit, `next` is the place of the last one that did.
#[derive(Debug)]
pub struct Page {
    start: Option<Cursor>,
    /// The place of the last row added: the next page starts after it.
    last: Option<Cursor>,
    limit: usize,
    bytes: usize,
    report: AccessReport,
}

impl Page {
    pub fn new(
        request: &ReportRequest,
        now: SystemTime,
        inactive_days: u32,
    ) -> Result<Self, String> {
        Ok(Page {
            start: request.start()?,
            last: None,
            limit: request.page_size(),
            bytes: 0,
            report: AccessReport {
                generated_at: rfc3339(seconds(now)),
                inactive_days,
                accesses: Vec::new(),
                inactive_personal_profiles: Vec::new(),
                next: None,
                omitted_unreadable: 0,
            },
        })
    }

    /// Whether rows at `cursor` belong on this page (after its start); false once it is full.
    pub fn wants(&self, cursor: &Cursor) -> bool {
        self.report.next.is_none() && self.start.as_ref().is_none_or(|start| cursor > start)
    }

    /// True once a row did not fit.
    pub fn is_full(&self) -> bool {
        self.report.next.is_some()
    }

    /// Adds an access at `cursor`; false when the page is full.
    pub fn add_access(&mut self, cursor: &Cursor, row: Access) -> bool {
        let fits = self.fits(cursor, &row);
        if fits {
            self.report.accesses.push(row);
        }
        fits
    }

    /// Adds an inactive personal Profile at `cursor`; false when the page is full.
    pub fn add_profile(&mut self, cursor: &Cursor, row: InactiveProfile) -> bool {
        let fits = self.fits(cursor, &row);
        if fits {
            self.report.inactive_personal_profiles.push(row);
        }
        fits
    }

    /// Whether `row` at `cursor` fits the page (counted when it does).
    fn fits(&mut self, cursor: &Cursor, row: &impl Serialize) -> bool {
        let size = serde_json::to_string(row).map_or(0, |t| t.len());
        let rows = self.report.accesses.len() + self.report.inactive_personal_profiles.len();
        if self.is_full() || rows >= self.limit || self.bytes + size > MAX_ANSWER_BYTES {
            // The next page starts after the last row of this one.
            let last = self.last.clone().or_else(|| self.start.clone());
            self.report.next = Some(last.unwrap_or_else(|| cursor.clone()).to_string());
            return false;
        }
        self.bytes += size;
        self.last = Some(cursor.clone());
        true
    }

    /// Counts objects left out as unreadable.
    pub fn omit_unreadable(&mut self, count: usize) {
        self.report.omitted_unreadable += count;
    }

    /// The accesses added so far, for their twins to be filled in.
    pub fn accesses_mut(&mut self) -> &mut [Access] {
        &mut self.report.accesses
    }

    pub fn finish(self) -> AccessReport {
        self.report
    }
}

pub const CSV_HEADER: &str = "kind,cluster,namespace,name,subjects,role,managed,sub,istio_twin,granted_since,last_activity,days_inactive,team_role,team_quota";

impl AccessReport {
    /// One CSV table (RFC 4180): an `access` row per binding, an `inactive-personal-profile`
    /// row per such Profile (its owner is its admin). Fields a spreadsheet would read as a
    /// formula are quoted with a leading apostrophe: the names come from users and the IdP.
    pub fn to_csv(&self) -> String {
        let mut lines = vec![CSV_HEADER.to_owned()];
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        let flag = |value: Option<bool>| value.map(|v| v.to_string()).unwrap_or_default();
        for access in &self.accesses {
            let mut subjects = access.subjects.join(";");
            if access.subjects_omitted > 0 {
                subjects.push_str(&format!(";(+{} more)", access.subjects_omitted));
            }
            lines.push(csv_line(&[
                "access".into(),
                access.cluster.clone(),
                access.namespace.clone(),
                access.binding.clone(),
                subjects,
                access.role.clone(),
                access.managed.to_string(),
                text(&access.sub),
                flag(access.istio_twin),
                text(&access.granted_since),
                text(&access.last_activity),
                String::new(),
                text(&access.team_role),
                text(&access.team_quota),
            ]));
        }
        for profile in &self.inactive_personal_profiles {
            lines.push(csv_line(&[
                "inactive-personal-profile".into(),
                profile.cluster.clone(),
                profile.profile.clone(),
                profile.profile.clone(),
                profile.owner.clone(),
                "admin".into(),
                "true".into(),
                profile.sub.clone(),
                String::new(),
                String::new(),
                profile.last_activity.clone(),
                profile.days_inactive.to_string(),
                String::new(),
                String::new(),
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
mod tests;
