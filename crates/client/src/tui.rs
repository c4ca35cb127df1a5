//! The full-screen mode's run loop: one task owning the terminal, the [`AppState`] and the
//! [`Link`], selecting over key presses, the link's events and a tick. A thin front end: the
//! link connects, reconnects, rejoins, fills gaps and follows what is said; this loop turns
//! keys into link commands and link events into windows and lines.
//!
//! Terminal hygiene: [`ratatui::init()`] enters raw mode and the alternate screen and installs a
//! panic hook that restores the terminal; a `TerminalGuard` restores it on every other exit
//! (returns, `?`, unwinding). Errors belong to a window: a refused command to the window it was
//! typed in, a lost connection to the status window and the status bar.
//!
//! What the link does on a lost connection shows here: lines said while disconnected (or
//! before the rooms were rejoined) and lines whose answer was lost are shown at once as
//! pending, and each pending mark goes when the link settles its line; a line that will not be
//! delivered (refused, or its room could not be rejoined) is shown as `! not sent: …`.
//! A taken nick is tried with `_` appended, up to three times, from the first connection on.
//! Refused credentials, or a nick taken in every variant, before the first registration are
//! fatal: the terminal is restored and the error returned; after it, they are shown and
//! retried with backoff. Ctrl-C or `/quit` leaves, after asking when that would lose a typed
//! line or lines not sent yet (see [`crate::app::question`]); a long paste is sent only once
//! confirmed.
//!
//! The mouse is taken (unless [`ScreenOptions::mouse`] is off) for its wheel, which scrolls;
//! its other events are dropped without a redraw. Ctrl-L clears the terminal and redraws it.
//!
//! Cancel safety: only the key stream's `next` and [`Link::next_event`] (cancel safe) are raced
//! in the `select!`; link commands are given between polls.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use palaver_proto::irc::Message;
use palaver_proto::text::error_line;
use palaver_proto::time::Timestamp;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
    EventStream, MouseEvent, MouseEventKind,
};
use tokio::time::{Instant, MissedTickBehavior, interval, timeout};

use crate::app::clock::LocalTime;
use crate::app::command::{Command, PASTE_CONFIRM_ABOVE, paste_commands, pasted_lines};
use crate::app::input::{Action, handle_key, handle_mouse};
use crate::app::state::{AppState, Status};
use crate::app::theme::Theme;
use crate::app::view;
use crate::link::{self, Link, Outcome, Reconnect};
use crate::model::line_text;
use crate::{ClientError, ConnectOptions};

/// How long to wait for the server to close the connection after `QUIT`.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the loop wakes without input: to send a lag probe.
const TICK: Duration = Duration::from_secs(15);

/// The token of our lag probes: `PING palaver-lag-<milliseconds since the loop started>`.
const LAG_TOKEN_PREFIX: &str = "palaver-lag-";

/// How the full screen uses the terminal, beyond the connection's options.
#[derive(Debug, Clone)]
pub struct ScreenOptions {
    /// Take the mouse, so the wheel scrolls. The terminal then selects text only with Shift
    /// held (in most terminals), so it can be turned off (`--no-mouse`).
    pub mouse: bool,
    /// Nicks whose messages are not shown, from the configuration file.
    pub ignore: Vec<String>,
    /// The configuration file, where `/ignore` keeps its list; `None`: nowhere to keep it.
    pub config_path: Option<PathBuf>,
    /// How lines are stamped (strftime's syntax), if not `HH:MM:SS`.
    pub time_format: Option<String>,
    /// The colours to draw with.
    pub theme: Theme,
}

/// Restores the terminal when dropped, whichever way [`run_tui`] ends.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Turning off what was not on is harmless.
        let _ = ratatui::crossterm::execute!(
            std::io::stdout(),
            DisableBracketedPaste,
            DisableMouseCapture
        );
        ratatui::restore();
    }
}

