//! Pipe mode: stdin lines in, text-protocol lines out, for scripts and bots.
//!
//! Each stdin line is said in the current room (the first `--join` channel, or the last one
//! `/join`ed); a line starting with `/` is a command (see [`PipeCommand`]). Every message
//! received is printed on stdout as the text protocol shows it (`[HH:MM:SS] #room <nick>
//! text`); errors the server reports are `! …` lines, as in the text protocol.
//!
//! Delivery: lines read before registration and the first join complete are queued, in
//! order. At EOF on stdin the client waits until the server has acknowledged every line: it
//! sends a `PING` after the last one and waits for its `PONG` (palaver answers a `PING` only
//! after the echoes of earlier messages, so with `echo-message` every echo has arrived by then;
//! the client also counts echoes and refusals). Then it sends `QUIT` and returns. Every wait
//! is bounded.

use std::collections::VecDeque;
use std::time::Duration;

use palaver_proto::irc::Message;
use palaver_proto::irc::caps::Cap;
use palaver_proto::irc::numeric::{
    ERR_BADCHANMASK, ERR_BADCHANNELKEY, ERR_BANNEDFROMCHAN, ERR_CANNOTSENDTOCHAN,
    ERR_CHANNELISFULL, ERR_INPUTTOOLONG, ERR_INVITEONLYCHAN, ERR_NOMOTD, ERR_NORECIPIENT,
    ERR_NOSUCHCHANNEL, ERR_NOSUCHNICK, ERR_NOTEXTTOSEND,
};
use palaver_proto::time::Timestamp;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::{Instant, sleep_until, timeout};

use crate::connection::Connection;
use crate::model::{Model, is_channel, source_nick};
use crate::{ClientError, ConnectOptions};

/// How long, after EOF on stdin, the server may take to acknowledge what was sent.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the server to close the connection after `QUIT`.
pub const QUIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Stdin lines queued before the connection is ready; reading stdin pauses beyond this.
pub const MAX_QUEUED_LINES: usize = 1024;

/// The longest line we send, CRLF included (RFC 1459 2.3, without tags).
const MAX_IRC_LINE_BYTES: usize = 512;

/// The `PING` token that marks the end of our input.
const DRAIN_TOKEN: &str = "palaver-pipe-drain";

