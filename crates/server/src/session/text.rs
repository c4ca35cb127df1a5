//! The text-protocol session: turns a client's lines into hub calls and the results into
//! reply lines.
//!
//! Intentionally single-threaded: only the connection's own read loop calls into a session, so
//! its fields (such as the current room) need no lock.

use std::sync::Arc;

use palaver_proto::event::MessageKind;
use palaver_proto::framing::Frame;
use palaver_proto::text::{self, Command, Input};
use palaver_proto::time::Timestamp;

use crate::hub::{Hub, HubError, Joined, LOBBY, Room, User};

/// Whether the connection goes on after a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The client asked to leave, with this reason for the others.
    Quit(String),
}

const HELP: &[&str] = &[
    "commands:",
    "  text without a slash          say it in your current room (start with // to say /…)",
    "  /nick NAME                    change your nick",
    "  /join #room                   join or create a room and talk there",
    "  /part [#room] [reason]        leave a room (default: the current one)",
    "  /msg NICK text                send a private message",
    "  /me action                    act in your current room",
    "  /who [#room]                  list who is in a room",
    "  /rooms                        list rooms with member counts and topics",
    "  /topic [#room] [text]         show or set a room's topic",
    "  /quit [reason]                leave the server",
    "  /help                         show this help",
];

pub struct TextSession {
    hub: Arc<Hub>,
    user: Arc<User>,
    /// Where plain text goes; `None` after parting every room.
    current_room: Option<Arc<Room>>,
    max_line_bytes: usize,
}

impl TextSession {
    /// Greets the new user and joins it to the lobby.
    pub fn start(hub: Arc<Hub>, user: Arc<User>, max_line_bytes: usize) -> Self {
        let mut session = Self {
            hub,
            user,
            current_room: None,
            max_line_bytes,
        };
        let nick = session.user.nick();
        session.notice(&[
            "welcome to palaver; you are ",
            &nick,
            " (/nick NAME to change it, /help for commands)",
        ]);
        session.join(LOBBY);
        session
    }

    pub fn user(&self) -> &Arc<User> {
        &self.user
    }

    /// Handles one frame from the client.
    pub fn handle(&mut self, frame: Frame) -> Flow {
        let line = match frame {
            Frame::Line(line) => line,
            Frame::TooLong => {
                let message = format!(
                    "line too long (max {} bytes); discarded",
                    self.max_line_bytes
                );
                self.error(&message);
                return Flow::Continue;
            }
        };
        match text::parse(&line) {
            Ok(Input::Blank) => Flow::Continue,
            Ok(Input::Say(text)) => {
                self.say(MessageKind::Say, text);
                Flow::Continue
            }
            Ok(Input::Command(command)) => self.run(command),
            Err(error) => {
                self.error(&error.to_string());
                Flow::Continue
            }
        }
    }

    fn run(&mut self, command: Command<'_>) -> Flow {
        match command {
            Command::Nick(nick) => {
                if let Err(error) = self.hub.rename(&self.user, nick) {
                    self.error(&error.to_string());
                }
            }
            Command::Join(room) => self.join(room),
            Command::Part { room, reason } => self.part(room, reason),
            Command::Msg { nick, text } => {
                if let Err(error) = self
                    .hub
                    .message_user(&self.user, nick, MessageKind::Say, text)
                {
                    self.error(&error.to_string());
                }
            }
            Command::Me(action) => self.say(MessageKind::Action, action),
            Command::Who(room) => self.who(room),
            Command::Rooms => self.list_rooms(),
            Command::Topic { room, text } => self.topic(room, text),
            Command::Quit(reason) => {
                self.notice(&["goodbye"]);
                return Flow::Quit(reason.unwrap_or("quit").to_owned());
            }
            Command::Help => {
                for line in HELP {
                    self.notice(&[line]);
                }
            }
        }
        Flow::Continue
    }

    fn say(&mut self, kind: MessageKind, text: &str) {
        let Some(room) = &self.current_room else {
            self.error("you are not in any room (try /join #lobby)");
            return;
        };
        if let Err(error) = self.hub.say(&self.user, room, kind, text) {
            self.error(&error.to_string());
        }
    }

    fn join(&mut self, name: &str) {
        match self.hub.join(&self.user, name) {
            Joined::New { room, topic } => {
                if let Some(topic) = topic {
                    self.notice(&["topic of ", room.name(), ": ", &topic]);
                }
                self.current_room = Some(room);
            }
            Joined::AlreadyMember(room) => {
                self.notice(&["now talking in ", room.name()]);
                self.current_room = Some(room);
            }
        }
    }

    fn part(&mut self, name: Option<&str>, reason: Option<&str>) {
        let Ok(room) = self.joined_room(name) else {
            return;
        };
        self.hub.part(&self.user, &room, reason);
        let was_current = self
            .current_room
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, &room));
        if was_current {
            self.current_room = self.user.rooms().pop();
            if let Some(next) = &self.current_room {
                let next = next.name().clone();
                self.notice(&["now talking in ", &next]);
            }
        }
    }

    fn who(&mut self, name: Option<&str>) {
        let room = match name {
            Some(name) => match self.hub.room(name) {
                Some(room) => room,
                None => return self.error(&HubError::NoSuchRoom(name.to_owned()).to_string()),
            },
            None => match &self.current_room {
                Some(room) => room.clone(),
                None => return self.error("you are not in any room; name one: /who #room"),
            },
        };
        let members = self.hub.members(&room);
        let count = members.len().to_string();
        let names = members.join(" ");
        self.notice(&["members of ", room.name(), " (", &count, "): ", &names]);
    }

    fn list_rooms(&mut self) {
        let rooms = self.hub.rooms();
        let count = rooms.len().to_string();
        self.notice(&[&count, if rooms.len() == 1 { " room" } else { " rooms" }]);
        for room in rooms {
            let members = room.members.to_string();
            let topic = room.topic.as_deref().unwrap_or("");
            let separator = if topic.is_empty() { "" } else { " " };
            self.notice(&[&room.name, " (", &members, ")", separator, topic]);
        }
    }

    fn topic(&mut self, name: Option<&str>, text: Option<&str>) {
        let room = match (name, text) {
            // Setting needs membership; showing works for any existing room.
            (_, Some(_)) => self.joined_room(name),
            (Some(name), None) => self
                .hub
                .room(name)
                .ok_or_else(|| self.error(&HubError::NoSuchRoom(name.to_owned()).to_string())),
            (None, None) => self.joined_room(None),
        };
        let Ok(room) = room else {
            return;
        };
        match text {
            Some(text) => {
                if let Err(error) = self.hub.set_topic(&self.user, &room, text) {
                    self.error(&error.to_string());
                }
            }
            None => match room.topic() {
                Some(topic) => self.notice(&["topic of ", room.name(), ": ", &topic]),
                None => self.notice(&[room.name(), " has no topic"]),
            },
        }
    }

    /// The named room if the user is in it, or the current room when `name` is `None`; on
    /// failure the client has already been told why.
    fn joined_room(&self, name: Option<&str>) -> Result<Arc<Room>, ()> {
        match name {
            Some(name) => self
                .user
                .room(&palaver_proto::names::fold(name))
                .ok_or_else(|| {
                    self.error(&HubError::NotInRoom(name.to_owned()).to_string());
                }),
            None => self.current_room.clone().ok_or_else(|| {
                self.error("you are not in any room");
            }),
        }
    }

    fn notice(&self, parts: &[&str]) {
        self.user
            .outbox
            .push(text::notice_line(Timestamp::now(), parts));
    }

    fn error(&self, message: &str) {
        self.user.outbox.push(text::error_line(message));
    }
}
