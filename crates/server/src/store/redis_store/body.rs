//! What the Redis store writes for a message and for each record: JSON, one object per
//! message or record, so that `redis-cli` shows what is stored and a later palaver can add
//! fields (unknown ones are ignored, missing optional ones default). Pure conversions, no I/O.

use palaver_proto::event::{Identity, MessageId};
use palaver_proto::irc::modes;
use palaver_proto::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::store::message::{kind_from_name, kind_name, party_views};
use crate::store::{
    Correspondent, HistoryTarget, ListEntry, Party, RoomRecord, ServerBanRecord, StoreError,
    StoredMessage,
};

/// A stored message.
#[derive(Debug, Serialize, Deserialize)]
struct MessageBody {
    id: u64,
    time: u64,
    nick: String,
    user: String,
    host: String,
    realname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    kind: String,
    text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    concat_at: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    client_tags: String,
    /// The room's name, or a private message's recipient nick, as written.
    target: String,
    /// A private message's sender nick as written; `None` for a room message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sender_party: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recipient_party: Option<String>,
}

/// Where a message is listed besides its own key: the history of its target, the views of
/// its parties, its author's messages in a room.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Listing {
    pub(super) target_key: String,
    /// The view keys of a private message's sender and recipient parties, where known.
    pub(super) sender_view: Option<String>,
    pub(super) recipient_view: Option<String>,
    /// The party keys of those views.
    pub(super) sender_party: Option<String>,
    pub(super) recipient_party: Option<String>,
    /// A room message's author, for [`crate::store::Store::newest_by`].
    pub(super) author: Option<String>,
}

/// The JSON of `message` and where it is listed. A `TagsOnly` message, or one whose target is
/// a query, is refused as the SQLite store refuses it.
pub(super) fn encode_message(message: &StoredMessage) -> Result<(String, Listing), StoreError> {
    let kind = kind_name(message.kind).ok_or_else(|| {
        StoreError::Database(format!("message {} has no text to store", message.id))
    })?;
    let author = message.author.as_ref().map(Party::key);
    let (target, sender, listing) = match &message.target {
        HistoryTarget::Room(room) => (
            room.clone(),
            None,
            Listing {
                target_key: message.target.key(),
                author: author.clone(),
                ..Listing::default()
            },
        ),
        HistoryTarget::Private { sender, recipient } => {
            let (sender_view, recipient_view) = party_views(sender, recipient);
            (
                recipient.nick.clone(),
                Some(sender),
                Listing {
                    target_key: message.target.key(),
                    sender_view,
                    recipient_view,
                    sender_party: sender.party.as_ref().map(Party::key),
                    recipient_party: recipient.party.as_ref().map(Party::key),
                    author: None,
                },
            )
        }
        HistoryTarget::Conversation { .. } => {
            return Err(StoreError::Database(format!(
                "message {} names a conversation, not where it was sent",
                message.id
            )));
        }
    };
    let body = MessageBody {
        id: message.id.0,
        time: message.time.0,
        nick: message.from.nick.to_string(),
        user: message.from.user.to_string(),
        host: message.from.host.to_string(),
        realname: message.from.realname.to_string(),
        account: message.account.clone(),
        kind: kind.to_owned(),
        text: message.text.clone(),
        concat_at: message.concat_at.clone(),
        author,
        client_tags: message.client_tags.clone(),
        target,
        sender: sender.map(|sender| sender.nick.clone()),
        sender_party: listing.sender_party.clone(),
        recipient_party: listing.recipient_party.clone(),
    };
    let json = serde_json::to_string(&body).map_err(|error| bad("message", &error))?;
    Ok((json, listing))
}

/// The message [`encode_message`] wrote as `json`.
pub(super) fn decode_message(json: &str) -> Result<StoredMessage, StoreError> {
    let body: MessageBody = serde_json::from_str(json).map_err(|error| bad("message", &error))?;
    let party = |key: Option<String>| -> Result<Option<Party>, StoreError> {
        key.map(|key| {
            Party::from_key(&key).ok_or_else(|| {
                StoreError::Database(format!("message {} has an unknown party {key:?}", body.id))
            })
        })
        .transpose()
    };
    let kind = kind_from_name(&body.kind).ok_or_else(|| {
        StoreError::Database(format!(
            "message {} has an unknown kind {:?}",
            body.id, body.kind
        ))
    })?;
    let target = match body.sender {
        None => HistoryTarget::Room(body.target),
        Some(sender) => HistoryTarget::Private {
            sender: Correspondent {
                nick: sender,
                party: party(body.sender_party)?,
            },
            recipient: Correspondent {
                nick: body.target,
                party: party(body.recipient_party)?,
            },
        },
    };
    Ok(StoredMessage {
        id: MessageId(body.id),
        time: Timestamp(body.time),
        from: Identity {
            nick: body.nick.into(),
            user: body.user.into(),
            host: body.host.into(),
            realname: body.realname.into(),
            account: None,
            // Not stored, as in the SQLite store: a replayed message shows no bot tag.
            bot: false,
        },
        account: body.account,
        target,
        kind,
        text: body.text,
        concat_at: body.concat_at,
        author: party(body.author)?,
        client_tags: body.client_tags,
    })
}

/// A registered room.
#[derive(Debug, Serialize, Deserialize)]
struct RoomBody {
    name: String,
    founder: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic: Option<(String, String, u64)>,
    flags: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<u64>,
    created: u64,
    history_floor: u64,
    /// Each entry as (list letter, mask, set by, set at), each list in its order.
    #[serde(default)]
    lists: Vec<(char, String, String, u64)>,
}

