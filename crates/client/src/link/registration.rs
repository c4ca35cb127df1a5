//! Registering a new connection: capability negotiation, SASL PLAIN, and our nick, until `001`.
//! Pure: it reads the server's messages and says what to send back.
//!
//! Registration follows modern.ircdocs.horse "Connection Registration" and IRCv3
//! capability negotiation (<https://ircv3.net/specs/extensions/capability-negotiation>):
//! `CAP LS 302`, `NICK`, `USER`; after the capability list, `CAP REQ` for the ones we use;
//! with a password and `sasl` acknowledged, `AUTHENTICATE PLAIN`
//! (<https://ircv3.net/specs/extensions/sasl-3.1>); then `CAP END`. The link joins the rooms
//! once `001` has come.

use base64::Engine;
use palaver_proto::irc::Message;
use palaver_proto::irc::caps::{Cap, CapSet};
use palaver_proto::irc::numeric::{
    ERR_ERRONEUSNICKNAME, ERR_NICKNAMEINUSE, ERR_PASSWDMISMATCH, ERR_SASLABORTED, ERR_SASLFAIL,
    ERR_SASLTOOLONG, RPL_SASLSUCCESS, RPL_WELCOME,
};

use crate::ClientError;

/// The capabilities the client asks for when offered.
pub const WANTED_CAPS: [Cap; 10] = [
    Cap::ServerTime,
    Cap::EchoMessage,
    Cap::MessageTags,
    Cap::Batch,
    Cap::Chathistory,
    Cap::AwayNotify,
    Cap::MultiPrefix,
    Cap::Sasl,
    Cap::LabeledResponse,
    Cap::ReadMarker,
];

/// SASL sends its payload in base64 chunks of at most this many bytes (IRCv3 sasl-3.1).
const SASL_CHUNK_BYTES: usize = 400;

/// Where registration stands after a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Registering,
    /// `001` came: registered as `nick` with the capabilities in `caps`.
    Registered {
        nick: String,
        caps: CapSet,
    },
}

/// The progress of one connection's registration.
#[derive(Debug)]
pub struct Registration {
    /// The nick we register with (`nick_` variants replace it, see `nick_fallbacks`).
    nick: String,
    /// The SASL account: the nick the client was started with, whatever nick we use now.
    account: String,
    password: Option<String>,
    /// How many more `nick_` variants to try when our nick is taken; 0 makes `433` fatal. Set
    /// when reconnecting, as our previous session may linger as a ghost holding the nick.
    nick_fallbacks: usize,
    /// Capabilities offered so far (a `CAP LS 302` reply may span several lines).
    offered: Vec<String>,
    /// Capabilities acknowledged by the server.
    enabled: CapSet,
    /// True once `CAP END` is sent.
    cap_ended: bool,
}

impl Registration {
    pub fn new(nick: &str, account: &str, password: Option<String>, nick_fallbacks: usize) -> Self {
        Self {
            nick: nick.to_owned(),
            account: account.to_owned(),
            password,
            nick_fallbacks,
            offered: Vec::new(),
            enabled: CapSet::EMPTY,
            cap_ended: false,
        }
    }

    /// What a new connection sends first.
    pub fn greeting(&self) -> Vec<Message> {
        vec![
            command("CAP", &["LS", "302"]),
            command("NICK", &[&self.nick]),
            command("USER", &[&self.nick, "0", "*", &self.nick]),
        ]
    }

