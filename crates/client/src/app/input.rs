//! Keys to actions: edits are applied to the [`AppState`] here; what needs the connection or
//! ends the program is returned as an [`Action`] for [`crate::tui`].

use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind,
};

use super::command::Command;
use super::question::Question;
use super::state::AppState;
use crate::model::Model;

/// What a key asks of the run loop beyond editing the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing more to do (the state may have changed).
    None,
    /// Enter: carry out this typed line.
    Submit(String),
    /// Ctrl-C: quit now (asked first when something typed would be lost).
    Quit,
    /// Enter, while a paste waits to be confirmed: say these, in order.
    Paste(Vec<Command>),
    /// Send this request (older history, on reaching the top of a room window).
    Request(palaver_proto::irc::Message),
    /// Ctrl-L: clear the terminal and draw everything again (after another program wrote
    /// over the screen).
    Redraw,
}

/// How many lines one turn of the mouse wheel scrolls.
const WHEEL_LINES: usize = 3;

/// Applies a mouse event to `state`: the wheel scrolls the current window.
pub fn handle_mouse(state: &mut AppState, mouse: MouseEvent) -> Action {
    match mouse.kind {
        MouseEventKind::ScrollUp => match state.scroll_up(WHEEL_LINES) {
            Some(request) => Action::Request(request),
            None => Action::None,
        },
        MouseEventKind::ScrollDown => {
            state.scroll_down(WHEEL_LINES);
            Action::None
        }
        _ => Action::None,
    }
}

/// Applies `key` to `state` (`model` has the room members Tab completes). `page` is how many
/// lines Page Up/Down scroll.
pub fn handle_key(state: &mut AppState, model: &Model, key: KeyEvent, page: usize) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::None;
    }
    let control = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let ctrl_c = control && key.code == KeyCode::Char('c');
    if matches!(state.question(), Some(Question::Paste(_))) {
        // A held paste takes the next key as its answer; other keys wait.
        match key.code {
            KeyCode::Enter => return Action::Paste(state.take_paste()),
            KeyCode::Esc => state.cancel_paste(),
            _ if ctrl_c => state.cancel_paste(),
            _ => {}
        }
        return Action::None;
    }
    if !ctrl_c {
        state.forget_quit_question();
    }
    if key.code != KeyCode::Tab {
        state.edited_unless_navigation(key.code);
    }
    match key.code {
        // When quitting would lose something, the first Ctrl-C only asks (and is otherwise
        // ignored, like any Ctrl key without a binding).
        KeyCode::Char('c') if control && state.quit_by_key() => return Action::Quit,
        KeyCode::Char('l') if control => return Action::Redraw,
        KeyCode::Char('u') if control => state.input.kill_to_start(),
        KeyCode::Char('k') if control => state.input.kill_to_end(),
        KeyCode::Char('w') if control => state.input.kill_word_before(),
        KeyCode::Char('y') if control => state.input.yank(),
        KeyCode::Char('a') if control => state.input.home(),
        KeyCode::Char('e') if control => state.input.end(),
        KeyCode::Char('n') if control => state.next_window(),
        KeyCode::Char('p') if control => state.previous_window(),
        KeyCode::Char(digit @ '1'..='9') if alt => {
            state.select(digit as usize - '1' as usize);
        }
        KeyCode::Char('0') if alt => {
            state.select(9);
        }
        KeyCode::Char('a') if alt => state.next_active(),
        KeyCode::Char('b') if alt => state.input.word_left(),
        KeyCode::Char('f') if alt => state.input.word_right(),
        KeyCode::Char('d') if alt => state.input.kill_word_after(),
        KeyCode::Char(c) if !control && !alt => state.input.insert(c),
        KeyCode::Backspace if alt || control => state.input.kill_word_before(),
        KeyCode::Backspace => state.input.backspace(),
        KeyCode::Delete => state.input.delete(),
        // irssi's keys: Alt-arrows change windows, Ctrl-arrows move by words.
        KeyCode::Left if alt => state.previous_window(),
        KeyCode::Right if alt => state.next_window(),
        KeyCode::Left if control => state.input.word_left(),
        KeyCode::Right if control => state.input.word_right(),
        KeyCode::Left => state.input.left(),
        KeyCode::Right => state.input.right(),
        KeyCode::Home => state.input.home(),
        // End at the end of the line, or with Alt or Ctrl: back to the newest lines.
        KeyCode::End if alt || control || state.input.at_end() => state.scroll_to_bottom(),
        KeyCode::End => state.input.end(),
        KeyCode::Up => state.history_up(),
        KeyCode::Down => state.history_down(),
        KeyCode::PageUp => {
            if let Some(request) = state.scroll_up(page.max(1)) {
                return Action::Request(request);
            }
        }
        KeyCode::PageDown => state.scroll_down(page.max(1)),
        KeyCode::Tab => state.complete(model),
        KeyCode::F(2) => state.show_members = !state.show_members,
        KeyCode::Enter => return Action::Submit(state.submit()),
        _ => {}
    }
    Action::None
}

