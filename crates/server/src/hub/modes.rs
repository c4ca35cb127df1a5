//! Changing room modes: flags, key, limit, operator and voice status, and bans.
//!
//! Changes arrive already parsed (by the IRC session, from `MODE #room +o-v alice bob`); this
//! module checks permissions, applies the ones that change something and announces exactly
//! those, as one `MODE`-style event.

use std::sync::Arc;

use palaver_proto::event::Event;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

use super::room::{Audience, Ban, Room, RoomState, deliver};
use super::{Hub, HubError, MAX_BANS, User};

/// A room flag (a mode without an argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomFlag {
    InviteOnly,
    Moderated,
    NoExternalMessages,
    Secret,
    TopicProtected,
}

impl RoomFlag {
    /// Every flag, in the order mode strings list them (`imnst`).
    pub const ALL: [RoomFlag; 5] = [
        RoomFlag::InviteOnly,
        RoomFlag::Moderated,
        RoomFlag::NoExternalMessages,
        RoomFlag::Secret,
        RoomFlag::TopicProtected,
    ];

    pub fn letter(self) -> char {
        match self {
            RoomFlag::InviteOnly => 'i',
            RoomFlag::Moderated => 'm',
            RoomFlag::NoExternalMessages => 'n',
            RoomFlag::Secret => 's',
            RoomFlag::TopicProtected => 't',
        }
    }

    pub fn from_letter(letter: char) -> Option<Self> {
        Self::ALL.into_iter().find(|flag| flag.letter() == letter)
    }
}

/// One requested change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeChange {
    Flag {
        flag: RoomFlag,
        set: bool,
    },
    /// `Some(key)` sets the key (`+k key`), `None` removes it (`-k`).
    Key(Option<String>),
    /// `Some(n)` sets the member limit (`+l n`), `None` removes it (`-l`).
    Limit(Option<usize>),
    Operator {
        set: bool,
        nick: String,
    },
    Voice {
        set: bool,
        nick: String,
    },
    Ban {
        set: bool,
        mask: String,
    },
}

/// What [`Hub::change_modes`] did.
#[derive(Debug, Default)]
pub struct ModeOutcome {
    /// The changer's copy of the announcement; `None` when nothing changed.
    pub event: Option<Event>,
    /// Changes that could not be applied (unknown nick, nick not in the room), in order.
    pub errors: Vec<HubError>,
}

/// Completes a ban mask to `nick!user@host` form and case-folds it: `bob` → `bob!*@*`,
/// `*@host` → `*!*@host`.
pub fn normalize_ban_mask(mask: &str) -> String {
    let (nick_user, host) = match mask.split_once('@') {
        Some((nick_user, host)) => (nick_user, if host.is_empty() { "*" } else { host }),
        None => (mask, "*"),
    };
    let full = match nick_user.split_once('!') {
        Some((nick, user)) => format!("{nick}!{user}@{host}"),
        None if mask.contains('@') => format!("*!{nick_user}@{host}"),
        None => format!("{nick_user}!*@{host}"),
    };
    fold(&full)
}

/// The accumulated announcement: `+ov-b` and its arguments.
#[derive(Default)]
struct Announcement {
    modes: String,
    arguments: Vec<Box<str>>,
    last_sign: Option<bool>,
}

impl Announcement {
    fn add(&mut self, set: bool, letter: char, argument: Option<&str>) {
        if self.last_sign != Some(set) {
            self.modes.push(if set { '+' } else { '-' });
            self.last_sign = Some(set);
        }
        self.modes.push(letter);
        self.arguments.extend(argument.map(Into::into));
    }
}

#[derive(Clone, Copy)]
enum Status {
    Operator,
    Voice,
}

/// Gives or takes `status` for the member called `nick`; `None` if there is no such member.
fn set_status(
    state: &mut RoomState,
    nick: &str,
    status: Status,
    set: bool,
    announcement: &mut Announcement,
) -> Option<()> {
    let member = state.member_by_nick(nick)?;
    let (slot, letter) = match status {
        Status::Operator => (&mut member.op, 'o'),
        Status::Voice => (&mut member.voice, 'v'),
    };
    if *slot != set {
        *slot = set;
        announcement.add(set, letter, Some(&member.user.nick()));
    }
    Some(())
}

