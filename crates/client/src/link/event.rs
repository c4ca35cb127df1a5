//! What front ends and the link say to each other: [`Command`]s in, [`Event`]s out.

use std::time::Duration;

use palaver_proto::irc::Message;

use super::said::{Outcome, SaidLine, privmsg_bodies};
use crate::model::DisplayLine;

/// What a front end asks of the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Say `text` to a room or nick (a CTCP ACTION if `action`), split into as many lines as
    /// the line limit needs. Held while the link is not ready; each line is followed until the
    /// server answers it ([`Event::Settled`]).
    Say {
        target: String,
        text: String,
        action: bool,
    },
    /// Any other message (`JOIN`, `PART`, `NICK`, `TOPIC`, a raw line, …): held while the link
    /// is not ready, in order with the lines said.
    Send(Message),
    /// A message worth sending only now (a history request): sent if registered, else dropped.
    Request(Message),
    /// `PING token`, if registered (else dropped); its answer is [`Event::Pong`].
    Ping(String),
    /// `QUIT [reason]`: the link ends with [`Event::Closed`] once the server closed the
    /// connection, or at once when there is none.
    Quit(Option<String>),
}

impl Command {
    /// The IRC messages the command amounts to, as they would go out (without labels).
    pub fn messages(&self) -> Vec<Message> {
        match self {
            Command::Say {
                target,
                text,
                action,
            } => privmsg_bodies(target, text, *action)
                .into_iter()
                .map(|body| Message::new("PRIVMSG", vec![target.clone(), body]))
                .collect(),
            Command::Send(message) | Command::Request(message) => vec![message.clone()],
            Command::Ping(token) => vec![Message::new("PING", vec![token.clone()])],
            Command::Quit(reason) => vec![Message::new("QUIT", reason.iter().cloned().collect())],
        }
    }
}

/// A message from the server, as front ends get it: already applied to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub message: Message,
    /// The line it shows, rendered by the model, if it is something a person reads.
    pub line: Option<DisplayLine>,
    /// Our own `JOIN` of a room we were in before the connection was lost: a front end need
    /// not move the user's attention to it.
    pub rejoin: bool,
}

/// What the link tells its front end. Events a message gives rise to (a settled line, a
/// refused rejoin) come before the message itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection attempt started.
    Connecting,
    /// A byte stream to the server is open; registering.
    Registering,
    /// Registered as `nick`. `reconnection`: an earlier connection had registered, and this
    /// one replaces it.
    Registered { nick: String, reconnection: bool },
    /// The rooms are (re)joined and their gaps filled, or the wait for that was given up: what
    /// was held has gone out, and commands go out as they come.
    Ready,
    /// A message from the server.
    Message(Incoming),
    /// A room we were (re)joining refused us; the lines waiting for it are
    /// [`Outcome::NotSent`], and the model no longer has it.
    JoinRefused { room: String, reason: String },
    /// A said line waits: it was held, or its answer was lost with a connection. Told once
    /// per line.
    Pending(SaidLine),
    /// A said line is settled.
    Settled { line: SaidLine, outcome: Outcome },
    /// The server's `PONG` to our `PING token`.
    Pong(String),
    /// The connection failed (`was_connected`: an open one ended; else an attempt failed); the
    /// link tries again in `retry_in`. `attempt` counts failures since the last registration.
    Disconnected {
        reason: String,
        retry_in: Duration,
        attempt: u32,
        was_connected: bool,
    },
    /// The link ended after [`Command::Quit`].
    Closed,
}
