//! The store on Redis (`--cluster redis://…`): the same history, accounts, certificates, read
//! markers, registered rooms and server bans as the SQLite store, kept in a Redis server that
//! persists every write before it answers (AOF with `appendfsync always`, checked at start).
//!
//! Every change of several keys is one Lua script (`scripts.rs`), so it is atomic and one round
//! trip; reads are plain commands, pipelined. Appends go through batchers with group commit
//! (`appends.rs`); a request whose connection dropped is sent once more (`link.rs`). The layout
//! of the keys is in `keys.rs`, what a message or record looks like in `body.rs`, history
//! pages in `history.rs`.
//!
//! Which node may use a Redis, and for how long, is the business of its lease
//! (`crate::cluster`), taken before the store opens; the store itself only keeps data.

mod appends;
mod body;
mod connection;
mod fence;
mod history;
mod keys;
mod link;
mod published;
mod scripts;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use palaver_proto::event::MessageId;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use redis::{FromRedisValue, ScriptInvocation};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::lifetimes::{FLOOR_KEEP, MAX_FLOORS};
use super::{
    AccountLock, AccountRecord, CertificateAdded, MAX_CERTIFICATES, MAX_READ_MARKERS,
    PasswordSecrets, RoomRecord, ServerBanRecord, Statistics, StoreConfig, StoreError,
    StoredMessage,
};
use crate::metrics::Metrics;
use appends::{Batcher, Pending};
use body::{decode_room, decode_server_ban, encode_room, encode_server_ban};
pub(crate) use connection::{RedisConnection, SentinelTarget, redis_connection, redis_subscriber};
pub use fence::Fence;
use keys::Keys;
pub(crate) use link::Link;
pub use published::{HistoryEntries, HistoryEntry};
use scripts::Scripts;
pub(crate) use scripts::{FENCE, STORE_MESSAGE};

/// The version of the data layout this palaver writes; a Redis holding a newer one is
/// refused.
pub const REDIS_SCHEMA_VERSION: u32 = 1;

/// How long connecting to Redis, and then each answer, may take before the operation fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many appends may wait for Redis at once before senders wait in turn (as the SQLite
/// store's queue).
const APPENDS_IN_FLIGHT: usize = 8192;

/// Where the Redis store is and how it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port[/db]`, `rediss://…` for TLS,
    /// `redis+unix:///path/to/socket`, or `redis+sentinel://[user:password@]host:port[,…]/service`
    /// (`rediss+sentinel://…` for TLS) for the primary the Sentinels name.
    pub url: String,
    /// What every key starts with (`palaver`), followed by `:`.
    pub key_prefix: String,
    /// Refuse to start unless Redis persists every write before it answers.
    pub verify_persistence: bool,
}

impl RedisSettings {
    /// The URL without a password, for logs and errors.
    pub fn display_url(&self) -> String {
        redact(&self.url)
    }
}

/// `url` with any user information and query (where a password can be: `user:password@`, or
/// `?user=…&pass=…` for a Unix socket) left out.
fn redact(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((url, _query)) => (url, "?…"),
        None => (url, ""),
    };
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://…@{}{query}", &url[at + 1..]),
        _ => format!("{url}{query}"),
    }
}

/// How many batchers store appends, each on a connection of its own (`appends.rs`). Redis
/// fsyncs its append-only file once per turn of its event loop, and in one turn it reads at
/// most one buffer from each connection: several keep a slow disk's fsyncs shared by more
/// messages.
const APPEND_CONNECTIONS: usize = 4;

/// A handle to the Redis store. Cheap to clone.
#[derive(Clone)]
pub(crate) struct RedisStore {
    /// Reads and every write but appends.
    connection: Link,
    /// The queues of the batchers that store appends ([`APPEND_CONNECTIONS`]).
    batchers: Arc<[mpsc::UnboundedSender<Pending>]>,
    keys: Arc<Keys>,
    scripts: Arc<Scripts>,
    shared: Arc<Shared>,
}

