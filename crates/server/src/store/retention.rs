//! Retention: forgetting history older than `history_max_age` and, per room or private
//! conversation, all but the newest `history_max_per_room` messages; and, while at it, the
//! messages of ended room lifetimes that reached the store late (`lifetimes.rs`).
//!
//! Runs on the store thread every `prune_interval` and on demand ([`super::Store::prune`]).
//!
//! A round of pruning goes in small steps, each its own transaction deleting at most
//! [`STEP_ROWS`] messages, and the store thread serves the requests that queued meanwhile
//! between two steps (`worker.rs`). Done in one transaction, a round that deletes tens of
//! thousands of messages (a busy server once its rooms are full: 600 a minute in each of 90
//! rooms) held the thread for seconds every minute: every commit waited, so every sender's
//! receipt came seconds late, and what waited with them (read buffers, replies, queued
//! messages) took more than ten megabytes at once.

use palaver_proto::time::Timestamp;
use rusqlite::OptionalExtension;

use super::StoreError;
use super::lifetimes::sweep_history_floors;
use super::sqlite::{Database, bound_integer};

/// The most messages one step deletes: about ten milliseconds of the store thread's time.
/// (Measured on 90 rooms of 10,600 messages each, trimmed to 10,000: steps of 200 took at
/// most 20 ms, steps of 1,000 up to half a second, the whole round about 2.5 s either way.)
const STEP_ROWS: usize = 200;

/// The most rooms and conversations one step looks at, so that thousands of small private
/// conversations, none over the limit, do not make one long step either.
const STEP_TARGETS: usize = 64;

/// A round of pruning under way: what is done, and where the next step starts.
#[derive(Debug)]
pub(super) struct PruneRound {
    /// The time the limits are applied as of, fixed for the round.
    now: Timestamp,
    phase: Phase,
    /// Messages deleted so far.
    deleted: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Apply the remembered history floors (one statement, rarely much work).
    Floors,
    /// Delete what is older than `history_max_age`, oldest first.
    Age,
    /// Trim every room and conversation to `history_max_per_room`, in key order; `after` is
    /// the last key finished (`None`: none yet).
    Crowded {
        after: Option<String>,
    },
    Done,
}

impl PruneRound {
    pub(super) fn new(now: Timestamp) -> Self {
        Self {
            now,
            phase: Phase::Floors,
            deleted: 0,
        }
    }

    pub(super) fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Messages deleted so far in this round.
    pub(super) fn deleted(&self) -> u64 {
        self.deleted
    }
}

impl Database {
    /// Applies both limits and the remembered history floors as of `now`, all at once (at
    /// start-up and on demand; the store thread's periodic rounds go step by step). Returns
    /// how many messages were deleted.
    pub(super) fn prune(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let mut round = PruneRound::new(now);
        while !round.is_done() {
            self.prune_step(&mut round)?;
        }
        Ok(round.deleted)
    }

    /// Does the next step of `round`, in one transaction: at most [`STEP_ROWS`] messages
    /// deleted and [`STEP_TARGETS`] targets looked at.
    pub(super) fn prune_step(&mut self, round: &mut PruneRound) -> Result<(), StoreError> {
        let limits = Limits {
            max_age: self.max_age,
            max_per_target: self.max_per_target,
            schema_version: self.schema_version,
        };
        let transaction = self.connection.transaction()?;
        let mut budget = STEP_ROWS;
        let mut targets = STEP_TARGETS;
        while budget > 0 && targets > 0 && !round.is_done() {
            if matches!(round.phase, Phase::Crowded { .. }) {
                targets -= 1;
            }
            let (deleted, next) = limits.prune_piece(&transaction, round, budget)?;
            budget = budget.saturating_sub(deleted);
            round.deleted += deleted as u64;
            round.phase = next;
        }
        transaction.commit()?;
        Ok(())
    }
}

/// What retention applies, copied out of the [`Database`] whose connection a step's
/// transaction holds.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_age: Option<std::time::Duration>,
    max_per_target: Option<usize>,
    schema_version: u32,
}

impl Limits {
    /// Does one piece of `round`'s current phase, deleting at most `budget` messages: how
    /// many it deleted, and the phase to go on with.
    fn prune_piece(
        &self,
        transaction: &rusqlite::Transaction<'_>,
        round: &PruneRound,
        budget: usize,
    ) -> Result<(usize, Phase), StoreError> {
        let crowded_from_the_start = Phase::Crowded { after: None };
        Ok(match (&round.phase, self.max_age, self.max_per_target) {
            (Phase::Floors, _, _) => {
                let deleted = sweep_history_floors(transaction, self.schema_version, round.now)?;
                (deleted, Phase::Age)
            }
            (Phase::Age, None, _) => (0, crowded_from_the_start),
            (Phase::Age, Some(max_age), _) => {
                let max_age_millis = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
                let cutoff = round.now.0.saturating_sub(max_age_millis);
                let deleted = delete_older_than(transaction, cutoff, budget)?;
                // All of them gone, or more to come next step.
                let next = if deleted < budget {
                    crowded_from_the_start
                } else {
                    Phase::Age
                };
                (deleted, next)
            }
            (Phase::Crowded { .. }, _, None) | (Phase::Done, _, _) => (0, Phase::Done),
            (Phase::Crowded { after }, _, Some(keep)) => {
                match next_target(transaction, after.as_deref())? {
                    None => (0, Phase::Done),
                    Some(target) => {
                        let deleted = trim_target(transaction, &target, keep, budget)?;
                        // A target with more to trim than this step could take is looked at
                        // again next step.
                        let after = if deleted < budget {
                            Some(target)
                        } else {
                            after.clone()
                        };
                        (deleted, Phase::Crowded { after })
                    }
                }
            }
        })
    }
}

