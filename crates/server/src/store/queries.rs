//! History queries: pages of one room's or conversation's messages relative to a [`Bound`]
//! (the IRCv3 `draft/chathistory` subcommands), and the TARGETS listing.
//!
//! History is ordered by message id. Every page comes back oldest first, whichever end it was
//! counted from, as the chathistory spec asks ("ascending time order … regardless of the
//! subcommand used"). Every query reads only from its `since` id on (a room's current
//! lifetime), so no page and no TARGETS line reaches further back.
//!
//! A room's page is one range of the `(target_key, id)` index. A private conversation is read
//! as each of the reader's parties sees it, in both view columns (`(sender_view, id)` and
//! `(recipient_view, id)`): each is an indexed range taken from the same end with the same
//! limit, and the ranges are merged, so a page costs a few index lookups of at most `limit`
//! rows each, whatever else is stored.

use std::collections::HashMap;

use palaver_proto::event::MessageId;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

use super::message::{HistoryQuery, HistoryTarget, Party, StoredMessage};
use super::sqlite::{Database, MESSAGE_COLUMNS, bound_integer, read_messages, unsigned};
use super::{Bound, StoreError};

/// Which page of history to read; the limit travels separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Page {
    /// The newest messages.
    Latest,
    /// The newest messages after (excluding) the bound: CHATHISTORY LATEST with a bound.
    LatestAfter(Bound),
    /// The newest messages before (excluding) the bound.
    Before(Bound),
    /// The oldest messages after (excluding) the bound.
    After(Bound),
    /// Messages on both sides of the bound, about half each.
    Around(Bound),
    /// Messages strictly between the bounds, counted from the first: forwards in time when the
    /// first bound is the earlier, backwards otherwise.
    Between(Bound, Bound),
}

/// Which end of the matching messages a page takes its `limit` from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Oldest,
    Newest,
}

/// One side of a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Below,
    Above,
    AtOrAbove,
}

/// A condition on the messages of a page: on which `side` of `bound` they lie.
#[derive(Debug, Clone, Copy)]
pub(super) struct Condition {
    pub(super) bound: Bound,
    pub(super) side: Side,
}

impl Condition {
    fn new(bound: Bound, side: Side) -> Self {
        Self { bound, side }
    }

    /// The SQL for this condition (`id < ?` …) and the value to bind. Only fixed column names
    /// and operators go into the SQL text; values are always bound.
    fn sql(self) -> (String, i64) {
        let (column, value) = match self.bound {
            Bound::Id(id) => ("id", id.0),
            Bound::Time(time) => ("time", time.0),
        };
        let operator = match self.side {
            Side::Below => "<",
            Side::Above => ">",
            Side::AtOrAbove => ">=",
        };
        (format!("{column} {operator} ?"), bound_integer(value))
    }
}

/// The messages one read of a page selects: those meeting every condition, `limit` of them
/// taken from `end`.
#[derive(Debug, Clone)]
pub(super) struct Selection {
    pub(super) conditions: Vec<Condition>,
    pub(super) end: End,
}

impl Selection {
    fn new(conditions: &[Condition], end: End) -> Self {
        Self {
            conditions: conditions.to_vec(),
            end,
        }
    }
}

/// How a page is read, whatever the backend: one selection, the two selections AROUND joins
/// ([`join_around`]), or BETWEEN, whose direction depends on what the bounds name
/// ([`between`]).
#[derive(Debug, Clone)]
pub(super) enum Plan {
    One(Selection),
    Around { older: Selection, newer: Selection },
    Between(Bound, Bound),
}

