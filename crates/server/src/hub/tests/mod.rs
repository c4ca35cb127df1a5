//! The hub's rules, exercised without sockets: the hub is synchronous and keeps its state in
//! plain data, so each test drives it directly and reads what it returns or keeps. What clients
//! see of the same rules (the exact lines of each protocol) is tested over sockets in
//! `crates/server/tests`.

mod admission;
mod lifetimes;
mod link;
mod model;
mod moderation;
mod monitor;
mod nicks;
mod operators;
mod remote;

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

/// A new IRC user called `nick` (`nick!~nick@127.0.0.1`).
fn irc_user(hub: &Hub, nick: &str) -> Arc<User> {
    let peer = PEER.parse().expect("address");
    hub.register(peer, Protocol::Irc, outbox(), irc_identity(nick))
        .expect("registered")
}

/// The identity of an IRC user called `nick` without an account: `nick!~nick@127.0.0.1`.
fn irc_identity(nick: &str) -> Identity {
    Identity {
        nick: nick.into(),
        user: format!("~{nick}").into(),
        host: "127.0.0.1".into(),
        realname: "".into(),
        account: None,
        bot: false,
    }
}

/// Joins `user` to `name`, which must admit it.
fn join(hub: &Hub, user: &Arc<User>, name: &str) -> Arc<Room> {
    match hub.join(user, name, None).expect("join") {
        Joined::New { room, .. } | Joined::AlreadyMember(room) => room,
    }
}

/// Why `user` may not join `name` with `key`.
fn refusal(hub: &Hub, user: &Arc<User>, name: &str, key: Option<&str>) -> JoinRefusal {
    match hub.join(user, name, key) {
        Err(HubError::CannotJoin { reason, .. }) => reason,
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("{} was admitted to {name}", user.nick()),
    }
}

/// Has `user` say something in `room`; the message's id.
fn say(hub: &Hub, user: &Arc<User>, room: &Arc<Room>) -> MessageId {
    match hub
        .say(user, room, &Said::plain(MessageKind::Say, "hi"))
        .expect("say")
    {
        Event::Message { id, .. } => id,
        other => panic!("not a message: {other:?}"),
    }
}

/// Applies `changes` as `user`, which must be allowed to; what was announced.
fn change_modes(
    hub: &Hub,
    user: &Arc<User>,
    room: &Arc<Room>,
    changes: Vec<ModeChange>,
) -> ModeOutcome {
    hub.change_modes(user, room, changes).expect("mode change")
}

fn flag(flag: RoomFlag, set: bool) -> ModeChange {
    ModeChange::Flag { flag, set }
}

fn ban(mask: &str) -> ModeChange {
    self::mask(MaskList::Bans, mask)
}

/// Adds `mask` to the mask list `list`.
fn mask(list: MaskList, mask: &str) -> ModeChange {
    ModeChange::Mask {
        list,
        set: true,
        mask: mask.into(),
    }
}

fn pending_invitations(room: &Room) -> usize {
    room.state().invitations.len()
}
