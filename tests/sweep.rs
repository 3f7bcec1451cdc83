//! The offboarding sweep and the access report, through the real binary as Lambda runs it,
//! against the fake cluster and the fake Cognito user pool: people sign in through the function
//! (which records their activity), then leave, are disabled, go quiet, or stay.

use std::path::Path;
use std::time::{Duration, SystemTime};

use kfpm_testkit::ShiftedClock;
use kfpm_testkit::apiserver::{FakeClusterConfig, rfc3339};
use kfpm_testkit::events::{sign_in_event, sub_of};
use kfpm_testkit::local::{LOCAL_USER_POOL, LocalStack};
use kfpm_testkit::members::{Record, email_of, seed_group, seed_member, username_of};
use kfpm_testkit::runtime_api::Invocation;
use serde_json::{Value, json};
use tokio::process::Child;

const BINARY: &str = env!("CARGO_BIN_EXE_kubeflow-profile-manager");
const TIMEOUT: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);
const LAST_ACTIVITY: &str = "kubeflow-profile-manager/last-activity";

async fn stack() -> LocalStack {
    let mut config = FakeClusterConfig::new(ShiftedClock::default().clock());
    config.controller_delay = Duration::from_millis(20);
    let stack = LocalStack::start(config).await;
    // Another team, and access this function did not make: never touched.
    stack.cluster.seed_profile("team-a", "alice@corp.example");
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

/// Invokes the function with a command; its answer, or its error as `{"error": ...}`.
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

/// Moves `user`'s recorded activity `age` into the past, as if they had not signed in since.
fn age(stack: &LocalStack, user: &str, age: Duration) {
    let email = email_of(user);
    let when = rfc3339(SystemTime::now() - age);
    for kind in ["RoleBinding", "Profile"] {
        for object in stack.cluster.all(kind) {
            let meta = &object["metadata"];
            let theirs = meta["annotations"]["user"] == email.as_str()
                || object.pointer("/spec/owner/name") == Some(&json!(email));
            if theirs && meta["annotations"].get(LAST_ACTIVITY).is_some() {
                stack.cluster.annotate(
                    kind,
                    meta["namespace"].as_str(),
                    meta["name"].as_str().unwrap(),
                    LAST_ACTIVITY,
                    &when,
                );
            }
        }
    }
}

fn admin_get_user_calls(stack: &LocalStack) -> usize {
    stack
        .cognito
        .calls()
        .iter()
        .filter(|c| *c == "AdminGetUser")
        .count()
}

#[tokio::test]
async fn deleted_disabled_and_replaced_users_lose_their_access_and_the_rest_keep_it() {
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
    // Dave left and someone else now has his user name (deleted, then made again).
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
    assert_eq!(summary["revokedDeleted"], 1, "{summary}");
    assert_eq!(summary["revokedDisabled"], 1, "{summary}");
    assert_eq!(summary["revokedReplaced"], 1, "{summary}");
    assert_eq!(
        summary["bindingsDeleted"], 6,
        "a RoleBinding and its twin each"
    );
    assert_eq!(summary["finished"], true);
    assert_eq!(summary["cognitoRequests"], 4);
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
    assert_eq!(admin_get_user_calls(&stack), 4);
}

/// Jane, quiet for 400 days, and Bob, for 30, both still in the pool, in group `ml`.
fn quiet_people(stack: &LocalStack) {
    seed_group(&stack.cluster, "ml");
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
        summary["cognitoRequests"], 1,
        "only bob's record needed the pool"
    );
    assert_eq!(admin_get_user_calls(&stack), 1);

    // Jane comes back: her access comes back with her groups.
    sign_in(&stack, "jane", "[ml]").await;
    assert_eq!(access_of(&stack, "jane").len(), 2);
}

