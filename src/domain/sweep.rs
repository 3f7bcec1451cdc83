//! The offboarding sweep's decisions: who the function manages access for, in which order they
//! are checked, and what becomes of each. Pure.
//!
//! A person is *managed* when the cluster holds objects this function made for them: contributor
//! bindings (RoleBindings and their Istio twins) in group Profiles' namespaces, or a personal
//! Profile. Their access (the bindings, never a Profile or a namespace) is revoked when the user
//! pool no longer has them, has them disabled, or has another person under their user name; or
//! when their last recorded activity is older than `INACTIVE_DAYS`. A person with no record yet
//! is stamped, never revoked, on first sight.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::activity::{Activity, SWEEP_RESUME_ANNOTATION, latest, parse_rfc3339, user_key};
use crate::domain::metrics::{COUNT, MILLISECONDS, emf_document};
use crate::domain::objects::{Kind, Object};
use crate::domain::plan::profile_owner;

/// The objects this function made for one person.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedUser {
    /// Their user label: the Cognito `sub` (or an earlier version's email hash).
    pub key: String,
    /// Their contributor bindings (RoleBindings first, then Istio twins) in group namespaces.
    pub bindings: Vec<Object>,
    /// Their personal Profile(s).
    pub profiles: Vec<Object>,
}

impl ManagedUser {
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.bindings.iter().chain(&self.profiles)
    }

    /// The latest recorded activity and the object holding it.
    pub fn activity(&self) -> Option<(Activity, &Object)> {
        latest(self.objects())
    }

    /// The email the person's bindings name (KFAM's `user` annotation), else the owner of their
    /// personal Profile.
    pub fn email(&self) -> Option<&str> {
        self.bindings
            .iter()
            .find_map(|b| b.meta("annotations", "user"))
            .or_else(|| self.profiles.iter().find_map(profile_owner))
    }

    /// When an interrupted sweep marked this person as where the next one starts.
    pub fn resume_mark(&self) -> Option<i64> {
        self.objects()
            .filter_map(|o| parse_rfc3339(o.meta("annotations", SWEEP_RESUME_ANNOTATION)?))
            .max()
    }

    /// The object a sweep annotates for this person: the activity holder, else their first
    /// RoleBinding, else their first object.
    pub fn anchor(&self) -> Option<&Object> {
        self.activity()
            .map(|(_, o)| o)
            .or_else(|| self.bindings.iter().find(|b| b.kind == Kind::RoleBinding))
            .or_else(|| self.objects().next())
    }
}

/// Groups the managed objects by person. `bindings` are this function's bindings (any kind,
/// anywhere): only those labelled with a person, in namespaces of Profiles owned by
/// `group_owner`, count. `profiles` are every Profile: those labelled with a person are personal
/// Profiles. People come in the order of their key.
pub fn managed_users(
    bindings: Vec<Object>,
    profiles: &[Object],
    group_owner: &str,
) -> Vec<ManagedUser> {
    let territory: BTreeSet<&str> = profiles
        .iter()
        .filter(|p| profile_owner(p) == Some(group_owner))
        .map(|p| p.name.as_str())
        .collect();
    let mut grouped: BTreeMap<String, (Vec<Object>, Vec<Object>)> = BTreeMap::new();
    for binding in bindings {
        let in_territory = binding
            .namespace
            .as_deref()
            .is_some_and(|ns| territory.contains(ns));
        if let (true, true, Some(key)) = (binding.is_managed(), in_territory, user_key(&binding)) {
            grouped.entry(key.to_owned()).or_default().0.push(binding);
        }
    }
    for profile in profiles.iter().filter(|p| p.is_managed()) {
        if let Some(key) = user_key(profile) {
            grouped
                .entry(key.to_owned())
                .or_default()
                .1
                .push(profile.clone());
        }
    }
    grouped
        .into_iter()
        .map(|(key, (mut bindings, profiles))| {
            bindings.sort_by_key(|b| (b.kind, b.namespace.clone(), b.name.clone()));
            ManagedUser {
                key,
                bindings,
                profiles,
            }
        })
        .collect()
}

