//! Tests of the store through its public handle, on real SQLite databases in temporary
//! directories, and those of behaviour both stores share also on a real Redis; and the
//! message builders the other test modules share.

use std::time::Duration;

use palaver_proto::event::{Identity, MessageId, MessageKind};
use palaver_proto::modes::MaskList;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use tempfile::TempDir;
use tokio::sync::oneshot;

use super::*;
use crate::test_redis::RedisServer;

/// A store file inside `directory`.
pub(crate) fn config_at(directory: &TempDir) -> StoreConfig {
    StoreConfig::new(database_path(directory))
}

fn database_path(directory: &TempDir) -> String {
    directory
        .path()
        .join("history.db")
        .to_string_lossy()
        .into_owned()
}

fn identity(nick: &str) -> Identity {
    Identity {
        nick: nick.into(),
        user: "user".into(),
        host: "host".into(),
        realname: String::new().into(),
        account: None,
        bot: false,
    }
}

/// A message `text` from `alice` to `room`.
pub(crate) fn room_message(id: u64, time: u64, room: &str, text: &str) -> StoredMessage {
    StoredMessage {
        id: MessageId(id),
        time: Timestamp(time),
        from: identity("alice"),
        account: None,
        target: HistoryTarget::Room(room.into()),
        kind: MessageKind::Say,
        text: text.into(),
        concat_at: Vec::new(),
        author: None,
        client_tags: String::new(),
    }
}

/// A private message from `from` to `to`, both logged in to the accounts named like their
/// nicks, stored as the hub's events are.
fn private_message(id: u64, time: u64, from: &str, to: &str) -> StoredMessage {
    StoredMessage {
        from: identity(from),
        target: sent(from, to),
        ..room_message(id, time, "#unused", "psst")
    }
}

/// What a private message from `from` to `to` belongs to, both logged in to the accounts
/// named like their nicks.
fn sent(from: &str, to: &str) -> HistoryTarget {
    let side = |nick: &str| Correspondent {
        nick: nick.into(),
        party: Some(Party::Account(fold(nick))),
    };
    HistoryTarget::Private {
        sender: side(from),
        recipient: side(to),
    }
}

/// The private messages the account `viewer` had with whoever used the nick `peer`.
fn private(viewer: &str, peer: &str) -> HistoryQuery {
    conversation(&[account(viewer)], peer)
}

/// The private messages any of `readers` had with whoever used the nick `peer`.
fn conversation(readers: &[Party], peer: &str) -> HistoryQuery {
    HistoryQuery::conversation(readers.to_vec(), peer)
}

fn account(name: &str) -> Party {
    Party::Account(fold(name))
}

fn connection(number: u128) -> Party {
    Party::Connection(ConnectionId(number))
}

/// A private message from `from` (as `sender`) to `to` (as `recipient`).
fn private_between(
    id: u64,
    (from, sender): (&str, Party),
    (to, recipient): (&str, Party),
) -> StoredMessage {
    let mut message = private_message(id, id * 100, from, to);
    message.set_parties(sender, recipient);
    message
}

/// Writes `messages` into the database file in `directory` as schema version 1 defined the
/// table, by hand, as an older palaver would have: today's code writes columns that version
/// lacks. Private messages get no parties (they had none).
fn write_as_version_1(directory: &TempDir, messages: &[StoredMessage]) {
    let connection = rusqlite::Connection::open(database_path(directory)).expect("open");
    for message in messages {
        let (target_name, sender_name) = match &message.target {
            HistoryTarget::Room(room) => (room.clone(), None),
            HistoryTarget::Private { sender, recipient } => {
                (recipient.nick.clone(), Some(sender.nick.clone()))
            }
            HistoryTarget::Conversation { .. } => panic!("not a stored target"),
        };
        connection
            .execute(
                "INSERT INTO messages (id, time, target_key, target_name, sender_name,
                     sender_key, recipient_key, from_nick, from_user, from_host,
                     from_realname, account, kind, text, client_tags)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                rusqlite::params![
                    message.id.0 as i64,
                    message.time.0 as i64,
                    message.target.key(),
                    target_name,
                    sender_name,
                    sender_name.as_deref().map(fold),
                    sender_name.as_ref().map(|_| fold(&target_name)),
                    &*message.from.nick,
                    &*message.from.user,
                    &*message.from.host,
                    &*message.from.realname,
                    message.account,
                    message::kind_name(message.kind).expect("a stored kind"),
                    message.text,
                    message.client_tags,
                ],
            )
            .expect("insert as version 1");
    }
}

/// All of a room's stored history.
fn room(name: &str) -> HistoryQuery {
    HistoryQuery::room(name, MessageId(0))
}

/// Which store a test runs on: tests of behaviour both stores share run on both
/// ([`on_both_backends`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum TestBackend {
    Sqlite,
    Redis,
}

/// What keeps a test's store alive: its Redis server, if any.
pub(crate) struct Guard(Option<RedisServer>);

impl TestBackend {
    /// A store on this backend with `config`'s history settings (on Redis, a fresh
    /// `redis-server` of its own; the path is the SQLite store's only).
    pub(crate) async fn open(self, config: StoreConfig) -> (Store, Guard) {
        match self {
            TestBackend::Sqlite => (open(config), Guard(None)),
            TestBackend::Redis => {
                let server = RedisServer::start();
                let settings = RedisSettings {
                    url: server.url(),
                    key_prefix: "palaver".into(),
                    verify_persistence: true,
                };
                let store = Store::open_redis(&settings, config, Arc::default())
                    .await
                    .expect("open the store on Redis")
                    .store;
                (store, Guard(Some(server)))
            }
        }
    }
}

on_both_backends!(
    latest_before_and_after_with_exclusive_bounds,
    between_goes_forwards_or_backwards_from_the_first_bound,
    around_centres_on_the_bound,
    private_history_is_visible_only_to_its_two_parties,
    private_history_belongs_to_the_parties_not_to_whoever_holds_the_nick,
    targets_name_each_conversation_once_by_the_other_sides_latest_nick,
    targets_lists_rooms_and_the_viewers_conversations,
    accounts_are_created_once_per_folded_name,
    set_password_replaces_only_an_existing_accounts_secrets,
    an_account_lock_is_kept_and_lifted,
    a_room_is_registered_once_per_folded_name,
    saving_an_unregistered_room_changes_nothing,
    room_queries_read_only_from_their_floor,
    rooms_with_history_lists_each_room_once_and_no_conversation,
    retention_by_age,
    retention_by_count_per_room_and_per_conversation,
    retention_runs_on_its_own_every_interval,
);

pub(crate) fn open(config: StoreConfig) -> Store {
    Store::open(config).expect("open the store").store
}

/// Appends every message and waits until all are durable.
pub(crate) async fn append_all(store: &Store, messages: impl IntoIterator<Item = StoredMessage>) {
    let mut commits = Vec::new();
    for message in messages {
        commits.push(store.append(message).await.expect("queue"));
    }
    for commit in commits {
        commit.await.expect("commit");
    }
}

pub(crate) fn ids(messages: &[StoredMessage]) -> Vec<u64> {
    messages.iter().map(|message| message.id.0).collect()
}

#[tokio::test]
async fn append_and_latest_round_trip() {
    let directory = tempfile::tempdir().expect("temp dir");
    let opened = Store::open(config_at(&directory)).expect("open");
    assert_eq!(opened.message_count, 0);
    assert_eq!(opened.schema_version, latest_version());
    let store = opened.store;

    let mut message = room_message(1, 1_000, "#Rust", "hello");
    message.from.realname = "Alice Liddell".into();
    message.account = Some("alice-account".into());
    message.kind = MessageKind::Action;
    message.client_tags = "+draft/reply=abc".into();
    let whisper = private_message(2, 2_000, "alice", "Bob");
    append_all(&store, [message.clone(), whisper.clone()]).await;

    assert_eq!(
        store.latest(room("#rust"), 10).await.expect("latest"),
        [message]
    );
    assert_eq!(
        store
            .latest(private("bob", "alice"), 10)
            .await
            .expect("latest"),
        [whisper]
    );
    assert_eq!(store.count().await.expect("count"), 2);
    store.shut_down().await.expect("shut down");
}

