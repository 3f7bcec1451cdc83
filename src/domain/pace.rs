//! When a sign-in stops starting new groups: when the time left is less than one group takes,
//! as measured while the sign-in goes. Pure: times are passed in.

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

    /// True when another group may start with `remaining` time left: it would finish in time.
    pub fn may_start(&self, remaining: Duration) -> bool {
        remaining >= self.one_group()
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
        assert!(pace.may_start(MS(40)));
        assert!(!pace.may_start(MS(39)));
        pace.group_took(MS(100));
        pace.group_took(MS(60));
        assert_eq!(pace.one_group(), MS(100), "the longest so far");
        assert!(!pace.may_start(MS(99)));
        assert!(pace.may_start(MS(1000)));
    }
}
