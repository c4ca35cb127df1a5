//! The hub: who is connected, which rooms exist, who is in them, and fan-out.
//!
//! The hub is protocol-neutral. Sessions call it synchronously; it changes state, stamps an
//! [`Event`] and pushes the rendered bytes into recipients' outboxes. It never waits on a
//! socket, so any session may call it from its own task.
//!
//! Locks (all `std::sync::Mutex`, never held across an `.await`):
//! - `nicks`: the nick directory; taken on connect, disconnect, nick change and private-message
//!   lookups only, never on the room message path.
//! - `rooms`: the room directory; taken on join, on the last member's leave, and by `/rooms`.
//! - each room's own lock (see [`room`]), the only lock on the room message path.
//! - each user's nick and room-list locks, which are leaves.
//!
//! No directory lock is taken while a room lock is held.

mod room;
mod user;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use palaver_proto::Protocol;
use palaver_proto::event::{Event, MessageKind};
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use thiserror::Error;

pub use room::Room;
pub use user::{User, UserId};

use crate::lock;
use crate::outbox::Outbox;
use room::deliver;

/// The room every new text-protocol connection joins.
pub const LOBBY: &str = "#lobby";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HubError {
    #[error("nick {0} is taken")]
    NickTaken(String),
    #[error("no such nick: {0}")]
    NoSuchNick(String),
    #[error("no such room: {0}")]
    NoSuchRoom(String),
    #[error("you are not in {0}")]
    NotInRoom(String),
}

/// The result of a join.
pub enum Joined {
    /// Newly joined; `topic` is the room's topic at that moment.
    New {
        room: Arc<Room>,
        topic: Option<Box<str>>,
    },
    /// The user was already a member.
    AlreadyMember(Arc<Room>),
}

/// One line of `/rooms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    pub name: Arc<str>,
    pub members: usize,
    pub topic: Option<Box<str>>,
}

#[derive(Debug, Default)]
pub struct Hub {
    /// Folded nick → user, for uniqueness and private messages.
    nicks: Mutex<HashMap<String, Arc<User>>>,
    /// Folded room name → room. Holds exactly the rooms with at least one member.
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    next_user_id: AtomicU64,
    next_guest_number: AtomicU64,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a new connection under the first free `guest-N` nick.
    pub fn connect(&self, peer: SocketAddr, protocol: Protocol, outbox: Arc<Outbox>) -> Arc<User> {
        let id = self.next_user_id.fetch_add(1, Ordering::Relaxed);
        let mut nicks = lock(&self.nicks);
        loop {
            let number = self.next_guest_number.fetch_add(1, Ordering::Relaxed) + 1;
            let nick: Arc<str> = format!("guest-{number}").into();
            if let Entry::Vacant(slot) = nicks.entry(fold(&nick)) {
                let user = Arc::new(User::new(id, peer, protocol, outbox, nick));
                slot.insert(user.clone());
                return user;
            }
        }
    }

    /// Removes `user` from the server. With a `reason`, everyone who shared a room with it is
    /// told once that it left; without one (server shutdown) nobody is told.
    pub fn disconnect(&self, user: &Arc<User>, reason: Option<&str>) {
        let nick = user.nick();
        {
            let mut nicks = lock(&self.nicks);
            if nicks
                .get(&fold(&nick))
                .is_some_and(|owner| Arc::ptr_eq(owner, user))
            {
                nicks.remove(&fold(&nick));
            }
        }
        let mut witnesses: HashMap<UserId, Arc<User>> = HashMap::new();
        for room in user.take_rooms() {
            let mut state = room.state();
            state.members.retain(|member| member.id != user.id);
            for member in &state.members {
                witnesses.insert(member.id, member.clone());
            }
            let now_empty = state.members.is_empty();
            if now_empty {
                state.closed = true;
            }
            drop(state);
            if now_empty {
                self.forget_room(&room);
            }
        }
        if let Some(reason) = reason {
            let event = Event::Quit {
                time: Timestamp::now(),
                nick,
                reason: reason.into(),
            };
            deliver(witnesses.values(), &event);
        }
    }

