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

use palaver_proto::event::{Event, Identity, MessageId, MessageKind, Target};
use palaver_proto::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::users::ClusterUserId;
use crate::hub::Protocol;

/// What an event is: on the state feed, what happened to a user; in a node's inbox, what
/// came for one of its users.
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
        }
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
            kind: match kind {
                MessageKind::Say => Speech::Say,
                MessageKind::Action => Speech::Action,
                MessageKind::Notice => Speech::Notice,
                MessageKind::TagsOnly => Speech::TagsOnly,
            },
            text: text.to_string(),
            concat_at: concat_at.to_vec(),
            client_tags: client_tags.to_string(),
        })
    }

    /// The event as its sender's node made it.
    pub fn into_event(self) -> Event {
        Event::Message {
            id: MessageId(self.id),
            time: Timestamp(self.time_ms),
            from: Arc::new(self.from.into_identity()),
            target: Target::User(self.to.into()),
            kind: match self.kind {
                Speech::Say => MessageKind::Say,
                Speech::Action => MessageKind::Action,
                Speech::Notice => MessageKind::Notice,
                Speech::TagsOnly => MessageKind::TagsOnly,
            },
            text: self.text.into(),
            concat_at: self.concat_at.into(),
            client_tags: self.client_tags.into(),
        }
    }
}

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
