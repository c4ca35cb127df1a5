//! A connected user as the hub sees it: identity, where it is connected (here, with its
//! outbox, or on another node of a cluster), presence, and the rooms it is in.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use palaver_proto::Wire;
use palaver_proto::event::Identity;
use palaver_proto::time::Timestamp;

use super::joined_rooms::JoinedRooms;
use super::room::Room;
use crate::lock;
use crate::outbox::Outbox;
use crate::store::{ConnectionId, Party};

/// Identifies a connection for the server's lifetime; never reused.
pub type UserId = u64;

/// Where a user is connected.
///
/// In a cluster (`docs/CLUSTER.md`, "The replica") every node's hub holds every user; only the
/// user's home node has its connection. Fan-out, alerts and everything else that reaches a
/// connection act only on users that are here: a user on another node gets what concerns it
/// from its own node, which hears of it on the cluster's feeds.
#[derive(Debug)]
pub enum Home {
    /// Connected to this server: everything for the user is queued in this outbox.
    Here(Arc<Outbox>),
    /// Connected to the cluster node of this name.
    Node(Arc<str>),
}

/// The protocol a user's connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Protocol {
    Text,
    Irc,
}

/// Something a user may want to hear of about the people it shares a room with, beyond what
/// every member hears. Each protocol decides which of them its users want (see
/// [`User::set_delivery`]); a user wants none until its session says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Someone went away or came back.
    AwayChanges = 1,
    /// Someone changed their real name.
    RealnameChanges = 2,
    /// Someone logged in to an account or out.
    AccountChanges = 4,
    /// A member invited someone into a room this user is an operator of.
    Invitations = 8,
    /// The away, real-name and account changes of the users it monitors, as of its room
    /// peers (IRC `extended-monitor`): each only together with the interest in that change.
    MonitoredUsers = 16,
    /// A server operator's message to everyone who asked for them (IRC `WALLOPS`).
    Wallops = 32,
    /// A message this user saw was deleted.
    Redactions = 64,
    /// Another session of this user's account read something up to a new point.
    ReadMarkers = 128,
}

/// A set of [`Interest`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interests(u8);

impl Interests {
    pub fn insert(&mut self, interest: Interest) {
        self.0 |= interest as u8;
    }

    pub fn contains(self, interest: Interest) -> bool {
        self.0 & interest as u8 != 0
    }
}

impl FromIterator<Interest> for Interests {
    fn from_iter<T: IntoIterator<Item = Interest>>(interests: T) -> Self {
        let mut set = Self::default();
        for interest in interests {
            set.insert(interest);
        }
        set
    }
}

/// How [`User::delivery`] packs a user's wire and interests into one word, so that fan-out
/// reads both with one atomic load: the wire's index in the low byte, the interests above it.
const INTERESTS_SHIFT: u32 = 8;

fn pack_delivery(wire: Wire, interests: Interests) -> u32 {
    // A wire index is below `Wire::COUNT`, far less than 256.
    wire.index() as u32 | u32::from(interests.0) << INTERESTS_SHIFT
}

fn unpack_delivery(packed: u32) -> (Wire, Interests) {
    let wire = Wire::from_index((packed & 0xff) as usize).unwrap_or(Wire::Text);
    (wire, Interests((packed >> INTERESTS_SHIFT) as u8))
}

/// Something done to a user from another connection's task, which its own session must act
/// on (tell its client, check its nick, or end the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// Logged out because the account's password was changed (in another session, or by an
    /// administrator).
    LoggedOut = 1,
    /// Renamed to a guest nick because the owner of the account reclaimed the nick.
    NickReclaimed = 2,
    /// A session of the same account ghosted this one (after renaming it): it must quit.
    Ghosted = 4,
    /// A server operator killed this user (see [`User::take_kill`]): it must quit.
    Killed = 8,
    /// Logged out because an administrator locked the account.
    AccountLocked = 16,
    /// This server lost its link to the rest of the network (it is fenced): it must quit.
    LinkLost = 32,
}

/// A server operator's removal of a user (IRC `KILL`, text `/kill`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kill {
    /// The operator who did it, as it was then.
    pub by: Arc<Identity>,
    pub reason: Box<str>,
}