    /// Joins `user` to the room called `name` (already validated), creating it if needed. Every
    /// member, the newcomer included, is told.
    pub fn join(&self, user: &Arc<User>, name: &str) -> Joined {
        let key = fold(name);
        if let Some(room) = user.room(&key) {
            return Joined::AlreadyMember(room);
        }
        loop {
            let room = lock(&self.rooms)
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Room::new(name, key.clone())))
                .clone();
            let mut state = room.state();
            if state.closed {
                // Its last member is leaving right now; help remove it and look again.
                drop(state);
                self.forget_room(&room);
                continue;
            }
            state.members.push(user.clone());
            let event = Event::Joined {
                time: Timestamp::now(),
                room: room.name().clone(),
                nick: user.nick(),
            };
            deliver(&state.members, &event);
            let topic = state.topic.clone();
            drop(state);
            user.add_room(room.clone());
            return Joined::New { room, topic };
        }
    }

    /// Takes `user` out of `room`, telling every member, the leaver included.
    pub fn part(&self, user: &Arc<User>, room: &Arc<Room>, reason: Option<&str>) {
        let mut state = room.state();
        if !state.is_member(user) {
            return;
        }
        let event = Event::Parted {
            time: Timestamp::now(),
            room: room.name().clone(),
            nick: user.nick(),
            reason: reason.map(Into::into),
        };
        deliver(&state.members, &event);
        state.members.retain(|member| member.id != user.id);
        let now_empty = state.members.is_empty();
        state.closed = now_empty;
        drop(state);
        user.remove_room(room);
        if now_empty {
            self.forget_room(room);
        }
    }

    /// Sends a message to every member of `room`, the sender included (its receipt).
    pub fn say(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        kind: MessageKind,
        text: &str,
    ) -> Result<(), HubError> {
        let state = room.state();
        if !state.is_member(user) {
            return Err(HubError::NotInRoom(room.name().to_string()));
        }
        let event = Event::RoomMessage {
            time: Timestamp::now(),
            room: room.name().clone(),
            from: user.nick(),
            kind,
            text: text.into(),
        };
        deliver(&state.members, &event);
        Ok(())
    }

    /// Sends a private message to the user called `to`, and the stamped copy to the sender.
    pub fn message_user(
        &self,
        user: &Arc<User>,
        to: &str,
        kind: MessageKind,
        text: &str,
    ) -> Result<(), HubError> {
        let recipient = self
            .user_by_nick(to)
            .ok_or_else(|| HubError::NoSuchNick(to.to_owned()))?;
        let time = Timestamp::now();
        let from = user.nick();
        let received = Event::PrivateMessage {
            time,
            from: from.clone(),
            kind,
            text: text.into(),
        };
        deliver([&recipient], &received);
        let sent = Event::PrivateMessageSent {
            time,
            from,
            to: recipient.nick(),
            kind,
            text: text.into(),
        };
        deliver([user], &sent);
        Ok(())
    }

    /// Renames `user` to `new_nick` (already validated). The user and everyone who shares a
    /// room with it are told once.
    pub fn rename(&self, user: &Arc<User>, new_nick: &str) -> Result<(), HubError> {
        let old = user.nick();
        let new: Arc<str> = new_nick.into();
        {
            let mut nicks = lock(&self.nicks);
            let new_key = fold(new_nick);
            if let Some(owner) = nicks.get(&new_key)
                && owner.id != user.id
            {
                return Err(HubError::NickTaken(new_nick.to_owned()));
            }
            nicks.remove(&fold(&old));
            nicks.insert(new_key, user.clone());
            user.set_nick(new.clone());
        }
        let mut witnesses: HashMap<UserId, Arc<User>> = HashMap::new();
        witnesses.insert(user.id, user.clone());
        for room in user.rooms() {
            for member in &room.state().members {
                witnesses.insert(member.id, member.clone());
            }
        }
        let event = Event::NickChanged {
            time: Timestamp::now(),
            old,
            new,
        };
        deliver(witnesses.values(), &event);
        Ok(())
    }

    /// Sets the topic of `room`, of which `user` must be a member, and tells every member.
    pub fn set_topic(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        topic: &str,
    ) -> Result<(), HubError> {
        let mut state = room.state();
        if !state.is_member(user) {
            return Err(HubError::NotInRoom(room.name().to_string()));
        }
        state.topic = Some(topic.into());
        let event = Event::TopicChanged {
            time: Timestamp::now(),
            room: room.name().clone(),
            nick: user.nick(),
            topic: topic.into(),
        };
        deliver(&state.members, &event);
        Ok(())
    }

    /// The room called `name`, if it exists.
    pub fn room(&self, name: &str) -> Option<Arc<Room>> {
        lock(&self.rooms).get(&fold(name)).cloned()
    }

    /// The nicks in `room`, in the order they joined.
    pub fn members(&self, room: &Room) -> Vec<Arc<str>> {
        room.state()
            .members
            .iter()
            .map(|member| member.nick())
            .collect()
    }

    /// Every room, sorted by name.
    pub fn rooms(&self) -> Vec<RoomSummary> {
        let rooms: Vec<Arc<Room>> = lock(&self.rooms).values().cloned().collect();
        let mut summaries: Vec<RoomSummary> = rooms
            .iter()
            .map(|room| {
                let state = room.state();
                RoomSummary {
                    name: room.name().clone(),
                    members: state.members.len(),
                    topic: state.topic.clone(),
                }
            })
            .filter(|summary| summary.members > 0)
            .collect();
        summaries.sort_by(|a, b| a.name.cmp(&b.name));
        summaries
    }

    /// The connected user called `nick`, if any.
    pub fn user_by_nick(&self, nick: &str) -> Option<Arc<User>> {
        lock(&self.nicks).get(&fold(nick)).cloned()
    }

    /// How many users are connected.
    pub fn user_count(&self) -> usize {
        lock(&self.nicks).len()
    }

    /// Tells every connected user `text` as a server notice.
    pub fn broadcast_notice(&self, text: &str) {
        let users: Vec<Arc<User>> = lock(&self.nicks).values().cloned().collect();
        let event = Event::ServerNotice {
            time: Timestamp::now(),
            text: text.into(),
        };
        deliver(&users, &event);
    }

    /// Removes a closed room from the directory, unless a new room already took its name.
    fn forget_room(&self, room: &Arc<Room>) {
        let mut rooms = lock(&self.rooms);
        if rooms
            .get(room.key())
            .is_some_and(|listed| Arc::ptr_eq(listed, room))
        {
            rooms.remove(room.key());
        }
    }
}
