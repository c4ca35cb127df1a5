//! The full-screen mode's run loop: one task owning the terminal, the [`AppState`] and the
//! [`Connection`], selecting over key presses, messages from the server and a tick.
//!
//! Terminal hygiene: [`ratatui::init`] enters raw mode and the alternate screen and installs a
//! panic hook that restores the terminal; a [`TerminalGuard`] restores it on every other exit
//! (returns, `?`, unwinding). Errors belong to a window: a refused command to the window it was
//! typed in, a lost connection to the status window and the status bar.
//!
//! Resilience: a lost connection is re-established with [`Backoff`], as pipe mode does: the
//! new connection registers (with `nick_` fallbacks), rejoins every room and fills each room's
//! gap with `CHATHISTORY AFTER` (deduplicated by `msgid`). Messages sent whose echo had not
//! arrived when the connection dropped are shown as pending and, once the rooms are rejoined
//! and their gaps filled, sent again (unless the history shows they arrived), followed by the
//! lines typed meanwhile (queued and shown at once as pending), in order; each pending mark
//! goes when its echo arrives. A room that refuses the rejoin is marked not joined at once and
//! what was to be said there is shown as `! not sent: …`. Refused credentials or nick before
//! the first registration are fatal: the terminal is restored and the error returned; after
//! it, they are shown and retried with backoff. Ctrl-C or `/quit` leaves.
//!
//! Cancel safety: only [`Connection::receive`] and the key stream's `next` are raced in the
//! `select!`; everything that writes to the server is awaited afterwards, outside it.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt;
use palaver_proto::irc::Message;
use palaver_proto::irc::caps::Cap;
use palaver_proto::text::error_line;
use palaver_proto::time::Timestamp;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{DisableBracketedPaste, EnableBracketedPaste, Event, EventStream};
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until, timeout_at};

use crate::app::command::{Command, paste_commands};
use crate::app::input::{Action, handle_key};
use crate::app::state::{AppState, Link};
use crate::app::view;
use crate::connection::{Connection, ConnectionState, REGISTRATION_TIMEOUT};
use crate::pipe::{
    JOIN_ERRORS, MESSAGE_ERRORS, NICK_FALLBACKS, RESYNC_TIMEOUT, is_connection_loss, privmsgs,
};
use crate::reconnect::Backoff;
use crate::resync::{GapFill, RoomMark, SeenIds, Unacknowledged, after_request};
use crate::{ClientError, ConnectOptions};

/// How long to wait for the server to close the connection after `QUIT`.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the loop wakes without input: to send a lag probe.
const TICK: Duration = Duration::from_secs(15);

/// The token of our lag probes: `PING palaver-lag-<milliseconds since the loop started>`.
const LAG_TOKEN_PREFIX: &str = "palaver-lag-";

/// Restores the terminal when dropped, whichever way [`run_tui`] ends.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = ratatui::crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
        ratatui::restore();
    }
}

/// Runs the full-screen client until the user quits (Ctrl-C or `/quit`).
pub async fn run_tui(options: ConnectOptions) -> Result<(), ClientError> {
    let terminal = ratatui::init();
    let _guard = TerminalGuard;
    // Pasted text arrives as one `Event::Paste`, not as keys (an Enter in it would send).
    let _ = ratatui::crossterm::execute!(std::io::stdout(), EnableBracketedPaste);
    let to_join = options
        .channels
        .iter()
        .map(|room| (room.clone(), RoomMark::default()))
        .collect();
    Tui {
        terminal,
        state: AppState::new(&options.server, &options.nick),
        connection: None,
        connecting: None,
        keys: EventStream::new(),
        started: Instant::now(),
        options,
        backoff: Backoff::new(),
        retry_at: None,
        queue: VecDeque::new(),
        marks: HashMap::new(),
        seen: SeenIds::default(),
        msgid_references: true,
        to_join,
        gap: GapFill::default(),
        unacknowledged: Unacknowledged::default(),
        old_nick: String::new(),
        resync_deadline: None,
        ever_registered: false,
        fatal: None,
        reconnection: false,
    }
    .run()
    .await
}

/// A connection attempt in progress.
type Connecting = Pin<Box<dyn Future<Output = Result<Connection, ClientError>>>>;

