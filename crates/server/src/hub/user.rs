//! A connected user as the hub sees it: identity, outbox, and the rooms it is in.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use palaver_proto::Protocol;

use super::room::Room;
use crate::lock;
use crate::outbox::Outbox;

/// Identifies a connection for the server's lifetime; never reused.
pub type UserId = u64;

/// One connected client. Shared (`Arc`) between its session, the hub's nick directory and the
/// member lists of its rooms.
#[derive(Debug)]
pub struct User {
    pub id: UserId,
    pub peer: SocketAddr,
    /// Which protocol this user's bytes must be rendered in; fixed for the connection.
    pub protocol: Protocol,
    /// Where everything for this user is queued; pushes never block.
    pub outbox: Arc<Outbox>,
    /// Current nick. Changed only by `Hub::rename` while it holds the nick directory lock, so
    /// the directory and this field always agree. A leaf lock: nothing else is locked while
    /// it is held.
    nick: Mutex<Arc<str>>,
    /// Rooms this user is in, in the order joined. Changed only by the hub, after the room's
    /// own member list (the source of truth for fan-out) was changed.
    rooms: Mutex<Vec<Arc<Room>>>,
}

impl User {
    pub(super) fn new(
        id: UserId,
        peer: SocketAddr,
        protocol: Protocol,
        outbox: Arc<Outbox>,
        nick: Arc<str>,
    ) -> Self {
        Self {
            id,
            peer,
            protocol,
            outbox,
            nick: Mutex::new(nick),
            rooms: Mutex::new(Vec::new()),
        }
    }

    pub fn nick(&self) -> Arc<str> {
        lock(&self.nick).clone()
    }

    pub(super) fn set_nick(&self, nick: Arc<str>) {
        *lock(&self.nick) = nick;
    }

    /// The rooms this user is in, oldest first.
    pub fn rooms(&self) -> Vec<Arc<Room>> {
        lock(&self.rooms).clone()
    }

    /// The room with folded name `key`, if this user is in it.
    pub fn room(&self, key: &str) -> Option<Arc<Room>> {
        lock(&self.rooms)
            .iter()
            .find(|room| room.key() == key)
            .cloned()
    }

    pub(super) fn add_room(&self, room: Arc<Room>) {
        lock(&self.rooms).push(room);
    }

    pub(super) fn remove_room(&self, room: &Arc<Room>) {
        lock(&self.rooms).retain(|joined| !Arc::ptr_eq(joined, room));
    }

    pub(super) fn take_rooms(&self) -> Vec<Arc<Room>> {
        std::mem::take(&mut *lock(&self.rooms))
    }
}
