//! The link's rules as a state machine: typed [`Input`]s in (a command from the front end, a
//! stream opened or failed, a message received, time passing), typed [`Output`]s out (open a
//! stream, send a message, close it, tell the front end an [`Event`], stop). No I/O and no
//! timer of its own: the driver ([`super::Link`]) reads, writes, dials and sleeps until
//! [`Machine::deadline`], and passes the time in, so every rule here is unit-tested without
//! sockets. (The wall clock is read only to stamp the lines of messages that carry no `time`
//! tag.)
//!
//! The connection's life is `Phase`: `Dialing` → `Registering` → `Connected`, and on a
//! failure `Waiting` for the backoff delay (or `Stopped`, when [`Reconnect`] says the failure
//! is final). Each registration is followed by a resync: the rooms are (re)joined and, after a
//! reconnection, each room's gap is filled from `CHATHISTORY AFTER` where it stood. Until it is
//! done (or [`RESYNC_TIMEOUT`] has passed) the link is not ready: what the front end says is
//! held; then the lines whose answer was lost go out again unless the history showed them
//! (see [`super::said`]), followed by what was held, in order.
//!
//! Concurrency contract: owned by the [`super::Link`] of the one task running a front end.

use std::time::Duration;

use palaver_proto::irc::Message;
use palaver_proto::irc::caps::{Cap, CapSet};
use palaver_proto::irc::numeric::{
    ERR_BADCHANMASK, ERR_BADCHANNELKEY, ERR_BANNEDFROMCHAN, ERR_CHANNELISFULL, ERR_INVITEONLYCHAN,
    ERR_NOSUCHCHANNEL, RPL_ISUPPORT,
};
use palaver_proto::time::Timestamp;
use tokio::time::Instant;

use super::answers::Answers;
use super::backoff::Backoff;
use super::event::{Command, Event, Incoming};
use super::registration::{Registration, Step};
use super::resync::{GapFill, Marks, RoomMark, SeenIds, after_request};
use super::said::{Held, Outcome, Said, SaidLine};
use crate::model::{Model, source_nick};
use crate::{ClientError, ConnectOptions, ErrorKind, Wait};

/// How long registration (from the stream opening to `001`) may take.
pub const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// After registering, how long rejoining and filling the gaps may take before what was held
/// goes out anyway.
pub const RESYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// How many `nick_` variants a reconnection tries while our old session lingers as a ghost.
pub const NICK_FALLBACKS: usize = 3;

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

/// What happens to the link.
#[derive(Debug)]
pub enum Input {
    Command(Command),
    /// A byte stream to the server is open.
    Opened,
    /// Opening one failed, or the open one failed ([`ClientError::ConnectionLost`]: the server
    /// closed it).
    Failed(ClientError),
    Received(Message),
    /// Time passed: deadlines up to now fire.
    Tick,
}

/// What the driver must do.
#[derive(Debug)]
pub enum Output {
    /// Open a new byte stream to the server.
    Open,
    Send(Message),
    /// Drop the stream (or the attempt to open one) now.
    Close,
    Event(Event),
    /// The link is over, on this error.
    Stop(ClientError),
}

/// When a failed connection is tried again; otherwise the link stops with the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconnect {
    /// For scripts, which want an answer: until the link was first ready every failure is
    /// final (a wrong address, nick or password is the answer); after, connection failures are
    /// retried and refusals are final.
    OnceReady,
    /// For a person watching: connection failures are always retried, and refusals too once a
    /// connection has registered (the server may be fixed meanwhile); a taken nick is tried
    /// with `_` appended from the first connection on.
    Always,
}

/// Where the connection is in its life.
#[derive(Debug)]
enum Phase {
    /// Waiting for the backoff delay before the next attempt.
    Waiting {
        retry_at: Instant,
    },
    /// The driver is opening a stream.
    Dialing,
    /// Negotiating capabilities, authenticating, waiting for `001` until `deadline`.
    Registering {
        registration: Registration,
        deadline: Instant,
    },
    Connected(Session),
    /// Over: quit, or a final failure.
    Stopped,
}

/// A registered connection.
#[derive(Debug)]
struct Session {
    caps: CapSet,
    /// Whether the server takes `msgid=` references (`MSGREFTYPES` in `005`; assumed when not
    /// announced).
    msgid_references: bool,
    /// The answers to the lines written on this connection.
    answers: Answers,
    /// Present from registration until the rooms are rejoined and their gaps filled: the link
    /// is ready once it is gone.
    resync: Option<Resync>,
}

