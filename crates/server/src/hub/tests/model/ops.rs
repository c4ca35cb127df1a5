//! The operations a random history is made of, how proptest draws them, and how each is
//! spelled out against the model's current state (whose nick a reference names) before it is
//! applied to both the hub and the model.

use palaver_proto::event::MemberStatus;
use palaver_proto::modes::{MaskList, ModeChange, RoomFlag};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::subsequence;

use super::rules::Model;

/// Connections followed at once. A slot is empty or holds one connected user; a user who
/// quits frees its slot for a new connection.
pub const SLOTS: usize = 6;

/// The nicks users ask for. Pairs differ only by ASCII case, so that the hub's uniqueness is
/// exercised case-insensitively (palaver folds nicks as `CASEMAPPING=ascii`).
pub const NICKS: [&str; 6] = ["alice", "ALICE", "Bob", "bob", "carol", "Dave"];

/// The rooms users join.
pub const ROOMS: [&str; 3] = ["#one", "#two", "#three"];

/// The keys rooms are locked with and joiners try: they differ only by case, and keys are
/// compared exactly.
pub const KEYS: [&str; 2] = ["sesame", "Sesame"];

/// A room as a user writes it: one of [`ROOMS`], maybe in upper case (room names are
/// case-insensitive too). See [`Op::resolve`] for which room an operation names.
#[derive(Debug, Clone, Copy)]
pub struct RoomRef {
    pub index: usize,
    pub shouted: bool,
}

impl RoomRef {
    fn spell(self) -> String {
        shout(ROOMS[self.index], self.shouted)
    }

    /// The same reference moved to the first room, from this one on in a cycle, that passes
    /// `test`; unchanged if none does.
    fn first_where(self, test: impl Fn(&str) -> bool) -> Self {
        let index = (0..ROOMS.len())
            .map(|offset| (self.index + offset) % ROOMS.len())
            .find(|&index| test(ROOMS[index]))
            .unwrap_or(self.index);
        Self { index, ..self }
    }
}

