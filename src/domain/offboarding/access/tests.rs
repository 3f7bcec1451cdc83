//! The unit tests of `access`. Pure.

use super::*;
use crate::domain::model::objects::Kind;
use serde_json::json;
use std::time::Duration;

const NOW: u64 = 1_795_919_250;
const DAY: i64 = 86_400;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
}

fn binding(namespace: &str, name: &str, role: &str, subjects: serde_json::Value) -> Object {
    Object::new(
        Kind::RoleBinding,
        Some(namespace),
        name,
        json!({"metadata": {"name": name, "namespace": namespace,
                            "creationTimestamp": "2026-01-02T03:04:05Z",
                            "annotations": {"role": "view"}},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": subjects}),
    )
}

fn user(name: &str) -> serde_json::Value {
    json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}])
}

fn cursor(namespace: &str, name: &str) -> Cursor {
    Cursor {
        section: Section::Accesses,
        cluster: 0,
        namespace: namespace.into(),
        name: name.into(),
    }
}

#[test]
fn the_role_is_the_one_rbac_enforces_not_the_annotation() {
    let admin = binding(
        "ml",
        "user-jane",
        "kubeflow-admin",
        user("jane@corp.example"),
    );
    assert_eq!(role_ref_name(&admin), "admin");
    let builtin = binding("ml", "x", "edit", user("jane@corp.example"));
    assert_eq!(role_ref_name(&builtin), "ClusterRole/edit");
}

#[test]
fn a_managed_binding_says_whose_it_is_and_a_hand_made_one_who_it_names() {
    let activity = Activity {
        at: NOW as i64 - 3 * DAY,
    };
    let managed = access_row(
        "kf",
        &binding(
            "ml",
            "user-jane",
            "kubeflow-edit",
            user("jane@corp.example"),
        ),
        Some(&TeamSetup {
            aws_role: Some("arn:aws:iam::111122223333:role/kf-team-ml".into()),
            quota: Some(r#"{"hard":{"cpu":"32"}}"#.into()),
        }),
        Some(("sub-j", true, Some(activity))),
    );
    assert_eq!(
        (
            managed.role.as_str(),
            managed.sub.as_deref(),
            managed.istio_twin
        ),
        ("edit", Some("sub-j"), Some(true))
    );
    assert_eq!(
        managed.last_activity.as_deref(),
        Some("2026-11-26T02:27:30Z")
    );
    assert_eq!(
        managed.granted_since.as_deref(),
        Some("2026-01-02T03:04:05Z")
    );
    assert_eq!(
        (managed.team_role.as_deref(), managed.team_quota.as_deref()),
        (
            Some("arn:aws:iam::111122223333:role/kf-team-ml"),
            Some(r#"{"hard":{"cpu":"32"}}"#)
        ),
        "each row says its team's role and quota"
    );
    let by_hand = access_row(
        "kf",
        &binding(
            "ml",
            "team-viewers",
            "kubeflow-view",
            json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "auditors"},
                   {"kind": "ServiceAccount", "namespace": "ml", "name": "ci"}]),
        ),
        None,
        None,
    );
    assert!(!by_hand.managed);
    assert_eq!(by_hand.subjects, ["Group:auditors", "ServiceAccount:ml/ci"]);
    assert_eq!((by_hand.sub, by_hand.istio_twin), (None, None));
}

#[test]
fn the_person_filter_takes_an_email_in_any_case_or_a_sub() {
    let subjects = vec!["jane@corp.example".to_owned()];
    let asking = |who: &str| ReportRequest {
        user: Some(who.into()),
        ..ReportRequest::default()
    };
    assert!(admits_person(&asking("JANE@corp.example"), &subjects, None));
    assert!(admits_person(&asking("sub-j"), &subjects, Some("sub-j")));
    assert!(!admits_person(
        &asking("bob@corp.example"),
        &subjects,
        Some("sub-j")
    ));
    assert!(admits_person(&ReportRequest::default(), &subjects, None));
}

#[test]
fn only_the_long_inactive_personal_profiles_are_listed_unless_inactivity_is_off() {
    let seen = |days: i64| Activity {
        at: NOW as i64 - days * DAY,
    };
    let row = inactive_row(
        "kf",
        "profile-jane",
        "jane@corp.example",
        "sub-j",
        seen(120),
        now(),
        90,
    );
    assert_eq!(row.map(|r| r.days_inactive), Some(120));
    assert_eq!(inactive_row("kf", "p", "o", "k", seen(10), now(), 90), None);
    assert_eq!(inactive_row("kf", "p", "o", "k", seen(120), now(), 0), None);
}

