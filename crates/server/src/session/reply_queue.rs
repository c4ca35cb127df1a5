//! Keeps a connection's replies in command order when some of them wait for the store.
//!
//! The durability promise: a message's stamped copy goes back to its sender only once the
//! message is committed. Other recipients get it at once, but the sender's copy — and
//! everything the same connection asked for after it — waits: a `PING` sent after a `PRIVMSG`
//! gets its `PONG` after that `PRIVMSG`'s echo. Sessions add each command's replies here with
//! the commits they depend on; [`ReplyQueue::flush`] waits for the commits in order and hands
//! the replies to the outbox.

use bytes::Bytes;

use crate::outbox::Outbox;
use crate::store::{Commit, StoreError};

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
    /// Replies that depend on no commit and come after the last entry; cheaper than an entry.
    ready: Vec<Bytes>,
}

impl ReplyQueue {
    /// Adds replies that wait for nothing (but still come after every earlier command's).
    pub fn push_ready(&mut self, replies: impl IntoIterator<Item = Bytes>) {
        match self.entries.last_mut() {
            Some(last) if last.commits.is_empty() => last.replies.extend(replies),
            Some(_) => self.entries.push(Entry {
                replies: replies.into_iter().collect(),
                commits: Vec::new(),
                on_failure: Box::new(|_| Bytes::new()),
            }),
            None => self.ready.extend(replies),
        }
    }

    /// Adds replies that may only go out once every one of `commits` is durable.
    pub fn push_after(
        &mut self,
        replies: impl IntoIterator<Item = Bytes>,
        commits: Vec<Commit>,
        on_failure: impl FnOnce(&StoreError) -> Bytes + Send + 'static,
    ) {
        if commits.is_empty() {
            self.push_ready(replies);
            return;
        }
        self.entries.push(Entry {
            replies: replies.into_iter().collect(),
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
        outbox.release(out.into_iter().filter(|bytes| !bytes.is_empty()));
    }
}
