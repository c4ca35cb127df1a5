//! Server operators over IRC: `OPER name password` (modern.ircdocs.horse, "OPER message"),
//! which makes the user an operator (`381`, then user mode `+o`), and the two things an
//! operator may do that others may not: `KILL nick [reason]` and `WALLOPS text`.
//!
//! `OPER` checks a password hash, which must not run on an async worker, so its handler only
//! records an [`AccountRequest`]; the session runs [`oper_up`] once the handler returns.

use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;

use super::IrcSession;
use super::account::AccountRequest;
use super::mode::announce_user_modes;
use crate::accounts::AccountError;
use crate::hub::DEFAULT_KILL_REASON;
use crate::session::Flow;

/// `OPER name password`.
pub fn oper(session: &mut IrcSession, message: &Message) -> Flow {
    session
        .pending()
        .account_requests
        .push(AccountRequest::Oper {
            name: message.params[0].clone(),
            password: message.params[1].clone(),
        });
    Flow::Continue
}

/// Checks an `OPER` attempt (off the async workers, rate-limited like logins) and, if the
/// name and password are right, makes the user an operator. A wrong name and a wrong password
/// get the same `464`, so `OPER` tells nobody which operator names exist (as Ergo does;
/// `491 ERR_NOOPERHOST` is not used, since operator entries are not tied to hosts).
pub async fn oper_up(session: &mut IrcSession, name: &str, password: &str) {
    let address = session.peer.ip();
    match session
        .context
        .operators
        .check(name, password, address)
        .await
    {
        Ok(entry) => {
            let user = session.user().clone();
            let was_operator = user.is_operator();
            session
                .context
                .network
                .set_operator(&user, Some(entry))
                .await;
            session.numeric(RPL_YOUREOPER, &["You are now an IRC operator"]);
            if !was_operator {
                announce_user_modes(session, "+o");
            }
        }
        Err(AccountError::RateLimited { seconds }) => {
            let text = format!("Too many failed attempts; try again in {seconds} seconds");
            session.numeric(ERR_PASSWDMISMATCH, &[&text]);
        }
        Err(AccountError::Store(problem)) => {
            let text = format!("OPER failed: {problem}");
            session.numeric(ERR_PASSWDMISMATCH, &[&text]);
        }
        Err(_) => session.numeric(ERR_PASSWDMISMATCH, &["Password incorrect"]),
    }
}

/// `KILL nick [reason]` (one argument is enough, as on Ergo): the victim gets `KILL` from the operator and `ERROR`, and everyone who
/// shared a channel with it sees it quit with `Killed (operator (reason))`.
pub async fn kill(session: &mut IrcSession, message: &Message) -> Flow {
    let nick = &message.params[0];
    let reason = message
        .params
        .get(1)
        .filter(|reason| !reason.is_empty())
        .map_or(DEFAULT_KILL_REASON, String::as_str);
    let user = session.user().clone();
    if let Err(error) = session.context.network.kill(&user, nick, reason).await {
        session.hub_error(&error);
    }
    Flow::Continue
}

/// `WALLOPS text`: to every user with user mode `+w` (and every text-protocol operator), the
/// sender included if it has `+w`.
pub async fn wallops(session: &mut IrcSession, message: &Message) -> Flow {
    let text = &message.params[0];
    if text.is_empty() {
        session.numeric(ERR_NEEDMOREPARAMS, &["WALLOPS", "Not enough parameters"]);
        return Flow::Continue;
    }
    let user = session.user().clone();
    match session.context.network.wallops(&user, text).await {
        Ok(Some(own_copy)) => session.own_copy(&own_copy),
        Ok(None) => {}
        Err(error) => session.hub_error(&error),
    }
    Flow::Continue
}
