//! Draws an [`AppState`] and the link's [`Model`] with ratatui: a topic bar on top, the window
//! list on the left, the current window's scrollback, a status bar (server, nick, window,
//! connection state), and the input line at the bottom. Pure: it reads the state and writes a
//! frame.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::state::{AppState, Level, Status, Window, WindowKind};
use super::theme::Theme;
use crate::model::{Model, Room};

/// Width of the window list, border included.
const WINDOW_LIST_WIDTH: u16 = 18;

/// Width of a room's member list (F2), border included.
const MEMBER_LIST_WIDTH: u16 = 16;

/// The longest stamp a line may start with (`[` and `]` excluded): a time format longer than
/// this is not one (`clock.rs` refuses it).
pub const MAX_STAMP_BYTES: usize = 40;

/// Below this many columns the window list and the member list give their room to the
/// scrollback.
const NARROW_WIDTH: u16 = 60;

/// Colours nicks are drawn in; a nick always gets the same one (see [`nick_colour`]).
const NICK_COLOURS: [Color; 12] = [
    Color::Red,
    Color::Green,
    Color::Yellow,
    Color::Blue,
    Color::Magenta,
    Color::Cyan,
    Color::LightRed,
    Color::LightGreen,
    Color::LightYellow,
    Color::LightBlue,
    Color::LightMagenta,
    Color::LightCyan,
];

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, state: &AppState, model: &Model) {
    let [topic, body, status, input] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    // A narrow terminal gives the scrollback all its width: the window list goes, and the
    // status bar names the windows with news instead (as irssi's `Act:`).
    let narrow = frame.area().width < NARROW_WIDTH;
    let list_width = if narrow { 0 } else { WINDOW_LIST_WIDTH };
    let room = model
        .room(&state.current().name)
        .filter(|_| state.current().kind == WindowKind::Room);
    let members_width = match room {
        Some(_) if state.show_members && !narrow => MEMBER_LIST_WIDTH,
        _ => 0,
    };
    let [list, scrollback, members] = Layout::horizontal([
        Constraint::Length(list_width),
        Constraint::Min(1),
        Constraint::Length(members_width),
    ])
    .areas(body);
    let theme = &state.theme;
    draw_topic(frame, topic, state, model);
    if !narrow {
        draw_window_list(frame, list, state, model);
    }
    draw_scrollback(frame, scrollback, state.current(), model.nick(), theme);
    if let Some(room) = room.filter(|_| members_width > 0) {
        draw_member_list(frame, members, room, model, theme);
    }
    draw_status(frame, status, state, model, narrow);
    draw_input(frame, input, state);
}

