//! The feeds' appliers (docs/CLUSTER.md, "The replica"): keep this node's hub in step with the
//! users the other nodes connect, rename and lose, as the state feed tells of them
//! ([`StateChanges`]), and deliver what the other nodes put in this node's inbox to its users
//! ([`InboxDeliveries`]).
//!
//! An [`Applier`] applies a feed's envelopes in the feed's order, each once (`feed.rs` decides
//! which to apply, drop or hold), and is synchronous, like the hub it changes; [`follow`]
//! feeds it from Redis: the live channel, and the stream to catch up on what came before the
//! subscription or fell into a gap.
//!
//! A node's own users are its sessions' business (they are in its hub already); the state
//! feed's applier skips their events.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use palaver_proto::event::{Event, Identity};
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::feed::{Follower, Offered};
use super::rooms::OpenRoom;
use super::user_ids::UserIds;
use super::users::{ClusterUserId, Feed, FeedError, Snapshot, UserDirectory};
use super::wire::{
    Arrival, Departure, Envelope, EventKind, KillOrder, LogOut, MovedAside, Presence,
    PrivateDeletion, PrivateMessage, ReadMarker, RoomDeletion, RoomInvite, RoomJoin, RoomKick,
    RoomMessage, RoomModeChange, RoomPart, RoomRegistration, RoomTopic, ServerBanLift,
    ServerBanOrder, WallopsMessage, WireError,
};
use crate::hub::{Alert, BanTarget, Hub, Kill, ServerBan, Topic, User, time_of};
use crate::metrics::{CatchUpReason, ClusterMetrics};
use crate::store::redis_subscriber;

/// The quit reason others see when a user's node is gone and the cluster released its users.
pub const NODE_LOST: &str = "Its server left the network";

/// The quit reason this node's users see for another node's user that left while this node
/// was not listening (its departure was in a gap of the state feed that only a snapshot
/// could fill, and the reason it gave is lost).
pub const LEFT_UNSEEN: &str = "Left the network";

/// How many events one catch-up read asks for.
const CATCH_UP_PAGE: usize = 500;

/// What offering an envelope came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// This many events were applied: the one offered and those that waited for it.
    Applied(usize),
    /// Applied or held already.
    Duplicate,
    /// Held past a gap: read the stream after the event with this id and offer what it has.
    Gap { after_id: u64 },
}

/// What an applier does with each of its feed's events, in order.
pub trait Apply {
    fn apply(&mut self, event: Envelope);

    /// Whether, before it first follows its feed, it loads a snapshot of the directory of
    /// users and follows the feed only from the snapshot's last event on.
    fn loads_snapshot(&self) -> bool {
        false
    }

    /// Takes in the snapshot's users, rooms and server bans, against what it holds already.
    fn load(&mut self, _snapshot: Snapshot) {}
}

/// A feed followed: its events applied in order, each once.
pub struct Applier<A> {
    follower: Follower<Envelope>,
    /// The id of the last event applied: where a read of the stream picks up.
    last_id: u64,
    apply: A,
}

/// The server ban another node's operator put in force, as the hub keeps it; `None` if its
/// target does not read (a newer node's kind of target).
fn ban_of(order: &ServerBanOrder) -> Option<ServerBan> {
    Some(ServerBan {
        target: order.target.parse().ok()?,
        reason: order.reason.clone(),
        set_by: order.set_by.clone(),
        set_at: Timestamp(order.set_at_ms),
        expires: order.expires_ms.map(Timestamp),
    })
}

/// This node's hub, following the state feed.
pub type StateApplier = Applier<StateChanges>;

/// This node's users, getting what the other nodes put in its inbox (private messages, kills,
/// logouts, read markers).
pub type InboxApplier = Applier<InboxDeliveries>;

impl<A: Apply> Applier<A> {
    /// Applies a feed from its first event on.
    pub fn new(apply: A) -> Self {
        Self {
            follower: Follower::after(0),
            last_id: 0,
            apply,
        }
    }

    /// The sequence number of the last event applied.
    pub fn applied(&self) -> u64 {
        self.follower.applied()
    }

    /// Takes in `snapshot` and follows the feed from its last event on.
    pub fn load(&mut self, snapshot: Snapshot) {
        self.follower = Follower::after(snapshot.after_sequence);
        self.last_id = snapshot.after_id;
        self.apply.load(snapshot);
    }

    /// Starts over after its feed's stream could not fill a gap (`FeedError::Gap`): an
    /// applier that loads snapshots loads one when it next follows the feed, and makes what it
    /// holds what the snapshot says ([`Apply::load`]); another goes on from the feed's last
    /// event, the events it missed lost (and logged).
    pub async fn resync(
        &mut self,
        directory: &UserDirectory,
        feed: &Feed,
    ) -> Result<(), FeedError> {
        if self.apply.loads_snapshot() {
            self.follower = Follower::after(0);
            self.last_id = 0;
        } else {
            let (last_id, last_sequence) = directory.last_event(feed).await?;
            warn!(
                feed = %directory.channel(feed),
                missed = last_sequence.saturating_sub(self.applied()),
                "events of a feed were lost; going on from its last one"
            );
            self.follower = Follower::after(last_sequence);
            self.last_id = last_id;
        }
        Ok(())
    }

    /// Whether it has yet to take in anything.
    fn is_fresh(&self) -> bool {
        self.last_id == 0 && self.follower.applied() == 0
    }

