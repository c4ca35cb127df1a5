//! Rooms across nodes (docs/CLUSTER.md, "Rooms as built"): the memberships, topics and
//! messages of the cluster's rooms in Redis, each change one script (`scripts/room_*.lua`),
//! fenced by the node's lease, that publishes one event on the state feed. The state feed
//! orders everything the network shares: a room's messages, joins and departures reach every
//! node in one order, and each node's applier (`applier.rs`) changes its hub as they arrive,
//! this node's own changes included. The node decides on its replica first (may this user
//! join, speak, set the topic?); Redis checks the one fact a replica may have wrong for a
//! join — whether the room was empty, which makes the joiner its founder.

use std::collections::HashMap;

use palaver_proto::names::fold;
use redis::RedisError;

use super::users::{ClusterUserId, FeedError, SNAPSHOT_PAGE, UserDirectory};
use super::wire::{
    self, EventKind, RoomEvent, RoomJoin, RoomMessage, RoomModeChange, RoomRules, RoomTopic,
};
use crate::metrics::FeedKind;
use crate::store::HistoryEntry;

/// What Redis made of a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Joined: the state feed's event with this sequence number says so.
    Joined { sequence: u64 },
    /// A member already (its join crossed another).
    Member,
    /// The user is no longer connected through this node.
    Gone,
    /// The room was not as empty, or not as unfounded, as the node saw it: decide again once
    /// the replica has applied the state feed up to this sequence number.
    Stale { sequence: u64 },
}

/// What Redis made of a change of a room's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModesOutcome {
    Changed(Published),
    /// The room has no members any more.
    Gone,
    /// Another change of its modes came first: decide again once the replica has applied the
    /// state feed up to this sequence number.
    Stale {
        sequence: u64,
    },
}

/// A change Redis made and published: the event's sequence number on the state feed and its
/// id (a message's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub sequence: u64,
    pub id: u64,
}

/// A member taken out of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Left {
    pub event: Published,
    /// It was the last member: the room's lifetime ended.
    pub emptied: bool,
}

/// A room with members, as its keys in Redis say (a node's snapshot, [`UserDirectory::snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRoom {
    /// Its name, as its founder wrote it.
    pub name: String,
    /// The id of the join that founded it: its history starts after it.
    pub floor: u64,
    pub topic: Option<TopicRecord>,
    /// Its modes and lists, if they ever changed (else a new room's), and their version.
    pub rules: Option<RoomRules>,
    pub rules_version: u64,
    /// Its members, each with its status.
    pub members: Vec<(ClusterUserId, MemberRank)>,
}

/// A member's status in a room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberRank {
    pub op: bool,
    pub voice: bool,
}

impl MemberRank {
    /// As the room's members hash spells it: `@` for an operator, `+` for voice.
    pub fn spelled(self) -> &'static str {
        match (self.op, self.voice) {
            (true, true) => "@+",
            (true, false) => "@",
            (false, true) => "+",
            (false, false) => "",
        }
    }

    fn read(spelled: &str) -> Self {
        Self {
            op: spelled.contains('@'),
            voice: spelled.contains('+'),
        }
    }
}

/// A room's topic as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRecord {
    pub text: String,
    /// Who set it, as a mask.
    pub set_by: String,
    /// The id of the event that set it (which gives its time).
    pub set_at: u64,
}

impl OpenRoom {
    /// The room's record and members read, or `None` if a field it must have is missing (the
    /// room ended between the reads).
    fn read(record: &RoomFields, members: HashMap<u64, String>) -> Option<Self> {
        let text = |name: &str| {
            record
                .get(name)
                .and_then(|value| String::from_utf8(value.clone()).ok())
        };
        let topic = match (text("topic"), text("topic_by")) {
            (Some(text), Some(set_by)) => Some(TopicRecord {
                text,
                set_by,
                set_at: record_number(record, "topic_at")?,
            }),
            _ => None,
        };
        let rules = match record.get("rules") {
            Some(rules) => Some(wire::decode(rules).ok()?),
            None => None,
        };
        Some(Self {
            name: text("name")?,
            floor: record_number(record, "floor")?,
            topic,
            rules,
            rules_version: match record.get("rv") {
                Some(_) => record_number(record, "rv")?,
                None => 0,
            },
            members: members
                .into_iter()
                .map(|(id, status)| (ClusterUserId(id), MemberRank::read(&status)))
                .collect(),
        })
    }
}