/// Keeps the store thread inside a job until the returned sender sends (or is dropped), so
/// that what is queued meanwhile makes its next batch.
async fn hold_the_thread(store: &Store) -> std::sync::mpsc::Sender<()> {
    let (entered, thread_is_held) = oneshot::channel();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let hold: worker::Job = Box::new(move |_database| {
        let _ = entered.send(());
        let _ = gate.recv();
    });
    store
        .send(Request::Call(hold))
        .await
        .expect("send the hold");
    thread_is_held.await.expect("the thread runs the hold");
    release
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_writes_everything_queued_in_one_transaction() {
    const SUBMITTERS: u64 = 1000;
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(config_at(&directory));

    // Hold the store thread until every append is queued, so the batch it takes next is
    // known exactly.
    let release = hold_the_thread(&store).await;

    // `append` returns once its request is in the channel (a reserved slot is not enough:
    // the value is written just after), so count returns rather than watching capacity.
    let queued = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let submitters: Vec<_> = (1..=SUBMITTERS)
        .map(|id| {
            let store = store.clone();
            let queued = queued.clone();
            tokio::spawn(async move {
                let message = room_message(id, id, "#load", "message");
                let commit = store.append(message).await?;
                queued.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                commit.await
            })
        })
        .collect();
    while queued.load(std::sync::atomic::Ordering::SeqCst) < SUBMITTERS {
        tokio::task::yield_now().await;
    }
    release.send(()).expect("release the thread");

    for submitter in submitters {
        submitter.await.expect("task").expect("committed");
    }
    let statistics = store.statistics().await.expect("statistics");
    assert_eq!(
        statistics,
        Statistics {
            batches: 1,
            appended: SUBMITTERS
        }
    );
    assert_eq!(store.count().await.expect("count"), SUBMITTERS);
}

/// Opens a store with `commit_interval` and commits `first_batch` messages in one
/// transaction, the thread held until all are queued. Returns the store and when the commit
/// was released.
async fn store_after_one_batch(
    directory: &TempDir,
    commit_interval: Duration,
    first_batch: u64,
) -> (Store, std::time::Instant) {
    let store = open(StoreConfig {
        commit_interval,
        ..config_at(directory)
    });
    let release = hold_the_thread(&store).await;
    let mut commits = Vec::new();
    for id in 1..=first_batch {
        let message = room_message(id, id, "#a", "first batch");
        commits.push(store.append(message).await.expect("queue"));
    }
    let released = std::time::Instant::now();
    release.send(()).expect("release the thread");
    for commit in commits {
        commit.await.expect("committed");
    }
    (store, released)
}

#[tokio::test]
async fn while_messages_keep_coming_a_commit_waits_for_the_interval_and_takes_them_all() {
    const INTERVAL: Duration = Duration::from_secs(1);
    let directory = tempfile::tempdir().expect("temp dir");
    // The first batch, after a quiet spell, is committed at once...
    let (store, released) = store_after_one_batch(&directory, INTERVAL, 3).await;
    // ...smaller ones after it wait until the interval since that commit is over, and share
    // a commit.
    let fourth = store.append(room_message(4, 4, "#a", "fourth")).await;
    let fifth = store.append(room_message(5, 5, "#a", "fifth")).await;
    fourth.expect("queue").await.expect("fourth committed");
    fifth.expect("queue").await.expect("fifth committed");
    assert!(
        released.elapsed() >= INTERVAL,
        "committed before the interval was over"
    );
    assert_eq!(
        store.statistics().await.expect("statistics"),
        Statistics {
            batches: 2,
            appended: 5
        }
    );
}

#[tokio::test]
async fn a_batch_as_large_as_the_last_one_is_committed_without_waiting_for_the_interval() {
    let directory = tempfile::tempdir().expect("temp dir");
    // With an hour's interval, the test only ends if the batch goes as soon as it is full.
    let (store, _) = store_after_one_batch(&directory, Duration::from_secs(3600), 3).await;
    append_all(&store, (4..=6).map(|id| room_message(id, id, "#a", "x"))).await;
    assert_eq!(
        store.statistics().await.expect("statistics"),
        Statistics {
            batches: 2,
            appended: 6
        }
    );
}

#[tokio::test]
async fn shutting_down_commits_at_once_whatever_the_interval() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (store, _) = store_after_one_batch(&directory, Duration::from_secs(3600), 3).await;
    // Smaller than the last batch and an hour before it is due: only the shutdown commits it.
    let waiting = store
        .append(room_message(4, 4, "#a", "fourth"))
        .await
        .expect("queue");
    // Shut down while the thread waits for more to commit with it.
    while !store.is_collecting_a_batch() {
        tokio::task::yield_now().await;
    }
    store.clone().shut_down().await.expect("shut down");
    waiting.await.expect("committed by the shutdown");
    let reopened = open(config_at(&directory));
    assert_eq!(reopened.count().await.expect("count"), 4);
}

/// `#a` holds ids 10, 20, …, 100 at times 1000, 2000, …, 10000; `#b` holds ids between them.
async fn store_with_two_rooms(backend: TestBackend, directory: &TempDir) -> (Store, Guard) {
    let (store, guard) = backend.open(config_at(directory)).await;
    let room_a = (1..=10).map(|n| room_message(n * 10, n * 1_000, "#a", "a"));
    let room_b = (1..=10).map(|n| room_message(n * 10 + 5, n * 1_000 + 500, "#B", "b"));
    append_all(&store, room_a.chain(room_b)).await;
    (store, guard)
}

async fn latest_before_and_after_with_exclusive_bounds(backend: TestBackend) {
    let directory = tempfile::tempdir().expect("temp dir");
    let (store, _guard) = store_with_two_rooms(backend, &directory).await;
    let a = || room("#A");
    let page = |messages: Result<Vec<StoredMessage>, StoreError>| ids(&messages.expect("query"));

    assert_eq!(page(store.latest(a(), 3).await), [80, 90, 100]);
    assert_eq!(page(store.latest(room("#b"), 2).await), [95, 105]);
    assert_eq!(page(store.latest(a(), 0).await), [] as [u64; 0]);
    assert_eq!(
        page(store.latest(room("#nowhere"), 5).await),
        [] as [u64; 0]
    );

    let id = |n| Bound::Id(MessageId(n));
    let time = |t| Bound::Time(Timestamp(t));
    assert_eq!(page(store.before(a(), id(50), 2).await), [30, 40]);
    assert_eq!(page(store.before(a(), time(5_000), 2).await), [30, 40]);
    assert_eq!(page(store.before(a(), id(10), 5).await), [] as [u64; 0]);
    assert_eq!(page(store.after(a(), id(50), 2).await), [60, 70]);
    assert_eq!(page(store.after(a(), time(5_000), 2).await), [60, 70]);
    assert_eq!(page(store.after(a(), id(100), 5).await), [] as [u64; 0]);
    assert_eq!(page(store.latest_after(a(), id(50), 2).await), [90, 100]);
    assert_eq!(
        page(store.latest_after(a(), time(8_000), 5).await),
        [90, 100]
    );
    // Bounds between stored values, and beyond what SQLite integers hold.
    assert_eq!(page(store.before(a(), id(55), 1).await), [50]);
    assert_eq!(page(store.before(a(), time(u64::MAX), 1).await), [100]);
}

async fn between_goes_forwards_or_backwards_from_the_first_bound(backend: TestBackend) {
    let directory = tempfile::tempdir().expect("temp dir");
    let (store, _guard) = store_with_two_rooms(backend, &directory).await;
    let a = || room("#a");
    let page = |messages: Result<Vec<StoredMessage>, StoreError>| ids(&messages.expect("query"));
    let id = |n| Bound::Id(MessageId(n));
    let time = |t| Bound::Time(Timestamp(t));

    assert_eq!(
        page(store.between(a(), id(20), id(70), 10).await),
        [30, 40, 50, 60]
    );
    assert_eq!(page(store.between(a(), id(20), id(70), 2).await), [30, 40]);
    assert_eq!(page(store.between(a(), id(70), id(20), 2).await), [50, 60]);
    assert_eq!(
        page(store.between(a(), time(2_000), time(7_000), 2).await),
        [30, 40]
    );
    assert_eq!(
        page(store.between(a(), time(7_000), time(2_000), 2).await),
        [50, 60]
    );
    // Mixed kinds compare the message's time with the other bound.
    assert_eq!(
        page(store.between(a(), time(2_000), id(70), 2).await),
        [30, 40]
    );
    assert_eq!(
        page(store.between(a(), id(70), time(2_000), 2).await),
        [50, 60]
    );
    assert_eq!(
        page(store.between(a(), id(50), id(50), 5).await),
        [] as [u64; 0]
    );
}

async fn around_centres_on_the_bound(backend: TestBackend) {
    let directory = tempfile::tempdir().expect("temp dir");
    let (store, _guard) = store_with_two_rooms(backend, &directory).await;
    let a = || room("#a");
    let page = |messages: Result<Vec<StoredMessage>, StoreError>| ids(&messages.expect("query"));
    let id = |n| Bound::Id(MessageId(n));

    assert_eq!(page(store.around(a(), id(50), 4).await), [30, 40, 50, 60]);
    assert_eq!(page(store.around(a(), id(50), 3).await), [40, 50, 60]);
    assert_eq!(page(store.around(a(), id(50), 1).await), [50]);
    assert_eq!(
        page(store.around(a(), Bound::Time(Timestamp(5_500)), 4).await),
        [40, 50, 60, 70]
    );
    // Near an end, the page fills from the other side.
    assert_eq!(page(store.around(a(), id(10), 4).await), [10, 20, 30, 40]);
    assert_eq!(page(store.around(a(), id(100), 4).await), [70, 80, 90, 100]);
    assert_eq!(page(store.around(a(), id(50), 0).await), [] as [u64; 0]);
}

