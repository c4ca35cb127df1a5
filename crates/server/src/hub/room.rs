//! A room: its members and their status, topic, modes, mask lists (bans and exceptions),
//! invitations and history floor.
//! Its rules (who may join, speak, invite or act as operator) are in [`rules`], its pending
//! invitations in [`invitations`].
//!
//! Each room has its own lock; there is no global lock on the message path. Everything sent to
//! a room is stamped and pushed while the room's lock is held, so every member sees the room's
//! messages and membership changes in one and the same order.

mod invitations;
mod rules;

use std::sync::{Arc, Mutex, MutexGuard};

use palaver_proto::event::{MemberStatus, MessageId};
use palaver_proto::modes::RoomModes;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

pub(super) use invitations::Invitations;
pub use invitations::MAX_PENDING_INVITATIONS;
pub(in crate::hub) use rules::Admission;

use super::bans::MaskLists;
use super::user::User;
use crate::lock;

#[derive(Debug)]
pub struct Room {
    /// The name as first created (display form).
    name: Arc<str>,
    /// The case-folded name, the key in the hub's room directory.
    key: String,
    pub created: Timestamp,
    /// The first message id of this room's history, fixed when the room is created: the hub's
    /// next message id then, for a new unregistered room (what an earlier room of that name
    /// said is not this room's); 0 for one coming back after a restart (a restart does not end
    /// a room's lifetime); for a registered room, the floor it was registered with. Every
    /// history query about the room reads from here on.
    history_floor: MessageId,
    state: Mutex<RoomState>,
}

/// A member and its status in the room.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: Arc<User>,
    /// Room operator: may change modes and the protected topic, kick and invite.
    pub op: bool,
    /// Voiced: may speak in a moderated room.
    pub voice: bool,
}

impl Member {
    /// Whether the member has at least the status `minimum` (an operator has every status).
    pub fn has_status(&self, minimum: MemberStatus) -> bool {
        match minimum {
            MemberStatus::Operator => self.op,
            MemberStatus::Voiced => self.op || self.voice,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub text: Box<str>,
    /// `nick!user@host` of whoever set it (IRC `RPL_TOPICWHOTIME`).
    pub set_by: Box<str>,
    pub set_at: Timestamp,
}

/// The modes of a new room: only members may send, only operators may change the topic, as
/// on most IRC networks.
pub fn new_room_modes() -> RoomModes {
    RoomModes {
        no_external_messages: true,
        topic_protected: true,
        ..RoomModes::default()
    }
}

#[derive(Debug, Clone)]
pub(super) struct RoomState {
    pub members: Vec<Member>,
    pub topic: Option<Topic>,
    pub modes: RoomModes,
    /// Bans, ban exceptions and invite exceptions.
    pub lists: MaskLists,
    /// Users an operator invited who have not joined since.
    pub invitations: Invitations,
    /// The founding account of a registered room: whoever is logged in to it is made
    /// operator on joining, and nobody else is just for being first.
    pub founder: Option<Box<str>>,
    /// Set when the last member leaves. A closed room is about to be removed from the
    /// directory; a joiner that finds one must look the room up again.
    pub closed: bool,
    /// Whether the store may hold history of this room's lifetime: it came back after a
    /// restart, or a message to it was stamped (under this lock). Only then is the end of its
    /// lifetime worth a write to the store.
    pub has_history: bool,
    /// In a cluster, the id of the last change of the room's modes applied here: Redis makes
    /// a change decided on this replica only if no other came first (docs/CLUSTER.md, "Rooms
    /// as built"). 0 for a room whose modes never changed.
    pub rules_version: u64,
}

impl Room {
    pub(super) fn new(name: &str, key: String, history_floor: MessageId) -> Self {
        Self {
            name: name.into(),
            key,
            created: Timestamp::now(),
            history_floor,
            state: Mutex::new(RoomState {
                members: Vec::new(),
                topic: None,
                modes: new_room_modes(),
                lists: MaskLists::default(),
                invitations: Invitations::default(),
                founder: None,
                closed: false,
                has_history: false,
                rules_version: 0,
            }),
        }
    }

    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The first message id of this room's history (see the field).
    pub fn history_floor(&self) -> MessageId {
        self.history_floor
    }

    /// Whether the room is registered: it outlives its members, history and all.
    pub fn is_registered(&self) -> bool {
        self.state().founder.is_some()
    }

    pub fn topic(&self) -> Option<Topic> {
        self.state().topic.clone()
    }

    /// Locks the room. Lock order: a room lock may be taken while holding nothing; while it is
    /// held only user leaf locks and outbox locks may be taken, never a directory lock.
    pub(super) fn state(&self) -> MutexGuard<'_, RoomState> {
        lock(&self.state)
    }
}

impl RoomState {
    pub fn member(&self, user: &User) -> Option<&Member> {
        self.members.iter().find(|member| member.user.id == user.id)
    }

    pub fn member_by_nick(&mut self, nick: &str) -> Option<&mut Member> {
        let key = fold(nick);
        self.members
            .iter_mut()
            .find(|member| fold(&member.user.nick()) == key)
    }

    pub fn is_member(&self, user: &User) -> bool {
        self.member(user).is_some()
    }

    pub fn is_op(&self, user: &User) -> bool {
        self.member(user).is_some_and(|member| member.op)
    }

    pub fn remove_member(&mut self, user: &User) {
        self.members.retain(|member| member.user.id != user.id);
        if self.members.is_empty() {
            self.closed = true;
        }
    }

    pub fn users(&self) -> impl Iterator<Item = &Arc<User>> {
        self.members.iter().map(|member| &member.user)
    }
}