    /// Offers one event, live or read from the stream.
    pub fn offer(&mut self, envelope: Envelope) -> Step {
        match self.follower.offer(envelope.sequence, envelope) {
            Offered::Apply(ready) => {
                let count = ready.len();
                for event in ready {
                    self.last_id = event.id;
                    self.apply.apply(event);
                }
                Step::Applied(count)
            }
            Offered::Duplicate => Step::Duplicate,
            Offered::Gap(_) => Step::Gap {
                after_id: self.last_id,
            },
        }
    }
}

impl StateApplier {
    /// Applies the state feed to `hub` for the node `node`, keeping the other nodes' users'
    /// cluster ids in `ids`.
    pub fn for_state(node: &str, hub: Arc<Hub>, ids: Arc<UserIds>) -> Self {
        Applier::new(StateChanges {
            node: node.to_owned(),
            hub,
            ids,
            loaded: HashMap::new(),
        })
    }
}

impl InboxApplier {
    /// Delivers this node's inbox to the users of `hub`, found by their cluster ids in `ids`.
    pub fn for_inbox(hub: Arc<Hub>, ids: Arc<UserIds>) -> Self {
        Applier::new(InboxDeliveries { hub, ids })
    }
}

/// The state feed's events, applied to the hub.
pub struct StateChanges {
    /// This node's name: events about its own users are skipped.
    node: String,
    hub: Arc<Hub>,
    /// The other nodes' users in the hub, by their id in the cluster (and this node's, which
    /// its `Network` keeps there).
    ids: Arc<UserIds>,
    /// The users loaded from a snapshot, with the id of the last event their record
    /// reflected: older events are not applied to them again.
    loaded: HashMap<ClusterUserId, u64>,
}

impl Apply for StateChanges {
    fn loads_snapshot(&self) -> bool {
        true
    }

    /// Makes the hub what the snapshot says, against what it holds already: nothing of the
    /// other nodes' at start; after a resync, what this node had before the gap, so that its
    /// users see what they missed as it would have come — the other nodes' users it lacks
    /// are added, those it has are shown as the snapshot has them (renamed, if their nick
    /// changed), and those the snapshot lacks quit ([`LEFT_UNSEEN`]); members the snapshot's
    /// rooms lack part, those it adds join, and the members already seated are left as they
    /// are, unannounced; the server bans become the store's.
    fn load(&mut self, snapshot: Snapshot) {
        self.hub.observe_event_id(snapshot.after_id);
        self.loaded.clear();
        let mut unseen: HashMap<ClusterUserId, Arc<User>> = self
            .ids
            .remote_users()
            .into_iter()
            .filter_map(|user| Some((self.ids.id_of(&user)?, user)))
            .collect();
        for record in snapshot.users {
            if record.arrival.node == self.node {
                continue;
            }
            self.loaded.insert(record.id, record.version);
            let user = match unseen.remove(&record.id) {
                Some(user) => {
                    if *user.nick() != *record.nick
                        && let Err(error) = self.hub.rename(&user, &record.nick)
                    {
                        warn!(nick = %record.nick, %error, "could not rename a user of another node");
                    }
                    Some(user)
                }
                None => self.admit(record.id, &record.nick, record.arrival),
            };
            if let Some(user) = user {
                self.show(&user, record.presence);
            }
        }
        for (id, user) in unseen {
            self.ids.remove_id(id);
            let _ended = self.hub.disconnect(&user, Some(LEFT_UNSEEN));
        }
        let members: HashSet<(String, ClusterUserId)> = snapshot
            .rooms
            .iter()
            .flat_map(|room| {
                let folded = fold(&room.name);
                room.members
                    .iter()
                    .map(move |(id, _)| (folded.clone(), *id))
            })
            .collect();
        self.part_members_not_in(&members, time_of(snapshot.after_id));
        for room in snapshot.rooms {
            self.load_room(room);
        }
        self.load_server_bans(snapshot.server_bans);
    }

    /// Changes the hub as `event` says. What cannot be applied (a body this node cannot read,
    /// a nick its hub holds otherwise) is logged and skipped: the feed goes on.
    fn apply(&mut self, event: Envelope) {
        // A user's record loaded from the snapshot may reflect this event already.
        if event.kind.changes_a_user_record()
            && self
                .loaded
                .get(&event.user)
                .is_some_and(|&version| version >= event.id)
        {
            return;
        }
        match event.kind {
            EventKind::Connected => {
                let arrival: Arrival = match event.body() {
                    Ok(arrival) => arrival,
                    Err(error) => {
                        warn!(user = %event.user, %error, "skipped an arrival on the state feed");
                        return;
                    }
                };
                if arrival.node != self.node {
                    self.admit(event.user, &event.nick, arrival);
                }
            }
            EventKind::Renamed => match self.ids.user(event.user) {
                // Renamed here already if this node reclaimed the nick from it.
                Some(user) if *user.nick() == *event.nick => {}
                Some(user) if user.outbox().is_none() => {
                    if let Err(error) = self.hub.rename(&user, &event.nick) {
                        warn!(nick = %event.nick, %error, "could not rename a user of another node");
                    }
                }
                // This node's own user, which another node moved off a nick its account's
                // owner reclaimed (its sessions made every other change of its nick).
                Some(user) if !event.body.is_empty() => match event.body::<MovedAside>() {
                    Ok(moved) => self.hub.move_aside(&user, &event.nick, moved.ghosted),
                    Err(error) => {
                        warn!(nick = %event.nick, %error, "skipped a rename on the state feed");
                    }
                },
                _ => {}
            },
            EventKind::Disconnected => {
                if self.remote(&event).is_some()
                    && let Some(user) = self.ids.remove_id(event.user)
                {
                    let reason = event
                        .body::<Departure>()
                        .map_or_else(|_| Some(String::new()), |departure| departure.reason);
                    // The rooms it ended are the cluster's to forget (their history is in
                    // Redis, removed by the function that ended them).
                    let _ended = self.hub.disconnect(&user, reason.as_deref());
                }
            }
            EventKind::Released => {
                if self.remote(&event).is_some()
                    && let Some(user) = self.ids.remove_id(event.user)
                {
                    let _ended = self.hub.disconnect(&user, Some(NODE_LOST));
                }
            }
            EventKind::Updated => {
                if let Some(user) = self.remote(&event) {
                    match event.body::<Presence>() {
                        Ok(presence) => self.show(&user, presence),
                        Err(error) => {
                            warn!(user = %event.user, %error, "skipped a change on the state feed");
                        }
                    }
                }
            }
            EventKind::Private
            | EventKind::Killed
            | EventKind::LoggedOut
            | EventKind::Marker
            | EventKind::PrivateRedacted => {
                warn!(user = %event.user, kind = event.kind.word(), "skipped an inbox event on the state feed");
            }
            EventKind::Joined
            | EventKind::Parted
            | EventKind::Kicked
            | EventKind::Said
            | EventKind::Topic
            | EventKind::Modes
            | EventKind::Invited
            | EventKind::Registered
            | EventKind::Redacted => self.apply_to_room(&event),
            EventKind::Banned | EventKind::Unbanned | EventKind::Wallops => {
                self.apply_everywhere(&event);
            }
        }
    }
}