/// The room's members, highest status first (`@` operators, `+` voiced, …), then by name;
/// those marked away dimmed.
fn draw_member_list(frame: &mut Frame, area: Rect, room: &Room, model: &Model, theme: &Theme) {
    let rank = |nick: &str| match room.prefix(nick) {
        Some(prefix) => "~&@%+".find(prefix).unwrap_or(5),
        None => 5,
    };
    let mut members: Vec<&String> = room.members.iter().collect();
    members.sort_by_cached_key(|nick| (rank(nick), nick.to_lowercase()));
    let width = usize::from(area.width.saturating_sub(1));
    let lines: Vec<Line> = members
        .into_iter()
        .map(|nick| {
            let prefix = room.prefix(nick).unwrap_or(' ');
            let shown = ellipsized(&format!("{prefix}{nick}"), width);
            let style = if model.is_away_nick(nick) {
                Style::new().fg(Color::DarkGray)
            } else {
                theme.nick(nick)
            };
            Line::styled(shown, style)
        })
        .collect();
    let block = Block::new().borders(Borders::LEFT);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// How many scrollback rows the screen of `height` rows shows (for Page Up/Down).
pub fn scrollback_rows(height: u16) -> usize {
    usize::from(height.saturating_sub(3))
}

fn draw_topic(frame: &mut Frame, area: Rect, state: &AppState, model: &Model) {
    let window = state.current();
    let topic = model
        .room(&window.name)
        .map_or("", |room| room.topic.as_str());
    let text = match window.kind {
        WindowKind::Room if !window.is_joined(model) => format!(" {} (not joined)", window.name),
        WindowKind::Room if topic.is_empty() => format!(" {}", window.name),
        WindowKind::Room => format!(" {}: {topic}", window.name),
        WindowKind::Query => format!(" private conversation with {}", window.name),
        WindowKind::Status => format!(" palaver: {}", state.server),
        WindowKind::List => format!(" rooms on {} (/list again to refresh)", state.server),
    };
    frame.render_widget(Paragraph::new(text).style(state.theme.bar()), area);
}

fn draw_window_list(frame: &mut Frame, area: Rect, state: &AppState, model: &Model) {
    let lines: Vec<Line> = state
        .windows()
        .iter()
        .enumerate()
        .map(|(index, window)| {
            let parted = window.kind == WindowKind::Room && !window.is_joined(model);
            let entry = window_entry(index, window, parted);
            entry.line(
                usize::from(list_width(area)),
                index == state.current_index(),
            )
        })
        .collect();
    let block = Block::new().borders(Borders::RIGHT);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The columns the window list's entries may use: its width less the border.
fn list_width(area: Rect) -> u16 {
    area.width.saturating_sub(1)
}

/// One entry of the window list, before it is fitted to the list's width.
struct WindowEntry<'a> {
    number: String,
    name: &'a str,
    /// ` 3` (3 unread), ` !3` (a mention), or nothing.
    marker: String,
    style: Style,
}

/// `2 #ops 3` (3 unread), `3 alice !3` (a mention), `4 #dev` in cyan (joins, parts and
/// the like only); a room we are not in (`parted`) dimmed.
fn window_entry(index: usize, window: &Window, parted: bool) -> WindowEntry<'_> {
    let marker = match (window.activity, window.unread) {
        (Some(Level::Mention), unread) => format!(" !{unread}"),
        (_, 0) => String::new(),
        (_, unread) => format!(" {unread}"),
    };
    let style = match window.activity {
        Some(Level::Mention) => Style::new()
            .fg(Color::LightRed)
            .add_modifier(Modifier::BOLD),
        Some(Level::Message) => Style::new().fg(Color::Yellow),
        Some(Level::Event) => Style::new().fg(Color::Cyan),
        None if parted => Style::new().fg(Color::DarkGray),
        None => Style::new(),
    };
    WindowEntry {
        number: format!("{} ", index + 1),
        name: &window.name,
        marker,
        style,
    }
}

impl WindowEntry<'_> {
    /// The entry in `width` columns: a name too long is cut with `…` so that the number and
    /// the marker always show. The current window's entry is reversed.
    fn line(self, width: usize, current: bool) -> Line<'static> {
        let room = width.saturating_sub(text_width(&self.number) + text_width(&self.marker));
        let name = ellipsized(self.name, room);
        let style = if current {
            self.style.add_modifier(Modifier::REVERSED)
        } else {
            self.style
        };
        Line::styled(format!("{}{name}{}", self.number, self.marker), style)
    }
}

/// `text` if it fits in `width` columns, else as much of it as fits with `…` after it.
fn ellipsized(text: &str, width: usize) -> String {
    if text_width(text) <= width {
        return text.to_owned();
    }
    let mut cut = String::new();
    let mut used = 0;
    for grapheme in text.graphemes(true) {
        let columns = grapheme.width();
        if used + columns + 1 > width {
            break;
        }
        cut.push_str(grapheme);
        used += columns;
    }
    if width > 0 {
        cut.push('…');
    }
    cut
}

fn draw_scrollback(frame: &mut Frame, area: Rect, window: &Window, me: &str, theme: &Theme) {
    let width = usize::from(area.width.max(1));
    let height = usize::from(area.height);
    let end = window.lines().len().saturating_sub(window.scroll());
    // Walk back from the newest visible line, wrapping each, until the area is full.
    let mut rows: Vec<Line> = Vec::new();
    // The read marker goes above the lines that came since the user left the window.
    let marker_at = window.lines().len().saturating_sub(window.after_marker());
    let has_marker = window.after_marker() > 0;
    for (at, line) in window.lines().range(..end).enumerate().rev() {
        let (styled, indent) = styled_line(&as_shown(line, window, me), me, theme);
        let mut wrapped = wrap(styled, width, indent);
        wrapped.reverse();
        rows.extend(wrapped);
        if has_marker && at == marker_at {
            rows.push(Line::styled(
                "─".repeat(width),
                Style::new().fg(theme.marker),
            ));
        }
        if rows.len() >= height {
            break;
        }
    }
    rows.truncate(height);
    rows.reverse();
    // Bottom-align: pad above when there are fewer rows than the area holds.
    let padding = height - rows.len();
    let mut lines = vec![Line::default(); padding];
    lines.extend(rows);
    frame.render_widget(Paragraph::new(lines), area);
    if window.scroll() > 0 {
        let note = format!(" -- {} more below -- ", window.scroll());
        let note_width = u16::try_from(note.len())
            .unwrap_or(area.width)
            .min(area.width);
        // Top right, so the newest visible line stays readable.
        let corner = Rect::new(
            area.right() - note_width,
            area.y,
            note_width,
            1.min(area.height),
        );
        frame.render_widget(Paragraph::new(note).style(theme.bar()), corner);
    }
}

