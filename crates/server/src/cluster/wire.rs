//! What the cluster's feeds carry (docs/CLUSTER.md, "Feeds"), as bytes: the envelope a Redis
//! script writes around each event, and the bodies nodes build. Pure, no I/O.
//!
//! An envelope is one header line of text, written by the script (which alone knows the event's
//! id, its sequence number on the feed and, for a new user, its id and guest nick), then the
//! body, built by the node that made the change and passed through untouched: Lua never parses
//! a body. The same bytes are the stream entry's one field and the pub/sub message, so a node
//! reads live and caught-up events alike.
//!
//! ```text
//! <event id> <sequence> <kind> <user id> <nick>\n<body>
//! ```
//!
//! Bodies are encoded with `postcard` (compact, and serde's derive keeps them in step with the
//! types); a node that cannot decode one (a newer node's) reports it rather than guess.

use std::net::IpAddr;
use std::sync::Arc;

use palaver_proto::event::{Event, Identity, MemberStatus, MessageId, MessageKind, Target};
use palaver_proto::irc::modes::{list_from_letter, list_letter, parse_changes, spell_modes};
use palaver_proto::modes::{MaskList, ModeChange, RoomModes};
use palaver_proto::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::users::ClusterUserId;
use crate::hub::{MaskEntry, MaskLists, Protocol, time_of};

/// What an event is: on the state feed, what happened to a user or in a room; in a node's
/// inbox, what came for one of its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The user arrived on a node; the body is an [`Arrival`].
    Connected,
    /// The user took the nick in the envelope; no body, but for a user that another node
    /// moved off a nick its account's owner reclaimed: a [`MovedAside`], for its own node to
    /// move it too.
    Renamed,
    /// The user left; the body is a [`Departure`].
    Disconnected,
    /// The user's node is gone and the cluster released it; no body.
    Released,
    /// What others see of the user changed; the body is its [`Presence`].
    Updated,
    /// In an inbox: a private message to the user; the body is a [`PrivateMessage`].
    Private,
    /// In an inbox: an operator killed the user; the body is a [`KillOrder`].
    Killed,
    /// In an inbox: the user's account's password was changed, or the account locked, on
    /// another node: the user is logged out; the body is a [`LogOut`].
    LoggedOut,
    /// In an inbox: a session of the user's account on another node moved a read marker;
    /// the body is a [`ReadMarker`].
    Marker,
    /// In an inbox: its sender deleted a private message the user received; the body is a
    /// [`PrivateDeletion`].
    PrivateRedacted,
    /// A user joined a room ([`RoomJoin`]).
    Joined,
    /// A user left a room ([`RoomPart`]).
    Parted,
    /// A user was kicked out of a room ([`RoomKick`]); the envelope names the kicked.
    Kicked,
    /// A user said something in a room ([`RoomMessage`]); the event's id is the message's.
    Said,
    /// A user set a room's topic ([`RoomTopic`]).
    Topic,
    /// A user changed a room's modes ([`RoomModeChange`]); its id is the room's new rules
    /// version.
    Modes,
    /// A user was invited into a room ([`RoomInvite`]); the envelope names the invitee.
    Invited,
    /// A room was registered to an account ([`RoomRegistration`]).
    Registered,
    /// A message of a room was deleted ([`RoomDeletion`]); the event's id is the deletion's.
    Redacted,
    /// An operator banned a target from the network ([`ServerBanOrder`]); the envelope names
    /// the operator.
    Banned,
    /// An operator lifted a server ban ([`ServerBanLift`]).
    Unbanned,
    /// An operator's `WALLOPS` ([`WallopsMessage`]).
    Wallops,
}

