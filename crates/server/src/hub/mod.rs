//! The hub: who is connected, which rooms exist, who is in them, and fan-out.
//!
//! The hub is protocol-neutral. Sessions call it synchronously; it checks permissions, changes
//! state, stamps an [`Event`] and pushes the rendered bytes into the other recipients'
//! outboxes. The actor's own copy is returned instead, so its session can send it together
//! with its other replies (see `Outbox::hold`). The hub never waits on a socket, so any session
//! may call it from its own task.
//!
//! Locks (all `std::sync::Mutex`, never held across an `.await`):
//! - `nicks`: the nick directory; taken on connect, disconnect, nick change and lookups by
//!   nick, never on the room message path.
//! - `rooms`: the room directory; taken on join, on the last member's leave, and by listings.
//! - each room's own lock (see [`room`]), the only lock on the room message path.
//! - `registered`: saved state of registered rooms; a leaf.
//! - `returning_rooms`: names of rooms that may come back after a restart; a leaf.
//! - each user's identity, room-list, invitation-list and away locks, and each outbox's lock,
//!   which are leaves.
//!
//! No directory lock is taken while a room lock is held, and no room lock while a directory
//! lock is held — except the lock of a room being created under the room directory lock,
//! which nobody else can see yet.

mod modes;
mod room;
#[cfg(test)]
mod tests;
mod user;
mod visibility;

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use palaver_proto::event::{Event, Identity, MessageId, MessageKind, Target};
use palaver_proto::irc::caps::Cap;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use palaver_proto::utf8::truncate;
use thiserror::Error;

pub use modes::{BAN_MASK_MAX_BYTES, BanMaskError, ModeChange, ModeOutcome, RoomFlag};
pub use room::{Ban, MAX_PENDING_INVITATIONS, Member, Room, RoomModes, Topic};
pub use user::{Alert, Alerts, Protocol, User, UserId};
pub use visibility::{HIDDEN_KEY, Viewer};

use crate::lock;
use crate::outbox::Outbox;
use crate::store::{ConnectionId, ListEntry, ListMode, RoomRecord};
use room::{Audience, RoomState, deliver};
use visibility::{may_see_key, may_see_member, may_see_room};

/// The room every new text-protocol connection joins.
pub const LOBBY: &str = "#lobby";

/// Nicks nobody may take: the services IRC clients address (so nobody can pose as them and
/// collect the passwords sent to them).
pub const RESERVED_NICKS: &[&str] = &["nickserv", "chanserv"];

fn is_reserved(nick: &str) -> bool {
    RESERVED_NICKS.contains(&fold(nick).as_str())
}

/// Longest topic in bytes (IRC `TOPICLEN`); longer topics are cut at a character boundary.
pub const TOPIC_MAX_BYTES: usize = 390;
/// Longest away message in bytes (IRC `AWAYLEN`); longer ones are cut.
pub const AWAY_MAX_BYTES: usize = 200;
/// Longest kick reason in bytes (IRC `KICKLEN`); longer ones are cut.
pub const KICK_REASON_MAX_BYTES: usize = 255;
/// Longest part or quit reason in bytes; longer ones are cut. Text users may write far longer
/// lines than an IRC line holds, and every relayed field is capped so that what IRC clients
/// receive stays within a line.
pub const REASON_MAX_BYTES: usize = 390;
/// Most bans a room keeps (IRC `MAXLIST=b:100`).
pub const MAX_BANS: usize = 100;

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
    #[error("you need to be a room operator in {0}")]
    NeedOperator(String),
    #[error("{nick} is not in {room}")]
    UserNotInRoom { nick: String, room: String },
    #[error("{nick} is already in {room}")]
    AlreadyInRoom { nick: String, room: String },
    #[error("cannot join {room} ({reason})")]
    CannotJoin { room: String, reason: JoinRefusal },
    #[error("cannot join {room} (you are already in {limit} rooms, the most allowed)")]
    TooManyRooms { room: String, limit: usize },
    #[error("cannot send to {room} ({reason})")]
    CannotSend { room: String, reason: SendRefusal },
    #[error("the ban list of {room} is full; {mask} was not added")]
    BanListFull { room: String, mask: String },
    #[error("invalid ban mask for {room}: {reason}")]
    InvalidBanMask {
        room: String,
        mask: String,
        reason: BanMaskError,
    },
    #[error("you need to be logged in to an account")]
    NeedAccount,
    #[error("{0} is already registered")]
    AlreadyRegistered(String),
}

/// Why a join was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum JoinRefusal {
    #[error("invite only")]
    InviteOnly,
    #[error("you are banned")]
    Banned,
    #[error("wrong key")]
    BadKey,
    #[error("room is full")]
    Full,
}

/// Why a message to a room was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SendRefusal {
    #[error("only members may send")]
    NotMember,
    #[error("room is moderated")]
    Moderated,
    #[error("you are banned")]
    Banned,
}

/// How an owner reclaims its account's nick from whoever holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reclaim {
    /// Take the nick; its holder is renamed to a guest nick (NickServ `REGAIN`, `/regain`).
    Take,
    /// Free the nick: a holder logged in to the account (a stale session of the owner's) is
    /// renamed and then disconnected, anyone else renamed (NickServ `GHOST`).
    Ghost,
    /// Free the nick by renaming its holder (NickServ `RELEASE`).
    Release,
    /// Free the nick from a holder not logged in to the account; a session of the account
    /// keeps it (what a login by the owner does).
    FromSquatter,
}

/// What a [`Hub::reclaim_nick`] did.
#[derive(Debug)]
pub enum Reclaimed {
    /// The owner holds the nick already.
    AlreadyHeld,
    /// A session logged in to the account holds the nick and was left alone
    /// ([`Reclaim::FromSquatter`]).
    HeldByAccount,
    /// Done: who was moved aside, if anyone, and with [`Reclaim::Take`] the owner's own copy
    /// of its nick change.
    Done {
        displaced: Option<Displaced>,
        own_copy: Option<Event>,
    },
}

