//! Users across nodes, the first part (docs/CLUSTER.md, milestone 4): the cluster's directory of
//! connected users in Redis. Each user gets a cluster-wide id, a claim on its nick (unique in the
//! whole cluster: two nodes claiming one nick at once, exactly one gets it), a record naming its
//! home node, and a place in the sets of connected users and of its node's users, so that the
//! users of a node that died can be released.
//!
//! Every change is one script (`scripts/user_*.lua`), atomic, and fenced by the node's lease
//! like the store's writes: a node that lost its lease changes nothing. Each change that took
//! place is also one event on the state feed (`scripts/publish_event.lua`, `wire.rs`), in the
//! same script, so that the feed says exactly what the directory did, in the order it did it;
//! [`UserDirectory::events_after`] reads it back. A private message to another node's user
//! is one event in that node's inbox ([`UserDirectory::send_private`]).
//!
//! Called by `Network` in cluster mode (`network/cluster.rs`), before the hub makes the same
//! change.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use palaver_proto::names::fold;
use redis::{RedisError, Script};

use super::keys::NodeKeys;
use super::rooms::OpenRoom;
use super::wire::{
    self, Arrival, Departure, Envelope, EventKind, KillOrder, LogOut, MovedAside, Presence,
    PrivateDeletion, PrivateMessage, ReadMarker, WireError,
};
use crate::hub::{Protocol, ServerBan};
use crate::metrics::{FeedKind, Metrics};
use crate::store::{
    ConnectionId, FENCE, Fence, HistoryEntry, Link, RedisConnection, STORE_MESSAGE,
    redis_connection, server_bans_under,
};

/// The state feed's part of every user script: publishing its events.
const PUBLISH_EVENT: &str = include_str!("scripts/publish_event.lua");
const GUEST_NICK: &str = include_str!("scripts/guest_nick.lua");
/// Rooms' keys, and the end of a user's memberships: part of every user and room script.
const ROOM_KEYS: &str = include_str!("scripts/room_keys.lua");

/// How long the state feed's stream keeps events for nodes catching up (`feed_window` in
/// docs/CLUSTER.md; a setting of its own once nodes follow the feed).
const FEED_WINDOW: Duration = Duration::from_secs(5 * 60);

/// How long Redis keeps a nonce when the directory is not told ([`UserDirectory::keep_nonces_for`]):
/// two default leases and then some.
const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(30);

/// How many users of a dead node one release call removes at most.
const RELEASE_BATCH: usize = 200;

/// How long connecting to Redis, and waiting for one of its answers, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A user's id, unique in the cluster, from Redis's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClusterUserId(pub u64);

impl ClusterUserId {
    /// The user's connection id, the same on every node (`Hub::register_as`,
    /// `Hub::admit_remote`): a guest's private history belongs to its connection, and another
    /// node records and checks that party for it. Its high half, all ones, keeps it apart from
    /// a single server's, whose high half is the random number of its run.
    pub fn connection(self) -> ConnectionId {
        ConnectionId((u128::from(u64::MAX) << 64) | u128::from(self.0))
    }
}

impl fmt::Display for ClusterUserId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

/// Why a claim was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Someone in the cluster holds the nick.
    #[error("the nick is taken")]
    Taken,
    /// The user no longer holds the nick the node believed it held (its replica is behind).
    #[error("the user no longer holds that nick")]
    Stale,
    /// Redis refused (`FENCED`: the node lost its lease) or did not answer.
    #[error("{0}")]
    Redis(#[from] RedisError),
}

/// What others see of a user, kept in its record beside its nick and home node, and told to
/// every node when it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub address: IpAddr,
    pub protocol: Protocol,
    pub user: String,
    pub host: String,
    pub realname: String,
}

impl UserFacts {
    fn fields(&self) -> [(&'static str, String); 5] {
        [
            ("address", self.address.to_string()),
            (
                "protocol",
                match self.protocol {
                    Protocol::Text => "text",
                    Protocol::Irc => "irc",
                }
                .to_owned(),
            ),
            ("user", self.user.clone()),
            ("host", self.host.clone()),
            ("realname", self.realname.clone()),
        ]
    }

    /// The state feed's body for the user arriving on `node`.
    fn arrival(&self, node: &str) -> Vec<u8> {
        wire::encode(&Arrival {
            node: node.to_owned(),
            address: self.address,
            protocol: self.protocol,
            user: self.user.clone(),
            host: self.host.clone(),
            realname: self.realname.clone(),
        })
    }
}

/// Why the state feed could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{0}")]
    Redis(#[from] RedisError),
    #[error("{0}")]
    Wire(#[from] WireError),
    /// The subscription to the feed ended (Redis restarted, the connection broke): follow it
    /// again from where the node is.
    #[error("{0}")]
    Lost(String),
    /// The feed's stream lacks events the node did not apply (trimmed past the window, or
    /// lost): the node cannot follow it from where it is, and must start over from what the
    /// directory holds now ([`Applier::resync`](super::applier::Applier::resync)).
    #[error("{0}")]
    Gap(String),
}

/// The key names of the directory, under one prefix.
#[derive(Debug, Clone)]
pub(super) struct UserKeys {
    prefix: String,
    /// The nodes' keys, for releasing a dead node.
    nodes: NodeKeys,
}

impl UserKeys {
    /// String: the id of the user holding the (folded) nick.
    fn claim(&self, folded: &str) -> String {
        format!("{}{folded}", self.claim_prefix())
    }

    fn claim_prefix(&self) -> String {
        format!("{}:nick:", self.prefix)
    }

    /// Hash: a user's record (home node, nick, folded nick, user name, host, real name).
    pub(super) fn record(&self, id: ClusterUserId) -> String {
        format!("{}{id}", self.record_prefix())
    }

    pub(super) fn record_prefix(&self) -> String {
        format!("{}:user:", self.prefix)
    }

    /// Set: the ids of every connected user.
    fn users(&self) -> String {
        format!("{}:users", self.prefix)
    }

    /// Set: the ids of the users connected through `node`.
    fn node_users(&self, node: &str) -> String {
        format!("{}:node:{node}:users", self.prefix)
    }

    /// Set: the folded names of the rooms with members.
    pub(super) fn rooms(&self) -> String {
        format!("{}:rooms", self.prefix)
    }

    /// What the key of a call's nonce starts with (`room_say.lua`): a string, the sequence
    /// number and id of the event the call published, kept for a feed window.
    fn nonce_prefix(&self) -> String {
        format!("{}:nonce:", self.prefix)
    }

    /// What a room's keys start with: its record (a hash: name, topic) is this and its folded
    /// name; its members (a hash: user id → status) the same with `:members`.
    pub(super) fn room_prefix(&self) -> String {
        format!("{}:room:", self.prefix)
    }

    pub(super) fn room_record(&self, folded: &str) -> String {
        format!("{}{folded}", self.room_prefix())
    }

    pub(super) fn room_members(&self, folded: &str) -> String {
        format!("{}{folded}:members", self.room_prefix())
    }

    /// Counters: user ids, guest numbers.
    fn user_ids(&self) -> String {
        format!("{}:user_ids", self.prefix)
    }

    fn guests(&self) -> String {
        format!("{}:guests", self.prefix)
    }

    /// String: the last event id given (docs/CLUSTER.md, "Ids, sequence numbers and time").
    fn event_ids(&self) -> String {
        format!("{}:ids", self.prefix)
    }

    /// String: the feed's last sequence number.
    fn sequence(&self, feed: &Feed) -> String {
        format!("{}_seq", self.feed(feed))
    }

    /// Stream, and pub/sub channel of the same name: the feed.
    fn feed(&self, feed: &Feed) -> String {
        match feed {
            Feed::State => format!("{}:state", self.prefix),
            Feed::Inbox(node) => format!("{}:node:{node}:inbox", self.prefix),
        }
    }
}

/// Who holds a nick its account's owner reclaims ([`UserDirectory::reclaim`]).
#[derive(Debug, Clone, Copy)]
pub struct Holder {
    pub id: ClusterUserId,
    /// Whether it is another node's user, which its node moves.
    pub elsewhere: bool,
    /// Whether it is a stale session of the owner's own, which ends once moved (`GHOST`).
    pub ghosted: bool,
}

/// How many user records one read of a snapshot asks for.
pub(super) const SNAPSHOT_PAGE: usize = 500;

/// The directory's users at some moment ([`UserDirectory::snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The state feed's last event before the records were read (0 and 0 for a feed without
    /// any): the records reflect it and every event before it.
    pub after_id: u64,
    pub after_sequence: u64,
    pub users: Vec<UserRecord>,
    /// The rooms with members, read after the users (so that every member is among them, or
    /// left since).
    pub rooms: Vec<OpenRoom>,
    /// The server bans in force, as the store keeps them (where every node saves those it
    /// sets).
    pub server_bans: Vec<ServerBan>,
}

/// A connected user, as its record in the directory says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: ClusterUserId,
    pub nick: String,
    /// Its node and what it arrived as.
    pub arrival: Arrival,
    pub presence: Presence,
    /// The id of the last event that changed the record.
    pub version: u64,
}

