//! Listings and lookups: `NAMES`, `LIST`, `WHO`, `WHOIS`, `ISON`, `USERHOST`, and the topic
//! replies shared with `JOIN` and `TOPIC`.

use palaver_proto::irc::caps::Cap;
use palaver_proto::irc::mask;
use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;
use palaver_proto::names::fold;
use palaver_proto::room_filter::RoomFilter;

use super::IrcSession;
use crate::hub::{MemberInfo, Room, Topic, User};
use crate::session::Flow;

/// Names per `RPL_NAMREPLY` line, keeping it well under 512 bytes with `userhost-in-names`.
const NAMES_PER_LINE: usize = 8;

/// 332 and 333 for a topic.
pub fn send_topic(session: &mut IrcSession, room: &str, topic: &Topic) {
    session.numeric(RPL_TOPIC, &[room, &topic.text]);
    let set_at = (topic.set_at.0 / 1000).to_string();
    session.numeric(RPL_TOPICWHOTIME, &[room, &topic.set_by, &set_at]);
}

/// A member's prefix: `@`, `+`, or with multi-prefix every one that applies.
fn prefix(op: bool, voice: bool, multi_prefix: bool) -> String {
    let mut prefix = String::new();
    if op {
        prefix.push('@');
    }
    if voice && (multi_prefix || prefix.is_empty()) {
        prefix.push('+');
    }
    prefix
}

fn member_prefix(member: &MemberInfo, multi_prefix: bool) -> String {
    prefix(member.op, member.voice, multi_prefix)
}

/// 353 lines and 366 for `room`, asked about as `asked_as`: the members the user may see
/// (see `hub::visibility`); only the 366, naming the room as asked, for a secret room it is
/// not in, exactly as for a room that does not exist.
pub fn send_names(session: &mut IrcSession, room: &Room, asked_as: &str) {
    let name = send_name_replies(session, room);
    let name = name.as_deref().unwrap_or(asked_as);
    session.numeric(RPL_ENDOFNAMES, &[name, "End of /NAMES list"]);
}

/// The 353 lines for `room` (none for a secret room the user is not in); returns the room's
/// name if it was shown.
fn send_name_replies(session: &mut IrcSession, room: &Room) -> Option<std::sync::Arc<str>> {
    let viewer = session.user().clone();
    let info = session.hub.room_view(&viewer, room)?;
    let symbol = if info.modes.secret { "@" } else { "=" };
    let multi_prefix = session.caps.contains(Cap::MultiPrefix);
    let userhost = session.caps.contains(Cap::UserhostInNames);
    let names: Vec<String> = info
        .members
        .iter()
        .map(|member| {
            let name = if userhost {
                member.identity.mask()
            } else {
                member.identity.nick.to_string()
            };
            format!("{}{name}", member_prefix(member, multi_prefix))
        })
        .collect();
    for chunk in names.chunks(NAMES_PER_LINE) {
        session.numeric(RPL_NAMREPLY, &[symbol, &info.name, &chunk.join(" ")]);
    }
    Some(info.name)
}

/// `NAMES #a` answers as `JOIN` does; `NAMES #a,#b` sends each channel's 353 lines and then
/// one 366 naming the whole list (RFC 2812 §3.2.5).
pub fn names(session: &mut IrcSession, message: &Message) -> Flow {
    let Some(targets) = message.params.first() else {
        session.numeric(RPL_ENDOFNAMES, &["*", "End of /NAMES list"]);
        return Flow::Continue;
    };
    let names: Vec<&str> = targets.split(',').filter(|name| !name.is_empty()).collect();
    if let [name] = names[..] {
        match session.hub.room(name) {
            Some(room) => send_names(session, &room, name),
            None => session.numeric(RPL_ENDOFNAMES, &[name, "End of /NAMES list"]),
        }
        return Flow::Continue;
    }
    for name in names {
        if let Some(room) = session.hub.room(name) {
            send_name_replies(session, &room);
        }
    }
    session.numeric(RPL_ENDOFNAMES, &[targets, "End of /NAMES list"]);
    Flow::Continue
}

/// `LIST [filter,…]`: channel names, masks and the `ELIST` conditions (see
/// `palaver_proto::room_filter`), comma-separated, in any parameter.
pub fn list(session: &mut IrcSession, message: &Message) -> Flow {
    let filter = RoomFilter::parse(message.params.iter().flat_map(|param| param.split(',')));
    let viewer = session.user().clone();
    session.numeric(RPL_LISTSTART, &["Channel", "Users  Name"]);
    for room in session.hub.rooms_matching(&viewer, &filter) {
        let count = room.members.to_string();
        let topic = room.topic.as_deref().unwrap_or("");
        session.numeric(RPL_LIST, &[&room.name, &count, topic]);
    }
    session.numeric(RPL_LISTEND, &["End of /LIST"]);
    Flow::Continue
}

