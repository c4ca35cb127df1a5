//! What a line typed in the full-screen client means: plain text for the current window, or
//! one of the `/` commands, and what the link does for it. Pure: [`crate::tui`] carries
//! commands out.

use palaver_proto::irc::Message;

use crate::link;
use crate::model::is_channel;

/// A typed line, understood. The current window's room or peer (`target`) is filled in by
/// the parser, so a command is complete on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Nothing to do (a blank line).
    Nothing,
    /// Plain text (a leading `//` stands for a literal `/`) for the current room or peer.
    Say { target: String, text: String },
    /// `/me action` in the current room or query.
    Action { target: String, text: String },
    /// `/msg NICK|#room text`
    Msg { to: String, text: String },
    /// `/query NICK [text]`: opens a private window (and says `text` there).
    Query { nick: String, text: Option<String> },
    /// `/join #room [key]`
    Join { room: String, key: Option<String> },
    /// `/part [#room] [reason]` (the current room by default).
    Part {
        room: String,
        reason: Option<String>,
    },
    /// `/nick NAME`
    Nick(String),
    /// `/topic [#room] [text]`: shows the topic, or sets it.
    Topic { room: String, topic: Option<String> },
    /// `/who [mask]` (the current room by default).
    Who(String),
    /// `/names [#room]` (the current room by default).
    Names(String),
    /// `/away [reason]`: sets away with a reason, clears it without one.
    Away(Option<String>),
    /// `/quit [reason]`
    Quit(Option<String>),
    /// `/close`: closes the current window (parting its room if joined).
    Close,
    /// `/win N`: switches to window N (1 is the status window).
    Window(usize),
    /// `/quote RAW`: a raw IRC line.
    Quote(String),
    /// A command we cannot carry out; the text says why.
    Invalid(String),
}

/// The room or peer of the current window, which commands default to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context<'a> {
    /// The status window: no default target.
    Status,
    Room(&'a str),
    Query(&'a str),
}

impl Context<'_> {
    fn target(self) -> Option<String> {
        match self {
            Context::Status => None,
            Context::Room(name) | Context::Query(name) => Some(name.to_owned()),
        }
    }

    fn room(self) -> Option<String> {
        match self {
            Context::Room(name) => Some(name.to_owned()),
            _ => None,
        }
    }
}

const NO_TARGET: &str = "this is the status window: /join a room or /query a nick first";
const NO_ROOM: &str = "not in a room window: name the room";