impl EventKind {
    /// The word the scripts write for it.
    pub fn word(self) -> &'static str {
        match self {
            EventKind::Connected => "connected",
            EventKind::Renamed => "renamed",
            EventKind::Disconnected => "disconnected",
            EventKind::Released => "released",
            EventKind::Updated => "updated",
            EventKind::Private => "private",
            EventKind::Killed => "killed",
            EventKind::LoggedOut => "logged_out",
            EventKind::Marker => "marker",
            EventKind::PrivateRedacted => "private_redacted",
            EventKind::Joined => "joined",
            EventKind::Parted => "parted",
            EventKind::Kicked => "kicked",
            EventKind::Said => "said",
            EventKind::Topic => "topic",
            EventKind::Modes => "modes",
            EventKind::Invited => "invited",
            EventKind::Registered => "registered",
            EventKind::Redacted => "redacted",
            EventKind::Banned => "banned",
            EventKind::Unbanned => "unbanned",
            EventKind::Wallops => "wallops",
        }
    }

    /// Whether it changes its user's record (arrival, rename, departure, presence): an
    /// event a record loaded from the snapshot may already reflect (its version `v`). Rooms'
    /// events and those for every node (bans, wallops) are applied whatever the user's record.
    pub fn changes_a_user_record(self) -> bool {
        matches!(
            self,
            EventKind::Connected
                | EventKind::Renamed
                | EventKind::Disconnected
                | EventKind::Released
                | EventKind::Updated
        )
    }

    fn from_word(word: &str) -> Option<Self> {
        [
            EventKind::Connected,
            EventKind::Renamed,
            EventKind::Disconnected,
            EventKind::Released,
            EventKind::Updated,
            EventKind::Private,
            EventKind::Killed,
            EventKind::LoggedOut,
            EventKind::Marker,
            EventKind::PrivateRedacted,
            EventKind::Joined,
            EventKind::Parted,
            EventKind::Kicked,
            EventKind::Said,
            EventKind::Topic,
            EventKind::Modes,
            EventKind::Invited,
            EventKind::Registered,
            EventKind::Redacted,
            EventKind::Banned,
            EventKind::Unbanned,
            EventKind::Wallops,
        ]
        .into_iter()
        .find(|kind| kind.word() == word)
    }
}

/// One event of a feed (the state feed, a node's inbox), as a script wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The event's id, from the cluster's one counter: orders events across feeds, and its
    /// millisecond (`id / 1024`) is the event's time.
    pub id: u64,
    /// The event's place on its feed, one after the previous event's.
    pub sequence: u64,
    pub kind: EventKind,
    pub user: ClusterUserId,
    /// The user's nick after the event (the nick it left under, for a departure).
    pub nick: String,
    /// The node's body, as it built it.
    pub body: Vec<u8>,
}

/// Bytes that are not an envelope or a body this node understands.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("an envelope without its header line")]
    NoHeader,
    #[error("an envelope header that is not `<id> <sequence> <kind> <user> <nick>`: {0:?}")]
    BadHeader(String),
    #[error("a body that does not decode: {0}")]
    BadBody(String),
}

impl Envelope {
    /// Reads an envelope from a stream entry's field or a pub/sub message.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let end = bytes
            .iter()
            .position(|&byte| byte == b'\n')
            .ok_or(WireError::NoHeader)?;
        let header = std::str::from_utf8(&bytes[..end])
            .map_err(|_| WireError::BadHeader(String::from_utf8_lossy(&bytes[..end]).into()))?;
        let bad = || WireError::BadHeader(header.to_owned());
        let mut fields = header.splitn(5, ' ');
        let mut next = || fields.next().ok_or_else(bad);
        let id = next()?.parse().map_err(|_| bad())?;
        let sequence = next()?.parse().map_err(|_| bad())?;
        let kind = EventKind::from_word(next()?).ok_or_else(bad)?;
        let user = ClusterUserId(next()?.parse().map_err(|_| bad())?);
        let nick = next()?;
        if nick.contains(' ') {
            return Err(bad());
        }
        Ok(Self {
            id,
            sequence,
            kind,
            user,
            nick: nick.to_owned(),
            body: bytes[end + 1..].to_vec(),
        })
    }

    /// The bytes a script writes for this envelope (what [`Self::parse`] reads); for tests
    /// and tools, the scripts write their own.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = format!(
            "{} {} {} {} {}\n",
            self.id,
            self.sequence,
            self.kind.word(),
            self.user,
            self.nick
        )
        .into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// The body, decoded as `T`.
    pub fn body<T: for<'a> Deserialize<'a>>(&self) -> Result<T, WireError> {
        decode(&self.body)
    }
}

