//! Server operators: the `[[oper]]` entries of the configuration, each a name and the argon2id
//! hash of its password (from `palaver hash-password`), and checking an `OPER` (text `/oper`)
//! attempt against them.
//!
//! A check is made like a login (see the parent module): the hash is verified on the blocking
//! pool, never on an async worker; failures are counted by the same limiter as failed logins,
//! under the operator's name (a name space of its own: operator names are keyed apart from
//! account names) and the client's address, so one address's guesses at operators and at
//! accounts share its allowance; and an unknown name is verified against the dummy hash, so
//! it takes as long and gets the same answer as a wrong password. Passwords are never logged;
//! every attempt is (tracing), with the name tried and the address.

use std::net::IpAddr;
use std::sync::Arc;

use argon2::PasswordHash;
use palaver_proto::names::fold;
use serde::Deserialize;

use super::configured::{ConfiguredSecrets, SecretEntry};
use super::{AccountError, Accounts};

/// One `[[oper]]` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorEntry {
    /// What `OPER` names: one word, compared ignoring ASCII case.
    pub name: String,
    /// The argon2id hash of the password, as a PHC string (`$argon2id$v=19$…`); the password
    /// itself is never configured.
    pub password_hash: String,
}

impl OperatorEntry {
    /// Why this entry cannot be used, if it cannot: checked when the configuration is read,
    /// so that a typo in a hash is found at start-up rather than at the first `OPER`.
    pub fn problem(&self) -> Option<String> {
        let name = &self.name;
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Some(format!(
                "[[oper]] name {name:?} must be one word without spaces or control characters"
            ));
        }
        (!is_argon2id(&self.password_hash)).then(|| {
            format!(
                "[[oper]] {name}: password_hash must be an argon2id hash as `palaver \
                 hash-password` prints it ($argon2id$v=19$…)"
            )
        })
    }
}

/// Whether `hash` is an argon2id hash in the PHC form `palaver hash-password` prints, with a
/// salt and a hash: what every configured hash (`[[oper]]`, `[[admin.token]]`) must be.
pub(super) fn is_argon2id(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|hash| {
        hash.algorithm == argon2::ARGON2ID_IDENT && hash.salt.is_some() && hash.hash.is_some()
    })
}

impl SecretEntry for OperatorEntry {
    fn name(&self) -> &str {
        &self.name
    }

    fn secret_hash(&self) -> &str {
        &self.password_hash
    }
}

/// The configured operators, and the account machinery their passwords are checked with.
/// Cheap to clone.
#[derive(Clone)]
pub struct Operators {
    /// Names are unique ignoring case (the configuration checks). Shared by every clone (every
    /// connection's context), so that a reload changes the entries for all.
    entries: ConfiguredSecrets<OperatorEntry>,
}

impl std::fmt::Debug for Operators {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Operators")
            .field("names", &self.entries.names())
            .finish_non_exhaustive()
    }
}

impl Operators {
    pub fn new(entries: Vec<OperatorEntry>, accounts: Accounts) -> Self {
        Self {
            entries: ConfiguredSecrets::new(entries, accounts),
        }
    }

    /// Replaces the entries (a reload): `OPER` checks the new ones from now on. Who is an
    /// operator already stays one until it disconnects or drops it.
    pub fn replace(&self, entries: Vec<OperatorEntry>) {
        self.entries.replace(entries);
    }

