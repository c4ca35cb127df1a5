//! The administration API's bearer tokens: the `[[admin.token]]` entries of the
//! configuration, each a name, the argon2id hash of its secret (from `palaver hash-password`)
//! and a scope, and checking the token a request presents against them.
//!
//! A request presents `NAME:SECRET`. The name picks the one entry whose hash is verified, so a
//! check costs one hash however many tokens are configured. A check is made like an `OPER`
//! (`configured.rs`), counted under the token's name in a key space of its own.

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::configured::{ConfiguredSecrets, SecretEntry};
use super::operators::is_argon2id;
use super::{AccountError, Accounts};

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

impl SecretEntry for AdminTokenEntry {
    fn name(&self) -> &str {
        &self.name
    }

    fn secret_hash(&self) -> &str {
        &self.secret_hash
    }
}

/// The configured tokens, and the account machinery their secrets are checked with. Cheap to
/// clone; every clone sees a reload.
#[derive(Clone)]
pub struct AdminTokens {
    entries: ConfiguredSecrets<AdminTokenEntry>,
}

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AdminTokens")
            .field("names", &self.entries.names())
            .finish_non_exhaustive()
    }
}

impl AdminTokens {
    pub fn new(entries: Vec<AdminTokenEntry>, accounts: Accounts) -> Self {
        Self {
            entries: ConfiguredSecrets::new(entries, accounts),
        }
    }

    /// Replaces the entries (a reload): requests are checked against the new ones from now on.
    pub fn replace(&self, entries: Vec<AdminTokenEntry>) {
        self.entries.replace(entries);
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
        let checked = self
            .entries
            .check(&key, address, secret, |entry| entry.name == name)
            .await;
        match checked {
            Ok(entry) => Ok(Caller {
                name: entry.name.as_str().into(),
                scope: entry.scope,
            }),
            Err(AccountError::BadCredentials) => {
                tracing::warn!(token = name, %address, "admin API: wrong token");
                Err(AccountError::BadCredentials)
            }
            Err(refused @ AccountError::RateLimited { .. }) => {
                tracing::warn!(token = name, %address, "admin API refused: too many failures");
                Err(refused)
            }
            Err(other) => Err(other),
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
