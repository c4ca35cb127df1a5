//! The hub: who is connected, which rooms exist, who is in them, and fan-out.
//!
//! The hub is protocol-neutral. Sessions read it directly and change it through
//! [`Network`](crate::network::Network), which on a single server calls it synchronously; it
//! checks permissions, changes state, stamps an [`Event`] and pushes the rendered bytes into
//! the other recipients' outboxes. The actor's own copy is returned instead, so its session
//! can send it together with its other replies (see `Outbox::hold`). The hub never waits on a
//! socket, so any session may call it from its own task.
//!
//! A file per concept: [`nicks`] (connecting, the nick directory, renames and reclaims),
//! [`membership`] (join, part, kick, invite, room lifetimes), [`messages`] (room and private
//! messages, topics, notices), [`presence`] (away, real name, account, bot mode, read markers
//! shared between an account's sessions), [`monitor`] (who is told when a nick comes and
//! goes), [`redaction`] (deleting messages), [`modes`] (mode changes), [`registered`]
//! (registered rooms' saved state), [`operators`] (what server operators may do),
//! [`visibility`] (what listings may show), [`whowas`] (the nicks users left behind), [`link`]
//! (this server's link to the rest of the network),
//! [`delivery`] (fan-out); [`room`] (a room and its rules), [`user`] (a user), [`bans`] (mask
//! lists) and [`error`].
//!
//! Locks (all `std::sync::Mutex`, never held across an `.await`):
//! - `nicks`: the nick directory; taken on connect, disconnect, nick change and lookups by
//!   nick, never on the room message path.
//! - `watchers` ([`monitor`]): who monitors which nick; taken alone, or under the nick
//!   directory lock (nicks come and go, and their watchers are told, under that lock).
//! - `rooms`: the room directory; taken on join, on the last member's leave, and by listings.
//! - each room's own lock (see [`room`]), the only lock on the room message path.
//! - the two locks of [`registered::RegisteredRooms`] (saved state of registered rooms, and
//!   the rooms that come back after a restart); leaves, taken one at a time.
//! - the lock of [`whowas::NickHistory`], a leaf, taken with no other lock held.
//! - each user's identity, room-list, invitation-list, away, monitor-list, operator and kill
//!   locks, and each outbox's lock, which are leaves.
//!
//! No directory lock is taken while a room lock is held, and no room lock while a directory
//! lock is held — except the lock of a room being created under the room directory lock,
//! which nobody else can see yet.

mod bans;
mod delivery;
mod error;
mod joined_rooms;
mod link;
mod membership;
mod messages;
mod modes;
mod monitor;
mod nicks;
mod operators;
mod presence;
mod redaction;
mod registered;
mod replica;
mod room;
mod server_bans;
#[cfg(test)]
mod tests;
mod user;
mod visibility;
mod whowas;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use palaver_proto::event::{Event, Identity, MessageId};
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

pub use bans::{
    ACCOUNT_EXTBAN, BAN_MASK_MAX_BYTES, BanMaskError, EXTBAN_PREFIX, MAX_LIST_ENTRIES, MaskEntry,
    MaskLists,
};
pub use error::{HubError, JoinRefusal, SendRefusal};
pub use link::{LINK_BACK_NOTICE, LINK_DOWN_NOTICE, LINK_LOST};
pub use messages::Said;
pub use modes::ModeOutcome;
pub use monitor::{MAX_MONITORED, MonitorStatus};
pub use nicks::{Displaced, RESERVED_NICKS, Reclaim, Reclaimed, guest_identity, is_reserved};
pub use operators::{DEFAULT_KILL_REASON, UserCounts};
pub use palaver_proto::modes::{MaskList, ModeChange, RoomFlag, RoomModes};
pub use redaction::Deletion;
pub use replica::{DecidedModes, JoinDecision, time_of};
pub use room::{MAX_PENDING_INVITATIONS, Member, Room, Topic};
pub use server_bans::{BanTarget, ServerBan};
pub use user::{Alert, Alerts, Home, Interest, Interests, Kill, Protocol, User, UserId};
pub use visibility::{HIDDEN_KEY, MemberInfo, Membership, RoomInfo, RoomSummary, Viewer};
pub use whowas::{Departed, NICK_HISTORY_MAX};

use crate::lock;
use crate::metrics::Metrics;
use crate::rate_limit::AddressRate;
use monitor::Watchers;
use registered::RegisteredRooms;

/// The room every new text-protocol connection joins.
pub const LOBBY: &str = "#lobby";

// The limits below are the hub's, for every protocol; each is chosen so that what IRC clients
// receive fits in a line, and IRC's ISUPPORT advertises it under the name given.

/// Longest topic in bytes (`TOPICLEN`); longer topics are cut at a character boundary.
pub const TOPIC_MAX_BYTES: usize = 390;
/// Longest away message in bytes (`AWAYLEN`); longer ones are cut.
pub const AWAY_MAX_BYTES: usize = 200;
/// Longest kick reason in bytes (`KICKLEN`); longer ones are cut.
pub const KICK_REASON_MAX_BYTES: usize = 255;
/// Longest part or quit reason in bytes; longer ones are cut. Text users may write far longer
/// lines than an IRC line holds, and every relayed field is capped so that what IRC clients
/// receive stays within a line.
pub const REASON_MAX_BYTES: usize = 390;

