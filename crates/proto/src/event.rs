//! What happens in the chat, independent of any protocol.
//!
//! The hub describes every message and every change others must see as an [`Event`]; each
//! protocol renders an event to bytes exactly once, and the bytes are shared by every recipient
//! that speaks that protocol.

use std::sync::Arc;

use crate::time::Timestamp;

/// Whether a room or private message is plain speech or an action (`/me`, CTCP ACTION in IRC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Say,
    Action,
}

/// An event as the hub stamps and fans it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Someone spoke in a room. The sender receives it too: that copy is its delivery receipt.
    RoomMessage {
        time: Timestamp,
        room: Arc<str>,
        from: Arc<str>,
        kind: MessageKind,
        text: Box<str>,
    },
    /// A private message as its recipient sees it.
    PrivateMessage {
        time: Timestamp,
        from: Arc<str>,
        kind: MessageKind,
        text: Box<str>,
    },
    /// The sender's own stamped copy of a private message it sent to `to`.
    PrivateMessageSent {
        time: Timestamp,
        from: Arc<str>,
        to: Arc<str>,
        kind: MessageKind,
        text: Box<str>,
    },
    /// `nick` joined `room`; sent to every member, the newcomer included.
    Joined {
        time: Timestamp,
        room: Arc<str>,
        nick: Arc<str>,
    },
    /// `nick` left `room` on purpose; sent to every member, the leaver included.
    Parted {
        time: Timestamp,
        room: Arc<str>,
        nick: Arc<str>,
        reason: Option<Box<str>>,
    },
    /// `nick` left the server; sent once to everyone who shared a room with it.
    Quit {
        time: Timestamp,
        nick: Arc<str>,
        reason: Box<str>,
    },
    /// `old` is now called `new`; sent once to everyone who shares a room, and to the user.
    NickChanged {
        time: Timestamp,
        old: Arc<str>,
        new: Arc<str>,
    },
    /// `nick` set the topic of `room`; sent to every member.
    TopicChanged {
        time: Timestamp,
        room: Arc<str>,
        nick: Arc<str>,
        topic: Box<str>,
    },
    /// A notice from the server itself, such as the shutdown warning.
    ServerNotice { time: Timestamp, text: Box<str> },
}