impl UserRecord {
    /// The record's fields read, or `None` if one it must have is missing or unreadable.
    fn read(id: ClusterUserId, fields: &HashMap<String, String>) -> Option<Self> {
        let field = |name: &str| fields.get(name).map(String::as_str);
        let text = |name: &str| field(name).unwrap_or_default().to_owned();
        let optional = |name: &str| {
            field(name)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let protocol = match field("protocol")? {
            "text" => Protocol::Text,
            "irc" => Protocol::Irc,
            _ => return None,
        };
        Some(Self {
            id,
            nick: field("nick")?.to_owned(),
            arrival: Arrival {
                node: field("node")?.to_owned(),
                address: field("address")?.parse().ok()?,
                protocol,
                user: text("user"),
                host: text("host"),
                realname: text("realname"),
            },
            presence: Presence {
                away: optional("away"),
                realname: text("realname"),
                account: optional("account"),
                bot: field("bot") == Some("1"),
                invisible: field("invisible") == Some("1"),
                operator: optional("operator"),
            },
            version: field("v")?.parse().ok()?,
        })
    }
}

/// A feed of events (docs/CLUSTER.md, "Feeds"): a stream for catching up and a pub/sub channel
/// of the same name for live delivery, with a sequence of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// Users arriving, renaming and leaving; every node follows it.
    State,
    /// What comes for the users of the node named: private messages, kills, logouts, read
    /// markers. That node follows it.
    Inbox(String),
}

impl Feed {
    /// Which kind of feed it is, as the metrics count them.
    pub fn kind(&self) -> FeedKind {
        match self {
            Feed::State => FeedKind::State,
            Feed::Inbox(_) => FeedKind::Inbox,
        }
    }
}

pub(super) struct UserScripts {
    connect: Script,
    connect_guest: Script,
    rename: Script,
    reclaim: Script,
    update: Script,
    send_to_inbox: Script,
    disconnect: Script,
    release_node: Script,
    pub(super) join: Script,
    pub(super) leave: Script,
    pub(super) say: Script,
    pub(super) modes: Script,
    next_id: Script,
    network_event: Script,
}

impl UserScripts {
    fn new() -> Self {
        let fenced = |body: &str| {
            Script::new(&format!(
                "{FENCE}\n{PUBLISH_EVENT}\n{GUEST_NICK}\n{ROOM_KEYS}\n{body}"
            ))
        };
        // Room and private messages are stored as the store's appends are.
        let storing = |body: &str| fenced(&format!("{STORE_MESSAGE}\n{body}"));
        Self {
            connect: fenced(include_str!("scripts/user_connect.lua")),
            connect_guest: fenced(include_str!("scripts/user_connect_guest.lua")),
            rename: fenced(include_str!("scripts/user_rename.lua")),
            reclaim: fenced(include_str!("scripts/user_reclaim.lua")),
            update: fenced(include_str!("scripts/user_update.lua")),
            send_to_inbox: storing(include_str!("scripts/inbox_send.lua")),
            disconnect: fenced(include_str!("scripts/user_disconnect.lua")),
            release_node: fenced(include_str!("scripts/user_release_node.lua")),
            join: fenced(include_str!("scripts/room_join.lua")),
            leave: fenced(include_str!("scripts/room_leave.lua")),
            say: storing(include_str!("scripts/room_say.lua")),
            modes: fenced(include_str!("scripts/room_modes.lua")),
            next_id: fenced(include_str!("scripts/next_id.lua")),
            network_event: fenced(include_str!("scripts/network_event.lua")),
        }
    }
}

/// One node's view of the directory: the changes it makes for its own users.
pub struct UserDirectory {
    /// Sends a request once more when the connection dropped (Redis restarted): a change
    /// Redis made before the connection died is then refused the second time (a connect as
    /// taken, a rename as stale), as the store's registrations are.
    pub(super) connection: Link,
    pub(super) keys: UserKeys,
    pub(super) node: String,
    fence: Fence,
    pub(super) scripts: UserScripts,
    /// Where the events its calls publish are counted (`palaver_cluster_events_out_total`).
    metrics: Option<Arc<Metrics>>,
    /// What this directory's nonces start with: the node's name and a random number, so that
    /// no other node, nor this node's next run, makes the same.
    nonces: String,
    /// How many nonces it made.
    nonces_made: AtomicU64,
    /// How long Redis keeps a nonce: longer than a call may be made again (until the node is
    /// fenced, within a lease), and no longer, since one is kept per message.
    nonce_lifetime: Duration,
}

