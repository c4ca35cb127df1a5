//! The text-protocol session: turns a client's lines into hub calls and the results into
//! reply lines.
//!
//! Intentionally single-threaded: only the connection's own read loop calls into a session, so
//! its fields (such as the current room) need no lock.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use palaver_proto::Wire;
use palaver_proto::event::{Event, MemberStatus, MessageKind};
use palaver_proto::framing::Frame;
use palaver_proto::irc::modes::split_status_target;
use palaver_proto::multiline::{Builder, MultilineError};
use palaver_proto::names::fold;
use palaver_proto::room_filter::RoomFilter;
use palaver_proto::text::{self, Command, Input, PasteLine};
use palaver_proto::time::Timestamp;

use super::certificates::{self, CertificateCommand};
use super::nick_guard::NickGuard;
use super::nick_guard::Verdict;
use super::redaction::{self, Place, RedactError, Redacted};
use super::reply_queue::{ReplyBuffer, ReplyQueue};
use super::server_bans;
use super::{Context, Flow, GHOSTED, Keep, Peer, Session, whole_seconds};
use crate::accounts::AccountError;
use crate::hub::{
    Alert, DEFAULT_KILL_REASON, EndedRoom, HubError, Interest, Joined, LOBBY, MAX_MONITORED,
    MonitorStatus, Protocol, Reclaim, Reclaimed, Room, Said, User,
};
use crate::network::Security;
use crate::outbox::Outbox;
use crate::store::{Commit, HistoryQuery};

/// Most messages `/history N` shows at once.
pub const HISTORY_MAX: usize = 500;
/// Messages `/history` shows without a count.
pub const HISTORY_DEFAULT: usize = 20;

const HELP: &[&str] = &[
    "commands:",
    "  text without a slash          say it in your current room (start with // to say /…)",
    "  /nick NAME                    change your nick",
    "  /join #room [key]             join or create a room and talk there",
    "  /part [#room] [reason]        leave a room (default: the current one)",
    "  /msg NICK text                send a private message",
    "  /msg @#room text              send to a room's operators (+#room: voiced members too)",
    "  /me action                    act in your current room",
    "  /who [#room]                  list who is in a room (@ marks operators)",
    "  /rooms [filters]              list rooms (filters: #name *mask* !*mask* >N <N members)",
    "  /topic [#room] [text]         show or set a room's topic",
    "  /quit [reason]                leave the server",
    "  /history [N]                  show the last N messages of your room (default 20)",
    "  /paste [#room|NICK]           send the lines that follow as one message, up to /end",
    "  /delete [reason]              delete your newest message in your room",
    "  /register PASSWORD [EMAIL]    register your nick as an account",
    "  /login NICK PASSWORD          log in to your account",
    "  /logout                       log out",
    "  /password OLD NEW             change your password (logs out your other sessions)",
    "  /regain [NICK]                take your account's nick back from whoever uses it",
    "  /cert add|del|list [FP]       TLS client certificates that log your account in",
    "  /register-room [#room]        register a room you run to your account",
    "  /monitor [NICK…]              be told when NICK comes online or goes offline",
    "  /unmonitor NICK…              stop monitoring NICK",
    "  /bot on|off                   mark yourself as a bot (or not) for IRC users",
    "  /oper NAME PASSWORD           become a server operator",
    "  /kill NICK [reason]           disconnect a user (server operators)",
    "  /wallops text                 message every server operator (server operators)",
    "  /ban [DURATION] TARGET [why]  ban an address/range, user@host mask or $a:account from",
    "                                the server, for minutes or 12h, 7d… (server operators)",
    "  /unban TARGET                 lift a server ban (server operators)",
    "  /bans                         list the server bans (server operators)",
    "  /help                         show this help",
];

/// The settings a text session reads.
struct TextSettings {
    max_line_bytes: usize,
    /// How long a partial line may sit before it counts as complete.
    idle_flush: Option<std::time::Duration>,
    /// Messages replayed when joining a room.
    history_on_join: usize,
    /// Grace period before a user on someone's registered nick is renamed.
    nick_grace: std::time::Duration,
}

/// Why a text client that never said anything is disconnected.
const SILENT_TOO_LONG: &str = "registration timed out";

pub struct TextSession {
    /// The server's shared state and settings, as they were when the connection started
    /// (shared by connections, so a handle costs 8 bytes of each session).
    context: Arc<Context>,
    user: Arc<User>,
    settings: TextSettings,
    /// Where plain text goes; `None` after leaving every room.
    current_room: Option<Arc<Room>>,
    /// Replies to the line being handled, counted against the send queue as they are made.
    replies: ReplyBuffer,
    /// Commits the line being handled made; its replies wait for them.
    commits: Vec<Commit>,
    /// Replies of the lines handled since the last flush, in order.
    queue: ReplyQueue,
    /// Renames the user if it keeps a registered nick without logging in.
    nick_guard: NickGuard,
    /// Until the client sends its first line: when it is disconnected for staying silent.
    silent_deadline: Option<tokio::time::Instant>,
    /// Rooms whose lifetime the line being handled ended, whose history the store forgets
    /// before the line's replies go out.
    ended_rooms: Vec<EndedRoom>,
    /// The message of several lines being pasted, between `/paste` and `/end`.
    paste: Option<Paste>,
    /// Whether the line being handled deleted a message (its commit is a deletion's), for the
    /// reply if the commit fails.
    deleting: bool,
}

