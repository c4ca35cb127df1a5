//! Who may see what: the rules every listing applies, in every protocol (IRC `NAMES`, `WHO`,
//! `WHOIS`, `LIST`, `TOPIC` and `MODE` queries; text `/who`, `/topic` and `/rooms`). They are
//! the rules of IRC's `NAMES` and `WHO` (RFC 2812 §3.2.5, §3.6.1), applied everywhere:
//!
//! - A secret room (`+s`) does not exist for non-members: no member, topic, mode or ban of it
//!   is shown, and queries about it are answered as for a room that does not exist.
//! - In any other room a non-member sees the topic, the modes with the key hidden, the ban
//!   list, and the members who are not invisible.
//! - A user marked invisible (IRC user mode `+i`) is listed in a room only to that room's
//!   members, and by a search over all users (IRC `WHO mask`) only to itself and to users who
//!   share a room with it.
//!
//! [`Viewer`] gathers what these checks need about the one looking once per query, so a
//! listing over every user costs what it shows and never compares every pair of rooms.

use std::collections::HashMap;
use std::sync::Arc;

use super::room::{Member, Room, RoomState};
use super::user::User;

/// What a non-member is shown in place of a room's key.
pub const HIDDEN_KEY: &str = "*";

/// Whether a viewer may know of a room at all: a secret room shows itself only to members.
pub(super) fn may_see_room(state: &RoomState, viewer_is_member: bool) -> bool {
    viewer_is_member || !state.modes.secret
}

/// Whether a listing of a room the viewer may see shows `member`: members see everyone,
/// others only those who are not invisible.
pub(super) fn may_see_member(viewer_is_member: bool, member: &Member) -> bool {
    viewer_is_member || !member.user.is_invisible()
}

/// Whether a viewer may see a room's key (the modes are shown with [`HIDDEN_KEY`] otherwise).
pub(super) fn may_see_key(viewer_is_member: bool) -> bool {
    viewer_is_member
}

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
