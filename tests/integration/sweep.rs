//! The offboarding sweep and the access report, through the real binary as Lambda runs it,
//! against the fake cluster and the fake Cognito user pool: people sign in through the function
//! (which records their activity), then leave, are disabled, go quiet, or stay. The sweep runs
//! as its own function, with its own role and Kubernetes group (deploy/rbac.yaml).

use std::path::Path;
use std::time::{Duration, SystemTime};

use kfpm_fakes::ShiftedClock;
use kfpm_fakes::apiserver::FakeClusterConfig;
use kfpm_fakes::events::{sign_in_event, sub_of};
use kfpm_fakes::local::{LOCAL_USER_POOL, LocalStack, stop};
use kfpm_fakes::members::{
    RECORDS_NAMESPACE, Record, SWEEP_STATE, email_of, seed_group, seed_member, seed_member_made,
    seed_record, seed_records_began, username_of,
};
use kfpm_fakes::runtime_api::Invocation;
use serde_json::{Value, json};
use tokio::process::Child;

const BINARY: &str = env!("CARGO_BIN_EXE_kubeflow-profile-manager");
const TIMEOUT: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

async fn stack() -> LocalStack {
    let mut config = FakeClusterConfig::new(ShiftedClock::default().clock());
    config.controller_delay = Duration::from_millis(20);
    let stack = LocalStack::start(config).await;
    // Another team, and access this function did not make: never touched.
    stack.cluster.seed_profile("team-a", "alice@corp.example");
    stack.cognito.add_pool(LOCAL_USER_POOL);
    stack
}

/// The stack's two functions, as template.yaml deploys them: the trigger (sign-ins) and the
/// sweep function (the sweep and the access report), both with `extra`.
fn function(stack: &LocalStack, extra: &[(&str, &str)]) -> [Child; 2] {
    [
        stack.spawn_function(Path::new(BINARY), extra, true),
        stack.spawn_sweep_function(Path::new(BINARY), extra, true),
    ]
}

/// Signs `user` in with `groups` through the function; the user pool knows them, enabled.
async fn sign_in(stack: &LocalStack, user: &str, groups: &str) {
    stack
        .cognito
        .add_user(LOCAL_USER_POOL, &username_of(user), &sub_of(user), true);
    let event = sign_in_event(user, &email_of(user), groups);
    match stack
        .runtime
        .invoke(&event, Duration::from_secs(5), TIMEOUT)
        .await
    {
        Some(Invocation::Response(answer)) => assert_eq!(answer, event.trim_end()),
        other => panic!("sign-in of {user}: {other:?}"),
    }
}

/// Invokes the sweep function with a command; its answer, or its error as `{"error": ...}`.
async fn command(stack: &LocalStack, request: Value, deadline: Duration) -> Value {
    match stack
        .sweep_runtime
        .invoke(&request.to_string(), deadline, TIMEOUT)
        .await
    {
        Some(Invocation::Response(answer)) => serde_json::from_str(&answer).unwrap(),
        Some(Invocation::Error(error)) => json!({"error": error}),
        None => panic!(
            "no answer; init error {:?}",
            stack.sweep_runtime.init_error()
        ),
    }
}

async fn sweep(stack: &LocalStack) -> Value {
    command(
        stack,
        json!({"kubeflow-profile-manager": "sweep"}),
        Duration::from_secs(30),
    )
    .await
}

/// The contributor objects (RoleBindings and AuthorizationPolicies) naming `user`, as
/// `Kind namespace`.
fn access_of(stack: &LocalStack, user: &str) -> Vec<String> {
    let email = email_of(user);
    let mut found: Vec<String> = ["RoleBinding", "AuthorizationPolicy"]
        .iter()
        .flat_map(|kind| {
            stack
                .cluster
                .all(kind)
                .into_iter()
                .filter(|o| o["metadata"]["annotations"]["user"] == email.as_str())
                .filter(|o| o["metadata"]["name"] != "namespaceAdmin")
                .filter(|o| {
                    !o["metadata"]["name"]
                        .as_str()
                        .unwrap()
                        .starts_with("ns-owner")
                })
                .map(move |o| format!("{kind} {}", o["metadata"]["namespace"].as_str().unwrap()))
        })
        .collect();
    found.sort();
    found
}

/// How many times the pool was asked `operation`.
fn pool_calls(stack: &LocalStack, operation: &str) -> usize {
    stack
        .cognito
        .calls()
        .iter()
        .filter(|c| *c == operation)
        .count()
}

