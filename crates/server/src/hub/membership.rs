//! Joining and leaving rooms: join (creating the room), part, kick and invite, and the end of
//! a room's lifetime when its last member leaves.

use std::collections::hash_map::Entry;
use std::sync::{Arc, MutexGuard};

use palaver_proto::event::{Event, Identity};
use palaver_proto::modes::ModeChange;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use palaver_proto::utf8::truncate;
use tokio::time::Instant;

use super::delivery::{Audience, deliver};
use super::error::HubError;
use super::room::{Admission, Member, Room, RoomState};
use super::user::{Interest, User, UserId};
use super::{
    Departure, EndedRoom, Hub, Joined, KICK_REASON_MAX_BYTES, LOBBY, REASON_MAX_BYTES, ROOM_SERVICE,
};
use crate::lock;

impl Hub {
    /// Joins `user` to the room called `name` (already validated), creating it if needed, with
    /// `user` as its operator. Every other member is told; the joiner's copy is returned.
    pub fn join(
        &self,
        user: &Arc<User>,
        name: &str,
        key: Option<&str>,
    ) -> Result<Joined, HubError> {
        let folded = fold(name);
        if let Some(room) = user.room(&folded) {
            return Ok(Joined::AlreadyMember(room));
        }
        // Only the user's own session joins it to rooms, so the count cannot grow meanwhile.
        self.check_room_count(user, name)?;
        let identity = user.identity();
        loop {
            let room = match lock(&self.rooms).entry(folded.clone()) {
                Entry::Occupied(room) => room.get().clone(),
                // The lobby is everyone's, whoever happens to bring it back.
                Entry::Vacant(vacant) if folded == LOBBY => vacant
                    .insert(Arc::new(self.new_room(name, &folded)))
                    .clone(),
                Entry::Vacant(vacant) => {
                    self.room_creations
                        .try_count(user.peer.ip(), Instant::now())
                        .map_err(|wait| HubError::TooManyRoomsCreated {
                            room: name.to_owned(),
                            seconds: crate::session::whole_seconds(wait).max(1),
                        })?;
                    vacant
                        .insert(Arc::new(self.new_room(name, &folded)))
                        .clone()
                }
            };
            let mut state = room.state();
            if state.closed {
                // Its last member is leaving right now; help remove it and look again.
                drop(state);
                self.forget_room(&room);
                continue;
            }
            let admission =
                state
                    .admit(user.id, &identity, key)
                    .map_err(|reason| HubError::CannotJoin {
                        room: room.name().to_string(),
                        reason,
                    })?;
            let event = self.seat(&mut state, &room, user, admission, Timestamp::now());
            let topic = state.topic.clone();
            drop(state);
            user.add_room(room.clone());
            return Ok(Joined::New { room, event, topic });
        }
    }

    /// Refuses a join to the room called `name` by a user in as many rooms as one may be.
    pub(super) fn check_room_count(&self, user: &User, name: &str) -> Result<(), HubError> {
        if user.room_count() >= self.settings.rooms_per_user {
            return Err(HubError::TooManyRooms {
                room: name.to_owned(),
                limit: self.settings.rooms_per_user,
            });
        }
        Ok(())
    }

    /// Makes `user` a member of `room` (whose lock `state` is), as `admission` says, and tells
    /// the other members (and everyone of the operator status it was given, when that is news:
    /// a registered room's founder coming back); the joiner's copy of the join, stamped `time`.
    /// The room's place in the user's room list is the caller's to add, with the lock released.
    pub(super) fn seat(
        &self,
        state: &mut RoomState,
        room: &Room,
        user: &Arc<User>,
        admission: Admission,
        time: Timestamp,
    ) -> Event {
        let identity = user.identity();
        // An invitation lets its user in once.
        state.invitations.withdraw(user.id);
        state.members.push(Member {
            user: user.clone(),
            op: admission.op,
            voice: false,
        });
        let event = Event::Joined {
            time,
            room: room.name().clone(),
            who: identity.clone(),
        };
        deliver(state.users(), &event, Audience::except(user));
        if admission.announce_op {
            let opped = Event::ModeChanged {
                time,
                room: room.name().clone(),
                by: self.service_identity(ROOM_SERVICE),
                changes: vec![ModeChange::Operator {
                    set: true,
                    nick: identity.nick.to_string(),
                }],
            };
            deliver(state.users(), &opped, Audience::all());
        }
        // Peers who follow away changes learn at once that the newcomer is away.
        if let Some(message) = user.away() {
            let away = Event::AwayChanged {
                time,
                who: identity,
                message: Some(message),
            };
            let audience = Audience::interested_except(Interest::AwayChanges, user);
            deliver(state.users(), &away, audience);
        }
        event
    }

