//! A cluster node's room messages, and its private messages to another node's users, stored in
//! the same script that publishes them (`cluster/scripts/room_say.lua`, `inbox_send.lua`, with
//! `scripts/store_message.lua`'s `store_published`) instead of by an append after it: one call
//! to Redis and one fsync per message instead of two, and no message that its recipients saw but
//! the history lost between the two calls.
//!
//! Only that script knows the message's id (and so its time): the node hands it everything
//! else — the keys, the indexes, and the message's JSON without its leading id and time, which
//! the script writes in front (`store_published` in `scripts/store_message.lua`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::appends::arguments;
use super::keys::Keys;
use super::{Shared, StoreError, StoredMessage};

/// What the publishing script needs to store one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The keys of the message count and of the history floors.
    pub keys: [String; 2],
    /// The prefix of message keys, the message's JSON after its leading
    /// `{"id":<id>,"time":<ms>,` (which the script writes in front), its target key and its
    /// indexes.
    pub arguments: [String; 4],
}

/// Makes history entries for the store's Redis, and counts those stored. Cheap to clone.
#[derive(Clone)]
pub struct HistoryEntries {
    keys: Arc<Keys>,
    shared: Arc<Shared>,
}

impl HistoryEntries {
    pub(super) fn new(keys: Arc<Keys>, shared: Arc<Shared>) -> Self {
        Self { keys, shared }
    }

    /// The entry for `message`, whatever id and time it has so far.
    pub fn entry_for(&self, message: &StoredMessage) -> Result<HistoryEntry, StoreError> {
        let [id, time, body, target, indexes] = arguments(&self.keys, message)?;
        // The store's JSON starts with the id and the time (`body.rs`, fields in that order).
        let head = format!("{{\"id\":{id},\"time\":{time},");
        let after_id = body.strip_prefix(&head).ok_or_else(|| {
            StoreError::Database(format!("message {id}'s JSON does not start with its id"))
        })?;
        Ok(HistoryEntry {
            keys: [self.keys.message_count(), self.keys.floors()],
            arguments: [
                self.keys.message_prefix(),
                after_id.to_owned(),
                target,
                indexes,
            ],
        })
    }

    /// One entry was stored by a call that took `took`: counted as the store's appends are.
    pub fn stored(&self, took: Duration) {
        self.shared.metrics.committed(1, took);
        self.shared.appended.fetch_add(1, Ordering::Relaxed);
        self.shared.batches.fetch_add(1, Ordering::Relaxed);
    }
}