#[tokio::test]
async fn deleted_and_disabled_users_lose_their_access_and_the_rest_keep_it() {
    let stack = stack().await;
    let _function = function(&stack, &[]);
    sign_in(&stack, "jane", "[ml, nlp]").await;
    for user in ["bob", "carol", "dave"] {
        sign_in(&stack, user, "[ml]").await;
    }
    // Access made by hand, and a look-alike of this function's in another team's namespace.
    stack.cluster.seed(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "eve-by-hand", "namespace": "ml", "annotations": {"user": "eve@corp.example"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "eve@corp.example"}],
    }));
    stack.cluster.seed(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "look-alike", "namespace": "team-a",
            "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                       "kubeflow-profile-manager/user": sub_of("bob")},
            "annotations": {"user": "bob@corp.example"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob@corp.example"}],
    }));
    stack
        .cognito
        .delete_user(LOCAL_USER_POOL, &username_of("bob"));
    stack.cognito.add_user(
        LOCAL_USER_POOL,
        &username_of("carol"),
        &sub_of("carol"),
        false,
    );
    // Dave left and someone else now has his user name (deleted, then made again): the pool
    // is asked by `sub`, and his is gone.
    stack.cognito.add_user(
        LOCAL_USER_POOL,
        &username_of("dave"),
        "another-person",
        true,
    );
    // The profile controller has made every Profile's namespace.
    stack
        .cluster
        .wait_until(Duration::from_secs(5), |c| {
            c.all("Profile").iter().all(|p| {
                c.get("Namespace", None, p["metadata"]["name"].as_str().unwrap())
                    .is_some()
            })
        })
        .await;
    let profiles_before: Vec<Value> = stack.cluster.all("Profile");
    let namespaces_before = stack.cluster.all("Namespace").len();

    let summary = sweep(&stack).await;

    assert_eq!(summary["users"], 4, "{summary}");
    assert_eq!(summary["kept"], 1, "{summary}");
    assert_eq!(summary["revokedDeleted"], 2, "{summary}");
    assert_eq!(summary["revokedDisabled"], 1, "{summary}");
    assert_eq!(
        summary["bindingsDeleted"], 6,
        "a RoleBinding and its twin each"
    );
    assert_eq!(summary["finished"], true);
    assert_eq!(
        access_of(&stack, "jane"),
        [
            "AuthorizationPolicy ml",
            "AuthorizationPolicy nlp",
            "RoleBinding ml",
            "RoleBinding nlp"
        ]
    );
    for user in ["carol", "dave"] {
        assert!(access_of(&stack, user).is_empty(), "{user}");
    }
    // Bob's look-alike is outside group Profiles: not this function's to revoke.
    assert_eq!(access_of(&stack, "bob"), ["RoleBinding team-a"]);
    assert!(
        stack
            .cluster
            .get("RoleBinding", Some("ml"), "eve-by-hand")
            .is_some()
    );
    // Profiles (the personal ones of those who left among them) and namespaces stay.
    assert_eq!(stack.cluster.all("Profile"), profiles_before);
    assert_eq!(stack.cluster.all("Namespace").len(), namespaces_before);
    // The revoked people's records say so; nobody was asked about by user name.
    let bob = stack
        .cluster
        .get("Lease", Some(RECORDS_NAMESPACE), &sub_of("bob"))
        .unwrap();
    let mark = bob["metadata"]["annotations"]["kubeflow-profile-manager/revoked"]
        .as_str()
        .unwrap();
    assert!(mark.ends_with("deleted from the user pool"), "{mark}");
    assert_eq!(pool_calls(&stack, "AdminGetUser"), 0);
    assert_eq!(stack.cognito.over_quota(), 0, "within the pool's quotas");
}

/// Jane, quiet for 400 days, and Bob, for 30, both still in the pool, in group `ml`; records
/// began long ago.
fn quiet_people(stack: &LocalStack) {
    seed_group(&stack.cluster, "ml");
    seed_records_began(&stack.cluster, SystemTime::now() - 1000 * DAY);
    for (user, quiet) in [("jane", 400), ("bob", 30)] {
        seed_member(
            &stack.cluster,
            user,
            "ml",
            Record::Seen(SystemTime::now() - quiet * DAY),
        );
        stack
            .cognito
            .add_user(LOCAL_USER_POOL, &username_of(user), &sub_of(user), true);
    }
}

