//! Registered rooms: the founder, topic, modes and mask lists (bans, ban exceptions and invite
//! exceptions) of each room an account
//! registered, and where its history starts, so they survive restarts and the room's emptying.
//!
//! The store only keeps rows; the hub decides what registration means (see
//! `hub::registered`). A room's row and its list entries are always written together, in
//! one transaction.

use palaver_proto::event::MessageId;
use palaver_proto::irc::modes;
use palaver_proto::modes::{MaskList, RoomFlag};
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use rusqlite::{Connection, params};

use super::StoreError;
use super::sqlite::{Database, signed, unsigned};

/// A registered room as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    /// The name as registered; lookups go by the folded name.
    pub name: String,
    /// The founding account, as registered.
    pub founder: String,
    /// The topic, who set it (`nick!user@host`) and when.
    pub topic: Option<(String, String, Timestamp)>,
    /// The flags that are set, as stored: their IRC letters (`CHANMODES` type D), e.g. `nt`;
    /// see [`RoomRecord::stored_flags`] and [`RoomRecord::set_flags`].
    pub flags: String,
    /// The key (`+k`), if any.
    pub key: Option<String>,
    /// The member limit (`+l`), if any.
    pub limit: Option<u64>,
    pub created: Timestamp,
    /// The first message id of the lifetime in which the room was registered: its history
    /// starts there, so registering never brings back what an earlier lifetime said.
    pub history_floor: MessageId,
    /// The entries of the room's mask lists, each list in its order.
    pub lists: Vec<ListEntry>,
}

impl RoomRecord {
    /// The flags the record says are set; letters this palaver does not know (written by a
    /// later one) are skipped.
    pub fn stored_flags(&self) -> impl Iterator<Item = RoomFlag> + '_ {
        self.flags.chars().filter_map(modes::flag_from_letter)
    }

    /// Records `flags` as the ones that are set.
    pub fn set_flags(&mut self, flags: impl IntoIterator<Item = RoomFlag>) {
        self.flags = flags.into_iter().map(modes::flag_letter).collect();
    }
}

/// One entry of a room's mask list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// The list, stored under its IRC mode letter (`b`, `e`, `I`; CHANMODES type A).
    pub list: MaskList,
    /// A `nick!user@host` glob or an account mask.
    pub mask: String,
    /// `nick!user@host` of whoever set it.
    pub set_by: String,
    pub set_at: Timestamp,
}

const COLUMNS: &str = "name, founder, topic, topic_set_by, topic_set_at, flags, room_key, \
                       member_limit, created, history_floor";

impl Database {
    /// Adds a registered room. Returns false, changing nothing, if it is already registered.
    pub(super) fn register_room(&mut self, room: &RoomRecord) -> Result<bool, StoreError> {
        let transaction = self.connection.transaction()?;
        let inserted = transaction
            .prepare_cached(&format!(
                "INSERT INTO rooms (name_key, {COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (name_key) DO NOTHING"
            ))?
            .execute(rusqlite::params_from_iter(parameters(room)?))?;
        if inserted == 1 {
            replace_lists(&transaction, room)?;
        }
        transaction.commit()?;
        Ok(inserted == 1)
    }

    /// Replaces the stored state of a registered room. Returns false if it is not registered.
    pub(super) fn save_room(&mut self, room: &RoomRecord) -> Result<bool, StoreError> {
        let transaction = self.connection.transaction()?;
        let updated = transaction
            .prepare_cached(
                "UPDATE rooms SET name = ?2, founder = ?3, topic = ?4, topic_set_by = ?5,
                 topic_set_at = ?6, flags = ?7, room_key = ?8, member_limit = ?9, created = ?10,
                 history_floor = ?11
                 WHERE name_key = ?1",
            )?
            .execute(rusqlite::params_from_iter(parameters(room)?))?;
        if updated == 1 {
            replace_lists(&transaction, room)?;
        }
        transaction.commit()?;
        Ok(updated == 1)
    }

