//! Rendering hub events as IRC messages.
//!
//! What a client sees depends on a few capabilities ([`IrcFlavor`]): `server-time` adds a
//! `time` tag, `message-tags` adds `msgid` and relays client tags (and enables `TAGMSG`),
//! `extended-join` adds the account and real name to `JOIN`, `draft/multiline` (with `batch`)
//! sends a message of several lines as one batch. Everything else about an event's bytes is
//! the same for every IRC client, so the hub renders each event once per flavor.

use bytes::Bytes;

use super::caps::{Cap, CapSet};
use super::message::{Message, Tag, unescape_tag_value};
use super::modes::{spell_changes, status_prefix};
use super::numeric::{RPL_MONOFFLINE, RPL_MONONLINE};
use crate::event::{Event, Identity, MessageId, MessageKind, Target};
use crate::multiline::{self, Part};
use crate::time::Timestamp;

/// The largest IRC message without tags, CRLF included (RFC 1459 §2.3).
pub const MAX_MESSAGE_BYTES: usize = 512;

/// The capabilities that change how fanned-out events are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IrcFlavor {
    pub server_time: bool,
    pub message_tags: bool,
    pub extended_join: bool,
    /// `account-tag`: an `account` tag naming the source's account.
    pub account_tag: bool,
    /// `draft/multiline` with `batch`: a message of several lines comes as one
    /// `draft/multiline` batch rather than as separate lines.
    pub multiline: bool,
}

impl IrcFlavor {
    /// How many distinct flavors exist (for per-flavor caches).
    pub const COUNT: usize = 32;

    pub fn from_caps(caps: CapSet) -> Self {
        Self {
            server_time: caps.contains(Cap::ServerTime),
            message_tags: caps.contains(Cap::MessageTags),
            extended_join: caps.contains(Cap::ExtendedJoin),
            account_tag: caps.contains(Cap::AccountTag),
            // A multiline batch is a batch: without `batch` the client gets the lines alone
            // (IRCv3 multiline depends on batch).
            multiline: caps.contains(Cap::Multiline) && caps.contains(Cap::Batch),
        }
    }

    /// A dense index below [`COUNT`](Self::COUNT).
    pub fn index(self) -> usize {
        usize::from(self.server_time)
            | usize::from(self.message_tags) << 1
            | usize::from(self.extended_join) << 2
            | usize::from(self.account_tag) << 3
            | usize::from(self.multiline) << 4
    }

    /// The flavor whose [`index`](Self::index) is `index`; `None` from [`COUNT`](Self::COUNT)
    /// on.
    pub fn from_index(index: usize) -> Option<Self> {
        (index < Self::COUNT).then_some(Self {
            server_time: index & 1 != 0,
            message_tags: index & (1 << 1) != 0,
            extended_join: index & (1 << 2) != 0,
            account_tag: index & (1 << 3) != 0,
            multiline: index & (1 << 4) != 0,
        })
    }
}

/// Renders `event` for an IRC client of this flavor: the wire bytes of one or more messages
/// (a long message is split), or `None` if such a client does not see the event at all.
pub fn render_event(event: &Event, flavor: IrcFlavor) -> Option<Bytes> {
    let messages = event_messages(event, flavor);
    if messages.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(messages.len() * 128);
    for message in &messages {
        message.write_to(&mut out);
    }
    Some(Bytes::from(out))
}