/// A nick as a user writes it: one of [`NICKS`], or whatever a connected user is called now (a
/// guest's `guest-N` included; see [`occupied`] for which user), maybe in upper case.
#[derive(Debug, Clone, Copy)]
pub struct NickRef {
    pub source: NickSource,
    pub shouted: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum NickSource {
    Listed(usize),
    HeldBy(usize),
}

impl NickRef {
    fn spell(self, model: &Model) -> String {
        let nick = match self.source {
            NickSource::Listed(index) => NICKS[index].to_owned(),
            NickSource::HeldBy(slot) => model
                .nick(occupied(model, slot))
                .map_or_else(|| NICKS[slot].to_owned(), str::to_owned),
        };
        shout(&nick, self.shouted)
    }
}

fn shout(name: &str, shouted: bool) -> String {
    if shouted {
        name.to_ascii_uppercase()
    } else {
        name.to_owned()
    }
}

/// One mode change, before its nick is spelled out.
#[derive(Debug, Clone, Copy)]
pub enum ModeOp {
    Flag {
        flag: RoomFlag,
        set: bool,
    },
    /// An index into [`KEYS`], or removing the key.
    Key(Option<usize>),
    Limit(Option<usize>),
    Operator {
        set: bool,
        nick: NickRef,
    },
    Voice {
        set: bool,
        nick: NickRef,
    },
    /// A ban, ban exception or invite exception on a nick, written as IRC users do (`bob`,
    /// which the hub completes to `bob!*@*`).
    Mask {
        list: MaskList,
        set: bool,
        nick: NickRef,
    },
}

/// What one user (the one in `slot`) does, or, for a netsplit, what happens to several.
#[derive(Debug, Clone)]
pub enum Op {
    /// Connect: as an IRC user asking for a listed nick, or as a text user given a guest nick.
    Connect {
        slot: usize,
        nick: Option<usize>,
    },
    Rename {
        slot: usize,
        nick: NickRef,
    },
    /// Join, with an index into [`KEYS`] or no key.
    Join {
        slot: usize,
        room: RoomRef,
        key: Option<usize>,
    },
    Part {
        slot: usize,
        room: RoomRef,
    },
    /// Leave every room at once (IRC `JOIN 0`).
    PartAll {
        slot: usize,
    },
    Kick {
        slot: usize,
        room: RoomRef,
        nick: NickRef,
    },
    Invite {
        slot: usize,
        nick: NickRef,
        room: RoomRef,
    },
    Modes {
        slot: usize,
        room: RoomRef,
        changes: Vec<ModeOp>,
    },
    /// A message to a room, or with a `minimum` status to its members who have it (IRC
    /// `STATUSMSG`).
    Say {
        slot: usize,
        room: RoomRef,
        minimum: Option<MemberStatus>,
    },
    Tell {
        slot: usize,
        nick: NickRef,
    },
    Quit {
        slot: usize,
    },
    /// Several users lose their connections one after the other, as when a server splits
    /// from a network.
    Netsplit {
        slots: Vec<usize>,
    },
}

/// An operation spelled out: every name as the hub receives it, and the unique text of each
/// message, part, kick or quit reason it sends, by which deliveries are recognised.
#[derive(Debug, Clone)]
pub enum Action {
    Connect {
        slot: usize,
        nick: Option<String>,
    },
    Rename {
        slot: usize,
        nick: String,
    },
    Join {
        slot: usize,
        room: String,
        key: Option<String>,
    },
    Part {
        slot: usize,
        room: String,
        reason: String,
    },
    PartAll {
        slot: usize,
    },
    Kick {
        slot: usize,
        room: String,
        nick: String,
        reason: String,
    },
    Invite {
        slot: usize,
        nick: String,
        room: String,
    },
    Modes {
        slot: usize,
        room: String,
        changes: Vec<ModeChange>,
    },
    Say {
        slot: usize,
        room: String,
        minimum: Option<MemberStatus>,
        text: String,
    },
    Tell {
        slot: usize,
        nick: String,
        text: String,
    },
    /// Each quitting slot with its quit reason, in order.
    Quit {
        quits: Vec<(usize, String)>,
    },
}

/// The text sent by step `step` for its `part`th recipient list: unique in a whole history,
/// and found again in a rendered line by [`tokens_in`].
pub fn token(step: usize, part: usize) -> String {
    format!("tok{step}x{part}")
}

/// The texts made by [`token`] that occur in `line`.
pub fn tokens_in(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| {
            word.strip_prefix("tok")
                .and_then(|rest| rest.split_once('x'))
                .is_some_and(|(step, part)| is_number(step) && is_number(part))
        })
}