/// One 352 line.
fn who_reply(session: &mut IrcSession, channel: &str, user: &User, status: &str) {
    let identity = user.identity();
    let here = if user.away().is_some() { "G" } else { "H" };
    let server = session.settings.server_name.clone();
    session.numeric(
        RPL_WHOREPLY,
        &[
            channel,
            &identity.user,
            &identity.host,
            &server,
            &identity.nick,
            &format!("{here}{status}"),
            &format!("0 {}", identity.realname),
        ],
    );
}

pub fn who(session: &mut IrcSession, message: &Message) -> Flow {
    let target = message
        .params
        .first()
        .cloned()
        .unwrap_or_else(|| "*".into());
    let viewer = session.user().clone();
    let multi_prefix = session.caps.contains(Cap::MultiPrefix);
    if target.starts_with('#') {
        // Only the members the viewer may see; nothing of a secret room it is not in.
        let view = session
            .hub
            .room(&target)
            .and_then(|room| session.hub.room_view(&viewer, &room));
        if let Some(info) = view {
            for member in &info.members {
                let status = member_prefix(member, multi_prefix);
                who_reply(session, &info.name, &member.user, &status);
            }
        }
    } else {
        // A nick or a mask over nick!user@host, skipping invisible users one shares no
        // channel with.
        let pattern = fold(&target);
        let viewer = session.hub.viewer(&viewer);
        for user in session.hub.users() {
            let identity = user.identity();
            let matched = pattern == "*"
                || pattern == "0"
                || mask::matches(&pattern, &fold(&identity.nick))
                || mask::matches(&pattern, &fold(&identity.mask()));
            if matched && viewer.may_see_user(&user) {
                who_reply(session, "*", &user, "");
            }
        }
    }
    session.numeric(RPL_ENDOFWHO, &[&target, "End of WHO list"]);
    Flow::Continue
}

pub fn whois(session: &mut IrcSession, message: &Message) -> Flow {
    // `WHOIS server nick` names a server first; there is only this one.
    let nick = message.params.last().expect("command table checks").clone();
    let Some(user) = session.hub.user_by_nick(&nick) else {
        session.numeric(ERR_NOSUCHNICK, &[&nick, "No such nick/channel"]);
        session.numeric(RPL_ENDOFWHOIS, &[&nick, "End of /WHOIS list"]);
        return Flow::Continue;
    };
    let viewer = session.user().clone();
    let identity = user.identity();
    session.numeric(
        RPL_WHOISUSER,
        &[
            &identity.nick,
            &identity.user,
            &identity.host,
            "*",
            &identity.realname,
        ],
    );
    // Secret channels only if the viewer shares them.
    let channels: Vec<String> = session
        .hub
        .visible_memberships(&viewer, &user)
        .iter()
        .map(|membership| {
            let status = prefix(membership.op, membership.voice, false);
            format!("{status}{}", membership.room)
        })
        .collect();
    if !channels.is_empty() {
        session.numeric(RPL_WHOISCHANNELS, &[&identity.nick, &channels.join(" ")]);
    }
    let server = session.settings.server_name.clone();
    let network = session.settings.network.clone();
    session.numeric(RPL_WHOISSERVER, &[&identity.nick, &server, &network]);
    if let Some(account) = &identity.account {
        session.numeric(
            RPL_WHOISACCOUNT,
            &[&identity.nick, account, "is logged in as"],
        );
    }
    if let Some(away) = user.away() {
        session.numeric(RPL_AWAY, &[&identity.nick, &away]);
    }
    let idle = user.idle_seconds().to_string();
    let signon = (user.connected_at.0 / 1000).to_string();
    session.numeric(
        RPL_WHOISIDLE,
        &[&identity.nick, &idle, &signon, "seconds idle, signon time"],
    );
    session.numeric(RPL_ENDOFWHOIS, &[&identity.nick, "End of /WHOIS list"]);
    Flow::Continue
}

pub fn ison(session: &mut IrcSession, message: &Message) -> Flow {
    let online: Vec<String> = message
        .params
        .iter()
        .flat_map(|param| param.split(' '))
        .filter_map(|nick| session.hub.user_by_nick(nick))
        .map(|user| user.nick().into())
        .collect();
    session.numeric(RPL_ISON, &[&online.join(" ")]);
    Flow::Continue
}

pub fn userhost(session: &mut IrcSession, message: &Message) -> Flow {
    let replies: Vec<String> = message
        .params
        .iter()
        .take(5)
        .filter_map(|nick| session.hub.user_by_nick(nick))
        .map(|user| {
            let identity = user.identity();
            let presence = if user.away().is_some() { '-' } else { '+' };
            format!(
                "{}={presence}{}@{}",
                identity.nick, identity.user, identity.host
            )
        })
        .collect();
    session.numeric(RPL_USERHOST, &[&replies.join(" ")]);
    Flow::Continue
}