/// What the handles (and the batchers) share.
pub(super) struct Shared {
    history_max_age: Option<Duration>,
    history_max_per_room: Option<usize>,
    /// Appends under way; shutting down takes every permit, so it waits for them.
    appends: Arc<Semaphore>,
    appended: AtomicU64,
    /// Script calls that stored appends.
    batches: AtomicU64,
    /// Which batcher the next append goes to.
    next_append_connection: AtomicU64,
    closed: AtomicBool,
    metrics: Arc<Metrics>,
    url: String,
    /// What the appends are checked against, once a node fences this store.
    fence: Fence,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisStore")
            .field("url", &self.shared.url)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(error: redis::RedisError) -> Self {
        StoreError::Database(format!("redis: {error}"))
    }
}

impl RedisStore {
    /// Connects, checks that Redis persists every write, checks the
    /// schema version and runs retention once. Returns the store, its message count and its
    /// schema version. Every failure is a [`StoreError::Open`] naming the server (without its
    /// password).
    pub(crate) async fn open(
        settings: &RedisSettings,
        config: &StoreConfig,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, u64, u32), StoreError> {
        let url = settings.display_url();
        let open_error = |error: StoreError| StoreError::Open {
            path: url.clone(),
            message: error.detail(),
        };
        let mut connections = Vec::with_capacity(1 + APPEND_CONNECTIONS);
        for _ in 0..=APPEND_CONNECTIONS {
            connections.push(
                redis_connection(&settings.url, CONNECT_TIMEOUT, RESPONSE_TIMEOUT)
                    .await
                    .map_err(|error| open_error(error.into()))?,
            );
        }
        let connection = Link(connections.remove(0));
        let keys = Arc::new(Keys::new(&settings.key_prefix));
        let scripts = Arc::new(Scripts::new());
        let shared = Arc::new(Shared {
            history_max_age: config.history_max_age,
            history_max_per_room: config.history_max_per_room,
            appends: Arc::new(Semaphore::new(APPENDS_IN_FLIGHT)),
            appended: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            next_append_connection: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            metrics,
            url: url.clone(),
            fence: Fence::default(),
        });
        let batchers = connections
            .into_iter()
            .map(|connection| {
                let (sender, queue) = mpsc::unbounded_channel();
                let batcher = Batcher {
                    queue,
                    connection,
                    keys: keys.clone(),
                    scripts: scripts.clone(),
                    shared: shared.clone(),
                };
                tokio::spawn(batcher.run());
                sender
            })
            .collect();
        let store = Self {
            connection,
            batchers,
            keys,
            scripts,
            shared,
        };
        if settings.verify_persistence {
            store.verify_persistence().await.map_err(open_error)?;
        }
        let schema_version = store.check_schema().await.map_err(open_error)?;
        super::retention::log_pruned(store.prune().await);
        let count = store.count().await.map_err(open_error)?;
        store.spawn_upkeep(config.prune_interval);
        Ok((store, count, schema_version))
    }

