//! The network of a cluster node (docs/CLUSTER.md, milestone 4): a user's nick is claimed in
//! the cluster's directory of users (`cluster/users.rs`) before this node's hub admits it, so
//! that a nick is held once across the cluster, and every arrival, rename and departure of this
//! node's users reaches the other nodes through the state feed the directory's scripts write.
//! The other nodes' users come into this hub from that feed (`cluster/applier.rs`).
//!
//! Each change asks the hub first (a nick this node sees taken is refused without a round
//! trip), then the directory, then makes it in the hub; should the hub refuse after the
//! directory agreed (its replica of the others' users was behind), the directory's change is
//! taken back. A change of what others see of a user (away, account, real name…) is made in
//! the hub, then told to the cluster. What is for another node's user — a private message, a
//! kill, a logout, a read marker — goes into that node's inbox, which it follows
//! (`cluster/applier.rs`).
//!
//! A room's changes — joins, departures, kicks, topics, messages — are decided on the hub (the
//! replica: may this user join, speak?), then made by Redis (`cluster/rooms.rs`), which orders
//! them on the state feed, and made in the hub only when the state feed brings them back
//! (`cluster/applier.rs`), as on every other node: the session waits until this node has
//! applied its change, so that what it answers is what every node will show, in the same
//! order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use palaver_proto::event::{Event, Identity, MemberStatus, MessageId, Target};
use palaver_proto::irc::modes::spell_changes;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use palaver_proto::utf8::truncate;
use redis::RedisError;
use tokio::sync::watch;
use tracing::warn;

use crate::cluster::rooms::{JoinOutcome, Left, MemberRank, ModesOutcome};
use crate::cluster::user_ids::UserIds;
use crate::cluster::users::{ClaimError, ClusterUserId, Holder, UserDirectory, UserFacts};
use crate::cluster::wire::{
    self, EventKind, KillOrder, LogOut, Presence, PrivateDeletion, PrivateMessage, ReadMarker,
    RoomDeletion, RoomInvite, RoomJoin, RoomKick, RoomMessage, RoomModeChange, RoomPart,
    RoomRegistration, RoomRules, RoomTopic, Sender, ServerBanLift, ServerBanOrder, WallopsMessage,
};
use crate::hub::{
    Alert, BanTarget, Deletion, Departure, EndedRoom, Home, Hub, HubError, JoinDecision, Joined,
    KICK_REASON_MAX_BYTES, ModeChange, ModeOutcome, Protocol, REASON_MAX_BYTES, Reclaim, Reclaimed,
    Room, Said, ServerBan, TOPIC_MAX_BYTES, User, guest_identity, is_reserved, time_of,
};
use crate::metrics::LinkState;
use crate::outbox::Outbox;
use crate::store::{HistoryEntries, HistoryEntry, Party, RoomRecord};

use super::message_to_store;

/// The quit reason the other nodes' users see for this node's users when it shuts down.
pub const NODE_SHUT_DOWN: &str = "Its server shut down";

/// How long a session waits for this node to apply a change Redis made (the state feed
/// bringing it back) before it answers that the network could not be reached.
const APPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The user id the events of an administrator acting through the administration API name:
/// none of the cluster's users has it (their ids count from 1), so the nodes applying them
/// find no user under it, as for a user who has left.
const ADMINISTRATOR: ClusterUserId = ClusterUserId(0);

/// How long a message whose call went unanswered waits before it is sent again (once the
/// link is up): a pause, so that a link the heartbeat has yet to find down is not hammered.
const ANSWER_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// How many times a join or a change of modes is decided again after Redis found the room
/// other than the replica did (another node's change came first).
const DECIDE_TRIES: usize = 3;

/// A cluster node's users, claimed in the directory and kept in the hub.
pub struct ClusterNetwork {
    hub: Arc<Hub>,
    directory: UserDirectory,
    /// The cluster ids of this node's users, which it keeps there, and of the other nodes'
    /// users, which the state feed's applier keeps.
    ids: Arc<UserIds>,
    /// The sequence number of the last state feed event this node's hub applied.
    applied: watch::Receiver<u64>,
    /// The node's link to Redis, as its heartbeat finds it.
    link: watch::Receiver<LinkState>,
    /// What the room messages are stored with, as they are published ([`Self::say`]).
    history: HistoryEntries,
}

