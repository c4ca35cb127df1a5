//! Parsing what a text-protocol client types: plain text, or a `/command` with arguments.
//!
//! The grammar is documented in `docs/PROTOCOL.md`; every rejection is an [`InputError`] whose
//! `Display` is the message the client sees after `! `.

use thiserror::Error;

use super::is_terminal_control;
use crate::names::{self, NameError};

/// One parsed client line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// An empty or blank line: nothing to do.
    Blank,
    /// Text for the current room. A line starting `//` arrives here as `/…`, so commands can
    /// be quoted.
    Say(&'a str),
    Command(Command<'a>),
}

/// A `/command` with its arguments already checked for shape (names are validated; whether a
/// room or nick exists is the hub's business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    Nick(&'a str),
    /// Join a room, with its key if it has one.
    Join {
        room: &'a str,
        key: Option<&'a str>,
    },
    /// `room` is `None` for the current room.
    Part {
        room: Option<&'a str>,
        reason: Option<&'a str>,
    },
    /// A private message to `nick`, or a status message when `nick` is `@#room` or `+#room`
    /// (to the room's operators, or its voiced members and operators).
    Msg {
        nick: &'a str,
        text: &'a str,
    },
    Me(&'a str),
    Who(Option<&'a str>),
    /// List rooms; the filters (see [`crate::room_filter`]) are words separated by spaces or
    /// commas, empty for every room.
    Rooms(&'a str),
    /// Shows the topic when `text` is `None`, sets it otherwise.
    Topic {
        room: Option<&'a str>,
        text: Option<&'a str>,
    },
    Quit(Option<&'a str>),
    Help,
    /// Show the last N messages of the current room (a default when `None`).
    History(Option<usize>),
    /// Register the current nick as an account with this password, and this email address
    /// if given.
    Register {
        password: &'a str,
        email: Option<&'a str>,
    },
    /// Log in to the account `nick`.
    Login {
        nick: &'a str,
        password: &'a str,
    },
    Logout,
    /// Change the logged-in account's password.
    Password {
        old: &'a str,
        new: &'a str,
    },
    /// Register a room (the current one when `None`) to the logged-in account.
    RegisterRoom(Option<&'a str>),
    /// Take back the logged-in account's nick (named, or the account's when `None`) from
    /// whoever holds it.
    Regain(Option<&'a str>),
    /// Monitor these nicks (be told when each comes online or goes offline), or show the
    /// monitored nicks when there are none.
    Monitor(Vec<&'a str>),
    /// Stop monitoring these nicks (at least one).
    Unmonitor(Vec<&'a str>),
    /// Mark oneself as a bot (`true`) or not.
    Bot(bool),
    /// Become a server operator with an operator entry's name and password.
    Oper {
        name: &'a str,
        password: &'a str,
    },
    /// Disconnect a user (server operators only), with an optional reason.
    Kill {
        nick: &'a str,
        reason: Option<&'a str>,
    },
    /// Send a message to every server operator (server operators only).
    Wallops(&'a str),
    /// Ban from the server (server operators only): the words after `/ban`, `[DURATION]
    /// TARGET [reason]`, which the server reads.
    Ban(&'a str),
    /// Lift a server ban (server operators only).
    Unban(&'a str),
    /// List the server bans (server operators only).
    Bans,
    /// Start a message of several lines to a room or nick (the current room when `None`);
    /// the lines that follow are its lines, up to `/end` (see [`parse_paste_line`]).
    Paste(Option<&'a str>),
    /// `/end` or `/cancel` outside a paste.
    PasteEnd,
    /// Delete the user's newest message in the current room, with an optional reason.
    Delete(Option<&'a str>),
    /// The client certificates the logged-in account logs in with (IRC SASL EXTERNAL):
    /// `/cert add [FINGERPRINT]`, `/cert del FINGERPRINT`, `/cert list` — the words after
    /// `/cert`, checked by the server.
    Cert(Vec<&'a str>),
}

/// A line sent while pasting: one line of the message, taken exactly as typed, or the end of
/// the paste.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasteLine<'a> {
    Line(&'a str),
    /// `/end`: send the message.
    End,
    /// `/cancel`: drop it.
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputError {
    #[error("invalid UTF-8; line discarded")]
    InvalidUtf8,
    #[error("control characters are not allowed; line discarded")]
    ControlCharacter,
    #[error("unknown command /{0} (try /help)")]
    UnknownCommand(String),
    #[error("usage: {0}")]
    Usage(&'static str),
    #[error("invalid nick {nick}: {reason}")]
    InvalidNick { nick: String, reason: NameError },
    #[error("invalid room name {room}: {reason}")]
    InvalidRoom { room: String, reason: NameError },
}

/// Parses one line (without its line ending) as sent by a client.
pub fn parse(line: &[u8]) -> Result<Input<'_>, InputError> {
    let line = std::str::from_utf8(line).map_err(|_| InputError::InvalidUtf8)?;
    if line.chars().any(is_terminal_control) {
        return Err(InputError::ControlCharacter);
    }
    if line.trim().is_empty() {
        return Ok(Input::Blank);
    }
    match line.strip_prefix('/') {
        None => Ok(Input::Say(line)),
        Some(quoted) if quoted.starts_with('/') => Ok(Input::Say(quoted)),
        Some(command) => parse_command(command).map(Input::Command),
    }
}

/// Parses a line sent while pasting: `/end` and `/cancel` (alone on their line, any case) end
/// the paste; any other line, blank or starting with `/` included, is a line of the message.
/// The same bytes are refused as anywhere else.
pub fn parse_paste_line(line: &[u8]) -> Result<PasteLine<'_>, InputError> {
    let line = std::str::from_utf8(line).map_err(|_| InputError::InvalidUtf8)?;
    if line.chars().any(is_terminal_control) {
        return Err(InputError::ControlCharacter);
    }
    let word = line.trim();
    Ok(if word.eq_ignore_ascii_case("/end") {
        PasteLine::End
    } else if word.eq_ignore_ascii_case("/cancel") {
        PasteLine::Cancel
    } else {
        PasteLine::Line(line)
    })
}

/// Splits off the first space-separated word; the rest has its leading spaces removed.
fn first_word(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches(' ');
    match text.split_once(' ') {
        Some((word, rest)) => (word, rest.trim_start_matches(' ')),
        None => (text, ""),
    }
}

/// Exactly `N` space-separated words, or `None`.
fn words<const N: usize>(text: &str) -> Option<[&str; N]> {
    let mut words = text.split(' ').filter(|word| !word.is_empty());
    let result: [&str; N] = std::array::from_fn(|_| words.next().unwrap_or(""));
    let complete = result.iter().all(|word| !word.is_empty()) && words.next().is_none();
    complete.then_some(result)
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then_some(text)
}

fn checked_nick(nick: &str) -> Result<&str, InputError> {
    names::validate_nick(nick).map_err(|reason| InputError::InvalidNick {
        nick: nick.to_owned(),
        reason,
    })?;
    Ok(nick)
}

fn checked_room(room: &str) -> Result<&str, InputError> {
    names::validate_room(room).map_err(|reason| InputError::InvalidRoom {
        room: room.to_owned(),
        reason,
    })?;
    Ok(room)
}

/// An optional leading `#room` argument, then free text.
fn optional_room_then_text(args: &str) -> Result<(Option<&str>, Option<&str>), InputError> {
    let (word, rest) = first_word(args);
    if word.starts_with('#') {
        Ok((Some(checked_room(word)?), non_empty(rest)))
    } else {
        Ok((None, non_empty(args.trim_start_matches(' '))))
    }
}

fn parse_command(command: &str) -> Result<Command<'_>, InputError> {
    let (name, args) = first_word(command);
    let command = match name.to_ascii_lowercase().as_str() {
        "nick" => {
            let (nick, extra) = first_word(args);
            if nick.is_empty() || !extra.is_empty() {
                return Err(InputError::Usage("/nick NAME"));
            }
            Command::Nick(checked_nick(nick)?)
        }
        "regain" => {
            let (nick, extra) = first_word(args);
            if !extra.is_empty() {
                return Err(InputError::Usage("/regain [NICK]"));
            }
            Command::Regain(if nick.is_empty() {
                None
            } else {
                Some(checked_nick(nick)?)
            })
        }
        "join" => {
            let (room, rest) = first_word(args);
            let (key, extra) = first_word(rest);
            if room.is_empty() || !extra.is_empty() {
                return Err(InputError::Usage("/join #room [key]"));
            }
            Command::Join {
                room: checked_room(room)?,
                key: (!key.is_empty()).then_some(key),
            }
        }
        "part" => {
            let (room, reason) = optional_room_then_text(args)?;
            Command::Part { room, reason }
        }
        "msg" => {
            let (nick, text) = first_word(args);
            if nick.is_empty() || non_empty(text).is_none() {
                return Err(InputError::Usage("/msg NICK text"));
            }
            Command::Msg { nick, text }
        }
        "me" => match non_empty(args) {
            Some(text) => Command::Me(text.trim_start_matches(' ')),
            None => return Err(InputError::Usage("/me action")),
        },
        "who" => {
            let (room, extra) = first_word(args);
            if !extra.is_empty() {
                return Err(InputError::Usage("/who [#room]"));
            }
            Command::Who(if room.is_empty() {
                None
            } else {
                Some(checked_room(room)?)
            })
        }
        "rooms" | "list" => Command::Rooms(args.trim()),
        "topic" => {
            let (room, text) = optional_room_then_text(args)?;
            Command::Topic { room, text }
        }
        "quit" => Command::Quit(non_empty(args.trim_start_matches(' '))),
        "help" => Command::Help,
        "register" => match (words::<1>(args), words::<2>(args)) {
            (Some([password]), _) => Command::Register {
                password,
                email: None,
            },
            (_, Some([password, email])) => Command::Register {
                password,
                email: Some(email),
            },
            _ => return Err(InputError::Usage("/register PASSWORD [EMAIL]")),
        },
        "login" | "identify" => match words::<2>(args) {
            Some([nick, password]) => Command::Login { nick, password },
            None => return Err(InputError::Usage("/login NICK PASSWORD")),
        },
        "logout" => Command::Logout,
        "register-room" => {
            let (room, extra) = first_word(args);
            if !extra.is_empty() {
                return Err(InputError::Usage("/register-room [#room]"));
            }
            Command::RegisterRoom(if room.is_empty() {
                None
            } else {
                Some(checked_room(room)?)
            })
        }
        "oper" => match words::<2>(args) {
            Some([name, password]) => Command::Oper { name, password },
            None => return Err(InputError::Usage("/oper NAME PASSWORD")),
        },
        "kill" => {
            let (nick, reason) = first_word(args);
            if nick.is_empty() {
                return Err(InputError::Usage("/kill NICK [reason]"));
            }
            Command::Kill {
                nick: checked_nick(nick)?,
                reason: non_empty(reason),
            }
        }
        "wallops" => match non_empty(args) {
            Some(text) => Command::Wallops(text.trim_start_matches(' ')),
            None => return Err(InputError::Usage("/wallops text")),
        },
        "ban" => match non_empty(args) {
            Some(words) => Command::Ban(words.trim()),
            None => return Err(InputError::Usage("/ban [DURATION] TARGET [reason]")),
        },
        "unban" => match words::<1>(args) {
            Some([target]) => Command::Unban(target),
            None => return Err(InputError::Usage("/unban TARGET")),
        },
        "bans" => Command::Bans,
        "cert" => {
            let words: Vec<&str> = args.split_whitespace().collect();
            let known = match words.as_slice() {
                [add] | [add, _] if add.eq_ignore_ascii_case("add") => true,
                [del, _] if del.eq_ignore_ascii_case("del") => true,
                [list] => list.eq_ignore_ascii_case("list"),
                _ => false,
            };
            if !known {
                return Err(InputError::Usage(
                    "/cert add [FINGERPRINT] | /cert del FINGERPRINT | /cert list",
                ));
            }
            Command::Cert(words)
        }
        "password" => match words::<2>(args) {
            Some([old, new]) => Command::Password { old, new },
            None => return Err(InputError::Usage("/password OLD NEW")),
        },
        "history" => {
            let (count, extra) = first_word(args);
            if !extra.is_empty() {
                return Err(InputError::Usage("/history [N]"));
            }
            if count.is_empty() {
                Command::History(None)
            } else {
                match count.parse::<usize>() {
                    Ok(count) if count > 0 => Command::History(Some(count)),
                    _ => return Err(InputError::Usage("/history [N]")),
                }
            }
        }
        "monitor" => Command::Monitor(checked_nicks(args)?),
        "unmonitor" => match checked_nicks(args)? {
            nicks if nicks.is_empty() => return Err(InputError::Usage("/unmonitor NICK…")),
            nicks => Command::Unmonitor(nicks),
        },
        "bot" => match args.trim_matches(' ').to_ascii_lowercase().as_str() {
            "on" => Command::Bot(true),
            "off" => Command::Bot(false),
            _ => return Err(InputError::Usage("/bot on|off")),
        },
        "paste" => {
            let (target, extra) = first_word(args);
            if !extra.is_empty() {
                return Err(InputError::Usage("/paste [#room|NICK]"));
            }
            Command::Paste(match target {
                "" => None,
                room if room.starts_with('#') => Some(checked_room(room)?),
                nick => Some(checked_nick(nick)?),
            })
        }
        "end" | "cancel" => Command::PasteEnd,
        "delete" => Command::Delete(non_empty(args.trim_start_matches(' '))),
        _ => return Err(InputError::UnknownCommand(name.to_owned())),
    };
    Ok(command)
}

/// Nicks separated by spaces or commas, each checked.
fn checked_nicks(args: &str) -> Result<Vec<&str>, InputError> {
    args.split([' ', ','])
        .filter(|nick| !nick.is_empty())
        .map(checked_nick)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn command(line: &str) -> Command<'_> {
        match parse(line.as_bytes()) {
            Ok(Input::Command(command)) => command,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn error(line: &str) -> String {
        parse(line.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn plain_text_blank_lines_and_quoting() {
        assert_eq!(parse(b"hello there"), Ok(Input::Say("hello there")));
        assert_eq!(parse(b""), Ok(Input::Blank));
        assert_eq!(parse(b"  \t "), Ok(Input::Blank));
        assert_eq!(
            parse(b"//join is a command"),
            Ok(Input::Say("/join is a command"))
        );
        assert_eq!(
            parse(b"\x02bold\x02 and\ttab"),
            Ok(Input::Say("\x02bold\x02 and\ttab"))
        );
    }

    #[test]
    fn rejects_invalid_utf8_and_terminal_controls() {
        assert_eq!(parse(b"caf\xc3"), Err(InputError::InvalidUtf8));
        assert_eq!(parse(b"\xff"), Err(InputError::InvalidUtf8));
        for bad in ["a\x1b[2Jb", "a\rb", "nul\0", "bell\x07", "c1\u{9b}"] {
            assert_eq!(
                parse(bad.as_bytes()),
                Err(InputError::ControlCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn commands_and_their_arguments() {
        assert_eq!(command("/nick alice"), Command::Nick("alice"));
        assert_eq!(command("/NICK  alice"), Command::Nick("alice"));
        assert_eq!(
            command("/join #rust"),
            Command::Join {
                room: "#rust",
                key: None
            }
        );
        assert_eq!(
            command("/join #rust sesame"),
            Command::Join {
                room: "#rust",
                key: Some("sesame")
            }
        );
        assert_eq!(
            command("/part"),
            Command::Part {
                room: None,
                reason: None
            }
        );
        assert_eq!(
            command("/part #rust  gone fishing"),
            Command::Part {
                room: Some("#rust"),
                reason: Some("gone fishing")
            }
        );
        assert_eq!(
            command("/part gone fishing"),
            Command::Part {
                room: None,
                reason: Some("gone fishing")
            }
        );
        assert_eq!(
            command("/msg bob  hi  there"),
            Command::Msg {
                nick: "bob",
                text: "hi  there"
            }
        );
        assert_eq!(command("/me waves"), Command::Me("waves"));
        assert_eq!(command("/who"), Command::Who(None));
        assert_eq!(command("/who #rust"), Command::Who(Some("#rust")));
        assert_eq!(command("/rooms"), Command::Rooms(""));
        assert_eq!(command("/list >2 *rust*"), Command::Rooms(">2 *rust*"));
        assert_eq!(
            command("/topic"),
            Command::Topic {
                room: None,
                text: None
            }
        );
        assert_eq!(
            command("/topic #rust"),
            Command::Topic {
                room: Some("#rust"),
                text: None
            }
        );
        assert_eq!(
            command("/topic #rust all things Rust"),
            Command::Topic {
                room: Some("#rust"),
                text: Some("all things Rust")
            }
        );
        assert_eq!(
            command("/topic all things Rust"),
            Command::Topic {
                room: None,
                text: Some("all things Rust")
            }
        );
        assert_eq!(command("/quit"), Command::Quit(None));
        assert_eq!(command("/quit see you"), Command::Quit(Some("see you")));
        assert_eq!(command("/help"), Command::Help);
        assert_eq!(command("/history"), Command::History(None));
        assert_eq!(command("/history 50"), Command::History(Some(50)));
        assert_eq!(
            command("/register s3cret!!"),
            Command::Register {
                password: "s3cret!!",
                email: None
            }
        );
        assert_eq!(
            command("/register s3cret!! me@example.org"),
            Command::Register {
                password: "s3cret!!",
                email: Some("me@example.org")
            }
        );
        assert_eq!(
            command("/login alice  s3cret!!"),
            Command::Login {
                nick: "alice",
                password: "s3cret!!"
            }
        );
        assert_eq!(command("/logout"), Command::Logout);
        assert_eq!(command("/register-room"), Command::RegisterRoom(None));
        assert_eq!(
            command("/register-room #rust"),
            Command::RegisterRoom(Some("#rust"))
        );
        assert_eq!(
            command("/password old1 new2"),
            Command::Password {
                old: "old1",
                new: "new2"
            }
        );
        assert_eq!(command("/cert list"), Command::Cert(vec!["list"]));
        assert_eq!(
            command("/cert ADD  ab:cd"),
            Command::Cert(vec!["ADD", "ab:cd"])
        );
        assert_eq!(
            error("/cert del"),
            "usage: /cert add [FINGERPRINT] | /cert del FINGERPRINT | /cert list"
        );
        assert_eq!(command("/regain"), Command::Regain(None));
        assert_eq!(command("/REGAIN  Alice"), Command::Regain(Some("Alice")));
        assert_eq!(command("/monitor"), Command::Monitor(vec![]));
        assert_eq!(
            command("/monitor alice  bob,carol"),
            Command::Monitor(vec!["alice", "bob", "carol"])
        );
        assert_eq!(
            command("/unmonitor alice,bob"),
            Command::Unmonitor(vec!["alice", "bob"])
        );
        assert_eq!(command("/bot on"), Command::Bot(true));
        assert_eq!(command("/BOT  Off "), Command::Bot(false));
        assert_eq!(
            command("/msg @#rust ops only"),
            Command::Msg {
                nick: "@#rust",
                text: "ops only"
            }
        );
        assert_eq!(command("/paste"), Command::Paste(None));
        assert_eq!(command("/paste #rust"), Command::Paste(Some("#rust")));
        assert_eq!(command("/paste bob"), Command::Paste(Some("bob")));
        assert_eq!(command("/end"), Command::PasteEnd);
        assert_eq!(command("/Cancel"), Command::PasteEnd);
        assert_eq!(command("/delete"), Command::Delete(None));
        assert_eq!(command("/delete  oops"), Command::Delete(Some("oops")));
    }

    #[test]
    fn operator_commands() {
        assert_eq!(
            command("/oper root  s3cret"),
            Command::Oper {
                name: "root",
                password: "s3cret"
            }
        );
        assert_eq!(
            command("/KILL bob"),
            Command::Kill {
                nick: "bob",
                reason: None
            }
        );
        assert_eq!(
            command("/kill bob  spamming the lobby"),
            Command::Kill {
                nick: "bob",
                reason: Some("spamming the lobby")
            }
        );
        assert_eq!(
            command("/wallops  restart at noon"),
            Command::Wallops("restart at noon")
        );
        assert_eq!(error("/oper root"), "usage: /oper NAME PASSWORD");
        assert_eq!(error("/oper a b c"), "usage: /oper NAME PASSWORD");
        assert_eq!(error("/kill"), "usage: /kill NICK [reason]");
        assert_eq!(
            command("/ban 1d *@bad.example spam"),
            Command::Ban("1d *@bad.example spam")
        );
        assert_eq!(error("/ban"), "usage: /ban [DURATION] TARGET [reason]");
        assert_eq!(command("/unban 192.0.2.1"), Command::Unban("192.0.2.1"));
        assert_eq!(error("/unban"), "usage: /unban TARGET");
        assert_eq!(command("/bans"), Command::Bans);
        assert_eq!(
            error("/kill #room"),
            "invalid nick #room: a nick may only contain letters, digits and - _ [ ] { } \\ | ^"
        );
        assert_eq!(error("/wallops   "), "usage: /wallops text");
    }

    #[test]
    fn paste_lines_are_taken_as_typed_up_to_end_or_cancel() {
        for line in ["", "   ", "/join #x", "//x", "  indented code", "/end now"] {
            assert_eq!(
                parse_paste_line(line.as_bytes()),
                Ok(PasteLine::Line(line)),
                "{line:?}"
            );
        }
        assert_eq!(parse_paste_line(b"/end"), Ok(PasteLine::End));
        assert_eq!(parse_paste_line(b" /END "), Ok(PasteLine::End));
        assert_eq!(parse_paste_line(b"/cancel"), Ok(PasteLine::Cancel));
        assert_eq!(parse_paste_line(b"\xff"), Err(InputError::InvalidUtf8));
        assert_eq!(
            parse_paste_line(b"a\x1bb"),
            Err(InputError::ControlCharacter)
        );
    }

    #[test]
    fn command_errors() {
        assert_eq!(error("/x"), "unknown command /x (try /help)");
        assert_eq!(error("/"), "unknown command / (try /help)");
        assert_eq!(error("/nick"), "usage: /nick NAME");
        assert_eq!(error("/nick a b"), "usage: /nick NAME");
        assert_eq!(
            error("/nick 9lives"),
            "invalid nick 9lives: a nick may not start with a digit or -"
        );
        assert_eq!(error("/join"), "usage: /join #room [key]");
        assert_eq!(error("/join #a b c"), "usage: /join #room [key]");
        assert_eq!(
            error("/join rust"),
            "invalid room name rust: a room name starts with #"
        );
        assert_eq!(error("/msg bob"), "usage: /msg NICK text");
        assert_eq!(error("/msg bob   "), "usage: /msg NICK text");
        assert_eq!(error("/me"), "usage: /me action");
        assert_eq!(error("/who #a #b"), "usage: /who [#room]");
        assert_eq!(error("/history 0"), "usage: /history [N]");
        assert_eq!(error("/register"), "usage: /register PASSWORD [EMAIL]");
        assert_eq!(
            error("/register three words here"),
            "usage: /register PASSWORD [EMAIL]"
        );
        assert_eq!(error("/login alice"), "usage: /login NICK PASSWORD");
        assert_eq!(error("/password only"), "usage: /password OLD NEW");
        assert_eq!(error("/history lots"), "usage: /history [N]");
        assert_eq!(error("/regain a b"), "usage: /regain [NICK]");
        assert_eq!(error("/paste a b"), "usage: /paste [#room|NICK]");
        assert_eq!(
            error("/regain #a"),
            "invalid nick #a: a nick may only contain letters, digits and - _ [ ] { } \\ | ^"
        );
        assert_eq!(error("/unmonitor"), "usage: /unmonitor NICK…");
        assert_eq!(
            error("/monitor alice *!*@host"),
            "invalid nick *!*@host: a nick may only contain letters, digits and - _ [ ] { } \\ | ^"
        );
        assert_eq!(error("/bot"), "usage: /bot on|off");
        assert_eq!(error("/bot maybe"), "usage: /bot on|off");
        assert_eq!(
            error("/part #a,b"),
            "invalid room name #a,b: a room name may not contain spaces, commas or control characters"
        );
    }

    proptest! {
        #[test]
        fn never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&line);
        }

        #[test]
        fn never_panics_on_commands(line in "/[a-zA-Z]{0,6}( [#a-z ]{0,12}){0,3}") {
            let _ = parse(line.as_bytes());
        }
    }
}
