//! SASL (`AUTHENTICATE`, IRCv3 sasl 3.1/3.2) with the mechanisms PLAIN (RFC 4616),
//! SCRAM-SHA-256 (RFC 5802, RFC 7677) and, where TLS listeners exist, EXTERNAL (RFC 4422
//! appendix A: the TLS client certificate, by its fingerprint): the exchange of base64 messages in 400-byte chunks, and
//! each mechanism's steps. Checking passwords and proofs is `crate::accounts`'s; a step that
//! must wait for the store is recorded as an [`AccountRequest`] and run once the handler
//! returns, before the next line is handled.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use palaver_proto::irc::caps::{SASL_MECHANISMS, SASL_MECHANISMS_WITH_EXTERNAL};
use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;
use palaver_proto::names::NICK_MAX_LEN;

use super::IrcSession;
use super::account::{AccountRequest, logged_in};
use crate::accounts::scram::{self, ClientFirst};
use crate::accounts::{AccountError, MAX_PASSWORD_BYTES, PasswordStamp, ScramLogin};
use crate::session::Flow;

/// SASL messages are sent in chunks of this many base64 bytes; a full chunk means more follow.
const SASL_CHUNK: usize = 400;
/// The most base64 one SASL message may take: a PLAIN message of two names of the longest nick
/// and the longest password, with their separators (SCRAM's messages are shorter).
const SASL_MAX_BYTES: usize = (2 * NICK_MAX_LEN + 2 + MAX_PASSWORD_BYTES).div_ceil(3) * 4;

/// SASL exchange progress.
#[derive(Default)]
pub enum SaslState {
    #[default]
    Idle,
    /// Collecting the base64 chunks of the client's next message, for `step`.
    Receiving { step: Step, collected: String },
}

/// What the client's next message is for.
pub enum Step {
    /// PLAIN: `authzid NUL authcid NUL password`.
    Plain,
    /// SCRAM: the client's first message.
    ScramFirst,
    /// EXTERNAL: the authorization identity (empty: the certificate's account).
    External,
    /// SCRAM: the client's final message, with its proof.
    ScramFinal(Box<ScramLogin>),
    /// SCRAM: the server proved itself (`v=…`); the client's empty answer completes the login
    /// as `account`.
    ScramAcknowledge {
        account: String,
        stamp: PasswordStamp,
    },
}

/// `AUTHENTICATE mechanism`, then `AUTHENTICATE <base64 chunk>`… (`+` for an empty one),
/// or `AUTHENTICATE *` to abort. A client already logged in may authenticate again (IRCv3
/// sasl-3.2 reauthentication): a success moves it to the new account, a failure leaves it
/// logged in as it was.
pub async fn authenticate(session: &mut IrcSession, message: &Message) -> Flow {
    let argument = message.params[0].as_str();
    if argument == "*" {
        // A SCRAM login dropped here never had its proof checked: it is not counted.
        session.sasl = SaslState::Idle;
        session.numeric(ERR_SASLABORTED, &["SASL authentication aborted"]);
        return Flow::Continue;
    }
    match std::mem::take(&mut session.sasl) {
        SaslState::Idle => choose_mechanism(session, argument),
        SaslState::Receiving { .. } if argument.len() > SASL_CHUNK => {
            session.numeric(ERR_SASLTOOLONG, &["SASL message too long"]);
        }
        SaslState::Receiving {
            step,
            mut collected,
        } => {
            if argument != "+" {
                collected.push_str(argument);
            }
            if collected.len() > SASL_MAX_BYTES {
                // 905 is for one parameter over 400 bytes (sasl-3.1); a message too long
                // altogether just fails.
                fail(session);
            } else if argument.len() == SASL_CHUNK {
                // More chunks follow.
                session.sasl = SaslState::Receiving { step, collected };
            } else {
                match BASE64.decode(&collected) {
                    Ok(received) => take_step(session, step, received).await,
                    Err(_) => fail(session),
                }
            }
        }
    }
    Flow::Continue
}

/// The mechanisms offered: EXTERNAL too where a client can present a certificate.
pub(super) fn mechanisms(session: &IrcSession) -> &'static str {
    if session.context.tls_offer.external {
        SASL_MECHANISMS_WITH_EXTERNAL
    } else {
        SASL_MECHANISMS
    }
}

/// `AUTHENTICATE <mechanism>`: the first step of `mechanism`, or `908` and `904` for one
/// palaver does not offer. EXTERNAL fails at once on a connection without a client
/// certificate.
fn choose_mechanism(session: &mut IrcSession, mechanism: &str) {
    let step = if mechanism.eq_ignore_ascii_case("PLAIN") {
        Step::Plain
    } else if mechanism.eq_ignore_ascii_case(scram::MECHANISM) {
        Step::ScramFirst
    } else if mechanism.eq_ignore_ascii_case("EXTERNAL") && session.context.tls_offer.external {
        if session.certificate_fingerprint.is_none() {
            let text = "SASL authentication failed: you presented no TLS client certificate";
            return session.numeric(ERR_SASLFAIL, &[text]);
        }
        Step::External
    } else {
        let mechanisms = mechanisms(session);
        session.numeric(
            RPL_SASLMECHS,
            &[mechanisms, "are available SASL mechanisms"],
        );
        return fail(session);
    };
    session.sasl = SaslState::Receiving {
        step,
        collected: String::new(),
    };
    send_challenge(session, b"");
}

