//! What the client shows, as plain data: our nick and rooms, and received IRC messages turned
//! into displayable lines.
//!
//! No I/O happens here. [`event_from_message`] turns one received IRC message into the
//! protocol-neutral [`Event`] the server itself fans out, and [`Model::apply`] renders it with
//! the text protocol's own renderer ([`palaver_proto::text::render_event`]), so a line printed
//! by the client is byte for byte what a text-protocol user sees (`[HH:MM:SS] #room <nick>
//! text`, `-- alice joined #rust`, …). The model is the client's one picture of the chat: our
//! nick, the rooms we are in with their topics and members, and a bounded scrollback.
//! [`refusal`] reads the server's error replies, which the model has no line for.
//!
//! Concurrency contract: a `Model` is owned by the link ([`crate::link`]), which applies every
//! message it receives; front ends read it. It is intentionally not shared between tasks.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use palaver_proto::event::{Event, Identity, MessageId, MessageKind, Target};
use palaver_proto::irc::modes::{parse_changes, split_status_target};
use palaver_proto::irc::numeric::ERR_NOMOTD;
use palaver_proto::irc::{Message, split_userhost};
use palaver_proto::text::{error_line, notice_line, render_event, render_own_copy};
use palaver_proto::time::Timestamp;

/// Lines kept per buffer; older lines are dropped so a long session cannot grow without bound.
pub const SCROLLBACK_LINES: usize = 1000;

/// The CTCP delimiter (`\x01`), which wraps `ACTION` and other CTCP requests.
const CTCP_DELIMITER: char = '\u{1}';

/// One line ready to show, and where it belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayLine {
    /// The room the line belongs to, the private peer's nick, or `None` for the server buffer.
    pub buffer: Option<String>,
    /// The text-protocol line, without its LF (stamped in UTC, as the protocol writes it).
    pub text: String,
    /// When it happened (the server's `time` tag, else when it arrived).
    pub time: Timestamp,
    /// For a line about a person rather than a room (a quit, a nick change): the rooms they
    /// shared with us just before (all our rooms when it is us). Empty for other lines.
    pub rooms: Vec<String>,
}

/// A joined room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub name: String,
    /// The current topic; empty when none is set (or none is known yet).
    pub topic: String,
    /// Nicks known to be in the room (from `NAMES`, joins, and who speaks), in the order
    /// learnt; we are among them.
    pub members: Vec<String>,
    /// Members' status prefixes in the room, highest first (`@` operator, `+` voice, …), by
    /// lowercase nick: from `NAMES` (all of them, with `multi-prefix`) and `MODE` changes.
    /// Members without one are not listed.
    prefixes: HashMap<String, String>,
}

/// Status prefixes, highest rank first: founder, protected, operator, half-operator, voice.
const PREFIXES: [char; 5] = ['~', '&', '@', '%', '+'];

impl Room {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            topic: String::new(),
            members: Vec::new(),
            prefixes: HashMap::new(),
        }
    }

    pub fn has_member(&self, nick: &str) -> bool {
        self.members.iter().any(|m| m.eq_ignore_ascii_case(nick))
    }

    /// `nick`'s highest status prefix in the room (`@`, `+`, …), if any.
    pub fn prefix(&self, nick: &str) -> Option<char> {
        self.prefixes
            .get(&nick.to_lowercase())
            .and_then(|prefixes| prefixes.chars().next())
    }

    fn add_member(&mut self, nick: &str) {
        if !nick.is_empty() && !self.has_member(nick) {
            self.members.push(nick.to_owned());
        }
    }

    fn remove_member(&mut self, nick: &str) {
        self.members.retain(|m| !m.eq_ignore_ascii_case(nick));
        self.prefixes.remove(&nick.to_lowercase());
    }

    fn rename_member(&mut self, old: &str, new: &str) {
        let prefixes = self.prefixes.remove(&old.to_lowercase());
        self.remove_member(old);
        self.add_member(new);
        if let Some(prefixes) = prefixes {
            self.prefixes.insert(new.to_lowercase(), prefixes);
        }
    }

    /// Gives `nick` the status `prefix` (`@` for mode `o`, …) or takes it away, keeping its
    /// prefixes in rank order.
    fn set_prefix(&mut self, nick: &str, prefix: char, given: bool) {
        let key = nick.to_lowercase();
        let mut held: Vec<char> = self
            .prefixes
            .get(&key)
            .map(|prefixes| prefixes.chars().filter(|&held| held != prefix).collect())
            .unwrap_or_default();
        if given {
            held.push(prefix);
        }
        held.sort_by_key(|held| PREFIXES.iter().position(|rank| rank == held));
        if held.is_empty() {
            self.prefixes.remove(&key);
        } else {
            self.prefixes.insert(key, held.into_iter().collect());
        }
    }
}

