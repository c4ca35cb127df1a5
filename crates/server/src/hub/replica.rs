//! The hub as a cluster node's replica of the network's rooms (docs/CLUSTER.md, "Rooms as
//! built"): a room change is decided here first, by the same rules as on a single server but
//! changing nothing (`decide_*`), then made by Redis, which orders it on the state feed; every
//! node, this one included, applies it as the feed brings it (`apply_*`), telling its own users.
//! What is applied is not checked again: the rules were the deciding node's to apply, on its
//! replica as it stood, and every node must end up with the same rooms.

use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Instant;

use palaver_proto::event::{Event, Identity, MemberStatus, MessageId, MessageKind};
use palaver_proto::modes::{ModeChange, RoomModes};
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

use super::bans::MaskLists;
use super::delivery::{Audience, deliver};
use super::error::HubError;
use super::messages::put_topic;
use super::modes::{announcement, make_changes};
use super::room::{Admission, Room, Topic};
use super::user::{Interest, User, UserId};
use super::{Hub, LOBBY};
use crate::lock;
use crate::metrics::MessageTarget;

/// What changing a room's modes would do, decided on the replica ([`Hub::decide_modes`]).
#[derive(Debug)]
pub struct DecidedModes {
    /// The changes that would change something, in order (what every node applies).
    pub changes: Vec<ModeChange>,
    /// The changes that could not be made.
    pub errors: Vec<HubError>,
    /// The room's rules version they were decided against.
    pub version: u64,
    /// The room's modes and lists as they would be after them.
    pub modes: RoomModes,
    pub lists: MaskLists,
    /// The members whose status they would change, with their new operator and voice status.
    pub statuses: Vec<(Arc<User>, bool, bool)>,
}

/// What a user joining a room would be, decided on the replica ([`Hub::decide_join`]).
#[derive(Debug)]
pub enum JoinDecision {
    /// A member already.
    AlreadyMember(Arc<Room>),
    /// It may join: as an operator or not, founding the room (which the replica sees empty)
    /// or not.
    Join { op: bool, founding: bool },
}

impl Hub {
    /// Whether `user` may join the room called `name` (already validated) with `key`, by the
    /// rules [`join`](Self::join) applies, changing nothing but the count of rooms the user's
    /// address created (a refused join in Redis still counts: it was an attempt).
    pub fn decide_join(
        &self,
        user: &User,
        name: &str,
        key: Option<&str>,
    ) -> Result<JoinDecision, HubError> {
        let folded = fold(name);
        if let Some(room) = user.room(&folded) {
            return Ok(JoinDecision::AlreadyMember(room));
        }
        self.check_room_count(user, name)?;
        let identity = user.identity();
        let open = self.room(&folded).filter(|room| !room.state().closed);
        let room = match open {
            Some(room) => room,
            None => {
                if folded != LOBBY {
                    self.room_creations
                        .try_count(user.peer.ip(), tokio::time::Instant::now())
                        .map_err(|wait| HubError::TooManyRoomsCreated {
                            room: name.to_owned(),
                            seconds: crate::session::whole_seconds(wait).max(1),
                        })?;
                }
                Arc::new(self.prospective_room(name, &folded))
            }
        };
        let state = room.state();
        let Admission { op, .. } =
            state
                .admit(user.id, &identity, key)
                .map_err(|reason| HubError::CannotJoin {
                    room: room.name().to_string(),
                    reason,
                })?;
        Ok(JoinDecision::Join {
            op,
            founding: state.members.is_empty(),
        })
    }

    /// Who `user` would kick out of `room` as `nick`, by the rules [`kick`](Self::kick)
    /// applies (an operator kicking a member), changing nothing.
    pub fn decide_kick(&self, user: &User, room: &Room, nick: &str) -> Result<Arc<User>, HubError> {
        let mut state = room.state();
        state.require_operator(user, room.name())?;
        if let Some(member) = state.member_by_nick(nick) {
            return Ok(member.user.clone());
        }
        // Release the room before looking in the nick directory (lock order).
        drop(state);
        Err(self.not_a_member(nick, room))
    }