/// The order a sweep checks `users` in (indices): by key, starting at the person the latest
/// interrupted sweep marked, so that every person is checked within a few runs even when no run
/// gets through them all.
pub fn sweep_order(users: &[ManagedUser]) -> Vec<usize> {
    let start = users
        .iter()
        .enumerate()
        .filter_map(|(index, user)| user.resume_mark().map(|mark| (mark, index)))
        .max()
        .map_or(0, |(_, index)| index);
    (start..users.len()).chain(0..start).collect()
}

/// What the user pool says of a person's user name (`AdminGetUser`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolUser {
    /// No such user (`UserNotFoundException`).
    Missing,
    Found {
        enabled: bool,
        sub: Option<String>,
    },
}

/// Why access is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The user no longer exists in the pool.
    Deleted,
    Disabled,
    /// The user name now belongs to another person (deleted and made again).
    Replaced,
    /// No activity for longer than `INACTIVE_DAYS`.
    Inactive,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Deleted => "deleted from the user pool",
            Reason::Disabled => "disabled in the user pool",
            Reason::Replaced => "their user name belongs to another person now",
            Reason::Inactive => "inactive longer than INACTIVE_DAYS",
        })
    }
}

/// What becomes of one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No activity recorded yet: stamped now, never revoked on first sight.
    Stamp,
    /// Their user pool record decides: ask it for this user name.
    AskPool(String),
    Keep,
    Revoke(Reason),
}

/// The first look at a person, before the user pool is asked: stamp the unrecorded, revoke the
/// inactive (`inactive_days` > 0), keep those with nothing to revoke or no known user name.
pub fn first_look(user: &ManagedUser, now: SystemTime, inactive_days: u32) -> Verdict {
    let Some((activity, _)) = user.activity() else {
        return Verdict::Stamp;
    };
    if user.bindings.is_empty() {
        return Verdict::Keep;
    }
    if inactive_days > 0 && activity.days_before(now) >= i64::from(inactive_days) {
        return Verdict::Revoke(Reason::Inactive);
    }
    match activity.username {
        Some(username) => Verdict::AskPool(username),
        None => Verdict::Keep,
    }
}

/// The verdict on a person whose user pool record is `answer`.
pub fn judge(user: &ManagedUser, answer: &PoolUser) -> Verdict {
    match answer {
        PoolUser::Missing => Verdict::Revoke(Reason::Deleted),
        PoolUser::Found { enabled: false, .. } => Verdict::Revoke(Reason::Disabled),
        PoolUser::Found { sub: Some(sub), .. } if *sub != user.key => {
            Verdict::Revoke(Reason::Replaced)
        }
        PoolUser::Found { .. } => Verdict::Keep,
    }
}

