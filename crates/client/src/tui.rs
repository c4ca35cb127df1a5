//! The full-screen mode's run loop: one task owning the terminal, the [`AppState`] and the
//! [`Connection`], selecting over key presses, messages from the server and a tick.
//!
//! Terminal hygiene: [`ratatui::init`] enters raw mode and the alternate screen and installs a
//! panic hook that restores the terminal; a [`TerminalGuard`] restores it on every other exit
//! (returns, `?`, unwinding). Errors belong to a window: a refused command to the window it was
//! typed in, a lost connection to the status window and the status bar. The screen stays up
//! after the connection ends so the reason can be read; Ctrl-C or `/quit` leaves.
//!
//! Cancel safety: only [`Connection::receive`] and the key stream's `next` are raced in the
//! `select!`; everything that writes to the server is awaited afterwards, outside it.

use std::time::Duration;

use futures_util::StreamExt;
use palaver_proto::irc::Message;
use palaver_proto::irc::caps::Cap;
use palaver_proto::text::error_line;
use palaver_proto::time::Timestamp;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{Event, EventStream};
use tokio::time::{Instant, MissedTickBehavior, interval, timeout_at};

use crate::app::command::Command;
use crate::app::input::{Action, handle_key};
use crate::app::state::{AppState, Link};
use crate::app::view;
use crate::connection::{Connection, ConnectionState};
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
        ratatui::restore();
    }
}

/// Runs the full-screen client until the user quits (Ctrl-C or `/quit`).
pub async fn run_tui(options: ConnectOptions) -> Result<(), ClientError> {
    let terminal = ratatui::init();
    let _guard = TerminalGuard;
    Tui {
        terminal,
        state: AppState::new(&options.server, &options.nick),
        connection: None,
        keys: EventStream::new(),
        started: Instant::now(),
    }
    .run(&options)
    .await
}

struct Tui {
    terminal: DefaultTerminal,
    state: AppState,
    /// `None` before connecting and after the connection ended.
    connection: Option<Connection>,
    keys: EventStream,
    /// The origin of lag-probe tokens.
    started: Instant,
}

/// What woke the loop.
enum Wake {
    Key(Option<std::io::Result<Event>>),
    Received(Result<Option<Message>, ClientError>),
    Tick,
}

/// Whether to keep going.
enum Flow {
    Continue,
    Quit(Option<String>),
}

impl Tui {
    async fn run(&mut self, options: &ConnectOptions) -> Result<(), ClientError> {
        self.draw()?;
        if !self.connect(options).await? {
            return Ok(());
        }
        let mut tick = interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            self.draw()?;
            let wake = match &mut self.connection {
                Some(connection) => tokio::select! {
                    key = self.keys.next() => Wake::Key(key),
                    received = connection.receive() => Wake::Received(received),
                    _ = tick.tick() => Wake::Tick,
                },
                None => tokio::select! {
                    key = self.keys.next() => Wake::Key(key),
                    _ = tick.tick() => Wake::Tick,
                },
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

    /// Connects, with the screen up and Ctrl-C working meanwhile. Returns false if the user
    /// quit while waiting. A failure is shown, not returned: the screen stays up.
    async fn connect(&mut self, options: &ConnectOptions) -> Result<bool, ClientError> {
        self.state
            .note(None, &format!("-- connecting to {}", options.server));
        self.draw()?;
        let connecting = Connection::connect(options);
        tokio::pin!(connecting);
        loop {
            tokio::select! {
                connected = &mut connecting => {
                    match connected {
                        Ok(connection) => {
                            self.connection = Some(connection);
                            self.state.link = Link::Registering;
                        }
                        Err(error) => self.lost(&error),
                    }
                    return Ok(true);
                }
                key = self.keys.next() => {
                    let Some(event) = key else { return Ok(false) };
                    if let Flow::Quit(_) = self.on_terminal_event(event.map_err(ClientError::Stdin)?).await {
                        return Ok(false);
                    }
                    self.draw()?;
                }
            }
        }
    }

    fn draw(&mut self) -> Result<(), ClientError> {
        let state = &self.state;
        self.terminal
            .draw(|frame| view::draw(frame, state))
            .map(|_| ())
            .map_err(ClientError::Stdout)
    }

    async fn on_terminal_event(&mut self, event: Event) -> Flow {
        let Event::Key(key) = event else {
            // Resizes need only the redraw that follows every event.
            return Flow::Continue;
        };
        let height = self.terminal.size().map_or(24, |size| size.height);
        match handle_key(&mut self.state, key, view::scrollback_rows(height)) {
            Action::None => Flow::Continue,
            Action::Quit => Flow::Quit(None),
            Action::Submit(line) => {
                let command = Command::parse(&line, self.state.context());
                self.execute(command).await
            }
        }
    }

    async fn on_received(&mut self, received: Result<Option<Message>, ClientError>) {
        let message = match received {
            Ok(Some(message)) => message,
            Ok(None) => return self.lost(&ClientError::ConnectionLost),
            Err(error) => return self.lost(&error),
        };
        let Some(connection) = &mut self.connection else {
            return;
        };
        if let Err(error) = connection.handle(&message).await {
            self.state.apply(&message, Timestamp::now());
            return self.lost(&error);
        }
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
        self.state.apply(&message, Timestamp::now());
    }

    /// The connection ended (or never started): say why, in the status window and bar.
    fn lost(&mut self, error: &ClientError) {
        let reason = describe(error);
        self.state.note(None, &line_text(&error_line(&reason)));
        self.state.link = Link::Disconnected(reason);
        self.state.lag = None;
        self.connection = None;
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
            self.lost(&error);
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
            _ => command.to_messages(),
        };
        self.send(&messages).await;
        Flow::Continue
    }

    /// Sends `messages`; without echo-message, shows our own copies of what we said.
    async fn send(&mut self, messages: &[Message]) {
        let Some(connection) = &mut self.connection else {
            self.state
                .note_current(&line_text(&error_line("not connected")));
            return;
        };
        let echo = connection.caps().contains(Cap::EchoMessage);
        let nick = connection.nick().to_owned();
        for message in messages {
            if let Err(error) = connection.send(message).await {
                return self.lost(&error);
            }
            if !echo && message.command == "PRIVMSG" {
                let copy = message.clone().with_source(format!("{nick}!local@local"));
                self.state.apply(&copy, Timestamp::now());
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

/// An error and its causes, `: `-separated, as one line.
fn describe(error: &ClientError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn line_text(bytes: &[u8]) -> String {
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    String::from_utf8_lossy(line).into_owned()
}
