//! The nicks users left behind, for IRC `WHOWAS`: who used a nick until they disconnected or
//! changed it, newest first. The history is bounded: it keeps the last
//! [`NICK_HISTORY_MAX`] departures, whatever the nicks, and lives only as long as the server
//! runs (nothing of it is stored).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use palaver_proto::event::Identity;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

use crate::lock;

/// How many departures the history keeps: enough to answer `WHOWAS` about anyone who left in
/// the last while on a busy server, at a few hundred bytes each (a quarter of a megabyte in
/// all). The oldest is forgotten first.
pub const NICK_HISTORY_MAX: usize = 1024;

/// Someone who stopped using a nick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departed {
    /// The identity it had under that nick, the moment it left it.
    pub identity: Arc<Identity>,
    /// When it left the nick (disconnected, or changed nick).
    pub left_at: Timestamp,
}

/// The bounded history of departures, oldest first. Its lock is a leaf: taken alone, for a
/// push or a scan, never while another lock is held.
#[derive(Debug, Default)]
pub struct NickHistory {
    departures: Mutex<VecDeque<Departed>>,
}

impl NickHistory {
    /// Remembers that `identity` stopped using its nick now.
    pub fn record(&self, identity: Arc<Identity>) {
        self.record_at(identity, Timestamp::now());
    }

    fn record_at(&self, identity: Arc<Identity>, left_at: Timestamp) {
        let mut departures = lock(&self.departures);
        if departures.len() == NICK_HISTORY_MAX {
            departures.pop_front();
        }
        departures.push_back(Departed { identity, left_at });
    }

    /// The departures from `nick` (ignoring ASCII case), newest first, at most `limit` of them
    /// (`None`: all that are kept).
    pub fn lookup(&self, nick: &str, limit: Option<usize>) -> Vec<Departed> {
        let key = fold(nick);
        lock(&self.departures)
            .iter()
            .rev()
            .filter(|departed| fold(&departed.identity.nick) == key)
            .take(limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(nick: &str, user: &str) -> Arc<Identity> {
        Arc::new(Identity {
            nick: nick.into(),
            user: user.into(),
            host: "127.0.0.1".into(),
            realname: "".into(),
            account: None,
            bot: false,
        })
    }

    fn users(departures: &[Departed]) -> Vec<&str> {
        departures
            .iter()
            .map(|departed| &*departed.identity.user)
            .collect()
    }

    #[test]
    fn lookups_are_newest_first_case_insensitive_and_limited() {
        let history = NickHistory::default();
        history.record_at(identity("nick2", "~first"), Timestamp(1));
        history.record_at(identity("other", "~other"), Timestamp(2));
        history.record_at(identity("Nick2", "~second"), Timestamp(3));
        assert_eq!(users(&history.lookup("NICK2", None)), ["~second", "~first"]);
        assert_eq!(users(&history.lookup("nick2", Some(1))), ["~second"]);
        assert_eq!(history.lookup("nick2", None)[1].left_at, Timestamp(1));
        assert!(history.lookup("nobody", None).is_empty());
    }

    #[test]
    fn the_oldest_departure_is_forgotten_first() {
        let history = NickHistory::default();
        history.record(identity("early", "~early"));
        for _ in 0..NICK_HISTORY_MAX {
            history.record(identity("busy", "~busy"));
        }
        assert!(history.lookup("early", None).is_empty());
        assert_eq!(history.lookup("busy", None).len(), NICK_HISTORY_MAX);
    }
}