/// A message of several lines being pasted: every line the client sends is one of its lines
/// until `/end` sends it or `/cancel` drops it.
struct Paste {
    /// A room (by name) or a nick.
    target: String,
    lines: Builder,
    /// Set once a line broke a limit: the paste will not be sent, and later lines are
    /// dropped.
    refused: Option<MultilineError>,
}

impl TextSession {
    /// Greets the new user and joins it to the lobby.
    async fn greet(&mut self) {
        self.replies.outbox().hold();
        let nick = self.user.nick();
        self.notice(&[
            "welcome to palaver; you are ",
            &nick,
            " (/nick NAME to change it, /help for commands)",
        ]);
        self.join(LOBBY, None).await;
        self.end_command();
        self.flush().await;
    }

    /// Moves the finished command's replies into the queue, behind its commits.
    fn end_command(&mut self) {
        let replies = self.replies.take();
        let commits = std::mem::take(&mut self.commits);
        let deleting = std::mem::take(&mut self.deleting);
        self.queue.push_after(replies, commits, move |error| {
            text::error_line(&if deleting {
                format!(
                    "your message could not be deleted ({error}); others may have been told it was"
                )
            } else {
                format!("your message could not be saved ({error}); others may have seen it")
            })
        });
    }

    async fn handle_frame(&mut self, frame: Frame) -> Flow {
        let line = match frame {
            Frame::Line(line) => line,
            Frame::TooLong => {
                let message = format!(
                    "line too long (max {} bytes); discarded",
                    self.settings.max_line_bytes
                );
                self.error(&message);
                return Flow::Continue;
            }
        };
        if self.paste.is_some() {
            self.paste_line(&line).await;
            return Flow::Continue;
        }
        match text::parse(&line) {
            Ok(Input::Blank) => Flow::Continue,
            Ok(Input::Say(text)) => {
                self.say(MessageKind::Say, text).await;
                Flow::Continue
            }
            Ok(Input::Command(command)) => self.run(command).await,
            Err(error) => {
                self.error(&error.to_string());
                Flow::Continue
            }
        }
    }

    async fn run(&mut self, command: Command<'_>) -> Flow {
        if !self.context.hub.link_is_up() && needs_network(&command) {
            self.refuse_while_link_down(&command);
            return Flow::Continue;
        }
        match command {
            Command::Nick(nick) => self.change_nick(nick).await,
            Command::Join { room, key } => self.join(room, key).await,
            Command::Part { room, reason } => self.part(room, reason).await,
            Command::Msg { nick, text } => match split_status_target(nick) {
                Some((minimum, room)) => self.say_to_status(minimum, room, text).await,
                None => self.message_user(nick, text).await,
            },
            Command::Me(action) => self.say(MessageKind::Action, action).await,
            Command::Who(room) => self.who(room),
            Command::Rooms(filters) => self.list_rooms(filters),
            Command::Topic { room, text } => self.topic(room, text).await,
            Command::Quit(reason) => {
                self.notice(&["goodbye"]);
                return Flow::Quit(reason.unwrap_or("quit").to_owned());
            }
            Command::Help => {
                for line in HELP {
                    self.notice(&[line]);
                }
            }
            Command::Register { password, email } => self.register(password, email).await,
            Command::Login { nick, password } => self.login(nick, password).await,
            Command::Logout => match self.user.identity().account.clone() {
                Some(_) => {
                    self.context.network.set_account(&self.user, None).await;
                    self.notice(&["you are now logged out"]);
                    self.guard_nick().await;
                }
                None => self.error("you are not logged in"),
            },
            Command::Password { old, new } => self.change_password(old, new).await,
            Command::Regain(nick) => self.regain(nick).await,
            Command::Cert(words) => self.certificates(&words).await,
            Command::RegisterRoom(name) => self.register_room(name).await,
            Command::Monitor(nicks) if nicks.is_empty() => self.show_monitored(),
            Command::Monitor(nicks) => self.monitor(&nicks),
            Command::Unmonitor(nicks) => {
                self.context.hub.unmonitor(&self.user, &nicks);
                self.notice(&["no longer monitoring ", &nicks.join(" ")]);
            }
            Command::Bot(bot) => {
                self.context.network.set_bot(&self.user, bot).await;
                self.notice(&[if bot {
                    "you are now marked as a bot"
                } else {
                    "you are no longer marked as a bot"
                }]);
            }
            Command::Oper { name, password } => self.oper(name, password).await,
            Command::Kill { nick, reason } => {
                let reason = reason.unwrap_or(DEFAULT_KILL_REASON);
                match self.context.network.kill(&self.user, nick, reason).await {
                    Ok(victim) => self.notice(&["you killed ", &victim.nick(), " (", reason, ")"]),
                    Err(error) => self.error(&error.to_string()),
                }
            }
            Command::Wallops(text) => match self.context.network.wallops(&self.user, text).await {
                Ok(own_copy) => {
                    if let Some(event) = own_copy {
                        self.own_copy(&event);
                    }
                }
                Err(error) => self.error(&error.to_string()),
            },
            Command::Ban(words) => {
                let words: Vec<&str> = words.split(' ').filter(|w| !w.is_empty()).collect();
                let answer = match server_bans::parse_request(&words) {
                    Ok(request) => {
                        server_bans::add(
                            &self.context.network,
                            &self.context.store,
                            &self.user,
                            request,
                        )
                        .await
                    }
                    Err(error) => Err(error),
                };
                self.answer(answer);
            }
            Command::Unban(target) => {
                let answer = match target.parse() {
                    Ok(target) => {
                        server_bans::remove(
                            &self.context.network,
                            &self.context.store,
                            &self.user,
                            &target,
                        )
                        .await
                    }
                    Err(error) => Err(error),
                };
                self.answer(answer);
            }
            Command::Bans if !self.user.is_operator() => {
                self.error(&HubError::NeedServerOperator.to_string());
            }
            Command::Bans => {
                let bans = self.context.hub.server_bans();
                let count = bans.len();
                let unit = if count == 1 {
                    " server ban"
                } else {
                    " server bans"
                };
                self.notice(&[&count.to_string(), unit]);
                for ban in &bans {
                    self.notice(&["  ", &server_bans::describe(ban)]);
                }
            }
            Command::Paste(target) => self.start_paste(target),
            Command::PasteEnd => self.error("you are not pasting (/paste starts)"),
            Command::Delete(reason) => self.delete(reason).await,
            Command::History(count) => {
                let count = count.unwrap_or(HISTORY_DEFAULT).min(HISTORY_MAX);
                match self.current_room() {
                    Some(room) => {
                        if !self.replay(&room, count).await {
                            self.notice(&[room.name(), " has no history"]);
                        }
                    }
                    None => self.error("you are not in any room"),
                }
            }
        }
        Flow::Continue
    }

