//! Copying a single node's SQLite store into an empty Redis store (`palaver cluster import`,
//! docs/CLUSTER.md): every message with its id and time, every account with its password
//! hash, SCRAM credentials and lock, client certificates in the order they were added, read
//! markers, registered rooms and server bans. The SQLite store is only read; the Redis one
//! must hold nothing yet under its prefix, so an import never mixes two networks' data.

use palaver_proto::event::MessageId;
use palaver_proto::time::Timestamp;

use super::accounts::account_row;
use super::sqlite::{Database, MESSAGE_COLUMNS, bound_integer, read_messages, unsigned};
use super::{AccountRecord, Backend, PasswordSecrets, Store, StoreError};

/// How many messages are read, and then appended, at a time.
const PAGE: usize = 2000;

/// What an import copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    pub messages: u64,
    pub accounts: u64,
    pub certificates: u64,
    pub read_markers: u64,
    pub registered_rooms: u64,
    pub server_bans: u64,
}

impl std::fmt::Display for Imported {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counted = |count: u64, thing: &str| match count {
            1 => format!("1 {thing}"),
            _ => format!("{count} {thing}s"),
        };
        write!(
            formatter,
            "{}, {}, {}, {}, {}, {}",
            counted(self.messages, "message"),
            counted(self.accounts, "account"),
            counted(self.certificates, "client certificate"),
            counted(self.read_markers, "read marker"),
            counted(self.registered_rooms, "registered room"),
            counted(self.server_bans, "server ban")
        )
    }
}

/// Copies everything `source` (an SQLite store) holds into `target` (an empty Redis store).
/// Each write is durable when this returns.
pub async fn import(source: &Store, target: &Store) -> Result<Imported, StoreError> {
    let Backend::Redis(redis) = &target.backend else {
        return Err(StoreError::Database(
            "the import's target must be Redis".into(),
        ));
    };
    if source.is_redis() {
        return Err(StoreError::Database(
            "the import's source must be an SQLite database".into(),
        ));
    }
    if !redis.is_empty().await? {
        return Err(StoreError::Database(format!(
            "Redis already holds palaver data under the key prefix {}; import into an empty one \
             (or another prefix)",
            redis.prefix()
        )));
    }
    let mut imported = Imported::default();

    let mut after = MessageId(0);
    loop {
        let page = source
            .call(move |database| database.messages_after(after))
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let mut commits = Vec::with_capacity(page.len());
        for message in page {
            commits.push(target.append(message).await?);
        }
        for commit in commits {
            commit.await?;
            imported.messages += 1;
        }
    }

    for account in source.call(Database::all_accounts).await? {
        let secrets = PasswordSecrets {
            password_hash: account.password_hash,
            // An account from before SCRAM credentials were kept gets them at its next login
            // with its password, on Redis as on SQLite.
            scram_sha_256: account.scram_sha_256.unwrap_or_default(),
        };
        target
            .create_account(&account.name, secrets, account.email, account.created)
            .await?;
        if account.locked.is_some() {
            target
                .set_account_lock(&account.name, account.locked)
                .await?;
        }
        imported.accounts += 1;
    }
    for (account, fingerprint) in source.call(Database::all_certificates).await? {
        target.add_certificate(&account, &fingerprint).await?;
        imported.certificates += 1;
    }
    for (account, target_name, marker) in source.call(Database::all_read_markers).await? {
        target
            .set_read_marker(&account, &target_name, marker)
            .await?;
        imported.read_markers += 1;
    }
    for room in source.registered_rooms().await? {
        target.register_room(room).await?;
        imported.registered_rooms += 1;
    }
    for ban in source.server_bans().await? {
        target.save_server_ban(ban).await?;
        imported.server_bans += 1;
    }
    Ok(imported)
}

impl Database {
    /// Up to [`PAGE`] messages with ids above `after`, oldest first.
    fn messages_after(
        &mut self,
        after: MessageId,
    ) -> Result<Vec<super::StoredMessage>, StoreError> {
        let sql =
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2");
        let mut select = self.connection.prepare_cached(&sql)?;
        read_messages(
            &mut select,
            rusqlite::params![bound_integer(after.0), PAGE as i64],
        )
    }

    /// Every account, in the order registered.
    fn all_accounts(&mut self) -> Result<Vec<AccountRecord>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT name, password_hash, scram_sha_256, created, email,
                    locked_at, locked_by, locked_reason
             FROM accounts ORDER BY created, name_key",
        )?;
        let rows = select.query_map([], account_row)?;
        rows.map(|row| row?.into_record()).collect()
    }

    /// Every client certificate as (folded account, fingerprint), in the order added.
    fn all_certificates(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT account_key, fingerprint FROM account_certificates ORDER BY added, rowid",
        )?;
        let rows = select.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every read marker as (folded account, target as last named, marker), oldest first so
    /// that the newest are kept if the target has a lower limit.
    fn all_read_markers(&mut self) -> Result<Vec<(String, String, Timestamp)>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT account_key, target_name, marker FROM read_markers ORDER BY marker",
        )?;
        let mut rows = select.query([])?;
        let mut markers = Vec::new();
        while let Some(row) = rows.next()? {
            let marker = Timestamp(unsigned(row.get(2)?, "read marker")?);
            markers.push((row.get(0)?, row.get(1)?, marker));
        }
        Ok(markers)
    }
}