impl ClusterNetwork {
    pub fn new(
        hub: Arc<Hub>,
        directory: UserDirectory,
        ids: Arc<UserIds>,
        applied: watch::Receiver<u64>,
        link: watch::Receiver<LinkState>,
        history: HistoryEntries,
    ) -> Self {
        Self {
            hub,
            directory,
            ids,
            applied,
            link,
            history,
        }
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// A text user arrives under the cluster's next free guest nick.
    pub async fn connect_guest(
        &self,
        peer: SocketAddr,
        host: &str,
        protocol: Protocol,
        outbox: Arc<Outbox>,
    ) -> Result<Arc<User>, HubError> {
        let identity = guest_identity("", host);
        let facts = facts_of(peer, protocol, &identity);
        let (id, nick) = self
            .directory
            .connect_guest(&facts)
            .await
            .map_err(|error| refusal(error, "guest"))?;
        let identity = guest_identity(&nick, host);
        let admitted = self
            .hub
            .register_as(peer, protocol, outbox, identity, id.connection());
        self.keep_or_take_back(id, &nick, admitted).await
    }

    /// A user completes registration under the nick in `identity`.
    pub async fn register(
        &self,
        peer: SocketAddr,
        protocol: Protocol,
        outbox: Arc<Outbox>,
        identity: Identity,
    ) -> Result<Arc<User>, HubError> {
        if !self.hub.nick_available(&identity.nick, None) {
            return Err(HubError::NickTaken(identity.nick.into()));
        }
        let nick = identity.nick.clone();
        let facts = facts_of(peer, protocol, &identity);
        let id = self
            .directory
            .connect(&nick, &facts)
            .await
            .map_err(|error| refusal(error, &nick))?;
        let admitted = self
            .hub
            .register_as(peer, protocol, outbox, identity, id.connection());
        self.keep_or_take_back(id, &nick, admitted).await
    }

    /// Keeps the cluster id of a user the hub admitted, or takes back the directory's claim
    /// for one it refused.
    async fn keep_or_take_back(
        &self,
        id: ClusterUserId,
        nick: &str,
        admitted: Result<Arc<User>, HubError>,
    ) -> Result<Arc<User>, HubError> {
        match admitted {
            Ok(user) => {
                self.ids.insert(id, user.clone());
                Ok(user)
            }
            Err(error) => {
                if let Err(undo) = self.directory.disconnect(id, nick, None).await {
                    warn!(%nick, error = %undo, "could not take back a claim the hub refused");
                }
                Err(error)
            }
        }
    }

    pub async fn rename(&self, user: &Arc<User>, nick: &str) -> Result<Event, HubError> {
        if !self.hub.nick_available(nick, Some(user)) {
            return Err(HubError::NickTaken(nick.to_owned()));
        }
        let id = self.id_of(user)?;
        let old = user.nick();
        self.directory
            .rename(id, &old, nick)
            .await
            .map_err(|error| refusal(error, nick))?;
        self.rename_in_hub(user, id, &old, nick).await
    }

    /// Renames `user` to the cluster's next free guest nick (nick protection).
    pub async fn rename_to_guest(&self, user: &Arc<User>) -> Result<Event, HubError> {
        let id = self.id_of(user)?;
        let old = user.nick();
        let guest = self
            .directory
            .rename_to_guest(id, &old)
            .await
            .map_err(|error| refusal(error, "guest"))?;
        self.rename_in_hub(user, id, &old, &guest).await
    }

    /// Renames `user` in the hub as the directory did already, or renames it back there.
    async fn rename_in_hub(
        &self,
        user: &Arc<User>,
        id: ClusterUserId,
        old: &str,
        nick: &str,
    ) -> Result<Event, HubError> {
        let renamed = self.hub.rename(user, nick);
        if renamed.is_err()
            && let Err(undo) = self.directory.rename(id, nick, old).await
        {
            warn!(%nick, error = %undo, "could not take back a rename the hub refused");
        }
        renamed
    }

    /// The owner of `account` reclaims its nick from whoever holds it, here or on another
    /// node, which moves its user as the state feed tells it (`scripts/user_reclaim.lua`).
    pub async fn reclaim_nick(
        &self,
        owner: &Arc<User>,
        account: &str,
        how: Reclaim,
    ) -> Result<Reclaimed, HubError> {
        let holder = self.hub.user_by_nick(account);
        let nothing_to_claim = match &holder {
            _ if is_reserved(account) => true,
            Some(holder) if holder.id == owner.id => true,
            Some(holder) => how == Reclaim::FromSquatter && holds_account(holder, account),
            None => how != Reclaim::Take,
        };
        if nothing_to_claim {
            // The hub says why, changing nothing.
            return self.hub.reclaim_nick(owner, account, how);
        }
        let moved = match &holder {
            Some(holder) => Some(Holder {
                id: self.id_of(holder)?,
                // Another node's user is moved by its node, as the state feed tells it.
                elsewhere: holder.outbox().is_none(),
                ghosted: how == Reclaim::Ghost && holds_account(holder, account),
            }),
            None => None,
        };
        let owner_id = self.id_of(owner)?;
        let guest = self
            .directory
            .reclaim(
                account,
                moved,
                owner_id,
                &owner.nick(),
                how == Reclaim::Take,
            )
            .await
            .map_err(|error| refusal(error, account))?;
        match guest {
            Some(guest) => self.hub.reclaim_nick_to(owner, account, how, &guest),
            None => self.hub.reclaim_nick(owner, account, how),
        }
    }

    /// Sends a private message to the user called `to`: through the hub to a user of this
    /// node, into its node's inbox to another node's user (answered once Redis has it). Its
    /// id is the cluster's either way (the inbox event's, or one taken for it), so that no
    /// two nodes' messages share one in the shared history.
    pub async fn message_user(
        &self,
        user: &Arc<User>,
        to: &str,
        said: &Said<'_>,
    ) -> Result<(Event, Arc<User>), HubError> {
        // The hub refuses without a round trip: nobody has that nick, or the link is down.
        let Some(recipient) = self.hub.user_by_nick(to).filter(|_| self.hub.link_is_up()) else {
            return self.hub.message_user(user, to, said);
        };
        let Home::Node(node) = &recipient.home else {
            let id = self
                .directory
                .next_message_id()
                .await
                .map_err(unreachable)?;
            return self
                .hub
                .message_user_as(user, to, said, Some(MessageId(id)));
        };
        // Stamped with the inbox event's id once Redis gives it, which stores it in the history
        // in the same step; not delivered here.
        let (event, _) = self.hub.message_user(user, to, said)?;
        let gone = || HubError::NoSuchNick(to.to_owned());
        let id = self.ids.id_of(&recipient).ok_or_else(gone)?;
        let message = PrivateMessage::of(&event).expect("message_user makes a private message");
        let entry = self.entry_for(&event, user, Some(&recipient))?;
        let nick = recipient.nick();
        let nonce = self.directory.nonce();
        let started = Instant::now();
        let sent = self
            .until_answered(|| {
                self.directory
                    .send_private(id, (node, &nick), &message, entry.as_ref(), &nonce)
            })
            .await?;
        match sent {
            Some(id) => {
                if entry.is_some() {
                    self.history.stored(started.elapsed());
                }
                Ok((message.into_event_as(id), recipient))
            }
            // It left as the message was sent; its node's departure is on its way.
            None => Err(gone()),
        }
    }

    /// Tells the other nodes what others now see of this node's `user` (its away message,
    /// real name, account, bot and invisible flags, operator status), after a change the hub
    /// made already; a failure is logged (the user's next change, or its departure, corrects
    /// what the others see).
    pub async fn share_presence(&self, user: &User) {
        let Some(id) = self.ids.id_of(user) else {
            return;
        };
        let identity = user.identity();
        let presence = Presence {
            away: user.away().map(String::from),
            realname: identity.realname.to_string(),
            account: identity.account.as_deref().map(str::to_owned),
            bot: identity.bot,
            invisible: user.is_invisible(),
            operator: user.operator().as_deref().map(str::to_owned),
        };
        if let Err(error) = self.directory.update(id, &identity.nick, &presence).await {
            warn!(nick = %identity.nick, %error, "could not tell the cluster of a user's change");
        }
    }

    /// Logs out every other session of `account` (`why`: a password change, a lock): this
    /// node's through the hub, the other nodes' through their inboxes. How many there were.
    pub async fn log_out_other_sessions(&self, account: &str, actor: &User, why: Alert) -> usize {
        let elsewhere: Vec<_> = self
            .hub
            .other_sessions(account, actor)
            .into_iter()
            .filter_map(|user| match &user.home {
                Home::Node(node) => Some((user.clone(), node.clone())),
                Home::Here(_) => None,
            })
            .collect();
        let count = self.hub.log_out_other_sessions(account, actor, why);
        let log_out = LogOut {
            locked: why == Alert::AccountLocked,
        };
        for (user, node) in elsewhere {
            let Some(id) = self.ids.id_of(&user) else {
                continue;
            };
            let sent = self
                .directory
                .send_log_out(id, &node, &user.nick(), &log_out)
                .await;
            if let Err(error) = sent {
                warn!(nick = %user.nick(), %error, "could not log out a session on another node");
            }
        }
        count
    }

    /// Tells the account's other sessions of a read marker `actor` moved: this node's through
    /// the hub, the other nodes' through their inboxes (a failure is logged: the marker is
    /// stored, and a session asks for it again when it next looks).
    pub async fn share_read_marker(&self, account: &str, actor: &User, event: &Event) {
        self.hub.share_read_marker(account, actor, event);
        let Some(marker) = ReadMarker::of(event) else {
            return;
        };
        for user in self.hub.other_sessions(account, actor) {
            let (Home::Node(node), Some(id)) = (&user.home, self.ids.id_of(&user)) else {
                continue;
            };
            let sent = self
                .directory
                .send_read_marker(id, node, &user.nick(), &marker)
                .await;
            if let Err(error) = sent {
                warn!(nick = %user.nick(), %error, "could not tell another node of a read marker");
            }
        }
    }

    /// An operator kills the user called `nick`: here through the hub, on another node
    /// through its inbox (answered once Redis has it; its node disconnects it, and everyone
    /// sees it quit when that node says it left).
    pub async fn kill(
        &self,
        killer: &Arc<User>,
        nick: &str,
        reason: &str,
    ) -> Result<Arc<User>, HubError> {
        let victim = self.hub.kill(killer, nick, reason)?;
        let Home::Node(node) = &victim.home else {
            return Ok(victim);
        };
        let gone = || HubError::NoSuchNick(nick.to_owned());
        let id = self.ids.id_of(&victim).ok_or_else(gone)?;
        // Taken from the hub's copy of a user no session here reads: its node carries it out.
        let kill = victim.take_kill().ok_or_else(gone)?;
        let order = KillOrder {
            by: Sender::of(&kill.by),
            reason: kill.reason.to_string(),
        };
        match self
            .directory
            .send_kill(id, node, &victim.nick(), &order)
            .await
        {
            Ok(true) => Ok(victim),
            Ok(false) => Err(gone()),
            Err(error) => {
                warn!(%error, "could not send a kill to another node");
                Err(HubError::NetworkUnreachable)
            }
        }
    }

    /// The user leaves the hub and the directory; a failure to tell the directory is logged,
    /// and the user is released with the rest of this node's when it next starts (or, should
    /// it die, by the node that sees its lease lapse). Without a reason (this node is shutting
    /// down) nobody here is told, but the other nodes' users are: the network goes on.
    pub async fn disconnect(&self, user: &Arc<User>, reason: Option<&str>) -> Vec<EndedRoom> {
        let ended = self.hub.disconnect(user, reason);
        if let Some(id) = self.ids.remove_user(user) {
            let nick = user.nick();
            let told = reason.unwrap_or(NODE_SHUT_DOWN);
            // A fenced node's users are released by the others' heartbeat (or by this node
            // when it registers again), and its scripts are refused: the connection need not
            // wait for an answer that cannot come.
            let telling = self.directory.disconnect(id, &nick, Some(told));
            if let Some(Err(error)) = self.before_fence(telling).await {
                warn!(%nick, %error, "could not tell the cluster a user left");
            }
        }
        ended
    }

    /// Joins `user` to the room called `name` (with `key`), as decided on the hub and made by
    /// Redis; decided again, up to [`DECIDE_TRIES`] times, when Redis found the room other than
    /// the hub did.
    pub async fn join(
        &self,
        user: &Arc<User>,
        name: &str,
        key: Option<&str>,
    ) -> Result<Joined, HubError> {
        let id = self.id_of(user)?;
        for _ in 0..DECIDE_TRIES {
            let (op, founding) = match self.hub.decide_join(user, name, key)? {
                JoinDecision::AlreadyMember(room) => return Ok(Joined::AlreadyMember(room)),
                JoinDecision::Join { op, founding } => (op, founding),
            };
            let join = RoomJoin {
                room: name.to_owned(),
                op,
                founding,
            };
            let outcome = self
                .directory
                .join_room(id, &user.nick(), &join)
                .await
                .map_err(unreachable)?;
            match outcome {
                JoinOutcome::Joined { sequence } => {
                    self.caught_up(sequence).await?;
                    return self.joined(user, name);
                }
                JoinOutcome::Stale { sequence } => self.caught_up(sequence).await?,
                // Its earlier join is on its way; the hub shows it once applied.
                JoinOutcome::Member => return self.joined(user, name),
                // This node's claim on the user lapsed (it was fenced): it cannot speak for it.
                JoinOutcome::Gone => return Err(HubError::NetworkUnreachable),
            }
        }
        Err(HubError::NetworkUnreachable)
    }

    /// The joiner's own copy of its join, now that the hub applied it.
    fn joined(&self, user: &Arc<User>, name: &str) -> Result<Joined, HubError> {
        // Kicked out again already: as if it had joined and been kicked, which it was.
        let room = user
            .room(&fold(name))
            .ok_or_else(|| HubError::NoSuchRoom(name.to_owned()))?;
        let event = Event::Joined {
            time: Timestamp::now(),
            room: room.name().clone(),
            who: user.identity(),
        };
        let topic = room.topic();
        Ok(Joined::New { room, event, topic })
    }

    /// Takes `user` out of `room`.
    pub async fn part(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        reason: Option<&str>,
    ) -> Result<Departure, HubError> {
        let not_in_room = || HubError::NotInRoom(room.name().to_string());
        if user.room(room.key()).is_none() {
            return Err(not_in_room());
        }
        let part = RoomPart {
            room: room.name().to_string(),
            reason: reason.map(|reason| truncate(reason, REASON_MAX_BYTES).to_owned()),
        };
        let left = self
            .leave(user, room, EventKind::Parted, wire::encode(&part))
            .await?
            .ok_or_else(not_in_room)?;
        let event = Event::Parted {
            time: time_of(left.event.id),
            room: room.name().clone(),
            who: user.identity(),
            reason: part.reason.map(Into::into),
        };
        Ok(departure(event, room, left))
    }

    /// Takes `user` out of every room it is in (IRC `JOIN 0`), one after another.
    pub async fn part_all(&self, user: &Arc<User>) -> Vec<Departure> {
        let mut departures = Vec::new();
        for room in user.rooms() {
            match self.part(user, &room, None).await {
                Ok(departure) => departures.push(departure),
                Err(error) => warn!(room = %room.name(), %error, "could not part a room"),
            }
        }
        departures
    }

    /// `user`, an operator of `room`, kicks the member called `nick` out of it.
    pub async fn kick(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        nick: &str,
        reason: &str,
    ) -> Result<Departure, HubError> {
        let target = self.hub.decide_kick(user, room, nick)?;
        let identity = user.identity();
        let kick = RoomKick {
            room: room.name().to_string(),
            by_id: self.actor_id(user)?.0,
            by: Sender::of(&identity),
            reason: truncate(reason, KICK_REASON_MAX_BYTES).to_owned(),
        };
        let left = self
            .leave(&target, room, EventKind::Kicked, wire::encode(&kick))
            .await?
            .ok_or_else(|| HubError::UserNotInRoom {
                nick: nick.to_owned(),
                room: room.name().to_string(),
            })?;
        let event = Event::Kicked {
            time: time_of(left.event.id),
            room: room.name().clone(),
            by: identity,
            nick: target.nick(),
            reason: kick.reason.into(),
        };
        Ok(departure(event, room, left))
    }

    /// Takes `member` out of `room` in Redis (`kind`: how, `body`: what others are told) and
    /// waits until the hub has too; `None` if it was not a member.
    async fn leave(
        &self,
        member: &User,
        room: &Room,
        kind: EventKind,
        body: Vec<u8>,
    ) -> Result<Option<Left>, HubError> {
        let id = self.id_of(member)?;
        let left = self
            .directory
            .leave_room(id, &member.nick(), room.key(), kind, body)
            .await
            .map_err(unreachable)?;
        if let Some(left) = &left {
            self.caught_up(left.event.sequence).await?;
        }
        Ok(left)
    }

    /// An operator's `WALLOPS`: told to every node (whose users who asked for wallops get it
    /// when the state feed brings it), then delivered here.
    pub async fn wallops(&self, sender: &Arc<User>, text: &str) -> Result<Option<Event>, HubError> {
        sender.operator().ok_or(HubError::NeedServerOperator)?;
        let wallops = WallopsMessage {
            node: self.directory.node().to_owned(),
            from: Sender::of(&sender.identity()),
            text: text.to_owned(),
        };
        self.tell_every_node(sender, EventKind::Wallops, wire::encode(&wallops))
            .await?;
        self.hub.wallops(sender, text)
    }

    /// Puts a server ban in force on every node: told to the others (each disconnects its
    /// users it bars when the state feed brings it), then here; how many it disconnected here.
    pub async fn add_server_ban(
        &self,
        operator: &Arc<User>,
        ban: ServerBan,
    ) -> Result<usize, HubError> {
        operator.operator().ok_or(HubError::NeedServerOperator)?;
        let order = ServerBanOrder {
            node: self.directory.node().to_owned(),
            target: ban.target.to_string(),
            reason: ban.reason.clone(),
            set_by: ban.set_by.clone(),
            set_at_ms: ban.set_at.0,
            expires_ms: ban.expires.map(|expires| expires.0),
        };
        self.tell_every_node(operator, EventKind::Banned, wire::encode(&order))
            .await?;
        self.hub.add_server_ban(operator, ban)
    }

    /// Lifts the server ban on `target` on every node; whether this one had it.
    pub async fn remove_server_ban(
        &self,
        operator: &Arc<User>,
        target: &BanTarget,
    ) -> Result<bool, HubError> {
        operator.operator().ok_or(HubError::NeedServerOperator)?;
        let lift = ServerBanLift {
            node: self.directory.node().to_owned(),
            target: target.to_string(),
        };
        self.tell_every_node(operator, EventKind::Unbanned, wire::encode(&lift))
            .await?;
        self.hub.remove_server_ban(operator, target)
    }

    /// Publishes an operator's network-wide `kind` of event on the state feed.
    async fn tell_every_node(
        &self,
        operator: &Arc<User>,
        kind: EventKind,
        body: Vec<u8>,
    ) -> Result<(), HubError> {
        let id = self.actor_id(operator)?;
        let nick = operator.nick();
        let telling = self.directory.tell_every_node(id, &nick, kind, body);
        match self.before_fence(telling).await {
            Some(Ok(_)) => Ok(()),
            Some(Err(error)) => {
                warn!(%error, kind = kind.word(), "the cluster did not answer an operator's change");
                Err(HubError::NetworkUnreachable)
            }
            None => Err(HubError::NetworkUnreachable),
        }
    }

    /// Says something in `room` (to the members with at least `minimum` status, if given):
    /// Redis gives the message its id and its place in the network's order, and stores it in
    /// the history in the same step if it is kept there ([`Self::stored_with_publication`]);
    /// every node, this one included, delivers it as the state feed brings it. The sender's
    /// copy.
    pub async fn say(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        minimum: Option<MemberStatus>,
        said: &Said<'_>,
    ) -> Result<Event, HubError> {
        self.hub.decide_say(user, room)?;
        let identity = user.identity();
        let message = RoomMessage {
            room: room.name().to_string(),
            minimum: minimum.map(Into::into),
            from: Sender::of(&identity),
            kind: said.kind.into(),
            text: said.text.to_owned(),
            concat_at: said.concat_at.to_vec(),
            client_tags: said.client_tags.to_owned(),
        };
        // Made once, before Redis gives it its id: what the history keeps of it (the id and
        // time left for the script to fill in), then the sender's copy, numbered.
        let unnumbered = message.clone().into_event(0);
        let entry = self.entry_for(&unnumbered, user, None)?;
        let id = self.id_of(user)?;
        let nonce = self.directory.nonce();
        let started = Instant::now();
        let published = self
            .until_answered(|| {
                self.directory
                    .say_in_room(id, &identity.nick, &message, entry.as_ref(), &nonce)
            })
            .await?
            .ok_or_else(|| HubError::NoSuchRoom(room.name().to_string()))?;
        if entry.is_some() {
            self.history.stored(started.elapsed());
        }
        // Redis has stored and ordered it: its receipt stands even if this node's feed is
        // late (a warning is logged), and the members here get it when the feed brings it.
        let _ = self.caught_up(published.sequence).await;
        Ok(numbered(unnumbered, published.id))
    }

    /// The history entry of `event`, a message `sender` sent (to `recipient`, if private),
    /// to store with its publication, if history keeps it; its id and time are the script's
    /// to fill in.
    fn entry_for(
        &self,
        event: &Event,
        sender: &User,
        recipient: Option<&User>,
    ) -> Result<Option<HistoryEntry>, HubError> {
        message_to_store(event, sender, recipient)
            .map(|stored| self.history.entry_for(&stored))
            .transpose()
            .map_err(|error| HubError::NotSaved(error.to_string()))
    }

    /// Whether `event`, a message this node's user sent (to `recipient`, if private), was
    /// stored with its publication: a room's messages are ([`Self::say`]), and private ones
    /// to another node's user ([`Self::message_user`]), so the session does not store them
    /// again.
    pub fn stored_with_publication(event: &Event, recipient: Option<&User>) -> bool {
        match event {
            Event::Message {
                target: Target::Room(_),
                ..
            } => true,
            Event::Message {
                target: Target::User(_),
                ..
            } => recipient.is_some_and(|recipient| matches!(recipient.home, Home::Node(_))),
            _ => false,
        }
    }

    /// Sets (or, empty, clears) the topic of `room`.
    pub async fn set_topic(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        topic: &str,
    ) -> Result<Event, HubError> {
        self.hub.decide_topic(user, room)?;
        let identity = user.identity();
        let topic = truncate(topic, TOPIC_MAX_BYTES);
        let body = RoomTopic {
            room: room.name().to_string(),
            by: Sender::of(&identity),
            topic: topic.to_owned(),
        };
        let published = self
            .directory
            .set_room_topic(
                self.actor_id(user)?,
                &identity.nick,
                &body,
                &identity.mask(),
            )
            .await
            .map_err(unreachable)?
            .ok_or_else(|| HubError::NoSuchRoom(room.name().to_string()))?;
        self.caught_up(published.sequence).await?;
        Ok(Event::TopicChanged {
            time: time_of(published.id),
            room: room.name().clone(),
            by: identity,
            topic: topic.into(),
        })
    }

    /// `user` invites the user called `nick` into the room called `room_name`; the invitee.
    pub async fn invite(
        &self,
        user: &Arc<User>,
        nick: &str,
        room_name: &str,
    ) -> Result<Arc<User>, HubError> {
        let (room, invitee, by_operator) = self.hub.decide_invite(user, nick, room_name)?;
        let invite = RoomInvite {
            room: room.name().to_string(),
            by_id: self.id_of(user)?.0,
            by: Sender::of(&user.identity()),
            by_operator,
        };
        let published = self
            .directory
            .publish_in_room(self.id_of(&invitee)?, &invitee.nick(), &invite)
            .await
            .map_err(unreachable)?
            .ok_or_else(|| HubError::NoSuchRoom(room_name.to_owned()))?;
        self.caught_up(published.sequence).await?;
        Ok(invitee)
    }

    /// `room` is registered to `record`'s founder (saved in the store already): every node
    /// makes its founder its operator on joining and keeps the room when it empties. A
    /// failure is logged: the registration holds, and the other nodes learn of it from the
    /// store when they next start.
    pub async fn mark_registered(&self, user: &User, room: &Room, record: RoomRecord) {
        let registration = RoomRegistration {
            room: room.name().to_string(),
            founder: record.founder.clone(),
        };
        let registered = match self.id_of(user) {
            Ok(id) => self
                .directory
                .publish_in_room(id, &user.nick(), &registration)
                .await
                .map_err(unreachable),
            Err(error) => Err(error),
        };
        match registered {
            Ok(Some(published)) if self.caught_up(published.sequence).await.is_ok() => {}
            // The room emptied meanwhile, or the cluster did not answer: this node knows.
            _ => self.hub.mark_registered(room, record),
        }
    }

    /// Deletes a message of `room` (gone from the store already): every node tells its members
    /// who want to hear of deletions. The deleter's copy.
    pub async fn redact_in_room(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        deletion: Deletion<'_>,
    ) -> Result<Event, HubError> {
        let decided = self.hub.decide_deletion(user, room, deletion)?;
        let body = RoomDeletion::of(&decided).expect("a deletion in a room");
        let published = self
            .directory
            .publish_in_room(self.id_of(user)?, &user.nick(), &body)
            .await
            .map_err(unreachable)?
            .ok_or_else(|| HubError::NoSuchRoom(room.name().to_string()))?;
        self.caught_up(published.sequence).await?;
        Ok(body.into_event(published.id))
    }

    /// Deletes a private message `user` sent to whoever used the nick `peer` as `recipient`
    /// (gone from the store already): told here by the hub to a user of this node, through
    /// its node's inbox to another node's user — checked here to be that party still, as
    /// every user's connection id is the same on every node. The deleter's copy.
    pub async fn redact_private(
        &self,
        user: &Arc<User>,
        peer: &str,
        recipient: &Party,
        deletion: Deletion<'_>,
    ) -> Result<Event, HubError> {
        let event = self.hub.redact_private(user, peer, recipient, deletion)?;
        let Some(holder) = self
            .hub
            .user_by_nick(peer)
            .filter(|holder| holder.reader_parties().contains(recipient))
        else {
            return Ok(event);
        };
        let (Home::Node(node), Some(id)) = (&holder.home, self.ids.id_of(&holder)) else {
            return Ok(event);
        };
        let body = PrivateDeletion::of(&event).expect("redact_private makes a private deletion");
        let nick = holder.nick();
        let sending = self.directory.send_private_deletion(id, node, &nick, &body);
        // Not sent when it left meanwhile: like a deletion for a recipient who has gone.
        match self.before_fence(sending).await {
            Some(Ok(_sent)) => Ok(event),
            Some(Err(error)) => Err(unreachable(error)),
            None => Err(HubError::NetworkUnreachable),
        }
    }

    /// Changes the modes of `room`, as decided on the hub and made by Redis if no other change
    /// of them came first; decided again, up to [`DECIDE_TRIES`] times, if one did.
    pub async fn change_modes(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        changes: Vec<ModeChange>,
    ) -> Result<ModeOutcome, HubError> {
        let id = self.actor_id(user)?;
        for _ in 0..DECIDE_TRIES {
            let decided = self.hub.decide_modes(user, room, changes.clone())?;
            if decided.changes.is_empty() {
                return Ok(ModeOutcome {
                    event: None,
                    errors: decided.errors,
                });
            }
            let identity = user.identity();
            let (modes, arguments) = spell_changes(&decided.changes);
            let change = RoomModeChange {
                room: room.name().to_string(),
                by_id: id.0,
                by: Sender::of(&identity),
                modes,
                arguments,
            };
            let rules = RoomRules::of(&decided.modes, &decided.lists);
            let statuses: Vec<(ClusterUserId, &str)> = decided
                .statuses
                .iter()
                .filter_map(|(member, op, voice)| {
                    let rank = MemberRank {
                        op: *op,
                        voice: *voice,
                    };
                    Some((self.ids.id_of(member)?, rank.spelled()))
                })
                .collect();
            let outcome = self
                .directory
                .change_room_modes(
                    id,
                    &identity.nick,
                    decided.version,
                    &change,
                    &rules,
                    &statuses,
                )
                .await
                .map_err(unreachable)?;
            match outcome {
                ModesOutcome::Changed(published) => {
                    self.caught_up(published.sequence).await?;
                    let event = Event::ModeChanged {
                        time: time_of(published.id),
                        room: room.name().clone(),
                        by: identity,
                        changes: decided.changes,
                    };
                    return Ok(ModeOutcome {
                        event: Some(event),
                        errors: decided.errors,
                    });
                }
                ModesOutcome::Stale { sequence } => self.caught_up(sequence).await?,
                ModesOutcome::Gone => return Err(HubError::NoSuchRoom(room.name().to_string())),
            }
        }
        Err(HubError::NetworkUnreachable)
    }

    /// Makes `call` — one that counts once however often it is made, by its nonce — until
    /// Redis answers it: a call whose answer did not come (a timeout, a connection dropped, a
    /// Redis down) is made again once this node's link is back, so that a message on its way
    /// when the link failed is delivered once, late, rather than left in doubt. Redis's own
    /// refusal (the fence's, a script's) is final: nothing was done. Only a node fenced
    /// before the answer came leaves it in doubt.
    async fn until_answered<T, F: Future<Output = Result<T, RedisError>>>(
        &self,
        call: impl Fn() -> F,
    ) -> Result<T, HubError> {
        let answered = async {
            loop {
                let error = match call().await {
                    Ok(answer) => return Ok(answer),
                    Err(error) => error,
                };
                if let redis::ErrorKind::Server(kind) = error.kind()
                    && kind != redis::ServerErrorKind::ReadOnly
                {
                    warn!(%error, "the cluster refused a message");
                    return Err(HubError::NetworkUnreachable);
                }
                warn!(%error, "the cluster did not answer a message; sending it again once the link is back");
                tokio::time::sleep(ANSWER_RETRY_PAUSE).await;
                let mut link = self.link.clone();
                if link
                    .wait_for(|state| *state == LinkState::Connected)
                    .await
                    .is_err()
                {
                    return Err(HubError::MessageInDoubt);
                }
            }
        };
        self.before_fence(answered)
            .await
            .unwrap_or(Err(HubError::MessageInDoubt))
    }

    /// Waits for `call`, unless this node is (or becomes) fenced first: `None` then.
    async fn before_fence<F: Future>(&self, call: F) -> Option<F::Output> {
        let mut link = self.link.clone();
        tokio::select! {
            answer = call => Some(answer),
            Ok(_) = link.wait_for(|state| *state == LinkState::Fenced) => None,
        }
    }

    /// Waits until this node's hub has applied the state feed up to `sequence`.
    async fn caught_up(&self, sequence: u64) -> Result<(), HubError> {
        let mut applied = self.applied.clone();
        let waited = tokio::time::timeout(
            APPLY_TIMEOUT,
            applied.wait_for(|applied| *applied >= sequence),
        )
        .await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => {
                warn!(
                    sequence,
                    "this node did not apply a change of its own in time"
                );
                Err(HubError::NetworkUnreachable)
            }
        }
    }

