//! What the store keeps: [`StoredMessage`], one message as it is written to and read from the
//! database, and [`HistoryTarget`], the room or private conversation it belongs to.
//!
//! A private message belongs to its two parties ([`Party`]): each side is the account it was
//! logged in to when the message was sent, or else its connection. Whoever holds a nick later
//! has no claim on it. A reader reads as its account and as its own connection.
//!
//! This module is pure data: conversions to and from the hub's [`Event`] and the lookup keys
//! the database indexes by. It does no I/O.

use std::sync::Arc;

use palaver_proto::event::{Event, Identity, MessageId, MessageKind, Target};
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

/// One message as stored for history replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The hub's msgid: unique and increasing, so it is both the primary key and the order of
    /// history.
    pub id: MessageId,
    pub time: Timestamp,
    /// The sender as others saw them when the message was sent (a later nick change does not
    /// rewrite history).
    pub from: Identity,
    /// The sender's account when logged in.
    pub account: Option<String>,
    pub target: HistoryTarget,
    /// `Say`, `Action` or `Notice`; `TagsOnly` messages are never stored.
    pub kind: MessageKind,
    pub text: String,
    /// Client-only tags, already escaped, as relayed live; empty when none.
    pub client_tags: String,
}

/// A connection, for the history of its private messages: unique across restarts (the hub
/// makes it from a random number drawn at each start and the connection's number in that
/// run), so a later connection, even in a later run, never reads as an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub u128);

/// Who one side of a private message is, for reading it later.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Party {
    /// The account (folded name) that side was logged in to when the message was sent.
    Account(String),
    /// The connection that side used, when it was not logged in.
    Connection(ConnectionId),
}

impl Party {
    /// The party of a user logged in to `account` (if any) on `connection`.
    pub fn of(account: Option<&str>, connection: ConnectionId) -> Self {
        match account {
            Some(account) => Party::Account(fold(account)),
            None => Party::Connection(connection),
        }
    }

    /// The party's form in the database: `a:` and the folded account, or `c:` and 32 hex
    /// digits. Neither contains a space, so a space separates it from a nick in a view key.
    pub(crate) fn key(&self) -> String {
        match self {
            Party::Account(account) => format!("a:{account}"),
            Party::Connection(ConnectionId(id)) => format!("c:{id:032x}"),
        }
    }

    /// The party stored as `key`; `None` for anything [`key`](Self::key) never writes.
    pub(crate) fn from_key(key: &str) -> Option<Self> {
        if let Some(account) = key.strip_prefix("a:") {
            return Some(Party::Account(account.to_owned()));
        }
        let id = key.strip_prefix("c:")?;
        u128::from_str_radix(id, 16)
            .ok()
            .map(|id| Party::Connection(ConnectionId(id)))
    }
}

/// One side of a stored private message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correspondent {
    /// The nick as written when the message was sent.
    pub nick: String,
    /// `None` for a message stored before parties were recorded: it belongs to nobody.
    pub party: Option<Party>,
}

impl Correspondent {
    fn new(nick: &str) -> Self {
        Self {
            nick: nick.to_owned(),
            party: None,
        }
    }
}

/// What a message belongs to, and what a history query reads. Names keep the form they were
/// written in (for display); lookups compare them case-folded ([`fold`]), so `#Rust` and
/// `#rust` are the same room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryTarget {
    /// A room, by its display name such as `#Rust`.
    Room(String),
    /// A private message from `sender` to `recipient` (what a stored private message belongs
    /// to). As a query: the conversation as its sender sees it.
    Private {
        sender: Correspondent,
        recipient: Correspondent,
    },
    /// A query: the private messages any of `readers` was a party to, whose other party used
    /// the nick `peer` when the message was sent.
    Conversation { readers: Vec<Party>, peer: String },
}

impl HistoryTarget {
    /// The key the database groups messages by (for rooms, what history queries look up):
    /// the folded room name, or for a private message both folded nicks in sorted order, so
    /// that a message from alice to bob and one from bob to alice share the key `alice bob`.
    /// Private history is looked up by [`view_keys`](Self::view_keys) instead.
    ///
    /// The kinds cannot collide: room names start with `#`, which no nick contains, and
    /// neither nicks nor room names contain spaces (see `palaver_proto::names`).
    pub(crate) fn key(&self) -> String {
        match self {
            HistoryTarget::Room(name) => fold(name),
            HistoryTarget::Private { sender, recipient } => {
                let (sender, recipient) = (fold(&sender.nick), fold(&recipient.nick));
                if sender <= recipient {
                    format!("{sender} {recipient}")
                } else {
                    format!("{recipient} {sender}")
                }
            }
            // A query across several keys (see `view_keys`); never stored, so never grouped.
            HistoryTarget::Conversation { peer, .. } => fold(peer),
        }
    }

