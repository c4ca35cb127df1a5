//! When a node may still count on its lease. Redis lets a lease lapse `lease` after it *ran*
//! the last renewal; the node cannot know when that was, only when it *sent* the renewal,
//! which is earlier. So the node's own deadline is the sending time plus nine tenths of the
//! lease, on its monotonic clock: it always passes before the lease can lapse in Redis, and
//! clocks are never compared across machines.

use std::time::Duration;

use tokio::time::Instant;

use crate::metrics::LinkState;

/// A node's lease as the node sees it.
#[derive(Debug, Clone)]
pub(super) struct LeaseClock {
    lease: Duration,
    /// When the last renewal that succeeded was sent (or the registration).
    last_renewal_sent: Instant,
    /// Whether the last renewal failed (Redis unreachable or slow).
    failing: bool,
    /// Whether Redis said the lease is no longer this node's.
    fenced: bool,
}

impl LeaseClock {
    /// A lease taken by a registration sent at `sent`.
    pub(super) fn new(lease: Duration, sent: Instant) -> Self {
        Self {
            lease,
            last_renewal_sent: sent,
            failing: false,
            fenced: false,
        }
    }

    /// Past this instant the node must assume its lease lapsed.
    pub(super) fn deadline(&self) -> Instant {
        self.last_renewal_sent + self.lease - self.lease / 10
    }

    /// A renewal sent at `sent` succeeded. Once fenced, the lease is gone for good: only a
    /// new registration (a new clock) gives the node one again.
    pub(super) fn renewed(&mut self, sent: Instant) {
        if self.fenced {
            return;
        }
        if sent > self.last_renewal_sent {
            self.last_renewal_sent = sent;
        }
        self.failing = false;
    }

    /// A renewal got no answer.
    pub(super) fn failed(&mut self) {
        self.failing = true;
    }

    /// Redis answered that the lease belongs to another incarnation, or to nobody.
    pub(super) fn fence(&mut self) {
        self.fenced = true;
    }

    /// The state at `now`. Passing the deadline fences the node for good, as Redis's answer
    /// does.
    pub(super) fn state(&mut self, now: Instant) -> LinkState {
        if now >= self.deadline() {
            self.fenced = true;
        }
        if self.fenced {
            LinkState::Fenced
        } else if self.failing {
            LinkState::Degraded
        } else {
            LinkState::Connected
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(10);

    #[test]
    fn the_deadline_is_nine_tenths_of_a_lease_after_the_last_renewal_sent() {
        let start = Instant::now();
        let mut clock = LeaseClock::new(LEASE, start);
        assert_eq!(clock.deadline(), start + Duration::from_secs(9));
        clock.renewed(start + Duration::from_secs(2));
        assert_eq!(clock.deadline(), start + Duration::from_secs(11));
        // An answer to an older renewal, arriving late, does not move the deadline back.
        clock.renewed(start + Duration::from_secs(1));
        assert_eq!(clock.deadline(), start + Duration::from_secs(11));
    }

    #[test]
    fn failures_degrade_until_the_deadline_then_fence() {
        let start = Instant::now();
        let mut clock = LeaseClock::new(LEASE, start);
        assert_eq!(clock.state(start), LinkState::Connected);
        let at = |seconds| start + Duration::from_secs(seconds);
        clock.failed();
        assert_eq!(clock.state(at(8)), LinkState::Degraded);
        // A renewal that gets through in time restores the link.
        clock.renewed(at(8));
        assert_eq!(clock.state(at(9)), LinkState::Connected);
        clock.failed();
        assert_eq!(clock.state(at(16)), LinkState::Degraded);
        assert_eq!(clock.state(at(17)), LinkState::Fenced);
        // Past the deadline, no renewal brings the lease back, not even one sent before it.
        clock.renewed(at(16));
        assert_eq!(clock.state(at(17)), LinkState::Fenced);
    }

    #[test]
    fn a_fence_from_redis_holds_whatever_the_clock_says() {
        let start = Instant::now();
        let mut clock = LeaseClock::new(LEASE, start);
        clock.fence();
        clock.renewed(start + Duration::from_secs(1));
        assert_eq!(
            clock.state(start + Duration::from_secs(1)),
            LinkState::Fenced
        );
    }
}