#[tokio::test]
async fn people_never_seen_are_stamped_on_first_sight_and_never_revoked() {
    let stack = stack().await;
    seed_group(&stack.cluster, "ml");
    seed_member(&stack.cluster, "old-timer", "ml", Record::None);
    let _function = function(&stack, &[("INACTIVE_DAYS", "1")]);

    let summary = sweep(&stack).await;
    assert_eq!(summary["stamped"], 1, "{summary}");
    assert_eq!(summary["revokedInactive"], 0);
    let binding = stack
        .cluster
        .get(
            "RoleBinding",
            Some("ml"),
            "user-old-timer-corp-example-clusterrole-edit",
        )
        .unwrap();
    let stamped = binding["metadata"]["annotations"][LAST_ACTIVITY]
        .as_str()
        .expect("stamped");
    assert!(stamped.ends_with('Z'), "{stamped}");
    assert_eq!(admin_get_user_calls(&stack), 0, "no user name to ask about");

    // Stamped today: kept by the next run too.
    let summary = sweep(&stack).await;
    assert_eq!(summary["kept"], 1, "{summary}");
    assert_eq!(access_of(&stack, "old-timer").len(), 2);
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    let stack = stack().await;
    seed_group(&stack.cluster, "ml");
    // Bob left the pool; the old-timer was never seen.
    seed_member(&stack.cluster, "bob", "ml", Record::Seen(SystemTime::now()));
    seed_member(&stack.cluster, "old-timer", "ml", Record::None);
    stack.cognito.add_pool(LOCAL_USER_POOL);
    let _function = function(&stack, &[("DRY_RUN", "true")]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = stack.cluster.versions().await;

    let summary = sweep(&stack).await;
    assert_eq!(summary["dryRun"], true);
    assert_eq!(summary["revokedDeleted"], 1, "{summary}");
    assert_eq!(summary["bindingsDeleted"], 2, "would be");
    assert_eq!(summary["stamped"], 1, "would be");
    assert_eq!(
        stack.cluster.versions().await,
        before,
        "no resourceVersion moved"
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
    stack.cognito.add_pool(LOCAL_USER_POOL);
    stack.cognito.set_latency(Duration::from_millis(300));
    let _function = function(&stack, &[]);

    let first = command(
        &stack,
        json!({"kubeflow-profile-manager": "sweep"}),
        Duration::from_millis(2500),
    )
    .await;
    assert_eq!(first["finished"], false, "{first}");
    let first_revoked = first["revokedDeleted"].as_u64().unwrap();
    assert!(first_revoked > 0 && first_revoked < 40, "{first}");
    let marked: Vec<Value> = stack
        .cluster
        .all("RoleBinding")
        .into_iter()
        .filter(|o| {
            o["metadata"]["annotations"]["kubeflow-profile-manager/sweep-resume"].is_string()
        })
        .collect();
    assert_eq!(marked.len(), 1, "where the next run starts");

    let second = sweep(&stack).await;
    assert_eq!(second["finished"], true, "{second}");
    assert_eq!(
        first_revoked + second["revokedDeleted"].as_u64().unwrap(),
        40
    );
    for person in &people {
        assert!(access_of(&stack, person).is_empty(), "{person}");
    }
}

#[tokio::test]
async fn the_access_report_lists_exactly_what_exists_as_json_or_csv() {
    let stack = stack().await;
    let _function = function(&stack, &[]);
    sign_in(&stack, "jane", "[ml, nlp]").await;
    sign_in(&stack, "bob", "[ml]").await;
    age(&stack, "bob", 200 * DAY);

    let report = command(
        &stack,
        json!({"kubeflow-profile-manager": "access-report"}),
        Duration::from_secs(10),
    )
    .await;
    let mut listed: Vec<String> = report["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {}",
                a["user"], a["namespace"], a["role"], a["istioTwin"]
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "\"bob@corp.example\" \"ml\" \"edit\" true",
            "\"jane@corp.example\" \"ml\" \"edit\" true",
            "\"jane@corp.example\" \"nlp\" \"edit\" true",
        ]
    );
    // The same set of bindings the cluster holds for people.
    let managed = stack
        .cluster
        .all("RoleBinding")
        .iter()
        .filter(|o| {
            o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubeflow-profile-manager"
        })
        .count();
    assert_eq!(managed, listed.len());
    let jane = &report["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["user"] == "jane@corp.example")
        .unwrap()
        .clone();
    assert_eq!(jane["sub"], sub_of("jane"));
    assert_eq!(jane["username"], username_of("jane"));
    assert!(jane["grantedSince"].is_string() && jane["lastActivity"].is_string());
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
    let nlp = command(
        &stack,
        json!({"kubeflow-profile-manager": "access-report", "namespace": "nlp", "format": "csv"}),
        Duration::from_secs(10),
    )
    .await;
    let csv = nlp["csv"].as_str().unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[0].starts_with("kind,cluster,user,sub,username,namespace,role"));
    let cluster = stack.cluster.config().cluster_name.clone();
    assert!(
        rows[1].starts_with(&format!(
            "access,{cluster},jane@corp.example,{},",
            sub_of("jane")
        )),
        "{csv}"
    );
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
