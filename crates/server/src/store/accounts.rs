//! Registered accounts: one row per account name, keyed by the folded name, holding the
//! password's hash and SCRAM credentials (never the password).
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
    /// The SASL SCRAM-SHA-256 credentials derived from the same password, in RFC 5803's form
    /// (`SCRAM-SHA-256$4096:…`); `None` for an account registered before palaver stored
    /// them, until its next login with the password.
    pub scram_sha_256: Option<String>,
    /// When the account was registered.
    pub created: Timestamp,
    /// The email address given when registering, unverified; `None` if none was.
    pub email: Option<String>,
    /// An administrator's lock, if the account is locked: no login to it succeeds.
    pub locked: Option<AccountLock>,
}

/// An administrator's lock on an account (`POST /api/v1/accounts/{name}/lock`): while it
/// holds, every login to the account is refused; nothing else about the account changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLock {
    /// Why, in the administrator's words; shown to whoever logs in with the right password.
    pub reason: String,
    /// Who locked it: the administration token's name.
    pub by: String,
    pub at: Timestamp,
}

impl Database {
    /// Adds an account. Returns false, changing nothing, if an account with the same folded
    /// name exists.
    pub(super) fn create_account(
        &mut self,
        name: &str,
        secrets: &PasswordSecrets,
        email: Option<&str>,
        created: Timestamp,
    ) -> Result<bool, StoreError> {
        // ON CONFLICT names the key so that any other constraint failure is still an error
        // (INSERT OR IGNORE would swallow those too).
        let inserted = self
            .connection
            .prepare_cached(
                "INSERT INTO accounts (name_key, name, password_hash, scram_sha_256, created, email)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name_key) DO NOTHING",
            )?
            .execute(rusqlite::params![
                fold(name),
                name,
                secrets.password_hash,
                secrets.scram_sha_256,
                signed(created.0, "account creation time")?,
                email,
            ])?;
        Ok(inserted == 1)
    }

    /// The account named `name` (any case), if registered.
    pub(super) fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = self
            .connection
            .prepare_cached(
                "SELECT name, password_hash, scram_sha_256, created, email,
                        locked_at, locked_by, locked_reason
                 FROM accounts WHERE name_key = ?1",
            )?
            .query_row([fold(name)], account_row)
            .optional()?;
        row.map(StoredAccount::into_record).transpose()
    }

    /// Locks account `name` (any case) with `lock`, replacing any lock it had, or with `None`
    /// lifts its lock. Returns false if there is no such account.
    pub(super) fn set_account_lock(
        &mut self,
        name: &str,
        lock: Option<&AccountLock>,
    ) -> Result<bool, StoreError> {
        let locked_at = lock
            .map(|lock| signed(lock.at.0, "account lock time"))
            .transpose()?;
        let updated = self
            .connection
            .prepare_cached(
                "UPDATE accounts SET locked_at = ?2, locked_by = ?3, locked_reason = ?4
                 WHERE name_key = ?1",
            )?
            .execute(rusqlite::params![
                fold(name),
                locked_at,
                lock.map(|lock| lock.by.as_str()),
                lock.map(|lock| lock.reason.as_str()),
            ])?;
        Ok(updated == 1)
    }

    /// Replaces the password hash and SCRAM credentials of account `name` (any case), both in
    /// one statement. Returns false if there is no such account.
    pub(super) fn set_password(
        &mut self,
        name: &str,
        secrets: &PasswordSecrets,
    ) -> Result<bool, StoreError> {
        let updated = self
            .connection
            .prepare_cached(
                "UPDATE accounts SET password_hash = ?2, scram_sha_256 = ?3 WHERE name_key = ?1",
            )?
            .execute(rusqlite::params![
                fold(name),
                secrets.password_hash,
                secrets.scram_sha_256
            ])?;
        Ok(updated == 1)
    }

    /// Stores SCRAM credentials for account `name`, derived from the password whose hash is
    /// `password_hash`, if the account has none and its password is still that one (a
    /// password change since would make them another password's). Returns whether they were
    /// stored.
    pub(super) fn add_scram_credentials(
        &mut self,
        name: &str,
        password_hash: &str,
        scram_sha_256: &str,
    ) -> Result<bool, StoreError> {
        let updated = self
            .connection
            .prepare_cached(
                "UPDATE accounts SET scram_sha_256 = ?3
                 WHERE name_key = ?1 AND password_hash = ?2 AND scram_sha_256 IS NULL",
            )?
            .execute([fold(name).as_str(), password_hash, scram_sha_256])?;
        Ok(updated == 1)
    }
}

/// The columns `SELECT name, password_hash, scram_sha_256, created, email, locked_at,
/// locked_by, locked_reason` reads, before their checks.
pub(super) struct StoredAccount {
    name: String,
    password_hash: String,
    scram_sha_256: Option<String>,
    created: i64,
    email: Option<String>,
    locked_at: Option<i64>,
    locked_by: Option<String>,
    locked_reason: Option<String>,
}

/// Reads a row of those columns (for `query_row` and `query_map`).
pub(super) fn account_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredAccount> {
    Ok(StoredAccount {
        name: row.get(0)?,
        password_hash: row.get(1)?,
        scram_sha_256: row.get(2)?,
        created: row.get(3)?,
        email: row.get(4)?,
        locked_at: row.get(5)?,
        locked_by: row.get(6)?,
        locked_reason: row.get(7)?,
    })
}

impl StoredAccount {
    pub(super) fn into_record(self) -> Result<AccountRecord, StoreError> {
        let locked = match self.locked_at {
            Some(at) => Some(AccountLock {
                reason: self.locked_reason.unwrap_or_default(),
                by: self.locked_by.unwrap_or_default(),
                at: Timestamp(unsigned(at, "account lock time")?),
            }),
            None => None,
        };
        Ok(AccountRecord {
            name: self.name,
            password_hash: self.password_hash,
            scram_sha_256: self.scram_sha_256,
            created: Timestamp(unsigned(self.created, "account creation time")?),
            email: self.email,
            locked,
        })
    }
}

/// What an account keeps of its password: the argon2id hash (PHC string) that logins by
/// password are checked against, and the SCRAM-SHA-256 credentials (RFC 5803 form) derived
/// from the same password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSecrets {
    pub password_hash: String,
    pub scram_sha_256: String,
}
