//! When the store thread commits, while messages keep coming.
//!
//! A commit costs an fsync however many messages it holds, so under steady load the thread
//! waits for the commit interval to pass since the previous commit started and takes
//! everything that arrived meanwhile in one. Waiting is only worth it while more is coming,
//! though: when each sender waits for its commit before sending again (as every connection
//! does), the batch stops growing once all of them have sent, and waiting out the rest of the
//! interval would only slow them down. So a batch that holds as many messages as the largest
//! commit of the last second is committed at once.

use std::time::Duration;

use tokio::time::Instant;

/// How long the size of a large commit is remembered as the size worth waiting for.
const MEMORY: Duration = Duration::from_secs(1);

/// The commit interval, and what the last commits were like.
#[derive(Debug)]
pub(super) struct CommitPace {
    interval: Duration,
    /// When the last commit started; `None` before the first.
    last_start: Option<Instant>,
    /// The most messages one commit took within the last [`MEMORY`], and when.
    largest: usize,
    largest_at: Option<Instant>,
}

impl CommitPace {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_start: None,
            largest: 0,
            largest_at: None,
        }
    }

    /// Until when a batch should keep taking messages: `None` to commit now, because the
    /// interval since the last commit is over (or there was none).
    pub fn due(&self, now: Instant) -> Option<Instant> {
        let due = self.last_start? + self.interval;
        (due > now).then_some(due)
    }

    /// How many messages make a batch worth committing before it is due.
    pub fn enough(&self) -> usize {
        self.largest.max(1)
    }

    /// Records that a commit of `messages` started at `now`.
    pub fn started(&mut self, now: Instant, messages: usize) {
        self.last_start = Some(now);
        let forgotten = self
            .largest_at
            .is_none_or(|at| now.duration_since(at) >= MEMORY);
        if messages >= self.largest || forgotten {
            self.largest = messages;
            self.largest_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(2);

    #[test]
    fn the_first_commit_and_one_after_a_quiet_spell_are_due_at_once() {
        let start = Instant::now();
        let mut pace = CommitPace::new(INTERVAL);
        assert_eq!(pace.due(start), None);
        pace.started(start, 1);
        assert_eq!(pace.due(start), Some(start + INTERVAL));
        assert_eq!(pace.due(start + INTERVAL), None);
    }

    #[test]
    fn the_size_worth_waiting_for_is_the_largest_commit_of_the_last_second() {
        let start = Instant::now();
        let mut pace = CommitPace::new(INTERVAL);
        assert_eq!(pace.enough(), 1);
        pace.started(start, 64);
        pace.started(start + Duration::from_millis(3), 10);
        assert_eq!(pace.enough(), 64);
        pace.started(start + MEMORY, 10);
        assert_eq!(
            pace.enough(),
            10,
            "a second later the large commit is forgotten"
        );
        pace.started(start + MEMORY + Duration::from_millis(3), 30);
        assert_eq!(pace.enough(), 30);
    }
}
