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

use serde::{Deserialize, Serialize};

use super::users::ClusterUserId;
use crate::hub::Protocol;

/// What happened to a user, on the state feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// The user arrived on a node; the body is an [`Arrival`].
    Connected,
    /// The user took the nick in the envelope; no body.
    Renamed,
    /// The user left; the body is a [`Departure`].
    Disconnected,
    /// The user's node is gone and the cluster released it; no body.
    Released,
}

impl StateKind {
    /// The word the scripts write for it.
    pub fn word(self) -> &'static str {
        match self {
            StateKind::Connected => "connected",
            StateKind::Renamed => "renamed",
            StateKind::Disconnected => "disconnected",
            StateKind::Released => "released",
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        [
            StateKind::Connected,
            StateKind::Renamed,
            StateKind::Disconnected,
            StateKind::Released,
        ]
        .into_iter()
        .find(|kind| kind.word() == word)
    }
}

/// One event of the state feed, as a script wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEnvelope {
    /// The event's id, from the cluster's one counter: orders events across feeds, and its
    /// millisecond (`id / 1024`) is the event's time.
    pub id: u64,
    /// The event's place on the state feed, one after the previous event's.
    pub sequence: u64,
    pub kind: StateKind,
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

impl StateEnvelope {
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
        let kind = StateKind::from_word(next()?).ok_or_else(bad)?;
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

/// A user leaving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departure {
    /// The quit reason others are told; `None` when nobody is told (the server shut down).
    pub reason: Option<String>,
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

    fn kinds() -> impl Strategy<Value = StateKind> {
        prop_oneof![
            Just(StateKind::Connected),
            Just(StateKind::Renamed),
            Just(StateKind::Disconnected),
            Just(StateKind::Released),
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
            let envelope = StateEnvelope { id, sequence, kind, user: ClusterUserId(user), nick, body };
            prop_assert_eq!(StateEnvelope::parse(&envelope.to_bytes()), Ok(envelope));
        }

        /// Whatever bytes arrive, reading them answers, never panics.
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = StateEnvelope::parse(&bytes);
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

    #[test]
    fn malformed_envelopes_are_refused_with_what_is_wrong() {
        assert_eq!(
            StateEnvelope::parse(b"1 2 connected 3 x"),
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
                StateEnvelope::parse(bytes.as_bytes()),
                Err(WireError::BadHeader(header.into())),
                "{header}"
            );
        }
        let departure = StateEnvelope::parse(b"7 1 disconnected 3 alice\n").expect("parsed");
        assert!(matches!(
            departure.body::<Departure>(),
            Err(WireError::BadBody(_))
        ));
    }
}
