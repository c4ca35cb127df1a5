//! A room: its members and their status, topic, modes, bans, invitations and history floor;
//! and fan-out.
//!
//! Each room has its own lock; there is no global lock on the message path. Everything sent to
//! a room is stamped and pushed while the room's lock is held, so every member sees the room's
//! messages and membership changes in one and the same order.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use palaver_proto::Wire;
use palaver_proto::event::{Event, Identity, MessageId};
use palaver_proto::irc::caps::Cap;
use palaver_proto::irc::mask;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

use super::modes::RoomFlag;
use super::user::{User, UserId};
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
    /// Room operator (`@`): may change modes and the protected topic, kick and invite.
    pub op: bool,
    /// Voiced (`+`): may speak in a moderated room.
    pub voice: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub text: Box<str>,
    /// `nick!user@host` of whoever set it (IRC `RPL_TOPICWHOTIME`).
    pub set_by: Box<str>,
    pub set_at: Timestamp,
}

/// Room modes, named as in IRC (`CHANMODES=b,k,l,imnst`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomModes {
    /// `+i`: joining needs an invitation.
    pub invite_only: bool,
    /// `+m`: only operators and voiced members may speak.
    pub moderated: bool,
    /// `+n`: only members may send to the room.
    pub no_external_messages: bool,
    /// `+s`: does not exist for non-members' listings and queries (see `hub::visibility`).
    pub secret: bool,
    /// `+t`: only operators may change the topic.
    pub topic_protected: bool,
    /// `+k`: the key needed to join.
    pub key: Option<Box<str>>,
    /// `+l`: the most members the room admits.
    pub limit: Option<usize>,
}

impl RoomModes {
    /// The modes of a new room: `+nt`, as on most IRC networks.
    pub fn new_room() -> Self {
        Self {
            no_external_messages: true,
            topic_protected: true,
            ..Self::default()
        }
    }

    /// Whether `flag` is set.
    pub fn flag(&self, flag: RoomFlag) -> bool {
        match flag {
            RoomFlag::InviteOnly => self.invite_only,
            RoomFlag::Moderated => self.moderated,
            RoomFlag::NoExternalMessages => self.no_external_messages,
            RoomFlag::Secret => self.secret,
            RoomFlag::TopicProtected => self.topic_protected,
        }
    }

    /// The setting for `flag`.
    pub fn flag_mut(&mut self, flag: RoomFlag) -> &mut bool {
        match flag {
            RoomFlag::InviteOnly => &mut self.invite_only,
            RoomFlag::Moderated => &mut self.moderated,
            RoomFlag::NoExternalMessages => &mut self.no_external_messages,
            RoomFlag::Secret => &mut self.secret,
            RoomFlag::TopicProtected => &mut self.topic_protected,
        }
    }

    /// The mode string and its arguments, e.g. `("+klnt", ["secret", "10"])`. (A non-member's
    /// view of a room has the key already hidden: see `Hub::room_view`.)
    pub fn describe(&self) -> (String, Vec<String>) {
        let mut flags = String::from("+");
        let mut arguments = Vec::new();
        for (set, letter) in [
            (self.invite_only, 'i'),
            (self.moderated, 'm'),
            (self.no_external_messages, 'n'),
            (self.secret, 's'),
            (self.topic_protected, 't'),
        ] {
            if set {
                flags.push(letter);
            }
        }
        if let Some(key) = &self.key {
            flags.push('k');
            arguments.push(key.to_string());
        }
        if let Some(limit) = self.limit {
            flags.push('l');
            arguments.push(limit.to_string());
        }
        (flags, arguments)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// A `nick!user@host` glob, case-folded.
    pub mask: Box<str>,
    pub set_by: Box<str>,
    pub set_at: Timestamp,
}

#[derive(Debug)]
pub(super) struct RoomState {
    pub members: Vec<Member>,
    pub topic: Option<Topic>,
    pub modes: RoomModes,
    pub bans: Vec<Ban>,
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
                modes: RoomModes::new_room(),
                bans: Vec::new(),
                invitations: Invitations::default(),
                founder: None,
                closed: false,
                has_history: false,
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

    /// Whether any ban matches `identity` (its case-folded `nick!user@host`).
    pub fn is_banned(&self, identity: &Identity) -> bool {
        let subject = fold(&identity.mask());
        self.bans
            .iter()
            .any(|ban| mask::matches(&ban.mask, &subject))
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

/// Most invitations a room keeps pending; inviting one more user withdraws the oldest.
pub const MAX_PENDING_INVITATIONS: usize = 100;

/// The users an operator invited into a room who have not joined since, oldest first. An
/// invitation lets its user in once, past `+i`, the key, the limit and bans; it is used up by
/// joining and withdrawn when its user disconnects. At most [`MAX_PENDING_INVITATIONS`], so
/// every check is a short scan and a room's list cannot grow without bound.
#[derive(Debug, Default)]
pub(super) struct Invitations(VecDeque<UserId>);

impl Invitations {
    /// Invites `user` (again: a repeated invitation becomes the newest), withdrawing the
    /// oldest invitation if the list is full.
    pub fn add(&mut self, user: UserId) {
        self.withdraw(user);
        if self.0.len() >= MAX_PENDING_INVITATIONS {
            self.0.pop_front();
        }
        self.0.push_back(user);
    }

    pub fn contains(&self, user: UserId) -> bool {
        self.0.contains(&user)
    }

    /// Removes `user`'s invitation, if any.
    pub fn withdraw(&mut self, user: UserId) {
        self.0.retain(|invited| *invited != user);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Who gets an event in a fan-out.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Audience {
    /// Skip this user: the actor, whose own copy the session sends with its replies.
    pub except: Option<UserId>,
    /// Only users who enabled this capability (away-notify, setname, invite-notify, …).
    pub needs: Option<Cap>,
}

impl Audience {
    pub fn all() -> Self {
        Self::default()
    }

    pub fn except(user: &User) -> Self {
        Self {
            except: Some(user.id),
            needs: None,
        }
    }
}

/// Renders `event` at most once per wire and queues the shared bytes for every recipient in
/// `audience`. Never blocks: a full outbox drops its own connection, not the delivery to
/// others.
pub(super) fn deliver<'a>(
    recipients: impl IntoIterator<Item = &'a Arc<User>>,
    event: &Event,
    audience: Audience,
) {
    let mut rendered: [Option<Option<Bytes>>; Wire::COUNT] = Default::default();
    for user in recipients {
        if audience.except == Some(user.id) || audience.needs.is_some_and(|cap| !user.has_cap(cap))
        {
            continue;
        }
        let wire = user.wire();
        let bytes = rendered[wire.index()].get_or_insert_with(|| wire.render(event));
        if let Some(bytes) = bytes {
            user.outbox.push(bytes.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitations_keep_the_newest_and_refresh_repeats() {
        let mut invitations = Invitations::default();
        for user in 0..MAX_PENDING_INVITATIONS as UserId {
            invitations.add(user);
        }
        assert_eq!(invitations.len(), MAX_PENDING_INVITATIONS);
        // Inviting user 0 again makes it the newest, so user 1 is now the oldest.
        invitations.add(0);
        invitations.add(1000);
        assert!(invitations.contains(0));
        assert!(!invitations.contains(1));
        assert!(invitations.contains(1000));
        assert_eq!(invitations.len(), MAX_PENDING_INVITATIONS);
        invitations.withdraw(1000);
        assert!(!invitations.contains(1000));
        assert_eq!(invitations.len(), MAX_PENDING_INVITATIONS - 1);
    }
}