async fn private_history_is_visible_only_to_its_two_parties(backend: TestBackend) {
    let directory = tempfile::tempdir().expect("temp dir");
    let (store, _guard) = backend.open(config_at(&directory)).await;
    append_all(
        &store,
        [
            private_message(1, 100, "alice", "bob"),
            private_message(2, 200, "Bob", "ALICE"),
            private_message(3, 300, "alice", "carol"),
            private_message(4, 400, "carol", "bob"),
            room_message(5, 500, "#a", "public"),
        ],
    )
    .await;
    let visible = |viewer: &'static str, peer: &'static str| {
        let store = store.clone();
        async move {
            ids(&store
                .latest(private(viewer, peer), 10)
                .await
                .expect("latest"))
        }
    };

    assert_eq!(visible("alice", "bob").await, [1, 2]);
    assert_eq!(visible("BOB", "Alice").await, [1, 2]);
    assert_eq!(visible("carol", "alice").await, [3]);
    assert_eq!(visible("bob", "carol").await, [4]);
    assert_eq!(visible("dave", "alice").await, [] as [u64; 0]);
    assert_eq!(visible("dave", "bob").await, [] as [u64; 0]);

    // Stored messages keep who sent them to whom, as written, and their parties.
    let second = store
        .latest(private("bob", "alice"), 1)
        .await
        .expect("latest");
    assert_eq!(second[0].target, sent("Bob", "ALICE"));
}

async fn private_history_belongs_to_the_parties_not_to_whoever_holds_the_nick(
    backend: TestBackend,
) {
    let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
    let guest = connection(0xfeed);
    let later_guest = connection(0xbeef);
    append_all(
        &store,
        [
            // The guest on connection 0xfeed, calling itself alice, with the account bob.
            private_between(1, ("alice", guest.clone()), ("bob", account("bob"))),
            private_between(2, ("bob", account("bob")), ("alice", guest.clone())),
            // The account alice, with bob.
            private_between(3, ("alice", account("alice")), ("bob", account("bob"))),
            // Bob under another nick: to alice's account, a conversation of its own, named by
            // that nick; to bob, still its conversation with alice.
            private_between(4, ("robert", account("bob")), ("alice", account("alice"))),
            // The guest logged in to alice meanwhile, still on its connection.
            private_between(5, ("alice", account("alice")), ("bob", account("bob"))),
        ],
    )
    .await;
    let read = |readers: Vec<Party>, peer: &'static str, limit: usize| {
        let store = store.clone();
        async move {
            ids(&store
                .latest(conversation(&readers, peer), limit)
                .await
                .expect("latest"))
        }
    };
    // Bob's account reads everything it was a party to, by the other side's nick then.
    assert_eq!(
        read(vec![account("bob")], "alice", 10).await,
        [1, 2, 3, 4, 5]
    );
    assert_eq!(read(vec![account("bob")], "ALICE", 2).await, [4, 5]);
    // The account alice reads only what it was a party to as the account...
    assert_eq!(read(vec![account("alice")], "bob", 10).await, [3, 5]);
    assert_eq!(read(vec![account("alice")], "robert", 10).await, [4]);
    // ...the guest connection only its own...
    assert_eq!(read(vec![guest.clone()], "bob", 10).await, [1, 2]);
    // ...and the guest's connection logged in to alice both, merged, with the limit counted
    // over the whole conversation.
    let both = vec![account("alice"), guest.clone()];
    assert_eq!(read(both.clone(), "bob", 10).await, [1, 2, 3, 5]);
    assert_eq!(read(both.clone(), "bob", 3).await, [2, 3, 5]);
    let before = store
        .before(conversation(&both, "bob"), Bound::Id(MessageId(5)), 2)
        .await
        .expect("before");
    assert_eq!(ids(&before), [2, 3]);
    let after = store
        .after(conversation(&both, "bob"), Bound::Id(MessageId(1)), 2)
        .await
        .expect("after");
    assert_eq!(ids(&after), [2, 3]);
    // Holding a nick gives nothing: another connection, or another account, named alice.
    assert_eq!(read(vec![later_guest], "bob", 10).await, [] as [u64; 0]);
    assert_eq!(
        read(vec![account("mallory")], "bob", 10).await,
        [] as [u64; 0]
    );
    // A note to oneself is found in both view columns and counted once.
    append_all(
        &store,
        [private_between(
            6,
            ("bob", account("bob")),
            ("bob", account("bob")),
        )],
    )
    .await;
    assert_eq!(read(vec![account("bob")], "bob", 10).await, [6]);
}

async fn targets_name_each_conversation_once_by_the_other_sides_latest_nick(backend: TestBackend) {
    let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
    let guest = connection(7);
    append_all(
        &store,
        [
            private_between(1, ("alice", guest.clone()), ("Bob", account("bob"))),
            private_between(2, ("alice", account("alice")), ("bob", account("bob"))),
            private_between(3, ("carol", account("carol")), ("alice", guest.clone())),
            private_between(4, ("dave", account("dave")), ("eve", account("eve"))),
        ],
    )
    .await;
    let entry = |name: &str, time: u64| (name.to_owned(), Timestamp(time));
    let targets = |readers: Vec<Party>| {
        let store = store.clone();
        async move {
            store
                .targets(readers, Timestamp(0), Timestamp(1_000), 10)
                .await
                .expect("targets")
        }
    };
    // As the account and the connection: bob once, at its newest message.
    assert_eq!(
        targets(vec![account("alice"), guest.clone()]).await,
        [entry("bob", 200), entry("carol", 300)]
    );
    assert_eq!(
        targets(vec![guest.clone()]).await,
        [entry("Bob", 100), entry("carol", 300)]
    );
    assert_eq!(targets(vec![account("bob")]).await, [entry("alice", 200)]);
    assert_eq!(targets(vec![connection(8)]).await, []);
}

async fn targets_lists_rooms_and_the_viewers_conversations(backend: TestBackend) {
    let directory = tempfile::tempdir().expect("temp dir");
    let (store, _guard) = backend.open(config_at(&directory)).await;
    append_all(
        &store,
        [
            room_message(1, 100, "#a", "x"),
            room_message(2, 200, "#B", "x"),
            private_message(3, 250, "alice", "Bob"),
            room_message(4, 300, "#A", "x"),
            private_message(5, 350, "bob", "carol"),
            private_message(6, 400, "Carol", "alice"),
        ],
    )
    .await;
    let t = Timestamp;
    let entry = |name: &str, time: u64| (name.to_owned(), Timestamp(time));
    let targets = |viewer: &'static str, start: u64, end: u64, limit: usize| {
        let store = store.clone();
        async move {
            store
                .targets(vec![account(viewer)], t(start), t(end), limit)
                .await
                .expect("targets")
        }
    };

    let everything = vec![
        entry("#B", 200),
        entry("Bob", 250),
        entry("#A", 300),
        entry("Carol", 400),
    ];
    assert_eq!(targets("alice", 0, 1_000, 10).await, everything);
    assert_eq!(targets("ALICE", 0, 1_000, 10).await, everything);
    // A target is listed only if its newest message is inside the (exclusive) window: #a's
    // newest, at 300, is not, so its older message at 100 does not list it either.
    assert_eq!(
        targets("alice", 0, 300, 10).await,
        [entry("#B", 200), entry("Bob", 250)]
    );
    assert_eq!(
        targets("alice", 250, 1_000, 10).await,
        [entry("#A", 300), entry("Carol", 400)]
    );
    // The limit counts from the first time, forwards or backwards.
    assert_eq!(
        targets("alice", 0, 1_000, 2).await,
        [entry("#B", 200), entry("Bob", 250)]
    );
    assert_eq!(
        targets("alice", 1_000, 0, 2).await,
        [entry("#A", 300), entry("Carol", 400)]
    );
    // Bob sees his two conversations, named by the other party.
    assert_eq!(
        targets("bob", 0, 1_000, 10).await,
        [
            entry("#B", 200),
            entry("alice", 250),
            entry("#A", 300),
            entry("carol", 350)
        ]
    );
    // Dave has no conversations.
    assert_eq!(targets("dave", 0, 1_000, 10).await.len(), 2);

    let among = store
        .targets_among(
            vec![account("alice")],
            vec![("#a".into(), MessageId(0))],
            t(0),
            t(1_000),
            10,
        )
        .await
        .expect("targets");
    assert_eq!(
        among,
        [entry("Bob", 250), entry("#A", 300), entry("Carol", 400)]
    );
}

async fn retention_by_age(backend: TestBackend) {
    let directory = tempfile::tempdir().expect("temp dir");
    let config = StoreConfig {
        history_max_age: Some(Duration::from_secs(24 * 3600)),
        ..config_at(&directory)
    };
    let (store, _guard) = backend.open(config).await;
    let now = Timestamp::now().0;
    append_all(
        &store,
        [
            room_message(1, 1_000, "#a", "ancient"),
            private_message(2, 2_000, "alice", "bob"),
            room_message(3, now, "#a", "fresh"),
        ],
    )
    .await;
    assert_eq!(store.prune().await.expect("prune"), 2);
    assert_eq!(
        ids(&store.latest(room("#a"), 10).await.expect("latest")),
        [3]
    );
    assert_eq!(store.prune().await.expect("prune"), 0);
}