/// A user arriving on a node: what the other nodes' replicas need to show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    /// The user's home node.
    pub node: String,
    /// Its address (for operators' `WHOIS` and server bans).
    pub address: IpAddr,
    pub protocol: Protocol,
    /// User name, host as others see it, real name.
    pub user: String,
    pub host: String,
    pub realname: String,
}

/// What others see of a user besides its nick, after a change: all of it, so that applying
/// it again changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub away: Option<String>,
    pub realname: String,
    pub account: Option<String>,
    pub bot: bool,
    pub invisible: bool,
    /// The name it is a server operator under, if it is one.
    pub operator: Option<String>,
}

/// A user leaving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departure {
    /// The quit reason others are told; `None` when nobody is told (the server shut down).
    pub reason: Option<String>,
}

/// A private message to a user of another node, as its sender's node stamped it; the
/// recipient's node delivers it as the [`Event`] it was ([`PrivateMessage::into_event`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateMessage {
    /// The message's id and time (ms since the epoch), as the sender's node stamped them.
    pub id: u64,
    pub time_ms: u64,
    /// The sender as others see it.
    pub from: Sender,
    /// The recipient's nick, as the message names it.
    pub to: String,
    pub kind: Speech,
    /// As in [`Event::Message`].
    pub text: String,
    pub concat_at: Vec<usize>,
    pub client_tags: String,
}

/// An operator's kill of a user of another node: who did it and why, as the user and those
/// who share its rooms are told (`hub::Kill`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillOrder {
    pub by: Sender,
    pub reason: String,
}

/// A server ban an operator put in force on the node `node`, which enforces it already: the
/// others keep it in their live lists and disconnect their users it bars (`hub::ServerBan`;
/// the shared store keeps it for nodes that start later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerBanOrder {
    pub node: String,
    /// As `BanTarget` prints it (and reads it back).
    pub target: String,
    pub reason: String,
    pub set_by: String,
    pub set_at_ms: u64,
    pub expires_ms: Option<u64>,
}

/// A server ban an operator lifted on the node `node`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerBanLift {
    pub node: String,
    pub target: String,
}

/// An operator's `WALLOPS`, sent from the node `node` (whose users have it already), for every
/// node's users who asked for wallops (user mode `+w`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WallopsMessage {
    pub node: String,
    pub from: Sender,
    pub text: String,
}

/// An account's read marker moved (IRCv3 read-marker), for its sessions on other nodes: the
/// [`Event::ReadMarker`] its node made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarker {
    pub time_ms: u64,
    pub server: String,
    pub target: String,
    pub marker_ms: Option<u64>,
}

impl ReadMarker {
    /// The body for `event`, if it is a read marker.
    pub fn of(event: &Event) -> Option<Self> {
        let Event::ReadMarker {
            time,
            server,
            target,
            marker,
        } = event
        else {
            return None;
        };
        Some(Self {
            time_ms: time.0,
            server: server.to_string(),
            target: target.to_string(),
            marker_ms: marker.map(|marker| marker.0),
        })
    }

    pub fn into_event(self) -> Event {
        Event::ReadMarker {
            time: Timestamp(self.time_ms),
            server: self.server.into(),
            target: self.target.into(),
            marker: self.marker_ms.map(Timestamp),
        }
    }
}

/// A user logged out by another node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOut {
    /// Whether an administrator locked the account (else its password was changed).
    pub locked: bool,
}

/// A user moved off a reclaimed nick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedAside {
    /// Whether it was a stale session of the owner's own (NickServ `GHOST`), which then ends.
    pub ghosted: bool,
}

/// Who sent a private message, or killed a user: its [`Identity`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    pub account: Option<String>,
    pub bot: bool,
}

impl Sender {
    pub fn of(identity: &Identity) -> Self {
        Self {
            nick: identity.nick.to_string(),
            user: identity.user.to_string(),
            host: identity.host.to_string(),
            realname: identity.realname.to_string(),
            account: identity.account.as_deref().map(str::to_owned),
            bot: identity.bot,
        }
    }