/// The messages an IRC client of this flavor gets for `event`, in order; empty when it gets
/// none.
pub fn event_messages(event: &Event, flavor: IrcFlavor) -> Vec<Message> {
    let (time, messages) = match event {
        Event::Message {
            id,
            time,
            from,
            target,
            kind,
            text,
            concat_at,
            client_tags,
        } => {
            if *kind == MessageKind::TagsOnly && !flavor.message_tags {
                return Vec::new();
            }
            let target = match target {
                Target::Room(room) => room.to_string(),
                Target::RoomStatus { room, minimum } => {
                    format!("{}{room}", status_prefix(*minimum))
                }
                Target::User(nick) => nick.to_string(),
            };
            let source = from.mask();
            let multiline = multiline::is_multiline(text, concat_at);
            if multiline && *kind == MessageKind::Say && flavor.multiline {
                let mut start = Message::new(
                    "BATCH",
                    vec![
                        format!("+{}", batch_reference(*id)),
                        BATCH_TYPE.into(),
                        target.clone(),
                    ],
                )
                .with_source(source.clone());
                start.tags = event_tags(*time, from.account.as_deref(), flavor);
                start
                    .tags
                    .extend(message_tags(&id.to_string(), client_tags));
                if from.bot && flavor.message_tags {
                    start.tags.push(bot_tag());
                }
                return multiline_batch(start, &source, &target, *id, text, concat_at);
            }
            let mut messages = message_lines(&source, &target, *kind, text, concat_at);
            if flavor.message_tags {
                let parts = messages.len();
                for (index, message) in messages.iter_mut().enumerate() {
                    // A multiline message's lines after the first carry no msgid (IRCv3
                    // multiline, fallback); a long line's parts are `id-2`, `id-3`, ….
                    let msgid = if parts == 1 || index == 0 {
                        Some(id.to_string())
                    } else if multiline {
                        None
                    } else {
                        Some(format!("{id}-{}", index + 1))
                    };
                    match msgid {
                        Some(msgid) => message.tags.extend(message_tags(&msgid, client_tags)),
                        None => message.tags.extend(parse_client_tags(client_tags)),
                    }
                }
            }
            (*time, messages)
        }
        Event::Redacted {
            id,
            time,
            by,
            target,
            message,
            reason,
            ..
        } => {
            // Status messages are never stored, so never deleted; a deletion names the room.
            let target = match target {
                Target::Room(room) | Target::RoomStatus { room, .. } => room.to_string(),
                Target::User(nick) => nick.to_string(),
            };
            let mut params = vec![target, message.to_string()];
            params.extend(reason.as_deref().map(str::to_owned));
            let mut redact = Message::new("REDACT", params).with_source(by.mask());
            if flavor.message_tags {
                redact.tags.push(Tag {
                    key: "msgid".into(),
                    value: id.to_string(),
                });
            }
            (*time, vec![redact])
        }
        Event::ReadMarker {
            time,
            server,
            target,
            marker,
        } => {
            let marker = match marker {
                Some(marker) => format!("timestamp={}", marker.iso8601()),
                None => "*".into(),
            };
            (
                *time,
                vec![
                    Message::new("MARKREAD", vec![target.to_string(), marker])
                        .with_source(&**server),
                ],
            )
        }
        Event::Joined { time, room, who } => {
            let params = if flavor.extended_join {
                // `*` means "not logged in" (IRCv3 extended-join).
                let account = who.account.as_deref().unwrap_or("*");
                vec![room.to_string(), account.into(), who.realname.to_string()]
            } else {
                vec![room.to_string()]
            };
            (
                *time,
                vec![Message::new("JOIN", params).with_source(who.mask())],
            )
        }
        Event::Parted {
            time,
            room,
            who,
            reason,
        } => {
            let mut params = vec![room.to_string()];
            params.extend(reason.as_deref().map(str::to_owned));
            (
                *time,
                vec![Message::new("PART", params).with_source(who.mask())],
            )
        }
        Event::Kicked {
            time,
            room,
            by,
            nick,
            reason,
        } => {
            let params = vec![room.to_string(), nick.to_string(), reason.to_string()];
            (
                *time,
                vec![Message::new("KICK", params).with_source(by.mask())],
            )
        }
        Event::Quit { time, who, reason } => (
            *time,
            vec![Message::new("QUIT", vec![reason.to_string()]).with_source(who.mask())],
        ),
        Event::NickChanged {
            time,
            old,
            new_nick,
        } => (
            *time,
            vec![Message::new("NICK", vec![new_nick.to_string()]).with_source(old.mask())],
        ),
        Event::TopicChanged {
            time,
            room,
            by,
            topic,
        } => {
            let params = vec![room.to_string(), topic.to_string()];
            (
                *time,
                vec![Message::new("TOPIC", params).with_source(by.mask())],
            )
        }
        Event::ModeChanged {
            time,
            room,
            by,
            changes,
        } => {
            let (modes, arguments) = spell_changes(changes);
            let mut params = vec![room.to_string(), modes];
            params.extend(arguments);
            (
                *time,
                vec![Message::new("MODE", params).with_source(by.mask())],
            )
        }
        Event::Invited {
            time,
            room,
            by,
            nick,
        } => {
            let params = vec![nick.to_string(), room.to_string()];
            (
                *time,
                vec![Message::new("INVITE", params).with_source(by.mask())],
            )
        }
        Event::AwayChanged { time, who, message } => {
            let params = message.iter().map(|text| text.to_string()).collect();
            (
                *time,
                vec![Message::new("AWAY", params).with_source(who.mask())],
            )
        }
        Event::RealnameChanged { time, who } => {
            let params = vec![who.realname.to_string()];
            (
                *time,
                vec![Message::new("SETNAME", params).with_source(who.mask())],
            )
        }
        Event::AccountChanged { time, who } => {
            let account = who.account.as_deref().unwrap_or("*").to_owned();
            (
                *time,
                vec![Message::new("ACCOUNT", vec![account]).with_source(who.mask())],
            )
        }
        Event::Wallops { time, from, text } => (
            *time,
            vec![Message::new("WALLOPS", vec![text.to_string()]).with_source(from.mask())],
        ),
        Event::ServerNotice { time, server, text } => {
            let params = vec!["*".into(), text.to_string()];
            (
                *time,
                vec![Message::new("NOTICE", params).with_source(&**server)],
            )
        }
        // Addressed to `*`, which IRCv3 monitor allows, so that every watcher of a nick gets
        // the same bytes.
        Event::MonitoredOnline { time, server, who } => (
            *time,
            vec![Message::new(RPL_MONONLINE, vec!["*".into(), who.mask()]).with_source(&**server)],
        ),
        Event::MonitoredOffline { time, server, nick } => (
            *time,
            vec![
                Message::new(RPL_MONOFFLINE, vec!["*".into(), nick.to_string()])
                    .with_source(&**server),
            ],
        ),
    };
    let mut messages = messages;
    // IRCv3 bot mode: everything a bot does carries a `bot` tag, for clients that accept tags.
    if flavor.message_tags && event_source(event).is_some_and(|who| who.bot) {
        for message in &mut messages {
            message.tags.push(bot_tag());
        }
    }
    let account = event_source(event).and_then(|who| who.account.as_deref());
    let tags = event_tags(time, account, flavor);
    if !tags.is_empty() {
        for message in &mut messages {
            message.tags.splice(0..0, tags.iter().cloned());
        }
    }
    messages
}

