//! Room modes in protocol-neutral terms: the flags a room may have, its settings, and the
//! changes a mode-change event announces, in the order they were made.
//!
//! How a protocol spells them is its own business: IRC's letters (`+imnst`, `+k`, `+l`,
//! `+o`, `+v`, `+b`, `+e`, `+I`) are in [`crate::irc::modes`], the one table that maps each to
//! its letter.

/// A room flag: a setting that is on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomFlag {
    /// Joining needs an invitation.
    InviteOnly,
    /// Only operators and voiced members may speak.
    Moderated,
    /// Only members may send to the room.
    NoExternalMessages,
    /// The room does not exist for non-members' listings and queries.
    Secret,
    /// Only operators may change the topic.
    TopicProtected,
}

impl RoomFlag {
    /// Every flag, in the order listings show them.
    pub const ALL: [RoomFlag; 5] = [
        RoomFlag::InviteOnly,
        RoomFlag::Moderated,
        RoomFlag::NoExternalMessages,
        RoomFlag::Secret,
        RoomFlag::TopicProtected,
    ];
}

/// A room's modes: its flags, key and member limit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomModes {
    pub invite_only: bool,
    pub moderated: bool,
    pub no_external_messages: bool,
    /// A secret room does not exist for non-members' listings and queries (see the server's
    /// `hub::visibility`).
    pub secret: bool,
    pub topic_protected: bool,
    /// The key needed to join.
    pub key: Option<Box<str>>,
    /// The most members the room admits.
    pub limit: Option<usize>,
}

impl RoomModes {
    /// Whether `flag` is set.
    pub fn flag(&self, flag: RoomFlag) -> bool {
        match flag {
            RoomFlag::InviteOnly => self.invite_only,
            RoomFlag::Moderated => self.moderated,
            RoomFlag::NoExternalMessages => self.no_external_messages,
            RoomFlag::Secret => self.secret,
            RoomFlag::TopicProtected => self.topic_protected,
        }
    }

    /// The setting for `flag`.
    pub fn flag_mut(&mut self, flag: RoomFlag) -> &mut bool {
        match flag {
            RoomFlag::InviteOnly => &mut self.invite_only,
            RoomFlag::Moderated => &mut self.moderated,
            RoomFlag::NoExternalMessages => &mut self.no_external_messages,
            RoomFlag::Secret => &mut self.secret,
            RoomFlag::TopicProtected => &mut self.topic_protected,
        }
    }

    /// The flags that are set, in [`RoomFlag::ALL`] order.
    pub fn flags(&self) -> impl Iterator<Item = RoomFlag> + '_ {
        RoomFlag::ALL.into_iter().filter(|flag| self.flag(*flag))
    }
}

/// A room's mask lists: the masks of who is refused, and of who is let past a refusal. Each
/// entry is a `nick!user@host` glob or an account mask (see the server's `hub::bans`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaskList {
    /// Who may not join the room, nor speak in it unless voiced or an operator.
    Bans,
    /// Who is let past the bans.
    BanExceptions,
    /// Who may join an invite-only room without an invitation.
    InviteExceptions,
}

impl MaskList {
    /// Every list, in the order listings show them.
    pub const ALL: [MaskList; 3] = [
        MaskList::Bans,
        MaskList::BanExceptions,
        MaskList::InviteExceptions,
    ];
}

/// One change of a room's modes: requested by a client, or announced by the server once it
/// changed something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeChange {
    Flag {
        flag: RoomFlag,
        set: bool,
    },
    /// `Some(key)` sets the key, `None` removes it.
    Key(Option<String>),
    /// `Some(n)` sets the member limit, `None` removes it.
    Limit(Option<usize>),
    /// Operator status given to (`set`) or taken from the member called `nick`.
    Operator {
        set: bool,
        nick: String,
    },
    /// Voice given to (`set`) or taken from the member called `nick`.
    Voice {
        set: bool,
        nick: String,
    },
    /// `mask` added to (`set`) or removed from the mask list `list`.
    Mask {
        list: MaskList,
        set: bool,
        mask: String,
    },
}

impl ModeChange {
    /// Whether the change sets something (rather than unsets it).
    pub fn sets(&self) -> bool {
        match self {
            ModeChange::Flag { set, .. }
            | ModeChange::Operator { set, .. }
            | ModeChange::Voice { set, .. }
            | ModeChange::Mask { set, .. } => *set,
            ModeChange::Key(key) => key.is_some(),
            ModeChange::Limit(limit) => limit.is_some(),
        }
    }
}