pub(super) fn apply(
    hub: &Hub,
    user: &Arc<User>,
    room: &Arc<Room>,
    changes: Vec<ModeChange>,
) -> Result<ModeOutcome, HubError> {
    let mut state = room.state();
    if !state.is_member(user) {
        return Err(HubError::NotInRoom(room.name().to_string()));
    }
    if !state.is_op(user) {
        return Err(HubError::NeedOperator(room.name().to_string()));
    }
    let identity = user.identity();
    let time = Timestamp::now();
    let mut announcement = Announcement::default();
    let mut missing_nicks = Vec::new();
    let mut full_ban_list = Vec::new();
    for change in changes {
        match change {
            ModeChange::Flag { flag, set } => {
                let slot = state.modes.flag_mut(flag);
                if *slot != set {
                    *slot = set;
                    announcement.add(set, flag.letter(), None);
                }
            }
            ModeChange::Key(Some(key)) => {
                if state.modes.key.as_deref() != Some(&key) {
                    announcement.add(true, 'k', Some(&key));
                    state.modes.key = Some(key.into());
                }
            }
            ModeChange::Key(None) => {
                if state.modes.key.take().is_some() {
                    announcement.add(false, 'k', Some("*"));
                }
            }
            ModeChange::Limit(Some(limit)) => {
                if state.modes.limit != Some(limit) {
                    state.modes.limit = Some(limit);
                    announcement.add(true, 'l', Some(&limit.to_string()));
                }
            }
            ModeChange::Limit(None) => {
                if state.modes.limit.take().is_some() {
                    announcement.add(false, 'l', None);
                }
            }
            ModeChange::Operator { set, nick } => {
                set_status(&mut state, &nick, Status::Operator, set, &mut announcement)
                    .unwrap_or_else(|| missing_nicks.push(nick));
            }
            ModeChange::Voice { set, nick } => {
                set_status(&mut state, &nick, Status::Voice, set, &mut announcement)
                    .unwrap_or_else(|| missing_nicks.push(nick));
            }
            ModeChange::Ban { set, mask } => {
                let mask = normalize_ban_mask(&mask);
                let listed = state.bans.iter().position(|ban| *ban.mask == *mask);
                match (set, listed) {
                    (true, None) if state.bans.len() >= MAX_BANS => {
                        full_ban_list.push(mask);
                    }
                    (true, None) => {
                        state.bans.push(Ban {
                            mask: mask.as_str().into(),
                            set_by: identity.mask().into(),
                            set_at: time,
                        });
                        announcement.add(true, 'b', Some(&mask));
                    }
                    (false, Some(index)) => {
                        state.bans.remove(index);
                        announcement.add(false, 'b', Some(&mask));
                    }
                    _ => {}
                }
            }
        }
    }
    let event = (!announcement.modes.is_empty()).then(|| Event::ModeChanged {
        time,
        room: room.name().clone(),
        by: identity,
        modes: announcement.modes.into(),
        arguments: announcement.arguments,
    });
    if let Some(event) = &event {
        deliver(state.users(), event, Audience::except(user));
    }
    drop(state);
    // Sort out unknown nicks after releasing the room (lock order: no directory lock while a
    // room lock is held).
    let mut errors: Vec<HubError> = missing_nicks
        .into_iter()
        .map(|nick| {
            if hub.user_by_nick(&nick).is_some() {
                HubError::UserNotInRoom {
                    room: room.name().to_string(),
                    nick,
                }
            } else {
                HubError::NoSuchNick(nick)
            }
        })
        .collect();
    errors.extend(full_ban_list.into_iter().map(|mask| HubError::BanListFull {
        room: room.name().to_string(),
        mask,
    }));
    Ok(ModeOutcome { event, errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ban_masks_are_completed_and_folded() {
        assert_eq!(normalize_ban_mask("Bob"), "bob!*@*");
        assert_eq!(normalize_ban_mask("bob!~b"), "bob!~b@*");
        assert_eq!(normalize_ban_mask("*@Host.example"), "*!*@host.example");
        assert_eq!(normalize_ban_mask("a!b@c"), "a!b@c");
        assert_eq!(normalize_ban_mask("a!b@"), "a!b@*");
    }
}