    async fn say(&mut self, kind: MessageKind, text: &str) {
        let Some(room) = self.current_room() else {
            self.error("you are not in any room (try /join #lobby)");
            return;
        };
        let result = self
            .context
            .network
            .say(&self.user, &room, &Said::plain(kind, text))
            .await;
        self.persisted_copy_or_error(result, None).await;
    }

    /// `/msg NICK text`: a private message; its receipt waits for the store.
    async fn message_user(&mut self, nick: &str, text: &str) {
        let result = self
            .context
            .network
            .message_user(&self.user, nick, &Said::plain(MessageKind::Say, text))
            .await;
        match result {
            Ok((event, recipient)) => {
                self.persisted_copy_or_error(Ok(event), Some(&recipient))
                    .await;
            }
            Err(error) => self.persisted_copy_or_error(Err(error), None).await,
        }
    }

    /// `/msg @#room text` (or `+#room`): a status message, to the room's members with at least
    /// the status `minimum`. Not kept in history, so its receipt comes at once.
    async fn say_to_status(&mut self, minimum: MemberStatus, name: &str, text: &str) {
        let Some(room) = self.context.hub.room(name) else {
            return self.error(&HubError::NoSuchRoom(name.to_owned()).to_string());
        };
        let result = self
            .context
            .network
            .say_to_status(
                &self.user,
                &room,
                minimum,
                &Said::plain(MessageKind::Say, text),
            )
            .await;
        self.persisted_copy_or_error(result, None).await;
    }

    /// `/monitor NICK…`: adds the nicks to the user's monitor list and says where each stands.
    fn monitor(&mut self, nicks: &[&str]) {
        let status = self.context.hub.monitor(&self.user, nicks);
        self.monitor_status(&status);
        if !status.refused.is_empty() {
            self.error(&format!(
                "your monitor list is full ({MAX_MONITORED} nicks); not added: {}",
                status.refused.join(" ")
            ));
        }
    }

    /// `/monitor`: every monitored nick and where it stands.
    fn show_monitored(&mut self) {
        let status = self.context.hub.monitor_status(&self.user);
        let count = status.online.len() + status.offline.len();
        if count == 0 {
            return self.notice(&[
                "you monitor no nicks (/monitor NICK to be told when NICK comes and goes)",
            ]);
        }
        let unit = if count == 1 { " nick:" } else { " nicks:" };
        self.notice(&["you monitor ", &count.to_string(), unit]);
        self.monitor_status(&status);
    }

    /// `-- alice is online` / `-- bob is offline`, the lines that also tell of changes.
    fn monitor_status(&mut self, status: &MonitorStatus) {
        for who in &status.online {
            self.notice(&[&who.nick, " is online"]);
        }
        for nick in &status.offline {
            self.notice(&[nick, " is offline"]);
        }
    }

    /// `/paste [#room|NICK]`: the lines that follow are one message to the room or nick (the
    /// current room by default), sent by `/end`.
    fn start_paste(&mut self, target: Option<&str>) {
        let target = match target {
            Some(target) => target.to_owned(),
            None => match self.current_room() {
                Some(room) => room.name().to_string(),
                None => return self.error("you are not in any room (try /join #lobby)"),
            },
        };
        self.notice(&[
            "pasting to ",
            &target,
            ": each line you send now is a line of one message; /end sends it, /cancel drops it",
        ]);
        self.paste = Some(Paste {
            target,
            lines: Builder::default(),
            refused: None,
        });
    }

    /// A line sent while pasting: a line of the message, or its end.
    async fn paste_line(&mut self, line: &[u8]) {
        let Some(paste) = self.paste.as_mut() else {
            return;
        };
        match text::parse_paste_line(line) {
            Ok(PasteLine::Line(line)) => {
                if paste.refused.is_none()
                    && let Err(error) = paste.lines.push(line, false)
                {
                    paste.refused = Some(error);
                    self.error(&format!(
                        "{error}: this paste will not be sent (/cancel to stop pasting)"
                    ));
                }
            }
            Ok(PasteLine::Cancel) => {
                self.paste = None;
                self.notice(&["paste dropped"]);
            }
            Ok(PasteLine::End) => {
                let paste = self.paste.take().expect("pasting");
                self.send_paste(paste).await;
            }
            Err(error) => self.error(&error.to_string()),
        }
    }