/// Someone moved off a reclaimed nick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Displaced {
    /// Its new nick.
    pub guest: String,
    /// Whether its session was told to quit (a ghost of the owner's).
    pub ghosted: bool,
}

/// The result of a successful join.
pub enum Joined {
    /// Newly joined. `event` is the joiner's own copy of the join.
    New {
        room: Arc<Room>,
        event: Event,
        topic: Option<Topic>,
    },
    /// The user was already a member.
    AlreadyMember(Arc<Room>),
}

/// What taking a member out of a room did: the actor's own copy of the event, and whether the
/// room's lifetime ended with it.
#[derive(Debug)]
pub struct Departure {
    pub event: Event,
    /// Set when the last member of an unregistered room left: the caller must tell the store
    /// ([`EndedRoom`]).
    pub ended: Option<EndedRoom>,
}

/// An unregistered room whose lifetime ended: its last member left (part, kick, quit, lost
/// connection) while the server runs. What it said belongs to nobody any more: a room created
/// later under that name starts with no history (its floor is at least `history_end`), and
/// whoever gets this tells the store to delete that history (`Store::end_room_lifetime`).
/// A server shutdown ends no lifetime: rooms come back with their history as their members
/// reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "the store must be told to forget the ended room's history"]
pub struct EndedRoom {
    pub name: Arc<str>,
    /// Every message of the ended lifetime has a smaller id: each was stamped under the room's
    /// lock before the last member left, and this was read under that lock afterwards.
    pub history_end: MessageId,
}

/// One line of a room listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    pub name: Arc<str>,
    pub members: usize,
    pub topic: Option<Box<str>>,
}

/// A member as listings (`/who`, IRC `NAMES`, `WHO`) show it.
#[derive(Debug, Clone)]
pub struct MemberInfo {
    pub identity: Arc<Identity>,
    pub op: bool,
    pub voice: bool,
    pub away: bool,
    pub user: Arc<User>,
}

/// A room in someone's list of rooms (IRC `WHOIS`), with that user's status there.
#[derive(Debug, Clone)]
pub struct Membership {
    pub room: Arc<str>,
    pub op: bool,
    pub voice: bool,
}

/// A snapshot of a room as one viewer may see it (see [`Hub::room_view`]), for listings and
/// mode queries.
#[derive(Debug, Clone)]
pub struct RoomInfo {
    pub name: Arc<str>,
    pub created: Timestamp,
    pub topic: Option<Topic>,
    /// The modes, with the key replaced by [`HIDDEN_KEY`] for a non-member.
    pub modes: RoomModes,
    /// The members the viewer may see, in join order.
    pub members: Vec<MemberInfo>,
    pub bans: Vec<Ban>,
}

/// Rooms one user may be in at once unless configured otherwise (IRC `CHANLIMIT`).
pub const DEFAULT_ROOMS_PER_USER: usize = 100;

/// Fixed facts the hub needs.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// The server's name, the source of server notices.
    pub server_name: Arc<str>,
    /// The most rooms one user may be in at once (at least 1, for the lobby). Bounds what one
    /// user's membership costs every query that walks it.
    pub rooms_per_user: usize,
}

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            server_name: "palaver".into(),
            rooms_per_user: DEFAULT_ROOMS_PER_USER,
        }
    }
}

#[derive(Debug)]
pub struct Hub {
    settings: HubSettings,
    /// When the hub (the server) started.
    started: Timestamp,
    /// Folded nick → user, for uniqueness and lookups by nick.
    nicks: Mutex<HashMap<String, Arc<User>>>,
    /// Folded room name → room. Holds exactly the rooms with at least one member (a closed
    /// room lingers only until its last member's part finishes).
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    /// Folded room name → the saved state of a registered room, applied when the room is
    /// created again. A leaf lock.
    registered: Mutex<HashMap<String, RoomRecord>>,
    /// Folded names of the unregistered rooms that had history when the server started and
    /// have not been created since. A restart ends no room's lifetime, so the first room
    /// created under such a name is that room coming back, with its history (floor 0); any
    /// later one is new. Filled once at start-up (bounded by what the store holds) and only
    /// shrinks. A leaf lock.
    returning_rooms: Mutex<HashSet<String>>,
    next_user_id: AtomicU64,
    /// Drawn at random when the hub starts: with a user's id it makes the user's
    /// [`ConnectionId`], which must differ from every connection of earlier runs (private
    /// history of a guest belongs to its connection), although ids start at 1 again.
    run: u64,
    next_guest_number: AtomicU64,
    /// The most users connected at once since start (IRC `LUSERS` maximum).
    peak_users: AtomicUsize,
    /// The next message id. Starts at the start time in milliseconds × 1024, so ids keep
    /// increasing across restarts unless a server averaged over 1024 messages per millisecond.
    next_message_id: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(HubSettings::default())
    }
}

impl Hub {
    pub fn new(settings: HubSettings) -> Self {
        Self {
            settings,
            started: Timestamp::now(),
            nicks: Mutex::default(),
            rooms: Mutex::default(),
            registered: Mutex::default(),
            returning_rooms: Mutex::default(),
            next_user_id: AtomicU64::new(1),
            run: random_run_number(),
            next_guest_number: AtomicU64::new(1),
            peak_users: AtomicUsize::new(0),
            next_message_id: AtomicU64::new(Timestamp::now().0.saturating_mul(1024)),
        }
    }

    /// When the server started.
    pub fn started(&self) -> Timestamp {
        self.started
    }

    /// The most rooms one user may be in at once.
    pub fn rooms_per_user(&self) -> usize {
        self.settings.rooms_per_user
    }

    /// Registers a new connection under the first free `guest-N` nick (the text protocol).
    pub fn connect_guest(
        &self,
        peer: SocketAddr,
        host: &str,
        protocol: Protocol,
        outbox: Arc<Outbox>,
    ) -> Arc<User> {
        let mut nicks = lock(&self.nicks);
        loop {
            let number = self.next_guest_number.fetch_add(1, Ordering::Relaxed);
            let nick = format!("guest-{number}");
            if let Entry::Vacant(slot) = nicks.entry(fold(&nick)) {
                let identity = Identity {
                    nick: nick.into(),
                    user: "text".into(),
                    host: host.into(),
                    realname: "".into(),
                    account: None,
                };
                let user = self.new_user(peer, protocol, outbox, identity);
                slot.insert(user.clone());
                self.peak_users.fetch_max(nicks.len(), Ordering::Relaxed);
                return user;
            }
        }
    }

