//! The network as sessions change it: every change to what the network shares (users and their
//! nicks and presence, rooms and their members, modes and topics, messages, deletions, server
//! bans, alerts to other sessions) goes through [`Network`], and each is awaited.
//!
//! On a single server the network is this server's hub, and every call is the hub's own
//! synchronous call, finished when the future is first polled: behaviour and cost are the
//! hub's. Awaiting is for cluster mode (`docs/CLUSTER.md`, "What changes in the code"), where a
//! change is decided on this node's replica of the network, applied by Redis, and known only
//! once Redis answers: a session must not run ahead of a change it asked for, so every caller
//! already waits for its answer before its next step. What only reads the network (lookups,
//! listings, `NAMES`, `WHO`) stays on the hub, which is that replica.
//!
//! Local to each server, and so still the hub's or the user's alone: the monitor lists
//! (`MONITOR`), delivery preferences (capabilities), flood control and this server's notices.

use std::net::SocketAddr;
use std::sync::Arc;

use palaver_proto::event::{Event, Identity, MemberStatus};

mod cluster;

pub use cluster::ClusterNetwork;

use crate::hub::{
    Alert, BanTarget, Deletion, Departure, EndedRoom, Hub, HubError, Joined, ModeChange,
    ModeOutcome, Protocol, Reclaim, Reclaimed, Room, Said, ServerBan, User,
};
use crate::outbox::Outbox;
use crate::store::{Party, RoomRecord, StoredMessage};

/// How a user's connection is secured, which others see (IRC `WHOIS`): part of what a user
/// arrives with, as the rest of the network must know it from the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security<'a> {
    Plain,
    /// Over TLS, with the fingerprint of the client certificate presented, if any.
    Tls {
        certificate: Option<&'a str>,
    },
}

impl<'a> Security<'a> {
    pub fn of(tls: bool, certificate: Option<&'a str>) -> Self {
        if tls {
            Security::Tls { certificate }
        } else {
            Security::Plain
        }
    }

    fn apply_to(self, user: &User) {
        if let Security::Tls { certificate } = self {
            user.set_tls(certificate);
        }
    }
}

/// Where sessions send the changes they make to the network. See the module's documentation.
#[derive(Clone)]
pub enum Network {
    /// A single server: its hub is the whole network.
    Local(Arc<Hub>),
    /// A node of a cluster: users and their nicks, rooms' memberships, topics, modes,
    /// invitations, registrations, messages and their deletion are the cluster's
    /// (`cluster.rs`); wallops and server bans are still its hub's alone (docs/CLUSTER.md,
    /// "Rooms as built").
    Cluster(Arc<ClusterNetwork>),
}

impl Network {
    /// The network of a single server, held in `hub`.
    pub fn local(hub: Arc<Hub>) -> Self {
        Network::Local(hub)
    }

    /// The network of a cluster node.
    pub fn cluster(network: ClusterNetwork) -> Self {
        Network::Cluster(Arc::new(network))
    }

    /// The network as this server sees it, to read: on a single server, all of it; on a
    /// cluster node, its replica.
    pub fn hub(&self) -> &Arc<Hub> {
        match self {
            Network::Local(hub) => hub,
            Network::Cluster(network) => network.hub(),
        }
    }

    // Users: arriving, renaming, leaving.

    /// A text user arrives under the next free guest nick. Refused only in a cluster, when
    /// the cluster cannot be reached.
    pub async fn connect_guest(
        &self,
        peer: SocketAddr,
        host: &str,
        protocol: Protocol,
        outbox: Arc<Outbox>,
        security: Security<'_>,
    ) -> Result<Arc<User>, HubError> {
        let user = match self {
            Network::Local(hub) => hub.connect_guest(peer, host, protocol, outbox),
            Network::Cluster(network) => {
                network.connect_guest(peer, host, protocol, outbox).await?
            }
        };
        security.apply_to(&user);
        Ok(user)
    }

    /// An IRC user completes registration as `identity`.
    pub async fn register(
        &self,
        peer: SocketAddr,
        protocol: Protocol,
        outbox: Arc<Outbox>,
        identity: Identity,
        security: Security<'_>,
    ) -> Result<Arc<User>, HubError> {
        let user = match self {
            Network::Local(hub) => hub.register(peer, protocol, outbox, identity)?,
            Network::Cluster(network) => network.register(peer, protocol, outbox, identity).await?,
        };
        security.apply_to(&user);
        Ok(user)
    }

