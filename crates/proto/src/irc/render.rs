//! Rendering hub events as IRC messages.
//!
//! What a client sees depends on a few capabilities ([`IrcFlavor`]): `server-time` adds a
//! `time` tag, `message-tags` adds `msgid` and relays client tags (and enables `TAGMSG`),
//! `extended-join` adds the account and real name to `JOIN`. Everything else about an event's
//! bytes is the same for every IRC client, so the hub renders each event once per flavor.

use bytes::Bytes;

use super::caps::{Cap, CapSet};
use super::message::{Message, Tag, unescape_tag_value};
use super::modes::spell_changes;
use crate::event::{Event, Identity, MessageKind, Target};

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
}

impl IrcFlavor {
    /// How many distinct flavors exist (for per-flavor caches).
    pub const COUNT: usize = 16;

    pub fn from_caps(caps: CapSet) -> Self {
        Self {
            server_time: caps.contains(Cap::ServerTime),
            message_tags: caps.contains(Cap::MessageTags),
            extended_join: caps.contains(Cap::ExtendedJoin),
            account_tag: caps.contains(Cap::AccountTag),
        }
    }

    /// A dense index below [`COUNT`](Self::COUNT).
    pub fn index(self) -> usize {
        usize::from(self.server_time)
            | usize::from(self.message_tags) << 1
            | usize::from(self.extended_join) << 2
            | usize::from(self.account_tag) << 3
    }

    /// The flavor whose [`index`](Self::index) is `index`; `None` from [`COUNT`](Self::COUNT)
    /// on.
    pub fn from_index(index: usize) -> Option<Self> {
        (index < Self::COUNT).then_some(Self {
            server_time: index & 1 != 0,
            message_tags: index & (1 << 1) != 0,
            extended_join: index & (1 << 2) != 0,
            account_tag: index & (1 << 3) != 0,
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
            client_tags,
        } => {
            if *kind == MessageKind::TagsOnly && !flavor.message_tags {
                return Vec::new();
            }
            let target = match target {
                Target::Room(room) => &**room,
                Target::User(nick) => &**nick,
            };
            let source = from.mask();
            let mut messages = message_lines(&source, target, *kind, text);
            if flavor.message_tags {
                let parts = messages.len();
                for (index, message) in messages.iter_mut().enumerate() {
                    let msgid = if parts == 1 || index == 0 {
                        id.to_string()
                    } else {
                        format!("{id}-{}", index + 1)
                    };
                    message.tags.push(Tag {
                        key: "msgid".into(),
                        value: msgid,
                    });
                    message.tags.extend(parse_client_tags(client_tags));
                }
            }
            (*time, messages)
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
        Event::ServerNotice { time, server, text } => {
            let params = vec!["*".into(), text.to_string()];
            (
                *time,
                vec![Message::new("NOTICE", params).with_source(&**server)],
            )
        }
    };
    let mut messages = messages;
    if flavor.account_tag
        && let Some(account) = event_source(event).and_then(|who| who.account.as_deref())
    {
        for message in &mut messages {
            message.tags.insert(
                0,
                Tag {
                    key: "account".into(),
                    value: account.to_owned(),
                },
            );
        }
    }
    if flavor.server_time {
        let stamp = time.iso8601();
        for message in &mut messages {
            message.tags.insert(
                0,
                Tag {
                    key: "time".into(),
                    value: stamp.clone(),
                },
            );
        }
    }
    messages
}

/// The user an event comes from, if a user caused it.
fn event_source(event: &Event) -> Option<&Identity> {
    match event {
        Event::Message { from, .. } => Some(from),
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
        Event::ServerNotice { .. } => None,
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

/// `PRIVMSG`/`NOTICE`/`TAGMSG` lines for one message, split on UTF-8 character boundaries so
/// that no line exceeds [`MAX_MESSAGE_BYTES`] (a text-protocol message may be much longer than
/// an IRC line).
fn message_lines(source: &str, target: &str, kind: MessageKind, text: &str) -> Vec<Message> {
    let (command, prefix, suffix) = message_framing(kind);
    if kind == MessageKind::TagsOnly {
        return vec![Message::new(command, vec![target.to_owned()]).with_source(source)];
    }
    split_utf8(text, text_room(source, target, kind))
        .map(|chunk| {
            Message::new(
                command,
                vec![target.to_owned(), format!("{prefix}{chunk}{suffix}")],
            )
            .with_source(source)
        })
        .collect()
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
        Event::Message {
            id: MessageId(0xabc),
            time: TIME,
            from: alice(),
            target: Target::Room("#rust".into()),
            kind,
            text: text.into(),
            client_tags: client_tags.into(),
        }
    }

    const PLAIN: IrcFlavor = IrcFlavor {
        server_time: false,
        message_tags: false,
        extended_join: false,
        account_tag: false,
    };
    const TAGGED: IrcFlavor = IrcFlavor {
        server_time: true,
        message_tags: true,
        extended_join: true,
        account_tag: true,
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