struct Tui {
    terminal: DefaultTerminal,
    state: AppState,
    /// `None` before connecting and after the connection ended.
    connection: Option<Connection>,
    keys: EventStream,
    /// The origin of lag-probe tokens.
    started: Instant,
    options: ConnectOptions,
    /// Set while (re)connecting.
    connecting: Option<Connecting>,
    backoff: Backoff,
    /// When to try connecting again after a lost connection.
    retry_at: Option<Instant>,
    /// Messages typed while disconnected (or before the rooms were rejoined), in order.
    queue: VecDeque<Message>,
    /// Where each room's history stood, to fill the gap after a reconnection.
    marks: HashMap<String, RoomMark>,
    /// `msgid`s shown, so gap-filling history shows nothing twice.
    seen: SeenIds,
    msgid_references: bool,
    /// Rooms whose `JOIN` has not come back yet since (re)connecting, with their marks.
    to_join: Vec<(String, RoomMark)>,
    /// The gap-filling history asked for since reconnecting and not yet received.
    gap: GapFill,
    /// Messages sent whose echo has not arrived (with echo-message): sent again after a
    /// reconnection unless the gap-filling history shows they arrived.
    unacknowledged: Unacknowledged,
    /// Our nick when the connection was lost: our messages in the history carry it.
    old_nick: String,
    /// Set from connecting until the rooms are rejoined: the queue goes out then, or at this
    /// deadline at the latest.
    resync_deadline: Option<Instant>,
    /// Whether any connection has registered: before that, refused credentials or nick are
    /// fatal (`palaver connect` exits non-zero); after, only shown.
    ever_registered: bool,
    /// An error that ends the client, returned by the run loop once seen.
    fatal: Option<ClientError>,
    /// Whether the connection being set up replaces a lost one.
    reconnection: bool,
}

/// What woke the loop.
enum Wake {
    Key(Option<std::io::Result<Event>>),
    Received(Result<Option<Message>, ClientError>),
    Connected(Result<Connection, ClientError>),
    Retry,
    ResyncTimeout,
    Tick,
}

/// Whether to keep going.
enum Flow {
    Continue,
    Quit(Option<String>),
}