impl Page {
    pub(super) fn plan(self) -> Plan {
        let one = |conditions: &[Condition], end| Plan::One(Selection::new(conditions, end));
        match self {
            Page::Latest => one(&[], End::Newest),
            Page::LatestAfter(after) => one(&[Condition::new(after, Side::Above)], End::Newest),
            Page::Before(before) => one(&[Condition::new(before, Side::Below)], End::Newest),
            Page::After(after) => one(&[Condition::new(after, Side::Above)], End::Oldest),
            // Half before the centre, half from it on (a message id names a message, which
            // is included).
            Page::Around(center) => Plan::Around {
                older: Selection::new(&[Condition::new(center, Side::Below)], End::Newest),
                newer: Selection::new(&[Condition::new(center, Side::AtOrAbove)], End::Oldest),
            },
            Page::Between(start, end) => Plan::Between(start, end),
        }
    }
}

/// BETWEEN's selection: messages strictly between `start` and `end`, the ones nearest to
/// `start`; `forwards` when `start` is the earlier bound (or the same).
pub(super) fn between(start: Bound, end: Bound, forwards: bool) -> Selection {
    if forwards {
        let range = [
            Condition::new(start, Side::Above),
            Condition::new(end, Side::Below),
        ];
        Selection::new(&range, End::Oldest)
    } else {
        let range = [
            Condition::new(start, Side::Below),
            Condition::new(end, Side::Above),
        ];
        Selection::new(&range, End::Newest)
    }
}

/// AROUND's page from its two halves (each oldest first): near either end of the history the
/// page fills up from the other side.
pub(super) fn join_around(
    mut older: Vec<StoredMessage>,
    newer: Vec<StoredMessage>,
    limit: usize,
) -> Vec<StoredMessage> {
    // Newer messages get the places the older side leaves free beyond its half, and the
    // other way round.
    let newer_count = newer.len().min(limit - older.len().min(limit / 2));
    let older_count = older.len().min(limit - newer_count);
    older.drain(..older.len() - older_count);
    older.extend(newer.into_iter().take(newer_count));
    older
}

/// The `limit` messages of `messages` (read from several indexes, each already limited)
/// nearest to `end`, oldest first; a message found twice (a note to oneself, in two views)
/// counts once.
pub(super) fn merge(
    mut messages: Vec<StoredMessage>,
    end: End,
    limit: usize,
) -> Vec<StoredMessage> {
    messages.sort_by_key(|message| message.id);
    messages.dedup_by_key(|message| message.id);
    let extra = messages.len().saturating_sub(limit);
    match end {
        End::Oldest => messages.truncate(limit),
        End::Newest => {
            messages.drain(..extra);
        }
    }
    messages
}

/// Whether bound `a` lies before (or at) bound `b`, to tell BETWEEN's direction, given the time
/// of the messages the bounds name (`None` for a message that is not stored: pruned, or
/// never existed, which counts as forwards). Bounds of one kind compare directly.
pub(super) fn is_earlier_or_same(
    a: Bound,
    b: Bound,
    time_of: impl Fn(Bound) -> Option<u64>,
) -> bool {
    match (a, b) {
        (Bound::Id(a), Bound::Id(b)) => a <= b,
        (Bound::Time(a), Bound::Time(b)) => a <= b,
        _ => match (time_of(a), time_of(b)) {
            (Some(a), Some(b)) => a <= b,
            _ => true,
        },
    }
}

/// An indexed column history is looked up by, with the key to find in it and the oldest
/// message id the reader may see.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lookup {
    column: KeyColumn,
    key: String,
    since: MessageId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyColumn {
    /// A room's messages (`messages_by_target`).
    Target,
    /// Private messages as their sender sees them (`private_messages_by_sender_view`).
    SenderView,
    /// Private messages as their recipient sees them (`private_messages_by_recipient_view`).
    RecipientView,
}

impl KeyColumn {
    /// The column's name. Only these fixed names go into SQL text; keys are always bound.
    fn name(self) -> &'static str {
        match self {
            KeyColumn::Target => "target_key",
            KeyColumn::SenderView => "sender_view",
            KeyColumn::RecipientView => "recipient_view",
        }
    }
}