/// Follows `MODE #room +o-v alice bob`: the modes that give members a prefix. The other modes
/// with an argument (`b`, `e`, `I`, `k`, and `l` when set) use theirs up.
fn apply_member_modes(room: &mut Room, modes: &str, arguments: &[String]) {
    let mut arguments = arguments.iter();
    let mut given = true;
    for mode in modes.chars() {
        match mode {
            '+' => given = true,
            '-' => given = false,
            _ => match prefix_of_mode(mode) {
                Some(prefix) => {
                    if let Some(nick) = arguments.next() {
                        room.set_prefix(nick, prefix, given);
                    }
                }
                None => {
                    if matches!(mode, 'b' | 'e' | 'I' | 'k') || (mode == 'l' && given) {
                        arguments.next();
                    }
                }
            },
        }
    }
}

/// The prefix a channel mode letter gives (`o` → `@`), as most servers' `PREFIX` says.
fn prefix_of_mode(mode: char) -> Option<char> {
    match mode {
        'q' => Some('~'),
        'a' => Some('&'),
        'o' => Some('@'),
        'h' => Some('%'),
        'v' => Some('+'),
        _ => None,
    }
}

/// The client's picture of the chat: who we are, where we are, and what was said.
#[derive(Debug, Default)]
pub struct Model {
    /// Our nick as the server knows it; updated on `001` and on our own `NICK`.
    nick: String,
    /// Joined rooms in join order; the last one joined is the default target. A room stays
    /// here while the connection is down (it is rejoined) until we leave it or a rejoin is
    /// refused.
    rooms: Vec<Room>,
    /// Recent lines, oldest first, at most [`SCROLLBACK_LINES`].
    scrollback: VecDeque<DisplayLine>,
    /// Whether the server has us marked away (`306`, until `305` or a new connection).
    away: bool,
    /// Others marked away, by lowercase nick, as `away-notify` tells.
    away_nicks: HashSet<String>,
}

impl Model {
    pub fn new(nick: impl Into<String>) -> Self {
        Self {
            nick: nick.into(),
            ..Self::default()
        }
    }

    /// Our current nick.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// Whether the server has us marked away.
    pub fn is_away(&self) -> bool {
        self.away
    }

    /// Whether `nick` (someone else) is marked away, as far as `away-notify` told us.
    pub fn is_away_nick(&self, nick: &str) -> bool {
        self.away_nicks.contains(&nick.to_lowercase())
    }

    /// The rooms we are in, in join order.
    pub fn rooms(&self) -> &[Room] {
        &self.rooms
    }

    /// The room named `name` (ASCII case-insensitive, as palaver's room names are), if we are
    /// in it.
    pub fn room(&self, name: &str) -> Option<&Room> {
        self.rooms
            .iter()
            .find(|joined| joined.name.eq_ignore_ascii_case(name))
    }

    /// Whether we are in `room`.
    pub fn is_in(&self, room: &str) -> bool {
        self.room(room).is_some()
    }

    /// Whether `nick` is ours.
    pub fn is_me(&self, nick: &str) -> bool {
        nick.eq_ignore_ascii_case(&self.nick)
    }

    /// The lines received so far (bounded), oldest first.
    pub fn scrollback(&self) -> impl Iterator<Item = &DisplayLine> {
        self.scrollback.iter()
    }

    /// We are no longer in `room` (a rejoin was refused).
    pub fn leave(&mut self, room: &str) {
        self.rooms
            .retain(|joined| !joined.name.eq_ignore_ascii_case(room));
    }

