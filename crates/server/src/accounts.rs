//! Accounts: registration, login (by password, or by SASL SCRAM-SHA-256) and password
//! changes, over the store's `accounts` table.
//!
//! Passwords are hashed with argon2id (the `argon2` crate's defaults) and stored as PHC
//! strings, beside the SCRAM-SHA-256 credentials derived from the same password (`scram.rs`).
//! An account registered before palaver kept those gets them at its next login with its
//! password (or password change); until then SCRAM cannot log in to it. Hashing and verifying take tens of milliseconds of CPU and about 19 MiB of memory
//! each, on purpose, so they run on tokio's blocking pool (never on an async worker), at most
//! one per CPU at a time. Failed logins are rate-limited per account and address and per
//! address, and an account guessed at from many addresses is slowed down, never locked
//! (`limiter.rs`).
//!
//! A login gives the same answer, after about the same time, for an unknown account as for a
//! wrong password: an unknown account is verified against a dummy hash. Passwords are never
//! logged, stored or kept beyond the call.
//!
//! An administrator may lock an account ([`Accounts::lock`]): every login to it is then refused
//! — by password, SCRAM or client certificate — with [`AccountError::Locked`], but only once
//! the credentials check out, so the refusal tells nothing to someone without them. A login
//! checked just before the lock took effect is undone when the session confirms it
//! ([`Accounts::confirm`]).
//!
//! Server operators (`[[oper]]` in the configuration) are checked the same way
//! (`operators.rs`).
//!
//! This is the logic only; the text and IRC commands call it.

mod admin_tokens;
mod configured;
mod limiter;
mod operators;
pub mod scram;

use std::net::IpAddr;
use std::num::NonZero;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use palaver_proto::names::{fold, validate_nick};
use palaver_proto::time::Timestamp;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::rate_limit::AddressRate;
use crate::store::{AccountLock, AccountRecord, PasswordSecrets, Store, StoreError};
pub use admin_tokens::{AdminTokenEntry, AdminTokens, Caller, Scope};
use limiter::{Attempt, LoginLimiter, MAX_TRACKED_KEYS};
pub use operators::{OperatorEntry, Operators};
use scram::{ClientFirst, ScramCredentials, ServerExchange};

/// The shortest acceptable password by default, in bytes (`[accounts] min_password_bytes`).
pub const DEFAULT_MIN_PASSWORD_BYTES: usize = 8;
/// The longest acceptable password, in bytes, whatever the configuration: room for any
/// passphrase or generated secret (argon2 hashes any length), and a bound on what one
/// registration or login makes the server copy and hash. Two of them still fit the text
/// protocol's default line (`/password OLD NEW`); SASL carries one in a few chunks.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The longest email address accepted (RFC 5321's limit on a forward path, less the angle
/// brackets).
pub const MAX_EMAIL_BYTES: usize = 254;

/// What registering an account takes. Passwords: `min_bytes` to [`MAX_PASSWORD_BYTES`]
/// bytes, no whitespace (the text protocol splits on spaces, and a line's trailing whitespace
/// may not survive the trip). An email address: optional unless `require_email`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationPolicy {
    /// The shortest acceptable password in bytes; between 1 and [`MAX_PASSWORD_BYTES`].
    pub min_bytes: usize,
    /// Whether a registration must give an email address (`[accounts] require_email`).
    pub require_email: bool,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            min_bytes: DEFAULT_MIN_PASSWORD_BYTES,
            require_email: false,
        }
    }
}

impl RegistrationPolicy {
    /// Checks the email address a registration gave (`None`: none), as the policy asks.
    fn check_email(&self, email: Option<&str>) -> Result<(), AccountError> {
        match email {
            None if self.require_email => Err(AccountError::EmailRequired),
            None => Ok(()),
            Some(email) if is_plausible_email(email) => Ok(()),
            Some(email) => Err(AccountError::InvalidEmail(email.to_owned())),
        }
    }

    fn check_password(&self, password: &str) -> Result<(), AccountError> {
        let length_ok = (self.min_bytes..=MAX_PASSWORD_BYTES).contains(&password.len());
        if length_ok && !password.contains(char::is_whitespace) {
            Ok(())
        } else {
            Err(AccountError::UnacceptablePassword {
                min_bytes: self.min_bytes,
                max_bytes: MAX_PASSWORD_BYTES,
            })
        }
    }
}

