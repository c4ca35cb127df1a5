//! Accounts for IRC clients: SASL PLAIN (`AUTHENTICATE`, IRCv3 sasl 3.1/3.2),
//! `draft/account-registration` (`REGISTER`), a NickServ-style `PRIVMSG NickServ` for clients
//! that know neither, and room registration through `PRIVMSG ChanServ :REGISTER #room`.
//!
//! Command handlers are synchronous, so they only record an [`AccountRequest`]; the session
//! runs it (hashing off the async workers) once the handler returns, see [`run`].

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;

use super::IrcSession;
use crate::accounts::AccountError;
use crate::session::Flow;

/// SASL payloads are sent in chunks of this many base64 bytes; a full chunk means more follow.
const SASL_CHUNK: usize = 400;
/// The most base64 a SASL PLAIN exchange may send (nick, account and a 300-byte password fit).
const SASL_MAX_BYTES: usize = 2 * SASL_CHUNK;

/// The nick clients address for account services.
pub const NICKSERV: &str = "NickServ";
/// The nick clients address for room registration.
pub const CHANSERV: &str = "ChanServ";

/// An account operation a handler asked for.
#[derive(Debug)]
pub enum AccountRequest {
    /// SASL PLAIN: log in as `account`.
    Sasl { account: String, password: String },
    /// `REGISTER` or `NickServ REGISTER`: register the current nick.
    Register {
        account: String,
        password: String,
        via: Via,
    },
    /// `NickServ IDENTIFY`.
    Identify { account: String, password: String },
    /// `ChanServ REGISTER #room`.
    RegisterRoom { room: String },
}

/// How a registration was asked for, which decides how it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    RegisterCommand,
    NickServ,
}

/// SASL exchange progress.
#[derive(Debug, Default)]
pub enum SaslState {
    #[default]
    Idle,
    /// `AUTHENTICATE PLAIN` accepted; collecting base64 chunks.
    Receiving(String),
}

/// `AUTHENTICATE mechanism`, then `AUTHENTICATE <base64 chunk>`… (`+` for an empty one),
/// or `AUTHENTICATE *` to abort.
pub fn authenticate(session: &mut IrcSession, message: &Message) -> Flow {
    let argument = message.params[0].as_str();
    if session.account.is_some() {
        session.numeric(
            ERR_SASLALREADY,
            &["You have already authenticated using SASL"],
        );
        return Flow::Continue;
    }
    if argument == "*" {
        session.sasl = SaslState::Idle;
        session.numeric(ERR_SASLABORTED, &["SASL authentication aborted"]);
        return Flow::Continue;
    }
    match std::mem::take(&mut session.sasl) {
        SaslState::Idle => {
            if argument.eq_ignore_ascii_case("PLAIN") {
                session.sasl = SaslState::Receiving(String::new());
                session
                    .replies
                    .raw(Message::new("AUTHENTICATE", vec!["+".into()]));
            } else {
                session.numeric(RPL_SASLMECHS, &["PLAIN", "are available SASL mechanisms"]);
                session.numeric(ERR_SASLFAIL, &["SASL authentication failed"]);
            }
        }
        SaslState::Receiving(_) if argument.len() > SASL_CHUNK => {
            session.numeric(ERR_SASLTOOLONG, &["SASL message too long"]);
        }
        SaslState::Receiving(mut collected) => {
            if argument != "+" {
                collected.push_str(argument);
            }
            if collected.len() > SASL_MAX_BYTES {
                session.numeric(ERR_SASLTOOLONG, &["SASL message too long"]);
                return Flow::Continue;
            }
            if argument.len() == SASL_CHUNK {
                // More chunks follow.
                session.sasl = SaslState::Receiving(collected);
                return Flow::Continue;
            }
            match decode_plain(&collected) {
                Some((account, password)) => {
                    session
                        .account_requests
                        .push(AccountRequest::Sasl { account, password });
                }
                None => session.numeric(ERR_SASLFAIL, &["SASL authentication failed"]),
            }
        }
    }
    Flow::Continue
}

