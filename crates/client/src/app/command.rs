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
    /// `/quote RAW`: a raw IRC line. Also what an unknown `/command` becomes (as irssi
    /// sends it): `/foo bar` is `FOO bar`.
    Quote(String),
    /// An IRC command built from a client command's arguments (`/kick`, `/ban`, `/invite`,
    /// `/whois`): the command and its parameters, the last of which may hold spaces.
    Send {
        command: String,
        params: Vec<String>,
    },
    /// `/clear`: empties the current window.
    Clear,
    /// `/help [command]`: lists the commands, or says what one does.
    Help(Option<String>),
    /// `/ignore [NICK]`: lists the nicks ignored, or ignores one more.
    Ignore(Option<String>),
    /// `/unignore NICK`: shows a nick's messages again.
    Unignore(String),
    /// A command we cannot carry out; the text says why.
    Invalid(String),
}

/// One of the client's own commands, for `/help` and Tab completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandHelp {
    /// How it is typed, starting with its name: `/kick [#room] NICK [reason]`.
    pub usage: &'static str,
    pub what: &'static str,
}

impl CommandHelp {
    /// The name, without its `/`.
    pub fn name(&self) -> &'static str {
        let typed = self.usage.split(' ').next().unwrap_or_default();
        typed.trim_start_matches('/')
    }
}

const fn help(usage: &'static str, what: &'static str) -> CommandHelp {
    CommandHelp { usage, what }
}

/// The commands the client knows, in alphabetical order. Any other `/command` goes to the
/// server as it was typed.
// A table reads best one command to a line.
#[rustfmt::skip]
pub const COMMANDS: &[CommandHelp] = &[
    help("/away [reason]",                            "marks you away; without a reason, back"),
    help("/ban [#room] NICK|MASK",                    "bans from the room (a nick bans nick!*@*)"),
    help("/clear",                                    "empties this window"),
    help("/close",                                    "closes this window, leaving its room"),
    help("/help [command]",                           "lists the commands, or explains one"),
    help("/ignore [NICK]",                            "hides a nick's messages (kept in connect.toml); alone, lists them"),
    help("/invite NICK [#room]",                      "invites someone to the room"),
    help("/j room [key]",                             "the same as /join"),
    help("/join [#]room [key]",                       "joins a room (the # may be left out)"),
    help("/kick [#room] NICK [reason]",               "removes someone from the room"),
    help("/list",                                     "lists the server's rooms in a window of their own"),
    help("/me action",                                "says an action"),
    help("/mode [#room|NICK] [+-modes [arguments]]",  "shows or changes modes"),
    help("/msg NICK|#room text",                      "sends a message without opening a window"),
    help("/names [#room]",                            "lists the room's members"),
    help("/nick NAME",                                "changes your nick"),
    help("/part [#room] [reason]",                    "leaves a room"),
    help("/query NICK [text]",                        "opens a private conversation"),
    help("/quit [reason]",                            "leaves the server"),
    help("/quote RAW",                                "sends a raw IRC line"),
    help("/topic [#room] [text]",                     "shows or sets the topic"),
    help("/unignore NICK",                            "shows a nick's messages again"),
    help("/who [mask]",                               "lists users (the room's by default)"),
    help("/whois NICK",                               "says who someone is"),
    help("/win N",                                    "goes to window N (also /window)"),
];

/// The help of the command `name` (without its `/`), if the client knows it.
pub fn command_help(name: &str) -> Option<&'static CommandHelp> {
    let name = name.trim_start_matches('/').to_ascii_lowercase();
    let name = if name == "window" {
        "win"
    } else {
        name.as_str()
    };
    COMMANDS.iter().find(|command| command.name() == name)
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

    fn query(self) -> Option<String> {
        match self {
            Context::Query(nick) => Some(nick.to_owned()),
            _ => None,
        }
    }
}

/// A room name as typed after `/join`: `rust` means `#rust`, as in irssi.
fn room_name(typed: &str) -> String {
    if is_channel(typed) {
        typed.to_owned()
    } else {
        format!("#{typed}")
    }
}

