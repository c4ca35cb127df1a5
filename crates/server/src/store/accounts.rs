//! Registered accounts: one row per account name, keyed by the folded name, holding the
//! password's hash (never the password).
//!
//! The store only keeps rows; the rules (valid names, acceptable passwords, hashing, rate
//! limiting) live in `crate::accounts`.

use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use rusqlite::OptionalExtension;

use super::StoreError;
use super::sqlite::{Database, signed, unsigned};

/// A registered account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// The name as registered (its case kept); lookups go by the folded name.
    pub name: String,
    /// The password's hash as a PHC string (`$argon2id$v=19$…`).
    pub password_hash: String,
    /// When the account was registered.
    pub created: Timestamp,
}

impl Database {
    /// Adds an account. Returns false, changing nothing, if an account with the same folded
    /// name exists.
    pub(super) fn create_account(
        &mut self,
        name: &str,
        password_hash: &str,
        created: Timestamp,
    ) -> Result<bool, StoreError> {
        // ON CONFLICT names the key so that any other constraint failure is still an error
        // (INSERT OR IGNORE would swallow those too).
        let inserted = self
            .connection
            .prepare_cached(
                "INSERT INTO accounts (name_key, name, password_hash, created)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name_key) DO NOTHING",
            )?
            .execute(rusqlite::params![
                fold(name),
                name,
                password_hash,
                signed(created.0, "account creation time")?,
            ])?;
        Ok(inserted == 1)
    }

    /// The account named `name` (any case), if registered.
    pub(super) fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = self
            .connection
            .prepare_cached(
                "SELECT name, password_hash, created FROM accounts WHERE name_key = ?1",
            )?
            .query_row([fold(name)], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
            .optional()?;
        row.map(|(name, password_hash, created)| {
            Ok(AccountRecord {
                name,
                password_hash,
                created: Timestamp(unsigned(created, "account creation time")?),
            })
        })
        .transpose()
    }

    /// Replaces the password hash of account `name` (any case). Returns false if there is no
    /// such account.
    pub(super) fn set_password_hash(
        &mut self,
        name: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let updated = self
            .connection
            .prepare_cached("UPDATE accounts SET password_hash = ?2 WHERE name_key = ?1")?
            .execute([fold(name).as_str(), password_hash])?;
        Ok(updated == 1)
    }
}