/// A stdin line, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipeCommand<'a> {
    /// Plain text (a leading `//` stands for a literal `/`), for the current room.
    Say(&'a str),
    /// `/me action`
    Action(&'a str),
    /// `/msg nick text`
    Msg { to: &'a str, text: &'a str },
    /// `/join #room [key]`
    Join { room: &'a str, key: Option<&'a str> },
    /// `/part [#room] [reason]`
    Part {
        room: Option<&'a str>,
        reason: Option<&'a str>,
    },
    /// `/nick NAME`
    Nick(&'a str),
    /// `/quit [reason]`
    Quit(Option<&'a str>),
    /// `/quote RAW`: a raw IRC line.
    Quote(&'a str),
    /// Nothing to do (a blank line).
    Nothing,
    /// A command we cannot carry out; the text says why.
    Invalid(String),
}

impl<'a> PipeCommand<'a> {
    /// Parses one stdin line (without its line ending). Command names are case-insensitive;
    /// the last argument runs verbatim to the end of the line, as in the text protocol.
    pub fn parse(line: &'a str) -> PipeCommand<'a> {
        if line.trim().is_empty() {
            return PipeCommand::Nothing;
        }
        if line.starts_with("//") {
            return PipeCommand::Say(&line[1..]);
        }
        let Some(command_line) = line.strip_prefix('/') else {
            return PipeCommand::Say(line);
        };
        let (name, rest) = split_word(command_line);
        let usage = |text: &str| PipeCommand::Invalid(format!("usage: {text}"));
        match name.to_ascii_lowercase().as_str() {
            "me" if !rest.is_empty() => PipeCommand::Action(rest),
            "me" => usage("/me action"),
            "msg" => match split_word(rest) {
                (to, text) if !to.is_empty() && !text.is_empty() => PipeCommand::Msg { to, text },
                _ => usage("/msg NICK text"),
            },
            "join" => match split_word(rest) {
                (room, key) if !room.is_empty() => PipeCommand::Join {
                    room,
                    key: (!key.is_empty()).then_some(key),
                },
                _ => usage("/join #room [key]"),
            },
            "part" => {
                let (first, after) = split_word(rest);
                if is_channel(first) {
                    PipeCommand::Part {
                        room: Some(first),
                        reason: (!after.is_empty()).then_some(after),
                    }
                } else {
                    PipeCommand::Part {
                        room: None,
                        reason: (!rest.is_empty()).then_some(rest),
                    }
                }
            }
            "nick" => match split_word(rest) {
                (nick, "") if !nick.is_empty() => PipeCommand::Nick(nick),
                _ => usage("/nick NAME"),
            },
            "quit" => PipeCommand::Quit((!rest.is_empty()).then_some(rest)),
            "quote" if !rest.is_empty() => PipeCommand::Quote(rest),
            "quote" => usage("/quote RAW"),
            _ => PipeCommand::Invalid(format!("unknown command /{name}")),
        }
    }
}

/// The first space-separated word and the rest (leading spaces of the rest removed).
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches(' ');
    match text.split_once(' ') {
        Some((word, rest)) => (word, rest.trim_start_matches(' ')),
        None => (text, ""),
    }
}

/// Runs pipe mode until stdin ends (and everything sent is acknowledged), `/quit`, or a fatal
/// error. Lines for stdout are written as they arrive.
pub async fn run_pipe<I, O>(options: ConnectOptions, stdin: I, stdout: O) -> Result<(), ClientError>
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    let connection = Connection::connect(&options).await?;
    let mut pipe = Pipe {
        model: Model::new(options.nick.clone()),
        connection,
        out: stdout,
        current_room: options.channels.first().cloned(),
        first_room: options.channels.first().cloned(),
        ready: false,
        pending_echoes: 0,
        refused: 0,
        drain: Drain::NotStarted,
    };
    pipe.run(BufReader::new(stdin)).await
}

/// Where the end-of-input handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drain {
    NotStarted,
    /// The drain `PING` is sent; its `PONG` must come by the deadline.
    AwaitingPong {
        deadline: Instant,
    },
    /// The `PONG` came; with echo-message, echoes may still be outstanding until the deadline.
    Ponged {
        deadline: Instant,
    },
}

/// Pipe mode's state. Owned by the one task running [`run_pipe`].
struct Pipe<O> {
    connection: Connection,
    model: Model,
    out: O,
    /// Where plain lines go: the first `--join` channel, then the last `/join`ed.
    current_room: Option<String>,
    /// The first `--join` channel: input waits until we are in it.
    first_room: Option<String>,
    /// True once registered and in `first_room`; from then on input is sent as it comes.
    ready: bool,
    /// Messages sent whose echo (with echo-message) or refusal has not arrived yet.
    pending_echoes: usize,
    /// Messages the server refused (`404`, `401`, …).
    refused: usize,
    drain: Drain,
}

enum Flow {
    Continue,
    Quit(Option<String>),
}

impl<O: AsyncWrite + Unpin> Pipe<O> {
    async fn run<I: AsyncRead + Unpin>(&mut self, stdin: BufReader<I>) -> Result<(), ClientError> {
        let mut lines = stdin.lines();
        let mut queue: VecDeque<String> = VecDeque::new();
        let mut stdin_open = true;
        loop {
            if self.ready {
                while let Some(line) = queue.pop_front() {
                    if let Flow::Quit(reason) = self.execute(&line).await? {
                        return self.finish(reason.as_deref()).await;
                    }
                }
                if !stdin_open && self.drain == Drain::NotStarted {
                    self.connection
                        .send(&Message::new("PING", vec![DRAIN_TOKEN.into()]))
                        .await?;
                    self.drain = Drain::AwaitingPong {
                        deadline: Instant::now() + DRAIN_TIMEOUT,
                    };
                }
                if self.drained() {
                    return self.finish(None).await;
                }
            }
            let deadline = match self.drain {
                Drain::NotStarted => None,
                Drain::AwaitingPong { deadline } | Drain::Ponged { deadline } => Some(deadline),
            };
            let read_stdin = stdin_open && queue.len() < MAX_QUEUED_LINES;
            tokio::select! {
                line = lines.next_line(), if read_stdin => match line.map_err(ClientError::Stdin)? {
                    Some(line) => queue.push_back(line),
                    None => stdin_open = false,
                },
                message = self.connection.receive() => match message? {
                    Some(message) => self.on_message(&message).await?,
                    None => return Err(ClientError::ConnectionLost),
                },
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    return Err(ClientError::Timeout(
                        "waiting for the server to acknowledge the sent messages",
                    ));
                }
            }
        }
    }

    /// True when, after EOF, everything sent has been acknowledged.
    fn drained(&self) -> bool {
        match self.drain {
            Drain::Ponged { .. } => {
                self.pending_echoes == 0 || !self.connection.caps().contains(Cap::EchoMessage)
            }
            _ => false,
        }
    }

    /// Handles one message from the server: protocol duties, display, bookkeeping.
    async fn on_message(&mut self, message: &Message) -> Result<(), ClientError> {
        self.connection.handle(message).await?;
        let command = message.command.to_ascii_uppercase();
        let from_me = source_nick(message).is_some_and(|nick| self.is_me(nick));
        let params = message.params.as_slice();

        if let Some(line) = self.model.apply(message, Timestamp::now()) {
            self.print(&line.text).await?;
        }
        match (command.as_str(), params) {
            ("PRIVMSG" | "NOTICE", _) if from_me => {
                self.pending_echoes = self.pending_echoes.saturating_sub(1);
            }
            ("PONG", [.., token]) if token == DRAIN_TOKEN => {
                if let Drain::AwaitingPong { deadline } = self.drain {
                    self.drain = Drain::Ponged { deadline };
                }
            }
            ("PART" | "KICK", [room, rest @ ..]) => {
                let left = match command.as_str() {
                    "PART" => from_me,
                    _ => rest.first().is_some_and(|nick| self.is_me(nick)),
                };
                let was_current = self
                    .current_room
                    .as_deref()
                    .is_some_and(|current| current.eq_ignore_ascii_case(room));
                if left && was_current {
                    self.current_room = self.model.rooms().last().map(|r| r.name.clone());
                }
            }
            ("FAIL", [.., reason]) => self.print(&format!("! {reason}")).await?,
            (numeric, [_, details @ ..]) if is_error_numeric(numeric) => {
                self.on_error_numeric(numeric, details).await?;
            }
            _ => {}
        }
        if !self.ready && self.connection.is_registered() {
            self.ready = match &self.first_room {
                Some(room) => self.model.is_in(room),
                None => true,
            };
        }
        Ok(())
    }

    /// An error reply: fatal if it stops us joining the first room before we are ready,
    /// else shown as `! …` (and counted, if it refuses a message).
    async fn on_error_numeric(
        &mut self,
        numeric: &str,
        details: &[String],
    ) -> Result<(), ClientError> {
        let reason = details.last().cloned().unwrap_or_default();
        let subject = details.first().filter(|_| details.len() > 1);
        if !self.ready
            && JOIN_ERRORS.contains(&numeric)
            && let (Some(room), Some(first)) = (subject, &self.first_room)
            && room.eq_ignore_ascii_case(first)
        {
            return Err(ClientError::JoinFailed {
                room: room.clone(),
                reason,
            });
        }
        if MESSAGE_ERRORS.contains(&numeric) && self.pending_echoes > 0 {
            self.pending_echoes -= 1;
            self.refused += 1;
        }
        let line = match subject {
            Some(subject) => format!("! {subject}: {reason}"),
            None => format!("! {reason}"),
        };
        self.print(&line).await
    }

    /// Carries out one stdin line.
    async fn execute(&mut self, line: &str) -> Result<Flow, ClientError> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match PipeCommand::parse(line) {
            PipeCommand::Nothing => {}
            PipeCommand::Say(text) => match self.current_room.clone() {
                Some(room) => self.say(&room, text, false).await?,
                None => self.print(NOT_IN_A_ROOM).await?,
            },
            PipeCommand::Action(text) => match self.current_room.clone() {
                Some(room) => self.say(&room, text, true).await?,
                None => self.print(NOT_IN_A_ROOM).await?,
            },
            PipeCommand::Msg { to, text } => self.say(to, text, false).await?,
            PipeCommand::Join { room, key } => {
                let mut params = vec![room.to_owned()];
                params.extend(key.map(str::to_owned));
                self.connection.send(&Message::new("JOIN", params)).await?;
                self.current_room = Some(room.to_owned());
            }
            PipeCommand::Part { room, reason } => {
                let Some(room) = room
                    .map(str::to_owned)
                    .or_else(|| self.current_room.clone())
                else {
                    self.print("! you are not in any room").await?;
                    return Ok(Flow::Continue);
                };
                // Lines after `/part` must not go to the room being left, even before the
                // server confirms: switch to the most recently joined other room now.
                let leaving_current = self
                    .current_room
                    .as_deref()
                    .is_some_and(|current| current.eq_ignore_ascii_case(&room));
                if leaving_current {
                    self.current_room = self
                        .model
                        .rooms()
                        .iter()
                        .rev()
                        .find(|joined| !joined.name.eq_ignore_ascii_case(&room))
                        .map(|joined| joined.name.clone());
                }
                let mut params = vec![room];
                params.extend(reason.map(str::to_owned));
                self.connection.send(&Message::new("PART", params)).await?;
            }
            PipeCommand::Nick(nick) => {
                let message = Message::new("NICK", vec![nick.to_owned()]);
                self.connection.send(&message).await?;
            }
            PipeCommand::Quit(reason) => return Ok(Flow::Quit(reason.map(str::to_owned))),
            PipeCommand::Quote(raw) => match Message::parse(raw) {
                Ok(message) => self.connection.send(&message).await?,
                Err(error) => {
                    self.print(&format!("! cannot send {raw:?}: {error}"))
                        .await?
                }
            },
            PipeCommand::Invalid(reason) => self.print(&format!("! {reason}")).await?,
        }
        Ok(Flow::Continue)
    }

    /// Sends `text` to `target` as PRIVMSG (a CTCP ACTION if `action`), split into as many
    /// lines as the 512-byte limit needs.
    async fn say(&mut self, target: &str, text: &str, action: bool) -> Result<(), ClientError> {
        let overhead = "PRIVMSG  :\r\n".len() + target.len() + if action { 9 } else { 0 };
        let room = MAX_IRC_LINE_BYTES.saturating_sub(overhead).max(64);
        let echo = self.connection.caps().contains(Cap::EchoMessage);
        for piece in split_text(text, room) {
            let body = if action {
                format!("\u{1}ACTION {piece}\u{1}")
            } else {
                piece.to_owned()
            };
            let message = Message::new("PRIVMSG", vec![target.to_owned(), body]);
            self.connection.send(&message).await?;
            if echo {
                self.pending_echoes += 1;
            } else {
                // No echo will come: show our own copy now, stamped with the local clock.
                let source = format!("{}!local@local", self.model.nick());
                let copy = message.with_source(source);
                if let Some(line) = self.model.apply(&copy, Timestamp::now()) {
                    self.print(&line.text).await?;
                }
            }
        }
        Ok(())
    }

    /// Sends `QUIT`, shows what still arrives until the server closes (bounded), and reports
    /// refused messages.
    async fn finish(&mut self, reason: Option<&str>) -> Result<(), ClientError> {
        self.connection.quit(reason).await?;
        let deadline = Instant::now() + QUIT_TIMEOUT;
        while let Ok(received) = tokio::time::timeout_at(deadline, self.connection.receive()).await
        {
            let Some(message) = received? else { break };
            if message.command.eq_ignore_ascii_case("ERROR") {
                break;
            }
            self.on_message(&message).await?;
        }
        if self.refused > 0 {
            return Err(ClientError::Undelivered(self.refused));
        }
        Ok(())
    }

    fn is_me(&self, nick: &str) -> bool {
        nick.eq_ignore_ascii_case(self.connection.nick())
    }

    async fn print(&mut self, line: &str) -> Result<(), ClientError> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let write = async {
            self.out.write_all(&bytes).await?;
            self.out.flush().await
        };
        // Bounded: a stdout nobody reads must not hang the client forever.
        match timeout(DRAIN_TIMEOUT, write).await {
            Ok(result) => result.map_err(ClientError::Stdout),
            Err(_) => Err(ClientError::Timeout("writing to stdout")),
        }
    }
}