async fn retention_by_count_per_room_and_per_conversation(backend: TestBackend) {
    let directory = tempfile::tempdir().expect("temp dir");
    let config = StoreConfig {
        history_max_per_room: Some(2),
        ..config_at(&directory)
    };
    let (store, _guard) = backend.open(config).await;
    append_all(
        &store,
        [
            room_message(1, 1, "#a", "x"),
            room_message(2, 2, "#a", "x"),
            room_message(3, 3, "#A", "x"),
            room_message(4, 4, "#b", "x"),
            private_message(5, 5, "alice", "bob"),
            private_message(6, 6, "bob", "alice"),
            private_message(7, 7, "Alice", "Bob"),
            private_message(8, 8, "alice", "carol"),
        ],
    )
    .await;
    assert_eq!(store.prune().await.expect("prune"), 2);
    assert_eq!(ids(&store.latest(room("#a"), 10).await.expect("a")), [2, 3]);
    assert_eq!(ids(&store.latest(room("#b"), 10).await.expect("b")), [4]);
    let conversation = store.latest(private("bob", "alice"), 10).await;
    assert_eq!(ids(&conversation.expect("private")), [6, 7]);
    assert_eq!(
        ids(&store
            .latest(private("carol", "alice"), 10)
            .await
            .expect("c")),
        [8]
    );
}

async fn retention_runs_on_its_own_every_interval(backend: TestBackend) {
    let directory = tempfile::tempdir().expect("temp dir");
    let config = StoreConfig {
        history_max_per_room: Some(1),
        prune_interval: Duration::from_millis(20),
        ..config_at(&directory)
    };
    let (store, _guard) = backend.open(config).await;
    append_all(&store, (1..=3).map(|id| room_message(id, id, "#a", "x"))).await;
    // The store thread's timer is real time; poll (boundedly) until it has pruned.
    for _ in 0..500 {
        if store.count().await.expect("count") == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the periodic prune never ran");
}

#[tokio::test]
async fn data_survives_a_restart() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(config_at(&directory));
    append_all(&store, (1..=3).map(|id| room_message(id, id, "#a", "kept"))).await;
    // Dropped without shutting down, as a crash after the commits would leave it.
    drop(store);

    let reopened = Store::open(config_at(&directory)).expect("reopen");
    assert_eq!(reopened.message_count, 3);
    let messages = reopened.store.latest(room("#a"), 10).await.expect("latest");
    assert_eq!(ids(&messages), [1, 2, 3]);
}

#[tokio::test]
async fn shut_down_commits_what_is_queued_and_checkpoints() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(config_at(&directory));
    let other_handle = store.clone();
    let commit = store
        .append(room_message(1, 1, "#a", "last words"))
        .await
        .expect("queue");
    store.shut_down().await.expect("shut down");
    commit.await.expect("committed before the shutdown");

    assert_eq!(other_handle.count().await, Err(StoreError::Closed));
    assert!(matches!(
        other_handle
            .append(room_message(2, 2, "#a", "too late"))
            .await,
        Err(StoreError::Closed)
    ));
    // Closing checkpointed the write-ahead log into the database file and removed it.
    let wal = directory.path().join("history.db-wal");
    assert!(!wal.exists(), "{} is left over", wal.display());
    assert_eq!(
        Store::open(config_at(&directory))
            .expect("reopen")
            .message_count,
        1
    );
}

#[tokio::test]
async fn a_request_sent_as_the_store_shuts_down_is_refused_not_left_unanswered() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(config_at(&directory));
    let Backend::Sqlite(thread) = &store.backend else {
        unreachable!("opened on SQLite");
    };
    let requests = thread.requests.clone();
    // Another handle's `send` that has reserved its slot but not yet put its request in the
    // channel when the shutdown comes, as one preempted between the two would be.
    let slot = requests.reserve().await.expect("reserve a slot");
    let shutting_down = tokio::spawn(store.clone().shut_down());
    // The thread has taken the shutdown request and closed the channel. The pause lets a
    // thread that merely dropped its receiver finish emptying the channel, so that the
    // request below comes after that, as in the race, rather than being emptied by luck.
    requests.closed().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (reply, answer) = oneshot::channel::<()>();
    slot.send(Request::Call(Box::new(move |_database| {
        let _ = reply.send(());
    })));
    // The request is dropped unserved, its sender told so at once: it does not wait in the
    // channel for every handle (`requests`, `store`) to be dropped.
    let answered = tokio::time::timeout(Duration::from_secs(10), answer).await;
    assert!(
        matches!(answered, Ok(Err(_))),
        "the request was not refused: {answered:?}"
    );
    shutting_down
        .await
        .expect("the shutdown task")
        .expect("shut down");
}

#[tokio::test]
async fn in_memory_store_works() {
    let store = open(StoreConfig::new(":memory:"));
    append_all(&store, [room_message(1, 1, "#a", "fleeting")]).await;
    assert_eq!(
        ids(&store.latest(room("#a"), 1).await.expect("latest")),
        [1]
    );
    store.shut_down().await.expect("shut down");
}

#[test]
fn a_file_that_is_not_a_database_is_an_open_error_naming_it() {
    let directory = tempfile::tempdir().expect("temp dir");
    let path = database_path(&directory);
    std::fs::write(&path, "this is a text file, not a database\n".repeat(200)).expect("write");
    let Err(error) = Store::open(config_at(&directory)) else {
        panic!("opened a text file as a database");
    };
    let StoreError::Open {
        path: reported,
        message,
    } = &error
    else {
        panic!("not an open error: {error}");
    };
    assert_eq!(reported, &path);
    assert!(message.contains("not a database"), "{message}");
}

#[test]
fn a_database_from_a_newer_palaver_is_refused() {
    let directory = tempfile::tempdir().expect("temp dir");
    let connection = rusqlite::Connection::open(database_path(&directory)).expect("create");
    connection
        .pragma_update(None, "user_version", latest_version() + 1)
        .expect("set version");
    drop(connection);
    let Err(StoreError::Open { message, .. }) = Store::open(config_at(&directory)) else {
        panic!("a newer schema was accepted");
    };
    assert!(message.contains("newer"), "{message}");
}

#[tokio::test]
async fn migrates_an_empty_database_to_the_latest_version() {
    let directory = tempfile::tempdir().expect("temp dir");
    let opened = Store::open(config_at(&directory)).expect("open");
    assert_eq!(opened.schema_version, latest_version());
    opened.store.shut_down().await.expect("shut down");
    let connection = rusqlite::Connection::open(database_path(&directory)).expect("open");
    let version: u32 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("version");
    assert_eq!(version, latest_version());
}

#[tokio::test]
async fn a_version_1_database_keeps_its_messages_through_every_migration() {
    let directory = tempfile::tempdir().expect("temp dir");
    let at_v1 = Store::open_at_version(config_at(&directory), 1).expect("open at v1");
    assert_eq!(at_v1.schema_version, 1);
    at_v1.store.shut_down().await.expect("shut down");
    // Write as version 1 of the schema knew it, by hand: later code may write differently.
    let connection = rusqlite::Connection::open(database_path(&directory)).expect("open");
    connection
        .execute_batch(
            "INSERT INTO messages (id, time, target_key, target_name, sender_name, sender_key,
                 recipient_key, from_nick, from_user, from_host, from_realname, account, kind,
                 text, client_tags)
             VALUES (7, 700, '#old', '#Old', NULL, NULL, NULL, 'alice', 'user', 'host', '',
                 NULL, 'say', 'from version 1', ''),
                    (8, 800, 'alice bob', 'bob', 'alice', 'alice', 'bob', 'alice', 'user',
                 'host', '', 'acct', 'notice', 'private, from version 1', '');",
        )
        .expect("insert at v1");
    drop(connection);

    let opened = Store::open(config_at(&directory)).expect("migrate to latest");
    assert_eq!(opened.schema_version, latest_version());
    assert_eq!(opened.message_count, 2);
    let old = opened.store.latest(room("#old"), 10).await.expect("room");
    assert_eq!(
        old,
        [StoredMessage {
            target: room("#Old").target,
            text: "from version 1".into(),
            ..room_message(7, 700, "#Old", "")
        }]
    );
    // Its parties are unknown (later versions record them): it is kept, but nobody reads it,
    // not even the account its sender was logged in to.
    for (viewer, peer) in [("bob", "alice"), ("alice", "bob"), ("acct", "bob")] {
        let whisper = opened.store.latest(private(viewer, peer), 10).await;
        assert_eq!(whisper.expect("private"), [], "{viewer}");
    }
    let targets = opened
        .store
        .targets(vec![account("alice")], Timestamp(0), Timestamp(1_000), 10)
        .await;
    assert_eq!(
        targets.expect("targets"),
        [("#Old".to_owned(), Timestamp(700))]
    );
    // New private messages are read as ever.
    append_all(&opened.store, [private_message(9, 900, "alice", "bob")]).await;
    let whisper = opened.store.latest(private("bob", "alice"), 10).await;
    assert_eq!(ids(&whisper.expect("private")), [9]);
}

/// A made-up PHC string: the store keeps hashes without looking inside them.
const SOME_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

/// Made-up SCRAM credentials, kept as opaquely.
const SOME_SCRAM: &str = "SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5";

/// An account's password secrets with the hash `password_hash` and [`SOME_SCRAM`].
fn secrets(password_hash: &str) -> PasswordSecrets {
    PasswordSecrets {
        password_hash: password_hash.into(),
        scram_sha_256: SOME_SCRAM.into(),
    }
}

/// Writes account `name` into the database file in `directory` as schema version 2 defined
/// the table, by hand, as a palaver from before SCRAM credentials would have.
fn write_account_as_version_2(directory: &TempDir, name: &str, created: u64) {
    let connection = rusqlite::Connection::open(database_path(directory)).expect("open");
    connection
        .execute(
            "INSERT INTO accounts (name_key, name, password_hash, created) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![fold(name), name, SOME_HASH, created as i64],
        )
        .expect("insert as version 2");
}

