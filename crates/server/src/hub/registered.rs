//! Registered rooms: their saved state (founder, topic, modes, mask lists, history floor), applied
//! when such a room is created again, and the rooms that come back with their history after a
//! restart. The store keeps the records; this module decides what they mean.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use palaver_proto::event::MessageId;
use palaver_proto::modes::{MaskList, RoomModes};
use palaver_proto::names::fold;

use super::Hub;
use super::bans::{MaskEntry, MaskLists};
use super::error::HubError;
use super::room::{Room, Topic};
use super::user::User;
use crate::lock;
use crate::store::{ListEntry, RoomRecord};

/// What the hub remembers of rooms that are not open: two leaf locks, taken one at a time.
#[derive(Debug, Default)]
pub(super) struct RegisteredRooms {
    /// Folded room name → the saved state of a registered room, applied when the room is
    /// created again, and kept up to date as it changes.
    records: Mutex<HashMap<String, RoomRecord>>,
    /// Folded names of the unregistered rooms that had history when the server started and
    /// have not been created since. A restart ends no room's lifetime, so the first room
    /// created under such a name is that room coming back, with its history (floor 0); any
    /// later one is new. Filled once at start-up (bounded by what the store holds) and only
    /// shrinks.
    returning: Mutex<HashSet<String>>,
}

impl Hub {
    /// Remembers registered rooms (at start-up, from the store).
    pub fn load_registered_rooms(&self, rooms: Vec<RoomRecord>) {
        let mut registered = lock(&self.registered.records);
        for room in rooms {
            registered.insert(fold(&room.name), room);
        }
    }

    /// Remembers which rooms had history when the server started (folded names, from the
    /// store), so that they come back with it. Call after
    /// [`load_registered_rooms`](Self::load_registered_rooms): registered rooms keep their
    /// history by their own rule.
    pub fn load_rooms_with_history(&self, mut rooms: Vec<String>) {
        {
            let registered = lock(&self.registered.records);
            rooms.retain(|key| !registered.contains_key(key));
        }
        lock(&self.registered.returning).extend(rooms);
    }

    /// A new, empty room called `name`, with its saved state if it is registered.
    pub(super) fn new_room(&self, name: &str, folded: &str) -> Room {
        self.new_room_after(name, folded, self.upcoming_message_id())
    }

    /// A new, empty room called `name`, with its saved state if it is registered; otherwise
    /// its history starts at `floor` (unless it comes back after a restart).
    pub(super) fn new_room_after(&self, name: &str, folded: &str, floor: MessageId) -> Room {
        // Each leaf lock is released before the next is taken.
        let record = lock(&self.registered.records).get(folded).cloned();
        if let Some(record) = record {
            return room_from_record(record, folded);
        }
        let returning = lock(&self.registered.returning).remove(folded);
        let history_floor = if returning { MessageId(0) } else { floor };
        let room = Room::new(name, folded.to_owned(), history_floor);
        room.state().has_history = returning;
        room
    }

    /// The room called `name` as joining would create it, to decide on, changing nothing: its
    /// saved state if it is registered, else a new room's.
    pub(super) fn prospective_room(&self, name: &str, folded: &str) -> Room {
        let record = lock(&self.registered.records).get(folded).cloned();
        match record {
            Some(record) => room_from_record(record, folded),
            None => Room::new(name, folded.to_owned(), self.upcoming_message_id()),
        }
    }

    /// Checks that `user` may register `room` (it must be logged in and an operator there, and
    /// the room not yet registered) and returns the record to store. The room counts as
    /// registered only once [`mark_registered`](Self::mark_registered) is called after the
    /// store accepted it.
    pub fn room_registration(&self, user: &User, room: &Room) -> Result<RoomRecord, HubError> {
        let account = user
            .identity()
            .account
            .clone()
            .ok_or(HubError::NeedAccount)?;
        {
            let state = room.state();
            state.require_operator(user, room.name())?;
            if state.founder.is_some() {
                return Err(HubError::AlreadyRegistered(room.name().to_string()));
            }
        }
        let mut record = snapshot(room);
        record.founder = account.into();
        Ok(record)
    }

    /// Records that `room` is registered as `record` says.
    pub fn mark_registered(&self, room: &Room, record: RoomRecord) {
        room.state().founder = Some(record.founder.as_str().into());
        lock(&self.registered.records).insert(room.key().to_owned(), record);
    }

    /// The state to save for `room` if it is registered (after a topic or mode change).
    pub fn registered_state(&self, room: &Room) -> Option<RoomRecord> {
        let founder = room.state().founder.clone()?;
        let mut record = snapshot(room);
        record.founder = founder.into();
        lock(&self.registered.records).insert(room.key().to_owned(), record.clone());
        Some(record)
    }
}

/// `room`'s topic, modes, mask lists and history floor as a record (founder left empty).
fn snapshot(room: &Room) -> RoomRecord {
    let state = room.state();
    let modes = &state.modes;
    let mut record = RoomRecord {
        name: room.name().to_string(),
        founder: String::new(),
        topic: state.topic.as_ref().map(|topic| {
            (
                topic.text.to_string(),
                topic.set_by.to_string(),
                topic.set_at,
            )
        }),
        flags: String::new(),
        key: modes.key.as_deref().map(str::to_owned),
        limit: modes.limit.map(|limit| limit as u64),
        created: room.created,
        history_floor: room.history_floor(),
        lists: MaskList::ALL
            .into_iter()
            .flat_map(|list| {
                state.lists.get(list).iter().map(move |entry| ListEntry {
                    list,
                    mask: entry.mask.to_string(),
                    set_by: entry.set_by.to_string(),
                    set_at: entry.set_at,
                })
            })
            .collect(),
    };
    record.set_flags(modes.flags());
    record
}

/// A room as its record says it was saved.
fn room_from_record(record: RoomRecord, folded: &str) -> Room {
    let mut room = Room::new(&record.name, folded.to_owned(), record.history_floor);
    room.created = record.created;
    {
        let mut state = room.state();
        state.founder = Some(record.founder.as_str().into());
        let mut lists = MaskLists::default();
        for entry in &record.lists {
            lists.get_mut(entry.list).push(MaskEntry {
                mask: entry.mask.as_str().into(),
                set_by: entry.set_by.as_str().into(),
                set_at: entry.set_at,
            });
        }
        state.lists = lists;
        let mut modes = RoomModes {
            key: record.key.clone().map(Into::into),
            limit: record.limit.and_then(|limit| usize::try_from(limit).ok()),
            ..RoomModes::default()
        };
        for flag in record.stored_flags() {
            *modes.flag_mut(flag) = true;
        }
        state.modes = modes;
        state.topic = record.topic.map(|(text, set_by, set_at)| Topic {
            text: text.into(),
            set_by: set_by.into(),
            set_at,
        });
    }
    room
}