    /// Every registered room.
    pub(super) fn registered_rooms(&self) -> Result<Vec<RoomRecord>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(&format!("SELECT {COLUMNS} FROM rooms ORDER BY name_key"))?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<i64>>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, Option<String>>(6)?,
                row.get::<_, Option<i64>>(7)?,
                row.get::<_, i64>(8)?,
                row.get::<_, i64>(9)?,
            ))
        })?;
        let mut rooms = Vec::new();
        for row in rows {
            let (name, founder, topic, set_by, set_at, flags, key, limit, created, floor) = row?;
            let topic = match (topic, set_by, set_at) {
                (Some(text), Some(set_by), Some(set_at)) => {
                    Some((text, set_by, Timestamp(unsigned(set_at, "topic time")?)))
                }
                _ => None,
            };
            let lists = self.room_lists(&fold(&name))?;
            rooms.push(RoomRecord {
                name,
                founder,
                topic,
                flags,
                key,
                limit: limit
                    .map(|limit| unsigned(limit, "member limit"))
                    .transpose()?,
                created: Timestamp(unsigned(created, "room creation time")?),
                history_floor: MessageId(unsigned(floor, "history floor")?),
                lists,
            });
        }
        Ok(rooms)
    }

    /// The list entries of the room whose folded name is `key`, each list in its order.
    /// Entries of lists this palaver does not know are skipped.
    fn room_lists(&self, key: &str) -> Result<Vec<ListEntry>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT mode, mask, set_by, set_at FROM room_lists
             WHERE room_key = ?1 ORDER BY mode, position",
        )?;
        let mut rows = select.query([key])?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next()? {
            let letter: String = row.get(0)?;
            let mut letters = letter.chars();
            let (Some(letter), None) = (letters.next(), letters.next()) else {
                continue;
            };
            let Some(list) = modes::list_from_letter(letter) else {
                continue;
            };
            entries.push(ListEntry {
                list,
                mask: row.get(1)?,
                set_by: row.get(2)?,
                set_at: Timestamp(unsigned(row.get(3)?, "list entry time")?),
            });
        }
        // The lists in `MaskList::ALL` order (as records are written), each in its own order.
        entries.sort_by_key(|entry| MaskList::ALL.iter().position(|list| *list == entry.list));
        Ok(entries)
    }
}

/// Replaces every list entry of `room` with the record's, inside the caller's transaction.
fn replace_lists(connection: &Connection, room: &RoomRecord) -> Result<(), StoreError> {
    let key = fold(&room.name);
    connection
        .prepare_cached("DELETE FROM room_lists WHERE room_key = ?1")?
        .execute([&key])?;
    let mut insert = connection.prepare_cached(
        "INSERT INTO room_lists (room_key, mode, position, mask, set_by, set_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (position, entry) in room.lists.iter().enumerate() {
        insert.execute(params![
            key,
            modes::list_letter(entry.list).to_string(),
            signed(position as u64, "list position")?,
            entry.mask,
            entry.set_by,
            signed(entry.set_at.0, "list entry time")?,
        ])?;
    }
    Ok(())
}

/// The eleven statement parameters for a room row, key first.
fn parameters(room: &RoomRecord) -> Result<Vec<rusqlite::types::Value>, StoreError> {
    use rusqlite::types::Value;
    let text = |value: &str| Value::Text(value.to_owned());
    let optional_text = |value: Option<&str>| value.map_or(Value::Null, text);
    let (topic, set_by, set_at) = match &room.topic {
        Some((topic, set_by, set_at)) => (
            text(topic),
            text(set_by),
            Value::Integer(signed(set_at.0, "topic time")?),
        ),
        None => (Value::Null, Value::Null, Value::Null),
    };
    let limit = match room.limit {
        Some(limit) => Value::Integer(signed(limit, "member limit")?),
        None => Value::Null,
    };
    Ok(vec![
        text(&fold(&room.name)),
        text(&room.name),
        text(&room.founder),
        topic,
        set_by,
        set_at,
        text(&room.flags),
        optional_text(room.key.as_deref()),
        limit,
        Value::Integer(signed(room.created.0, "room creation time")?),
        Value::Integer(signed(room.history_floor.0, "history floor")?),
    ])
}