/// Decodes a SASL PLAIN payload, `authzid NUL authcid NUL password` (RFC 4616); the
/// authorization identity must be empty or the same as the authentication identity.
fn decode_plain(base64: &str) -> Option<(String, String)> {
    let bytes = BASE64.decode(base64).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('\0');
    let (authzid, authcid, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || authcid.is_empty() || password.is_empty() {
        return None;
    }
    if !authzid.is_empty() && authzid != authcid {
        return None;
    }
    Some((authcid.to_owned(), password.to_owned()))
}

/// `REGISTER <account> <email> <password>` (IRCv3 draft/account-registration); the account
/// must be `*` or the current nick, and email is not used.
pub fn register(session: &mut IrcSession, message: &Message) -> Flow {
    let params = &message.params;
    if session.user.is_none() {
        // We do not advertise `before-connect` (draft/account-registration).
        session.fail(
            "REGISTER",
            "COMPLETE_CONNECTION_REQUIRED",
            &[],
            "Finish connecting before registering an account",
        );
        return Flow::Continue;
    }
    if params.len() < 3 {
        session.fail("REGISTER", "INVALID_PARAMS", &[], "Not enough parameters");
        return Flow::Continue;
    }
    let nick = session.reply_nick();
    let account = if params[0] == "*" {
        nick.clone()
    } else {
        params[0].clone()
    };
    if nick == "*" || !account.eq_ignore_ascii_case(&nick) {
        session.fail(
            "REGISTER",
            "ACCOUNT_NAME_MUST_BE_NICK",
            &[&account],
            "You can only register your current nick",
        );
        return Flow::Continue;
    }
    if session.account.is_some() {
        session.fail(
            "REGISTER",
            "ALREADY_AUTHENTICATED",
            &[&account],
            "You are already logged in",
        );
        return Flow::Continue;
    }
    session.account_requests.push(AccountRequest::Register {
        account,
        password: params[2].clone(),
        via: Via::RegisterCommand,
    });
    Flow::Continue
}

/// `PRIVMSG NickServ :REGISTER password` / `:IDENTIFY [account] password` / `:HELP`.
pub fn nickserv(session: &mut IrcSession, text: &str) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let nick = session.reply_nick();
    match words.as_slice() {
        [command, password] if command.eq_ignore_ascii_case("REGISTER") => {
            if session.account.is_some() {
                nickserv_notice(session, "You are already logged in.");
                return;
            }
            session.account_requests.push(AccountRequest::Register {
                account: nick,
                password: (*password).to_owned(),
                via: Via::NickServ,
            });
        }
        [command, ..] if command.eq_ignore_ascii_case("IDENTIFY") && session.account.is_some() => {
            let account = session.account.clone().unwrap_or_default();
            nickserv_notice(session, &format!("You are already logged in as {account}."));
        }
        [command, password] if command.eq_ignore_ascii_case("IDENTIFY") => {
            session.account_requests.push(AccountRequest::Identify {
                account: nick,
                password: (*password).to_owned(),
            });
        }
        [command, account, password] if command.eq_ignore_ascii_case("IDENTIFY") => {
            session.account_requests.push(AccountRequest::Identify {
                account: (*account).to_owned(),
                password: (*password).to_owned(),
            });
        }
        _ => nickserv_notice(
            session,
            "Commands: REGISTER <password>, IDENTIFY [account] <password>.",
        ),
    }
}