impl Command {
    /// Parses one typed line in the context of the current window. Command names are
    /// case-insensitive; the last argument runs verbatim to the end of the line.
    pub fn parse(line: &str, context: Context<'_>) -> Command {
        if line.trim().is_empty() {
            return Command::Nothing;
        }
        let say = |text: &str| match context.target() {
            Some(target) => Command::Say {
                target,
                text: text.to_owned(),
            },
            None => Command::Invalid(NO_TARGET.into()),
        };
        if let Some(literal) = line.strip_prefix("//") {
            return say(&format!("/{literal}"));
        }
        let Some(command_line) = line.strip_prefix('/') else {
            return say(line);
        };
        let (name, rest) = split_word(command_line);
        let usage = |text: &str| Command::Invalid(format!("usage: {text}"));
        let optional = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        // `[#room] rest`: the room if the first word names one, else the current room.
        let room_and_rest = |rest: &str| -> Option<(String, Option<String>)> {
            let (first, after) = split_word(rest);
            if is_channel(first) {
                Some((first.to_owned(), optional(after)))
            } else {
                context.room().map(|room| (room, optional(rest)))
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "me" if rest.is_empty() => usage("/me action"),
            "me" => match context.target() {
                Some(target) => Command::Action {
                    target,
                    text: rest.to_owned(),
                },
                None => Command::Invalid(NO_TARGET.into()),
            },
            "msg" => match split_word(rest) {
                (to, text) if !to.is_empty() && !text.is_empty() => Command::Msg {
                    to: to.to_owned(),
                    text: text.to_owned(),
                },
                _ => usage("/msg NICK text"),
            },
            "query" => match split_word(rest) {
                (nick, _) if nick.is_empty() || is_channel(nick) => usage("/query NICK [text]"),
                (nick, text) => Command::Query {
                    nick: nick.to_owned(),
                    text: optional(text),
                },
            },
            "join" => match split_word(rest) {
                (room, key) if !room.is_empty() => Command::Join {
                    room: room.to_owned(),
                    key: optional(key),
                },
                _ => usage("/join #room [key]"),
            },
            "part" => match room_and_rest(rest) {
                Some((room, reason)) => Command::Part { room, reason },
                None => Command::Invalid(NO_ROOM.into()),
            },
            "nick" => match split_word(rest) {
                (nick, "") if !nick.is_empty() => Command::Nick(nick.to_owned()),
                _ => usage("/nick NAME"),
            },
            "topic" => match room_and_rest(rest) {
                Some((room, topic)) => Command::Topic { room, topic },
                None => Command::Invalid(NO_ROOM.into()),
            },
            "who" => match optional(rest).or_else(|| context.target()) {
                Some(mask) => Command::Who(mask),
                None => usage("/who MASK"),
            },
            "names" => match optional(rest).or_else(|| context.room()) {
                Some(room) => Command::Names(room),
                None => usage("/names #room"),
            },
            "away" => Command::Away(optional(rest)),
            "quit" => Command::Quit(optional(rest)),
            "close" => Command::Close,
            "win" | "window" => match rest.trim().parse::<usize>() {
                Ok(number) if number > 0 => Command::Window(number),
                _ => usage("/win N"),
            },
            "quote" if rest.is_empty() => usage("/quote RAW"),
            "quote" => Command::Quote(rest.to_owned()),
            _ => Command::Invalid(format!("unknown command /{name}")),
        }
    }

    /// What the link does for the command, for the commands that only say or send (the
    /// rest — `Quit`, `Query` without text, `Close`, `Window`, `Quote`, `Invalid`, `Nothing` —
    /// are handled by the caller).
    pub fn to_link_command(&self) -> Option<link::Command> {
        let say = |target: &str, text: &str, action: bool| {
            Some(link::Command::Say {
                target: target.to_owned(),
                text: text.to_owned(),
                action,
            })
        };
        let send = |command: &str, params: Vec<&str>| {
            let params = params.into_iter().map(str::to_owned).collect();
            Some(link::Command::Send(Message::new(command, params)))
        };
        match self {
            Command::Say { target, text } => say(target, text, false),
            Command::Msg { to, text } => say(to, text, false),
            Command::Query {
                nick,
                text: Some(text),
            } => say(nick, text, false),
            Command::Action { target, text } => say(target, text, true),
            Command::Join { room, key } => {
                let mut params = vec![room.as_str()];
                params.extend(key.as_deref());
                send("JOIN", params)
            }
            Command::Part { room, reason } => {
                let mut params = vec![room.as_str()];
                params.extend(reason.as_deref());
                send("PART", params)
            }
            Command::Nick(nick) => send("NICK", vec![nick]),
            Command::Topic { room, topic } => {
                let mut params = vec![room.as_str()];
                params.extend(topic.as_deref());
                send("TOPIC", params)
            }
            Command::Who(mask) => send("WHO", vec![mask]),
            Command::Names(room) => send("NAMES", vec![room]),
            Command::Away(reason) => send("AWAY", reason.iter().map(String::as_str).collect()),
            Command::Quit(_)
            | Command::Query { text: None, .. }
            | Command::Close
            | Command::Window(_)
            | Command::Quote(_)
            | Command::Invalid(_)
            | Command::Nothing => None,
        }
    }
}

/// A paste of more lines than this is held until the user confirms it (as irssi does), so
/// that a paste into the wrong window, or of the wrong text, does not flood a room.
pub const PASTE_CONFIRM_ABOVE: usize = 5;

/// The lines of pasted text, blank ones left out: split at every line break a terminal may
/// send — CR (what tmux and most terminals send for a line break in a paste), CR LF and LF.
pub fn pasted_lines(text: &str) -> Vec<&str> {
    text.split(['\r', '\n'])
        .filter(|line| !line.trim().is_empty())
        .collect()
}

/// What pasted lines mean (bracketed paste, several lines): each is plain text for the
/// current window, said in order — lines starting with `/` included, since pasted text (code,
/// logs) is not a series of commands. A paste of one line goes into the input line instead
/// (see [`crate::tui`]).
pub fn paste_commands(lines: &[&str], context: Context<'_>) -> Vec<Command> {
    let target = match context {
        Context::Room(name) | Context::Query(name) => name,
        Context::Status => {
            return vec![Command::Invalid(
                "pasted text needs a room or query window".into(),
            )];
        }
    };
    lines
        .iter()
        .map(|line| Command::Say {
            target: target.to_owned(),
            text: (*line).to_owned(),
        })
        .collect()
}

/// The first space-separated word and the rest (leading spaces of the rest removed).
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches(' ');
    match text.split_once(' ') {
        Some((word, rest)) => (word, rest.trim_start_matches(' ')),
        None => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: Context<'static> = Context::Room("#ops");

    #[test]
    fn pastes_split_at_cr_crlf_and_lf_without_blank_lines() {
        // tmux and most terminals send CR between pasted lines.
        assert_eq!(pasted_lines("one\rtwo\rthree"), ["one", "two", "three"]);
        assert_eq!(pasted_lines("one\r\ntwo\r\n"), ["one", "two"]);
        assert_eq!(pasted_lines("one\n\n  \ntwo\n"), ["one", "two"]);
        assert_eq!(pasted_lines("a\rb\nc\r\nd"), ["a", "b", "c", "d"]);
        assert_eq!(pasted_lines("just one line\r"), ["just one line"]);
        assert!(pasted_lines("\r\n\r").is_empty());
    }

    #[test]
    fn pasted_lines_are_each_plain_text_in_order() {
        let said = |text: &str| Command::Say {
            target: "#ops".into(),
            text: text.into(),
        };
        assert_eq!(
            paste_commands(&pasted_lines("one\r/quit not a command\r\rtwo\r"), OPS),
            [said("one"), said("/quit not a command"), said("two")]
        );
        assert!(matches!(
            paste_commands(&["a", "b"], Context::Status).as_slice(),
            [Command::Invalid(_)]
        ));
    }

    #[test]
    fn plain_text_goes_to_the_current_room_or_peer() {
        assert_eq!(
            Command::parse("hello", OPS),
            Command::Say {
                target: "#ops".into(),
                text: "hello".into()
            }
        );
        assert_eq!(
            Command::parse("//shrug", Context::Query("alice")),
            Command::Say {
                target: "alice".into(),
                text: "/shrug".into()
            }
        );
        assert!(matches!(
            Command::parse("hello", Context::Status),
            Command::Invalid(_)
        ));
        assert_eq!(Command::parse("  ", OPS), Command::Nothing);
    }

    #[test]
    fn commands_default_to_the_current_window() {
        assert_eq!(
            Command::parse("/part see you", OPS),
            Command::Part {
                room: "#ops".into(),
                reason: Some("see you".into())
            }
        );
        assert_eq!(
            Command::parse("/PART #x", OPS),
            Command::Part {
                room: "#x".into(),
                reason: None
            }
        );
        assert_eq!(
            Command::parse("/topic be nice", OPS),
            Command::Topic {
                room: "#ops".into(),
                topic: Some("be nice".into())
            }
        );
        assert_eq!(Command::parse("/who", OPS), Command::Who("#ops".into()));
        assert_eq!(Command::parse("/names", OPS), Command::Names("#ops".into()));
        assert!(matches!(
            Command::parse("/names", Context::Status),
            Command::Invalid(_)
        ));
    }

    #[test]
    fn window_and_query_commands() {
        assert_eq!(Command::parse("/win 3", OPS), Command::Window(3));
        assert!(matches!(Command::parse("/win 0", OPS), Command::Invalid(_)));
        assert_eq!(Command::parse("/close", OPS), Command::Close);
        assert_eq!(
            Command::parse("/query alice hi there", OPS),
            Command::Query {
                nick: "alice".into(),
                text: Some("hi there".into())
            }
        );
        assert_eq!(
            Command::parse("/away", OPS),
            Command::Away(None),
            "no reason clears away"
        );
        assert_eq!(
            Command::parse("/quote MODE #x +m", OPS),
            Command::Quote("MODE #x +m".into())
        );
        assert_eq!(
            Command::parse("/frob", OPS),
            Command::Invalid("unknown command /frob".into())
        );
    }

    #[test]
    fn commands_become_irc_messages() {
        let lines = |command: Command| -> Vec<String> {
            command
                .to_link_command()
                .map(|command| command.messages())
                .unwrap_or_default()
                .iter()
                .map(|m| String::from_utf8_lossy(&m.to_bytes()).trim_end().to_owned())
                .collect()
        };
        assert_eq!(
            lines(Command::parse("/me waves", OPS)),
            ["PRIVMSG #ops :\u{1}ACTION waves\u{1}"]
        );
        assert_eq!(lines(Command::parse("/join #x k", OPS)), ["JOIN #x k"]);
        assert_eq!(lines(Command::parse("/away lunch", OPS)), ["AWAY lunch"]);
        assert_eq!(lines(Command::parse("/away", OPS)), ["AWAY"]);
    }
}
