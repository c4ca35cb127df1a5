//! Appends with group commit, as the SQLite store has it: messages queue for one of a few
//! batchers, each with its own connection, and a batcher stores everything queued since its
//! previous call in one script call (`scripts/append.lua`). While a call is on its way, the
//! next batch gathers; so the busier the store, the more messages each call (and each fsync
//! of Redis's) carries, with no waiting when it is idle.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use super::body::encode_message;
use super::keys::Keys;
use super::link::dropped;
use super::scripts::Scripts;
use super::{RedisConnection, Shared, StoreError, StoredMessage};

/// The most messages one call stores: about 150 KiB of arguments for chat-sized messages.
const MAX_BATCH: usize = 512;

/// A message waiting for its batch.
pub(super) struct Pending {
    pub(super) message: StoredMessage,
    /// Hears the outcome once Redis has the message on disk (or could not store it).
    pub(super) committed: oneshot::Sender<Result<(), StoreError>>,
    /// Its place among the appends under way, released with the outcome.
    pub(super) permit: OwnedSemaphorePermit,
}

/// One batcher: its queue's receiving end and what a call needs.
pub(super) struct Batcher {
    pub(super) queue: mpsc::UnboundedReceiver<Pending>,
    pub(super) connection: RedisConnection,
    pub(super) keys: Arc<Keys>,
    pub(super) scripts: Arc<Scripts>,
    pub(super) shared: Arc<Shared>,
}

impl Batcher {
    /// Stores batches until every sender of its queue is gone.
    pub(super) async fn run(mut self) {
        while let Some(first) = self.queue.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.queue.try_recv() {
                    Ok(pending) => batch.push(pending),
                    Err(_) => break,
                }
            }
            self.store(batch).await;
        }
    }

    /// Stores `batch` in one call and tells each message's sender how it went.
    async fn store(&mut self, batch: Vec<Pending>) {
        let started = Instant::now();
        let mut invocation = self.scripts.append.prepare_invoke();
        invocation
            .key(self.keys.message_count())
            .key(self.keys.floors())
            .arg(self.keys.message_prefix());
        let mut sent = Vec::with_capacity(batch.len());
        for pending in batch {
            match arguments(&self.keys, &pending.message) {
                Ok(arguments) => {
                    for argument in arguments {
                        invocation.arg(argument);
                    }
                    sent.push(pending);
                }
                // The caller may have stopped listening.
                Err(error) => drop(pending.committed.send(Err(error))),
            }
        }
        if sent.is_empty() {
            return;
        }
        self.shared.fence.seal(&mut invocation);
        let mut outcomes: Result<Vec<i64>, redis::RedisError> =
            invocation.invoke_async(&mut self.connection).await;
        let mut retried = false;
        if let Err(error) = &outcomes
            && dropped(error)
        {
            // The connection died (Redis restarted, or the network dropped it) and has been
            // replaced: once more on the new one (as `link.rs` does for every other request).
            // The call may have been carried out before the connection died; then its messages
            // are found stored, which is what was wanted.
            retried = true;
            outcomes = invocation.invoke_async(&mut self.connection).await;
        }
        let stored = match &outcomes {
            Ok(outcomes) => outcomes.iter().filter(|&&outcome| outcome == 1).count(),
            Err(_) => 0,
        };
        self.shared.metrics.committed(stored, started.elapsed());
        self.shared
            .appended
            .fetch_add(stored as u64, Ordering::Relaxed);
        self.shared.batches.fetch_add(1, Ordering::Relaxed);
        for (index, pending) in sent.into_iter().enumerate() {
            let outcome = match &outcomes {
                Ok(outcomes) => match outcomes.get(index) {
                    Some(-1) if retried => Ok(()),
                    Some(-1) => Err(StoreError::Database(format!(
                        "message {} is stored already",
                        pending.message.id
                    ))),
                    Some(_) => Ok(()),
                    None => Err(StoreError::Database(
                        "Redis answered for fewer messages than it was sent".into(),
                    )),
                },
                Err(error) => Err(StoreError::from(error.clone())),
            };
            drop(pending.permit);
            let _ = pending.committed.send(outcome);
        }
    }
}

/// The five arguments `store_message.lua` takes for `message`: its id, time, body, target key
/// and indexes (under `keys`).
pub(super) fn arguments(keys: &Keys, message: &StoredMessage) -> Result<[String; 5], StoreError> {
    let (body, listing) = encode_message(message)?;
    let mut indexes = vec![(
        keys.history(&listing.target_key),
        keys.targets(),
        listing.target_key.clone(),
    )];
    let views = [
        (&listing.sender_view, &listing.sender_party),
        (&listing.recipient_view, &listing.recipient_party),
    ];
    for (view, party) in views {
        if let (Some(view), Some(party)) = (view, party) {
            indexes.push((keys.view(view), keys.party_views(party), view.clone()));
        }
    }
    if let Some(author) = &listing.author {
        indexes.push((
            keys.authored(author, &listing.target_key),
            String::new(),
            String::new(),
        ));
    }
    let indexes =
        serde_json::to_string(&indexes).map_err(|error| StoreError::Database(error.to_string()))?;
    Ok([
        message.id.0.to_string(),
        message.time.0.to_string(),
        body,
        listing.target_key,
        indexes,
    ])
}
