//! What the store keeps: [`StoredMessage`], one message as it is written to and read from the
//! database, [`HistoryTarget`], the room or private conversation it belongs to, and
//! [`HistoryQuery`], the part of a target's history a reader may see.
//!
//! A private message belongs to its two parties ([`Party`]): each side is the account it was
//! logged in to when the message was sent, or else its connection. Whoever holds a nick later
//! has no claim on it. A reader reads as its account and as its own connection.
//!
//! This module is pure data: conversions to and from the hub's [`Event`], the lookup keys the
//! database indexes by, and which client tags are worth keeping. It does no I/O.

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
    /// The lines of the message joined by LF (see `palaver_proto::multiline`).
    pub text: String,
    /// Where the sender joined lines of `text` without a break; empty for most messages.
    pub concat_at: Vec<usize>,
    /// Who sent it, for deleting it later: the account the sender was logged in to, or else
    /// its connection (the sender's party, as for private messages). `None` for a message
    /// stored before authors were recorded whose sender was not logged in: only a room
    /// operator may delete it.
    pub author: Option<Party>,
    /// The client-only tags replay needs ([`REPLAYED_CLIENT_TAGS`]), escaped as relayed live,
    /// at most [`MAX_STORED_CLIENT_TAG_BYTES`]; empty when none.
    pub client_tags: String,
}

/// The client-only tags kept with a stored message, because a replayed message means
/// something different without them: what it replies to (IRCv3 `+reply` client tag), the
/// reaction it carries (`+react`), the channel a private message belongs to
/// (`+channel-context`), each under its final and its work-in-progress (`+draft/`) name. Any
/// other client tag (`+typing`, vendor tags) is relayed live but not kept.
pub const REPLAYED_CLIENT_TAGS: &[&str] = &[
    "+draft/reply",
    "+reply",
    "+draft/react",
    "+react",
    "+draft/channel-context",
    "+channel-context",
];

/// The most bytes of client tags kept with one message (escaped, separators included): room
/// for a reply's msgid, a reaction and a channel name several times over, an eighth of what a
/// client may send (4094 bytes). A tag that would go beyond it is left out whole, never cut,
/// since a cut value would be a different value.
pub const MAX_STORED_CLIENT_TAG_BYTES: usize = 512;

/// What a history query reads: a target's messages from `since` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub target: HistoryTarget,
    /// The oldest message id the reader may see. For a room, the first id of the room's
    /// current lifetime (`Room::history_floor`): what an unregistered room said before it last
    /// emptied is nobody's to read. `MessageId(0)` for everything.
    pub since: MessageId,
}

impl HistoryQuery {
    /// The history of the room called `name`, from message id `since` on.
    pub fn room(name: impl Into<String>, since: MessageId) -> Self {
        Self {
            target: HistoryTarget::Room(name.into()),
            since,
        }
    }

    /// The private messages any of `readers` was a party to, whose other party used the nick
    /// `peer` when the message was sent.
    pub fn conversation(readers: Vec<Party>, peer: impl Into<String>) -> Self {
        Self {
            target: HistoryTarget::Conversation {
                readers,
                peer: peer.into(),
            },
            since: MessageId(0),
        }
    }
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

/// A private message's two views ([`view_key`]): as its sender sees it, and as its recipient
/// sees it; `None` for a side whose party is unknown.
pub(crate) fn party_views(
    sender: &Correspondent,
    recipient: &Correspondent,
) -> (Option<String>, Option<String>) {
    (
        sender
            .party
            .as_ref()
            .map(|party| view_key(party, &recipient.nick)),
        recipient
            .party
            .as_ref()
            .map(|party| view_key(party, &sender.nick)),
    )
}

impl StoredMessage {
    /// Builds a stored message from a hub [`Event::Message`] (the sender's account comes from
    /// its identity). `None` for other events, for `TagsOnly` messages, which carry no text
    /// worth replaying, and for status messages (to a room's operators or voiced members).
    pub fn from_event(event: &Event) -> Option<Self> {
        let Event::Message {
            id,
            time,
            from,
            target,
            kind,
            text,
            concat_at,
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
            // History has no per-status view: what was said to a room's operators only would
            // be replayed to every member.
            Target::RoomStatus { .. } => return None,
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
            concat_at: concat_at.to_vec(),
            // Its sender's connection is not in the event: see `set_author`.
            author: from
                .account
                .as_deref()
                .map(|account| Party::Account(fold(account))),
            client_tags: replayed_client_tags(client_tags),
        })
    }

    /// Records who sent the message (see [`author`](Self::author)).
    pub fn set_author(&mut self, author: Party) {
        self.author = Some(author);
    }

    /// Whether one of `parties` sent this message.
    pub fn is_by(&self, parties: &[Party]) -> bool {
        self.author
            .as_ref()
            .is_some_and(|author| parties.contains(author))
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
            concat_at: self.concat_at.as_slice().into(),
            client_tags: self.client_tags.as_str().into(),
        }
    }
}

/// The tags of `client_tags` (escaped `key[=value]` items joined by `;`, as relayed) that are
/// kept for replay: those named in [`REPLAYED_CLIENT_TAGS`], in their order, as long as they
/// fit in [`MAX_STORED_CLIENT_TAG_BYTES`]. An escaped value never contains a raw `;`.
fn replayed_client_tags(client_tags: &str) -> String {
    let mut kept = String::new();
    for tag in client_tags.split(';') {
        let key = tag.split_once('=').map_or(tag, |(key, _value)| key);
        if !REPLAYED_CLIENT_TAGS.contains(&key) {
            continue;
        }
        let separator = usize::from(!kept.is_empty());
        if kept.len() + separator + tag.len() > MAX_STORED_CLIENT_TAG_BYTES {
            continue;
        }
        if separator == 1 {
            kept.push(';');
        }
        kept.push_str(tag);
    }
    kept
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
            bot: false,
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
            concat_at: Box::default(),
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
    fn only_the_client_tags_replay_needs_are_kept() {
        assert_eq!(
            replayed_client_tags("+typing=active;+draft/reply=abc;+example.com/x=a\\sb;+react=lol"),
            "+draft/reply=abc;+react=lol"
        );
        assert_eq!(replayed_client_tags(""), "");
        assert_eq!(replayed_client_tags("+typing=active"), "");
        // A key that merely starts like a kept one is another tag.
        assert_eq!(replayed_client_tags("+draft/replyx=1;+reply"), "+reply");
    }

    #[test]
    fn kept_client_tags_are_capped_and_never_cut() {
        let long = format!("+draft/react={}", "x".repeat(MAX_STORED_CLIENT_TAG_BYTES));
        let tags = format!("+draft/reply=abc;{long};+draft/channel-context=#a");
        assert_eq!(
            replayed_client_tags(&tags),
            "+draft/reply=abc;+draft/channel-context=#a"
        );
        // Exactly at the limit is kept.
        let value = "y".repeat(MAX_STORED_CLIENT_TAG_BYTES - "+react=".len());
        let exact = format!("+react={value}");
        assert_eq!(replayed_client_tags(&exact), exact);
        assert_eq!(replayed_client_tags(&format!("{exact};+reply=1")), exact);
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
