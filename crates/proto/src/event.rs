//! What happens in the chat, independent of any protocol.
//!
//! The hub describes every message and every change others must see as an [`Event`]; each
//! protocol renders an event to bytes at most once per wire variant (see [`crate::Wire`]), and
//! the bytes are shared by every recipient with that variant.

use std::sync::Arc;

use crate::modes::ModeChange;
use crate::time::Timestamp;

/// Who someone is, as any protocol may need to show them: the nick for the text protocol,
/// `nick!user@host` and more for IRC. Immutable; a change (new nick, new real name) makes a new
/// `Identity`, so an event always shows the identity at the moment it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub nick: Box<str>,
    /// The IRC user name (ident); `text` for text-protocol users.
    pub user: Box<str>,
    /// The host shown to others: the peer address or its cloak.
    pub host: Box<str>,
    /// Free-form real name (IRC `USER`/`SETNAME`); empty when unknown.
    pub realname: Box<str>,
    /// The account the user is logged in to, if any.
    pub account: Option<Box<str>>,
    /// Whether the user marked itself as a bot (IRCv3 bot mode; text `/bot on`): IRC clients
    /// with `message-tags` see a `bot` tag on everything it does.
    pub bot: bool,
}

impl Identity {
    /// `nick!user@host`, the form IRC uses as a message source and bans match against.
    pub fn mask(&self) -> String {
        format!("{}!{}@{}", self.nick, self.user, self.host)
    }
}

/// A server-assigned message id, unique for the server's lifetime and increasing (IRCv3
/// `msgid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub u64);

impl MessageId {
    /// The message a `msgid` the server gave out names: its hex form, or the id of a later
    /// part of a split long message (`id-2`, `id-3`, …), which stands for the whole message.
    pub fn parse(text: &str) -> Option<MessageId> {
        let whole = text.split_once('-').map_or(text, |(whole, _part)| whole);
        if whole.is_empty() || !whole.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(whole, 16).ok().map(MessageId)
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// How a message was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Plain speech (IRC `PRIVMSG`).
    Say,
    /// An action: `/me`, IRC CTCP ACTION.
    Action,
    /// IRC `NOTICE`: never to be answered automatically.
    Notice,
    /// IRC `TAGMSG`: client tags only (such as typing notifications), no text.
    TagsOnly,
}

/// The least status a room member must have to get a status message (IRC `STATUSMSG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    /// Voiced members and operators (IRC `+#room`).
    Voiced,
    /// Operators only (IRC `@#room`).
    Operator,
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Room(Arc<str>),
    /// The members of a room with at least this status: a status message (IRC `@#room`,
    /// `+#room`; text `/msg @#room`). Never kept in history, which has no per-status view.
    RoomStatus {
        room: Arc<str>,
        minimum: MemberStatus,
    },
    /// A private message to the user with this nick.
    User(Arc<str>),
}