impl StateChanges {
    /// A server ban put in force or lifted, or wallops, by another node's operator (the
    /// operator's own node did it already).
    fn apply_everywhere(&self, event: &Envelope) {
        let applied =
            match event.kind {
                EventKind::Banned => event.body().map(|order: ServerBanOrder| {
                    if order.node != self.node {
                        match ban_of(&order) {
                            Some(ban) => self.hub.apply_server_ban(ban),
                            None => {
                                warn!(target = %order.target, "skipped a server ban it cannot read")
                            }
                        }
                    }
                }),
                EventKind::Unbanned => event.body().map(|lift: ServerBanLift| {
                    match lift.target.parse::<BanTarget>() {
                        Ok(target) if lift.node != self.node => {
                            self.hub.apply_ban_lift(&target);
                        }
                        Ok(_) => {}
                        Err(_) => {
                            warn!(target = %lift.target, "skipped a ban's lifting it cannot read")
                        }
                    }
                }),
                EventKind::Wallops => event.body().map(|wallops: WallopsMessage| {
                    if wallops.node != self.node {
                        let from = wallops.from.into_identity();
                        self.hub
                            .apply_wallops(from, &wallops.text, time_of(event.id));
                    }
                }),
                _ => Ok(()),
            };
        if let Err(error) = applied {
            warn!(user = %event.user, kind = event.kind.word(), %error, "skipped an event on the state feed");
        }
    }

    /// Applies a room's event to the hub, whichever node's user it is about (this node's own
    /// included: its sessions wait for their changes to come back this way, so that every
    /// node makes them in the feed's order). What cannot be read is logged and skipped.
    fn apply_to_room(&self, event: &Envelope) {
        let applied = match event.kind {
            EventKind::Joined => event.body().map(|join| self.join(event, join)),
            EventKind::Parted => event.body().map(|part| self.part(event, part)),
            EventKind::Kicked => event.body().map(|kick| self.kick(event, kick)),
            EventKind::Said => event.body().map(|message| self.say(event, message)),
            EventKind::Topic => event.body().map(|topic| self.set_topic(event, topic)),
            EventKind::Modes => event.body().map(|change| self.change_modes(event, change)),
            EventKind::Invited => event.body().map(|invite| self.invite(event, invite)),
            EventKind::Registered => event.body().map(|registration: RoomRegistration| {
                self.hub
                    .apply_registration(&fold(&registration.room), &registration.founder);
            }),
            EventKind::Redacted => event.body().map(|deletion: RoomDeletion| {
                let deleter = self.ids.user(event.user).map(|deleter| deleter.id);
                let folded = fold(&deletion.room);
                self.hub
                    .apply_deletion(&folded, &deletion.into_event(event.id), deleter);
            }),
            _ => Ok(()),
        };
        if let Err(error) = applied {
            warn!(user = %event.user, kind = event.kind.word(), %error, "skipped a room's event on the state feed");
        }
    }

    /// Takes out of their rooms, announced, the members whose (room, cluster id) `members`
    /// lacks: they left while this node was not listening (at the latest at `time`).
    fn part_members_not_in(&self, members: &HashSet<(String, ClusterUserId)>, time: Timestamp) {
        for user in self.hub.users() {
            let Some(id) = self.ids.id_of(&user) else {
                continue;
            };
            for room in user.rooms() {
                if members.contains(&(room.key().to_string(), id)) {
                    continue;
                }
                let parted = Event::Parted {
                    time,
                    room: room.name().clone(),
                    who: user.identity(),
                    reason: None,
                };
                self.hub.apply_leave(&user, room.key(), &parted, None);
            }
        }
    }

    /// Makes the hub's server bans `kept`, the store's: those it lacks are put in force (its
    /// users they bar disconnected), those `kept` lacks lifted.
    fn load_server_bans(&self, kept: Vec<ServerBan>) {
        for ban in self.hub.server_bans() {
            if !kept.iter().any(|kept| kept.target == ban.target) {
                self.hub.apply_ban_lift(&ban.target);
            }
        }
        let held = self.hub.server_bans();
        for ban in kept {
            if !held.contains(&ban) {
                self.hub.apply_server_ban(ban);
            }
        }
    }