/// Runs the full-screen client until the user quits (Ctrl-C or `/quit`).
pub async fn run_tui(options: ConnectOptions, screen: ScreenOptions) -> Result<(), ClientError> {
    let terminal = ratatui::init();
    let _guard = TerminalGuard;
    // Pasted text arrives as one `Event::Paste`, not as keys (an Enter in it would send).
    let _ = ratatui::crossterm::execute!(std::io::stdout(), EnableBracketedPaste);
    if screen.mouse {
        let _ = ratatui::crossterm::execute!(std::io::stdout(), EnableMouseCapture);
    }
    let mut clock = LocalTime::system();
    if let Some(format) = &screen.time_format {
        clock = clock.with_format(format);
    }
    let mut state = AppState::new(&options.server).with_local_time(clock);
    state.set_ignored(screen.ignore);
    state.theme = screen.theme;
    Tui {
        terminal,
        state,
        config_path: screen.config_path,
        link: Link::new(options.clone(), Reconnect::Always),
        keys: EventStream::new(),
        started: Instant::now(),
        server: options.server,
    }
    .run()
    .await
}

struct Tui {
    terminal: DefaultTerminal,
    state: AppState,
    link: Link,
    keys: EventStream,
    /// The origin of lag-probe tokens.
    started: Instant,
    /// The server as given, for notes.
    server: String,
    /// Where `/ignore` keeps its list.
    config_path: Option<PathBuf>,
}

/// What woke the loop.
enum Wake {
    Key(Option<std::io::Result<Event>>),
    Link(Result<link::Event, ClientError>),
    Tick,
}

/// Whether a mouse event turns the wheel (the only mouse input the client acts on).
fn is_wheel(mouse: &MouseEvent) -> bool {
    matches!(
        mouse.kind,
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown
    )
}

/// Whether to keep going.
enum Flow {
    Continue,
    Quit(Option<String>),
}

impl Tui {
    async fn run(&mut self) -> Result<(), ClientError> {
        let mut tick = interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut draw = true;
        loop {
            if draw {
                self.draw()?;
            }
            draw = true;
            let wake = tokio::select! {
                key = self.keys.next() => Wake::Key(key),
                event = self.link.next_event() => Wake::Link(event),
                _ = tick.tick() => Wake::Tick,
            };
            // With the mouse taken, every move and click is an event: only the wheel does
            // anything, and the rest need not even a redraw.
            if let Wake::Key(Some(Ok(Event::Mouse(mouse)))) = &wake
                && !is_wheel(mouse)
            {
                draw = false;
                continue;
            }
            let flow = match wake {
                Wake::Key(None) => Flow::Quit(None),
                Wake::Key(Some(event)) => {
                    let event = event.map_err(ClientError::Stdin)?;
                    self.on_terminal_event(event)
                }
                Wake::Link(Ok(event)) => {
                    self.on_link_event(event);
                    Flow::Continue
                }
                Wake::Link(Err(error)) => {
                    // Refused before the first registration: the end.
                    let reason = crate::describe(&error);
                    self.state.note(None, &line_text(&error_line(&reason)));
                    self.state.status = Status::Disconnected(reason);
                    return Err(error);
                }
                Wake::Tick => {
                    self.probe_lag();
                    Flow::Continue
                }
            };
            self.send_read_markers();
            if let Flow::Quit(reason) = flow {
                return self.quit(reason).await;
            }
        }
    }

    fn draw(&mut self) -> Result<(), ClientError> {
        let (state, model) = (&self.state, self.link.model());
        self.terminal
            .draw(|frame| view::draw(frame, state, model))
            .map(|_| ())
            .map_err(ClientError::Stdout)
    }

