//! The unit tests of `sweep`. Pure.

use super::*;

const DAY: i64 = 86_400;
const NOW: i64 = 1_795_919_250;
/// Records began long ago.
const SINCE: i64 = NOW - 1000 * DAY;

fn at(seconds: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds as u64)
}

fn person(record_days_ago: Option<i64>, oldest_days_ago: Option<i64>) -> Person {
    let mut person = Person {
        record: record_days_ago.map(|d| (Activity { at: NOW - d * DAY }, "7".to_owned())),
        ..Person::default()
    };
    if let Some(days) = oldest_days_ago {
        person.add_binding(Some(NOW - days * DAY));
    }
    person
}

#[test]
fn the_recorded_are_judged_by_their_record_and_asked_about_while_active() {
    let now = at(NOW);
    assert_eq!(
        first_look(&person(Some(90), Some(400)), SINCE, now, 90),
        FirstLook::Revoke(Reason::Inactive)
    );
    assert_eq!(
        first_look(&person(Some(89), Some(400)), SINCE, now, 90),
        FirstLook::AskPool
    );
    // 0: inactivity never revokes.
    assert_eq!(
        first_look(&person(Some(900), Some(900)), SINCE, now, 0),
        FirstLook::AskPool
    );
}

#[test]
fn the_unrecorded_and_the_future_dated_are_judged_by_their_oldest_binding() {
    let now = at(NOW);
    assert_eq!(
        first_look(&person(None, Some(91)), SINCE, now, 90),
        FirstLook::Revoke(Reason::Inactive)
    );
    assert_eq!(
        first_look(&person(None, Some(10)), SINCE, now, 90),
        FirstLook::AskPool
    );
    // Dated in 2099: no usable record, never kept forever.
    let forged = person(Some(-27_000), Some(120));
    assert_eq!(
        first_look(&forged, SINCE, now, 90),
        FirstLook::Revoke(Reason::Inactive)
    );
    // Within the clock skew it is still a record.
    let mut skewed = person(None, Some(120));
    skewed.record = Some((Activity { at: NOW + 60 }, "7".into()));
    assert_eq!(first_look(&skewed, SINCE, now, 90), FirstLook::AskPool);
}

#[test]
fn nobody_is_judged_inactive_from_before_records_began() {
    let now = at(NOW);
    let upgraded_ten_days_ago = NOW - 10 * DAY;
    assert_eq!(
        first_look(&person(None, Some(400)), upgraded_ten_days_ago, now, 90),
        FirstLook::AskPool
    );
    assert_eq!(
        first_look(
            &person(Some(400), Some(400)),
            upgraded_ten_days_ago,
            now,
            90
        ),
        FirstLook::AskPool
    );
}

#[test]
fn the_records_of_the_long_gone_with_nothing_left_are_forgotten() {
    let now = at(NOW);
    assert_eq!(
        first_look(&person(Some(100), None), SINCE, now, 90),
        FirstLook::Forget
    );
    assert_eq!(
        first_look(&person(Some(10), None), SINCE, now, 90),
        FirstLook::Keep
    );
    let mut with_profile = person(Some(100), None);
    with_profile.personal_profile = true;
    assert_eq!(first_look(&with_profile, SINCE, now, 90), FirstLook::Keep);
    assert_eq!(
        first_look(&person(Some(100), None), SINCE, now, 0),
        FirstLook::Keep
    );
}

#[test]
fn only_a_sub_is_asked_about() {
    assert!(asks_pool("12ec26be-e8d1-482b-9602-e402c7896cb3"));
    for other in [
        "",
        "a9993e364706816aba3e25717850c26c9cd0d89d",
        "12EC26BE-E8D1-482B-9602-E402C7896CB3",
        "12ec26be-e8d1-482b-9602-e402c7896cb",
        "\"or 1=1",
    ] {
        assert!(!asks_pool(other), "{other}");
    }
}

#[test]
fn the_pool_decides_deleted_and_disabled_users() {
    assert_eq!(
        judge(PoolAnswer::Missing),
        FirstLook::Revoke(Reason::Deleted)
    );
    assert_eq!(
        judge(PoolAnswer::Found { enabled: false }),
        FirstLook::Revoke(Reason::Disabled)
    );
    assert_eq!(judge(PoolAnswer::Found { enabled: true }), FirstLook::Keep);
}

#[test]
fn a_sweep_starts_where_the_latest_interrupted_one_stopped() {
    let keys = ["a", "b", "c", "d"];
    assert_eq!(
        sweep_order(keys.iter().copied(), Some("c")),
        ["c", "d", "a", "b"]
    );
    assert_eq!(
        sweep_order(keys.iter().copied(), Some("bb")),
        ["c", "d", "a", "b"]
    );
    assert_eq!(sweep_order(keys.iter().copied(), None), keys);
    assert_eq!(
        sweep_order([].iter().copied(), Some("a")),
        Vec::<&str>::new()
    );
}

#[test]
fn the_pool_is_scanned_only_when_that_takes_fewer_requests() {
    assert_eq!(pool_lookup(0, 1_000_000), PoolLookup::None);
    assert_eq!(pool_lookup(100, 1_000_000), PoolLookup::EachPerson);
    // 100,000 people in a pool of 120,000: 2,000 pages instead of 100,000 requests.
    assert_eq!(pool_lookup(100_000, 120_000), PoolLookup::Scan);
    assert_eq!(pool_lookup(2, 60), PoolLookup::Scan);
    assert_eq!(pool_lookup(1, 0), PoolLookup::EachPerson);
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