    /// Registers a new connection under the nick in `identity` (IRC registration).
    pub fn register(
        &self,
        peer: SocketAddr,
        protocol: Protocol,
        outbox: Arc<Outbox>,
        identity: Identity,
    ) -> Result<Arc<User>, HubError> {
        if is_reserved(&identity.nick) {
            return Err(HubError::NickTaken(identity.nick.into()));
        }
        let mut nicks = lock(&self.nicks);
        match nicks.entry(fold(&identity.nick)) {
            Entry::Occupied(_) => Err(HubError::NickTaken(identity.nick.into())),
            Entry::Vacant(slot) => {
                let user = self.new_user(peer, protocol, outbox, identity);
                slot.insert(user.clone());
                self.peak_users.fetch_max(nicks.len(), Ordering::Relaxed);
                Ok(user)
            }
        }
    }

    fn new_user(
        &self,
        peer: SocketAddr,
        protocol: Protocol,
        outbox: Arc<Outbox>,
        identity: Identity,
    ) -> Arc<User> {
        let id = self.next_user_id.fetch_add(1, Ordering::Relaxed);
        let connection = ConnectionId((u128::from(self.run) << 64) | u128::from(id));
        Arc::new(User::new(id, connection, peer, protocol, outbox, identity))
    }

    /// Whether `nick` is free (or already belongs to `user`).
    pub fn nick_available(&self, nick: &str, user: Option<&User>) -> bool {
        !is_reserved(nick)
            && lock(&self.nicks)
                .get(&fold(nick))
                .is_none_or(|owner| user.is_some_and(|user| owner.id == user.id))
    }

    /// Removes `user` from the server. With a `reason`, everyone who shared a room with it is
    /// told once that it left, and the unregistered rooms it was the last member of end their
    /// lifetime (returned, for the store). Without one (server shutdown) nobody is told and no
    /// lifetime ends: the rooms come back with their history after the restart.
    pub fn disconnect(&self, user: &Arc<User>, reason: Option<&str>) -> Vec<EndedRoom> {
        let identity = {
            let mut nicks = lock(&self.nicks);
            // Read under the lock, where nicks change (another session may rename this user).
            let identity = user.identity();
            let key = fold(&identity.nick);
            if nicks
                .get(&key)
                .is_some_and(|owner| Arc::ptr_eq(owner, user))
            {
                nicks.remove(&key);
            }
            identity
        };
        let mut witnesses: HashMap<UserId, Arc<User>> = HashMap::new();
        let mut ended = Vec::new();
        for room in user.take_rooms() {
            let mut state = room.state();
            state.remove_member(user);
            for member in state.users() {
                witnesses.insert(member.id, member.clone());
            }
            let closed = state.closed;
            if closed && reason.is_some() {
                ended.extend(self.end_of_lifetime(&room, &state));
            }
            drop(state);
            if closed {
                self.forget_room(&room);
            }
        }
        // Invitations die with the connection (an invitation names a connection, not a nick);
        // withdrawn before anyone hears of the quit.
        for room in user.take_invitations() {
            room.state().invitations.withdraw(user.id);
        }
        if let Some(reason) = reason {
            let event = Event::Quit {
                time: Timestamp::now(),
                who: identity,
                reason: truncate(reason, REASON_MAX_BYTES).into(),
            };
            deliver(witnesses.values(), &event, Audience::all());
        }
        ended
    }

    /// Joins `user` to the room called `name` (already validated), creating it if needed, with
    /// `user` as its operator. Every other member is told; the joiner's copy is returned.
    pub fn join(
        &self,
        user: &Arc<User>,
        name: &str,
        key: Option<&str>,
    ) -> Result<Joined, HubError> {
        let folded = fold(name);
        if let Some(room) = user.room(&folded) {
            return Ok(Joined::AlreadyMember(room));
        }
        // Only the user's own session joins it to rooms, so the count cannot grow meanwhile.
        if user.room_count() >= self.settings.rooms_per_user {
            return Err(HubError::TooManyRooms {
                room: name.to_owned(),
                limit: self.settings.rooms_per_user,
            });
        }
        let identity = user.identity();
        loop {
            let room = lock(&self.rooms)
                .entry(folded.clone())
                .or_insert_with(|| Arc::new(self.new_room(name, &folded)))
                .clone();
            let mut state = room.state();
            if state.closed {
                // Its last member is leaving right now; help remove it and look again.
                drop(state);
                self.forget_room(&room);
                continue;
            }
            let founding = state.members.is_empty();
            let invited = state.invitations.contains(user.id);
            let is_founder = state.founder.as_deref().is_some_and(|founder| {
                identity
                    .account
                    .as_deref()
                    .is_some_and(|account| fold(account) == fold(founder))
            });
            // Whoever creates an unregistered room may enter; a registered room keeps its
            // key, limit, bans and +i while empty and across restarts (saved with it), and
            // only its founder walks past them. An operator's invitation lets one past all
            // four, as on InspIRCd and Ergo: the operator could as well lift the mode or the
            // ban.
            let exempt = invited || is_founder || (founding && state.founder.is_none());
            if !exempt {
                let refusal = if state.is_banned(&identity) {
                    Some(JoinRefusal::Banned)
                } else if state.modes.invite_only {
                    Some(JoinRefusal::InviteOnly)
                } else if state
                    .modes
                    .key
                    .as_deref()
                    .is_some_and(|wanted| key != Some(wanted))
                {
                    Some(JoinRefusal::BadKey)
                } else if state
                    .modes
                    .limit
                    .is_some_and(|limit| state.members.len() >= limit)
                {
                    Some(JoinRefusal::Full)
                } else {
                    None
                };
                if let Some(reason) = refusal {
                    return Err(HubError::CannotJoin {
                        room: room.name().to_string(),
                        reason,
                    });
                }
            }
            state.invitations.withdraw(user.id);
            // A registered room opens its founder, not whoever happens to come first.
            let op = if state.founder.is_some() {
                is_founder
            } else {
                founding
            };
            state.members.push(Member {
                user: user.clone(),
                op,
                voice: false,
            });
            let event = Event::Joined {
                time: Timestamp::now(),
                room: room.name().clone(),
                who: identity.clone(),
            };
            deliver(state.users(), &event, Audience::except(user));
            if op && !founding {
                // The founder joining an occupied room: everyone must learn it is an operator.
                let opped = Event::ModeChanged {
                    time: Timestamp::now(),
                    room: room.name().clone(),
                    by: self.service_identity("ChanServ"),
                    modes: "+o".into(),
                    arguments: vec![identity.nick.clone()],
                };
                deliver(state.users(), &opped, Audience::all());
            }
            // away-notify: peers learn at once that the newcomer is away.
            if let Some(message) = user.away() {
                let away = Event::AwayChanged {
                    time: Timestamp::now(),
                    who: user.identity(),
                    message: Some(message),
                };
                let audience = Audience {
                    except: Some(user.id),
                    needs: Some(Cap::AwayNotify),
                };
                deliver(state.users(), &away, audience);
            }
            let topic = state.topic.clone();
            drop(state);
            user.add_room(room.clone());
            return Ok(Joined::New { room, event, topic });
        }
    }