/// The tags every line of an event carries for this flavor, in order: `time` (server-time)
/// and `account` (account-tag, when the source is logged in to `account`).
fn event_tags(time: Timestamp, account: Option<&str>, flavor: IrcFlavor) -> Vec<Tag> {
    let mut tags = Vec::new();
    if flavor.server_time {
        tags.push(Tag {
            key: "time".into(),
            value: time.iso8601(),
        });
    }
    if flavor.account_tag
        && let Some(account) = account
    {
        tags.push(Tag {
            key: "account".into(),
            value: account.to_owned(),
        });
    }
    tags
}

/// The `bot` tag (IRCv3 bot mode), valueless, on everything a bot does.
fn bot_tag() -> Tag {
    Tag {
        key: "bot".into(),
        value: String::new(),
    }
}

/// A message's `msgid` tag followed by its client-only tags.
fn message_tags(msgid: &str, client_tags: &str) -> Vec<Tag> {
    let mut tags = vec![Tag {
        key: "msgid".into(),
        value: msgid.to_owned(),
    }];
    tags.extend(parse_client_tags(client_tags));
    tags
}

/// The batch type of a multiline message (IRCv3 multiline).
const BATCH_TYPE: &str = "draft/multiline";
/// The tag on a line that continues the previous one without a break (IRCv3 multiline).
const CONCAT_TAG: &str = "draft/multiline-concat";

/// The reference of the batch carrying message `id`: the same for every recipient, so the
/// batch is rendered once per flavor, and unique among the batches open on a connection (a
/// session's own batches are numbered with other letters; see the session's replies).
fn batch_reference(id: MessageId) -> String {
    format!("m{id}")
}

/// A multiline message as one batch: `start` (which carries the message's tags), one
/// `PRIVMSG` per line as composed, each cut further (and continued with the concat tag) where
/// it would not fit in an IRC line, and the end of the batch.
fn multiline_batch(
    start: Message,
    source: &str,
    target: &str,
    id: MessageId,
    text: &str,
    concat_at: &[usize],
) -> Vec<Message> {
    let reference = batch_reference(id);
    let room = text_room(source, target, MessageKind::Say);
    let mut messages = vec![start];
    for part in multiline::parts(text, concat_at) {
        for (index, piece) in split_utf8(part.text, room).enumerate() {
            let mut line = Message::new("PRIVMSG", vec![target.to_owned(), piece.to_owned()])
                .with_source(source)
                .with_tag("batch", reference.clone());
            if part.concat || index > 0 {
                line = line.with_tag(CONCAT_TAG, "");
            }
            messages.push(line);
        }
    }
    messages.push(Message::new("BATCH", vec![format!("-{reference}")]));
    messages
}