    /// Adds a room of the snapshot: its members as they were then (the first of them found
    /// it again here, with its history's floor), and its topic.
    fn load_room(&self, room: OpenRoom) {
        let folded = fold(&room.name);
        let mut founding = true;
        let mut voiced = Vec::new();
        for (id, rank) in room.members {
            let Some(user) = self.ids.user(id) else {
                continue;
            };
            self.hub
                .apply_join(&user, &room.name, rank.op, founding, room.floor);
            founding = false;
            if rank.voice {
                voiced.push(user.id);
            }
        }
        let rules = room.rules.and_then(|rules| {
            let parts = rules.into_parts();
            if parts.is_none() {
                warn!(room = %room.name, "skipped a room's modes this node cannot read");
            }
            parts
        });
        if let Some((modes, lists)) = rules {
            self.hub
                .load_rules(&folded, modes, lists, room.rules_version, &voiced);
        }
        if let Some(topic) = room.topic {
            let topic = Topic {
                text: topic.text.into(),
                set_by: topic.set_by.into(),
                set_at: time_of(topic.set_at),
            };
            self.hub.load_topic(&folded, topic);
        }
    }

    fn join(&self, event: &Envelope, join: RoomJoin) {
        // Gone already: its departure, later on the feed, has nothing to take it out of.
        if let Some(user) = self.ids.user(event.user) {
            self.hub
                .apply_join(&user, &join.room, join.op, join.founding, event.id);
        }
    }

    fn part(&self, event: &Envelope, part: RoomPart) {
        let Some(user) = self.ids.user(event.user) else {
            return;
        };
        let parted = Event::Parted {
            time: time_of(event.id),
            room: part.room.as_str().into(),
            who: user.identity(),
            reason: part.reason.map(Into::into),
        };
        self.hub
            .apply_leave(&user, &fold(&part.room), &parted, Some(user.id));
    }

    fn kick(&self, event: &Envelope, kick: RoomKick) {
        let Some(user) = self.ids.user(event.user) else {
            return;
        };
        let kicker = self.ids.user(ClusterUserId(kick.by_id));
        let kicked = Event::Kicked {
            time: time_of(event.id),
            room: kick.room.as_str().into(),
            by: Arc::new(kick.by.into_identity()),
            nick: user.nick(),
            reason: kick.reason.into(),
        };
        let except = kicker.map(|kicker| kicker.id);
        self.hub
            .apply_leave(&user, &fold(&kick.room), &kicked, except);
    }

    fn say(&self, event: &Envelope, message: RoomMessage) {
        let folded = fold(&message.room);
        let minimum = message.minimum.map(Into::into);
        let sender = self.ids.user(event.user);
        let message = message.into_event(event.id);
        self.hub
            .apply_message(sender.as_ref(), &message, &folded, minimum);
    }

    fn set_topic(&self, event: &Envelope, topic: RoomTopic) {
        let setter = self.ids.user(event.user).map(|setter| setter.id);
        self.hub.apply_topic(
            &fold(&topic.room),
            Arc::new(topic.by.into_identity()),
            &topic.topic,
            time_of(event.id),
            setter,
        );
    }

    fn change_modes(&self, event: &Envelope, change: RoomModeChange) {
        let Some(changes) = change.changes() else {
            warn!(room = %change.room, modes = %change.modes, "skipped mode changes this node cannot read");
            return;
        };
        let changer = self.ids.user(ClusterUserId(change.by_id));
        let _event = self.hub.apply_modes(
            &fold(&change.room),
            Arc::new(change.by.into_identity()),
            changes,
            event.id,
            changer.map(|changer| changer.id),
        );
    }

    fn invite(&self, event: &Envelope, invite: RoomInvite) {
        let Some(invitee) = self.ids.user(event.user) else {
            return;
        };
        let inviter = self.ids.user(ClusterUserId(invite.by_id));
        self.hub.apply_invite(
            &fold(&invite.room),
            &invitee,
            Arc::new(invite.by.into_identity()),
            invite.by_operator,
            event.id,
            inviter.map(|inviter| inviter.id),
        );
    }

    /// Adds another node's user to the hub under `nick`, as it arrived.
    fn admit(&self, id: ClusterUserId, nick: &str, arrival: Arrival) -> Option<Arc<User>> {
        let identity = Identity {
            nick: nick.into(),
            user: arrival.user.into(),
            host: arrival.host.into(),
            realname: arrival.realname.into(),
            account: None,
            bot: false,
        };
        let peer = SocketAddr::new(arrival.address, 0);
        match self.hub.admit_remote(
            arrival.node.into(),
            peer,
            arrival.protocol,
            identity,
            id.connection(),
        ) {
            Ok(user) => {
                self.ids.insert(id, user.clone());
                Some(user)
            }
            Err(error) => {
                warn!(%nick, %error, "could not add a user of another node");
                None
            }
        }
    }

    /// Shows another node's `user` as `presence` says, through the hub's own changes (so that
    /// this node's users hear of what changed: `away-notify`, `account-notify`, `SETNAME`),
    /// changing only what differs.
    fn show(&self, user: &Arc<User>, presence: Presence) {
        let identity = user.identity();
        if user.away().as_deref() != presence.away.as_deref() {
            self.hub.set_away(user, presence.away.as_deref());
        }
        if *identity.realname != *presence.realname {
            let _event = self.hub.set_realname(user, &presence.realname);
        }
        if identity.account.as_deref() != presence.account.as_deref() {
            self.hub.set_account(user, presence.account.as_deref());
        }
        if identity.bot != presence.bot {
            self.hub.set_bot(user, presence.bot);
        }
        user.set_invisible(presence.invisible);
        if user.operator().as_deref() != presence.operator.as_deref() {
            user.set_operator(presence.operator.map(Into::into));
        }
    }

