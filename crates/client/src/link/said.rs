//! The lines a front end said, from the moment they are said until the server has answered
//! each one, and the rule for sending them again after a lost connection.
//!
//! A said line is a `PRIVMSG` ([`SaidLine`]). While the link is not ready (connecting, or
//! rejoining and filling gaps after a reconnection) it is held, in order with the other
//! commands typed meanwhile. Once written, it waits for its answer, matched by the IRCv3
//! `labeled-response` label it was sent with
//! (<https://ircv3.net/specs/extensions/labeled-response>): the echo (`echo-message`), an
//! `ACK`, or a refusal (an error numeric or `FAIL`), alone or in a `labeled-response` batch.
//! Any of them is the answer, so a refused line never shifts the matching of the lines after
//! it.
//!
//! When the connection is lost, lines still without an answer may or may not have arrived.
//! After reconnecting, the gap-filling history shows those that did (they are settled, not
//! sent again); the rest are sent again, once, before the held lines. A line whose answer came
//! is never sent again.

use std::collections::VecDeque;

use palaver_proto::irc::Message;
use palaver_proto::irc::render::split_utf8;

/// The longest line we send, CRLF included, without tags (RFC 1459 2.3).
const MAX_IRC_LINE_BYTES: usize = 512;

/// Identifies a said line for the lifetime of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineId(pub u64);

/// One `PRIVMSG` said by the front end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaidLine {
    pub id: LineId,
    /// The room or nick it is said to.
    pub target: String,
    /// The text as sent (a CTCP `ACTION` keeps its `\x01ACTION …\x01` wrapping).
    pub body: String,
}

impl SaidLine {
    pub fn message(&self) -> Message {
        Message::new("PRIVMSG", vec![self.target.clone(), self.body.clone()])
    }

    /// Whether it is said to `target` (ASCII case-insensitive).
    pub fn is_to(&self, target: &str) -> bool {
        self.target.eq_ignore_ascii_case(target)
    }
}

/// How a said line ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server took it: its echo came, or (without `echo-message`) its `ACK`.
    Delivered,
    /// Its answer was lost with a connection, but the history shows it arrived.
    DeliveredEarlier,
    /// The server refused it; the reply's reason.
    Refused(String),
    /// It will never be sent: the room it was said to could not be rejoined.
    NotSent,
}

/// A command waiting for the link to be ready, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    Line(SaidLine),
    Message(Message),
}

/// A line written whose answer has not come.
#[derive(Debug, Clone)]
struct Unanswered {
    line: SaidLine,
    /// The label it was sent with on the current connection; `None` once that connection is
    /// lost.
    label: Option<String>,
    /// Whether the front end was told it is pending ([`Said::connection_lost`] tells once).
    shown_pending: bool,
}

/// The said lines not settled yet. Owned by the link's state machine.
#[derive(Debug, Default)]
pub struct Said {
    next_id: u64,
    next_label: u64,
    /// Commands given while the link was not ready, oldest first.
    held: VecDeque<Held>,
    /// Lines written and not answered, oldest first.
    unanswered: Vec<Unanswered>,
}

impl Said {
    /// `text` to `target` as lines (a CTCP ACTION if `action`), split into as many as the
    /// 512-byte limit needs, each with a new id.
    pub fn lines(&mut self, target: &str, text: &str, action: bool) -> Vec<SaidLine> {
        privmsg_bodies(target, text, action)
            .into_iter()
            .map(|body| {
                self.next_id += 1;
                SaidLine {
                    id: LineId(self.next_id),
                    target: target.to_owned(),
                    body,
                }
            })
            .collect()
    }

    /// A new label, unique for the link's lifetime.
    pub fn next_label(&mut self) -> String {
        self.next_label += 1;
        format!("l{}", self.next_label)
    }

    pub fn hold(&mut self, held: Held) {
        self.held.push_back(held);
    }

    /// Takes the held commands, oldest first.
    pub fn take_held(&mut self) -> VecDeque<Held> {
        std::mem::take(&mut self.held)
    }

