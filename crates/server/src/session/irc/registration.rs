//! Connection registration (`PASS`, `NICK`, `USER`, ended by `CAP END` when negotiating), the
//! welcome burst (001–005, `LUSERS`, `MOTD`), nick changes afterwards, and `INFO`, the
//! server's other description of itself.

use palaver_proto::event::{Identity, MemberStatus};
use palaver_proto::irc::mask;
use palaver_proto::irc::message::Message;
use palaver_proto::irc::modes::status_prefix;
use palaver_proto::irc::numeric::*;
use palaver_proto::names::{self, NICK_MAX_LEN, ROOM_NAME_MAX_LEN, fold};

use super::IrcSession;
use super::mode::BOT_MODE;
use crate::hub::{
    ACCOUNT_EXTBAN, AWAY_MAX_BYTES, EXTBAN_PREFIX, KICK_REASON_MAX_BYTES, MAX_LIST_ENTRIES,
    MAX_MONITORED, Protocol, TOPIC_MAX_BYTES, UserCounts,
};
use crate::network::Security;
use crate::session::Flow;

/// Longest real name accepted (`USER`, `SETNAME`).
pub const REALNAME_MAX_BYTES: usize = 100;
/// Longest user name kept from `USER` (before the `~` marking it as unverified).
const USERNAME_MAX_LEN: usize = 10;
/// Targets a `PRIVMSG`, `NOTICE` or `TAGMSG` may name (`TARGMAX`).
pub const MAX_MESSAGE_TARGETS: usize = 4;
/// Nicks one `KICK` may name (`TARGMAX`).
pub const MAX_KICK_TARGETS: usize = 4;
/// Mode changes with a parameter per `MODE` command (`MODES`).
pub const MAX_MODES_WITH_PARAMETER: usize = 4;

const VERSION: &str = concat!("palaver-", env!("CARGO_PKG_VERSION"));

pub fn pass(session: &mut IrcSession, message: &Message) -> Flow {
    if session.user.is_some() {
        session.numeric(ERR_ALREADYREGISTERED, &["You may not reregister"]);
        return Flow::Continue;
    }
    let matches = session
        .context
        .irc
        .password
        .as_deref()
        .is_none_or(|password| same_secret(message.params[0].as_bytes(), password.as_bytes()));
    session.registration().password_ok = matches;
    Flow::Continue
}

/// Whether `given` equals `secret`, in time that depends only on the length of `given` (which
/// the client knows anyway), never on where the two first differ: a comparison that stops at
/// the first different byte would let a client find the server password byte by byte by
/// timing its answers. Every byte of `given` is compared (against 0 past the end of
/// `secret`), and the differences are folded together without branching on them;
/// `black_box` keeps the optimizer from turning the fold back into an early exit. At most the
/// secret's length can show (through the bounds check), which is no help in guessing it.
fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    let mut difference = u8::from(given.len() != secret.len());
    for (index, byte) in given.iter().enumerate() {
        let expected = secret.get(index).copied().unwrap_or(0);
        difference |= std::hint::black_box(byte ^ expected);
    }
    difference == 0
}

pub async fn nick(session: &mut IrcSession, message: &Message) -> Flow {
    let Some(nick) = message.params.first().filter(|nick| !nick.is_empty()) else {
        session.numeric(ERR_NONICKNAMEGIVEN, &["No nickname given"]);
        return Flow::Continue;
    };
    if names::validate_nick(nick).is_err() {
        session.numeric(ERR_ERRONEUSNICKNAME, &[nick, "Erroneous nickname"]);
        return Flow::Continue;
    }
    if let Some(user) = session.user.clone() {
        if *user.nick() == **nick {
            return Flow::Continue;
        }
        if session.nick_guard.is_spent() {
            // Whether the nick is registered takes the store: decided once the handler returns.
            session.pending().nick_to_check = Some(nick.clone());
            return Flow::Continue;
        }
        match session.context.network.rename(&user, nick).await {
            Ok(event) => {
                session.own_copy(&event);
                session.pending().nick_changed = true;
            }
            Err(error) => session.hub_error(&error),
        }
        return Flow::Continue;
    }
    session.registration().requested_nick = Some(nick.clone());
    if !session.context.hub.nick_available(nick, None) {
        session.numeric(ERR_NICKNAMEINUSE, &[nick, "Nickname is already in use"]);
        return Flow::Continue;
    }
    session.registration().nick = Some(nick.clone());
    try_register(session).await
}