    /// The view keys a private-history query looks up, each in both view columns: one per
    /// reader party, `"<party> <folded peer nick>"` ([`view_key`]).
    pub(crate) fn view_keys(&self) -> Vec<String> {
        match self {
            HistoryTarget::Room(_) => Vec::new(),
            HistoryTarget::Private { sender, recipient } => sender
                .party
                .iter()
                .map(|party| view_key(party, &recipient.nick))
                .collect(),
            HistoryTarget::Conversation { readers, peer } => {
                readers.iter().map(|party| view_key(party, peer)).collect()
            }
        }
    }
}

/// A private message as one party sees it: that party and the other one's nick at the time,
/// `"a:alice bob"`. Indexed with the message id, it answers one reader's history of one
/// conversation without looking at anyone else's messages.
pub(crate) fn view_key(party: &Party, peer_nick: &str) -> String {
    format!("{} {}", party.key(), fold(peer_nick))
}

impl StoredMessage {
    /// Builds a stored message from a hub [`Event::Message`] (the sender's account comes from
    /// its identity). `None` for other events and for `TagsOnly` messages, which carry no
    /// text worth replaying.
    pub fn from_event(event: &Event) -> Option<Self> {
        let Event::Message {
            id,
            time,
            from,
            target,
            kind,
            text,
            client_tags,
        } = event
        else {
            return None;
        };
        if *kind == MessageKind::TagsOnly {
            return None;
        }
        let target = match target {
            Target::Room(room) => HistoryTarget::Room(room.to_string()),
            Target::User(recipient) => HistoryTarget::Private {
                sender: Correspondent::new(&from.nick),
                recipient: Correspondent::new(recipient),
            },
        };
        Some(Self {
            id: *id,
            time: *time,
            from: Identity::clone(from),
            account: from.account.as_deref().map(str::to_owned),
            target,
            kind: *kind,
            text: text.to_string(),
            client_tags: client_tags.to_string(),
        })
    }

    /// Records who the two sides of a private message are; nothing for a room message. A
    /// private message stored without parties can never be read.
    pub fn set_parties(&mut self, sender_party: Party, recipient_party: Party) {
        if let HistoryTarget::Private { sender, recipient } = &mut self.target {
            sender.party = Some(sender_party);
            recipient.party = Some(recipient_party);
        }
    }

    /// The event to render when replaying this message.
    pub fn to_event(&self) -> Event {
        let target = match &self.target {
            HistoryTarget::Room(room) => Target::Room(Arc::from(room.as_str())),
            HistoryTarget::Private { recipient, .. } => {
                Target::User(Arc::from(recipient.nick.as_str()))
            }
            // Never stored: a query only.
            HistoryTarget::Conversation { peer, .. } => Target::User(Arc::from(peer.as_str())),
        };
        Event::Message {
            id: self.id,
            time: self.time,
            from: Arc::new(Identity {
                account: self.account.as_deref().map(Into::into),
                ..self.from.clone()
            }),
            target,
            kind: self.kind,
            text: self.text.as_str().into(),
            client_tags: self.client_tags.as_str().into(),
        }
    }
}

/// The name a message kind is stored under. `None` for `TagsOnly`, which is never stored.
pub(crate) fn kind_name(kind: MessageKind) -> Option<&'static str> {
    match kind {
        MessageKind::Say => Some("say"),
        MessageKind::Action => Some("action"),
        MessageKind::Notice => Some("notice"),
        MessageKind::TagsOnly => None,
    }
}

