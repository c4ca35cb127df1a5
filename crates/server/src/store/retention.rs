//! Retention: forgetting history older than `history_max_age` and, per room or private
//! conversation, all but the newest `history_max_per_room` messages; and, while at it, the
//! messages of ended room lifetimes that reached the store late (`lifetimes.rs`).
//!
//! Runs on the store thread every `prune_interval` and on demand ([`super::Store::prune`]).

use palaver_proto::time::Timestamp;

use super::StoreError;
use super::lifetimes::sweep_history_floors;
use super::sqlite::{Database, bound_integer};

impl Database {
    /// Applies both limits and the remembered history floors in one transaction, as of `now`.
    /// Returns how many messages were deleted.
    pub(super) fn prune(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let transaction = self.connection.transaction()?;
        let mut deleted = sweep_history_floors(&transaction, self.schema_version, now)?;
        if let Some(max_age) = self.max_age {
            let max_age_millis = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
            let cutoff = now.0.saturating_sub(max_age_millis);
            deleted += transaction
                .prepare_cached("DELETE FROM messages WHERE time < ?1")?
                .execute([bound_integer(cutoff)])?;
        }
        if let Some(keep) = self.max_per_target {
            deleted += delete_all_but_newest(&transaction, keep)?;
        }
        transaction.commit()?;
        Ok(deleted as u64)
    }
}

/// Deletes, in every room and private conversation holding more than `keep` messages, all
/// but the newest `keep`.
fn delete_all_but_newest(
    connection: &rusqlite::Connection,
    keep: usize,
) -> Result<usize, StoreError> {
    let keep = bound_integer(keep as u64);
    // Finding the crowded targets walks the (target_key, id) index once; the deletes then
    // touch only those targets.
    let crowded: Vec<String> = {
        let mut select = connection.prepare_cached(
            "SELECT target_key FROM messages GROUP BY target_key HAVING COUNT(*) > ?1",
        )?;
        let keys = select.query_map([keep], |row| row.get(0))?;
        keys.collect::<Result<_, _>>()?
    };
    let mut delete = connection.prepare_cached(
        "DELETE FROM messages WHERE target_key = ?1 AND id NOT IN (
             SELECT id FROM messages WHERE target_key = ?1 ORDER BY id DESC LIMIT ?2
         )",
    )?;
    let mut deleted = 0;
    for key in crowded {
        deleted += delete.execute(rusqlite::params![key, keep])?;
    }
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