    pub async fn rename(&self, user: &Arc<User>, nick: &str) -> Result<Event, HubError> {
        match self {
            Network::Local(hub) => hub.rename(user, nick),
            Network::Cluster(network) => network.rename(user, nick).await,
        }
    }

    /// Renames `user` to the next free guest nick (nick protection). Refused only in a
    /// cluster, when the cluster cannot be reached.
    pub async fn rename_to_guest(&self, user: &Arc<User>) -> Result<Event, HubError> {
        match self {
            Network::Local(hub) => Ok(hub.rename_to_guest(user)),
            Network::Cluster(network) => network.rename_to_guest(user).await,
        }
    }

    pub async fn reclaim_nick(
        &self,
        owner: &Arc<User>,
        account: &str,
        how: Reclaim,
    ) -> Result<Reclaimed, HubError> {
        match self {
            Network::Local(hub) => hub.reclaim_nick(owner, account, how),
            Network::Cluster(network) => network.reclaim_nick(owner, account, how).await,
        }
    }

    /// The user leaves the network; the rooms whose lifetime this ended are returned for the
    /// store to forget.
    pub async fn disconnect(&self, user: &Arc<User>, reason: Option<&str>) -> Vec<EndedRoom> {
        match self {
            Network::Local(hub) => hub.disconnect(user, reason),
            Network::Cluster(network) => network.disconnect(user, reason).await,
        }
    }

    // Presence: what others see of a user.

    // Each changes the hub, then in a cluster tells the other nodes what others now see of the
    // user (`ClusterNetwork::share_presence`).

    pub async fn set_away(&self, user: &Arc<User>, message: Option<&str>) {
        self.hub().set_away(user, message);
        self.share_presence(user).await;
    }

    pub async fn set_realname(&self, user: &Arc<User>, realname: &str) -> Event {
        let event = self.hub().set_realname(user, realname);
        self.share_presence(user).await;
        event
    }

    pub async fn set_account(&self, user: &Arc<User>, account: Option<&str>) {
        self.hub().set_account(user, account);
        self.share_presence(user).await;
    }

    pub async fn set_bot(&self, user: &User, bot: bool) {
        self.hub().set_bot(user, bot);
        self.share_presence(user).await;
    }

    pub async fn set_invisible(&self, user: &User, invisible: bool) {
        user.set_invisible(invisible);
        self.share_presence(user).await;
    }

    /// Makes the user a server operator under the configured `name`, or (`None`) no longer
    /// one.
    pub async fn set_operator(&self, user: &User, name: Option<Arc<str>>) {
        user.set_operator(name);
        self.share_presence(user).await;
    }

    /// Tells the rest of the network what others now see of `user`, after a change the hub
    /// made outside a call of this (a logout another session or node caused); in a cluster,
    /// the other nodes. Nothing on a single server.
    pub async fn share_presence(&self, user: &User) {
        if let Network::Cluster(network) = self {
            network.share_presence(user).await;
        }
    }

    // Rooms: membership, rules, registration.

    pub async fn join(
        &self,
        user: &Arc<User>,
        name: &str,
        key: Option<&str>,
    ) -> Result<Joined, HubError> {
        match self {
            Network::Local(hub) => hub.join(user, name, key),
            Network::Cluster(network) => network.join(user, name, key).await,
        }
    }

    pub async fn part(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        reason: Option<&str>,
    ) -> Result<Departure, HubError> {
        match self {
            Network::Local(hub) => hub.part(user, room, reason),
            Network::Cluster(network) => network.part(user, room, reason).await,
        }
    }

    pub async fn part_all(&self, user: &Arc<User>) -> Vec<Departure> {
        match self {
            Network::Local(hub) => hub.part_all(user),
            Network::Cluster(network) => network.part_all(user).await,
        }
    }

    pub async fn kick(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        nick: &str,
        reason: &str,
    ) -> Result<Departure, HubError> {
        match self {
            Network::Local(hub) => hub.kick(user, room, nick, reason),
            Network::Cluster(network) => network.kick(user, room, nick, reason).await,
        }
    }

    pub async fn invite(
        &self,
        user: &Arc<User>,
        nick: &str,
        room_name: &str,
    ) -> Result<Arc<User>, HubError> {
        match self {
            Network::Local(hub) => hub.invite(user, nick, room_name),
            Network::Cluster(network) => network.invite(user, nick, room_name).await,
        }
    }