/// The rooms still to rejoin and the history still to come before the link is ready.
#[derive(Debug)]
struct Resync {
    /// Rooms (as we named them) whose `JOIN` has not come back, with where their history
    /// resumes.
    to_join: Vec<(String, RoomMark)>,
    gap: GapFill,
    /// Past this, go on without what is still missing.
    deadline: Instant,
    /// This connection replaces a lost one.
    reconnection: bool,
}

/// The link's state machine.
pub struct Machine {
    /// What we were started with: the server, the SASL account and password, the first rooms.
    options: ConnectOptions,
    reconnect: Reconnect,
    /// Our nick, rooms, topics and members: the one model front ends read.
    model: Model,
    phase: Phase,
    backoff: Backoff,
    /// Whether any connection has registered; a reconnection then tries `nick_` variants.
    ever_registered: bool,
    /// Whether the link was ever ready.
    ever_ready: bool,
    /// Rooms to join once the next connection registers, with where each one's history stood:
    /// the `--join` rooms at first, then the rooms we were in when the connection was lost.
    to_join: Vec<(String, RoomMark)>,
    /// Our nick when the last connection was lost: our messages in the gap-filling history
    /// carry it.
    old_nick: Option<String>,
    said: Said,
    /// Where each room's history stands.
    marks: Marks,
    /// Recently shown `msgid`s: a message is passed on once.
    seen: SeenIds,
    /// Set by [`Command::Quit`]: the close that follows is the expected end.
    quitting: bool,
    /// The away message the user last set (`AWAY text`; `AWAY` alone clears it): a new
    /// connection starts present, so a reconnection sets it again.
    away: Option<String>,
    /// Outputs of the input being handled.
    out: Vec<Output>,
}

impl Machine {
    pub fn new(options: ConnectOptions, reconnect: Reconnect, backoff: Backoff) -> Self {
        let to_join = options
            .channels
            .iter()
            .map(|room| (room.clone(), RoomMark::default()))
            .collect();
        Self {
            model: Model::new(options.nick.clone()),
            options,
            reconnect,
            phase: Phase::Stopped,
            backoff,
            ever_registered: false,
            ever_ready: false,
            to_join,
            old_nick: None,
            said: Said::default(),
            marks: Marks::default(),
            seen: SeenIds::default(),
            away: None,
            quitting: false,
            out: Vec::new(),
        }
    }

    /// The first connection attempt.
    pub fn start(&mut self) -> Vec<Output> {
        self.dial();
        std::mem::take(&mut self.out)
    }

    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Output> {
        match input {
            Input::Command(command) => self.on_command(command),
            Input::Opened => self.on_opened(now),
            Input::Failed(error) => self.on_failed(now, error),
            Input::Received(message) => self.on_received(now, message),
            Input::Tick => self.on_tick(now),
        }
        std::mem::take(&mut self.out)
    }

    /// When the machine next needs [`Input::Tick`]: a retry, the end of registration's or the
    /// resync's wait.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Waiting { retry_at } => Some(*retry_at),
            Phase::Registering { deadline, .. } => Some(*deadline),
            Phase::Connected(session) => session.resync.as_ref().map(|resync| resync.deadline),
            Phase::Dialing | Phase::Stopped => None,
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Registered on the current connection.
    pub fn is_registered(&self) -> bool {
        matches!(self.phase, Phase::Connected(_))
    }

    /// Registered, rejoined and caught up: commands go out as they come.
    pub fn is_ready(&self) -> bool {
        matches!(&self.phase, Phase::Connected(session) if session.resync.is_none())
    }

    pub fn ever_ready(&self) -> bool {
        self.ever_ready
    }

    /// Whether the server keeps history we may ask for (`draft/chathistory`, in batches).
    pub fn has_history(&self) -> bool {
        matches!(&self.phase, Phase::Connected(session)
            if session.caps.contains(Cap::Chathistory) && session.caps.contains(Cap::Batch))
    }

    /// Whether the server keeps read markers for us (`draft/read-marker`).
    pub fn has_read_markers(&self) -> bool {
        matches!(&self.phase, Phase::Connected(session) if session.caps.contains(Cap::ReadMarker))
    }

    pub fn is_stopped(&self) -> bool {
        matches!(self.phase, Phase::Stopped)
    }

    /// Commands held until the link is ready.
    pub fn held(&self) -> usize {
        self.said.held_len()
    }

    /// Lines written and not answered yet.
    pub fn unanswered(&self) -> usize {
        self.said.unanswered_len()
    }

    // -----------------------------------------------------------------------------------------
    // Inputs
    // -----------------------------------------------------------------------------------------

