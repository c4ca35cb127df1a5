//! History pages and TARGETS read from Redis, planned as the SQLite store plans them
//! (`queries.rs`): a page is one or two selections; a selection reads the same range of each
//! index the query looks in (a room's history, or each of a reader's views of a
//! conversation), and the ranges are merged.
//!
//! An index is a sorted set of message ids scored by id, with a twin scored by time
//! (`<index>:times`). A condition on a time becomes one on ids through the twin: within an
//! index, messages are stamped in id order, so "time below T" is "id below the first id at or
//! after T".

use std::collections::HashMap;

use palaver_proto::event::MessageId;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

use super::RedisStore;
use super::body::decode_message;
use super::link::Link;
use crate::store::queries::{
    self, Condition, End, FoundTarget, Page, Plan, Selection, Side, choose_targets, join_around,
    merge,
};
use crate::store::{Bound, HistoryQuery, HistoryTarget, Party, StoreError, StoredMessage};

/// One end of an id range: the id, and whether it is included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limit {
    id: u64,
    inclusive: bool,
}

impl Limit {
    /// The end as Redis writes a score bound: `5` or `(5`.
    fn score(self) -> String {
        if self.inclusive {
            self.id.to_string()
        } else {
            format!("({}", self.id)
        }
    }
}

/// A range of ids; `None` ends are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    low: Limit,
    high: Option<Limit>,
}

impl Range {
    /// Raises the low end to `limit` if that is tighter.
    fn raise(&mut self, limit: Limit) {
        let tighter = limit.id > self.low.id || (limit.id == self.low.id && !limit.inclusive);
        if tighter {
            self.low = limit;
        }
    }

    /// Lowers the high end to `limit` if that is tighter.
    fn lower(&mut self, limit: Limit) {
        let tighter = self
            .high
            .is_none_or(|high| limit.id < high.id || (limit.id == high.id && !limit.inclusive));
        if tighter {
            self.high = Some(limit);
        }
    }
}

impl RedisStore {
    /// Reads one page of the history `query` may see, oldest first, after the appends under
    /// way (so a page asked for right after a message holds it, as on SQLite).
    pub(crate) async fn history(
        &self,
        query: &HistoryQuery,
        page: Page,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.check_open()?;
        self.after_appends_under_way().await?;
        let indexes = self.indexes(query);
        let since = query.since;
        match page.plan() {
            Plan::One(selection) => self.select(&indexes, since, &selection, limit).await,
            Plan::Around { older, newer } => Ok(join_around(
                self.select(&indexes, since, &older, limit).await?,
                self.select(&indexes, since, &newer, limit).await?,
                limit,
            )),
            Plan::Between(start, end) => {
                let mut times = HashMap::new();
                for bound in [start, end] {
                    if let Bound::Id(id) = bound {
                        times.insert(id, self.time_of_message(id).await?);
                    }
                }
                let time_of = |bound| match bound {
                    Bound::Time(time) => Some(time.0),
                    Bound::Id(id) => times.get(&id).copied().flatten(),
                };
                let forwards = queries::is_earlier_or_same(start, end, time_of);
                let selection = queries::between(start, end, forwards);
                self.select(&indexes, since, &selection, limit).await
            }
        }
    }

    /// The indexes `query` reads: a room's history, or the reader's view of the conversation
    /// for each of its parties (none for a message whose parties are unknown).
    fn indexes(&self, query: &HistoryQuery) -> Vec<String> {
        match &query.target {
            HistoryTarget::Room(_) => vec![self.keys.history(&query.target.key())],
            _ => query
                .target
                .view_keys()
                .iter()
                .map(|view| self.keys.view(view))
                .collect(),
        }
    }

    async fn time_of_message(&self, id: MessageId) -> Result<Option<u64>, StoreError> {
        let time: Option<u64> = redis::cmd("HGET")
            .arg(self.keys.message(id))
            .arg("time")
            .query_async(&mut self.connection())
            .await?;
        Ok(time)
    }

    /// The `limit` messages of `indexes` from `since` on that `selection` selects.
    async fn select(
        &self,
        indexes: &[String],
        since: MessageId,
        selection: &Selection,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut ids = Vec::new();
        for index in indexes {
            if let Some(range) = self.range(index, since, &selection.conditions).await? {
                ids.extend(self.ids_in(index, range, selection.end, limit).await?);
            }
        }
        let messages = self.messages(ids).await?;
        Ok(merge(messages, selection.end, limit))
    }