    pub async fn change_modes(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        changes: Vec<ModeChange>,
    ) -> Result<ModeOutcome, HubError> {
        match self {
            Network::Local(hub) => hub.change_modes(user, room, changes),
            Network::Cluster(network) => network.change_modes(user, room, changes).await,
        }
    }

    pub async fn set_topic(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        topic: &str,
    ) -> Result<Event, HubError> {
        match self {
            Network::Local(hub) => hub.set_topic(user, room, topic),
            Network::Cluster(network) => network.set_topic(user, room, topic).await,
        }
    }

    /// `user` registered the room to `record`'s founder (already saved in the store).
    pub async fn mark_registered(&self, user: &User, room: &Room, record: RoomRecord) {
        match self {
            Network::Local(hub) => hub.mark_registered(room, record),
            Network::Cluster(network) => network.mark_registered(user, room, record).await,
        }
    }

    // Messages and their deletion.

    pub async fn say(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        said: &Said<'_>,
    ) -> Result<Event, HubError> {
        match self {
            Network::Local(hub) => hub.say(user, room, said),
            Network::Cluster(network) => network.say(user, room, None, said).await,
        }
    }

    /// What the session that sent `event` (a message `sender` sent; a private one to
    /// `recipient`) must still store for it: nothing for what history does not keep, nor in
    /// cluster mode for a room's message or one to another node's user, which Redis stored in
    /// the step that published it.
    pub fn left_to_store(
        &self,
        event: &Event,
        sender: &User,
        recipient: Option<&User>,
    ) -> Option<StoredMessage> {
        match self {
            Network::Cluster(_) if ClusterNetwork::stored_with_publication(event, recipient) => {
                None
            }
            _ => message_to_store(event, sender, recipient),
        }
    }

    /// A message to the members of `room` with at least the `minimum` status (`@#room`).
    pub async fn say_to_status(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        minimum: MemberStatus,
        said: &Said<'_>,
    ) -> Result<Event, HubError> {
        match self {
            Network::Local(hub) => hub.say_to_status(user, room, minimum, said),
            Network::Cluster(network) => network.say(user, room, Some(minimum), said).await,
        }
    }

    /// A private message to the user holding the nick `to`.
    pub async fn message_user(
        &self,
        user: &Arc<User>,
        to: &str,
        said: &Said<'_>,
    ) -> Result<(Event, Arc<User>), HubError> {
        match self {
            Network::Local(hub) => hub.message_user(user, to, said),
            Network::Cluster(network) => network.message_user(user, to, said).await,
        }
    }

    pub async fn redact_in_room(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        deletion: Deletion<'_>,
    ) -> Result<Event, HubError> {
        match self {
            Network::Local(hub) => hub.redact_in_room(user, room, deletion),
            Network::Cluster(network) => network.redact_in_room(user, room, deletion).await,
        }
    }

    pub async fn redact_private(
        &self,
        user: &Arc<User>,
        peer: &str,
        recipient: &Party,
        deletion: Deletion<'_>,
    ) -> Result<Event, HubError> {
        match self {
            Network::Local(hub) => hub.redact_private(user, peer, recipient, deletion),
            Network::Cluster(network) => {
                network
                    .redact_private(user, peer, recipient, deletion)
                    .await
            }
        }
    }

    // Operators, server bans, and alerts to other sessions.

    pub async fn kill(
        &self,
        killer: &Arc<User>,
        nick: &str,
        reason: &str,
    ) -> Result<Arc<User>, HubError> {
        match self {
            Network::Local(hub) => hub.kill(killer, nick, reason),
            Network::Cluster(network) => network.kill(killer, nick, reason).await,
        }
    }

    /// An operator's `WALLOPS`, to every user who asked for wallops (on every node); the
    /// sender's own copy, if it asked too.
    pub async fn wallops(&self, sender: &Arc<User>, text: &str) -> Result<Option<Event>, HubError> {
        match self {
            Network::Local(hub) => hub.wallops(sender, text),
            Network::Cluster(network) => network.wallops(sender, text).await,
        }
    }