    /// The cluster id of this node's `user`.
    fn id_of(&self, user: &User) -> Result<ClusterUserId, HubError> {
        self.ids
            .id_of(user)
            .ok_or_else(|| HubError::NoSuchNick(user.nick().into()))
    }

    /// Who a change (a kick, a topic, modes, a ban, wallops) is by, as its event names it:
    /// this node's user, or [`ADMINISTRATOR`] for an administrator acting through the
    /// administration API, who is no user of the cluster.
    fn actor_id(&self, user: &User) -> Result<ClusterUserId, HubError> {
        if user.is_administrator() {
            return Ok(ADMINISTRATOR);
        }
        self.id_of(user)
    }
}

/// A departure from `room` as Redis made it: the room's lifetime ended with its last member
/// (unless registered), after every message it had (their ids are below the departure's).
fn departure(event: Event, room: &Room, left: Left) -> Departure {
    let ended = (left.emptied && !room.is_registered()).then(|| EndedRoom {
        name: room.name().clone(),
        history_end: MessageId(left.event.id),
    });
    Departure { event, ended }
}

/// The hub's word for a room change Redis did not answer.
fn unreachable(error: RedisError) -> HubError {
    warn!(%error, "the cluster did not answer a change of a room");
    HubError::NetworkUnreachable
}

