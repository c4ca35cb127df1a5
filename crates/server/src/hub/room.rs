//! A room: its members, its topic, and fan-out to its members.
//!
//! Each room has its own lock; there is no global lock on the message path. Everything sent to
//! a room is stamped and pushed while the room's lock is held, so every member sees the room's
//! messages and membership changes in one and the same order.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use palaver_proto::Protocol;
use palaver_proto::event::Event;

use super::user::User;
use crate::lock;

#[derive(Debug)]
pub struct Room {
    /// The name as first created (display form).
    name: Arc<str>,
    /// The case-folded name, the key in the hub's room directory.
    key: String,
    state: Mutex<RoomState>,
}

#[derive(Debug, Default)]
pub(super) struct RoomState {
    pub members: Vec<Arc<User>>,
    pub topic: Option<Box<str>>,
    /// Set when the last member leaves. A closed room is about to be removed from the
    /// directory; a joiner that finds one must look the room up again.
    pub closed: bool,
}

impl Room {
    pub(super) fn new(name: &str, key: String) -> Self {
        Self {
            name: name.into(),
            key,
            state: Mutex::default(),
        }
    }

    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn topic(&self) -> Option<Box<str>> {
        self.state().topic.clone()
    }

    /// Locks the room. Lock order: a room lock may be taken while holding nothing or the
    /// nick leaf locks; never take the hub's directory locks while holding it.
    pub(super) fn state(&self) -> MutexGuard<'_, RoomState> {
        lock(&self.state)
    }
}

impl RoomState {
    pub fn is_member(&self, user: &User) -> bool {
        self.members.iter().any(|member| member.id == user.id)
    }
}

/// Renders `event` at most once per protocol and queues the shared bytes for every recipient.
/// Never blocks: a full outbox drops its own connection, not the delivery to others.
pub(super) fn deliver<'a>(recipients: impl IntoIterator<Item = &'a Arc<User>>, event: &Event) {
    let mut rendered: [Option<Bytes>; Protocol::ALL.len()] = Default::default();
    for user in recipients {
        let bytes = rendered[user.protocol.index()]
            .get_or_insert_with(|| user.protocol.render(event))
            .clone();
        user.outbox.push(bytes);
    }
}
