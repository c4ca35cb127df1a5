//! The model: the hub's documented rules written as plainly as possible over plain data, with
//! no locks, no fan-out and no shared structure, so that it can be read against
//! `docs/PROTOCOL.md` and the hub's own comments and disagree with the hub only where one of
//! them is wrong.

use std::collections::{BTreeMap, BTreeSet};

use palaver_proto::event::MemberStatus;
use palaver_proto::modes::{MaskList, ModeChange, RoomModes};

use super::ops::{Action, SLOTS};
use crate::hub::{HubError, JoinRefusal, SendRefusal};

/// Nicks and room names are compared by their ASCII lower case (`CASEMAPPING=ascii` in
/// `docs/PROTOCOL.md`); written out here rather than borrowed from the hub.
fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// What an action came to, as comparable from the hub's results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The acting slot holds no connection (or, to connect, already holds one): nothing done.
    Skipped,
    /// Connected under this nick.
    Connected(String),
    Done,
    /// A join by a member.
    AlreadyMember,
    /// A mode change by an operator: the changes announced (exactly those that changed
    /// something, in order) and those refused.
    Modes {
        announced: Vec<ModeChange>,
        refused: Vec<HubError>,
    },
    Refused(HubError),
}

/// What an action must do: its outcome, and who must receive each text it sends (every
/// such text is unique in the history, see `ops::token`).
#[derive(Debug)]
pub struct Expected {
    pub outcome: Outcome,
    pub deliveries: BTreeMap<String, BTreeSet<usize>>,
}