#[tokio::test]
async fn with_inactive_days_zero_inactivity_never_revokes() {
    let stack = stack().await;
    quiet_people(&stack);
    let _function = function(&stack, &[("INACTIVE_DAYS", "0")]);
    let summary = sweep(&stack).await;
    assert_eq!(summary["kept"], 2, "{summary}");
    assert_eq!(summary["inactiveDays"], 0);
    assert_eq!(access_of(&stack, "jane").len(), 2);
}

#[tokio::test]
async fn inactivity_revokes_past_inactive_days_without_asking_the_pool_and_access_comes_back() {
    let stack = stack().await;
    quiet_people(&stack);
    let _function = function(&stack, &[("INACTIVE_DAYS", "90")]);
    let summary = sweep(&stack).await;
    assert_eq!(summary["revokedInactive"], 1, "{summary}");
    assert_eq!(summary["kept"], 1, "{summary}");
    assert!(access_of(&stack, "jane").is_empty());
    assert_eq!(access_of(&stack, "bob").len(), 2);
    assert_eq!(
        pool_calls(&stack, "ListUsers"),
        1,
        "only bob's verdict needed the pool"
    );
    assert_eq!(summary["poolLookup"], "each-person", "{summary}");

    // Jane comes back: her access comes back with her groups, and her record is renewed.
    sign_in(&stack, "jane", "[ml]").await;
    assert_eq!(access_of(&stack, "jane").len(), 2);
    let record = stack
        .cluster
        .get("Lease", Some(RECORDS_NAMESPACE), &sub_of("jane"))
        .unwrap();
    assert!(
        record["metadata"]["annotations"]
            .get("kubeflow-profile-manager/revoked")
            .is_none(),
        "{record}"
    );
}

