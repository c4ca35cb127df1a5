//! What the hub refuses, and why. Each session turns these into its protocol's replies (a
//! `! …` line, an IRC numeric); the messages are the text protocol's wording.

use palaver_proto::modes::MaskList;
use thiserror::Error;

use super::bans::{BanMaskError, MAX_LIST_ENTRIES};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HubError {
    #[error("nick {0} is taken")]
    NickTaken(String),
    #[error("no such nick: {0}")]
    NoSuchNick(String),
    #[error("no such room: {0}")]
    NoSuchRoom(String),
    #[error("you are not in {0}")]
    NotInRoom(String),
    #[error("you need to be a room operator in {0}")]
    NeedOperator(String),
    #[error("{nick} is not in {room}")]
    UserNotInRoom { nick: String, room: String },
    #[error("{nick} is already in {room}")]
    AlreadyInRoom { nick: String, room: String },
    #[error("cannot join {room} ({reason})")]
    CannotJoin { room: String, reason: JoinRefusal },
    #[error("cannot join {room} (you are already in {limit} rooms, the most allowed)")]
    TooManyRooms { room: String, limit: usize },
    /// `[limits] room_creations_per_address`: joining a room that does not exist creates it,
    /// and this address has created enough rooms for now.
    #[error(
        "cannot create {room} (too many rooms created from your address; try again in \
         {seconds} seconds)"
    )]
    TooManyRoomsCreated { room: String, seconds: u64 },
    #[error("cannot send to {room} ({reason})")]
    CannotSend { room: String, reason: SendRefusal },
    #[error("the mask lists of {room} are full ({MAX_LIST_ENTRIES} entries); {mask} was not added")]
    ListFull {
        room: String,
        list: MaskList,
        mask: String,
    },
    #[error("invalid mask for {room}: {reason}")]
    InvalidMask {
        room: String,
        list: MaskList,
        mask: String,
        reason: BanMaskError,
    },
    #[error("you need to be logged in to an account")]
    NeedAccount,
    #[error("you need to be a server operator")]
    NeedServerOperator,
    #[error("{0} is already registered")]
    AlreadyRegistered(String),
    /// Only a room's operators may delete others' messages, and only in a room.
    #[error("you may only delete your own messages")]
    NotYourMessage,
    /// This server cannot reach the rest of the network (see `hub/link.rs`): nothing is sent.
    #[error(
        "not sent: this server has lost its link to the rest of the network; try again in a \
         moment"
    )]
    LinkDown,
    /// In a cluster, the change needs the cluster's directory (a nick: `network/cluster.rs`),
    /// which did not answer: nothing changed.
    #[error("this server cannot reach the rest of the network just now; try again in a moment")]
    NetworkUnreachable,
    /// In a cluster, the link to Redis failed with a message on its way (a timeout, a
    /// connection lost): Redis may have stored and delivered it, or not. Never reported as
    /// "not sent", so that a client does not send it twice.
    #[error(
        "not confirmed: this server lost its link to the rest of the network with the message \
         on its way; it may have been delivered (/history shows it if so, once the link is back)"
    )]
    MessageInDoubt,
    /// The message could not be made into its history entry (a cluster node stores a room's
    /// messages as it sends them): nothing is sent.
    #[error("not sent: your message could not be saved ({0})")]
    NotSaved(String),
}

/// Why a join was refused (see `RoomState::admit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum JoinRefusal {
    #[error("invite only")]
    InviteOnly,
    #[error("you are banned")]
    Banned,
    #[error("wrong key")]
    BadKey,
    #[error("room is full")]
    Full,
}

/// Why a message to a room was refused (see `RoomState::may_send`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SendRefusal {
    #[error("only members may send")]
    NotMember,
    #[error("room is moderated")]
    Moderated,
    #[error("you are banned")]
    Banned,
}