async fn accounts_are_created_once_per_folded_name(backend: TestBackend) {
    let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
    assert!(
        store
            .create_account(
                "Alice",
                secrets(SOME_HASH),
                Some("alice@example.org".into()),
                Timestamp(1_000)
            )
            .await
            .expect("create")
    );
    // The same name in another case is the same account, and the first one stays.
    assert!(
        !store
            .create_account("ALICE", secrets("$other"), None, Timestamp(2_000))
            .await
            .expect("create again")
    );
    let expected = AccountRecord {
        name: "Alice".into(),
        password_hash: SOME_HASH.into(),
        scram_sha_256: Some(SOME_SCRAM.into()),
        created: Timestamp(1_000),
        email: Some("alice@example.org".into()),
        locked: None,
    };
    assert_eq!(
        store.account("alice").await.expect("lookup"),
        Some(expected.clone())
    );
    assert_eq!(
        store.account("aLiCe").await.expect("lookup"),
        Some(expected)
    );
    assert_eq!(store.account("bob").await.expect("lookup"), None);
    // Accounts are not messages.
    assert_eq!(store.count().await.expect("count"), 0);
}

async fn an_account_lock_is_kept_and_lifted(backend: TestBackend) {
    let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
    store
        .create_account("Alice", secrets(SOME_HASH), None, Timestamp(1_000))
        .await
        .expect("create");
    let lock = |reason: &str| AccountLock {
        reason: reason.into(),
        by: "api:ops".into(),
        at: Timestamp(2_000),
    };
    let locked = |name: &str| {
        let store = store.clone();
        let name = name.to_owned();
        async move {
            let account = store.account(&name).await.expect("lookup");
            account.expect("registered").locked
        }
    };
    assert_eq!(locked("alice").await, None);
    assert!(
        store
            .set_account_lock("ALICE", Some(lock("spam")))
            .await
            .expect("lock")
    );
    assert_eq!(locked("alice").await, Some(lock("spam")));
    // Locking again replaces the lock.
    assert!(
        store
            .set_account_lock("alice", Some(lock("more spam")))
            .await
            .expect("lock")
    );
    assert_eq!(locked("alice").await, Some(lock("more spam")));
    // The lock is not the password's business.
    assert!(
        store
            .set_password("alice", secrets("$new"))
            .await
            .expect("set")
    );
    assert_eq!(locked("alice").await, Some(lock("more spam")));
    assert!(store.set_account_lock("alice", None).await.expect("unlock"));
    assert_eq!(locked("alice").await, None);
    // No account is made by locking a name nobody registered.
    assert!(
        !store
            .set_account_lock("carol", Some(lock("spam")))
            .await
            .expect("lock")
    );
    assert_eq!(store.account("carol").await.expect("lookup"), None);
}

async fn set_password_replaces_only_an_existing_accounts_secrets(backend: TestBackend) {
    let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
    store
        .create_account("Alice", secrets(SOME_HASH), None, Timestamp(1_000))
        .await
        .expect("create");
    store
        .create_account("bob", secrets(SOME_HASH), None, Timestamp(1_000))
        .await
        .expect("create");
    let new = PasswordSecrets {
        password_hash: "$new".into(),
        scram_sha_256: "SCRAM-SHA-256$new".into(),
    };
    assert!(store.set_password("ALICE", new.clone()).await.expect("set"));
    assert!(!store.set_password("carol", new).await.expect("set"));
    assert_eq!(store.account("carol").await.expect("lookup"), None);
    let alice = store
        .account("alice")
        .await
        .expect("lookup")
        .expect("alice");
    assert_eq!(alice.password_hash, "$new");
    assert_eq!(alice.scram_sha_256.as_deref(), Some("SCRAM-SHA-256$new"));
    assert_eq!(alice.name, "Alice");
    let bob = store.account("bob").await.expect("lookup").expect("bob");
    assert_eq!(bob.password_hash, SOME_HASH);
    assert_eq!(bob.scram_sha_256.as_deref(), Some(SOME_SCRAM));
}

#[tokio::test]
async fn accounts_from_before_scram_gain_credentials_only_for_their_current_password() {
    let directory = tempfile::tempdir().expect("temp dir");
    let before = Store::open_at_version(config_at(&directory), SCRAM_CREDENTIALS_VERSION - 1)
        .expect("open before SCRAM");
    before.store.shut_down().await.expect("shut down");
    write_account_as_version_2(&directory, "Alice", 10);
    let store = open(config_at(&directory));
    let alice = store
        .account("alice")
        .await
        .expect("lookup")
        .expect("alice");
    assert_eq!(alice.scram_sha_256, None);
    // Derived from a password that is no longer the account's: not stored.
    let stale = store
        .add_scram_credentials("alice", "$old", SOME_SCRAM)
        .await;
    assert!(!stale.expect("add"));
    let added = store
        .add_scram_credentials("ALICE", SOME_HASH, SOME_SCRAM)
        .await;
    assert!(added.expect("add"));
    // Once there, they are replaced only with the password.
    let again = store
        .add_scram_credentials("alice", SOME_HASH, "SCRAM-SHA-256$other")
        .await;
    assert!(!again.expect("add"));
    let alice = store
        .account("alice")
        .await
        .expect("lookup")
        .expect("alice");
    assert_eq!(alice.scram_sha_256.as_deref(), Some(SOME_SCRAM));
    assert!(
        !store
            .add_scram_credentials("carol", SOME_HASH, SOME_SCRAM)
            .await
            .expect("add")
    );
}

#[tokio::test]
async fn accounts_survive_a_restart() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(config_at(&directory));
    store
        .create_account("Alice", secrets(SOME_HASH), None, Timestamp(5))
        .await
        .expect("create");
    store.shut_down().await.expect("shut down");
    let store = open(config_at(&directory));
    let alice = store.account("alice").await.expect("lookup");
    assert_eq!(alice.map(|account| account.created), Some(Timestamp(5)));
}

#[tokio::test]
async fn a_creation_time_beyond_sqlite_integers_is_an_error() {
    let store = open(StoreConfig::new(":memory:"));
    let result = store
        .create_account("alice", secrets(SOME_HASH), None, Timestamp(u64::MAX))
        .await;
    assert!(matches!(result, Err(StoreError::Database(_))), "{result:?}");
    assert_eq!(store.account("alice").await.expect("lookup"), None);
}

#[tokio::test]
async fn an_empty_database_migrates_to_one_with_accounts() {
    let directory = tempfile::tempdir().expect("temp dir");
    let opened = Store::open(config_at(&directory)).expect("open");
    assert_eq!(opened.schema_version, latest_version());
    assert_eq!(opened.message_count, 0);
    let store = opened.store;
    assert!(
        store
            .create_account("alice", secrets(SOME_HASH), None, Timestamp(1))
            .await
            .expect("create")
    );
    append_all(&store, [room_message(1, 1, "#a", "hello")]).await;
    assert_eq!(
        store
            .account("ALICE")
            .await
            .expect("lookup")
            .map(|a| a.name),
        Some("alice".to_owned())
    );
    assert_eq!(
        ids(&store.latest(room("#a"), 5).await.expect("latest")),
        [1]
    );
}

#[tokio::test]
async fn a_version_1_database_gains_accounts_and_keeps_its_messages() {
    let directory = tempfile::tempdir().expect("temp dir");
    let at_v1 = Store::open_at_version(config_at(&directory), 1).expect("open at v1");
    assert_eq!(at_v1.schema_version, 1);
    let store = at_v1.store;
    // Version 1 has no accounts table: open_at_version really stopped there.
    let missing = store.account("alice").await;
    assert!(
        matches!(&missing, Err(StoreError::Database(message)) if message.contains("accounts")),
        "{missing:?}"
    );
    store.shut_down().await.expect("shut down");
    let rooms = [
        room_message(1, 100, "#a", "one"),
        room_message(2, 200, "#A", "two"),
    ];
    write_as_version_1(&directory, &rooms);
    write_as_version_1(&directory, &[private_message(3, 300, "alice", "bob")]);

    let opened = Store::open(config_at(&directory)).expect("migrate to latest");
    assert_eq!(opened.schema_version, latest_version());
    assert_eq!(opened.message_count, 3);
    let store = opened.store;
    assert_eq!(store.latest(room("#a"), 10).await.expect("latest"), rooms);
    let whisper = store.latest(private("bob", "alice"), 10).await;
    assert_eq!(whisper.expect("private"), []);
    assert!(
        store
            .create_account("Alice", secrets(SOME_HASH), None, Timestamp(400))
            .await
            .expect("create")
    );
    assert!(
        store
            .set_password("alice", secrets("$new"))
            .await
            .expect("set")
    );
    let alice = store
        .account("ALICE")
        .await
        .expect("lookup")
        .expect("alice");
    assert_eq!(
        alice,
        AccountRecord {
            name: "Alice".into(),
            password_hash: "$new".into(),
            scram_sha_256: Some(SOME_SCRAM.into()),
            created: Timestamp(400),
            email: None,
            locked: None,
        }
    );
}