pub async fn user(session: &mut IrcSession, message: &Message) -> Flow {
    if session.user.is_some() || session.registration().user.is_some() {
        session.numeric(ERR_ALREADYREGISTERED, &["You may not reregister"]);
        return Flow::Continue;
    }
    // An empty user name or real name counts as a missing one (modern.ircdocs.horse, USER).
    if message.params[0].is_empty() || message.params[3].is_empty() {
        session.numeric(ERR_NEEDMOREPARAMS, &["USER", "Not enough parameters"]);
        return Flow::Continue;
    }
    let username: String = message.params[0]
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(USERNAME_MAX_LEN)
        .collect();
    let username = if username.is_empty() {
        "user".to_owned()
    } else {
        username
    };
    let realname: String = message.params[3]
        .chars()
        .scan(0, |bytes, c| {
            *bytes += c.len_utf8();
            (*bytes <= REALNAME_MAX_BYTES).then_some(c)
        })
        .collect();
    session.registration().user = Some((username, realname));
    try_register(session).await
}

/// Completes registration once `NICK` and `USER` are in and capability negotiation is over.
pub async fn try_register(session: &mut IrcSession) -> Flow {
    let Some(registration) = session.registering() else {
        return Flow::Continue;
    };
    if session.user.is_some() || registration.negotiating_caps {
        return Flow::Continue;
    }
    let (Some(nick), Some((username, realname))) = (&registration.nick, &registration.user) else {
        return Flow::Continue;
    };
    if !registration.password_ok {
        session.numeric(ERR_PASSWDMISMATCH, &["Password incorrect"]);
        return Flow::Quit("bad password".into());
    }
    let identity = Identity {
        nick: nick.as_str().into(),
        // No ident lookup: `~` marks the user name as unverified, as IRC servers do.
        user: format!("~{username}").into(),
        host: session.host.as_str().into(),
        realname: realname.as_str().into(),
        account: registration
            .login
            .as_ref()
            .map(|(account, _stamp)| account.as_str().into()),
        bot: false,
    };
    if let Some(ban) = session
        .context
        .hub
        .ban_on_newcomer(&identity, session.peer.ip())
    {
        let text = format!("You are banned from this server ({})", ban.reason);
        session.numeric(ERR_YOUREBANNEDCREEP, &[&text]);
        return Flow::Quit(ban.notice());
    }
    if !session.context.hub.link_is_up() {
        // Admitted before the link went down: the rest of the network could not know it.
        return Flow::LinkLost;
    }
    match session
        .context
        .network
        .register(
            session.peer,
            Protocol::Irc,
            session.outbox.clone(),
            identity,
            Security::of(session.tls, session.certificate_fingerprint.as_deref()),
        )
        .await
    {
        Ok(user) => {
            tracing::info!(nick = %user.nick(), "registered");
            session.user = Some(user);
            session.set_caps(session.caps);
            welcome(session);
            session.pending().nick_changed = true;
            // A SASL login from before registration now counts in the hub: confirm it.
            let registration = session.registration.take();
            session.pending().login_to_confirm = registration
                .and_then(|registration| registration.login)
                .and_then(|(account, stamp)| Some((account, stamp?)));
        }
        Err(error) => {
            // Someone took the nick since NICK was accepted: ask for another.
            session.registration().nick = None;
            session.hub_error(&error);
        }
    }
    Flow::Continue
}

/// 001–005, then `LUSERS` and `MOTD`.
fn welcome(session: &mut IrcSession) {
    let identity = session.user().identity();
    let server = session.context.irc.server_name.clone();
    let network = session.context.irc.network.clone();
    session.numeric(
        RPL_WELCOME,
        &[&format!(
            "Welcome to the {network} IRC Network {}",
            identity.mask()
        )],
    );
    session.numeric(
        RPL_YOURHOST,
        &[&format!("Your host is {server}, running version {VERSION}")],
    );
    session.numeric(
        RPL_CREATED,
        &[&format!(
            "This server was created {}",
            session.context.hub.started().iso8601()
        )],
    );
    session.numeric(
        RPL_MYINFO,
        &[&server, VERSION, "Biow", "beIiklmnostv", "beIklov"],
    );
    let rooms_per_user = session.context.hub.rooms_per_user();
    for tokens in isupport(&network, rooms_per_user).chunks(13) {
        let mut params: Vec<&str> = tokens.iter().map(String::as_str).collect();
        params.push("are supported by this server");
        session.numeric(RPL_ISUPPORT, &params);
    }
    send_lusers(session);
    send_motd(session);
}