/// Whether `email` looks like a deliverable address: `local@domain`, at most
/// [`MAX_EMAIL_BYTES`] bytes, no whitespace or control characters, a local part of at most 64
/// bytes, and a domain of dot-separated labels with at least one dot. Only its shape is
/// checked: palaver sends no mail, so nothing proves the address is the user's.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let clean = |part: &str| !part.chars().any(|c| c.is_whitespace() || c.is_control());
    email.len() <= MAX_EMAIL_BYTES
        && clean(email)
        && !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && domain
            .split('.')
            .all(|label| !label.is_empty() && !label.contains('@'))
}

/// A hash of a password no account has, made with the default parameters, so that a login
/// for an unknown account costs as much as one for a known account. (A test checks that its
/// parameters are still the crate's defaults; regenerate it if they change.)
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$nWYJgbjhTV4EAo2pUAgrhQ$\
                          ngkV4Ev+GF99oeIx61+RC6zbLL/WsHrIdKvBvYFLrDk";

/// Limits on failed logins (see `limiter.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// How many failed attempts one address may make on one account within `window`;
    /// further attempts from it on that account are refused without checking the password.
    /// Failures on an account beyond this many, from all addresses together, slow down every
    /// further attempt on it instead. 0 counts as 1.
    pub max_failures: u32,
    /// How many failed attempts one address may make within `window`, whatever the accounts;
    /// further attempts from it are refused. 0 counts as 1.
    pub max_failures_per_address: u32,
    /// The sliding window failures are counted in.
    pub window: Duration,
    /// The wait before checking the first attempt beyond `max_failures` on an account; it
    /// doubles with each further failure.
    pub slowdown_base: Duration,
    /// The longest such wait.
    pub slowdown_cap: Duration,
}

impl Default for LoginLimits {
    /// 5 failures per minute per account and address, 10 per address across accounts; an
    /// account failed more than 5 times in a minute makes each attempt on it wait 1, 2, 4,
    /// then at most 8 seconds.
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_failures_per_address: 10,
            window: Duration::from_secs(60),
            slowdown_base: Duration::from_secs(1),
            slowdown_cap: Duration::from_secs(8),
        }
    }
}

/// Identifies the password an account had when a login checked it (a digest of its stored
/// hash, which a password change always replaces, with a new salt), so that a session can
/// tell afterwards whether it changed since. Not secret and not a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordStamp(u64);

impl PasswordStamp {
    fn of(stored_hash: &str) -> Self {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut hasher = DefaultHasher::new();
        stored_hash.hash(&mut hasher);
        Self(hasher.finish())
    }
}

/// Why an account operation failed. The texts are fit to show the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("account {0} is already registered")]
    Taken(String),
    /// An administrator named an account that is not registered (`palaver admin`).
    #[error("no such account: {0}")]
    NoSuchAccount(String),
    /// The same answer for an unknown account and a wrong password, so that logins do not
    /// reveal which accounts exist.
    #[error("wrong account name or password")]
    BadCredentials,
    /// The credentials were right, but an administrator locked the account.
    #[error("account {account} is locked ({reason})")]
    Locked { account: String, reason: String },
    #[error("too many failed logins; try again in {seconds} seconds")]
    RateLimited { seconds: u64 },
    /// `[limits] account_registrations_per_address`: this address registered enough accounts
    /// for now.
    #[error("too many accounts registered from your address; try again in {seconds} seconds")]
    TooManyRegistrations { seconds: u64 },
    /// The text protocol splits commands on spaces, so a password cannot contain one. Carries
    /// the configured bounds, so the answer says what is acceptable.
    #[error("a password must be {min_bytes} to {max_bytes} bytes and not contain spaces")]
    UnacceptablePassword { min_bytes: usize, max_bytes: usize },
    /// An account name must be a valid nick; the text says why this one is not.
    #[error("invalid account name: {0}")]
    InvalidName(String),
    /// `[accounts] require_email` is set and the registration gave no address.
    #[error("an email address is required to register (such as you@example.org)")]
    EmailRequired,
    /// The registration gave something that is not an email address.
    #[error("not an email address: {0}")]
    InvalidEmail(String),
    /// A SCRAM login to an account registered before palaver kept SCRAM credentials, which
    /// has not logged in with its password since.
    #[error(
        "this account can use SCRAM-SHA-256 once it has logged in with its password (PLAIN) again"
    )]
    NoScramCredentials,
    /// The store failed, or hashing did: the server's fault, not the client's.
    #[error("the account store failed: {0}")]
    Store(String),
}