/// A registered room record with every field set.
fn room_record(name: &str, founder: &str) -> RoomRecord {
    RoomRecord {
        name: name.into(),
        founder: founder.into(),
        topic: Some((
            "all about it".into(),
            "alice!~alice@127.0.0.1".into(),
            Timestamp(1_234_567),
        )),
        flags: "mnt".into(),
        key: Some("sesame".into()),
        limit: Some(25),
        created: Timestamp(1_000_000),
        history_floor: MessageId(77),
        lists: vec![
            ban("*!*@evil.example", 1_100_000),
            ban("mallory!*@*", 1_000_500),
            entry(MaskList::BanExceptions, "$a:bob", 1_000_600),
            entry(MaskList::InviteExceptions, "carol!*@*", 1_000_700),
        ],
    }
}

/// A ban set by alice at `time`.
fn ban(mask: &str, time: u64) -> ListEntry {
    entry(MaskList::Bans, mask, time)
}

/// An entry of `list` set by alice at `time`.
fn entry(list: MaskList, mask: &str, time: u64) -> ListEntry {
    ListEntry {
        list,
        mask: mask.into(),
        set_by: "alice!~alice@127.0.0.1".into(),
        set_at: Timestamp(time),
    }
}

#[tokio::test]
async fn registered_rooms_round_trip_through_register_save_and_a_restart() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(config_at(&directory));
    assert_eq!(store.registered_rooms().await.expect("list"), []);

    let rust = room_record("#Rust", "Alice");
    let bare = RoomRecord {
        topic: None,
        flags: String::new(),
        key: None,
        limit: None,
        history_floor: MessageId(0),
        lists: Vec::new(),
        ..room_record("#b", "bob")
    };
    let other = room_record("#a", "carol");
    for record in [&rust, &bare, &other] {
        assert!(
            store.register_room(record.clone()).await.expect("register"),
            "{record:?}"
        );
    }
    // Listed in folded-name order, every field as registered.
    assert_eq!(
        store.registered_rooms().await.expect("list"),
        [other.clone(), bare.clone(), rust.clone()]
    );

    // Saving replaces the whole state: a cleared topic, other flags, no key, a new limit,
    // one ban lifted and another added, in list order.
    let saved = RoomRecord {
        topic: None,
        flags: "imst".into(),
        key: None,
        limit: Some(3),
        lists: vec![ban("mallory!*@*", 1_000_500), ban("eve!*@*", 900)],
        ..rust.clone()
    };
    assert!(store.save_room(saved.clone()).await.expect("save"));
    let with_topic = RoomRecord {
        topic: Some(("back".into(), "bob!text@127.0.0.1".into(), Timestamp(9))),
        lists: vec![ban("x!*@*", 8)],
        ..bare.clone()
    };
    assert!(store.save_room(with_topic.clone()).await.expect("save"));
    assert_eq!(
        store.registered_rooms().await.expect("list"),
        [other.clone(), with_topic.clone(), saved.clone()]
    );
    // Rooms are not messages.
    assert_eq!(store.count().await.expect("count"), 0);

    store.shut_down().await.expect("shut down");
    let store = open(config_at(&directory));
    assert_eq!(
        store.registered_rooms().await.expect("list after restart"),
        [other, with_topic, saved]
    );
}

async fn a_room_is_registered_once_per_folded_name(backend: TestBackend) {
    let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
    let first = room_record("#Rust", "alice");
    assert!(store.register_room(first.clone()).await.expect("register"));
    // The same room in another case, by someone else: refused, and the first stays as it was.
    let second = RoomRecord {
        topic: None,
        flags: "s".into(),
        ..room_record("#RUST", "mallory")
    };
    assert!(!store.register_room(second.clone()).await.expect("again"));
    assert!(!store.register_room(first.clone()).await.expect("again"));
    assert_eq!(store.registered_rooms().await.expect("list"), [first]);
}

async fn saving_an_unregistered_room_changes_nothing(backend: TestBackend) {
    let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
    assert!(
        !store
            .save_room(room_record("#ghost", "alice"))
            .await
            .expect("save")
    );
    assert_eq!(store.registered_rooms().await.expect("list"), []);
    let real = room_record("#real", "alice");
    assert!(store.register_room(real.clone()).await.expect("register"));
    assert!(
        !store
            .save_room(room_record("#ghost", "alice"))
            .await
            .expect("save")
    );
    assert_eq!(store.registered_rooms().await.expect("list"), [real]);
}

#[tokio::test]
async fn a_room_time_beyond_sqlite_integers_is_an_error() {
    let store = open(StoreConfig::new(":memory:"));
    let too_late = RoomRecord {
        topic: Some(("t".into(), "a!b@c".into(), Timestamp(u64::MAX))),
        ..room_record("#x", "alice")
    };
    let result = store.register_room(too_late).await;
    assert!(matches!(result, Err(StoreError::Database(_))), "{result:?}");
    let too_big = RoomRecord {
        limit: Some(u64::MAX),
        ..room_record("#x", "alice")
    };
    let result = store.register_room(too_big).await;
    assert!(matches!(result, Err(StoreError::Database(_))), "{result:?}");
    assert_eq!(store.registered_rooms().await.expect("list"), []);
}