fn is_number(digits: &str) -> bool {
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

/// `slot` if a user is connected there, else the next slot (in a cycle) where one is, so that
/// few steps of a history are wasted on empty slots; `slot` when nobody is connected.
fn occupied(model: &Model, slot: usize) -> usize {
    (0..SLOTS)
        .map(|offset| (slot + offset) % SLOTS)
        .find(|&slot| model.nick(slot).is_some())
        .unwrap_or(slot)
}

/// `slot` if it is empty, else the next empty slot; `slot` when every slot is taken.
fn vacant(model: &Model, slot: usize) -> usize {
    (0..SLOTS)
        .map(|offset| (slot + offset) % SLOTS)
        .find(|&slot| model.nick(slot).is_none())
        .unwrap_or(slot)
}

impl Op {
    /// Spells the operation out against `model` as it is before step `step`. So that few
    /// steps are wasted, the acting slot is moved to a connected user (an empty one to
    /// connect), see [`occupied`]; a room to join to one the user is not in, a room to kick
    /// from or change the modes of to one where the user is an operator, and any other room
    /// to one that exists, when there is one.
    pub fn resolve(&self, model: &Model, step: usize) -> Action {
        let text = token(step, 0);
        let mut op = self.clone();
        match &mut op {
            Op::Connect { slot, .. } => *slot = vacant(model, *slot),
            Op::Rename { slot, .. }
            | Op::Join { slot, .. }
            | Op::Part { slot, .. }
            | Op::PartAll { slot }
            | Op::Kick { slot, .. }
            | Op::Invite { slot, .. }
            | Op::Modes { slot, .. }
            | Op::Say { slot, .. }
            | Op::Tell { slot, .. }
            | Op::Quit { slot } => *slot = occupied(model, *slot),
            Op::Netsplit { .. } => {}
        }
        match &mut op {
            Op::Join { slot, room, .. } => {
                *room = room.first_where(|name| !model.is_member(*slot, name));
            }
            // Only operators kick and change modes: a room where the user is one, if any.
            Op::Kick { slot, room, .. } | Op::Modes { slot, room, .. } => {
                *room = room
                    .first_where(|name| model.is_operator(*slot, name))
                    .first_where(|name| model.has_room(name));
            }
            Op::Part { room, .. } | Op::Invite { room, .. } | Op::Say { room, .. } => {
                *room = room.first_where(|name| model.has_room(name));
            }
            _ => {}
        }
        match op {
            Op::Connect { slot, nick } => Action::Connect {
                slot,
                nick: nick.map(|index| NICKS[index].to_owned()),
            },
            Op::Rename { slot, nick } => Action::Rename {
                slot,
                nick: nick.spell(model),
            },
            Op::Join { slot, room, key } => Action::Join {
                slot,
                room: room.spell(),
                key: key.map(|index| KEYS[index].to_owned()),
            },
            Op::Part { slot, room } => Action::Part {
                slot,
                room: room.spell(),
                reason: text,
            },
            Op::PartAll { slot } => Action::PartAll { slot },
            Op::Kick { slot, room, nick } => Action::Kick {
                slot,
                room: room.spell(),
                nick: nick.spell(model),
                reason: text,
            },
            Op::Invite { slot, nick, room } => Action::Invite {
                slot,
                nick: nick.spell(model),
                room: room.spell(),
            },
            Op::Modes {
                slot,
                room,
                changes,
            } => Action::Modes {
                slot,
                room: room.spell(),
                changes: changes.iter().map(|op| op.resolve(model)).collect(),
            },
            Op::Say {
                slot,
                room,
                minimum,
            } => Action::Say {
                slot,
                room: room.spell(),
                minimum,
                text,
            },
            Op::Tell { slot, nick } => Action::Tell {
                slot,
                nick: nick.spell(model),
                text,
            },
            Op::Quit { slot } => Action::Quit {
                quits: vec![(slot, text)],
            },
            Op::Netsplit { slots } => Action::Quit {
                quits: slots
                    .iter()
                    .map(|&slot| (slot, token(step, slot)))
                    .collect(),
            },
        }
    }
}

impl ModeOp {
    fn resolve(self, model: &Model) -> ModeChange {
        match self {
            ModeOp::Flag { flag, set } => ModeChange::Flag { flag, set },
            ModeOp::Key(key) => ModeChange::Key(key.map(|index| KEYS[index].to_owned())),
            ModeOp::Limit(limit) => ModeChange::Limit(limit),
            ModeOp::Operator { set, nick } => ModeChange::Operator {
                set,
                nick: nick.spell(model),
            },
            ModeOp::Voice { set, nick } => ModeChange::Voice {
                set,
                nick: nick.spell(model),
            },
            ModeOp::Mask { list, set, nick } => ModeChange::Mask {
                list,
                set,
                mask: nick.spell(model),
            },
        }
    }
}

fn slot() -> impl Strategy<Value = usize> {
    0..SLOTS
}

fn room() -> impl Strategy<Value = RoomRef> {
    (0..ROOMS.len(), any::<bool>()).prop_map(|(index, shouted)| RoomRef { index, shouted })
}

fn nick() -> impl Strategy<Value = NickRef> {
    // Mostly someone connected: a nick nobody holds is refused early, and rarely worth more.
    let source = prop_oneof![
        1 => (0..NICKS.len()).prop_map(NickSource::Listed),
        2 => slot().prop_map(NickSource::HeldBy),
    ];
    (source, any::<bool>()).prop_map(|(source, shouted)| NickRef { source, shouted })
}

/// One mode change, more often setting than lifting, so that rooms spend much of a history
/// closed in some way for joins to run into.
fn mode() -> impl Strategy<Value = ModeOp> {
    let flag = prop_oneof![
        2 => Just(RoomFlag::InviteOnly),
        1 => Just(RoomFlag::Moderated),
        1 => Just(RoomFlag::NoExternalMessages),
    ];
    let set = || proptest::bool::weighted(0.7);
    prop_oneof![
        3 => (flag, set()).prop_map(|(flag, set)| ModeOp::Flag { flag, set }),
        2 => proptest::option::weighted(0.7, 0..KEYS.len()).prop_map(ModeOp::Key),
        2 => proptest::option::weighted(0.7, 1..4usize).prop_map(ModeOp::Limit),
        2 => (set(), nick()).prop_map(|(set, nick)| ModeOp::Operator { set, nick }),
        2 => (set(), nick()).prop_map(|(set, nick)| ModeOp::Voice { set, nick }),
        4 => (mask_list(), set(), nick())
            .prop_map(|(list, set, nick)| ModeOp::Mask { list, set, nick }),
    ]
}

fn mask_list() -> impl Strategy<Value = MaskList> {
    prop_oneof![
        2 => Just(MaskList::Bans),
        1 => Just(MaskList::BanExceptions),
        1 => Just(MaskList::InviteExceptions),
    ]
}

fn minimum() -> impl Strategy<Value = Option<MemberStatus>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(MemberStatus::Voiced)),
        1 => Just(Some(MemberStatus::Operator)),
    ]
}