    fn on_terminal_event(&mut self, event: Event) -> Flow {
        if let Event::Paste(text) = &event {
            return self.on_paste(text);
        }
        let action = match event {
            Event::Key(key) => {
                let height = self.terminal.size().map_or(24, |size| size.height);
                let page = view::scrollback_rows(height);
                handle_key(&mut self.state, self.link.model(), key, page)
            }
            Event::Mouse(mouse) => handle_mouse(&mut self.state, mouse),
            // Resizes need only the redraw that follows every event.
            _ => Action::None,
        };
        match action {
            Action::None => Flow::Continue,
            Action::Quit => Flow::Quit(None),
            Action::Redraw => {
                // The next draw paints every cell, whatever the terminal shows now.
                let _ = self.terminal.clear();
                Flow::Continue
            }
            Action::Request(request) => {
                self.link.command(link::Command::Request(request));
                Flow::Continue
            }
            Action::Paste(commands) => self.execute_all(commands),
            Action::Submit(line) => {
                let command = Command::parse(&line, self.state.context());
                if !matches!(command, Command::Quit(_)) {
                    self.state.forget_quit_question();
                }
                self.execute(command)
            }
        }
    }

    /// Pasted text: one line goes into the input line, to be edited and sent with Enter;
    /// several are said in order, once the user confirms when there are more than
    /// [`PASTE_CONFIRM_ABOVE`]. Lines are split at CR, CR LF and LF alike.
    fn on_paste(&mut self, text: &str) -> Flow {
        let lines = pasted_lines(text);
        match lines.as_slice() {
            [] => Flow::Continue,
            [line] => {
                self.state.input.insert_str(line);
                Flow::Continue
            }
            _ => {
                let commands = paste_commands(&lines, self.state.context());
                if commands.len() > PASTE_CONFIRM_ABOVE {
                    self.state.ask_to_send_paste(commands);
                    Flow::Continue
                } else {
                    self.execute_all(commands)
                }
            }
        }
    }

    /// Carries out `commands` in order, up to one that quits.
    fn execute_all(&mut self, commands: Vec<Command>) -> Flow {
        for command in commands {
            if let Flow::Quit(reason) = self.execute(command) {
                return Flow::Quit(reason);
            }
        }
        Flow::Continue
    }

    fn on_link_event(&mut self, event: link::Event) {
        match event {
            link::Event::Connecting => {
                self.state
                    .note(None, &format!("-- connecting to {}", self.server));
                self.state.status = Status::Connecting;
            }
            link::Event::Registering => self.state.status = Status::Registering,
            link::Event::Registered { reconnection, .. } => {
                self.state.status = Status::Connected;
                if reconnection {
                    self.state.note(None, "-- reconnected");
                }
            }
            link::Event::Message(incoming) => {
                self.state
                    .show(self.link.model(), &incoming, Timestamp::now());
                if self.link.has_history()
                    && let Some(request) = self.state.backlog_request(self.link.model(), &incoming)
                {
                    self.link.command(link::Command::Request(request));
                }
            }
            link::Event::Pending(line) => {
                let nick = self.link.model().nick().to_owned();
                self.state.add_pending(&line, &nick);
            }
            link::Event::Settled { line, outcome } => match outcome {
                Outcome::Delivered | Outcome::DeliveredEarlier => {
                    self.state.settle_pending(line.id);
                }
                Outcome::Refused(_) if !self.state.is_pending(line.id) => {}
                Outcome::Refused(_) | Outcome::NotSent => self.state.fail_pending(&line),
            },
            link::Event::Disconnected {
                reason,
                retry_in,
                attempt,
                ..
            } => {
                self.state.note(None, &line_text(&error_line(&reason)));
                self.state.note(
                    None,
                    &format!("-- reconnecting in {} ms", retry_in.as_millis()),
                );
                self.state.status =
                    Status::Disconnected(format!("{reason}; reconnecting (attempt {attempt})"));
                self.state.lag = None;
            }
            link::Event::Pong(token) => {
                if let Some(sent) = token
                    .strip_prefix(LAG_TOKEN_PREFIX)
                    .and_then(|millis| millis.parse::<u64>().ok())
                {
                    let now = self.started.elapsed().as_millis() as u64;
                    self.state.lag = Some(Duration::from_millis(now.saturating_sub(sent)));
                }
            }
            link::Event::Ready | link::Event::JoinRefused { .. } | link::Event::Closed => {}
        }
    }