    /// Refuses a Redis that could lose a write it acknowledged: without the append-only file
    /// fsync'd on every write, or with eviction that could drop history to make room.
    async fn verify_persistence(&self) -> Result<(), StoreError> {
        let required = [
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            // Otherwise Redis skips fsyncs while it rewrites its append-only file.
            ("no-appendfsync-on-rewrite", "no"),
            ("maxmemory-policy", "noeviction"),
        ];
        let mut problems = Vec::new();
        for (name, wanted) in required {
            let answer: HashMap<String, String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg(name)
                .query_async(&mut self.connection.clone())
                .await
                .map_err(|error| {
                    StoreError::Database(format!(
                        "cannot read Redis's {name} setting ({error}); allow CONFIG GET to \
                         palaver's Redis user, or set [cluster] verify_persistence = false"
                    ))
                })?;
            let value = answer.get(name).map_or("", String::as_str);
            if value != wanted {
                problems.push(format!("{name} is {value:?}, not {wanted:?}"));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(StoreError::Database(format!(
            "Redis could lose acknowledged messages: {} (docs/CLUSTER.md, \"Redis settings\"; \
             [cluster] verify_persistence = false skips this check)",
            problems.join(", ")
        )))
    }

    /// The schema version of the data, set to [`REDIS_SCHEMA_VERSION`] on an empty Redis.
    async fn check_schema(&self) -> Result<u32, StoreError> {
        let _: bool = redis::cmd("SETNX")
            .arg(self.keys.schema())
            .arg(REDIS_SCHEMA_VERSION)
            .query_async(&mut self.connection.clone())
            .await?;
        let version: u32 = redis::cmd("GET")
            .arg(self.keys.schema())
            .query_async(&mut self.connection.clone())
            .await?;
        if version > REDIS_SCHEMA_VERSION {
            return Err(StoreError::Database(format!(
                "the data is of schema {version}, from a newer palaver (this one knows up to \
                 {REDIS_SCHEMA_VERSION})"
            )));
        }
        Ok(version)
    }

    /// Runs retention every `prune_interval`, until shut down.
    fn spawn_upkeep(&self, prune_interval: Duration) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut retention = tokio::time::interval(prune_interval);
            // The first tick is now: retention just ran.
            retention.tick().await;
            loop {
                retention.tick().await;
                if store.is_closed() {
                    return;
                }
                super::retention::log_pruned(store.prune().await);
            }
        });
    }

    /// Waits until every append started before this call is done (appends queued meanwhile
    /// wait behind it). Appends run concurrently on several connections, so without this a
    /// deletion could reach Redis before the message it deletes, or a history page miss a
    /// message its reader just sent; the SQLite store's one queue gives the same order for
    /// free.
    async fn after_appends_under_way(&self) -> Result<(), StoreError> {
        let _all = self
            .shared
            .appends
            .acquire_many(APPENDS_IN_FLIGHT as u32)
            .await
            .map_err(|_closed| StoreError::Closed)?;
        Ok(())
    }

    /// The key prefix, for messages.
    pub(crate) fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// Whether nothing is stored under the prefix: no message, account, registered room or
    /// server ban.
    pub(crate) async fn is_empty(&self) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let (messages, rooms, bans): (u64, u64, u64) = redis::pipe()
            .exists(self.keys.message_count())
            .exists(self.keys.rooms())
            .exists(self.keys.server_bans())
            .query_async(&mut connection)
            .await?;
        if messages + rooms + bans > 0 {
            return Ok(false);
        }
        let pattern = format!("{}*", self.keys.account(""));
        let mut cursor = 0u64;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await?;
            if !found.is_empty() {
                return Ok(false);
            }
            if next == 0 {
                return Ok(true);
            }
            cursor = next;
        }
    }

    fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.is_closed() {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    /// Queues `message` for its batcher and returns; `committed` hears the outcome once Redis
    /// has it on disk. Waits first while [`APPENDS_IN_FLIGHT`] appends are under way: the
    /// backpressure (the batchers' queues need no bound of their own).
    pub(crate) async fn queue_append(
        &self,
        message: StoredMessage,
        committed: oneshot::Sender<Result<(), StoreError>>,
    ) -> Result<(), StoreError> {
        self.check_open()?;
        let permit = self
            .shared
            .appends
            .clone()
            .acquire_owned()
            .await
            .map_err(|_closed| StoreError::Closed)?;
        let turn = self
            .shared
            .next_append_connection
            .fetch_add(1, Ordering::Relaxed);
        let batcher = &self.batchers[turn as usize % self.batchers.len()];
        let pending = Pending {
            message,
            committed,
            permit,
        };
        batcher.send(pending).map_err(|_stopped| StoreError::Closed)
    }

    /// How many messages are stored.
    pub(crate) async fn count(&self) -> Result<u64, StoreError> {
        self.check_open()?;
        let count: Option<i64> = redis::cmd("GET")
            .arg(self.keys.message_count())
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(count.unwrap_or(0).max(0) as u64)
    }

    /// Retention (age, then count per target) and the floors of ended lifetimes. Returns how
    /// many messages were deleted.
    pub(crate) async fn prune(&self) -> Result<u64, StoreError> {
        self.check_open()?;
        let now = Timestamp::now();
        let cutoff = self.shared.history_max_age.map(|max_age| {
            let max_age_millis = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
            now.0.saturating_sub(max_age_millis)
        });
        let floor_cutoff = now.0.saturating_sub(FLOOR_KEEP.as_millis() as u64);
        let _: i64 = self
            .write(
                self.scripts
                    .prune_floors
                    .key(self.keys.floors())
                    .key(self.keys.floors_ended())
                    .arg(floor_cutoff)
                    .arg(MAX_FLOORS),
            )
            .await?;
        if cutoff.is_none() && self.shared.history_max_per_room.is_none() {
            return Ok(0);
        }
        let targets: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.targets())
            .query_async(&mut self.connection.clone())
            .await?;
        let mut deleted = 0;
        for target in targets {
            let count: u64 = self
                .write(
                    self.scripts
                        .prune_target
                        .key(self.keys.history(&target))
                        .key(self.keys.message_count())
                        .arg(cutoff.map_or_else(String::new, |cutoff| cutoff.to_string()))
                        .arg(
                            self.shared
                                .history_max_per_room
                                .map_or_else(String::new, |keep| keep.to_string()),
                        )
                        .arg(self.keys.message_prefix()),
                )
                .await?;
            deleted += count;
        }
        Ok(deleted)
    }

    /// Ends the lifetime of the unregistered room whose folded name is `key`.
    pub(crate) async fn end_room_lifetime(
        &self,
        key: &str,
        history_end: MessageId,
    ) -> Result<u64, StoreError> {
        self.check_open()?;
        let deleted: u64 = self
            .write(
                self.scripts
                    .end_lifetime
                    .key(self.keys.history(key))
                    .key(self.keys.message_count())
                    .key(self.keys.floors())
                    .key(self.keys.floors_ended())
                    .arg(key)
                    .arg(history_end.0)
                    .arg(Timestamp::now().0)
                    .arg(self.keys.message_prefix()),
            )
            .await?;
        Ok(deleted)
    }

    /// The message with id `id`, if stored.
    pub(crate) async fn message(&self, id: MessageId) -> Result<Option<StoredMessage>, StoreError> {
        self.check_open()?;
        self.after_appends_under_way().await?;
        Ok(self.messages(vec![id.0]).await?.pop())
    }

    /// Deletes the message with id `id` (nothing if it is gone already); durable on return.
    pub(crate) async fn delete_message(&self, id: MessageId) -> Result<(), StoreError> {
        self.check_open()?;
        self.after_appends_under_way().await?;
        let _deleted: i64 = self
            .write(
                self.scripts
                    .delete_message
                    .key(self.keys.message(id))
                    .key(self.keys.message_count())
                    .arg(id.0),
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn read_marker(
        &self,
        account: &str,
        target: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        self.check_open()?;
        let marker: Option<f64> = redis::cmd("ZSCORE")
            .arg(self.keys.read_markers(&fold(account)))
            .arg(fold(target))
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(marker.map(|marker| Timestamp(marker as u64)))
    }

    pub(crate) async fn read_markers(
        &self,
        account: &str,
        targets: Vec<String>,
    ) -> Result<HashMap<String, Timestamp>, StoreError> {
        let mut markers = HashMap::new();
        for target in targets {
            if let Some(marker) = self.read_marker(account, &target).await? {
                markers.insert(fold(&target), marker);
            }
        }
        Ok(markers)
    }

    pub(crate) async fn room_read_markers(
        &self,
        account: &str,
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        self.check_open()?;
        let account = fold(account);
        let markers: Vec<(String, f64)> = redis::cmd("ZREVRANGE")
            .arg(self.keys.read_markers(&account))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut self.connection.clone())
            .await?;
        let names: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.keys.read_marker_names(&account))
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(markers
            .into_iter()
            .filter(|(target, _)| target.starts_with('#'))
            .map(|(target, marker)| {
                let name = names.get(&target).cloned().unwrap_or(target);
                (name, Timestamp(marker as u64))
            })
            .collect())
    }

    pub(crate) async fn set_read_marker(
        &self,
        account: &str,
        target: &str,
        marker: Timestamp,
    ) -> Result<(Timestamp, bool), StoreError> {
        self.check_open()?;
        let account = fold(account);
        let (stored, changed): (f64, i64) = self
            .write(
                self.scripts
                    .set_read_marker
                    .key(self.keys.read_markers(&account))
                    .key(self.keys.read_marker_names(&account))
                    .arg(fold(target))
                    .arg(target)
                    .arg(marker.0)
                    .arg(MAX_READ_MARKERS),
            )
            .await?;
        Ok((Timestamp(stored as u64), changed == 1))
    }

    pub(crate) async fn create_account(
        &self,
        name: &str,
        secrets: PasswordSecrets,
        email: Option<String>,
        created: Timestamp,
    ) -> Result<bool, StoreError> {
        self.check_open()?;
        let created: i64 = self
            .write(
                self.scripts
                    .create_account
                    .key(self.keys.account(&fold(name)))
                    .arg(name)
                    .arg(&secrets.password_hash)
                    .arg(&secrets.scram_sha_256)
                    .arg(created.0)
                    .arg(if email.is_some() { "1" } else { "0" })
                    .arg(email.unwrap_or_default()),
            )
            .await?;
        Ok(created == 1)
    }

    pub(crate) async fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.check_open()?;
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.keys.account(&fold(name)))
            .query_async(&mut self.connection.clone())
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let field = |name: &str| {
            fields
                .get(name)
                .cloned()
                .ok_or_else(|| StoreError::Database(format!("an account record lacks its {name}")))
        };
        let time = |name: &str, what: &str| -> Result<u64, StoreError> {
            field(name)?
                .parse()
                .map_err(|_| StoreError::Database(format!("an account's {what} is not a number")))
        };
        let created = time("created", "creation time")?;
        let locked = match fields.contains_key("locked_at") {
            true => Some(AccountLock {
                reason: field("locked_reason")?,
                by: field("locked_by")?,
                at: Timestamp(time("locked_at", "lock time")?),
            }),
            false => None,
        };
        Ok(Some(AccountRecord {
            name: field("name")?,
            password_hash: field("password_hash")?,
            // Empty for an account imported from before SCRAM credentials were kept.
            scram_sha_256: fields
                .get("scram_sha_256")
                .filter(|credentials| !credentials.is_empty())
                .cloned(),
            created: Timestamp(created),
            email: fields.get("email").cloned(),
            locked,
        }))
    }

    pub(crate) async fn set_account_lock(
        &self,
        name: &str,
        lock: Option<AccountLock>,
    ) -> Result<bool, StoreError> {
        self.check_open()?;
        let mut call = self
            .scripts
            .set_account_lock
            .key(self.keys.account(&fold(name)));
        match &lock {
            Some(lock) => call.arg("1").arg(lock.at.0).arg(&lock.by).arg(&lock.reason),
            None => call.arg("0"),
        };
        let updated: i64 = self.write(&mut call).await?;
        Ok(updated == 1)
    }

    pub(crate) async fn set_password(
        &self,
        name: &str,
        secrets: PasswordSecrets,
    ) -> Result<bool, StoreError> {
        self.check_open()?;
        let updated: i64 = self
            .write(
                self.scripts
                    .set_password
                    .key(self.keys.account(&fold(name)))
                    .arg(&secrets.password_hash)
                    .arg(&secrets.scram_sha_256),
            )
            .await?;
        Ok(updated == 1)
    }

    pub(crate) async fn add_scram_credentials(
        &self,
        name: &str,
        password_hash: &str,
        scram_sha_256: &str,
    ) -> Result<bool, StoreError> {
        self.check_open()?;
        let updated: i64 = self
            .write(
                self.scripts
                    .add_scram
                    .key(self.keys.account(&fold(name)))
                    .arg(password_hash)
                    .arg(scram_sha_256),
            )
            .await?;
        Ok(updated == 1)
    }

    pub(crate) async fn add_certificate(
        &self,
        account: &str,
        fingerprint: &str,
    ) -> Result<CertificateAdded, StoreError> {
        self.check_open()?;
        let account = fold(account);
        let outcome: String = self
            .write(
                self.scripts
                    .add_certificate
                    .key(self.keys.account(&account))
                    .key(self.keys.account_certificates(&account))
                    .key(self.keys.certificate_owners())
                    .key(self.keys.certificate_order())
                    .arg(fingerprint)
                    .arg(&account)
                    .arg(MAX_CERTIFICATES),
            )
            .await?;
        Ok(match outcome.as_str() {
            "added" => CertificateAdded::Added,
            "listed" => CertificateAdded::AlreadyListed,
            "other" => CertificateAdded::OtherAccount,
            "too_many" => CertificateAdded::TooMany,
            _ => CertificateAdded::NoAccount,
        })
    }

    pub(crate) async fn remove_certificate(
        &self,
        account: &str,
        fingerprint: &str,
    ) -> Result<bool, StoreError> {
        self.check_open()?;
        let account = fold(account);
        let removed: i64 = self
            .write(
                self.scripts
                    .remove_certificate
                    .key(self.keys.account_certificates(&account))
                    .key(self.keys.certificate_owners())
                    .arg(fingerprint)
                    .arg(&account),
            )
            .await?;
        Ok(removed == 1)
    }

    pub(crate) async fn certificates(&self, account: &str) -> Result<Vec<String>, StoreError> {
        self.check_open()?;
        let fingerprints: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.keys.account_certificates(&fold(account)))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(fingerprints)
    }

    pub(crate) async fn account_by_certificate(
        &self,
        fingerprint: &str,
    ) -> Result<Option<String>, StoreError> {
        self.check_open()?;
        let owner: Option<String> = redis::cmd("HGET")
            .arg(self.keys.certificate_owners())
            .arg(fingerprint)
            .query_async(&mut self.connection.clone())
            .await?;
        let Some(owner) = owner else {
            return Ok(None);
        };
        let name: Option<String> = redis::cmd("HGET")
            .arg(self.keys.account(&owner))
            .arg("name")
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(name)
    }

    pub(crate) async fn register_room(&self, room: &RoomRecord) -> Result<bool, StoreError> {
        self.check_open()?;
        let registered: i64 = self
            .write(
                self.scripts
                    .register_room
                    .key(self.keys.rooms())
                    .arg(fold(&room.name))
                    .arg(encode_room(room)?),
            )
            .await?;
        Ok(registered == 1)
    }

    pub(crate) async fn save_room(&self, room: &RoomRecord) -> Result<bool, StoreError> {
        self.check_open()?;
        let saved: i64 = self
            .write(
                self.scripts
                    .save_room
                    .key(self.keys.rooms())
                    .arg(fold(&room.name))
                    .arg(encode_room(room)?),
            )
            .await?;
        Ok(saved == 1)
    }

    pub(crate) async fn registered_rooms(&self) -> Result<Vec<RoomRecord>, StoreError> {
        self.check_open()?;
        let rooms: Vec<String> = redis::cmd("HVALS")
            .arg(self.keys.rooms())
            .query_async(&mut self.connection.clone())
            .await?;
        let mut rooms = rooms
            .iter()
            .map(|json| decode_room(json))
            .collect::<Result<Vec<_>, _>>()?;
        rooms.sort_by_key(|room| fold(&room.name));
        Ok(rooms)
    }

    /// Every server ban in force, oldest first (by when it was set); expired ones are deleted.
    pub(crate) async fn server_bans(&self) -> Result<Vec<ServerBanRecord>, StoreError> {
        self.check_open()?;
        let (in_force, expired) = read_server_bans(&self.connection, &self.keys).await?;
        for target in expired {
            self.delete_server_ban(&target).await?;
        }
        Ok(in_force)
    }

    pub(crate) async fn save_server_ban(&self, ban: &ServerBanRecord) -> Result<(), StoreError> {
        self.check_open()?;
        let _order: u64 = self
            .write(
                self.scripts
                    .save_server_ban
                    .key(self.keys.server_bans())
                    .key(self.keys.server_ban_order())
                    .arg(&ban.target)
                    .arg(encode_server_ban(ban)?),
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn delete_server_ban(&self, target: &str) -> Result<bool, StoreError> {
        self.check_open()?;
        let deleted: i64 = self
            .write(
                self.scripts
                    .delete_server_ban
                    .key(self.keys.server_bans())
                    .arg(target),
            )
            .await?;
        Ok(deleted == 1)
    }

    /// The fence this store's writes are checked against, for the node to hold its lease in.
    pub(crate) fn fence(&self) -> Fence {
        self.shared.fence.clone()
    }

    /// What a cluster node's room messages are stored with (`published.rs`).
    pub(crate) fn history_entries(&self) -> HistoryEntries {
        HistoryEntries::new(self.keys.clone(), self.shared.clone())
    }

    /// Runs a script that writes, with the fence's lease and token added last
    /// (`scripts/fence.lua`): every write of this store goes through here or through the
    /// appends' batchers, which add them the same way.
    async fn write<T: FromRedisValue>(
        &self,
        invocation: &mut ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        self.shared.fence.seal(invocation);
        Ok(invocation
            .invoke_async(&mut self.connection.clone())
            .await?)
    }

    pub(crate) fn statistics(&self) -> Statistics {
        Statistics {
            batches: self.shared.batches.load(Ordering::Relaxed),
            appended: self.shared.appended.load(Ordering::Relaxed),
        }
    }

    /// Waits for the appends under way. Later requests fail with [`StoreError::Closed`].
    pub(crate) async fn shut_down(&self) -> Result<(), StoreError> {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return Err(StoreError::Closed);
        }
        self.after_appends_under_way().await
    }
}

