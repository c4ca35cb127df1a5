//! Room lifetimes: forgetting the history of an unregistered room once its lifetime ended.
//!
//! The hub decides when a lifetime ends (the room's last member left while the server runs)
//! and hides the old history from the room's next lifetime by itself: every query reads from
//! the room's `history_floor` on. The store makes that history really gone. When told a
//! lifetime ended, it deletes the room's messages below the floor and remembers the floor in
//! `history_floors`, because a message stamped just before the room closed may reach the store
//! a moment after that delete; each prune deletes such late messages again, and so does the
//! next start-up.
//!
//! A floor only guards against those late messages, which arrive within moments of the close
//! (they are queued right after being stamped). So the table stays small: each prune forgets
//! the floors older than [`FLOOR_KEEP`] and all but the newest [`MAX_FLOORS`], and every floor
//! is applied and forgotten when the store opens, since nothing of the previous run can still
//! arrive then.

use std::time::Duration;

use palaver_proto::event::MessageId;
use palaver_proto::time::Timestamp;
use rusqlite::{Connection, params};

use super::StoreError;
use super::migrations::ROOM_LIFETIMES_VERSION;
use super::sqlite::{Database, bound_integer, signed};

/// How long a floor is remembered after its room's lifetime ended.
pub const FLOOR_KEEP: Duration = Duration::from_secs(3600);

/// The most floors a prune leaves; beyond it the oldest go first.
pub const MAX_FLOORS: usize = 10_000;

/// Deletes every message below its room's remembered floor: one index lookup per floor.
const APPLY_FLOORS: &str = "DELETE FROM messages WHERE id IN (
        SELECT messages.id FROM history_floors JOIN messages
            ON messages.target_key = history_floors.room_key
            AND messages.id < history_floors.floor
    )";

impl Database {
    /// Ends the lifetime of the room whose lookup key is `key`: in one transaction, deletes
    /// its messages below `floor` and remembers the floor (or raises it). Returns how many
    /// messages were deleted.
    pub(super) fn end_room_lifetime(
        &mut self,
        key: &str,
        floor: MessageId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let floor = signed(floor.0, "history floor")?;
        let transaction = self.connection.transaction()?;
        let deleted = transaction
            .prepare_cached("DELETE FROM messages WHERE target_key = ?1 AND id < ?2")?
            .execute(params![key, floor])?;
        transaction
            .prepare_cached(
                "INSERT INTO history_floors (room_key, floor, ended_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (room_key) DO UPDATE
                 SET floor = max(floor, excluded.floor), ended_at = excluded.ended_at",
            )?
            .execute(params![key, floor, bound_integer(now.0)])?;
        transaction.commit()?;
        Ok(deleted as u64)
    }

    /// At start-up: deletes every message below its room's floor and forgets every floor.
    /// Returns how many messages were deleted.
    pub(super) fn settle_history_floors(&mut self) -> Result<u64, StoreError> {
        if self.schema_version < ROOM_LIFETIMES_VERSION {
            return Ok(0);
        }
        let transaction = self.connection.transaction()?;
        let deleted = transaction.execute(APPLY_FLOORS, [])?;
        transaction.execute("DELETE FROM history_floors", [])?;
        transaction.commit()?;
        Ok(deleted as u64)
    }

    /// The lookup keys of the rooms with stored messages, in order. Room keys start with `#`,
    /// which no private conversation's key does (see `HistoryTarget::key`), so each step is one
    /// seek in the `(target_key, id)` index, however many messages a room has.
    pub(super) fn rooms_with_history(&self) -> Result<Vec<String>, StoreError> {
        let mut next = self.connection.prepare_cached(
            "SELECT MIN(target_key) FROM messages
             WHERE target_key > ?1 AND target_key >= '#' AND target_key < '$'",
        )?;
        let mut rooms = Vec::new();
        let mut after = String::new();
        while let Some(key) = next.query_row([&after], |row| row.get::<_, Option<String>>(0))? {
            rooms.push(key.clone());
            after = key;
        }
        Ok(rooms)
    }
}

/// Within a prune's transaction: deletes every message below its room's floor, then forgets
/// the floors older than [`FLOOR_KEEP`] as of `now` and those beyond [`MAX_FLOORS`]. Returns
/// how many messages were deleted.
pub(super) fn sweep_history_floors(
    connection: &Connection,
    schema_version: u32,
    now: Timestamp,
) -> Result<usize, StoreError> {
    if schema_version < ROOM_LIFETIMES_VERSION {
        return Ok(0);
    }
    let deleted = connection.prepare_cached(APPLY_FLOORS)?.execute([])?;
    let keep_millis = FLOOR_KEEP.as_millis() as u64;
    connection
        .prepare_cached("DELETE FROM history_floors WHERE ended_at < ?1")?
        .execute([bound_integer(now.0.saturating_sub(keep_millis))])?;
    forget_floors_beyond_the_cap(connection)?;
    Ok(deleted)
}

/// Keeps only the [`MAX_FLOORS`] newest floors.
fn forget_floors_beyond_the_cap(connection: &Connection) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "DELETE FROM history_floors WHERE room_key IN (
                 SELECT room_key FROM history_floors ORDER BY ended_at DESC LIMIT -1 OFFSET ?1
             )",
        )?
        .execute([bound_integer(MAX_FLOORS as u64)])?;
    Ok(())
}

/// What settling the floors at start-up deleted, for the log.
pub(super) fn log_settled(result: Result<u64, StoreError>) {
    match result {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "deleted history of ended room lifetimes"),
        Err(error) => tracing::warn!(%error, "deleting history of ended room lifetimes failed"),
    }
}
