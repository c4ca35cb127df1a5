//! The full-screen client's pieces, kept apart as in tokio-console: [`state`] is the plain
//! data (windows, input line, connection status), [`command`] parses typed lines, [`input`]
//! maps keys to edits and actions, and [`view`] draws the state with ratatui. The run loop
//! that ties them to the terminal and the connection is [`crate::tui`].

pub mod command;
pub mod input;
pub mod state;
pub mod view;
