//! Cognito's 5 seconds: every sign-in is answered within the time budget whatever the cluster
//! does (hangs, throttling, 5xx storms, resets), recovers without a restart, and FAIL_MODE decides.
//! The bounds asserted here are the contract (an answer before the deadline), with generous
//! margins; speed itself is measured by `make bench`.

use crate::harness;
use std::time::Duration;

use crate::harness::{Harness, granted};
use http::Method;
use kfpm_fakes::apiserver::{Fault, Flavor};
use kfpm_fakes::events::sign_in_event;
use kubeflow_profile_manager::Outcome;
use tokio::time::Instant;

const RUMESH: &str = "rumesh@corp.example";
const BUDGET_MS: &str = "1500";
const BUDGET: Duration = Duration::from_millis(1500);
/// Scheduling slack on a loaded 2-core machine, on top of the budget.
const SLACK: Duration = Duration::from_millis(700);

async fn timed(
    h: &Harness,
    groups: &str,
) -> (
    Duration,
    Result<Outcome, kubeflow_profile_manager::error::SignInFailed>,
) {
    let started = Instant::now();
    let outcome = h.sign_in("rumesh", RUMESH, groups).await;
    (started.elapsed(), outcome)
}

#[tokio::test]
async fn a_hanging_api_server_is_answered_within_the_budget_and_fail_mode_decides() {
    for (mode, lets_through) in [("closed", false), ("open", true)] {
        let h = Harness::start(
            Flavor::Current,
            &[("TIME_BUDGET_MS", BUDGET_MS), ("FAIL_MODE", mode)],
        )
        .await;
        h.cluster.inject(Fault::Hang, 1000, None);
        let (elapsed, outcome) = timed(&h, "[ml]").await;
        assert!(
            elapsed < BUDGET + SLACK,
            "{mode}: answered after {elapsed:?}"
        );
        assert_eq!(outcome.is_ok(), lets_through, "{mode}: {outcome:?}");
        if lets_through {
            assert_eq!(outcome.unwrap(), Outcome::FailedOpen);
        }
    }
}

#[tokio::test]
async fn one_hanging_request_is_retried_inside_the_budget() {
    let h = Harness::start(Flavor::Current, &[("TIME_BUDGET_MS", "4000")]).await;
    h.cluster.inject(Fault::Hang, 1, Some(Method::GET));
    let (elapsed, outcome) = timed(&h, "[ml]").await;
    assert_eq!(granted(&outcome.unwrap()), ["ml"]);
    assert!(elapsed < Duration::from_millis(4000) + SLACK, "{elapsed:?}");
}

#[tokio::test]
async fn throttling_with_retry_after_is_waited_out_when_it_fits() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.cluster.inject(
        Fault::Status {
            code: 429,
            retry_after: Some(1),
        },
        3,
        None,
    );
    let (elapsed, outcome) = timed(&h, "[ml]").await;
    assert_eq!(granted(&outcome.unwrap()), ["ml"]);
    assert!(
        elapsed >= Duration::from_secs(1),
        "Retry-After was honoured: {elapsed:?}"
    );
    let throttled = h
        .cluster
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(throttled, 3);
}

#[tokio::test]
async fn throttling_longer_than_the_budget_gives_up_at_once() {
    let h = Harness::start(Flavor::Current, &[("TIME_BUDGET_MS", BUDGET_MS)]).await;
    h.cluster.inject(
        Fault::Status {
            code: 429,
            retry_after: Some(30),
        },
        1000,
        None,
    );
    let (elapsed, outcome) = timed(&h, "[ml]").await;
    assert!(outcome.is_err());
    assert!(
        elapsed < BUDGET,
        "did not sleep towards a 30 s Retry-After: {elapsed:?}"
    );
}

#[tokio::test]
async fn a_storm_of_server_errors_and_resets_is_ridden_out_with_backoff() {
    for fault in [
        Fault::Status {
            code: 503,
            retry_after: None,
        },
        Fault::Status {
            code: 500,
            retry_after: None,
        },
        Fault::Reset,
    ] {
        let h = Harness::start(Flavor::Current, &[]).await;
        // Fewer than the five attempts a request gets, even if one request meets them all.
        h.cluster.inject(fault.clone(), 4, None);
        let outcome = h.sign_in("rumesh", RUMESH, "[ml, ai]").await;
        assert_eq!(granted(&outcome.unwrap()), ["ai", "ml"], "{fault:?}");
        assert!(
            h.cluster
                .get(
                    "RoleBinding",
                    Some("ml"),
                    "user-rumesh-corp-example-clusterrole-edit"
                )
                .is_some()
        );
    }
}