impl Kill {
    /// The quit reason everyone who shared a room with the user sees, in the form IRC
    /// servers use: `Killed (alice (spamming))`.
    pub fn quit_reason(&self) -> String {
        format!("Killed ({} ({}))", self.by.nick, self.reason)
    }
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
    /// Where the user is connected; for a user connected here, the outbox everything for it
    /// is queued in (pushes never block).
    pub home: Home,
    pub connected_at: Timestamp,
    /// How events are rendered for this user (its [`Wire`]) and which [`Interests`] it has,
    /// packed (see [`pack_delivery`]): read without a lock on every delivery, written by the
    /// user's session when what its client asked for changes.
    delivery: AtomicU32,
    /// Nick, user name, host and real name. Replaced (never mutated) by the hub: the nick only
    /// while it holds the nick directory lock, so the directory and this field agree. A leaf
    /// lock: nothing else is locked while it is held.
    identity: Mutex<Arc<Identity>>,
    /// Rooms this user is in. Changed only by the hub, after the room's own member list (the
    /// source of truth for fan-out) was changed. A leaf lock.
    rooms: Mutex<JoinedRooms>,
    /// What few users have at any time (invitations, an away message, a monitor list,
    /// operator status, a kill), allocated only while one of them is set: most users, most
    /// of the time, have none, and each would cost every user's memory. A leaf lock.
    occasional: Mutex<Option<Box<Occasional>>>,
    /// User mode `+i`: hidden from `WHO` and `NAMES` of people who share no room with it.
    invisible: AtomicBool,
    /// Whether the user is a server operator (see [`Occasional::operator`]), readable without
    /// a lock (`LUSERS` counts every user's).
    is_operator: AtomicBool,
    /// Set only on the actor of the administration API ([`Hub::administrator`]), which acts
    /// as an operator of every room without being in it. Never set on a connected user.
    ///
    /// [`Hub::administrator`]: super::Hub::administrator
    administrator: AtomicBool,
    /// Set when the user's connection runs over TLS, to the fingerprint of the client
    /// certificate it presented, if any (IRC `WHOIS` shows both). Set once as it arrives
    /// (`Network::connect_guest`, `Network::register`).
    tls: OnceLock<Option<Box<str>>>,
    /// When the user last sent a message (milliseconds since the epoch), for `WHOIS` idle time.
    last_spoke: AtomicU64,
    /// The [`Alert`]s raised and not yet taken, as bits: a set, so it never grows however
    /// often others act. Raised by the hub on other tasks, taken by the user's own session.
    /// Raising one wakes the connection's read loop through the outbox
    /// ([`Outbox::alert`]), which keeps the wake-up when the session is busy.
    alerts: AtomicU8,
}

/// A user's [occasional](User::occasional) state.
#[derive(Debug, Default)]
struct Occasional {
    /// Rooms holding an operator's invitation for this user, so that its disconnect can
    /// withdraw them. Written by the hub under the inviting room's lock; rooms that have
    /// closed are dropped whenever another is added, so it holds at most one entry per open
    /// room. An entry may outlive its invitation (used up or withdrawn as the oldest);
    /// withdrawing it again does nothing.
    invited_to: Vec<Weak<Room>>,
    /// The away message, if away.
    away: Option<Box<str>>,
    /// The nicks this user monitors, as it spelled them, each (folded) once and at most
    /// [`MAX_MONITORED`](super::MAX_MONITORED). Changed only by the hub, together with its
    /// directory of watchers (`hub::monitor`).
    monitored: Vec<Box<str>>,
    /// The `[[oper]]` entry this user proved it may act as, while it is a server operator
    /// (IRC user mode `+o`). Set by its own session after the check.
    operator: Option<Arc<str>>,
    /// Why a server operator removed this user, set by the first [`Hub::kill`] of it (others
    /// change nothing) and taken by its own session when alerted.
    ///
    /// [`Hub::kill`]: super::Hub::kill
    kill: Option<Kill>,
}

impl Occasional {
    fn is_empty(&self) -> bool {
        self.invited_to.is_empty()
            && self.away.is_none()
            && self.monitored.is_empty()
            && self.operator.is_none()
            && self.kill.is_none()
    }
}

impl User {
    pub(super) fn new(
        id: UserId,
        connection: ConnectionId,
        peer: SocketAddr,
        protocol: Protocol,
        home: Home,
        identity: Identity,
    ) -> Self {
        let now = Timestamp::now();
        Self {
            id,
            connection,
            peer,
            home,
            connected_at: now,
            delivery: AtomicU32::new(pack_delivery(
                match protocol {
                    Protocol::Text => Wire::Text,
                    Protocol::Irc => Wire::Irc(Default::default()),
                },
                Interests::default(),
            )),
            identity: Mutex::new(Arc::new(identity)),
            rooms: Mutex::default(),
            occasional: Mutex::new(None),
            invisible: AtomicBool::new(false),
            is_operator: AtomicBool::new(false),
            administrator: AtomicBool::new(false),
            tls: OnceLock::new(),
            last_spoke: AtomicU64::new(now.0),
            alerts: AtomicU8::new(0),
        }
    }