#[tokio::test]
async fn without_a_record_a_person_is_judged_by_their_oldest_binding_never_before_records_began() {
    let stack = stack().await;
    seed_group(&stack.cluster, "ml");
    let long_ago = SystemTime::now() - 200 * DAY;
    // Bindings made 200 days ago, no record (an earlier version's, or a forged person's).
    seed_member_made(
        &stack.cluster,
        "old-timer",
        "ml",
        Record::None,
        Some(long_ago),
    );
    stack.cognito.add_user(
        LOCAL_USER_POOL,
        &username_of("old-timer"),
        &sub_of("old-timer"),
        true,
    );
    let _function = function(&stack, &[("INACTIVE_DAYS", "90")]);

    // The first sweep after an upgrade: records begin now, so nobody is inactive yet.
    let summary = sweep(&stack).await;
    assert_eq!(summary["revokedInactive"], 0, "{summary}");
    assert_eq!(summary["kept"], 1, "{summary}");
    let state = stack
        .cluster
        .get("Lease", Some(RECORDS_NAMESPACE), SWEEP_STATE)
        .expect("records began");
    assert!(state["metadata"]["creationTimestamp"].is_string());
    assert_eq!(access_of(&stack, "old-timer").len(), 2);

    // Where records began long ago, the oldest binding decides: never kept forever.
    let stack = self::stack().await;
    seed_group(&stack.cluster, "ml");
    seed_records_began(&stack.cluster, SystemTime::now() - 1000 * DAY);
    seed_member_made(
        &stack.cluster,
        "old-timer",
        "ml",
        Record::None,
        Some(long_ago),
    );
    let _function = function(&stack, &[("INACTIVE_DAYS", "90")]);
    let summary = sweep(&stack).await;
    assert_eq!(summary["revokedInactive"], 1, "{summary}");
    assert!(access_of(&stack, "old-timer").is_empty());
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    let stack = stack().await;
    seed_group(&stack.cluster, "ml");
    // Bob left the pool; the old-timer has no record.
    seed_member(&stack.cluster, "bob", "ml", Record::Seen(SystemTime::now()));
    seed_member(&stack.cluster, "old-timer", "ml", Record::None);
    stack.cognito.add_user(
        LOCAL_USER_POOL,
        &username_of("old-timer"),
        &sub_of("old-timer"),
        true,
    );
    let _function = function(&stack, &[("DRY_RUN", "true")]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = stack.cluster.versions().await;

    let summary = sweep(&stack).await;
    assert_eq!(summary["dryRun"], true);
    assert_eq!(summary["revokedDeleted"], 1, "{summary}");
    assert_eq!(summary["bindingsDeleted"], 2, "would be");
    assert_eq!(summary["kept"], 1, "{summary}");
    assert_eq!(
        stack.cluster.versions().await,
        before,
        "no resourceVersion moved, and no record began"
    );
    assert_eq!(access_of(&stack, "bob").len(), 2);
}

#[tokio::test]
async fn throttling_is_retried_and_what_stays_throttled_is_left_for_the_next_run() {
    let stack = stack().await;
    let _function = function(&stack, &[]);
    sign_in(&stack, "bob", "[ml]").await;
    stack
        .cognito
        .delete_user(LOCAL_USER_POOL, &username_of("bob"));

    stack.cognito.throttle(100);
    let summary = sweep(&stack).await;
    assert_eq!(summary["leftForNextRun"], 1, "{summary}");
    assert_eq!(summary["finished"], false);
    assert_eq!(
        access_of(&stack, "bob").len(),
        2,
        "nothing revoked on a guess"
    );

    // One refusal: the SDK's retry gets through.
    stack.cognito.throttle(1);
    let summary = sweep(&stack).await;
    assert_eq!(summary["revokedDeleted"], 1, "{summary}");
    assert_eq!(summary["finished"], true);
    assert!(access_of(&stack, "bob").is_empty());
}

#[tokio::test]
async fn a_sweep_cut_short_by_its_deadline_is_finished_by_the_next_run() {
    let stack = stack().await;
    seed_group(&stack.cluster, "ml");
    let people: Vec<String> = (0..40).map(|i| format!("leaver-{i:02}")).collect();
    for person in &people {
        // Seen last week, and gone from the pool since.
        seed_member(
            &stack.cluster,
            person,
            "ml",
            Record::Seen(SystemTime::now() - 7 * DAY),
        );
    }
    // A large pool: asking about each person costs fewer requests than reading it all.
    for i in 0..5000 {
        let user = format!("stays-{i:04}");
        stack
            .cognito
            .add_user(LOCAL_USER_POOL, &username_of(&user), &sub_of(&user), true);
    }
    stack.cognito.set_latency(Duration::from_millis(50));
    let _function = function(&stack, &[]);

    let first = command(
        &stack,
        json!({"kubeflow-profile-manager": "sweep"}),
        Duration::from_millis(3000),
    )
    .await;
    assert_eq!(first["finished"], false, "{first}");
    assert_eq!(first["poolLookup"], "each-person", "{first}");
    let first_revoked = first["revokedDeleted"].as_u64().unwrap();
    assert!(first_revoked > 0 && first_revoked < 40, "{first}");
    let state = stack
        .cluster
        .get("Lease", Some(RECORDS_NAMESPACE), SWEEP_STATE)
        .unwrap();
    let resume = state["metadata"]["annotations"]["kubeflow-profile-manager/resume-at"]
        .as_str()
        .expect("where the next run starts");
    assert!(
        people.iter().any(|p| sub_of(p) == resume),
        "{resume} is a leaver not settled yet"
    );

    let second = sweep(&stack).await;
    assert_eq!(second["finished"], true, "{second}");
    assert_eq!(
        first_revoked + second["revokedDeleted"].as_u64().unwrap(),
        40
    );
    for person in &people {
        assert!(access_of(&stack, person).is_empty(), "{person}");
    }
    assert_eq!(stack.cognito.over_quota(), 0, "within the pool's quotas");
}

#[tokio::test]
async fn the_records_of_people_long_gone_with_nothing_left_are_deleted() {
    let stack = stack().await;
    seed_records_began(&stack.cluster, SystemTime::now() - 1000 * DAY);
    // Gone 200 days, nothing of theirs left; gone 10 days; gone long but with a personal Profile.
    seed_record(&stack.cluster, "gone", SystemTime::now() - 200 * DAY);
    seed_record(&stack.cluster, "recent", SystemTime::now() - 10 * DAY);
    seed_record(&stack.cluster, "profiled", SystemTime::now() - 200 * DAY);
    stack
        .cluster
        .seed(json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile",
        "metadata": {"name": "profile-profiled", "labels": {
            "app.kubernetes.io/managed-by": "kubeflow-profile-manager",
            "kubeflow-profile-manager/user": sub_of("profiled")}},
        "spec": {"owner": {"kind": "User", "name": email_of("profiled")}}}));
    let _function = function(&stack, &[("INACTIVE_DAYS", "90")]);
    let summary = sweep(&stack).await;
    assert_eq!(summary["recordsDeleted"], 1, "{summary}");
    let left: Vec<String> = stack
        .cluster
        .all("Lease")
        .iter()
        .map(|l| l["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!left.contains(&sub_of("gone")), "{left:?}");
    assert!(left.contains(&sub_of("recent")) && left.contains(&sub_of("profiled")));
}

#[tokio::test]
async fn the_access_report_lists_every_binding_of_group_namespaces_as_json_or_csv() {
    let stack = stack().await;
    let _function = function(&stack, &[]);
    sign_in(&stack, "jane", "[ml, nlp]").await;
    sign_in(&stack, "bob", "[ml]").await;
    seed_record(&stack.cluster, "bob", SystemTime::now() - 200 * DAY);
    // Access a namespace admin made by hand, and one the function made, stripped of its labels.
    stack.cluster.seed(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "eve-by-hand", "namespace": "ml", "annotations": {"role": "view"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "eve@corp.example"}],
    }));
    stack.cluster.settle().await;

    let report = command(
        &stack,
        json!({"kubeflow-profile-manager": "access-report"}),
        Duration::from_secs(10),
    )
    .await;
    let rows = report["accesses"].as_array().unwrap();
    let mut listed: Vec<String> = rows
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {} {}",
                a["namespace"].as_str().unwrap(),
                a["subjects"][0].as_str().unwrap(),
                a["role"].as_str().unwrap(),
                a["managed"],
                a["istioTwin"]
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "ml admin@kubeflow.com admin false null",
            "ml bob@corp.example edit true true",
            "ml eve@corp.example admin false null",
            "ml jane@corp.example edit true true",
            "nlp admin@kubeflow.com admin false null",
            "nlp jane@corp.example edit true true",
        ],
        "every binding of the group namespaces; eve's role is what RBAC enforces, not her annotation"
    );
    let jane = rows
        .iter()
        .find(|a| a["subjects"][0] == "jane@corp.example")
        .unwrap();
    assert_eq!(jane["sub"], sub_of("jane"));
    assert!(jane["grantedSince"].is_string() && jane["lastActivity"].is_string());
    assert!(report["next"].is_null(), "one page: {report}");
    let inactive = report["inactivePersonalProfiles"].as_array().unwrap();
    assert_eq!(inactive.len(), 1, "{report}");
    assert_eq!(inactive[0]["profile"], "profile-bob");
    assert_eq!(inactive[0]["daysInactive"], 200);

    let only_bob = command(
        &stack,
        json!({"kubeflow-profile-manager": "access-report", "user": "BOB@corp.example"}),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(only_bob["accesses"].as_array().unwrap().len(), 1);

    // Page by page: two rows a page, every row once, in order.
    let mut paged = Vec::new();
    let mut after = Value::Null;
    for _ in 0..10 {
        let mut request = json!({"kubeflow-profile-manager": "access-report", "limit": 2});
        if !after.is_null() {
            request["after"] = after.clone();
        }
        let page = command(&stack, request, Duration::from_secs(10)).await;
        let rows = page["accesses"].as_array().unwrap().len()
            + page["inactivePersonalProfiles"].as_array().unwrap().len();
        assert!(rows <= 2, "{page}");
        for row in page["accesses"].as_array().unwrap() {
            paged.push(format!("{} {}", row["namespace"], row["binding"]));
        }
        after = page["next"].clone();
        if after.is_null() {
            break;
        }
    }
    assert!(after.is_null(), "the pages end");
    assert_eq!(paged.len(), 6, "{paged:?}");

    let nlp = command(
        &stack,
        json!({"kubeflow-profile-manager": "access-report", "namespace": "nlp", "format": "csv"}),
        Duration::from_secs(10),
    )
    .await;
    let csv = nlp["csv"].as_str().unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[0].starts_with("kind,cluster,namespace,name,subjects,role,managed,sub"));
    let refused = command(
        &stack,
        json!({"kubeflow-profile-manager": "access-report", "team": "ml"}),
        Duration::from_secs(10),
    )
    .await;
    assert!(
        refused["error"].as_str().unwrap_or("").contains("team"),
        "{refused}"
    );
}