    /// Takes `user` out of `room`, telling every other member; returns the leaver's copy, and
    /// the room if its lifetime ended.
    pub fn part(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        reason: Option<&str>,
    ) -> Result<Departure, HubError> {
        let state = room.state();
        if !state.is_member(user) {
            return Err(HubError::NotInRoom(room.name().to_string()));
        }
        let event = Event::Parted {
            time: Timestamp::now(),
            room: room.name().clone(),
            who: user.identity(),
            reason: reason.map(|reason| truncate(reason, REASON_MAX_BYTES).into()),
        };
        deliver(state.users(), &event, Audience::except(user));
        let ended = self.leave(state, room, user);
        Ok(Departure { event, ended })
    }

    /// Takes `user` out of every room it is in (IRC `JOIN 0`), telling each room's other
    /// members; returns the leaver's copies (with any room whose lifetime ended), in the order
    /// the rooms were joined. Each room costs the same however many rooms the user is in.
    pub fn part_all(&self, user: &Arc<User>) -> Vec<Departure> {
        let identity = user.identity();
        let mut departures = Vec::new();
        // The list is emptied first, so no part below has to find its room in it.
        for room in user.take_rooms() {
            let mut state = room.state();
            if !state.is_member(user) {
                // Kicked meanwhile: that kick already told everyone.
                continue;
            }
            let event = Event::Parted {
                time: Timestamp::now(),
                room: room.name().clone(),
                who: identity.clone(),
                reason: None,
            };
            deliver(state.users(), &event, Audience::except(user));
            state.remove_member(user);
            let closed = state.closed;
            let ended = closed
                .then(|| self.end_of_lifetime(&room, &state))
                .flatten();
            drop(state);
            if closed {
                self.forget_room(&room);
            }
            departures.push(Departure { event, ended });
        }
        departures
    }

    /// Sends a message to every member of `room` but the sender, and returns the sender's
    /// copy (its receipt). Non-members may send unless the room is `+n`.
    pub fn say(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        kind: MessageKind,
        text: &str,
        client_tags: &str,
    ) -> Result<Event, HubError> {
        let identity = user.identity();
        let mut state = room.state();
        if state.closed {
            // Looked up just before its last member left: that room is gone, and a message
            // stamped now would land in the history of whichever room takes the name next.
            return Err(HubError::NoSuchRoom(room.name().to_string()));
        }
        let member = state.member(user);
        let privileged = member.is_some_and(|member| member.op || member.voice);
        let refusal = if member.is_none() && state.modes.no_external_messages {
            Some(SendRefusal::NotMember)
        } else if !privileged && state.modes.moderated {
            Some(SendRefusal::Moderated)
        } else if !privileged && state.is_banned(&identity) {
            Some(SendRefusal::Banned)
        } else {
            None
        };
        if let Some(reason) = refusal {
            return Err(HubError::CannotSend {
                room: room.name().to_string(),
                reason,
            });
        }
        let time = Timestamp::now();
        let event = Event::Message {
            id: self.next_message_id(),
            time,
            from: identity,
            target: Target::Room(room.name().clone()),
            kind,
            text: text.into(),
            client_tags: client_tags.into(),
        };
        deliver(state.users(), &event, Audience::except(user));
        if kind != MessageKind::TagsOnly {
            // Stored by the sender's session: this lifetime now has history to forget.
            state.has_history = true;
        }
        drop(state);
        if kind != MessageKind::TagsOnly {
            user.mark_spoke(time);
        }
        Ok(event)
    }

    /// Sends a private message to the user called `to`; returns the sender's copy and the
    /// recipient (so a session can mention that it is away).
    pub fn message_user(
        &self,
        user: &Arc<User>,
        to: &str,
        kind: MessageKind,
        text: &str,
        client_tags: &str,
    ) -> Result<(Event, Arc<User>), HubError> {
        let recipient = self
            .user_by_nick(to)
            .ok_or_else(|| HubError::NoSuchNick(to.to_owned()))?;
        let time = Timestamp::now();
        let event = Event::Message {
            id: self.next_message_id(),
            time,
            from: user.identity(),
            target: Target::User(recipient.nick().into()),
            kind,
            text: text.into(),
            client_tags: client_tags.into(),
        };
        // A message to oneself is delivered too; the returned copy is then a second one.
        let audience = if recipient.id == user.id {
            Audience::all()
        } else {
            Audience::except(user)
        };
        deliver([&recipient], &event, audience);
        if kind != MessageKind::TagsOnly {
            user.mark_spoke(time);
        }
        Ok((event, recipient))
    }