    fn probe_lag(&mut self) {
        if self.link.is_registered() {
            let token = format!("{LAG_TOKEN_PREFIX}{}", self.started.elapsed().as_millis());
            self.link.command(link::Command::Ping(token));
        }
    }

    /// Tells the server how far the user read the windows just left, when it keeps read
    /// markers (`draft/read-marker`): other clients of the account, and this one after a
    /// restart, place their marker there.
    fn send_read_markers(&mut self) {
        let markers = self.state.take_markers_to_send();
        if !self.link.has_read_markers() {
            return;
        }
        for (target, time) in markers {
            let marker = format!("timestamp={}", time.iso8601());
            let message = Message::new("MARKREAD", vec![target, marker]);
            self.link.command(link::Command::Send(message));
        }
    }

    /// A local `-- …` line in the current window.
    fn note(&mut self, text: &str) {
        self.state.note_current(&format!("-- {text}"));
    }

    /// `/ignore NICK` (or `/unignore NICK`): changes the list shown, and the configuration
    /// file's, so that it lasts.
    fn ignore(&mut self, nick: &str, ignored: bool) {
        let Some(path) = &self.config_path else {
            let nicks = crate::config::with_ignored(self.state.ignored().to_vec(), nick, ignored);
            self.state.set_ignored(nicks);
            self.note(
                "no configuration file to keep it in ($HOME is not set): for this session only",
            );
            return;
        };
        match crate::config::set_ignored(path, nick, ignored) {
            Ok(nicks) => {
                self.state.set_ignored(nicks);
                let what = if ignored {
                    "ignoring"
                } else {
                    "no longer ignoring"
                };
                let text = format!("{what} {nick} (kept in {})", path.display());
                self.note(&text);
            }
            Err(error) => {
                let text = format!("cannot change the ignore list: {error}");
                self.state.note_current(&line_text(&error_line(&text)));
            }
        }
    }

    /// Carries out a typed command.
    fn execute(&mut self, command: Command) -> Flow {
        match &command {
            Command::Nothing => {}
            Command::Invalid(reason) => self.state.note_current(&line_text(&error_line(reason))),
            Command::Quit(reason) => {
                if self.state.quit_by_command() {
                    return Flow::Quit(reason.clone());
                }
            }
            Command::Window(number) => {
                if !self.state.select(number - 1) {
                    let text = format!("there is no window {number}");
                    self.state.note_current(&line_text(&error_line(&text)));
                }
            }
            Command::Close => {
                if let Some(room) = self.state.close_current(self.link.model()) {
                    let part = Message::new("PART", vec![room]);
                    self.link.command(link::Command::Send(part));
                }
            }
            Command::Clear => self.state.clear_current(),
            Command::Help(about) => self.state.show_help(about.as_deref()),
            Command::Ignore(None) => {
                let text = match self.state.ignored() {
                    [] => "nobody is ignored".to_owned(),
                    nicks => format!("ignored: {}", nicks.join(" ")),
                };
                self.note(&text);
            }
            Command::Ignore(Some(nick)) => self.ignore(nick, true),
            Command::Unignore(nick) => self.ignore(nick, false),
            Command::Quote(raw) => match Message::parse(raw) {
                Ok(message) => self.link.command(link::Command::Send(message)),
                Err(_) => {
                    self.state
                        .note_current(&line_text(&error_line("not a valid IRC line")));
                }
            },
            _ => {
                if let Command::Query { nick, .. } = &command {
                    self.state.open_query(nick);
                }
                if let Some(command) = command.to_link_command() {
                    self.link.command(command);
                }
            }
        }
        Flow::Continue
    }

    /// Sends `QUIT` and waits (bounded) for the server to close.
    async fn quit(&mut self, reason: Option<String>) -> Result<(), ClientError> {
        self.state.note(None, "-- quitting");
        self.draw()?;
        self.link.command(link::Command::Quit(reason));
        let closed = async {
            while let Ok(event) = self.link.next_event().await {
                if event == link::Event::Closed {
                    break;
                }
            }
        };
        let _ = timeout(QUIT_TIMEOUT, closed).await;
        Ok(())
    }
}
