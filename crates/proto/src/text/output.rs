//! Formatting server lines for text-protocol clients.
//!
//! Every line ends in a single LF. Stamped lines begin `[HH:MM:SS] ` (server UTC); events and
//! command replies continue `-- `; errors are `! ` and a human message, unstamped. A message of
//! several lines continues on lines of its own, each indented by [`CONTINUATION`]: the only
//! server lines that start with a space.

use bytes::Bytes;

use super::is_terminal_control;
use crate::event::{Event, Identity, MessageKind, Target};
use crate::irc::modes::{spell_changes, status_prefix};
use crate::time::Timestamp;

/// What starts each further line of a message of several lines: as wide as the stamp and its
/// space, so the lines stand under the first one's text in a terminal, and never a stamp, so a
/// line of a message cannot pass for a message of its own.
pub const CONTINUATION: &str = "           ";

/// Builds one output line; keeps the formatting of the pieces in one place.
struct LineBuilder(Vec<u8>);

impl LineBuilder {
    fn continuation(capacity_hint: usize) -> Self {
        let mut bytes = Vec::with_capacity(CONTINUATION.len() + capacity_hint + 1);
        bytes.extend_from_slice(CONTINUATION.as_bytes());
        Self(bytes)
    }

    fn stamped(time: Timestamp, capacity_hint: usize) -> Self {
        let mut bytes = Vec::with_capacity(12 + capacity_hint);
        bytes.extend_from_slice(&time.bracketed_hms());
        bytes.push(b' ');
        Self(bytes)
    }

    fn push(mut self, text: &str) -> Self {
        self.0.extend_from_slice(text.as_bytes());
        self
    }

    fn finish(self) -> Bytes {
        Bytes::from(self.finish_line())
    }

    /// The line with its LF, terminal controls replaced.
    fn finish_line(mut self) -> Vec<u8> {
        replace_terminal_controls(&mut self.0);
        self.0.push(b'\n');
        self.0
    }

    /// Ends the line with the first line of `text`, followed by each further line of `text`
    /// on a [`CONTINUATION`] line of its own.
    fn finish_with_lines(self, text: &str) -> Bytes {
        let mut lines = text.split('\n');
        let mut out = self.push(lines.next().unwrap_or("")).finish_line();
        for line in lines {
            out.extend(
                LineBuilder::continuation(line.len())
                    .push(line)
                    .finish_line(),
            );
        }
        Bytes::from(out)
    }
}