    /// Renames `user` to `new_nick` (already validated). Everyone who shares a room with it is
    /// told once; the user's own copy is returned.
    pub fn rename(&self, user: &Arc<User>, new_nick: &str) -> Result<Event, HubError> {
        if is_reserved(new_nick) {
            return Err(HubError::NickTaken(new_nick.to_owned()));
        }
        let old = {
            let mut nicks = lock(&self.nicks);
            let new_key = fold(new_nick);
            if let Some(owner) = nicks.get(&new_key)
                && owner.id != user.id
            {
                return Err(HubError::NickTaken(new_nick.to_owned()));
            }
            // Read under the lock: another session may have just moved this user to a guest
            // nick (a reclaim), and the entry to remove is the current one.
            let (old, _) = user.update_identity(|identity| Identity {
                nick: new_nick.into(),
                ..identity.clone()
            });
            nicks.remove(&fold(&old.nick));
            nicks.insert(new_key, user.clone());
            old
        };
        Ok(self.announce_rename(user, old, new_nick, Audience::except(user)))
    }

    /// Tells `user`'s room peers (and `user` itself unless `audience` excludes it) that it is
    /// now `new_nick`, and returns the event. Call without any directory lock held.
    fn announce_rename(
        &self,
        user: &Arc<User>,
        old: Arc<Identity>,
        new_nick: &str,
        audience: Audience,
    ) -> Event {
        let event = Event::NickChanged {
            time: Timestamp::now(),
            old,
            new_nick: new_nick.into(),
        };
        let mut recipients = self.room_peers(user);
        recipients.insert(user.id, user.clone());
        deliver(recipients.values(), &event, audience);
        event
    }

    /// Gives the nick of account `account` back to its owner, `owner` (logged in to it), as
    /// `how` says: whoever else holds it is moved to a free `guest-N` nick (and told, and its
    /// session alerted), all under the nick directory lock so nobody can slip in between.
    pub fn reclaim_nick(
        &self,
        owner: &Arc<User>,
        account: &str,
        how: Reclaim,
    ) -> Result<Reclaimed, HubError> {
        if is_reserved(account) {
            return Err(HubError::NickTaken(account.to_owned()));
        }
        let key = fold(account);
        let (displaced, taken) = {
            let mut nicks = lock(&self.nicks);
            let holder = nicks.get(&key).cloned();
            if holder.as_ref().is_some_and(|holder| holder.id == owner.id) {
                return Ok(Reclaimed::AlreadyHeld);
            }
            let displaced = match holder {
                None => None,
                Some(holder) => {
                    let same_account = holder
                        .identity()
                        .account
                        .as_deref()
                        .is_some_and(|held| fold(held) == key);
                    if how == Reclaim::FromSquatter && same_account {
                        return Ok(Reclaimed::HeldByAccount);
                    }
                    let guest = free_guest_nick(&nicks, &self.next_guest_number);
                    nicks.remove(&key);
                    nicks.insert(fold(&guest), holder.clone());
                    let (old, _) = holder.update_identity(|identity| Identity {
                        nick: guest.as_str().into(),
                        ..identity.clone()
                    });
                    let ghosted = how == Reclaim::Ghost && same_account;
                    Some((holder, old, guest, ghosted))
                }
            };
            let taken = (how == Reclaim::Take).then(|| {
                let (old, _) = owner.update_identity(|identity| Identity {
                    nick: account.into(),
                    ..identity.clone()
                });
                nicks.remove(&fold(&old.nick));
                nicks.insert(key, owner.clone());
                old
            });
            (displaced, taken)
        };
        let displaced = displaced.map(|(holder, old, guest, ghosted)| {
            self.announce_rename(&holder, old, &guest, Audience::all());
            holder.alert(if ghosted {
                Alert::Ghosted
            } else {
                Alert::NickReclaimed
            });
            Displaced { guest, ghosted }
        });
        let own_copy =
            taken.map(|old| self.announce_rename(owner, old, account, Audience::except(owner)));
        Ok(Reclaimed::Done {
            displaced,
            own_copy,
        })
    }

    /// Logs every user logged in to `account` but `actor` out of it (its password was just
    /// changed): their room peers with account-notify are told, and their sessions alerted so
    /// that they tell their clients. Returns how many were logged out.
    pub fn log_out_other_sessions(&self, account: &str, actor: &User) -> usize {
        let account = fold(account);
        let others: Vec<Arc<User>> = self
            .users()
            .into_iter()
            .filter(|user| {
                user.id != actor.id
                    && user
                        .identity()
                        .account
                        .as_deref()
                        .is_some_and(|held| fold(held) == account)
            })
            .collect();
        for user in &others {
            self.set_account(user, None);
            user.alert(Alert::LoggedOut);
        }
        others.len()
    }

    /// The identity a service (`ChanServ`) acts under.
    fn service_identity(&self, nick: &str) -> Arc<Identity> {
        Arc::new(Identity {
            nick: nick.into(),
            user: "services".into(),
            host: self.settings.server_name.as_ref().into(),
            realname: "".into(),
            account: None,
        })
    }

    /// Remembers registered rooms (at start-up, from the store).
    pub fn load_registered_rooms(&self, rooms: Vec<RoomRecord>) {
        let mut registered = lock(&self.registered);
        for room in rooms {
            registered.insert(fold(&room.name), room);
        }
    }

    /// Remembers which rooms had history when the server started (folded names, from the
    /// store), so that they come back with it. Call after
    /// [`load_registered_rooms`](Self::load_registered_rooms): registered rooms keep their
    /// history by their own rule.
    pub fn load_rooms_with_history(&self, mut rooms: Vec<String>) {
        {
            let registered = lock(&self.registered);
            rooms.retain(|key| !registered.contains_key(key));
        }
        lock(&self.returning_rooms).extend(rooms);
    }

