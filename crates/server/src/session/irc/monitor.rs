//! `MONITOR` (IRCv3 monitor): the `+ - C L S` modifiers and numerics 730–734. The list and
//! the notifications sent as monitored nicks come and go belong to the hub (`hub::monitor`),
//! shared with the text protocol's `/monitor`; this file only speaks IRC.

use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;
use palaver_proto::irc::render::MAX_MESSAGE_BYTES;
use palaver_proto::names;

use super::IrcSession;
use crate::hub::{MAX_MONITORED, MonitorStatus};
use crate::session::Flow;

/// The text of `734 ERR_MONLISTFULL`.
const LIST_FULL: &str = "Monitor list is full";

pub fn monitor(session: &mut IrcSession, message: &Message) -> Flow {
    let user = session.user().clone();
    let targets: Vec<&str> = message
        .params
        .get(1)
        .map(|targets| targets.split(',').filter(|nick| !nick.is_empty()).collect())
        .unwrap_or_default();
    let modifier = message.params[0].as_str();
    let needs_targets = matches!(modifier, "+" | "-");
    if needs_targets && targets.is_empty() {
        session.numeric(ERR_NEEDMOREPARAMS, &["MONITOR", "Not enough parameters"]);
        return Flow::Continue;
    }
    match modifier {
        "+" => {
            // Only nicks: a mask would let one follow a user across nick changes.
            let mut nicks = Vec::with_capacity(targets.len());
            for target in targets {
                if names::validate_nick(target).is_ok() {
                    nicks.push(target);
                } else {
                    session.numeric(ERR_ERRONEUSNICKNAME, &[target, "Erroneous nickname"]);
                }
            }
            let status = session.context.hub.monitor(&user, &nicks);
            send_status(session, &status);
            // `734 nick <limit> <targets> :Monitor list is full`: the targets come before the
            // limit's text, which takes the rest of the line.
            let limit = MAX_MONITORED.to_string();
            let room = list_room(session, limit.len() + 1 + LIST_FULL.len() + 2);
            for refused in comma_lines(&status.refused, room) {
                session.numeric(ERR_MONLISTFULL, &[&limit, &refused, LIST_FULL]);
            }
        }
        "-" => session.context.hub.unmonitor(&user, &targets),
        "C" | "c" => session.context.hub.clear_monitor(&user),
        "L" | "l" => {
            let listed = user.monitored();
            for line in comma_lines(&listed, list_room(session, 0)) {
                session.numeric(RPL_MONLIST, &[&line]);
            }
            session.numeric(RPL_ENDOFMONLIST, &["End of MONITOR list"]);
        }
        "S" | "s" => {
            let status = session.context.hub.monitor_status(&user);
            send_status(session, &status);
        }
        other => session.fail_or_notice(
            "MONITOR",
            "INVALID_PARAMS",
            &[other],
            "Unknown MONITOR modifier (use +, -, C, L or S)",
        ),
    }
    Flow::Continue
}

/// `730` for the online nicks (as `nick!user@host`) and `731` for the offline ones, as many
/// lines of each as they need.
fn send_status(session: &mut IrcSession, status: &MonitorStatus) {
    let online: Vec<String> = status.online.iter().map(|who| who.mask()).collect();
    for line in comma_lines(&online, list_room(session, 0)) {
        session.numeric(RPL_MONONLINE, &[&line]);
    }
    for line in comma_lines(&status.offline, list_room(session, 0)) {
        session.numeric(RPL_MONOFFLINE, &[&line]);
    }
}

/// Bytes left for a comma-separated list as the last parameter of a numeric to this client
/// (`:server 7xx nick [more] :list` and CRLF), `more` being the other parameters' bytes.
fn list_room(session: &IrcSession, more: usize) -> usize {
    let overhead = 1 + session.replies.server_name().len() + 5 + session.reply_nick().len() + 2;
    MAX_MESSAGE_BYTES.saturating_sub(overhead + more + 2)
}

/// `items` joined with commas into as few lines as keep each within `room` bytes (an item
/// longer than that gets a line of its own); none for no items.
fn comma_lines<T: AsRef<str>>(items: &[T], room: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for item in items.iter().map(AsRef::as_ref) {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + item.len() <= room => {
                line.push(',');
                line.push_str(item);
            }
            _ => lines.push(item.to_owned()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_cut_between_items_to_fit_a_line() {
        assert!(comma_lines::<&str>(&[], 10).is_empty());
        assert_eq!(comma_lines(&["a", "bb", "ccc"], 100), ["a,bb,ccc"]);
        assert_eq!(comma_lines(&["a", "bb", "ccc"], 4), ["a,bb", "ccc"]);
        assert_eq!(comma_lines(&["a", "bb", "ccc"], 3), ["a", "bb", "ccc"]);
        // Too long for any line: alone, never split.
        assert_eq!(comma_lines(&["abcdef", "g"], 3), ["abcdef", "g"]);
    }
}
