//! palaver's terminal client: `palaver connect`.
//!
//! The client keeps connection, model, view and input apart:
//!
//! - [`connection`]: one IRC connection (TCP, framing, registration, capabilities, SASL,
//!   keepalive), with its life as an explicit [`connection::ConnectionState`];
//!   [`reconnect`]: the backoff between attempts after a lost connection; [`resync`]: the
//!   history marks, gap-filling requests and `msgid` deduplication both front ends share;
//! - [`model`]: plain data, no I/O: received messages turned into text-protocol lines, the
//!   joined rooms and a bounded scrollback;
//! - [`pipe`]: the line-oriented front end for scripts: stdin lines in, stamped lines out,
//!   with reconnection and gap-filling from history;
//! - [`app`] (state, commands, key bindings, ratatui view) and [`tui`] (the terminal loop):
//!   the full-screen front end used when stdin and stdout are terminals.
//!
//! The client reuses palaver's own protocol crate: IRC parsing and formatting, line framing,
//! and the text protocol's renderer, so its output is exactly what a text-protocol user sees.

pub mod app;
pub mod connection;
pub mod model;
pub mod pipe;
pub mod reconnect;
pub mod resync;
pub mod tui;

pub use pipe::run_pipe;

/// What to connect to and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// `host:port`, resolved when connecting.
    pub server: String,
    pub nick: String,
    /// The account password, for SASL PLAIN (account name = nick).
    pub password: Option<String>,
    /// Channels to join once registered; the first is where pipe-mode lines go.
    pub channels: Vec<String>,
}

/// Why the client stopped. Variants wrapping an I/O error keep it as their `source()` rather
/// than in their message, so a caller printing the chain (`{:#}` with anyhow) states it once.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {server}")]
    Connect {
        server: String,
        #[source]
        source: std::io::Error,
    },
    #[error("timed out {0}")]
    Timeout(&'static str),
    #[error("connection error")]
    Io(#[source] std::io::Error),
    #[error("the server closed the connection")]
    ConnectionLost,
    #[error("the server closed the connection: {0}")]
    Closed(String),
    #[error("nick {0} is already in use")]
    NickInUse(String),
    #[error("nick {0} refused: {1}")]
    BadNick(String, String),
    #[error("the server refused the connection password")]
    PasswordRefused,
    #[error("login failed: {0}")]
    Sasl(String),
    #[error("cannot join {room}: {reason}")]
    JoinFailed { room: String, reason: String },
    #[error("{0} message(s) were not accepted by the server")]
    Undelivered(usize),
    #[error("cannot read stdin")]
    Stdin(#[source] std::io::Error),
    #[error("cannot write stdout")]
    Stdout(#[source] std::io::Error),
}

/// An error and its causes, `: `-separated, as one line (for notices on a terminal or stderr).
pub(crate) fn describe(error: &ClientError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