    /// Sends a finished paste as one message.
    async fn send_paste(&mut self, paste: Paste) {
        let built = match paste.refused {
            Some(error) => Err(error),
            None => paste.lines.finish(),
        };
        let (text, concat_at) = match built {
            Ok(message) => message,
            Err(error) => return self.error(&format!("nothing was sent: {error}")),
        };
        let said = Said {
            concat_at: &concat_at,
            ..Said::plain(MessageKind::Say, &text)
        };
        if paste.target.starts_with('#') {
            let Ok(room) = self.joined_room(Some(&paste.target)) else {
                return;
            };
            let result = self.context.network.say(&self.user, &room, &said).await;
            self.persisted_copy_or_error(result, None).await;
        } else {
            let result = self
                .context
                .network
                .message_user(&self.user, &paste.target, &said)
                .await;
            match result {
                Ok((event, recipient)) => {
                    self.persisted_copy_or_error(Ok(event), Some(&recipient))
                        .await
                }
                Err(error) => self.persisted_copy_or_error(Err(error), None).await,
            }
        }
    }

    /// `/delete [reason]`: deletes the user's newest message still in the current room's
    /// history (sent from this connection, or while logged in to its account).
    async fn delete(&mut self, reason: Option<&str>) {
        let Some(room) = self.current_room() else {
            return self.error("you are not in any room");
        };
        let found = self
            .context
            .store
            .newest_by(
                room.name(),
                room.history_floor(),
                self.user.reader_parties(),
            )
            .await;
        let message = match found {
            Ok(Some(message)) => message,
            Ok(None) => {
                return self.error(&format!(
                    "you have no message in the history of {} to delete",
                    room.name()
                ));
            }
            Err(error) => return self.error(&format!("history is unavailable ({error})")),
        };
        let place = Place::Room(room);
        let result = redaction::redact_found(
            &self.context.network,
            &self.context.store,
            &self.user,
            &place,
            &message,
            reason,
        )
        .await;
        match result {
            Ok(Redacted { event, commit }) => {
                self.own_copy(&event);
                self.commits.push(commit);
                self.deleting = true;
            }
            Err(RedactError::UnknownMessage) => self.error("that message is gone already"),
            Err(RedactError::Refused(error)) => self.error(&error.to_string()),
            Err(RedactError::Store(error)) => {
                self.error(&format!("the message could not be deleted ({error})"))
            }
        }
    }

    /// `/register PASSWORD [EMAIL]`: registers the current nick and logs in.
    async fn register(&mut self, password: &str, email: Option<&str>) {
        if let Some(account) = self.user.identity().account.clone() {
            return self.error(&format!("you are already logged in as {account}"));
        }
        let nick = self.user.nick();
        match self
            .context
            .accounts
            .register_with_email(&nick, password, email, Some(self.user.peer.ip()))
            .await
        {
            Ok(account) => {
                self.context
                    .network
                    .set_account(&self.user, Some(&account))
                    .await;
                self.notice(&["account ", &account, " registered; you are logged in"]);
            }
            Err(error) => self.error(&error.to_string()),
        }
    }

    /// `/nick NAME`, unless the connection's grace period is over and NAME belongs to an
    /// account it is not logged in to.
    async fn change_nick(&mut self, nick: &str) {
        if self
            .nick_guard
            .refuses(&self.context.accounts, &self.user, nick)
            .await
        {
            return self.error(&format!(
                "nick {nick} is registered; log in first (/login {nick} PASSWORD)"
            ));
        }
        let result = self.context.network.rename(&self.user, nick).await;
        let renamed = result.is_ok();
        self.own_copy_or_error(result);
        if renamed {
            self.guard_nick().await;
        }
    }

    /// `/login NICK PASSWORD`: logs in, moves anyone not logged in to the account off its
    /// nick, and takes the nick if it is then free.
    async fn login(&mut self, nick: &str, password: &str) {
        if let Some(account) = self.user.identity().account.clone() {
            return self.error(&format!(
                "you are already logged in as {account} (/logout first)"
            ));
        }
        let address = self.user.peer.ip();
        let (account, stamp) = match self
            .context
            .accounts
            .login_stamped(nick, password, address)
            .await
        {
            Ok(login) => login,
            Err(error) => return self.error(&error.to_string()),
        };
        self.context
            .network
            .set_account(&self.user, Some(&account))
            .await;
        if let Err(error) = self.context.accounts.confirm(&account, stamp).await {
            // The password changed, or the account was locked, while this login was being
            // checked.
            self.context.network.set_account(&self.user, None).await;
            return self.error(&error.to_string());
        }
        // The owner is here: a squatter's grace ends now (a session of the account keeps it).
        if let Err(error) = self
            .context
            .network
            .reclaim_nick(&self.user, &account, Reclaim::FromSquatter)
            .await
        {
            self.error(&error.to_string());
        }
        if *self.user.nick() != *account
            && self.context.hub.nick_available(&account, Some(&self.user))
        {
            let result = self.context.network.rename(&self.user, &account).await;
            self.own_copy_or_error(result);
        }
        self.notice(&["you are now logged in as ", &account]);
        self.guard_nick().await;
    }

