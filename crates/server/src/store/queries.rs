//! History queries: pages of one room's or conversation's messages relative to a [`Bound`]
//! (the IRCv3 `draft/chathistory` subcommands), and the TARGETS listing.
//!
//! History is ordered by message id. Every page comes back oldest first, whichever end it was
//! counted from, as the chathistory spec asks ("ascending time order … regardless of the
//! subcommand used"). Every query reads only from its `since` id on (a room's current
//! lifetime), so no page and no TARGETS line reaches further back.

use palaver_proto::event::MessageId;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

use super::message::{HistoryQuery, StoredMessage};
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
enum End {
    Oldest,
    Newest,
}

/// One side of a bound, as an SQL comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Below,
    Above,
    AtOrAbove,
}

/// Whose messages a page reads: the target's lookup key, from message id `since` on.
struct Scope {
    key: String,
    since: MessageId,
}

/// A condition on the messages of a page: on which `side` of `bound` they lie.
#[derive(Debug, Clone, Copy)]
struct Condition {
    bound: Bound,
    side: Side,
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

impl Database {
    /// Reads one page of the history `query` may see, oldest first.
    pub(super) fn history(
        &self,
        query: &HistoryQuery,
        page: Page,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let scope = &Scope {
            key: query.target.key(),
            since: query.since,
        };
        match page {
            Page::Latest => self.select(scope, &[], End::Newest, limit),
            Page::LatestAfter(after) => self.select(
                scope,
                &[Condition::new(after, Side::Above)],
                End::Newest,
                limit,
            ),
            Page::Before(before) => self.select(
                scope,
                &[Condition::new(before, Side::Below)],
                End::Newest,
                limit,
            ),
            Page::After(after) => self.select(
                scope,
                &[Condition::new(after, Side::Above)],
                End::Oldest,
                limit,
            ),
            Page::Around(center) => self.around(scope, center, limit),
            Page::Between(start, end) => self.between(scope, start, end, limit),
        }
    }

    /// Up to `limit` messages centred on `center`: half before it, half from it on (a message
    /// id names a message, which is included). Near either end of the history the page fills
    /// up from the other side.
    fn around(
        &self,
        scope: &Scope,
        center: Bound,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let below = Condition::new(center, Side::Below);
        let mut older = self.select(scope, &[below], End::Newest, limit)?;
        let at_or_above = Condition::new(center, Side::AtOrAbove);
        let newer = self.select(scope, &[at_or_above], End::Oldest, limit)?;
        // Newer messages get the places the older side leaves free beyond its half, and the
        // other way round.
        let newer_count = newer.len().min(limit - older.len().min(limit / 2));
        let older_count = older.len().min(limit - newer_count);
        older.drain(..older.len() - older_count);
        older.extend(newer.into_iter().take(newer_count));
        Ok(older)
    }

    /// Messages strictly between `start` and `end`, the `limit` nearest to `start`.
    fn between(
        &self,
        scope: &Scope,
        start: Bound,
        end: Bound,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        if self.is_earlier_or_same(start, end)? {
            let range = [
                Condition::new(start, Side::Above),
                Condition::new(end, Side::Below),
            ];
            self.select(scope, &range, End::Oldest, limit)
        } else {
            let range = [
                Condition::new(start, Side::Below),
                Condition::new(end, Side::Above),
            ];
            self.select(scope, &range, End::Newest, limit)
        }
    }

