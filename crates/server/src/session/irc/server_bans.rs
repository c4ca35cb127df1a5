//! Server bans over IRC, as established servers spell them: `KLINE [duration] <user@host |
//! nick!user@host | $a:account> [reason]` and `UNKLINE`, `DLINE [duration] <address | range>
//! [reason]` and `UNDLINE`, and the lists with `STATS k` and `STATS d` (`216`, `225`, `219`).
//! A duration is minutes, or a duration such as `12h` or `7d`. Operators only (`481`).
//!
//! Putting a ban in force and storing it waits for the store, so the handlers record a
//! [`BanChange`] and the session runs it right after the command ([`run`]).

use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;

use super::IrcSession;
use crate::hub::{BanTarget, HubError};
use crate::session::Flow;
use crate::session::server_bans::{self, BanRequest};

/// A ban to add or lift, asked for by the command being handled.
#[derive(Debug)]
pub enum BanChange {
    Add(BanRequest),
    Remove(BanTarget),
}

/// Which command a target was given to: `KLINE` takes masks and accounts, `DLINE` addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    K,
    D,
}

impl Line {
    fn accepts(self, target: &BanTarget) -> bool {
        matches!(
            (self, target),
            (Line::D, BanTarget::Address(_))
                | (Line::K, BanTarget::Mask(_) | BanTarget::Account(_))
        )
    }

    fn wrong_target(self) -> &'static str {
        match self {
            Line::K => {
                "KLINE bans a user@host or nick!user@host mask or $a:account; use DLINE for addresses"
            }
            Line::D => {
                "DLINE bans an address or an address range; use KLINE for masks and accounts"
            }
        }
    }
}

pub fn kline(session: &mut IrcSession, message: &Message) -> Flow {
    add(session, message, Line::K, "KLINE")
}

pub fn dline(session: &mut IrcSession, message: &Message) -> Flow {
    add(session, message, Line::D, "DLINE")
}

pub fn unkline(session: &mut IrcSession, message: &Message) -> Flow {
    remove(session, message, Line::K)
}

pub fn undline(session: &mut IrcSession, message: &Message) -> Flow {
    remove(session, message, Line::D)
}

fn add(session: &mut IrcSession, message: &Message, line: Line, command: &str) -> Flow {
    if !is_operator(session) {
        return Flow::Continue;
    }
    // The reason is the last parameter, which may hold spaces; the others are single words.
    let words: Vec<&str> = message
        .params
        .iter()
        .flat_map(|param| param.split(' '))
        .filter(|word| !word.is_empty())
        .collect();
    match server_bans::parse_request(&words) {
        Ok(request) if line.accepts(&request.target) => {
            session.pending().ban_changes.push(BanChange::Add(request));
        }
        Ok(_) => notice(session, line.wrong_target()),
        Err(error) => notice(session, &format!("{command}: {error}")),
    }
    Flow::Continue
}

fn remove(session: &mut IrcSession, message: &Message, line: Line) -> Flow {
    if !is_operator(session) {
        return Flow::Continue;
    }
    match message.params[0].parse::<BanTarget>() {
        Ok(target) if line.accepts(&target) => session
            .pending()
            .ban_changes
            .push(BanChange::Remove(target)),
        Ok(_) => notice(session, line.wrong_target()),
        Err(error) => notice(session, &error),
    }
    Flow::Continue
}

/// `STATS letter`: `k` lists mask and account bans, `d` address bans; every other letter has
/// nothing to list.
pub fn stats(session: &mut IrcSession, message: &Message) -> Flow {
    let letter = message.params[0].chars().next().unwrap_or('*');
    let line = match letter.to_ascii_lowercase() {
        'k' => Some(Line::K),
        'd' => Some(Line::D),
        _ => None,
    };
    if let Some(line) = line {
        if !is_operator(session) {
            return Flow::Continue;
        }
        for ban in session.context.hub.server_bans() {
            if !line.accepts(&ban.target) {
                continue;
            }
            let about = server_bans::describe(&ban);
            match (&ban.target, line) {
                (BanTarget::Mask(mask), _) => {
                    let (user, host) = mask.rsplit_once('@').unwrap_or(("*", mask));
                    session.numeric(RPL_STATSKLINE, &["K", host, "*", user, &about]);
                }
                (target, Line::K) => session.numeric(
                    RPL_STATSKLINE,
                    &["K", &target.to_string(), "*", "*", &about],
                ),
                (target, Line::D) => {
                    session.numeric(RPL_STATSDLINE, &["D", &target.to_string(), &about])
                }
            }
        }
    }
    session.numeric(
        RPL_ENDOFSTATS,
        &[&letter.to_string(), "End of /STATS report"],
    );
    Flow::Continue
}

/// Puts in force or lifts the bans the command asked for, and tells the operator.
pub async fn run(session: &mut IrcSession, change: BanChange) {
    let user = session.user().clone();
    let answer = match change {
        BanChange::Add(request) => {
            server_bans::add(
                &session.context.network,
                &session.context.store,
                &user,
                request,
            )
            .await
        }
        BanChange::Remove(target) => {
            server_bans::remove(
                &session.context.network,
                &session.context.store,
                &user,
                &target,
            )
            .await
        }
    };
    match answer {
        Ok(text) | Err(text) => notice(session, &text),
    }
}

fn is_operator(session: &mut IrcSession) -> bool {
    if session.user().is_operator() {
        return true;
    }
    session.hub_error(&HubError::NeedServerOperator);
    false
}

/// A server notice to the operator.
fn notice(session: &mut IrcSession, text: &str) {
    let nick = session.reply_nick();
    session
        .replies
        .server_message("NOTICE", vec![nick, text.to_owned()]);
}