/// The bindings a revocation deletes, the activity holder first: deleted only while it is the
/// version read, so a sign-in that lands meanwhile (and records its activity there) stops the
/// revocation of an inactive person.
pub fn revocation_order(user: &ManagedUser) -> Vec<&Object> {
    let holder = user.activity().map(|(_, o)| o.describe());
    let mut order: Vec<&Object> = user.bindings.iter().collect();
    order.sort_by_key(|o| Some(o.describe()) != holder);
    order
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepSummary {
    /// People with access managed by this function.
    pub users: usize,
    /// People checked this run.
    pub checked: usize,
    /// People stamped on first sight.
    pub stamped: usize,
    pub kept: usize,
    pub revoked_deleted: usize,
    pub revoked_disabled: usize,
    pub revoked_replaced: usize,
    pub revoked_inactive: usize,
    /// Bindings deleted (or, in a dry run, that would be).
    pub bindings_deleted: usize,
    /// Contributor policies of the people kept brought to their namespace's mesh mode (or, in a
    /// dry run, that would be): the namespace was switched between sidecar and ambient.
    pub policies_reshaped: usize,
    /// People left for the next run: the user pool throttled past retries, a write failed, a
    /// sign-in changed their objects meanwhile, or the run's time was up.
    pub left_for_next_run: usize,
    /// True when every person was checked.
    pub finished: bool,
    pub dry_run: bool,
    pub inactive_days: u32,
    pub duration_ms: u64,
    pub kubernetes_requests: u32,
    /// `AdminGetUser` calls (the SDK's retries of a throttled call not counted).
    pub cognito_requests: u32,
}

impl SweepSummary {
    pub fn record_revocation(&mut self, reason: Reason) {
        match reason {
            Reason::Deleted => self.revoked_deleted += 1,
            Reason::Disabled => self.revoked_disabled += 1,
            Reason::Replaced => self.revoked_replaced += 1,
            Reason::Inactive => self.revoked_inactive += 1,
        }
    }

    pub fn revoked(&self) -> usize {
        self.revoked_deleted + self.revoked_disabled + self.revoked_replaced + self.revoked_inactive
    }

    pub fn set_duration(&mut self, duration: Duration) {
        self.duration_ms = duration.as_millis() as u64;
    }

    /// Adds another cluster's sweep to this one.
    pub fn add(&mut self, other: &SweepSummary) {
        self.users += other.users;
        self.checked += other.checked;
        self.stamped += other.stamped;
        self.kept += other.kept;
        self.revoked_deleted += other.revoked_deleted;
        self.revoked_disabled += other.revoked_disabled;
        self.revoked_replaced += other.revoked_replaced;
        self.revoked_inactive += other.revoked_inactive;
        self.bindings_deleted += other.bindings_deleted;
        self.policies_reshaped += other.policies_reshaped;
        self.left_for_next_run += other.left_for_next_run;
        self.kubernetes_requests += other.kubernetes_requests;
        self.cognito_requests += other.cognito_requests;
        self.finished &= other.finished;
        self.dry_run = other.dry_run;
        self.inactive_days = other.inactive_days;
        self.duration_ms = self.duration_ms.max(other.duration_ms);
    }

    /// The EMF document of the sweep of `cluster` at `now`: its counts as metrics in the
    /// function's namespace, over every cluster and per `Cluster`.
    pub fn emf(&self, cluster: &str, now: SystemTime) -> Value {
        emf_document(
            cluster,
            now,
            &[
                ("SweepUsers", COUNT, json!(self.users)),
                ("SweepRevoked", COUNT, json!(self.revoked())),
                ("SweepStamped", COUNT, json!(self.stamped)),
                ("SweepLeftForNextRun", COUNT, json!(self.left_for_next_run)),
                ("SweepDurationMs", MILLISECONDS, json!(self.duration_ms)),
            ],
        )
    }
}

/// What a sweep answers: the counts over every cluster, then each cluster's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepAnswer {
    #[serde(flatten)]
    pub total: SweepSummary,
    pub clusters: Vec<ClusterSweep>,
}

impl Default for SweepAnswer {
    fn default() -> Self {
        SweepAnswer {
            total: SweepSummary {
                finished: true,
                ..SweepSummary::default()
            },
            clusters: Vec::new(),
        }
    }
}

impl SweepAnswer {
    /// Adds the sweep of `cluster`.
    pub fn add(&mut self, cluster: String, summary: SweepSummary) {
        self.total.add(&summary);
        self.clusters.push(ClusterSweep { cluster, summary });
    }
}