    /// The other node's user `event` is about, if this node's hub has it (this node's own
    /// users are its sessions' to change).
    fn remote(&self, event: &Envelope) -> Option<Arc<User>> {
        self.ids
            .user(event.user)
            .filter(|user| user.outbox().is_none())
    }
}

/// This node's inbox, delivered to its users.
pub struct InboxDeliveries {
    hub: Arc<Hub>,
    ids: Arc<UserIds>,
}

impl Apply for InboxDeliveries {
    /// Delivers a private message or a read marker to its recipient, or carries out a kill
    /// or a logout, if the user is still connected here (gone meanwhile: like a message to a user who left as it
    /// was sent); what cannot be read is logged and skipped.
    fn apply(&mut self, event: Envelope) {
        let Some(user) = self
            .ids
            .user(event.user)
            .filter(|user| user.outbox().is_some())
        else {
            return;
        };
        let skipped = |error: WireError| {
            warn!(user = %event.user, kind = event.kind.word(), %error, "skipped an inbox event");
        };
        match event.kind {
            EventKind::Private => match event.body::<PrivateMessage>() {
                Ok(message) => {
                    self.hub.observe_event_id(event.id);
                    self.hub
                        .deliver_private(&user, &message.into_event_as(event.id));
                }
                Err(error) => skipped(error),
            },
            EventKind::Killed => match event.body::<KillOrder>() {
                Ok(order) => {
                    let kill = Kill {
                        by: Arc::new(order.by.into_identity()),
                        reason: order.reason.into(),
                    };
                    self.hub.carry_out_kill(&user, kill);
                }
                Err(error) => skipped(error),
            },
            EventKind::LoggedOut => match event.body::<LogOut>() {
                Ok(log_out) => {
                    // As the hub logs out the account's sessions here; the session tells the
                    // cluster (`Network::share_presence`).
                    let why = if log_out.locked {
                        Alert::AccountLocked
                    } else {
                        Alert::LoggedOut
                    };
                    self.hub.log_out(&user, why);
                }
                Err(error) => skipped(error),
            },
            EventKind::Marker => match event.body::<ReadMarker>() {
                Ok(marker) => self.hub.deliver_read_marker(&user, &marker.into_event()),
                Err(error) => skipped(error),
            },
            EventKind::PrivateRedacted => match event.body::<PrivateDeletion>() {
                Ok(deletion) => self
                    .hub
                    .deliver_private_deletion(&user, &deletion.into_event()),
                Err(error) => skipped(error),
            },
            _ => skipped(WireError::BadBody("not an inbox event".into())),
        }
    }
}

/// Follows `feed` into `applier` until `stop`: subscribes to its channel, catches up on the
/// stream from the last event applied, then applies each event as it arrives, reading the
/// stream again whenever one comes after a gap. `applied` is told the sequence number of the
/// last event applied after each step. Ends with an error when the subscription is lost or
/// the stream cannot fill a gap (the node must then load the replica afresh).
pub async fn follow<A: Apply>(
    url: &str,
    directory: &UserDirectory,
    feed: &Feed,
    applier: &mut Applier<A>,
    applied: &watch::Sender<u64>,
    stop: &CancellationToken,
    metrics: Option<&ClusterMetrics>,
) -> Result<(), FeedError> {
    let mut subscriber = redis_subscriber(url).await?;
    // Subscribed before reading the stream: nothing published in between is missed, and
    // what both bring is applied once.
    subscriber.subscribe(directory.channel(feed)).await?;
    if applier.is_fresh() && applier.apply.loads_snapshot() {
        applier.load(directory.snapshot().await?);
    }
    let count = |reason: Option<CatchUpReason>, events: usize| {
        if let Some(metrics) = metrics {
            let events = events as u64;
            metrics.applied(feed.kind(), events);
            if let Some(reason) = reason {
                metrics.caught_up(reason, events);
            }
        }
    };
    let caught_up = catch_up(directory, feed, applier).await?;
    count(Some(CatchUpReason::Reconnect), caught_up);
    applied.send_replace(applier.applied());
    let mut messages = subscriber.on_message();
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            message = messages.next() => message,
        };
        let Some(message) = message else {
            return Err(FeedError::Lost(format!(
                "the subscription to {} ended",
                directory.channel(feed)
            )));
        };
        let envelope = Envelope::parse(message.get_payload_bytes())?;
        match applier.offer(envelope) {
            Step::Applied(events) => count(None, events),
            Step::Duplicate => {}
            Step::Gap { .. } => {
                let caught_up = catch_up(directory, feed, applier).await?;
                count(Some(CatchUpReason::Gap), caught_up);
            }
        }
        applied.send_replace(applier.applied());
    }
}

