//! Sustained appends through the real [`Store`]: 64 concurrent submitters writing to a
//! temporary database file with `synchronous=FULL`, so every group commit pays a real fsync.
//!
//! Two shapes: `pipelined` submitters queue all their messages and then await the commits
//! (the store's best case, large batches), and `await_each` submitters wait for each commit
//! before sending the next (at most 64 messages in flight, so batches of at most 64).
//! Throughput is reported in messages per second.
//!
//! The same on the Redis store (`store_append_redis`): a real `redis-server` with the
//! persistence palaver requires (`appendfsync always`), its files in the temporary directory
//! too, so both stores pay an fsync per write to the same disk.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use palaver_proto::event::{Identity, MessageId, MessageKind};
use palaver_proto::time::Timestamp;
use palaver_server::store::{HistoryTarget, RedisSettings, Store, StoreConfig, StoredMessage};
use palaver_server::test_redis::RedisServer;
use tokio::runtime::Runtime;

const SUBMITTERS: u64 = 64;
const MESSAGES_PER_SUBMITTER: u64 = 100;
const ROOMS: u64 = 16;

/// A chat-sized message to one of [`ROOMS`] rooms; `id` must be unique in the database.
fn message(id: u64, submitter: u64) -> StoredMessage {
    StoredMessage {
        id: MessageId(id),
        time: Timestamp::now(),
        from: Identity {
            nick: format!("user{submitter}").into(),
            user: "bench".into(),
            host: "127.0.0.1".into(),
            realname: "Bench User".into(),
            account: None,
            bot: false,
        },
        account: None,
        target: HistoryTarget::Room(format!("#room{}", submitter % ROOMS)),
        kind: MessageKind::Say,
        text: "the quick brown fox jumps over the lazy dog, and then writes it down durably".into(),
        concat_at: Vec::new(),
        author: None,
        client_tags: String::new(),
    }
}

/// One round: every submitter sends its messages; returns once all are durable.
async fn round(store: &Store, next_id: &Arc<AtomicU64>, await_each: bool) {
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|submitter| {
            let store = store.clone();
            let next_id = Arc::clone(next_id);
            tokio::spawn(async move {
                let mut commits = Vec::new();
                for _ in 0..MESSAGES_PER_SUBMITTER {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let commit = store.append(message(id, submitter)).await?;
                    if await_each {
                        commit.await?;
                    } else {
                        commits.push(commit);
                    }
                }
                for commit in commits {
                    commit.await?;
                }
                Ok::<(), palaver_server::store::StoreError>(())
            })
        })
        .collect();
    for submitter in submitters {
        let outcome = submitter.await.expect("a submitter panicked");
        outcome.expect("an append failed");
    }
}

fn sustained_appends(criterion: &mut Criterion) {
    let runtime = Runtime::new().expect("a tokio runtime");
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("bench.db");
    let store = Store::open(StoreConfig::new(path.to_string_lossy()))
        .expect("open the store")
        .store;
    measure(criterion, &runtime, "store_append", store);

    let redis = RedisServer::start();
    let settings = RedisSettings {
        url: redis.url(),
        key_prefix: "bench".into(),
        verify_persistence: true,
    };
    let store = runtime
        .block_on(Store::open_redis(
            &settings,
            StoreConfig::new(":memory:"),
            Arc::default(),
        ))
        .expect("open the store on Redis")
        .store;
    measure(criterion, &runtime, "store_append_redis", store);
}

/// Both shapes on `store`, then its counters; shuts it down.
fn measure(criterion: &mut Criterion, runtime: &Runtime, group_name: &str, store: Store) {
    let next_id = Arc::new(AtomicU64::new(1));
    let mut group = criterion.benchmark_group(group_name);
    group.throughput(Throughput::Elements(SUBMITTERS * MESSAGES_PER_SUBMITTER));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    for (name, await_each) in [("pipelined", false), ("await_each", true)] {
        group.bench_function(name, |bencher| {
            bencher.iter_custom(|iterations| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iterations {
                        round(&store, &next_id, await_each).await;
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();

    let statistics = runtime.block_on(store.statistics()).expect("statistics");
    eprintln!(
        "{group_name}: {} messages in {} writes ({:.1} per write)",
        statistics.appended,
        statistics.batches,
        statistics.appended as f64 / statistics.batches.max(1) as f64
    );
    runtime
        .block_on(store.shut_down())
        .expect("shut down the store");
}

criterion_group!(benches, sustained_appends);
criterion_main!(benches);