    /// The ids of `index` meeting every condition from `since` on, as one range; `None` when
    /// no id can (a time bound beyond the newest message).
    async fn range(
        &self,
        index: &str,
        since: MessageId,
        conditions: &[Condition],
    ) -> Result<Option<Range>, StoreError> {
        let mut range = Range {
            low: Limit {
                id: since.0,
                inclusive: true,
            },
            high: None,
        };
        for condition in conditions {
            let id = match condition.bound {
                Bound::Id(id) => Some(id.0),
                Bound::Time(time) => {
                    // The first message at (or after, for Above) the time: the id bound.
                    let low = match condition.side {
                        Side::Above => format!("({}", time.0),
                        Side::Below | Side::AtOrAbove => time.0.to_string(),
                    };
                    let first: Vec<u64> = redis::cmd("ZRANGEBYSCORE")
                        .arg(self.keys.history_times(index))
                        .arg(low)
                        .arg("+inf")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(1)
                        .query_async(&mut self.connection())
                        .await?;
                    match (first.first(), condition.side) {
                        (Some(&id), Side::Below) => {
                            range.lower(Limit {
                                id,
                                inclusive: false,
                            });
                            continue;
                        }
                        (Some(&id), Side::Above | Side::AtOrAbove) => {
                            range.raise(Limit {
                                id,
                                inclusive: true,
                            });
                            continue;
                        }
                        // Every message is before the time: nothing is after it.
                        (None, Side::Above | Side::AtOrAbove) => return Ok(None),
                        (None, Side::Below) => continue,
                    }
                }
            };
            if let Some(id) = id {
                match condition.side {
                    Side::Below => range.lower(Limit {
                        id,
                        inclusive: false,
                    }),
                    Side::Above => range.raise(Limit {
                        id,
                        inclusive: false,
                    }),
                    Side::AtOrAbove => range.raise(Limit {
                        id,
                        inclusive: true,
                    }),
                }
            }
        }
        Ok(Some(range))
    }