    pub fn into_identity(self) -> Identity {
        Identity {
            nick: self.nick.into(),
            user: self.user.into(),
            host: self.host.into(),
            realname: self.realname.into(),
            account: self.account.map(Into::into),
            bot: self.bot,
        }
    }
}

/// A message's [`MessageKind`], on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Speech {
    Say,
    Action,
    Notice,
    TagsOnly,
}

impl PrivateMessage {
    /// The body for `event`, if it is a message to a user.
    pub fn of(event: &Event) -> Option<Self> {
        let Event::Message {
            id,
            time,
            from,
            target: Target::User(to),
            kind,
            text,
            concat_at,
            client_tags,
        } = event
        else {
            return None;
        };
        Some(Self {
            id: id.0,
            time_ms: time.0,
            from: Sender::of(from),
            to: to.to_string(),
            kind: Speech::from(*kind),
            text: text.to_string(),
            concat_at: concat_at.to_vec(),
            client_tags: client_tags.to_string(),
        })
    }

    /// The event as its sender's node made it.
    /// The message with the id the cluster gave it (its inbox event's), and the time that id
    /// says.
    pub fn into_event_as(mut self, id: u64) -> Event {
        self.id = id;
        self.time_ms = time_of(id).0;
        self.into_event()
    }

    pub fn into_event(self) -> Event {
        Event::Message {
            id: MessageId(self.id),
            time: Timestamp(self.time_ms),
            from: Arc::new(self.from.into_identity()),
            target: Target::User(self.to.into()),
            kind: self.kind.into(),
            text: self.text.into(),
            concat_at: self.concat_at.into(),
            client_tags: self.client_tags.into(),
        }
    }
}

impl From<MessageKind> for Speech {
    fn from(kind: MessageKind) -> Self {
        match kind {
            MessageKind::Say => Speech::Say,
            MessageKind::Action => Speech::Action,
            MessageKind::Notice => Speech::Notice,
            MessageKind::TagsOnly => Speech::TagsOnly,
        }
    }
}

impl From<Speech> for MessageKind {
    fn from(speech: Speech) -> Self {
        match speech {
            Speech::Say => MessageKind::Say,
            Speech::Action => MessageKind::Action,
            Speech::Notice => MessageKind::Notice,
            Speech::TagsOnly => MessageKind::TagsOnly,
        }
    }
}

/// A user joining a room (`joined`), as its node decided it on its replica: Redis checked that
/// the room was empty exactly when `founding` says so (its founder is its operator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomJoin {
    /// The room's name, as the joiner wrote it (the name of a room it founds).
    pub room: String,
    /// Whether the joiner is the room's operator: its founder, or a registered room's.
    pub op: bool,
    /// Whether the room was empty: the join (re)creates it.
    pub founding: bool,
}

/// A user leaving a room (`parted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPart {
    pub room: String,
    pub reason: Option<String>,
}

/// A member kicked out of a room (`kicked`; the envelope names the kicked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomKick {
    pub room: String,
    /// The kicker's cluster id (its own session tells it of the kick) and identity.
    pub by_id: u64,
    pub by: Sender,
    pub reason: String,
}

/// A message to a room (`said`; the envelope names the sender, and its id is the message's,
/// which gives its time: `id / 1024` milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMessage {
    pub room: String,
    /// Only the members with this status or more hear it (a status message).
    pub minimum: Option<Status>,
    pub from: Sender,
    pub kind: Speech,
    pub text: String,
    pub concat_at: Vec<usize>,
    pub client_tags: String,
}

/// The least status of a status message's audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Voiced,
    Operator,
}

impl From<MemberStatus> for Status {
    fn from(status: MemberStatus) -> Self {
        match status {
            MemberStatus::Voiced => Status::Voiced,
            MemberStatus::Operator => Status::Operator,
        }
    }
}

impl From<Status> for MemberStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Voiced => MemberStatus::Voiced,
            Status::Operator => MemberStatus::Operator,
        }
    }
}