    /// Adds a server ban and disconnects whoever it covers (on every node); how many were
    /// (on this one).
    pub async fn add_server_ban(
        &self,
        operator: &Arc<User>,
        ban: ServerBan,
    ) -> Result<usize, HubError> {
        match self {
            Network::Local(hub) => hub.add_server_ban(operator, ban),
            Network::Cluster(network) => network.add_server_ban(operator, ban).await,
        }
    }

    /// Lifts the server ban on `target` (on every node); whether this one had it.
    pub async fn remove_server_ban(
        &self,
        operator: &Arc<User>,
        target: &BanTarget,
    ) -> Result<bool, HubError> {
        match self {
            Network::Local(hub) => hub.remove_server_ban(operator, target),
            Network::Cluster(network) => network.remove_server_ban(operator, target).await,
        }
    }

    /// Disconnects a user that `ban` covers, found after it was admitted.
    pub async fn enforce_ban(&self, user: &User, ban: &ServerBan) {
        self.hub().enforce_ban(user, ban)
    }

    /// Alerts every other session logged in to `account` (`why`); how many there were.
    pub async fn log_out_other_sessions(&self, account: &str, actor: &User, why: Alert) -> usize {
        match self {
            Network::Local(hub) => hub.log_out_other_sessions(account, actor, why),
            Network::Cluster(network) => network.log_out_other_sessions(account, actor, why).await,
        }
    }

    /// Tells the account's other sessions of a read marker `actor` moved.
    pub async fn share_read_marker(&self, account: &str, actor: &User, event: &Event) {
        match self {
            Network::Local(hub) => hub.share_read_marker(account, actor, event),
            Network::Cluster(network) => network.share_read_marker(account, actor, event).await,
        }
    }
}

/// What to store for `event`, a message `sender` sent; for a private message, `recipient`
/// received it, and each side's party is recorded as it is at this moment (the sender's as
/// the event shows it). The sender's party is the message's author too.
pub(crate) fn message_to_store(
    event: &Event,
    sender: &User,
    recipient: Option<&User>,
) -> Option<StoredMessage> {
    let mut message = StoredMessage::from_event(event)?;
    let sender_party = Party::of(message.account.as_deref(), sender.connection);
    if let Some(recipient) = recipient {
        message.set_parties(sender_party.clone(), recipient.party());
    }
    message.set_author(sender_party);
    Some(message)
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use palaver_proto::event::MessageKind;

    use super::*;
    use crate::hub::HubSettings;

    /// Polls `future` once: on a single server every change is the hub's synchronous call, so
    /// it must be finished then (the promise that awaiting costs a single server nothing, and
    /// that no change of a single server ever waits on anything).
    fn at_once<T>(future: impl Future<Output = T>) -> T {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(value) => value,
            Poll::Pending => panic!("a single server's change waited"),
        }
    }

    #[test]
    fn a_single_server_s_changes_are_finished_when_first_polled() {
        let hub = Arc::new(Hub::new(HubSettings::default()));
        let network = Network::local(hub.clone());
        let peer = "127.0.0.1:50000".parse().unwrap();
        let connect = |network: &Network| {
            let outbox = Arc::new(Outbox::new(1 << 16));
            let security = Security::Tls { certificate: None };
            at_once(network.connect_guest(peer, "127.0.0.1", Protocol::Text, outbox, security))
                .unwrap()
        };
        let alice = connect(&network);
        assert!(
            alice.is_tls(),
            "the user arrived with its connection's security"
        );
        let bob = connect(&network);
        at_once(network.rename(&alice, "alice")).unwrap();
        let Joined::New { room, .. } = at_once(network.join(&alice, "#rust", None)).unwrap() else {
            panic!("alice joined a new room");
        };
        at_once(network.join(&bob, "#rust", None)).unwrap();
        let said = Said::plain(MessageKind::Say, "hello");
        at_once(network.say(&alice, &room, &said)).unwrap();
        at_once(network.message_user(&bob, "alice", &said)).unwrap();
        at_once(network.set_topic(&alice, &room, "Rust")).unwrap();
        at_once(network.set_away(&bob, Some("lunch")));
        at_once(network.part(&bob, &room, None)).unwrap();
        at_once(network.disconnect(&bob, Some("bye")));
        // The changes are the hub's: what it reads back is what was done.
        assert_eq!(hub.user_count(), 1);
        assert_eq!(room.topic().unwrap().text.as_ref(), "Rust");
        assert!(hub.user_by_nick("alice").is_some());
    }
}
