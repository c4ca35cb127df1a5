//! One IRC connection from the client to a server: TCP, line framing, registration with
//! capability negotiation and SASL PLAIN, and the replies the protocol requires (`PONG`).
//!
//! The connection knows bytes and IRC messages, never how they are shown (that is
//! [`crate::model`]) nor where input comes from (that is [`crate::pipe`], later a TUI).
//!
//! Registration follows modern.ircdocs.horse "Connection Registration" and IRCv3
//! capability negotiation (<https://ircv3.net/specs/extensions/capability-negotiation>):
//! `CAP LS 302`, `NICK`, `USER`; after the capability list, `CAP REQ` for the ones we use;
//! with a password and `sasl` acknowledged, `AUTHENTICATE PLAIN`
//! (<https://ircv3.net/specs/extensions/sasl-3.1>); then `CAP END`, and after `001` the
//! channels to join.
//!
//! Cancel safety: [`Connection::receive`] may be used in a `tokio::select!` (a cancelled call
//! loses no bytes). Everything that writes ([`Connection::handle`], [`Connection::send`]) must
//! be awaited to completion, outside a `select!`.

use std::time::Duration;

use base64::Engine;
use bytes::BytesMut;
use palaver_proto::framing::{Frame, LineDecoder};
use palaver_proto::irc::Message;
use palaver_proto::irc::caps::{Cap, CapSet};
use palaver_proto::irc::numeric::{
    ERR_ERRONEUSNICKNAME, ERR_NICKNAMEINUSE, ERR_PASSWDMISMATCH, ERR_SASLABORTED, ERR_SASLFAIL,
    ERR_SASLTOOLONG, RPL_SASLSUCCESS, RPL_WELCOME,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::{Instant, timeout, timeout_at};

use crate::{ClientError, ConnectOptions};

/// How long to wait for the TCP connection to be established.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long registration (from connecting to `001`) may take.
pub const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one write may wait for the server to take our bytes.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest line we accept from the server: 512 bytes of message plus 8191 bytes of tags
/// (IRCv3 message-tags), without the CRLF.
const MAX_LINE_BYTES: usize = 512 + 8191;

/// The capabilities the client asks for when offered.
pub const WANTED_CAPS: [Cap; 9] = [
    Cap::ServerTime,
    Cap::EchoMessage,
    Cap::MessageTags,
    Cap::Batch,
    Cap::Chathistory,
    Cap::AwayNotify,
    Cap::MultiPrefix,
    Cap::Sasl,
    Cap::LabeledResponse,
];

/// SASL sends its payload in base64 chunks of at most this many bytes (IRCv3 sasl-3.1).
const SASL_CHUNK_BYTES: usize = 400;

/// Where the connection is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// No connection. `retry_at` is when a reconnecting client will try again (`None`: it will
    /// not). A [`Connection`] only ever reports `retry_at: None`, having closed; the front end
    /// that owns the reconnect policy ([`crate::reconnect`]) supplies the time.
    Disconnected { retry_at: Option<Instant> },
    /// The TCP connection is being established.
    Connecting,
    /// Connected, registering: negotiating capabilities, authenticating, waiting for `001`.
    Registering(Registration),
    /// Registered as `nick` with the capabilities in `caps`.
    Connected { nick: String, caps: CapSet },
}

/// The progress of registration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Registration {
    /// Capabilities offered so far (a `CAP LS 302` reply may span several lines).
    offered: Vec<String>,
    /// Capabilities acknowledged by the server.
    enabled: CapSet,
    /// True once `CAP END` is sent (or the server turned out not to negotiate).
    cap_ended: bool,
}

/// A connection to an IRC server.
pub struct Connection {
    state: ConnectionState,
    /// The nick we register with (`nick_` variants replace it, see `nick_fallbacks`).
    nick: String,
    /// The SASL credentials if any: the account is the nick asked for, whatever variant we end
    /// up with.
    account: String,
    password: Option<String>,
    /// Channels to join once registered.
    channels: Vec<String>,
    /// When registration must have completed ([`REGISTRATION_TIMEOUT`] after connecting).
    registration_deadline: Instant,
    /// Set once we sent `QUIT`: the server's `ERROR` and close are then expected.
    quitting: bool,
    /// How many more `nick_` variants to try when our nick is taken while registering; 0 makes
    /// `433` fatal. Set by a reconnecting client, whose previous session may linger as a ghost.
    nick_fallbacks: usize,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    decoder: LineDecoder,
    /// Bytes received and not yet decoded into lines; bounded by the decoder's line limit.
    buffer: BytesMut,
}