/// The user an event comes from, if a user caused it.
fn event_source(event: &Event) -> Option<&Identity> {
    match event {
        Event::Message { from, .. } | Event::Wallops { from, .. } => Some(from),
        Event::Joined { who, .. }
        | Event::Parted { who, .. }
        | Event::Quit { who, .. }
        | Event::AwayChanged { who, .. }
        | Event::RealnameChanged { who, .. }
        | Event::AccountChanged { who, .. } => Some(who),
        Event::Kicked { by, .. }
        | Event::TopicChanged { by, .. }
        | Event::ModeChanged { by, .. }
        | Event::Invited { by, .. } => Some(by),
        Event::NickChanged { old, .. } => Some(old),
        Event::Redacted { by, .. } => Some(by),
        // The server tells of these, not the user they are about.
        Event::ServerNotice { .. }
        | Event::MonitoredOnline { .. }
        | Event::MonitoredOffline { .. }
        | Event::ReadMarker { .. } => None,
    }
}

/// The command of a message of this kind, and what CTCP wraps its text in.
fn message_framing(kind: MessageKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        MessageKind::Say => ("PRIVMSG", "", ""),
        MessageKind::Action => ("PRIVMSG", "\x01ACTION ", "\x01"),
        MessageKind::Notice => ("NOTICE", "", ""),
        MessageKind::TagsOnly => ("TAGMSG", "", ""),
    }
}

/// `PRIVMSG`/`NOTICE`/`TAGMSG` lines for one message, split on UTF-8 character boundaries so
/// that no line exceeds [`MAX_MESSAGE_BYTES`] (a text-protocol message may be much longer than
/// an IRC line). A multiline message becomes its lines as composed, each one or more IRC
/// lines, its blank lines left out (IRCv3 multiline, fallback).
fn message_lines(
    source: &str,
    target: &str,
    kind: MessageKind,
    text: &str,
    concat_at: &[usize],
) -> Vec<Message> {
    let (command, prefix, suffix) = message_framing(kind);
    if kind == MessageKind::TagsOnly {
        return vec![Message::new(command, vec![target.to_owned()]).with_source(source)];
    }
    let room = text_room(source, target, kind);
    let multiline = multiline::is_multiline(text, concat_at);
    multiline::parts(text, concat_at)
        .filter(|part: &Part<'_>| !(multiline && part.text.is_empty()))
        .flat_map(|part| split_utf8(part.text, room))
        .map(|chunk| {
            Message::new(
                command,
                vec![target.to_owned(), format!("{prefix}{chunk}{suffix}")],
            )
            .with_source(source)
        })
        .collect()
}

/// The most bytes of text one `PRIVMSG`/`NOTICE` line from `source` to `target` carries
/// within [`MAX_MESSAGE_BYTES`] (at least 1). A message from an IRC client is cut to this
/// where it is sent, so that it reaches everyone as the one line it was; only longer messages
/// (from text users) are split.
pub fn text_room(source: &str, target: &str, kind: MessageKind) -> usize {
    let (command, prefix, suffix) = message_framing(kind);
    // ":" source " " command " " target " :" prefix text suffix CRLF
    let overhead = 1
        + source.len()
        + 1
        + command.len()
        + 1
        + target.len()
        + 2
        + prefix.len()
        + suffix.len()
        + 2;
    MAX_MESSAGE_BYTES.saturating_sub(overhead).max(1)
}

/// Splits `text` into pieces of at most `max_bytes` bytes, never inside a character. Always
/// yields at least one piece (possibly empty).
pub fn split_utf8(text: &str, max_bytes: usize) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut cut = crate::utf8::truncate(current, max_bytes).len();
        if cut == 0 {
            // A single character wider than the limit: emit it whole rather than loop.
            cut = current.chars().next().map_or(current.len(), char::len_utf8);
        }
        let (piece, tail) = current.split_at(cut);
        rest = (!tail.is_empty()).then_some(tail);
        Some(piece)
    })
}

