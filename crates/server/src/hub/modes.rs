//! Changing room modes: flags, key, limit, operator and voice status, and bans.
//!
//! Changes arrive already parsed (by the IRC session, from `MODE #room +o-v alice bob`); this
//! module checks permissions, applies the ones that change something and announces exactly
//! those, as one `MODE`-style event.

use std::sync::Arc;

use palaver_proto::event::Event;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use thiserror::Error;

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
    /// Changes that could not be applied (unknown nick, nick not in the room, invalid or
    /// unlisted ban mask), in order.
    pub errors: Vec<HubError>,
}

/// Longest ban mask in bytes, once completed to `nick!user@host`. The longest mask a user here
/// can have is 30 (nick) + 1 + 11 (user name with its `~`) + 1 + 45 (an IPv6 address in its
/// longest text form) = 88 bytes; 128 leaves room to spare and keeps a `367` ban-list line,
/// with the room's name and the setter's mask, well under IRC's 512 bytes.
pub const BAN_MASK_MAX_BYTES: usize = 128;

/// Why a ban mask was refused. Each would let the mask, shown back in a ban list, read as more
/// than one field (a space, a leading `:`), carry terminal or protocol controls, or take
/// unbounded room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BanMaskError {
    #[error("a ban mask may not be empty")]
    Empty,
    #[error("a ban mask may not contain spaces")]
    Space,
    #[error("a ban mask may not start with ':'")]
    LeadingColon,
    #[error("a ban mask may not contain control characters")]
    Control,
    #[error("a ban mask may be at most {BAN_MASK_MAX_BYTES} bytes long")]
    TooLong,
}

/// Checks a ban mask and completes it to `nick!user@host` form, case-folded: `bob` →
/// `bob!*@*`, `*@host` → `*!*@host`.
pub fn normalize_ban_mask(mask: &str) -> Result<String, BanMaskError> {
    if mask.is_empty() {
        return Err(BanMaskError::Empty);
    }
    if mask.contains(' ') {
        return Err(BanMaskError::Space);
    }
    if mask.starts_with(':') {
        return Err(BanMaskError::LeadingColon);
    }
    if mask.chars().any(char::is_control) {
        return Err(BanMaskError::Control);
    }
    let full = complete_mask(mask);
    if full.len() > BAN_MASK_MAX_BYTES {
        return Err(BanMaskError::TooLong);
    }
    Ok(full)
}

/// `mask` in `nick!user@host` form, case-folded.
fn complete_mask(mask: &str) -> String {
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
    let mut invalid_masks = Vec::new();
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
            ModeChange::Ban { set, mask: given } => {
                let mask = match normalize_ban_mask(&given) {
                    Ok(mask) => mask,
                    Err(reason) => {
                        invalid_masks.push((given, reason));
                        continue;
                    }
                };
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
    errors.extend(
        invalid_masks
            .into_iter()
            .map(|(mask, reason)| HubError::InvalidBanMask {
                room: room.name().to_string(),
                mask,
                reason,
            }),
    );
    Ok(ModeOutcome { event, errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ban_masks_are_completed_and_folded() {
        let normalized = |mask| normalize_ban_mask(mask).unwrap();
        assert_eq!(normalized("Bob"), "bob!*@*");
        assert_eq!(normalized("bob!~b"), "bob!~b@*");
        assert_eq!(normalized("*@Host.example"), "*!*@host.example");
        assert_eq!(normalized("a!b@c"), "a!b@c");
        assert_eq!(normalized("a!b@"), "a!b@*");
        assert_eq!(normalized("*!*@::1"), "*!*@::1");
    }

    #[test]
    fn ban_masks_that_could_not_be_shown_safely_are_refused() {
        for (mask, error) in [
            ("", BanMaskError::Empty),
            ("x fake!setter@evil 0", BanMaskError::Space),
            (":x", BanMaskError::LeadingColon),
            ("a\u{1}b", BanMaskError::Control),
            ("a\u{1b}[2J", BanMaskError::Control),
            ("a\u{85}b", BanMaskError::Control),
        ] {
            assert_eq!(normalize_ban_mask(mask), Err(error), "{mask:?}");
        }
        // The limit counts the completed mask: 123 + `!*@*` fits, 125 + `!*@*` does not.
        let longest = "n".repeat(BAN_MASK_MAX_BYTES - 4);
        assert_eq!(
            normalize_ban_mask(&longest).unwrap().len(),
            BAN_MASK_MAX_BYTES
        );
        let too_long = "n".repeat(BAN_MASK_MAX_BYTES - 3);
        assert_eq!(normalize_ban_mask(&too_long), Err(BanMaskError::TooLong));
    }
}
