//! Secrets the configuration holds as argon2id hashes — the `[[oper]]` passwords and the
//! `[[admin.token]]` secrets — and checking one the way a login is checked.
//!
//! The entries are shared by every clone, so that a reload replaces them for every holder at
//! once. A check is counted by the failed-login limiter under a key of the caller's (its own
//! key space) and the client's address, waits the limiter's slowdown, verifies on the blocking
//! pool, and verifies an unknown name against the dummy hash, so that it takes as long and gets
//! the same answer as a wrong secret. Secrets are never logged.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use super::{AccountError, Accounts, DUMMY_HASH};

/// An entry of the configuration with a hashed secret.
pub(super) trait SecretEntry: Clone {
    /// Its name as configured.
    fn name(&self) -> &str;
    /// The argon2id hash of its secret (a PHC string).
    fn secret_hash(&self) -> &str;
}

/// Configured entries, and the account machinery their secrets are checked with. Cheap to
/// clone.
#[derive(Clone)]
pub(super) struct ConfiguredSecrets<T> {
    /// Read-locked for one lookup, never across an `.await`.
    entries: Arc<RwLock<Arc<[T]>>>,
    accounts: Accounts,
}

impl<T: SecretEntry> ConfiguredSecrets<T> {
    pub fn new(entries: Vec<T>, accounts: Accounts) -> Self {
        Self {
            entries: Arc::new(RwLock::new(entries.into())),
            accounts,
        }
    }

    /// Replaces the entries (a reload): checks use the new ones from now on.
    pub fn replace(&self, entries: Vec<T>) {
        *self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = entries.into();
    }

    /// The entries' names, for `Debug`: never their hashes.
    pub fn names(&self) -> Vec<String> {
        self.entries()
            .iter()
            .map(|entry| entry.name().to_owned())
            .collect()
    }

    #[cfg(test)]
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    fn entries(&self) -> Arc<[T]> {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Checks `secret` for the entry `is_wanted` picks, on behalf of a client at `address`,
    /// counting the attempt under `key`. Returns the entry; an unknown name and a wrong
    /// secret are both [`AccountError::BadCredentials`], after the same work; an address that
    /// failed too often is refused without a check ([`AccountError::RateLimited`]).
    pub async fn check(
        &self,
        key: &str,
        address: IpAddr,
        secret: &str,
        is_wanted: impl Fn(&T) -> bool,
    ) -> Result<T, AccountError> {
        let attempt = self.accounts.begin_attempt(key, address)?;
        attempt.wait().await;
        let entry = self
            .entries()
            .iter()
            .find(|entry| is_wanted(entry))
            .cloned();
        let stored_hash = entry.as_ref().map_or(DUMMY_HASH, T::secret_hash);
        let matches = self.accounts.verify(secret, stored_hash.to_owned()).await?;
        match entry {
            Some(entry) if matches => {
                attempt.succeeded();
                Ok(entry)
            }
            _ => {
                attempt.failed();
                Err(AccountError::BadCredentials)
            }
        }
    }
}