    /// What `user` changing the modes of `room` would do, by the rules
    /// [`change_modes`](Self::change_modes) applies (operators only), changing nothing.
    pub fn decide_modes(
        &self,
        user: &User,
        room: &Room,
        changes: Vec<ModeChange>,
    ) -> Result<DecidedModes, HubError> {
        let mut scratch = {
            let state = room.state();
            state.require_operator(user, room.name())?;
            state.clone()
        };
        let before: Vec<(bool, bool)> = scratch
            .members
            .iter()
            .map(|member| (member.op, member.voice))
            .collect();
        let made = make_changes(&mut scratch, &user.identity(), Timestamp::now(), changes);
        let statuses = scratch
            .members
            .iter()
            .zip(before)
            .filter(|(member, before)| (member.op, member.voice) != *before)
            .map(|(member, _)| (member.user.clone(), member.op, member.voice))
            .collect();
        let changes = made.applied.clone();
        Ok(DecidedModes {
            changes,
            errors: self.mode_errors(room, made),
            version: scratch.rules_version,
            modes: scratch.modes,
            lists: scratch.lists,
            statuses,
        })
    }

    /// Makes the mode changes the cluster ordered (`event_id`: their event, which becomes the
    /// room's rules version) in the room `folded`, as `by` made them, telling its members here
    /// but the changer (`except`, if still connected). What was made, for the changer's copy.
    pub fn apply_modes(
        &self,
        folded: &str,
        by: Arc<Identity>,
        changes: Vec<ModeChange>,
        event_id: u64,
        except: Option<UserId>,
    ) -> Option<Event> {
        self.observe_event_id(event_id);
        let room = self.room(folded)?;
        let mut state = room.state();
        let time = time_of(event_id);
        let made = make_changes(&mut state, &by, time, changes);
        state.rules_version = event_id;
        let event = announcement(&room, by, time, &made.applied)?;
        let audience = Audience {
            except,
            needs: None,
        };
        deliver(state.users(), &event, audience);
        Some(event)
    }

    /// Sets the modes and lists of the room `folded` as a snapshot of the cluster holds them
    /// (`version`: the rules version they are), and voice for its members `voiced`, telling
    /// nobody.
    pub fn load_rules(
        &self,
        folded: &str,
        modes: RoomModes,
        lists: MaskLists,
        version: u64,
        voiced: &[UserId],
    ) {
        if let Some(room) = self.room(folded) {
            let mut state = room.state();
            state.modes = modes;
            state.lists = lists;
            state.rules_version = version;
            for member in &mut state.members {
                member.voice = voiced.contains(&member.user.id);
            }
        }
    }

    /// Makes `user` a member of the room called `name`, as the cluster decided: `op` or not,
    /// `founding` it (then its history starts after `event_id`, the join's, on every node
    /// alike). Its other members here are told. The joiner's copy of the join, or `None` if it
    /// was a member already.
    pub fn apply_join(
        &self,
        user: &Arc<User>,
        name: &str,
        op: bool,
        founding: bool,
        event_id: u64,
    ) -> Option<Event> {
        self.observe_event_id(event_id);
        let folded = fold(name);
        if user.room(&folded).is_some() {
            return None;
        }
        loop {
            let room = match lock(&self.rooms).entry(folded.clone()) {
                Entry::Occupied(room) => room.get().clone(),
                Entry::Vacant(vacant) => {
                    let mut room = self.new_room_after(name, &folded, MessageId(event_id));
                    if !room.is_registered() {
                        // Created when it was founded, on every node alike.
                        room.created = time_of(event_id);
                    }
                    vacant.insert(Arc::new(room)).clone()
                }
            };
            let mut state = room.state();
            if state.closed {
                drop(state);
                self.forget_room(&room);
                continue;
            }
            let admission = Admission {
                op,
                announce_op: op && !founding,
            };
            let time = time_of(event_id);
            let event = self.seat(&mut state, &room, user, admission, time);
            drop(state);
            user.add_room(room);
            return Some(event);
        }
    }

    /// Takes `user` out of the room `folded`, as the cluster decided, telling its other
    /// members here `event` (a part or a kick) but the actor (`except`, whose session has its
    /// own copy). Nothing if it was not a member.
    pub fn apply_leave(
        &self,
        user: &Arc<User>,
        folded: &str,
        event: &Event,
        except: Option<UserId>,
    ) {
        let Some(room) = user.room(folded) else {
            return;
        };
        let state = room.state();
        if !state.is_member(user) {
            return;
        }
        let audience = Audience {
            except,
            needs: None,
        };
        deliver(state.users(), event, audience);
        // The cluster ended the room's lifetime, if it did (room_leave.lua): the leaver's
        // session tells the store.
        let _ended = self.leave(state, &room, user);
    }

