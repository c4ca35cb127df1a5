//! Accounts for IRC clients: SASL logins (the exchange itself is in `sasl.rs`),
//! `draft/account-registration` (`REGISTER`), a NickServ-style `PRIVMSG NickServ` for clients
//! that know neither (and for reclaiming a nick: `REGAIN`, `GHOST`, `RELEASE`, and for
//! `SET PASSWORD`), and room registration through `PRIVMSG ChanServ :REGISTER #room`.
//!
//! Command handlers are synchronous, so they only record an [`AccountRequest`]; the session
//! runs it (hashing off the async workers) once the handler returns, see [`run`].

use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;

use palaver_proto::names::fold;

use super::commands::LINK_DOWN;
use super::{IrcSession, sasl};
use crate::accounts::scram::ClientFirst;
use crate::accounts::{AccountError, PasswordStamp};
use crate::hub::{Alert, Reclaim, Reclaimed};
use crate::session::Flow;
use crate::session::certificates::{self, CertificateCommand};

/// The nick clients address for account services.
pub const NICKSERV: &str = "NickServ";
/// The nick clients address for room registration.
pub const CHANSERV: &str = "ChanServ";

/// An account operation a handler asked for.
#[derive(Debug)]
pub enum AccountRequest {
    /// SASL PLAIN: log in as `account`.
    Sasl { account: String, password: String },
    /// SASL SCRAM-SHA-256: the client's first message is in; answer it.
    ScramStart(ClientFirst),
    /// SASL EXTERNAL: log in as the account listing the client certificate (which must be
    /// `authzid` if given).
    External { authzid: Option<String> },
    /// `NickServ CERT ADD [fingerprint]` (the connection's certificate when `None`), `CERT
    /// DEL fingerprint`, `CERT LIST`.
    Certificate(CertificateCommand),
    /// `REGISTER` or `NickServ REGISTER`: register the current nick, with the email address
    /// given (`None`: none, or `*`).
    Register {
        account: String,
        password: String,
        email: Option<String>,
        via: Via,
    },
    /// `NickServ IDENTIFY`.
    Identify { account: String, password: String },
    /// `NickServ REGAIN`, `GHOST` or `RELEASE` of the nick `nick`, logging in to it with
    /// `password` first if given and not logged in.
    Reclaim {
        nick: String,
        how: Reclaim,
        password: Option<String>,
    },
    /// `NickServ SET PASSWORD <old> <new>`.
    ChangePassword { old: String, new: String },
    /// `ChanServ REGISTER #room`.
    RegisterRoom { room: String },
    /// `OPER name password` (see `operator.rs`).
    Oper { name: String, password: String },
}

/// How a registration was asked for, which decides how it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    RegisterCommand,
    NickServ,
}

/// `REGISTER <account> <email> <password>` (IRCv3 draft/account-registration); the account
/// must be `*` or the current nick; the email (`*` for none) is kept with the account, and
/// required when `[accounts] require_email` is set. Before connection registration
/// completes (`before-connect`, if the server allows it) the current nick is the one the
/// client last asked for, and an account cannot be registered under a nick someone else
/// holds: that would take the nick from under them. Failures are `FAIL REGISTER …` whatever
/// the client negotiated, as the specification defines them.
pub fn register(session: &mut IrcSession, message: &Message) -> Flow {
    let params = &message.params;
    let named = params.first().map_or("*", String::as_str).to_owned();
    let connected = session.user.is_some();
    if !connected && !session.context.irc.registers_before_connect() {
        session.specified_fail(
            "REGISTER",
            "COMPLETE_CONNECTION_REQUIRED",
            &[&named],
            "Finish connecting before registering an account",
        );
        return Flow::Continue;
    }
    if params.len() < 3 {
        session.specified_fail("REGISTER", "INVALID_PARAMS", &[], "Not enough parameters");
        return Flow::Continue;
    }
    let nick = match &session.user {
        Some(user) => user.nick().to_string(),
        None => match session.registration().requested_nick.clone() {
            Some(nick) => nick,
            None => {
                session.specified_fail(
                    "REGISTER",
                    "NEED_NICK",
                    &["*"],
                    "Send NICK before registering an account",
                );
                return Flow::Continue;
            }
        },
    };
    let account = if params[0] == "*" {
        nick.clone()
    } else {
        params[0].clone()
    };
    if fold(&account) != fold(&nick) {
        session.specified_fail(
            "REGISTER",
            "ACCOUNT_NAME_MUST_BE_NICK",
            &[&account],
            "You can only register your current nick",
        );
        return Flow::Continue;
    }
    if session.account().is_some() {
        session.specified_fail(
            "REGISTER",
            "ALREADY_AUTHENTICATED",
            &[&account],
            "You are already logged in",
        );
        return Flow::Continue;
    }
    let held_by_another = session
        .context
        .hub
        .user_by_nick(&account)
        .is_some_and(|holder| session.user.as_ref().is_none_or(|me| me.id != holder.id));
    if held_by_another {
        session.specified_fail(
            "REGISTER",
            "ACCOUNT_EXISTS",
            &[&account],
            "That nick is in use by someone else",
        );
        return Flow::Continue;
    }
    let email = (params[1] != "*").then(|| params[1].clone());
    session
        .pending()
        .account_requests
        .push(AccountRequest::Register {
            account,
            password: params[2].clone(),
            email,
            via: Via::RegisterCommand,
        });
    Flow::Continue
}

