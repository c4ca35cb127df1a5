//! The administration API's bearer tokens: the `[[admin.token]]` entries of the
//! configuration, each a name, the argon2id hash of its secret (from `palaver hash-password`)
//! and a scope, and checking the token a request presents against them.
//!
//! A request presents `NAME:SECRET`. The name picks the one entry whose hash is verified, so a
//! check costs one hash however many tokens are configured. A check is made like an `OPER`
//! (see `operators.rs`): on the blocking pool, counted by the failed-login limiter under the
//! token's name (a key space of its own) and the client's address, and an unknown name is
//! verified against the dummy hash so that it answers as late as a wrong secret. Secrets are
//! never logged.

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::operators::is_argon2id;
use super::{AccountError, Accounts, DUMMY_HASH};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The read endpoints only.
    Read,
    /// Every endpoint: reads and writes.
    Write,
}

/// One `[[admin.token]]` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTokenEntry {
    /// The part of the token before its colon, and who the audit log says acted.
    pub name: String,
    /// The argon2id hash of the secret, as a PHC string; the secret itself is never configured.
    pub secret_hash: String,
    pub scope: Scope,
}

impl AdminTokenEntry {
    /// Why this entry cannot be used, if it cannot: checked when the configuration is read.
    pub fn problem(&self) -> Option<String> {
        let name = &self.name;
        if name.is_empty()
            || name.contains(':')
            || name.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Some(format!(
                "[[admin.token]] name {name:?} must be one word without spaces, colons or \
                 control characters"
            ));
        }
        (!is_argon2id(&self.secret_hash)).then(|| {
            format!(
                "[[admin.token]] {name}: secret_hash must be an argon2id hash as `palaver \
                 hash-password` prints it ($argon2id$v=19$…)"
            )
        })
    }
}

/// Who made an API request, once its token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name as configured.
    pub name: Arc<str>,
    pub scope: Scope,
}

/// The configured tokens, and the account machinery their secrets are checked with. Cheap to
/// clone; every clone sees a reload.
#[derive(Clone)]
pub struct AdminTokens {
    /// Shared by every clone, so that a reload changes the tokens for every request to come.
    /// Read-locked for one lookup, never across an `.await`.
    entries: Arc<std::sync::RwLock<Arc<[AdminTokenEntry]>>>,
    accounts: Accounts,
}

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.entries();
        let names: Vec<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
        formatter
            .debug_struct("AdminTokens")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

impl AdminTokens {
    pub fn new(entries: Vec<AdminTokenEntry>, accounts: Accounts) -> Self {
        Self {
            entries: Arc::new(std::sync::RwLock::new(entries.into())),
            accounts,
        }
    }

    /// Replaces the entries (a reload): requests are checked against the new ones from now on.
    pub fn replace(&self, entries: Vec<AdminTokenEntry>) {
        *self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = entries.into();
    }

    fn entries(&self) -> Arc<[AdminTokenEntry]> {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Checks `token` (`NAME:SECRET`) presented by a client at `address`. An unknown name, a
    /// wrong secret and a token without a colon are all [`AccountError::BadCredentials`]; an
    /// address that failed too often is refused without a check
    /// ([`AccountError::RateLimited`]).
    pub async fn check(&self, token: &str, address: IpAddr) -> Result<Caller, AccountError> {
        let (name, secret) = token.split_once(':').unwrap_or((token, ""));
        // A space never occurs in an account name, so this key is never an account's, and
        // "admin " never starts an operator's key.
        let key = format!("admin {name}");
        let attempt = match self.accounts.begin_attempt(&key, address) {
            Ok(attempt) => attempt,
            Err(refused) => {
                tracing::warn!(token = name, %address, "admin API refused: too many failures");
                return Err(refused);
            }
        };
        attempt.wait().await;
        let entries = self.entries();
        let entry = entries.iter().find(|entry| entry.name == name);
        let stored_hash = entry.map_or(DUMMY_HASH, |entry| &entry.secret_hash);
        let matches = self.accounts.verify(secret, stored_hash.to_owned()).await?;
        match entry {
            Some(entry) if matches => {
                attempt.succeeded();
                Ok(Caller {
                    name: entry.name.as_str().into(),
                    scope: entry.scope,
                })
            }
            _ => {
                attempt.failed();
                tracing::warn!(token = name, %address, "admin API: wrong token");
                Err(AccountError::BadCredentials)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::accounts::{LoginLimits, hash_password};
    use crate::store::{Store, StoreConfig};

    fn tokens(entries: Vec<AdminTokenEntry>) -> AdminTokens {
        let store = Store::open(StoreConfig::new(":memory:"))
            .expect("open the store")
            .store;
        AdminTokens::new(
            entries,
            Accounts::new(store, LoginLimits::default(), Default::default()),
        )
    }

    fn entry(name: &str, secret: &str, scope: Scope) -> AdminTokenEntry {
        AdminTokenEntry {
            name: name.into(),
            secret_hash: hash_password(secret).expect("hash"),
            scope,
        }
    }

    const HERE: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn a_token_is_its_name_and_secret() {
        let tokens = tokens(vec![entry("dashboard", "s3cret", Scope::Read)]);
        assert_eq!(
            tokens.check("dashboard:s3cret", HERE).await,
            Ok(Caller {
                name: "dashboard".into(),
                scope: Scope::Read
            })
        );
        for wrong in [
            "dashboard:other",
            "other:s3cret",
            "dashboard",
            "",
            ":s3cret",
        ] {
            assert_eq!(
                tokens.check(wrong, HERE).await,
                Err(AccountError::BadCredentials),
                "{wrong:?}"
            );
        }
        // A reload takes effect for the next check.
        tokens.replace(vec![entry("dashboard", "rotated", Scope::Write)]);
        assert_eq!(
            tokens.check("dashboard:s3cret", HERE).await,
            Err(AccountError::BadCredentials)
        );
        assert_eq!(
            tokens
                .check("dashboard:rotated", HERE)
                .await
                .map(|caller| caller.scope),
            Ok(Scope::Write)
        );
    }

    #[test]
    fn entries_must_name_one_word_and_hold_an_argon2id_hash() {
        assert_eq!(entry("ops", "x", Scope::Write).problem(), None);
        let named = |name: &str| AdminTokenEntry {
            name: name.into(),
            ..entry("ops", "x", Scope::Read)
        };
        for wrong in ["", "two words", "a:b"] {
            assert!(named(wrong).problem().is_some(), "{wrong:?}");
        }
        let plain = AdminTokenEntry {
            secret_hash: "s3cret".into(),
            ..entry("ops", "x", Scope::Read)
        };
        assert!(plain.problem().unwrap().contains("argon2id"));
    }
}