/// `PRIVMSG ChanServ :REGISTER #room` / `:HELP`.
pub fn chanserv(session: &mut IrcSession, text: &str) {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [command, room] if command.eq_ignore_ascii_case("REGISTER") => {
            session.account_requests.push(AccountRequest::RegisterRoom {
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

/// A `NOTICE` from NickServ to the client.
pub fn nickserv_notice(session: &mut IrcSession, text: &str) {
    service_notice(session, NICKSERV, text);
}

/// A `NOTICE` from the service `service` to the client.
fn service_notice(session: &mut IrcSession, service: &str, text: &str) {
    let nick = session.reply_nick();
    let server = session.settings.server_name.clone();
    session.replies.push(
        Message::new("NOTICE", vec![nick, text.to_owned()])
            .with_source(format!("{service}!services@{server}")),
    );
}

/// Runs `request` and answers it the way its command asks for.
pub async fn run(session: &mut IrcSession, request: AccountRequest) {
    let address = session.peer.ip();
    let accounts = session.accounts.clone();
    match request {
        AccountRequest::Sasl { account, password } => {
            match accounts.login(&account, &password, address).await {
                Ok(account) => {
                    logged_in(session, &account);
                    session.numeric(RPL_SASLSUCCESS, &["SASL authentication successful"]);
                }
                Err(AccountError::RateLimited { seconds }) => {
                    tracing::info!(%address, "SASL login rate-limited");
                    let text =
                        format!("SASL authentication failed: try again in {seconds} seconds");
                    session.numeric(ERR_SASLFAIL, &[&text]);
                }
                Err(_) => session.numeric(ERR_SASLFAIL, &["SASL authentication failed"]),
            }
        }
        AccountRequest::Identify { account, password } => {
            match accounts.login(&account, &password, address).await {
                Ok(account) => {
                    logged_in(session, &account);
                    nickserv_notice(session, &format!("You are now identified for {account}."));
                }
                Err(error) => nickserv_notice(session, &format!("Login failed: {error}.")),
            }
        }
        AccountRequest::RegisterRoom { room } => register_room(session, &room).await,
        AccountRequest::Register {
            account,
            password,
            via,
        } => match accounts.register(&account, &password).await {
            Ok(account) => {
                logged_in(session, &account);
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
                        AccountError::UnacceptablePassword => "UNACCEPTABLE_PASSWORD",
                        AccountError::InvalidName(_) => "BAD_ACCOUNT_NAME",
                        _ => "TEMPORARILY_UNAVAILABLE",
                    };
                    session.fail("REGISTER", code, &[&account], &error.to_string());
                }
                Via::NickServ => {
                    nickserv_notice(session, &format!("Registration failed: {error}."))
                }
            },
        },
    }
}

/// `ChanServ REGISTER #room`: makes the logged-in operator's account the room's founder.
async fn register_room(session: &mut IrcSession, name: &str) {
    let Some(user) = session.user.clone() else {
        return;
    };
    let Some(room) = session.hub.room(name) else {
        return service_notice(session, CHANSERV, &format!("No such channel: {name}."));
    };
    let record = match session.hub.room_registration(&user, &room) {
        Ok(record) => record,
        Err(error) => return service_notice(session, CHANSERV, &format!("{error}.")),
    };
    let founder = record.founder.clone();
    match session.store.register_room(record.clone()).await {
        Ok(true) => {
            session.hub.mark_registered(&room, record);
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

/// Records the login, tells the client (900), and, once registered, the hub (which tells
/// `account-notify` peers).
fn logged_in(session: &mut IrcSession, account: &str) {
    session.account = Some(account.to_owned());
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
    if let Some(user) = session.user.clone() {
        session.hub.set_account(&user, Some(account));
    }
    session.nick_changed = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_payloads() {
        let encode = |text: &str| BASE64.encode(text);
        assert_eq!(
            decode_plain(&encode("\0alice\0s3cret!!")),
            Some(("alice".into(), "s3cret!!".into()))
        );
        assert_eq!(
            decode_plain(&encode("alice\0alice\0pw")),
            Some(("alice".into(), "pw".into()))
        );
        assert_eq!(decode_plain(&encode("bob\0alice\0pw")), None);
        assert_eq!(decode_plain(&encode("\0alice\0")), None);
        assert_eq!(decode_plain(&encode("\0alice")), None);
        assert_eq!(decode_plain("not base64!"), None);
    }
}
