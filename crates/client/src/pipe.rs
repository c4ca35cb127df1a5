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
//!
//! Resilience: once the first room is joined, a lost connection (EOF, a reset, an `ERROR` we
//! did not ask for with `QUIT`) is re-established with capped exponential backoff and jitter
//! ([`crate::reconnect`]), announced by one line on stderr. Meanwhile stdin is still read into
//! the queue. The new connection registers (trying `nick_` variants if the old session lingers
//! as a ghost), rejoins every room, and, where `draft/chathistory` and `batch` are offered, asks
//! `CHATHISTORY AFTER <room> msgid=<last seen>` (or `timestamp=`) and prints what was missed;
//! messages are printed once, whatever the path (deduplicated by `msgid`). Then the messages
//! whose echo never came are sent again, except those the history shows arrived, and then the
//! queued lines, in order. Messages to nicks are not gap-filled, so one whose echo was lost may
//! arrive twice. After EOF the client keeps trying for [`DRAIN_TIMEOUT`] at most, and does
//! not reconnect at all when nothing is left to send.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use palaver_proto::irc::Message;
use palaver_proto::irc::caps::Cap;
use palaver_proto::irc::numeric::{
    ERR_BADCHANMASK, ERR_BADCHANNELKEY, ERR_BANNEDFROMCHAN, ERR_CANNOTSENDTOCHAN,
    ERR_CHANNELISFULL, ERR_INPUTTOOLONG, ERR_INVITEONLYCHAN, ERR_NOMOTD, ERR_NORECIPIENT,
    ERR_NOSUCHCHANNEL, ERR_NOSUCHNICK, ERR_NOTEXTTOSEND, RPL_ISUPPORT, RPL_WELCOME,
};
use palaver_proto::time::Timestamp;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, Lines};
use tokio::time::{Instant, sleep_until, timeout};

use crate::connection::{Connection, REGISTRATION_TIMEOUT};
use crate::model::{Model, is_channel, source_nick};
use crate::reconnect::Backoff;
use crate::resync::{GapFill, RoomMark, SeenIds, after_request, says};
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

/// After reconnecting and registering, how long rejoining and filling the gaps may take before
/// the queued input goes out anyway.
pub const RESYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// How many `nick_` variants a reconnection tries while our old session lingers as a ghost.
pub(crate) const NICK_FALLBACKS: usize = 3;

/// What the drain and stdout timeouts say; every other timeout is the connection's.
const DRAIN_WAIT: &str = "waiting for the server to acknowledge the sent messages";
const STDOUT_WAIT: &str = "writing to stdout";

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
/// error. Lines for stdout are written as they arrive. A connection lost after the first
/// successful join is re-established (see the module documentation).
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
        options,
        ready: false,
        ever_ready: false,
        unacknowledged: VecDeque::new(),
        refused: 0,
        drain: Drain::NotStarted,
        backoff: Backoff::new(),
        marks: HashMap::new(),
        seen: SeenIds::default(),
        msgid_references: true,
        resync: None,
    };
    let mut input = Input {
        lines: BufReader::new(stdin).lines(),
        queue: VecDeque::new(),
        open: true,
    };
    loop {
        match pipe.serve(&mut input).await {
            Ok(()) => return Ok(()),
            Err(error) if pipe.ever_ready && is_connection_loss(&error) => {
                if pipe.reconnect(&mut input, error).await? == Reconnected::NothingLeftToDo {
                    return Ok(());
                }
            }
            Err(error) => return Err(error),
        }
    }
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

/// Stdin, and the lines read from it that are not carried out yet. Survives reconnections:
/// what the user typed is never dropped with a connection.
struct Input<I> {
    lines: Lines<BufReader<I>>,
    /// Lines read and not yet carried out, oldest first; at most [`MAX_QUEUED_LINES`].
    queue: VecDeque<String>,
    /// False once stdin reached EOF.
    open: bool,
}