/// The server bans kept under `keys`: those in force, in the order they were set (in the same
/// millisecond, in the order they were saved), and the targets of those expired.
async fn read_server_bans(
    connection: &Link,
    keys: &Keys,
) -> Result<(Vec<ServerBanRecord>, Vec<String>), StoreError> {
    let bans: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(keys.server_bans())
        .query_async(&mut connection.clone())
        .await?;
    let now = Timestamp::now();
    let mut in_force = Vec::new();
    let mut expired = Vec::new();
    for (target, json) in bans {
        let (ban, order) = decode_server_ban(&json)?;
        if ban.expires.is_some_and(|expires| expires <= now) {
            expired.push(target);
        } else {
            in_force.push((order, ban));
        }
    }
    in_force.sort_by_key(|(order, ban)| (ban.set_at, *order));
    Ok((in_force.into_iter().map(|(_, ban)| ban).collect(), expired))
}

/// The server bans in force that a store under `prefix` keeps, read over `connection` (a
/// cluster node's snapshot, which only reads: expired ones are left for the store to delete).
pub(crate) async fn server_bans_under(
    connection: &Link,
    prefix: &str,
) -> Result<Vec<ServerBanRecord>, StoreError> {
    let (in_force, _expired) = read_server_bans(connection, &Keys::new(prefix)).await?;
    Ok(in_force)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_log() {
        assert_eq!(
            redact("redis://palaver:secret@10.0.0.5:6379/0"),
            "redis://…@10.0.0.5:6379/0"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redact("redis+unix:///run/redis.sock"),
            "redis+unix:///run/redis.sock"
        );
        assert_eq!(
            redact("redis+unix:///run/redis.sock?user=palaver&pass=secret"),
            "redis+unix:///run/redis.sock?…"
        );
    }
}