/// Two teams, `ml` and `ops`, and their people: jane (active), bob (left the pool), carol
/// (quiet 200 days), dave (no record, bindings from before records began long ago), mallory
/// (ops only, the attacker: an admin of ops).
fn two_teams(stack: &LocalStack) {
    let now = SystemTime::now();
    seed_records_began(&stack.cluster, now - 1000 * DAY);
    for team in ["ml", "ops"] {
        seed_group(&stack.cluster, team);
    }
    for (user, teams, record) in [
        ("jane", &["ml", "ops"][..], Record::Seen(now - DAY)),
        ("bob", &["ml", "ops"][..], Record::Seen(now - DAY)),
        ("carol", &["ml", "ops"][..], Record::Seen(now - 200 * DAY)),
        ("mallory", &["ops"][..], Record::Seen(now - DAY)),
    ] {
        for team in teams {
            seed_member(&stack.cluster, user, team, record);
        }
        if user != "bob" {
            stack
                .cognito
                .add_user(LOCAL_USER_POOL, &username_of(user), &sub_of(user), true);
        }
    }
    seed_member_made(
        &stack.cluster,
        "dave",
        "ml",
        Record::None,
        Some(now - 30 * DAY),
    );
    stack
        .cognito
        .add_user(LOCAL_USER_POOL, &username_of("dave"), &sub_of("dave"), true);
}