fn draw_status(frame: &mut Frame, area: Rect, state: &AppState, model: &Model, narrow: bool) {
    let bar = state.theme.bar();
    let (link, link_style) = match &state.status {
        Status::Connecting => ("connecting".to_owned(), bar.fg(Color::Yellow)),
        Status::Registering => ("registering".to_owned(), bar.fg(Color::Yellow)),
        Status::Connected => match state.lag {
            Some(lag) => (format!("connected · lag {:.2}s", lag.as_secs_f64()), bar),
            None => ("connected".to_owned(), bar),
        },
        Status::Disconnected(reason) => {
            (format!("disconnected: {reason}"), bar.fg(Color::LightRed))
        }
    };
    let window = state.current();
    // `[me (away)]` while the server has us marked away, as irssi shows it.
    let away = if model.is_away() { " (away)" } else { "" };
    let line = Line::from(vec![
        Span::styled(
            format!(" [{}{away}] ", model.nick()),
            bar.add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!(
                "{} · {}:{} · ",
                state.server,
                state.current_index() + 1,
                window.name
            ),
            bar,
        ),
        Span::styled(link, link_style),
    ]);
    let mut line = line;
    if narrow && let Some(activity) = activity(state) {
        line.spans
            .push(Span::styled(format!(" · act: {activity}"), bar));
    }
    frame.render_widget(Paragraph::new(line).style(bar), area);
}

fn draw_input(frame: &mut Frame, area: Rect, state: &AppState) {
    let prompt = format!("[{}] ", state.current().name);
    let prompt_width = text_width(&prompt);
    let chars: Vec<char> = state.input.text().chars().collect();
    let cursor = state.input.cursor();
    // Scroll the line horizontally so the cursor stays visible.
    let room = usize::from(area.width)
        .saturating_sub(prompt_width + 1)
        .max(1);
    let mut start = 0;
    while text_width(&chars[start..cursor].iter().collect::<String>()) > room {
        start += 1;
    }
    let visible: String = chars[start..].iter().collect();
    let line = Line::from(vec![
        Span::styled(prompt, Style::new().fg(Color::Cyan)),
        Span::raw(visible),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let before_cursor: String = chars[start..cursor].iter().collect();
    let column = prompt_width + text_width(&before_cursor);
    let x = area.x
        + u16::try_from(column)
            .unwrap_or(u16::MAX)
            .min(area.width.saturating_sub(1));
    frame.set_cursor_position(Position::new(x, area.y));
}

/// The windows with news, by number, as the window list would mark them (`!` a mention),
/// for the status bar when the list is hidden.
fn activity(state: &AppState) -> Option<String> {
    let busy: Vec<String> = state
        .windows()
        .iter()
        .enumerate()
        .filter_map(|(index, window)| {
            let number = index + 1;
            match window.activity? {
                Level::Mention => Some(format!("{number}!")),
                _ => Some(number.to_string()),
            }
        })
        .collect();
    (!busy.is_empty()).then(|| busy.join(" "))
}

/// A stable colour for `nick` (FNV-1a of its lowercase form): the same nick always looks the
/// same, across windows and sessions.
pub fn nick_colour(nick: &str) -> Color {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in nick.bytes() {
        hash ^= u32::from(byte.to_ascii_lowercase());
        hash = hash.wrapping_mul(0x0100_0193);
    }
    NICK_COLOURS[hash as usize % NICK_COLOURS.len()]
}

/// A line's stamp (`[…] `, in the format the user chose: see `clock.rs`) and the rest.
fn split_stamp(line: &str) -> Option<(&str, &str)> {
    if !line.starts_with('[') {
        return None;
    }
    let end = line.find("] ").filter(|&end| end <= MAX_STAMP_BYTES)?;
    Some(line.split_at(end + 2))
}

/// How `line` reads in `window`, the irssi way: a room's own window does not repeat the
/// room's name, and a private window reads as a conversation, `<bob> hi` and `<me> hi` (the
/// text protocol writes `*bob* hi` and `-> *bob* hi`, which name the conversation because
/// a text client has one screen for everything).
fn as_shown<'a>(line: &'a str, window: &Window, me: &str) -> Cow<'a, str> {
    let (lead, rest) = if let Some(rest) = line.strip_prefix(super::state::PENDING_PREFIX) {
        (super::state::PENDING_PREFIX, rest)
    } else if let Some(stamped) = split_stamp(line) {
        stamped
    } else {
        return Cow::Borrowed(line);
    };
    let pending = lead == super::state::PENDING_PREFIX;
    // A pending line names its target first, as a room's line names its room.
    if (window.kind == WindowKind::Room || pending)
        && let Some((first, after)) = rest.split_once(' ')
        && window.is(first)
    {
        return Cow::Owned(format!("{lead}{after}"));
    }
    if window.kind != WindowKind::Query {
        return Cow::Borrowed(line);
    }
    let (said, by_me) = match rest.strip_prefix("-> ") {
        Some(said) => (said, true),
        None => (rest, false),
    };
    let Some((peer, text)) = said
        .strip_prefix('*')
        .and_then(|said| said.split_once("* "))
        .filter(|(peer, _)| window.is(peer))
    else {
        return Cow::Borrowed(line);
    };
    // An action (`* bob waves`) or a notice (`-bob- …`) already names who.
    let first = text.split(' ').next().unwrap_or_default();
    let names_speaker =
        first == "*" || (first.len() > 2 && first.starts_with('-') && first.ends_with('-'));
    if names_speaker {
        return Cow::Owned(format!("{lead}{text}"));
    }
    let speaker = if by_me { me } else { peer };
    Cow::Owned(format!("{lead}<{speaker}> {text}"))
}

