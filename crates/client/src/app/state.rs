//! The full-screen client's view state as plain data: windows with their scrollback and unread
//! counts, the input line with its history and nick completion, the lines shown as pending,
//! and the connection's status. No I/O: [`crate::tui`] feeds it the link's events and keys,
//! [`super::view`] draws it.
//!
//! Rooms, topics, members and our nick are the link's [`Model`], passed in where needed and
//! never copied here. Lines are the model's (the text protocol's own rendering); this module
//! only decides which window each belongs to, and adds `-- …`/`! …` lines for replies the
//! model does not show (numerics, errors).
//!
//! Concurrency contract: owned by the one task running the TUI; intentionally not shared.

use std::collections::{HashMap, VecDeque};

use palaver_proto::irc::Message;
use palaver_proto::text::notice_line;
use palaver_proto::time::Timestamp;
use unicode_segmentation::UnicodeSegmentation;

use super::clock::LocalTime;
use super::command::{COMMANDS, CommandHelp, Context, command_help};
use super::question::Question;
use super::theme::Theme;
use crate::link::{Incoming, LineId, SaidLine};
use crate::model::{Model, SCROLLBACK_LINES, is_channel, line_text, refusal, source_nick};

/// Typed lines remembered for up/down.
pub const HISTORY_LINES: usize = 100;

/// How a pending line starts until the link settles it (the view dims it).
pub const PENDING_PREFIX: &str = "… ";
/// How such a line ends until the link settles it.
pub const PENDING_SUFFIX: &str = " (pending)";

/// A message said while disconnected (or before the rooms were rejoined), or whose answer was
/// lost with a connection, shown as waiting until the link settles it: its window and the line
/// shown for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    id: LineId,
    target: String,
    line: String,
}

/// How many of a room's latest messages its window shows on joining.
const BACKLOG_LINES: usize = 50;

/// Older history asked for by scrolling to the top of a room window.
pub const OLDER_HISTORY_LIMIT: usize = 50;

/// Where fetching a room's older history stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Older {
    /// Nothing asked for: reaching the top asks.
    Idle,
    /// `CHATHISTORY BEFORE` sent; its batch has not ended.
    Requested,
    /// The server had nothing older.
    Exhausted,
}

/// A line of older history being collected, with its message's `msgid`.
type OlderLine = (String, Option<String>);

/// What a window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Server messages, numerics without a better home, and local notes.
    Status,
    Room,
    /// A private conversation with one nick.
    Query,
    /// The server's rooms, as the last `/list` gave them, the biggest first.
    List,
}

/// The name of the window `/list` fills; no room or nick can have it.
pub const ROOM_LIST_WINDOW: &str = "(rooms)";

/// One window: a room, a private conversation, or the status window.
#[derive(Debug, Clone)]
pub struct Window {
    pub kind: WindowKind,
    /// The room name or peer nick (`status` for the status window).
    pub name: String,
    /// Rendered lines, oldest first, at most [`SCROLLBACK_LINES`].
    lines: VecDeque<String>,
    /// Messages added while the window was not the current one.
    pub unread: usize,
    /// The highest [`Level`] of the lines added while the window was not the current one;
    /// cleared on switching to it.
    pub activity: Option<Level>,
    /// How many lines the view is scrolled up from the bottom (0: following new lines).
    scroll: usize,
    /// The `msgid` of the oldest message shown, where older history resumes.
    oldest_msgid: Option<String>,
    pub older: Older,
    /// The local day of the last line that arrived, for the line that says the day changed.
    day: Option<jiff::civil::Date>,
    /// How many lines arrived since the user last left the window: the read marker is drawn
    /// above them. `None` until the user first leaves it, or until a line arrives that is newer
    /// than what the server says was read (`read_until`).
    after_marker: Option<usize>,
    /// How far the user has read, as the server's read marker says (`draft/read-marker`):
    /// the marker goes above the first line newer than it.
    read_until: Option<Timestamp>,
    /// When the newest line of the window happened, for the read marker sent on leaving it.
    newest: Option<Timestamp>,
}

impl Window {
    fn new(kind: WindowKind, name: &str) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            lines: VecDeque::new(),
            unread: 0,
            activity: None,
            scroll: 0,
            oldest_msgid: None,
            older: Older::Idle,
            day: None,
            after_marker: None,
            read_until: None,
            newest: None,
        }
    }

    /// How many of the newest lines came after the read marker (0: none, or no marker).
    pub fn after_marker(&self) -> usize {
        self.after_marker.unwrap_or(0)
    }

    pub fn lines(&self) -> &VecDeque<String> {
        &self.lines
    }

    pub fn scroll(&self) -> usize {
        self.scroll
    }

    /// Whether the window is the one for `name` (a room or a nick, in any case).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// For a room window: whether we are in the room (a room window stays open after we leave).
    pub fn is_joined(&self, model: &Model) -> bool {
        self.kind == WindowKind::Room && model.is_in(&self.name)
    }

    fn push(&mut self, line: String) {
        if self.lines.len() == SCROLLBACK_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        if let Some(after) = &mut self.after_marker {
            *after = (*after + 1).min(self.lines.len());
        }
        // Keep a scrolled-up view on the same lines while new ones arrive.
        if self.scroll > 0 {
            self.scroll = (self.scroll + 1).min(self.lines.len().saturating_sub(1));
        }
    }
}

/// How much a line added to a window that is not the current one matters, as irssi's
/// activity levels: the window list shows the highest level a window has had since it was
/// last looked at, and Alt-A goes to the window with the highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Someone joined, left, changed nick; a notice of the server or of this client.
    Event,
    /// Someone said something (counted unread).
    Message,
    /// Someone said our nick or wrote to us privately (counted unread).
    Mention,
}

/// The connection as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Registering,
    Connected,
    /// The connection ended; the text says why.
    Disconnected(String),
}

/// The input line: text and a cursor, counted in characters, edited with the keys of
/// readline and irssi (`input.rs` binds them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputLine {
    text: String,
    /// Cursor position in characters, `0..=text.chars().count()`.
    cursor: usize,
    /// What the last kill (Ctrl-U, Ctrl-K, Ctrl-W, Alt-D) cut, for Ctrl-Y to put back. One
    /// piece, not readline's ring: each kill replaces it.
    killed: String,
}