/// A RoleBinding a namespace admin of `ops` writes there with the function's labels.
fn forged(name: &str, sub: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": "ops",
            "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                       "kubeflow-profile-manager/user": sub},
            "annotations": annotations},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory@corp.example"}],
    })
}

/// The bindings outside `ops`, as `namespace/name`.
fn outside_ops(stack: &LocalStack) -> Vec<String> {
    let mut left: Vec<String> = ["RoleBinding", "AuthorizationPolicy"]
        .iter()
        .flat_map(|kind| stack.cluster.all(kind))
        .filter(|o| o["metadata"]["namespace"] != "ops")
        .map(|o| {
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    left.sort();
    left
}

#[tokio::test]
async fn whatever_a_namespace_admin_writes_there_changes_no_verdict_anywhere_else() {
    // The same cluster twice: once as it is, once after mallory, an admin of ops (kubeflow-admin
    // there may write RoleBindings), wrote there everything that once steered the sweep.
    let honest = stack().await;
    two_teams(&honest);
    let attacked = stack().await;
    two_teams(&attacked);
    let tomorrow = kfpm_fakes::apiserver::rfc3339(SystemTime::now() + DAY);
    let cluster = &attacked.cluster;
    // Records of the old kind: jane "seen tomorrow" under a user name nobody has, bob (who left)
    // "seen in 2099".
    cluster.seed(forged(
        "jane-record",
        &sub_of("jane"),
        json!({"kubeflow-profile-manager/last-activity": tomorrow,
               "kubeflow-profile-manager/username": "nobody-at-all"}),
    ));
    cluster.seed(forged(
        "bob-record",
        &sub_of("bob"),
        json!({"kubeflow-profile-manager/last-activity": "2099-01-01T00:00:00Z"}),
    ));
    // Carol's binding in ops deleted (it once held her record: the clock restarted).
    cluster.delete(
        "RoleBinding",
        Some("ops"),
        "user-carol-corp-example-clusterrole-edit",
    );
    // A sweep resume mark, and hundreds of labelled bindings with 200 KiB annotations.
    cluster.seed(forged(
        "resume-here",
        &sub_of("jane"),
        json!({"kubeflow-profile-manager/sweep-resume": tomorrow}),
    ));
    let ballast = "x".repeat(200 * 1024);
    for i in 0..200 {
        cluster.seed(forged(
            &format!("ballast-{i:03}"),
            &format!("00000000-0000-0000-0000-{i:012}"),
            json!({"ballast": ballast}),
        ));
    }
    // Her own admin binding stripped of its labels, so no revocation would find it.
    cluster.seed(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "mallory-forever", "namespace": "ops"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory@corp.example"}],
    }));

    let mut summaries = Vec::new();
    for stack in [&honest, &attacked] {
        let functions = function(stack, &[("INACTIVE_DAYS", "90")]);
        summaries.push(sweep(stack).await);
        // Gone before the next function polls the same runtime: a killed process's open poll
        // would otherwise be handed the next invocation.
        for child in functions {
            stop(child).await;
        }
    }
    assert_eq!(
        outside_ops(&attacked),
        outside_ops(&honest),
        "the same access outside ops: {summaries:?}"
    );
    // And that verdict is the right one: bob (left) and carol (quiet) lose ml, jane and dave
    // keep it.
    let ml: Vec<String> = outside_ops(&honest)
        .into_iter()
        .filter(|b| b.starts_with("ml/user-"))
        .collect();
    assert_eq!(
        ml,
        [
            "ml/user-dave-corp-example-clusterrole-edit",
            "ml/user-dave-corp-example-clusterrole-edit",
            "ml/user-jane-corp-example-clusterrole-edit",
            "ml/user-jane-corp-example-clusterrole-edit",
        ]
    );
    for summary in &summaries {
        assert_eq!(summary["finished"], true, "{summary}");
    }
    // The access report shows mallory's unlabelled admin binding for what it is.
    let _function = function(&attacked, &[]);
    let report = command(
        &attacked,
        json!({"kubeflow-profile-manager": "access-report", "namespace": "ops", "user": "mallory@corp.example"}),
        Duration::from_secs(20),
    )
    .await;
    let forever = row_of(&report, "mallory-forever");
    assert_eq!(
        (forever["role"].as_str(), forever["managed"].as_bool()),
        (Some("admin"), Some(false)),
        "{report}"
    );
}