impl AppState {
    /// Ends completion and history browsing on keys that edit the line (not on Up/Down, which
    /// browse history, nor on scrolling).
    fn edited_unless_navigation(&mut self, code: KeyCode) {
        if !matches!(
            code,
            KeyCode::Up | KeyCode::Down | KeyCode::PageUp | KeyCode::PageDown
        ) {
            self.edited();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn typing_and_enter_submit_the_line() {
        let mut state = AppState::new("srv");
        let model = Model::new("me");
        for c in "hi".chars() {
            handle_key(&mut state, &model, key(KeyCode::Char(c)), 10);
        }
        handle_key(&mut state, &model, key(KeyCode::Left), 10);
        handle_key(&mut state, &model, key(KeyCode::Char('!')), 10);
        assert_eq!(
            handle_key(&mut state, &model, key(KeyCode::Enter), 10),
            Action::Submit("h!i".into())
        );
        assert_eq!(state.input.text(), "");
        assert_eq!(handle_key(&mut state, &model, ctrl_c(), 10), Action::Quit);
    }

    #[test]
    fn f2_shows_and_hides_the_member_list() {
        let mut state = AppState::new("srv");
        let model = Model::new("me");
        assert!(!state.show_members);
        handle_key(&mut state, &model, key(KeyCode::F(2)), 10);
        assert!(state.show_members);
        handle_key(&mut state, &model, key(KeyCode::F(2)), 10);
        assert!(!state.show_members);
    }

    fn with(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn readline_keys_edit_the_line_and_ctrl_arrows_move_by_words() {
        let mut state = AppState::new("srv");
        let model = Model::new("me");
        state.open_query("bob");
        let (control, alt) = (KeyModifiers::CONTROL, KeyModifiers::ALT);
        type_text(&mut state, &model, "see you at noon");
        let window = state.current().name.clone();
        let mut press = |code, modifiers| {
            handle_key(&mut state, &model, with(code, modifiers), 10);
            (state.input.text().to_owned(), state.input.cursor())
        };
        assert_eq!(
            press(KeyCode::Char('w'), control),
            ("see you at ".into(), 11)
        );
        assert_eq!(
            press(KeyCode::Char('y'), control),
            ("see you at noon".into(), 15)
        );
        press(KeyCode::Left, control);
        assert_eq!(press(KeyCode::Left, control), ("see you at noon".into(), 8));
        assert_eq!(press(KeyCode::Char('d'), alt), ("see you  noon".into(), 8));
        assert_eq!(press(KeyCode::Char('b'), alt), ("see you  noon".into(), 4));
        assert_eq!(press(KeyCode::Char('f'), alt), ("see you  noon".into(), 7));
        assert_eq!(press(KeyCode::Right, control), ("see you  noon".into(), 13));
        press(KeyCode::Char('a'), control);
        assert_eq!(press(KeyCode::Right, control), ("see you  noon".into(), 3));
        assert_eq!(press(KeyCode::Char('k'), control), ("see".into(), 3));
        assert_eq!(press(KeyCode::Backspace, alt), ("".into(), 0));
        assert_eq!(press(KeyCode::Char('y'), control), ("see".into(), 3));
        assert_eq!(press(KeyCode::Char('u'), control), ("".into(), 0));
        assert_eq!(
            state.current().name,
            window,
            "Ctrl-arrows stay in the window"
        );
        handle_key(&mut state, &model, with(KeyCode::Left, alt), 10);
        assert_ne!(state.current().name, window, "Alt-arrows change windows");
        assert_eq!(
            handle_key(&mut state, &model, with(KeyCode::Char('l'), control), 10),
            Action::Redraw
        );
    }

    #[test]
    fn the_wheel_scrolls_and_end_at_the_end_of_the_line_comes_back_down() {
        let mut state = AppState::new("srv");
        let model = Model::new("me");
        for n in 0..20 {
            state.note(None, &format!("line {n}"));
        }
        let wheel = |kind| MouseEvent {
            kind,
            column: 0,
            row: 0,
            modifiers: KeyModifiers::NONE,
        };
        assert_eq!(
            handle_mouse(&mut state, wheel(MouseEventKind::ScrollUp)),
            Action::None
        );
        handle_mouse(&mut state, wheel(MouseEventKind::ScrollUp));
        handle_mouse(&mut state, wheel(MouseEventKind::ScrollDown));
        assert_eq!(state.current().scroll(), WHEEL_LINES);
        type_text(&mut state, &model, "draft");
        handle_key(&mut state, &model, key(KeyCode::Home), 10);
        handle_key(&mut state, &model, key(KeyCode::End), 10);
        assert_eq!(
            state.input.cursor(),
            5,
            "End first goes to the end of the line"
        );
        assert_eq!(state.current().scroll(), WHEEL_LINES);
        handle_key(&mut state, &model, key(KeyCode::End), 10);
        assert_eq!(state.current().scroll(), 0, "then to the newest lines");
        handle_mouse(&mut state, wheel(MouseEventKind::ScrollUp));
        let alt_end = with(KeyCode::End, KeyModifiers::ALT);
        handle_key(&mut state, &model, alt_end, 10);
        assert_eq!(state.current().scroll(), 0, "Alt-End goes there at once");
        assert_eq!(state.input.text(), "draft");
    }

    fn ctrl_c() -> KeyEvent {
        KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
    }

    fn type_text(state: &mut AppState, model: &Model, text: &str) {
        for c in text.chars() {
            handle_key(state, model, key(KeyCode::Char(c)), 10);
        }
    }

    fn last_line(state: &AppState) -> &str {
        state.current().lines().back().map_or("", String::as_str)
    }

    #[test]
    fn ctrl_c_with_a_typed_line_asks_before_quitting() {
        let mut state = AppState::new("srv");
        let model = Model::new("me");
        type_text(&mut state, &model, "half a thought");
        assert_eq!(handle_key(&mut state, &model, ctrl_c(), 10), Action::None);
        assert_eq!(
            last_line(&state),
            "-- press Ctrl-C again to quit: your typed line would be lost"
        );
        assert_eq!(state.input.text(), "half a thought", "nothing is lost yet");
        // Any other key goes on editing, and the question lapses.
        type_text(&mut state, &model, "!");
        assert_eq!(handle_key(&mut state, &model, ctrl_c(), 10), Action::None);
        assert_eq!(handle_key(&mut state, &model, ctrl_c(), 10), Action::Quit);
    }

    fn held_paste(state: &mut AppState, lines: usize) -> Vec<Command> {
        let paste: Vec<Command> = (1..=lines)
            .map(|n| Command::Say {
                target: "#ops".into(),
                text: format!("line {n}"),
            })
            .collect();
        state.ask_to_send_paste(paste.clone());
        paste
    }

    #[test]
    fn a_held_paste_is_sent_on_enter_and_only_then() {
        let mut state = AppState::new("srv");
        let model = Model::new("me");
        let paste = held_paste(&mut state, 7);
        assert_eq!(
            last_line(&state),
            "-- paste of 7 lines to #ops: Enter sends them, Esc cancels"
        );
        // Other keys wait: typing does not edit the line behind the question's back.
        type_text(&mut state, &model, "xy");
        assert_eq!(state.input.text(), "");
        assert_eq!(
            handle_key(&mut state, &model, key(KeyCode::Enter), 10),
            Action::Paste(paste)
        );
        assert_eq!(state.question(), None);
        assert_eq!(
            handle_key(&mut state, &model, key(KeyCode::Enter), 10),
            Action::Submit(String::new()),
            "the answer is taken once"
        );
    }

    #[test]
    fn a_held_paste_is_dropped_on_esc_or_ctrl_c_saying_so() {
        let model = Model::new("me");
        for cancel in [key(KeyCode::Esc), ctrl_c()] {
            let mut state = AppState::new("srv");
            held_paste(&mut state, 6);
            assert_eq!(handle_key(&mut state, &model, cancel, 10), Action::None);
            assert_eq!(last_line(&state), "-- paste cancelled; nothing was sent");
            assert_eq!(state.question(), None);
        }
    }
}