/// Reads the stream after the last event applied and offers what it has, page by page, until
/// it has no more; how many events that applied. A page that applies nothing while events wait
/// past a gap means the stream lacks them (lost or trimmed away).
async fn catch_up<A: Apply>(
    directory: &UserDirectory,
    feed: &Feed,
    applier: &mut Applier<A>,
) -> Result<usize, FeedError> {
    let start = applier.applied();
    loop {
        let page = directory
            .events_after(feed, applier.last_id, CATCH_UP_PAGE)
            .await?;
        let full = page.len() == CATCH_UP_PAGE;
        let before = applier.applied();
        let mut gap = false;
        for envelope in page {
            gap |= matches!(applier.offer(envelope), Step::Gap { .. });
        }
        if gap && applier.applied() == before {
            return Err(FeedError::Gap(format!(
                "{} lacks the events after {before}",
                directory.channel(feed)
            )));
        }
        if !full && !gap {
            return Ok((applier.applied() - start) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::rooms::JoinOutcome;
    use crate::cluster::users::UserFacts;
    use crate::cluster::wire::encode;
    use crate::hub::Home;
    use crate::hub::Protocol;
    use crate::metrics::Metrics;
    use crate::store::Fence;
    use crate::test_redis::RedisServer;

    fn arrival(node: &str) -> Vec<u8> {
        encode(&Arrival {
            node: node.into(),
            address: [192, 0, 2, 7].into(),
            protocol: Protocol::Irc,
            user: "~a".into(),
            host: "192.0.2.7".into(),
            realname: "A".into(),
        })
    }

    fn event(sequence: u64, kind: EventKind, user: u64, nick: &str, body: Vec<u8>) -> Envelope {
        Envelope {
            id: 1000 + sequence,
            sequence,
            kind,
            user: ClusterUserId(user),
            nick: nick.into(),
            body,
        }
    }

    fn home_of(hub: &Hub, nick: &str) -> Option<String> {
        hub.user_by_nick(nick).map(|user| match &user.home {
            Home::Here(_) => "here".into(),
            Home::Node(node) => node.to_string(),
        })
    }

    #[test]
    fn users_of_other_nodes_come_rename_and_go_in_the_feed_s_order() {
        let hub = Arc::new(Hub::default());
        let mut applier = StateApplier::for_state("beta", hub.clone(), Arc::default());
        let renamed = event(2, EventKind::Renamed, 7, "Alicia", Vec::new());
        // The rename arrives first, past a gap: held until the arrival fills it.
        assert_eq!(applier.offer(renamed), Step::Gap { after_id: 0 });
        assert_eq!(home_of(&hub, "alice"), None);
        let connected = event(1, EventKind::Connected, 7, "alice", arrival("alpha"));
        assert_eq!(applier.offer(connected.clone()), Step::Applied(2));
        assert_eq!(applier.offer(connected), Step::Duplicate);
        assert_eq!(home_of(&hub, "alice"), None);
        assert_eq!(home_of(&hub, "alicia").as_deref(), Some("alpha"));

        // This node's own users are its sessions' to add.
        let own = event(3, EventKind::Connected, 8, "bob", arrival("beta"));
        assert_eq!(applier.offer(own), Step::Applied(1));
        assert_eq!(home_of(&hub, "bob"), None);

        let departure = encode(&Departure {
            reason: Some("bye".into()),
        });
        let left = event(4, EventKind::Disconnected, 7, "Alicia", departure);
        assert_eq!(applier.offer(left), Step::Applied(1));
        assert_eq!(home_of(&hub, "alicia"), None);
        assert_eq!(hub.user_count(), 0);
        assert_eq!(applier.applied(), 4);
    }

    #[test]
    fn a_body_this_node_cannot_read_is_skipped_and_the_feed_goes_on() {
        let hub = Arc::new(Hub::default());
        let mut applier = StateApplier::for_state("beta", hub.clone(), Arc::default());
        let unreadable = event(1, EventKind::Connected, 7, "alice", vec![0xff; 3]);
        assert_eq!(applier.offer(unreadable), Step::Applied(1));
        let next = event(2, EventKind::Connected, 8, "bob", arrival("alpha"));
        assert_eq!(applier.offer(next), Step::Applied(1));
        assert_eq!(home_of(&hub, "alice"), None);
        assert_eq!(home_of(&hub, "bob").as_deref(), Some("alpha"));
    }

    fn facts(user: &str) -> UserFacts {
        UserFacts {
            address: [192, 0, 2, 7].into(),
            protocol: Protocol::Text,
            user: user.into(),
            host: "192.0.2.7".into(),
            realname: String::new(),
        }
    }

    /// Waits until the applier has applied the event numbered `sequence`.
    async fn applied(watch: &mut watch::Receiver<u64>, sequence: u64) {
        watch
            .wait_for(|applied| *applied >= sequence)
            .await
            .expect("the applier runs");
    }

    /// Two nodes on a real Redis: what alpha's users do appears in beta's hub, from the
    /// stream for what came before beta followed, then live; a node released by another
    /// takes its users with it.
    #[tokio::test]
    async fn a_node_s_hub_follows_the_other_nodes_users_on_redis() {
        let server = RedisServer::start();
        let alpha = directory_at(&server.url(), "alpha").await;
        let beta = directory_at(&server.url(), "beta").await;
        let early = alpha.connect("early", &facts("e")).await.unwrap();

        let hub = Arc::new(Hub::default());
        let Following {
            task: following,
            applied: mut applied_rx,
            stop,
            metrics,
        } = follow_as_beta(&server, &hub);
        applied(&mut applied_rx, 1).await;
        assert_eq!(home_of(&hub, "early").as_deref(), Some("alpha"));

        let alice = alpha.connect("alice", &facts("a")).await.unwrap();
        beta.connect("carol", &facts("c")).await.unwrap();
        alpha.rename(alice, "alice", "alicia").await.unwrap();
        applied(&mut applied_rx, 4).await;
        assert_eq!(home_of(&hub, "alicia").as_deref(), Some("alpha"));
        assert_eq!(home_of(&hub, "carol"), None, "beta's own user");

        alpha
            .disconnect(alice, "alicia", Some("bye"))
            .await
            .unwrap();
        applied(&mut applied_rx, 5).await;
        assert_eq!(home_of(&hub, "alicia"), None);
        assert_eq!(beta.release_node("alpha").await.unwrap(), 1);
        applied(&mut applied_rx, 6).await;
        assert_eq!(home_of(&hub, "early"), None);
        assert_eq!(hub.user_count(), 0);
        assert_eq!(beta.holder("early").await.unwrap(), None, "{early}");
        // Beta counted them: the five that came live (early came with the snapshot, and its
        // read of the stream as it subscribed found nothing after it).
        let exported = metrics.encode(0, 0);
        for line in [
            "palaver_cluster_events_in_total{feed=\"state\"} 5",
            "palaver_cluster_catchups_total{reason=\"reconnect\"} 1",
            "palaver_cluster_catchups_total{reason=\"gap\"} 0",
            "palaver_cluster_catchup_events_total 0",
        ] {
            assert!(
                exported.lines().any(|each| each == line),
                "{line}\n{exported}"
            );
        }

        stop.cancel();
        following.await.unwrap().expect("followed until stopped");
    }

    /// A node that starts after the stream lost the events of users connected long before
    /// loads them from the directory's records, as they are now, and follows the feed from
    /// there without applying again what the records already show.
    #[tokio::test]
    async fn a_node_starting_late_loads_the_users_the_stream_no_longer_has() {
        let server = RedisServer::start();
        let alpha = directory_at(&server.url(), "alpha").await;
        let first = alpha.connect("first", &facts("f")).await.unwrap();
        let away = Presence {
            away: Some("gone fishing".into()),
            realname: "First".into(),
            account: Some("first".into()),
            bot: false,
            invisible: false,
            operator: None,
        };
        alpha.update(first, "first", &away).await.unwrap();
        let second = alpha.connect("second", &facts("s")).await.unwrap();
        alpha.rename(second, "second", "Renamed").await.unwrap();
        // The window has passed over all but the last event.
        assert_eq!(server.command("XTRIM palaver:state MAXLEN 1"), ":3");

        let hub = Arc::new(Hub::default());
        let Following {
            task: following,
            applied: mut applied_rx,
            stop,
            metrics: _,
        } = follow_as_beta(&server, &hub);
        applied(&mut applied_rx, 4).await;
        let loaded = hub.user_by_nick("first").expect("first was loaded");
        assert_eq!(loaded.away().as_deref(), Some("gone fishing"));
        assert_eq!(loaded.identity().account.as_deref(), Some("first"));
        assert_eq!(home_of(&hub, "renamed").as_deref(), Some("alpha"));
        assert_eq!(home_of(&hub, "second"), None);

        // From the snapshot on, the feed as usual.
        alpha.disconnect(first, "first", Some("bye")).await.unwrap();
        alpha.connect("third", &facts("t")).await.unwrap();
        applied(&mut applied_rx, 6).await;
        assert_eq!(home_of(&hub, "first"), None);
        assert_eq!(home_of(&hub, "third").as_deref(), Some("alpha"));
        assert_eq!(hub.user_count(), 2);

        stop.cancel();
        following.await.unwrap().expect("followed until stopped");
    }

    /// Node beta's hub following the state feed, in a task of its own.
    struct Following {
        task: tokio::task::JoinHandle<Result<(), FeedError>>,
        applied: watch::Receiver<u64>,
        stop: CancellationToken,
        /// Beta's metrics, which count what it applied.
        metrics: Arc<Metrics>,
    }

    fn follow_as_beta(server: &RedisServer, hub: &Arc<Hub>) -> Following {
        let (applied_tx, applied) = watch::channel(0);
        let stop = CancellationToken::new();
        let (url, hub, stopped) = (server.url(), hub.clone(), stop.clone());
        let metrics = Arc::new(Metrics::for_cluster());
        let counted = metrics.clone();
        let task = tokio::spawn(async move {
            let directory = directory_at(&url, "beta").await;
            let mut applier = StateApplier::for_state("beta", hub, Arc::default());
            let metrics = counted.cluster();
            follow(
                &url,
                &directory,
                &Feed::State,
                &mut applier,
                &applied_tx,
                &stopped,
                metrics,
            )
            .await
        });
        Following {
            task,
            applied,
            stop,
            metrics,
        }
    }

    /// A node that missed events its feed's stream no longer has notices the gap, and starts
    /// over from a snapshot: the users it missed leaving are gone, those it missed arriving
    /// are there.
    #[tokio::test]
    async fn a_gap_the_stream_cannot_fill_is_noticed_and_resynced_from_a_snapshot() {
        let server = RedisServer::start();
        let url = server.url();
        let alpha = directory_at(&url, "alpha").await;
        let beta = directory_at(&url, "beta").await;
        let hub = Arc::new(Hub::default());
        let mut applier = StateApplier::for_state("beta", hub.clone(), Arc::default());
        let (applied, _) = watch::channel(0);
        // Already stopped: each follow takes in what there is, then returns.
        let stopped = CancellationToken::new();
        stopped.cancel();
        let follow_once = async |applier: &mut StateApplier| {
            follow(&url, &beta, &Feed::State, applier, &applied, &stopped, None).await
        };

        let first = alpha.connect("first", &facts("f")).await.unwrap();
        follow_once(&mut applier).await.expect("followed");
        assert_eq!(home_of(&hub, "first").as_deref(), Some("alpha"));

        // While beta was not listening: first left, second and third came, and the stream
        // kept only the last event.
        alpha.disconnect(first, "first", Some("bye")).await.unwrap();
        alpha.connect("second", &facts("s")).await.unwrap();
        alpha.connect("third", &facts("t")).await.unwrap();
        assert_eq!(server.command("XTRIM palaver:state MAXLEN 1"), ":3");
        let gap = follow_once(&mut applier).await;
        assert!(matches!(gap, Err(FeedError::Gap(_))), "{gap:?}");

        applier.resync(&beta, &Feed::State).await.expect("resynced");
        follow_once(&mut applier).await.expect("followed again");
        assert_eq!(home_of(&hub, "first"), None);
        assert_eq!(home_of(&hub, "second").as_deref(), Some("alpha"));
        assert_eq!(home_of(&hub, "third").as_deref(), Some("alpha"));
        assert_eq!(hub.user_count(), 2);
    }

    /// A resync shows this node's users what they missed in the gap, as it would have come,
    /// and nothing they had seen: the user that left quits, the newcomer joins, the renamed
    /// user's nick changes, the member that stayed is not announced again; a server ban set
    /// meanwhile is in force.
    #[tokio::test]
    async fn a_resync_shows_this_node_s_users_what_changed_in_the_gap_and_only_that() {
        let server = RedisServer::start();
        let url = server.url();
        let alpha = directory_at(&url, "alpha").await;
        let beta = directory_at(&url, "beta").await;
        let hub = Arc::new(Hub::default());
        let ids = Arc::new(UserIds::default());
        let mut applier = StateApplier::for_state("beta", hub.clone(), ids.clone());
        let (applied, _) = watch::channel(0);
        let stopped = CancellationToken::new();
        stopped.cancel();
        let follow_once = async |applier: &mut StateApplier| {
            follow(&url, &beta, &Feed::State, applier, &applied, &stopped, None).await
        };

        // watcher, on beta, shares #r with stayer, leaver and renamed, on alpha: beta follows
        // the feed from watcher's arrival on, so that all of it comes in order.
        let watcher_id = beta.connect("watcher", &facts("w")).await.unwrap();
        follow_once(&mut applier).await.expect("followed");
        let identity = Identity {
            nick: "watcher".into(),
            user: "w".into(),
            host: "192.0.2.7".into(),
            realname: "".into(),
            account: None,
            bot: false,
        };
        let outbox = Arc::new(crate::outbox::Outbox::new(64 * 1024));
        let peer = "192.0.2.7:1".parse().unwrap();
        let watcher = hub
            .register_as(
                peer,
                Protocol::Irc,
                outbox.clone(),
                identity,
                watcher_id.connection(),
            )
            .expect("registered");
        ids.insert(watcher_id, watcher);
        let join = |founding| RoomJoin {
            room: "#r".into(),
            op: founding,
            founding,
        };
        beta.join_room(watcher_id, "watcher", &join(true))
            .await
            .unwrap();
        let mut alpha_users = Vec::new();
        for nick in ["stayer", "leaver", "renamed"] {
            let id = alpha.connect(nick, &facts(nick)).await.unwrap();
            let joined = alpha.join_room(id, nick, &join(false)).await.unwrap();
            assert!(matches!(joined, JoinOutcome::Joined { .. }), "{joined:?}");
            alpha_users.push(id);
        }
        follow_once(&mut applier).await.expect("followed");
        let seen = String::from_utf8(outbox.take_queued().concat()).unwrap();
        assert_eq!(seen.matches(" JOIN #r").count(), 3, "{seen}");

        // While beta was not listening, and past what the stream keeps.
        alpha
            .disconnect(alpha_users[1], "leaver", Some("bye"))
            .await
            .unwrap();
        alpha
            .rename(alpha_users[2], "renamed", "known_as")
            .await
            .unwrap();
        let newcomer = alpha.connect("newcomer", &facts("n")).await.unwrap();
        alpha
            .join_room(newcomer, "newcomer", &join(false))
            .await
            .unwrap();
        let store = crate::store::Store::open_redis(
            &crate::store::RedisSettings {
                url: url.clone(),
                key_prefix: "palaver".into(),
                verify_persistence: false,
            },
            crate::store::StoreConfig::new(":memory:"),
            Arc::default(),
        )
        .await
        .expect("the store")
        .store;
        store
            .save_server_ban(crate::store::ServerBanRecord {
                kind: "mask".into(),
                target: "*!*@bad.example".into(),
                reason: "spam".into(),
                set_by: "root (root)".into(),
                set_at: Timestamp(1),
                expires: None,
            })
            .await
            .expect("saved");
        assert_eq!(server.command("XTRIM palaver:state MAXLEN 1"), ":11");
        let gap = follow_once(&mut applier).await;
        assert!(matches!(gap, Err(FeedError::Gap(_))), "{gap:?}");
        applier.resync(&beta, &Feed::State).await.expect("resynced");
        follow_once(&mut applier).await.expect("followed again");

        let seen = String::from_utf8(outbox.take_queued().concat()).unwrap();
        let lines: Vec<&str> = seen.lines().collect();
        assert_eq!(
            lines,
            [
                ":renamed!renamed@192.0.2.7 NICK known_as",
                ":leaver!leaver@192.0.2.7 QUIT :Left the network",
                ":newcomer!n@192.0.2.7 JOIN #r",
            ],
            "{seen}"
        );
        let bans: Vec<String> = hub
            .server_bans()
            .iter()
            .map(|ban| ban.target.to_string())
            .collect();
        assert_eq!(bans, ["*!*@bad.example"]);
        assert_eq!(hub.user_count(), 4);
    }

    async fn directory_at(url: &str, node: &str) -> UserDirectory {
        UserDirectory::open(url, "palaver", node, Fence::default())
            .await
            .expect("open the directory")
    }
}