const NOT_IN_A_ROOM: &str = "! you are not in any room (use --join #room or /join #room)";

/// Replies that refuse a `JOIN`.
const JOIN_ERRORS: [&str; 7] = [
    ERR_NOSUCHCHANNEL,
    "405", // ERR_TOOMANYCHANNELS
    ERR_CHANNELISFULL,
    ERR_INVITEONLYCHAN,
    ERR_BANNEDFROMCHAN,
    ERR_BADCHANNELKEY,
    ERR_BADCHANMASK,
];

/// Replies that refuse a `PRIVMSG` (no echo will come for it).
const MESSAGE_ERRORS: [&str; 6] = [
    ERR_NOSUCHNICK,
    ERR_NOSUCHCHANNEL,
    ERR_CANNOTSENDTOCHAN,
    ERR_NORECIPIENT,
    ERR_NOTEXTTOSEND,
    ERR_INPUTTOOLONG,
];

/// Numerics 400–599 are errors (RFC 2812 5.2), except `422` (no MOTD), which is routine.
fn is_error_numeric(command: &str) -> bool {
    command != ERR_NOMOTD
        && command.len() == 3
        && command.bytes().all(|b| b.is_ascii_digit())
        && matches!(command.as_bytes()[0], b'4' | b'5')
}

/// Splits `text` into pieces of at most `max_bytes` bytes, on character boundaries.
fn split_text(text: &str, max_bytes: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max_bytes {
        let mut cut = max_bytes;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    pieces.push(rest);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_and_doubled_slashes_are_said() {
        assert_eq!(PipeCommand::parse("hello"), PipeCommand::Say("hello"));
        assert_eq!(PipeCommand::parse("//shrug"), PipeCommand::Say("/shrug"));
        assert_eq!(PipeCommand::parse("   "), PipeCommand::Nothing);
    }

    #[test]
    fn commands_parse_with_verbatim_last_arguments() {
        assert_eq!(
            PipeCommand::parse("/me waves  twice"),
            PipeCommand::Action("waves  twice")
        );
        assert_eq!(
            PipeCommand::parse("/MSG observer psst there"),
            PipeCommand::Msg {
                to: "observer",
                text: "psst there"
            }
        );
        assert_eq!(
            PipeCommand::parse("/join #x key"),
            PipeCommand::Join {
                room: "#x",
                key: Some("key")
            }
        );
        assert_eq!(
            PipeCommand::parse("/part #x see you"),
            PipeCommand::Part {
                room: Some("#x"),
                reason: Some("see you")
            }
        );
        assert_eq!(
            PipeCommand::parse("/part bye"),
            PipeCommand::Part {
                room: None,
                reason: Some("bye")
            }
        );
        assert_eq!(
            PipeCommand::parse("/nick robot"),
            PipeCommand::Nick("robot")
        );
        assert_eq!(PipeCommand::parse("/quit"), PipeCommand::Quit(None));
        assert_eq!(
            PipeCommand::parse("/quit gone fishing"),
            PipeCommand::Quit(Some("gone fishing"))
        );
        assert_eq!(
            PipeCommand::parse("/quote MODE #x +m"),
            PipeCommand::Quote("MODE #x +m")
        );
    }

    #[test]
    fn bad_commands_say_why() {
        assert_eq!(
            PipeCommand::parse("/msg observer"),
            PipeCommand::Invalid("usage: /msg NICK text".into())
        );
        assert_eq!(
            PipeCommand::parse("/frobnicate"),
            PipeCommand::Invalid("unknown command /frobnicate".into())
        );
        assert_eq!(
            PipeCommand::parse("/nick a b"),
            PipeCommand::Invalid("usage: /nick NAME".into())
        );
    }

    #[test]
    fn long_text_splits_on_character_boundaries() {
        assert_eq!(split_text("abc", 10), ["abc"]);
        assert_eq!(split_text("abcdef", 4), ["abcd", "ef"]);
        // "é" is two bytes: a cut never falls inside it.
        assert_eq!(split_text("aéé", 2), ["a", "é", "é"]);
    }

    #[test]
    fn error_numerics_are_400_to_599() {
        assert!(is_error_numeric("404"));
        assert!(is_error_numeric("599"));
        assert!(!is_error_numeric("366"));
        assert!(!is_error_numeric("422"));
        assert!(!is_error_numeric("PRIVMSG"));
    }
}