/// A room record's fields (one of them, its rules, is bytes).
type RoomFields = HashMap<String, Vec<u8>>;

/// A number in a record's field.
fn record_number(record: &RoomFields, name: &str) -> Option<u64> {
    std::str::from_utf8(record.get(name)?).ok()?.parse().ok()
}

impl UserDirectory {
    /// Every room with members, read in pipelined pages (not atomically: see
    /// [`UserDirectory::snapshot`]).
    pub(super) async fn open_rooms(&self) -> Result<Vec<OpenRoom>, FeedError> {
        let names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.rooms())
            .query_async(&mut self.connection.clone())
            .await?;
        let mut rooms = Vec::with_capacity(names.len());
        for page in names.chunks(SNAPSHOT_PAGE) {
            let mut pipe = redis::pipe();
            for folded in page {
                pipe.hgetall(self.keys.room_record(folded))
                    .hgetall(self.keys.room_members(folded));
            }
            let read: Vec<(RoomFields, HashMap<u64, String>)> = {
                let values: Vec<redis::Value> =
                    pipe.query_async(&mut self.connection.clone()).await?;
                values
                    .chunks(2)
                    .map(|pair| {
                        Ok((
                            redis::from_redis_value(pair[0].clone())?,
                            redis::from_redis_value(pair[1].clone())?,
                        ))
                    })
                    .collect::<Result<_, RedisError>>()?
            };
            for (folded, (record, members)) in page.iter().zip(read) {
                // Ended since the set was read: its last departure is on the feed after the
                // snapshot's last event.
                if members.is_empty() {
                    continue;
                }
                match OpenRoom::read(&record, members) {
                    Some(room) => rooms.push(room),
                    None => tracing::warn!(room = %folded, "skipped an unreadable room record"),
                }
            }
        }
        Ok(rooms)
    }

    /// The user `id`, holding `nick`, joins the room `join.room`, as this node decided: it saw
    /// the room empty (`join.founding`) or not.
    pub async fn join_room(
        &self,
        id: ClusterUserId,
        nick: &str,
        join: &RoomJoin,
    ) -> Result<JoinOutcome, RedisError> {
        let folded = fold(&join.room);
        let mut invocation = self.scripts.join.prepare_invoke();
        invocation
            .key(self.keys.record(id))
            .key(self.keys.rooms())
            .arg(id.0)
            .arg(&self.node)
            .arg(nick)
            .arg(&folded)
            .arg(if join.founding { "1" } else { "0" })
            .arg(if join.op { "@" } else { "" })
            .arg(self.keys.record_prefix())
            .arg(self.keys.room_prefix())
            .arg(wire::encode(join))
            .arg(&join.room);
        let (outcome, sequence): (String, u64) = self.run(&mut invocation).await?;
        let joined = outcome == "joined";
        self.published(FeedKind::State, u64::from(joined));
        Ok(match outcome.as_str() {
            "joined" => JoinOutcome::Joined { sequence },
            "member" => JoinOutcome::Member,
            "stale" => JoinOutcome::Stale { sequence },
            _ => JoinOutcome::Gone,
        })
    }

    /// The member `id`, holding `nick`, leaves the room `folded`: `kind` says how
    /// ([`EventKind::Parted`] or [`EventKind::Kicked`]), `body` what others are told. `None`
    /// if it was not a member (it left meanwhile).
    pub async fn leave_room(
        &self,
        id: ClusterUserId,
        nick: &str,
        folded: &str,
        kind: EventKind,
        body: Vec<u8>,
    ) -> Result<Option<Left>, RedisError> {
        let mut invocation = self.scripts.leave.prepare_invoke();
        invocation
            .key(self.keys.rooms())
            .arg(id.0)
            .arg(nick)
            .arg(folded)
            .arg(kind.word())
            .arg(self.keys.record_prefix())
            .arg(self.keys.room_prefix())
            .arg(body);
        let (outcome, sequence, event, emptied): (String, u64, u64, u8) =
            self.run(&mut invocation).await?;
        let left = outcome == "left";
        self.published(FeedKind::State, u64::from(left));
        Ok(left.then_some(Left {
            event: Published {
                sequence,
                id: event,
            },
            emptied: emptied == 1,
        }))
    }

    /// The user `id`, holding `nick`, makes `event` in its room (invites someone — the
    /// envelope then names the invitee —, registers it, deletes a message); `None` if the room
    /// has no members any more.
    pub async fn publish_in_room<E: RoomEvent>(
        &self,
        id: ClusterUserId,
        nick: &str,
        event: &E,
    ) -> Result<Option<Published>, RedisError> {
        self.publish_with((id, nick), event, &self.nonce(), &[], &[])
            .await
    }

    /// The user `id`, holding `nick`, says `message` in its room, stored in the history with
    /// `entry` (if kept there) in the same step; `None` if the room has no members any more.
    /// Calls with the same `nonce` ([`Self::nonce`]) say it once: the others answer what the
    /// first did, so a call whose answer was lost can be made again.
    pub async fn say_in_room(
        &self,
        id: ClusterUserId,
        nick: &str,
        message: &RoomMessage,
        entry: Option<&HistoryEntry>,
        nonce: &str,
    ) -> Result<Option<Published>, RedisError> {
        match entry {
            Some(entry) => {
                let [count, floors] = &entry.keys;
                let [prefix, body, target, indexes] = &entry.arguments;
                let keys = [count.as_str(), floors];
                let arguments = [prefix.as_str(), body, target, indexes];
                self.publish_with((id, nick), message, nonce, &keys, &arguments)
                    .await
            }
            None => {
                self.publish_with((id, nick), message, nonce, &[], &[])
                    .await
            }
        }
    }

    /// The user `id`, holding `nick`, sets the topic of its room (kept in the room's record,
    /// with `set_by`, for the nodes that start later); `None` if the room has no members any
    /// more.
    pub async fn set_room_topic(
        &self,
        id: ClusterUserId,
        nick: &str,
        topic: &RoomTopic,
        set_by: &str,
    ) -> Result<Option<Published>, RedisError> {
        self.publish_with(
            (id, nick),
            topic,
            &self.nonce(),
            &[],
            &[&topic.topic, set_by],
        )
        .await
    }

    /// The user `id`, holding `nick`, changes the modes of the room `change.room`, as this
    /// node decided against the room's rules `version`; `rules` are the room's rules after it,
    /// `statuses` the members' whose status it changes (their ids and new statuses).
    pub async fn change_room_modes(
        &self,
        id: ClusterUserId,
        nick: &str,
        version: u64,
        change: &RoomModeChange,
        rules: &RoomRules,
        statuses: &[(ClusterUserId, &str)],
    ) -> Result<ModesOutcome, RedisError> {
        let folded = fold(&change.room);
        let mut invocation = self.scripts.modes.prepare_invoke();
        invocation
            .key(self.keys.room_members(&folded))
            .key(self.keys.room_record(&folded))
            .arg(id.0)
            .arg(nick)
            .arg(version)
            .arg(wire::encode(change))
            .arg(wire::encode(rules));
        for (member, status) in statuses {
            invocation.arg(member.0).arg(*status);
        }
        let (outcome, sequence, event): (String, u64, u64) = self.run(&mut invocation).await?;
        let changed = outcome == "said";
        self.published(FeedKind::State, u64::from(changed));
        Ok(match outcome.as_str() {
            "said" => ModesOutcome::Changed(Published {
                sequence,
                id: event,
            }),
            "stale" => ModesOutcome::Stale { sequence },
            _ => ModesOutcome::Gone,
        })
    }

    /// Publishes `event` with `scripts/room_say.lua` under `nonce` (`extra_keys`, `extra`: its
    /// keys after the room's and the nonce's, and its arguments after the body and the nonce's
    /// lifetime).
    async fn publish_with<E: RoomEvent>(
        &self,
        (id, nick): (ClusterUserId, &str),
        event: &E,
        nonce: &str,
        extra_keys: &[&str],
        extra: &[&str],
    ) -> Result<Option<Published>, RedisError> {
        let folded = fold(event.room());
        let mut invocation = self.scripts.say.prepare_invoke();
        invocation
            .key(self.keys.room_members(&folded))
            .key(self.keys.room_record(&folded))
            .key(nonce);
        for key in extra_keys {
            invocation.key(*key);
        }
        invocation
            .arg(id.0)
            .arg(nick)
            .arg(E::KIND.word())
            .arg(wire::encode(event))
            .arg(self.nonce_lifetime_ms());
        for argument in extra {
            invocation.arg(*argument);
        }
        let (outcome, sequence, event): (String, u64, u64) = self.run(&mut invocation).await?;
        let said = outcome == "said";
        self.published(FeedKind::State, u64::from(said));
        Ok(said.then_some(Published {
            sequence,
            id: event,
        }))
    }
}