/// Handles the client's whole (decoded) message for `step`.
async fn take_step(session: &mut IrcSession, step: Step, received: Vec<u8>) {
    match step {
        Step::Plain => match decode_plain(&received) {
            Some((account, password)) => session
                .pending()
                .account_requests
                .push(AccountRequest::Sasl { account, password }),
            None => fail(session),
        },
        Step::External => match String::from_utf8(received) {
            Ok(authzid) => session
                .pending()
                .account_requests
                .push(AccountRequest::External {
                    authzid: Some(authzid).filter(|authzid| !authzid.is_empty()),
                }),
            Err(_) => fail(session),
        },
        Step::ScramFirst => {
            let first = std::str::from_utf8(&received)
                .ok()
                .and_then(|text| ClientFirst::parse(text).ok());
            match first {
                Some(first) => session
                    .pending()
                    .account_requests
                    .push(AccountRequest::ScramStart(first)),
                None => fail(session),
            }
        }
        Step::ScramFinal(login) => {
            let Ok(text) = std::str::from_utf8(&received) else {
                return fail(session);
            };
            match login.finish(text) {
                Ok((server_final, account, stamp)) => {
                    session.sasl = SaslState::Receiving {
                        step: Step::ScramAcknowledge { account, stamp },
                        collected: String::new(),
                    };
                    send_challenge(session, server_final.as_bytes());
                }
                Err(error) => fail_with(session, &error),
            }
        }
        Step::ScramAcknowledge { account, stamp } => {
            if received.is_empty() {
                logged_in(session, &account, Some(stamp)).await;
                session.numeric(RPL_SASLSUCCESS, &["SASL authentication successful"]);
            } else {
                fail(session);
            }
        }
    }
}

/// Answers the client's first SCRAM message (once the store has been asked for the
/// account's credentials) with the server's first message.
pub async fn start_scram(session: &mut IrcSession, first: ClientFirst) {
    let address = session.peer.ip();
    match session.context.accounts.scram_start(first, address).await {
        Ok((login, server_first)) => {
            session.sasl = SaslState::Receiving {
                step: Step::ScramFinal(Box::new(login)),
                collected: String::new(),
            };
            send_challenge(session, server_first.as_bytes());
        }
        Err(error) => fail_with(session, &error),
    }
}

/// `AUTHENTICATE <base64>` (`+` for nothing). The server's messages are short: never more
/// than one chunk.
fn send_challenge(session: &mut IrcSession, challenge: &[u8]) {
    let encoded = if challenge.is_empty() {
        "+".to_owned()
    } else {
        BASE64.encode(challenge)
    };
    debug_assert!(encoded.len() < SASL_CHUNK, "one chunk");
    session
        .replies
        .raw(Message::new("AUTHENTICATE", vec![encoded]));
}

/// `904` after a SASL login failed: what the client may do about it for a rate limit or an
/// account that cannot use SCRAM yet; nothing about which accounts exist or why otherwise.
pub(super) fn fail_with(session: &mut IrcSession, error: &AccountError) {
    match error {
        AccountError::RateLimited { seconds } => {
            tracing::info!(address = %session.peer.ip(), "SASL login rate-limited");
            let text = format!("SASL authentication failed: try again in {seconds} seconds");
            session.numeric(ERR_SASLFAIL, &[&text]);
        }
        AccountError::NoScramCredentials | AccountError::Locked { .. } => {
            let text = format!("SASL authentication failed: {error}");
            session.numeric(ERR_SASLFAIL, &[&text]);
        }
        _ => fail(session),
    }
}

pub(super) fn fail(session: &mut IrcSession) {
    session.numeric(ERR_SASLFAIL, &["SASL authentication failed"]);
}

/// Decodes a SASL PLAIN message, `authzid NUL authcid NUL password` (RFC 4616); the
/// authorization identity must be empty or the same as the authentication identity.
pub(crate) fn decode_plain(message: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(message).ok()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_payloads() {
        let decode = |text: &str| decode_plain(text.as_bytes());
        assert_eq!(
            decode("\0alice\0s3cret!!"),
            Some(("alice".into(), "s3cret!!".into()))
        );
        assert_eq!(
            decode("alice\0alice\0pw"),
            Some(("alice".into(), "pw".into()))
        );
        assert_eq!(decode("bob\0alice\0pw"), None);
        assert_eq!(decode("\0alice\0"), None);
        assert_eq!(decode("\0alice"), None);
        assert_eq!(decode_plain(b"\0alice\0\xff"), None);
    }
}