    /// Delivers a room message the cluster ordered (`event`, stamped with its id) to the
    /// room's members here, but its sender (`from`, if still connected), with at least `minimum` status if given.
    pub fn apply_message(
        &self,
        from: Option<&Arc<User>>,
        event: &Event,
        folded: &str,
        minimum: Option<MemberStatus>,
    ) {
        let Event::Message { id, time, kind, .. } = event else {
            return;
        };
        self.observe_event_id(id.0);
        let Some(room) = self.room(folded) else {
            return;
        };
        let stamped = Instant::now();
        let mut state = room.state();
        let recipients = state
            .members
            .iter()
            .filter(|member| minimum.is_none_or(|minimum| member.has_status(minimum)))
            .map(|member| &member.user);
        let audience = Audience {
            except: from.map(|sender| sender.id),
            needs: None,
        };
        let delivered = deliver(recipients, event, audience);
        let counted_as = match minimum {
            None => MessageTarget::Room,
            Some(_) => MessageTarget::Status,
        };
        self.record_fan_out(counted_as, delivered, stamped);
        if *kind != MessageKind::TagsOnly && minimum.is_none() {
            state.has_history = true;
        }
        drop(state);
        if let Some(sender) = from
            && *kind != MessageKind::TagsOnly
        {
            sender.mark_spoke(*time);
        }
    }

    /// Sets the topic of the room `folded` as the cluster ordered it (`by` set it at `time`;
    /// empty: cleared), telling its members here but the setter (`except`, if still connected).
    pub fn apply_topic(
        &self,
        folded: &str,
        by: Arc<Identity>,
        topic: &str,
        time: Timestamp,
        except: Option<UserId>,
    ) {
        let Some(room) = self.room(folded) else {
            return;
        };
        let _event = put_topic(&mut room.state(), &room, by, topic, time, except);
    }

    /// Records an invitation into the room `folded` the cluster ordered (`event_id`), as
    /// [`invite`](Self::invite) does: `invitee` is told if it is here, and so are the room's
    /// operators here who want to hear of it, but the inviter (`except`).
    pub fn apply_invite(
        &self,
        folded: &str,
        invitee: &Arc<User>,
        by: Arc<Identity>,
        by_operator: bool,
        event_id: u64,
        except: Option<UserId>,
    ) {
        self.observe_event_id(event_id);
        if let Some(room) = self.room(folded) {
            self.record_invitation(&room, invitee, by, by_operator, time_of(event_id), except);
        }
    }

    /// Registers the room `folded` to `founder`, as the cluster ordered (its record is in the
    /// shared store already): its founder is made operator on joining, and it outlives its
    /// members.
    pub fn apply_registration(&self, folded: &str, founder: &str) {
        if let Some(room) = self.room(folded) {
            room.state().founder = Some(founder.into());
            // The saved state, as the node that registered it saved it.
            let _record = self.registered_state(&room);
        }
    }

    /// Tells the members of the room `folded` here who want to hear of deletions of the
    /// deletion the cluster ordered (`event`), but its deleter (`except`).
    pub fn apply_deletion(&self, folded: &str, event: &Event, except: Option<UserId>) {
        if let Event::Redacted { id, .. } = event {
            self.observe_event_id(id.0);
        }
        if let Some(room) = self.room(folded) {
            let state = room.state();
            let audience = Audience {
                except,
                needs: Some(Interest::Redactions),
            };
            deliver(state.users(), event, audience);
        }
    }

    /// Sets the topic of the room `folded` as a snapshot of the cluster holds it, telling
    /// nobody (this node's members see it as they join, or asking for it).
    pub fn load_topic(&self, folded: &str, topic: Topic) {
        if let Some(room) = self.room(folded) {
            room.state().topic = Some(topic);
        }
    }

    /// Keeps this node's own message ids above every id the cluster gave (an event's id is
    /// its time in milliseconds × 1024, as this node's are): what the hub reads as "every
    /// message so far has a smaller id" (a lifetime's end, a new room's floor) stays true.
    pub fn observe_event_id(&self, id: u64) {
        self.next_message_id
            .fetch_max(id.saturating_add(1), std::sync::atomic::Ordering::Relaxed);
    }
}

/// The time of the cluster's event with id `id` (docs/CLUSTER.md, "Ids, sequence numbers and
/// time").
pub fn time_of(id: u64) -> Timestamp {
    Timestamp(id / 1024)
}
