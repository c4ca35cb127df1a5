//! Durable message history (with accounts, registered rooms, bans and read markers) in an
//! embedded SQLite database kept off the async workers, or in Redis (`redis_store/`, with
//! `--cluster URL`).
//!
//! [`Store`] is a cheap, cloneable handle; the SQLite database belongs to one dedicated thread
//! (`worker.rs`) that the handles feed through a bounded channel. Appends are written with
//! group commit: everything queued since the previous commit goes to disk in one transaction,
//! and while messages keep coming a commit waits a little for more (`pace.rs`). The files:
//! `message.rs` what is stored, `sqlite.rs` opening the database and writing and reading rows,
//! `migrations.rs` the schema and its versions, `queries.rs` the history pages and TARGETS,
//! `retention.rs` pruning, `lifetimes.rs` forgetting the history of a room whose lifetime
//! ended, `redaction.rs` deleting one message, `accounts.rs` registered accounts,
//! `certificates.rs` the client certificates accounts log in with, `rooms.rs` registered rooms,
//! `read_markers.rs` accounts' read markers, `backup.rs` online copies, `worker.rs` the thread.

/// In tests: runs each named test, an `async fn(TestBackend)`, once on SQLite
/// (`on_sqlite::name`) and once on Redis (`on_redis::name`). Defined first, so that every test
/// module below can use it.
#[cfg(test)]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::TestBackend::Sqlite).await;
                }
            )*
        }
        mod on_redis {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::TestBackend::Redis).await;
                }
            )*
        }
    };
}

mod accounts;
mod arrivals;
mod backup;
mod certificates;
mod import;
mod lifetimes;
mod message;
mod migrations;
mod pace;
mod queries;
mod read_markers;
mod redaction;
mod redis_store;
mod retention;
mod rooms;
mod server_bans;
mod sqlite;
mod worker;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use palaver_proto::event::MessageId;
use palaver_proto::time::Timestamp;
use tokio::sync::{mpsc, oneshot};

pub use accounts::{AccountLock, AccountRecord, PasswordSecrets};
pub use backup::backup;
pub use certificates::{CertificateAdded, MAX_CERTIFICATES};
pub use import::{Imported, import};
pub use message::{
    ConnectionId, Correspondent, HistoryQuery, HistoryTarget, MAX_STORED_CLIENT_TAG_BYTES, Party,
    REPLAYED_CLIENT_TAGS, StoredMessage,
};
#[doc(hidden)]
pub use migrations::{MIGRATIONS, Migration, SCRAM_CREDENTIALS_VERSION, latest_version};
pub use read_markers::MAX_READ_MARKERS;
pub(crate) use redis_store::{
    FENCE, Link, RedisConnection, STORE_MESSAGE, SentinelTarget, redis_connection,
    redis_subscriber, server_bans_under,
};
pub use redis_store::{Fence, HistoryEntries, HistoryEntry, REDIS_SCHEMA_VERSION, RedisSettings};
pub use rooms::{ListEntry, RoomRecord};
pub use server_bans::ServerBanRecord;

use arrivals::Arrivals;
use queries::Page;
use redis_store::RedisStore;
use sqlite::Database;
use worker::Request;

use crate::metrics::Metrics;

/// How many requests may wait for the store thread before callers wait in turn: the
/// backpressure that keeps a slow disk from growing memory without bound. It also caps the
/// size of one group commit.
const CHANNEL_CAPACITY: usize = 8192;

/// How often retention runs unless configured otherwise.
pub const DEFAULT_PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// The least time between the starts of two group commits while messages keep coming, unless
/// configured otherwise (`pace.rs` says when a commit goes sooner). Only the acknowledgement
/// to a message's sender waits for its commit (the room has the message before): this is
/// what a busy sender's acknowledgement may wait at most, beyond the commit itself.
pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_millis(2);

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error, or a stored row did not make sense.
    #[error("database error: {0}")]
    Database(String),
    /// The store thread has stopped (after [`Store::shut_down`]).
    #[error("the store has shut down")]
    Closed,
    /// The database could not be opened, configured or migrated.
    #[error("cannot open the database {path}: {message}")]
    Open { path: String, message: String },
}