impl<I: AsyncRead + Unpin> Input<I> {
    /// Whether to read another line now (stdin open and the queue not full).
    fn wants_more(&self) -> bool {
        self.open && self.queue.len() < MAX_QUEUED_LINES
    }

    /// Takes the result of `lines.next_line()`.
    fn take(&mut self, line: std::io::Result<Option<String>>) -> Result<(), ClientError> {
        match line.map_err(ClientError::Stdin)? {
            Some(line) => self.queue.push_back(line),
            None => self.open = false,
        }
        Ok(())
    }
}

/// After a reconnection: the rooms still to rejoin and the history still to come before the
/// queued input may go out.
#[derive(Debug)]
struct Resync {
    /// The nick we had before: our own messages in the history carry it.
    old_nick: String,
    /// Rooms (as we named them) whose `JOIN` has not come back yet, with where their history
    /// resumes.
    to_join: Vec<(String, RoomMark)>,
    /// The `CHATHISTORY AFTER` answers not received yet.
    gap: GapFill,
    /// Past this, go on without what is still missing.
    deadline: Instant,
}

impl Resync {
    fn is_done(&self) -> bool {
        self.to_join.is_empty() && self.gap.is_done()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Reconnected {
    /// A new connection is registering.
    Yes,
    /// Stdin ended and nothing is left to send: no reason to reconnect.
    NothingLeftToDo,
}

/// Pipe mode's state. Owned by the one task running [`run_pipe`].
struct Pipe<O> {
    /// What we were started with; reconnections use it with our current nick and rooms.
    options: ConnectOptions,
    connection: Connection,
    model: Model,
    out: O,
    /// Where plain lines go: the first `--join` channel, then the last `/join`ed.
    current_room: Option<String>,
    /// The first `--join` channel: input waits until we are in it.
    first_room: Option<String>,
    /// True once registered and in `first_room` (after a reconnection: once rejoined and the
    /// gap filled); from then on input is sent as it comes.
    ready: bool,
    /// True once the first connection was ready. Only then is a lost connection re-established:
    /// a failure before it (a refused nick, a wrong password, no such server) is the answer.
    ever_ready: bool,
    /// Messages sent whose echo (with echo-message) or refusal has not arrived yet, oldest
    /// first. Echoes come in order, so each echo acknowledges the first. Those still here when
    /// a connection is lost are sent again after reconnecting, unless the history shows they
    /// arrived.
    unacknowledged: VecDeque<Message>,
    /// Messages the server refused (`404`, `401`, …).
    refused: usize,
    drain: Drain,
    /// When to try again after a lost connection.
    backoff: Backoff,
    /// Per room (ASCII-lowercased), the last message and time seen: where gap-filling resumes.
    marks: HashMap<String, RoomMark>,
    /// Recently printed `msgid`s, to print nothing twice.
    seen: SeenIds,
    /// Whether the server takes `msgid=` references (`MSGREFTYPES` in `005`; assumed when not
    /// announced).
    msgid_references: bool,
    /// Present from a reconnection until its rooms are rejoined and their gaps filled.
    resync: Option<Resync>,
}

enum Flow {
    Continue,
    Quit(Option<String>),
}

impl<O: AsyncWrite + Unpin> Pipe<O> {
    /// Runs one connection: carries out input once ready, prints what arrives. Returns when the
    /// session is over, or with the error that ended the connection.
    async fn serve<I: AsyncRead + Unpin>(
        &mut self,
        input: &mut Input<I>,
    ) -> Result<(), ClientError> {
        loop {
            if self.ready {
                while let Some(line) = input.queue.pop_front() {
                    let sent_before = self.unacknowledged.len();
                    match self.execute(&line).await {
                        Ok(Flow::Continue) => {}
                        Ok(Flow::Quit(reason)) => return self.finish(reason.as_deref()).await,
                        Err(error) => {
                            // Lines said are kept in `unacknowledged`; anything else is
                            // carried out again after reconnecting.
                            if self.unacknowledged.len() == sent_before {
                                input.queue.push_front(line);
                            }
                            return Err(error);
                        }
                    }
                }
                if !input.open && self.drain == Drain::NotStarted {
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
            let resync_deadline = self.resync.as_ref().map(|resync| resync.deadline);
            tokio::select! {
                line = input.lines.next_line(), if input.wants_more() => input.take(line)?,
                message = self.connection.receive() => match message? {
                    Some(message) => self.on_message(&message).await?,
                    None => return Err(ClientError::ConnectionLost),
                },
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    return Err(ClientError::Timeout(DRAIN_WAIT));
                }
                () = sleep_until(resync_deadline.unwrap_or_else(Instant::now)),
                    if resync_deadline.is_some() =>
                {
                    tracing::warn!("rejoining or filling the gap took too long; going on");
                    self.end_resync().await?;
                }
            }
        }
    }

    /// After `error` ended the connection: says so on stderr, waits (reading stdin) and
    /// reconnects with backoff until a new connection is registering.
    async fn reconnect<I: AsyncRead + Unpin>(
        &mut self,
        input: &mut Input<I>,
        error: ClientError,
    ) -> Result<Reconnected, ClientError> {
        let rooms: Vec<(String, RoomMark)> = self
            .model
            .rooms()
            .iter()
            .map(|room| {
                let mark = self
                    .marks
                    .get(&room.name.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_default();
                (room.name.clone(), mark)
            })
            .collect();
        // A reconnection in the middle of one resumes from the same marks.
        let rooms = match self.resync.take() {
            Some(resync) if rooms.is_empty() => resync.to_join,
            _ => rooms,
        };
        self.ready = false;
        self.drain = Drain::NotStarted;
        let lost_at = Instant::now();
        let mut reason = crate::describe(&error);
        let mut first = true;
        loop {
            if self.nothing_left(input) {
                return Ok(Reconnected::NothingLeftToDo);
            }
            if !input.open && lost_at.elapsed() > DRAIN_TIMEOUT {
                return Err(ClientError::Undelivered(
                    self.unacknowledged.len() + input.queue.len(),
                ));
            }
            let delay = self.backoff.next_delay();
            if first {
                eprintln!(
                    "palaver: connection lost ({reason}); reconnecting in {} ms",
                    delay.as_millis()
                );
                first = false;
            } else {
                eprintln!(
                    "palaver: cannot reconnect ({reason}); retrying in {} ms",
                    delay.as_millis()
                );
            }
            let retry_at = Instant::now() + delay;
            while Instant::now() < retry_at {
                tokio::select! {
                    line = input.lines.next_line(), if input.wants_more() => input.take(line)?,
                    () = sleep_until(retry_at) => {}
                }
                if self.nothing_left(input) {
                    return Ok(Reconnected::NothingLeftToDo);
                }
            }

            let mut options = self.options.clone();
            options.nick = self.model.nick().to_owned();
            options.channels = rooms.iter().map(|(room, _)| room.clone()).collect();
            let attempt = Connection::connect(&options);
            tokio::pin!(attempt);
            let result = loop {
                tokio::select! {
                    result = &mut attempt => break result,
                    line = input.lines.next_line(), if input.wants_more() => input.take(line)?,
                }
            };
            match result {
                Ok(mut connection) => {
                    connection.set_nick_fallbacks(NICK_FALLBACKS);
                    self.connection = connection;
                    self.msgid_references = true;
                    self.resync = Some(Resync {
                        old_nick: self.model.nick().to_owned(),
                        to_join: rooms,
                        gap: GapFill::default(),
                        deadline: Instant::now() + REGISTRATION_TIMEOUT + RESYNC_TIMEOUT,
                    });
                    return Ok(Reconnected::Yes);
                }
                Err(error) if is_connection_loss(&error) => reason = crate::describe(&error),
                Err(error) => return Err(error),
            }
        }
    }

    /// True when stdin has ended and nothing typed is waiting to be sent or acknowledged.
    fn nothing_left<I>(&self, input: &Input<I>) -> bool {
        !input.open && input.queue.is_empty() && self.unacknowledged.is_empty()
    }

    /// True when, after EOF, everything sent has been acknowledged.
    fn drained(&self) -> bool {
        match self.drain {
            Drain::Ponged { .. } => {
                self.unacknowledged.is_empty() || !self.connection.caps().contains(Cap::EchoMessage)
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
        let from_history = self.is_from_history(message);

        let is_message = matches!(command.as_str(), "PRIVMSG" | "NOTICE");
        let duplicate = is_message
            && message
                .tag("msgid")
                .is_some_and(|msgid| !self.seen.insert(msgid));
        if duplicate {
            return Ok(());
        }
        self.remember_mark(&command, message);
        if let Some(line) = self.model.apply(message, Timestamp::now()) {
            self.print(&line.text).await?;
        }
        match (command.as_str(), params) {
            (RPL_WELCOME, _) => {
                self.backoff.reset();
                if self.resync.is_some() {
                    eprintln!(
                        "palaver: reconnected to {} as {}",
                        self.options.server,
                        self.connection.nick()
                    );
                }
            }
            (RPL_ISUPPORT, [_, tokens @ ..]) => {
                if let Some(types) = tokens
                    .iter()
                    .find_map(|token| token.strip_prefix("MSGREFTYPES="))
                {
                    self.msgid_references = types.split(',').any(|kind| kind == "msgid");
                }
            }
            ("PRIVMSG" | "NOTICE", [target, text, ..]) if from_history => {
                self.acknowledge_from_history(message, target, text);
            }
            ("PRIVMSG" | "NOTICE", _) if from_me => {
                self.unacknowledged.pop_front();
            }
            ("JOIN", [room, ..]) if from_me => self.rejoined(room).await?,
            ("BATCH", _) => {
                if let Some(resync) = &mut self.resync {
                    resync.gap.follow(&command, params);
                }
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
            ("FAIL", [.., reason]) => {
                if let Some(resync) = &mut self.resync {
                    resync.gap.follow(&command, params);
                }
                self.print(&format!("! {reason}")).await?;
            }
            (numeric, [_, details @ ..]) if is_error_numeric(numeric) => {
                self.on_error_numeric(numeric, details).await?;
            }
            _ => {}
        }
        if !self.ready && self.connection.is_registered() {
            match &self.resync {
                Some(resync) if resync.is_done() => self.end_resync().await?,
                Some(_) => {}
                None => {
                    self.ready = match &self.first_room {
                        Some(room) => self.model.is_in(room),
                        None => true,
                    };
                }
            }
            self.ever_ready |= self.ready;
        }
        Ok(())
    }

    /// Whether `message` belongs to a `chathistory` batch we asked for to fill a gap.
    fn is_from_history(&self, message: &Message) -> bool {
        let Some(resync) = &self.resync else {
            return false;
        };
        resync.gap.is_from_history(message)
    }

    /// A message of ours in the gap-filling history is one that arrived although its echo was
    /// lost with the connection: it needs no resending.
    fn acknowledge_from_history(&mut self, message: &Message, target: &str, text: &str) {
        let Some(resync) = &self.resync else { return };
        let ours = source_nick(message)
            .is_some_and(|nick| nick.eq_ignore_ascii_case(&resync.old_nick) || self.is_me(nick));
        let matches_oldest = self
            .unacknowledged
            .front()
            .is_some_and(|sent| says(sent, target, text));
        if ours && matches_oldest {
            self.unacknowledged.pop_front();
        }
    }

    /// Remembers where each room's history stands (last `msgid` and `time`), to resume from
    /// there after a reconnection.
    fn remember_mark(&mut self, command: &str, message: &Message) {
        RoomMark::follow(&mut self.marks, command, message);
    }

    /// Our `JOIN` of `room` came back: during a resync, ask for what was missed there.
    async fn rejoined(&mut self, room: &str) -> Result<(), ClientError> {
        let caps = self.connection.caps();
        let Some(resync) = &mut self.resync else {
            return Ok(());
        };
        let Some(index) = resync
            .to_join
            .iter()
            .position(|(name, _)| name.eq_ignore_ascii_case(room))
        else {
            return Ok(());
        };
        let (name, mark) = resync.to_join.remove(index);
        if !(caps.contains(Cap::Chathistory) && caps.contains(Cap::Batch)) {
            return Ok(());
        }
        let Some(request) = after_request(&name, &mark, self.msgid_references) else {
            return Ok(());
        };
        resync.gap.requested.push(name);
        self.connection.send(&request).await
    }

    /// Rejoined and the gaps filled (or given up on): send again what was not acknowledged,
    /// and let the queued input go.
    async fn end_resync(&mut self) -> Result<(), ClientError> {
        self.resync = None;
        self.ready = true;
        let resend: Vec<Message> = self.unacknowledged.iter().cloned().collect();
        if !self.connection.caps().contains(Cap::EchoMessage) {
            self.unacknowledged.clear();
        }
        for message in &resend {
            self.connection.send(message).await?;
        }
        Ok(())
    }

    /// An error reply: fatal if it stops us joining the first room before we were ever ready,
    /// else shown as `! …` (and counted, if it refuses a message).
    async fn on_error_numeric(
        &mut self,
        numeric: &str,
        details: &[String],
    ) -> Result<(), ClientError> {
        let reason = details.last().cloned().unwrap_or_default();
        let subject = details.first().filter(|_| details.len() > 1);
        if !self.ever_ready
            && JOIN_ERRORS.contains(&numeric)
            && let (Some(room), Some(first)) = (subject, &self.first_room)
            && room.eq_ignore_ascii_case(first)
        {
            return Err(ClientError::JoinFailed {
                room: room.clone(),
                reason,
            });
        }
        if JOIN_ERRORS.contains(&numeric)
            && let (Some(room), Some(resync)) = (subject, &mut self.resync)
        {
            resync
                .to_join
                .retain(|(name, _)| !name.eq_ignore_ascii_case(room));
        }
        if MESSAGE_ERRORS.contains(&numeric) && self.unacknowledged.pop_front().is_some() {
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
        let echo = self.connection.caps().contains(Cap::EchoMessage);
        for message in privmsgs(target, text, action) {
            if echo {
                // Kept before sending: if the connection fails now, it is sent again later.
                self.unacknowledged.push_back(message.clone());
                self.connection.send(&message).await?;
            } else {
                self.connection.send(&message).await?;
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
        // We are leaving: a connection that fails now has nothing more to carry.
        let ignore_loss = |result: Result<(), ClientError>| match result {
            Err(error) if is_connection_loss(&error) => {
                tracing::debug!(%error, "connection failed while quitting");
                Ok(false)
            }
            Err(error) => Err(error),
            Ok(()) => Ok(true),
        };
        if ignore_loss(self.connection.quit(reason).await)? {
            let deadline = Instant::now() + QUIT_TIMEOUT;
            while let Ok(received) =
                tokio::time::timeout_at(deadline, self.connection.receive()).await
            {
                let message = match received {
                    Ok(Some(message)) => message,
                    Ok(None) => break,
                    Err(error) => {
                        ignore_loss(Err(error))?;
                        break;
                    }
                };
                if message.command.eq_ignore_ascii_case("ERROR") {
                    break;
                }
                if !ignore_loss(self.on_message(&message).await)? {
                    break;
                }
            }
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
            Err(_) => Err(ClientError::Timeout(STDOUT_WAIT)),
        }
    }
}

const NOT_IN_A_ROOM: &str = "! you are not in any room (use --join #room or /join #room)";

/// Replies that refuse a `JOIN`.
pub(crate) const JOIN_ERRORS: [&str; 7] = [
    ERR_NOSUCHCHANNEL,
    "405", // ERR_TOOMANYCHANNELS
    ERR_CHANNELISFULL,
    ERR_INVITEONLYCHAN,
    ERR_BANNEDFROMCHAN,
    ERR_BADCHANNELKEY,
    ERR_BADCHANMASK,
];

/// Replies that refuse a `PRIVMSG` (no echo will come for it).
pub(crate) const MESSAGE_ERRORS: [&str; 6] = [
    ERR_NOSUCHNICK,
    ERR_NOSUCHCHANNEL,
    ERR_CANNOTSENDTOCHAN,
    ERR_NORECIPIENT,
    ERR_NOTEXTTOSEND,
    ERR_INPUTTOOLONG,
];

/// Whether `error` means the connection failed (and another may work), rather than that the
/// session cannot go on: refused credentials, a broken stdin or stdout, undelivered messages.
pub(crate) fn is_connection_loss(error: &ClientError) -> bool {
    match error {
        ClientError::Connect { .. }
        | ClientError::Io(_)
        | ClientError::ConnectionLost
        | ClientError::Closed(_) => true,
        ClientError::Timeout(what) => *what != DRAIN_WAIT && *what != STDOUT_WAIT,
        _ => false,
    }
}

/// Numerics 400–599 are errors (RFC 2812 5.2), except `422` (no MOTD), which is routine.
fn is_error_numeric(command: &str) -> bool {
    command != ERR_NOMOTD
        && command.len() == 3
        && command.bytes().all(|b| b.is_ascii_digit())
        && matches!(command.as_bytes()[0], b'4' | b'5')
}

/// `text` to `target` as PRIVMSGs (a CTCP ACTION if `action`), split into as many lines as
/// the 512-byte limit needs. Shared with the full-screen mode.
pub(crate) fn privmsgs(target: &str, text: &str, action: bool) -> Vec<Message> {
    let overhead = "PRIVMSG  :\r\n".len() + target.len() + if action { 9 } else { 0 };
    let room = MAX_IRC_LINE_BYTES.saturating_sub(overhead).max(64);
    split_text(text, room)
        .into_iter()
        .map(|piece| {
            let body = if action {
                format!("\u{1}ACTION {piece}\u{1}")
            } else {
                piece.to_owned()
            };
            Message::new("PRIVMSG", vec![target.to_owned(), body])
        })
        .collect()
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
    fn long_privmsgs_split_into_lines_that_fit() {
        let text = "x".repeat(1000);
        let messages = privmsgs("#ops", &text, false);
        assert!(messages.len() > 1);
        let joined: String = messages.iter().map(|m| m.params[1].as_str()).collect();
        assert_eq!(joined, text);
        for message in &messages {
            assert!(message.params[1].len() + "PRIVMSG #ops :\r\n".len() <= MAX_IRC_LINE_BYTES);
        }
        let actions = privmsgs("#ops", &text, true);
        assert!(
            actions
                .iter()
                .all(|m| m.params[1].starts_with("\u{1}ACTION "))
        );
    }

    #[test]
    fn only_connection_failures_are_reconnected() {
        assert!(is_connection_loss(&ClientError::ConnectionLost));
        assert!(is_connection_loss(&ClientError::Closed("bye".into())));
        assert!(is_connection_loss(&ClientError::Timeout(
            "sending to the server"
        )));
        assert!(!is_connection_loss(&ClientError::Timeout(DRAIN_WAIT)));
        assert!(!is_connection_loss(&ClientError::Timeout(STDOUT_WAIT)));
        assert!(!is_connection_loss(&ClientError::PasswordRefused));
        assert!(!is_connection_loss(&ClientError::NickInUse("bot".into())));
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
