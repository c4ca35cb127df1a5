//! Read markers (IRCv3 draft/read-marker): how far each account has read each target, a
//! room or a nick's private conversation. A marker only ever moves forward, and an account
//! keeps at most [`MAX_READ_MARKERS`] of them, its oldest going first.
//!
//! Markers belong to an account and are told only to its own sessions (the hub's
//! `share_read_marker`); a guest's live with its connection and never reach the store.

use std::collections::HashMap;

use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use rusqlite::OptionalExtension;

use super::StoreError;
use super::sqlite::{Database, signed, unsigned};

/// The most read markers kept per account (and per guest connection): a user in the most
/// rooms allowed by default has room for as many private conversations besides. Past it, the
/// oldest marker goes: its target has been quiet the longest.
pub const MAX_READ_MARKERS: usize = 200;

impl Database {
    /// The marker of `account` for `target` (any case), if it has one.
    pub(super) fn read_marker(
        &self,
        account: &str,
        target: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        let marker: Option<i64> = self
            .connection
            .prepare_cached(
                "SELECT marker FROM read_markers WHERE account_key = ?1 AND target_key = ?2",
            )?
            .query_row([fold(account), fold(target)], |row| row.get(0))
            .optional()?;
        marker
            .map(|marker| unsigned(marker, "read marker").map(Timestamp))
            .transpose()
    }

    /// The markers of `account` for those of `targets` it has one for, by folded target.
    pub(super) fn read_markers(
        &self,
        account: &str,
        targets: &[String],
    ) -> Result<HashMap<String, Timestamp>, StoreError> {
        let mut markers = HashMap::new();
        for target in targets {
            if let Some(marker) = self.read_marker(account, target)? {
                markers.insert(fold(target), marker);
            }
        }
        Ok(markers)
    }

    /// Every room marker of `account`, newest first, each with the room's name as last set.
    pub(super) fn room_read_markers(
        &self,
        account: &str,
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT target_name, marker FROM read_markers
             WHERE account_key = ?1 AND target_key >= '#' AND target_key < '$'
             ORDER BY marker DESC",
        )?;
        let mut rows = select.query([fold(account)])?;
        let mut markers = Vec::new();
        while let Some(row) = rows.next()? {
            let marker = unsigned(row.get(1)?, "read marker")?;
            markers.push((row.get(0)?, Timestamp(marker)));
        }
        Ok(markers)
    }

    /// Moves the marker of `account` for `target` forward to `marker` (never back), dropping
    /// the account's oldest markers beyond [`MAX_READ_MARKERS`]. Returns the marker now stored
    /// and whether it changed.
    pub(super) fn set_read_marker(
        &mut self,
        account: &str,
        target: &str,
        marker: Timestamp,
    ) -> Result<(Timestamp, bool), StoreError> {
        let account = fold(account);
        let transaction = self.connection.transaction()?;
        let changed = transaction
            .prepare_cached(
                "INSERT INTO read_markers (account_key, target_key, target_name, marker)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_key, target_key) DO UPDATE
                 SET target_name = excluded.target_name, marker = excluded.marker
                 WHERE excluded.marker > read_markers.marker",
            )?
            .execute(rusqlite::params![
                account,
                fold(target),
                target,
                signed(marker.0, "read marker")?
            ])?
            > 0;
        if changed {
            transaction
                .prepare_cached(
                    "DELETE FROM read_markers WHERE account_key = ?1 AND target_key IN (
                         SELECT target_key FROM read_markers WHERE account_key = ?1
                         ORDER BY marker DESC LIMIT -1 OFFSET ?2)",
                )?
                .execute(rusqlite::params![account, MAX_READ_MARKERS as i64])?;
        }
        let stored: i64 = transaction
            .prepare_cached(
                "SELECT marker FROM read_markers WHERE account_key = ?1 AND target_key = ?2",
            )?
            .query_row([&account, &fold(target)], |row| row.get(0))
            .optional()?
            // Dropped at once: it was older than every one kept.
            .unwrap_or(signed(marker.0, "read marker")?);
        transaction.commit()?;
        Ok((Timestamp(unsigned(stored, "read marker")?), changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use crate::store::tests::{TestBackend, config_at, open};

    on_both_backends!(a_marker_only_moves_forward);

    async fn a_marker_only_moves_forward(backend: TestBackend) {
        let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
        let set = |target: &'static str, marker: u64| {
            let store = store.clone();
            async move {
                store
                    .set_read_marker("Alice", target, Timestamp(marker))
                    .await
                    .expect("set")
            }
        };
        assert_eq!(set("#Rust", 100).await, (Timestamp(100), true));
        assert_eq!(set("#rust", 50).await, (Timestamp(100), false));
        assert_eq!(set("#rust", 100).await, (Timestamp(100), false));
        assert_eq!(set("#RUST", 150).await, (Timestamp(150), true));
        assert_eq!(set("bob", 70).await, (Timestamp(70), true));
        let read = store.read_marker("alice", "#rust").await.expect("get");
        assert_eq!(read, Some(Timestamp(150)));
        assert_eq!(store.read_marker("bob", "#rust").await.expect("get"), None);
        let markers = store
            .read_markers("ALICE", vec!["#Rust".into(), "#none".into()])
            .await
            .expect("get");
        assert_eq!(markers, HashMap::from([("#rust".into(), Timestamp(150))]));
        // Rooms only, by the spelling last set, newest first.
        assert_eq!(
            store.room_read_markers("alice").await.expect("rooms"),
            [("#RUST".to_owned(), Timestamp(150))]
        );
    }

    #[tokio::test]
    async fn an_account_keeps_its_newest_markers_and_they_survive_a_restart() {
        let directory = tempfile::tempdir().expect("temp dir");
        let store = open(config_at(&directory));
        for number in 0..MAX_READ_MARKERS as u64 + 1 {
            let target = format!("#room{number}");
            store
                .set_read_marker("alice", &target, Timestamp(1_000 + number))
                .await
                .expect("set");
        }
        // Older than every one kept: set, and gone at once.
        let dropped = store
            .set_read_marker("alice", "#old", Timestamp(1))
            .await
            .expect("set");
        assert_eq!(dropped, (Timestamp(1), true));
        store.shut_down().await.expect("shut down");
        let store = open(config_at(&directory));
        let kept = store.room_read_markers("alice").await.expect("rooms");
        assert_eq!(kept.len(), MAX_READ_MARKERS);
        assert_eq!(kept[0], ("#room200".to_owned(), Timestamp(1_200)));
        assert_eq!(kept.last(), Some(&("#room1".to_owned(), Timestamp(1_001))));
        assert_eq!(store.read_marker("alice", "#old").await.expect("get"), None);
    }
}