#[derive(Debug, Clone)]
pub struct ModelUser {
    /// As the user spelled it.
    pub nick: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelMember {
    pub slot: usize,
    pub op: bool,
    pub voice: bool,
}

impl ModelMember {
    fn has_status(&self, minimum: MemberStatus) -> bool {
        match minimum {
            MemberStatus::Operator => self.op,
            MemberStatus::Voiced => self.op || self.voice,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelRoom {
    /// As its creator spelled it.
    pub name: String,
    /// In join order.
    pub members: Vec<ModelMember>,
    pub modes: RoomModes,
    /// Completed, case-folded masks of each list, in the order they were set.
    pub bans: Vec<String>,
    pub ban_exceptions: Vec<String>,
    pub invite_exceptions: Vec<String>,
    /// Slots an operator invited who have not joined since.
    pub invited: BTreeSet<usize>,
}

impl ModelRoom {
    fn member(&self, slot: usize) -> Option<&ModelMember> {
        self.members.iter().find(|member| member.slot == slot)
    }

    fn is_op(&self, slot: usize) -> bool {
        self.member(slot).is_some_and(|member| member.op)
    }

    /// Every member but `slot`.
    fn others(&self, slot: usize) -> BTreeSet<usize> {
        self.members
            .iter()
            .map(|member| member.slot)
            .filter(|&member| member != slot)
            .collect()
    }

    /// Whether the user called `nick` is banned: a ban names it and no ban exception does.
    /// The model's masks are all `nick!*@*`, which match whatever user name and host.
    fn bans(&self, nick: &str) -> bool {
        let mask = nick_mask(nick);
        self.bans.contains(&mask) && !self.ban_exceptions.contains(&mask)
    }

    /// Whether an invite exception lets the user called `nick` into the room if it is
    /// invite-only (it is still held to bans, the key and the limit).
    fn lets_in_uninvited(&self, nick: &str) -> bool {
        self.invite_exceptions.contains(&nick_mask(nick))
    }

    fn list_mut(&mut self, list: MaskList) -> &mut Vec<String> {
        match list {
            MaskList::Bans => &mut self.bans,
            MaskList::BanExceptions => &mut self.ban_exceptions,
            MaskList::InviteExceptions => &mut self.invite_exceptions,
        }
    }
}

/// The mask the hub makes of a ban or exception on `nick` (`docs/PROTOCOL.md`: `bob` is
/// `bob!*@*`, matched case-insensitively).
pub fn nick_mask(nick: &str) -> String {
    format!("{}!*@*", fold(nick))
}

/// A new room's modes: only members may send, only operators may set the topic.
fn new_room_modes() -> RoomModes {
    RoomModes {
        no_external_messages: true,
        topic_protected: true,
        ..RoomModes::default()
    }
}

#[derive(Debug)]
pub struct Model {
    pub users: [Option<ModelUser>; SLOTS],
    /// By case-folded name; a room exists while it has members.
    pub rooms: BTreeMap<String, ModelRoom>,
    /// The number of the next guest nick the hub tries (`guest-1` first).
    next_guest: u64,
}

impl Default for Model {
    fn default() -> Self {
        Self {
            users: Default::default(),
            rooms: BTreeMap::new(),
            next_guest: 1,
        }
    }
}

fn refused(error: HubError) -> Expected {
    Expected {
        outcome: Outcome::Refused(error),
        deliveries: BTreeMap::new(),
    }
}

fn outcome(outcome: Outcome) -> Expected {
    Expected {
        outcome,
        deliveries: BTreeMap::new(),
    }
}

impl Model {
    /// The nick of the user in `slot`, if one is connected there.
    pub fn nick(&self, slot: usize) -> Option<&str> {
        self.users[slot].as_ref().map(|user| user.nick.as_str())
    }

    /// Whether a room called `name`, in any case, exists.
    pub fn has_room(&self, name: &str) -> bool {
        self.rooms.contains_key(&fold(name))
    }

    /// Whether the user in `slot` is in the room called `name`, in any case.
    pub fn is_member(&self, slot: usize, name: &str) -> bool {
        self.rooms
            .get(&fold(name))
            .is_some_and(|room| room.member(slot).is_some())
    }

    /// Whether the user in `slot` is an operator of the room called `name`, in any case.
    pub fn is_operator(&self, slot: usize, name: &str) -> bool {
        self.rooms
            .get(&fold(name))
            .is_some_and(|room| room.is_op(slot))
    }

    /// The slot of whoever holds `nick`, in any case.
    fn holder(&self, nick: &str) -> Option<usize> {
        let key = fold(nick);
        (0..SLOTS).find(|&slot| self.nick(slot).is_some_and(|held| fold(held) == key))
    }

    /// Applies `action`, returning what the hub must do.
    pub fn apply(&mut self, action: &Action) -> Expected {
        if let Some(slot) = action.actor()
            && self.users[slot].is_none()
        {
            return outcome(Outcome::Skipped);
        }
        match action {
            Action::Rename { slot, nick } => self.rename(*slot, nick),
            Action::Join { slot, room, key } => self.join(*slot, room, key.as_deref()),
            Action::Part { slot, room, reason } => self.part(*slot, room, reason),
            Action::PartAll { slot } => {
                for key in self.rooms_of(*slot) {
                    self.remove_member(&key, *slot);
                }
                outcome(Outcome::Done)
            }
            Action::Kick {
                slot,
                room,
                nick,
                reason,
            } => self.kick(*slot, room, nick, reason),
            Action::Invite { slot, nick, room } => self.invite(*slot, nick, room),
            Action::Modes {
                slot,
                room,
                changes,
            } => self.change_modes(*slot, room, changes),
            Action::Say {
                slot,
                room,
                minimum,
                text,
            } => self.say(*slot, room, *minimum, text),
            Action::Tell { nick, text, .. } => match self.holder(nick) {
                None => refused(HubError::NoSuchNick(nick.clone())),
                // A message to oneself is delivered too.
                Some(recipient) => delivered(text, BTreeSet::from([recipient])),
            },
            Action::Connect { slot, nick } => self.connect(*slot, nick.as_deref()),
            Action::Quit { quits } => {
                // Each lost connection is told to those who shared a room with it then; a
                // slot already empty has nothing to lose.
                let mut expected = outcome(Outcome::Done);
                for (slot, reason) in quits {
                    if self.users[*slot].is_some() {
                        let witnesses = self.disconnect(*slot);
                        expected.deliveries.insert(reason.clone(), witnesses);
                    }
                }
                expected
            }
        }
    }

    /// Whoever connects gets its nick unless someone holds it in any case; a text user gets
    /// the first free `guest-N`, numbered on from the last one handed out.
    fn connect(&mut self, slot: usize, nick: Option<&str>) -> Expected {
        if self.users[slot].is_some() {
            return outcome(Outcome::Skipped);
        }
        let nick = match nick {
            Some(nick) if self.holder(nick).is_some() => {
                return refused(HubError::NickTaken(nick.to_owned()));
            }
            Some(nick) => nick.to_owned(),
            None => loop {
                let guest = format!("guest-{}", self.next_guest);
                self.next_guest += 1;
                if self.holder(&guest).is_none() {
                    break guest;
                }
            },
        };
        self.users[slot] = Some(ModelUser { nick: nick.clone() });
        outcome(Outcome::Connected(nick))
    }

    /// A nick is free unless another user holds it in any case; a user may change the case
    /// of its own.
    fn rename(&mut self, slot: usize, nick: &str) -> Expected {
        if self.holder(nick).is_some_and(|holder| holder != slot) {
            return refused(HubError::NickTaken(nick.to_owned()));
        }
        if let Some(user) = &mut self.users[slot] {
            user.nick = nick.to_owned();
        }
        outcome(Outcome::Done)
    }

    /// `docs/PROTOCOL.md`, joining: whoever creates a room is its operator; an operator's
    /// invitation lets its invitee past everything once; anyone else is refused if banned,
    /// else if the room is invite-only, else if the key is wrong, else if the room is full.
    fn join(&mut self, slot: usize, name: &str, key: Option<&str>) -> Expected {
        let nick = self.nick(slot).unwrap_or_default().to_owned();
        let Some(room) = self.rooms.get_mut(&fold(name)) else {
            self.rooms.insert(
                fold(name),
                ModelRoom {
                    name: name.to_owned(),
                    members: vec![ModelMember {
                        slot,
                        op: true,
                        voice: false,
                    }],
                    modes: new_room_modes(),
                    bans: Vec::new(),
                    ban_exceptions: Vec::new(),
                    invite_exceptions: Vec::new(),
                    invited: BTreeSet::new(),
                },
            );
            return outcome(Outcome::Done);
        };
        if room.member(slot).is_some() {
            return outcome(Outcome::AlreadyMember);
        }
        if !room.invited.contains(&slot) {
            let refusal = if room.bans(&nick) {
                Some(JoinRefusal::Banned)
            } else if room.modes.invite_only && !room.lets_in_uninvited(&nick) {
                Some(JoinRefusal::InviteOnly)
            } else if room.modes.key.is_some() && room.modes.key.as_deref() != key {
                Some(JoinRefusal::BadKey)
            } else if room
                .modes
                .limit
                .is_some_and(|limit| room.members.len() >= limit)
            {
                Some(JoinRefusal::Full)
            } else {
                None
            };
            if let Some(reason) = refusal {
                return refused(HubError::CannotJoin {
                    room: room.name.clone(),
                    reason,
                });
            }
        }
        room.invited.remove(&slot);
        room.members.push(ModelMember {
            slot,
            op: false,
            voice: false,
        });
        outcome(Outcome::Done)
    }

    fn part(&mut self, slot: usize, name: &str, reason: &str) -> Expected {
        let key = fold(name);
        let Some(room) = self.rooms.get(&key) else {
            return refused(HubError::NoSuchRoom(name.to_owned()));
        };
        if room.member(slot).is_none() {
            return refused(HubError::NotInRoom(room.name.clone()));
        }
        let told = room.others(slot);
        self.remove_member(&key, slot);
        delivered(reason, told)
    }

    /// Only an operator kicks; every member but the kicker is told, the kicked one included.
    fn kick(&mut self, slot: usize, name: &str, nick: &str, reason: &str) -> Expected {
        let key = fold(name);
        let Some(room) = self.rooms.get(&key) else {
            return refused(HubError::NoSuchRoom(name.to_owned()));
        };
        if let Err(error) = require_operator(room, slot) {
            return refused(error);
        }
        let target = room
            .members
            .iter()
            .map(|member| member.slot)
            .find(|&member| {
                self.nick(member)
                    .is_some_and(|held| fold(held) == fold(nick))
            });
        let Some(target) = target else {
            return refused(self.not_a_member(nick, room));
        };
        let told = room.others(slot);
        self.remove_member(&key, target);
        delivered(reason, told)
    }

    /// Any member invites, only an operator in an invite-only room, and only an operator's
    /// invitation is kept (RFC 2812 §3.2.7).
    fn invite(&mut self, slot: usize, nick: &str, name: &str) -> Expected {
        let Some(room) = self.rooms.get(&fold(name)) else {
            return refused(HubError::NoSuchRoom(name.to_owned()));
        };
        let Some(invitee) = self.holder(nick) else {
            return refused(HubError::NoSuchNick(nick.to_owned()));
        };
        if room.member(slot).is_none() {
            return refused(HubError::NotInRoom(room.name.clone()));
        }
        let by_operator = room.is_op(slot);
        if room.modes.invite_only && !by_operator {
            return refused(HubError::NeedOperator(room.name.clone()));
        }
        if room.member(invitee).is_some() {
            return refused(HubError::AlreadyInRoom {
                nick: self.nick(invitee).unwrap_or_default().to_owned(),
                room: room.name.clone(),
            });
        }
        if by_operator && let Some(room) = self.rooms.get_mut(&fold(name)) {
            room.invited.insert(invitee);
        }
        outcome(Outcome::Done)
    }

    /// An operator's changes are applied in order; those that change nothing are not
    /// announced, those naming no member are refused one by one.
    fn change_modes(&mut self, slot: usize, name: &str, changes: &[ModeChange]) -> Expected {
        let key = fold(name);
        let Some(room) = self.rooms.get(&key) else {
            return refused(HubError::NoSuchRoom(name.to_owned()));
        };
        if let Err(error) = require_operator(room, slot) {
            return refused(error);
        }
        let mut room = room.clone();
        let mut announced = Vec::new();
        let mut refusals = Vec::new();
        for change in changes {
            let changed = match change {
                ModeChange::Flag { flag, set } => {
                    std::mem::replace(room.modes.flag_mut(*flag), *set) != *set
                }
                ModeChange::Key(key) => {
                    let key = key.as_deref().map(Box::from);
                    std::mem::replace(&mut room.modes.key, key.clone()) != key
                }
                ModeChange::Limit(limit) => {
                    std::mem::replace(&mut room.modes.limit, *limit) != *limit
                }
                ModeChange::Operator { set, nick } | ModeChange::Voice { set, nick } => {
                    let operator = matches!(change, ModeChange::Operator { .. });
                    let member = room.members.iter_mut().find(|member| {
                        self.nick(member.slot)
                            .is_some_and(|held| fold(held) == fold(nick))
                    });
                    let Some(member) = member else {
                        refusals.push(self.not_a_member(nick, &room));
                        continue;
                    };
                    let status = if operator {
                        &mut member.op
                    } else {
                        &mut member.voice
                    };
                    if std::mem::replace(status, *set) != *set {
                        // Announced under the member's nick as it is spelled now.
                        let nick = self.nick(member.slot).unwrap_or_default().to_owned();
                        announced.push(if operator {
                            ModeChange::Operator { set: *set, nick }
                        } else {
                            ModeChange::Voice { set: *set, nick }
                        });
                    }
                    continue;
                }
                ModeChange::Mask { list, set, mask } => {
                    let mask = nick_mask(mask);
                    let entries = room.list_mut(*list);
                    let listed = entries.iter().position(|entry| *entry == mask);
                    match (set, listed) {
                        (true, None) => entries.push(mask.clone()),
                        (false, Some(index)) => {
                            entries.remove(index);
                        }
                        _ => continue,
                    }
                    announced.push(ModeChange::Mask {
                        list: *list,
                        set: *set,
                        mask,
                    });
                    continue;
                }
            };
            if changed {
                announced.push(change.clone());
            }
        }
        self.rooms.insert(key, room);
        outcome(Outcome::Modes {
            announced,
            refused: refusals,
        })
    }

    /// `RoomState::may_send` as documented in `docs/PROTOCOL.md`: only members may send to a
    /// `+n` room; in a moderated room only operators and voiced members; a ban silences
    /// anyone else. Every member with the status asked for hears it, but the sender.
    fn say(&self, slot: usize, name: &str, minimum: Option<MemberStatus>, text: &str) -> Expected {
        let Some(room) = self.rooms.get(&fold(name)) else {
            return refused(HubError::NoSuchRoom(name.to_owned()));
        };
        let member = room.member(slot);
        let privileged = member.is_some_and(|member| member.op || member.voice);
        let refusal = if member.is_none() && room.modes.no_external_messages {
            Some(SendRefusal::NotMember)
        } else if !privileged && room.modes.moderated {
            Some(SendRefusal::Moderated)
        } else if !privileged && room.bans(self.nick(slot).unwrap_or_default()) {
            Some(SendRefusal::Banned)
        } else {
            None
        };
        if let Some(reason) = refusal {
            return refused(HubError::CannotSend {
                room: room.name.clone(),
                reason,
            });
        }
        let told = room
            .members
            .iter()
            .filter(|member| member.slot != slot)
            .filter(|member| minimum.is_none_or(|minimum| member.has_status(minimum)))
            .map(|member| member.slot)
            .collect();
        delivered(text, told)
    }

    /// Why `nick` names no member of `room`: someone else holds it, or nobody.
    fn not_a_member(&self, nick: &str, room: &ModelRoom) -> HubError {
        if self.holder(nick).is_some() {
            HubError::UserNotInRoom {
                nick: nick.to_owned(),
                room: room.name.clone(),
            }
        } else {
            HubError::NoSuchNick(nick.to_owned())
        }
    }

    /// The folded names of the rooms `slot` is in.
    pub fn rooms_of(&self, slot: usize) -> Vec<String> {
        self.rooms
            .iter()
            .filter(|(_, room)| room.member(slot).is_some())
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Takes `slot` out of the room `key`; the room ends with its last member, and with it
    /// its modes, bans and invitations.
    fn remove_member(&mut self, key: &str, slot: usize) {
        if let Some(room) = self.rooms.get_mut(key) {
            room.members.retain(|member| member.slot != slot);
            if room.members.is_empty() {
                self.rooms.remove(key);
            }
        }
    }

    /// Takes the user in `slot` off the server: out of its rooms, its invitations withdrawn,
    /// its nick free. Returns who must be told: everyone who shared a room with it, once.
    fn disconnect(&mut self, slot: usize) -> BTreeSet<usize> {
        let mut witnesses = BTreeSet::new();
        for key in self.rooms_of(slot) {
            witnesses.extend(self.rooms[&key].others(slot));
            self.remove_member(&key, slot);
        }
        for room in self.rooms.values_mut() {
            room.invited.remove(&slot);
        }
        self.users[slot] = None;
        witnesses
    }
}

/// Only a member who is an operator may kick and change modes.
fn require_operator(room: &ModelRoom, slot: usize) -> Result<(), HubError> {
    match room.member(slot) {
        None => Err(HubError::NotInRoom(room.name.clone())),
        Some(member) if !member.op => Err(HubError::NeedOperator(room.name.clone())),
        Some(_) => Ok(()),
    }
}

/// Done, with `text` delivered to exactly `recipients`.
fn delivered(text: &str, recipients: BTreeSet<usize>) -> Expected {
    let mut expected = outcome(Outcome::Done);
    expected.deliveries.insert(text.to_owned(), recipients);
    expected
}

impl Action {
    /// The slot of the user who acts, which must hold a connection; `None` for a connect
    /// (into an empty slot) and for quits (which pass over empty slots).
    pub fn actor(&self) -> Option<usize> {
        match self {
            Action::Rename { slot, .. }
            | Action::Join { slot, .. }
            | Action::Part { slot, .. }
            | Action::PartAll { slot }
            | Action::Kick { slot, .. }
            | Action::Invite { slot, .. }
            | Action::Modes { slot, .. }
            | Action::Say { slot, .. }
            | Action::Tell { slot, .. } => Some(*slot),
            Action::Connect { .. } | Action::Quit { .. } => None,
        }
    }
}
