//! What pipe mode and the full-screen mode share to catch up after a reconnection: where each
//! room's history stands ([`RoomMark`]), the `CHATHISTORY AFTER` request that fills the gap
//! ([`after_request`]), and the `msgid`s already shown ([`SeenIds`]), so a message that comes
//! twice (live, then again in the history) is shown once.

use std::collections::{HashSet, VecDeque};

use palaver_proto::irc::Message;

use crate::model::is_channel;

/// Messages asked for per room to fill a gap (palaver's `CHATHISTORY` maximum).
pub const HISTORY_LIMIT: usize = 100;
/// `msgid`s remembered to show no message twice.
pub const SEEN_MSGIDS: usize = 4096;

/// What a room looked like when the connection was lost: where to resume its history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomMark {
    /// The `msgid` of the last message seen in the room.
    pub msgid: Option<String>,
    /// The `time` tag of the last event seen in the room.
    pub time: Option<String>,
}

impl RoomMark {
    /// Moves the mark past `message` (`command` upper-cased), if it is an event in a room.
    /// Returns the room (as the message names it) when the message concerned one.
    pub fn follow<'a>(
        marks: &mut std::collections::HashMap<String, RoomMark>,
        command: &str,
        message: &'a Message,
    ) -> Option<&'a str> {
        let room = message.params.first().filter(|target| is_channel(target))?;
        if !matches!(
            command,
            "PRIVMSG" | "NOTICE" | "JOIN" | "PART" | "KICK" | "TOPIC" | "MODE"
        ) {
            return None;
        }
        let mark = marks.entry(room.to_ascii_lowercase()).or_default();
        if let Some(time) = message.tag("time") {
            mark.time = Some(time.to_owned());
        }
        if matches!(command, "PRIVMSG" | "NOTICE")
            && let Some(msgid) = message.tag("msgid")
        {
            mark.msgid = Some(msgid.to_owned());
        }
        Some(room)
    }
}

/// `CHATHISTORY AFTER <room> msgid=…|timestamp=… 100`, or `None` when nothing marks where
/// the room's history stood. `msgid` references are used when the server takes them.
pub fn after_request(room: &str, mark: &RoomMark, msgid_references: bool) -> Option<Message> {
    let reference = match (&mark.msgid, &mark.time) {
        (Some(msgid), _) if msgid_references => format!("msgid={msgid}"),
        (_, Some(time)) => format!("timestamp={time}"),
        _ => return None,
    };
    Some(Message::new(
        "CHATHISTORY",
        vec![
            "AFTER".into(),
            room.to_owned(),
            reference,
            HISTORY_LIMIT.to_string(),
        ],
    ))
}

/// The `msgid`s of the messages shown recently. Bounded: the oldest are forgotten.
#[derive(Debug, Default)]
pub struct SeenIds {
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl SeenIds {
    /// Records `id`; false if it was already there.
    pub fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() == SEEN_MSGIDS
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.order.push_back(id.to_owned());
        self.ids.insert(id.to_owned());
        true
    }

    /// Whether `message` is a PRIVMSG/NOTICE whose `msgid` was already seen (and records it
    /// otherwise).
    pub fn is_duplicate(&mut self, message: &Message) -> bool {
        let is_message = message.command.eq_ignore_ascii_case("PRIVMSG")
            || message.command.eq_ignore_ascii_case("NOTICE");
        is_message
            && message
                .tag("msgid")
                .is_some_and(|msgid| !self.insert(msgid))
    }
}

/// Whether `sent` (a `PRIVMSG`/`NOTICE` we sent) says `text` to `target`.
pub fn says(sent: &Message, target: &str, text: &str) -> bool {
    matches!(sent.params.as_slice(), [to, said, ..]
        if to.eq_ignore_ascii_case(target) && said == text)
}

/// A message sent whose echo has not come back yet; `pending` once shown as pending (it
/// survived a lost connection or was typed while disconnected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message: Message,
    pub pending: bool,
}

/// Messages sent whose echo (with echo-message) or refusal has not arrived yet, oldest first.
/// Echoes come in order, so each echo acknowledges the first. Those still here when a
/// connection is lost are sent again after reconnecting, unless the gap-filling history shows
/// they arrived.
#[derive(Debug, Default)]
pub struct Unacknowledged {
    sent: VecDeque<Sent>,
}

impl Unacknowledged {
    pub fn push(&mut self, message: Message, pending: bool) {
        self.sent.push_back(Sent { message, pending });
    }

    /// Our echo (or a refusal) came: the oldest is acknowledged.
    pub fn acknowledge(&mut self) -> Option<Sent> {
        self.sent.pop_front()
    }

    /// A message of ours (`from_us`) in the gap-filling history: if it is the oldest
    /// unacknowledged one, it arrived although its echo was lost, and needs no resending.
    pub fn delivered_in_history(&mut self, from_us: bool, target: &str, text: &str) -> bool {
        let oldest = self
            .sent
            .front()
            .is_some_and(|sent| says(&sent.message, target, text));
        from_us && oldest && self.sent.pop_front().is_some()
    }

    /// The connection was lost: those not shown as pending yet are marked (and returned, to
    /// be shown).
    pub fn mark_pending(&mut self) -> Vec<Message> {
        self.sent
            .iter_mut()
            .filter(|sent| !sent.pending)
            .map(|sent| {
                sent.pending = true;
                sent.message.clone()
            })
            .collect()
    }

