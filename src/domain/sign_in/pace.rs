//! When a sign-in stops starting new groups: before the time left falls below what one group
//! takes, as measured while the sign-in goes, with a margin for the groups that take longer
//! than any so far (a busy API server, a starved CPU). Pure: times are passed in.

use std::time::Duration;

/// What one group has taken so far in this sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pace {
    /// Before any group has finished: a group is two round trips (its Profile and namespace,
    /// then its bindings).
    initial: Duration,
    longest: Option<Duration>,
}

impl Pace {
    /// A pace for a sign-in whose round trip to the API server is about `round_trip`.
    pub fn new(round_trip: Duration) -> Self {
        Pace {
            initial: round_trip.saturating_mul(2),
            longest: None,
        }
    }

    /// A group finished after `took`.
    pub fn group_took(&mut self, took: Duration) {
        self.longest = Some(self.longest.map_or(took, |longest| longest.max(took)));
    }

    /// What one group takes: the longest measured so far, else the estimate.
    pub fn one_group(&self) -> Duration {
        self.longest.unwrap_or(self.initial)
    }

    /// True when another group may start with `remaining` time left: twice what one group takes,
    /// so that it finishes in time even when it takes as long again as the slowest so far.
    pub fn may_start(&self, remaining: Duration) -> bool {
        remaining >= self.one_group().saturating_mul(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn a_group_starts_only_when_it_would_finish_in_time() {
        let mut pace = Pace::new(MS(20));
        assert_eq!(
            pace.one_group(),
            MS(40),
            "two round trips before anything is measured"
        );
        assert!(pace.may_start(MS(80)), "twice one group's time is left");
        assert!(!pace.may_start(MS(79)));
        pace.group_took(MS(100));
        pace.group_took(MS(60));
        assert_eq!(pace.one_group(), MS(100), "the longest so far");
        assert!(!pace.may_start(MS(199)));
        assert!(pace.may_start(MS(200)));
    }
}