    /// `/regain [NICK]`: takes the logged-in account's nick from whoever holds it (they are
    /// renamed to a guest nick).
    async fn regain(&mut self, nick: Option<&str>) {
        let Some(account) = self.user.identity().account.clone() else {
            return self.error(&HubError::NeedAccount.to_string());
        };
        if let Some(nick) = nick
            && fold(nick) != fold(&account)
        {
            return self.error(&format!("{nick} is not your account's nick ({account})"));
        }
        match self
            .context
            .network
            .reclaim_nick(&self.user, &account, Reclaim::Take)
            .await
        {
            Ok(Reclaimed::AlreadyHeld) => {
                self.error(&format!("you already have the nick {account}"))
            }
            Ok(Reclaimed::Done { own_copy, .. }) => {
                if let Some(event) = own_copy {
                    self.own_copy(&event);
                }
                self.notice(&["you regained the nick ", &account]);
                self.guard_nick().await;
            }
            Ok(Reclaimed::HeldByAccount) => {}
            Err(error) => self.error(&error.to_string()),
        }
    }

    /// Acts on the nick guard's verdict about the user's current nick and login: a warning,
    /// or a rename to a guest nick once the connection's grace period is over.
    async fn guard_nick(&mut self) {
        match self
            .nick_guard
            .check(&self.context.accounts, &self.user)
            .await
        {
            Verdict::Fine => {}
            Verdict::Warn(left) => {
                let nick = self.user.nick();
                let seconds = whole_seconds(left);
                let unit = if seconds == 1 { " second" } else { " seconds" };
                self.notice(&[
                    "nick ",
                    &nick,
                    " is registered; log in with /login ",
                    &nick,
                    " PASSWORD within ",
                    &seconds.to_string(),
                    unit,
                    " or you will be renamed",
                ]);
            }
            Verdict::RenameNow => self.rename_off_registered_nick().await,
        }
    }

    /// Moves the user off the registered nick it holds without being logged in to it.
    async fn rename_off_registered_nick(&mut self) {
        let nick = self.user.nick();
        let event = match self.context.network.rename_to_guest(&self.user).await {
            Ok(event) => event,
            // A cluster that cannot be reached: should that last, the node is fenced and its
            // users disconnected (docs/CLUSTER.md, "Partition between a node and Redis").
            Err(error) => return self.error(&error.to_string()),
        };
        self.own_copy(&event);
        self.notice(&[
            "you were renamed: ",
            &nick,
            " belongs to a registered account",
        ]);
        // The guard must know the user left the nick (a guest nick is never registered).
        self.nick_guard
            .check(&self.context.accounts, &self.user)
            .await;
    }

    /// `/register-room [#room]`: makes the logged-in operator's account the room's founder;
    /// its topic and modes then survive restarts.
    async fn register_room(&mut self, name: Option<&str>) {
        let Ok(room) = self.joined_room(name) else {
            return;
        };
        let record = match self.context.hub.room_registration(&self.user, &room) {
            Ok(record) => record,
            Err(error) => return self.error(&error.to_string()),
        };
        let founder = record.founder.clone();
        match self.context.store.register_room(record.clone()).await {
            Ok(true) => {
                self.context
                    .network
                    .mark_registered(&self.user, &room, record)
                    .await;
                self.notice(&[room.name(), " is now registered to ", &founder]);
            }
            Ok(false) => self.error(&format!("{} is already registered", room.name())),
            Err(error) => self.error(&format!(
                "{} could not be registered ({error})",
                room.name()
            )),
        }
    }

    /// `/oper NAME PASSWORD`: becomes a server operator if the operator entry NAME has that
    /// password. A text operator hears every `WALLOPS` (the text protocol has no user modes to
    /// ask for them with).
    async fn oper(&mut self, name: &str, password: &str) {
        let address = self.user.peer.ip();
        match self.context.operators.check(name, password, address).await {
            Ok(entry) => {
                self.context
                    .network
                    .set_operator(&self.user, Some(entry))
                    .await;
                let wallops = [Interest::Wallops].into_iter().collect();
                self.user.set_delivery(Wire::Text, wallops);
                self.notice(&["you are now a server operator"]);
            }
            Err(AccountError::BadCredentials) => self.error("wrong operator name or password"),
            Err(AccountError::RateLimited { seconds }) => self.error(&format!(
                "too many failed attempts; try again in {seconds} seconds"
            )),
            Err(error) => self.error(&error.to_string()),
        }
    }

    /// `/cert add [FINGERPRINT]`, `/cert del FINGERPRINT`, `/cert list` for the logged-in
    /// account.
    async fn certificates(&mut self, words: &[&str]) {
        let Some(account) = self.user.identity().account.clone() else {
            return self.error("you are not logged in");
        };
        let Some(command) = CertificateCommand::parse(words) else {
            return self
                .error("usage: /cert add [FINGERPRINT] | /cert del FINGERPRINT | /cert list");
        };
        let fingerprint = self.user.certificate_fingerprint().map(str::to_owned);
        let lines = certificates::run(
            &self.context.store,
            &account,
            fingerprint.as_deref(),
            command,
        )
        .await;
        for line in lines {
            self.notice(&[&line]);
        }
    }