    /// Takes in one message from the server, updates the model, and returns the line to show,
    /// if the message is something a person reads. `now` stamps messages without a `time` tag.
    pub fn apply(&mut self, message: &Message, now: Timestamp) -> Option<DisplayLine> {
        let rooms = self.rooms_concerned(message);
        let time = message_time(message, now);
        self.track(message);
        let line = match message.command.to_ascii_uppercase().as_str() {
            // RPL_TOPIC on joining: `-- topic of #room: text`, as the text protocol shows it.
            "332" => {
                let [_, room, topic, ..] = message.params.as_slice() else {
                    return None;
                };
                DisplayLine {
                    buffer: Some(room.clone()),
                    text: line_text(&notice_line(time, &["topic of ", room, ": ", topic])),
                    time,
                    rooms,
                }
            }
            // RPL_LOGGEDIN (SASL): `-- you are now logged in as alice`, as in the text protocol.
            "900" => {
                let [_, _, account, ..] = message.params.as_slice() else {
                    return None;
                };
                DisplayLine {
                    buffer: None,
                    text: line_text(&notice_line(time, &["you are now logged in as ", account])),
                    time,
                    rooms,
                }
            }
            _ => {
                let event = event_from_message(message, now)?;
                let own = source_nick(message).is_some_and(|nick| self.is_me(nick));
                let bytes = if own {
                    render_own_copy(&event)?
                } else {
                    render_event(&event)?
                };
                DisplayLine {
                    buffer: buffer_of(&event, own),
                    text: line_text(&bytes),
                    time,
                    rooms,
                }
            }
        };
        if self.scrollback.len() == SCROLLBACK_LINES {
            self.scrollback.pop_front();
        }
        self.scrollback.push_back(line.clone());
        Some(line)
    }

    /// For a quit or a nick change, the rooms its line belongs in: those the nick shares with
    /// us (all ours when it is us), as they are before the message is applied.
    fn rooms_concerned(&self, message: &Message) -> Vec<String> {
        let command = message.command.to_ascii_uppercase();
        let Some(nick) =
            source_nick(message).filter(|_| matches!(command.as_str(), "QUIT" | "NICK"))
        else {
            return Vec::new();
        };
        let me = self.is_me(nick);
        self.rooms
            .iter()
            .filter(|room| me || room.has_member(nick))
            .map(|room| room.name.clone())
            .collect()
    }

    /// Follows our nick, our rooms, their topics and their members.
    fn track(&mut self, message: &Message) {
        let from = source_nick(message).unwrap_or_default().to_owned();
        let me = self.is_me(&from);
        let params = message.params.as_slice();
        let command = message.command.to_ascii_uppercase();
        match (command.as_str(), params) {
            ("001", [nick, ..]) => {
                self.nick = nick.clone();
                // A new connection starts present.
                self.away = false;
            }
            ("306", _) => self.away = true,
            ("305", _) => self.away = false,
            ("NICK", [new_nick, ..]) => {
                for room in &mut self.rooms {
                    if room.has_member(&from) {
                        room.rename_member(&from, new_nick);
                    }
                }
                if self.away_nicks.remove(&from.to_lowercase()) {
                    self.away_nicks.insert(new_nick.to_lowercase());
                }
                if me {
                    self.nick = new_nick.clone();
                }
            }
            ("QUIT", _) => {
                for room in &mut self.rooms {
                    room.remove_member(&from);
                }
                self.away_nicks.remove(&from.to_lowercase());
            }
            // `away-notify`: someone else went away (with a reason) or came back.
            ("AWAY", reason) if !me => {
                if reason.is_empty() {
                    self.away_nicks.remove(&from.to_lowercase());
                } else {
                    self.away_nicks.insert(from.to_lowercase());
                }
            }
            ("MODE", [room, modes, arguments @ ..]) => {
                if let Some(joined) = self.room_mut(room) {
                    apply_member_modes(joined, modes, arguments);
                }
            }
            ("JOIN", [room, ..]) if me => {
                // Joined, or rejoined after a reconnection: the members are learnt anew.
                match self.room_mut(room) {
                    Some(joined) => {
                        joined.members.clear();
                        joined.prefixes.clear();
                    }
                    None => self.rooms.push(Room::new(room)),
                }
                if let Some(joined) = self.room_mut(room) {
                    joined.add_member(&from);
                }
            }
            ("JOIN", [room, ..]) => {
                if let Some(joined) = self.room_mut(room) {
                    joined.add_member(&from);
                }
            }
            ("PART", [room, ..]) if me => self.leave(room),
            ("PART", [room, ..]) => {
                if let Some(joined) = self.room_mut(room) {
                    joined.remove_member(&from);
                }
            }
            ("KICK", [room, nick, ..]) if self.is_me(nick) => {
                let room = room.clone();
                self.leave(&room);
            }
            ("KICK", [room, nick, ..]) => {
                let nick = nick.clone();
                if let Some(joined) = self.room_mut(room) {
                    joined.remove_member(&nick);
                }
            }
            ("PRIVMSG" | "NOTICE", [target, ..]) => {
                if let Some(joined) = self.room_mut(target) {
                    joined.add_member(&from);
                }
            }
            ("353", [_, _, room, names, ..]) => {
                if let Some(joined) = self.room_mut(room) {
                    for name in names.split(' ') {
                        // `multi-prefix` and `userhost-in-names` may decorate the nick.
                        let nick = name.trim_start_matches(PREFIXES);
                        let nick = split_userhost(nick).0;
                        joined.add_member(nick);
                        for prefix in
                            name[..name.len() - name.trim_start_matches(PREFIXES).len()].chars()
                        {
                            joined.set_prefix(nick, prefix, true);
                        }
                    }
                }
            }
            ("TOPIC", [room, topic, ..]) | ("332", [_, room, topic, ..]) => {
                if let Some(joined) = self.room_mut(room) {
                    joined.topic = topic.clone();
                }
            }
            _ => {}
        }
    }