impl AccountError {
    fn locked(account: &str, lock: &AccountLock) -> Self {
        AccountError::Locked {
            account: account.to_owned(),
            reason: lock.reason.clone(),
        }
    }
}

impl From<StoreError> for AccountError {
    fn from(error: StoreError) -> Self {
        AccountError::Store(error.to_string())
    }
}

/// Registration, login and password changes, with argon2id hashing off the async workers and
/// failed-login rate limiting. Cheap to clone (Arc inside).
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    limits: LoginLimits,
    registration: RegistrationPolicy,
    /// Failed-login counts. Locked only for a few map operations, never across an `.await`.
    limiter: Mutex<LoginLimiter>,
    /// Accounts registered per address (`[limits] account_registrations_per_address`).
    registrations: AddressRate,
    /// One permit per CPU: hashes beyond that wait here (asynchronously) instead of piling up
    /// on the blocking pool, where each would hold its 19 MiB and slow all the others.
    hashing: Arc<Semaphore>,
    /// Random for each run: derives the stand-in SCRAM credentials of accounts that have none
    /// (`ScramCredentials::decoy`).
    decoy_key: [u8; 32],
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Accounts")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl Accounts {
    pub fn new(store: Store, limits: LoginLimits, registration: RegistrationPolicy) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, NonZero::get);
        let mut decoy_key = [0; 32];
        // Without the system's random generator no password could be hashed either (salts).
        getrandom::fill(&mut decoy_key).expect("the operating system's random generator");
        Self {
            inner: Arc::new(Inner {
                store,
                limits,
                registration,
                limiter: Mutex::new(LoginLimiter::new(limits, MAX_TRACKED_KEYS)),
                registrations: AddressRate::new(None, Default::default()),
                hashing: Arc::new(Semaphore::new(cpus)),
                decoy_key,
            }),
        }
    }

    /// Limits how many accounts one address may register (successful registrations count);
    /// without this, any number.
    pub(crate) fn limit_registrations(mut self, registrations: AddressRate) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("limits are set before the accounts are shared")
            .registrations = registrations;
        self
    }

    /// Takes a new limit on registrations per address (a reload).
    pub(crate) fn set_registration_limit(
        &self,
        rate: Option<crate::config::Rate>,
        exempt: crate::config::AddressList,
    ) {
        self.inner.registrations.update(rate, exempt);
    }

    /// Whether registering takes an email address (`[accounts] require_email`).
    pub fn requires_email(&self) -> bool {
        self.inner.registration.require_email
    }

    /// Registers `name` with `password` and no email address; returns the account name as
    /// registered.
    pub async fn register(&self, name: &str, password: &str) -> Result<String, AccountError> {
        self.register_with_email(name, password, None, None).await
    }

    /// Registers `name` with `password` and `email` (`None`: none given; see
    /// [`RegistrationPolicy`]) for a client at `from`, counted against that address's
    /// registrations (`None`: not counted); returns the account name as registered.
    pub async fn register_with_email(
        &self,
        name: &str,
        password: &str,
        email: Option<&str>,
        from: Option<IpAddr>,
    ) -> Result<String, AccountError> {
        check_name(name)?;
        self.inner.registration.check_password(password)?;
        self.inner.registration.check_email(email)?;
        if let Some(from) = from {
            self.inner
                .registrations
                .check(from, Instant::now())
                .map_err(|wait| AccountError::TooManyRegistrations {
                    seconds: crate::session::whole_seconds(wait).max(1),
                })?;
        }
        // Checked first so that a taken name costs no hash; the insert below settles races.
        if self.inner.store.account(name).await?.is_some() {
            return Err(AccountError::Taken(name.to_owned()));
        }
        let secrets = self.secrets(password).await?;
        let created = self
            .inner
            .store
            .create_account(name, secrets, email.map(str::to_owned), Timestamp::now())
            .await?;
        if !created {
            return Err(AccountError::Taken(name.to_owned()));
        }
        if let Some(from) = from {
            self.inner.registrations.record(from, Instant::now());
        }
        tracing::info!(account = name, "account registered");
        Ok(name.to_owned())
    }

    /// Checks `password` for account `name` like [`login`](Self::login), and also returns a
    /// [`PasswordStamp`] of the password it matched, to check with
    /// [`confirm`](Self::confirm) once the login has taken effect.
    pub async fn login_stamped(
        &self,
        name: &str,
        password: &str,
        address: IpAddr,
    ) -> Result<(String, PasswordStamp), AccountError> {
        check_name(name)?;
        let attempt = self.begin_attempt(name, address)?;
        attempt.wait().await;
        let account = self.inner.store.account(name).await?;
        let (stored_hash, registered_name, has_scram, lock) = match account {
            Some(account) => (
                account.password_hash,
                Some(account.name),
                account.scram_sha_256.is_some(),
                account.locked,
            ),
            None => (DUMMY_HASH.to_owned(), None, true, None),
        };
        let stamp = PasswordStamp::of(&stored_hash);
        let matches = self.verify(password, stored_hash.clone()).await?;
        match registered_name {
            Some(registered_name) if matches => {
                attempt.succeeded();
                if let Some(lock) = lock {
                    tracing::info!(account = registered_name, %address, "login to a locked account refused");
                    return Err(AccountError::locked(&registered_name, &lock));
                }
                if !has_scram {
                    self.add_scram_credentials(&registered_name, password, &stored_hash)
                        .await;
                }
                Ok((registered_name, stamp))
            }
            _ => {
                attempt.failed();
                tracing::debug!(account = name, %address, "failed login");
                Err(AccountError::BadCredentials)
            }
        }
    }

    /// Confirms a login to account `name` once it has taken effect: the account's password
    /// must still be the one `stamp` was taken of, and the account not locked. A login
    /// checked just before a password change or a lock took effect could otherwise outlive
    /// it: the session asks this after the login took effect, and logs out again on an error
    /// — [`BadCredentials`](AccountError::BadCredentials) for a changed password,
    /// [`Locked`](AccountError::Locked), or a store failure (log in again rather than stay
    /// in unchecked).
    pub async fn confirm(&self, name: &str, stamp: PasswordStamp) -> Result<(), AccountError> {
        match self.inner.store.account(name).await? {
            Some(account) if PasswordStamp::of(&account.password_hash) == stamp => {
                match &account.locked {
                    Some(lock) => Err(AccountError::locked(&account.name, lock)),
                    None => Ok(()),
                }
            }
            _ => Err(AccountError::BadCredentials),
        }
    }

    /// Logs in by client certificate (SASL EXTERNAL): the account (as registered) listing
    /// `fingerprint`, with the stamp of its password to [`confirm`](Self::confirm) the login
    /// with. [`BadCredentials`](AccountError::BadCredentials) if no account lists it.
    pub async fn certificate_login(
        &self,
        fingerprint: &str,
    ) -> Result<(String, PasswordStamp), AccountError> {
        let store = &self.inner.store;
        let Some(name) = store.account_by_certificate(fingerprint).await? else {
            return Err(AccountError::BadCredentials);
        };
        let account = store
            .account(&name)
            .await?
            .ok_or(AccountError::BadCredentials)?;
        if let Some(lock) = &account.locked {
            tracing::info!(
                account = account.name,
                "certificate login to a locked account refused"
            );
            return Err(AccountError::locked(&account.name, lock));
        }
        Ok((account.name, PasswordStamp::of(&account.password_hash)))
    }

    /// The account `name` (any case) as stored, for administrators.
    pub async fn details(&self, name: &str) -> Result<AccountRecord, AccountError> {
        self.inner
            .store
            .account(name)
            .await?
            .ok_or_else(|| AccountError::NoSuchAccount(name.to_owned()))
    }

    /// Locks account `name` (any case), or replaces its lock's reason: from now on every login
    /// to it is refused (see the module's documentation). `by` names the administrator.
    /// Returns the account's name as registered; logging its sessions out is the caller's
    /// business, as after [`reset_password`](Self::reset_password).
    pub async fn lock(&self, name: &str, reason: &str, by: &str) -> Result<String, AccountError> {
        let account = self.details(name).await?;
        let lock = AccountLock {
            reason: reason.to_owned(),
            by: by.to_owned(),
            at: Timestamp::now(),
        };
        if !self
            .inner
            .store
            .set_account_lock(&account.name, Some(lock))
            .await?
        {
            return Err(AccountError::NoSuchAccount(name.to_owned()));
        }
        tracing::info!(account = account.name, by, reason, "account locked");
        Ok(account.name)
    }

    /// Lifts the lock on account `name` (any case). Returns the account's name as registered
    /// and whether it was locked.
    pub async fn unlock(&self, name: &str, by: &str) -> Result<(String, bool), AccountError> {
        let account = self.details(name).await?;
        let was_locked = account.locked.is_some();
        if !self
            .inner
            .store
            .set_account_lock(&account.name, None)
            .await?
        {
            return Err(AccountError::NoSuchAccount(name.to_owned()));
        }
        if was_locked {
            tracing::info!(account = account.name, by, "account unlocked");
        }
        Ok((account.name, was_locked))
    }

    /// Checks `password` for account `name`; returns the account name as registered.
    /// Rate-limited per folded account name and `address`, and per `address`; an account
    /// with many recent failures makes the check wait first (see `limiter.rs`).
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        address: IpAddr,
    ) -> Result<String, AccountError> {
        self.login_stamped(name, password, address)
            .await
            .map(|(name, _stamp)| name)
    }

    /// Changes the password after checking the old one (rate-limited like login).
    pub async fn change_password(
        &self,
        name: &str,
        old: &str,
        new: &str,
        address: IpAddr,
    ) -> Result<(), AccountError> {
        self.inner.registration.check_password(new)?;
        let registered_name = self.login(name, old, address).await?;
        let secrets = self.secrets(new).await?;
        // The account cannot vanish today (there is no way to drop one), but if it did, the
        // old password no longer names an account.
        if !self
            .inner
            .store
            .set_password(&registered_name, secrets)
            .await?
        {
            return Err(AccountError::BadCredentials);
        }
        tracing::info!(account = registered_name, "password changed");
        Ok(())
    }

    /// Sets a new password for the account `name` without the old one: an administrator's
    /// reset (the administration API). Returns the account's name as registered; logging its
    /// sessions out is the caller's business, as after [`change_password`](Self::change_password).
    pub async fn reset_password(&self, name: &str, new: &str) -> Result<String, AccountError> {
        self.inner.registration.check_password(new)?;
        let unknown = || AccountError::NoSuchAccount(name.to_owned());
        let account = self.inner.store.account(name).await?.ok_or_else(unknown)?;
        let secrets = self.secrets(new).await?;
        if !self
            .inner
            .store
            .set_password(&account.name, secrets)
            .await?
        {
            return Err(unknown());
        }
        tracing::info!(account = account.name, "password reset by an administrator");
        Ok(account.name)
    }

    /// Begins a SASL SCRAM-SHA-256 login (RFC 5802) as `first.username` from `address`,
    /// rate-limited and slowed down as [`login`](Self::login) is. Returns the login to finish
    /// with the client's final message, and the server's first message. An unknown account,
    /// or one without SCRAM credentials yet, gets stand-in credentials and fails only at the
    /// proof, as a wrong password does.
    pub async fn scram_start(
        &self,
        first: ClientFirst,
        address: IpAddr,
    ) -> Result<(ScramLogin, String), AccountError> {
        check_name(&first.username)?;
        let attempt = self.begin_attempt(&first.username, address)?;
        let delay = attempt.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let account = self.inner.store.account(&first.username).await?;
        let decoy = || ScramCredentials::decoy(&self.inner.decoy_key, &fold(&first.username));
        let (credentials, target) = match account {
            Some(account) => match account
                .scram_sha_256
                .as_deref()
                .and_then(ScramCredentials::from_stored)
            {
                Some(credentials) => {
                    let stamp = PasswordStamp::of(&account.password_hash);
                    let target = ScramTarget::Account(account.name, stamp, account.locked);
                    (credentials, target)
                }
                None => (decoy(), ScramTarget::WithoutCredentials),
            },
            None => (decoy(), ScramTarget::Unknown),
        };
        let mut nonce = [0; scram::NONCE_BYTES];
        getrandom::fill(&mut nonce)
            .map_err(|error| AccountError::Store(format!("no random nonce: {error}")))?;
        let (exchange, server_first) =
            ServerExchange::start(first, credentials, &base64_nonce(&nonce));
        let login = ScramLogin {
            attempt,
            exchange,
            target,
        };
        Ok((login, server_first))
    }

    /// Whether `name` is a registered account.
    pub async fn is_registered(&self, name: &str) -> Result<bool, AccountError> {
        // An invalid name, or a guest nick, can never have been registered (`check_name`); no
        // need to ask the store.
        if check_name(name).is_err() {
            return Ok(false);
        }
        Ok(self.inner.store.account(name).await?.is_some())
    }

    /// Counts a login attempt against `name` and `address`, or refuses it if `address` has
    /// used up its failures (for this account, or altogether).
    fn begin_attempt(&self, name: &str, address: IpAddr) -> Result<PendingAttempt, AccountError> {
        let begun = crate::lock(&self.inner.limiter).begin(&fold(name), address, Instant::now());
        match begun {
            Ok(attempt) => Ok(PendingAttempt {
                accounts: Arc::clone(&self.inner),
                attempt: Some(attempt),
            }),
            Err(refused) => {
                tracing::debug!(account = name, %address, "login refused: too many failures");
                Err(AccountError::RateLimited {
                    seconds: refused.seconds,
                })
            }
        }
    }

    /// What an account keeps of `password`: its argon2id hash (a PHC string) and its SCRAM
    /// credentials, each with a fresh random salt, computed on the blocking pool.
    async fn secrets(&self, password: &str) -> Result<PasswordSecrets, AccountError> {
        let password = password.to_owned();
        self.off_the_workers(move || {
            let password_hash = hash_password(&password).map_err(AccountError::Store)?;
            Ok(PasswordSecrets {
                password_hash,
                scram_sha_256: new_scram_credentials(&password)?.to_stored(),
            })
        })
        .await
    }

    /// Derives and stores the SCRAM credentials of an account registered before palaver kept
    /// them, now that a login gave its password, unless its password changed meanwhile (its
    /// hash is no longer `password_hash`). Best effort: a failure is logged and leaves SCRAM
    /// unavailable to the account until its next login.
    async fn add_scram_credentials(&self, name: &str, password: &str, password_hash: &str) {
        let password = password.to_owned();
        let derived = self
            .off_the_workers(move || new_scram_credentials(&password))
            .await;
        let stored = match derived {
            Ok(credentials) => self
                .inner
                .store
                .add_scram_credentials(name, password_hash, &credentials.to_stored())
                .await
                .map_err(AccountError::from),
            Err(error) => Err(error),
        };
        match stored {
            Ok(true) => tracing::info!(account = name, "SCRAM-SHA-256 credentials added"),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(account = name, %error, "could not add SCRAM-SHA-256 credentials");
            }
        }
    }

    /// Whether `password` matches `stored_hash` (a PHC string), on the blocking pool. The
    /// parameters come from the hash, so hashes made with other parameters still verify.
    async fn verify(&self, password: &str, stored_hash: String) -> Result<bool, AccountError> {
        let password = password.to_owned();
        self.off_the_workers(move || {
            let parsed = PasswordHash::new(&stored_hash).map_err(|error| {
                AccountError::Store(format!("a stored password hash is malformed: {error}"))
            })?;
            match Argon2::default().verify_password(password.as_bytes(), &parsed) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(error) => Err(AccountError::Store(format!(
                    "checking a password failed: {error}"
                ))),
            }
        })
        .await
    }

    /// Runs a hash computation on tokio's blocking pool once a hashing permit is free. The
    /// permit travels with the work, so it stays taken until the work is done even if the
    /// caller stops waiting.
    async fn off_the_workers<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AccountError> + Send + 'static,
    ) -> Result<T, AccountError> {
        let permit = Arc::clone(&self.inner.hashing)
            .acquire_owned()
            .await
            .map_err(|closed| AccountError::Store(closed.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|error| AccountError::Store(format!("password hashing stopped: {error}")))?
    }
}

