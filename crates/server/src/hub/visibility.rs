//! Who may see what: the rules every listing applies, in every protocol.
//!
//! - A user marked invisible (IRC user mode `+i`) is listed by a search over all users (IRC
//!   `WHO mask`) only to itself and to users who share a room with it.
//!
//! [`Viewer`] gathers what these checks need about the one looking once per query, so a
//! listing over every user costs what it shows and never compares every pair of rooms.

use std::collections::HashMap;
use std::sync::Arc;

use super::room::Room;
use super::user::User;

/// A user looking at a listing, with the rooms it is in gathered once.
pub struct Viewer {
    user: Arc<User>,
    /// The rooms the viewer was in when the query began, by address, for membership tests in
    /// constant time. Holding each room keeps its address from being reused by a new room
    /// while this viewer exists.
    rooms: HashMap<usize, Arc<Room>>,
}

impl Viewer {
    pub(super) fn new(user: Arc<User>) -> Self {
        let rooms = user
            .rooms()
            .into_iter()
            .map(|room| (address(&room), room))
            .collect();
        Self { user, rooms }
    }

    /// The user looking.
    pub fn user(&self) -> &Arc<User> {
        &self.user
    }

    /// Whether the viewer was in `room` when the query began.
    pub fn is_in(&self, room: &Room) -> bool {
        self.rooms.contains_key(&address(room))
    }

    /// Whether a listing over all users may show `other`: itself, anyone not invisible, and
    /// invisible users it shares a room with. Costs one set lookup per room `other` is in.
    pub fn may_see_user(&self, other: &User) -> bool {
        other.id == self.user.id
            || !other.is_invisible()
            || other.in_any_room(|room| self.is_in(room))
    }
}

/// A room's identity for the lifetime of its allocation.
fn address(room: &Room) -> usize {
    std::ptr::from_ref(room) as usize
}
