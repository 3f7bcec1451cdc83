//! More to create than one sign-in's time allows: deferred, never failed. The API server's
//! latency (100 ms a request) dominates, so that the other tests sharing the CPU do not decide
//! how many groups a sign-in gets through.

use crate::harness;
use std::time::Duration;

use crate::harness::Harness;
use kfpm_fakes::apiserver::Flavor;

const RUMESH: &str = "rumesh@corp.example";

#[tokio::test]
async fn more_groups_than_the_budget_allows_are_deferred_and_granted_at_the_next_sign_ins() {
    // 200 new groups, 100 ms per request, a 2.4 s budget: more than one sign-in can do.
    let h = Harness::start(Flavor::Current, &[("TIME_BUDGET_MS", "2400")]).await;
    h.cluster.seed_profile("team-a", "alice@corp.example");
    h.cluster.set_latency(Duration::from_millis(100));
    let groups: Vec<String> = (1..=200).map(|i| format!("team-{i:03}")).collect();
    let claim = format!("[{}]", groups.join(", "));
    let mut granted_so_far = 0;
    let mut sign_ins = 0;
    while granted_so_far < 200 {
        sign_ins += 1;
        assert!(
            sign_ins <= 8,
            "still {granted_so_far} of 200 after {} sign-ins",
            sign_ins - 1
        );
        // FAIL_MODE=closed: a sign-in with more to do than time allows still succeeds.
        let outcome = h.sign_in("rumesh", RUMESH, &claim).await.unwrap();
        let report = harness::report(&outcome);
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert_eq!(report.granted.len() + report.deferred.len(), 200);
        assert!(
            report.granted.len() > granted_so_far,
            "progress at every sign-in"
        );
        granted_so_far = report.granted.len();
    }
    assert!(
        sign_ins >= 2,
        "the budget was meant to run short at the first sign-in"
    );
    assert_eq!(h.bindings_of(RUMESH).len(), 200);
}