    /// A new, empty room called `name`, with its saved state if it is registered.
    fn new_room(&self, name: &str, folded: &str) -> Room {
        // Each leaf lock is released before the next is taken.
        let record = lock(&self.registered).get(folded).cloned();
        let Some(record) = record else {
            let returning = lock(&self.returning_rooms).remove(folded);
            let history_floor = if returning {
                MessageId(0)
            } else {
                self.upcoming_message_id()
            };
            let room = Room::new(name, folded.to_owned(), history_floor);
            room.state().has_history = returning;
            return room;
        };
        let mut room = Room::new(&record.name, folded.to_owned(), record.history_floor);
        room.created = record.created;
        {
            let mut state = room.state();
            state.founder = Some(record.founder.as_str().into());
            state.bans = record
                .lists
                .iter()
                .filter(|entry| entry.mode == ListMode::Ban)
                .map(|entry| Ban {
                    mask: entry.mask.as_str().into(),
                    set_by: entry.set_by.as_str().into(),
                    set_at: entry.set_at,
                })
                .collect();
            state.topic = record.topic.map(|(text, set_by, set_at)| Topic {
                text: text.into(),
                set_by: set_by.into(),
                set_at,
            });
            let mut modes = RoomModes {
                key: record.key.map(Into::into),
                limit: record.limit.and_then(|limit| usize::try_from(limit).ok()),
                ..RoomModes::default()
            };
            for letter in record.flags.chars() {
                if let Some(flag) = RoomFlag::from_letter(letter) {
                    *modes.flag_mut(flag) = true;
                }
            }
            state.modes = modes;
        }
        room
    }

    /// Checks that `user` may register `room` (it must be logged in and an operator there, and
    /// the room not yet registered) and returns the record to store. The room counts as
    /// registered only once [`mark_registered`](Self::mark_registered) is called after the
    /// store accepted it.
    pub fn room_registration(&self, user: &User, room: &Room) -> Result<RoomRecord, HubError> {
        let account = user
            .identity()
            .account
            .clone()
            .ok_or(HubError::NeedAccount)?;
        {
            let state = room.state();
            if !state.is_member(user) {
                return Err(HubError::NotInRoom(room.name().to_string()));
            }
            if !state.is_op(user) {
                return Err(HubError::NeedOperator(room.name().to_string()));
            }
            if state.founder.is_some() {
                return Err(HubError::AlreadyRegistered(room.name().to_string()));
            }
        }
        let mut record = self.snapshot(room);
        record.founder = account.into();
        Ok(record)
    }

    /// Records that `room` is registered as `record` says.
    pub fn mark_registered(&self, room: &Room, record: RoomRecord) {
        room.state().founder = Some(record.founder.as_str().into());
        lock(&self.registered).insert(room.key().to_owned(), record);
    }

    /// The state to save for `room` if it is registered (after a topic or mode change).
    pub fn registered_state(&self, room: &Room) -> Option<RoomRecord> {
        let founder = room.state().founder.clone()?;
        let mut record = self.snapshot(room);
        record.founder = founder.into();
        lock(&self.registered).insert(room.key().to_owned(), record.clone());
        Some(record)
    }

    /// `room`'s topic, modes, bans and history floor as a record (founder left empty).
    fn snapshot(&self, room: &Room) -> RoomRecord {
        let state = room.state();
        let modes = &state.modes;
        let flags = RoomFlag::ALL
            .into_iter()
            .filter(|flag| modes.flag(*flag))
            .map(RoomFlag::letter)
            .collect();
        RoomRecord {
            name: room.name().to_string(),
            founder: String::new(),
            topic: state.topic.as_ref().map(|topic| {
                (
                    topic.text.to_string(),
                    topic.set_by.to_string(),
                    topic.set_at,
                )
            }),
            flags,
            key: modes.key.as_deref().map(str::to_owned),
            limit: modes.limit.map(|limit| limit as u64),
            created: room.created,
            history_floor: room.history_floor(),
            lists: state
                .bans
                .iter()
                .map(|ban| ListEntry {
                    mode: ListMode::Ban,
                    mask: ban.mask.to_string(),
                    set_by: ban.set_by.to_string(),
                    set_at: ban.set_at,
                })
                .collect(),
        }
    }

    /// Renames `user` to the first free `guest-N` nick (nick protection); returns its own
    /// copy of the change.
    pub fn rename_to_guest(&self, user: &Arc<User>) -> Event {
        loop {
            let number = self.next_guest_number.fetch_add(1, Ordering::Relaxed);
            // Taken meanwhile by someone else: try the next number.
            if let Ok(event) = self.rename(user, &format!("guest-{number}")) {
                return event;
            }
        }
    }

    /// Sets (or, with an empty `topic`, clears) the topic of `room`. Needs membership, and
    /// operator status in a `+t` room. Returns the setter's copy.
    pub fn set_topic(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        topic: &str,
    ) -> Result<Event, HubError> {
        let mut state = room.state();
        let Some(member) = state.member(user) else {
            return Err(HubError::NotInRoom(room.name().to_string()));
        };
        if state.modes.topic_protected && !member.op {
            return Err(HubError::NeedOperator(room.name().to_string()));
        }
        let topic = truncate(topic, TOPIC_MAX_BYTES);
        let identity = user.identity();
        let time = Timestamp::now();
        state.topic = (!topic.is_empty()).then(|| Topic {
            text: topic.into(),
            set_by: identity.mask().into(),
            set_at: time,
        });
        let event = Event::TopicChanged {
            time,
            room: room.name().clone(),
            by: identity,
            topic: topic.into(),
        };
        deliver(state.users(), &event, Audience::except(user));
        Ok(event)
    }

