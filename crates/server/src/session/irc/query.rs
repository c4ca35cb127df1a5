//! Listings and lookups: `NAMES`, `LIST`, `WHO` (with IRCv3 WHOX), `WHOIS`, `ISON`,
//! `USERHOST`, and the topic replies shared with `JOIN` and `TOPIC`.

use std::sync::Arc;

use palaver_proto::event::Identity;
use palaver_proto::irc::caps::Cap;
use palaver_proto::irc::mask;
use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;
use palaver_proto::irc::whox::{NO_ACCOUNT, UNDISCLOSED_IP, WhoxField, WhoxQuery};
use palaver_proto::names::{self, fold};
use palaver_proto::room_filter::RoomFilter;

use super::IrcSession;
use super::mode::BOT_MODE;
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
    let info = session.context.hub.room_view(&viewer, room)?;
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
        match session.context.hub.room(name) {
            Some(room) => send_names(session, &room, name),
            None => session.numeric(RPL_ENDOFNAMES, &[name, "End of /NAMES list"]),
        }
        return Flow::Continue;
    }
    for name in names {
        if let Some(room) = session.context.hub.room(name) {
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
    for room in session.context.hub.rooms_matching(&viewer, &filter) {
        let count = room.members.to_string();
        let topic = room.topic.as_deref().unwrap_or("");
        session.numeric(RPL_LIST, &[&room.name, &count, topic]);
    }
    session.numeric(RPL_LISTEND, &["End of /LIST"]);
    Flow::Continue
}

/// The flags of a `WHO` reply (`352`, and WHOX `f`): `H` (here) or `G` (gone: away), `*` for a
/// server operator, `B` for a bot (`BOT=B`), then the user's prefixes in the channel the reply
/// names.
fn who_flags(user: &User, identity: &Identity, prefix: &str) -> String {
    let mut flags = String::from(if user.away().is_some() { "G" } else { "H" });
    if user.is_operator() {
        flags.push('*');
    }
    if identity.bot {
        flags.push(BOT_MODE);
    }
    flags.push_str(prefix);
    flags
}

/// One user a `WHO` found: the channel the reply names (`*` when it was not asked about a
/// channel) and the user's prefixes there.
struct WhoEntry {
    channel: Arc<str>,
    user: Arc<User>,
    prefix: String,
}

/// One `352` line.
fn who_reply(session: &mut IrcSession, entry: &WhoEntry) {
    let identity = entry.user.identity();
    let flags = who_flags(&entry.user, &identity, &entry.prefix);
    let server = session.context.irc.server_name.clone();
    session.numeric(
        RPL_WHOREPLY,
        &[
            &entry.channel,
            &identity.user,
            &identity.host,
            &server,
            &identity.nick,
            &flags,
            &format!("{WHO_HOPS} {}", identity.realname),
        ],
    );
}

/// One `354` line (IRCv3 WHOX) with the fields `query` asks for.
fn whox_reply(session: &mut IrcSession, entry: &WhoEntry, query: &WhoxQuery) {
    let user = &entry.user;
    let identity = user.identity();
    let server = session.context.irc.server_name.clone();
    let params = query.reply_params(|field| match field {
        WhoxField::Token => query.token().to_owned(),
        WhoxField::Channel => entry.channel.to_string(),
        WhoxField::User => identity.user.to_string(),
        // The address is no secret where the host shows it; a cloaked one stays hidden.
        WhoxField::Ip => {
            let ip = user.peer.ip().to_string();
            if *identity.host == *ip {
                ip
            } else {
                UNDISCLOSED_IP.to_owned()
            }
        }
        WhoxField::Host => identity.host.to_string(),
        WhoxField::Server => server.clone(),
        WhoxField::Nick => identity.nick.to_string(),
        WhoxField::Flags => who_flags(user, &identity, &entry.prefix),
        WhoxField::Hops => WHO_HOPS.to_string(),
        WhoxField::Idle => user.idle_seconds().to_string(),
        WhoxField::Account => identity.account.as_deref().unwrap_or(NO_ACCOUNT).to_owned(),
        // ircu's channel op levels do not exist here.
        WhoxField::OpLevel => "n/a".to_owned(),
        WhoxField::Realname => identity.realname.to_string(),
    });
    let params: Vec<&str> = params.iter().map(String::as_str).collect();
    session.numeric(RPL_WHOSPCRPL, &params);
}

/// Hops between this server and every user: there is one server.
const WHO_HOPS: u32 = 0;

/// `WHO #channel`, `WHO nick` or `WHO mask`, optionally with WHOX fields (`WHO mask %fields`).
pub fn who(session: &mut IrcSession, message: &Message) -> Flow {
    let target = message
        .params
        .first()
        .cloned()
        .unwrap_or_else(|| "*".into());
    let whox = message
        .params
        .get(1)
        .and_then(|fields| WhoxQuery::parse(fields));
    let entries = who_entries(session, &target);
    for entry in &entries {
        match &whox {
            Some(query) => whox_reply(session, entry, query),
            None => who_reply(session, entry),
        }
    }
    session.numeric(RPL_ENDOFWHO, &[&target, "End of WHO list"]);
    Flow::Continue
}

/// The users `WHO target` shows its sender.
fn who_entries(session: &IrcSession, target: &str) -> Vec<WhoEntry> {
    let viewer = session.user().clone();
    let multi_prefix = session.caps.contains(Cap::MultiPrefix);
    if target.starts_with('#') {
        // Only the members the viewer may see; nothing of a secret room it is not in.
        let view = session
            .context
            .hub
            .room(target)
            .and_then(|room| session.context.hub.room_view(&viewer, &room));
        return view
            .map(|info| {
                info.members
                    .iter()
                    .map(|member| WhoEntry {
                        channel: info.name.clone(),
                        user: member.user.clone(),
                        prefix: member_prefix(member, multi_prefix),
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    let no_channel: Arc<str> = Arc::from("*");
    let found = |user: Arc<User>| WhoEntry {
        channel: no_channel.clone(),
        user,
        prefix: String::new(),
    };
    if names::validate_nick(target).is_ok() {
        // A plain nick is a lookup, as `WHOIS` is: it finds an invisible user too.
        return session
            .context
            .hub
            .user_by_nick(target)
            .map(found)
            .into_iter()
            .collect();
    }
    // A mask over nicks or nick!user@host: a search, which skips invisible users one shares
    // no channel with.
    let pattern = fold(target);
    let viewer = session.context.hub.viewer(&viewer);
    session
        .context
        .hub
        .users()
        .into_iter()
        .filter(|user| {
            let identity = user.identity();
            let matched = pattern == "*"
                || pattern == "0"
                || mask::matches(&pattern, &fold(&identity.nick))
                || mask::matches(&pattern, &fold(&identity.mask()));
            matched && viewer.may_see_user(user)
        })
        .map(found)
        .collect()
}

pub fn whois(session: &mut IrcSession, message: &Message) -> Flow {
    // `WHOIS server nick` names a server first; there is only this one.
    let nick = message.params.last().expect("command table checks").clone();
    let Some(user) = session.context.hub.user_by_nick(&nick) else {
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
        .context
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
    let server = session.context.irc.server_name.clone();
    let network = session.context.irc.network.clone();
    session.numeric(RPL_WHOISSERVER, &[&identity.nick, &server, &network]);
    if user.is_operator() {
        session.numeric(RPL_WHOISOPERATOR, &[&identity.nick, "is an IRC operator"]);
    }
    if let Some(account) = &identity.account {
        session.numeric(
            RPL_WHOISACCOUNT,
            &[&identity.nick, account, "is logged in as"],
        );
    }
    if identity.bot {
        session.numeric(RPL_WHOISBOT, &[&identity.nick, "is a bot"]);
    }
    if user.is_tls() {
        session.numeric(
            RPL_WHOISSECURE,
            &[&identity.nick, "is using a secure connection"],
        );
    }
    // The certificate's fingerprint is what logs its account in: shown only to the user
    // itself and to server operators.
    let may_see_fingerprint = viewer.id == user.id || viewer.is_operator();
    if let Some(fingerprint) = user.certificate_fingerprint()
        && may_see_fingerprint
    {
        let text = format!("has client certificate fingerprint {fingerprint}");
        session.numeric(RPL_WHOISCERTFP, &[&identity.nick, &text]);
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
        .filter_map(|nick| session.context.hub.user_by_nick(nick))
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
        .filter_map(|nick| session.context.hub.user_by_nick(nick))
        .map(|user| {
            let identity = user.identity();
            let presence = if user.away().is_some() { '-' } else { '+' };
            let operator = if user.is_operator() { "*" } else { "" };
            format!(
                "{}{operator}={presence}{}@{}",
                identity.nick, identity.user, identity.host
            )
        })
        .collect();
    session.numeric(RPL_USERHOST, &[&replies.join(" ")]);
    Flow::Continue
}