impl InputLine {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(index, _)| index)
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    pub fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    pub fn insert_str(&mut self, text: &str) {
        for c in text.chars() {
            self.insert(c);
        }
    }

    /// Deletes the grapheme before the cursor (a flag or an emoji sequence whole, as it was
    /// drawn).
    pub fn backspace(&mut self) {
        let start = self.previous_boundary();
        let range = self.byte_at(start)..self.byte_at(self.cursor);
        self.text.replace_range(range, "");
        self.cursor = start;
    }

    /// Deletes the grapheme under the cursor.
    pub fn delete(&mut self) {
        let range = self.byte_at(self.cursor)..self.byte_at(self.next_boundary());
        self.text.replace_range(range, "");
    }

    pub fn left(&mut self) {
        self.cursor = self.previous_boundary();
    }

    pub fn right(&mut self) {
        self.cursor = self.next_boundary();
    }

    /// The cursor position (in characters) at the start of the grapheme before it.
    fn previous_boundary(&self) -> usize {
        let before = &self.text[..self.byte_at(self.cursor)];
        before
            .graphemes(true)
            .next_back()
            .map_or(0, |grapheme| self.cursor - grapheme.chars().count())
    }

    /// The cursor position (in characters) at the end of the grapheme under it.
    fn next_boundary(&self) -> usize {
        let after = &self.text[self.byte_at(self.cursor)..];
        after
            .graphemes(true)
            .next()
            .map_or(self.cursor, |grapheme| {
                self.cursor + grapheme.chars().count()
            })
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.len();
    }

    /// Ctrl-U: cuts everything before the cursor.
    pub fn kill_to_start(&mut self) {
        self.kill(0, self.cursor);
    }

    /// Ctrl-K: cuts everything from the cursor on.
    pub fn kill_to_end(&mut self) {
        self.kill(self.cursor, self.len());
    }

    /// Ctrl-W: cuts the word before the cursor, a word being what lies between spaces (as
    /// readline's `unix-word-rubout`, so `#room,` or a URL goes at once).
    pub fn kill_word_before(&mut self) {
        let chars: Vec<char> = self.text.chars().collect();
        let mut start = self.cursor;
        while start > 0 && chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !chars[start - 1].is_whitespace() {
            start -= 1;
        }
        self.kill(start, self.cursor);
    }

    /// Alt-D: cuts from the cursor to the end of the word after it.
    pub fn kill_word_after(&mut self) {
        let end = self.word_end();
        self.kill(self.cursor, end);
    }

    /// Ctrl-Y: puts back what the last kill cut, at the cursor.
    pub fn yank(&mut self) {
        let killed = self.killed.clone();
        self.insert_str(&killed);
    }

    /// Alt-B, Ctrl-Left: to the start of this word or the one before, a word being letters and
    /// digits (as readline's `backward-word`).
    pub fn word_left(&mut self) {
        let chars: Vec<char> = self.text.chars().collect();
        let mut at = self.cursor;
        while at > 0 && !chars[at - 1].is_alphanumeric() {
            at -= 1;
        }
        while at > 0 && chars[at - 1].is_alphanumeric() {
            at -= 1;
        }
        self.cursor = at;
    }

    /// Alt-F, Ctrl-Right: to the end of this word or the next.
    pub fn word_right(&mut self) {
        self.cursor = self.word_end();
    }

    /// Where [`Self::word_right`] goes: past any non-word characters, then past a word.
    fn word_end(&self) -> usize {
        let chars: Vec<char> = self.text.chars().collect();
        let mut at = self.cursor;
        while at < chars.len() && !chars[at].is_alphanumeric() {
            at += 1;
        }
        while at < chars.len() && chars[at].is_alphanumeric() {
            at += 1;
        }
        at
    }

    /// Cuts the characters `from..to` into the kill buffer, leaving the cursor where they
    /// were. Cutting nothing keeps the last kill, as readline does.
    fn kill(&mut self, from: usize, to: usize) {
        if from >= to {
            return;
        }
        let (start, end) = (self.byte_at(from), self.byte_at(to));
        self.killed = self.text[start..end].to_owned();
        self.text.replace_range(start..end, "");
        self.cursor = from;
    }

    /// Whether the cursor is past the last character (End there jumps to the newest lines).
    pub fn at_end(&self) -> bool {
        self.cursor == self.len()
    }

    fn set(&mut self, text: &str) {
        self.text = text.to_owned();
        self.cursor = self.len();
    }

    fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }
}

/// Nick completion in progress: repeated Tab cycles through `candidates`.
#[derive(Debug, Clone)]
struct Completion {
    /// Where the completed word starts (characters).
    start: usize,
    candidates: Vec<String>,
    index: usize,
    /// The suffix added after the nick (`": "` at the start of the line, else `" "`).
    suffix: &'static str,
}

/// Everything the full-screen client shows and edits.
#[derive(Debug)]
pub struct AppState {
    /// The server as given on the command line.
    pub server: String,
    /// Window 0 is the status window; rooms and queries follow in the order opened.
    windows: Vec<Window>,
    current: usize,
    pub input: InputLine,
    /// Typed lines, oldest first, at most [`HISTORY_LINES`].
    history: Vec<String>,
    /// While browsing history: the entry shown, and the line being typed before browsing.
    history_position: Option<(usize, String)>,
    completion: Option<Completion>,
    pub status: Status,
    /// The round trip of the last lag probe (a `PING` the run loop sends now and then).
    pub lag: Option<std::time::Duration>,
    /// Lines shown as pending, oldest first, until the link settles them.
    pending: Vec<Pending>,
    /// Open `chathistory` batches answering a `CHATHISTORY BEFORE`: reference → the room and
    /// the lines collected so far (inserted above the room's lines when the batch ends).
    older_batches: HashMap<String, (String, Vec<OlderLine>)>,
    /// What the client asked and waits for an answer to (see [`super::question`]).
    pub(super) question: Option<Question>,
    /// The time zone lines are stamped in.
    clock: LocalTime,
    /// Nicks whose messages are not shown (`/ignore`).
    ignored: Vec<String>,
    /// Whether room windows show their member list (F2 toggles it).
    pub show_members: bool,
    /// The rooms a `/list` in progress has named so far: name, members, topic.
    room_list: Option<Vec<(String, usize, String)>>,
    /// The colours to draw with.
    pub theme: Theme,
    /// Read markers to tell the server (`MARKREAD`), for the windows the user left: the
    /// target, and the time of the newest line it saw there.
    markers_to_send: Vec<(String, Timestamp)>,
}

impl AppState {
    pub fn new(server: &str) -> Self {
        Self {
            server: server.to_owned(),
            windows: vec![Window::new(WindowKind::Status, "status")],
            current: 0,
            input: InputLine::default(),
            history: Vec::new(),
            history_position: None,
            completion: None,
            status: Status::Connecting,
            lag: None,
            pending: Vec::new(),
            older_batches: HashMap::new(),
            question: None,
            clock: LocalTime::utc(),
            ignored: Vec::new(),
            show_members: false,
            room_list: None,
            theme: Theme::default(),
            markers_to_send: Vec::new(),
        }
    }

    /// The read markers to send for the windows left since last asked (see
    /// [`Self::select`]); the caller sends them when the server keeps read markers.
    pub fn take_markers_to_send(&mut self) -> Vec<(String, Timestamp)> {
        std::mem::take(&mut self.markers_to_send)
    }

    /// The nicks whose messages (and notices and actions) are not shown, in any case.
    pub fn set_ignored(&mut self, nicks: Vec<String>) {
        self.ignored = nicks;
    }

    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    fn is_ignored(&self, nick: &str) -> bool {
        self.ignored
            .iter()
            .any(|ignored| ignored.eq_ignore_ascii_case(nick))
    }

    /// Shows lines stamped in `clock`'s time zone (UTC until then).
    pub fn with_local_time(mut self, clock: LocalTime) -> Self {
        self.clock = clock;
        self
    }

    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    pub fn current_index(&self) -> usize {
        self.current
    }

    pub fn current(&self) -> &Window {
        &self.windows[self.current]
    }