    /// Removes the member called `nick` from `room`. Needs operator status. Every member, the
    /// kicked one included, is told; the kicker's copy is returned, and the room if its
    /// lifetime ended (an operator kicking itself out last).
    pub fn kick(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        nick: &str,
        reason: &str,
    ) -> Result<Departure, HubError> {
        let mut state = room.state();
        if !state.is_member(user) {
            return Err(HubError::NotInRoom(room.name().to_string()));
        }
        if !state.is_op(user) {
            return Err(HubError::NeedOperator(room.name().to_string()));
        }
        let Some(target) = state.member_by_nick(nick).map(|member| member.user.clone()) else {
            // Release the room before looking in the nick directory (lock order).
            drop(state);
            return Err(if self.user_by_nick(nick).is_some() {
                HubError::UserNotInRoom {
                    nick: nick.to_owned(),
                    room: room.name().to_string(),
                }
            } else {
                HubError::NoSuchNick(nick.to_owned())
            });
        };
        let event = Event::Kicked {
            time: Timestamp::now(),
            room: room.name().clone(),
            by: user.identity(),
            nick: target.nick(),
            reason: truncate(reason, KICK_REASON_MAX_BYTES).into(),
        };
        deliver(state.users(), &event, Audience::except(user));
        let ended = self.leave(state, room, &target);
        Ok(Departure { event, ended })
    }

    /// Invites the user called `nick` to the room called `room_name`. The inviter must be a
    /// member, and an operator of a `+i` room. The invitee is told, and so are operators who
    /// asked for invite notifications. Only an operator's invitation is kept (and lets the
    /// invitee in once past `+i`, the key, the limit and bans); anyone else's only tells the
    /// invitee about the room (RFC 2812 §3.2.7). Returns the invitee.
    pub fn invite(
        &self,
        user: &Arc<User>,
        nick: &str,
        room_name: &str,
    ) -> Result<Arc<User>, HubError> {
        let room = self
            .room(room_name)
            .ok_or_else(|| HubError::NoSuchRoom(room_name.to_owned()))?;
        let invitee = self
            .user_by_nick(nick)
            .ok_or_else(|| HubError::NoSuchNick(nick.to_owned()))?;
        let mut state = room.state();
        if !state.is_member(user) {
            return Err(HubError::NotInRoom(room.name().to_string()));
        }
        let by_operator = state.is_op(user);
        if state.modes.invite_only && !by_operator {
            return Err(HubError::NeedOperator(room.name().to_string()));
        }
        if state.is_member(&invitee) {
            return Err(HubError::AlreadyInRoom {
                nick: invitee.nick().into(),
                room: room.name().to_string(),
            });
        }
        if by_operator {
            state.invitations.add(invitee.id);
            invitee.note_invitation(&room);
        }
        let event = Event::Invited {
            time: Timestamp::now(),
            room: room.name().clone(),
            by: user.identity(),
            nick: invitee.nick(),
        };
        deliver([&invitee], &event, Audience::all());
        let operators: Vec<Arc<User>> = state
            .members
            .iter()
            .filter(|member| member.op)
            .map(|member| member.user.clone())
            .collect();
        drop(state);
        deliver(
            &operators,
            &event,
            Audience {
                except: Some(user.id),
                needs: Some(Cap::InviteNotify),
            },
        );
        Ok(invitee)
    }

    /// Applies mode changes to `room` (see [`modes`]).
    pub fn change_modes(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        changes: Vec<ModeChange>,
    ) -> Result<ModeOutcome, HubError> {
        modes::apply(self, user, room, changes)
    }

    /// Marks `user` away with `message`, or back with `None`; room peers with away-notify are
    /// told.
    pub fn set_away(&self, user: &Arc<User>, message: Option<&str>) {
        let message: Option<Box<str>> = message.map(|text| truncate(text, AWAY_MAX_BYTES).into());
        user.set_away_message(message.clone());
        let event = Event::AwayChanged {
            time: Timestamp::now(),
            who: user.identity(),
            message,
        };
        deliver(
            self.room_peers(user).values(),
            &event,
            Audience {
                except: Some(user.id),
                needs: Some(Cap::AwayNotify),
            },
        );
    }

    /// Changes `user`'s real name; room peers with the setname capability are told. Returns the
    /// user's own copy.
    pub fn set_realname(&self, user: &Arc<User>, realname: &str) -> Event {
        let (_, identity) = user.update_identity(|identity| Identity {
            realname: realname.into(),
            ..identity.clone()
        });
        let event = Event::RealnameChanged {
            time: Timestamp::now(),
            who: identity,
        };
        deliver(
            self.room_peers(user).values(),
            &event,
            Audience {
                except: Some(user.id),
                needs: Some(Cap::Setname),
            },
        );
        event
    }

    /// Records that `user` logged in to `account` (or out, with `None`); room peers with
    /// account-notify are told.
    pub fn set_account(&self, user: &Arc<User>, account: Option<&str>) {
        let (_, identity) = user.update_identity(|identity| Identity {
            account: account.map(Into::into),
            ..identity.clone()
        });
        let event = Event::AccountChanged {
            time: Timestamp::now(),
            who: identity,
        };
        deliver(
            self.room_peers(user).values(),
            &event,
            Audience {
                except: Some(user.id),
                needs: Some(Cap::AccountNotify),
            },
        );
    }

    /// The room called `name`, if it exists.
    pub fn room(&self, name: &str) -> Option<Arc<Room>> {
        lock(&self.rooms).get(&fold(name)).cloned()
    }

    /// The room called `name`, if it exists and `viewer` may know of it (a secret room only
    /// to its members; see [`visibility`]). Queries about a room answer `None` as they answer
    /// for a room that does not exist.
    pub fn visible_room(&self, viewer: &User, name: &str) -> Option<Arc<Room>> {
        let room = self.room(name)?;
        let visible = {
            let state = room.state();
            may_see_room(&state, state.is_member(viewer))
        };
        visible.then_some(room)
    }