/// One cluster's sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSweep {
    pub cluster: String,
    #[serde(flatten)]
    pub summary: SweepSummary,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::{LAST_ACTIVITY_ANNOTATION, USERNAME_ANNOTATION, rfc3339};
    use crate::domain::objects::{MANAGED_BY_LABEL, MANAGER, USER_LABEL};

    const DAY: u64 = 86_400;
    const NOW: u64 = 1_795_919_250;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn profile(name: &str, owner: &str, labels: Value) -> Object {
        Object::new(
            Kind::Profile,
            None,
            name,
            json!({"metadata": {"name": name, "labels": labels}, "spec": {"owner": {"name": owner}}}),
        )
    }

    fn binding(kind: Kind, namespace: &str, key: &str, annotations: Value) -> Object {
        Object::new(
            kind,
            Some(namespace),
            "user-jane",
            json!({"metadata": {"name": "user-jane", "namespace": namespace, "resourceVersion": "3",
                "labels": {MANAGED_BY_LABEL: MANAGER, USER_LABEL: key},
                "annotations": annotations}}),
        )
    }

    fn seen(days_ago: u64, username: &str) -> Value {
        json!({"user": "jane@corp.example",
               LAST_ACTIVITY_ANNOTATION: rfc3339((NOW - days_ago * DAY) as i64),
               USERNAME_ANNOTATION: username})
    }

    fn cluster_profiles() -> Vec<Object> {
        vec![
            profile("ml", "admin@kubeflow.com", json!({})),
            profile("team-a", "alice@corp.example", json!({})),
            profile(
                "profile-jane",
                "jane@corp.example",
                json!({MANAGED_BY_LABEL: MANAGER, USER_LABEL: "sub-j"}),
            ),
        ]
    }

    #[test]
    fn people_are_their_labelled_objects_in_group_namespaces_and_their_personal_profile() {
        let bindings = vec![
            binding(Kind::AuthorizationPolicy, "ml", "sub-j", json!({})),
            binding(Kind::RoleBinding, "ml", "sub-j", seen(1, "adfs_jane")),
            // Outside group Profiles' namespaces: a look-alike, never the person's.
            binding(Kind::RoleBinding, "team-a", "sub-j", json!({})),
            binding(Kind::RoleBinding, "ml", "sub-b", json!({})),
        ];
        let users = managed_users(bindings, &cluster_profiles(), "admin@kubeflow.com");
        let keys: Vec<&str> = users.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, ["sub-b", "sub-j"]);
        let jane = &users[1];
        let described: Vec<String> = jane.objects().map(Object::describe).collect();
        assert_eq!(
            described,
            [
                "RoleBinding ml/user-jane",
                "AuthorizationPolicy ml/user-jane",
                "Profile profile-jane"
            ]
        );
        assert_eq!(jane.email(), Some("jane@corp.example"));
        assert_eq!(
            jane.activity().unwrap().0.username.as_deref(),
            Some("adfs_jane")
        );
    }

    #[test]
    fn the_unrecorded_are_stamped_the_inactive_revoked_the_rest_asked_about() {
        let user = |annotations: Value| ManagedUser {
            key: "sub-j".into(),
            bindings: vec![binding(Kind::RoleBinding, "ml", "sub-j", annotations)],
            profiles: Vec::new(),
        };
        let now = at(NOW);
        assert_eq!(first_look(&user(json!({})), now, 90), Verdict::Stamp);
        assert_eq!(
            first_look(&user(seen(90, "adfs_jane")), now, 90),
            Verdict::Revoke(Reason::Inactive)
        );
        assert_eq!(
            first_look(&user(seen(89, "adfs_jane")), now, 90),
            Verdict::AskPool("adfs_jane".into())
        );
        // 0: inactivity never revokes.
        assert_eq!(
            first_look(&user(seen(900, "adfs_jane")), now, 0),
            Verdict::AskPool("adfs_jane".into())
        );
        let stamped_by_a_sweep = json!({LAST_ACTIVITY_ANNOTATION: rfc3339(NOW as i64)});
        assert_eq!(
            first_look(&user(stamped_by_a_sweep), now, 90),
            Verdict::Keep
        );
        let profile_only = ManagedUser {
            key: "sub-j".into(),
            bindings: Vec::new(),
            profiles: vec![profile(
                "profile-jane",
                "jane@corp.example",
                json!({LAST_ACTIVITY_ANNOTATION: rfc3339((NOW - 900 * DAY) as i64)}),
            )],
        };
        assert_eq!(first_look(&profile_only, now, 90), Verdict::Stamp);
    }

    #[test]
    fn the_pool_decides_deleted_disabled_and_replaced_users() {
        let user = ManagedUser {
            key: "sub-j".into(),
            bindings: Vec::new(),
            profiles: Vec::new(),
        };
        let found = |enabled, sub: &str| PoolUser::Found {
            enabled,
            sub: Some(sub.into()),
        };
        assert_eq!(
            judge(&user, &PoolUser::Missing),
            Verdict::Revoke(Reason::Deleted)
        );
        assert_eq!(
            judge(&user, &found(false, "sub-j")),
            Verdict::Revoke(Reason::Disabled)
        );
        assert_eq!(
            judge(&user, &found(true, "sub-other")),
            Verdict::Revoke(Reason::Replaced)
        );
        assert_eq!(judge(&user, &found(true, "sub-j")), Verdict::Keep);
    }

    #[test]
    fn a_sweep_starts_where_the_latest_interrupted_one_stopped() {
        let marked = |key: &str, mark: Option<u64>| {
            let annotations = match mark {
                Some(m) => json!({SWEEP_RESUME_ANNOTATION: rfc3339(m as i64)}),
                None => json!({}),
            };
            ManagedUser {
                key: key.into(),
                bindings: vec![binding(Kind::RoleBinding, "ml", key, annotations)],
                profiles: Vec::new(),
            }
        };
        let users = vec![
            marked("a", None),
            marked("b", Some(NOW - DAY)),
            marked("c", Some(NOW)),
            marked("d", None),
        ];
        assert_eq!(sweep_order(&users), [2, 3, 0, 1]);
        assert_eq!(sweep_order(&users[..2]), [1, 0]);
        assert_eq!(sweep_order(&[]), Vec::<usize>::new());
    }

    #[test]
    fn a_revocation_deletes_the_activity_holder_first() {
        let user = ManagedUser {
            key: "sub-j".into(),
            bindings: vec![
                binding(Kind::RoleBinding, "a", "sub-j", json!({})),
                binding(Kind::RoleBinding, "b", "sub-j", seen(100, "u")),
                binding(Kind::AuthorizationPolicy, "a", "sub-j", json!({})),
            ],
            profiles: Vec::new(),
        };
        let order: Vec<String> = revocation_order(&user)
            .iter()
            .map(|o| o.describe())
            .collect();
        assert_eq!(
            order,
            [
                "RoleBinding b/user-jane",
                "RoleBinding a/user-jane",
                "AuthorizationPolicy a/user-jane"
            ]
        );
    }

    #[test]
    fn the_emf_line_counts_every_revocation() {
        let mut summary = SweepSummary::default();
        summary.record_revocation(Reason::Deleted);
        summary.record_revocation(Reason::Inactive);
        let emf = summary.emf("kf", at(NOW));
        assert_eq!(emf["Cluster"], "kf");
        assert_eq!(emf["SweepRevoked"], 2);
        let names: Vec<&str> = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for name in &names {
            assert!(emf.get(*name).is_some(), "{name} has no value");
        }
    }

    #[test]
    fn the_answer_adds_the_clusters_up_and_is_finished_only_if_every_one_is() {
        let mut answer = SweepAnswer::default();
        let one = SweepSummary {
            users: 3,
            revoked_deleted: 1,
            finished: true,
            duration_ms: 40,
            ..SweepSummary::default()
        };
        let other = SweepSummary {
            users: 2,
            left_for_next_run: 1,
            finished: false,
            duration_ms: 70,
            ..SweepSummary::default()
        };
        answer.add("kf".into(), one);
        assert!(answer.total.finished);
        answer.add("us-west-2/dr".into(), other);
        assert_eq!(answer.total.users, 5);
        assert_eq!(answer.total.revoked(), 1);
        assert!(!answer.total.finished);
        assert_eq!(answer.total.duration_ms, 70);
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["users"], 5);
        assert_eq!(json["clusters"][1]["cluster"], "us-west-2/dr");
        assert_eq!(json["clusters"][1]["leftForNextRun"], 1);
    }
}