impl UserDirectory {
    /// Counts the events its calls publish in `metrics` from now on.
    pub fn count_in(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub(super) fn published(&self, feed: FeedKind, events: u64) {
        if let Some(cluster) = self.metrics.as_ref().and_then(|metrics| metrics.cluster()) {
            cluster.published(feed, events);
        }
    }

    /// The directory on the Redis at `url`, under `prefix` (`[cluster] key_prefix`), for the
    /// node `node`, whose writes `fence` checks against its lease.
    pub async fn open(
        url: &str,
        prefix: &str,
        node: &str,
        fence: Fence,
    ) -> Result<Self, RedisError> {
        let connection = redis_connection(url, CONNECT_TIMEOUT, RESPONSE_TIMEOUT).await?;
        Ok(Self::on(connection, prefix, node, fence))
    }

    /// The directory over a connection the node already has.
    pub(crate) fn on(connection: RedisConnection, prefix: &str, node: &str, fence: Fence) -> Self {
        let keys = UserKeys {
            prefix: prefix.to_owned(),
            nodes: NodeKeys::new(prefix),
        };
        Self {
            connection: Link(connection),
            nonces: format!("{}{node}:{:016x}", keys.nonce_prefix(), random_u64()),
            keys,
            nonces_made: AtomicU64::new(0),
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
            node: node.to_owned(),
            fence,
            scripts: UserScripts::new(),
            metrics: None,
        }
    }

    /// A new nonce's key, for a call that may be sent more than once and must count once
    /// ([`Self::say_in_room`]).
    pub fn nonce(&self) -> String {
        let made = self.nonces_made.fetch_add(1, Ordering::Relaxed);
        format!("{}:{made}", self.nonces)
    }

    /// Keeps nonces for `lifetime` from now on: a node's are kept for two of its leases, past
    /// which it has been fenced and makes none of its calls again.
    pub fn keep_nonces_for(mut self, lifetime: Duration) -> Self {
        self.nonce_lifetime = lifetime;
        self
    }

    /// How long Redis keeps a nonce, as its scripts take it.
    pub(super) fn nonce_lifetime_ms(&self) -> u64 {
        u64::try_from(self.nonce_lifetime.as_millis()).unwrap_or(u64::MAX)
    }

    /// A user arrives under `nick`: its id, or [`ClaimError::Taken`].
    pub async fn connect(
        &self,
        nick: &str,
        facts: &UserFacts,
    ) -> Result<ClusterUserId, ClaimError> {
        let folded = fold(nick);
        let mut invocation = self.scripts.connect.prepare_invoke();
        invocation
            .key(self.keys.claim(&folded))
            .key(self.keys.user_ids())
            .key(self.keys.users())
            .key(self.keys.node_users(&self.node))
            .arg(self.keys.record_prefix())
            .arg(&self.node)
            .arg(nick)
            .arg(&folded)
            .arg(facts.arrival(&self.node));
        for (name, value) in facts.fields() {
            invocation.arg(name).arg(value);
        }
        let (outcome, id): (String, u64) = self.run(&mut invocation).await?;
        self.published(FeedKind::State, u64::from(outcome == "connected"));
        match outcome.as_str() {
            "connected" => Ok(ClusterUserId(id)),
            _ => Err(ClaimError::Taken),
        }
    }

    /// A user arrives under the next free guest nick: its id and that nick.
    pub async fn connect_guest(
        &self,
        facts: &UserFacts,
    ) -> Result<(ClusterUserId, String), ClaimError> {
        let mut invocation = self.scripts.connect_guest.prepare_invoke();
        invocation
            .key(self.keys.guests())
            .key(self.keys.user_ids())
            .key(self.keys.users())
            .key(self.keys.node_users(&self.node))
            .arg(self.keys.record_prefix())
            .arg(&self.node)
            .arg(self.keys.claim_prefix())
            .arg(facts.arrival(&self.node));
        for (name, value) in facts.fields() {
            invocation.arg(name).arg(value);
        }
        let (outcome, id, nick): (String, u64, String) = self.run(&mut invocation).await?;
        self.published(FeedKind::State, u64::from(outcome == "connected"));
        match outcome.as_str() {
            "connected" => Ok((ClusterUserId(id), nick)),
            _ => Err(ClaimError::Taken),
        }
    }

    /// The user `id`, holding `from`, takes `to`.
    pub async fn rename(&self, id: ClusterUserId, from: &str, to: &str) -> Result<(), ClaimError> {
        let folded = fold(to);
        let mut invocation = self.scripts.rename.prepare_invoke();
        invocation
            .key(self.keys.claim(&fold(from)))
            .key(self.keys.claim(&folded))
            .key(self.keys.record(id))
            .arg(id.0)
            .arg(to)
            .arg(&folded);
        let outcome: String = self.run(&mut invocation).await?;
        self.published(FeedKind::State, u64::from(outcome == "renamed"));
        match outcome.as_str() {
            "renamed" => Ok(()),
            "stale" => Err(ClaimError::Stale),
            _ => Err(ClaimError::Taken),
        }
    }

    /// The user `id`, holding `from`, takes the next free guest nick, which is returned
    /// (nick protection, and a reclaimed nick's holder moved aside). Gives up, as
    /// [`ClaimError::Taken`], after 100 numbers all taken.
    pub async fn rename_to_guest(
        &self,
        id: ClusterUserId,
        from: &str,
    ) -> Result<String, ClaimError> {
        for _ in 0..100 {
            let number: u64 = redis::cmd("INCR")
                .arg(self.keys.guests())
                .query_async(&mut self.connection.clone())
                .await?;
            let guest = format!("guest-{number}");
            match self.rename(id, from, &guest).await {
                Err(ClaimError::Taken) => continue,
                outcome => return outcome.map(|()| guest),
            }
        }
        Err(ClaimError::Taken)
    }

    /// The owner `owner`, holding `owner_nick`, reclaims its account's nick `nick` from
    /// `holder` (none: nobody holds it), which moves to the next free guest nick, returned;
    /// with `take`, the owner takes the nick. One script: nobody sees the nick between them.
    /// A holder on another node is moved there when its node sees its rename on the state
    /// feed, which says so (its body, a [`MovedAside`]).
    pub async fn reclaim(
        &self,
        nick: &str,
        holder: Option<Holder>,
        owner: ClusterUserId,
        owner_nick: &str,
        take: bool,
    ) -> Result<Option<String>, ClaimError> {
        let folded = fold(nick);
        // Another node's holder: its rename says so, for its node to move it.
        let moved = match &holder {
            Some(holder) if holder.elsewhere => wire::encode(&MovedAside {
                ghosted: holder.ghosted,
            }),
            _ => Vec::new(),
        };
        let mut invocation = self.scripts.reclaim.prepare_invoke();
        invocation
            .key(self.keys.claim(&folded))
            .key(self.keys.guests())
            .key(self.keys.claim(&fold(owner_nick)))
            .key(self.keys.record(owner))
            .arg(self.keys.record_prefix())
            .arg(self.keys.claim_prefix())
            .arg(
                holder
                    .map(|holder| holder.id.0.to_string())
                    .unwrap_or_default(),
            )
            .arg(owner.0)
            .arg(nick)
            .arg(&folded)
            .arg(if take { "1" } else { "0" })
            .arg(moved);
        let (outcome, guest): (String, String) = self.run(&mut invocation).await?;
        if outcome == "reclaimed" {
            self.published(
                FeedKind::State,
                u64::from(!guest.is_empty()) + u64::from(take),
            );
        }
        match outcome.as_str() {
            "reclaimed" => Ok((!guest.is_empty()).then_some(guest)),
            "stale" => Err(ClaimError::Stale),
            _ => Err(ClaimError::Taken),
        }
    }

    /// The user `id`, holding `nick`, leaves; others are told `reason` (none: nobody is told,
    /// the server shut down).
    pub async fn disconnect(
        &self,
        id: ClusterUserId,
        nick: &str,
        reason: Option<&str>,
    ) -> Result<(), ClaimError> {
        let departure = Departure {
            reason: reason.map(str::to_owned),
        };
        let mut invocation = self.scripts.disconnect.prepare_invoke();
        invocation
            .key(self.keys.claim(&fold(nick)))
            .key(self.keys.record(id))
            .key(self.keys.users())
            .key(self.keys.node_users(&self.node))
            .arg(id.0)
            .arg(nick)
            .arg(wire::encode(&departure))
            .arg(self.keys.record_prefix())
            .arg(self.keys.rooms())
            .arg(self.keys.room_prefix());
        let outcome: String = self.run(&mut invocation).await?;
        self.published(FeedKind::State, u64::from(outcome == "left"));
        Ok(())
    }

    /// Releases every user the node `node` left behind (it died, or it is this node's earlier
    /// incarnation), a batch per call so that Redis stays free for others in between; how
    /// many were released. A dead node goes with its last user (`node_start` keeps one that
    /// still has users, for this to release).
    pub async fn release_node(&self, node: &str) -> Result<usize, ClaimError> {
        let mut released = 0;
        loop {
            let mut invocation = self.scripts.release_node.prepare_invoke();
            invocation
                .key(self.keys.node_users(node))
                .key(self.keys.users())
                .key(self.keys.nodes.nodes())
                .key(self.keys.nodes.lease(node))
                .key(self.keys.nodes.record(node))
                .arg(self.keys.record_prefix())
                .arg(self.keys.claim_prefix())
                .arg(RELEASE_BATCH)
                .arg(node)
                .arg(self.keys.rooms())
                .arg(self.keys.room_prefix());
            let (batch, left): (usize, usize) = self.run(&mut invocation).await?;
            self.published(FeedKind::State, batch as u64);
            released += batch;
            if left == 0 {
                return Ok(released);
            }
        }
    }

    /// Who holds `nick` in the cluster.
    pub async fn holder(&self, nick: &str) -> Result<Option<ClusterUserId>, RedisError> {
        let id: Option<u64> = redis::cmd("GET")
            .arg(self.keys.claim(&fold(nick)))
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(id.map(ClusterUserId))
    }

    /// How many users are connected in the whole cluster.
    pub async fn user_count(&self) -> Result<usize, RedisError> {
        redis::cmd("SCARD")
            .arg(self.keys.users())
            .query_async(&mut self.connection.clone())
            .await
    }

    /// What others see of this node's user `id`, holding `nick`, is now `presence`: kept in
    /// its record and told to every node. Nothing changes for a user no longer connected
    /// through this node.
    pub async fn update(
        &self,
        id: ClusterUserId,
        nick: &str,
        presence: &Presence,
    ) -> Result<(), ClaimError> {
        let flag = |set: bool| if set { "1" } else { "0" };
        let mut invocation = self.scripts.update.prepare_invoke();
        invocation
            .key(self.keys.record(id))
            .arg(id.0)
            .arg(&self.node)
            .arg(nick)
            .arg(wire::encode(presence))
            .arg("away")
            .arg(presence.away.as_deref().unwrap_or_default())
            .arg("realname")
            .arg(&presence.realname)
            .arg("account")
            .arg(presence.account.as_deref().unwrap_or_default())
            .arg("bot")
            .arg(flag(presence.bot))
            .arg("invisible")
            .arg(flag(presence.invisible))
            .arg("operator")
            .arg(presence.operator.as_deref().unwrap_or_default());
        let outcome: String = self.run(&mut invocation).await?;
        self.published(FeedKind::State, u64::from(outcome == "updated"));
        Ok(())
    }

    /// Puts a private message to the user `to`, connected through `node` under `nick`, into
    /// that node's inbox, stored in the history with `entry` in the same step: its event's id,
    /// which is the message's, or `None` if the user is no longer connected there. Calls with
    /// the same `nonce` ([`Self::nonce`]) send it once: the others answer what the first did.
    pub async fn send_private(
        &self,
        to: ClusterUserId,
        (node, nick): (&str, &str),
        message: &PrivateMessage,
        entry: Option<&HistoryEntry>,
        nonce: &str,
    ) -> Result<Option<u64>, RedisError> {
        let body = wire::encode(message);
        let mut invocation = self.inbox_call(to, (node, nick), EventKind::Private, body, nonce);
        if let Some(entry) = entry {
            let [count, floors] = &entry.keys;
            invocation.key(count).key(floors);
            for argument in &entry.arguments {
                invocation.arg(argument);
            }
        }
        self.run_inbox_call(node, &mut invocation).await
    }

    /// Puts an operator's kill of the user `to`, connected through `node` under `nick`, into
    /// that node's inbox; `false` if the user is no longer connected there.
    pub async fn send_kill(
        &self,
        to: ClusterUserId,
        node: &str,
        nick: &str,
        order: &KillOrder,
    ) -> Result<bool, RedisError> {
        let body = wire::encode(order);
        let sent = self
            .send_to_inbox(to, node, nick, EventKind::Killed, body)
            .await?;
        Ok(sent.is_some())
    }

    /// Puts a logout of the user `to`, connected through `node` under `nick`, into that
    /// node's inbox; `false` if the user is no longer connected there.
    pub async fn send_log_out(
        &self,
        to: ClusterUserId,
        node: &str,
        nick: &str,
        log_out: &LogOut,
    ) -> Result<bool, RedisError> {
        let body = wire::encode(log_out);
        let sent = self
            .send_to_inbox(to, node, nick, EventKind::LoggedOut, body)
            .await?;
        Ok(sent.is_some())
    }

    /// Puts an account's moved read marker for its session `to`, connected through `node`
    /// under `nick`, into that node's inbox; `false` if the user is no longer connected there.
    pub async fn send_read_marker(
        &self,
        to: ClusterUserId,
        node: &str,
        nick: &str,
        marker: &ReadMarker,
    ) -> Result<bool, RedisError> {
        let body = wire::encode(marker);
        let sent = self
            .send_to_inbox(to, node, nick, EventKind::Marker, body)
            .await?;
        Ok(sent.is_some())
    }

    /// Puts the deletion of a private message the user `to`, connected through `node` under
    /// `nick`, received into that node's inbox; `false` if the user is no longer connected
    /// there.
    pub async fn send_private_deletion(
        &self,
        to: ClusterUserId,
        node: &str,
        nick: &str,
        deletion: &PrivateDeletion,
    ) -> Result<bool, RedisError> {
        let body = wire::encode(deletion);
        let sent = self
            .send_to_inbox(to, node, nick, EventKind::PrivateRedacted, body)
            .await?;
        Ok(sent.is_some())
    }

    async fn send_to_inbox(
        &self,
        to: ClusterUserId,
        node: &str,
        nick: &str,
        kind: EventKind,
        body: Vec<u8>,
    ) -> Result<Option<u64>, RedisError> {
        let mut invocation = self.inbox_call(to, (node, nick), kind, body, &self.nonce());
        self.run_inbox_call(node, &mut invocation).await
    }

    /// The call of `scripts/inbox_send.lua` that puts `body`, an event of `kind`, for the user
    /// `to`, into the inbox of `node`, where it holds `nick`: its keys and arguments up to the
    /// body (a history entry's go after them).
    fn inbox_call(
        &self,
        to: ClusterUserId,
        (node, nick): (&str, &str),
        kind: EventKind,
        body: Vec<u8>,
        nonce: &str,
    ) -> redis::ScriptInvocation<'_> {
        let mut invocation = self.scripts.send_to_inbox.prepare_invoke();
        invocation
            .key(self.keys.record(to))
            .key(nonce)
            .arg(to.0)
            .arg(node)
            .arg(kind.word())
            .arg(nick)
            .arg(body)
            .arg(self.nonce_lifetime_ms());
        invocation
    }