    /// Takes in one message, pushing onto `out` what to send. Fails on what ends the attempt:
    /// a refused nick or password, or a failed SASL login.
    pub fn on_message(
        &mut self,
        message: &Message,
        out: &mut Vec<Message>,
    ) -> Result<Step, ClientError> {
        let code = message.command.to_ascii_uppercase();
        match (code.as_str(), message.params.as_slice()) {
            ("CAP", [_, subcommand, rest @ ..]) => self.on_cap(subcommand, rest, out),
            ("AUTHENTICATE", [challenge, ..]) if challenge == "+" => self.sasl_plain(out),
            (RPL_SASLSUCCESS, _) => self.end_cap(out),
            (ERR_SASLFAIL | ERR_SASLTOOLONG | ERR_SASLABORTED, rest) => {
                let reason = rest.last().cloned().unwrap_or_default();
                return Err(ClientError::Sasl(reason));
            }
            (RPL_WELCOME, [nick, ..]) => {
                return Ok(Step::Registered {
                    nick: nick.clone(),
                    caps: self.enabled,
                });
            }
            (ERR_NICKNAMEINUSE, [_, _, ..]) if self.nick_fallbacks > 0 => {
                self.nick_fallbacks -= 1;
                self.nick.push('_');
                tracing::info!(nick = %self.nick, "nick in use; trying a variant");
                out.push(command("NICK", &[&self.nick]));
            }
            (ERR_NICKNAMEINUSE, [_, nick, ..]) => {
                return Err(ClientError::NickInUse(nick.clone()));
            }
            (ERR_ERRONEUSNICKNAME, [_, nick, rest @ ..]) => {
                let reason = rest.last().cloned().unwrap_or_default();
                return Err(ClientError::BadNick(nick.clone(), reason));
            }
            (ERR_PASSWDMISMATCH, _) => return Err(ClientError::PasswordRefused),
            _ => {}
        }
        Ok(Step::Registering)
    }

    /// `CAP LS`, `ACK` and `NAK`.
    fn on_cap(&mut self, subcommand: &str, rest: &[String], out: &mut Vec<Message>) {
        match subcommand.to_ascii_uppercase().as_str() {
            "LS" => {
                // `CAP * LS * :caps…` announces more lines; the last one has no `*`.
                let (more, list) = match rest {
                    [star, list] if star == "*" => (true, list.as_str()),
                    [list, ..] => (false, list.as_str()),
                    [] => (false, ""),
                };
                self.offered.extend(
                    list.split(' ')
                        .filter(|cap| !cap.is_empty())
                        .map(|cap| cap.split('=').next().unwrap_or(cap).to_owned()),
                );
                if more {
                    return;
                }
                let wanted: Vec<&str> = WANTED_CAPS
                    .iter()
                    .filter(|cap| **cap != Cap::Sasl || self.password.is_some())
                    .map(|cap| cap.name())
                    .filter(|name| self.offered.iter().any(|offered| offered == name))
                    .collect();
                if self.password.is_some() && !wanted.contains(&Cap::Sasl.name()) {
                    tracing::warn!("the server does not offer SASL; not logging in");
                }
                if wanted.is_empty() {
                    self.end_cap(out);
                } else {
                    out.push(command("CAP", &["REQ", &wanted.join(" ")]));
                }
            }
            "ACK" => {
                let list = rest.last().map_or("", String::as_str);
                for name in list.split(' ') {
                    // A `-name` in an ACK disables; we never ask for that.
                    if let Some(cap) = Cap::from_name(name) {
                        self.enabled.insert(cap);
                    }
                }
                if self.enabled.contains(Cap::Sasl) && self.password.is_some() {
                    out.push(command("AUTHENTICATE", &["PLAIN"]));
                } else {
                    self.end_cap(out);
                }
            }
            "NAK" => {
                // REQ is all-or-nothing: go on without capabilities rather than haggle.
                if self.password.is_some() {
                    tracing::warn!("the server refused our capabilities; not logging in");
                }
                self.end_cap(out);
            }
            // `NEW` and `DEL` are only informational for us.
            _ => {}
        }
    }

    fn end_cap(&mut self, out: &mut Vec<Message>) {
        if !self.cap_ended {
            self.cap_ended = true;
            out.push(command("CAP", &["END"]));
        }
    }

    /// The PLAIN payload, `authzid NUL authcid NUL password` with the account as both names,
    /// base64-encoded and sent in chunks of 400 bytes; a payload that is an exact multiple of
    /// 400 is followed by `+` (IRCv3 sasl-3.1, "AUTHENTICATE").
    fn sasl_plain(&self, out: &mut Vec<Message>) {
        let password = self.password.as_deref().unwrap_or_default();
        let plain = format!("{0}\0{0}\0{password}", self.account);
        let encoded = base64::engine::general_purpose::STANDARD.encode(plain);
        for chunk in sasl_chunks(&encoded) {
            out.push(command("AUTHENTICATE", &[chunk]));
        }
    }
}

fn command(name: &str, params: &[&str]) -> Message {
    Message::new(
        name,
        params.iter().map(|param| (*param).to_owned()).collect(),
    )
}

