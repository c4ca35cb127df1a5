//! Changing room modes: flags, key, limit, operator and voice status, and the mask lists
//! (bans, ban exceptions, invite exceptions).
//!
//! Changes arrive already parsed (by the IRC session, from `MODE #room +o-v alice bob`); this
//! module checks permissions, applies the ones that change something and announces exactly
//! those, in order, as one [`Event::ModeChanged`].

use std::sync::Arc;

use palaver_proto::event::{Event, Identity};
use palaver_proto::modes::{MaskList, ModeChange};
use palaver_proto::time::Timestamp;

use super::Hub;
use super::bans::{BanMaskError, MAX_LIST_ENTRIES, MaskEntry, normalize_mask};
use super::delivery::{Audience, deliver};
use super::error::HubError;
use super::room::{Room, RoomState};
use super::user::User;

/// What [`Hub::change_modes`] did.
#[derive(Debug, Default)]
pub struct ModeOutcome {
    /// The changer's copy of the announcement; `None` when nothing changed.
    pub event: Option<Event>,
    /// Changes that could not be applied (unknown nick, nick not in the room, invalid mask,
    /// full lists), in order.
    pub errors: Vec<HubError>,
}

#[derive(Clone, Copy)]
enum Status {
    Operator,
    Voice,
}

/// Gives or takes `status` for the member called `nick`, recording the change in `applied` if
/// it changed anything; `None` if there is no such member.
fn set_status(
    state: &mut RoomState,
    nick: &str,
    status: Status,
    set: bool,
    applied: &mut Vec<ModeChange>,
) -> Option<()> {
    let member = state.member_by_nick(nick)?;
    let slot = match status {
        Status::Operator => &mut member.op,
        Status::Voice => &mut member.voice,
    };
    if *slot != set {
        *slot = set;
        let nick = member.user.nick().into();
        applied.push(match status {
            Status::Operator => ModeChange::Operator { set, nick },
            Status::Voice => ModeChange::Voice { set, nick },
        });
    }
    Some(())
}

/// What [`make_changes`] did: the changes that changed something, in order, and those that
/// could not be made.
#[derive(Debug, Default)]
pub(super) struct Made {
    pub applied: Vec<ModeChange>,
    missing_nicks: Vec<String>,
    full_lists: Vec<(MaskList, String)>,
    invalid_masks: Vec<(MaskList, String, BanMaskError)>,
}

pub(super) fn apply(
    hub: &Hub,
    user: &Arc<User>,
    room: &Arc<Room>,
    changes: Vec<ModeChange>,
) -> Result<ModeOutcome, HubError> {
    let mut state = room.state();
    state.require_operator(user, room.name())?;
    let identity = user.identity();
    let time = Timestamp::now();
    let made = make_changes(&mut state, &identity, time, changes);
    let event = announcement(room, identity, time, &made.applied);
    if let Some(event) = &event {
        deliver(state.users(), event, Audience::except(user));
    }
    drop(state);
    // Sort out unknown nicks after releasing the room (lock order: no directory lock while a
    // room lock is held).
    let errors = hub.mode_errors(room, made);
    Ok(ModeOutcome { event, errors })
}

/// The announcement of `applied`, made by `by` at `time`; `None` when nothing changed.
pub(super) fn announcement(
    room: &Room,
    by: Arc<Identity>,
    time: Timestamp,
    applied: &[ModeChange],
) -> Option<Event> {
    (!applied.is_empty()).then(|| Event::ModeChanged {
        time,
        room: room.name().clone(),
        by,
        changes: applied.to_vec(),
    })
}

/// Makes in `state` those of `changes` that change something (`identity`, at `time`, sets the
/// list entries it adds); what was made, and what could not be.
pub(super) fn make_changes(
    state: &mut RoomState,
    identity: &Identity,
    time: Timestamp,
    changes: Vec<ModeChange>,
) -> Made {
    let mut made = Made::default();
    let applied = &mut made.applied;
    for change in changes {
        match change {
            ModeChange::Flag { flag, set } => {
                let slot = state.modes.flag_mut(flag);
                if *slot != set {
                    *slot = set;
                    applied.push(change);
                }
            }
            ModeChange::Key(Some(ref key)) => {
                if state.modes.key.as_deref() != Some(key) {
                    state.modes.key = Some(key.as_str().into());
                    applied.push(change);
                }
            }
            ModeChange::Key(None) => {
                if state.modes.key.take().is_some() {
                    applied.push(change);
                }
            }
            ModeChange::Limit(limit) => {
                if state.modes.limit != limit {
                    state.modes.limit = limit;
                    applied.push(change);
                }
            }
            ModeChange::Operator { set, nick } => {
                set_status(state, &nick, Status::Operator, set, applied)
                    .unwrap_or_else(|| made.missing_nicks.push(nick));
            }
            ModeChange::Voice { set, nick } => {
                set_status(state, &nick, Status::Voice, set, applied)
                    .unwrap_or_else(|| made.missing_nicks.push(nick));
            }
            ModeChange::Mask {
                list,
                set,
                mask: given,
            } => {
                let mask = match normalize_mask(&given) {
                    Ok(mask) => mask,
                    Err(reason) => {
                        made.invalid_masks.push((list, given, reason));
                        continue;
                    }
                };
                let full = state.lists.total() >= MAX_LIST_ENTRIES;
                let entries = state.lists.get_mut(list);
                let listed = entries.iter().position(|entry| *entry.mask == *mask);
                match (set, listed) {
                    (true, None) if full => made.full_lists.push((list, mask)),
                    (true, None) => {
                        entries.push(MaskEntry {
                            mask: mask.as_str().into(),
                            set_by: identity.mask().into(),
                            set_at: time,
                        });
                        applied.push(ModeChange::Mask { list, set, mask });
                    }
                    (false, Some(index)) => {
                        entries.remove(index);
                        applied.push(ModeChange::Mask { list, set, mask });
                    }
                    _ => {}
                }
            }
        }
    }
    made
}

impl Hub {
    /// The errors of the changes that could not be made, in order of kind. Looks in the nick
    /// directory: call with no room lock held.
    pub(super) fn mode_errors(&self, room: &Room, made: Made) -> Vec<HubError> {
        let mut errors: Vec<HubError> = made
            .missing_nicks
            .into_iter()
            .map(|nick| self.not_a_member(&nick, room))
            .collect();
        errors.extend(
            made.full_lists
                .into_iter()
                .map(|(list, mask)| HubError::ListFull {
                    room: room.name().to_string(),
                    list,
                    mask,
                }),
        );
        errors.extend(made.invalid_masks.into_iter().map(|(list, mask, reason)| {
            HubError::InvalidMask {
                room: room.name().to_string(),
                list,
                mask,
                reason,
            }
        }));
        errors
    }
}
