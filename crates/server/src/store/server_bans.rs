//! Server bans as stored, so that they survive restarts: one row per banned target (an
//! address range, a `nick!user@host` mask or `$a:account`, written as the hub prints it),
//! with its reason, who set it, when, and until when. The hub decides what a ban bars
//! (`hub/server_bans.rs`); expired rows are deleted when the bans are loaded.

use palaver_proto::time::Timestamp;
use rusqlite::params;

use super::StoreError;
use super::sqlite::{Database, signed, unsigned};

/// A server ban as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBanRecord {
    /// `address`, `mask` or `account`.
    pub kind: String,
    /// The banned target as the hub prints it; unique.
    pub target: String,
    pub reason: String,
    pub set_by: String,
    pub set_at: Timestamp,
    pub expires: Option<Timestamp>,
}

impl Database {
    /// Every ban that has not expired by `now`, in the order they were set (bans set in the
    /// same millisecond by insertion, which is the order the hub lists them in); expired ones
    /// are deleted.
    pub(super) fn server_bans(
        &mut self,
        now: Timestamp,
    ) -> Result<Vec<ServerBanRecord>, StoreError> {
        self.connection.execute(
            "DELETE FROM server_bans WHERE expires_at IS NOT NULL AND expires_at <= ?1",
            [signed(now.0, "time")?],
        )?;
        let mut select = self.connection.prepare_cached(
            "SELECT kind, target, reason, set_by, set_at, expires_at FROM server_bans
             ORDER BY set_at, rowid",
        )?;
        let mut rows = select.query([])?;
        let mut bans = Vec::new();
        while let Some(row) = rows.next()? {
            let expires: Option<i64> = row.get(5)?;
            bans.push(ServerBanRecord {
                kind: row.get(0)?,
                target: row.get(1)?,
                reason: row.get(2)?,
                set_by: row.get(3)?,
                set_at: Timestamp(unsigned(row.get(4)?, "ban time")?),
                expires: expires
                    .map(|expires| unsigned(expires, "ban expiry").map(Timestamp))
                    .transpose()?,
            });
        }
        Ok(bans)
    }

    /// Saves `ban`, replacing any ban on the same target.
    pub(super) fn save_server_ban(&mut self, ban: &ServerBanRecord) -> Result<(), StoreError> {
        let expires = ban
            .expires
            .map(|expires| signed(expires.0, "ban expiry"))
            .transpose()?;
        self.connection
            .prepare_cached(
                "INSERT OR REPLACE INTO server_bans
                 (target, kind, reason, set_by, set_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                ban.target,
                ban.kind,
                ban.reason,
                ban.set_by,
                signed(ban.set_at.0, "ban time")?,
                expires
            ])?;
        Ok(())
    }

    /// Deletes the ban on `target`; whether there was one.
    pub(super) fn delete_server_ban(&mut self, target: &str) -> Result<bool, StoreError> {
        let deleted = self
            .connection
            .execute("DELETE FROM server_bans WHERE target = ?1", [target])?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use crate::store::tests::TestBackend;

    on_both_backends!(bans_load_in_the_order_they_were_set_and_expired_ones_are_dropped);

    fn ban(target: &str, set_at: u64, expires: Option<u64>) -> ServerBanRecord {
        ServerBanRecord {
            kind: "mask".into(),
            target: target.into(),
            reason: String::new(),
            set_by: "warden".into(),
            set_at: Timestamp(set_at),
            expires: expires.map(Timestamp),
        }
    }

    async fn bans_load_in_the_order_they_were_set_and_expired_ones_are_dropped(
        backend: TestBackend,
    ) {
        let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
        // Set in the same millisecond, in the reverse of their alphabetical order.
        for target in ["zed!*@*", "amy!*@*"] {
            store.save_server_ban(ban(target, 5, None)).await.unwrap();
        }
        store
            .save_server_ban(ban("old!*@*", 1, Some(2)))
            .await
            .unwrap();
        store
            .save_server_ban(ban("early!*@*", 3, None))
            .await
            .unwrap();
        let targets: Vec<String> = store
            .server_bans()
            .await
            .unwrap()
            .into_iter()
            .map(|ban| ban.target)
            .collect();
        assert_eq!(targets, ["early!*@*", "zed!*@*", "amy!*@*"]);
    }
}