    /// Runs an inbox call of [`Self::inbox_call`]: the event's id, or `None` if its user is
    /// no longer connected through `node`.
    async fn run_inbox_call(
        &self,
        node: &str,
        invocation: &mut redis::ScriptInvocation<'_>,
    ) -> Result<Option<u64>, RedisError> {
        let (outcome, id): (String, u64) = self
            .run_on(&Feed::Inbox(node.to_owned()), invocation)
            .await?;
        let sent = outcome == "sent";
        self.published(FeedKind::Inbox, u64::from(sent));
        Ok(sent.then_some(id))
    }

    /// A new message id from the cluster's counter, for a message published nowhere (a
    /// private message between two users of this node): unique in the shared history.
    pub async fn next_message_id(&self) -> Result<u64, RedisError> {
        let mut invocation = self.scripts.next_id.prepare_invoke();
        self.run(&mut invocation).await
    }

    /// The node whose directory this is.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Tells every node, on the state feed, of `kind` done by this node's user `by` (`nick`),
    /// something that changes nothing else the cluster keeps: a server ban put in force or
    /// lifted, wallops (`scripts/network_event.lua`). The event's id.
    pub async fn tell_every_node(
        &self,
        by: ClusterUserId,
        nick: &str,
        kind: EventKind,
        body: Vec<u8>,
    ) -> Result<u64, RedisError> {
        let mut invocation = self.scripts.network_event.prepare_invoke();
        invocation.arg(by.0).arg(nick).arg(kind.word()).arg(body);
        let id = self.run(&mut invocation).await?;
        self.published(FeedKind::State, 1);
        Ok(id)
    }