    fn room_mut(&mut self, room: &str) -> Option<&mut Room> {
        self.rooms
            .iter_mut()
            .find(|joined| joined.name.eq_ignore_ascii_case(room))
    }
}

/// A refusal from the server: an error numeric (RFC 2812 5.2: 400–599, but `422`, no MOTD,
/// which is routine) or an IRCv3 `FAIL` standard reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal<'a> {
    /// The numeric (`404`), or `FAIL`.
    pub code: &'a str,
    /// What the refusal is about (a room, a nick, a command), when the reply names it.
    pub subject: Option<&'a str>,
    pub reason: &'a str,
}

impl Refusal<'_> {
    /// The `! …` line showing it, as the text protocol shows errors.
    pub fn line(&self) -> String {
        let text = match self.subject {
            Some(subject) => format!("{subject}: {}", self.reason),
            None => self.reason.to_owned(),
        };
        line_text(&error_line(&text))
    }
}

/// The refusal `message` is, if it is one.
pub fn refusal(message: &Message) -> Option<Refusal<'_>> {
    let code = message.command.as_str();
    if code.eq_ignore_ascii_case("FAIL") {
        let reason = message.params.last().filter(|_| message.params.len() > 1)?;
        return Some(Refusal {
            code: "FAIL",
            subject: None,
            reason,
        });
    }
    let is_error = code != ERR_NOMOTD
        && code.len() == 3
        && code.bytes().all(|b| b.is_ascii_digit())
        && matches!(code.as_bytes()[0], b'4' | b'5');
    // `:server CODE ournick [subject] :reason`
    let [_, details @ ..] = message.params.as_slice() else {
        return None;
    };
    if !is_error || details.is_empty() {
        return None;
    }
    Some(Refusal {
        code,
        subject: details
            .first()
            .filter(|_| details.len() > 1)
            .map(String::as_str),
        reason: details.last().map_or("", String::as_str),
    })
}

