//! What the client asks before doing what cannot be undone: sending a long paste, and quitting
//! when that would lose a typed line or lines not sent yet. The next key answers (for `/quit`,
//! the next command): see [`super::input`] and [`crate::tui`]. Nothing typed is dropped
//! without the user having said so.

use super::command::Command;
use super::state::AppState;

/// The question the client is waiting for an answer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// Send this paste (its lines, said in order)? Enter sends it; Esc or Ctrl-C drops it.
    Paste(Vec<Command>),
    /// Quit, losing the typed line or lines not sent yet? A second Ctrl-C quits; any other
    /// key goes on editing.
    QuitByKey,
    /// Quit, losing lines not sent yet? A second `/quit` quits; any other command goes on.
    QuitByCommand,
}

impl AppState {
    pub fn question(&self) -> Option<&Question> {
        self.question.as_ref()
    }

    /// Holds `paste` until the user answers, saying so in the current window.
    pub fn ask_to_send_paste(&mut self, paste: Vec<Command>) {
        let to = match paste.first() {
            Some(Command::Say { target, .. }) => format!(" to {target}"),
            _ => String::new(),
        };
        let count = paste.len();
        self.note_current(&format!(
            "-- paste of {count} lines{to}: Enter sends them, Esc cancels"
        ));
        self.question = Some(Question::Paste(paste));
    }

    /// Enter, while a paste is held: the paste's commands, to carry out in order.
    pub fn take_paste(&mut self) -> Vec<Command> {
        match self.question.take() {
            Some(Question::Paste(paste)) => paste,
            other => {
                self.question = other;
                Vec::new()
            }
        }
    }

    /// Esc, while a paste is held: drops it.
    pub fn cancel_paste(&mut self) {
        if matches!(self.question, Some(Question::Paste(_))) {
            self.question = None;
            self.note_current("-- paste cancelled; nothing was sent");
        }
    }

    /// Ctrl-C: whether to quit now. When that would lose the typed line or lines not sent
    /// yet, the first Ctrl-C asks and the second quits.
    pub fn quit_by_key(&mut self) -> bool {
        if self.question == Some(Question::QuitByKey) {
            return true;
        }
        let typed = !self.input.text().trim().is_empty();
        let unsent = self.pending_count();
        let lost = match (typed, unsent) {
            (false, 0) => return true,
            (true, 0) => "your typed line".to_owned(),
            (false, unsent) => lines_not_sent(unsent),
            (true, unsent) => format!("your typed line and {}", lines_not_sent(unsent)),
        };
        self.note_current(&format!(
            "-- press Ctrl-C again to quit: {lost} would be lost"
        ));
        self.question = Some(Question::QuitByKey);
        false
    }

    /// `/quit`: whether to quit now. With lines not sent yet (said while disconnected), the
    /// first `/quit` asks and the second quits.
    pub fn quit_by_command(&mut self) -> bool {
        let unsent = self.pending_count();
        if unsent == 0 || self.question == Some(Question::QuitByCommand) {
            return true;
        }
        self.note_current(&format!(
            "-- {} would be lost: /quit again to quit without them",
            lines_not_sent(unsent)
        ));
        self.question = Some(Question::QuitByCommand);
        false
    }

    /// Any key but Ctrl-C, or any command but `/quit`: a question about quitting lapses.
    pub fn forget_quit_question(&mut self) {
        if matches!(
            self.question,
            Some(Question::QuitByKey | Question::QuitByCommand)
        ) {
            self.question = None;
        }
    }
}

/// "1 line not sent yet", "3 lines not sent yet".
fn lines_not_sent(count: usize) -> String {
    match count {
        1 => "1 line not sent yet".to_owned(),
        count => format!("{count} lines not sent yet"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{LineId, SaidLine};

    fn with_unsent(count: u64) -> AppState {
        let mut state = AppState::new("srv");
        for id in 1..=count {
            let said = SaidLine {
                id: LineId(id),
                target: "#ops".into(),
                body: format!("line {id}"),
            };
            state.add_pending(&said, "me");
        }
        state
    }

    fn last_line(state: &AppState) -> &str {
        state.current().lines().back().map_or("", String::as_str)
    }

    #[test]
    fn quit_asks_first_when_lines_are_not_sent_yet() {
        assert!(with_unsent(0).quit_by_command(), "nothing to lose");
        let mut state = with_unsent(3);
        assert!(!state.quit_by_command());
        assert_eq!(
            last_line(&state),
            "-- 3 lines not sent yet would be lost: /quit again to quit without them"
        );
        assert!(state.quit_by_command(), "the second /quit quits");
        // Another command in between makes the next /quit ask again.
        let mut state = with_unsent(1);
        assert!(!state.quit_by_command());
        state.forget_quit_question();
        assert!(!state.quit_by_command());
        assert_eq!(
            last_line(&state),
            "-- 1 line not sent yet would be lost: /quit again to quit without them"
        );
    }

    #[test]
    fn ctrl_c_names_everything_it_would_lose() {
        let mut state = with_unsent(2);
        state.input.insert_str("typed");
        assert!(!state.quit_by_key());
        assert_eq!(
            last_line(&state),
            "-- press Ctrl-C again to quit: your typed line and 2 lines not sent yet would be lost"
        );
        assert!(state.quit_by_key());
        assert!(AppState::new("srv").quit_by_key(), "nothing to lose");
    }
}
