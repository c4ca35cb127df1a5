//! The rooms a user is in, in the order joined.
//!
//! Most users are in a few rooms, and every connected user holds this list: up to
//! [`FEW_ROOMS`] rooms it is a short list, searched through, costing a pointer per room; past
//! that, two indexes, so that every operation on one room costs the same however many rooms
//! the user is in — joining, leaving and looking a room up by name are logarithmic or
//! constant, never a scan of the whole list (a user in thousands of rooms would otherwise make
//! each join, and `JOIN 0`, quadratic).

use std::collections::{BTreeMap, HashMap, btree_map};
use std::sync::Arc;

use super::room::Room;

/// Most rooms kept in the short list; one more and the list becomes indexes.
const FEW_ROOMS: usize = 16;

#[derive(Debug)]
pub(super) enum JoinedRooms {
    /// In join order.
    Few(Vec<Arc<Room>>),
    /// Boxed: while a user is in few rooms its list is as small as the short one.
    Many(Box<IndexedRooms>),
}

impl Default for JoinedRooms {
    fn default() -> Self {
        JoinedRooms::Few(Vec::new())
    }
}

#[derive(Debug, Default)]
pub(super) struct IndexedRooms {
    /// Join number → room: the rooms in the order joined.
    by_order: BTreeMap<u64, Arc<Room>>,
    /// Folded room name → join number. A user is in at most one room per name.
    by_key: HashMap<String, u64>,
    /// The number the next join gets; only grows.
    next: u64,
}

impl JoinedRooms {
    /// Adds `room` last, in place of a room of the same name the user was in.
    pub(super) fn insert(&mut self, room: Arc<Room>) {
        match self {
            JoinedRooms::Few(rooms) => {
                rooms.retain(|joined| joined.key() != room.key());
                rooms.push(room);
                if rooms.len() > FEW_ROOMS {
                    let mut indexed = IndexedRooms::default();
                    for room in rooms.drain(..) {
                        indexed.insert(room);
                    }
                    *self = JoinedRooms::Many(Box::new(indexed));
                }
            }
            JoinedRooms::Many(indexed) => indexed.insert(room),
        }
    }

    /// Removes `room` (that very room: not a later one of the same name).
    pub(super) fn remove(&mut self, room: &Arc<Room>) {
        match self {
            JoinedRooms::Few(rooms) => {
                if let Some(index) = rooms.iter().position(|joined| Arc::ptr_eq(joined, room)) {
                    rooms.remove(index);
                }
            }
            JoinedRooms::Many(indexed) => indexed.remove(room),
        }
    }

    /// The room with the folded name `key`.
    pub(super) fn get(&self, key: &str) -> Option<&Arc<Room>> {
        match self {
            JoinedRooms::Few(rooms) => rooms.iter().find(|room| room.key() == key),
            JoinedRooms::Many(indexed) => indexed.get(key),
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            JoinedRooms::Few(rooms) => rooms.len(),
            JoinedRooms::Many(indexed) => indexed.by_order.len(),
        }
    }

    pub(super) fn in_join_order(&self) -> InJoinOrder<'_> {
        match self {
            JoinedRooms::Few(rooms) => InJoinOrder::Few(rooms.iter()),
            JoinedRooms::Many(indexed) => InJoinOrder::Many(indexed.by_order.values()),
        }
    }
}

impl IndexedRooms {
    fn insert(&mut self, room: Arc<Room>) {
        let number = self.next;
        self.next += 1;
        if let Some(replaced) = self.by_key.insert(room.key().to_owned(), number) {
            self.by_order.remove(&replaced);
        }
        self.by_order.insert(number, room);
    }

    fn remove(&mut self, room: &Arc<Room>) {
        let Some(&number) = self.by_key.get(room.key()) else {
            return;
        };
        if self
            .by_order
            .get(&number)
            .is_some_and(|joined| Arc::ptr_eq(joined, room))
        {
            self.by_key.remove(room.key());
            self.by_order.remove(&number);
        }
    }

    fn get(&self, key: &str) -> Option<&Arc<Room>> {
        self.by_key
            .get(key)
            .and_then(|number| self.by_order.get(number))
    }
}

/// The rooms in the order joined, whichever way they are kept.
pub(super) enum InJoinOrder<'a> {
    Few(std::slice::Iter<'a, Arc<Room>>),
    Many(btree_map::Values<'a, u64, Arc<Room>>),
}

impl<'a> Iterator for InJoinOrder<'a> {
    type Item = &'a Arc<Room>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            InJoinOrder::Few(rooms) => rooms.next(),
            InJoinOrder::Many(rooms) => rooms.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use palaver_proto::event::MessageId;
    use palaver_proto::names::fold;

    use super::*;

    fn new_room(name: &str) -> Arc<Room> {
        Arc::new(Room::new(name, fold(name), MessageId(0)))
    }

    /// Joins, parts and rejoins across the switch from the short list to the indexes, checked
    /// against a plain list after every step.
    #[test]
    fn both_ways_of_keeping_rooms_agree_with_a_plain_list() {
        let mut joined = JoinedRooms::default();
        let mut model: Vec<Arc<Room>> = Vec::new();
        // Once past the short list's length, the indexes stay.
        let mut indexed = false;
        let check = |joined: &JoinedRooms, model: &[Arc<Room>]| {
            let order: Vec<&str> = joined.in_join_order().map(|room| room.key()).collect();
            let expected: Vec<&str> = model.iter().map(|room| room.key()).collect();
            assert_eq!(order, expected);
            assert_eq!(joined.len(), model.len());
            for room in model {
                assert!(Arc::ptr_eq(joined.get(room.key()).unwrap(), room));
            }
        };
        for number in 0..3 * FEW_ROOMS {
            let room = new_room(&format!("#Room{number}"));
            joined.insert(room.clone());
            model.push(room);
            indexed |= model.len() > FEW_ROOMS;
            check(&joined, &model);
            if number % 3 == 0 {
                let gone = model.remove(number / 3 % model.len());
                joined.remove(&gone);
                check(&joined, &model);
                // Removing it again, or a room of that name it is not in, changes nothing.
                joined.remove(&gone);
                joined.remove(&new_room(gone.name()));
                check(&joined, &model);
            }
            if number % 5 == 0 && !model.is_empty() {
                // A room of the same name replaces the one joined before, and goes last.
                let again = new_room(&model[0].name().to_uppercase());
                model.remove(0);
                joined.insert(again.clone());
                model.push(again);
                check(&joined, &model);
            }
            assert_eq!(
                matches!(joined, JoinedRooms::Many(_)),
                indexed,
                "after join {number}"
            );
        }
        assert!(indexed, "the test went past the short list");
        assert!(joined.get("#nowhere").is_none());
    }
}
