//! The nick directory: connecting under a nick, leaving the server, renaming, and giving an
//! account's nick back to its owner. Nicks change only under the nick directory lock (and the
//! user's own identity lock), so the directory and every user's identity agree; those
//! monitoring a nick are told under the same lock (see `monitor`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use palaver_proto::event::{Event, Identity};
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use palaver_proto::utf8::truncate;

use super::delivery::{Audience, deliver};
use super::error::HubError;
use super::user::{Alert, Home, Protocol, User, UserId};
use super::{EndedRoom, Hub, REASON_MAX_BYTES};
use crate::lock;
use crate::outbox::Outbox;
use crate::store::ConnectionId;

/// Nicks nobody may take: the services IRC clients address (so nobody can pose as them and
/// collect the passwords sent to them).
pub const RESERVED_NICKS: &[&str] = &["nickserv", "chanserv"];

/// Whether `nick` is one of [`RESERVED_NICKS`].
pub fn is_reserved(nick: &str) -> bool {
    RESERVED_NICKS.contains(&fold(nick).as_str())
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

impl Hub {
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
                let identity = guest_identity(&nick, host);
                let user = self.new_user(peer, protocol, Home::Here(outbox), identity, None);
                slot.insert(user.clone());
                self.peak_users.fetch_max(nicks.len(), Ordering::Relaxed);
                self.tell_online(user.identity());
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
        self.claim(peer, protocol, Home::Here(outbox), identity, None)
    }

    /// Registers a new connection under the nick in `identity`, as `connection`: the id a
    /// cluster gives its user, the same on every node, so that the private history of a user
    /// without an account (which belongs to its connection) is the same party on all of them.
    pub fn register_as(
        &self,
        peer: SocketAddr,
        protocol: Protocol,
        outbox: Arc<Outbox>,
        identity: Identity,
        connection: ConnectionId,
    ) -> Result<Arc<User>, HubError> {
        self.claim(
            peer,
            protocol,
            Home::Here(outbox),
            identity,
            Some(connection),
        )
    }

    /// Adds a user connected to another node of the cluster, `node`, under the nick in
    /// `identity`: what a node's replica does when the cluster says a user arrived elsewhere
    /// (`docs/CLUSTER.md`, "The replica"). It is everyone's to see and to talk to like a user
    /// connected here, but nothing reaches it through this server: deliveries and alerts are
    /// its own node's.
    /// Its `connection` is the one its own node gave it ([`Self::register_as`]).
    pub fn admit_remote(
        &self,
        node: Arc<str>,
        peer: SocketAddr,
        protocol: Protocol,
        identity: Identity,
        connection: ConnectionId,
    ) -> Result<Arc<User>, HubError> {
        self.claim(peer, protocol, Home::Node(node), identity, Some(connection))
    }

    /// Adds a user under the nick in `identity`, unless it is taken or reserved; as
    /// `connection` if given, else under a connection id of this server's own.
    fn claim(
        &self,
        peer: SocketAddr,
        protocol: Protocol,
        home: Home,
        identity: Identity,
        connection: Option<ConnectionId>,
    ) -> Result<Arc<User>, HubError> {
        if is_reserved(&identity.nick) {
            return Err(HubError::NickTaken(identity.nick.into()));
        }
        let mut nicks = lock(&self.nicks);
        match nicks.entry(fold(&identity.nick)) {
            Entry::Occupied(_) => Err(HubError::NickTaken(identity.nick.into())),
            Entry::Vacant(slot) => {
                let user = self.new_user(peer, protocol, home, identity, connection);
                slot.insert(user.clone());
                self.peak_users.fetch_max(nicks.len(), Ordering::Relaxed);
                self.tell_online(user.identity());
                Ok(user)
            }
        }
    }

    /// A new user, as `connection` if given, else under a connection id of this server's own.
    pub(super) fn new_user(
        &self,
        peer: SocketAddr,
        protocol: Protocol,
        home: Home,
        identity: Identity,
        connection: Option<ConnectionId>,
    ) -> Arc<User> {
        let id = self.next_user_id.fetch_add(1, Ordering::Relaxed);
        let connection = connection
            .unwrap_or_else(|| ConnectionId((u128::from(self.run) << 64) | u128::from(id)));
        Arc::new(User::new(id, connection, peer, protocol, home, identity))
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
                // At a shutdown nobody is told that anyone left.
                if reason.is_some() {
                    self.tell_offline(&identity.nick);
                }
            }
            identity
        };
        self.clear_monitor(user);
        self.nick_history.record(identity.clone());
        let mut witnesses: HashMap<UserId, Arc<User>> = HashMap::new();
        let mut ended = Vec::new();
        for room in user.take_rooms() {
            let state = room.state();
            for member in state.users().filter(|member| member.id != user.id) {
                witnesses.insert(member.id, member.clone());
            }
            ended.extend(self.remove_member(state, &room, user, reason.is_some()));
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
            // Under the lock: another session may have just moved this user to a guest nick
            // (a reclaim), and the entry to remove is the current one.
            self.move_nick(&mut nicks, user, new_nick)
        };
        Ok(self.announce_rename(user, old, new_nick, Audience::except(user)))
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

    /// Tells `user`'s room peers (and `user` itself unless `audience` excludes it) that it is
    /// now `new_nick`, and returns the event. Call without any directory lock held.
    fn announce_rename(
        &self,
        user: &Arc<User>,
        old: Arc<Identity>,
        new_nick: &str,
        audience: Audience,
    ) -> Event {
        // A change of case only keeps the nick.
        if fold(&old.nick) != fold(new_nick) {
            self.nick_history.record(old.clone());
        }
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
        self.reclaim_nick_moving_to(owner, account, how, None)
    }

    /// [`Hub::reclaim_nick`], moving the holder (if any) to `guest`, a guest nick the cluster
    /// gave out, instead of this server's next one.
    pub fn reclaim_nick_to(
        &self,
        owner: &Arc<User>,
        account: &str,
        how: Reclaim,
        guest: &str,
    ) -> Result<Reclaimed, HubError> {
        self.reclaim_nick_moving_to(owner, account, how, Some(guest))
    }

    fn reclaim_nick_moving_to(
        &self,
        owner: &Arc<User>,
        account: &str,
        how: Reclaim,
        guest: Option<&str>,
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
                    let guest = match guest {
                        Some(guest) => guest.to_owned(),
                        None => free_guest_nick(&nicks, &self.next_guest_number),
                    };
                    let old = self.move_nick(&mut nicks, &holder, &guest);
                    let ghosted = how == Reclaim::Ghost && same_account;
                    Some((holder, old, guest, ghosted))
                }
            };
            let taken = (how == Reclaim::Take).then(|| self.move_nick(&mut nicks, owner, account));
            (displaced, taken)
        };
        let displaced = displaced.map(|(holder, old, guest, ghosted)| {
            self.tell_moved_aside(&holder, old, &guest, ghosted);
            Displaced { guest, ghosted }
        });
        let own_copy =
            taken.map(|old| self.announce_rename(owner, old, account, Audience::except(owner)));
        Ok(Reclaimed::Done {
            displaced,
            own_copy,
        })
    }

    /// Moves this server's `user` to `guest`, the guest nick the cluster gave it when its
    /// account's owner reclaimed its nick on another node (`cluster/applier.rs`), as a
    /// reclaim here moves a holder.
    pub fn move_aside(&self, user: &Arc<User>, guest: &str, ghosted: bool) {
        let old = {
            let mut nicks = lock(&self.nicks);
            if nicks
                .get(&fold(guest))
                .is_some_and(|other| other.id != user.id)
            {
                tracing::warn!(%guest, "a guest nick the cluster gave is held here");
                return;
            }
            self.move_nick(&mut nicks, user, guest)
        };
        self.tell_moved_aside(user, old, guest, ghosted);
    }

    /// Gives `user` the nick `nick` in `nicks` (the directory, locked; `nick` free or the
    /// user's) and its identity, and tells its monitors; returns its identity before.
    fn move_nick(
        &self,
        nicks: &mut HashMap<String, Arc<User>>,
        user: &Arc<User>,
        nick: &str,
    ) -> Arc<Identity> {
        let (old, new) = user.update_identity(|identity| Identity {
            nick: nick.into(),
            ..identity.clone()
        });
        let old_key = fold(&old.nick);
        if nicks.get(&old_key).is_some_and(|held| held.id == user.id) {
            nicks.remove(&old_key);
        }
        nicks.insert(fold(nick), user.clone());
        self.tell_renamed(&old, new);
        old
    }

    /// Tells everyone who shares a room with `holder`, and `holder` itself, that it was moved
    /// off a reclaimed nick to `guest`, and alerts its session (`ghosted`: it must end).
    fn tell_moved_aside(&self, holder: &Arc<User>, old: Arc<Identity>, guest: &str, ghosted: bool) {
        self.announce_rename(holder, old, guest, Audience::all());
        holder.alert(if ghosted {
            Alert::Ghosted
        } else {
            Alert::NickReclaimed
        });
    }
}

/// Who a user arriving under the guest nick `nick` from `host` is (the text protocol's
/// newcomers).
pub fn guest_identity(nick: &str, host: &str) -> Identity {
    Identity {
        nick: nick.into(),
        user: "text".into(),
        host: host.into(),
        realname: "".into(),
        account: None,
        bot: false,
    }
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