#[tokio::test]
async fn a_namespace_switched_between_sidecar_and_ambient_has_its_contributor_policies_reshaped_by_the_sweep()
 {
    let stack = stack().await;
    let _function = function(&stack, &[]);
    sign_in(&stack, "jane", "[ml]").await;
    sign_in(&stack, "bob", "[ml]").await;
    stack.cluster.settle().await;
    let (jane, bob) = (email_of("jane"), email_of("bob"));
    assert!(stack.cluster.admits_user("ml", &jane));
    let waypoint =
        json!([{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "waypoint"}]);
    let policy = |email: &str| {
        stack
            .cluster
            .all("AuthorizationPolicy")
            .into_iter()
            .find(|o| o["metadata"]["annotations"]["user"] == email)
            .unwrap()
    };

    // An operator moves ml to ambient with a waypoint; nobody signs in before the sweep.
    stack.cluster.add_waypoint("ml", "waypoint");
    stack.cluster.label_namespace(
        "ml",
        &[
            ("istio-injection", "disabled"),
            ("istio.io/dataplane-mode", "ambient"),
            ("istio.io/use-waypoint", "waypoint"),
            ("istio.io/ingress-use-waypoint", "true"),
        ],
    );
    // Nothing is attached to the waypoint yet: it lets everyone on (see flavours.rs).
    assert!(stack.cluster.admits_user("ml", "eve@corp.example"));
    let summary = sweep(&stack).await;
    assert_eq!(summary["policiesReshaped"], 2, "{summary}");
    assert_eq!(summary["kept"], 2, "{summary}");
    for email in [&jane, &bob] {
        assert_eq!(policy(email)["spec"]["targetRefs"], waypoint);
        assert!(stack.cluster.admits_user("ml", email), "{email}");
    }
    assert!(!stack.cluster.admits_user("ml", "eve@corp.example"));
    let again = sweep(&stack).await;
    assert_eq!(again["policiesReshaped"], 0, "{again}");

    // And back to sidecars. Jane signs in first: the shape the sweep applied is the function's
    // own, so her sign-in takes the waypoint off again; Bob's waits for the sweep.
    stack.cluster.label_namespace(
        "ml",
        &[
            ("istio-injection", "enabled"),
            ("istio.io/dataplane-mode", "none"),
        ],
    );
    assert!(
        !stack.cluster.admits_user("ml", &bob),
        "ignored by sidecars"
    );
    sign_in(&stack, "jane", "[ml]").await;
    assert!(
        policy(&jane)["spec"].get("targetRefs").is_none(),
        "{}",
        policy(&jane)
    );
    assert!(stack.cluster.admits_user("ml", &jane));
    assert!(!stack.cluster.admits_user("ml", &bob));
    let back = sweep(&stack).await;
    assert_eq!(back["policiesReshaped"], 1, "{back}");
    assert!(policy(&bob)["spec"].get("targetRefs").is_none());
    assert!(stack.cluster.admits_user("ml", &bob));
    assert!(!stack.cluster.admits_user("ml", "eve@corp.example"));
}

/// The access report's row of the binding `name` (null when it is not listed).
fn row_of(report: &Value, name: &str) -> Value {
    report["accesses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["binding"] == name)
        .cloned()
        .unwrap_or_default()
}

/// A RoleBinding of `namespace` with this function's labels, for `key`, naming `email`.
fn labelled(namespace: &str, name: &str, key: &str, email: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                       "kubeflow-profile-manager/user": key},
            "annotations": annotations},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": email}],
    })
}

