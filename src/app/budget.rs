//! One way for every job to turn the time Lambda still allows into its deadlines: when its
//! requests end, and when it stops starting new work, keeping back what it needs to answer.
//! Pure arithmetic on the clock's instants.

use std::time::Duration;

use tokio::time::Instant;

/// How a job spends Lambda's time.
#[derive(Debug, Clone, Copy)]
pub struct TimeRule {
    /// The longest the job takes, whatever Lambda allows; `None`: all that Lambda allows.
    pub at_most: Option<Duration>,
    /// Lambda's time when it does not say (a local run).
    pub when_unknown: Duration,
    /// Kept back from Lambda's deadline to send the answer, given the time Lambda allows.
    pub answer_margin: fn(Duration) -> Duration,
    /// Kept back before the requests end, given the time Lambda allows: no new work starts
    /// later, so that the work started finishes.
    pub finish_margin: fn(Duration) -> Duration,
}

/// A job's deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub started: Instant,
    /// Requests end here.
    pub deadline: Instant,
    /// No new work starts after this.
    pub stop_starting: Instant,
}

impl Budget {
    /// The deadlines of a job that started at `started`, with `remaining` of Lambda's time.
    pub fn new(started: Instant, remaining: Option<Duration>, rule: TimeRule) -> Self {
        let remaining = remaining.unwrap_or(rule.when_unknown);
        let allowed = remaining.saturating_sub((rule.answer_margin)(remaining));
        let allowed = rule.at_most.map_or(allowed, |most| allowed.min(most));
        let finishing = (rule.finish_margin)(remaining).min(allowed);
        Budget {
            started,
            deadline: started + allowed,
            stop_starting: started + allowed - finishing,
        }
    }

    /// How long the job's requests may take in all.
    pub fn length(&self) -> Duration {
        self.deadline - self.started
    }
}

/// The longest a command (the sweep, the access report) takes when Lambda does not say.
const COMMAND_BUDGET: Duration = Duration::from_secs(60);
/// What a command keeps back from Lambda's deadline (a fifth of the time, when that is less):
/// no new work starts later, so that the last finishes and the answer goes out; requests end a
/// tenth of it before the deadline.
const COMMAND_MARGIN: Duration = Duration::from_secs(10);

fn command_margin(remaining: Duration) -> Duration {
    COMMAND_MARGIN.min(remaining / 5)
}

/// A command's use of Lambda's time: all of it but [`COMMAND_MARGIN`].
pub const COMMAND_TIME: TimeRule = TimeRule {
    at_most: None,
    when_unknown: COMMAND_BUDGET,
    answer_margin: |remaining| command_margin(remaining) / 10,
    finish_margin: |remaining| command_margin(remaining) - command_margin(remaining) / 10,
};

/// No margin.
pub fn none(_: Duration) -> Duration {
    Duration::ZERO
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn rule(at_most: Option<Duration>, when_unknown: Duration) -> TimeRule {
        TimeRule {
            at_most,
            when_unknown,
            answer_margin: |_| MS(150),
            finish_margin: |remaining| remaining / 10,
        }
    }

    #[test]
    fn lambdas_deadline_less_the_answer_margin_capped_by_the_jobs_own_limit() {
        let started = Instant::now();
        let capped = Budget::new(started, Some(MS(5000)), rule(Some(MS(4000)), MS(4150)));
        assert_eq!(capped.length(), MS(4000));
        let short = Budget::new(started, Some(MS(1000)), rule(Some(MS(4000)), MS(4150)));
        assert_eq!(short.length(), MS(850));
        assert_eq!(short.stop_starting, started + MS(850) - MS(100));
        let unknown = Budget::new(started, None, rule(Some(MS(4000)), MS(4150)));
        assert_eq!(
            unknown.length(),
            MS(4000),
            "as if Lambda allowed its own limit and margin"
        );
        let uncapped = Budget::new(started, Some(MS(900_000)), rule(None, MS(60_000)));
        assert_eq!(uncapped.length(), MS(900_000 - 150));
    }

    #[test]
    fn a_margin_larger_than_the_time_leaves_nothing_rather_than_underflowing() {
        let started = Instant::now();
        let budget = Budget::new(started, Some(MS(100)), rule(None, MS(0)));
        assert_eq!(budget.deadline, started);
        assert_eq!(budget.stop_starting, started);
    }
}
