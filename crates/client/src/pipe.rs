//! Pipe mode: stdin lines in, text-protocol lines out, for scripts and bots. A thin front end
//! over the [`Link`].
//!
//! Each stdin line is said in the current room (the first `--join` channel, or the last one
//! `/join`ed); a line starting with `/` is a command (see [`PipeCommand`]). Every message
//! received is printed on stdout as the text protocol shows it (`[HH:MM:SS] #room <nick>
//! text`); errors the server reports are `! …` lines, as in the text protocol. A line the
//! client cannot send (no room to say it in, an unknown command) is reported on stderr
//! (`palaver: not sent: …`), since stdout is for what the server says; any line refused or not
//! sent makes the exit status non-zero.
//!
//! Delivery: lines read before the link is ready (registered, in the `--join` rooms) are held
//! by the link, in order. At EOF on stdin (or `/quit`) the client waits until the server has
//! answered every line: it sends a `PING` once the link is ready and waits for its `PONG` and
//! for the answer to every line said (matched by `labeled-response` labels; a refusal counts
//! as an answer, and makes the exit status non-zero). Then it sends `QUIT` and returns. Every
//! wait is bounded.
//!
//! Resilience: once the link was first ready, a lost connection is re-established by the link
//! (see [`crate::link`]), announced by one line on stderr, and stdin is still read meanwhile.
//! The link rejoins every room, prints what was missed from history (each message once), sends
//! again the lines whose answer was lost unless the history shows them, then what was typed
//! meanwhile, in order. Messages to nicks are not gap-filled, so one whose answer was lost may
//! arrive twice. After EOF the client keeps trying for [`DRAIN_TIMEOUT`] at most, and does not
//! reconnect at all when nothing is left to send.

use std::time::Duration;

use palaver_proto::irc::Message;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};

use crate::link::{Command, Event, Incoming, Link, Outcome, Reconnect};
use crate::model::{is_channel, refusal, source_nick};
use crate::{ClientError, ConnectOptions, ErrorKind, Wait};

/// How long, after EOF on stdin, the server may take to answer what was sent.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the server to close the connection after `QUIT`.
pub const QUIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Commands held by the link before it is ready; reading stdin pauses beyond this.
pub const MAX_QUEUED_LINES: usize = 1024;

/// The `PING` token that marks the end of our input.
const DRAIN_TOKEN: &str = "palaver-pipe-drain";

const NOT_IN_A_ROOM: &str = "you are not in any room (use --join #room or /join #room)";

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

/// Runs pipe mode until stdin ends (and everything sent is answered), `/quit`, or a fatal
/// error. Lines for stdout are written as they arrive. A connection lost after the link was
/// first ready is re-established (see the module documentation).
pub async fn run_pipe<I, O>(options: ConnectOptions, stdin: I, stdout: O) -> Result<(), ClientError>
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    let mut pipe = Pipe {
        link: Link::new(options.clone(), Reconnect::OnceReady),
        out: stdout,
        server: options.server,
        current_room: options.channels.first().cloned(),
        first_room: options.channels.first().cloned(),
        input_open: true,
        quit_reason: None,
        refused: 0,
        not_sent: 0,
        drain: Drain::NotStarted,
        lost_at: None,
    };
    pipe.run(BufReader::new(stdin).lines()).await
}

/// Where the end-of-input handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drain {
    NotStarted,
    /// The drain `PING` is sent; its `PONG` must come by the deadline.
    AwaitingPong {
        deadline: Instant,
    },
    /// The `PONG` came; answers may still be outstanding until the deadline.
    Ponged {
        deadline: Instant,
    },
}

/// Whether the session is over.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Done,
}

/// Pipe mode's state. Owned by the one task running [`run_pipe`].
struct Pipe<O> {
    link: Link,
    out: O,
    /// The server as given, for messages.
    server: String,
    /// Where plain lines go: the first `--join` channel, then the last `/join`ed.
    current_room: Option<String>,
    /// The first `--join` channel: failing to join it before the link was ever ready is fatal.
    first_room: Option<String>,
    /// False once stdin reached EOF or `/quit` was read.
    input_open: bool,
    /// The reason given with `/quit`.
    quit_reason: Option<String>,
    /// Lines the server refused, or that the link could not send.
    refused: usize,
    /// Lines that were never sent: not understood, or with no room to say them in.
    not_sent: usize,
    drain: Drain,
    /// When the connection was lost, while it is: after EOF the client gives up
    /// [`DRAIN_TIMEOUT`] later.
    lost_at: Option<Instant>,
}