    /// The feed's events after the one with id `after` (0: from the oldest kept), at most
    /// `count`, in order: what a node catching up reads.
    pub async fn events_after(
        &self,
        feed: &Feed,
        after: u64,
        count: usize,
    ) -> Result<Vec<Envelope>, FeedError> {
        // Each entry: its id, and its fields and values in turn (one field, `e`).
        let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
            .arg(self.keys.feed(feed))
            .arg(format!("({after}-0"))
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.connection.clone())
            .await?;
        entries
            .iter()
            .map(|(_, fields)| match fields.as_slice() {
                [name, envelope] if name == b"e" => Ok(Envelope::parse(envelope)?),
                _ => Err(WireError::NoHeader.into()),
            })
            .collect()
    }

    /// The feed's last event, as its id and sequence number (0 and 0 for a feed without any).
    pub async fn last_event(&self, feed: &Feed) -> Result<(u64, u64), FeedError> {
        let last: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XREVRANGE")
            .arg(self.keys.feed(feed))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.connection.clone())
            .await?;
        match last.first() {
            Some((_, fields)) => match fields.as_slice() {
                [name, envelope] if name == b"e" => {
                    let envelope = Envelope::parse(envelope)?;
                    Ok((envelope.id, envelope.sequence))
                }
                _ => Err(WireError::NoHeader.into()),
            },
            None => Ok((0, 0)),
        }
    }

    /// Every connected user as the directory's records say, and the state feed's last event
    /// before they were read: what a node starting loads into its hub before it follows the
    /// feed from that event on. Read in pages, not atomically, and need not be: each record
    /// names the last event that changed it (`v`), and the events after the snapshot's last
    /// one are applied only to records older than they are.
    pub async fn snapshot(&self) -> Result<Snapshot, FeedError> {
        let (after_id, after_sequence) = self.last_event(&Feed::State).await?;
        let ids: Vec<u64> = redis::cmd("SMEMBERS")
            .arg(self.keys.users())
            .query_async(&mut self.connection.clone())
            .await?;
        let mut users = Vec::with_capacity(ids.len());
        for page in ids.chunks(SNAPSHOT_PAGE) {
            let mut pipe = redis::pipe();
            for &id in page {
                pipe.hgetall(self.keys.record(ClusterUserId(id)));
            }
            let records: Vec<HashMap<String, String>> =
                pipe.query_async(&mut self.connection.clone()).await?;
            for (&id, record) in page.iter().zip(records) {
                // Gone since the set was read: its departure is on the feed after the
                // snapshot's last event, and finds nobody to remove.
                if record.is_empty() {
                    continue;
                }
                match UserRecord::read(ClusterUserId(id), &record) {
                    Some(user) => users.push(user),
                    None => tracing::warn!(user = id, "skipped an unreadable user record"),
                }
            }
        }
        let rooms = self.open_rooms().await?;
        let server_bans = server_bans_under(&self.connection, &self.keys.prefix)
            .await
            .map_err(|error| FeedError::Lost(format!("cannot read the server bans: {error}")))?;
        Ok(Snapshot {
            after_id,
            after_sequence,
            users,
            rooms,
            server_bans: ServerBan::readable(server_bans),
        })
    }

    /// The state feed's events after the one with id `after`: [`Self::events_after`].
    pub async fn state_after(&self, after: u64, count: usize) -> Result<Vec<Envelope>, FeedError> {
        self.events_after(&Feed::State, after, count).await
    }

    /// The name of the feed's pub/sub channel, for a node's subscriber.
    pub fn channel(&self, feed: &Feed) -> String {
        self.keys.feed(feed)
    }

    /// Runs a user script, which publishes on the state feed.
    pub(super) async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &mut redis::ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        self.run_on(&Feed::State, invocation).await
    }

    /// Runs a script that publishes on `feed`: the feed's keys and window go in last but the
    /// fence's, where `scripts/publish_event.lua` takes them off.
    async fn run_on<T: redis::FromRedisValue>(
        &self,
        feed: &Feed,
        invocation: &mut redis::ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        invocation
            .key(self.keys.event_ids())
            .key(self.keys.sequence(feed))
            .key(self.keys.feed(feed))
            .arg(u64::try_from(FEED_WINDOW.as_millis()).unwrap_or(u64::MAX));
        self.fence.seal(invocation);
        invocation.invoke_async(&mut self.connection.clone()).await
    }
}

