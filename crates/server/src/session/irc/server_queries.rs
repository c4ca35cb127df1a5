//! Questions about the server itself: `TIME` and `LINKS`. There is one server, so a target or
//! mask naming another one finds nothing.

use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;
use palaver_proto::mask;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

use super::IrcSession;
use crate::session::Flow;

/// Whether `mask` (a server name or a glob) names this server.
fn names_this_server(session: &IrcSession, mask: &str) -> bool {
    mask::matches(&fold(mask), &fold(&session.context.irc.server_name))
}

/// `TIME [server]`: `RPL_TIME` with the server's clock in UTC (ISO 8601, as `server-time`
/// writes it), or `ERR_NOSUCHSERVER` for another server.
pub fn time(session: &mut IrcSession, message: &Message) -> Flow {
    if let Some(target) = message.params.first()
        && !names_this_server(session, target)
    {
        session.numeric(ERR_NOSUCHSERVER, &[target, "No such server"]);
        return Flow::Continue;
    }
    let server = session.context.irc.server_name.clone();
    session.numeric(RPL_TIME, &[&server, &Timestamp::now().iso8601()]);
    Flow::Continue
}

/// `LINKS [[server] mask]`: this server (hop count 0 and its description) if it matches the
/// mask, then `RPL_ENDOFLINKS` naming the mask (`*` without one). A server to ask that is not
/// this one gets `ERR_NOSUCHSERVER`, as for `TIME`.
pub fn links(session: &mut IrcSession, message: &Message) -> Flow {
    if let [server, _mask, ..] = message.params.as_slice()
        && !names_this_server(session, server)
    {
        session.numeric(ERR_NOSUCHSERVER, &[server, "No such server"]);
        return Flow::Continue;
    }
    let mask = message.params.last().map_or("*", String::as_str).to_owned();
    if names_this_server(session, &mask) {
        let server = session.context.irc.server_name.clone();
        let info = format!("0 {}", session.context.irc.description);
        session.numeric(RPL_LINKS, &[&server, &server, &info]);
    }
    session.numeric(RPL_ENDOFLINKS, &[&mask, "End of /LINKS list"]);
    Flow::Continue
}