/// Turns a received IRC message into the [`Event`] it describes, or `None` for messages that
/// are not chat events (numerics, `PING`, `CAP`, other CTCP requests, …).
///
/// The time is the message's `time` tag (IRCv3 server-time) when present and valid, else
/// `now`. The text protocol shows nicks only, so the identity carries `nick!user@host` as far as
/// the source tells it and the `account` tag when there is one.
pub fn event_from_message(message: &Message, now: Timestamp) -> Option<Event> {
    let time = message_time(message, now);
    let params = message.params.as_slice();
    let source = message.source.as_deref()?;
    let event = match (message.command.to_ascii_uppercase().as_str(), params) {
        ("PRIVMSG" | "NOTICE", [target, text, ..]) => {
            let is_notice = message.command.eq_ignore_ascii_case("NOTICE");
            // A notice from the server itself (no `nick!user@host`) is a server notice.
            if is_notice && !source.contains('!') {
                return Some(Event::ServerNotice {
                    time,
                    server: source.into(),
                    text: text.as_str().into(),
                });
            }
            let (kind, text) = match ctcp_action(text) {
                Some(action) if !is_notice => (MessageKind::Action, action),
                // Another CTCP request or reply (VERSION, PING, …): nothing to show.
                _ if text.starts_with(CTCP_DELIMITER) => return None,
                _ if is_notice => (MessageKind::Notice, text.as_str()),
                _ => (MessageKind::Say, text.as_str()),
            };
            // A message to a room's operators or voiced members (`@#room`, `+#room`:
            // STATUSMSG) belongs to the room.
            let room = split_status_target(target).map_or(target.as_str(), |(_, room)| room);
            let target = if is_channel(room) {
                Target::Room(room.into())
            } else {
                Target::User(target.as_str().into())
            };
            Event::Message {
                id: message_id(message),
                time,
                from: identity(message, source),
                target,
                kind,
                text: text.into(),
                concat_at: Box::default(),
                client_tags: "".into(),
            }
        }
        ("JOIN", [room, ..]) => Event::Joined {
            time,
            room: room.as_str().into(),
            who: identity(message, source),
        },
        ("PART", [room, rest @ ..]) => Event::Parted {
            time,
            room: room.as_str().into(),
            who: identity(message, source),
            reason: rest
                .first()
                .filter(|reason| !reason.is_empty())
                .map(|reason| reason.as_str().into()),
        },
        ("QUIT", rest) => Event::Quit {
            time,
            who: identity(message, source),
            reason: rest.first().map_or("", String::as_str).into(),
        },
        ("NICK", [new_nick, ..]) => Event::NickChanged {
            time,
            old: identity(message, source),
            new_nick: new_nick.as_str().into(),
        },
        ("TOPIC", [room, topic, ..]) => Event::TopicChanged {
            time,
            room: room.as_str().into(),
            by: identity(message, source),
            topic: topic.as_str().into(),
        },
        ("KICK", [room, nick, rest @ ..]) => Event::Kicked {
            time,
            room: room.as_str().into(),
            by: identity(message, source),
            nick: nick.as_str().into(),
            reason: rest.first().map_or(nick.as_str(), String::as_str).into(),
        },
        ("MODE", [room, modes, arguments @ ..]) if is_channel(room) => Event::ModeChanged {
            time,
            room: room.as_str().into(),
            by: identity(message, source),
            // A change this client cannot read (another server's modes) is not shown.
            changes: parse_changes(modes, arguments)?,
        },
        ("INVITE", [nick, room, ..]) => Event::Invited {
            time,
            room: room.as_str().into(),
            by: identity(message, source),
            nick: nick.as_str().into(),
        },
        _ => return None,
    };
    Some(event)
}

/// The nick in a message's `nick!user@host` source, if it has one.
pub fn source_nick(message: &Message) -> Option<&str> {
    let source = message.source.as_deref()?;
    source.contains('!').then(|| split_userhost(source).0)
}

/// Whether `target` names a channel (palaver's only channel type is `#`).
pub fn is_channel(target: &str) -> bool {
    target.starts_with('#')
}

/// The text of `\x01ACTION text\x01` (the closing delimiter is optional, as clients are sloppy).
fn ctcp_action(text: &str) -> Option<&str> {
    let body = text.strip_prefix("\u{1}ACTION")?;
    let body = body.strip_suffix(CTCP_DELIMITER).unwrap_or(body);
    Some(body.strip_prefix(' ').unwrap_or(body))
}

fn message_time(message: &Message, now: Timestamp) -> Timestamp {
    message
        .tag("time")
        .and_then(Timestamp::parse_iso8601)
        .unwrap_or(now)
}

/// The `msgid` tag read as palaver's hexadecimal id, or 0; the text line never shows it.
fn message_id(message: &Message) -> MessageId {
    let id = message
        .tag("msgid")
        .and_then(|id| u64::from_str_radix(id, 16).ok())
        .unwrap_or(0);
    MessageId(id)
}

fn identity(message: &Message, source: &str) -> Arc<Identity> {
    let (nick, user, host) = split_userhost(source);
    Arc::new(Identity {
        nick: nick.into(),
        user: user.unwrap_or("").into(),
        host: host.unwrap_or("").into(),
        realname: "".into(),
        account: message.tag("account").map(Into::into),
        bot: message.tag("bot").is_some(),
    })
}

/// Which buffer a rendered event belongs to: its room, the private peer, or the server buffer.
fn buffer_of(event: &Event, own: bool) -> Option<String> {
    match event {
        Event::Message {
            target: Target::Room(room),
            ..
        }
        | Event::Joined { room, .. }
        | Event::Parted { room, .. }
        | Event::Kicked { room, .. }
        | Event::TopicChanged { room, .. }
        | Event::ModeChanged { room, .. }
        | Event::Invited { room, .. } => Some(room.to_string()),
        Event::Message {
            target: Target::User(to),
            ..
        } if own => Some(to.to_string()),
        Event::Message { from, .. } => Some(from.nick.to_string()),
        _ => None,
    }
}