impl Connection {
    /// Connects to `options.server` and starts registering (state
    /// [`ConnectionState::Registering`]).
    pub async fn connect(options: &ConnectOptions) -> Result<Connection, ClientError> {
        let server = options.server.clone();
        let stream = match timeout(CONNECT_TIMEOUT, TcpStream::connect(&server)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(ClientError::Connect { server, source }),
            Err(_) => return Err(ClientError::Timeout("connecting to the server")),
        };
        // Small interactive lines: do not let Nagle's algorithm hold them back.
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        let mut connection = Connection {
            state: ConnectionState::Registering(Registration::default()),
            nick: options.nick.clone(),
            account: options.nick.clone(),
            password: options.password.clone(),
            channels: options.channels.clone(),
            registration_deadline: Instant::now() + REGISTRATION_TIMEOUT,
            quitting: false,
            nick_fallbacks: 0,
            reader,
            writer,
            decoder: LineDecoder::new(MAX_LINE_BYTES),
            buffer: BytesMut::with_capacity(4096),
        };
        let nick = connection.nick.clone();
        connection.send_command("CAP", &["LS", "302"]).await?;
        connection.send_command("NICK", &[&nick]).await?;
        connection
            .send_command("USER", &[&nick, "0", "*", &nick])
            .await?;
        Ok(connection)
    }

    /// While registering, answer `433` (nick in use) by trying `nick_`, `nick__`, … up to
    /// `count` times instead of failing.
    pub fn set_nick_fallbacks(&mut self, count: usize) {
        self.nick_fallbacks = count;
    }

    pub fn state(&self) -> &ConnectionState {
        &self.state
    }

    /// True once `001` has arrived.
    pub fn is_registered(&self) -> bool {
        matches!(self.state, ConnectionState::Connected { .. })
    }

    /// The capabilities in effect (acknowledged so far while registering).
    pub fn caps(&self) -> CapSet {
        match &self.state {
            ConnectionState::Registering(registration) => registration.enabled,
            ConnectionState::Connected { caps, .. } => *caps,
            _ => CapSet::EMPTY,
        }
    }

    /// Our nick: the registered one, or the one we are registering with.
    pub fn nick(&self) -> &str {
        match &self.state {
            ConnectionState::Connected { nick, .. } => nick,
            _ => &self.nick,
        }
    }

    /// The next message from the server, or `None` when the server closed the connection.
    /// Lines that are too long or not IRC are skipped. While registering, fails with a timeout
    /// once [`REGISTRATION_TIMEOUT`] has passed. Cancel safe.
    pub async fn receive(&mut self) -> Result<Option<Message>, ClientError> {
        loop {
            while let Some(frame) = self.decoder.decode(&mut self.buffer) {
                let Frame::Line(line) = frame else {
                    tracing::debug!("skipping an over-long line from the server");
                    continue;
                };
                let Ok(text) = std::str::from_utf8(&line) else {
                    tracing::debug!("skipping a line that is not UTF-8");
                    continue;
                };
                match Message::parse(text) {
                    Ok(message) => {
                        tracing::trace!(line = text, "received");
                        return Ok(Some(message));
                    }
                    Err(_) => continue,
                }
            }
            // `read_buf` is cancel safe: if another branch wins, no bytes were taken.
            let read = if self.is_registered() || self.quitting {
                self.reader.read_buf(&mut self.buffer).await
            } else {
                match timeout_at(
                    self.registration_deadline,
                    self.reader.read_buf(&mut self.buffer),
                )
                .await
                {
                    Ok(read) => read,
                    Err(_) => return Err(ClientError::Timeout("registering with the server")),
                }
            };
            match read {
                Ok(0) => {
                    self.state = ConnectionState::Disconnected { retry_at: None };
                    return Ok(None);
                }
                Ok(_) => {}
                Err(error) if self.quitting => {
                    tracing::debug!(%error, "read error after QUIT");
                    return Ok(None);
                }
                Err(error) => return Err(ClientError::Io(error)),
            }
        }
    }

