//! How the store thread waits for a batch to fill without being woken by every message.
//!
//! While a group commit collects messages until its commit interval is over (`pace.rs`), it
//! also wants to stop early once it holds as many as recent commits did. Waiting on the
//! request channel for that would wake the thread for every message that arrives: a context
//! switch each (thousands a second under a busy room), which on a virtual machine costs more
//! than writing the message. Instead, senders count the appends they queue here, and the
//! thread, which says how many more it is waiting for, is woken once, when that many have
//! arrived, or by its timer when the interval ends. The channel itself is then drained
//! without waiting.
//!
//! The count is only a hint for when to look: a wake-up too early or too late changes when a
//! batch is committed, never what it holds.

use std::sync::atomic::{AtomicIsize, Ordering};

use tokio::sync::Notify;
use tokio::time::Instant;

/// Not waiting for any number of appends.
const NOT_WAITING: isize = isize::MAX;

/// Shared by every [`Store`](super::Store) handle and the store thread.
#[derive(Debug)]
pub(super) struct Arrivals {
    /// Appends sent and not yet taken by the thread. Briefly negative when the thread takes a
    /// message before its sender has counted it.
    queued: AtomicIsize,
    /// How many queued appends the waiting thread wants, or [`NOT_WAITING`].
    wanted: AtomicIsize,
    enough: Notify,
}

impl Default for Arrivals {
    fn default() -> Self {
        Self {
            queued: AtomicIsize::new(0),
            wanted: AtomicIsize::new(NOT_WAITING),
            enough: Notify::new(),
        }
    }
}

impl Arrivals {
    /// Counts an append that was just put on the channel, waking the thread if it completes
    /// what the thread waits for.
    pub fn sent(&self) {
        // Sequentially consistent with the thread's store of `wanted` and load of `queued` in
        // `wait_for`: of a sender and a thread racing, at least one sees the other's write, so
        // the wake-up is never missed.
        let queued = self.queued.fetch_add(1, Ordering::SeqCst) + 1;
        if queued >= self.wanted.load(Ordering::SeqCst) {
            self.enough.notify_one();
        }
    }

    /// Ends the thread's wait whatever it waits for: a shutdown must not wait for the interval.
    pub fn interrupt(&self) {
        self.enough.notify_one();
    }

    /// Whether the thread is waiting for appends, for tests that must act exactly then.
    #[cfg(test)]
    pub fn is_waited_for(&self) -> bool {
        self.wanted.load(Ordering::SeqCst) != NOT_WAITING
    }

    /// Records that the thread took `count` appends off the channel.
    pub fn taken(&self, count: usize) {
        let count = isize::try_from(count).unwrap_or(isize::MAX);
        self.queued.fetch_sub(count, Ordering::SeqCst);
    }

    /// Waits (inside the store thread's clock runtime) until at least `more` appends are
    /// queued, or `until` passes. Returns at once if they already are.
    pub async fn wait_for(&self, more: usize, until: Instant) {
        let more = isize::try_from(more).unwrap_or(isize::MAX);
        self.wanted.store(more, Ordering::SeqCst);
        if self.queued.load(Ordering::SeqCst) < more {
            // A permit left by an earlier wake-up ends this wait early: harmless, the caller
            // looks at the channel and waits again.
            let _ = tokio::time::timeout_at(until, self.enough.notified()).await;
        }
        self.wanted.store(NOT_WAITING, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_wait_ends_when_enough_arrived_or_at_the_deadline() {
        let arrivals = Arc::new(Arrivals::default());
        let deadline = Instant::now() + Duration::from_secs(10);

        // Already there: no wait at all.
        arrivals.sent();
        arrivals.sent();
        arrivals.wait_for(2, deadline).await;
        assert!(Instant::now() < deadline);
        arrivals.taken(2);

        // Two more wanted: the first arrival does not end the wait, the second does.
        let waiting = tokio::spawn({
            let arrivals = arrivals.clone();
            async move {
                arrivals.wait_for(2, deadline).await;
                Instant::now()
            }
        });
        tokio::task::yield_now().await;
        arrivals.sent();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiting.is_finished(), "one of two is not enough");
        arrivals.sent();
        let woken = waiting.await.unwrap();
        assert!(woken < deadline);
        arrivals.taken(2);

        // Nothing arrives: the deadline ends it.
        arrivals.wait_for(1, deadline).await;
        assert_eq!(Instant::now(), deadline);
    }
}