/// An event as the hub stamps and fans it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message to a room or a user.
    Message {
        id: MessageId,
        time: Timestamp,
        from: Arc<Identity>,
        target: Target,
        kind: MessageKind,
        /// The message's lines joined by LF (one line for nearly every message).
        text: Box<str>,
        /// Where the sender joined lines of `text` without a break: byte offsets (see
        /// [`crate::multiline`]). Empty for nearly every message.
        concat_at: Box<[usize]>,
        /// Client-only tags (`+name=value;…`, already escaped) to relay to clients that accept
        /// message tags; empty when none.
        client_tags: Box<str>,
    },
    /// Someone joined a room; sent to every member, the newcomer included.
    Joined {
        time: Timestamp,
        room: Arc<str>,
        who: Arc<Identity>,
    },
    /// Someone left a room on purpose; sent to every member, the leaver included.
    Parted {
        time: Timestamp,
        room: Arc<str>,
        who: Arc<Identity>,
        reason: Option<Box<str>>,
    },
    /// `by` removed `nick` from a room; sent to every member, the kicked user included.
    Kicked {
        time: Timestamp,
        room: Arc<str>,
        by: Arc<Identity>,
        nick: Box<str>,
        reason: Box<str>,
    },
    /// Someone left the server; sent once to everyone who shared a room with them.
    Quit {
        time: Timestamp,
        who: Arc<Identity>,
        reason: Box<str>,
    },
    /// `old` is now called `new_nick`; sent once to the user and everyone sharing a room.
    NickChanged {
        time: Timestamp,
        old: Arc<Identity>,
        new_nick: Box<str>,
    },
    /// The topic of a room changed; an empty topic means it was cleared.
    TopicChanged {
        time: Timestamp,
        room: Arc<str>,
        by: Arc<Identity>,
        topic: Box<str>,
    },
    /// Room modes changed: `changes` are the ones that changed something, in the order they
    /// were made (each protocol spells them its own way).
    ModeChanged {
        time: Timestamp,
        room: Arc<str>,
        by: Arc<Identity>,
        changes: Vec<ModeChange>,
    },
    /// `by` invited `nick` to a room; sent to the invitee, and to room operators who asked
    /// for invite notifications.
    Invited {
        time: Timestamp,
        room: Arc<str>,
        by: Arc<Identity>,
        nick: Box<str>,
    },
    /// Someone went away (with a message) or came back (`None`); for clients that asked.
    AwayChanged {
        time: Timestamp,
        who: Arc<Identity>,
        message: Option<Box<str>>,
    },
    /// Someone changed their real name; for clients that asked.
    RealnameChanged { time: Timestamp, who: Arc<Identity> },
    /// Someone logged in to `who.account`, or out (`None`); for clients that asked.
    AccountChanged { time: Timestamp, who: Arc<Identity> },
    /// A nick someone monitors came online: its user connected, or took the nick. Sent by the
    /// server to those monitoring the nick (IRC `MONITOR`, text `/monitor`).
    MonitoredOnline {
        time: Timestamp,
        server: Arc<str>,
        who: Arc<Identity>,
    },
    /// A nick someone monitors went offline (as spelled by its last user): its user
    /// disconnected or took another nick.
    MonitoredOffline {
        time: Timestamp,
        server: Arc<str>,
        nick: Box<str>,
    },
    /// A server operator's message to everyone who asked for such messages (IRC `WALLOPS`, to
    /// users with user mode `+w`).
    Wallops {
        time: Timestamp,
        from: Arc<Identity>,
        text: Box<str>,
    },
    /// `by` deleted the message `message` (IRCv3 message-redaction), which `author` sent to
    /// `target` at `sent`; sent to those who saw it and want to hear of deletions.
    Redacted {
        /// This deletion's own id.
        id: MessageId,
        time: Timestamp,
        by: Arc<Identity>,
        target: Target,
        message: MessageId,
        /// The deleted message's sender, by nick as it was then.
        author: Box<str>,
        sent: Timestamp,
        reason: Option<Box<str>>,
    },
    /// An account (or a guest connection) has read `target` up to `marker` (IRCv3
    /// read-marker), or has no marker for it (`None`); only ever sent to that account's own
    /// sessions.
    ReadMarker {
        time: Timestamp,
        server: Arc<str>,
        target: Box<str>,
        marker: Option<Timestamp>,
    },
    /// A notice from the server itself, such as the shutdown warning.
    ServerNotice {
        time: Timestamp,
        server: Arc<str>,
        text: Box<str>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_msgid_names_its_whole_message() {
        assert_eq!(MessageId::parse("abc"), Some(MessageId(0xabc)));
        assert_eq!(MessageId::parse("abc-2"), Some(MessageId(0xabc)));
        assert_eq!(MessageId(0xabc).to_string(), "abc");
        for bad in ["", "-2", "+1", "xyz", "ab c", "fffffffffffffffff"] {
            assert_eq!(MessageId::parse(bad), None, "{bad:?}");
        }
    }
}
