//! The IRC command table, and the simple commands that touch neither channels nor listings.
//!
//! Every command, even an unknown one, goes through [`dispatch`], which checks registration
//! and the minimum number of parameters centrally, so those answers are uniform.

use std::pin::Pin;

use palaver_proto::irc::caps::Cap;
use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;

use super::{
    IrcSession, account, cap, channel, chathistory, help, mode, monitor, multiline, operator,
    query, read_marker, redaction, registration, sasl, server_bans, server_queries, whowas,
};
use crate::session::Flow;

/// How a command is handled: at once, from what this server knows; or, for a command that
/// changes what the network shares, by a handler that awaits the network's answer
/// (`network.rs`), boxed while it runs so that an idle session carries none of its state.
/// Work that needs the store (`REDACT`, `REGISTER`, logins, history) is queued by either kind
/// as the session's pending work and awaited after the handler returns (`handle_frame`).
#[derive(Clone, Copy)]
enum Handler {
    Now(fn(&mut IrcSession, &Message) -> Flow),
    Awaiting(for<'a> fn(&'a mut IrcSession, &'a Message) -> BoxFuture<'a, Flow>),
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The [`Handler::Awaiting`] for an `async fn` handler.
macro_rules! awaiting {
    ($handler:path) => {
        Handler::Awaiting(|session, message| Box::pin($handler(session, message)))
    };
}

struct Spec {
    name: &'static str,
    /// Parameters below this count are answered with `ERR_NEEDMOREPARAMS`.
    min_params: usize,
    /// Whether the command works before registration completes.
    before_registration: bool,
    /// Whether it needs the rest of the network (refused while this server's link is down).
    reach: Reach,
    handler: Handler,
}

/// What a command needs of the rest of the network (docs/CLUSTER.md, "Partition between a
/// node and Redis"). Messages are not listed as shared: the hub refuses them per target
/// (`HubError::LinkDown`).
#[derive(Clone, Copy)]
enum Reach {
    /// Answered by this server alone: queries, `PING`, capability negotiation, messages.
    Local,
    /// Changes what the network shares, or reads what only it holds: refused while the link
    /// is down.
    Shared,
    /// Shared in some of its forms only (`TOPIC #room text`, `MODE #room +m`), as the function
    /// says.
    SharedWhen(fn(&Message) -> bool),
}

impl Reach {
    fn needs_network(self, message: &Message) -> bool {
        match self {
            Reach::Local => false,
            Reach::Shared => true,
            Reach::SharedWhen(changes) => changes(message),
        }
    }
}

/// A command answered by this server alone (see [`Reach`] for the exceptions).
const fn spec(
    name: &'static str,
    min_params: usize,
    before_registration: bool,
    handler: Handler,
) -> Spec {
    Spec {
        name,
        min_params,
        before_registration,
        reach: Reach::Local,
        handler,
    }
}

/// A command that changes (or reads) what the network shares.
const fn shared(
    name: &'static str,
    min_params: usize,
    before_registration: bool,
    handler: Handler,
) -> Spec {
    spec(name, min_params, before_registration, handler).reaching(Reach::Shared)
}

/// The [`Handler::Now`] for `handler`.
const fn now(handler: fn(&mut IrcSession, &Message) -> Flow) -> Handler {
    Handler::Now(handler)
}

impl Spec {
    const fn reaching(mut self, reach: Reach) -> Self {
        self.reach = reach;
        self
    }
}

/// `TOPIC #room text` sets a topic; `TOPIC #room` only asks.
fn sets_topic(message: &Message) -> bool {
    message.params.len() >= 2
}

/// `MODE #room +m…` changes a room's modes; `MODE #room`, a list query (`MODE #room b`) and
/// user modes stay on this server.
fn changes_room_modes(message: &Message) -> bool {
    match message.params.as_slice() {
        [target, modes, rest @ ..] if target.starts_with('#') => {
            // `+b` alone lists the bans, as `b` does (and `e`, `I`).
            let list_query =
                rest.is_empty() && matches!(modes.trim_start_matches('+'), "b" | "e" | "I");
            (modes.contains('+') || modes.contains('-')) && !list_query
        }
        _ => false,
    }
}

/// Every command the server understands. `PRIVMSG`, `NOTICE` and `TAGMSG` check their own
/// parameters because their errors have dedicated numerics (411, 412).
const COMMANDS: &[Spec] = &[
    spec("CAP", 1, true, awaiting!(cap::cap)),
    spec("PASS", 1, true, now(registration::pass)),
    shared("NICK", 0, true, awaiting!(registration::nick)),
    spec("USER", 4, true, awaiting!(registration::user)),
    spec("PING", 1, true, now(ping)),
    spec("PONG", 0, true, now(pong)),
    spec("QUIT", 0, true, now(quit)),
    shared("JOIN", 1, false, awaiting!(channel::join)),
    shared("PART", 1, false, awaiting!(channel::part)),
    spec("PRIVMSG", 0, false, awaiting!(channel::privmsg)),
    spec("NOTICE", 0, false, awaiting!(channel::notice)),
    spec("TAGMSG", 0, false, awaiting!(channel::tagmsg)),
    spec("TOPIC", 1, false, awaiting!(channel::topic)).reaching(Reach::SharedWhen(sets_topic)),
    shared("INVITE", 2, false, awaiting!(channel::invite)),
    shared("KICK", 2, false, awaiting!(channel::kick)),
    spec("MODE", 1, false, awaiting!(mode::mode)).reaching(Reach::SharedWhen(changes_room_modes)),
    spec("NAMES", 0, false, now(query::names)),
    spec("LIST", 0, false, now(query::list)),
    spec("WHO", 0, false, now(query::who)),
    spec("WHOIS", 1, false, now(query::whois)),
    spec("WHOWAS", 1, false, now(whowas::whowas)),
    spec("ISON", 1, false, now(query::ison)),
    spec("USERHOST", 1, false, now(query::userhost)),
    spec("MONITOR", 1, false, now(monitor::monitor)),
    spec("LUSERS", 0, false, now(registration::lusers)),
    spec("MOTD", 0, false, now(registration::motd)),
    spec("INFO", 0, false, now(registration::info)),
    spec("TIME", 0, false, now(server_queries::time)),
    spec("LINKS", 0, false, now(server_queries::links)),
    spec("HELP", 0, false, now(help::help)),
    spec("HELPOP", 0, false, now(help::help)),
    shared("AWAY", 0, false, awaiting!(away)),
    shared("SETNAME", 1, false, awaiting!(setname)),
    shared("CHATHISTORY", 1, false, now(chathistory::chathistory)),
    spec("BATCH", 1, false, awaiting!(multiline::batch)),
    shared("REDACT", 2, false, now(redaction::redact)),
    // Checks its own parameters: its specification answers a missing one with a FAIL.
    shared("MARKREAD", 0, false, now(read_marker::markread)),
    shared("AUTHENTICATE", 1, true, awaiting!(sasl::authenticate)),
    shared("REGISTER", 0, true, now(account::register)),
    spec("OPER", 2, false, now(operator::oper)),
    shared("KILL", 1, false, awaiting!(operator::kill)),
    spec("WALLOPS", 1, false, awaiting!(operator::wallops)),
    shared("KLINE", 1, false, now(server_bans::kline)),
    shared("UNKLINE", 1, false, now(server_bans::unkline)),
    shared("DLINE", 1, false, now(server_bans::dline)),
    shared("UNDLINE", 1, false, now(server_bans::undline)),
    spec("STATS", 1, false, now(server_bans::stats)),
];

pub async fn dispatch(session: &mut IrcSession, message: &Message) -> Flow {
    let name = message.command.to_ascii_uppercase();
    let Some(spec) = COMMANDS.iter().find(|spec| spec.name == name) else {
        session.numeric(ERR_UNKNOWNCOMMAND, &[&message.command, "Unknown command"]);
        return Flow::Continue;
    };
    if session.user.is_none() && !spec.before_registration {
        session.numeric(ERR_NOTREGISTERED, &["You have not registered"]);
        return Flow::Continue;
    }
    if message.params.len() < spec.min_params {
        session.numeric(ERR_NEEDMOREPARAMS, &[spec.name, "Not enough parameters"]);
        return Flow::Continue;
    }
    if !session.context.hub.link_is_up() && spec.reach.needs_network(message) {
        refuse_while_link_down(session, spec.name, message);
        return Flow::Continue;
    }
    match spec.handler {
        Handler::Now(handler) => handler(session, message),
        Handler::Awaiting(handler) => handler(session, message).await,
    }
}

/// Why a command is refused while this server's link to the rest of the network is down.
pub(super) const LINK_DOWN: &str = "this server has lost its link to the rest of the network";

/// Answers a command refused while the link is down: `437` for `JOIN` and `NICK`, as IRC
/// servers answer a resource held elsewhere; `FAIL` (or a `NOTICE`) for the others.
fn refuse_while_link_down(session: &mut IrcSession, name: &str, message: &Message) {
    session.context.hub.count_link_refusal();
    let first = message.params.first().map_or("*", String::as_str);
    match name {
        "JOIN" | "NICK" => {
            let text = format!("Temporarily unavailable: {LINK_DOWN}");
            session.numeric(ERR_UNAVAILRESOURCE, &[first, &text]);
        }
        "CHATHISTORY" => {
            let target = message.params.get(1).map_or("*", String::as_str);
            let text = format!("History is unavailable: {LINK_DOWN}");
            session.fail_or_notice(name, "MESSAGE_ERROR", &[target], &text);
        }
        _ => {
            let text = format!("Not done: {LINK_DOWN}; try again shortly");
            session.fail_or_notice(name, "TEMPORARILY_UNAVAILABLE", &[], &text);
        }
    }
}

fn ping(session: &mut IrcSession, message: &Message) -> Flow {
    let server = session.replies.server_name().to_owned();
    session
        .replies
        .server_message("PONG", vec![server, message.params[0].clone()]);
    Flow::Continue
}

/// Any line proves the client alive (handled for every frame); `PONG` needs nothing more.
fn pong(_session: &mut IrcSession, _message: &Message) -> Flow {
    Flow::Continue
}

fn quit(_session: &mut IrcSession, message: &Message) -> Flow {
    let reason = match message.params.first() {
        Some(reason) if !reason.is_empty() => format!("Quit: {reason}"),
        _ => "Quit".to_owned(),
    };
    Flow::Quit(reason)
}

async fn away(session: &mut IrcSession, message: &Message) -> Flow {
    let text = message.params.first().filter(|text| !text.is_empty());
    let user = session.user().clone();
    session
        .context
        .network
        .set_away(&user, text.map(String::as_str))
        .await;
    match text {
        Some(_) => session.numeric(RPL_NOWAWAY, &["You have been marked as being away"]),
        None => session.numeric(RPL_UNAWAY, &["You are no longer marked as being away"]),
    }
    Flow::Continue
}

/// IRCv3 setname: change the real name.
async fn setname(session: &mut IrcSession, message: &Message) -> Flow {
    let realname = &message.params[0];
    if realname.is_empty() || realname.len() > registration::REALNAME_MAX_BYTES {
        session.specified_fail("SETNAME", "INVALID_REALNAME", &[], "Realname is not valid");
        return Flow::Continue;
    }
    let user = session.user().clone();
    let event = session.context.network.set_realname(&user, realname).await;
    // The client sees its own SETNAME only if it enabled the capability (IRCv3 setname).
    if session.caps.contains(Cap::Setname) {
        session.own_copy(&event);
    }
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Message {
        Message::parse(text).expect("a message")
    }

    #[test]
    fn only_changes_of_a_rooms_topic_and_modes_need_the_network() {
        assert!(sets_topic(&line("TOPIC #r :new topic")));
        assert!(!sets_topic(&line("TOPIC #r")));
        for change in [
            "MODE #r +m",
            "MODE #r -o+v alice bob",
            "MODE #r +b *!*@spam",
        ] {
            assert!(changes_room_modes(&line(change)), "{change}");
        }
        for query in ["MODE #r", "MODE #r b", "MODE #r +b", "MODE alice +i"] {
            assert!(!changes_room_modes(&line(query)), "{query}");
        }
    }

    #[test]
    fn every_command_has_help() {
        for spec in COMMANDS {
            assert!(
                help::has_topic(spec.name),
                "HELP has no topic for {}",
                spec.name
            );
        }
    }
}
