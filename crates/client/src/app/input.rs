//! Keys to actions: edits are applied to the [`AppState`] here; what needs the connection or
//! ends the program is returned as an [`Action`] for [`crate::tui`].

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

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
        KeyCode::Char('u') if control => state.input.clear_to_start(),
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
        KeyCode::Char(c) if !control => state.input.insert(c),
        KeyCode::Backspace => state.input.backspace(),
        KeyCode::Delete => state.input.delete(),
        KeyCode::Left if alt || control => state.previous_window(),
        KeyCode::Right if alt || control => state.next_window(),
        KeyCode::Left => state.input.left(),
        KeyCode::Right => state.input.right(),
        KeyCode::Home => state.input.home(),
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