    /// The current window as the command parser needs it.
    pub fn context(&self) -> Context<'_> {
        let window = self.current();
        match window.kind {
            WindowKind::Status | WindowKind::List => Context::Status,
            WindowKind::Room => Context::Room(&window.name),
            WindowKind::Query => Context::Query(&window.name),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Windows
    // -----------------------------------------------------------------------------------------

    fn find(&self, name: &str) -> Option<usize> {
        self.windows
            .iter()
            .position(|w| w.kind != WindowKind::Status && w.is(name))
    }

    /// The window for `name` (a room or a nick), opened if needed.
    fn open(&mut self, name: &str) -> usize {
        if let Some(index) = self.find(name) {
            return index;
        }
        let kind = if is_channel(name) {
            WindowKind::Room
        } else {
            WindowKind::Query
        };
        self.windows.push(Window::new(kind, name));
        self.windows.len() - 1
    }

    /// Someone we have a private window with changed nick: the window follows them, unless
    /// one with the new nick is open already.
    fn rename_query(&mut self, old: &str, new: &str) {
        if self.find(new).is_some() {
            return;
        }
        if let Some(index) = self.find(old)
            && self.windows[index].kind == WindowKind::Query
        {
            self.windows[index].name = new.to_owned();
        }
    }

    /// Opens (or finds) the query window with `nick` and switches to it.
    pub fn open_query(&mut self, nick: &str) {
        let index = self.open(nick);
        self.select(index);
    }

    /// Switches to window `index` (0-based), if it exists. The window left keeps a read marker
    /// where the user left it, as irssi's trackbar: what arrives meanwhile goes below it.
    pub fn select(&mut self, index: usize) -> bool {
        if index >= self.windows.len() {
            return false;
        }
        if index != self.current {
            let left = &mut self.windows[self.current];
            left.after_marker = Some(0);
            if matches!(left.kind, WindowKind::Room | WindowKind::Query)
                && let Some(newest) = left.newest
                && left.read_until.is_none_or(|read| read < newest)
            {
                left.read_until = Some(newest);
                self.markers_to_send.push((left.name.clone(), newest));
            }
        }
        let window = &mut self.windows[index];
        window.unread = 0;
        window.activity = None;
        self.current = index;
        true
    }

    /// Alt-A: switches to the window with the highest activity, the first after the current
    /// one among equals; stays put when no other window has any.
    pub fn next_active(&mut self) {
        let count = self.windows.len();
        let best = (1..count)
            .map(|offset| (self.current + offset) % count)
            .filter_map(|index| self.windows[index].activity.map(|level| (level, index)))
            // The highest level; among equals the nearest after the current window, which
            // `max_by_key` would not give, so the order is reversed first.
            .rev()
            .max_by_key(|(level, _)| *level);
        if let Some((_, index)) = best {
            self.select(index);
        }
    }

    pub fn next_window(&mut self) {
        self.select((self.current + 1) % self.windows.len());
    }

    pub fn previous_window(&mut self) {
        self.select((self.current + self.windows.len() - 1) % self.windows.len());
    }

    /// Closes the current window (never the status window). Returns the room to part, if
    /// the window was a room we are still in.
    pub fn close_current(&mut self, model: &Model) -> Option<String> {
        if self.current == 0 {
            self.note_current("! the status window cannot be closed");
            return None;
        }
        let window = self.windows.remove(self.current);
        // The window before it is where the user goes; the one closed keeps no marker.
        self.current -= 1;
        self.select(self.current);
        window.is_joined(model).then_some(window.name)
    }

    /// Scrolls the current window up (towards older lines) by `lines`. Reaching the top of a
    /// room window returns the `CHATHISTORY BEFORE` request for older history, once per reach
    /// (not again until its answer came or the view moved down).
    pub fn scroll_up(&mut self, lines: usize) -> Option<Message> {
        let window = &mut self.windows[self.current];
        let top = window.lines.len().saturating_sub(1);
        window.scroll = (window.scroll + lines).min(top);
        if window.kind != WindowKind::Room || window.scroll < top || window.older != Older::Idle {
            return None;
        }
        let msgid = window.oldest_msgid.clone()?;
        window.older = Older::Requested;
        Some(Message::new(
            "CHATHISTORY",
            vec![
                "BEFORE".into(),
                window.name.clone(),
                format!("msgid={msgid}"),
                OLDER_HISTORY_LIMIT.to_string(),
            ],
        ))
    }

    /// Scrolls the current window down (towards newer lines) by `lines`.
    pub fn scroll_down(&mut self, lines: usize) {
        let window = &mut self.windows[self.current];
        window.scroll = window.scroll.saturating_sub(lines);
        // An answer that never came must not block asking again on the next reach of the top.
        if window.older == Older::Requested
            && !self.older_batches.values().any(|(room, _)| window.is(room))
        {
            window.older = Older::Idle;
        }
    }

    /// Back to the newest lines of the current window.
    pub fn scroll_to_bottom(&mut self) {
        self.scroll_down(usize::MAX);
    }

    /// After our own JOIN of a room (not a rejoin), the request for its latest messages, so
    /// that its new window shows what was said before and Page Up works at once; `None` for
    /// anything else, or when the window already has history or asked for it. (The answer is
    /// a `chathistory` batch, put above the window's lines as older history is.)
    pub fn backlog_request(&mut self, model: &Model, incoming: &Incoming) -> Option<Message> {
        let message = &incoming.message;
        if incoming.rejoin || !message.command.eq_ignore_ascii_case("JOIN") {
            return None;
        }
        if !model.is_me(source_nick(message)?) {
            return None;
        }
        let room = message.params.first()?;
        let index = self.find(room)?;
        let window = &mut self.windows[index];
        if window.oldest_msgid.is_some() || window.older != Older::Idle {
            return None;
        }
        window.older = Older::Requested;
        Some(Message::new(
            "CHATHISTORY",
            vec![
                "LATEST".into(),
                room.clone(),
                "*".into(),
                BACKLOG_LINES.to_string(),
            ],
        ))
    }

    /// A batch answering `CHATHISTORY BEFORE` ended: its lines go above the room's, in order.
    fn insert_older(&mut self, room: &str, lines: Vec<OlderLine>) {
        let Some(index) = self.find(room) else { return };
        let window = &mut self.windows[index];
        if lines.is_empty() {
            window.older = Older::Exhausted;
            return;
        }
        window.older = Older::Idle;
        if let Some(msgid) = lines.iter().find_map(|(_, msgid)| msgid.clone()) {
            window.oldest_msgid = Some(msgid);
        }
        for (line, _) in lines.into_iter().rev() {
            if window.lines.len() == SCROLLBACK_LINES {
                break;
            }
            window.lines.push_front(line);
        }
    }

    /// Adds `line` to window `index`, noting its `level` of activity when that window is not
    /// the current one.
    fn add_line(&mut self, index: usize, line: String, level: Level) {
        let current = index == self.current;
        let window = &mut self.windows[index];
        window.push(line);
        if !current {
            if level >= Level::Message {
                window.unread += 1;
            }
            window.activity = window.activity.max(Some(level));
        }
    }

    /// A local `-- …` or `! …` line for the current window (errors from our own commands).
    pub fn note_current(&mut self, text: &str) {
        self.add_line(self.current, text.to_owned(), Level::Event);
    }

    /// `/clear`: forgets the current window's lines; scrolling up does not fetch older
    /// history for it any more (it would show what came before the lines cleared).
    pub fn clear_current(&mut self) {
        let window = &mut self.windows[self.current];
        window.lines.clear();
        window.scroll = 0;
        window.older = Older::Exhausted;
        window.after_marker = window.after_marker.map(|_| 0);
    }

    /// `/help [command]`: the list of commands, or what one does, in the current window.
    pub fn show_help(&mut self, about: Option<&str>) {
        let lines = match about {
            None => {
                let names: Vec<&str> = COMMANDS.iter().map(CommandHelp::name).collect();
                vec![
                    format!("-- commands: {}", names.join(" ")),
                    "-- /help COMMAND explains one; any other /COMMAND goes to the server as typed"
                        .to_owned(),
                ]
            }
            Some(name) => match command_help(name) {
                Some(help) => vec![format!("-- {}: {}", help.usage, help.what)],
                None => {
                    let name = name.trim_start_matches('/');
                    vec![format!(
                        "! /{name} is not a command of this client (/help lists them); \
                         the server may know it"
                    )]
                }
            },
        };
        for line in lines {
            self.note_current(&line);
        }
    }

    /// A local line for the window named `name` if it is open, else the status window.
    pub fn note(&mut self, name: Option<&str>, text: &str) {
        let index = name.and_then(|name| self.find(name)).unwrap_or(0);
        self.add_line(index, text.to_owned(), Level::Event);
    }

    /// Shows `said`, said as `nick` and not answered yet, as a pending line in its window
    /// (the line goes once the link settles it, see [`Self::settle_pending`]).
    pub fn add_pending(&mut self, said: &SaidLine, nick: &str) {
        let shown = match said
            .body
            .strip_prefix("\u{1}ACTION ")
            .and_then(|rest| rest.strip_suffix('\u{1}'))
        {
            Some(action) => format!("* {nick} {action}"),
            None => format!("<{nick}> {}", said.body),
        };
        let line = format!("{PENDING_PREFIX}{} {shown}{PENDING_SUFFIX}", said.target);
        let index = self.open(&said.target);
        self.add_line(index, line.clone(), Level::Event);
        self.pending.push(Pending {
            id: said.id,
            target: said.target.clone(),
            line,
        });
    }

    /// How many lines are shown as pending.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Whether the line `id` is shown as pending.
    pub fn is_pending(&self, id: LineId) -> bool {
        self.pending.iter().any(|pending| pending.id == id)
    }

    /// The line `id` was delivered: its pending line goes (the message itself is shown as it
    /// arrives).
    pub fn settle_pending(&mut self, id: LineId) {
        let Some(position) = self.pending.iter().position(|p| p.id == id) else {
            return;
        };
        let pending = self.pending.remove(position);
        if let Some(index) = self.find(&pending.target) {
            let window = &mut self.windows[index];
            if let Some(at) = window.lines.iter().position(|l| *l == pending.line) {
                window.lines.remove(at);
                window.scroll = window.scroll.min(window.lines.len().saturating_sub(1));
            }
        }
    }

    /// `said` will not be delivered (refused, or its room could not be rejoined): its pending
    /// line becomes `! not sent: …` (or one is added if it was not shown as pending).
    pub fn fail_pending(&mut self, said: &SaidLine) {
        let failed = format!("! not sent: {}", said.body);
        let position = self.pending.iter().position(|p| p.id == said.id);
        let index = self.open(&said.target);
        if let Some(position) = position {
            let pending = self.pending.remove(position);
            let window = &mut self.windows[index];
            if let Some(line) = window.lines.iter_mut().find(|l| **l == pending.line) {
                *line = failed;
                return;
            }
        }
        self.add_line(index, failed, Level::Message);
    }

    // -----------------------------------------------------------------------------------------
    // Messages from the server
    // -----------------------------------------------------------------------------------------

    /// Takes in one message from the link (already applied to `model`): opens the window it
    /// concerns, and adds the line it shows (if any) there. `now` stamps reply lines.
    pub fn show(&mut self, model: &Model, incoming: &Incoming, now: Timestamp) {
        let message = &incoming.message;
        let from = source_nick(message);
        let own = from.is_some_and(|nick| model.is_me(nick));
        let command = message.command.to_ascii_uppercase();
        let params = message.params.as_slice();
        match (command.as_str(), params) {
            ("JOIN", [room, ..]) => {
                let index = self.open(room);
                // A room we join (by command or on connecting) becomes the current window;
                // rejoining after a reconnection leaves the user where they are.
                if own && !incoming.rejoin && index != self.current {
                    self.select(index);
                }
            }
            ("BATCH", [start, kind, room, ..])
                if kind == "chathistory" && start.starts_with('+') =>
            {
                if self
                    .find(room)
                    .is_some_and(|index| self.windows[index].older == Older::Requested)
                {
                    self.older_batches
                        .insert(start[1..].to_owned(), (room.clone(), Vec::new()));
                }
                return;
            }
            ("BATCH", [end, ..]) if end.starts_with('-') => {
                if let Some((room, lines)) = self.older_batches.remove(&end[1..]) {
                    self.insert_older(&room, lines);
                }
                return;
            }
            _ => {}
        }

        if let ("MARKREAD", [target, marker, ..]) = (command.as_str(), params) {
            return self.read_marker(target, marker);
        }
        let msgid = message.tag("msgid").map(str::to_owned);
        if let Some(batch) = message.tag("batch")
            && let Some((_, lines)) = self.older_batches.get_mut(batch)
        {
            if let Some(line) = &incoming.line {
                lines.push((self.clock.restamp(&line.text, line.time), msgid));
            }
            return;
        }
        // Found before a nick change renames it, so the change shows in it.
        let query = from.and_then(|nick| self.find(nick));
        if let (Some(old), "NICK", [new, ..]) = (from, command.as_str(), params)
            && !own
        {
            self.rename_query(old, new);
        }
        let Some(line) = &incoming.line else {
            return self.show_reply(message, now);
        };
        // What an ignored nick says is not shown; what it does (joins, quits) still is.
        if is_said(message) && from.is_some_and(|nick| self.is_ignored(nick)) {
            return;
        }
        let text = self.clock.restamp(&line.text, line.time);
        let level = if own {
            None
        } else if mentions_me(model, message) {
            Some(Level::Mention)
        } else if is_said(message) {
            Some(Level::Message)
        } else {
            Some(Level::Event)
        };
        match &line.buffer {
            Some(buffer) => {
                // A room's window opens when we join it. A line for a room we are no longer
                // in whose window is closed (the echo of the PART that `/close` sent) goes to
                // the status window instead of opening it again.
                let index = match self.find(buffer) {
                    Some(index) => index,
                    None if is_channel(buffer) && !model.is_in(buffer) => 0,
                    None => self.open(buffer),
                };
                self.before_line(index, line.time);
                match level {
                    Some(level) => self.add_line(index, text, level),
                    // What we said ourselves (`/msg` from another window) is not news.
                    None => self.windows[index].push(text),
                }
                let window = &mut self.windows[index];
                if window.oldest_msgid.is_none() && msgid.is_some() {
                    window.oldest_msgid = msgid;
                }
            }
            // A quit or a nick change: the windows of the rooms the nick was in, and of its
            // private conversation.
            None if !line.rooms.is_empty() || query.is_some() => {
                let indices: Vec<usize> = (0..self.windows.len())
                    .filter(|&index| {
                        let window = &self.windows[index];
                        match window.kind {
                            WindowKind::Room => line.rooms.iter().any(|room| window.is(room)),
                            WindowKind::Query => query == Some(index),
                            WindowKind::Status | WindowKind::List => false,
                        }
                    })
                    .collect();
                for index in indices {
                    self.before_line(index, line.time);
                    self.add_line(index, text.clone(), Level::Event);
                }
            }
            None => {
                self.before_line(0, line.time);
                self.add_line(0, text, level.unwrap_or(Level::Event));
            }
        }
    }

    /// Takes the replies to `/list` (`321`, `322`…, `323`) into the room list window, which
    /// opens when the list is complete; `false` for any other message.
    fn collect_room_list(&mut self, message: &Message) -> bool {
        match (message.command.as_str(), message.params.as_slice()) {
            ("321", _) => self.room_list = Some(Vec::new()),
            ("322", [_, room, members, rest @ ..]) => {
                let topic = rest.first().cloned().unwrap_or_default();
                let members = members.parse().unwrap_or(0);
                self.room_list
                    .get_or_insert_default()
                    .push((room.clone(), members, topic));
            }
            ("323", _) => {
                let rooms = self.room_list.take().unwrap_or_default();
                self.show_room_list(rooms);
            }
            _ => return false,
        }
        true
    }

    /// Fills the room list window with `rooms`, the biggest first, and goes to it.
    fn show_room_list(&mut self, mut rooms: Vec<(String, usize, String)>) {
        rooms.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| a.0.to_lowercase().cmp(&b.0.to_lowercase()))
        });
        let index = match self.find(ROOM_LIST_WINDOW) {
            Some(index) => index,
            None => {
                self.windows
                    .push(Window::new(WindowKind::List, ROOM_LIST_WINDOW));
                self.windows.len() - 1
            }
        };
        let name_width = rooms
            .iter()
            .map(|(room, ..)| room.chars().count())
            .max()
            .unwrap_or(0)
            .min(30);
        let window = &mut self.windows[index];
        window.lines.clear();
        window.scroll = 0;
        window.older = Older::Exhausted;
        let count = rooms.len();
        let rooms_word = if count == 1 { "room" } else { "rooms" };
        window.push(format!(
            "-- {count} {rooms_word}, the biggest first (members, topic); /join NAME joins one"
        ));
        for (room, members, topic) in rooms {
            window.push(
                format!("{room:<name_width$} {members:>5}  {topic}")
                    .trim_end()
                    .to_owned(),
            );
        }
        self.select(index);
    }

    /// Before a line that happened at `time` goes into window `index`: places the read marker
    /// above the first line newer than what the server says was read, notes the window's
    /// newest line, and adds a line saying the day changed if the window's last line was on
    /// another day (here, in the user's zone).
    fn before_line(&mut self, index: usize, time: Timestamp) {
        let day = self.clock.day(time);
        let window = &mut self.windows[index];
        if window.after_marker.is_none() && window.read_until.is_some_and(|read| time > read) {
            window.after_marker = Some(0);
        }
        window.newest = window.newest.max(Some(time));
        if window.day.replace(day).is_some_and(|last| last != day) {
            window.push(LocalTime::day_line(day));
        }
    }

    /// `MARKREAD target timestamp=…` from the server (`draft/read-marker`): how far the user
    /// has read `target`, here or on another connection of the account.
    fn read_marker(&mut self, target: &str, marker: &str) {
        let Some(index) = self.find(target) else {
            return;
        };
        let read = marker
            .strip_prefix("timestamp=")
            .and_then(Timestamp::parse_iso8601);
        let window = &mut self.windows[index];
        window.read_until = window.read_until.max(read);
    }

    /// Shows a reply the model has no line for: errors as `! …` in the window they concern,
    /// informational numerics as `-- …`.
    fn show_reply(&mut self, message: &Message, now: Timestamp) {
        if self.collect_room_list(message) {
            return;
        }
        if let Some(refused) = refusal(message) {
            // A refused nick change names the nick asked for, not a conversation: a query
            // window that happens to have that name is not where the user is looking.
            let about_a_conversation = !matches!(refused.code, "431" | "432" | "433" | "436");
            let index = refused
                .subject
                .filter(|_| about_a_conversation)
                .and_then(|subject| self.find(subject))
                .unwrap_or(self.current);
            self.add_line(index, refused.line(), Level::Message);
            return;
        }
        let command = message.command.to_ascii_uppercase();
        let command = command.as_str();
        let params = message.params.as_slice();
        let notice = |parts: &[&str]| {
            self.clock
                .restamp(&line_text(&notice_line(now, parts)), now)
        };
        if let Some(sentence) = super::numerics::sentence(command, &message.params, now) {
            // The server's counts go with its other greetings; the rest answer a command.
            let index = if command.starts_with("25") {
                0
            } else {
                self.current
            };
            self.add_line(index, notice(&[&sentence]), Level::Event);
            return;
        }
        let is_numeric = command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit());
        match (command, params) {
            // Not worth a line: the server's feature list, join bookkeeping, list ends,
            // topic metadata, SASL steps the model already announces, no MOTD.
            ("005" | "333" | "329" | "366" | "315" | "318" | "376" | "903" | "908" | "422", _) => {}
            ("353", [_, _, room, names, ..]) => {
                let line = notice(&["names ", room, ": ", names]);
                let index = self.find(room).unwrap_or(self.current);
                self.add_line(index, line, Level::Event);
            }
            // WHO reply: me channel user host server nick flags :hops realname
            ("352", [_, room, user, host, _, nick, flags, rest, ..]) => {
                let realname = rest.split_once(' ').map_or("", |(_, name)| name);
                let line = notice(&[
                    "who ", room, ": ", nick, " (", user, "@", host, ") ", flags, " ", realname,
                ]);
                self.note_current(&line);
            }
            ("301", [_, nick, text, ..]) => {
                let line = notice(&[nick, " is away: ", text]);
                let index = self.find(nick).unwrap_or(self.current);
                self.add_line(index, line, Level::Event);
            }
            // Registration and MOTD chatter belongs to the status window.
            (
                "001" | "002" | "003" | "004" | "251" | "252" | "253" | "254" | "255" | "265"
                | "266" | "372" | "375",
                [.., text],
            ) => {
                let line = notice(&[text]);
                self.add_line(0, line, Level::Event);
            }
            (_, [_, rest @ ..]) if is_numeric && !rest.is_empty() => {
                let joined = rest.join(" ");
                self.note_current(&notice(&[&joined]));
            }
            _ => {}
        }
    }

    // -----------------------------------------------------------------------------------------
    // Input
    // -----------------------------------------------------------------------------------------

    /// Takes the typed line for execution and remembers it in the history.
    pub fn submit(&mut self) -> String {
        self.completion = None;
        self.history_position = None;
        let line = self.input.take();
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            if self.history.len() == HISTORY_LINES {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        line
    }

    /// Up: the previous history entry.
    pub fn history_up(&mut self) {
        self.completion = None;
        let position = match &self.history_position {
            Some((0, _)) => return,
            Some((position, _)) => position - 1,
            None if self.history.is_empty() => return,
            None => {
                let typed = self.input.text().to_owned();
                self.history_position = Some((self.history.len(), typed));
                self.history.len() - 1
            }
        };
        if let Some((current, _)) = &mut self.history_position {
            *current = position;
        }
        self.input.set(&self.history[position]);
    }

    /// Down: the next history entry, then back to the line being typed.
    pub fn history_down(&mut self) {
        self.completion = None;
        let Some((position, typed)) = self.history_position.take() else {
            return;
        };
        if position + 1 < self.history.len() {
            self.history_position = Some((position + 1, typed));
            self.input.set(&self.history[position + 1]);
        } else {
            self.input.set(&typed);
        }
    }

    /// Any edit other than Tab ends completion (and history browsing keeps the edited text).
    pub fn edited(&mut self) {
        self.completion = None;
        self.history_position = None;
    }

    /// Tab: completes the word before the cursor to a nick in the current window, cycling
    /// through the candidates on repeated Tab.
    pub fn complete(&mut self, model: &Model) {
        if let Some(completion) = &mut self.completion {
            let previous = completion.candidates[completion.index].chars().count()
                + completion.suffix.chars().count();
            completion.index = (completion.index + 1) % completion.candidates.len();
            let replacement = format!(
                "{}{}",
                completion.candidates[completion.index], completion.suffix
            );
            let start = completion.start;
            self.replace_word(start, start + previous, &replacement);
            return;
        }
        let text: Vec<char> = self.input.text().chars().collect();
        let cursor = self.input.cursor();
        let start = text[..cursor]
            .iter()
            .rposition(|c| *c == ' ')
            .map_or(0, |space| space + 1);
        let prefix: String = text[start..cursor]
            .iter()
            .collect::<String>()
            .to_lowercase();
        if prefix.is_empty() {
            return;
        }
        let mut candidates = self.completion_candidates(model, start == 0, &prefix);
        candidates.retain(|word| word.to_lowercase().starts_with(&prefix));
        candidates.sort_by_key(|word| word.to_lowercase());
        candidates.dedup();
        if candidates.is_empty() {
            return;
        }
        // A nick at the start of a line addresses its owner: `alice: `.
        let addressing = start == 0 && !prefix.starts_with(['/', '#']);
        let suffix = if addressing { ": " } else { " " };
        let replacement = format!("{}{suffix}", candidates[0]);
        self.replace_word(start, cursor, &replacement);
        self.completion = Some(Completion {
            start,
            candidates,
            index: 0,
            suffix,
        });
    }

    /// What Tab may complete a word to: a command at the start of the line (`/jo`), a room
    /// we are in (`#ru`), else a nick of the current room or query (not ours).
    fn completion_candidates(&self, model: &Model, line_start: bool, prefix: &str) -> Vec<String> {
        if line_start && prefix.starts_with('/') {
            return COMMANDS
                .iter()
                .map(|command| format!("/{}", command.name()))
                .collect();
        }
        if is_channel(prefix) {
            return model.rooms().iter().map(|room| room.name.clone()).collect();
        }
        let window = self.current();
        let mut nicks = match window.kind {
            WindowKind::Room => model
                .room(&window.name)
                .map(|room| room.members.clone())
                .unwrap_or_default(),
            WindowKind::Query => vec![window.name.clone()],
            WindowKind::Status | WindowKind::List => Vec::new(),
        };
        nicks.retain(|nick| !model.is_me(nick));
        nicks
    }

    /// Replaces characters `start..end` of the input with `text`, leaving the cursor after it.
    fn replace_word(&mut self, start: usize, end: usize, text: &str) {
        self.input.cursor = end;
        while self.input.cursor > start {
            self.input.backspace();
        }
        self.input.insert_str(text);
    }
}