#[tokio::test]
async fn an_endless_storm_fails_within_the_budget() {
    let h = Harness::start(Flavor::Current, &[("TIME_BUDGET_MS", BUDGET_MS)]).await;
    h.cluster.inject(
        Fault::Status {
            code: 503,
            retry_after: None,
        },
        100_000,
        None,
    );
    let (elapsed, outcome) = timed(&h, "[ml]").await;
    assert!(outcome.is_err());
    assert!(elapsed < BUDGET + SLACK, "{elapsed:?}");
    // A cold container's first round trip is discovery's 6 requests (API groups, the owner's
    // Istio objects, this function's own, Profile namespaces for the mesh labels), each tried at
    // most 5 times; it fails, so nothing more.
    let attempts = h.cluster.requests().len();
    assert!(attempts <= 6 * 5, "bounded retries: {attempts} requests");
}

#[tokio::test]
async fn an_api_server_outage_at_cold_start_heals_without_a_restart() {
    let h = Harness::start(Flavor::Current, &[("TIME_BUDGET_MS", BUDGET_MS)]).await;
    h.cluster.inject(Fault::Reset, 100_000, None);
    assert!(h.sign_in("rumesh", RUMESH, "[ml]").await.is_err());
    h.cluster.clear_faults();
    let outcome = h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml"]);
}

#[tokio::test]
async fn lambdas_own_deadline_shortens_the_budget() {
    let h = Harness::start(Flavor::Current, &[]).await;
    h.cluster.inject(Fault::Hang, 1000, None);
    let started = Instant::now();
    let event = sign_in_event("rumesh", RUMESH, "[ml]");
    assert!(
        h.app
            .handle(&event, Some(Duration::from_millis(800)))
            .await
            .is_err()
    );
    assert!(
        started.elapsed() < Duration::from_millis(800) + SLACK,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn concurrent_duplicates_under_faults_still_converge() {
    let h = Harness::start(Flavor::Current, &[]).await;
    let (a, b) = (h.another_container().await, h.another_container().await);
    h.cluster.inject(
        Fault::Status {
            code: 503,
            retry_after: None,
        },
        5,
        Some(Method::POST),
    );
    let event = sign_in_event("rumesh", RUMESH, "[one, two, three, four]");
    let (x, y, z) = tokio::join!(
        h.app.handle(&event, None),
        a.handle(&event, None),
        b.handle(&event, None)
    );
    for outcome in [x, y, z] {
        assert_eq!(granted(&outcome.unwrap()), ["four", "one", "three", "two"]);
    }
    assert_eq!(
        h.bindings_of(RUMESH).len(),
        4,
        "{:?}",
        h.bindings_of(RUMESH)
    );
}

#[tokio::test]
async fn a_large_first_sign_in_uses_one_connection_to_an_http2_api_server() {
    let h = Harness::start(Flavor::Current, &[]).await;
    let groups: Vec<String> = (1..=50).map(|i| format!("team-{i}")).collect();
    let outcome = h
        .sign_in("rumesh", RUMESH, &format!("[{}]", groups.join(", ")))
        .await
        .unwrap();
    assert_eq!(granted(&outcome).len(), 50);
    assert!(h.cluster.requests().len() > 200);
    assert_eq!(h.cluster.connections(), ["h2"], "one TLS handshake, HTTP/2");
}

#[tokio::test]
async fn an_http1_only_api_server_still_works() {
    let h = Harness::start_with(&[], |config| config.http2 = false).await;
    let outcome = h.sign_in("rumesh", RUMESH, "[ml, ops]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml", "ops"]);
    let connections = h.cluster.connections();
    assert!(!connections.is_empty());
    assert!(
        connections.iter().all(|p| p == "http/1.1"),
        "{connections:?}"
    );
}

#[tokio::test]
async fn a_group_whose_writes_the_deadline_cuts_is_deferred_not_failed() {
    // FAIL_MODE=closed: only a failure refuses the sign-in; a grant the time budget did not
    // allow is deferred to the next sign-in, like a group never started.
    let h = Harness::start(Flavor::Current, &[("TIME_BUDGET_MS", BUDGET_MS)]).await;
    h.sign_in("rumesh", RUMESH, "[ml]").await.unwrap();
    // Reads answer, writes never do: the new group's Profile is cut by the deadline.
    h.cluster.inject(Fault::Hang, 1000, Some(Method::POST));
    h.cluster.inject(Fault::Hang, 1000, Some(Method::PATCH));
    let (elapsed, outcome) = timed(&h, "[ml, vision]").await;
    assert!(elapsed < BUDGET + SLACK, "answered after {elapsed:?}");
    let outcome = outcome.unwrap();
    let report = harness::report(&outcome);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.deferred, ["vision"]);
    h.cluster.clear_faults();
    let outcome = h.sign_in("rumesh", RUMESH, "[ml, vision]").await.unwrap();
    assert_eq!(granted(&outcome), ["ml", "vision"]);
}