/// Where `query`'s history is found: a room's key, or for a private conversation every view
/// key of the reader in both view columns (none at all for a message whose parties are
/// unknown), each from `query.since` on.
fn lookups(query: &HistoryQuery) -> Vec<Lookup> {
    let target = &query.target;
    if let HistoryTarget::Room(_) = target {
        return vec![Lookup {
            column: KeyColumn::Target,
            key: target.key(),
            since: query.since,
        }];
    }
    target
        .view_keys()
        .into_iter()
        .flat_map(|key| {
            [KeyColumn::SenderView, KeyColumn::RecipientView].map(|column| Lookup {
                column,
                key: key.clone(),
                since: query.since,
            })
        })
        .collect()
}

/// The SQL and parameters of one lookup's page: the `limit` rows of `lookup` meeting every
/// condition, from `end`, in index order from that end.
fn page_query(
    lookup: &Lookup,
    conditions: &[Condition],
    end: End,
    limit: usize,
) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE {} = ? AND id >= ?",
        lookup.column.name()
    );
    let mut parameters = Vec::with_capacity(conditions.len() + 3);
    parameters.push(rusqlite::types::Value::Text(lookup.key.clone()));
    parameters.push(rusqlite::types::Value::Integer(bound_integer(
        lookup.since.0,
    )));
    for condition in conditions {
        let (text, value) = condition.sql();
        sql.push_str(" AND ");
        sql.push_str(&text);
        parameters.push(rusqlite::types::Value::Integer(value));
    }
    sql.push_str(match end {
        End::Oldest => " ORDER BY id ASC LIMIT ?",
        End::Newest => " ORDER BY id DESC LIMIT ?",
    });
    parameters.push(rusqlite::types::Value::Integer(bound_integer(limit as u64)));
    (sql, parameters)
}

/// One party's private conversations: per conversation (the other side's folded nick), its
/// newest message's id and time and that side's nick as written then. Two index lookups
/// (messages sent, messages received) rather than one OR, which SQLite could answer with a
/// scan; a note to self appears in both, and GROUP BY merges it. (With exactly one max() in an
/// aggregate, SQLite takes the bare columns from the row holding it.)
const PRIVATE_TARGETS: &str = "SELECT MAX(id), time, peer_key, peer FROM (
         SELECT id, time, recipient_key AS peer_key, target_name AS peer
         FROM messages WHERE sender_party = ?1
         UNION ALL
         SELECT id, time, sender_key AS peer_key, sender_name AS peer
         FROM messages WHERE recipient_party = ?1
     )
     GROUP BY peer_key";

impl Database {
    /// Reads one page of the history `query` may see, oldest first.
    pub(super) fn history(
        &self,
        query: &HistoryQuery,
        page: Page,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let key = lookups(query);
        let key = key.as_slice();
        match page.plan() {
            Plan::One(selection) => self.select(key, &selection, limit),
            Plan::Around { older, newer } => Ok(join_around(
                self.select(key, &older, limit)?,
                self.select(key, &newer, limit)?,
                limit,
            )),
            Plan::Between(start, end) => {
                let mut times = HashMap::new();
                for bound in [start, end] {
                    if let Bound::Id(id) = bound {
                        times.insert(id, self.time_of_message(id.0)?);
                    }
                }
                let time_of = |bound| match bound {
                    Bound::Time(time) => Some(time.0),
                    Bound::Id(id) => times.get(&id).copied().flatten(),
                };
                let forwards = is_earlier_or_same(start, end, time_of);
                self.select(key, &between(start, end, forwards), limit)
            }
        }
    }

    fn time_of_message(&self, id: u64) -> Result<Option<u64>, StoreError> {
        let mut select = self
            .connection
            .prepare_cached("SELECT time FROM messages WHERE id = ?1")?;
        let mut rows = select.query([bound_integer(id)])?;
        match rows.next()? {
            Some(row) => Ok(Some(unsigned(row.get(0)?, "message time")?)),
            None => Ok(None),
        }
    }