impl Tui {
    async fn run(&mut self) -> Result<(), ClientError> {
        self.start_connecting();
        let mut tick = interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            if let Some(error) = self.fatal.take() {
                return Err(error);
            }
            self.draw()?;
            let retry_at = self.retry_at;
            let resync_deadline = self.resync_deadline;
            let wake = tokio::select! {
                key = self.keys.next() => Wake::Key(key),
                received = async { self.connection.as_mut().expect("checked").receive().await },
                    if self.connection.is_some() => Wake::Received(received),
                connected = async { self.connecting.as_mut().expect("checked").await },
                    if self.connecting.is_some() => Wake::Connected(connected),
                () = sleep_until(retry_at.unwrap_or_else(Instant::now)), if retry_at.is_some() => {
                    Wake::Retry
                }
                () = sleep_until(resync_deadline.unwrap_or_else(Instant::now)),
                    if resync_deadline.is_some() && self.connection.is_some() => Wake::ResyncTimeout,
                _ = tick.tick() => Wake::Tick,
            };
            let flow = match wake {
                Wake::Key(None) => Flow::Quit(None),
                Wake::Key(Some(event)) => {
                    let event = event.map_err(ClientError::Stdin)?;
                    self.on_terminal_event(event).await
                }
                Wake::Received(received) => {
                    self.on_received(received).await;
                    Flow::Continue
                }
                Wake::Connected(result) => {
                    self.connecting = None;
                    match result {
                        Ok(mut connection) => {
                            if self.ever_registered {
                                // Our previous session may linger as a ghost holding the nick.
                                connection.set_nick_fallbacks(NICK_FALLBACKS);
                            }
                            self.connection = Some(connection);
                            self.state.link = Link::Registering;
                        }
                        Err(error) => self.lost(error),
                    }
                    Flow::Continue
                }
                Wake::Retry => {
                    self.retry_at = None;
                    self.start_connecting();
                    Flow::Continue
                }
                Wake::ResyncTimeout => {
                    self.flush_queue().await;
                    Flow::Continue
                }
                Wake::Tick => {
                    self.probe_lag().await;
                    Flow::Continue
                }
            };
            if let Flow::Quit(reason) = flow {
                return self.quit(reason.as_deref()).await;
            }
        }
    }

    /// Starts a connection attempt as the nick we have now, to rejoin the rooms we were in.
    fn start_connecting(&mut self) {
        self.state
            .note(None, &format!("-- connecting to {}", self.options.server));
        self.state.link = Link::Connecting;
        self.reconnection = self.ever_registered;
        let mut options = self.options.clone();
        options.nick = self.state.nick().to_owned();
        options.channels = self.to_join.iter().map(|(room, _)| room.clone()).collect();
        self.resync_deadline = Some(Instant::now() + REGISTRATION_TIMEOUT + RESYNC_TIMEOUT);
        self.connecting = Some(Box::pin(async move { Connection::connect(&options).await }));
    }

    fn draw(&mut self) -> Result<(), ClientError> {
        let state = &self.state;
        self.terminal
            .draw(|frame| view::draw(frame, state))
            .map(|_| ())
            .map_err(ClientError::Stdout)
    }

    async fn on_terminal_event(&mut self, event: Event) -> Flow {
        if let Event::Paste(text) = &event {
            let text = text.trim_end_matches(['\r', '\n']);
            if !text.contains('\n') {
                self.state.input.insert_str(text.trim_end_matches('\r'));
                return Flow::Continue;
            }
            for command in paste_commands(text, self.state.context()) {
                if let Flow::Quit(reason) = self.execute(command).await {
                    return Flow::Quit(reason);
                }
            }
            return Flow::Continue;
        }
        let Event::Key(key) = event else {
            // Resizes need only the redraw that follows every event.
            return Flow::Continue;
        };
        let height = self.terminal.size().map_or(24, |size| size.height);
        match handle_key(&mut self.state, key, view::scrollback_rows(height)) {
            Action::None => Flow::Continue,
            Action::Quit => Flow::Quit(None),
            Action::Request(request) => {
                self.send(&[request]).await;
                Flow::Continue
            }
            Action::Submit(line) => {
                let command = Command::parse(&line, self.state.context());
                self.execute(command).await
            }
        }
    }

    async fn on_received(&mut self, received: Result<Option<Message>, ClientError>) {
        let message = match received {
            Ok(Some(message)) => message,
            Ok(None) => return self.lost(ClientError::ConnectionLost),
            Err(error) => return self.lost(error),
        };
        let Some(connection) = &mut self.connection else {
            return;
        };
        if let Err(error) = connection.handle(&message).await {
            self.state.apply(&message, Timestamp::now());
            return self.lost(error);
        }
        if self.seen.is_duplicate(&message) {
            return;
        }
        let command = message.command.to_ascii_uppercase();
        let from_history = self.gap.is_from_history(&message);
        self.gap.follow(&command, &message.params);
        if !self.state.is_older_history(&message) {
            RoomMark::follow(&mut self.marks, &command, &message);
        }
        let own = crate::model::source_nick(&message)
            .is_some_and(|nick| nick.eq_ignore_ascii_case(connection.nick()));
        let caps = connection.caps();
        self.state.link = match connection.state() {
            ConnectionState::Connected { .. } => Link::Connected,
            ConnectionState::Connecting => Link::Connecting,
            ConnectionState::Registering(_) => Link::Registering,
            ConnectionState::Disconnected { .. } => self.state.link.clone(),
        };
        if message.command.eq_ignore_ascii_case("PONG")
            && let Some(sent) = message
                .params
                .last()
                .and_then(|token| token.strip_prefix(LAG_TOKEN_PREFIX))
                .and_then(|millis| millis.parse::<u64>().ok())
        {
            let now = self.started.elapsed().as_millis() as u64;
            self.state.lag = Some(Duration::from_millis(now.saturating_sub(sent)));
            return;
        }
        let resyncing = self.resync_deadline.is_some();
        let current = self.state.current_index();
        let from_old_nick = crate::model::source_nick(&message)
            .is_some_and(|nick| nick.eq_ignore_ascii_case(&self.old_nick));
        self.state.apply(&message, Timestamp::now());
        match (command.as_str(), message.params.as_slice()) {
            ("001", _) => {
                self.backoff.reset();
                if self.reconnection {
                    self.state.note(None, "-- reconnected");
                }
                self.ever_registered = true;
            }
            ("PRIVMSG", [target, text, ..]) if from_history => {
                let delivered =
                    self.unacknowledged
                        .delivered_in_history(own || from_old_nick, target, text);
                if delivered && !own {
                    // Said under our old nick: the state did not take it as ours.
                    self.state.confirm_pending(target, text);
                }
            }
            ("PRIVMSG", _) if own => {
                self.unacknowledged.acknowledge();
            }
            (numeric, [_, room, ..])
                if JOIN_ERRORS.contains(&numeric)
                    && self
                        .to_join
                        .iter()
                        .any(|(name, _)| name.eq_ignore_ascii_case(room)) =>
            {
                self.rejoin_refused(room);
            }
            (numeric, _) if MESSAGE_ERRORS.contains(&numeric) => {
                if let Some(sent) = self.unacknowledged.acknowledge()
                    && sent.pending
                    && let [target, text, ..] = sent.message.params.as_slice()
                {
                    self.state.fail_pending(target, text);
                }
            }
            ("005", [_, tokens @ ..]) => {
                if let Some(types) = tokens
                    .iter()
                    .find_map(|token| token.strip_prefix("MSGREFTYPES="))
                {
                    self.msgid_references = types.split(',').any(|kind| kind == "msgid");
                }
            }
            ("JOIN", [room, ..]) if own && resyncing => {
                // Rejoining must not move the user away from the window they are reading.
                if self.reconnection && self.state.current_index() != current {
                    self.state.select(current);
                }
                let Some(index) = self
                    .to_join
                    .iter()
                    .position(|(name, _)| name.eq_ignore_ascii_case(room))
                else {
                    return;
                };
                let (name, mark) = self.to_join.remove(index);
                if caps.contains(Cap::Chathistory)
                    && caps.contains(Cap::Batch)
                    && let Some(request) = after_request(&name, &mark, self.msgid_references)
                {
                    self.gap.requested.push(name);
                    self.send(&[request]).await;
                }
            }
            _ => {}
        }
        let resynced = self.resync_deadline.is_some()
            && self.to_join.is_empty()
            && self.gap.is_done()
            && self
                .connection
                .as_ref()
                .is_some_and(Connection::is_registered);
        if resynced {
            self.flush_queue().await;
        }
    }

    /// The server refused to let us rejoin `room`: it is marked not joined at once, and what
    /// was waiting to be said there is shown as not sent rather than held until the deadline.
    fn rejoin_refused(&mut self, room: &str) {
        self.to_join
            .retain(|(name, _)| !name.eq_ignore_ascii_case(room));
        self.state.join_refused(room);
        let for_room = |m: &Message| {
            m.params
                .first()
                .is_some_and(|t| t.eq_ignore_ascii_case(room))
        };
        let (failed, kept): (Vec<Message>, Vec<Message>) = self
            .queue
            .drain(..)
            .partition(|m| m.command == "PRIVMSG" && for_room(m));
        self.queue = kept.into();
        let unsent = self
            .unacknowledged
            .take_for(room)
            .into_iter()
            .map(|s| s.message);
        for message in unsent.chain(failed) {
            if let [target, text, ..] = message.params.as_slice() {
                self.state.fail_pending(target, text);
            }
        }
    }

    /// Connected and the rooms rejoined (or the wait given up on): what was typed meanwhile
    /// goes out, in order.
    async fn flush_queue(&mut self) {
        self.resync_deadline = None;
        self.to_join.clear();
        self.gap.clear();
        // First what was sent but not echoed (and not found in the history), then what was
        // typed meanwhile: all of it is shown as pending already.
        let mut messages: Vec<Message> = self
            .unacknowledged
            .take()
            .into_iter()
            .map(|sent| sent.message)
            .collect();
        messages.extend(self.queue.drain(..));
        self.transmit(&messages, true).await;
    }

    /// The connection ended (or never started): say why, in the status window and bar, and
    /// try again with backoff. Refused credentials or nick before any connection registered
    /// are fatal; after, they are shown and retried with backoff like a lost connection (the
    /// server may be fixed meanwhile).
    fn lost(&mut self, error: ClientError) {
        let reason = crate::describe(&error);
        self.state.note(None, &line_text(&error_line(&reason)));
        self.state.lag = None;
        if self.connection.take().is_some() {
            self.old_nick = self.state.nick().to_owned();
        }
        self.gap.clear();
        // What was sent and not echoed is said again after reconnecting: shown as pending.
        for message in self.unacknowledged.mark_pending() {
            if let [target, text, ..] = message.params.as_slice() {
                self.state.add_pending(target, text);
            }
        }
        if is_fatal(&error, self.ever_registered) {
            self.state.link = Link::Disconnected(reason);
            self.retry_at = None;
            self.resync_deadline = None;
            self.fatal = Some(error);
            return;
        }
        // Rejoin every room we were in (or were still rejoining), from where it stood.
        let mut rooms = self.state.joined_rooms();
        for (room, _) in &self.to_join {
            if !rooms.iter().any(|r| r.eq_ignore_ascii_case(room)) {
                rooms.push(room.clone());
            }
        }
        self.to_join = rooms
            .into_iter()
            .map(|room| {
                let mark = self
                    .marks
                    .get(&room.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_default();
                (room, mark)
            })
            .collect();
        let delay = self.backoff.next_delay();
        self.state.note(
            None,
            &format!("-- reconnecting in {} ms", delay.as_millis()),
        );
        self.state.link = Link::Disconnected(format!(
            "{reason}; reconnecting (attempt {})",
            self.backoff.attempts()
        ));
        self.retry_at = Some(Instant::now() + delay);
    }

    async fn probe_lag(&mut self) {
        let Some(connection) = &mut self.connection else {
            return;
        };
        if !connection.is_registered() {
            return;
        }
        let token = format!("{LAG_TOKEN_PREFIX}{}", self.started.elapsed().as_millis());
        if let Err(error) = connection.send(&Message::new("PING", vec![token])).await {
            self.lost(error);
        }
    }

    /// Carries out a typed command.
    async fn execute(&mut self, command: Command) -> Flow {
        match &command {
            Command::Nothing => return Flow::Continue,
            Command::Invalid(reason) => {
                self.state.note_current(&line_text(&error_line(reason)));
                return Flow::Continue;
            }
            Command::Quit(reason) => return Flow::Quit(reason.clone()),
            Command::Window(number) => {
                if !self.state.select(number - 1) {
                    let text = format!("there is no window {number}");
                    self.state.note_current(&line_text(&error_line(&text)));
                }
                return Flow::Continue;
            }
            Command::Close => {
                if let Some(room) = self.state.close_current() {
                    self.send(&[Message::new("PART", vec![room])]).await;
                }
                return Flow::Continue;
            }
            Command::Query { nick, .. } => self.state.open_query(nick),
            _ => {}
        }
        let messages = match &command {
            Command::Quote(raw) => match Message::parse(raw) {
                Ok(message) => vec![message],
                Err(_) => {
                    self.state
                        .note_current(&line_text(&error_line("not a valid IRC line")));
                    return Flow::Continue;
                }
            },
            _ => split_long(command.to_messages()),
        };
        self.send(&messages).await;
        Flow::Continue
    }

    /// Sends `messages`; without echo-message, shows our own copies of what we said. While
    /// disconnected or rejoining, queues them instead (what is said shows as pending).
    async fn send(&mut self, messages: &[Message]) {
        let ready = self.connection.is_some() && self.resync_deadline.is_none();
        let is_history = |m: &Message| m.command == "CHATHISTORY";
        if !ready && !messages.iter().all(is_history) {
            for message in messages {
                if let ("PRIVMSG", [target, text, ..]) =
                    (message.command.as_str(), message.params.as_slice())
                {
                    self.state.add_pending(target, text);
                }
                self.queue.push_back(message.clone());
            }
            return;
        }
        self.transmit(messages, false).await;
    }

    /// Writes `messages` to the server (`pending`: their PRIVMSGs are shown as pending
    /// already). With echo-message, PRIVMSGs wait for their echo in `unacknowledged`; without,
    /// our own copies are shown at once.
    async fn transmit(&mut self, messages: &[Message], pending: bool) {
        let Some(connection) = &mut self.connection else {
            return;
        };
        let echo = connection.caps().contains(Cap::EchoMessage);
        let nick = connection.nick().to_owned();
        for (sent, message) in messages.iter().enumerate() {
            if let Err(error) = connection.send(message).await {
                // Kept for the next connection, in order (the failed one included).
                for rest in &messages[sent..] {
                    if let ("PRIVMSG", [target, text, ..], false) =
                        (rest.command.as_str(), rest.params.as_slice(), pending)
                    {
                        self.state.add_pending(target, text);
                    }
                    self.queue.push_back(rest.clone());
                }
                return self.lost(error);
            }
            if message.command == "PRIVMSG" {
                if echo {
                    self.unacknowledged.push(message.clone(), pending);
                } else {
                    let copy = message.clone().with_source(format!("{nick}!local@local"));
                    self.state.apply(&copy, Timestamp::now());
                }
            }
        }
    }

    /// Sends `QUIT` and waits (bounded) for the server to close.
    async fn quit(&mut self, reason: Option<&str>) -> Result<(), ClientError> {
        let Some(mut connection) = self.connection.take() else {
            return Ok(());
        };
        self.state.note(None, "-- quitting");
        self.draw()?;
        if connection.quit(reason).await.is_err() {
            return Ok(());
        }
        let deadline = Instant::now() + QUIT_TIMEOUT;
        while let Ok(Ok(Some(message))) = timeout_at(deadline, connection.receive()).await {
            if message.command.eq_ignore_ascii_case("ERROR") {
                break;
            }
        }
        Ok(())
    }
}