    /// `/password OLD NEW` for the logged-in account.
    async fn change_password(&mut self, old: &str, new: &str) {
        let Some(account) = self.user.identity().account.clone() else {
            return self.error("you are not logged in");
        };
        let address = self.user.peer.ip();
        match self
            .context
            .accounts
            .change_password(&account, old, new, address)
            .await
        {
            Ok(()) => {
                let others = self
                    .context
                    .network
                    .log_out_other_sessions(&account, &self.user, Alert::LoggedOut)
                    .await;
                match others {
                    0 => self.notice(&["password changed"]),
                    1 => self.notice(&["password changed; your other session was logged out"]),
                    _ => self.notice(&[
                        "password changed; your ",
                        &others.to_string(),
                        " other sessions were logged out",
                    ]),
                }
            }
            Err(error) => self.error(&error.to_string()),
        }
    }

    /// Stores a message the user sent (to `recipient`, if private); its receipt waits for the
    /// commit.
    async fn persisted_copy_or_error(
        &mut self,
        result: Result<Event, HubError>,
        recipient: Option<&User>,
    ) {
        let event = match result {
            Ok(event) => event,
            Err(error) => return self.error(&error.to_string()),
        };
        if let Some(message) = self
            .context
            .network
            .left_to_store(&event, &self.user, recipient)
        {
            match self.context.store.append(message).await {
                Ok(commit) => self.commits.push(commit),
                Err(error) => {
                    return self.error(&format!(
                        "your message could not be saved ({error}); others may have seen it"
                    ));
                }
            }
        }
        self.own_copy(&event);
    }

    /// Shows the last `count` messages of `room`'s current lifetime, with their original
    /// times, framed by `-- history` and `-- end of history`; nothing when the room has no
    /// history. Returns whether there was any.
    async fn replay(&mut self, room: &Room, count: usize) -> bool {
        let query = HistoryQuery::room(room.name().as_ref(), room.history_floor());
        match self.context.store.latest(query, count).await {
            Ok(messages) if messages.is_empty() => false,
            Ok(messages) => {
                let lines: Vec<Bytes> = messages
                    .iter()
                    .filter_map(|message| text::render_event(&message.to_event()))
                    .collect();
                let sizes: Vec<usize> = lines.iter().map(Bytes::len).collect();
                let budget = super::history_budget(self.replies.outbox());
                let kept = super::fitting(&sizes, budget, Keep::Newest);
                self.notice(&["history"]);
                if kept.start > 0 {
                    let left_out = kept.start.to_string();
                    self.notice(&[
                        &left_out,
                        " older messages left out: they would not fit in your send queue",
                    ]);
                }
                for line in &lines[kept] {
                    self.replies.push(line.clone());
                }
                self.notice(&["end of history"]);
                true
            }
            Err(error) => {
                self.error(&format!("history is unavailable ({error})"));
                true
            }
        }
    }

    async fn join(&mut self, name: &str, key: Option<&str>) {
        match self.context.network.join(&self.user, name, key).await {
            Ok(Joined::New { room, event, topic }) => {
                self.own_copy(&event);
                if let Some(topic) = topic {
                    self.notice(&["topic of ", room.name(), ": ", &topic.text]);
                }
                if self.settings.history_on_join > 0 {
                    self.replay(&room, self.settings.history_on_join).await;
                }
                self.current_room = Some(room);
            }
            Ok(Joined::AlreadyMember(room)) => {
                self.notice(&["now talking in ", room.name()]);
                self.current_room = Some(room);
            }
            Err(error) => self.error(&error.to_string()),
        }
    }