    /// Takes `user` out of `room`, telling every other member; returns the leaver's copy, and
    /// the room if its lifetime ended.
    pub fn part(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        reason: Option<&str>,
    ) -> Result<Departure, HubError> {
        let state = room.state();
        if !state.is_member(user) {
            return Err(HubError::NotInRoom(room.name().to_string()));
        }
        let event = Event::Parted {
            time: Timestamp::now(),
            room: room.name().clone(),
            who: user.identity(),
            reason: reason.map(|reason| truncate(reason, REASON_MAX_BYTES).into()),
        };
        deliver(state.users(), &event, Audience::except(user));
        let ended = self.leave(state, room, user);
        Ok(Departure { event, ended })
    }

    /// Takes `user` out of every room it is in (IRC `JOIN 0`), telling each room's other
    /// members; returns the leaver's copies (with any room whose lifetime ended), in the order
    /// the rooms were joined. Each room costs the same however many rooms the user is in.
    pub fn part_all(&self, user: &Arc<User>) -> Vec<Departure> {
        let identity = user.identity();
        let mut departures = Vec::new();
        // The list is emptied first, so no part below has to find its room in it.
        for room in user.take_rooms() {
            let state = room.state();
            if !state.is_member(user) {
                // Kicked meanwhile: that kick already told everyone.
                continue;
            }
            let event = Event::Parted {
                time: Timestamp::now(),
                room: room.name().clone(),
                who: identity.clone(),
                reason: None,
            };
            deliver(state.users(), &event, Audience::except(user));
            let ended = self.remove_member(state, &room, user, true);
            departures.push(Departure { event, ended });
        }
        departures
    }

    /// Removes the member called `nick` from `room`. Needs operator status. Every member, the
    /// kicked one included, is told; the kicker's copy is returned, and the room if its
    /// lifetime ended (an operator kicking itself out last).
    pub fn kick(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        nick: &str,
        reason: &str,
    ) -> Result<Departure, HubError> {
        let mut state = room.state();
        state.require_operator(user, room.name())?;
        let Some(target) = state.member_by_nick(nick).map(|member| member.user.clone()) else {
            // Release the room before looking in the nick directory (lock order).
            drop(state);
            return Err(self.not_a_member(nick, room));
        };
        let event = Event::Kicked {
            time: Timestamp::now(),
            room: room.name().clone(),
            by: user.identity(),
            nick: target.nick(),
            reason: truncate(reason, KICK_REASON_MAX_BYTES).into(),
        };
        deliver(state.users(), &event, Audience::except(user));
        let ended = self.leave(state, room, &target);
        Ok(Departure { event, ended })
    }

    /// Why `nick` is not a member of `room` to act on: it is someone else's nick, or nobody's.
    /// Looks in the nick directory: call with no room lock held.
    pub(super) fn not_a_member(&self, nick: &str, room: &Room) -> HubError {
        if self.user_by_nick(nick).is_some() {
            HubError::UserNotInRoom {
                nick: nick.to_owned(),
                room: room.name().to_string(),
            }
        } else {
            HubError::NoSuchNick(nick.to_owned())
        }
    }

    /// Invites the user called `nick` to the room called `room_name`, if the inviter may (see
    /// `RoomState::may_invite`). The invitee is told, and so are the room's operators who
    /// want to hear of invitations. Only an operator's invitation is kept (and lets the
    /// invitee in once, see `RoomState::admit`). Returns the invitee.
    pub fn invite(
        &self,
        user: &Arc<User>,
        nick: &str,
        room_name: &str,
    ) -> Result<Arc<User>, HubError> {
        let (room, invitee, by_operator) = self.decide_invite(user, nick, room_name)?;
        let by = user.identity();
        self.record_invitation(
            &room,
            &invitee,
            by,
            by_operator,
            Timestamp::now(),
            Some(user.id),
        );
        Ok(invitee)
    }

