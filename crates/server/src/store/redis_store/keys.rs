//! Every Redis key the store uses, named once. All start with the configured prefix
//! (`[cluster] key_prefix`, `palaver` by default), so one Redis can hold other data beside
//! palaver's, and an ACL can confine palaver to `~palaver:*`.
//!
//! Lookup keys are those of the SQLite store (`message.rs`): a room's folded name (`#rust`),
//! a private message's two folded nicks (`alice bob`), a party's view of a conversation
//! (`a:alice bob`), an account's folded name.

use palaver_proto::event::MessageId;

/// The key names of one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// String: the schema version of the data under this prefix.
    pub(super) fn schema(&self) -> String {
        self.key(&["schema"])
    }

    /// Hash: one message (`body`, JSON) and the index keys it is listed in.
    pub(super) fn message(&self, id: MessageId) -> String {
        self.key(&["message", &id.0.to_string()])
    }

    /// Sorted set (score and member: message id): the messages of a room or of a pair of
    /// nicks, as the SQLite store's `target_key`.
    pub(super) fn history(&self, target_key: &str) -> String {
        self.key(&["history", target_key])
    }

    /// Sorted set (score: time in ms, member: message id): the same messages by time, to turn
    /// a time bound into a message id.
    pub(super) fn history_times(&self, index_key: &str) -> String {
        format!("{index_key}:times")
    }

    /// Sorted set (score and member: message id): private messages as one party sees them.
    pub(super) fn view(&self, view_key: &str) -> String {
        self.key(&["view", view_key])
    }

    /// Set: the view keys of a party's conversations (TARGETS).
    pub(super) fn party_views(&self, party_key: &str) -> String {
        self.key(&["party_views", party_key])
    }

    /// Sorted set (score and member: message id): one author's messages in one room.
    pub(super) fn authored(&self, author_key: &str, room_key: &str) -> String {
        self.key(&["authored", author_key, room_key])
    }

    /// Set: the target keys that hold messages (retention, rooms with history).
    pub(super) fn targets(&self) -> String {
        self.key(&["history_targets"])
    }

    /// String: how many messages are stored.
    pub(super) fn message_count(&self) -> String {
        self.key(&["message_count"])
    }

    /// Hash: room key → history floor (the first id of its current lifetime), for rooms whose
    /// lifetime ended lately; and a sorted set of the same rooms by when it ended.
    pub(super) fn floors(&self) -> String {
        self.key(&["history_floors"])
    }

    pub(super) fn floors_ended(&self) -> String {
        self.key(&["history_floors_ended"])
    }

    /// Hash: one account's record.
    pub(super) fn account(&self, account_key: &str) -> String {
        self.key(&["account", account_key])
    }

    /// Sorted set (score: when added): an account's client certificate fingerprints.
    pub(super) fn account_certificates(&self, account_key: &str) -> String {
        self.key(&["account", account_key, "certificates"])
    }

    /// Hash: certificate fingerprint → folded account name.
    pub(super) fn certificate_owners(&self) -> String {
        self.key(&["certificate_owners"])
    }

    /// Counter: the order certificates were added in (their score in an account's set).
    pub(super) fn certificate_order(&self) -> String {
        self.key(&["certificate_order"])
    }

    /// Sorted set (score: the marker) and hash (target key → name as last set): an
    /// account's read markers.
    pub(super) fn read_markers(&self, account_key: &str) -> String {
        self.key(&["read_markers", account_key])
    }

    pub(super) fn read_marker_names(&self, account_key: &str) -> String {
        self.key(&["read_markers", account_key, "names"])
    }

    /// Hash: room key → the registered room (JSON).
    pub(super) fn rooms(&self) -> String {
        self.key(&["registered_rooms"])
    }

    /// Hash: target → the server ban (JSON); and a counter giving each ban its place in
    /// the order they were set.
    pub(super) fn server_bans(&self) -> String {
        self.key(&["server_bans"])
    }

    pub(super) fn server_ban_order(&self) -> String {
        self.key(&["server_ban_order"])
    }

    /// What a message's key is before its id.
    pub(super) fn message_prefix(&self) -> String {
        self.key(&["message", ""])
    }
}
