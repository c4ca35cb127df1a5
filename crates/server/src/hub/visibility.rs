//! Who may see what: the rules every listing applies, in every protocol (IRC `NAMES`, `WHO`,
//! `WHOIS`, `LIST`, `TOPIC` and `MODE` queries; text `/who`, `/topic` and `/rooms`). They are
//! the rules of IRC's `NAMES` and `WHO` (RFC 2812 §3.2.5, §3.6.1), applied everywhere:
//!
//! - A secret room (`+s`) does not exist for non-members: no member, topic, mode or ban of it
//!   is shown, and queries about it are answered as for a room that does not exist.
//! - In any other room a non-member sees the topic, the modes with the key hidden, the ban
//!   list, and the members who are not invisible.
//! - The ban and invite exception lists are shown to the room's operators only, as on Ergo and
//!   Solanum: they tell who is let past the room's defences.
//! - A user marked invisible (IRC user mode `+i`) is listed in a room only to that room's
//!   members, and by a search over all users (IRC `WHO mask`) only to itself and to users who
//!   share a room with it. Looking a user up by its nick (IRC `WHOIS`, `WHO nick`, `ISON`) is
//!   no listing: it finds an invisible user too, as on every IRC server.
//!
//! The administration API (`crate::admin`) sees as a member of every room sees: every room,
//! member, key and list, and every user. It is the server's owner, proven by a token from the
//! configuration, not a chat user; its listings are the `administered_*` ones here.
//!
//! [`Viewer`] gathers what these checks need about the one looking once per query, so a
//! listing over every user costs what it shows and never compares every pair of rooms. The
//! listings themselves ([`Hub::room_view`], [`Hub::visible_room`], [`Hub::mask_list`],
//! [`Hub::visible_memberships`], [`Hub::rooms`]) are here too, so every rule is applied in
//! this one file.

use std::collections::HashMap;
use std::sync::Arc;

use palaver_proto::event::Identity;
use palaver_proto::modes::{MaskList, RoomModes};
use palaver_proto::room_filter::{RoomFacts, RoomFilter};
use palaver_proto::time::Timestamp;

use super::Hub;
use super::bans::MaskEntry;
use super::error::HubError;
use super::room::{Member, Room, RoomState, Topic};
use super::user::User;
use crate::lock;

/// What a non-member is shown in place of a room's key.
pub const HIDDEN_KEY: &str = "*";

/// Whether a viewer may know of a room at all: a secret room shows itself only to members.
fn may_see_room(state: &RoomState, viewer_is_member: bool) -> bool {
    viewer_is_member || !state.modes.secret
}

/// Whether a listing of a room the viewer may see shows `member`: members see everyone,
/// others only those who are not invisible.
fn may_see_member(viewer_is_member: bool, member: &Member) -> bool {
    viewer_is_member || !member.user.is_invisible()
}

/// Whether a viewer may see a room's mask list `list`: the bans whoever may see the room, the
/// exception lists only its operators.
fn may_see_list(list: MaskList, viewer_is_operator: bool) -> bool {
    list == MaskList::Bans || viewer_is_operator
}

/// Whether a viewer may see a room's key (the modes are shown with [`HIDDEN_KEY`] otherwise).
fn may_see_key(viewer_is_member: bool) -> bool {
    viewer_is_member
}

/// One line of a room listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    pub name: Arc<str>,
    pub members: usize,
    pub topic: Option<Box<str>>,
    pub created: Timestamp,
    /// When the topic was set, if there is one.
    pub topic_set: Option<Timestamp>,
}

impl RoomSummary {
    /// What a listing's filters look at.
    fn facts(&self) -> RoomFacts<'_> {
        RoomFacts {
            name: &self.name,
            members: self.members,
            created: self.created,
            topic_set: self.topic_set,
        }
    }
}

/// A member as listings (`/who`, IRC `NAMES`, `WHO`) show it.
#[derive(Debug, Clone)]
pub struct MemberInfo {
    pub identity: Arc<Identity>,
    pub op: bool,
    pub voice: bool,
    pub away: bool,
    pub user: Arc<User>,
}

/// A room in someone's list of rooms (IRC `WHOIS`), with that user's status there.
#[derive(Debug, Clone)]
pub struct Membership {
    pub room: Arc<str>,
    pub op: bool,
    pub voice: bool,
}

/// A snapshot of a room as one viewer may see it (see [`Hub::room_view`]), for listings and
/// mode queries.
#[derive(Debug, Clone)]
pub struct RoomInfo {
    pub name: Arc<str>,
    pub created: Timestamp,
    pub topic: Option<Topic>,
    /// The modes, with the key replaced by [`HIDDEN_KEY`] for a non-member.
    pub modes: RoomModes,
    /// The members the viewer may see, in join order.
    pub members: Vec<MemberInfo>,
}

impl Hub {
    /// The room called `name`, if it exists and `viewer` may know of it (a secret room only
    /// to its members; see [`visibility`]). Queries about a room answer `None` as they answer
    /// for a room that does not exist.
    pub fn visible_room(&self, viewer: &User, name: &str) -> Option<Arc<Room>> {
        let room = self.room(name)?;
        let visible = {
            let state = room.state();
            may_see_room(&state, state.is_member(viewer))
        };
        visible.then_some(room)
    }