    /// The outbox of a user connected here; `None` for a user on another node.
    pub fn outbox(&self) -> Option<&Arc<Outbox>> {
        match &self.home {
            Home::Here(outbox) => Some(outbox),
            Home::Node(_) => None,
        }
    }

    /// How events must be rendered for this user, and what it wants to hear of beyond what
    /// every member hears.
    pub fn delivery(&self) -> (Wire, Interests) {
        unpack_delivery(self.delivery.load(Ordering::Relaxed))
    }

    /// Sets how events are rendered for this user and what it wants to hear of. Called by its
    /// session whenever its client's choices change; a text user keeps the default.
    pub fn set_delivery(&self, wire: Wire, interests: Interests) {
        self.delivery
            .store(pack_delivery(wire, interests), Ordering::Relaxed);
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
        lock(&self.rooms).in_join_order().cloned().collect()
    }

    /// The room with folded name `key`, if this user is in it.
    pub fn room(&self, key: &str) -> Option<Arc<Room>> {
        lock(&self.rooms).get(key).cloned()
    }

    /// How many rooms this user is in.
    pub fn room_count(&self) -> usize {
        lock(&self.rooms).len()
    }

    /// Whether any room this user is in satisfies `test` (which must take no lock but leaf
    /// locks: this user's room list is held while it runs).
    pub fn in_any_room(&self, test: impl Fn(&Arc<Room>) -> bool) -> bool {
        lock(&self.rooms).in_join_order().any(test)
    }

    pub(super) fn add_room(&self, room: Arc<Room>) {
        lock(&self.rooms).insert(room);
    }

    pub(super) fn remove_room(&self, room: &Arc<Room>) {
        lock(&self.rooms).remove(room);
    }

    /// Empties the room list and returns it, oldest first.
    pub(super) fn take_rooms(&self) -> Vec<Arc<Room>> {
        std::mem::take(&mut *lock(&self.rooms))
            .in_join_order()
            .cloned()
            .collect()
    }

    /// Reads the occasional state (`None`: nothing of it is set).
    fn read_occasional<T>(&self, read: impl FnOnce(Option<&Occasional>) -> T) -> T {
        read(lock(&self.occasional).as_deref())
    }

    /// Changes the occasional state, allocating it only when something of it becomes set and
    /// freeing it once nothing is; `change` must take no lock (this is a leaf).
    fn change_occasional<T>(&self, change: impl FnOnce(&mut Occasional) -> T) -> T {
        let mut slot = lock(&self.occasional);
        match slot.as_deref_mut() {
            Some(occasional) => {
                let result = change(occasional);
                if occasional.is_empty() {
                    *slot = None;
                }
                result
            }
            None => {
                let mut fresh = Occasional::default();
                let result = change(&mut fresh);
                if !fresh.is_empty() {
                    *slot = Some(Box::new(fresh));
                }
                result
            }
        }
    }

    /// Remembers that `room` holds an invitation for this user.
    pub(super) fn note_invitation(&self, room: &Arc<Room>) {
        self.change_occasional(|occasional| {
            let invited_to = &mut occasional.invited_to;
            invited_to.retain(|noted| noted.strong_count() > 0);
            if !invited_to
                .iter()
                .any(|noted| std::ptr::eq(noted.as_ptr(), Arc::as_ptr(room)))
            {
                invited_to.push(Arc::downgrade(room));
            }
        });
    }

    /// Empties the list of rooms holding an invitation for this user and returns those still
    /// open.
    pub(super) fn take_invitations(&self) -> Vec<Arc<Room>> {
        self.change_occasional(|occasional| std::mem::take(&mut occasional.invited_to))
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    pub fn away(&self) -> Option<Box<str>> {
        self.read_occasional(|occasional| occasional?.away.clone())
    }

    pub(super) fn set_away_message(&self, message: Option<Box<str>>) {
        self.change_occasional(|occasional| occasional.away = message);
    }

    pub fn is_invisible(&self) -> bool {
        self.invisible.load(Ordering::Relaxed)
    }

    pub fn set_invisible(&self, invisible: bool) {
        self.invisible.store(invisible, Ordering::Relaxed);
    }

    /// The nicks this user monitors, as it spelled them, in the order added.
    pub fn monitored(&self) -> Vec<Box<str>> {
        self.read_occasional(|occasional| {
            occasional.map_or_else(Vec::new, |occasional| occasional.monitored.clone())
        })
    }

    /// Changes the list of monitored nicks; `change` must take no lock (this is a leaf).
    pub(super) fn change_monitored<T>(&self, change: impl FnOnce(&mut Vec<Box<str>>) -> T) -> T {
        self.change_occasional(|occasional| change(&mut occasional.monitored))
    }

    /// The operator entry this user acts as, if it is a server operator.
    pub fn operator(&self) -> Option<Arc<str>> {
        self.read_occasional(|occasional| occasional?.operator.clone())
    }

    /// Records that the user's connection runs over TLS, with the SHA-256 fingerprint of
    /// its client certificate if it presented one. Only the first call counts.
    pub fn set_tls(&self, certificate_fingerprint: Option<&str>) {
        let _ = self.tls.set(certificate_fingerprint.map(Into::into));
    }

    /// Whether the user's connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.get().is_some()
    }