/// A rendered text-protocol line without its LF. The renderer produces UTF-8 (controls
/// replaced), so the lossy conversion never changes anything.
pub(crate) fn line_text(bytes: &[u8]) -> String {
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    String::from_utf8_lossy(line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22T13:05:09.250Z, the example of PROTOCOL.md.
    const TAGGED: &str = "@time=2026-11-22T13:05:09.250Z";
    /// The local clock the tests pretend it is: 01:02:03 UTC.
    const NOW: Timestamp = Timestamp(3_723_000);

    fn show(model: &mut Model, line: &str) -> Option<String> {
        let message = Message::parse(line).expect("valid IRC line");
        model.apply(&message, NOW).map(|line| line.text)
    }

    fn me() -> Model {
        Model::new("bot")
    }

    #[test]
    fn members_keep_their_status_through_modes_and_nick_changes_and_away_is_followed() {
        let mut model = me();
        show(&mut model, ":bot!~x@h JOIN #ops");
        show(&mut model, ":srv 353 bot = #ops :@+alice +bob carol @bot");
        let room = |model: &Model| model.room("#ops").unwrap().clone();
        assert_eq!(room(&model).prefix("alice"), Some('@'));
        assert_eq!(room(&model).prefix("Bob"), Some('+'));
        assert_eq!(room(&model).prefix("carol"), None);
        show(
            &mut model,
            ":bot!~x@h MODE #ops -o+o-v+l alice carol bob 10",
        );
        assert_eq!(room(&model).prefix("alice"), Some('+'), "voice kept");
        assert_eq!(room(&model).prefix("carol"), Some('@'));
        assert_eq!(room(&model).prefix("bob"), None);
        show(&mut model, ":bot!~x@h MODE #ops +b-k+v *!*@spam key bob");
        assert_eq!(
            room(&model).prefix("bob"),
            Some('+'),
            "the ban's and key's arguments skipped"
        );
        show(&mut model, ":carol!~c@h NICK caroline");
        assert_eq!(room(&model).prefix("caroline"), Some('@'));
        assert_eq!(room(&model).prefix("carol"), None);
        show(&mut model, ":bob!~b@h PART #ops");
        show(&mut model, ":bob!~b@h JOIN #ops");
        assert_eq!(
            room(&model).prefix("bob"),
            None,
            "a rejoin starts without status"
        );

        assert!(!model.is_away_nick("alice"));
        show(&mut model, ":alice!~a@h AWAY :lunch");
        assert!(model.is_away_nick("Alice"));
        show(&mut model, ":alice!~a@h NICK alicia");
        assert!(model.is_away_nick("alicia"));
        show(&mut model, ":alicia!~a@h AWAY");
        assert!(!model.is_away_nick("alicia"));
    }

    #[test]
    fn room_message_uses_server_time_when_tagged() {
        let line = format!("{TAGGED} :alice!~a@127.0.0.1 PRIVMSG #ops :hello there");
        assert_eq!(
            show(&mut me(), &line).as_deref(),
            Some("[13:05:09] #ops <alice> hello there")
        );
    }

    #[test]
    fn a_message_to_a_rooms_operators_is_shown_in_the_room() {
        for target in ["@#ops", "+#ops", "@+#ops"] {
            let line = format!(":alice!~a@h PRIVMSG {target} :ops only");
            assert_eq!(
                show(&mut me(), &line).as_deref(),
                Some("[01:02:03] #ops <alice> ops only"),
                "{target}"
            );
        }
    }

    #[test]
    fn room_message_without_server_time_uses_the_local_clock() {
        assert_eq!(
            show(&mut me(), ":alice!~a@h PRIVMSG #ops :hi").as_deref(),
            Some("[01:02:03] #ops <alice> hi")
        );
    }

    #[test]
    fn invalid_time_tag_falls_back_to_the_local_clock() {
        assert_eq!(
            show(&mut me(), "@time=yesterday :alice!~a@h PRIVMSG #ops :hi").as_deref(),
            Some("[01:02:03] #ops <alice> hi")
        );
    }

    #[test]
    fn actions_in_rooms_and_in_private() {
        let mut model = me();
        assert_eq!(
            show(
                &mut model,
                ":alice!~a@h PRIVMSG #ops :\u{1}ACTION waves\u{1}"
            )
            .as_deref(),
            Some("[01:02:03] #ops * alice waves")
        );
        assert_eq!(
            show(&mut model, ":alice!~a@h PRIVMSG bot :\u{1}ACTION waves").as_deref(),
            Some("[01:02:03] *alice* * alice waves")
        );
        assert_eq!(
            show(&mut model, ":bot!~b@h PRIVMSG alice :\u{1}ACTION bows\u{1}").as_deref(),
            Some("[01:02:03] -> *alice* * bot bows")
        );
    }

    #[test]
    fn other_ctcp_is_not_shown() {
        assert_eq!(
            show(&mut me(), ":alice!~a@h PRIVMSG bot :\u{1}VERSION\u{1}"),
            None
        );
    }

    #[test]
    fn notices_from_users_and_from_the_server() {
        let mut model = me();
        assert_eq!(
            show(&mut model, ":alice!~a@h NOTICE #ops :heads up").as_deref(),
            Some("[01:02:03] #ops -alice- heads up")
        );
        assert_eq!(
            show(
                &mut model,
                ":NickServ!services@palaver.local NOTICE bot :hello"
            )
            .as_deref(),
            Some("[01:02:03] *NickServ* -NickServ- hello")
        );
        assert_eq!(
            show(&mut model, ":palaver.local NOTICE * :server shutting down").as_deref(),
            Some("[01:02:03] -- server shutting down")
        );
    }

    #[test]
    fn private_messages_received_and_echoed() {
        let mut model = me();
        let received = show(&mut model, ":alice!~a@h PRIVMSG bot :psst");
        assert_eq!(received.as_deref(), Some("[01:02:03] *alice* psst"));
        let echoed = show(&mut model, ":bot!~b@h PRIVMSG alice :hush");
        assert_eq!(echoed.as_deref(), Some("[01:02:03] -> *alice* hush"));
        let buffers: Vec<_> = model.scrollback().map(|l| l.buffer.clone()).collect();
        assert_eq!(buffers, [Some("alice".into()), Some("alice".into())]);
    }

    #[test]
    fn joins_parts_and_kicks_track_our_rooms() {
        let mut model = me();
        assert_eq!(
            show(&mut model, ":bot!~b@h JOIN #ops").as_deref(),
            Some("[01:02:03] -- bot joined #ops")
        );
        assert_eq!(
            show(&mut model, ":alice!~a@h JOIN #ops * :Alice").as_deref(),
            Some("[01:02:03] -- alice joined #ops")
        );
        assert!(model.is_in("#OPS"));
        assert_eq!(
            show(&mut model, ":alice!~a@h PART #ops :bye now").as_deref(),
            Some("[01:02:03] -- alice left #ops (bye now)")
        );
        assert!(model.is_in("#ops"));
        assert_eq!(
            show(&mut model, ":alice!~a@h KICK #ops bot :behave").as_deref(),
            Some("[01:02:03] -- bot was kicked from #ops by alice (behave)")
        );
        assert!(!model.is_in("#ops"));
        show(&mut model, ":bot!~b@h JOIN #ops");
        assert_eq!(
            show(&mut model, ":bot!~b@h PART #ops").as_deref(),
            Some("[01:02:03] -- bot left #ops")
        );
        assert!(model.rooms().is_empty());
    }

    #[test]
    fn quits_show_their_reason() {
        let line = format!("{TAGGED} :alice!~a@h QUIT :connection reset");
        assert_eq!(
            show(&mut me(), &line).as_deref(),
            Some("[13:05:09] -- alice left (connection reset)")
        );
    }

    #[test]
    fn nick_changes_and_our_own_nick() {
        let mut model = me();
        assert_eq!(
            show(&mut model, ":alice!~a@h NICK :alicia").as_deref(),
            Some("[01:02:03] -- alice is now known as alicia")
        );
        assert_eq!(model.nick(), "bot");
        show(&mut model, ":bot!~b@h NICK robot");
        assert_eq!(model.nick(), "robot");
        // Our own private echo is recognised under the new nick.
        assert_eq!(
            show(&mut model, ":robot!~b@h PRIVMSG alice :hi").as_deref(),
            Some("[01:02:03] -> *alice* hi")
        );
    }

    #[test]
    fn topics_set_cleared_and_shown_on_join() {
        let mut model = me();
        show(&mut model, ":bot!~b@h JOIN #ops");
        assert_eq!(
            show(&mut model, ":srv 332 bot #ops :be nice").as_deref(),
            Some("[01:02:03] -- topic of #ops: be nice")
        );
        assert_eq!(
            show(&mut model, ":alice!~a@h TOPIC #ops :be kind").as_deref(),
            Some("[01:02:03] -- alice changed the topic of #ops to: be kind")
        );
        assert_eq!(model.rooms()[0].topic, "be kind");
        assert_eq!(
            show(&mut model, ":alice!~a@h TOPIC #ops :").as_deref(),
            Some("[01:02:03] -- alice cleared the topic of #ops")
        );
    }

    #[test]
    fn sasl_login_is_announced_like_the_text_login() {
        let line = ":srv 900 bot bot!~b@h bot :You are now logged in as bot";
        assert_eq!(
            show(&mut me(), line).as_deref(),
            Some("[01:02:03] -- you are now logged in as bot")
        );
    }

    #[test]
    fn numerics_and_protocol_chatter_are_not_lines() {
        let mut model = me();
        assert_eq!(show(&mut model, ":srv 001 bot :Welcome"), None);
        assert_eq!(show(&mut model, "PING :srv"), None);
        assert_eq!(show(&mut model, ":srv CAP bot ACK :server-time"), None);
        assert_eq!(model.nick(), "bot");
    }

    #[test]
    fn terminal_controls_from_irc_users_are_neutralised() {
        assert_eq!(
            show(&mut me(), ":eve!~e@h PRIVMSG #ops :\u{1b}[2Jgotcha").as_deref(),
            Some("[01:02:03] #ops <eve> \u{fffd}[2Jgotcha")
        );
    }

    #[test]
    fn scrollback_is_bounded() {
        let mut model = me();
        for i in 0..SCROLLBACK_LINES + 5 {
            show(&mut model, &format!(":alice!~a@h PRIVMSG #ops :{i}"));
        }
        assert_eq!(model.scrollback().count(), SCROLLBACK_LINES);
        assert_eq!(
            model.scrollback().next().map(|l| l.text.as_str()),
            Some("[01:02:03] #ops <alice> 5")
        );
    }
    #[test]
    fn members_follow_names_joins_parts_nicks_and_quits() {
        let mut model = Model::new("me");
        let members = |model: &Model| model.room("#ops").map(|room| room.members.clone());
        show(&mut model, ":me!~m@h JOIN #ops");
        show(&mut model, ":srv 353 me = #ops :me @alice +bob");
        assert_eq!(members(&model).unwrap(), ["me", "alice", "bob"]);
        show(&mut model, ":carol!~c@h JOIN #ops");
        show(&mut model, ":bob!~b@h PART #ops");
        let renamed = Message::parse(":alice!~a@h NICK alicia").unwrap();
        let line = model.apply(&renamed, NOW).unwrap();
        assert_eq!(
            line.rooms,
            ["#ops"],
            "the rooms alice was in, before the change"
        );
        assert_eq!(members(&model).unwrap(), ["me", "carol", "alicia"]);
        show(&mut model, ":carol!~c@h QUIT :bye");
        assert_eq!(members(&model).unwrap(), ["me", "alicia"]);
        show(&mut model, ":x!~x@h KICK #ops me :out");
        assert_eq!(members(&model), None, "kicked: no longer in the room");
    }

    #[test]
    fn refusals_are_error_numerics_and_fail_replies() {
        let parse = |line: &str| Message::parse(line).unwrap();
        let cannot_send = parse(":srv 404 me #ops :Cannot send to channel");
        let refused = refusal(&cannot_send).unwrap();
        assert_eq!(
            (refused.code, refused.subject, refused.reason),
            ("404", Some("#ops"), "Cannot send to channel")
        );
        assert_eq!(refused.line(), "! #ops: Cannot send to channel");
        let fail = parse(":srv FAIL CHATHISTORY MESSAGE_ERROR #ops :no");
        assert_eq!(refusal(&fail).unwrap().line(), "! no");
        assert_eq!(refusal(&parse(":srv 422 me :MOTD File is missing")), None);
        assert_eq!(
            refusal(&parse(":srv 366 me #ops :End of /NAMES list")),
            None
        );
        assert_eq!(refusal(&parse(":a!b@c PRIVMSG #ops :404")), None);
    }
}