impl RoomMessage {
    /// The message as an event, with the id Redis gave it (and the time that id says).
    pub fn into_event(self, id: u64) -> Event {
        let room: Arc<str> = self.room.into();
        Event::Message {
            id: MessageId(id),
            time: time_of(id),
            from: Arc::new(self.from.into_identity()),
            target: match self.minimum {
                None => Target::Room(room),
                Some(minimum) => Target::RoomStatus {
                    room,
                    minimum: minimum.into(),
                },
            },
            kind: self.kind.into(),
            text: self.text.into(),
            concat_at: self.concat_at.into(),
            client_tags: self.client_tags.into(),
        }
    }
}

/// A room's topic set (`topic`; empty: cleared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomTopic {
    pub room: String,
    pub by: Sender,
    pub topic: String,
}

/// A user invited into a room (`invited`; the envelope names the invitee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInvite {
    pub room: String,
    /// The inviter's cluster id and identity.
    pub by_id: u64,
    pub by: Sender,
    /// Whether an operator invited it: only then is the invitation kept, and lets it in once.
    pub by_operator: bool,
}

/// A room registered to its founder's account (`registered`; the envelope names the user
/// who registered it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRegistration {
    pub room: String,
    pub founder: String,
}

/// A message of a room deleted (`redacted`; the envelope names who deleted it, and the event's
/// id is the deletion's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomDeletion {
    pub room: String,
    pub by: Sender,
    pub message: u64,
    /// The deleted message's sender, by nick as it was then, and when it was sent (ms).
    pub author: String,
    pub sent_ms: u64,
    pub reason: Option<String>,
}

impl RoomDeletion {
    /// The body for a room message's deletion (`Event::Redacted` to a room); `None` for any
    /// other event.
    pub fn of(event: &Event) -> Option<Self> {
        let Event::Redacted {
            by,
            target: Target::Room(room),
            message,
            author,
            sent,
            reason,
            ..
        } = event
        else {
            return None;
        };
        Some(Self {
            room: room.to_string(),
            by: Sender::of(by),
            message: message.0,
            author: author.to_string(),
            sent_ms: sent.0,
            reason: reason.as_deref().map(str::to_owned),
        })
    }

    /// The deletion as an event, with the id Redis gave it (and the time that id says).
    pub fn into_event(self, id: u64) -> Event {
        Event::Redacted {
            id: MessageId(id),
            time: time_of(id),
            by: Arc::new(self.by.into_identity()),
            target: Target::Room(self.room.into()),
            message: MessageId(self.message),
            author: self.author.into(),
            sent: Timestamp(self.sent_ms),
            reason: self.reason.map(Into::into),
        }
    }
}

/// A private message deleted by its sender (`private_redacted`, in its recipient's node's
/// inbox): the deletion as the sender's node made it, id and time included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateDeletion {
    pub id: u64,
    pub time_ms: u64,
    /// The recipient's nick, as the sender named it.
    pub peer: String,
    pub by: Sender,
    pub message: u64,
    /// The deleted message's sender, by nick as it was then, and when it was sent (ms).
    pub author: String,
    pub sent_ms: u64,
    pub reason: Option<String>,
}

impl PrivateDeletion {
    /// The body for a private message's deletion (`Event::Redacted` to a user); `None` for
    /// any other event.
    pub fn of(event: &Event) -> Option<Self> {
        let Event::Redacted {
            id,
            time,
            by,
            target: Target::User(peer),
            message,
            author,
            sent,
            reason,
        } = event
        else {
            return None;
        };
        Some(Self {
            id: id.0,
            time_ms: time.0,
            peer: peer.to_string(),
            by: Sender::of(by),
            message: message.0,
            author: author.to_string(),
            sent_ms: sent.0,
            reason: reason.as_deref().map(str::to_owned),
        })
    }

    pub fn into_event(self) -> Event {
        Event::Redacted {
            id: MessageId(self.id),
            time: Timestamp(self.time_ms),
            by: Arc::new(self.by.into_identity()),
            target: Target::User(self.peer.into()),
            message: MessageId(self.message),
            author: self.author.into(),
            sent: Timestamp(self.sent_ms),
            reason: self.reason.map(Into::into),
        }
    }
}