    /// The SHA-256 fingerprint of the client certificate the user presented, if any.
    pub fn certificate_fingerprint(&self) -> Option<&str> {
        self.tls.get()?.as_deref()
    }

    pub fn is_operator(&self) -> bool {
        self.is_operator.load(Ordering::Relaxed)
    }

    /// Makes this user a server operator acting as the entry `name` (after its session
    /// checked the entry's password), or, with `None`, an ordinary user again.
    pub fn set_operator(&self, name: Option<Arc<str>>) {
        self.change_occasional(|occasional| {
            self.is_operator.store(name.is_some(), Ordering::Relaxed);
            occasional.operator = name;
        });
    }

    /// Whether this is the administration API's actor (see [`Hub::administrator`]).
    ///
    /// [`Hub::administrator`]: super::Hub::administrator
    pub fn is_administrator(&self) -> bool {
        self.administrator.load(Ordering::Relaxed)
    }

    pub(super) fn set_administrator(&self) {
        self.administrator.store(true, Ordering::Relaxed);
    }

    /// Records `kill` unless the user was already killed; returns whether it was recorded.
    pub(super) fn note_kill(&self, kill: Kill) -> bool {
        self.change_occasional(|occasional| {
            if occasional.kill.is_some() {
                return false;
            }
            occasional.kill = Some(kill);
            true
        })
    }

    /// The kill recorded for this user, if any (for its session, once alerted).
    pub fn take_kill(&self) -> Option<Kill> {
        self.change_occasional(|occasional| occasional.kill.take())
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

    /// Raises `alert` for this user's session and wakes its connection. Never blocks. A user
    /// on another node has no session here: its own node raises its alerts.
    pub(super) fn alert(&self, alert: Alert) {
        if let Some(outbox) = self.outbox() {
            self.alerts.fetch_or(alert as u8, Ordering::AcqRel);
            outbox.alert();
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user's occasional state takes memory only while something of it is set.
    #[test]
    fn occasional_state_is_held_only_while_set() {
        let user = User::new(
            1,
            ConnectionId(1),
            "127.0.0.1:1".parse().expect("address"),
            Protocol::Irc,
            Home::Here(Arc::new(Outbox::new(1024))),
            Identity {
                nick: "alice".into(),
                user: "~alice".into(),
                host: "127.0.0.1".into(),
                realname: "".into(),
                account: None,
                bot: false,
            },
        );
        let held = |user: &User| lock(&user.occasional).is_some();
        assert!(user.take_kill().is_none());
        assert!(user.take_invitations().is_empty());
        assert!(!held(&user), "reading and taking nothing allocates nothing");
        user.set_away_message(Some("lunch".into()));
        user.set_operator(Some("admin".into()));
        assert!(held(&user));
        assert_eq!(user.away().as_deref(), Some("lunch"));
        user.set_away_message(None);
        assert!(held(&user), "still an operator");
        user.set_operator(None);
        assert!(!user.is_operator());
        assert!(!held(&user));
    }

    #[test]
    fn wire_and_interests_are_packed_without_loss() {
        let all = [
            Interest::AwayChanges,
            Interest::RealnameChanges,
            Interest::AccountChanges,
            Interest::Invitations,
            Interest::MonitoredUsers,
            Interest::Wallops,
        ];
        for index in 0..Wire::COUNT {
            let wire = Wire::from_index(index).expect("a wire");
            for subset in 0..1u8 << all.len() {
                let interests: Interests = all
                    .into_iter()
                    .enumerate()
                    .filter(|(bit, _)| subset & 1 << bit != 0)
                    .map(|(_, interest)| interest)
                    .collect();
                assert_eq!(
                    unpack_delivery(pack_delivery(wire, interests)),
                    (wire, interests)
                );
            }
        }
    }
}