/// Asserts that `store` (opened at a version before 3) has no rooms table.
async fn assert_no_rooms_table(store: &Store) {
    let missing = store.registered_rooms().await;
    assert!(
        matches!(&missing, Err(StoreError::Database(message)) if message.contains("rooms")),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_version_1_database_gains_registered_rooms_and_keeps_its_messages() {
    let directory = tempfile::tempdir().expect("temp dir");
    let at_v1 = Store::open_at_version(config_at(&directory), 1).expect("open at v1");
    assert_eq!(at_v1.schema_version, 1);
    let store = at_v1.store;
    assert_no_rooms_table(&store).await;
    store.shut_down().await.expect("shut down");
    write_as_version_1(
        &directory,
        &[
            room_message(1, 100, "#a", "one"),
            private_message(2, 200, "alice", "bob"),
        ],
    );

    let opened = Store::open(config_at(&directory)).expect("migrate to latest");
    assert_eq!(opened.schema_version, latest_version());
    assert_eq!(opened.message_count, 2);
    let store = opened.store;
    assert_eq!(
        ids(&store.latest(room("#a"), 10).await.expect("latest")),
        [1]
    );
    // Stored before parties were recorded: kept, read by nobody.
    assert_eq!(
        ids(&store.latest(private("bob", "alice"), 10).await.expect("pm")),
        [] as [u64; 0]
    );
    assert_eq!(store.registered_rooms().await.expect("list"), []);
    let record = room_record("#a", "alice");
    assert!(store.register_room(record.clone()).await.expect("register"));
    assert_eq!(store.registered_rooms().await.expect("list"), [record]);
}

#[tokio::test]
async fn a_version_2_database_gains_registered_rooms_and_keeps_messages_and_accounts() {
    let directory = tempfile::tempdir().expect("temp dir");
    let at_v2 = Store::open_at_version(config_at(&directory), 2).expect("open at v2");
    assert_eq!(at_v2.schema_version, 2);
    let store = at_v2.store;
    assert_no_rooms_table(&store).await;
    store.shut_down().await.expect("shut down");
    write_account_as_version_2(&directory, "Alice", 50);
    write_as_version_1(&directory, &[room_message(1, 100, "#a", "kept")]);

    let opened = Store::open(config_at(&directory)).expect("migrate to latest");
    assert_eq!(opened.schema_version, latest_version());
    assert_eq!(opened.message_count, 1);
    let store = opened.store;
    assert_eq!(
        ids(&store.latest(room("#A"), 10).await.expect("latest")),
        [1]
    );
    assert_eq!(
        store.account("alice").await.expect("lookup"),
        Some(AccountRecord {
            name: "Alice".into(),
            password_hash: SOME_HASH.into(),
            scram_sha_256: None,
            created: Timestamp(50),
            email: None,
            locked: None,
        })
    );
    assert_eq!(store.registered_rooms().await.expect("list"), []);
    let record = room_record("#a", "Alice");
    assert!(store.register_room(record.clone()).await.expect("register"));
    assert!(!store.register_room(record.clone()).await.expect("again"));
    assert_eq!(store.registered_rooms().await.expect("list"), [record]);
    store.shut_down().await.expect("shut down");

    // Opening an up-to-date database migrates nothing and loses nothing.
    let opened = Store::open(config_at(&directory)).expect("reopen");
    assert_eq!(opened.schema_version, latest_version());
    assert_eq!(
        opened.store.registered_rooms().await.expect("list").len(),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Room lifetimes

/// Runs `job` on the store thread, for looking at tables no public method shows.
async fn inspect<T: Send + 'static>(
    store: &Store,
    job: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
) -> T {
    store
        .call(move |database| Ok(job(&database.connection)?))
        .await
        .expect("inspect")
}

async fn floor_count(store: &Store) -> i64 {
    inspect(store, |connection| {
        connection.query_row("SELECT COUNT(*) FROM history_floors", [], |row| row.get(0))
    })
    .await
}

#[tokio::test]
async fn ending_a_room_lifetime_deletes_its_history_and_whatever_of_it_arrives_late() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(config_at(&directory));
    append_all(
        &store,
        [
            room_message(10, 100, "#a", "old"),
            room_message(11, 110, "#A", "old"),
            room_message(12, 120, "#b", "other room"),
            private_message(13, 130, "alice", "bob"),
        ],
    )
    .await;
    assert_eq!(
        store
            .end_room_lifetime("#A", MessageId(15))
            .await
            .expect("end"),
        2
    );
    assert_eq!(
        ids(&store.latest(room("#a"), 10).await.expect("a")),
        [] as [u64; 0]
    );
    assert_eq!(ids(&store.latest(room("#b"), 10).await.expect("b")), [12]);
    assert_eq!(
        ids(&store.latest(private("bob", "alice"), 10).await.expect("pm")),
        [13]
    );

    // A message stamped before the room closed, stored only now; and one of the next lifetime.
    append_all(
        &store,
        [
            room_message(14, 140, "#a", "late"),
            room_message(16, 160, "#a", "next lifetime"),
        ],
    )
    .await;
    assert_eq!(store.prune().await.expect("prune"), 1);
    assert_eq!(ids(&store.latest(room("#a"), 10).await.expect("a")), [16]);

    // Late again, and the server stops before the next prune: the next start deletes it, and
    // forgets the floors, which nothing of the last run can need any more.
    append_all(&store, [room_message(14, 140, "#a", "later still")]).await;
    assert_eq!(floor_count(&store).await, 1);
    store.shut_down().await.expect("shut down");
    let opened = Store::open(config_at(&directory)).expect("reopen");
    assert_eq!(opened.message_count, 3);
    let store = opened.store;
    assert_eq!(ids(&store.latest(room("#a"), 10).await.expect("a")), [16]);
    assert_eq!(floor_count(&store).await, 0);
}

#[tokio::test]
async fn a_later_end_raises_the_floor_and_an_earlier_one_does_not_lower_it() {
    let store = open(StoreConfig::new(":memory:"));
    store
        .end_room_lifetime("#a", MessageId(20))
        .await
        .expect("end");
    store
        .end_room_lifetime("#a", MessageId(10))
        .await
        .expect("end");
    append_all(&store, [room_message(15, 150, "#a", "late")]).await;
    assert_eq!(store.prune().await.expect("prune"), 1);
    assert_eq!(floor_count(&store).await, 1);
}

async fn room_queries_read_only_from_their_floor(backend: TestBackend) {
    let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
    append_all(
        &store,
        (1..=6).map(|id| room_message(id, id * 100, "#a", "x")),
    )
    .await;
    let since = |id: u64| HistoryQuery::room("#A", MessageId(id));
    let id = |id: u64| Bound::Id(MessageId(id));
    let time = |millis: u64| Bound::Time(Timestamp(millis));
    assert_eq!(
        ids(&store.latest(since(4), 10).await.expect("latest")),
        [4, 5, 6]
    );
    assert_eq!(
        ids(&store
            .latest_after(since(4), time(0), 10)
            .await
            .expect("latest after")),
        [4, 5, 6]
    );
    assert_eq!(
        ids(&store.before(since(4), id(6), 10).await.expect("before")),
        [4, 5]
    );
    assert_eq!(
        ids(&store.before(since(4), id(4), 10).await.expect("before")),
        [] as [u64; 0]
    );
    assert_eq!(
        ids(&store.after(since(4), id(1), 10).await.expect("after")),
        [4, 5, 6]
    );
    assert_eq!(
        ids(&store.around(since(4), id(3), 4).await.expect("around")),
        [4, 5, 6]
    );
    assert_eq!(
        ids(&store
            .between(since(4), time(0), time(10_000), 10)
            .await
            .expect("between")),
        [4, 5, 6]
    );
    assert_eq!(
        ids(&store
            .between(since(4), time(10_000), time(0), 10)
            .await
            .expect("between")),
        [4, 5, 6]
    );
    let targets = |floor: u64| {
        let store = store.clone();
        async move {
            store
                .targets_among(
                    vec![account("alice")],
                    vec![("#a".into(), MessageId(floor))],
                    Timestamp(0),
                    Timestamp(10_000),
                    10,
                )
                .await
                .expect("targets")
        }
    };
    assert_eq!(targets(6).await, [("#a".to_owned(), Timestamp(600))]);
    assert_eq!(targets(7).await, []);
}

async fn rooms_with_history_lists_each_room_once_and_no_conversation(backend: TestBackend) {
    let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
    assert_eq!(
        store.rooms_with_history().await.expect("list"),
        [] as [String; 0]
    );
    append_all(
        &store,
        [
            room_message(1, 1, "#B", "x"),
            room_message(2, 2, "#a", "x"),
            room_message(3, 3, "#A", "x"),
            private_message(4, 4, "alice", "bob"),
            // Nicks start with a letter or one of [\\]^_{|}, all after `#` and `$`.
            private_message(5, 5, "[x]", "_y"),
        ],
    )
    .await;
    assert_eq!(
        store.rooms_with_history().await.expect("list"),
        ["#a", "#b"]
    );
}

#[tokio::test]
async fn prunes_forget_floors_after_an_hour_and_beyond_the_cap() {
    use super::lifetimes::{FLOOR_KEEP, MAX_FLOORS};
    let store = open(StoreConfig::new(":memory:"));
    let now = Timestamp::now().0;
    let hour_ago = now - FLOOR_KEEP.as_millis() as u64 - 1;
    inspect(&store, move |connection| {
        let mut insert = connection
            .prepare("INSERT INTO history_floors (room_key, floor, ended_at) VALUES (?1, 1, ?2)")?;
        insert.execute(rusqlite::params!["#expired", hour_ago as i64])?;
        // One more than the cap, #r0 the oldest.
        for index in 0..=MAX_FLOORS {
            insert.execute(rusqlite::params![
                format!("#r{index}"),
                (now - 1_000 + index as u64 / 100) as i64
            ])?;
        }
        Ok(())
    })
    .await;
    store.prune().await.expect("prune");
    assert_eq!(floor_count(&store).await, MAX_FLOORS as i64);
    let gone: i64 = inspect(&store, |connection| {
        connection.query_row(
            "SELECT COUNT(*) FROM history_floors WHERE room_key IN ('#expired', '#r0')",
            [],
            |row| row.get(0),
        )
    })
    .await;
    assert_eq!(gone, 0);
}

#[tokio::test]
async fn a_version_3_database_keeps_its_registered_rooms_whole_history_and_gains_lists() {
    let directory = tempfile::tempdir().expect("temp dir");
    let at_v3 = Store::open_at_version(config_at(&directory), 3).expect("open at v3");
    assert_eq!(at_v3.schema_version, 3);
    let store = at_v3.store;
    // A room registered by a palaver with schema 3, as it wrote it.
    inspect(&store, |connection| {
        connection.execute(
            "INSERT INTO rooms (name_key, name, founder, flags, created)
             VALUES ('#old', '#Old', 'alice', 'nt', 5)",
            [],
        )
    })
    .await;
    store.shut_down().await.expect("shut down");
    // Its history, in the messages table as version 3 still had it.
    write_as_version_1(&directory, &[room_message(1, 100, "#Old", "kept")]);

    let opened = Store::open(config_at(&directory)).expect("migrate to latest");
    assert_eq!(opened.schema_version, latest_version());
    assert_eq!(opened.message_count, 1);
    let store = opened.store;
    let old = RoomRecord {
        name: "#Old".into(),
        founder: "alice".into(),
        topic: None,
        flags: "nt".into(),
        key: None,
        limit: None,
        created: Timestamp(5),
        // Registered before room lifetimes: all its history is its own.
        history_floor: MessageId(0),
        lists: Vec::new(),
    };
    assert_eq!(
        store.registered_rooms().await.expect("list"),
        std::slice::from_ref(&old)
    );
    assert_eq!(
        ids(&store.latest(room("#old"), 10).await.expect("latest")),
        [1]
    );
    let banned = RoomRecord {
        lists: vec![ban("bob!*@*", 6)],
        ..old
    };
    assert!(store.save_room(banned.clone()).await.expect("save"));
    assert_eq!(store.registered_rooms().await.expect("list"), [banned]);
}

#[tokio::test]
async fn an_import_copies_everything_an_sqlite_store_holds_into_an_empty_redis_store() {
    let directory = tempfile::tempdir().expect("temp dir");
    let sqlite = open(config_at(&directory));
    let mut multiline = room_message(3, 300, "#rust", "one\ntwo");
    multiline.concat_at = vec![3];
    multiline.author = Some(account("alice"));
    append_all(
        &sqlite,
        [
            room_message(1, 100, "#rust", "hello"),
            private_message(2, 200, "alice", "bob"),
            multiline,
            room_message(4, 400, "#go", "elsewhere"),
        ],
    )
    .await;
    for name in ["Alice", "bob"] {
        assert!(
            sqlite
                .create_account(name, secrets(SOME_HASH), None, Timestamp(1_000))
                .await
                .expect("create")
        );
    }
    // bob's account is from before SCRAM credentials were kept.
    rusqlite::Connection::open(database_path(&directory))
        .expect("open")
        .execute(
            "UPDATE accounts SET scram_sha_256 = NULL WHERE name_key = 'bob'",
            [],
        )
        .expect("forget bob's SCRAM credentials");
    let lock = AccountLock {
        reason: "spam".into(),
        by: "api:ops".into(),
        at: Timestamp(4_000),
    };
    assert!(
        sqlite
            .set_account_lock("bob", Some(lock))
            .await
            .expect("lock bob")
    );
    sqlite.add_certificate("alice", "ab12").await.expect("add");
    sqlite.add_certificate("alice", "cd34").await.expect("add");
    sqlite
        .set_read_marker("alice", "#Rust", Timestamp(300))
        .await
        .expect("mark");
    sqlite
        .set_read_marker("alice", "bob", Timestamp(200))
        .await
        .expect("mark");
    assert!(
        sqlite
            .register_room(room_record("#rust", "alice"))
            .await
            .expect("register")
    );
    let server_ban = ServerBanRecord {
        kind: "mask".into(),
        target: "*!*@evil.example".into(),
        reason: "spam".into(),
        set_by: "oper".into(),
        set_at: Timestamp(5_000),
        expires: None,
    };
    sqlite
        .save_server_ban(server_ban.clone())
        .await
        .expect("ban");

    let (redis, _guard) = TestBackend::Redis.open(StoreConfig::new(":memory:")).await;
    let imported = import(&sqlite, &redis).await.expect("import");
    assert_eq!(
        imported,
        Imported {
            messages: 4,
            accounts: 2,
            certificates: 2,
            read_markers: 2,
            registered_rooms: 1,
            server_bans: 1,
        }
    );

    assert_eq!(redis.count().await.expect("count"), 4);
    for query in [
        room("#rust"),
        room("#go"),
        private("alice", "bob"),
        private("bob", "alice"),
    ] {
        assert_eq!(
            redis.latest(query.clone(), 10).await.expect("history"),
            sqlite.latest(query, 10).await.expect("history")
        );
    }
    let targets = |store: Store| async move {
        store
            .targets(
                vec![account("alice")],
                Timestamp(0),
                Timestamp(u64::MAX),
                10,
            )
            .await
            .expect("targets")
    };
    assert_eq!(targets(redis.clone()).await, targets(sqlite.clone()).await);
    for name in ["alice", "bob"] {
        assert_eq!(
            redis.account(name).await.expect("account"),
            sqlite.account(name).await.expect("account")
        );
    }
    let bob = redis.account("bob").await.expect("account").expect("bob");
    assert!(bob.locked.is_some(), "the lock came along");
    assert_eq!(
        redis.certificates("alice").await.expect("certificates"),
        ["ab12", "cd34"]
    );
    assert_eq!(
        redis.room_read_markers("alice").await.expect("markers"),
        sqlite.room_read_markers("alice").await.expect("markers")
    );
    assert_eq!(
        redis.read_marker("alice", "bob").await.expect("marker"),
        Some(Timestamp(200))
    );
    assert_eq!(
        redis.registered_rooms().await.expect("rooms"),
        sqlite.registered_rooms().await.expect("rooms")
    );
    assert_eq!(redis.server_bans().await.expect("bans"), [server_ban]);

    // A second import would mix two histories: refused, and nothing is written.
    let Err(StoreError::Database(refusal)) = import(&sqlite, &redis).await else {
        panic!("an import into a store that holds data is refused");
    };
    assert!(refusal.contains("already holds palaver data"), "{refusal}");
    assert_eq!(redis.count().await.expect("count"), 4);
}

#[tokio::test]
async fn a_fenced_redis_store_appends_only_while_the_lease_holds_its_token() {
    let (store, guard) = TestBackend::Redis.open(StoreConfig::new(":memory:")).await;
    let redis = guard.0.as_ref().expect("a Redis server");
    // Unfenced (no node holds a lease in it): appends go through.
    append_all(&store, [room_message(1, 1_000, "#a", "unfenced")]).await;

    let fence = store.fence().expect("a Redis store has a fence");
    redis.command("SET palaver:lease:alpha first");
    fence.hold("palaver:lease:alpha".into(), "first".into());
    append_all(
        &store,
        [room_message(2, 2_000, "#a", "while the lease is ours")],
    )
    .await;

    // The lease lapsed and another incarnation took it: nothing more is stored.
    redis.command("SET palaver:lease:alpha second");
    let commit = store
        .append(room_message(3, 3_000, "#a", "after"))
        .await
        .expect("queued");
    let error = commit.await.expect_err("refused by the fence");
    assert!(error.to_string().contains("FENCED"), "{error}");
    redis.command("DEL palaver:lease:alpha");
    let commit = store
        .append(room_message(4, 4_000, "#a", "lapsed"))
        .await
        .expect("queued");
    commit.await.expect_err("no lease at all");
    assert_eq!(
        ids(&store.latest(room("#a"), 10).await.expect("latest")),
        [1, 2]
    );

    // Registered again, with a new token: stored again.
    redis.command("SET palaver:lease:alpha third");
    fence.hold("palaver:lease:alpha".into(), "third".into());
    append_all(&store, [room_message(5, 5_000, "#a", "again")]).await;
    assert_eq!(store.count().await.expect("count"), 3);
}

#[tokio::test]
async fn every_write_to_a_fenced_redis_store_waits_for_the_lease_to_hold_its_token() {
    let (store, guard) = TestBackend::Redis.open(StoreConfig::new(":memory:")).await;
    let redis = guard.0.as_ref().expect("a Redis server");
    let ban = |target: &str| ServerBanRecord {
        kind: "mask".into(),
        target: target.into(),
        reason: "spam".into(),
        set_by: "oper".into(),
        set_at: Timestamp(5_000),
        expires: None,
    };
    // What the node wrote while its lease was its own.
    let fence = store.fence().expect("a Redis store has a fence");
    redis.command("SET palaver:lease:alpha first");
    fence.hold("palaver:lease:alpha".into(), "first".into());
    let created = store
        .create_account("alice", secrets(SOME_HASH), None, Timestamp(1_000))
        .await
        .expect("create while the lease holds");
    assert!(created);
    assert!(
        store
            .register_room(room_record("#kept", "alice"))
            .await
            .expect("register")
    );
    store
        .save_server_ban(ban("*!*@kept.example"))
        .await
        .expect("ban");
    append_all(&store, [room_message(1, 1_000, "#kept", "kept")]).await;
    let before = redis.command("DBSIZE");

    // Another incarnation holds the lease: every kind of write is refused, and none of them
    // changes anything.
    redis.command("SET palaver:lease:alpha second");
    let fenced = |outcome: Result<(), StoreError>, what: &str| {
        let error = outcome.expect_err(what);
        assert!(error.to_string().contains("FENCED"), "{what}: {error}");
    };
    let new_account = store.create_account("bob", secrets(SOME_HASH), None, Timestamp(2_000));
    fenced(new_account.await.map(drop), "create an account");
    fenced(
        store
            .set_password("alice", secrets("$other"))
            .await
            .map(drop),
        "change a password",
    );
    fenced(
        store
            .add_scram_credentials("alice", SOME_HASH, SOME_SCRAM)
            .await
            .map(drop),
        "add SCRAM credentials",
    );
    let lock = AccountLock {
        reason: "spam".into(),
        by: "api:ops".into(),
        at: Timestamp(3_000),
    };
    fenced(
        store.set_account_lock("alice", Some(lock)).await.map(drop),
        "lock an account",
    );
    fenced(
        store.add_certificate("alice", "ab12").await.map(drop),
        "add a certificate",
    );
    fenced(
        store.remove_certificate("alice", "ab12").await.map(drop),
        "remove a certificate",
    );
    fenced(
        store
            .register_room(room_record("#new", "alice"))
            .await
            .map(drop),
        "register a room",
    );
    fenced(
        store.save_room(room_record("#kept", "bob")).await.map(drop),
        "save a room",
    );
    fenced(
        store
            .save_server_ban(ban("*!*@new.example"))
            .await
            .map(drop),
        "set a ban",
    );
    fenced(
        store.delete_server_ban("*!*@kept.example").await.map(drop),
        "lift a ban",
    );
    fenced(
        store
            .set_read_marker("alice", "#kept", Timestamp(9_000))
            .await
            .map(drop),
        "move a read marker",
    );
    let deletion = store.delete_message(MessageId(1)).await;
    fenced(
        match deletion {
            Ok(commit) => commit.await,
            Err(error) => Err(error),
        },
        "delete a message",
    );
    fenced(
        store
            .end_room_lifetime("#kept", MessageId(2))
            .await
            .map(drop),
        "end a room's lifetime",
    );
    fenced(store.prune().await.map(drop), "prune");
    assert_eq!(
        redis.command("DBSIZE"),
        before,
        "no key was added or removed"
    );
    assert_eq!(
        store
            .account("alice")
            .await
            .expect("lookup")
            .expect("kept")
            .password_hash,
        SOME_HASH
    );
    assert_eq!(store.account("bob").await.expect("lookup"), None);
    assert_eq!(
        store.server_bans().await.expect("bans"),
        [ban("*!*@kept.example")]
    );
    assert_eq!(
        ids(&store.latest(room("#kept"), 10).await.expect("latest")),
        [1]
    );

    // Registered again with a new token: writes go through again.
    fence.hold("palaver:lease:alpha".into(), "second".into());
    assert!(
        store
            .delete_server_ban("*!*@kept.example")
            .await
            .expect("lift")
    );
    let created = store
        .create_account("bob", secrets(SOME_HASH), None, Timestamp(4_000))
        .await
        .expect("create once the lease holds again");
    assert!(created);
}