/// A room's modes changed (`modes`): the changes that changed something on the deciding
/// node's replica, spelled as IRC announces them (`+o-v alice bob`; `palaver_proto::irc::modes`
/// reads them back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomModeChange {
    pub room: String,
    /// The changer's cluster id (its own session tells it of the change) and identity.
    pub by_id: u64,
    pub by: Sender,
    pub modes: String,
    pub arguments: Vec<String>,
}

impl RoomModeChange {
    /// The changes, read back; `None` if they are not palaver's.
    pub fn changes(&self) -> Option<Vec<ModeChange>> {
        parse_changes(&self.modes, &self.arguments)
    }
}

/// A room's modes and mask lists as a whole, kept in its record for the nodes that start later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRules {
    /// The modes set, spelled as IRC shows them (`+ntk`, with `["key"]`).
    pub modes: String,
    pub arguments: Vec<String>,
    pub lists: Vec<ListedMask>,
}

/// One entry of a room's mask lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedMask {
    /// The list's IRC letter (`b`, `e`, `I`).
    pub list: char,
    pub mask: String,
    pub set_by: String,
    pub set_at_ms: u64,
}

impl RoomRules {
    pub fn of(modes: &RoomModes, lists: &MaskLists) -> Self {
        let (modes, arguments) = spell_modes(modes);
        let lists = MaskList::ALL
            .into_iter()
            .flat_map(|list| {
                lists.get(list).iter().map(move |entry| ListedMask {
                    list: list_letter(list),
                    mask: entry.mask.to_string(),
                    set_by: entry.set_by.to_string(),
                    set_at_ms: entry.set_at.0,
                })
            })
            .collect();
        Self {
            modes,
            arguments,
            lists,
        }
    }

    /// The modes and lists; `None` if they are not palaver's.
    pub fn into_parts(self) -> Option<(RoomModes, MaskLists)> {
        let mut modes = RoomModes::default();
        for change in parse_changes(&self.modes, &self.arguments)? {
            match change {
                ModeChange::Flag { flag, set } => *modes.flag_mut(flag) = set,
                ModeChange::Key(key) => modes.key = key.map(Into::into),
                ModeChange::Limit(limit) => modes.limit = limit,
                _ => return None,
            }
        }
        let mut lists = MaskLists::default();
        for entry in self.lists {
            lists
                .get_mut(list_from_letter(entry.list)?)
                .push(MaskEntry {
                    mask: entry.mask.into(),
                    set_by: entry.set_by.into(),
                    set_at: Timestamp(entry.set_at_ms),
                });
        }
        Some((modes, lists))
    }
}

/// A room's event a node publishes as it built it (`rooms.rs`): its kind, and the room.
pub trait RoomEvent: Serialize {
    const KIND: EventKind;
    fn room(&self) -> &str;
}

macro_rules! room_event {
    ($body:ty, $kind:expr) => {
        impl RoomEvent for $body {
            const KIND: EventKind = $kind;
            fn room(&self) -> &str {
                &self.room
            }
        }
    };
}

room_event!(RoomMessage, EventKind::Said);
room_event!(RoomTopic, EventKind::Topic);
room_event!(RoomInvite, EventKind::Invited);
room_event!(RoomRegistration, EventKind::Registered);
room_event!(RoomDeletion, EventKind::Redacted);

/// `body` encoded for a feed.
pub fn encode<T: Serialize>(body: &T) -> Vec<u8> {
    postcard::to_allocvec(body).expect("bodies are plain data, which always encode")
}