/// A random number from the operating system.
fn random_u64() -> u64 {
    let mut bytes = [0; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random generator");
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    //! Against a real `redis-server` (`test_redis.rs`), two or more nodes' directories on one
    //! Redis, as separate nodes would have them.

    use super::*;
    use crate::test_redis::RedisServer;

    const PREFIX: &str = "palaver";

    async fn directory(server: &RedisServer, node: &str) -> UserDirectory {
        UserDirectory::open(&server.url(), PREFIX, node, Fence::default())
            .await
            .expect("open the directory")
    }

    fn facts(user: &str) -> UserFacts {
        UserFacts {
            address: [127, 0, 0, 1].into(),
            protocol: Protocol::Irc,
            user: format!("~{user}"),
            host: "127.0.0.1".into(),
            realname: user.into(),
        }
    }

    /// Two clients on two nodes claim one nick at the same instant, round after round (in
    /// varying case): exactly one gets it each time, and the claim names the winner.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_nodes_claiming_one_nick_at_once_exactly_one_wins() {
        let server = RedisServer::start();
        let alpha = directory(&server, "alpha").await;
        let beta = directory(&server, "beta").await;
        for round in 0..200 {
            let (on_alpha, on_beta) = (format!("racer{round}"), format!("RACER{round}"));
            let (facts_a, facts_b) = (facts("a"), facts("b"));
            let (a, b) = tokio::join!(
                alpha.connect(&on_alpha, &facts_a),
                beta.connect(&on_beta, &facts_b)
            );
            let winner = match (a, b) {
                (Ok(id), Err(ClaimError::Taken)) | (Err(ClaimError::Taken), Ok(id)) => id,
                other => panic!("round {round}: not exactly one winner: {other:?}"),
            };
            assert_eq!(alpha.holder(&on_alpha).await.unwrap(), Some(winner));
        }
        assert_eq!(alpha.user_count().await.unwrap(), 200);
    }

    #[tokio::test]
    async fn a_rename_moves_the_claim_and_a_refused_one_changes_nothing() {
        let server = RedisServer::start();
        let alpha = directory(&server, "alpha").await;
        let beta = directory(&server, "beta").await;
        let alice = alpha.connect("alice", &facts("alice")).await.unwrap();
        let bob = beta.connect("bob", &facts("bob")).await.unwrap();
        assert_ne!(alice, bob);

        assert!(matches!(
            beta.rename(bob, "bob", "ALICE").await,
            Err(ClaimError::Taken)
        ));
        assert_eq!(beta.holder("bob").await.unwrap(), Some(bob));

        alpha.rename(alice, "alice", "Alicia").await.unwrap();
        assert_eq!(alpha.holder("alice").await.unwrap(), None);
        assert_eq!(alpha.holder("alicia").await.unwrap(), Some(alice));
        // A change of case keeps the one claim.
        alpha.rename(alice, "Alicia", "ALICIA").await.unwrap();
        assert_eq!(alpha.holder("alicia").await.unwrap(), Some(alice));

        // A node whose view is behind (alice is no longer "alice") changes nothing.
        assert!(matches!(
            alpha.rename(alice, "alice", "carol").await,
            Err(ClaimError::Stale)
        ));
        assert_eq!(alpha.holder("carol").await.unwrap(), None);

        // The freed nick can be taken again, from the other node.
        let another = beta.connect("Alice", &facts("another")).await.unwrap();
        assert_eq!(beta.holder("alice").await.unwrap(), Some(another));
    }

    #[tokio::test]
    async fn leaving_frees_the_nick_and_only_the_leaver_s() {
        let server = RedisServer::start();
        let alpha = directory(&server, "alpha").await;
        let beta = directory(&server, "beta").await;
        let alice = alpha.connect("alice", &facts("alice")).await.unwrap();
        alpha.rename(alice, "alice", "alicia").await.unwrap();
        let bob = beta.connect("alice", &facts("bob")).await.unwrap();
        // Leaving as if still "alice" (a node's stale view) does not free bob's claim.
        alpha.disconnect(alice, "alice", Some("bye")).await.unwrap();
        assert_eq!(alpha.holder("alice").await.unwrap(), Some(bob));
        // alice's own claim was not released that way, and is released with her name.
        alpha
            .disconnect(alice, "alicia", Some("bye"))
            .await
            .unwrap();
        assert_eq!(alpha.holder("alicia").await.unwrap(), None);
        assert_eq!(alpha.user_count().await.unwrap(), 1);
        // Leaving twice changes nothing more.
        beta.disconnect(bob, "alice", Some("bye")).await.unwrap();
        beta.disconnect(bob, "alice", Some("bye")).await.unwrap();
        assert_eq!(beta.holder("alice").await.unwrap(), None);
        assert_eq!(beta.user_count().await.unwrap(), 0);
    }

    /// Guest numbers come from one counter: unique across nodes, and a number whose nick
    /// someone took by hand is skipped.
    #[tokio::test]
    async fn guests_are_numbered_across_nodes_skipping_taken_nicks() {
        let server = RedisServer::start();
        let alpha = directory(&server, "alpha").await;
        let beta = directory(&server, "beta").await;
        alpha.connect("Guest-1", &facts("squatter")).await.unwrap();
        let (first, first_nick) = alpha.connect_guest(&facts("g")).await.unwrap();
        let (second, second_nick) = beta.connect_guest(&facts("g")).await.unwrap();
        assert_eq!(
            (first_nick.as_str(), second_nick.as_str()),
            ("guest-2", "guest-3")
        );
        assert_eq!(beta.holder("guest-2").await.unwrap(), Some(first));
        assert_eq!(alpha.holder("guest-3").await.unwrap(), Some(second));
    }

    /// Nick protection moves a user to the next guest number, skipping one taken by hand.
    #[tokio::test]
    async fn a_user_moved_to_a_guest_nick_takes_the_next_free_number() {
        let server = RedisServer::start();
        let alpha = directory(&server, "alpha").await;
        let alice = alpha.connect("alice", &facts("a")).await.unwrap();
        alpha.connect("guest-1", &facts("squatter")).await.unwrap();
        let guest = alpha.rename_to_guest(alice, "alice").await.unwrap();
        assert_eq!(guest, "guest-2");
        assert_eq!(alpha.holder("guest-2").await.unwrap(), Some(alice));
        assert_eq!(alpha.holder("alice").await.unwrap(), None);
    }

    /// A reclaim moves the holder aside and gives the owner the nick in one step; one made on
    /// a stale view of who holds what changes nothing.
    #[tokio::test]
    async fn a_reclaim_moves_the_holder_aside_and_gives_the_owner_the_nick() {
        let server = RedisServer::start();
        let alpha = directory(&server, "alpha").await;
        let beta = directory(&server, "beta").await;
        let squatter = beta.connect("Alice", &facts("s")).await.unwrap();
        let owner = alpha.connect("owner", &facts("o")).await.unwrap();

        // The squatter is beta's: beta hears of it through its inbox.
        let on_beta = |id| Holder {
            id,
            elsewhere: true,
            ghosted: false,
        };
        // Believing nobody holds it, or the owner under another nick: refused, nothing moved.
        for (holder, owner_nick) in [(None, "owner"), (Some(on_beta(squatter)), "someone")] {
            assert!(matches!(
                alpha
                    .reclaim("alice", holder, owner, owner_nick, true)
                    .await,
                Err(ClaimError::Stale)
            ));
        }
        assert_eq!(alpha.holder("alice").await.unwrap(), Some(squatter));

        let guest = alpha
            .reclaim("alice", Some(on_beta(squatter)), owner, "owner", true)
            .await
            .unwrap();
        assert_eq!(guest.as_deref(), Some("guest-1"));
        assert_eq!(alpha.holder("alice").await.unwrap(), Some(owner));
        assert_eq!(alpha.holder("guest-1").await.unwrap(), Some(squatter));
        assert_eq!(alpha.holder("owner").await.unwrap(), None);
        // Two renames on the state feed, the holder's first.
        let events = beta.state_after(0, 100).await.unwrap();
        let renames: Vec<_> = events
            .iter()
            .filter(|event| event.kind == EventKind::Renamed)
            .map(|event| (event.user, event.nick.as_str()))
            .collect();
        assert_eq!(renames, [(squatter, "guest-1"), (owner, "alice")]);
        // The squatter's rename tells its node to move it; the owner's is the caller's own.
        let bodies: Vec<_> = events
            .iter()
            .filter(|event| event.kind == EventKind::Renamed)
            .map(|event| event.body.clone())
            .collect();
        assert_eq!(
            bodies,
            [wire::encode(&MovedAside { ghosted: false }), Vec::new()]
        );

        // Freeing without taking: the holder moves, the nick is left free.
        let bob = beta.connect("bob", &facts("b")).await.unwrap();
        let freed = alpha
            .reclaim("bob", Some(on_beta(bob)), owner, "alice", false)
            .await
            .unwrap();
        assert_eq!(freed.as_deref(), Some("guest-2"));
        assert_eq!(alpha.holder("bob").await.unwrap(), None);
        assert_eq!(alpha.holder("alice").await.unwrap(), Some(owner));
    }

    /// A node that died leaves its users behind; another releases them all, in batches, and
    /// nobody else's.
    #[tokio::test]
    async fn a_dead_node_s_users_are_released_in_batches() {
        let server = RedisServer::start();
        let alpha = directory(&server, "alpha").await;
        let beta = directory(&server, "beta").await;
        let count = 2 * RELEASE_BATCH + 50;
        for number in 0..count {
            alpha
                .connect(&format!("a{number}"), &facts("a"))
                .await
                .unwrap();
        }
        let bob = beta.connect("bob", &facts("bob")).await.unwrap();
        assert_eq!(beta.release_node("alpha").await.unwrap(), count);
        assert_eq!(beta.holder("a0").await.unwrap(), None);
        assert_eq!(beta.holder(&format!("a{}", count - 1)).await.unwrap(), None);
        assert_eq!(beta.holder("bob").await.unwrap(), Some(bob));
        assert_eq!(beta.user_count().await.unwrap(), 1);
        // Each released user is one event on the state feed, after the arrivals.
        let events = beta.state_after(0, 1000).await.unwrap();
        let released = events
            .iter()
            .filter(|event| event.kind == EventKind::Released)
            .count();
        assert_eq!(released, count);
        assert!(
            events
                .iter()
                .any(|event| event.kind == EventKind::Released && event.nick == "a0")
        );
        assert_eq!(beta.release_node("alpha").await.unwrap(), 0);
        // The nicks are free again.
        beta.connect("a0", &facts("new")).await.unwrap();
    }

    /// A node whose lease no longer holds its token (it was presumed dead and replaced)
    /// changes nothing.
    #[tokio::test]
    async fn a_fenced_node_changes_nothing() {
        let server = RedisServer::start();
        let fence = Fence::default();
        let lease = format!("{PREFIX}:lease:alpha");
        fence.hold(lease.clone(), "token-1".into());
        let alpha = UserDirectory::open(&server.url(), PREFIX, "alpha", fence)
            .await
            .unwrap();
        assert_eq!(server.command(&format!("SET {lease} token-1")), "+OK");
        let alice = alpha.connect("alice", &facts("alice")).await.unwrap();

        assert_eq!(server.command(&format!("SET {lease} token-2")), "+OK");
        let refused = alpha.connect("bob", &facts("bob")).await.unwrap_err();
        assert!(refused.to_string().contains("FENCED"), "{refused}");
        assert!(alpha.rename(alice, "alice", "alicia").await.is_err());
        assert!(alpha.disconnect(alice, "alice", Some("bye")).await.is_err());
        assert_eq!(alpha.holder("bob").await.unwrap(), None);
        assert_eq!(alpha.holder("alice").await.unwrap(), Some(alice));
        // Nor does it publish anything: the feed has alice's arrival only.
        let events = alpha.state_after(0, 10).await.unwrap();
        assert_eq!(kinds_and_nicks(&events), [(EventKind::Connected, "alice")]);
    }

    /// A private message sent twice under one nonce (its answer lost, say) is one event in
    /// the recipient node's inbox, and both calls answer its id.
    #[tokio::test]
    async fn a_private_message_sent_again_under_its_nonce_is_sent_once() {
        let server = RedisServer::start();
        let alpha = directory(&server, "alpha").await;
        let beta = directory(&server, "beta").await;
        let bob = beta.connect("bob", &facts("b")).await.unwrap();
        let message = PrivateMessage {
            id: 0,
            time_ms: 0,
            from: wire::Sender {
                nick: "alice".into(),
                user: "~a".into(),
                host: "192.0.2.7".into(),
                realname: String::new(),
                account: None,
                bot: false,
            },
            to: "bob".into(),
            kind: wire::Speech::Say,
            text: "only once".into(),
            concat_at: Vec::new(),
            client_tags: String::new(),
        };
        let nonce = alpha.nonce();
        let mut ids = Vec::new();
        for _ in 0..2 {
            let sent = alpha
                .send_private(bob, ("beta", "bob"), &message, None, &nonce)
                .await
                .unwrap();
            ids.push(sent.expect("bob is connected through beta"));
        }
        assert_eq!(ids[0], ids[1]);
        let inbox = Feed::Inbox("beta".into());
        let events = beta.events_after(&inbox, 0, 10).await.unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!((events[0].id, events[0].kind), (ids[0], EventKind::Private));
        // Another nonce is another message.
        let other = alpha
            .send_private(bob, ("beta", "bob"), &message, None, &alpha.nonce())
            .await
            .unwrap();
        assert!(other.is_some_and(|id| id > ids[0]));
    }

    fn kinds_and_nicks(events: &[Envelope]) -> Vec<(EventKind, &str)> {
        events
            .iter()
            .map(|event| (event.kind, event.nick.as_str()))
            .collect()
    }

    /// What the directory did is what the state feed says, in the order it did it: one event
    /// per change that took place, none for a change refused, numbered without gaps, with ids
    /// that only grow, and the bodies the nodes built.
    #[tokio::test]
    async fn every_change_is_one_event_on_the_state_feed_in_order() {
        let server = RedisServer::start();
        let alpha = directory(&server, "alpha").await;
        let beta = directory(&server, "beta").await;
        let alice = alpha.connect("alice", &facts("alice")).await.unwrap();
        let (guest, guest_nick) = beta.connect_guest(&facts("g")).await.unwrap();
        assert!(beta.rename(guest, &guest_nick, "ALICE").await.is_err());
        alpha.rename(alice, "alice", "Alicia").await.unwrap();
        beta.disconnect(guest, &guest_nick, Some("bye"))
            .await
            .unwrap();
        beta.disconnect(guest, &guest_nick, Some("again"))
            .await
            .unwrap();

        let events = alpha.state_after(0, 100).await.unwrap();
        assert_eq!(
            kinds_and_nicks(&events),
            [
                (EventKind::Connected, "alice"),
                (EventKind::Connected, "guest-1"),
                (EventKind::Renamed, "Alicia"),
                (EventKind::Disconnected, "guest-1"),
            ]
        );
        let users: Vec<_> = events.iter().map(|event| event.user).collect();
        assert_eq!(users, [alice, guest, alice, guest]);
        let sequences: Vec<_> = events.iter().map(|event| event.sequence).collect();
        assert_eq!(sequences, [1, 2, 3, 4]);
        assert!(events.windows(2).all(|pair| pair[0].id < pair[1].id));
        // An event's time is its id's millisecond, from Redis's clock: about now.
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(
            (events[0].id / 1024).abs_diff(now_ms) < 60_000,
            "{}",
            events[0].id
        );

        let arrival: Arrival = events[1].body().unwrap();
        assert_eq!(arrival.node, "beta");
        assert_eq!(arrival.user, "~g");
        assert_eq!(arrival.protocol, Protocol::Irc);
        let departure: Departure = events[3].body().unwrap();
        assert_eq!(departure.reason.as_deref(), Some("bye"));
        // Catching up from an event reads what came after it.
        let later = beta.state_after(events[1].id, 100).await.unwrap();
        assert_eq!(later, events[2..]);
    }

    /// A node hears each event live, on the feed's channel, as the same envelope the stream
    /// keeps.
    #[tokio::test]
    async fn the_state_feed_s_channel_carries_the_stream_s_envelopes() {
        use futures_util::StreamExt;

        let server = RedisServer::start();
        let alpha = directory(&server, "alpha").await;
        let client = redis::Client::open(server.url()).unwrap();
        let mut subscriber = client.get_async_pubsub().await.unwrap();
        subscriber
            .subscribe(alpha.channel(&Feed::State))
            .await
            .unwrap();
        let alice = alpha.connect("alice", &facts("alice")).await.unwrap();
        alpha.disconnect(alice, "alice", None).await.unwrap();

        let mut messages = subscriber.on_message();
        let mut heard = Vec::new();
        for _ in 0..2 {
            let message = messages.next().await.expect("a message");
            heard.push(Envelope::parse(message.get_payload_bytes()).unwrap());
        }
        assert_eq!(heard, alpha.state_after(0, 10).await.unwrap());
        let departure: Departure = heard[1].body().unwrap();
        assert_eq!(departure.reason, None);
    }
}