    /// Takes those to send again.
    pub fn take(&mut self) -> Vec<Sent> {
        self.sent.drain(..).collect()
    }

    /// Takes those to `target` out (the room cannot be rejoined).
    pub fn take_for(&mut self, target: &str) -> Vec<Sent> {
        let (gone, kept) = self.sent.drain(..).partition(|sent| {
            sent.message
                .params
                .first()
                .is_some_and(|t| t.eq_ignore_ascii_case(target))
        });
        self.sent = kept;
        gone.into_iter().collect()
    }

    pub fn len(&self) -> usize {
        self.sent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }
}

/// The `CHATHISTORY AFTER` answers a reconnection waits for.
#[derive(Debug, Default)]
pub struct GapFill {
    /// Rooms whose request was sent and whose batch has not ended, oldest request first.
    pub requested: Vec<String>,
    /// Open `chathistory` batches: reference → room.
    batches: std::collections::HashMap<String, String>,
}

impl GapFill {
    pub fn is_done(&self) -> bool {
        self.requested.is_empty()
    }

    pub fn clear(&mut self) {
        self.requested.clear();
        self.batches.clear();
    }

    /// Whether `message` belongs to a batch answering one of our requests.
    pub fn is_from_history(&self, message: &Message) -> bool {
        message
            .tag("batch")
            .is_some_and(|batch| self.batches.contains_key(batch))
    }

    /// Follows `BATCH` starts and ends, and `FAIL CHATHISTORY` (replies come in order: a
    /// refused request is the oldest one).
    pub fn follow(&mut self, command: &str, params: &[String]) {
        match (command, params) {
            ("BATCH", [start, kind, target, ..])
                if kind == "chathistory"
                    && start.starts_with('+')
                    && self
                        .requested
                        .iter()
                        .any(|room| room.eq_ignore_ascii_case(target)) =>
            {
                self.batches.insert(start[1..].to_owned(), target.clone());
            }
            ("BATCH", [end, ..]) if end.starts_with('-') => {
                if let Some(room) = self.batches.remove(&end[1..]) {
                    self.requested.retain(|r| !r.eq_ignore_ascii_case(&room));
                }
            }
            ("FAIL", [failed, ..])
                if failed.eq_ignore_ascii_case("CHATHISTORY") && !self.requested.is_empty() =>
            {
                self.requested.remove(0);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn privmsg(target: &str, text: &str) -> Message {
        Message::new("PRIVMSG", vec![target.into(), text.into()])
    }

    #[test]
    fn unacknowledged_messages_are_marked_once_and_skipped_when_history_has_them() {
        let mut sent = Unacknowledged::default();
        sent.push(privmsg("#ops", "one"), false);
        sent.push(privmsg("#ops", "two"), false);
        sent.push(privmsg("#dev", "three"), true);
        assert_eq!(sent.mark_pending().len(), 2);
        assert!(sent.mark_pending().is_empty(), "marked once");
        assert!(
            !sent.delivered_in_history(false, "#ops", "one"),
            "not from us"
        );
        assert!(
            !sent.delivered_in_history(true, "#ops", "two"),
            "not the oldest"
        );
        assert!(sent.delivered_in_history(true, "#OPS", "one"));
        assert_eq!(sent.take_for("#dev").len(), 1);
        let rest = sent.take();
        assert_eq!(rest.len(), 1);
        assert!(rest[0].pending && says(&rest[0].message, "#ops", "two"));
        assert!(sent.is_empty());
    }

    #[test]
    fn gap_fill_waits_for_each_requested_batch_or_its_refusal() {
        let mut fill = GapFill {
            requested: vec!["#a".into(), "#b".into()],
            ..GapFill::default()
        };
        let params = |line: &str| Message::parse(line).unwrap();
        let start = params(":s BATCH +x chathistory #a");
        fill.follow("BATCH", &start.params);
        assert!(fill.is_from_history(&params("@batch=x :u PRIVMSG #a :hi")));
        fill.follow("BATCH", &params(":s BATCH -x").params);
        assert_eq!(fill.requested, ["#b"]);
        fill.follow(
            "FAIL",
            &params(":s FAIL CHATHISTORY MESSAGE_ERROR #b :no").params,
        );
        assert!(fill.is_done());
    }

    #[test]
    fn seen_ids_show_a_message_once_and_forget_the_oldest() {
        let mut seen = SeenIds::default();
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"));
        for i in 0..SEEN_MSGIDS {
            seen.insert(&i.to_string());
        }
        assert!(seen.insert("a"), "the oldest id is forgotten");
        assert_eq!(seen.order.len(), SEEN_MSGIDS);
    }

    #[test]
    fn after_requests_prefer_msgid_then_timestamp() {
        let mark = RoomMark {
            msgid: Some("m1".into()),
            time: Some("2026-01-01T00:00:00.000Z".into()),
        };
        let request = after_request("#ops", &mark, true).unwrap();
        assert_eq!(request.params, ["AFTER", "#ops", "msgid=m1", "100"]);
        let request = after_request("#ops", &mark, false).unwrap();
        assert_eq!(request.params[2], "timestamp=2026-01-01T00:00:00.000Z");
        assert!(after_request("#ops", &RoomMark::default(), true).is_none());
    }
}