impl StoreError {
    /// The error's text without the "database error" prefix, to nest it in another message.
    fn detail(self) -> String {
        match self {
            StoreError::Database(message) => message,
            other => other.to_string(),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}

/// Where the database lives and how much history it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// A file path (created if missing), or `:memory:` for a throw-away store.
    pub path: String,
    /// Forget messages older than this; `None` keeps them forever (the server's configuration
    /// has a default, see `config.rs`).
    pub history_max_age: Option<Duration>,
    /// Keep at most this many messages per room and per private conversation; `None` for no
    /// limit.
    pub history_max_per_room: Option<usize>,
    /// How often retention runs on the store thread.
    pub prune_interval: Duration,
    /// The least time between the starts of two group commits; zero commits as soon as the
    /// previous commit is done.
    pub commit_interval: Duration,
}

impl StoreConfig {
    /// A store at `path` that keeps everything.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            history_max_age: None,
            history_max_per_room: None,
            prune_interval: DEFAULT_PRUNE_INTERVAL,
            commit_interval: DEFAULT_COMMIT_INTERVAL,
        }
    }
}

/// A store just opened, with what the caller logs at startup.
#[derive(Debug)]
pub struct Opened {
    pub store: Store,
    /// Messages held after opening (and after the first retention pass).
    pub message_count: u64,
    pub schema_version: u32,
}

/// A position in history: a message id (IRC `msgid`) or a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Id(MessageId),
    Time(Timestamp),
}

/// Counters of the store thread, for tests and benchmarks.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Transactions that wrote appends: one per group commit.
    pub batches: u64,
    /// Messages written.
    pub appended: u64,
}

/// Resolves once an appended message is durable (or could not be written). Dropping it does
/// not cancel the write; it only stops listening for the outcome.
#[derive(Debug)]
pub struct Commit {
    receiver: oneshot::Receiver<Result<(), StoreError>>,
}

impl Future for Commit {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        // A dropped sender means the thread stopped before reaching this message.
        Pin::new(&mut self.receiver)
            .poll(context)
            .map(|answer| answer.unwrap_or(Err(StoreError::Closed)))
    }
}

/// A handle to the store: the SQLite database on its thread, or Redis. Cheap to clone.
/// Every method is async and never blocks a tokio worker.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(StoreThread),
    Redis(RedisStore),
}

/// The way to the store thread.
#[derive(Debug, Clone)]
struct StoreThread {
    /// Its queue; bounded, so senders wait when it is full.
    requests: mpsc::Sender<Request>,
    /// Appends queued, counted for the thread's group commit.
    arrivals: Arc<Arrivals>,
}

impl Store {
    /// Opens (creating if needed) the database, applies migrations, sets WAL mode and
    /// `synchronous=FULL`, deletes what ended room lifetimes left behind, runs retention once,
    /// counts the messages and starts the store thread. The open itself blocks the calling
    /// thread: call it before serving, or through `spawn_blocking`.
    pub fn open(config: StoreConfig) -> Result<Opened, StoreError> {
        Self::open_counted(config, Arc::default())
    }

    /// [`Store::open`], with the store thread recording its commits in `metrics`.
    pub fn open_counted(config: StoreConfig, metrics: Arc<Metrics>) -> Result<Opened, StoreError> {
        Self::open_migrated_to(config, latest_version(), metrics)
    }

    /// [`Store::open`], migrating no further than schema `version`: for tests that build a
    /// database as an older palaver would have left it.
    #[doc(hidden)]
    pub fn open_at_version(config: StoreConfig, version: u32) -> Result<Opened, StoreError> {
        Self::open_migrated_to(config, version, Arc::default())
    }

    fn open_migrated_to(
        config: StoreConfig,
        version: u32,
        metrics: Arc<Metrics>,
    ) -> Result<Opened, StoreError> {
        let open_error = |error: StoreError| StoreError::Open {
            path: config.path.clone(),
            message: error.detail(),
        };
        let (mut database, schema_version) = Database::open(&config, version)?;
        // No message of the last run can still be on its way: its floors have done their job.
        lifetimes::log_settled(database.settle_history_floors());
        retention::log_pruned(database.prune(Timestamp::now()));
        let message_count = database.count().map_err(open_error)?;
        let clock = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|error| open_error(StoreError::Database(error.to_string())))?;
        let (requests, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let arrivals = Arc::new(Arrivals::default());
        let timing = worker::Timing {
            prune_interval: config.prune_interval,
            commit_interval: config.commit_interval,
        };
        std::thread::Builder::new()
            .name("palaver-store".into())
            .spawn({
                let arrivals = arrivals.clone();
                move || worker::run(database, receiver, arrivals, clock, timing, metrics)
            })
            .map_err(|error| open_error(StoreError::Database(error.to_string())))?;
        Ok(Opened {
            store: Store {
                backend: Backend::Sqlite(StoreThread { requests, arrivals }),
            },
            message_count,
            schema_version,
        })
    }