/// The nick of the service that acts on rooms (making a registered room's founder its
/// operator); nobody may take it (see [`RESERVED_NICKS`]).
const ROOM_SERVICE: &str = "ChanServ";

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
    /// How many rooms one address may create (`[limits] room_creations_per_address`); `None`:
    /// any number.
    pub room_creations_per_address: Option<crate::config::Rate>,
    /// Addresses that may create any number of rooms (`[limits] exempt_addresses`).
    pub exempt_addresses: crate::config::AddressList,
    /// Where fan-out counts the messages it delivers and how long that takes: the server's
    /// metrics.
    pub metrics: Arc<Metrics>,
}

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            server_name: "palaver".into(),
            rooms_per_user: DEFAULT_ROOMS_PER_USER,
            room_creations_per_address: None,
            exempt_addresses: Default::default(),
            metrics: Arc::default(),
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
    /// Who monitors which nick (see [`monitor`]).
    watchers: Watchers,
    /// Folded room name → room. Holds exactly the rooms with at least one member (a closed
    /// room lingers only until its last member's part finishes).
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    /// Rooms created per address. A leaf lock (inside `rooms`).
    room_creations: AddressRate,
    /// Server bans in force (see [`server_bans`]).
    server_bans: server_bans::ServerBans,
    /// Registered rooms' saved state and the rooms that come back after a restart.
    registered: RegisteredRooms,
    /// Who left which nick, for `WHOWAS`.
    nick_history: whowas::NickHistory,
    next_user_id: AtomicU64,
    /// Drawn at random when the hub starts: with a user's id it makes the user's
    /// [`ConnectionId`](crate::store::ConnectionId), which must differ from every connection
    /// of earlier runs (private history of a guest belongs to its connection), although ids
    /// start at 1 again.
    run: u64,
    next_guest_number: AtomicU64,
    /// The most users connected at once since start (IRC `LUSERS` maximum).
    peak_users: AtomicUsize,
    /// The next message id. Starts at the start time in milliseconds × 1024, so ids keep
    /// increasing across restarts unless a server averaged over 1024 messages per millisecond.
    pub(super) next_message_id: AtomicU64,
    /// This server's link to the rest of the network (see [`link`]).
    link: link::LinkCell,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(HubSettings::default())
    }
}

impl Hub {
    pub fn new(settings: HubSettings) -> Self {
        Self {
            room_creations: AddressRate::new(
                settings.room_creations_per_address,
                settings.exempt_addresses.clone(),
            ),
            settings,
            server_bans: Default::default(),
            started: Timestamp::now(),
            nicks: Mutex::default(),
            watchers: Watchers::default(),
            rooms: Mutex::default(),
            registered: RegisteredRooms::default(),
            nick_history: whowas::NickHistory::default(),
            next_user_id: AtomicU64::new(1),
            run: random_run_number(),
            next_guest_number: AtomicU64::new(1),
            peak_users: AtomicUsize::new(0),
            next_message_id: AtomicU64::new(Timestamp::now().0.saturating_mul(1024)),
            link: Default::default(),
        }
    }

    /// When the server started.
    pub fn started(&self) -> Timestamp {
        self.started
    }

    /// Takes a new limit on rooms created per address (a reload).
    pub fn set_room_creation_limit(
        &self,
        rate: Option<crate::config::Rate>,
        exempt: crate::config::AddressList,
    ) {
        self.room_creations.update(rate, exempt);
    }

    /// The most rooms one user may be in at once.
    pub fn rooms_per_user(&self) -> usize {
        self.settings.rooms_per_user
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

    /// The room called `name`, if it exists.
    pub fn room(&self, name: &str) -> Option<Arc<Room>> {
        lock(&self.rooms).get(&fold(name)).cloned()
    }

    /// The connected user called `nick`, if any.
    pub fn user_by_nick(&self, nick: &str) -> Option<Arc<User>> {
        lock(&self.nicks).get(&fold(nick)).cloned()
    }

    /// Every connected user (a snapshot).
    pub fn users(&self) -> Vec<Arc<User>> {
        lock(&self.nicks).values().cloned().collect()
    }

    /// Who stopped using `nick` (by disconnecting or changing nick), newest first, at most
    /// `limit` of them (`None`: all that are kept; see [`whowas`]).
    pub fn departed(&self, nick: &str, limit: Option<usize>) -> Vec<Departed> {
        self.nick_history.lookup(nick, limit)
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

    /// The identity a service (`ChanServ`) acts under.
    fn service_identity(&self, nick: &str) -> Arc<Identity> {
        Arc::new(Identity {
            nick: nick.into(),
            user: "services".into(),
            host: self.settings.server_name.as_ref().into(),
            realname: "".into(),
            account: None,
            bot: false,
        })
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