    async fn part(&mut self, name: Option<&str>, reason: Option<&str>) {
        let Ok(room) = self.joined_room(name) else {
            return;
        };
        match self.context.network.part(&self.user, &room, reason).await {
            Ok(departure) => {
                self.own_copy(&departure.event);
                self.ended_rooms.extend(departure.ended);
            }
            Err(error) => self.error(&error.to_string()),
        }
        if self
            .current_room
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, &room))
        {
            self.current_room = None;
            // Announces the new current room, if any.
            self.current_room();
        }
    }

    /// `/who [#room]`: the members the user may see (see `hub::visibility`); a secret room it
    /// is not in is answered as one that does not exist.
    fn who(&mut self, name: Option<&str>) {
        let (room, asked) = match name {
            Some(name) => (self.context.hub.room(name), name.to_owned()),
            None => match self.current_room() {
                Some(room) => (Some(room.clone()), room.name().to_string()),
                None => return self.error("you are not in any room; name one: /who #room"),
            },
        };
        let Some(info) = room.and_then(|room| self.context.hub.room_view(&self.user, &room)) else {
            return self.error(&HubError::NoSuchRoom(asked).to_string());
        };
        let count = info.members.len().to_string();
        let names: Vec<String> = info
            .members
            .iter()
            .map(|member| {
                let prefix = if member.op { "@" } else { "" };
                format!("{prefix}{}", member.identity.nick)
            })
            .collect();
        self.notice(&[
            "members of ",
            &info.name,
            " (",
            &count,
            "): ",
            &names.join(" "),
        ]);
    }

    /// `/rooms [filter…]`: the rooms the user may see that pass the filters, the same as IRC
    /// `LIST` takes.
    fn list_rooms(&mut self, filters: &str) {
        let filter = RoomFilter::parse(filters.split([' ', ',']));
        let rooms = self.context.hub.rooms_matching(&self.user, &filter);
        let count = rooms.len().to_string();
        self.notice(&[&count, if rooms.len() == 1 { " room" } else { " rooms" }]);
        for room in rooms {
            let members = room.members.to_string();
            let topic = room.topic.as_deref().unwrap_or("");
            let separator = if topic.is_empty() { "" } else { " " };
            self.notice(&[&room.name, " (", &members, ")", separator, topic]);
        }
    }

    async fn topic(&mut self, name: Option<&str>, text: Option<&str>) {
        let room = match (name, text) {
            // Setting needs membership; showing works for any existing room.
            (_, Some(_)) => self.joined_room(name),
            // A secret room the user is not in is answered as one that does not exist.
            (Some(name), None) => self
                .context
                .hub
                .visible_room(&self.user, name)
                .ok_or_else(|| self.error(&HubError::NoSuchRoom(name.to_owned()).to_string())),
            (None, None) => self.joined_room(None),
        };
        let Ok(room) = room else {
            return;
        };
        match text {
            Some(text) => {
                let result = self
                    .context
                    .network
                    .set_topic(&self.user, &room, text)
                    .await;
                let changed = result.is_ok();
                self.own_copy_or_error(result);
                if changed {
                    super::save_room(&self.context.hub, &self.context.store, &room).await;
                }
            }
            None => match room.topic() {
                Some(topic) => self.notice(&["topic of ", room.name(), ": ", &topic.text]),
                None => self.notice(&[room.name(), " has no topic"]),
            },
        }
    }

    /// The current room, if the user is still in it. After a kick, the most recently joined
    /// remaining room becomes current, and the client is told.
    fn current_room(&mut self) -> Option<Arc<Room>> {
        if let Some(room) = &self.current_room
            && self
                .user
                .room(room.key())
                .is_some_and(|joined| Arc::ptr_eq(&joined, room))
        {
            return Some(room.clone());
        }
        self.current_room = self.user.rooms().pop();
        let room = self.current_room.clone()?;
        self.notice(&["now talking in ", room.name()]);
        Some(room)
    }

    /// The named room if the user is in it, or the current room when `name` is `None`; on
    /// failure the client has already been told why.
    fn joined_room(&mut self, name: Option<&str>) -> Result<Arc<Room>, ()> {
        match name {
            Some(name) => self.user.room(&fold(name)).ok_or_else(|| {
                self.error(&HubError::NotInRoom(name.to_owned()).to_string());
            }),
            None => self.current_room().ok_or_else(|| {
                self.error("you are not in any room");
            }),
        }
    }

    fn own_copy_or_error(&mut self, result: Result<Event, HubError>) {
        match result {
            Ok(event) => self.own_copy(&event),
            Err(error) => self.error(&error.to_string()),
        }
    }

    fn own_copy(&mut self, event: &Event) {
        if let Some(line) = text::render_own_copy(event) {
            self.replies.push(line);
        }
    }

    fn notice(&mut self, parts: &[&str]) {
        self.replies
            .push(text::notice_line(Timestamp::now(), parts));
    }

    fn error(&mut self, message: &str) {
        self.replies.push(text::error_line(message));
    }

    /// An answer as a notice (`-- …`), or an error (`! …`).
    fn answer(&mut self, answer: Result<String, String>) {
        match answer {
            Ok(text) => self.notice(&[&text]),
            Err(error) => self.error(&error),
        }
    }
}

/// Why a command is refused while this server's link to the rest of the network is down.
const LINK_DOWN: &str = "this server has lost its link to the rest of the network";

/// Whether `command` changes what the network shares, or reads what only it holds (history):
/// refused while this server's link is down (docs/CLUSTER.md, "Partition between a node and
/// Redis"). Messages are not among them: the hub refuses those (`HubError::LinkDown`).
fn needs_network(command: &Command<'_>) -> bool {
    match command {
        Command::Topic { text, .. } => text.is_some(),
        Command::Nick(_)
        | Command::Join { .. }
        | Command::Part { .. }
        | Command::History(_)
        | Command::Register { .. }
        | Command::Login { .. }
        | Command::Password { .. }
        | Command::RegisterRoom(_)
        | Command::Regain(_)
        | Command::Kill { .. }
        | Command::Ban(_)
        | Command::Unban(_)
        | Command::Delete(_)
        | Command::Cert(_) => true,
        _ => false,
    }
}

impl TextSession {
    /// Answers a command refused while the link is down, in the words its own refusals use.
    fn refuse_while_link_down(&mut self, command: &Command<'_>) {
        self.context.hub.count_link_refusal();
        let text = match command {
            Command::Join { room, .. } => format!("cannot join {room} ({LINK_DOWN})"),
            Command::Nick(_) => format!("cannot change nick ({LINK_DOWN})"),
            Command::History(_) => format!("history is unavailable ({LINK_DOWN})"),
            _ => format!("not done: {LINK_DOWN}; try again in a moment"),
        };
        self.error(&text);
    }
}

impl Session for TextSession {
    const PROTOCOL: Protocol = Protocol::Text;