    fn on_command(&mut self, command: Command) {
        if self.quitting || self.is_stopped() {
            return;
        }
        let ready = self.is_ready();
        if let Command::Send(message) = &command
            && message.command.eq_ignore_ascii_case("AWAY")
        {
            self.away = message
                .params
                .first()
                .filter(|text| !text.is_empty())
                .cloned();
        }
        match command {
            Command::Say {
                target,
                text,
                action,
            } => {
                for line in self.said.lines(&target, &text, action) {
                    if ready {
                        self.write_line(line, false);
                    } else {
                        self.said.hold(Held::Line(line.clone()));
                        self.emit(Event::Pending(line));
                    }
                }
            }
            Command::Send(message) if ready => self.send(message),
            Command::Send(message) => self.said.hold(Held::Message(message)),
            Command::Request(message) if self.is_registered() => self.send(message),
            Command::Ping(token) if self.is_registered() => {
                self.send(Message::new("PING", vec![token]));
            }
            Command::Request(_) | Command::Ping(_) => {}
            Command::Quit(reason) => {
                self.quitting = true;
                match self.phase {
                    Phase::Registering { .. } | Phase::Connected(_) => {
                        self.send(Message::new("QUIT", reason.into_iter().collect()));
                    }
                    _ => self.closed(),
                }
            }
        }
    }