    /// Up to `limit` ids of `index` in `range`, from `end`.
    async fn ids_in(
        &self,
        index: &str,
        range: Range,
        end: End,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (low, high) = (
            range.low.score(),
            range.high.map_or_else(|| "+inf".to_owned(), Limit::score),
        );
        let mut command = match end {
            End::Oldest => redis::cmd("ZRANGEBYSCORE")
                .arg(index)
                .arg(low)
                .arg(high)
                .clone(),
            End::Newest => redis::cmd("ZREVRANGEBYSCORE")
                .arg(index)
                .arg(high)
                .arg(low)
                .clone(),
        };
        let ids: Vec<u64> = command
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut self.connection())
            .await?;
        Ok(ids)
    }

    /// The messages with `ids`, read in one round trip; one deleted meanwhile is left out.
    pub(super) async fn messages(&self, ids: Vec<u64>) -> Result<Vec<StoredMessage>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for &id in &ids {
            pipe.cmd("HGET")
                .arg(self.keys.message(MessageId(id)))
                .arg("body");
        }
        let bodies: Vec<Option<String>> = pipe.query_async(&mut self.connection()).await?;
        bodies
            .into_iter()
            .flatten()
            .map(|body| decode_message(&body))
            .collect()
    }

    /// The newest id of each index, in one round trip, each from its `since` on.
    async fn newest_ids(
        &self,
        indexes: &[(String, MessageId)],
    ) -> Result<Vec<Option<u64>>, StoreError> {
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (index, since) in indexes {
            pipe.cmd("ZREVRANGEBYSCORE")
                .arg(index)
                .arg("+inf")
                .arg(since.0)
                .arg("LIMIT")
                .arg(0)
                .arg(1);
        }
        let newest: Vec<Vec<u64>> = pipe.query_async(&mut self.connection()).await?;
        Ok(newest.into_iter().map(|ids| ids.first().copied()).collect())
    }

    /// CHATHISTORY TARGETS, as [`crate::store::Store::targets`] and `targets_among` describe.
    pub(crate) async fn targets(
        &self,
        readers: &[Party],
        rooms: Option<Vec<(String, MessageId)>>,
        start: Timestamp,
        end: Timestamp,
        limit: usize,
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let rooms = match rooms {
            Some(rooms) => rooms
                .into_iter()
                .map(|(room, since)| (self.keys.history(&fold(&room)), since))
                .collect(),
            None => self
                .rooms_with_history()
                .await?
                .into_iter()
                .map(|room| (self.keys.history(&room), MessageId(0)))
                .collect::<Vec<_>>(),
        };
        let newest = self.newest_ids(&rooms).await?;
        let mut found: Vec<FoundTarget> = self
            .messages(newest.into_iter().flatten().collect())
            .await?
            .into_iter()
            .map(|message| FoundTarget {
                name: match message.target {
                    HistoryTarget::Room(name) => name,
                    _ => String::new(),
                },
                time: message.time.0,
                id: message.id.0,
            })
            .collect();
        found.extend(self.private_targets(readers).await?);
        Ok(choose_targets(found, start, end, limit))
    }

    /// The conversations of `readers`, each named by the other side's nick as written in its
    /// newest message; one conversation per other side, however many parties the reader has.
    async fn private_targets(&self, readers: &[Party]) -> Result<Vec<FoundTarget>, StoreError> {
        let mut newest: HashMap<String, FoundTarget> = HashMap::new();
        for party in readers {
            let views: Vec<String> = redis::cmd("SMEMBERS")
                .arg(self.keys.party_views(&party.key()))
                .query_async(&mut self.connection())
                .await?;
            let indexes: Vec<(String, MessageId)> = views
                .iter()
                .map(|view| (self.keys.view(view), MessageId(0)))
                .collect();
            let ids = self.newest_ids(&indexes).await?;
            let messages: HashMap<u64, StoredMessage> = self
                .messages(ids.iter().flatten().copied().collect())
                .await?
                .into_iter()
                .map(|message| (message.id.0, message))
                .collect();
            for (view, id) in views.iter().zip(ids) {
                let Some(message) = id.and_then(|id| messages.get(&id)) else {
                    continue;
                };
                let HistoryTarget::Private { sender, recipient } = &message.target else {
                    continue;
                };
                // A view key is the party and the other side's folded nick.
                let peer_key = view.split_once(' ').map_or("", |(_party, peer)| peer);
                let sent =
                    sender.party.as_ref() == Some(party) && fold(&recipient.nick) == peer_key;
                let peer = if sent { &recipient.nick } else { &sender.nick };
                let found = FoundTarget {
                    name: peer.clone(),
                    time: message.time.0,
                    id: message.id.0,
                };
                match newest.get(peer_key) {
                    Some(known) if known.id >= found.id => {}
                    _ => {
                        newest.insert(peer_key.to_owned(), found);
                    }
                }
            }
        }
        Ok(newest.into_values().collect())
    }

    /// The folded names of the rooms that have history, sorted.
    pub(crate) async fn rooms_with_history(&self) -> Result<Vec<String>, StoreError> {
        let targets: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.targets())
            .query_async(&mut self.connection())
            .await?;
        let mut rooms: Vec<String> = targets
            .into_iter()
            .filter(|target| target.starts_with('#'))
            .collect();
        rooms.sort();
        Ok(rooms)
    }

    /// The newest message any of `authors` sent to the room called `room` from `since` on.
    pub(crate) async fn newest_by(
        &self,
        room: &str,
        since: MessageId,
        authors: &[Party],
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.check_open()?;
        self.after_appends_under_way().await?;
        let room_key = fold(room);
        let indexes: Vec<(String, MessageId)> = authors
            .iter()
            .map(|author| (self.keys.authored(&author.key(), &room_key), since))
            .collect();
        let newest = self.newest_ids(&indexes).await?.into_iter().flatten().max();
        Ok(self.messages(newest.into_iter().collect()).await?.pop())
    }

    fn connection(&self) -> Link {
        self.connection.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_keep_the_tighter_end() {
        let mut range = Range {
            low: Limit {
                id: 5,
                inclusive: true,
            },
            high: None,
        };
        range.raise(Limit {
            id: 5,
            inclusive: false,
        });
        range.raise(Limit {
            id: 3,
            inclusive: true,
        });
        assert_eq!(range.low.score(), "(5");
        range.lower(Limit {
            id: 9,
            inclusive: false,
        });
        range.lower(Limit {
            id: 12,
            inclusive: true,
        });
        assert_eq!(range.high.map(Limit::score).as_deref(), Some("(9"));
    }
}