/// `RPL_ISUPPORT` tokens. Each states a limit the server really enforces.
fn isupport(network: &str, rooms_per_user: usize) -> Vec<String> {
    vec![
        format!("ACCOUNTEXTBAN={ACCOUNT_EXTBAN}"),
        format!("AWAYLEN={AWAY_MAX_BYTES}"),
        format!("BOT={BOT_MODE}"),
        "CASEMAPPING=ascii".into(),
        format!("CHANLIMIT=#:{rooms_per_user}"),
        "CHANMODES=beI,k,l,imnst".into(),
        format!("CHANNELLEN={}", ROOM_NAME_MAX_LEN + 1),
        "CHANTYPES=#".into(),
        format!("CHATHISTORY={}", super::chathistory::MAX_MESSAGES),
        format!("ELIST={}", palaver_proto::room_filter::ELIST),
        "EXCEPTS=e".into(),
        format!("EXTBAN={EXTBAN_PREFIX},{ACCOUNT_EXTBAN}"),
        "INVEX=I".into(),
        format!("KICKLEN={KICK_REASON_MAX_BYTES}"),
        format!("MAXLIST=beI:{MAX_LIST_ENTRIES}"),
        format!("MAXTARGETS={MAX_MESSAGE_TARGETS}"),
        format!("MODES={MAX_MODES_WITH_PARAMETER}"),
        format!("MONITOR={MAX_MONITORED}"),
        "MSGREFTYPES=msgid,timestamp".into(),
        format!("NETWORK={network}"),
        format!("NICKLEN={NICK_MAX_LEN}"),
        "PREFIX=(ov)@+".into(),
        format!(
            "STATUSMSG={}{}",
            status_prefix(MemberStatus::Operator),
            status_prefix(MemberStatus::Voiced)
        ),
        format!(
            "TARGMAX=JOIN:,KICK:{MAX_KICK_TARGETS},NAMES:,NOTICE:{0},PART:,PRIVMSG:{0},TAGMSG:{0},WHOIS:1",
            MAX_MESSAGE_TARGETS
        ),
        format!("TOPICLEN={TOPIC_MAX_BYTES}"),
        format!("USERLEN={}", USERNAME_MAX_LEN + 1),
        "UTF8ONLY".into(),
        "WHOX".into(),
    ]
}

pub fn lusers(session: &mut IrcSession, _message: &Message) -> Flow {
    send_lusers(session);
    Flow::Continue
}

fn send_lusers(session: &mut IrcSession) {
    let UserCounts {
        total,
        invisible,
        operators,
    } = session.context.hub.user_counts();
    let rooms = session.context.hub.room_count().to_string();
    session.numeric(
        RPL_LUSERCLIENT,
        &[&format!(
            "There are {} users and {invisible} invisible on 1 servers",
            total - invisible
        )],
    );
    if operators > 0 {
        session.numeric(RPL_LUSEROP, &[&operators.to_string(), "operator(s) online"]);
    }
    session.numeric(RPL_LUSERCHANNELS, &[&rooms, "channels formed"]);
    session.numeric(
        RPL_LUSERME,
        &[&format!("I have {total} clients and 0 servers")],
    );
    let peak = session.context.hub.peak_user_count().max(total).to_string();
    let total = total.to_string();
    session.numeric(
        RPL_LOCALUSERS,
        &[
            &total,
            &peak,
            &format!("Current local users {total}, max {peak}"),
        ],
    );
    session.numeric(
        RPL_GLOBALUSERS,
        &[
            &total,
            &peak,
            &format!("Current global users {total}, max {peak}"),
        ],
    );
}

pub fn motd(session: &mut IrcSession, _message: &Message) -> Flow {
    send_motd(session);
    Flow::Continue
}

fn send_motd(session: &mut IrcSession) {
    let settings = session.context.irc.clone();
    let Some(lines) = &settings.motd else {
        session.numeric(ERR_NOMOTD, &["MOTD File is missing"]);
        return;
    };
    session.numeric(
        RPL_MOTDSTART,
        &[&format!("- {} Message of the day - ", settings.server_name)],
    );
    for line in lines {
        session.numeric(RPL_MOTD, &[&format!("- {line}")]);
    }
    session.numeric(RPL_ENDOFMOTD, &["End of /MOTD command."]);
}

/// `INFO [target]`: `371` lines about the server, then `374`. A target must name this server
/// (a mask matching its name) or a user on it (RFC 2812 §3.4.10), else `402`.
pub fn info(session: &mut IrcSession, message: &Message) -> Flow {
    if let Some(target) = message.params.first().filter(|target| !target.is_empty()) {
        let names_this_server =
            mask::matches(&fold(target), &fold(&session.context.irc.server_name))
                || session.context.hub.user_by_nick(target).is_some();
        if !names_this_server {
            session.numeric(ERR_NOSUCHSERVER, &[target, "No such server"]);
            return Flow::Continue;
        }
    }
    let started = session.context.hub.started().iso8601();
    for line in [
        format!("{VERSION}, a self-hosted group-chat server"),
        "It speaks IRC and a plain-text protocol on the same rooms.".to_owned(),
        format!("Running since {started}"),
    ] {
        session.numeric(RPL_INFO, &[&line]);
    }
    session.numeric(RPL_ENDOFINFO, &["End of INFO list"]);
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_secret_is_plain_equality() {
        assert!(same_secret(b"sesame", b"sesame"));
        assert!(same_secret(b"", b""));
        for different in [
            &b"sesam"[..],
            b"sesame!",
            b"SESAME",
            b"sesamf",
            b"",
            b"sesame\0",
        ] {
            assert!(!same_secret(different, b"sesame"), "{different:?}");
        }
        // The secret's own prefix and a given that runs past it with zero bytes.
        assert!(!same_secret(b"", b"x"));
        assert!(!same_secret(b"x\0", b"x"));
    }
}