/// Deletes up to `limit` of the messages older than `cutoff` (milliseconds), oldest first.
fn delete_older_than(
    connection: &rusqlite::Connection,
    cutoff: u64,
    limit: usize,
) -> Result<usize, StoreError> {
    let deleted = connection
        .prepare_cached(
            "DELETE FROM messages WHERE id IN (
                 SELECT id FROM messages WHERE time < ?1 ORDER BY time LIMIT ?2
             )",
        )?
        .execute(rusqlite::params![
            bound_integer(cutoff),
            bound_integer(limit as u64)
        ])?;
    Ok(deleted)
}

/// The first room or conversation key after `after` (the first of all with `None`): one
/// seek in the `(target_key, id)` index, however many messages each target has.
fn next_target(
    connection: &rusqlite::Connection,
    after: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let target = match after {
        None => connection
            .prepare_cached("SELECT target_key FROM messages ORDER BY target_key LIMIT 1")?
            .query_row([], |row| row.get(0))
            .optional()?,
        Some(after) => connection
            .prepare_cached(
                "SELECT target_key FROM messages WHERE target_key > ?1
                 ORDER BY target_key LIMIT 1",
            )?
            .query_row([after], |row| row.get(0))
            .optional()?,
    };
    Ok(target)
}

/// Deletes up to `limit` of the messages of `target` beyond its newest `keep`, oldest first.
fn trim_target(
    connection: &rusqlite::Connection,
    target: &str,
    keep: usize,
    limit: usize,
) -> Result<usize, StoreError> {
    // The newest message to go: the one after the `keep` newest, found by walking `keep`
    // entries of the index; none if the target has no more than `keep`.
    let newest_to_go: Option<i64> = connection
        .prepare_cached(
            "SELECT id FROM messages WHERE target_key = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
        )?
        .query_row(
            rusqlite::params![target, bound_integer(keep as u64)],
            |row| row.get(0),
        )
        .optional()?;
    let Some(newest_to_go) = newest_to_go else {
        return Ok(0);
    };
    let deleted = connection
        .prepare_cached(
            "DELETE FROM messages WHERE id IN (
                 SELECT id FROM messages WHERE target_key = ?1 AND id <= ?2 ORDER BY id LIMIT ?3
             )",
        )?
        .execute(rusqlite::params![
            target,
            newest_to_go,
            bound_integer(limit as u64)
        ])?;
    Ok(deleted)
}

/// How much was pruned, for the log line. A helper so the thread's loop stays short.
pub(super) fn log_pruned(result: Result<u64, StoreError>) {
    match result {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "pruned old history"),
        Err(error) => tracing::warn!(%error, "pruning history failed"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::StoreConfig;
    use crate::store::migrations::latest_version;
    use crate::store::tests::{config_at, room_message};

    /// Three rooms over the limit and one under it, and messages past the age limit: a round
    /// goes in steps none of which deletes more than [`STEP_ROWS`], and ends with what one
    /// full prune leaves.
    #[test]
    fn a_round_goes_in_bounded_steps_and_ends_where_a_full_prune_does() {
        let now = Timestamp(10_000_000);
        let keep = 100;
        let messages: Vec<_> = (1..=2_000u64)
            .map(|id| {
                // Every fourth room message is older than the age limit; `#quiet` stays small.
                let room = ["#a", "#b", "#c", "#a"][(id % 4) as usize];
                let room = if id % 50 == 0 { "#quiet" } else { room };
                let time = if id <= 600 { 1 } else { now.0 - 1 };
                room_message(id, time, room, "x")
            })
            .collect();
        let open = |directory: &tempfile::TempDir| {
            let config = StoreConfig {
                history_max_age: Some(Duration::from_secs(3_600)),
                history_max_per_room: Some(keep),
                ..config_at(directory)
            };
            let (mut database, _) = Database::open(&config, latest_version()).expect("open");
            database.append_batch(&messages).expect("append");
            database
        };

        let whole = tempfile::tempdir().expect("temp dir");
        let mut all_at_once = open(&whole);
        let deleted_at_once = all_at_once.prune(now).expect("prune");

        let stepped = tempfile::tempdir().expect("temp dir");
        let mut database = open(&stepped);
        let mut round = PruneRound::new(now);
        let mut steps = 0;
        while !round.is_done() {
            let before = database.count().expect("count");
            database.prune_step(&mut round).expect("step");
            let deleted = before - database.count().expect("count");
            assert!(
                deleted <= STEP_ROWS as u64,
                "step {steps} deleted {deleted}"
            );
            steps += 1;
        }
        assert_eq!(round.deleted(), deleted_at_once);
        assert!(steps > 3, "{steps} steps");
        // 600 old ones go by age; of the rest, each room keeps its newest `keep`.
        assert_eq!(
            database.count().expect("count"),
            3 * keep as u64 + (601..=2_000).filter(|id| id % 50 == 0).count() as u64
        );
        assert_eq!(
            database.count().expect("count"),
            all_at_once.count().expect("count")
        );
        for room in ["#a", "#b", "#c", "#quiet"] {
            let ids = |database: &Database| {
                database
                    .connection
                    .prepare("SELECT id FROM messages WHERE target_key = ?1 ORDER BY id")
                    .expect("prepare")
                    .query_map(
                        [crate::store::HistoryTarget::Room(room.into()).key()],
                        |row| row.get::<_, i64>(0),
                    )
                    .expect("query")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("rows")
            };
            assert_eq!(ids(&database), ids(&all_at_once), "{room}");
        }
    }
}