    /// Checks `password` for the operator entry `name` on behalf of a client at `address`;
    /// returns the entry's name as configured. An unknown name and a wrong password are both
    /// [`AccountError::BadCredentials`], after the same work; an address that failed too often
    /// is refused without a check ([`AccountError::RateLimited`]).
    pub async fn check(
        &self,
        name: &str,
        password: &str,
        address: IpAddr,
    ) -> Result<Arc<str>, AccountError> {
        // A space never occurs in an account name, so this key is never an account's.
        let key = format!("oper {}", fold(name));
        let checked = self
            .entries
            .check(&key, address, password, |entry| {
                fold(&entry.name) == fold(name)
            })
            .await;
        match checked {
            Ok(entry) => {
                tracing::info!(oper = %entry.name, %address, "OPER succeeded");
                Ok(entry.name.as_str().into())
            }
            Err(AccountError::BadCredentials) => {
                tracing::warn!(oper = name, %address, "OPER failed: wrong name or password");
                Err(AccountError::BadCredentials)
            }
            Err(refused @ AccountError::RateLimited { .. }) => {
                tracing::warn!(oper = name, %address, "OPER refused: too many failures");
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

    fn operators(entries: Vec<OperatorEntry>) -> Operators {
        let store = Store::open(StoreConfig::new(":memory:"))
            .expect("open the store")
            .store;
        Operators::new(
            entries,
            Accounts::new(store, LoginLimits::default(), Default::default()),
        )
    }

    fn entry(name: &str, password: &str) -> OperatorEntry {
        OperatorEntry {
            name: name.into(),
            password_hash: hash_password(password).expect("hash"),
        }
    }

    fn address(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, last))
    }

    #[tokio::test]
    async fn the_right_password_names_the_entry_in_any_case() {
        let operators = operators(vec![entry("Root", "correct-horse")]);
        assert_eq!(
            operators.check("root", "correct-horse", address(1)).await,
            Ok("Root".into())
        );
        assert_eq!(
            operators.check("root", "wrong-horse", address(1)).await,
            Err(AccountError::BadCredentials)
        );
        // An unknown name gets the very same answer.
        assert_eq!(
            operators.check("nobody", "correct-horse", address(1)).await,
            Err(AccountError::BadCredentials)
        );
    }

    #[tokio::test]
    async fn failures_are_limited_per_name_and_address_like_logins() {
        let operators = operators(vec![entry("root", "correct-horse")]);
        let limit = LoginLimits::default().max_failures;
        for _ in 0..limit {
            assert_eq!(
                operators.check("root", "guess", address(1)).await,
                Err(AccountError::BadCredentials)
            );
        }
        // Refused now, even with the right password, from that address only.
        assert!(matches!(
            operators.check("root", "correct-horse", address(1)).await,
            Err(AccountError::RateLimited { .. })
        ));
        assert_eq!(
            operators.check("root", "correct-horse", address(2)).await,
            Ok("root".into())
        );
    }

    #[tokio::test]
    async fn operator_names_do_not_share_counts_with_accounts_of_the_same_name() {
        let operators = operators(vec![entry("alice", "correct-horse")]);
        for _ in 0..LoginLimits::default().max_failures {
            let _ = operators.check("alice", "guess", address(1)).await;
        }
        // The account alice is not affected by failed OPERs as alice (only the address's
        // overall allowance is shared).
        assert_eq!(
            operators
                .entries
                .accounts()
                .login("alice", "anything", address(1))
                .await,
            Err(AccountError::BadCredentials)
        );
    }

    #[test]
    fn entries_need_one_word_and_an_argon2id_hash() {
        let good = entry("root", "correct-horse");
        assert_eq!(good.problem(), None);
        for name in ["", "two words", "tab\there"] {
            let bad = OperatorEntry {
                name: name.into(),
                ..good.clone()
            };
            assert!(bad.problem().unwrap().contains("one word"), "{name:?}");
        }
        for hash in [
            "correct-horse",
            "",
            "$argon2i$v=19$m=19456,t=2,p=1$nWYJgbjhTV4EAo2pUAgrhQ$ngkV4Ev+GF99oeIx61+RC6zbLL/WsHrIdKvBvYFLrDk",
            "$argon2id$v=19$m=19456,t=2,p=1",
        ] {
            let bad = OperatorEntry {
                password_hash: hash.into(),
                ..good.clone()
            };
            assert!(bad.problem().unwrap().contains("argon2id"), "{hash:?}");
        }
    }
}