    /// `room` as `viewer` may see it: topic, modes (the key only for members) and the members
    /// it may see, in join order; `None` for a secret room it is not in. Every listing
    /// of a room goes through here (see [`visibility`]).
    pub fn room_view(&self, viewer: &User, room: &Room) -> Option<RoomInfo> {
        Self::room_view_with(room, |state| state.is_member(viewer))
    }

    /// `room` as the administration API sees it: everything a member sees (see
    /// [`visibility`]).
    pub fn administered_room_view(&self, room: &Room) -> RoomInfo {
        Self::room_view_with(room, |_| true).expect("a member sees its room")
    }

    /// `room` as seen by someone who is a member if `is_member` says so.
    fn room_view_with(room: &Room, is_member: impl FnOnce(&RoomState) -> bool) -> Option<RoomInfo> {
        let state = room.state();
        let viewer_is_member = is_member(&state);
        if !may_see_room(&state, viewer_is_member) {
            return None;
        }
        let mut modes = state.modes.clone();
        if !may_see_key(viewer_is_member) {
            modes.key = modes.key.map(|_| HIDDEN_KEY.into());
        }
        Some(RoomInfo {
            name: room.name().clone(),
            created: room.created,
            topic: state.topic.clone(),
            modes,
            members: state
                .members
                .iter()
                .filter(|member| may_see_member(viewer_is_member, member))
                .map(|member| MemberInfo {
                    identity: member.user.identity(),
                    op: member.op,
                    voice: member.voice,
                    away: member.user.away().is_some(),
                    user: member.user.clone(),
                })
                .collect(),
        })
    }

    /// The entries of `room`'s mask list `list`, if `viewer` may see them: the bans if it may
    /// see the room, the exception lists if it is an operator there (`NeedOperator`
    /// otherwise). A secret room it is not in is `NoSuchRoom`, as one that does not exist.
    pub fn mask_list(
        &self,
        viewer: &User,
        room: &Room,
        list: MaskList,
    ) -> Result<Vec<MaskEntry>, HubError> {
        let state = room.state();
        if !may_see_room(&state, state.is_member(viewer)) {
            return Err(HubError::NoSuchRoom(room.name().to_string()));
        }
        if !may_see_list(list, state.is_op(viewer)) {
            return Err(HubError::NeedOperator(room.name().to_string()));
        }
        Ok(state.lists.get(list).to_vec())
    }

    /// The rooms `user` is in that `viewer` may know of, in join order, with `user`'s status
    /// in each (IRC `WHOIS`).
    pub fn visible_memberships(&self, viewer: &Arc<User>, user: &User) -> Vec<Membership> {
        let viewer = self.viewer(viewer);
        Self::memberships_with(user, |room| viewer.is_in(room))
    }

    /// Every room `user` is in, as the administration API lists them (see [`visibility`]).
    pub fn administered_memberships(&self, user: &User) -> Vec<Membership> {
        Self::memberships_with(user, |_| true)
    }

    /// The rooms `user` is in that someone may know of who is in the rooms `is_in` says.
    fn memberships_with(user: &User, is_in: impl Fn(&Room) -> bool) -> Vec<Membership> {
        user.rooms()
            .iter()
            .filter_map(|room| {
                let state = room.state();
                if !may_see_room(&state, is_in(room)) {
                    return None;
                }
                state.member(user).map(|member| Membership {
                    room: room.name().clone(),
                    op: member.op,
                    voice: member.voice,
                })
            })
            .collect()
    }

    /// The rooms [`rooms`](Self::rooms) lists that pass `filter` (IRC `LIST` filters, text
    /// `/rooms`).
    pub fn rooms_matching(&self, viewer: &Arc<User>, filter: &RoomFilter) -> Vec<RoomSummary> {
        let mut rooms = self.rooms(viewer);
        if !filter.is_empty() {
            let now = Timestamp::now();
            rooms.retain(|room| filter.matches(&room.facts(), now));
        }
        rooms
    }

    /// Every room `viewer` may know of (secret rooms only if it is a member), sorted by name.
    pub fn rooms(&self, viewer: &Arc<User>) -> Vec<RoomSummary> {
        let viewer = self.viewer(viewer);
        self.rooms_with(|room| viewer.is_in(room))
    }

    /// Every room, sorted by name, as the administration API lists them (see
    /// [`visibility`]).
    pub fn administered_rooms(&self) -> Vec<RoomSummary> {
        self.rooms_with(|_| true)
    }

    /// Every room someone may know of who is in the rooms `is_in` says, sorted by name.
    fn rooms_with(&self, is_in: impl Fn(&Room) -> bool) -> Vec<RoomSummary> {
        let rooms: Vec<Arc<Room>> = lock(&self.rooms).values().cloned().collect();
        let mut summaries: Vec<RoomSummary> = rooms
            .iter()
            .filter_map(|room| {
                let state = room.state();
                let visible = may_see_room(&state, is_in(room));
                (visible && !state.members.is_empty()).then(|| RoomSummary {
                    name: room.name().clone(),
                    members: state.members.len(),
                    topic: state.topic.as_ref().map(|topic| topic.text.clone()),
                    created: room.created,
                    topic_set: state.topic.as_ref().map(|topic| topic.set_at),
                })
            })
            .collect();
        summaries.sort_by(|a, b| a.name.cmp(&b.name));
        summaries
    }

    /// `user` as the one looking at a listing, with what the visibility rules need gathered
    /// once (see [`visibility`]).
    pub fn viewer(&self, user: &Arc<User>) -> Viewer {
        Viewer::new(user.clone())
    }
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
    fn new(user: Arc<User>) -> Self {
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