impl<O: AsyncWrite + Unpin> Pipe<O> {
    async fn run<I: AsyncRead + Unpin>(
        &mut self,
        mut lines: tokio::io::Lines<BufReader<I>>,
    ) -> Result<(), ClientError> {
        loop {
            if !self.input_open {
                if self.lost_at.is_some() && self.link.outstanding() == 0 {
                    // Disconnected with nothing left to send: no reason to reconnect.
                    return self.outcome();
                }
                if self.drain == Drain::NotStarted && self.link.is_ready() {
                    self.link.command(Command::Ping(DRAIN_TOKEN.into()));
                    self.drain = Drain::AwaitingPong {
                        deadline: Instant::now() + DRAIN_TIMEOUT,
                    };
                }
                if matches!(self.drain, Drain::Ponged { .. }) && self.link.unanswered() == 0 {
                    return self.finish().await;
                }
            }
            let wants_input = self.input_open && self.link.held() < MAX_QUEUED_LINES;
            let (deadline, expired) = self.deadline();
            tokio::select! {
                line = lines.next_line(), if wants_input => {
                    match line.map_err(ClientError::Stdin)? {
                        Some(line) => self.execute(&line).await?,
                        None => self.input_open = false,
                    }
                }
                event = self.link.next_event() => {
                    if self.on_event(event?).await? == Flow::Done {
                        return self.outcome();
                    }
                }
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    return Err(expired);
                }
            }
        }
    }

    /// What the client waits for at most now, and the error for when it does not come.
    fn deadline(&self) -> (Option<Instant>, ClientError) {
        match (self.drain, self.lost_at) {
            (Drain::AwaitingPong { deadline } | Drain::Ponged { deadline }, _) => {
                (Some(deadline), ClientError::Timeout(Wait::Acknowledgements))
            }
            (Drain::NotStarted, Some(lost_at)) if !self.input_open => (
                Some(lost_at + DRAIN_TIMEOUT),
                ClientError::Undelivered(self.link.outstanding()),
            ),
            _ => (None, ClientError::Undelivered(0)),
        }
    }

    async fn on_event(&mut self, event: Event) -> Result<Flow, ClientError> {
        match event {
            Event::Message(incoming) => self.show(&incoming).await?,
            Event::JoinRefused { room, reason } => {
                let first = self
                    .first_room
                    .as_deref()
                    .is_some_and(|first| first.eq_ignore_ascii_case(&room));
                if first && !self.link.ever_ready() {
                    return Err(ClientError::JoinFailed { room, reason });
                }
            }
            Event::Settled {
                outcome: Outcome::Refused(_) | Outcome::NotSent,
                ..
            } => self.refused += 1,
            Event::Pong(token) if token == DRAIN_TOKEN => {
                if let Drain::AwaitingPong { deadline } = self.drain {
                    self.drain = Drain::Ponged { deadline };
                }
            }
            Event::Registered {
                nick,
                reconnection: true,
            } => eprintln!("palaver: reconnected to {} as {nick}", self.server),
            Event::Ready => self.lost_at = None,
            Event::Disconnected {
                reason,
                retry_in,
                was_connected,
                ..
            } => {
                let retry_in = retry_in.as_millis();
                if was_connected {
                    eprintln!("palaver: connection lost ({reason}); reconnecting in {retry_in} ms");
                } else {
                    eprintln!("palaver: cannot reconnect ({reason}); retrying in {retry_in} ms");
                }
                self.drain = Drain::NotStarted;
                self.lost_at.get_or_insert_with(Instant::now);
            }
            Event::Closed => return Ok(Flow::Done),
            _ => {}
        }
        Ok(Flow::Continue)
    }

    /// Prints what a message shows, and follows where plain lines go.
    async fn show(&mut self, incoming: &Incoming) -> Result<(), ClientError> {
        let message = &incoming.message;
        match (&incoming.line, refusal(message)) {
            (Some(line), _) => self.print(&line.text).await?,
            (None, Some(refused)) => self.print(&refused.line()).await?,
            (None, None) => {}
        }
        let command = message.command.to_ascii_uppercase();
        let model = self.link.model();
        let left = match (command.as_str(), message.params.as_slice()) {
            ("PART", [room, ..]) if source_nick(message).is_some_and(|n| model.is_me(n)) => {
                Some(room)
            }
            ("KICK", [room, nick, ..]) if model.is_me(nick) => Some(room),
            _ => None,
        };
        let left_current = left.is_some_and(|room| {
            self.current_room
                .as_deref()
                .is_some_and(|current| current.eq_ignore_ascii_case(room))
        });
        if left_current {
            self.current_room = model.rooms().last().map(|room| room.name.clone());
        }
        Ok(())
    }

    /// Carries out one stdin line.
    async fn execute(&mut self, line: &str) -> Result<(), ClientError> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let say = |target: &str, text: &str, action: bool| Command::Say {
            target: target.to_owned(),
            text: text.to_owned(),
            action,
        };
        let command = match PipeCommand::parse(line) {
            PipeCommand::Nothing => return Ok(()),
            PipeCommand::Say(text) => match self.current_room.clone() {
                Some(room) => say(&room, text, false),
                None => return self.not_sent(NOT_IN_A_ROOM),
            },
            PipeCommand::Action(text) => match self.current_room.clone() {
                Some(room) => say(&room, text, true),
                None => return self.not_sent(NOT_IN_A_ROOM),
            },
            PipeCommand::Msg { to, text } => say(to, text, false),
            PipeCommand::Join { room, key } => {
                self.current_room = Some(room.to_owned());
                let mut params = vec![room.to_owned()];
                params.extend(key.map(str::to_owned));
                Command::Send(Message::new("JOIN", params))
            }
            PipeCommand::Part { room, reason } => {
                let Some(room) = room
                    .map(str::to_owned)
                    .or_else(|| self.current_room.clone())
                else {
                    return self.not_sent("you are not in any room");
                };
                // Lines after `/part` must not go to the room being left, even before the
                // server confirms: switch to the most recently joined other room now.
                let leaving_current = self
                    .current_room
                    .as_deref()
                    .is_some_and(|current| current.eq_ignore_ascii_case(&room));
                if leaving_current {
                    self.current_room = self
                        .link
                        .model()
                        .rooms()
                        .iter()
                        .rev()
                        .find(|joined| !joined.name.eq_ignore_ascii_case(&room))
                        .map(|joined| joined.name.clone());
                }
                let mut params = vec![room];
                params.extend(reason.map(str::to_owned));
                Command::Send(Message::new("PART", params))
            }
            PipeCommand::Nick(nick) => Command::Send(Message::new("NICK", vec![nick.to_owned()])),
            PipeCommand::Quit(reason) => {
                self.input_open = false;
                self.quit_reason = reason.map(str::to_owned);
                return Ok(());
            }
            PipeCommand::Quote(raw) => match Message::parse(raw) {
                Ok(message) => Command::Send(message),
                Err(error) => return self.not_sent(&format!("cannot send {raw:?}: {error}")),
            },
            PipeCommand::Invalid(reason) => return self.not_sent(&reason),
        };
        self.link.command(command);
        Ok(())
    }

    /// Sends `QUIT`, shows what still arrives until the server closes (bounded), and reports
    /// refused messages.
    async fn finish(&mut self) -> Result<(), ClientError> {
        self.link.command(Command::Quit(self.quit_reason.take()));
        let deadline = Instant::now() + QUIT_TIMEOUT;
        while let Ok(event) = timeout_at(deadline, self.link.next_event()).await {
            match event {
                Ok(Event::Closed) => break,
                // We are leaving: a connection that fails now has nothing more to carry.
                Err(error) if error.kind() == ErrorKind::Connection => {
                    tracing::debug!(%error, "connection failed while quitting");
                    break;
                }
                Err(error) => return Err(error),
                Ok(event) => {
                    self.on_event(event).await?;
                }
            }
        }
        self.outcome()
    }

    /// A stdin line this client could not send (no room to say it in, an unknown command): one
    /// line on stderr, since stdout carries only what the server says, and counted, so that the
    /// exit status tells a script that something was not delivered.
    fn not_sent(&mut self, reason: &str) -> Result<(), ClientError> {
        eprintln!("palaver: not sent: {reason}");
        self.not_sent += 1;
        Ok(())
    }

    /// How the session ended: lines refused by the server or not sent at all make it a failure.
    fn outcome(&self) -> Result<(), ClientError> {
        match self.refused + self.not_sent {
            0 => Ok(()),
            undelivered => Err(ClientError::Undelivered(undelivered)),
        }
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
            Err(_) => Err(ClientError::Timeout(Wait::Stdout)),
        }
    }
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
}