    /// Whom `user` would invite as `nick` to the room called `room_name`, into which room, and
    /// whether as its operator, by the rules [`invite`](Self::invite) applies, changing nothing.
    pub fn decide_invite(
        &self,
        user: &User,
        nick: &str,
        room_name: &str,
    ) -> Result<(Arc<Room>, Arc<User>, bool), HubError> {
        let room = self
            .room(room_name)
            .ok_or_else(|| HubError::NoSuchRoom(room_name.to_owned()))?;
        let invitee = self
            .user_by_nick(nick)
            .ok_or_else(|| HubError::NoSuchNick(nick.to_owned()))?;
        let state = room.state();
        let by_operator = state.may_invite(user, room.name())?;
        if state.is_member(&invitee) {
            return Err(HubError::AlreadyInRoom {
                nick: invitee.nick().into(),
                room: room.name().to_string(),
            });
        }
        drop(state);
        Ok((room, invitee, by_operator))
    }

    /// `by` invites `invitee` into `room`: an operator's invitation is kept, and lets the
    /// invitee in once (see `RoomState::admit`). The invitee is told, and so are the room's
    /// operators who want to hear of invitations, but the inviter (`except`).
    pub(super) fn record_invitation(
        &self,
        room: &Arc<Room>,
        invitee: &Arc<User>,
        by: Arc<Identity>,
        by_operator: bool,
        time: Timestamp,
        except: Option<UserId>,
    ) {
        let mut state = room.state();
        if by_operator {
            state.invitations.add(invitee.id);
            invitee.note_invitation(room);
        }
        let event = Event::Invited {
            time,
            room: room.name().clone(),
            by,
            nick: invitee.nick(),
        };
        deliver([invitee], &event, Audience::all());
        let operators: Vec<Arc<User>> = state
            .members
            .iter()
            .filter(|member| member.op)
            .map(|member| member.user.clone())
            .collect();
        drop(state);
        let audience = Audience {
            except,
            needs: Some(Interest::Invitations),
        };
        deliver(&operators, &event, audience);
    }

    /// The end of `room`'s lifetime, now that its last member left (`state` is its lock);
    /// `None` for a registered room, which keeps its history, and for a room without any,
    /// which leaves the store nothing to forget (its next lifetime's floor hides anything
    /// older all the same).
    fn end_of_lifetime(&self, room: &Room, state: &RoomState) -> Option<EndedRoom> {
        let ended = state.founder.is_none() && state.has_history;
        ended.then(|| EndedRoom {
            name: room.name().clone(),
            history_end: self.upcoming_message_id(),
        })
    }

    /// Takes `member` out of `room` (whose lock `state` is), then, with the lock released,
    /// out of the member's room list, and the room out of the directory if it emptied.
    /// Returns the room if that ended its lifetime.
    pub(super) fn leave(
        &self,
        state: MutexGuard<'_, RoomState>,
        room: &Arc<Room>,
        member: &Arc<User>,
    ) -> Option<EndedRoom> {
        let ended = self.remove_member(state, room, member, true);
        member.remove_room(room);
        ended
    }

    /// Takes `member` out of `room` (whose lock `state` is) and, with the lock released, the
    /// room out of the directory if it emptied; the member's room list is the caller's to
    /// update. Returns the room if that ended its lifetime, which only a departure while the
    /// server runs does (`ends_lifetime`).
    pub(super) fn remove_member(
        &self,
        mut state: MutexGuard<'_, RoomState>,
        room: &Arc<Room>,
        member: &User,
        ends_lifetime: bool,
    ) -> Option<EndedRoom> {
        state.remove_member(member);
        let closed = state.closed;
        let ended = (closed && ends_lifetime)
            .then(|| self.end_of_lifetime(room, &state))
            .flatten();
        drop(state);
        if closed {
            self.forget_room(room);
        }
        ended
    }

    /// Removes a closed room from the directory, unless a new room already took its name.
    pub(super) fn forget_room(&self, room: &Arc<Room>) {
        let mut rooms = lock(&self.rooms);
        if rooms
            .get(room.key())
            .is_some_and(|listed| Arc::ptr_eq(listed, room))
        {
            rooms.remove(room.key());
        }
    }
}