    /// `room` as `viewer` may see it: topic, modes (the key only for members), bans and the
    /// members it may see, in join order; `None` for a secret room it is not in. Every listing
    /// of a room goes through here (see [`visibility`]).
    pub fn room_view(&self, viewer: &User, room: &Room) -> Option<RoomInfo> {
        let state = room.state();
        let viewer_is_member = state.is_member(viewer);
        if !may_see_room(&state, viewer_is_member) {
            return None;
        }
        let mut modes = state.modes.clone();
        if !may_see_key(viewer_is_member) {
            modes.key = modes.key.map(|_| HIDDEN_KEY.into());
        }
        Some(RoomInfo {
            name: room.name().clone(),
            created: room.created,
            topic: state.topic.clone(),
            modes,
            bans: state.bans.clone(),
            members: state
                .members
                .iter()
                .filter(|member| may_see_member(viewer_is_member, member))
                .map(|member| MemberInfo {
                    identity: member.user.identity(),
                    op: member.op,
                    voice: member.voice,
                    away: member.user.away().is_some(),
                    user: member.user.clone(),
                })
                .collect(),
        })
    }

    /// The rooms `user` is in that `viewer` may know of, in join order, with `user`'s status
    /// in each (IRC `WHOIS`).
    pub fn visible_memberships(&self, viewer: &Arc<User>, user: &User) -> Vec<Membership> {
        let viewer = self.viewer(viewer);
        user.rooms()
            .iter()
            .filter_map(|room| {
                let state = room.state();
                if !may_see_room(&state, viewer.is_in(room)) {
                    return None;
                }
                state.member(user).map(|member| Membership {
                    room: room.name().clone(),
                    op: member.op,
                    voice: member.voice,
                })
            })
            .collect()
    }

    /// Every room `viewer` may know of (secret rooms only if it is a member), sorted by name.
    pub fn rooms(&self, viewer: &Arc<User>) -> Vec<RoomSummary> {
        let viewer = self.viewer(viewer);
        let rooms: Vec<Arc<Room>> = lock(&self.rooms).values().cloned().collect();
        let mut summaries: Vec<RoomSummary> = rooms
            .iter()
            .filter_map(|room| {
                let state = room.state();
                let visible = may_see_room(&state, viewer.is_in(room));
                (visible && !state.members.is_empty()).then(|| RoomSummary {
                    name: room.name().clone(),
                    members: state.members.len(),
                    topic: state.topic.as_ref().map(|topic| topic.text.clone()),
                })
            })
            .collect();
        summaries.sort_by(|a, b| a.name.cmp(&b.name));
        summaries
    }

    /// `user` as the one looking at a listing, with what the visibility rules need gathered
    /// once (see [`visibility`]).
    pub fn viewer(&self, user: &Arc<User>) -> Viewer {
        Viewer::new(user.clone())
    }

    /// The connected user called `nick`, if any.
    pub fn user_by_nick(&self, nick: &str) -> Option<Arc<User>> {
        lock(&self.nicks).get(&fold(nick)).cloned()
    }

    /// Every connected user (a snapshot).
    pub fn users(&self) -> Vec<Arc<User>> {
        lock(&self.nicks).values().cloned().collect()
    }

    /// How many users are connected.
    pub fn user_count(&self) -> usize {
        lock(&self.nicks).len()
    }

    /// The most users connected at once since the server started.
    pub fn peak_user_count(&self) -> usize {
        self.peak_users.load(Ordering::Relaxed)
    }

    /// How many rooms exist.
    pub fn room_count(&self) -> usize {
        lock(&self.rooms).len()
    }

    /// Tells every connected user `text` as a server notice.
    pub fn broadcast_notice(&self, text: &str) {
        let event = Event::ServerNotice {
            time: Timestamp::now(),
            server: self.settings.server_name.clone(),
            text: text.into(),
        };
        deliver(&self.users(), &event, Audience::all());
    }

    /// Everyone who shares a room with `user` (each once), `user` excluded.
    fn room_peers(&self, user: &User) -> HashMap<UserId, Arc<User>> {
        let mut peers = HashMap::new();
        for room in user.rooms() {
            for member in room.state().users() {
                if member.id != user.id {
                    peers.insert(member.id, member.clone());
                }
            }
        }
        peers
    }

    fn next_message_id(&self) -> MessageId {
        MessageId(self.next_message_id.fetch_add(1, Ordering::Relaxed))
    }

    /// The id the next message will get, without taking it. Read under a room's lock after
    /// that room's last message was stamped (under the same lock), it is larger than that
    /// message's id; read before a room exists, it is at most the id of its first message.
    fn upcoming_message_id(&self) -> MessageId {
        MessageId(self.next_message_id.load(Ordering::Relaxed))
    }

    /// The end of `room`'s lifetime, now that its last member left (`state` is its lock);
    /// `None` for a registered room, which keeps its history, and for a room without any,
    /// which leaves the store nothing to forget (its next lifetime's floor hides anything
    /// older all the same).
    fn end_of_lifetime(&self, room: &Room, state: &RoomState) -> Option<EndedRoom> {
        let ended = state.founder.is_none() && state.has_history;
        ended.then(|| EndedRoom {
            name: room.name().clone(),
            history_end: self.upcoming_message_id(),
        })
    }

    /// Takes `member` out of `room` (whose lock `state` is), then, with the lock released,
    /// out of the member's room list, and the room out of the directory if it emptied.
    /// Returns the room if that ended its lifetime.
    fn leave(
        &self,
        mut state: MutexGuard<'_, RoomState>,
        room: &Arc<Room>,
        member: &Arc<User>,
    ) -> Option<EndedRoom> {
        state.remove_member(member);
        let closed = state.closed;
        let ended = closed.then(|| self.end_of_lifetime(room, &state)).flatten();
        drop(state);
        member.remove_room(room);
        if closed {
            self.forget_room(room);
        }
        ended
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

/// A number that differs from one start of the server to the next. `RandomState` is seeded
/// from the operating system's randomness once per process; hashing the start time with it
/// mixes both.
fn random_run_number() -> u64 {
    use std::hash::BuildHasher;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    std::collections::hash_map::RandomState::new().hash_one(now)
}

/// The first `guest-N` nick not in `nicks`, counting on from `next_number`.
fn free_guest_nick(nicks: &HashMap<String, Arc<User>>, next_number: &AtomicU64) -> String {
    loop {
        let nick = format!("guest-{}", next_number.fetch_add(1, Ordering::Relaxed));
        if !nicks.contains_key(&nick) {
            return nick;
        }
    }
}