/// The message kind stored under `name`; `None` for anything [`kind_name`] never writes.
pub(crate) fn kind_from_name(name: &str) -> Option<MessageKind> {
    match name {
        "say" => Some(MessageKind::Say),
        "action" => Some(MessageKind::Action),
        "notice" => Some(MessageKind::Notice),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(nick: &str) -> Identity {
        Identity {
            nick: nick.into(),
            user: "u".into(),
            host: "h".into(),
            realname: "Real".into(),
            account: None,
        }
    }

    fn message_event(target: Target, kind: MessageKind) -> Event {
        Event::Message {
            id: MessageId(7),
            time: Timestamp(1_000),
            from: Arc::new(identity("Alice")),
            target,
            kind,
            text: "hello".into(),
            client_tags: "+draft/react=x".into(),
        }
    }

    fn private(sender: &str, recipient: &str) -> HistoryTarget {
        HistoryTarget::Private {
            sender: Correspondent::new(sender),
            recipient: Correspondent::new(recipient),
        }
    }

    #[test]
    fn room_and_private_keys_are_folded_and_symmetric() {
        assert_eq!(HistoryTarget::Room("#Rust".into()).key(), "#rust");
        let there = private("Alice", "bob");
        let back = private("BOB", "alice");
        assert_eq!(there.key(), "alice bob");
        assert_eq!(there.key(), back.key());
    }

    #[test]
    fn parties_and_view_keys() {
        let account = Party::of(Some("Alice"), ConnectionId(7));
        let connection = Party::of(None, ConnectionId(0xabc));
        assert_eq!(account, Party::Account("alice".into()));
        assert_eq!(account.key(), "a:alice");
        assert_eq!(connection.key(), format!("c:{}abc", "0".repeat(29)));
        for party in [&account, &connection] {
            assert_eq!(Party::from_key(&party.key()).as_ref(), Some(party));
        }
        for bad in ["", "x:alice", "c:not-hex", "c:"] {
            assert_eq!(Party::from_key(bad), None, "{bad:?}");
        }
        let query = HistoryTarget::Conversation {
            readers: vec![account.clone(), connection.clone()],
            peer: "Bob".into(),
        };
        assert_eq!(
            query.view_keys(),
            [
                "a:alice bob".to_owned(),
                format!("{} bob", connection.key())
            ]
        );
        // A message stored before parties were recorded has no view: nobody reads it.
        assert_eq!(private("alice", "bob").view_keys(), Vec::<String>::new());
        assert_eq!(
            HistoryTarget::Room("#a".into()).view_keys(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn event_round_trip_for_rooms_and_private_messages() {
        for target in [
            Target::Room(Arc::from("#Rust")),
            Target::User(Arc::from("Bob")),
        ] {
            let mut event = message_event(target, MessageKind::Action);
            if let Event::Message { from, .. } = &mut event {
                Arc::make_mut(from).account = Some("alice-account".into());
            }
            let mut stored = StoredMessage::from_event(&event).expect("a message event is stored");
            stored.set_parties(
                Party::Account("alice-account".into()),
                Party::Connection(ConnectionId(1)),
            );
            assert_eq!(stored.account.as_deref(), Some("alice-account"));
            assert_eq!(stored.to_event(), event);
        }
    }

    #[test]
    fn a_private_message_is_stored_with_sender_and_recipient() {
        let event = message_event(Target::User(Arc::from("Bob")), MessageKind::Say);
        let mut stored = StoredMessage::from_event(&event).expect("stored");
        assert_eq!(stored.target, private("Alice", "Bob"));
        stored.set_parties(
            Party::Account("alice".into()),
            Party::Connection(ConnectionId(2)),
        );
        assert_eq!(
            stored.target,
            HistoryTarget::Private {
                sender: Correspondent {
                    nick: "Alice".into(),
                    party: Some(Party::Account("alice".into())),
                },
                recipient: Correspondent {
                    nick: "Bob".into(),
                    party: Some(Party::Connection(ConnectionId(2))),
                },
            }
        );
        // Parties are for private messages only.
        let mut in_room = StoredMessage::from_event(&message_event(
            Target::Room(Arc::from("#a")),
            MessageKind::Say,
        ))
        .expect("stored");
        in_room.set_parties(Party::Account("alice".into()), Party::Account("bob".into()));
        assert_eq!(in_room.target, HistoryTarget::Room("#a".into()));
    }

    #[test]
    fn tags_only_and_other_events_are_not_stored() {
        let typing = message_event(Target::Room(Arc::from("#a")), MessageKind::TagsOnly);
        assert_eq!(StoredMessage::from_event(&typing), None);
        let joined = Event::Joined {
            time: Timestamp(0),
            room: Arc::from("#a"),
            who: Arc::new(identity("Alice")),
        };
        assert_eq!(StoredMessage::from_event(&joined), None);
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in [MessageKind::Say, MessageKind::Action, MessageKind::Notice] {
            let name = kind_name(kind).expect("stored kinds have names");
            assert_eq!(kind_from_name(name), Some(kind));
        }
        assert_eq!(kind_name(MessageKind::TagsOnly), None);
        assert_eq!(kind_from_name("shout"), None);
    }
}
