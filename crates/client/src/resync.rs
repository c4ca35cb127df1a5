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

#[cfg(test)]
mod tests {
    use super::*;

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