/// Styles a text-protocol line: a dim timestamp, `-- …` notices dim, `! …` errors red, the
/// speaker's nick (`<nick>`, `-nick-`, `* nick`) in its colour, and `me` where the text names
/// it, highlighted. Also returns the column where what was said starts, which wrapped rows
/// are indented to (0 for a line without a speaker).
fn styled_line(text: &str, me: &str, theme: &Theme) -> (Line<'static>, usize) {
    if text.starts_with(super::state::PENDING_PREFIX) {
        return (
            Line::styled(text.to_owned(), Style::new().fg(Color::DarkGray)),
            0,
        );
    }
    let mut spans = Vec::new();
    let mut rest = text;
    if let Some((stamp, after)) = split_stamp(rest) {
        spans.push(Span::styled(stamp.to_owned(), Style::new().fg(theme.stamp)));
        rest = after;
    }
    if rest.starts_with("-- ") {
        spans.push(Span::styled(rest.to_owned(), Style::new().fg(theme.notice)));
        return (Line::from(spans), 0);
    }
    if rest.starts_with("! ") {
        spans.push(Span::styled(rest.to_owned(), Style::new().fg(theme.error)));
        return (Line::from(spans), 0);
    }
    // The speaker is one of the first few words: after `#room`, `*peer*` or `-> *peer*`.
    let mut offset = 0;
    for word in rest.split(' ').take(4) {
        let nick = match word.as_bytes() {
            [b'<', .., b'>'] | [b'-', .., b'-'] if word.len() > 2 => Some(&word[1..word.len() - 1]),
            _ => None,
        };
        let (before, nick, said) = if nick.is_some() {
            (&rest[..offset], word, &rest[offset + word.len()..])
        } else if word == "*" {
            // `* nick waves`: the nick after the star.
            let after = &rest[offset + 2..];
            let nick = after.split(' ').next().unwrap_or_default();
            (&rest[..offset + 2], nick, &after[nick.len()..])
        } else {
            offset += word.len() + 1;
            continue;
        };
        spans.push(Span::raw(before.to_owned()));
        let bare = nick.trim_matches(['<', '>', '-']);
        spans.push(Span::styled(nick.to_owned(), theme.nick(bare)));
        let indent = text_width(text) - text_width(said) + 1;
        spans.extend(highlighted(said, me, theme.mention()));
        return (Line::from(spans), indent);
    }
    spans.push(Span::raw(rest.to_owned()));
    (Line::from(spans), 0)
}

