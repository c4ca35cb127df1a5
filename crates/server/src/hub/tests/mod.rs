//! The hub's rules, exercised without sockets: the hub is synchronous and keeps its state in
//! plain data, so each test drives it directly and reads what it returns or keeps. What clients
//! see of the same rules (the exact lines of each protocol) is tested over sockets in
//! `crates/server/tests`.

mod admission;
mod lifetimes;

use std::sync::Arc;

use palaver_proto::event::MessageKind;

use super::*;
use crate::outbox::Outbox;

const PEER: &str = "127.0.0.1:1";

fn outbox() -> Arc<Outbox> {
    Arc::new(Outbox::new(64 * 1024))
}

/// A new text user under a fresh `guest-N` nick.
fn guest(hub: &Hub) -> Arc<User> {
    let peer = PEER.parse().expect("address");
    hub.connect_guest(peer, "127.0.0.1", Protocol::Text, outbox())
}

/// Joins `user` to `name`, which must admit it.
fn join(hub: &Hub, user: &Arc<User>, name: &str) -> Arc<Room> {
    match hub.join(user, name, None).expect("join") {
        Joined::New { room, .. } | Joined::AlreadyMember(room) => room,
    }
}

/// Has `user` say something in `room`; the message's id.
fn say(hub: &Hub, user: &Arc<User>, room: &Arc<Room>) -> MessageId {
    match hub
        .say(user, room, MessageKind::Say, "hi", "")
        .expect("say")
    {
        Event::Message { id, .. } => id,
        other => panic!("not a message: {other:?}"),
    }
}

fn pending_invitations(room: &Room) -> usize {
    room.state().invitations.len()
}