    /// Opens the store on Redis instead (`redis_store`): connects, checks that Redis persists
    /// every write before answering (unless told not to), takes the node lock, runs retention
    /// once and counts the messages. `config.path` and `commit_interval` do not apply.
    pub async fn open_redis(
        settings: &RedisSettings,
        config: StoreConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Opened, StoreError> {
        let (redis, message_count, schema_version) =
            RedisStore::open(settings, &config, metrics).await?;
        Ok(Opened {
            store: Store {
                backend: Backend::Redis(redis),
            },
            message_count,
            schema_version,
        })
    }

    /// Whether the store is on Redis.
    pub fn is_redis(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    /// Queues `message` for the next group commit. Waits (asynchronously) while the queue is
    /// full: that is the backpressure. The returned [`Commit`] resolves once the message is
    /// durable, so a caller can queue several and await them later.
    pub async fn append(&self, message: StoredMessage) -> Result<Commit, StoreError> {
        let (committed, receiver) = oneshot::channel();
        match &self.backend {
            Backend::Sqlite(thread) => {
                let message = Box::new(message);
                self.send(Request::Append { message, committed }).await?;
                thread.arrivals.sent();
            }
            Backend::Redis(redis) => redis.queue_append(message, committed).await?,
        }
        Ok(Commit { receiver })
    }

    /// The newest `limit` messages `query` may see (for a conversation, those its readers were
    /// a party to, either way), oldest first. Every page below likewise reads only from
    /// `query.since` on.
    pub async fn latest(
        &self,
        query: HistoryQuery,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.history(query, Page::Latest, limit).await
    }

    /// The newest `limit` messages after (excluding) `after`, oldest first: CHATHISTORY
    /// LATEST with a bound.
    pub async fn latest_after(
        &self,
        query: HistoryQuery,
        after: Bound,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.history(query, Page::LatestAfter(after), limit).await
    }

    /// The newest `limit` messages before (excluding) `before`, oldest first.
    pub async fn before(
        &self,
        query: HistoryQuery,
        before: Bound,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.history(query, Page::Before(before), limit).await
    }

    /// The oldest `limit` messages after (excluding) `after`, oldest first.
    pub async fn after(
        &self,
        query: HistoryQuery,
        after: Bound,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.history(query, Page::After(after), limit).await
    }

    /// Up to `limit` messages centred on `center`: half before it, half from it on (a message
    /// id's own message included), filling up from the other side near either end of the
    /// history. Oldest first.
    pub async fn around(
        &self,
        query: HistoryQuery,
        center: Bound,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.history(query, Page::Around(center), limit).await
    }

    /// Up to `limit` messages strictly between `start` and `end`, counted from `start`: the
    /// oldest ones when `start` is the earlier bound, the newest ones when it is the later
    /// (CHATHISTORY BETWEEN may go "forwards or backwards in time"). Oldest first either way.
    pub async fn between(
        &self,
        query: HistoryQuery,
        start: Bound,
        end: Bound,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.history(query, Page::Between(start, end), limit).await
    }

    /// CHATHISTORY TARGETS: every room, and the other party's nick (as it was then) for each
    /// private conversation any of `readers` was a party to, whose latest message is strictly
    /// between `start` and `end` (with that message's time). The `limit` targets nearest to
    /// `start` are kept (as with BETWEEN), sorted by time, oldest first.
    ///
    /// The store does not know who may see which room: a caller answering a client should
    /// use [`Store::targets_among`] with the rooms that client may see.
    pub async fn targets(
        &self,
        readers: Vec<Party>,
        start: Timestamp,
        end: Timestamp,
        limit: usize,
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => {
                self.call(move |database| database.targets(&readers, None, start, end, limit))
                    .await
            }
            Backend::Redis(redis) => redis.targets(&readers, None, start, end, limit).await,
        }
    }

    /// [`Store::targets`] limited to the rooms named in `rooms` (any case), each read from its
    /// message id on (the room's current lifetime), so that `limit` counts only targets and
    /// messages the reader may see.
    pub async fn targets_among(
        &self,
        readers: Vec<Party>,
        rooms: Vec<(String, MessageId)>,
        start: Timestamp,
        end: Timestamp,
        limit: usize,
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => {
                self.call(move |database| {
                    database.targets(&readers, Some(&rooms), start, end, limit)
                })
                .await
            }
            Backend::Redis(redis) => {
                redis
                    .targets(&readers, Some(rooms), start, end, limit)
                    .await
            }
        }
    }