/// `text` as spans, with every whole-word mention of `nick` (in any case) in `mention`'s
/// style.
fn highlighted(text: &str, nick: &str, mention: Style) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut plain = 0;
    if !nick.is_empty() {
        let lower = text.to_lowercase();
        let wanted = nick.to_lowercase();
        // Lowercasing keeps ASCII offsets; a text where it does not is left unhighlighted.
        if lower.len() == text.len() {
            // Nick characters, and `#`: `#me` is a room, not a mention.
            let is_word_char = |c: char| c.is_alphanumeric() || "_-[]\\`^{}|#".contains(c);
            let mut from = 0;
            while let Some(found) = lower[from..].find(&wanted) {
                let start = from + found;
                let end = start + wanted.len();
                let bounded_before = !text[..start].chars().next_back().is_some_and(is_word_char);
                let bounded_after = !text[end..].chars().next().is_some_and(is_word_char);
                if bounded_before && bounded_after {
                    spans.push(Span::raw(text[plain..start].to_owned()));
                    spans.push(Span::styled(text[start..end].to_owned(), mention));
                    plain = end;
                }
                from = end;
            }
        }
    }
    spans.push(Span::raw(text[plain..].to_owned()));
    spans
}

/// What a terminal draws in one go: a grapheme (a character with its combining marks, a flag,
/// an emoji sequence), its style, and how many columns it takes.
type Cell<'a> = (&'a str, Style, usize);

/// Breaks a styled line into rows of at most `width` columns: at the last space that fits,
/// or within a word longer than a row, never inside a grapheme. Rows after the first start
/// `indent` columns in (where what was said starts), unless that leaves too little room to
/// read.
fn wrap(line: Line<'static>, width: usize, indent: usize) -> Vec<Line<'static>> {
    let indent = if indent * 2 > width { 0 } else { indent };
    let cells: Vec<Cell> = line
        .spans
        .iter()
        .flat_map(|span| {
            span.content
                .graphemes(true)
                .map(move |grapheme| (grapheme, span.style, grapheme.width()))
        })
        .collect();
    let mut rows = Vec::new();
    let mut start = 0;
    while start < cells.len() {
        let room = if rows.is_empty() {
            width
        } else {
            width - indent
        };
        let mut used = 0;
        let mut end = start;
        while end < cells.len() && (used + cells[end].2 <= room || end == start) {
            used += cells[end].2;
            end += 1;
        }
        let mut next = end;
        if end < cells.len() {
            // Break after the last space of the row, if the row has one past its start.
            if cells[end].0 == " " {
                next = end + 1;
            } else if let Some(space) = (start + 1..end).rev().find(|&at| cells[at].0 == " ") {
                end = space;
                next = space + 1;
            }
        }
        let mut row = Line::default();
        if !rows.is_empty() && indent > 0 {
            row.spans.push(Span::raw(" ".repeat(indent)));
        }
        row.spans.extend(spans_of(&cells[start..end]));
        rows.push(row);
        start = next;
    }
    if rows.is_empty() {
        rows.push(Line::default());
    }
    rows
}

/// Cells back into spans, one per run of the same style.
fn spans_of(cells: &[Cell]) -> Vec<Span<'static>> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    for &(grapheme, style, _) in cells {
        match spans.last_mut() {
            Some(last) if last.style == style => last.content.to_mut().push_str(grapheme),
            _ => spans.push(Span::styled(grapheme.to_owned(), style)),
        }
    }
    spans
}