    /// The `limit` messages found by any of `lookups` that `selection` selects, oldest first.
    /// Each lookup is one indexed range read with the same limit; the ranges are merged.
    fn select(
        &self,
        lookups: &[Lookup],
        selection: &Selection,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut messages = Vec::new();
        for lookup in lookups {
            messages.extend(self.select_one(
                lookup,
                &selection.conditions,
                selection.end,
                limit,
            )?);
        }
        Ok(merge(messages, selection.end, limit))
    }

    /// [`select`](Self::select) for one lookup.
    fn select_one(
        &self,
        lookup: &Lookup,
        conditions: &[Condition],
        end: End,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (sql, parameters) = page_query(lookup, conditions, end, limit);
        // There are only a handful of distinct query shapes, so the statement cache keeps them
        // all prepared.
        let mut statement = self.connection.prepare_cached(&sql)?;
        let mut messages = read_messages(&mut statement, rusqlite::params_from_iter(parameters))?;
        if end == End::Newest {
            messages.reverse();
        }
        Ok(messages)
    }

    /// CHATHISTORY TARGETS: the rooms (all of them when `rooms` is `None`, else only those
    /// named, each from its own `since` id on) and the private conversations of any of `readers` whose latest message between
    /// `start` and `end` (exclusive) falls in that window, with that message's time. As with
    /// BETWEEN, the `limit` targets nearest to `start` are kept; the answer is sorted by time,
    /// oldest first.
    pub(super) fn targets(
        &self,
        readers: &[Party],
        rooms: Option<&[(String, MessageId)]>,
        start: Timestamp,
        end: Timestamp,
        limit: usize,
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let mut found = match rooms {
            None => self.all_room_targets()?,
            Some(rooms) => self.room_targets(rooms)?,
        };
        found.extend(self.private_targets(readers)?);
        Ok(choose_targets(found, start, end, limit))
    }

    /// Every room's newest message.
    fn all_room_targets(&self) -> Result<Vec<FoundTarget>, StoreError> {
        // With exactly one max() in an aggregate query, SQLite takes the other (bare) columns
        // from the row holding the maximum: here the newest message of each room.
        let mut select = self.connection.prepare_cached(
            "SELECT MAX(id), time, target_name FROM messages
             WHERE sender_key IS NULL
             GROUP BY target_key",
        )?;
        let mut rows = select.query([])?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            found.push(FoundTarget::read(row, row.get(2)?)?);
        }
        Ok(found)
    }

    /// The newest message of each of `rooms`, from its message id on.
    fn room_targets(&self, rooms: &[(String, MessageId)]) -> Result<Vec<FoundTarget>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT id, time, target_name FROM messages
             WHERE target_key = ?1 AND id >= ?2
             ORDER BY id DESC LIMIT 1",
        )?;
        let mut found = Vec::new();
        for (room, since) in rooms {
            let since = bound_integer(since.0);
            let mut rows = select.query(rusqlite::params![fold(room), since])?;
            if let Some(row) = rows.next()? {
                found.push(FoundTarget::read(row, row.get(2)?)?);
            }
        }
        Ok(found)
    }

    /// The conversations of `readers`, each named by the other party's nick as written in
    /// its newest message. A reader with two parties (its account and its connection) may
    /// have talked with one nick as both: that is one conversation.
    fn private_targets(&self, readers: &[Party]) -> Result<Vec<FoundTarget>, StoreError> {
        let mut select = self.connection.prepare_cached(PRIVATE_TARGETS)?;
        let mut newest: HashMap<String, FoundTarget> = HashMap::new();
        for party in readers {
            let mut rows = select.query(rusqlite::params![party.key()])?;
            while let Some(row) = rows.next()? {
                let peer_key: String = row.get(2)?;
                let found = FoundTarget::read(row, row.get(3)?)?;
                match newest.get(&peer_key) {
                    Some(known) if known.id >= found.id => {}
                    _ => {
                        newest.insert(peer_key, found);
                    }
                }
            }
        }
        Ok(newest.into_values().collect())
    }
}

