//! Client certificates of accounts (schema v11): the SHA-256 fingerprints an account logs in
//! with by SASL EXTERNAL. A fingerprint belongs to at most one account, and an account has at
//! most [`MAX_CERTIFICATES`].

use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use rusqlite::OptionalExtension;

use super::StoreError;
use super::sqlite::{Database, signed};

/// The most certificates one account may list: one per device, with room to spare.
pub const MAX_CERTIFICATES: usize = 10;

/// What adding a fingerprint to an account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateAdded {
    Added,
    /// The account lists it already.
    AlreadyListed,
    /// Another account lists it.
    OtherAccount,
    /// The account lists [`MAX_CERTIFICATES`] already.
    TooMany,
    /// No such account.
    NoAccount,
}

impl Database {
    /// Adds `fingerprint` (lowercase hex) to `account`'s certificates.
    pub(super) fn add_certificate(
        &mut self,
        account: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<CertificateAdded, StoreError> {
        let account = fold(account);
        let transaction = self.connection.transaction()?;
        let exists = transaction
            .prepare_cached("SELECT 1 FROM accounts WHERE name_key = ?1")?
            .exists([&account])?;
        if !exists {
            return Ok(CertificateAdded::NoAccount);
        }
        let owner: Option<String> = transaction
            .prepare_cached("SELECT account_key FROM account_certificates WHERE fingerprint = ?1")?
            .query_row([fingerprint], |row| row.get(0))
            .optional()?;
        if let Some(owner) = owner {
            return Ok(if owner == account {
                CertificateAdded::AlreadyListed
            } else {
                CertificateAdded::OtherAccount
            });
        }
        let count: i64 = transaction
            .prepare_cached("SELECT count(*) FROM account_certificates WHERE account_key = ?1")?
            .query_row([&account], |row| row.get(0))?;
        if count >= MAX_CERTIFICATES as i64 {
            return Ok(CertificateAdded::TooMany);
        }
        transaction
            .prepare_cached(
                "INSERT INTO account_certificates (fingerprint, account_key, added)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(rusqlite::params![
                fingerprint,
                account,
                signed(now.0, "certificate time")?
            ])?;
        transaction.commit()?;
        Ok(CertificateAdded::Added)
    }

    /// Removes `fingerprint` from `account`'s certificates; false if it was not listed.
    pub(super) fn remove_certificate(
        &mut self,
        account: &str,
        fingerprint: &str,
    ) -> Result<bool, StoreError> {
        let removed = self
            .connection
            .prepare_cached(
                "DELETE FROM account_certificates WHERE account_key = ?1 AND fingerprint = ?2",
            )?
            .execute([&fold(account), fingerprint])?;
        Ok(removed > 0)
    }

    /// The fingerprints `account` lists, oldest first.
    pub(super) fn certificates(&self, account: &str) -> Result<Vec<String>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT fingerprint FROM account_certificates WHERE account_key = ?1
             ORDER BY added, rowid",
        )?;
        let fingerprints = select
            .query_map([fold(account)], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(fingerprints)
    }

    /// The account (its name as registered) that lists `fingerprint`, if any.
    pub(super) fn account_by_certificate(
        &self,
        fingerprint: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .connection
            .prepare_cached(
                "SELECT accounts.name FROM account_certificates
                 JOIN accounts ON accounts.name_key = account_certificates.account_key
                 WHERE fingerprint = ?1",
            )?
            .query_row([fingerprint], |row| row.get(0))
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::TestBackend;
    use crate::store::{PasswordSecrets, StoreConfig};

    on_both_backends!(a_fingerprint_belongs_to_one_account_which_lists_a_few);

    const ONE: &str = "aa";
    const TWO: &str = "bb";

    async fn a_fingerprint_belongs_to_one_account_which_lists_a_few(backend: TestBackend) {
        let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
        for account in ["Alice", "bob"] {
            let secrets = PasswordSecrets {
                password_hash: "hash".into(),
                scram_sha_256: "scram".into(),
            };
            assert!(
                store
                    .create_account(account, secrets, None, Timestamp(1))
                    .await
                    .unwrap()
            );
        }
        let add = |account: &'static str, fingerprint: String| {
            let store = store.clone();
            async move { store.add_certificate(account, &fingerprint).await.unwrap() }
        };
        assert_eq!(add("alice", ONE.into()).await, CertificateAdded::Added);
        assert_eq!(
            add("ALICE", ONE.into()).await,
            CertificateAdded::AlreadyListed
        );
        assert_eq!(add("bob", ONE.into()).await, CertificateAdded::OtherAccount);
        assert_eq!(add("carol", TWO.into()).await, CertificateAdded::NoAccount);
        let owner = store.account_by_certificate(ONE).await.unwrap();
        assert_eq!(owner.as_deref(), Some("Alice"));
        assert_eq!(store.account_by_certificate(TWO).await.unwrap(), None);
        for index in 1..MAX_CERTIFICATES {
            assert_eq!(
                add("alice", format!("{index:02x}")).await,
                CertificateAdded::Added
            );
        }
        assert_eq!(add("alice", TWO.into()).await, CertificateAdded::TooMany);
        let listed = store.certificates("alice").await.unwrap();
        assert_eq!(listed.len(), MAX_CERTIFICATES);
        assert_eq!(listed[0], ONE, "oldest first");

        assert!(
            !store.remove_certificate("bob", ONE).await.unwrap(),
            "not bob's"
        );
        assert!(store.remove_certificate("alice", ONE).await.unwrap());
        assert_eq!(store.account_by_certificate(ONE).await.unwrap(), None);
        assert_eq!(add("bob", ONE.into()).await, CertificateAdded::Added);
        assert_eq!(store.certificates("bob").await.unwrap(), [ONE]);
    }
}