/// Client-only tags as stored on an event (`+a=b;+c`, escaped) back into tags.
fn parse_client_tags(tags: &str) -> impl Iterator<Item = Tag> + '_ {
    tags.split(';').filter(|tag| !tag.is_empty()).map(|tag| {
        let (key, value) = tag.split_once('=').unwrap_or((tag, ""));
        Tag {
            key: key.to_owned(),
            value: unescape_tag_value(value),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{Identity, MessageId};
    use crate::modes::ModeChange;
    use crate::time::Timestamp;

    const TIME: Timestamp = Timestamp(1_795_352_709_250);

    fn alice() -> Arc<Identity> {
        Arc::new(Identity {
            nick: "alice".into(),
            user: "~al".into(),
            host: "127.0.0.1".into(),
            realname: "Alice Liddell".into(),
            account: None,
            bot: false,
        })
    }

    fn lines(event: &Event, flavor: IrcFlavor) -> Vec<String> {
        match render_event(event, flavor) {
            None => Vec::new(),
            Some(bytes) => String::from_utf8(bytes.to_vec())
                .unwrap()
                .split_inclusive("\r\n")
                .map(|line| line.trim_end_matches("\r\n").to_owned())
                .collect(),
        }
    }

    fn message(kind: MessageKind, text: &str, client_tags: &str) -> Event {
        message_from(
            alice(),
            Target::Room("#rust".into()),
            kind,
            text,
            client_tags,
        )
    }

    fn message_from(
        from: Arc<Identity>,
        target: Target,
        kind: MessageKind,
        text: &str,
        client_tags: &str,
    ) -> Event {
        Event::Message {
            id: MessageId(0xabc),
            time: TIME,
            from,
            target,
            kind,
            text: text.into(),
            concat_at: Box::default(),
            client_tags: client_tags.into(),
        }
    }

    const PLAIN: IrcFlavor = IrcFlavor {
        server_time: false,
        message_tags: false,
        extended_join: false,
        account_tag: false,
        multiline: false,
    };
    const TAGGED: IrcFlavor = IrcFlavor {
        server_time: true,
        message_tags: true,
        extended_join: true,
        account_tag: true,
        multiline: true,
    };

    #[test]
    fn messages_per_flavor() {
        let event = message(MessageKind::Say, "hi there", "+typing=done");
        assert_eq!(
            lines(&event, PLAIN),
            vec![":alice!~al@127.0.0.1 PRIVMSG #rust :hi there"]
        );
        assert_eq!(
            lines(&event, TAGGED),
            vec![
                "@time=2026-11-22T13:05:09.250Z;msgid=abc;+typing=done :alice!~al@127.0.0.1 PRIVMSG #rust :hi there"
            ]
        );
        let action = message(MessageKind::Action, "waves", "");
        assert_eq!(
            lines(&action, PLAIN),
            vec![":alice!~al@127.0.0.1 PRIVMSG #rust :\x01ACTION waves\x01"]
        );
        let notice = message(MessageKind::Notice, "note", "");
        assert_eq!(
            lines(&notice, PLAIN),
            vec![":alice!~al@127.0.0.1 NOTICE #rust note"]
        );
        let typing = message(MessageKind::TagsOnly, "", "+typing=active");
        assert!(lines(&typing, PLAIN).is_empty());
        assert_eq!(
            lines(
                &typing,
                IrcFlavor {
                    message_tags: true,
                    ..PLAIN
                }
            ),
            vec!["@msgid=abc;+typing=active :alice!~al@127.0.0.1 TAGMSG #rust"]
        );
    }

    #[test]
    fn long_messages_are_split_on_character_boundaries() {
        let text = "é".repeat(600); // 1200 bytes
        let event = message(MessageKind::Say, &text, "");
        let rendered = lines(
            &event,
            IrcFlavor {
                message_tags: true,
                ..PLAIN
            },
        );
        assert_eq!(rendered.len(), 3);
        let mut rejoined = String::new();
        for (index, line) in rendered.iter().enumerate() {
            let (tags, rest) = line.split_once(' ').unwrap();
            assert!(rest.len() + 2 <= MAX_MESSAGE_BYTES, "{}", rest.len());
            let expected_id = if index == 0 {
                "@msgid=abc".to_owned()
            } else {
                format!("@msgid=abc-{}", index + 1)
            };
            assert_eq!(tags, expected_id);
            rejoined.push_str(&Message::parse(line).unwrap().params[1]);
        }
        assert_eq!(rejoined, text);
    }

    #[test]
    fn events() {
        let room: Arc<str> = "#rust".into();
        let joined = Event::Joined {
            time: TIME,
            room: room.clone(),
            who: alice(),
        };
        assert_eq!(
            lines(&joined, PLAIN),
            vec![":alice!~al@127.0.0.1 JOIN #rust"]
        );
        assert_eq!(
            lines(&joined, TAGGED),
            vec!["@time=2026-11-22T13:05:09.250Z :alice!~al@127.0.0.1 JOIN #rust * :Alice Liddell"]
        );
        let cases = [
            (
                Event::Parted {
                    time: TIME,
                    room: room.clone(),
                    who: alice(),
                    reason: Some("bye now".into()),
                },
                ":alice!~al@127.0.0.1 PART #rust :bye now",
            ),
            (
                Event::Kicked {
                    time: TIME,
                    room: room.clone(),
                    by: alice(),
                    nick: "bob".into(),
                    reason: "spam".into(),
                },
                ":alice!~al@127.0.0.1 KICK #rust bob spam",
            ),
            (
                Event::Quit {
                    time: TIME,
                    who: alice(),
                    reason: "connection reset".into(),
                },
                ":alice!~al@127.0.0.1 QUIT :connection reset",
            ),
            (
                Event::NickChanged {
                    time: TIME,
                    old: alice(),
                    new_nick: "alicia".into(),
                },
                ":alice!~al@127.0.0.1 NICK alicia",
            ),
            (
                Event::TopicChanged {
                    time: TIME,
                    room: room.clone(),
                    by: alice(),
                    topic: "".into(),
                },
                ":alice!~al@127.0.0.1 TOPIC #rust :",
            ),
            (
                Event::ModeChanged {
                    time: TIME,
                    room: room.clone(),
                    by: alice(),
                    changes: vec![
                        ModeChange::Operator {
                            set: true,
                            nick: "bob".into(),
                        },
                        ModeChange::Voice {
                            set: false,
                            nick: "carol".into(),
                        },
                    ],
                },
                ":alice!~al@127.0.0.1 MODE #rust +o-v bob carol",
            ),
            (
                Event::Invited {
                    time: TIME,
                    room: room.clone(),
                    by: alice(),
                    nick: "bob".into(),
                },
                ":alice!~al@127.0.0.1 INVITE bob #rust",
            ),
            (
                Event::AwayChanged {
                    time: TIME,
                    who: alice(),
                    message: Some("lunch".into()),
                },
                ":alice!~al@127.0.0.1 AWAY lunch",
            ),
            (
                Event::AwayChanged {
                    time: TIME,
                    who: alice(),
                    message: None,
                },
                ":alice!~al@127.0.0.1 AWAY",
            ),
            (
                Event::RealnameChanged {
                    time: TIME,
                    who: alice(),
                },
                ":alice!~al@127.0.0.1 SETNAME :Alice Liddell",
            ),
            (
                Event::Wallops {
                    time: TIME,
                    from: alice(),
                    text: "hi everyone".into(),
                },
                ":alice!~al@127.0.0.1 WALLOPS :hi everyone",
            ),
            (
                Event::ServerNotice {
                    time: TIME,
                    server: "irc.example".into(),
                    text: "server shutting down".into(),
                },
                ":irc.example NOTICE * :server shutting down",
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(lines(&event, PLAIN), vec![expected]);
        }
    }

    fn multiline(text: &str, concat_at: &[usize]) -> Event {
        Event::Message {
            id: MessageId(0xabc),
            time: TIME,
            from: alice(),
            target: Target::Room("#rust".into()),
            kind: MessageKind::Say,
            text: text.into(),
            concat_at: concat_at.into(),
            client_tags: "+draft/reply=a1".into(),
        }
    }

    #[test]
    fn a_multiline_message_is_one_batch_with_its_tags_on_the_start() {
        let event = multiline("hello\n\nhow is everyone?", &[14]);
        assert_eq!(
            lines(&event, TAGGED),
            vec![
                "@time=2026-11-22T13:05:09.250Z;msgid=abc;+draft/reply=a1 \
                 :alice!~al@127.0.0.1 BATCH +mabc draft/multiline #rust",
                "@batch=mabc :alice!~al@127.0.0.1 PRIVMSG #rust hello",
                "@batch=mabc :alice!~al@127.0.0.1 PRIVMSG #rust :",
                "@batch=mabc :alice!~al@127.0.0.1 PRIVMSG #rust :how is ",
                "@batch=mabc;draft/multiline-concat :alice!~al@127.0.0.1 PRIVMSG #rust everyone?",
                "BATCH -mabc",
            ]
        );
    }

    #[test]
    fn without_multiline_its_lines_come_alone_and_only_the_first_has_the_msgid() {
        let event = multiline("hello\n\nhow is everyone?", &[14]);
        let tagged = IrcFlavor {
            multiline: false,
            ..TAGGED
        };
        assert_eq!(
            lines(&event, tagged),
            vec![
                "@time=2026-11-22T13:05:09.250Z;msgid=abc;+draft/reply=a1 \
                 :alice!~al@127.0.0.1 PRIVMSG #rust hello",
                "@time=2026-11-22T13:05:09.250Z;+draft/reply=a1 \
                 :alice!~al@127.0.0.1 PRIVMSG #rust :how is ",
                "@time=2026-11-22T13:05:09.250Z;+draft/reply=a1 \
                 :alice!~al@127.0.0.1 PRIVMSG #rust everyone?",
            ]
        );
        assert_eq!(
            lines(&event, PLAIN),
            vec![
                ":alice!~al@127.0.0.1 PRIVMSG #rust hello",
                ":alice!~al@127.0.0.1 PRIVMSG #rust :how is ",
                ":alice!~al@127.0.0.1 PRIVMSG #rust everyone?",
            ]
        );
    }

    #[test]
    fn a_multiline_line_too_long_for_irc_continues_with_the_concat_tag() {
        let long = "x".repeat(600);
        let event = multiline(&format!("a\n{long}"), &[]);
        let rendered = lines(&event, TAGGED);
        assert_eq!(rendered.len(), 5, "{rendered:?}");
        let second = Message::parse(&rendered[2]).unwrap();
        let third = Message::parse(&rendered[3]).unwrap();
        assert_eq!(second.tag(CONCAT_TAG), None);
        assert_eq!(third.tag(CONCAT_TAG), Some(""));
        assert_eq!(format!("{}{}", second.params[1], third.params[1]), long);
        assert!(
            rendered
                .iter()
                .all(|line| untagged_len(line) <= MAX_MESSAGE_BYTES - 2)
        );
        // Alone, the long line is two lines too.
        let plain = lines(&event, PLAIN);
        assert_eq!(plain.len(), 3, "{plain:?}");
    }

    fn untagged_len(line: &str) -> usize {
        match line.strip_prefix('@') {
            Some(rest) => rest.split_once(' ').map_or(0, |(_, rest)| rest.len()),
            None => line.len(),
        }
    }

    #[test]
    fn redactions_and_read_markers() {
        let redacted = Event::Redacted {
            id: MessageId(0xabd),
            time: TIME,
            by: alice(),
            target: Target::Room("#rust".into()),
            message: MessageId(0xabc),
            author: "bob".into(),
            sent: TIME,
            reason: Some("spam".into()),
        };
        assert_eq!(
            lines(&redacted, PLAIN),
            vec![":alice!~al@127.0.0.1 REDACT #rust abc spam"]
        );
        assert_eq!(
            lines(&redacted, TAGGED),
            vec![
                "@time=2026-11-22T13:05:09.250Z;msgid=abd :alice!~al@127.0.0.1 REDACT #rust abc spam"
            ]
        );
        let marker = |marker| Event::ReadMarker {
            time: TIME,
            server: "irc.example".into(),
            target: "#rust".into(),
            marker,
        };
        assert_eq!(
            lines(&marker(Some(TIME)), PLAIN),
            vec![":irc.example MARKREAD #rust timestamp=2026-11-22T13:05:09.250Z"]
        );
        assert_eq!(
            lines(&marker(None), PLAIN),
            vec![":irc.example MARKREAD #rust *"]
        );
    }

    #[test]
    fn status_messages_are_addressed_with_the_status_prefix() {
        let to_ops = Target::RoomStatus {
            room: "#rust".into(),
            minimum: crate::event::MemberStatus::Operator,
        };
        let event = message_from(alice(), to_ops, MessageKind::Say, "ops only", "");
        assert_eq!(
            lines(&event, PLAIN),
            vec![":alice!~al@127.0.0.1 PRIVMSG @#rust :ops only"]
        );
        let to_voiced = Target::RoomStatus {
            room: "#rust".into(),
            minimum: crate::event::MemberStatus::Voiced,
        };
        let event = message_from(alice(), to_voiced, MessageKind::Notice, "voiced too", "");
        assert_eq!(
            lines(&event, PLAIN),
            vec![":alice!~al@127.0.0.1 NOTICE +#rust :voiced too"]
        );
    }

    #[test]
    fn monitor_notifications_are_the_same_for_every_watcher() {
        let online = Event::MonitoredOnline {
            time: TIME,
            server: "irc.example".into(),
            who: alice(),
        };
        assert_eq!(
            lines(&online, PLAIN),
            vec![":irc.example 730 * alice!~al@127.0.0.1"]
        );
        // No account or bot tag: the server speaks, not the user.
        let bot = Arc::new(Identity {
            bot: true,
            account: Some("alice".into()),
            ..(*alice()).clone()
        });
        let online = Event::MonitoredOnline {
            time: TIME,
            server: "irc.example".into(),
            who: bot,
        };
        assert_eq!(
            lines(&online, TAGGED),
            vec!["@time=2026-11-22T13:05:09.250Z :irc.example 730 * alice!~al@127.0.0.1"]
        );
        let offline = Event::MonitoredOffline {
            time: TIME,
            server: "irc.example".into(),
            nick: "Alice".into(),
        };
        assert_eq!(lines(&offline, PLAIN), vec![":irc.example 731 * Alice"]);
    }

    #[test]
    fn a_bot_s_events_carry_the_bot_tag_for_clients_with_message_tags() {
        let bot = Arc::new(Identity {
            bot: true,
            ..(*alice()).clone()
        });
        let room = Target::Room("#rust".into());
        let said = message_from(bot.clone(), room, MessageKind::Say, "beep", "");
        assert_eq!(
            lines(&said, PLAIN),
            vec![":alice!~al@127.0.0.1 PRIVMSG #rust beep"]
        );
        let tags_only = IrcFlavor {
            message_tags: true,
            ..PLAIN
        };
        assert_eq!(
            lines(&said, tags_only),
            vec!["@msgid=abc;bot :alice!~al@127.0.0.1 PRIVMSG #rust beep"]
        );
        let joined = Event::Joined {
            time: TIME,
            room: "#rust".into(),
            who: bot,
        };
        assert_eq!(
            lines(&joined, tags_only),
            vec!["@bot :alice!~al@127.0.0.1 JOIN #rust"]
        );
    }

    #[test]
    fn split_utf8_never_cuts_a_character() {
        assert_eq!(split_utf8("", 5).collect::<Vec<_>>(), vec![""]);
        assert_eq!(
            split_utf8("abcdef", 4).collect::<Vec<_>>(),
            vec!["abcd", "ef"]
        );
        assert_eq!(
            split_utf8("aé€", 2).collect::<Vec<_>>(),
            vec!["a", "é", "€"]
        );
        assert_eq!(split_utf8("🦀x", 2).collect::<Vec<_>>(), vec!["🦀", "x"]);
    }

    #[test]
    fn accounts_show_in_tags_joins_and_account_events() {
        let logged_in = Arc::new(Identity {
            account: Some("Alice".into()),
            ..(*alice()).clone()
        });
        let joined = Event::Joined {
            time: TIME,
            room: "#rust".into(),
            who: logged_in.clone(),
        };
        let account_tag = IrcFlavor {
            account_tag: true,
            extended_join: true,
            ..PLAIN
        };
        assert_eq!(
            lines(&joined, account_tag),
            vec!["@account=Alice :alice!~al@127.0.0.1 JOIN #rust Alice :Alice Liddell"]
        );
        let login = Event::AccountChanged {
            time: TIME,
            who: logged_in,
        };
        assert_eq!(
            lines(&login, PLAIN),
            vec![":alice!~al@127.0.0.1 ACCOUNT Alice"]
        );
        let logout = Event::AccountChanged {
            time: TIME,
            who: alice(),
        };
        assert_eq!(
            lines(&logout, account_tag),
            vec![":alice!~al@127.0.0.1 ACCOUNT *"]
        );
    }
}