    /// `line` was written with `label`; `shown_pending` if the front end already shows it as
    /// pending (it was held, or survived a lost connection).
    pub fn written(&mut self, line: SaidLine, label: String, shown_pending: bool) {
        self.unanswered.push(Unanswered {
            line,
            label: Some(label),
            shown_pending,
        });
    }

    /// The answer labelled `label` came: the line it answers, if it is one of ours.
    pub fn answered(&mut self, label: &str) -> Option<SaidLine> {
        let index = self
            .unanswered
            .iter()
            .position(|sent| sent.label.as_deref() == Some(label))?;
        Some(self.unanswered.remove(index).line)
    }

    /// The connection was lost: the lines it did not answer wait for the next one. Returns
    /// those not shown as pending before (to be shown now).
    pub fn connection_lost(&mut self) -> Vec<SaidLine> {
        self.unanswered
            .iter_mut()
            .filter_map(|sent| {
                sent.label = None;
                let newly = !sent.shown_pending;
                sent.shown_pending = true;
                newly.then(|| sent.line.clone())
            })
            .collect()
    }

    /// A message of ours (`body` to `target`) in the gap-filling history: the first line from
    /// an earlier connection saying it arrived although its answer was lost.
    pub fn delivered_in_history(&mut self, target: &str, body: &str) -> Option<SaidLine> {
        let index = self.unanswered.iter().position(|sent| {
            sent.label.is_none() && sent.line.is_to(target) && sent.line.body == body
        })?;
        Some(self.unanswered.remove(index).line)
    }

    /// Takes the lines from earlier connections, to be written again, oldest first.
    pub fn take_unanswered(&mut self) -> Vec<SaidLine> {
        let (earlier, current): (Vec<_>, Vec<_>) = self
            .unanswered
            .drain(..)
            .partition(|sent| sent.label.is_none());
        self.unanswered = current;
        earlier.into_iter().map(|sent| sent.line).collect()
    }

    /// Takes every line to `room`, held or unanswered from an earlier connection: the room
    /// cannot be rejoined.
    pub fn take_for(&mut self, room: &str) -> Vec<SaidLine> {
        let (gone, kept): (Vec<_>, Vec<_>) = self
            .unanswered
            .drain(..)
            .partition(|sent| sent.label.is_none() && sent.line.is_to(room));
        self.unanswered = kept;
        let mut lines: Vec<SaidLine> = gone.into_iter().map(|sent| sent.line).collect();
        let (gone, kept): (VecDeque<_>, VecDeque<_>) = self
            .held
            .drain(..)
            .partition(|held| matches!(held, Held::Line(line) if line.is_to(room)));
        self.held = kept;
        lines.extend(gone.into_iter().filter_map(|held| match held {
            Held::Line(line) => Some(line),
            Held::Message(_) => None,
        }));
        lines
    }

    /// Commands held.
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Lines written and not answered.
    pub fn unanswered_len(&self) -> usize {
        self.unanswered.len()
    }
}

/// `text` to `target` as `PRIVMSG` bodies (CTCP ACTIONs if `action`), split into as many as
/// the 512-byte line limit needs: after a space where one fits (see [`split_at_words`]).
pub fn privmsg_bodies(target: &str, text: &str, action: bool) -> Vec<String> {
    let overhead = "PRIVMSG  :\r\n".len() + target.len() + if action { 9 } else { 0 };
    let room = MAX_IRC_LINE_BYTES.saturating_sub(overhead).max(64);
    split_at_words(text, room)
        .into_iter()
        .map(|piece| {
            if action {
                format!("\u{1}ACTION {piece}\u{1}")
            } else {
                piece.to_owned()
            }
        })
        .collect()
}

