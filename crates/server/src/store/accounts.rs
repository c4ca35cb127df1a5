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
                "SELECT name, password_hash, scram_sha_256, created, email FROM accounts
                 WHERE name_key = ?1",
            )?
            .query_row([fold(name)], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, Option<String>>(4)?,
                ))
            })
            .optional()?;
        row.map(|(name, password_hash, scram_sha_256, created, email)| {
            Ok(AccountRecord {
                name,
                password_hash,
                scram_sha_256,
                created: Timestamp(unsigned(created, "account creation time")?),
                email,
            })
        })
        .transpose()
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

/// What an account keeps of its password: the argon2id hash (PHC string) that logins by
/// password are checked against, and the SCRAM-SHA-256 credentials (RFC 5803 form) derived
/// from the same password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSecrets {
    pub password_hash: String,
    pub scram_sha_256: String,
}