#[tokio::test]
async fn a_binding_labelled_by_version_0_1_with_an_email_hash_is_judged_by_inactivity_alone() {
    // Version 0.1 labelled a person's bindings with a hash of their email until their next
    // sign-in relabels them with their `sub`: the pool knows no such `sub`, so it is never
    // asked, and no "missing" answer revokes someone who simply has not signed in since.
    let stack = stack().await;
    let now = SystemTime::now();
    seed_records_began(&stack.cluster, now - 1000 * DAY);
    seed_group(&stack.cluster, "ml");
    let recent = "a9993e364706816aba3e25717850c26c9cd0d89d";
    let old = "84983e441c3bd26ebaae4aa1f95129e5e54670f1";
    stack.cluster.seed_at(
        labelled("ml", "erin", recent, "erin@corp.example", json!({})),
        now - 10 * DAY,
    );
    stack.cluster.seed_at(
        labelled("ml", "frank", old, "frank@corp.example", json!({})),
        now - 200 * DAY,
    );
    let _function = function(&stack, &[("INACTIVE_DAYS", "90")]);

    let summary = sweep(&stack).await;

    assert_eq!(summary["finished"], true, "{summary}");
    assert_eq!(pool_calls(&stack, "ListUsers"), 0, "{summary}");
    assert!(
        stack
            .cluster
            .get("RoleBinding", Some("ml"), "erin")
            .is_some()
    );
    assert!(
        stack
            .cluster
            .get("RoleBinding", Some("ml"), "frank")
            .is_none(),
        "quiet longer than INACTIVE_DAYS: {summary}"
    );
}

#[tokio::test]
async fn a_binding_larger_than_any_the_function_writes_is_still_its_persons_and_goes_with_them() {
    // Mallory, an admin of ops, gives bob a binding there with the function's labels and a
    // 700 KiB annotation, a 2,000-character `owner` and a thousand subjects, hoping it is too
    // big to be read and outlives him: it is read in part, counted as bob's, listed by the
    // report, and revoked with him.
    let stack = stack().await;
    two_teams(&stack);
    let mut forged = labelled(
        "ops",
        "for-bob",
        &sub_of("bob"),
        "bob@corp.example",
        json!({"ballast": "x".repeat(700 * 1024), "owner": "o".repeat(2000)}),
    );
    forged["subjects"] = json!((0..1000)
        .map(|i| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": format!("u{i}@corp.example")}))
        .collect::<Vec<_>>());
    stack.cluster.seed(forged);
    let _function = function(&stack, &[("INACTIVE_DAYS", "90")]);

    let report = command(
        &stack,
        json!({"kubeflow-profile-manager": "access-report", "namespace": "ops"}),
        Duration::from_secs(20),
    )
    .await;
    let listed = row_of(&report, "for-bob");
    assert_eq!(listed["sub"], sub_of("bob"), "{report}");
    assert_eq!(listed["subjects"].as_array().map(Vec::len), Some(16));
    assert_eq!(listed["subjectsOmitted"], 1000 - 16);

    let summary = sweep(&stack).await;

    assert_eq!(summary["finished"], true, "{summary}");
    assert!(
        stack
            .cluster
            .get("RoleBinding", Some("ops"), "for-bob")
            .is_none(),
        "bob left the pool: {summary}"
    );
}

#[tokio::test]
async fn report_pages_follow_the_api_servers_order_so_no_namespace_is_skipped() {
    // The API server lists `team-b/...` before `team/...` ('-' sorts below '/'): pages that
    // end inside `team-b` must still reach every binding of `team`.
    let stack = stack().await;
    for team in ["team", "team-b", "team0"] {
        seed_group(&stack.cluster, team);
        for i in 0..3 {
            stack.cluster.seed(labelled(
                team,
                &format!("b{i}"),
                &sub_of("jane"),
                "jane@corp.example",
                json!({}),
            ));
        }
    }
    let _function = function(&stack, &[]);
    let mut paged = Vec::new();
    let mut after = Value::Null;
    for _ in 0..20 {
        let mut request = json!({"kubeflow-profile-manager": "access-report", "limit": 2,
                                 "user": "jane@corp.example"});
        if !after.is_null() {
            request["after"] = after.clone();
        }
        let page = command(&stack, request, Duration::from_secs(10)).await;
        for row in page["accesses"].as_array().unwrap() {
            paged.push(format!(
                "{}/{}",
                row["namespace"].as_str().unwrap(),
                row["binding"].as_str().unwrap()
            ));
        }
        after = page["next"].clone();
        if after.is_null() {
            break;
        }
    }
    assert_eq!(
        paged,
        [
            "team-b/b0",
            "team-b/b1",
            "team-b/b2",
            "team/b0",
            "team/b1",
            "team/b2",
            "team0/b0",
            "team0/b1",
            "team0/b2"
        ]
    );
}
