//! Formatting server lines for text-protocol clients.
//!
//! Every line ends in a single LF. Stamped lines begin `[HH:MM:SS] ` (server UTC); events and
//! command replies continue `-- `; errors are `! ` and a human message, unstamped.

use bytes::Bytes;

use crate::event::{Event, MessageKind};
use crate::time::Timestamp;

/// Builds one output line; keeps the formatting of the pieces in one place.
struct LineBuilder(Vec<u8>);

impl LineBuilder {
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

    fn finish(mut self) -> Bytes {
        self.0.push(b'\n');
        Bytes::from(self.0)
    }
}

/// Renders an event as the single line every text-protocol recipient gets.
pub fn render_event(event: &Event) -> Bytes {
    match event {
        Event::RoomMessage {
            time,
            room,
            from,
            kind,
            text,
        } => {
            let line = LineBuilder::stamped(*time, room.len() + from.len() + text.len() + 4)
                .push(room)
                .push(" ");
            match kind {
                MessageKind::Say => line.push("<").push(from).push("> "),
                MessageKind::Action => line.push("* ").push(from).push(" "),
            }
            .push(text)
            .finish()
        }
        Event::PrivateMessage {
            time,
            from,
            kind,
            text,
        } => private_line(*time, "*", from, from, *kind, text),
        Event::PrivateMessageSent {
            time,
            from,
            to,
            kind,
            text,
        } => private_line(*time, "-> *", to, from, *kind, text),
        Event::Joined { time, room, nick } => notice_line(*time, &[nick, " joined ", room]),
        Event::Parted {
            time,
            room,
            nick,
            reason,
        } => match reason {
            Some(reason) => notice_line(*time, &[nick, " left ", room, " (", reason, ")"]),
            None => notice_line(*time, &[nick, " left ", room]),
        },
        Event::Quit { time, nick, reason } => notice_line(*time, &[nick, " left (", reason, ")"]),
        Event::NickChanged { time, old, new } => {
            notice_line(*time, &[old, " is now known as ", new])
        }
        Event::TopicChanged {
            time,
            room,
            nick,
            topic,
        } => notice_line(
            *time,
            &[nick, " changed the topic of ", room, " to: ", topic],
        ),
        Event::ServerNotice { time, text } => notice_line(*time, &[text]),
    }
}

/// `*alice* text` as received, `-> *bob* text` as the sender's copy; an action continues like a
/// room action, `*alice* * alice waves`, so the marker always comes first.
fn private_line(
    time: Timestamp,
    marker: &str,
    peer: &str,
    actor: &str,
    kind: MessageKind,
    text: &str,
) -> Bytes {
    let line = LineBuilder::stamped(time, marker.len() + peer.len() + text.len() + 4)
        .push(marker)
        .push(peer)
        .push("* ");
    match kind {
        MessageKind::Say => line,
        MessageKind::Action => line.push("* ").push(actor).push(" "),
    }
    .push(text)
    .finish()
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
    bytes.push(b'\n');
    Bytes::from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIME: Timestamp = Timestamp(1_795_352_709_250); // 13:05:09 UTC

    fn render(event: Event) -> String {
        String::from_utf8(render_event(&event).to_vec()).unwrap()
    }

    #[test]
    fn messages() {
        let room_message = |kind| Event::RoomMessage {
            time: TIME,
            room: "#rust".into(),
            from: "alice".into(),
            kind,
            text: "hi all".into(),
        };
        assert_eq!(
            render(room_message(MessageKind::Say)),
            "[13:05:09] #rust <alice> hi all\n"
        );
        assert_eq!(
            render(room_message(MessageKind::Action)),
            "[13:05:09] #rust * alice hi all\n"
        );
        assert_eq!(
            render(Event::PrivateMessage {
                time: TIME,
                from: "alice".into(),
                kind: MessageKind::Say,
                text: "psst".into()
            }),
            "[13:05:09] *alice* psst\n"
        );
        assert_eq!(
            render(Event::PrivateMessageSent {
                time: TIME,
                from: "alice".into(),
                to: "bob".into(),
                kind: MessageKind::Say,
                text: "psst".into()
            }),
            "[13:05:09] -> *bob* psst\n"
        );
        assert_eq!(
            render(Event::PrivateMessage {
                time: TIME,
                from: "alice".into(),
                kind: MessageKind::Action,
                text: "waves".into()
            }),
            "[13:05:09] *alice* * alice waves\n"
        );
    }

    #[test]
    fn events() {
        let cases = [
            (
                Event::Joined {
                    time: TIME,
                    room: "#rust".into(),
                    nick: "alice".into(),
                },
                "-- alice joined #rust",
            ),
            (
                Event::Parted {
                    time: TIME,
                    room: "#rust".into(),
                    nick: "alice".into(),
                    reason: Some("bye".into()),
                },
                "-- alice left #rust (bye)",
            ),
            (
                Event::Parted {
                    time: TIME,
                    room: "#rust".into(),
                    nick: "alice".into(),
                    reason: None,
                },
                "-- alice left #rust",
            ),
            (
                Event::Quit {
                    time: TIME,
                    nick: "alice".into(),
                    reason: "connection reset".into(),
                },
                "-- alice left (connection reset)",
            ),
            (
                Event::NickChanged {
                    time: TIME,
                    old: "guest-3".into(),
                    new: "alice".into(),
                },
                "-- guest-3 is now known as alice",
            ),
            (
                Event::TopicChanged {
                    time: TIME,
                    room: "#rust".into(),
                    nick: "alice".into(),
                    topic: "crabs".into(),
                },
                "-- alice changed the topic of #rust to: crabs",
            ),
            (
                Event::ServerNotice {
                    time: TIME,
                    text: "server shutting down".into(),
                },
                "-- server shutting down",
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(render(event), format!("[13:05:09] {expected}\n"));
        }
        assert_eq!(error_line("no such nick: bob"), "! no such nick: bob\n");
    }
}
