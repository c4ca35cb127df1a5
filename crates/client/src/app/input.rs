//! Keys to actions: edits are applied to the [`AppState`] here; what needs the connection or
//! ends the program is returned as an [`Action`] for [`crate::tui`].

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::AppState;
use crate::model::Model;

/// What a key asks of the run loop beyond editing the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing more to do (the state may have changed).
    None,
    /// Enter: carry out this typed line.
    Submit(String),
    /// Ctrl-C: quit now.
    Quit,
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
    if key.code != KeyCode::Tab {
        state.edited_unless_navigation(key.code);
    }
    match key.code {
        KeyCode::Char('c') if control => return Action::Quit,
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
        assert_eq!(
            handle_key(
                &mut state,
                &model,
                KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                10
            ),
            Action::Quit
        );
    }
}