fn connect() -> impl Strategy<Value = Op> {
    (slot(), proptest::option::weighted(0.7, 0..NICKS.len()))
        .prop_map(|(slot, nick)| Op::Connect { slot, nick })
}

fn join() -> impl Strategy<Value = Op> {
    (slot(), room(), proptest::option::of(0..KEYS.len())).prop_map(|(slot, room, key)| Op::Join {
        slot,
        room,
        key,
    })
}

/// A history of up to `steps` operations after a few connections and joins, so that most
/// steps have users and rooms to act on.
pub fn history(steps: usize) -> impl Strategy<Value = Vec<Op>> {
    (
        vec(connect(), 2..=SLOTS),
        vec(join(), 0..=SLOTS),
        vec(any_op(), 1..steps),
    )
        .prop_map(|(connects, joins, rest)| [connects, joins, rest].concat())
}

/// One operation, weighted so that histories connect and join often enough for the rest to
/// have something to act on.
fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => connect(),
        2 => (slot(), nick()).prop_map(|(slot, nick)| Op::Rename { slot, nick }),
        10 => join(),
        2 => (slot(), room()).prop_map(|(slot, room)| Op::Part { slot, room }),
        1 => slot().prop_map(|slot| Op::PartAll { slot }),
        2 => (slot(), room(), nick()).prop_map(|(slot, room, nick)| Op::Kick { slot, room, nick }),
        3 => (slot(), nick(), room())
            .prop_map(|(slot, nick, room)| Op::Invite { slot, nick, room }),
        5 => (slot(), room(), vec(mode(), 1..4))
            .prop_map(|(slot, room, changes)| Op::Modes { slot, room, changes }),
        6 => (slot(), room(), minimum())
            .prop_map(|(slot, room, minimum)| Op::Say { slot, room, minimum }),
        2 => (slot(), nick()).prop_map(|(slot, nick)| Op::Tell { slot, nick }),
        1 => slot().prop_map(|slot| Op::Quit { slot }),
        1 => subsequence((0..SLOTS).collect::<Vec<_>>(), 2..=SLOTS)
            .prop_map(|slots| Op::Netsplit { slots }),
    ]
}
