//! What the link needs to catch up after a reconnection: where each room's history stands
//! ([`Marks`]), the `CHATHISTORY AFTER` request that fills the gap ([`after_request`]) and the
//! batches answering it ([`GapFill`]), and the `msgid`s already shown ([`SeenIds`]), so a
//! message that comes twice (live, then again in the history) is shown once.

use std::collections::{HashMap, HashSet, VecDeque};

use palaver_proto::irc::Message;

use crate::model::is_channel;

/// Messages asked for per room to fill a gap (palaver's `CHATHISTORY` maximum).
pub const HISTORY_LIMIT: usize = 100;
/// `msgid`s remembered to show no message twice.
pub const SEEN_MSGIDS: usize = 4096;

/// Where a room's history stands: the last message and time seen in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomMark {
    /// The `msgid` of the last message seen in the room.
    pub msgid: Option<String>,
    /// The `time` tag of the last event seen in the room.
    pub time: Option<String>,
}

/// Every room's [`RoomMark`], by ASCII-lowercased name.
#[derive(Debug, Default)]
pub struct Marks {
    by_room: HashMap<String, RoomMark>,
}

impl Marks {
    /// Where `room`'s history stands (nothing known: the default).
    pub fn of(&self, room: &str) -> RoomMark {
        self.by_room
            .get(&room.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// Moves `room`'s mark past `message`, if it is an event in a room. Marks only move
    /// forward: a message older than the mark (older history fetched by scrolling up) leaves it
    /// where it is. `time` tags are ISO 8601 in UTC with a fixed width (IRCv3 server-time), so
    /// they compare as strings.
    pub fn follow(&mut self, message: &Message) {
        let command = message.command.to_ascii_uppercase();
        let Some(room) = message.params.first().filter(|target| is_channel(target)) else {
            return;
        };
        if !matches!(
            command.as_str(),
            "PRIVMSG" | "NOTICE" | "JOIN" | "PART" | "KICK" | "TOPIC" | "MODE"
        ) {
            return;
        }
        let mark = self.by_room.entry(room.to_ascii_lowercase()).or_default();
        if let Some(time) = message.tag("time") {
            if mark.time.as_deref().is_some_and(|seen| time < seen) {
                return;
            }
            mark.time = Some(time.to_owned());
        }
        if matches!(command.as_str(), "PRIVMSG" | "NOTICE")
            && let Some(msgid) = message.tag("msgid")
        {
            mark.msgid = Some(msgid.to_owned());
        }
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

/// The `CHATHISTORY AFTER` answers a reconnection waits for.
#[derive(Debug, Default)]
pub struct GapFill {
    /// Rooms whose request was sent and whose batch has not ended, oldest request first.
    requested: Vec<String>,
    /// Open `chathistory` batches: reference → room.
    batches: HashMap<String, String>,
}

impl GapFill {
    /// The history of `room` was asked for.
    pub fn request(&mut self, room: &str) {
        self.requested.push(room.to_owned());
    }

    pub fn is_done(&self) -> bool {
        self.requested.is_empty()
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

    #[test]
    fn gap_fill_waits_for_each_requested_batch_or_its_refusal() {
        let mut fill = GapFill::default();
        fill.request("#a");
        fill.request("#b");
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
    fn marks_move_forward_only() {
        let mut marks = Marks::default();
        let parse = |line: &str| Message::parse(line).unwrap();
        marks.follow(&parse(
            "@time=2026-01-01T00:00:02.000Z;msgid=m2 :a!b@c PRIVMSG #Ops :two",
        ));
        // Older history (scrolling up) does not move the mark back.
        marks.follow(&parse(
            "@time=2026-01-01T00:00:01.000Z;msgid=m1 :a!b@c PRIVMSG #ops :one",
        ));
        assert_eq!(marks.of("#OPS").msgid.as_deref(), Some("m2"));
        marks.follow(&parse("@time=2026-01-01T00:00:03.000Z :a!b@c JOIN #ops"));
        let mark = marks.of("#ops");
        assert_eq!(mark.msgid.as_deref(), Some("m2"), "a join carries no msgid");
        assert_eq!(mark.time.as_deref(), Some("2026-01-01T00:00:03.000Z"));
        assert_eq!(marks.of("#elsewhere"), RoomMark::default());
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