/// A body read from a feed.
pub fn decode<T: for<'a> Deserialize<'a>>(bytes: &[u8]) -> Result<T, WireError> {
    postcard::from_bytes(bytes).map_err(|error| WireError::BadBody(error.to_string()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn kinds() -> impl Strategy<Value = EventKind> {
        prop_oneof![
            Just(EventKind::Connected),
            Just(EventKind::Renamed),
            Just(EventKind::Disconnected),
            Just(EventKind::Released),
            Just(EventKind::Updated),
            Just(EventKind::Private),
            Just(EventKind::Killed),
            Just(EventKind::LoggedOut),
            Just(EventKind::Marker),
            Just(EventKind::PrivateRedacted),
            Just(EventKind::Joined),
            Just(EventKind::Parted),
            Just(EventKind::Kicked),
            Just(EventKind::Said),
            Just(EventKind::Topic),
            Just(EventKind::Modes),
            Just(EventKind::Invited),
            Just(EventKind::Registered),
            Just(EventKind::Redacted),
        ]
    }

    proptest! {
        /// Any envelope reads back as written, whatever bytes its body holds (newlines and
        /// spaces included) and with an empty nick (a released user whose record was gone).
        #[test]
        fn an_envelope_reads_back_as_written(
            id in any::<u64>(),
            sequence in any::<u64>(),
            kind in kinds(),
            user in any::<u64>(),
            nick in "[^ \n]{0,30}",
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let envelope = Envelope { id, sequence, kind, user: ClusterUserId(user), nick, body };
            prop_assert_eq!(Envelope::parse(&envelope.to_bytes()), Ok(envelope));
        }

        /// Whatever bytes arrive, reading them answers, never panics.
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Envelope::parse(&bytes);
            let _ = decode::<Arrival>(&bytes);
        }

        #[test]
        fn an_arrival_reads_back_as_written(
            node in "[a-z0-9-]{1,20}",
            user in ".{0,20}",
            host in ".{0,40}",
            realname in ".{0,60}",
            v4 in any::<u32>(),
            irc in any::<bool>(),
        ) {
            let arrival = Arrival {
                node,
                address: IpAddr::from(v4.to_be_bytes()),
                protocol: if irc { Protocol::Irc } else { Protocol::Text },
                user,
                host,
                realname,
            };
            prop_assert_eq!(decode::<Arrival>(&encode(&arrival)), Ok(arrival));
        }
    }

    /// A private message crosses to the recipient's node as the event its sender's node made.
    #[test]
    fn a_private_message_reads_back_as_the_event_it_was() {
        let event = Event::Message {
            id: MessageId(77),
            time: Timestamp(1_700_000_000_123),
            from: Arc::new(Identity {
                nick: "alice".into(),
                user: "~a".into(),
                host: "192.0.2.7".into(),
                realname: "Alice".into(),
                account: Some("alice".into()),
                bot: true,
            }),
            target: Target::User("Bob".into()),
            kind: MessageKind::Action,
            text: "waves\nand again".into(),
            concat_at: vec![5].into(),
            client_tags: "+draft/reply=1".into(),
        };
        let body = PrivateMessage::of(&event).expect("a message to a user");
        let decoded: PrivateMessage = decode(&encode(&body)).expect("decoded");
        assert_eq!(decoded.into_event(), event);
        let joined = Event::Joined {
            time: Timestamp(1),
            room: "#rust".into(),
            who: Arc::new(Identity {
                nick: "alice".into(),
                user: "~a".into(),
                host: "h".into(),
                realname: "".into(),
                account: None,
                bot: false,
            }),
        };
        assert_eq!(PrivateMessage::of(&joined), None);
    }

    #[test]
    fn malformed_envelopes_are_refused_with_what_is_wrong() {
        assert_eq!(
            Envelope::parse(b"1 2 connected 3 x"),
            Err(WireError::NoHeader)
        );
        for header in [
            "1 2 arrived 3 alice",
            "1 2 connected alice",
            "x 2 connected 3 alice",
            "1 2 connected 3 al ice",
        ] {
            let bytes = format!("{header}\nbody");
            assert_eq!(
                Envelope::parse(bytes.as_bytes()),
                Err(WireError::BadHeader(header.into())),
                "{header}"
            );
        }
        let departure = Envelope::parse(b"7 1 disconnected 3 alice\n").expect("parsed");
        assert!(matches!(
            departure.body::<Departure>(),
            Err(WireError::BadBody(_))
        ));
    }
}