/// Whether `text` names `nick` as a whole word (ASCII case-insensitive): the characters on
/// either side, if any, are not ones a nick or word is made of.
fn mentions(text: &str, nick: &str) -> bool {
    if nick.is_empty() {
        return false;
    }
    let is_word = |c: char| c.is_alphanumeric() || "_-[]\\`^{}|".contains(c);
    let lower = text.to_ascii_lowercase();
    let nick = nick.to_ascii_lowercase();
    lower.match_indices(&nick).any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + nick.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// Whether a message from someone else should flag its window: a private message to us,
/// or text containing our nick.
/// Whether `message` is someone saying something (not the server's notice).
fn is_said(message: &Message) -> bool {
    let command = message.command.to_ascii_uppercase();
    matches!(command.as_str(), "PRIVMSG" | "NOTICE") && source_nick(message).is_some()
}

fn mentions_me(model: &Model, message: &Message) -> bool {
    // The server's own notices (its source is no nick!user@host) are not someone talking to us.
    if source_nick(message).is_none() {
        return false;
    }
    let command = message.command.to_ascii_uppercase();
    match (command.as_str(), message.params.as_slice()) {
        ("PRIVMSG" | "NOTICE", [target, text, ..]) => {
            !is_channel(target) || mentions(text, model.nick())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixture::{Fixture, feed};

    fn state() -> Fixture {
        Fixture::new()
    }

    /// A line said to `target`, as the link numbers it.
    fn said(id: u64, target: &str, body: &str) -> SaidLine {
        SaidLine {
            id: LineId(id),
            target: target.into(),
            body: body.into(),
        }
    }

    /// Whether someone mentioned us in `window` (or wrote to us) since we last looked.
    fn mentioned(window: &Window) -> bool {
        window.activity == Some(Level::Mention)
    }

    fn names(state: &Fixture) -> Vec<&str> {
        state.windows().iter().map(|w| w.name.as_str()).collect()
    }

    fn last_line(state: &Fixture, name: &str) -> String {
        let window = state.windows().iter().find(|w| w.name == name).unwrap();
        window.lines().back().cloned().unwrap_or_default()
    }

    #[test]
    fn joins_open_room_windows_and_messages_land_there() {
        let mut state = state();
        feed(&mut state, ":srv 001 me :Welcome to palaver");
        assert_eq!(
            last_line(&state, "status"),
            "[01:02:03] -- Welcome to palaver"
        );
        feed(&mut state, ":me!~m@h JOIN #ops");
        assert_eq!(names(&state), ["status", "#ops"]);
        assert_eq!(state.current().name, "#ops");
        feed(&mut state, ":alice!~a@h PRIVMSG #ops :hi all");
        assert_eq!(last_line(&state, "#ops"), "[01:02:03] #ops <alice> hi all");
        assert_eq!(
            state.current().unread,
            0,
            "the current window has nothing unread"
        );
    }

    #[test]
    fn private_messages_open_query_windows_with_unread_and_mention() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, ":alice!~a@h PRIVMSG me :psst");
        assert_eq!(names(&state), ["status", "#ops", "alice"]);
        let alice = &state.windows()[2];
        assert_eq!((alice.unread, mentioned(alice)), (1, true));
        assert!(state.select(2));
        assert_eq!(
            (state.current().unread, mentioned(state.current())),
            (0, false)
        );
    }

    #[test]
    fn mentions_flag_room_windows_that_are_not_current() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #a");
        feed(&mut state, ":me!~m@h JOIN #b");
        feed(&mut state, ":bob!~b@h PRIVMSG #a :nothing");
        assert_eq!(
            (state.windows()[1].unread, mentioned(&state.windows()[1])),
            (1, false)
        );
        feed(&mut state, ":bob!~b@h PRIVMSG #a :hey ME, look");
        assert_eq!(
            (state.windows()[1].unread, mentioned(&state.windows()[1])),
            (2, true)
        );
    }

    #[test]
    fn mentions_match_the_nick_as_a_whole_word() {
        assert!(mentions("hey ME, look", "me"));
        assert!(mentions("me: hi", "me"));
        assert!(mentions("ping @me!", "me"));
        assert!(mentions("Me", "me"));
        assert!(!mentions("meet me_ later", "me"));
        assert!(!mentions("some time", "me"));
        assert!(!mentions("anything", ""));
        assert!(mentions("ünïcode me", "me"));
    }

    #[test]
    fn members_follow_names_joins_parts_nicks_and_quits() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, ":srv 353 me = #ops :me @alice +bob");
        assert_eq!(state.members(), ["me", "alice", "bob"]);
        feed(&mut state, ":carol!~c@h JOIN #ops");
        feed(&mut state, ":bob!~b@h PART #ops");
        feed(&mut state, ":alice!~a@h NICK alicia");
        assert_eq!(state.members(), ["me", "carol", "alicia"]);
        assert_eq!(
            last_line(&state, "#ops"),
            "[01:02:03] -- alice is now known as alicia"
        );
        feed(&mut state, ":carol!~c@h QUIT :bye");
        assert_eq!(last_line(&state, "#ops"), "[01:02:03] -- carol left (bye)");
        assert_eq!(state.members(), ["me", "alicia"]);
        feed(&mut state, ":x!~x@h KICK #ops me :out");
        assert!(!state.joined());
    }

    #[test]
    fn errors_go_to_the_window_they_concern() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, ":me!~m@h JOIN #dev");
        feed(&mut state, ":srv 404 me #ops :Cannot send to channel");
        assert_eq!(last_line(&state, "#ops"), "! #ops: Cannot send to channel");
        feed(&mut state, ":srv 421 me FROB :Unknown command");
        assert_eq!(last_line(&state, "#dev"), "! FROB: Unknown command");
        // A refused nick names the nick asked for: it goes where the user is, even when a
        // query window has that name.
        feed(&mut state, ":alice!~a@h PRIVMSG me :hi");
        assert_eq!(state.current().name, "#dev");
        feed(&mut state, ":srv 433 me alice :Nickname is already in use");
        assert_eq!(
            last_line(&state, "#dev"),
            "! alice: Nickname is already in use"
        );
        assert!(last_line(&state, "alice").ends_with("hi"));
    }

    #[test]
    fn lines_said_offline_are_pending_until_their_echo() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        let (first, second) = (said(1, "#ops", "first"), said(2, "#ops", "second"));
        state.add_pending(&first, "me");
        state.add_pending(&second, "me");
        assert_eq!(state.pending_count(), 2);
        assert_eq!(last_line(&state, "#ops"), "… #ops <me> second (pending)");
        // Each echo settles its line (the link matches it by label); the echo replaces the
        // pending line.
        feed(&mut state, ":me!~m@h PRIVMSG #ops :first");
        state.settle_pending(first.id);
        assert_eq!(state.pending_count(), 1);
        let lines: Vec<&str> = state.current().lines().iter().map(String::as_str).collect();
        assert_eq!(
            lines[lines.len() - 2..],
            ["… #ops <me> second (pending)", "[01:02:03] #ops <me> first"]
        );
        // Someone else saying the same text confirms nothing.
        feed(&mut state, ":bob!~b@h PRIVMSG #ops :second");
        assert_eq!(state.pending_count(), 1);
        feed(&mut state, ":me!~m@h PRIVMSG #ops :second");
        state.settle_pending(second.id);
        assert_eq!(state.pending_count(), 0);
        assert!(
            state
                .current()
                .lines()
                .iter()
                .all(|line| !line.ends_with(PENDING_SUFFIX))
        );
    }

    #[test]
    fn refused_rejoins_show_the_room_not_joined_and_its_pending_lines_failed() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        let hello = said(1, "#ops", "hello");
        state.add_pending(&hello, "me");
        // The link reports the refused rejoin: the room leaves the model, the line is not sent.
        state.model.leave("#ops");
        state.fail_pending(&hello);
        assert!(!state.joined());
        assert!(state.model.rooms().is_empty());
        assert_eq!(state.pending_count(), 0);
        assert_eq!(last_line(&state, "#ops"), "! not sent: hello");
        assert!(
            state
                .current()
                .lines()
                .iter()
                .all(|line| !line.ends_with(PENDING_SUFFIX))
        );
    }

    #[test]
    fn reaching_the_top_fetches_older_history_once_and_inserts_it_above() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, "@msgid=m3 :a!~a@h PRIVMSG #ops :three");
        feed(&mut state, "@msgid=m4 :a!~a@h PRIVMSG #ops :four");
        assert_eq!(state.scroll_up(1), None, "not at the top yet");
        let request = state.scroll_up(10).expect("the top asks for older history");
        assert_eq!(request.command, "CHATHISTORY");
        assert_eq!(request.params, ["BEFORE", "#ops", "msgid=m3", "50"]);
        assert_eq!(state.scroll_up(10), None, "once per reach of the top");

        feed(&mut state, ":srv BATCH +h1 chathistory #ops");
        feed(&mut state, "@batch=h1;msgid=m1 :a!~a@h PRIVMSG #ops :one");
        feed(&mut state, "@batch=h1;msgid=m2 :a!~a@h PRIVMSG #ops :two");
        feed(&mut state, ":srv BATCH -h1");
        let texts: Vec<&str> = state
            .current()
            .lines()
            .iter()
            .filter_map(|line| line.strip_prefix("[01:02:03] #ops <a> "))
            .collect();
        assert_eq!(texts, ["one", "two", "three", "four"]);
        assert_eq!(state.current().older, Older::Idle);

        // The new top asks again, from the new oldest message; an empty answer ends it.
        let request = state.scroll_up(10).expect("the new top asks again");
        assert_eq!(request.params[2], "msgid=m1");
        feed(&mut state, ":srv BATCH +h2 chathistory #ops");
        feed(&mut state, ":srv BATCH -h2");
        assert_eq!(state.current().older, Older::Exhausted);
        assert_eq!(state.scroll_up(10), None);
    }

    #[test]
    fn joined_rooms_are_remembered_for_rejoining() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #a");
        feed(&mut state, ":me!~m@h JOIN #b");
        feed(&mut state, ":me!~m@h PART #a");
        // The link rejoins the model's rooms.
        let rooms: Vec<&str> = state
            .model
            .rooms()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(rooms, ["#b"]);
    }

    #[test]
    fn input_line_editing() {
        let mut input = InputLine::default();
        input.insert_str("héllo");
        input.left();
        input.left();
        input.backspace();
        assert_eq!((input.text(), input.cursor()), ("hélo", 2));
        input.delete();
        assert_eq!(input.text(), "héo");
        input.home();
        input.insert('>');
        input.end();
        input.insert('!');
        assert_eq!(input.text(), ">héo!");
        input.home();
        input.right();
        input.right();
        input.kill_to_start();
        assert_eq!((input.text(), input.cursor()), ("éo!", 0));
        input.left();
        input.backspace();
        assert_eq!(input.text(), "éo!");
    }

    #[test]
    fn the_cursor_moves_and_deletes_whole_graphemes() {
        let mut input = InputLine::default();
        // A flag is two characters, a family five (three people joined by two ZWJ), and
        // `e` with a combining accent two: each is one on the screen.
        input.insert_str("a🇫🇷b👨\u{200d}👩\u{200d}👧e\u{301}");
        input.left();
        assert_eq!(input.cursor(), 9, "before the accented e");
        input.left();
        assert_eq!(input.cursor(), 4, "before the family");
        input.backspace();
        assert_eq!(input.text(), "a🇫🇷👨\u{200d}👩\u{200d}👧e\u{301}");
        input.left();
        assert_eq!(input.cursor(), 1, "before the flag");
        input.delete();
        assert_eq!(input.text(), "a👨\u{200d}👩\u{200d}👧e\u{301}");
        input.right();
        input.right();
        assert_eq!(input.cursor(), input.text().chars().count());
        input.backspace();
        assert_eq!(input.text(), "a👨\u{200d}👩\u{200d}👧");
    }

    #[test]
    fn kills_cut_words_and_lines_and_yank_puts_the_last_back() {
        let mut input = InputLine::default();
        input.insert_str("say héllo, wörld 42");
        input.kill_word_before();
        assert_eq!((input.text(), input.cursor()), ("say héllo, wörld ", 17));
        // Ctrl-W takes the spaces before the cursor with the word, as readline does.
        input.kill_word_before();
        assert_eq!(input.text(), "say héllo, ");
        input.yank();
        assert_eq!(input.text(), "say héllo, wörld ");
        input.home();
        input.word_right();
        assert_eq!(input.cursor(), 3, "to the end of `say`");
        input.word_right();
        assert_eq!(input.cursor(), 9, "past the space to the end of `héllo`");
        input.word_left();
        assert_eq!(input.cursor(), 4, "back to the start of `héllo`");
        input.kill_word_after();
        assert_eq!((input.text(), input.cursor()), ("say , wörld ", 4));
        input.kill_to_end();
        assert_eq!(input.text(), "say ");
        assert!(input.at_end());
        // Killing nothing keeps the last kill.
        input.kill_to_end();
        input.yank();
        assert_eq!(input.text(), "say , wörld ");
        input.word_left();
        input.kill_to_start();
        assert_eq!((input.text(), input.cursor()), ("wörld ", 0));
        input.end();
        input.yank();
        assert_eq!(input.text(), "wörld say , ");
    }

    #[test]
    fn history_goes_up_and_back_down_to_the_typed_line() {
        let mut state = state();
        for line in ["one", "two"] {
            state.input.insert_str(line);
            state.submit();
        }
        state.input.insert_str("dra");
        state.history_up();
        assert_eq!(state.input.text(), "two");
        state.history_up();
        state.history_up();
        assert_eq!(state.input.text(), "one");
        state.history_down();
        assert_eq!(state.input.text(), "two");
        state.history_down();
        assert_eq!(state.input.text(), "dra");
    }

    #[test]
    fn tab_completes_and_cycles_room_members() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, ":srv 353 me = #ops :me alice albert bob");
        state.input.insert_str("al");
        state.complete();
        assert_eq!(state.input.text(), "albert: ");
        state.complete();
        assert_eq!(state.input.text(), "alice: ");
        state.complete();
        assert_eq!(state.input.text(), "albert: ");
        state.edited();
        state.input.insert_str("thanks b");
        state.complete();
        assert_eq!(state.input.text(), "albert: thanks bob ");
    }

    #[test]
    fn tab_completes_commands_at_the_start_and_rooms_anywhere() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, ":me!~m@h JOIN #rust");
        state.input.insert_str("/jo");
        state.complete();
        assert_eq!(state.input.text(), "/join ");
        state.edited();
        state.input.insert_str("#r");
        state.complete();
        assert_eq!(state.input.text(), "/join #rust ");
        state.edited();
        state.input.kill_to_start();
        state.input.insert_str("see #");
        state.complete();
        assert_eq!(state.input.text(), "see #ops ");
        state.complete();
        assert_eq!(state.input.text(), "see #rust ");
    }

    #[test]
    fn clear_empties_the_window_and_help_explains_commands() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, ":a!~a@h PRIVMSG #ops :hello");
        state.clear_current();
        assert!(state.current().lines().is_empty());
        assert_eq!(
            state.scroll_up(10),
            None,
            "no older history for a cleared window"
        );
        state.show_help(Some("j"));
        assert_eq!(
            state.current().lines().back().map(String::as_str),
            Some("-- /j room [key]: the same as /join")
        );
        state.show_help(None);
        let lines = state.current().lines();
        assert!(
            lines[1].starts_with("-- commands: away ban clear"),
            "{lines:?}"
        );
        state.show_help(Some("/frob"));
        assert!(
            state
                .current()
                .lines()
                .back()
                .unwrap()
                .starts_with("! /frob is not a command"),
            "{:?}",
            state.current().lines()
        );
    }

    #[test]
    fn a_closed_room_stays_closed_when_our_part_comes_back() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        assert_eq!(state.close_current(), Some("#ops".into()));
        feed(&mut state, ":me!~m@h PART #ops");
        assert_eq!(names(&state), ["status"]);
        // Joining again opens it again.
        feed(&mut state, ":me!~m@h JOIN #ops");
        assert_eq!(names(&state), ["status", "#ops"]);
    }

    #[test]
    fn our_own_lines_and_server_notices_are_not_news() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, ":me!~m@h PRIVMSG bob :see you in #ops");
        let bob = &state.windows()[2];
        assert_eq!(
            (bob.name.as_str(), bob.unread, mentioned(bob)),
            ("bob", 0, false)
        );
        feed(&mut state, ":srv NOTICE me :the server restarts at noon");
        let status = &state.windows()[0];
        assert_eq!(
            (status.unread, status.activity),
            (0, Some(Level::Event)),
            "a server notice is no mention, nor a message"
        );
        feed(&mut state, ":bob!~b@h PRIVMSG me :ok");
        assert!(mentioned(&state.windows()[2]), "a private message is");
    }

    #[test]
    fn joins_and_parts_are_activity_but_not_unread_and_alt_a_goes_to_the_most_active() {
        let mut state = state();
        for room in ["#a", "#b", "#c", "#d"] {
            feed(&mut state, &format!(":me!~m@h JOIN {room}"));
        }
        state.select(0);
        feed(&mut state, ":carol!~c@h JOIN #a");
        feed(&mut state, ":carol!~c@h PRIVMSG #b :hello");
        feed(&mut state, ":carol!~c@h PRIVMSG #c :hello");
        feed(&mut state, ":carol!~c@h PART #d");
        let seen = |state: &Fixture| -> Vec<(usize, Option<Level>)> {
            state.windows()[1..]
                .iter()
                .map(|window| (window.unread, window.activity))
                .collect()
        };
        let (event, message) = (Some(Level::Event), Some(Level::Message));
        assert_eq!(
            seen(&state),
            [(0, event), (1, message), (1, message), (0, event)]
        );
        feed(&mut state, ":carol!~c@h PRIVMSG #d :me: look");
        // Alt-A: the mention first, then messages in window order, then the rest.
        let mut visited = Vec::new();
        for _ in 0..5 {
            state.next_active();
            visited.push(state.current().name.clone());
        }
        assert_eq!(visited, ["#d", "#b", "#c", "#a", "#a"]);
        assert!(
            seen(&state)
                .iter()
                .all(|(unread, activity)| (*unread, *activity) == (0, None))
        );
    }

    #[test]
    fn joining_asks_for_the_room_s_latest_messages_and_shows_them_above() {
        let mut state = state();
        let joined = feed(&mut state, ":me!~m@h JOIN #ops");
        let request = state.state.backlog_request(&state.model, &joined);
        let request = request.expect("a request");
        assert_eq!(request.params, ["LATEST", "#ops", "*", "50"]);
        let again = state.state.backlog_request(&state.model, &joined);
        assert_eq!(again, None, "asked once");
        feed(&mut state, ":srv BATCH +b1 chathistory #ops");
        feed(
            &mut state,
            "@batch=b1;msgid=m1 :alice!~a@h PRIVMSG #ops :earlier",
        );
        feed(
            &mut state,
            "@batch=b1;msgid=m2 :bob!~b@h PRIVMSG #ops :later",
        );
        feed(&mut state, ":srv BATCH -b1");
        let lines: Vec<&String> = state.current().lines().iter().collect();
        assert!(lines[0].ends_with("<alice> earlier"), "{lines:?}");
        assert!(lines[1].ends_with("<bob> later"), "{lines:?}");
        assert!(lines[2].contains("joined #ops"), "{lines:?}");
        // Someone else's join, or a rejoin after a reconnection, asks for nothing.
        let theirs = feed(&mut state, ":carol!~c@h JOIN #ops");
        assert_eq!(state.state.backlog_request(&state.model, &theirs), None);
        let mut rejoin = feed(&mut state, ":me!~m@h JOIN #dev");
        rejoin.rejoin = true;
        assert_eq!(state.state.backlog_request(&state.model, &rejoin), None);
    }

    #[test]
    fn a_query_window_follows_its_peer_s_nick_change() {
        let mut state = state();
        feed(&mut state, ":bob!~b@h PRIVMSG me :hi");
        feed(&mut state, ":bob!~b@h NICK robert");
        assert_eq!(names(&state), ["status", "robert"]);
        assert!(
            last_line(&state, "robert").contains("robert"),
            "the change shows in the window: {:?}",
            last_line(&state, "robert")
        );
        feed(&mut state, ":robert!~b@h PRIVMSG me :still me");
        assert_eq!(names(&state), ["status", "robert"]);
        assert!(last_line(&state, "robert").ends_with("still me"));
    }

    #[test]
    fn the_room_list_opens_in_a_window_of_its_own_biggest_rooms_first() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, ":srv 321 me Channel :Users  Name");
        feed(&mut state, ":srv 322 me #quiet 1 :");
        feed(&mut state, ":srv 322 me #rust 12 :all things Rust");
        feed(&mut state, ":srv 322 me #ops 3 :[+nt] be nice");
        assert_eq!(
            names(&state),
            ["status", "#ops"],
            "nothing until the list ends"
        );
        feed(&mut state, ":srv 323 me :End of /LIST");
        assert_eq!(names(&state), ["status", "#ops", ROOM_LIST_WINDOW]);
        assert_eq!(state.current().kind, WindowKind::List);
        let lines: Vec<&str> = state.current().lines().iter().map(String::as_str).collect();
        assert_eq!(
            lines,
            [
                "-- 3 rooms, the biggest first (members, topic); /join NAME joins one",
                "#rust     12  all things Rust",
                "#ops       3  [+nt] be nice",
                "#quiet     1",
            ]
        );
        assert_eq!(
            state.context(),
            Context::Status,
            "commands from it name their target"
        );
        // Listing again refreshes the same window.
        feed(&mut state, ":srv 321 me Channel :Users  Name");
        feed(&mut state, ":srv 323 me :End of /LIST");
        assert_eq!(names(&state), ["status", "#ops", ROOM_LIST_WINDOW]);
        assert_eq!(state.current().lines().len(), 1);
    }

    #[test]
    fn the_server_s_read_marker_goes_above_the_first_line_not_read() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(
            &mut state,
            ":srv MARKREAD #ops timestamp=2026-11-22T12:00:00.000Z",
        );
        for (time, text) in [("11:00", "read"), ("12:00", "read too"), ("13:00", "new")] {
            feed(
                &mut state,
                &format!("@time=2026-11-22T{time}:00.000Z :alice!~a@h PRIVMSG #ops :{text}"),
            );
        }
        feed(
            &mut state,
            "@time=2026-11-22T13:01:00.000Z :alice!~a@h PRIVMSG #ops :newer",
        );
        assert_eq!(state.current().after_marker(), 2, "the marker above `new`");
        assert!(state.take_markers_to_send().is_empty());
    }

    #[test]
    fn leaving_a_window_tells_how_far_it_was_read_once() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(
            &mut state,
            "@time=2026-11-22T13:00:00.000Z :alice!~a@h PRIVMSG #ops :hello",
        );
        state.select(0);
        let read = Timestamp::parse_iso8601("2026-11-22T13:00:00.000Z").unwrap();
        assert_eq!(state.take_markers_to_send(), [("#ops".to_owned(), read)]);
        state.select(1);
        state.select(0);
        assert!(
            state.take_markers_to_send().is_empty(),
            "nothing new was read"
        );
        // The status window has no marker to tell.
        state.select(1);
        assert!(state.take_markers_to_send().is_empty());
    }

    #[test]
    fn what_an_ignored_nick_says_is_not_shown() {
        let mut state = state();
        state.set_ignored(vec!["Spammer".into()]);
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, ":spammer!~s@h JOIN #ops");
        feed(&mut state, ":spammer!~s@h PRIVMSG #ops :buy now");
        feed(&mut state, ":spammer!~s@h PRIVMSG me :psst");
        feed(&mut state, ":spammer!~s@h NOTICE #ops :really");
        feed(&mut state, ":alice!~a@h PRIVMSG #ops :hello");
        assert_eq!(
            names(&state),
            ["status", "#ops"],
            "no window for its private message"
        );
        let lines: Vec<&str> = state.current().lines().iter().map(String::as_str).collect();
        assert_eq!(
            lines,
            [
                "[01:02:03] -- me joined #ops",
                "[01:02:03] -- spammer joined #ops",
                "[01:02:03] #ops <alice> hello",
            ]
        );
    }

    #[test]
    fn lines_are_stamped_in_local_time_with_a_line_where_the_day_changes() {
        let mut state = state();
        state.state = AppState::new("srv").with_local_time(LocalTime::fixed(1));
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(
            &mut state,
            "@time=2026-11-22T22:30:00.000Z :alice!~a@h PRIVMSG #ops :before midnight",
        );
        feed(
            &mut state,
            "@time=2026-11-22T23:30:00.000Z :alice!~a@h PRIVMSG #ops :after midnight",
        );
        feed(
            &mut state,
            "@time=2026-11-22T23:31:00.000Z :alice!~a@h PRIVMSG #ops :same day",
        );
        let lines: Vec<&str> = state.current().lines().iter().map(String::as_str).collect();
        assert_eq!(
            lines,
            [
                // The join, at the tests' clock: 01:02:03 UTC on 1 January 1970.
                "[02:02:03] -- me joined #ops",
                "-- day changed to Sunday 22 November 2026",
                "[23:30:00] #ops <alice> before midnight",
                "-- day changed to Monday 23 November 2026",
                "[00:30:00] #ops <alice> after midnight",
                "[00:31:00] #ops <alice> same day",
            ]
        );
    }

    #[test]
    fn scrolling_is_bounded_and_close_parts_joined_rooms() {
        let mut state = state();
        feed(&mut state, ":me!~m@h JOIN #ops");
        for i in 0..5 {
            feed(&mut state, &format!(":a!~a@h PRIVMSG #ops :{i}"));
        }
        state.scroll_up(100);
        assert_eq!(state.current().scroll(), 5);
        state.scroll_down(2);
        assert_eq!(state.current().scroll(), 3);
        assert_eq!(state.close_current(), Some("#ops".into()));
        assert_eq!(names(&state), ["status"]);
        assert_eq!(state.close_current(), None);
    }
}
