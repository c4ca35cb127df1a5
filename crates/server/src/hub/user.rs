//! A connected user as the hub sees it: identity, outbox, presence, and the rooms it is in.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use palaver_proto::Wire;
use palaver_proto::event::Identity;
use palaver_proto::irc::caps::{Cap, CapSet};
use palaver_proto::irc::render::IrcFlavor;
use palaver_proto::time::Timestamp;
use tokio::sync::Notify;

use super::room::Room;
use crate::lock;
use crate::outbox::Outbox;
use crate::store::{ConnectionId, Party};

/// Identifies a connection for the server's lifetime; never reused.
pub type UserId = u64;

/// The protocol a user's connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Text,
    Irc,
}

/// In [`User::wire`], marks an IRC user; the low bits hold its capabilities.
const IRC_BIT: u32 = 1 << 31;

/// Something done to a user from another connection's task, which its own session must act
/// on (tell its client, check its nick, or end the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// Logged out because the account's password was changed in another session.
    LoggedOut = 1,
    /// Renamed to a guest nick because the owner of the account reclaimed the nick.
    NickReclaimed = 2,
    /// A session of the same account ghosted this one (after renaming it): it must quit.
    Ghosted = 4,
}

/// The alerts raised since a session last took them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Alerts(u8);

impl Alerts {
    pub fn contains(self, alert: Alert) -> bool {
        self.0 & alert as u8 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One connected client. Shared (`Arc`) between its session, the hub's nick directory and the
/// member lists of its rooms.
#[derive(Debug)]
pub struct User {
    pub id: UserId,
    /// This connection for the history of its private messages: unlike `id`, unique across
    /// restarts.
    pub connection: ConnectionId,
    pub peer: SocketAddr,
    /// Where everything for this user is queued; pushes never block.
    pub outbox: Arc<Outbox>,
    pub connected_at: Timestamp,
    /// Protocol and IRC capabilities, read without a lock on every delivery to pick the
    /// rendering; written by the session (`CAP REQ`).
    wire: AtomicU32,
    /// Nick, user name, host and real name. Replaced (never mutated) by the hub: the nick only
    /// while it holds the nick directory lock, so the directory and this field agree. A leaf
    /// lock: nothing else is locked while it is held.
    identity: Mutex<Arc<Identity>>,
    /// Rooms this user is in, in the order joined. Changed only by the hub, after the room's
    /// own member list (the source of truth for fan-out) was changed. A leaf lock.
    rooms: Mutex<Vec<Arc<Room>>>,
    /// The away message, if away. A leaf lock.
    away: Mutex<Option<Box<str>>>,
    /// User mode `+i`: hidden from `WHO` and `NAMES` of people who share no room with it.
    invisible: AtomicBool,
    /// When the user last sent a message (milliseconds since the epoch), for `WHOIS` idle time.
    last_spoke: AtomicU64,
    /// The [`Alert`]s raised and not yet taken, as bits: a set, so it never grows however
    /// often others act. Raised by the hub on other tasks, taken by the user's own session.
    alerts: AtomicU8,
    /// Wakes the connection's read loop when an alert is raised. `Notify` keeps one permit
    /// when nobody waits, so an alert raised while the session is busy is not missed.
    alerted: Notify,
}

impl User {
    pub(super) fn new(
        id: UserId,
        connection: ConnectionId,
        peer: SocketAddr,
        protocol: Protocol,
        outbox: Arc<Outbox>,
        identity: Identity,
    ) -> Self {
        let now = Timestamp::now();
        Self {
            id,
            connection,
            peer,
            outbox,
            connected_at: now,
            wire: AtomicU32::new(match protocol {
                Protocol::Text => 0,
                Protocol::Irc => IRC_BIT,
            }),
            identity: Mutex::new(Arc::new(identity)),
            rooms: Mutex::new(Vec::new()),
            away: Mutex::new(None),
            invisible: AtomicBool::new(false),
            last_spoke: AtomicU64::new(now.0),
            alerts: AtomicU8::new(0),
            alerted: Notify::new(),
        }
    }

    /// How events must be rendered for this user.
    pub fn wire(&self) -> Wire {
        let bits = self.wire.load(Ordering::Relaxed);
        if bits & IRC_BIT == 0 {
            Wire::Text
        } else {
            Wire::Irc(IrcFlavor::from_caps(CapSet::from_bits(bits & !IRC_BIT)))
        }
    }

    /// The IRC capabilities this user enabled (none for text users).
    pub fn caps(&self) -> CapSet {
        CapSet::from_bits(self.wire.load(Ordering::Relaxed) & !IRC_BIT)
    }

    pub fn has_cap(&self, cap: Cap) -> bool {
        self.caps().contains(cap)
    }

    /// Replaces the capability set; only meaningful for IRC users.
    pub fn set_caps(&self, caps: CapSet) {
        let protocol_bit = self.wire.load(Ordering::Relaxed) & IRC_BIT;
        self.wire
            .store(protocol_bit | caps.bits(), Ordering::Relaxed);
    }

    pub fn identity(&self) -> Arc<Identity> {
        lock(&self.identity).clone()
    }

    pub fn nick(&self) -> Box<str> {
        lock(&self.identity).nick.clone()
    }

    /// Replaces the identity with `change` applied to the current one, atomically: sessions
    /// of other users change this one too (a reclaimed nick, a logout after a password
    /// change), so a read-then-write could undo a concurrent change of another field. Returns
    /// the identity before and after.
    pub(super) fn update_identity(
        &self,
        change: impl FnOnce(&Identity) -> Identity,
    ) -> (Arc<Identity>, Arc<Identity>) {
        let mut identity = lock(&self.identity);
        let old = identity.clone();
        *identity = Arc::new(change(&old));
        (old, identity.clone())
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

    pub fn away(&self) -> Option<Box<str>> {
        lock(&self.away).clone()
    }

    pub(super) fn set_away_message(&self, message: Option<Box<str>>) {
        *lock(&self.away) = message;
    }

    pub fn is_invisible(&self) -> bool {
        self.invisible.load(Ordering::Relaxed)
    }

    pub fn set_invisible(&self, invisible: bool) {
        self.invisible.store(invisible, Ordering::Relaxed);
    }

    /// Seconds since the user last sent a message.
    pub fn idle_seconds(&self) -> u64 {
        Timestamp::now()
            .0
            .saturating_sub(self.last_spoke.load(Ordering::Relaxed))
            / 1000
    }

    pub(super) fn mark_spoke(&self, time: Timestamp) {
        self.last_spoke.store(time.0, Ordering::Relaxed);
    }

    /// Raises `alert` for this user's session and wakes its connection. Never blocks.
    pub(super) fn alert(&self, alert: Alert) {
        self.alerts.fetch_or(alert as u8, Ordering::AcqRel);
        self.alerted.notify_one();
    }

    /// Waits until an alert may have been raised (possibly one already taken: check
    /// [`take_alerts`](Self::take_alerts)).
    pub async fn alerted(&self) {
        self.alerted.notified().await;
    }

    /// The alerts raised since the last call, clearing them.
    pub fn take_alerts(&self) -> Alerts {
        Alerts(self.alerts.swap(0, Ordering::AcqRel))
    }

    /// Who this user is for a private message it sends or receives now: its account if it is
    /// logged in, else this connection.
    pub fn party(&self) -> Party {
        Party::of(self.identity().account.as_deref(), self.connection)
    }

    /// Whom this user may read private history as: its account, if logged in, and this
    /// connection.
    pub fn reader_parties(&self) -> Vec<Party> {
        let mut parties = Vec::with_capacity(2);
        if let Some(account) = self.identity().account.as_deref() {
            parties.push(Party::of(Some(account), self.connection));
        }
        parties.push(Party::Connection(self.connection));
        parties
    }

    /// Whether this user shares at least one room with `other`.
    pub fn shares_room_with(&self, other: &User) -> bool {
        let mine = self.rooms();
        let theirs = other.rooms();
        mine.iter().any(|room| {
            theirs
                .iter()
                .any(|other_room| Arc::ptr_eq(room, other_room))
        })
    }
}