pub(super) fn encode_room(room: &RoomRecord) -> Result<String, StoreError> {
    let body = RoomBody {
        name: room.name.clone(),
        founder: room.founder.clone(),
        topic: room
            .topic
            .as_ref()
            .map(|(text, set_by, set_at)| (text.clone(), set_by.clone(), set_at.0)),
        flags: room.flags.clone(),
        key: room.key.clone(),
        limit: room.limit,
        created: room.created.0,
        history_floor: room.history_floor.0,
        lists: room
            .lists
            .iter()
            .map(|entry| {
                (
                    modes::list_letter(entry.list),
                    entry.mask.clone(),
                    entry.set_by.clone(),
                    entry.set_at.0,
                )
            })
            .collect(),
    };
    serde_json::to_string(&body).map_err(|error| bad("room", &error))
}

/// The room [`encode_room`] wrote; list entries of a list this palaver does not know are
/// skipped, as the SQLite store skips them.
pub(super) fn decode_room(json: &str) -> Result<RoomRecord, StoreError> {
    let body: RoomBody = serde_json::from_str(json).map_err(|error| bad("room", &error))?;
    Ok(RoomRecord {
        name: body.name,
        founder: body.founder,
        topic: body
            .topic
            .map(|(text, set_by, set_at)| (text, set_by, Timestamp(set_at))),
        flags: body.flags,
        key: body.key,
        limit: body.limit,
        created: Timestamp(body.created),
        history_floor: MessageId(body.history_floor),
        lists: body
            .lists
            .into_iter()
            .filter_map(|(letter, mask, set_by, set_at)| {
                Some(ListEntry {
                    list: modes::list_from_letter(letter)?,
                    mask,
                    set_by,
                    set_at: Timestamp(set_at),
                })
            })
            .collect(),
    })
}

/// A server ban, with its place in the order bans were set (given by Redis when it is saved:
/// `scripts/save_server_ban.lua` puts it first in the record).
#[derive(Debug, Serialize, Deserialize)]
struct ServerBanBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order: Option<u64>,
    kind: String,
    target: String,
    reason: String,
    set_by: String,
    set_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<u64>,
}

/// The record of `ban` without its order, which `scripts/save_server_ban.lua` adds.
pub(super) fn encode_server_ban(ban: &ServerBanRecord) -> Result<String, StoreError> {
    let body = ServerBanBody {
        order: None,
        kind: ban.kind.clone(),
        target: ban.target.clone(),
        reason: ban.reason.clone(),
        set_by: ban.set_by.clone(),
        set_at: ban.set_at.0,
        expires: ban.expires.map(|expires| expires.0),
    };
    serde_json::to_string(&body).map_err(|error| bad("server ban", &error))
}

/// The ban [`encode_server_ban`] wrote, with its order.
pub(super) fn decode_server_ban(json: &str) -> Result<(ServerBanRecord, u64), StoreError> {
    let body: ServerBanBody =
        serde_json::from_str(json).map_err(|error| bad("server ban", &error))?;
    Ok((
        ServerBanRecord {
            kind: body.kind,
            target: body.target,
            reason: body.reason,
            set_by: body.set_by,
            set_at: Timestamp(body.set_at),
            expires: body.expires.map(Timestamp),
        },
        body.order.unwrap_or_default(),
    ))
}

fn bad(what: &str, error: &serde_json::Error) -> StoreError {
    StoreError::Database(format!("a stored {what} does not decode: {error}"))
}

#[cfg(test)]
mod tests {
    use palaver_proto::event::MessageKind;

    use super::*;
    use crate::store::ConnectionId;

    fn message(target: HistoryTarget) -> StoredMessage {
        StoredMessage {
            id: MessageId(42),
            time: Timestamp(1_000),
            from: Identity {
                nick: "Alice".into(),
                user: "a".into(),
                host: "h".into(),
                realname: "Alice A.".into(),
                account: None,
                bot: false,
            },
            account: Some("Alice".into()),
            target,
            kind: MessageKind::Action,
            text: "waves\nagain".into(),
            concat_at: vec![3],
            author: Some(Party::Account("alice".into())),
            client_tags: "+draft/reply=abc".into(),
        }
    }

    #[test]
    fn room_and_private_messages_round_trip_with_their_listing() {
        let room = message(HistoryTarget::Room("#Rust".into()));
        let (json, listing) = encode_message(&room).expect("encode");
        assert_eq!(decode_message(&json).expect("decode"), room);
        assert_eq!(listing.target_key, "#rust");
        assert_eq!(listing.author.as_deref(), Some("a:alice"));
        assert_eq!(listing.sender_view, None);

        let private = message(HistoryTarget::Private {
            sender: Correspondent {
                nick: "Alice".into(),
                party: Some(Party::Account("alice".into())),
            },
            recipient: Correspondent {
                nick: "Bob".into(),
                party: Some(Party::Connection(ConnectionId(7))),
            },
        });
        let (json, listing) = encode_message(&private).expect("encode");
        assert_eq!(decode_message(&json).expect("decode"), private);
        assert_eq!(listing.target_key, "alice bob");
        assert_eq!(listing.sender_view.as_deref(), Some("a:alice bob"));
        assert_eq!(listing.recipient_view, Some(format!("c:{:032x} alice", 7)));
        assert_eq!(listing.author, None);
    }

    #[test]
    fn what_does_not_decode_is_an_error_not_a_panic() {
        for json in ["", "{}", "[1]", r#"{"id":-1}"#] {
            assert!(decode_message(json).is_err(), "{json:?}");
            assert!(decode_room(json).is_err(), "{json:?}");
            assert!(decode_server_ban(json).is_err(), "{json:?}");
        }
    }
}