/// How many columns `text` takes.
fn text_width(text: &str) -> usize {
    text.width()
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;

    use super::*;
    use crate::app::fixture::{Fixture, feed};

    fn render(state: &Fixture, width: u16, height: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| draw(frame, &state.state, &state.model))
            .unwrap();
        terminal.backend().buffer().clone()
    }

    /// Row `y` of the buffer as text, trailing spaces removed.
    fn row(buffer: &Buffer, y: u16) -> String {
        let width = buffer.area.width;
        (0..width)
            .map(|x| buffer[(x, y)].symbol())
            .collect::<String>()
            .trim_end()
            .to_owned()
    }

    /// Rows `rows` of the scrollback, right of the window list, as text.
    fn scrollback(buffer: &Buffer, rows: std::ops::Range<u16>) -> Vec<String> {
        rows.map(|y| {
            let row = row(buffer, y);
            let border = row.find('│').expect("the window list's border");
            row[border + '│'.len_utf8()..].to_owned()
        })
        .collect()
    }

    fn sample() -> Fixture {
        let mut state = Fixture::new();
        state.status = Status::Connected;
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, ":srv 332 me #ops :be nice");
        feed(&mut state, ":alice!~a@h PRIVMSG #ops :hello there");
        feed(&mut state, ":me!~m@h JOIN #dev");
        feed(&mut state, ":bob!~b@h PRIVMSG #ops :ping me");
        feed(&mut state, ":bob!~b@h PRIVMSG me :psst");
        state.select(1);
        state
    }

    #[test]
    fn screen_shows_topic_windows_scrollback_status_and_input() {
        let mut state = sample();
        state.input.insert_str("typing");
        let buffer = render(&state, 60, 10);
        assert_eq!(row(&buffer, 0), " #ops: be nice");
        assert!(
            row(&buffer, 1).starts_with("1 status"),
            "{:?}",
            row(&buffer, 1)
        );
        assert!(row(&buffer, 2).starts_with("2 #ops"));
        assert!(row(&buffer, 3).starts_with("3 #dev"));
        // bob's private message: unread and a mention.
        assert!(
            row(&buffer, 4).starts_with("4 bob !1"),
            "{:?}",
            row(&buffer, 4)
        );
        // The newest line is at the bottom of the scrollback.
        assert!(
            row(&buffer, 7).ends_with("│[01:02:03] <bob> ping me"),
            "{:?}",
            row(&buffer, 7)
        );
        assert_eq!(row(&buffer, 8), " [me] 127.0.0.1:6667 · 2:#ops · connected");
        assert_eq!(row(&buffer, 9), "[#ops] typing");
        // The current window's entry is reversed, the mention red.
        assert!(buffer[(0, 2)].modifier.contains(Modifier::REVERSED));
        assert_eq!(buffer[(0, 4)].fg, Color::LightRed);
    }

    #[test]
    fn long_window_names_are_cut_with_an_ellipsis_and_keep_their_markers() {
        let mut state = sample();
        feed(&mut state, ":me!~m@h JOIN #a-room-with-a-very-long-name");
        state.select(1);
        feed(
            &mut state,
            ":carol!~c@h PRIVMSG #a-room-with-a-very-long-name :hi",
        );
        let buffer = render(&state, 60, 10);
        let entry = row(&buffer, 5);
        let entry = entry[..entry.find('│').expect("the list's border")].trim_end();
        assert_eq!(entry, "5 #a-room-with… 1", "17 columns: the name cut to 13");
        assert_eq!(ellipsized("#ops", 4), "#ops");
        assert_eq!(ellipsized("#ops", 3), "#o…");
        assert_eq!(ellipsized("日本語", 5), "日本…");
        assert_eq!(ellipsized("#ops", 0), "");
    }

    #[test]
    fn the_status_bar_shows_when_we_are_away() {
        let mut state = sample();
        feed(
            &mut state,
            ":srv 306 me :You have been marked as being away",
        );
        let buffer = render(&state, 60, 10);
        assert!(
            row(&buffer, 8).starts_with(" [me (away)] "),
            "{:?}",
            row(&buffer, 8)
        );
        feed(
            &mut state,
            ":srv 305 me :You are no longer marked as being away",
        );
        let buffer = render(&state, 60, 10);
        assert!(
            row(&buffer, 8).starts_with(" [me] "),
            "{:?}",
            row(&buffer, 8)
        );
    }

    #[test]
    fn nicks_have_stable_colours() {
        assert_eq!(nick_colour("alice"), nick_colour("ALICE"));
        let state = sample();
        let buffer = render(&state, 60, 10);
        // `<bob>` starts after the list (18) and the stamp (11).
        let x = WINDOW_LIST_WIDTH + 11;
        assert_eq!(buffer[(x, 7)].symbol(), "<");
        assert_eq!(buffer[(x, 7)].fg, nick_colour("bob"));
    }

    #[test]
    fn long_lines_wrap_at_words_under_where_the_text_starts() {
        let mut state = sample();
        feed(
            &mut state,
            ":alice!~a@h PRIVMSG #ops :one two three four five six seven eight nine ten",
        );
        let buffer = render(&state, 60, 10);
        // 42 columns of scrollback; what alice said starts at column 19, after
        // `[01:02:03] <alice> `, and so do the rows it wraps into.
        assert_eq!(
            scrollback(&buffer, 5..8),
            [
                "[01:02:03] <alice> one two three four five",
                "                   six seven eight nine",
                "                   ten",
            ]
        );
        // A word longer than a row is cut where the row ends.
        let long = "x".repeat(30);
        feed(&mut state, &format!(":alice!~a@h PRIVMSG #ops :{long}"));
        let buffer = render(&state, 60, 10);
        assert_eq!(row(&buffer, 6).chars().filter(|c| *c == 'x').count(), 23);
        assert_eq!(row(&buffer, 7).chars().filter(|c| *c == 'x').count(), 7);
    }

    #[test]
    fn flags_and_emoji_sequences_are_never_cut() {
        let mut state = sample();
        let flags = "🇫🇷".repeat(20);
        feed(&mut state, &format!(":alice!~a@h PRIVMSG #ops :{flags}"));
        let buffer = render(&state, 60, 10);
        // 42 columns: 19 for `[01:02:03] <alice> `, then 11 flags of 2 columns; the rest,
        // indented, below.
        let rows = scrollback(&buffer, 6..8);
        assert_eq!(rows[0].matches("🇫🇷").count(), 11, "{rows:?}");
        assert_eq!(rows[1].matches("🇫🇷").count(), 9, "{rows:?}");
        for row in &rows {
            // Never half a flag: as many French regional indicators F as R.
            assert_eq!(
                row.matches('\u{1F1EB}').count(),
                row.matches('\u{1F1F7}').count()
            );
        }
        // A family (three people joined by ZWJ) takes two columns, as the terminal draws it.
        let families = "👨\u{200d}👩\u{200d}👧".repeat(12);
        let cut = wrap(Line::raw(families.clone()), 10, 0);
        assert_eq!(cut.len(), 3);
        assert_eq!(cut[0].to_string(), "👨\u{200d}👩\u{200d}👧".repeat(5));
        assert_eq!(text_width(&families), 24);
    }

    #[test]
    fn a_read_marker_shows_where_the_user_left_a_window() {
        let mut state = sample();
        // In #ops (window 2): the user left it for #dev before bob's line, then came back.
        let buffer = render(&state, 60, 10);
        assert_eq!(
            scrollback(&buffer, 5..8),
            [
                "[01:02:03] <alice> hello there".to_owned(),
                "─".repeat(42),
                "[01:02:03] <bob> ping me".to_owned(),
            ]
        );
        assert_eq!(buffer[(WINDOW_LIST_WIDTH, 6)].fg, Color::DarkGray);
        // Leaving again moves it to the bottom: nothing new, no marker.
        state.select(2);
        state.select(1);
        let buffer = render(&state, 60, 10);
        assert!(
            !scrollback(&buffer, 1..8)
                .iter()
                .any(|row| row.contains('─'))
        );
        // What comes while the user is away goes below it.
        state.select(2);
        feed(&mut state, ":carol!~c@h PRIVMSG #ops :one");
        feed(&mut state, ":carol!~c@h PRIVMSG #ops :two");
        state.select(1);
        let buffer = render(&state, 60, 10);
        assert_eq!(
            scrollback(&buffer, 4..8),
            [
                "[01:02:03] <bob> ping me".to_owned(),
                "─".repeat(42),
                "[01:02:03] <carol> one".to_owned(),
                "[01:02:03] <carol> two".to_owned(),
            ]
        );
    }

    #[test]
    fn f2_shows_a_room_s_members_by_rank_with_the_away_dimmed() {
        let mut state = sample();
        feed(&mut state, ":srv 353 me = #ops :+zed alice @bob me");
        feed(&mut state, ":alice!~a@h AWAY :lunch");
        let buffer = render(&state, 80, 10);
        assert!(!row(&buffer, 1).contains("bob"), "hidden until asked for");
        state.show_members = true;
        let buffer = render(&state, 80, 10);
        // The last 16 columns: a border, then the members.
        let members: Vec<String> = (1..6)
            .map(|y| row(&buffer, y).chars().skip(65).collect::<String>())
            .collect();
        assert_eq!(members, ["@bob", "+zed", " alice", " me", ""]);
        assert_eq!(buffer[(66, 3)].fg, Color::DarkGray, "alice is away");
        assert_eq!(buffer[(66, 1)].fg, nick_colour("bob"));
        // Not in a private window.
        state.select(3);
        let buffer = render(&state, 80, 10);
        assert!(!row(&buffer, 1).contains("@bob"));
    }

    #[test]
    fn a_narrow_screen_hides_the_lists_and_names_the_busy_windows_in_the_status_bar() {
        let mut state = sample();
        state.show_members = true;
        let buffer = render(&state, 56, 10);
        assert_eq!(
            row(&buffer, 7),
            "[01:02:03] <bob> ping me",
            "no window list"
        );
        assert!(
            row(&buffer, 8).ends_with("· act: 4!"),
            "bob's private message: {:?}",
            row(&buffer, 8)
        );
    }

    #[test]
    fn a_stamp_in_the_user_s_format_is_still_a_stamp() {
        use crate::app::clock::LocalTime;
        let mut state = Fixture::new();
        state.state =
            AppState::new("srv").with_local_time(LocalTime::utc().with_format("%-I:%M %p"));
        feed(&mut state, ":me!~m@h JOIN #ops");
        feed(&mut state, ":bob!~b@h PRIVMSG #ops :hello");
        let buffer = render(&state, 60, 10);
        assert_eq!(scrollback(&buffer, 7..8), ["[1:02 AM] <bob> hello"]);
        // The nick after the stamp is coloured, the stamp dimmed.
        assert_eq!(buffer[(WINDOW_LIST_WIDTH + 10, 7)].fg, nick_colour("bob"));
        assert_eq!(buffer[(WINDOW_LIST_WIDTH, 7)].fg, Color::DarkGray);
    }

    #[test]
    fn the_theme_s_colours_are_the_ones_drawn() {
        let mut state = sample();
        state.theme.mention = Color::LightMagenta;
        state.theme.stamp = Color::Indexed(244);
        state.theme.bar = Color::Red;
        state.theme.nicks = false;
        let buffer = render(&state, 60, 10);
        let x = WINDOW_LIST_WIDTH;
        assert_eq!(buffer[(x, 7)].fg, Color::Indexed(244), "the stamp");
        assert_eq!(buffer[(x + 11, 7)].fg, Color::Reset, "<bob> uncoloured");
        assert_eq!(buffer[(x + 22, 7)].fg, Color::LightMagenta, "the mention");
        assert_eq!(buffer[(0, 8)].bg, Color::Red, "the status bar");
        assert_eq!(buffer[(0, 0)].bg, Color::Red, "the topic bar");
    }

    #[test]
    fn scrolling_shows_older_lines() {
        let mut state = sample();
        feed(&mut state, ":alice!~a@h PRIVMSG #ops :newer");
        state.scroll_up(1);
        let buffer = render(&state, 60, 10);
        assert!(
            row(&buffer, 7).contains("<bob> ping me"),
            "{:?}",
            row(&buffer, 7)
        );
        assert!(
            row(&buffer, 1).ends_with(" -- 1 more below --"),
            "{:?}",
            row(&buffer, 1)
        );
    }

    #[test]
    fn a_private_window_reads_as_a_conversation() {
        let mut state = sample();
        feed(&mut state, ":me!~m@h PRIVMSG bob :what is it");
        feed(&mut state, ":bob!~b@h PRIVMSG me :\u{1}ACTION waves\u{1}");
        feed(&mut state, ":bob!~b@h NOTICE me :a notice");
        // Windows: status, #ops, #dev, bob.
        state.select(3);
        let buffer = render(&state, 60, 10);
        assert_eq!(
            scrollback(&buffer, 4..8),
            [
                "[01:02:03] <bob> psst",
                "[01:02:03] <me> what is it",
                "[01:02:03] * bob waves",
                "[01:02:03] -bob- a notice",
            ]
        );
    }

    #[test]
    fn mentions_of_the_user_s_nick_stand_out() {
        let state = sample();
        let buffer = render(&state, 60, 10);
        // `[01:02:03] <bob> ping me`: `me` at column 22 of the scrollback, `ping` plain.
        let x = WINDOW_LIST_WIDTH + 22;
        assert_eq!(buffer[(x, 7)].symbol(), "m");
        assert_eq!(buffer[(x, 7)].fg, Color::Yellow);
        assert_eq!(buffer[(x - 5, 7)].fg, Color::Reset);
        // Only whole words: `meet` and `#me` are no mention.
        let mention = Theme::default().mention();
        let spans = highlighted("meet me at #me, me!", "Me", mention);
        let marked: Vec<&str> = spans
            .iter()
            .filter(|span| span.style == mention)
            .map(|span| span.content.as_ref())
            .collect();
        assert_eq!(marked, ["me", "me"]);
    }

    #[test]
    fn disconnection_shows_in_the_status_bar() {
        let mut state = sample();
        state.status = Status::Disconnected("the server closed the connection".into());
        let buffer = render(&state, 80, 10);
        assert!(row(&buffer, 8).ends_with("disconnected: the server closed the connection"));
    }
}