    /// Whether bound `a` lies before (or at) bound `b`, to tell BETWEEN's direction. Bounds of
    /// one kind compare directly; a message id against a time compares that message's time,
    /// and a message that is not stored (pruned, or never existed) counts as forwards.
    fn is_earlier_or_same(&self, a: Bound, b: Bound) -> Result<bool, StoreError> {
        let time_of = |bound: Bound| -> Result<Option<u64>, StoreError> {
            match bound {
                Bound::Time(time) => Ok(Some(time.0)),
                Bound::Id(id) => self.time_of_message(id.0),
            }
        };
        Ok(match (a, b) {
            (Bound::Id(a), Bound::Id(b)) => a <= b,
            (Bound::Time(a), Bound::Time(b)) => a <= b,
            _ => match (time_of(a)?, time_of(b)?) {
                (Some(a), Some(b)) => a <= b,
                _ => true,
            },
        })
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

    /// The `limit` messages of `scope` meeting every condition, taken from `end`, oldest first.
    fn select(
        &self,
        scope: &Scope,
        conditions: &[Condition],
        end: End,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql =
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE target_key = ? AND id >= ?");
        let mut values = Vec::with_capacity(conditions.len() + 2);
        values.push(bound_integer(scope.since.0));
        for condition in conditions {
            let (text, value) = condition.sql();
            sql.push_str(" AND ");
            sql.push_str(&text);
            values.push(value);
        }
        sql.push_str(match end {
            End::Oldest => " ORDER BY id ASC LIMIT ?",
            End::Newest => " ORDER BY id DESC LIMIT ?",
        });
        values.push(bound_integer(limit as u64));
        // There are only a handful of distinct query shapes, so the statement cache keeps them
        // all prepared.
        let mut statement = self.connection.prepare_cached(&sql)?;
        let parameters = std::iter::once(rusqlite::types::Value::Text(scope.key.clone()))
            .chain(values.into_iter().map(rusqlite::types::Value::Integer));
        let mut messages = read_messages(&mut statement, rusqlite::params_from_iter(parameters))?;
        if end == End::Newest {
            messages.reverse();
        }
        Ok(messages)
    }

    /// CHATHISTORY TARGETS: the rooms (all of them when `rooms` is `None`, else only those
    /// named, each from its own `since` id on) and `viewer`'s private conversations whose
    /// latest message between `start` and `end` (exclusive) falls in that window, with that
    /// message's time. As with BETWEEN, the `limit` targets nearest to `start` are kept; the
    /// answer is sorted by time, oldest first.
    pub(super) fn targets(
        &self,
        viewer: &str,
        rooms: Option<&[(String, MessageId)]>,
        start: Timestamp,
        end: Timestamp,
        limit: usize,
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let window = Window::new(start, end);
        let mut found = match rooms {
            None => self.all_room_targets(window)?,
            Some(rooms) => self.room_targets(rooms, window)?,
        };
        found.extend(self.private_targets(viewer, window)?);
        // Sort by (time, id) so targets with equal times still come in one fixed order.
        found.sort_by_key(|target| (target.time, target.id));
        if start > end {
            // Counted backwards from `start`: keep the newest.
            let skip = found.len().saturating_sub(limit);
            found.drain(..skip);
        } else {
            found.truncate(limit);
        }
        Ok(found
            .into_iter()
            .map(|target| (target.name, Timestamp(target.time)))
            .collect())
    }

    fn all_room_targets(&self, window: Window) -> Result<Vec<FoundTarget>, StoreError> {
        // With exactly one max() in an aggregate query, SQLite takes the other (bare) columns
        // from the row holding the maximum: here the newest message of each room.
        let mut select = self.connection.prepare_cached(
            "SELECT MAX(id), time, target_name FROM messages
             WHERE sender_key IS NULL AND time > ?1 AND time < ?2
             GROUP BY target_key",
        )?;
        let mut rows = select.query([window.low, window.high])?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            found.push(FoundTarget::read(row, row.get(2)?)?);
        }
        Ok(found)
    }

    fn room_targets(
        &self,
        rooms: &[(String, MessageId)],
        window: Window,
    ) -> Result<Vec<FoundTarget>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT id, time, target_name FROM messages
             WHERE target_key = ?1 AND id >= ?2 AND time > ?3 AND time < ?4
             ORDER BY id DESC LIMIT 1",
        )?;
        let mut found = Vec::new();
        for (room, since) in rooms {
            let since = bound_integer(since.0);
            let mut rows = select.query(rusqlite::params![
                fold(room),
                since,
                window.low,
                window.high
            ])?;
            if let Some(row) = rows.next()? {
                found.push(FoundTarget::read(row, row.get(2)?)?);
            }
        }
        Ok(found)
    }

    /// `viewer`'s conversations, each named by the other party's nick as written in the
    /// newest message.
    fn private_targets(
        &self,
        viewer: &str,
        window: Window,
    ) -> Result<Vec<FoundTarget>, StoreError> {
        // Two index lookups (messages sent, messages received) rather than one OR, which
        // SQLite could answer with a scan. A note to self appears in both; GROUP BY merges it.
        let mut select = self.connection.prepare_cached(
            "SELECT MAX(id), time, target_name, sender_name, sender_key FROM (
                 SELECT id, time, target_key, target_name, sender_name, sender_key
                 FROM messages WHERE sender_key = ?1 AND time > ?2 AND time < ?3
                 UNION ALL
                 SELECT id, time, target_key, target_name, sender_name, sender_key
                 FROM messages WHERE recipient_key = ?1 AND time > ?2 AND time < ?3
             )
             GROUP BY target_key",
        )?;
        let viewer_key = fold(viewer);
        let mut rows = select.query(rusqlite::params![viewer_key, window.low, window.high])?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            let recipient: String = row.get(2)?;
            let sender: String = row.get(3)?;
            let sender_key: String = row.get(4)?;
            let peer = if sender_key == viewer_key {
                recipient
            } else {
                sender
            };
            found.push(FoundTarget::read(row, peer)?);
        }
        Ok(found)
    }
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
}

/// A target found for TARGETS, with its newest message in the window.
struct FoundTarget {
    name: String,
    time: u64,
    id: u64,
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