/// Who a SCRAM login is for, as far as the server knows.
enum ScramTarget {
    /// An account with SCRAM credentials: its name as registered, the stamp of its password,
    /// and its lock if it is locked.
    Account(String, PasswordStamp, Option<AccountLock>),
    /// An account that has no SCRAM credentials yet: stand-in ones were used.
    WithoutCredentials,
    /// No such account: stand-in credentials were used.
    Unknown,
}

/// A SCRAM-SHA-256 login between the server's first message and the client's final one. It
/// holds its counted attempt: dropped before [`finish`](Self::finish) (the client aborted or
/// left), the attempt is taken back, since no proof was checked.
pub struct ScramLogin {
    attempt: PendingAttempt,
    exchange: ServerExchange,
    target: ScramTarget,
}

impl ScramLogin {
    /// Checks the client's final message. On success, returns the server's final message,
    /// the account logged in to (as registered) and the stamp of its password, to confirm with
    /// [`Accounts::confirm`] once the login has taken effect; the attempt counts as a failure
    /// otherwise, except for an account without SCRAM credentials, whose password was never
    /// checked, and for a locked account, whose was right.
    pub fn finish(
        self,
        client_final: &str,
    ) -> Result<(String, String, PasswordStamp), AccountError> {
        let verified = self.exchange.finish(client_final);
        match (verified, self.target) {
            (Ok(server_final), ScramTarget::Account(name, stamp, lock)) => {
                self.attempt.succeeded();
                match lock {
                    Some(lock) => Err(AccountError::locked(&name, &lock)),
                    None => Ok((server_final, name, stamp)),
                }
            }
            (_, ScramTarget::WithoutCredentials) => Err(AccountError::NoScramCredentials),
            (_, _) => {
                self.attempt.failed();
                Err(AccountError::BadCredentials)
            }
        }
    }
}