/// TARGETS from every target found with its newest message: those whose newest message falls
/// strictly between `start` and `end` (IRCv3 draft/chathistory: a target with older messages
/// in the window but a newer one after it is not listed), the `limit` nearest to `start`,
/// sorted by time, oldest first.
pub(super) fn choose_targets(
    mut found: Vec<FoundTarget>,
    start: Timestamp,
    end: Timestamp,
    limit: usize,
) -> Vec<(String, Timestamp)> {
    let window = Window::new(start, end);
    found.retain(|target| window.contains(target.time));
    // Sort by (time, id) so targets with equal times still come in one fixed order.
    found.sort_by_key(|target| (target.time, target.id));
    if start > end {
        // Counted backwards from `start`: keep the newest.
        let skip = found.len().saturating_sub(limit);
        found.drain(..skip);
    } else {
        found.truncate(limit);
    }
    found
        .into_iter()
        .map(|target| (target.name, Timestamp(target.time)))
        .collect()
}

/// A TARGETS window as SQL integers, low end first (the two times may come in either order).
#[derive(Debug, Clone, Copy)]
struct Window {
    low: i64,
    high: i64,
}

impl Window {
    fn new(start: Timestamp, end: Timestamp) -> Self {
        Self {
            low: bound_integer(start.0.min(end.0)),
            high: bound_integer(start.0.max(end.0)),
        }
    }

    /// Whether `time` is strictly inside the window.
    fn contains(&self, time: u64) -> bool {
        let time = bound_integer(time);
        self.low < time && time < self.high
    }
}

/// A target found for TARGETS, with its newest message.
pub(super) struct FoundTarget {
    pub(super) name: String,
    pub(super) time: u64,
    pub(super) id: u64,
}

impl FoundTarget {
    /// Reads the id and time from columns 0 and 1.
    fn read(row: &rusqlite::Row<'_>, name: String) -> Result<Self, StoreError> {
        Ok(Self {
            name,
            id: unsigned(row.get(0)?, "message id")?,
            time: unsigned(row.get(1)?, "message time")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use palaver_proto::event::MessageId;

    use super::*;
    use crate::store::StoreConfig;
    use crate::store::migrations::latest_version;

    /// The steps of SQLite's plan for `sql`.
    fn plan(database: &Database, sql: &str, parameters: &[rusqlite::types::Value]) -> String {
        let mut explain = database
            .connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let steps: Vec<String> = explain
            .query_map(rusqlite::params_from_iter(parameters), |row| row.get(3))
            .expect("explain")
            .collect::<Result<_, _>>()
            .expect("rows");
        steps.join("; ")
    }

    /// Private history must never cost a scan of everyone's messages.
    #[test]
    fn private_history_queries_use_their_indexes() {
        let (database, _) =
            Database::open(&StoreConfig::new(":memory:"), latest_version()).expect("open");
        let conditions = [Condition::new(Bound::Id(MessageId(5)), Side::Below)];
        for (column, index) in [
            (KeyColumn::SenderView, "private_messages_by_sender_view"),
            (
                KeyColumn::RecipientView,
                "private_messages_by_recipient_view",
            ),
            (KeyColumn::Target, "messages_by_target"),
        ] {
            let lookup = Lookup {
                column,
                key: "a:alice bob".into(),
                since: MessageId(0),
            };
            for end in [End::Oldest, End::Newest] {
                let (sql, parameters) = page_query(&lookup, &conditions, end, 10);
                let plan = plan(&database, &sql, &parameters);
                assert!(plan.contains(index), "{column:?} {end:?}: {plan}");
                assert!(!plan.contains("TEMP B-TREE"), "a sort: {plan}");
                assert!(!plan.contains("SCAN messages"), "a scan: {plan}");
            }
        }
        let parameters = [rusqlite::types::Value::Text("a:alice".into())];
        let plan = plan(&database, PRIVATE_TARGETS, &parameters);
        assert!(plan.contains("private_messages_by_sender_party"), "{plan}");
        assert!(
            plan.contains("private_messages_by_recipient_party"),
            "{plan}"
        );
        assert!(!plan.contains("SCAN messages"), "a scan: {plan}");
    }
}