    /// Registers the connection under a guest nick at once (the text protocol has no
    /// registration), greets it and joins it to the lobby.
    async fn start(
        context: &Arc<Context>,
        peer: Peer,
        host: String,
        outbox: Arc<Outbox>,
    ) -> Result<Self, Bytes> {
        let user = context
            .network
            .connect_guest(
                peer.address,
                &host,
                Self::PROTOCOL,
                outbox.clone(),
                Security::of(peer.tls, peer.certificate_fingerprint.as_deref()),
            )
            .await
            .map_err(|error| text::error_line(&format!("disconnected: {error}")))?;
        // Text users see every deletion in their rooms (there is no capability to ask).
        user.set_delivery(Wire::Text, [Interest::Redactions].into_iter().collect());
        // A server ban on the address or the mask: the session tells the client and ends
        // once the read loop takes the alert, before the client's first line.
        if let Some(ban) = context.hub.ban_on(&user) {
            context.network.enforce_ban(&user, &ban).await;
        }
        let settings = TextSettings {
            max_line_bytes: context.limits.max_line_bytes,
            idle_flush: context.idle_flush,
            history_on_join: context.history_on_join,
            nick_grace: context.nick_grace,
        };
        let mut session = Self {
            context: context.clone(),
            replies: ReplyBuffer::new(outbox),
            user,
            current_room: None,
            commits: Vec::new(),
            queue: ReplyQueue::default(),
            nick_guard: NickGuard::new(settings.nick_grace),
            silent_deadline: context
                .text_registration_timeout
                .map(|timeout| tokio::time::Instant::now() + timeout),
            ended_rooms: Vec::new(),
            paste: None,
            deleting: false,
            settings,
        };
        session.greet().await;
        Ok(session)
    }

    fn max_line_bytes(&self) -> usize {
        self.settings.max_line_bytes
    }

    /// Listings and pages of history cost five lines of the flood budget (as on IRC, see
    /// `irc/cost.rs`); everything else one.
    fn cost(&self, frame: &Frame) -> u32 {
        let Frame::Line(line) = frame else {
            return 1;
        };
        let command = line.split(|&byte| byte == b' ').next().unwrap_or_default();
        let listing = [&b"/who"[..], b"/rooms", b"/list", b"/history"]
            .iter()
            .any(|name| command.eq_ignore_ascii_case(name));
        if listing { 5 } else { 1 }
    }

    /// Tutorial clients send a message without a newline and wait for the answer.
    fn idle_flush(&self) -> Option<std::time::Duration> {
        self.settings.idle_flush
    }

    async fn handle(&mut self, frame: Frame) -> Flow {
        self.silent_deadline = None;
        self.replies.outbox().hold();
        let flow = self.handle_frame(frame).await;
        let ended = std::mem::take(&mut self.ended_rooms);
        super::forget_ended_rooms(&self.context.store, ended).await;
        self.end_command();
        flow
    }

    async fn flush(&mut self) {
        self.queue.flush(self.replies.outbox()).await;
    }

    fn deadline(&self) -> Option<tokio::time::Instant> {
        [self.nick_guard.deadline(), self.silent_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    async fn on_deadline(&mut self) -> Flow {
        if self
            .silent_deadline
            .is_some_and(|deadline| deadline <= tokio::time::Instant::now())
        {
            self.replies.outbox().hold();
            self.error("disconnected: you sent nothing since connecting (send any line to stay)");
            self.end_command();
            self.flush().await;
            return Flow::Quit(SILENT_TOO_LONG.into());
        }
        if self.nick_guard.expired(&self.user) {
            self.replies.outbox().hold();
            self.rename_off_registered_nick().await;
            self.end_command();
            self.flush().await;
        }
        Flow::Continue
    }

    async fn on_alert(&mut self) -> Flow {
        let alerts = self.user.take_alerts();
        if alerts.is_empty() {
            return Flow::Continue;
        }
        self.replies.outbox().hold();
        let kill = alerts
            .contains(Alert::Killed)
            .then(|| self.user.take_kill())
            .flatten();
        let flow = if alerts.contains(Alert::LinkLost) {
            self.error(
                "disconnected: this server lost its link to the rest of the network; reconnect \
                 to continue",
            );
            Flow::LinkLost
        } else if let Some(kill) = kill {
            self.notice(&[
                "you were killed by ",
                &kill.by.nick,
                " (",
                &kill.reason,
                "); goodbye",
            ]);
            Flow::Quit(kill.quit_reason())
        } else if alerts.contains(Alert::Ghosted) {
            self.notice(&["another session of your account ghosted this one; goodbye"]);
            Flow::Quit(GHOSTED.to_owned())
        } else {
            let logged_out = if alerts.contains(Alert::AccountLocked) {
                Some("you were logged out: an administrator locked your account")
            } else if alerts.contains(Alert::LoggedOut) {
                Some("you were logged out: your account's password was changed")
            } else {
                None
            };
            if let Some(text) = logged_out {
                self.notice(&[text]);
                // Its right to the account's nick went with the login.
                self.nick_guard.spend();
                self.context.network.share_presence(&self.user).await;
            }
            if alerts.contains(Alert::NickReclaimed) {
                self.notice(&["you were renamed: your nick was reclaimed by its owner"]);
            }
            self.guard_nick().await;
            Flow::Continue
        };
        self.end_command();
        self.flush().await;
        flow
    }

    fn user(&self) -> Option<&Arc<User>> {
        Some(&self.user)
    }

    fn refusal(_peer: SocketAddr, reason: &str) -> Bytes {
        text::error_line(&format!("disconnected: {reason}"))
    }

    fn flood_farewell(&self) -> Bytes {
        text::error_line("disconnected: excess flood (you sent faster than the server reads)")
    }

    fn overflow_farewell(&self) -> Bytes {
        text::error_line("disconnected: too slow (send queue full)")
    }
}