/// A login attempt counted against its account and address until settled. Dropped unsettled
/// (the store failed, or the caller stopped waiting), it is taken back: no answer reached the
/// client, so it was no guess.
struct PendingAttempt {
    accounts: Arc<Inner>,
    /// `None` once settled.
    attempt: Option<Attempt>,
}

impl PendingAttempt {
    /// How long the attempt must wait before its password is checked (its account is being
    /// guessed at from several addresses).
    fn delay(&self) -> Duration {
        self.attempt
            .as_ref()
            .map_or(Duration::ZERO, |attempt| attempt.delay)
    }

    /// Waits [`delay`](Self::delay): before the check, so that nothing is learnt sooner. The
    /// attempt stays counted while it waits.
    async fn wait(&self) {
        let delay = self.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    fn succeeded(mut self) {
        if let Some(attempt) = self.attempt.take() {
            crate::lock(&self.accounts.limiter).succeeded(&attempt);
        }
    }

    /// The failure stays counted (it was counted when the attempt began).
    fn failed(mut self) {
        self.attempt = None;
    }
}

impl Drop for PendingAttempt {
    fn drop(&mut self) {
        if let Some(attempt) = self.attempt.take() {
            crate::lock(&self.accounts.limiter).abandoned(&attempt);
        }
    }
}

/// SCRAM credentials for `password` with a fresh random salt. Costs PBKDF2's iterations: call
/// it on the blocking pool.
fn new_scram_credentials(password: &str) -> Result<ScramCredentials, AccountError> {
    let mut salt = [0; scram::SALT_BYTES];
    getrandom::fill(&mut salt)
        .map_err(|error| AccountError::Store(format!("no random salt: {error}")))?;
    Ok(ScramCredentials::derive(password, &salt, scram::ITERATIONS))
}

/// A nonce's random bytes as printable text (base64 has no `,`).
fn base64_nonce(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Hashes `password` with argon2id (the `argon2` crate's default parameters) and a fresh random
/// salt, into the PHC string the store and the configuration keep. Slow on purpose: a server
/// calls it off its async workers.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| format!("hashing a password failed: {error}"))
}

fn check_name(name: &str) -> Result<(), AccountError> {
    validate_nick(name).map_err(|error| AccountError::InvalidName(error.to_string()))?;
    // Nick protection renames people to guest-N; those nicks must stay free for it.
    if fold(name).starts_with("guest-") {
        return Err(AccountError::InvalidName(
            "guest- nicks cannot be registered".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
