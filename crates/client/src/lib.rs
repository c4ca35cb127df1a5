//! palaver's terminal client: `palaver connect`.
//!
//! One link to the server, two thin front ends over it, and model, view and input kept apart:
//!
//! - [`link`]: the connection to the server and everything that keeps it useful across
//!   failures: registration, capabilities, backoff, rejoining, gap-filling from history, and
//!   the lines said until the server answers each one (matched by `labeled-response` labels).
//!   Its rules are a pure state machine ([`link::machine`]) driven over any byte stream;
//!   front ends give it typed [`link::Command`]s and read typed [`link::Event`]s;
//! - [`model`]: plain data, no I/O: our nick and rooms (topics, members), and received
//!   messages turned into text-protocol lines. The link keeps the one model both front ends
//!   read;
//! - [`pipe`]: the line-oriented front end for scripts: stdin lines in, stamped lines out;
//! - [`config`]: the configuration file, `connect.toml`;
//! - [`app`] (state, commands, key bindings, ratatui view) and [`tui`] (the terminal loop):
//!   the full-screen front end used when stdin and stdout are terminals.
//!
//! The client reuses palaver's own protocol crate: IRC parsing and formatting, line framing,
//! and the text protocol's renderer, so its output is exactly what a text-protocol user sees.

pub mod app;
pub mod config;
pub mod link;
pub mod model;
pub mod pipe;
pub mod tui;

pub use link::{TlsOptions, Trust};
pub use pipe::run_pipe;

/// What to connect to and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// `host:port`, resolved when connecting.
    pub server: String,
    /// TLS over the connection, if wanted.
    pub tls: Option<TlsOptions>,
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
    #[error("TLS failed")]
    Tls(#[source] std::io::Error),
    #[error("cannot set up TLS: {0}")]
    TlsSetup(String),
    #[error("timed out {0}")]
    Timeout(Wait),
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
    #[error("{0} line(s) were not delivered")]
    Undelivered(usize),
    #[error("cannot read stdin")]
    Stdin(#[source] std::io::Error),
    #[error("cannot write stdout")]
    Stdout(#[source] std::io::Error),
}

/// What a [`ClientError::Timeout`] was waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Connecting,
    Registering,
    Sending,
    /// Pipe mode, after its input ended: the server's answers to the lines sent.
    Acknowledgements,
    Stdout,
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Wait::Connecting => "connecting to the server",
            Wait::Registering => "registering with the server",
            Wait::Sending => "sending to the server",
            Wait::Acknowledgements => "waiting for the server to acknowledge the sent messages",
            Wait::Stdout => "writing to stdout",
        })
    }
}

/// What an error means for what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The connection failed or ended: another one may work.
    Connection,
    /// The server refused who we are or where we asked to be: a nick, a password, a login, a
    /// room.
    Refused,
    /// Our own side: stdin, stdout, or messages the server did not accept.
    Local,
}

impl ClientError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Connect { .. }
            | ClientError::Io(_)
            | ClientError::ConnectionLost
            | ClientError::Closed(_) => ErrorKind::Connection,
            // A certificate refused (or a server that speaks no TLS) will be refused again.
            ClientError::Tls(error) if error.kind() == std::io::ErrorKind::InvalidData => {
                ErrorKind::Refused
            }
            ClientError::Tls(_) => ErrorKind::Connection,
            ClientError::TlsSetup(_) => ErrorKind::Local,
            ClientError::Timeout(Wait::Connecting | Wait::Registering | Wait::Sending) => {
                ErrorKind::Connection
            }
            ClientError::Timeout(Wait::Acknowledgements | Wait::Stdout)
            | ClientError::Undelivered(_)
            | ClientError::Stdin(_)
            | ClientError::Stdout(_) => ErrorKind::Local,
            ClientError::NickInUse(_)
            | ClientError::BadNick(..)
            | ClientError::PasswordRefused
            | ClientError::Sasl(_)
            | ClientError::JoinFailed { .. } => ErrorKind::Refused,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connection_failures_are_of_the_connection_kind() {
        assert_eq!(ClientError::ConnectionLost.kind(), ErrorKind::Connection);
        assert_eq!(
            ClientError::Closed("bye".into()).kind(),
            ErrorKind::Connection
        );
        assert_eq!(
            ClientError::Timeout(Wait::Sending).kind(),
            ErrorKind::Connection
        );
        assert_eq!(
            ClientError::Timeout(Wait::Acknowledgements).kind(),
            ErrorKind::Local
        );
        assert_eq!(ClientError::Timeout(Wait::Stdout).kind(), ErrorKind::Local);
        assert_eq!(ClientError::PasswordRefused.kind(), ErrorKind::Refused);
        assert_eq!(
            ClientError::NickInUse("bot".into()).kind(),
            ErrorKind::Refused
        );
    }

    #[test]
    fn timeouts_say_what_they_waited_for() {
        assert_eq!(
            ClientError::Timeout(Wait::Registering).to_string(),
            "timed out registering with the server"
        );
    }
}