/// Replaces terminal control characters with U+FFFD. Text users never send them, but IRC users
/// can (in messages, topics, reasons), and a text user's terminal must not obey them.
fn replace_terminal_controls(line: &mut Vec<u8>) {
    let Ok(text) = std::str::from_utf8(line) else {
        return;
    };
    if !text.chars().any(is_terminal_control) {
        return;
    }
    let cleaned: String = text
        .chars()
        .map(|c| {
            if is_terminal_control(c) {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    *line = cleaned.into_bytes();
}

/// Renders an event as the line a text-protocol recipient gets, or `None` for events the text
/// protocol does not show (client-tag-only messages, away and real-name changes).
pub fn render_event(event: &Event) -> Option<Bytes> {
    render(event, false)
}

/// Renders the actor's own copy of an event it caused. Differs from [`render_event`] only for
/// private messages: the sender sees `-> *recipient* text`.
pub fn render_own_copy(event: &Event) -> Option<Bytes> {
    render(event, true)
}

fn render(event: &Event, own_copy: bool) -> Option<Bytes> {
    let line = match event {
        Event::Message {
            time,
            from,
            target,
            kind,
            text,
            ..
        } => match target {
            Target::Room(room) => room_message(*time, room, &from.nick, *kind, text)?,
            // Shown as IRC addresses it, `@#room`: who else got it is part of what was said.
            Target::RoomStatus { room, minimum } => {
                let target = format!("{}{room}", status_prefix(*minimum));
                room_message(*time, &target, &from.nick, *kind, text)?
            }
            Target::User(to) if own_copy => {
                private_message(*time, "-> *", to, &from.nick, *kind, text)?
            }
            Target::User(_) => private_message(*time, "*", &from.nick, &from.nick, *kind, text)?,
        },
        Event::Joined { time, room, who } => notice_line(*time, &[&who.nick, " joined ", room]),
        Event::Parted {
            time,
            room,
            who,
            reason,
        } => match reason {
            Some(reason) => notice_line(*time, &[&who.nick, " left ", room, " (", reason, ")"]),
            None => notice_line(*time, &[&who.nick, " left ", room]),
        },
        Event::Kicked {
            time,
            room,
            by,
            nick,
            reason,
        } => notice_line(
            *time,
            &[
                nick,
                " was kicked from ",
                room,
                " by ",
                &by.nick,
                " (",
                reason,
                ")",
            ],
        ),
        Event::Quit { time, who, reason } => {
            notice_line(*time, &[&who.nick, " left (", reason, ")"])
        }
        Event::NickChanged {
            time,
            old,
            new_nick,
        } => notice_line(*time, &[&old.nick, " is now known as ", new_nick]),
        Event::TopicChanged {
            time,
            room,
            by,
            topic,
        } if topic.is_empty() => notice_line(*time, &[&by.nick, " cleared the topic of ", room]),
        Event::TopicChanged {
            time,
            room,
            by,
            topic,
        } => notice_line(
            *time,
            &[&by.nick, " changed the topic of ", room, " to: ", topic],
        ),
        Event::ModeChanged {
            time,
            room,
            by,
            changes,
        } => {
            // Mode changes are shown in IRC's notation, which is what text users read about
            // them too (docs/PROTOCOL.md).
            let (modes, arguments) = spell_changes(changes);
            let mut change = modes;
            for argument in &arguments {
                change.push(' ');
                change.push_str(argument);
            }
            notice_line(*time, &[&by.nick, " set mode ", &change, " on ", room])
        }
        Event::Invited {
            time,
            room,
            by,
            nick,
        } => notice_line(*time, &[&by.nick, " invited ", nick, " to ", room]),
        Event::Redacted {
            time,
            by,
            target,
            author,
            sent,
            reason,
            ..
        } => redaction(*time, by, target, author, *sent, reason.as_deref()),
        Event::AwayChanged { .. }
        | Event::RealnameChanged { .. }
        | Event::AccountChanged { .. }
        | Event::ReadMarker { .. } => return None,
        Event::Wallops { time, from, text } => {
            notice_line(*time, &["wallops from ", &from.nick, ": ", text])
        }
        Event::ServerNotice { time, text, .. } => notice_line(*time, &[text]),
        Event::MonitoredOnline { time, who, .. } => notice_line(*time, &[&who.nick, " is online"]),
        Event::MonitoredOffline { time, nick, .. } => notice_line(*time, &[nick, " is offline"]),
    };
    Some(line)
}

/// `#room <alice> text`, `#room * alice waves`, `#room -alice- notice`.
fn room_message(
    time: Timestamp,
    room: &str,
    from: &str,
    kind: MessageKind,
    text: &str,
) -> Option<Bytes> {
    let line = LineBuilder::stamped(time, room.len() + from.len() + text.len() + 4)
        .push(room)
        .push(" ");
    let line = match kind {
        MessageKind::Say => line.push("<").push(from).push("> "),
        MessageKind::Action => line.push("* ").push(from).push(" "),
        MessageKind::Notice => line.push("-").push(from).push("- "),
        MessageKind::TagsOnly => return None,
    };
    Some(line.finish_with_lines(text))
}

/// `-- alice deleted bob's message of 12:00:03 on #rust (spam)`, or `their message` for one's
/// own; a private one `-- alice deleted their message of 12:00:03 to bob`.
fn redaction(
    time: Timestamp,
    by: &Identity,
    target: &Target,
    author: &str,
    sent: Timestamp,
    reason: Option<&str>,
) -> Bytes {
    let whose = if *by.nick == *author {
        "their".to_owned()
    } else {
        format!("{author}'s")
    };
    let (h, m, s) = sent.hms();
    let sent = format!("{h:02}:{m:02}:{s:02}");
    let (place, name) = match target {
        Target::Room(room) | Target::RoomStatus { room, .. } => (" on ", &**room),
        Target::User(nick) => (" to ", &**nick),
    };
    let mut parts = vec![
        &*by.nick,
        " deleted ",
        &whose,
        " message of ",
        &sent,
        place,
        name,
    ];
    if let Some(reason) = reason {
        parts.extend([" (", reason, ")"]);
    }
    notice_line(time, &parts)
}

/// `*alice* text` as received, `-> *bob* text` as the sender's copy; an action continues like a
/// room action, `*alice* * alice waves`, so the marker always comes first; a notice is
/// `*alice* -alice- text`.
fn private_message(
    time: Timestamp,
    marker: &str,
    peer: &str,
    actor: &str,
    kind: MessageKind,
    text: &str,
) -> Option<Bytes> {
    let line = LineBuilder::stamped(time, marker.len() + peer.len() + text.len() + 4)
        .push(marker)
        .push(peer)
        .push("* ");
    let line = match kind {
        MessageKind::Say => line,
        MessageKind::Action => line.push("* ").push(actor).push(" "),
        MessageKind::Notice => line.push("-").push(actor).push("- "),
        MessageKind::TagsOnly => return None,
    };
    Some(line.finish_with_lines(text))
}

/// A stamped `-- …` line made of `parts`.
pub fn notice_line(time: Timestamp, parts: &[&str]) -> Bytes {
    let length = parts.iter().map(|part| part.len()).sum::<usize>();
    parts
        .iter()
        .fold(
            LineBuilder::stamped(time, length + 3).push("-- "),
            |line, part| line.push(part),
        )
        .finish()
}

/// An unstamped `! …` error line.
pub fn error_line(message: &str) -> Bytes {
    let mut bytes = Vec::with_capacity(message.len() + 3);
    bytes.extend_from_slice(b"! ");
    bytes.extend_from_slice(message.as_bytes());
    replace_terminal_controls(&mut bytes);
    bytes.push(b'\n');
    Bytes::from(bytes)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{Identity, MessageId};
    use crate::modes::ModeChange;

    const TIME: Timestamp = Timestamp(1_795_352_709_250); // 13:05:09 UTC

    fn who(nick: &str) -> Arc<Identity> {
        Arc::new(Identity {
            nick: nick.into(),
            user: "text".into(),
            host: "127.0.0.1".into(),
            realname: "".into(),
            account: None,
            bot: false,
        })
    }

    fn text(bytes: Option<Bytes>) -> Option<String> {
        bytes.map(|bytes| String::from_utf8(bytes.to_vec()).unwrap())
    }

    fn message(target: Target, kind: MessageKind) -> Event {
        Event::Message {
            id: MessageId(1),
            time: TIME,
            from: who("alice"),
            target,
            kind,
            text: "hi all".into(),
            concat_at: Box::default(),
            client_tags: "".into(),
        }
    }

    #[test]
    fn room_messages() {
        let room = || Target::Room("#rust".into());
        let cases = [
            (MessageKind::Say, "[13:05:09] #rust <alice> hi all\n"),
            (MessageKind::Action, "[13:05:09] #rust * alice hi all\n"),
            (MessageKind::Notice, "[13:05:09] #rust -alice- hi all\n"),
        ];
        for (kind, expected) in cases {
            let event = message(room(), kind);
            assert_eq!(text(render_event(&event)).as_deref(), Some(expected));
            assert_eq!(text(render_own_copy(&event)).as_deref(), Some(expected));
        }
        assert_eq!(render_event(&message(room(), MessageKind::TagsOnly)), None);
    }

    #[test]
    fn status_messages_name_the_status_they_were_for() {
        let to_ops = Target::RoomStatus {
            room: "#rust".into(),
            minimum: crate::event::MemberStatus::Operator,
        };
        let event = message(to_ops, MessageKind::Say);
        let expected = "[13:05:09] @#rust <alice> hi all\n";
        assert_eq!(text(render_event(&event)).as_deref(), Some(expected));
        assert_eq!(text(render_own_copy(&event)).as_deref(), Some(expected));
        let to_voiced = Target::RoomStatus {
            room: "#rust".into(),
            minimum: crate::event::MemberStatus::Voiced,
        };
        assert_eq!(
            text(render_event(&message(to_voiced, MessageKind::Action))).as_deref(),
            Some("[13:05:09] +#rust * alice hi all\n")
        );
    }

    #[test]
    fn monitored_nicks_come_online_and_go_offline() {
        let online = Event::MonitoredOnline {
            time: TIME,
            server: "irc.example".into(),
            who: who("alice"),
        };
        assert_eq!(
            text(render_event(&online)).as_deref(),
            Some("[13:05:09] -- alice is online\n")
        );
        let offline = Event::MonitoredOffline {
            time: TIME,
            server: "irc.example".into(),
            nick: "Alice".into(),
        };
        assert_eq!(
            text(render_event(&offline)).as_deref(),
            Some("[13:05:09] -- Alice is offline\n")
        );
    }

    #[test]
    fn private_messages() {
        let to_bob = |kind| message(Target::User("bob".into()), kind);
        let cases = [
            (MessageKind::Say, "*alice* hi all", "-> *bob* hi all"),
            (
                MessageKind::Action,
                "*alice* * alice hi all",
                "-> *bob* * alice hi all",
            ),
            (
                MessageKind::Notice,
                "*alice* -alice- hi all",
                "-> *bob* -alice- hi all",
            ),
        ];
        for (kind, received, sent) in cases {
            let event = to_bob(kind);
            assert_eq!(
                text(render_event(&event)).unwrap(),
                format!("[13:05:09] {received}\n")
            );
            assert_eq!(
                text(render_own_copy(&event)).unwrap(),
                format!("[13:05:09] {sent}\n")
            );
        }
    }

    #[test]
    fn events() {
        let room: Arc<str> = "#rust".into();
        let cases = [
            (
                Event::Joined {
                    time: TIME,
                    room: room.clone(),
                    who: who("alice"),
                },
                "-- alice joined #rust",
            ),
            (
                Event::Parted {
                    time: TIME,
                    room: room.clone(),
                    who: who("alice"),
                    reason: Some("bye".into()),
                },
                "-- alice left #rust (bye)",
            ),
            (
                Event::Parted {
                    time: TIME,
                    room: room.clone(),
                    who: who("alice"),
                    reason: None,
                },
                "-- alice left #rust",
            ),
            (
                Event::Kicked {
                    time: TIME,
                    room: room.clone(),
                    by: who("alice"),
                    nick: "bob".into(),
                    reason: "spam".into(),
                },
                "-- bob was kicked from #rust by alice (spam)",
            ),
            (
                Event::Quit {
                    time: TIME,
                    who: who("alice"),
                    reason: "connection reset".into(),
                },
                "-- alice left (connection reset)",
            ),
            (
                Event::NickChanged {
                    time: TIME,
                    old: who("guest-3"),
                    new_nick: "alice".into(),
                },
                "-- guest-3 is now known as alice",
            ),
            (
                Event::TopicChanged {
                    time: TIME,
                    room: room.clone(),
                    by: who("alice"),
                    topic: "crabs".into(),
                },
                "-- alice changed the topic of #rust to: crabs",
            ),
            (
                Event::TopicChanged {
                    time: TIME,
                    room: room.clone(),
                    by: who("alice"),
                    topic: "".into(),
                },
                "-- alice cleared the topic of #rust",
            ),
            (
                Event::ModeChanged {
                    time: TIME,
                    room: room.clone(),
                    by: who("alice"),
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
                "-- alice set mode +o-v bob carol on #rust",
            ),
            (
                Event::Invited {
                    time: TIME,
                    room: room.clone(),
                    by: who("alice"),
                    nick: "bob".into(),
                },
                "-- alice invited bob to #rust",
            ),
            (
                Event::Wallops {
                    time: TIME,
                    from: who("alice"),
                    text: "hi everyone".into(),
                },
                "-- wallops from alice: hi everyone",
            ),
            (
                Event::ServerNotice {
                    time: TIME,
                    server: "palaver".into(),
                    text: "server shutting down".into(),
                },
                "-- server shutting down",
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(
                text(render_event(&event)).unwrap(),
                format!("[13:05:09] {expected}\n")
            );
        }
        assert_eq!(
            render_event(&Event::AwayChanged {
                time: TIME,
                who: who("alice"),
                message: None
            }),
            None
        );
        assert_eq!(error_line("no such nick: bob"), "! no such nick: bob\n");
    }

    #[test]
    fn a_message_of_several_lines_continues_on_indented_lines() {
        let multiline = |target: Target| Event::Message {
            id: MessageId(1),
            time: TIME,
            from: who("alice"),
            target,
            kind: MessageKind::Say,
            text: "hello\n\nhow is everyone?\n\x1b[1m[13:05:09] #rust <bob> fake".into(),
            concat_at: vec![13].into(),
            client_tags: "".into(),
        };
        let continued = "           \n\
                         \x20          how is everyone?\n\
                         \x20          \u{fffd}[1m[13:05:09] #rust <bob> fake\n";
        assert_eq!(
            text(render_event(&multiline(Target::Room("#rust".into())))).unwrap(),
            format!("[13:05:09] #rust <alice> hello\n{continued}")
        );
        let private = multiline(Target::User("bob".into()));
        assert_eq!(
            text(render_event(&private)).unwrap(),
            format!("[13:05:09] *alice* hello\n{continued}")
        );
        assert_eq!(
            text(render_own_copy(&private)).unwrap(),
            format!("[13:05:09] -> *bob* hello\n{continued}")
        );
    }

    #[test]
    fn deletions_name_the_message_by_its_author_and_time() {
        let deleted = |by: &str, target: Target, reason: Option<&str>| Event::Redacted {
            id: MessageId(9),
            time: TIME,
            by: who(by),
            target,
            message: MessageId(1),
            author: "bob".into(),
            sent: Timestamp(TIME.0 - 62_000),
            reason: reason.map(Into::into),
        };
        let cases = [
            (
                deleted("alice", Target::Room("#rust".into()), Some("spam")),
                "-- alice deleted bob's message of 13:04:07 on #rust (spam)",
            ),
            (
                deleted("bob", Target::Room("#rust".into()), None),
                "-- bob deleted their message of 13:04:07 on #rust",
            ),
            (
                deleted("bob", Target::User("carol".into()), None),
                "-- bob deleted their message of 13:04:07 to carol",
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(
                text(render_event(&event)).unwrap(),
                format!("[13:05:09] {expected}\n")
            );
        }
        let marker = Event::ReadMarker {
            time: TIME,
            server: "palaver".into(),
            target: "#rust".into(),
            marker: None,
        };
        assert_eq!(render_event(&marker), None);
    }

    #[test]
    fn terminal_controls_from_other_protocols_are_replaced() {
        let event = Event::Message {
            id: MessageId(1),
            time: TIME,
            from: who("ian"),
            target: Target::Room("#x".into()),
            kind: MessageKind::Say,
            text: "a\x1b[2Jb\x07c\u{9b}d \x02bold\x02\tok".into(),
            concat_at: Box::default(),
            client_tags: "".into(),
        };
        assert_eq!(
            text(render_event(&event)).unwrap(),
            "[13:05:09] #x <ian> a\u{fffd}[2Jb\u{fffd}c\u{fffd}d \x02bold\x02\tok\n"
        );
    }
}