/// `event`, a message made before Redis gave it its id, with that id and the time it says.
fn numbered(mut event: Event, id: u64) -> Event {
    if let Event::Message {
        id: message_id,
        time,
        ..
    } = &mut event
    {
        *message_id = MessageId(id);
        *time = time_of(id);
    }
    event
}

/// What the directory keeps of a user arriving from `peer` as `identity`.
fn facts_of(peer: SocketAddr, protocol: Protocol, identity: &Identity) -> UserFacts {
    UserFacts {
        address: peer.ip(),
        protocol,
        user: identity.user.to_string(),
        host: identity.host.to_string(),
        realname: identity.realname.to_string(),
    }
}

/// Whether `user` is logged in to the account named `account`.
fn holds_account(user: &User, account: &str) -> bool {
    user.identity()
        .account
        .as_deref()
        .is_some_and(|held| fold(held) == fold(account))
}

/// The hub's word for a claim of `nick` the directory refused.
fn refusal(error: ClaimError, nick: &str) -> HubError {
    match error {
        ClaimError::Taken => HubError::NickTaken(nick.to_owned()),
        // The directory and this node disagree on a nick of this node's user: the node was
        // fenced and its users released meanwhile, or Redis did not answer.
        ClaimError::Stale | ClaimError::Redis(_) => {
            if let ClaimError::Redis(error) = &error {
                warn!(%error, "the cluster's directory of users did not answer");
            }
            HubError::NetworkUnreachable
        }
    }
}