/// Splits a base64 payload into `AUTHENTICATE` arguments: 400-byte chunks, then `+` if the
/// last chunk was full (or the payload empty).
fn sasl_chunks(encoded: &str) -> Vec<&str> {
    // base64 is ASCII, so byte chunks are valid strings.
    let mut chunks: Vec<&str> = encoded
        .as_bytes()
        .chunks(SASL_CHUNK_BYTES)
        .map(|chunk| std::str::from_utf8(chunk).unwrap_or("+"))
        .collect();
    if encoded.len().is_multiple_of(SASL_CHUNK_BYTES) {
        chunks.push("+");
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(messages: &[Message]) -> Vec<String> {
        messages
            .iter()
            .map(|m| String::from_utf8_lossy(&m.to_bytes()).trim_end().to_owned())
            .collect()
    }

    fn feed(
        registration: &mut Registration,
        line: &str,
    ) -> (Result<Step, ClientError>, Vec<String>) {
        let mut out = Vec::new();
        let step = registration.on_message(&Message::parse(line).unwrap(), &mut out);
        (step, lines(&out))
    }

    #[test]
    fn capabilities_and_sasl_then_cap_end() {
        let mut registration = Registration::new("bot", "bot", Some("pw".into()), 0);
        assert_eq!(
            lines(&registration.greeting()),
            ["CAP LS 302", "NICK bot", "USER bot 0 * bot"]
        );
        let (_, out) = feed(&mut registration, ":srv CAP * LS * :server-time sasl=PLAIN");
        assert!(out.is_empty(), "more capabilities are announced");
        let (_, out) = feed(
            &mut registration,
            ":srv CAP * LS :echo-message labeled-response",
        );
        assert_eq!(
            out,
            ["CAP REQ :server-time echo-message sasl labeled-response"]
        );
        let (_, out) = feed(
            &mut registration,
            ":srv CAP bot ACK :server-time echo-message sasl labeled-response",
        );
        assert_eq!(out, ["AUTHENTICATE PLAIN"]);
        let (_, out) = feed(&mut registration, "AUTHENTICATE +");
        assert_eq!(out, ["AUTHENTICATE Ym90AGJvdABwdw=="]);
        let (_, out) = feed(
            &mut registration,
            ":srv 903 bot :SASL authentication successful",
        );
        assert_eq!(out, ["CAP END"]);
        let (step, _) = feed(&mut registration, ":srv 001 bot :Welcome");
        let Ok(Step::Registered { nick, caps }) = step else {
            panic!("{step:?}")
        };
        assert_eq!(nick, "bot");
        assert!(caps.contains(Cap::LabeledResponse) && caps.contains(Cap::EchoMessage));
    }

    #[test]
    fn a_taken_nick_is_retried_with_an_underscore_when_allowed() {
        let mut registration = Registration::new("bot", "bot", None, 1);
        let (step, out) = feed(
            &mut registration,
            ":srv 433 * bot :Nickname is already in use",
        );
        assert_eq!(step.unwrap(), Step::Registering);
        assert_eq!(out, ["NICK bot_"]);
        // No fallback left: the next refusal is final.
        let (step, _) = feed(
            &mut registration,
            ":srv 433 * bot_ :Nickname is already in use",
        );
        assert!(matches!(step, Err(ClientError::NickInUse(nick)) if nick == "bot_"));
    }

    #[test]
    fn refused_logins_end_registration() {
        let mut registration = Registration::new("bot", "bot", Some("pw".into()), 0);
        let (step, _) = feed(
            &mut registration,
            ":srv 904 bot :SASL authentication failed",
        );
        assert!(
            matches!(step, Err(ClientError::Sasl(reason)) if reason == "SASL authentication failed")
        );
    }

    #[test]
    fn sasl_payload_is_chunked_at_400_bytes() {
        assert_eq!(sasl_chunks("abc"), ["abc"]);
        assert_eq!(sasl_chunks(""), ["+"]);
        let full = "a".repeat(400);
        assert_eq!(sasl_chunks(&full), [full.as_str(), "+"]);
        let longer = "b".repeat(401);
        assert_eq!(sasl_chunks(&longer), [&longer[..400], "b"]);
    }
}