    /// How many messages are stored.
    pub async fn count(&self) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => self.call(|database| database.count()).await,
            Backend::Redis(redis) => redis.count().await,
        }
    }

    /// Runs retention now, and deletes messages that reached the store after their room's
    /// lifetime ended (both also run every `prune_interval` on the store thread). Returns how
    /// many messages were deleted.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => self.call(|database| database.prune(Timestamp::now())).await,
            Backend::Redis(redis) => redis.prune().await,
        }
    }

    /// Ends the lifetime of the unregistered room called `name`, whose history runs up to (not
    /// including) message id `history_end`: deletes that history, and remembers the floor so
    /// that a message of it still on its way here is deleted too. Durable on return. Returns
    /// how many messages were deleted.
    pub async fn end_room_lifetime(
        &self,
        name: &str,
        history_end: MessageId,
    ) -> Result<u64, StoreError> {
        let key = HistoryTarget::Room(name.to_owned()).key();
        match &self.backend {
            Backend::Sqlite(_) => {
                self.call(move |database| {
                    database.end_room_lifetime(&key, history_end, Timestamp::now())
                })
                .await
            }
            Backend::Redis(redis) => redis.end_room_lifetime(&key, history_end).await,
        }
    }

    /// The folded names of the rooms that have history: at start-up, the unregistered rooms
    /// whose lifetime a restart did not end.
    pub async fn rooms_with_history(&self) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => self.call(|database| database.rooms_with_history()).await,
            Backend::Redis(redis) => redis.rooms_with_history().await,
        }
    }

    /// The message with id `id`, if it is stored (a deleted or pruned one is not).
    pub async fn message(&self, id: MessageId) -> Result<Option<StoredMessage>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => self.call(move |database| database.message(id)).await,
            Backend::Redis(redis) => redis.message(id).await,
        }
    }

    /// The newest message any of `authors` sent to the room called `name` from message id
    /// `since` on (its current lifetime).
    pub async fn newest_by(
        &self,
        name: &str,
        since: MessageId,
        authors: Vec<Party>,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let name = name.to_owned();
        match &self.backend {
            Backend::Sqlite(_) => {
                self.call(move |database| database.newest_by(&name, since, &authors))
                    .await
            }
            Backend::Redis(redis) => redis.newest_by(&name, since, &authors).await,
        }
    }

    /// Deletes the message with id `id` from history (nothing if it is gone already). The
    /// returned [`Commit`] resolves once the deletion is durable, so a caller can hold a
    /// receipt back until then as for an append.
    pub async fn delete_message(&self, id: MessageId) -> Result<Commit, StoreError> {
        let (committed, receiver) = oneshot::channel();
        match &self.backend {
            Backend::Sqlite(_) => {
                self.send(Request::Call(Box::new(move |database| {
                    let outcome = database.delete_message(id).map(drop);
                    // The caller may have stopped listening; the deletion stands all the same.
                    let _ = committed.send(outcome);
                })))
                .await?;
            }
            Backend::Redis(redis) => {
                let _ = committed.send(redis.delete_message(id).await);
            }
        }
        Ok(Commit { receiver })
    }

    /// The read marker of `account` for `target` (any case), if it has one.
    pub async fn read_marker(
        &self,
        account: &str,
        target: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.read_marker(account, target).await;
        }
        let (account, target) = (account.to_owned(), target.to_owned());
        self.call(move |database| database.read_marker(&account, &target))
            .await
    }

    /// The read markers of `account` for those of `targets` it has one for, by folded target.
    pub async fn read_markers(
        &self,
        account: &str,
        targets: Vec<String>,
    ) -> Result<std::collections::HashMap<String, Timestamp>, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.read_markers(account, targets).await;
        }
        let account = account.to_owned();
        self.call(move |database| database.read_markers(&account, &targets))
            .await
    }

    /// Every room read marker of `account`, newest first, with the room's name as last set.
    pub async fn room_read_markers(
        &self,
        account: &str,
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.room_read_markers(account).await;
        }
        let account = account.to_owned();
        self.call(move |database| database.room_read_markers(&account))
            .await
    }

    /// Moves the read marker of `account` for `target` forward to `marker` (never back; at
    /// most [`MAX_READ_MARKERS`] per account, the oldest going first). Durable on return.
    /// Returns the marker now stored and whether it changed.
    pub async fn set_read_marker(
        &self,
        account: &str,
        target: &str,
        marker: Timestamp,
    ) -> Result<(Timestamp, bool), StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.set_read_marker(account, target, marker).await;
        }
        let (account, target) = (account.to_owned(), target.to_owned());
        self.call(move |database| database.set_read_marker(&account, &target, marker))
            .await
    }

    /// Registers account `name` with what it keeps of its password and the email address
    /// given, if any. Returns false, storing nothing, if an account of that name in any case
    /// exists. The row is durable on return.
    pub async fn create_account(
        &self,
        name: &str,
        secrets: PasswordSecrets,
        email: Option<String>,
        created: Timestamp,
    ) -> Result<bool, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.create_account(name, secrets, email, created).await;
        }
        let name = name.to_owned();
        self.call(move |database| {
            database.create_account(&name, &secrets, email.as_deref(), created)
        })
        .await
    }

    /// Adds the client certificate `fingerprint` (lowercase hex SHA-256) to `account` (at
    /// most [`MAX_CERTIFICATES`]; one account per fingerprint). Durable on return.
    pub async fn add_certificate(
        &self,
        account: &str,
        fingerprint: &str,
    ) -> Result<CertificateAdded, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.add_certificate(account, fingerprint).await;
        }
        let (account, fingerprint) = (account.to_owned(), fingerprint.to_owned());
        self.call(move |database| {
            database.add_certificate(&account, &fingerprint, Timestamp::now())
        })
        .await
    }

    /// Removes the client certificate `fingerprint` from `account`; false if not listed.
    pub async fn remove_certificate(
        &self,
        account: &str,
        fingerprint: &str,
    ) -> Result<bool, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.remove_certificate(account, fingerprint).await;
        }
        let (account, fingerprint) = (account.to_owned(), fingerprint.to_owned());
        self.call(move |database| database.remove_certificate(&account, &fingerprint))
            .await
    }

    /// The client certificates `account` lists, oldest first.
    pub async fn certificates(&self, account: &str) -> Result<Vec<String>, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.certificates(account).await;
        }
        let account = account.to_owned();
        self.call(move |database| database.certificates(&account))
            .await
    }

    /// The account (as registered) listing the client certificate `fingerprint`, if any.
    pub async fn account_by_certificate(
        &self,
        fingerprint: &str,
    ) -> Result<Option<String>, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.account_by_certificate(fingerprint).await;
        }
        let fingerprint = fingerprint.to_owned();
        self.call(move |database| database.account_by_certificate(&fingerprint))
            .await
    }

    /// Registers a room. Returns false if it is already registered.
    pub async fn register_room(&self, room: RoomRecord) -> Result<bool, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.register_room(&room).await;
        }
        self.call(move |database| database.register_room(&room))
            .await
    }

    /// Saves a registered room's current state. Returns false if it is not registered.
    pub async fn save_room(&self, room: RoomRecord) -> Result<bool, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.save_room(&room).await;
        }
        self.call(move |database| database.save_room(&room)).await
    }

    /// Every server ban in force, oldest first (expired ones are deleted).
    pub async fn server_bans(&self) -> Result<Vec<ServerBanRecord>, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.server_bans().await;
        }
        self.call(|database| database.server_bans(Timestamp::now()))
            .await
    }

    /// Saves a server ban, replacing any on the same target. Durable on return.
    pub async fn save_server_ban(&self, ban: ServerBanRecord) -> Result<(), StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.save_server_ban(&ban).await;
        }
        self.call(move |database| database.save_server_ban(&ban))
            .await
    }

    /// Deletes the server ban on `target`; whether there was one. Durable on return.
    pub async fn delete_server_ban(&self, target: &str) -> Result<bool, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.delete_server_ban(target).await;
        }
        let target = target.to_owned();
        self.call(move |database| database.delete_server_ban(&target))
            .await
    }

    /// Every registered room.
    pub async fn registered_rooms(&self) -> Result<Vec<RoomRecord>, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.registered_rooms().await;
        }
        self.call(|database| database.registered_rooms()).await
    }

    /// The account named `name`, in any case.
    pub async fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.account(name).await;
        }
        let name = name.to_owned();
        self.call(move |database| database.account(&name)).await
    }

    /// Replaces what account `name` keeps of its password. Returns false if there is no such
    /// account.
    pub async fn set_password(
        &self,
        name: &str,
        secrets: PasswordSecrets,
    ) -> Result<bool, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.set_password(name, secrets).await;
        }
        let name = name.to_owned();
        self.call(move |database| database.set_password(&name, &secrets))
            .await
    }

    /// Locks account `name` with `lock` (replacing any lock it had), or with `None` lifts its
    /// lock. Returns false if there is no such account. Durable on return.
    pub async fn set_account_lock(
        &self,
        name: &str,
        lock: Option<AccountLock>,
    ) -> Result<bool, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.set_account_lock(name, lock).await;
        }
        let name = name.to_owned();
        self.call(move |database| database.set_account_lock(&name, lock.as_ref()))
            .await
    }

    /// Stores SCRAM credentials for account `name`, which has none, if its password hash is
    /// still `password_hash` (the password they were derived from). Returns whether they were
    /// stored.
    pub async fn add_scram_credentials(
        &self,
        name: &str,
        password_hash: &str,
        scram_sha_256: &str,
    ) -> Result<bool, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis
                .add_scram_credentials(name, password_hash, scram_sha_256)
                .await;
        }
        let (name, password_hash, scram) = (
            name.to_owned(),
            password_hash.to_owned(),
            scram_sha_256.to_owned(),
        );
        self.call(move |database| database.add_scram_credentials(&name, &password_hash, &scram))
            .await
    }

    /// The fence a cluster node holds its lease in, so that Redis refuses this store's
    /// appends once the lease is no longer the node's (`redis_store/fence.rs`); `None` for
    /// SQLite.
    pub fn fence(&self) -> Option<Fence> {
        match &self.backend {
            Backend::Redis(redis) => Some(redis.fence()),
            _ => None,
        }
    }

    /// For a store on Redis, what a cluster node stores its room messages with, in the step
    /// that publishes them (`redis_store/published.rs`).
    pub fn history_entries(&self) -> Option<HistoryEntries> {
        match &self.backend {
            Backend::Redis(redis) => Some(redis.history_entries()),
            _ => None,
        }
    }

    /// Whether the store thread is waiting for more messages to commit with those it holds.
    #[cfg(test)]
    fn is_collecting_a_batch(&self) -> bool {
        matches!(&self.backend, Backend::Sqlite(thread) if thread.arrivals.is_waited_for())
    }

    /// The store thread's counters.
    #[doc(hidden)]
    pub async fn statistics(&self) -> Result<Statistics, StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return Ok(redis.statistics());
        }
        self.call(|database| Ok(database.statistics)).await
    }

    /// Commits everything queued before this call, stops the thread and closes the database
    /// (which checkpoints the WAL into the main file). Requests from other handles after this
    /// one fail with [`StoreError::Closed`].
    pub async fn shut_down(self) -> Result<(), StoreError> {
        if let Backend::Redis(redis) = &self.backend {
            return redis.shut_down().await;
        }
        let (closed, receiver) = oneshot::channel();
        self.send(Request::ShutDown { closed }).await?;
        if let Backend::Sqlite(thread) = &self.backend {
            thread.arrivals.interrupt();
        }
        receiver.await.unwrap_or(Err(StoreError::Closed))
    }

    async fn history(
        &self,
        query: HistoryQuery,
        page: Page,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => {
                self.call(move |database| database.history(&query, page, limit))
                    .await
            }
            Backend::Redis(redis) => redis.history(&query, page, limit).await,
        }
    }

    /// Runs `job` on the store thread between write batches and returns its answer.
    async fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Call(Box::new(move |database| {
            // The caller may have given up waiting; then nobody needs the answer.
            let _ = reply.send(job(database));
        })))
        .await?;
        answer.await.unwrap_or(Err(StoreError::Closed))
    }

    /// Sends `request` to the store thread; only the SQLite store has one.
    async fn send(&self, request: Request) -> Result<(), StoreError> {
        let Backend::Sqlite(StoreThread { requests, .. }) = &self.backend else {
            return Err(StoreError::Database(
                "an SQLite operation asked of the Redis store".into(),
            ));
        };
        requests
            .send(request)
            .await
            .map_err(|_closed| StoreError::Closed)
    }
}

#[cfg(test)]
pub(crate) mod tests;