/// The NickServ commands, as `HELP` lists them.
const NICKSERV_HELP: &str = "Commands: REGISTER <password> [email], IDENTIFY [account] <password>, \
                             REGAIN <nick> [password], GHOST <nick> [password], \
                             RELEASE <nick> [password], SET PASSWORD <old> <new>, \
                             CERT ADD [fingerprint], CERT DEL <fingerprint>, CERT LIST.";

/// `PRIVMSG NickServ :REGISTER password` / `:IDENTIFY [account] password` /
/// `:REGAIN|GHOST|RELEASE nick [password]` / `:SET PASSWORD old new` /
/// `:CERT ADD [fingerprint]|DEL fingerprint|LIST` / `:HELP`.
pub fn nickserv(session: &mut IrcSession, text: &str) {
    if refused_while_link_down(session, NICKSERV) {
        return;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let nick = session.reply_nick();
    let reclaim = |command: &str| {
        [
            ("REGAIN", Reclaim::Take),
            ("GHOST", Reclaim::Ghost),
            ("RELEASE", Reclaim::Release),
        ]
        .into_iter()
        .find(|(name, _)| command.eq_ignore_ascii_case(name))
        .map(|(_, how)| how)
    };
    match words.as_slice() {
        [command, password, email @ ..]
            if command.eq_ignore_ascii_case("REGISTER") && email.len() <= 1 =>
        {
            if session.account().is_some() {
                nickserv_notice(session, "You are already logged in.");
                return;
            }
            session
                .pending()
                .account_requests
                .push(AccountRequest::Register {
                    account: nick,
                    password: (*password).to_owned(),
                    email: email.first().map(|email| (*email).to_owned()),
                    via: Via::NickServ,
                });
        }
        [command, ..]
            if command.eq_ignore_ascii_case("IDENTIFY") && session.account().is_some() =>
        {
            let account = session.account().unwrap_or_default();
            nickserv_notice(session, &format!("You are already logged in as {account}."));
        }
        [command, target, rest @ ..] if rest.len() <= 1 && reclaim(command).is_some() => {
            session
                .pending()
                .account_requests
                .push(AccountRequest::Reclaim {
                    nick: (*target).to_owned(),
                    how: reclaim(command).unwrap_or(Reclaim::Take),
                    password: rest.first().map(|password| (*password).to_owned()),
                });
        }
        [command, ..] if reclaim(command).is_some() => {
            let usage = format!("Syntax: {} <nick> [password]", command.to_ascii_uppercase());
            nickserv_notice(session, &usage);
        }
        [set, what, old, new]
            if set.eq_ignore_ascii_case("SET") && what.eq_ignore_ascii_case("PASSWORD") =>
        {
            session
                .pending()
                .account_requests
                .push(AccountRequest::ChangePassword {
                    old: (*old).to_owned(),
                    new: (*new).to_owned(),
                });
        }
        [set, what, ..]
            if set.eq_ignore_ascii_case("SET") && what.eq_ignore_ascii_case("PASSWORD") =>
        {
            // The old password is required: a session left open must not be enough to take
            // the account over.
            nickserv_notice(
                session,
                "Syntax: SET PASSWORD <old password> <new password>",
            );
        }
        [cert, rest @ ..] if cert.eq_ignore_ascii_case("CERT") => {
            match CertificateCommand::parse(rest) {
                Some(command) => session
                    .pending()
                    .account_requests
                    .push(AccountRequest::Certificate(command)),
                None => nickserv_notice(
                    session,
                    "Syntax: CERT ADD [fingerprint] | CERT DEL <fingerprint> | CERT LIST",
                ),
            }
        }
        [command, password] if command.eq_ignore_ascii_case("IDENTIFY") => {
            session
                .pending()
                .account_requests
                .push(AccountRequest::Identify {
                    account: nick,
                    password: (*password).to_owned(),
                });
        }
        [command, account, password] if command.eq_ignore_ascii_case("IDENTIFY") => {
            session
                .pending()
                .account_requests
                .push(AccountRequest::Identify {
                    account: (*account).to_owned(),
                    password: (*password).to_owned(),
                });
        }
        _ => nickserv_notice(session, NICKSERV_HELP),
    }
}

/// `PRIVMSG ChanServ :REGISTER #room` / `:HELP`.
pub fn chanserv(session: &mut IrcSession, text: &str) {
    if refused_while_link_down(session, CHANSERV) {
        return;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [command, room] if command.eq_ignore_ascii_case("REGISTER") => {
            session
                .pending()
                .account_requests
                .push(AccountRequest::RegisterRoom {
                    room: (*room).to_owned(),
                });
        }
        _ => service_notice(
            session,
            CHANSERV,
            "Commands: REGISTER <#channel> (you must be logged in and a channel operator).",
        ),
    }
}

/// While this server's link to the rest of the network is down, answers for `service` that
/// nothing was done (its commands read or change the accounts and rooms the network shares,
/// as `REGISTER` and `AUTHENTICATE` do, which the command table refuses then) and returns true.
fn refused_while_link_down(session: &mut IrcSession, service: &str) -> bool {
    if session.context.hub.link_is_up() {
        return false;
    }
    session.context.hub.count_link_refusal();
    let text = format!("Not done: {LINK_DOWN}; try again shortly.");
    service_notice(session, service, &text);
    true
}

/// A `NOTICE` from NickServ to the client.
pub fn nickserv_notice(session: &mut IrcSession, text: &str) {
    service_notice(session, NICKSERV, text);
}

/// A `NOTICE` from the service `service` to the client.
fn service_notice(session: &mut IrcSession, service: &str, text: &str) {
    let nick = session.reply_nick();
    let server = session.context.irc.server_name.clone();
    session.replies.push(
        Message::new("NOTICE", vec![nick, text.to_owned()])
            .with_source(format!("{service}!services@{server}")),
    );
}

/// Runs `request` and answers it the way its command asks for.
pub async fn run(session: &mut IrcSession, request: AccountRequest) {
    let address = session.peer.ip();
    let accounts = session.context.accounts.clone();
    match request {
        AccountRequest::Sasl { account, password } => {
            match accounts.login_stamped(&account, &password, address).await {
                Ok((account, stamp)) => {
                    logged_in(session, &account, Some(stamp)).await;
                    session.numeric(RPL_SASLSUCCESS, &["SASL authentication successful"]);
                }
                Err(error) => sasl::fail_with(session, &error),
            }
        }
        AccountRequest::ScramStart(first) => sasl::start_scram(session, first).await,
        AccountRequest::External { authzid } => external(session, authzid).await,
        AccountRequest::Certificate(command) => certificate(session, command).await,
        AccountRequest::Identify { account, password } => {
            match accounts.login_stamped(&account, &password, address).await {
                Ok((account, stamp)) => {
                    logged_in(session, &account, Some(stamp)).await;
                    nickserv_notice(session, &format!("You are now identified for {account}."));
                }
                Err(error) => nickserv_notice(session, &format!("Login failed: {error}.")),
            }
        }
        AccountRequest::Reclaim {
            nick,
            how,
            password,
        } => reclaim(session, &nick, how, password).await,
        AccountRequest::ChangePassword { old, new } => change_password(session, &old, &new).await,
        AccountRequest::RegisterRoom { room } => register_room(session, &room).await,
        AccountRequest::Oper { name, password } => {
            super::operator::oper_up(session, &name, &password).await
        }
        AccountRequest::Register {
            account,
            password,
            email,
            via,
        } => match accounts
            .register_with_email(
                &account,
                &password,
                email.as_deref(),
                Some(session.peer.ip()),
            )
            .await
        {
            Ok(account) => {
                logged_in(session, &account, None).await;
                match via {
                    Via::RegisterCommand => session.replies.server_message(
                        "REGISTER",
                        vec![
                            "SUCCESS".into(),
                            account.clone(),
                            format!("Account {account} registered"),
                        ],
                    ),
                    Via::NickServ => nickserv_notice(
                        session,
                        &format!("Account {account} registered; you are logged in."),
                    ),
                }
            }
            Err(error) => match via {
                Via::RegisterCommand => {
                    let code = match error {
                        AccountError::Taken(_) => "ACCOUNT_EXISTS",
                        AccountError::UnacceptablePassword { .. } => "UNACCEPTABLE_PASSWORD",
                        AccountError::InvalidName(_) => "BAD_ACCOUNT_NAME",
                        AccountError::EmailRequired | AccountError::InvalidEmail(_) => {
                            "INVALID_EMAIL"
                        }
                        _ => "TEMPORARILY_UNAVAILABLE",
                    };
                    session.specified_fail("REGISTER", code, &[&account], &error.to_string());
                }
                Via::NickServ => {
                    nickserv_notice(session, &format!("Registration failed: {error}."))
                }
            },
        },
    }
}

/// SASL EXTERNAL: logs in as the account listing the connection's client certificate, if
/// one does (and it is `authzid`, when the client named one).
async fn external(session: &mut IrcSession, authzid: Option<String>) {
    let Some(fingerprint) = session.certificate_fingerprint.clone() else {
        return sasl::fail(session);
    };
    match session
        .context
        .accounts
        .certificate_login(&fingerprint)
        .await
    {
        Ok((account, stamp)) if authzid.is_none_or(|authzid| fold(&authzid) == fold(&account)) => {
            logged_in(session, &account, Some(stamp)).await;
            session.numeric(RPL_SASLSUCCESS, &["SASL authentication successful"]);
        }
        Ok(_) => sasl::fail(session),
        Err(error) => {
            if let AccountError::Store(problem) = &error {
                tracing::warn!(%problem, "SASL EXTERNAL: the store failed");
            }
            sasl::fail_with(session, &error);
        }
    }
}

/// `NickServ CERT ADD|DEL|LIST`: the client certificates the logged-in account logs in with.
async fn certificate(session: &mut IrcSession, command: CertificateCommand) {
    let Some(account) = session.account() else {
        return nickserv_notice(session, "You are not logged in.");
    };
    let fingerprint = session.certificate_fingerprint.as_deref();
    for line in certificates::run(&session.context.store, &account, fingerprint, command).await {
        nickserv_notice(session, &line);
    }
}

/// `ChanServ REGISTER #room`: makes the logged-in operator's account the room's founder.
async fn register_room(session: &mut IrcSession, name: &str) {
    let Some(user) = session.user.clone() else {
        return;
    };
    let Some(room) = session.context.hub.room(name) else {
        return service_notice(session, CHANSERV, &format!("No such channel: {name}."));
    };
    let record = match session.context.hub.room_registration(&user, &room) {
        Ok(record) => record,
        Err(error) => return service_notice(session, CHANSERV, &format!("{error}.")),
    };
    let founder = record.founder.clone();
    match session.context.store.register_room(record.clone()).await {
        Ok(true) => {
            session
                .context
                .network
                .mark_registered(&user, &room, record)
                .await;
            let text = format!("{} is now registered to {founder}.", room.name());
            service_notice(session, CHANSERV, &text);
        }
        Ok(false) => {
            let text = format!("{} is already registered.", room.name());
            service_notice(session, CHANSERV, &text);
        }
        Err(error) => {
            let text = format!("{} could not be registered ({error}).", room.name());
            service_notice(session, CHANSERV, &text);
        }
    }
}

/// `NickServ REGAIN|GHOST|RELEASE nick [password]`: gives the account's nick back to its
/// logged-in owner, as [`Reclaim`] says (logging in with `password` first if given).
async fn reclaim(session: &mut IrcSession, nick: &str, how: Reclaim, password: Option<String>) {
    let Some(user) = session.user.clone() else {
        return;
    };
    if session.account().is_none()
        && let Some(password) = password
    {
        let address = session.peer.ip();
        match session
            .context
            .accounts
            .login_stamped(nick, &password, address)
            .await
        {
            Ok((account, stamp)) => {
                logged_in(session, &account, Some(stamp)).await;
                nickserv_notice(session, &format!("You are now identified for {account}."));
                confirm_login(session).await;
            }
            Err(error) => {
                return nickserv_notice(session, &format!("Login failed: {error}."));
            }
        }
    }
    let Some(account) = session.account() else {
        return nickserv_notice(
            session,
            "You are not logged in: IDENTIFY first, or give the password after the nick.",
        );
    };
    if fold(nick) != fold(&account) {
        let text = format!("Access denied: {nick} is not your account's nick ({account}).");
        return nickserv_notice(session, &text);
    }
    let outcome = match session
        .context
        .network
        .reclaim_nick(&user, &account, how)
        .await
    {
        Ok(outcome) => outcome,
        Err(error) => return session.hub_error(&error),
    };
    let text = match (how, outcome) {
        (Reclaim::Take, Reclaimed::AlreadyHeld) => format!("You already have the nick {account}."),
        (_, Reclaimed::AlreadyHeld) => format!("You are using {account} yourself."),
        (Reclaim::Take, Reclaimed::Done { own_copy, .. }) => {
            if let Some(event) = own_copy {
                session.own_copy(&event);
            }
            session.pending().nick_changed = true;
            format!("You have regained the nick {account}.")
        }
        (
            _,
            Reclaimed::Done {
                displaced: None, ..
            },
        ) => format!("{account} is not in use."),
        (
            _,
            Reclaimed::Done {
                displaced: Some(displaced),
                ..
            },
        ) if displaced.ghosted => {
            format!("Your other session using {account} has been disconnected.")
        }
        (
            _,
            Reclaimed::Done {
                displaced: Some(displaced),
                ..
            },
        ) => format!("{account} is free: its user is now {}.", displaced.guest),
        (_, Reclaimed::HeldByAccount) => format!("{account} is used by your account."),
    };
    nickserv_notice(session, &text);
}

/// `NickServ SET PASSWORD <old> <new>`: changes the logged-in account's password and logs its
/// other sessions out.
async fn change_password(session: &mut IrcSession, old: &str, new: &str) {
    let (Some(user), Some(account)) = (session.user.clone(), session.account()) else {
        return nickserv_notice(session, "You are not logged in.");
    };
    let address = session.peer.ip();
    match session
        .context
        .accounts
        .change_password(&account, old, new, address)
        .await
    {
        Ok(()) => {
            let text = match session
                .context
                .network
                .log_out_other_sessions(&account, &user, Alert::LoggedOut)
                .await
            {
                0 => "Password changed.".to_owned(),
                1 => "Password changed. Your other session was logged out.".to_owned(),
                others => {
                    format!("Password changed. Your {others} other sessions were logged out.")
                }
            };
            nickserv_notice(session, &text);
        }
        Err(error) => nickserv_notice(session, &format!("Password change failed: {error}.")),
    }
}

/// Records the login, tells the client (900), and, once registered, the hub (which tells
/// `account-notify` peers). A login that checked a password (`stamp`) is confirmed once the
/// handler returns ([`confirm_login`]); before registration, once registration completes.
pub(super) async fn logged_in(
    session: &mut IrcSession,
    account: &str,
    stamp: Option<PasswordStamp>,
) {
    let mask = match &session.user {
        Some(user) => user.identity().mask(),
        None => format!("{}!*@{}", session.reply_nick(), session.host),
    };
    session.numeric(
        RPL_LOGGEDIN,
        &[
            &mask,
            account,
            &format!("You are now logged in as {account}"),
        ],
    );
    match session.user.clone() {
        Some(user) => {
            session
                .context
                .network
                .set_account(&user, Some(account))
                .await;
            session.pending().login_to_confirm = stamp.map(|stamp| (account.to_owned(), stamp));
        }
        None => {
            session.registration().login = Some((account.to_owned(), stamp));
        }
    }
    session.pending().nick_changed = true;
}

/// Once a login has taken effect in the hub: if the account's password changed while it was
/// being checked, it is undone (`901`); otherwise anyone holding the account's nick without
/// being logged in to it is moved off it, since its owner is here.
pub async fn confirm_login(session: &mut IrcSession) {
    let (Some(user), Some((account, stamp))) = (
        session.user.clone(),
        session.pending().login_to_confirm.take(),
    ) else {
        return;
    };
    if let Err(error) = session.context.accounts.confirm(&account, stamp).await {
        session.context.network.set_account(&user, None).await;
        let mask = user.identity().mask();
        session.numeric(RPL_LOGGEDOUT, &[&mask, "You are now logged out"]);
        let why = match error {
            AccountError::BadCredentials => "its password was just changed. Log in again".into(),
            error => error.to_string(),
        };
        nickserv_notice(
            session,
            &format!("Your login to {account} was cancelled: {why}."),
        );
        return;
    }
    match session
        .context
        .network
        .reclaim_nick(&user, &account, Reclaim::FromSquatter)
        .await
    {
        Ok(Reclaimed::Done {
            displaced: Some(_), ..
        }) => {
            let text = format!(
                "The nick {account} was taken back from someone not logged in to your account."
            );
            nickserv_notice(session, &text);
        }
        Ok(_) => {}
        Err(error) => session.hub_error(&error),
    }
}