#[cfg(test)]
mod tests {
    //! Against a real `redis-server` (`test_redis.rs`), with the store on the same Redis, as a
    //! node has them.

    use std::sync::Arc;

    use palaver_proto::event::MessageId;
    use palaver_proto::time::Timestamp;

    use super::*;
    use crate::cluster::users::{Feed, UserFacts};
    use crate::cluster::wire::{Sender, Speech};
    use crate::hub::Protocol;
    use crate::store::{
        ConnectionId, Fence, HistoryQuery, Party, RedisSettings, Store, StoreConfig, StoredMessage,
    };
    use crate::test_redis::RedisServer;

    /// A room message said with its history entry is in the history with the id and time of
    /// its event, and is the only thing stored: one script, one step; said again with the same
    /// nonce, it is neither published nor stored twice.
    #[tokio::test]
    async fn a_message_said_is_stored_under_its_event_s_id_in_the_same_step_and_once() {
        let server = RedisServer::start();
        let settings = RedisSettings {
            url: server.url(),
            key_prefix: "palaver".into(),
            verify_persistence: true,
        };
        let store = Store::open_redis(&settings, StoreConfig::new(":memory:"), Arc::default())
            .await
            .expect("open the store")
            .store;
        let directory = UserDirectory::open(&server.url(), "palaver", "alpha", Fence::default())
            .await
            .expect("open the directory");
        let facts = UserFacts {
            address: [127, 0, 0, 1].into(),
            protocol: Protocol::Irc,
            user: "~alice".into(),
            host: "127.0.0.1".into(),
            realname: "Alice".into(),
        };
        let alice = directory.connect("alice", &facts).await.expect("connect");
        let join = RoomJoin {
            room: "#Rust".into(),
            op: true,
            founding: true,
        };
        let joined = directory.join_room(alice, "alice", &join).await.unwrap();
        assert!(matches!(joined, JoinOutcome::Joined { .. }), "{joined:?}");

        let message = RoomMessage {
            room: "#Rust".into(),
            minimum: None,
            from: Sender {
                nick: "alice".into(),
                user: "~alice".into(),
                host: "127.0.0.1".into(),
                realname: "Alice \"the first\"".into(),
                account: None,
                bot: false,
            },
            kind: Speech::Say,
            text: "hello {\"id\":0} world".into(),
            concat_at: Vec::new(),
            client_tags: "+reply=7".into(),
        };
        let mut stored = StoredMessage::from_event(&message.clone().into_event(0)).unwrap();
        stored.set_author(Party::of(None, ConnectionId(42)));
        let entry = store
            .history_entries()
            .expect("a store on Redis")
            .entry_for(&stored)
            .expect("an entry");
        let nonce = directory.nonce();
        let published = directory
            .say_in_room(alice, "alice", &message, Some(&entry), &nonce)
            .await
            .expect("said")
            .expect("the room has members");

        // Made again with the same nonce (its answer lost, say): the same answer, nothing more
        // published or stored.
        let again = directory
            .say_in_room(alice, "alice", &message, Some(&entry), &nonce)
            .await
            .expect("said")
            .expect("the room has members");
        assert_eq!(again, published);
        assert_eq!(
            directory.last_event(&Feed::State).await.unwrap().1,
            published.sequence
        );
        // The nonce is kept for as long as the directory was told (30 s by default), not more:
        // one is kept per message.
        let kept: i64 = server.command(&format!("PTTL {nonce}"))[1..]
            .parse()
            .unwrap();
        assert!((1..=30_000).contains(&kept), "{kept}");

        let history = store
            .latest(HistoryQuery::room("#Rust", MessageId(0)), 10)
            .await
            .expect("history");
        stored.id = MessageId(published.id);
        stored.time = Timestamp(published.id / 1024);
        assert_eq!(history, vec![stored]);
        assert_eq!(store.count().await.expect("count"), 1);
    }
}