#[test]
fn a_page_holds_its_limit_and_says_where_the_next_one_starts() {
    let request = ReportRequest {
        limit: Some(2),
        ..ReportRequest::default()
    };
    let mut page = Page::new(&request, now(), 90).unwrap();
    let row = |name: &str| {
        access_row(
            "kf",
            &binding("ml", name, "kubeflow-edit", user("a@b.c")),
            None,
            None,
        )
    };
    assert!(page.add_access(&cursor("ml", "a"), row("a")));
    assert!(page.add_access(&cursor("ml", "b"), row("b")));
    assert!(!page.add_access(&cursor("ml", "c"), row("c")));
    assert!(page.is_full());
    let first = page.finish();
    assert_eq!(first.accesses.len(), 2);
    let next = first.next.clone().unwrap();
    // The next page starts after the last row of this one.
    let request = ReportRequest {
        after: Some(next),
        limit: Some(2),
        ..ReportRequest::default()
    };
    let page = Page::new(&request, now(), 90).unwrap();
    assert!(!page.wants(&cursor("ml", "b")));
    assert!(page.wants(&cursor("ml", "c")));
    assert!(
        Page::new(
            &ReportRequest {
                after: Some("bogus".into()),
                ..ReportRequest::default()
            },
            now(),
            90
        )
        .is_err()
    );
}

#[test]
fn pages_follow_the_api_servers_order_where_team_a_comes_before_team() {
    // The API server lists `team-a/...` before `team/...` ('-' is below '/'): a page that
    // ends in `team-a` must leave every row of `team` to the next one.
    assert!(cursor("team-a", "z") < cursor("team", "a"));
    assert!(cursor("team", "a") < cursor("team", "b"));
    assert!(cursor("team", "z") < cursor("team0", "a"));
    let request = ReportRequest {
        after: Some(cursor("team-a", "z").to_string()),
        ..ReportRequest::default()
    };
    let page = Page::new(&request, now(), 90).unwrap();
    assert!(page.wants(&cursor("team", "a")));
    assert!(!page.wants(&cursor("team-a", "y")));
}

#[test]
fn a_page_never_weighs_more_than_an_answer_may() {
    let request = ReportRequest {
        limit: Some(MAX_LIMIT),
        ..ReportRequest::default()
    };
    let mut page = Page::new(&request, now(), 90).unwrap();
    let long = "x".repeat(1000);
    let subjects: Vec<serde_json::Value> = (0..16)
        .map(|i| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": format!("{long}{i}")}))
        .collect();
    let heavy = binding("ml", "heavy", "kubeflow-edit", json!(subjects));
    let mut added = 0;
    for i in 0..MAX_LIMIT {
        if !page.add_access(
            &cursor("ml", &format!("{i:05}")),
            access_row("kf", &heavy, None, None),
        ) {
            break;
        }
        added += 1;
    }
    let report = page.finish();
    assert!(added < MAX_LIMIT && report.next.is_some());
    assert!(serde_json::to_string(&report).unwrap().len() < 6_000_000);
}

#[test]
fn csv_is_one_table_quoted_and_safe_in_a_spreadsheet() {
    let mut page = Page::new(&ReportRequest::default(), now(), 90).unwrap();
    let jane = binding(
        "ml",
        "user-jane",
        "kubeflow-edit",
        user("jane@corp.example"),
    );
    page.add_access(
        &cursor("ml", "user-jane"),
        access_row(
            "kf",
            &jane,
            Some(&TeamSetup {
                aws_role: Some("arn:aws:iam::111122223333:role/kf-team-ml".into()),
                quota: Some(r#"{"hard":{"cpu":"32","memory":"64Gi"}}"#.into()),
            }),
            Some(("sub-j", true, None)),
        ),
    );
    let evil = binding("ml", "x", "kubeflow-edit", user("=HYPERLINK(\"x\"),y"));
    page.add_access(&cursor("ml", "x"), access_row("kf", &evil, None, None));
    let activity = Activity {
        at: NOW as i64 - 120 * DAY,
    };
    let profile = inactive_row(
        "kf",
        "profile-jane",
        "jane@corp.example",
        "sub-j",
        activity,
        now(),
        90,
    )
    .unwrap();
    let mut place = cursor("", "profile-jane");
    place.section = Section::InactiveProfiles;
    page.add_profile(&place, profile);
    let csv = page.finish().to_csv();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], CSV_HEADER);
    assert_eq!(
        lines[1],
        r#"access,kf,ml,user-jane,jane@corp.example,edit,true,sub-j,true,2026-01-02T03:04:05Z,,,arn:aws:iam::111122223333:role/kf-team-ml,"{""hard"":{""cpu"":""32"",""memory"":""64Gi""}}""#
    );
    assert!(
        lines[2].starts_with("access,kf,ml,x,\"'=HYPERLINK(\"\"x\"\"),y\",edit,false,"),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[3],
        "inactive-personal-profile,kf,profile-jane,profile-jane,jane@corp.example,admin,true,sub-j,,,2026-08-01T02:27:30Z,120,,"
    );
    assert_eq!(lines.len(), 5, "a line break ends the last row");
}