    fn on_opened(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Dialing) {
            return;
        }
        // A reconnection finds its old session still holding the nick for a while; a person
        // starting the client with a taken nick wants in, as irssi lets them (a script wants
        // its nick or an answer).
        let fallbacks = if self.ever_registered || self.reconnect == Reconnect::Always {
            NICK_FALLBACKS
        } else {
            0
        };
        let registration = Registration::new(
            self.model.nick(),
            &self.options.nick,
            self.options.password.clone(),
            fallbacks,
        );
        for message in registration.greeting() {
            self.send(message);
        }
        self.phase = Phase::Registering {
            registration,
            deadline: now + REGISTRATION_TIMEOUT,
        };
        self.emit(Event::Registering);
    }

    fn on_failed(&mut self, now: Instant, error: ClientError) {
        match self.phase {
            Phase::Stopped | Phase::Waiting { .. } => {}
            _ if self.quitting => self.closed(),
            Phase::Dialing => self.retry_or_stop(now, error, false),
            Phase::Registering { .. } | Phase::Connected(_) => self.connection_lost(now, error),
        }
    }

    fn on_tick(&mut self, now: Instant) {
        match &self.phase {
            Phase::Waiting { retry_at } if now >= *retry_at => self.dial(),
            Phase::Registering { deadline, .. } if now >= *deadline => {
                self.connection_lost(now, ClientError::Timeout(Wait::Registering));
            }
            Phase::Connected(Session {
                resync: Some(resync),
                ..
            }) if now >= resync.deadline => {
                tracing::warn!("rejoining or filling the gap took too long; going on");
                self.finish_resync();
            }
            _ => {}
        }
    }

    fn on_received(&mut self, now: Instant, message: Message) {
        let command = message.command.to_ascii_uppercase();
        if matches!(
            self.phase,
            Phase::Stopped | Phase::Waiting { .. } | Phase::Dialing
        ) {
            return;
        }
        match command.as_str() {
            "PING" => return self.send(Message::new("PONG", message.params)),
            "ERROR" if self.quitting => return self.closed(),
            "ERROR" => {
                let reason = message.params.first().cloned().unwrap_or_default();
                return self.connection_lost(now, ClientError::Closed(reason));
            }
            _ => {}
        }
        if let Phase::Registering { registration, .. } = &mut self.phase {
            let mut replies = Vec::new();
            let step = registration.on_message(&message, &mut replies);
            for reply in replies {
                self.send(reply);
            }
            match step {
                // The error says it all; the reply that caused it is not shown on its own.
                Err(error) => return self.connection_lost(now, error),
                Ok(Step::Registered { nick, caps }) => self.registered(now, nick, caps),
                Ok(Step::Registering) => {}
            }
            self.show(message, false);
            return self.check_resync();
        }
        self.on_session_message(&command, message);
    }

    // -----------------------------------------------------------------------------------------
    // Connection life
    // -----------------------------------------------------------------------------------------

    fn dial(&mut self) {
        self.phase = Phase::Dialing;
        self.out.push(Output::Open);
        self.emit(Event::Connecting);
    }

    fn registered(&mut self, now: Instant, nick: String, caps: CapSet) {
        self.backoff.reset();
        let reconnection = self.ever_registered;
        self.ever_registered = true;
        let to_join = std::mem::take(&mut self.to_join);
        if !to_join.is_empty() {
            let rooms: Vec<&str> = to_join.iter().map(|(room, _)| room.as_str()).collect();
            self.send(Message::new("JOIN", vec![rooms.join(",")]));
        }
        if reconnection && let Some(away) = self.away.clone() {
            self.send(Message::new("AWAY", vec![away]));
        }
        self.phase = Phase::Connected(Session {
            caps,
            msgid_references: true,
            answers: Answers::default(),
            resync: Some(Resync {
                to_join,
                gap: GapFill::default(),
                deadline: now + RESYNC_TIMEOUT,
                reconnection,
            }),
        });
        self.emit(Event::Registered { nick, reconnection });
    }

    /// The open connection failed or ended: remember what to rejoin and from where, tell which
    /// lines are now pending, and retry or stop.
    fn connection_lost(&mut self, now: Instant, error: ClientError) {
        if let Phase::Connected(session) = std::mem::replace(&mut self.phase, Phase::Stopped) {
            // Every room we are in, and those a resync had not rejoined yet.
            let mut rooms: Vec<String> = self
                .model
                .rooms()
                .iter()
                .map(|room| room.name.clone())
                .collect();
            for (room, _) in session.resync.into_iter().flat_map(|resync| resync.to_join) {
                if !rooms.iter().any(|known| known.eq_ignore_ascii_case(&room)) {
                    rooms.push(room);
                }
            }
            self.to_join = rooms
                .into_iter()
                .map(|room| {
                    let mark = self.marks.of(&room);
                    (room, mark)
                })
                .collect();
            self.old_nick = Some(self.model.nick().to_owned());
        }
        for line in self.said.connection_lost() {
            self.emit(Event::Pending(line));
        }
        self.retry_or_stop(now, error, true);
    }

    fn retry_or_stop(&mut self, now: Instant, error: ClientError, was_connected: bool) {
        self.out.push(Output::Close);
        let retry = match self.reconnect {
            Reconnect::OnceReady => self.ever_ready && error.kind() == ErrorKind::Connection,
            Reconnect::Always => error.kind() == ErrorKind::Connection || self.ever_registered,
        };
        if !retry {
            self.phase = Phase::Stopped;
            self.out.push(Output::Stop(error));
            return;
        }
        let delay = self.backoff.next_delay();
        self.phase = Phase::Waiting {
            retry_at: now + delay,
        };
        self.emit(Event::Disconnected {
            reason: crate::describe(&error),
            retry_in: delay,
            attempt: self.backoff.attempts(),
            was_connected,
        });
    }

    /// The end after [`Command::Quit`].
    fn closed(&mut self) {
        self.phase = Phase::Stopped;
        self.out.push(Output::Close);
        self.emit(Event::Closed);
    }

    // -----------------------------------------------------------------------------------------
    // A registered connection
    // -----------------------------------------------------------------------------------------

    fn on_session_message(&mut self, command: &str, message: Message) {
        let Phase::Connected(session) = &mut self.phase else {
            return;
        };
        let reading = session.answers.read(&message);
        if let Some((label, outcome)) = reading.answered {
            self.settle_label(&label, outcome);
        }
        if reading.framing {
            return;
        }
        if command == "PONG" {
            let token = message.params.last().cloned().unwrap_or_default();
            return self.emit(Event::Pong(token));
        }
        if self.seen.is_duplicate(&message) {
            return;
        }
        let Phase::Connected(session) = &mut self.phase else {
            return;
        };
        let from_history = session
            .resync
            .as_ref()
            .is_some_and(|resync| resync.gap.is_from_history(&message));
        if let Some(resync) = &mut session.resync {
            resync.gap.follow(command, &message.params);
        }
        self.marks.follow(&message);

        let from = source_nick(&message).unwrap_or_default();
        let from_me = self.model.is_me(from);
        let ours = from_me
            || self
                .old_nick
                .as_deref()
                .is_some_and(|old| old.eq_ignore_ascii_case(from));
        let mut rejoin = false;
        match (command, message.params.as_slice()) {
            ("PRIVMSG", [target, body, ..]) if from_history && ours => {
                if let Some(line) = self.said.delivered_in_history(target, body) {
                    self.emit(Event::Settled {
                        line,
                        outcome: Outcome::DeliveredEarlier,
                    });
                }
            }
            (RPL_ISUPPORT, [_, tokens @ ..]) => {
                if let Some(types) = tokens
                    .iter()
                    .find_map(|token| token.strip_prefix("MSGREFTYPES="))
                    && let Phase::Connected(session) = &mut self.phase
                {
                    session.msgid_references = types.split(',').any(|kind| kind == "msgid");
                }
            }
            ("JOIN", [room, ..]) if from_me => rejoin = self.rejoined(room),
            (code, [_, room, rest @ ..]) if JOIN_ERRORS.contains(&code) => {
                let reason = rest.last().cloned().unwrap_or_default();
                self.rejoin_refused(room, reason);
            }
            _ => {}
        }
        self.show(message, rejoin);
        self.check_resync();
    }

    /// Our `JOIN` of `room` came back: during a resync, ask for what was missed there. Returns
    /// whether it rejoined a room we were in before the connection was lost.
    fn rejoined(&mut self, room: &str) -> bool {
        let Phase::Connected(session) = &mut self.phase else {
            return false;
        };
        let Some(resync) = &mut session.resync else {
            return false;
        };
        let Some(index) = resync
            .to_join
            .iter()
            .position(|(name, _)| name.eq_ignore_ascii_case(room))
        else {
            return false;
        };
        let (name, mark) = resync.to_join.remove(index);
        let history = session.caps.contains(Cap::Chathistory) && session.caps.contains(Cap::Batch);
        let request = after_request(&name, &mark, session.msgid_references).filter(|_| history);
        let reconnection = resync.reconnection;
        if let Some(request) = request {
            resync.gap.request(&name);
            self.send(request);
        }
        reconnection
    }

    /// A room being (re)joined refused us: it is no longer ours, and what waits to be said
    /// there will not be sent.
    fn rejoin_refused(&mut self, room: &str, reason: String) {
        let Phase::Connected(Session {
            resync: Some(resync),
            ..
        }) = &mut self.phase
        else {
            return;
        };
        let Some(index) = resync
            .to_join
            .iter()
            .position(|(name, _)| name.eq_ignore_ascii_case(room))
        else {
            return;
        };
        resync.to_join.remove(index);
        self.model.leave(room);
        self.emit(Event::JoinRefused {
            room: room.to_owned(),
            reason,
        });
        for line in self.said.take_for(room) {
            self.emit(Event::Settled {
                line,
                outcome: Outcome::NotSent,
            });
        }
    }

    /// Ends the resync once every room is rejoined (or refused) and every gap filled.
    fn check_resync(&mut self) {
        let done = matches!(&self.phase, Phase::Connected(Session { resync: Some(resync), .. })
            if resync.to_join.is_empty() && resync.gap.is_done());
        if done {
            self.finish_resync();
        }
    }

    /// Ready: the lines whose answer was lost go out again, then what was held, in order.
    fn finish_resync(&mut self) {
        let Phase::Connected(session) = &mut self.phase else {
            return;
        };
        session.resync = None;
        self.ever_ready = true;
        self.emit(Event::Ready);
        for line in self.said.take_unanswered() {
            self.write_line(line, true);
        }
        for held in self.said.take_held() {
            match held {
                Held::Line(line) => self.write_line(line, true),
                Held::Message(message) => self.send(message),
            }
        }
    }

    /// Writes a said line, labelled so its answer can be told from the others'.
    fn write_line(&mut self, line: SaidLine, shown_pending: bool) {
        let Phase::Connected(session) = &self.phase else {
            return;
        };
        let caps = session.caps;
        let message = line.message();
        if !caps.contains(Cap::EchoMessage) {
            // No echo will come: show our own copy now, stamped with the local clock.
            let source = format!("{}!local@local", self.model.nick());
            self.show(message.clone().with_source(source), false);
        }
        if caps.contains(Cap::LabeledResponse) {
            let label = self.said.next_label();
            self.send(message.with_tag("label", label.clone()));
            self.said.written(line, label, shown_pending);
        } else {
            // Nothing tells this line's answer from another's: once written, it counts as
            // delivered (it is never sent twice, and may be lost with the connection).
            self.send(message);
            self.emit(Event::Settled {
                line,
                outcome: Outcome::Delivered,
            });
        }
    }

    fn settle_label(&mut self, label: &str, outcome: Outcome) {
        if let Some(line) = self.said.answered(label) {
            self.emit(Event::Settled { line, outcome });
        }
    }

    // -----------------------------------------------------------------------------------------
    // Outputs
    // -----------------------------------------------------------------------------------------

    /// Applies `message` to the model and passes it on with the line it shows.
    fn show(&mut self, message: Message, rejoin: bool) {
        let line = self.model.apply(&message, Timestamp::now());
        self.emit(Event::Message(Incoming {
            message,
            line,
            rejoin,
        }));
    }

    fn send(&mut self, message: Message) {
        self.out.push(Output::Send(message));
    }

    fn emit(&mut self, event: Event) {
        self.out.push(Output::Event(event));
    }
}

#[cfg(test)]
mod tests;