/// `text` in pieces of at most `max_bytes`: each cut just after the last space that fits, so
/// that no word is split between two messages, unless a word is longer than a piece (then
/// within it, never inside a character). The pieces put together are `text`.
fn split_at_words(text: &str, max_bytes: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    loop {
        let longest = split_utf8(rest, max_bytes).next().unwrap_or_default();
        if longest.len() == rest.len() {
            pieces.push(rest);
            return pieces;
        }
        let cut = match longest.rfind(' ') {
            Some(space) if space > 0 => space + 1,
            _ => longest.len(),
        };
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_splits_into_lines_that_fit_on_character_boundaries() {
        let text = "x".repeat(1000);
        let bodies = privmsg_bodies("#ops", &text, false);
        assert!(bodies.len() > 1);
        assert_eq!(bodies.concat(), text);
        for body in &bodies {
            assert!(body.len() + "PRIVMSG #ops :\r\n".len() <= MAX_IRC_LINE_BYTES);
        }
        let actions = privmsg_bodies("#ops", &text, true);
        assert!(
            actions
                .iter()
                .all(|body| body.starts_with("\u{1}ACTION ") && body.ends_with('\u{1}'))
        );
        // "é" is two bytes: a cut never falls inside it.
        let accents = "é".repeat(400);
        let bodies = privmsg_bodies("#ops", &accents, false);
        assert_eq!(bodies.concat(), accents);
    }

    #[test]
    fn long_text_splits_between_words() {
        let words = "lorem ipsum dolor ".repeat(40);
        let bodies = privmsg_bodies("#ops", &words, false);
        assert!(bodies.len() > 1);
        assert_eq!(bodies.concat(), words);
        for body in &bodies[..bodies.len() - 1] {
            assert!(body.ends_with(' '), "{body:?}");
            assert!(body.len() + "PRIVMSG #ops :\r\n".len() <= MAX_IRC_LINE_BYTES);
        }
        assert_eq!(split_at_words("ab cd ef", 5), ["ab ", "cd ef"]);
        assert_eq!(split_at_words("abcdefgh ij", 4), ["abcd", "efgh", " ij"]);
        assert_eq!(split_at_words(" abcdef", 4), [" abc", "def"]);
    }

    #[test]
    fn answers_settle_by_label_whatever_their_order() {
        let mut said = Said::default();
        let lines = said.lines("#ops", "one", false);
        let two = said.lines("#ops", "two", false);
        said.written(lines[0].clone(), "l1".into(), false);
        said.written(two[0].clone(), "l2".into(), false);
        assert_eq!(
            said.answered("l2").map(|line| line.body),
            Some("two".into())
        );
        assert_eq!(said.answered("l9"), None, "not a label of ours");
        assert_eq!(
            said.answered("l1").map(|line| line.body),
            Some("one".into())
        );
        assert_eq!(said.unanswered_len(), 0);
    }

    #[test]
    fn lost_answers_are_pending_once_and_resent_unless_the_history_has_them() {
        let mut said = Said::default();
        let line = |said: &mut Said, text: &str| said.lines("#ops", text, false).remove(0);
        let one = line(&mut said, "one");
        let two = line(&mut said, "two");
        let held = line(&mut said, "held");
        said.written(one.clone(), "l1".into(), false);
        said.written(two.clone(), "l2".into(), true);
        said.hold(Held::Line(held.clone()));
        assert_eq!(
            said.connection_lost(),
            std::slice::from_ref(&one),
            "two was shown already"
        );
        assert!(said.connection_lost().is_empty(), "told once");
        assert_eq!(
            said.answered("l1"),
            None,
            "labels die with their connection"
        );
        assert_eq!(said.delivered_in_history("#OPS", "two"), Some(two));
        assert_eq!(said.take_unanswered(), [one]);
        assert_eq!(said.take_held(), [Held::Line(held)]);
    }

    #[test]
    fn lines_to_a_room_that_cannot_be_rejoined_are_taken_out() {
        let mut said = Said::default();
        let ops = said.lines("#ops", "a", false).remove(0);
        let dev = said.lines("#dev", "b", false).remove(0);
        let held = said.lines("#ops", "c", false).remove(0);
        said.written(ops.clone(), "l1".into(), false);
        said.written(dev.clone(), "l2".into(), false);
        said.connection_lost();
        said.hold(Held::Line(held.clone()));
        said.hold(Held::Message(Message::new("NICK", vec!["x".into()])));
        assert_eq!(said.take_for("#ops"), [ops, held]);
        assert_eq!(said.take_unanswered(), [dev]);
        assert_eq!(said.held_len(), 1);
    }
}