/// What `/ban` bans: a mask as given, or everyone using the nick.
fn ban_mask(who: &str) -> String {
    if who.contains(['!', '@']) {
        who.to_owned()
    } else {
        format!("{who}!*@*")
    }
}

/// The `MODE` line of `/mode [target] [modes…]`: the target is the first word unless that
/// is a mode change (`+m`, `-i`), in which case it is the current room; `None` without one.
fn mode_line(rest: &str, context: Context<'_>) -> Option<String> {
    let (first, after) = split_word(rest);
    if first.is_empty() || first.starts_with(['+', '-']) {
        let room = context.room()?;
        Some(format!("MODE {room} {rest}").trim_end().to_owned())
    } else {
        Some(format!("MODE {first} {after}").trim_end().to_owned())
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
        let send = |command: &str, params: &[&str], last: Option<String>| Command::Send {
            command: command.to_owned(),
            params: params
                .iter()
                .map(|param| (*param).to_owned())
                .chain(last)
                .collect(),
        };
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
            "join" | "j" => match split_word(rest) {
                (room, key) if !room.is_empty() => Command::Join {
                    room: room_name(room),
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
            "clear" => Command::Clear,
            "help" => Command::Help(optional(rest.trim())),
            // `/list [>10|#a,#b]`: the answer fills the room list window (`state.rs`).
            "list" => send("LIST", &[], optional(rest.trim())),
            "ignore" => match split_word(rest.trim()) {
                (nick, "") => Command::Ignore(optional(nick)),
                _ => usage("/ignore [NICK]"),
            },
            "unignore" => match split_word(rest.trim()) {
                (nick, "") if !nick.is_empty() => Command::Unignore(nick.to_owned()),
                _ => usage("/unignore NICK"),
            },
            "kick" => match room_and_rest(rest) {
                Some((room, Some(rest))) => {
                    let (nick, reason) = split_word(&rest);
                    send("KICK", &[room.as_str(), nick], optional(reason))
                }
                _ => usage("/kick [#room] NICK [reason]"),
            },
            "ban" => match room_and_rest(rest) {
                Some((room, Some(who))) if !who.contains(' ') => {
                    send("MODE", &[room.as_str(), "+b", &ban_mask(&who)], None)
                }
                _ => usage("/ban [#room] NICK|MASK"),
            },
            "invite" => match split_word(rest) {
                (nick, "") if !nick.is_empty() => match context.room() {
                    Some(room) => send("INVITE", &[nick, room.as_str()], None),
                    None => Command::Invalid(NO_ROOM.into()),
                },
                (nick, room) if !nick.is_empty() && is_channel(room) => {
                    send("INVITE", &[nick, room], None)
                }
                _ => usage("/invite NICK [#room]"),
            },
            "whois" => match optional(rest.trim()).or_else(|| context.query()) {
                Some(nick) => send("WHOIS", &[nick.as_str()], None),
                None => usage("/whois NICK"),
            },
            "mode" => match mode_line(rest, context) {
                Some(line) => Command::Quote(line),
                None => usage("/mode [#room|NICK] [+-modes [arguments]]"),
            },
            "" => Command::Invalid("a command needs a name (// starts a line with /)".into()),
            // As irssi does: what the client does not know goes to the server as typed.
            _ => Command::Quote(
                format!("{} {rest}", name.to_ascii_uppercase())
                    .trim_end()
                    .to_owned(),
            ),
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
            Command::Send { command, params } => {
                send(command, params.iter().map(String::as_str).collect())
            }
            Command::Clear | Command::Help(_) | Command::Ignore(_) | Command::Unignore(_) => None,
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

    /// The IRC lines `command` has the link send, without their CR LF.
    fn irc_lines(command: Command) -> Vec<String> {
        command
            .to_link_command()
            .map(|command| command.messages())
            .unwrap_or_default()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.to_bytes()).trim_end().to_owned())
            .collect()
    }

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
        assert_eq!(Command::parse("/clear", OPS), Command::Clear);
        assert_eq!(Command::parse("/ignore", OPS), Command::Ignore(None));
        assert_eq!(
            Command::parse("/ignore spammer", OPS),
            Command::Ignore(Some("spammer".into()))
        );
        assert_eq!(
            Command::parse("/unignore spammer ", OPS),
            Command::Unignore("spammer".into())
        );
        assert!(matches!(
            Command::parse("/unignore", OPS),
            Command::Invalid(_)
        ));
        assert!(matches!(
            Command::parse("/ignore a b", OPS),
            Command::Invalid(_)
        ));
        assert_eq!(Command::parse("/help", OPS), Command::Help(None));
        assert_eq!(
            Command::parse("/help join ", OPS),
            Command::Help(Some("join".into()))
        );
    }

    #[test]
    fn unknown_commands_go_to_the_server_as_typed() {
        assert_eq!(Command::parse("/frob", OPS), Command::Quote("FROB".into()));
        assert_eq!(
            Command::parse("/knock #x :let me in", OPS),
            Command::Quote("KNOCK #x :let me in".into())
        );
        assert!(matches!(Command::parse("/", OPS), Command::Invalid(_)));
    }

    #[test]
    fn room_commands_name_the_current_room_unless_told_otherwise() {
        let join = |room: &str| Command::Join {
            room: room.into(),
            key: None,
        };
        assert_eq!(Command::parse("/j rust", OPS), join("#rust"));
        assert_eq!(Command::parse("/join #rust", OPS), join("#rust"));
        let lines = |line: &str, context| irc_lines(Command::parse(line, context));
        assert_eq!(lines("/kick bob", OPS), ["KICK #ops bob"]);
        assert_eq!(lines("/kick #x bob go away", OPS), ["KICK #x bob :go away"]);
        assert_eq!(lines("/ban bob", OPS), ["MODE #ops +b bob!*@*"]);
        assert_eq!(
            lines("/ban #x *!*@spam.example", OPS),
            ["MODE #x +b *!*@spam.example"]
        );
        assert_eq!(lines("/invite bob", OPS), ["INVITE bob #ops"]);
        assert_eq!(lines("/invite bob #x", OPS), ["INVITE bob #x"]);
        assert_eq!(lines("/whois bob", OPS), ["WHOIS bob"]);
        assert_eq!(lines("/whois", Context::Query("carol")), ["WHOIS carol"]);
        assert_eq!(
            Command::parse("/mode +l 10", OPS),
            Command::Quote("MODE #ops +l 10".into())
        );
        assert_eq!(
            Command::parse("/mode", OPS),
            Command::Quote("MODE #ops".into())
        );
        assert_eq!(
            Command::parse("/mode me +i", Context::Status),
            Command::Quote("MODE me +i".into())
        );
        for usage in ["/kick", "/ban", "/whois", "/invite", "/mode +m"] {
            assert!(
                matches!(Command::parse(usage, Context::Status), Command::Invalid(_)),
                "{usage}"
            );
        }
    }

    #[test]
    fn every_command_has_help_and_the_help_is_in_order() {
        let names: Vec<&str> = COMMANDS.iter().map(CommandHelp::name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        for name in names {
            // What the client does not know would go to the server as the bare name.
            let unknown = Command::Quote(name.to_ascii_uppercase());
            assert_ne!(
                Command::parse(&format!("/{name}"), OPS),
                unknown,
                "/{name} is in the help but not a command"
            );
        }
        assert_eq!(command_help("/WINDOW").map(CommandHelp::name), Some("win"));
        assert_eq!(command_help("frob"), None);
    }

    #[test]
    fn commands_become_irc_messages() {
        let lines = irc_lines;
        assert_eq!(
            lines(Command::parse("/me waves", OPS)),
            ["PRIVMSG #ops :\u{1}ACTION waves\u{1}"]
        );
        assert_eq!(lines(Command::parse("/join #x k", OPS)), ["JOIN #x k"]);
        assert_eq!(lines(Command::parse("/away lunch", OPS)), ["AWAY lunch"]);
        assert_eq!(lines(Command::parse("/away", OPS)), ["AWAY"]);
    }
}
