//! Keeps a connection's replies in command order when some of them wait for the store, and
//! counts them against the connection's send queue as they are produced.
//!
//! The durability promise: a message's stamped copy goes back to its sender only once the
//! message is committed. Other recipients get it at once, but the sender's copy — and
//! everything the same connection asked for after it — waits: a `PING` sent after a `PRIVMSG`
//! gets its `PONG` after that `PRIVMSG`'s echo. Sessions add each command's replies here with
//! the commits they depend on; [`ReplyQueue::flush`] waits for the commits in order and hands
//! the replies to the outbox.
//!
//! The memory bound: replies wait here until the connection has handled everything it read at
//! once, so a few kilobytes of cheap commands (`/history 500`, `LIST`, `WHO *` a few hundred
//! times) could otherwise make the server build up far more output than one client may queue.
//! Every reply byte is therefore reserved in the outbox when it is made ([`ReplyBuffer`],
//! `Outbox::reserve`): once a client's queued and pending replies reach `send_queue_bytes` the
//! outbox closes as overflowed, the rest is dropped, and the connection ends under the
//! slow-consumer policy.

use std::sync::Arc;

use bytes::Bytes;

use crate::outbox::Outbox;
use crate::store::{Commit, StoreError};

/// Reply bytes a session produced, already counted against its outbox's limit.
#[derive(Debug, Default)]
pub struct ReplyBytes {
    pub chunks: Vec<Bytes>,
    /// How many bytes were reserved in the outbox for `chunks`.
    pub reserved: usize,
}

/// Collects one command's reply lines, reserving each in the outbox as it is added. Once a
/// reservation fails the outbox has closed (the client is too slow, or asked for too much at
/// once) and further lines are dropped.
pub struct ReplyBuffer {
    outbox: Arc<Outbox>,
    replies: ReplyBytes,
}

impl ReplyBuffer {
    pub fn new(outbox: Arc<Outbox>) -> Self {
        Self {
            outbox,
            replies: ReplyBytes::default(),
        }
    }

    /// Adds `line` if it fits in the client's send queue.
    /// The connection's outbox, which the replies are counted against.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    pub fn push(&mut self, line: Bytes) {
        if self.outbox.reserve(line.len()) {
            self.replies.reserved += line.len();
            self.replies.chunks.push(line);
        }
    }

    /// The lines added since the last call.
    pub fn take(&mut self) -> ReplyBytes {
        std::mem::take(&mut self.replies)
    }
}

/// One command's replies and the commits they wait for.
struct Entry {
    replies: Vec<Bytes>,
    commits: Vec<Commit>,
    /// Sent instead of `replies` if a commit fails: the sender must not take an unsaved
    /// message for acknowledged.
    on_failure: Box<dyn FnOnce(&StoreError) -> Bytes + Send>,
}

/// The replies of the commands handled since the last flush, in order.
#[derive(Default)]
pub struct ReplyQueue {
    entries: Vec<Entry>,
    /// Replies that depend on no commit and come before every entry; cheaper than an entry.
    ready: Vec<Bytes>,
    /// Bytes reserved in the outbox for everything queued here.
    reserved: usize,
}

impl ReplyQueue {
    /// Adds replies that wait for nothing (but still come after every earlier command's).
    pub fn push_ready(&mut self, replies: ReplyBytes) {
        self.reserved += replies.reserved;
        match self.entries.last_mut() {
            Some(last) if last.commits.is_empty() => last.replies.extend(replies.chunks),
            Some(_) => self.entries.push(Entry {
                replies: replies.chunks,
                commits: Vec::new(),
                on_failure: Box::new(|_| Bytes::new()),
            }),
            None => self.ready.extend(replies.chunks),
        }
    }

    /// Adds replies that may only go out once every one of `commits` is durable.
    pub fn push_after(
        &mut self,
        replies: ReplyBytes,
        commits: Vec<Commit>,
        on_failure: impl FnOnce(&StoreError) -> Bytes + Send + 'static,
    ) {
        if commits.is_empty() {
            self.push_ready(replies);
            return;
        }
        self.reserved += replies.reserved;
        self.entries.push(Entry {
            replies: replies.chunks,
            commits,
            on_failure: Box::new(on_failure),
        });
    }

    /// Waits for the pending commits in order and releases every reply to `outbox` (which was
    /// holding others' bytes back since the batch began; see `Outbox::hold`).
    pub async fn flush(&mut self, outbox: &Outbox) {
        let mut out = std::mem::take(&mut self.ready);
        for entry in std::mem::take(&mut self.entries) {
            let mut failure = None;
            for commit in entry.commits {
                if let Err(error) = commit.await {
                    failure.get_or_insert(error);
                }
            }
            match failure {
                None => out.extend(entry.replies),
                Some(error) => {
                    tracing::error!(%error, "a message could not be saved");
                    out.push((entry.on_failure)(&error));
                }
            }
        }
        let reserved = std::mem::take(&mut self.reserved);
        outbox.release(out.into_iter().filter(|bytes| !bytes.is_empty()), reserved);
    }
}