    /// Does what the protocol requires on `message`: answers `PING`, negotiates capabilities,
    /// authenticates, joins the configured channels on `001`, follows our nick. Fails on what
    /// ends the session: a refused nick or password during registration, a failed SASL login,
    /// or `ERROR` from the server when we did not ask to quit.
    pub async fn handle(&mut self, message: &Message) -> Result<(), ClientError> {
        let command = message.command.to_ascii_uppercase();
        let params = message.params.as_slice();
        let registering = !self.is_registered();
        match (command.as_str(), params) {
            ("PING", _) => {
                let reply = Message::new("PONG", message.params.clone());
                self.send(&reply).await?;
            }
            ("ERROR", _) if self.quitting => {}
            ("ERROR", rest) => {
                let reason = rest.first().cloned().unwrap_or_default();
                return Err(ClientError::Closed(reason));
            }
            ("CAP", [_, subcommand, rest @ ..]) => self.handle_cap(subcommand, rest).await?,
            ("AUTHENTICATE", [challenge, ..]) if challenge == "+" => {
                self.send_sasl_plain().await?;
            }
            (RPL_SASLSUCCESS, _) => self.end_cap().await?,
            (ERR_SASLFAIL | ERR_SASLTOOLONG | ERR_SASLABORTED, rest) => {
                let reason = rest.last().cloned().unwrap_or_default();
                return Err(ClientError::Sasl(reason));
            }
            (RPL_WELCOME, [nick, ..]) => {
                self.state = ConnectionState::Connected {
                    nick: nick.clone(),
                    caps: self.caps(),
                };
                if !self.channels.is_empty() {
                    let channels = self.channels.join(",");
                    self.send_command("JOIN", &[&channels]).await?;
                }
            }
            (ERR_NICKNAMEINUSE, [_, _, ..]) if registering && self.nick_fallbacks > 0 => {
                self.nick_fallbacks -= 1;
                self.nick.push('_');
                let nick = self.nick.clone();
                tracing::info!(%nick, "nick in use; trying a variant");
                self.send_command("NICK", &[&nick]).await?;
            }
            (ERR_NICKNAMEINUSE, [_, nick, ..]) if registering => {
                return Err(ClientError::NickInUse(nick.clone()));
            }
            (ERR_ERRONEUSNICKNAME, [_, nick, rest @ ..]) if registering => {
                let reason = rest.last().cloned().unwrap_or_default();
                return Err(ClientError::BadNick(nick.clone(), reason));
            }
            (ERR_PASSWDMISMATCH, _) => return Err(ClientError::PasswordRefused),
            ("NICK", [new_nick, ..]) => {
                let source_nick = message
                    .source
                    .as_deref()
                    .map(|source| palaver_proto::irc::split_userhost(source).0);
                if let ConnectionState::Connected { nick, .. } = &mut self.state
                    && source_nick.is_some_and(|old| old.eq_ignore_ascii_case(nick))
                {
                    *nick = new_nick.clone();
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Sends `message`.
    pub async fn send(&mut self, message: &Message) -> Result<(), ClientError> {
        let bytes = message.to_bytes();
        tracing::trace!(line = %String::from_utf8_lossy(&bytes).trim_end(), "sending");
        match timeout(WRITE_TIMEOUT, self.writer.write_all(&bytes)).await {
            Ok(result) => result.map_err(ClientError::Io),
            Err(_) => Err(ClientError::Timeout("sending to the server")),
        }
    }

    /// Sends `QUIT [reason]` and from then on treats the server's `ERROR` and close as the
    /// expected end.
    pub async fn quit(&mut self, reason: Option<&str>) -> Result<(), ClientError> {
        self.quitting = true;
        let params = reason
            .map(|reason| vec![reason.to_owned()])
            .unwrap_or_default();
        self.send(&Message::new("QUIT", params)).await
    }

    async fn send_command(&mut self, command: &str, params: &[&str]) -> Result<(), ClientError> {
        let params = params.iter().map(|param| (*param).to_owned()).collect();
        self.send(&Message::new(command, params)).await
    }

    /// `CAP LS`, `ACK` and `NAK` while registering; later `CAP` lines (`NEW`, `DEL`) are only
    /// informational for us.
    async fn handle_cap(&mut self, subcommand: &str, rest: &[String]) -> Result<(), ClientError> {
        let ConnectionState::Registering(registration) = &mut self.state else {
            return Ok(());
        };
        match subcommand.to_ascii_uppercase().as_str() {
            "LS" => {
                // `CAP * LS * :caps…` announces more lines; the last one has no `*`.
                let (more, list) = match rest {
                    [star, list] if star == "*" => (true, list),
                    [list, ..] => (false, list),
                    [] => (false, &String::new()),
                };
                registration.offered.extend(
                    list.split(' ')
                        .filter(|cap| !cap.is_empty())
                        .map(|cap| cap.split('=').next().unwrap_or(cap).to_owned()),
                );
                if more {
                    return Ok(());
                }
                let wanted: Vec<&str> = WANTED_CAPS
                    .iter()
                    .filter(|cap| **cap != Cap::Sasl || self.password.is_some())
                    .map(|cap| cap.name())
                    .filter(|name| registration.offered.iter().any(|offered| offered == name))
                    .collect();
                if self.password.is_some() && !wanted.contains(&Cap::Sasl.name()) {
                    tracing::warn!("the server does not offer SASL; not logging in");
                }
                if wanted.is_empty() {
                    self.end_cap().await?;
                } else {
                    let request = wanted.join(" ");
                    self.send_command("CAP", &["REQ", &request]).await?;
                }
            }
            "ACK" => {
                let list = rest.last().map_or("", String::as_str);
                for name in list.split(' ') {
                    // A `-name` in an ACK disables; we never ask for that.
                    if let Some(cap) = Cap::from_name(name) {
                        registration.enabled.insert(cap);
                    }
                }
                if registration.enabled.contains(Cap::Sasl) && self.password.is_some() {
                    self.send_command("AUTHENTICATE", &["PLAIN"]).await?;
                } else {
                    self.end_cap().await?;
                }
            }
            "NAK" => {
                // REQ is all-or-nothing: go on without capabilities rather than haggle.
                if self.password.is_some() {
                    tracing::warn!("the server refused our capabilities; not logging in");
                }
                self.end_cap().await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn end_cap(&mut self) -> Result<(), ClientError> {
        if let ConnectionState::Registering(registration) = &mut self.state {
            if registration.cap_ended {
                return Ok(());
            }
            registration.cap_ended = true;
        }
        self.send_command("CAP", &["END"]).await
    }

    /// The PLAIN payload, `authzid NUL authcid NUL password` with the nick as both names,
    /// base64-encoded and sent in chunks of 400 bytes; a payload that is an exact multiple of
    /// 400 is followed by `+` (IRCv3 sasl-3.1, "AUTHENTICATE").
    async fn send_sasl_plain(&mut self) -> Result<(), ClientError> {
        let password = self.password.clone().unwrap_or_default();
        let plain = format!("{0}\0{0}\0{password}", self.account);
        let encoded = base64::engine::general_purpose::STANDARD.encode(plain);
        for chunk in sasl_chunks(&encoded) {
            self.send_command("AUTHENTICATE", &[chunk]).await?;
        }
        Ok(())
    }
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

    /// A server that answers our first `NICK` with `433`: with fallbacks we try `bot_`.
    #[tokio::test]
    async fn a_taken_nick_is_retried_with_an_underscore_when_allowed() {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let options = ConnectOptions {
            server: listener.local_addr().unwrap().to_string(),
            nick: "bot".into(),
            password: None,
            channels: vec![],
        };
        let (mut connection, accepted) = tokio::join!(
            async { Connection::connect(&options).await.unwrap() },
            async { listener.accept().await.unwrap().0 }
        );
        connection.set_nick_fallbacks(1);
        let (server_reader, mut server_writer) = accepted.into_split();
        let mut server_lines = BufReader::new(server_reader).lines();
        for expected in ["CAP LS 302", "NICK bot", "USER bot 0 * bot"] {
            assert_eq!(server_lines.next_line().await.unwrap().unwrap(), expected);
        }
        server_writer
            .write_all(b":srv 433 * bot :Nickname is already in use\r\n")
            .await
            .unwrap();
        let message = connection.receive().await.unwrap().unwrap();
        connection.handle(&message).await.unwrap();
        assert_eq!(
            server_lines.next_line().await.unwrap().unwrap(),
            "NICK bot_"
        );
        assert_eq!(connection.nick(), "bot_");

        // No fallback left: the next refusal is final.
        server_writer
            .write_all(b":srv 433 * bot_ :Nickname is already in use\r\n")
            .await
            .unwrap();
        let message = connection.receive().await.unwrap().unwrap();
        assert!(matches!(
            connection.handle(&message).await,
            Err(ClientError::NickInUse(nick)) if nick == "bot_"
        ));
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