/// Whether `error` ends the client: refused credentials or nick before any connection
/// registered. After one has, everything is retried with backoff (a password may be fixed on
/// the server meanwhile).
fn is_fatal(error: &ClientError, ever_registered: bool) -> bool {
    !ever_registered && !is_connection_loss(error)
}

/// PRIVMSGs too long for one IRC line split into several, as pipe mode does.
fn split_long(messages: Vec<Message>) -> Vec<Message> {
    messages
        .into_iter()
        .flat_map(
            |message| match (message.command.as_str(), message.params.as_slice()) {
                ("PRIVMSG", [target, body]) => {
                    match body
                        .strip_prefix("\u{1}ACTION ")
                        .and_then(|rest| rest.strip_suffix('\u{1}'))
                    {
                        Some(action) => privmsgs(target, action, true),
                        None => privmsgs(target, body, false),
                    }
                }
                _ => vec![message],
            },
        )
        .collect()
}

fn line_text(bytes: &[u8]) -> String {
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    String::from_utf8_lossy(line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_credentials_are_fatal_only_before_the_first_registration() {
        let refusals = [
            ClientError::PasswordRefused,
            ClientError::Sasl("invalid credentials".into()),
        ];
        for error in &refusals {
            assert!(is_fatal(error, false));
            assert!(!is_fatal(error, true), "retried after a reconnection");
        }
        assert!(!is_fatal(&ClientError::ConnectionLost, false));
    }

    #[test]
    fn long_typed_lines_are_split_like_pipe_mode() {
        let text = "y".repeat(900);
        let said = Message::new("PRIVMSG", vec!["#ops".into(), text.clone()]);
        let split = split_long(vec![said, Message::new("JOIN", vec!["#x".into()])]);
        assert_eq!(split.len(), 3);
        let joined: String = split[..2].iter().map(|m| m.params[1].as_str()).collect();
        assert_eq!(joined, text);
        assert_eq!(split[2].command, "JOIN");

        let action = format!("\u{1}ACTION {text}\u{1}");
        let split = split_long(vec![Message::new("PRIVMSG", vec!["#ops".into(), action])]);
        assert!(split.len() > 1);
        assert!(
            split
                .iter()
                .all(|m| m.params[1].starts_with("\u{1}ACTION ") && m.params[1].ends_with('\u{1}'))
        );
    }
}
