//! Following a feed (docs/CLUSTER.md, "Feeds"): what a node does with each entry of a feed it
//! follows, by the entry's sequence number, whether it came live (pub/sub) or from the feed's
//! stream (catch-up). Pure: the node's applier reads the entries and applies what this says.
//!
//! Each feed's sequence is contiguous. The applier applies entries in sequence order, each
//! once: an entry at or below the last one applied is a duplicate and dropped; the next one
//! is applied, and with it whatever had arrived after it; one further on is held, and the gap
//! before it must be read from the stream, whose entries are offered the same way, before
//! anything after the gap is applied.
//!
//! Used by the appliers of the state feed and of the nodes' inboxes (`applier.rs`); rooms'
//! message feeds will use it too (docs/CLUSTER.md, milestone 5).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// One feed as a node follows it.
#[derive(Debug)]
pub struct Follower<E> {
    /// The sequence number of the last entry applied.
    applied: u64,
    /// Entries that arrived past a gap, by sequence number, until the gap is filled.
    held: BTreeMap<u64, E>,
}

/// What to do after an entry was offered.
#[derive(Debug, PartialEq, Eq)]
pub enum Offered<E> {
    /// Apply these, in this order: the entry offered and the held ones that follow it.
    Apply(Vec<E>),
    /// Applied or held already: drop it.
    Duplicate,
    /// Held, past a gap: read these sequence numbers from the feed's stream and offer them.
    Gap(RangeInclusive<u64>),
}

impl<E> Follower<E> {
    /// Follows a feed from the entry after `applied`: a node's cursor, or where a room's
    /// message sequence stood when the node's first member joined it.
    pub fn after(applied: u64) -> Self {
        Self {
            applied,
            held: BTreeMap::new(),
        }
    }

    /// The sequence number of the last entry applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Offers the entry numbered `sequence`, live or from the stream.
    pub fn offer(&mut self, sequence: u64, entry: E) -> Offered<E> {
        if sequence <= self.applied || self.held.contains_key(&sequence) {
            return Offered::Duplicate;
        }
        if sequence > self.applied + 1 {
            self.held.insert(sequence, entry);
            let first_held = self
                .held
                .first_key_value()
                .map_or(sequence, |(&first, _)| first);
            return Offered::Gap(self.applied + 1..=first_held - 1);
        }
        let mut ready = vec![entry];
        self.applied = sequence;
        while let Some(next) = self.held.remove(&(self.applied + 1)) {
            ready.push(next);
            self.applied += 1;
        }
        Offered::Apply(ready)
    }

    /// The sequence numbers to read from the stream before the held entries can be applied:
    /// from the one after the last applied to the one before the first held.
    pub fn missing(&self) -> Option<RangeInclusive<u64>> {
        let (&first_held, _) = self.held.first_key_value()?;
        Some(self.applied + 1..=first_held - 1)
    }

    /// Whether a stream whose entries run from `first` to `last` (none: empty) can fill what
    /// this follower lacks. It cannot when the stream ends below what was applied (Redis lost
    /// writes: a failover, or a restart without `appendfsync always`) or was trimmed past the
    /// next entry (the node fell further behind than `feed_window`): the node must resync
    /// from the replica's source instead (docs/CLUSTER.md, "Redis restart").
    pub fn can_catch_up_from(&self, stream: Option<RangeInclusive<u64>>) -> bool {
        match stream {
            None => self.applied == 0,
            Some(range) => {
                *range.end() >= self.applied && *range.start() <= self.applied.saturating_add(1)
            }
        }
    }
}

/// Entries caught up from several feeds, each in its own order, merged into the order the node
/// would have heard them in live: by event id, which Redis gives every event in the order it
/// ran them.
pub fn merge_by_id<E>(feeds: impl IntoIterator<Item = Vec<(u64, E)>>) -> Vec<E> {
    let mut all: Vec<(u64, E)> = feeds.into_iter().flatten().collect();
    all.sort_by_key(|(id, _)| *id);
    all.into_iter().map(|(_, entry)| entry).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_next_entry_is_applied_a_later_one_waits_for_its_gap() {
        let mut feed = Follower::after(41);
        assert_eq!(feed.offer(42, "a"), Offered::Apply(vec!["a"]));
        assert_eq!(feed.offer(42, "a"), Offered::Duplicate);
        assert_eq!(feed.offer(45, "d"), Offered::Gap(43..=44));
        assert_eq!(feed.offer(45, "d"), Offered::Duplicate);
        assert_eq!(feed.offer(44, "c"), Offered::Gap(43..=43));
        assert_eq!(feed.offer(43, "b"), Offered::Apply(vec!["b", "c", "d"]));
        assert_eq!(feed.applied(), 45);
        assert_eq!(feed.missing(), None);
    }

    #[test]
    fn a_stream_that_lost_writes_or_was_trimmed_cannot_fill_a_gap() {
        let feed: Follower<()> = Follower::after(10);
        assert!(feed.can_catch_up_from(Some(1..=10)));
        assert!(feed.can_catch_up_from(Some(11..=20)));
        assert!(feed.can_catch_up_from(Some(5..=30)));
        assert!(!feed.can_catch_up_from(Some(1..=9)), "lost writes");
        assert!(!feed.can_catch_up_from(Some(12..=30)), "trimmed past 11");
        assert!(!feed.can_catch_up_from(None));
        assert!(Follower::<()>::after(0).can_catch_up_from(None));
    }

    #[test]
    fn catch_ups_merge_into_the_order_heard_live() {
        let room = vec![(3, "room 3"), (7, "room 7")];
        let state = vec![(1, "state 1"), (5, "state 5"), (8, "state 8")];
        let inbox = vec![(2, "inbox 2")];
        assert_eq!(
            merge_by_id([room, state, inbox]),
            [
                "state 1", "inbox 2", "room 3", "state 5", "room 7", "state 8"
            ]
        );
    }

    proptest! {
        /// Whatever arrives live — some entries, in any order, some twice — with every gap
        /// filled from the stream as it is reported and the rest read at the end, each entry
        /// is applied exactly once, in sequence order.
        #[test]
        fn every_entry_is_applied_once_in_order(
            count in 1u64..200,
            live in proptest::collection::vec(1u64..200, 0..400),
        ) {
            fn take(offered: Offered<u64>, feed: &mut Follower<u64>, applied: &mut Vec<u64>) {
                match offered {
                    Offered::Apply(entries) => applied.extend(entries),
                    Offered::Duplicate => {}
                    Offered::Gap(range) => {
                        // Read the gap from the stream, as the applier does.
                        for sequence in range {
                            if let Offered::Apply(entries) = feed.offer(sequence, sequence) {
                                applied.extend(entries);
                            }
                        }
                    }
                }
            }
            let mut feed = Follower::after(0);
            let mut applied = Vec::new();
            for sequence in live.into_iter().filter(|&sequence| sequence <= count) {
                let offered = feed.offer(sequence, sequence);
                take(offered, &mut feed, &mut applied);
            }
            // The rest of the stream, from the cursor on.
            for sequence in feed.applied() + 1..=count {
                let offered = feed.offer(sequence, sequence);
                take(offered, &mut feed, &mut applied);
            }
            prop_assert_eq!(applied, (1..=count).collect::<Vec<_>>());
            prop_assert_eq!(feed.missing(), None);
        }
    }
}
