//! `WHOWAS nick [count]`: who used a nick that is gone, from the hub's bounded history of
//! departures (see `hub::whowas`), newest first (RFC 2812 §3.6.3, modern.ircdocs.horse).

use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;

use super::IrcSession;
use crate::session::Flow;

/// For each departure (at most `count`, all of them for a count that is missing or not
/// positive): `RPL_WHOWASUSER` and `RPL_WHOISSERVER` with the time it left the nick; or
/// `ERR_WASNOSUCHNICK`. Then `RPL_ENDOFWHOWAS`.
pub fn whowas(session: &mut IrcSession, message: &Message) -> Flow {
    let nick = message.params[0].clone();
    let count = message
        .params
        .get(1)
        .and_then(|count| count.parse::<usize>().ok())
        .filter(|&count| count > 0);
    let departures = session.context.hub.departed(&nick, count);
    if departures.is_empty() {
        session.numeric(ERR_WASNOSUCHNICK, &[&nick, "There was no such nickname"]);
    }
    let server = session.context.irc.server_name.clone();
    for departed in departures {
        let identity = &departed.identity;
        session.numeric(
            RPL_WHOWASUSER,
            &[
                &identity.nick,
                &identity.user,
                &identity.host,
                "*",
                &identity.realname,
            ],
        );
        let left = format!("left {}", departed.left_at.iso8601());
        session.numeric(RPL_WHOISSERVER, &[&identity.nick, &server, &left]);
    }
    session.numeric(RPL_ENDOFWHOWAS, &[&nick, "End of WHOWAS"]);
    Flow::Continue
}
