//! The full-screen client's pieces, kept apart as in tokio-console: [`state`] is the plain
//! view data (windows, input line, connection status), [`clock`] shows times in the user's
//! time zone, [`command`] parses typed lines and
//! pastes, [`question`] holds what the client asks before losing anything typed, [`input`]
//! maps keys to edits and actions, [`numerics`] says numeric replies as sentences, [`theme`]
//! holds the colours, and [`view`] draws the state and the link's model with ratatui. The run loop that ties them to
//! the terminal and the link is [`crate::tui`].

pub mod clock;
pub mod command;
pub mod input;
pub mod numerics;
pub mod question;
pub mod state;
pub mod theme;
pub mod view;

#[cfg(test)]
mod fixture;
