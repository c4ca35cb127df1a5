//! The IRC session: registration (with capability negotiation), the command table, replies
//! (numerics, labels, batches) and keepalive pings, on top of the protocol-neutral hub.
//!
//! Behaviour follows the Modern IRC Client Protocol (modern.ircdocs.horse) and the IRCv3
//! specifications (ircv3.net); `docs/PROTOCOL.md` lists what is supported.
//!
//! Intentionally single-threaded: only the connection's read loop calls into a session.

mod account;
mod cap;
mod channel;
mod chathistory;
mod commands;
mod cost;
mod help;
mod mode;
mod monitor;
mod multiline;
mod operator;
mod query;
mod read_marker;
mod redaction;
mod registration;
mod replies;
pub(crate) mod sasl;
mod server_bans;
mod server_queries;
mod whowas;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use palaver_proto::event::Event;
use palaver_proto::framing::Frame;
use palaver_proto::irc::caps::{Cap, CapSet};
use palaver_proto::irc::message::{Message, split_tags};
use palaver_proto::irc::numeric::*;
use palaver_proto::irc::render::{IrcFlavor, MAX_MESSAGE_BYTES, event_messages};
use tokio::time::Instant;

use super::nick_guard::{NickGuard, Verdict};
use super::reply_queue::ReplyQueue;
use super::{Context, Flow, Peer, Session};
use crate::accounts::PasswordStamp;
use crate::hub::{Alert, Departure, EndedRoom, HubError, JoinRefusal, Protocol, SendRefusal, User};
use crate::outbox::Outbox;
use crate::store::{Commit, StoredMessage};
use account::AccountRequest;
use chathistory::HistoryRequest;
use multiline::ClientBatch;
use read_marker::ReadMarkers;
use redaction::RedactRequest;
use replies::Replies;
use sasl::SaslState;

/// Most tag data a client may send, without the `@` and the following space (IRCv3
/// message-tags: clients get 4094 bytes, the server's own tags take the line to 8191).
pub const MAX_CLIENT_TAG_BYTES: usize = 4094;
/// The largest tag section on any line, `@` and space included (IRCv3 message-tags).
pub const MAX_TAG_BYTES: usize = 8191;
/// Longest line the framing layer accepts: a full tag section plus a full message, so that
/// anything up to it is answered precisely after parsing.
pub const MAX_LINE_BYTES: usize = MAX_TAG_BYTES + MAX_MESSAGE_BYTES;

/// Registration progress, before the client is a hub user.
#[derive(Debug, Default)]
struct Registration {
    /// The nick `NICK` accepted (free when it was asked for).
    nick: Option<String>,
    /// The nick the client last asked for with `NICK`, accepted or refused as in use: the
    /// account `REGISTER *` names before connecting (`draft/account-registration`), which is
    /// refused as taken while someone else holds that nick.
    requested_nick: Option<String>,
    /// User name and real name from `USER`.
    user: Option<(String, String)>,
    /// Whether `PASS` matched the server password (always true without one).
    password_ok: bool,
    /// `CAP LS`/`CAP REQ` was sent and `CAP END` not yet: registration waits.
    negotiating_caps: bool,
    /// The account logged in to before registration completed (by SASL, or by registering
    /// it), with the stamp of the password that was checked (none for an account just
    /// registered: nobody else can have changed its password yet). Once registered, the hub
    /// user's identity is the only record of the login (so the two can never disagree).
    login: Option<(String, Option<PasswordStamp>)>,
}

/// What the command being handled asked for, to do once its handler returns: the handlers
/// only decide, and the session then does what takes the store, the accounts or more time, in
/// one place and a fixed order (`handle_frame`). Boxed and dropped after each command: it is
/// a good part of a session's size, and an idle connection's memory is mostly its session.
#[derive(Default)]
struct Pending {
    /// Account operations, run once the handler returns.
    account_requests: Vec<AccountRequest>,
    /// Server bans to add or lift (see `server_bans.rs`).
    ban_changes: Vec<server_bans::BanChange>,
    /// Set when the nick or login changed: the nick guard looks again once the handler returns.
    nick_changed: bool,
    /// A nick change to check with the nick guard before it is made (the connection's grace
    /// period is over).
    nick_to_check: Option<String>,
    /// A login that just took effect in the hub, with the stamp of the password it checked:
    /// confirmed still current (and followed up).
    login_to_confirm: Option<(String, PasswordStamp)>,
    /// Registered rooms whose topic or modes the command changed, to save.
    rooms_to_save: Vec<Arc<crate::hub::Room>>,
    /// Rooms whose lifetime the command ended, whose history the store forgets (before the
    /// command's replies go out).
    ended_rooms: Vec<EndedRoom>,
    /// Messages the command sent, to store before its replies go out.
    to_store: Vec<StoredMessage>,
    /// History queries to answer.
    history_requests: Vec<HistoryRequest>,
    /// Deletions to make.
    redactions: Vec<RedactRequest>,
    /// What the command's commits save, for the reply sent if one fails.
    unsaved: Unsaved,
}

/// What a command's commits save, so that a failure is reported as what it is.
#[derive(Debug, Default)]
enum Unsaved {
    #[default]
    Message,
    /// The deletion of the message `msgid` of `target` (REDACT).
    Deletion { target: String, msgid: String },
}

pub struct IrcSession {
    /// The server's shared state and settings, as they were when the connection started
    /// (shared by connections, so a handle costs 8 bytes of each session).
    context: Arc<Context>,
    /// SASL exchange progress.
    sasl: SaslState,
    /// What the command being handled asked for: `None` between commands, so that an idle
    /// connection does not carry it (see [`Pending`]).
    pending: Option<Box<Pending>>,
    /// Renames the user if it keeps a registered nick without logging in.
    nick_guard: NickGuard,
    peer: SocketAddr,
    /// Whether the connection runs over TLS, and the fingerprint of the client certificate
    /// presented in its handshake (what SASL EXTERNAL and `CERT ADD` take), if any.
    tls: bool,
    certificate_fingerprint: Option<String>,
    /// The host shown to others (the peer address or its cloak).
    host: String,
    outbox: Arc<Outbox>,
    /// `None` until registration completes.
    user: Option<Arc<User>>,
    /// Registration progress while it lasts: `None` once registered (see [`Self::registration`]).
    registration: Option<Box<Registration>>,
    /// Enabled capabilities. Mirrored into the hub user (which fan-out reads) on every change.
    caps: CapSet,
    /// Whether the client negotiated with `CAP LS 302` (values in `LS`, implicit cap-notify).
    cap_302: bool,
    /// User mode `+w`: the client wants `WALLOPS`. Mirrored into the hub user's interests,
    /// with those its capabilities ask for, on every change.
    wallops: bool,
    /// Replies to the command being handled, with its label applied at the end.
    replies: Replies,
    /// The multiline batch the client is sending, if one is open (IRCv3 multiline).
    client_batch: Option<ClientBatch>,
    /// Read markers: a guest's own, and the account's for the command being handled; `None`
    /// while there are none (see `read_marker::end_command`).
    read_markers: Option<Box<ReadMarkers>>,
    /// Replies of the commands handled since the last flush, in order, behind their commits.
    queue: ReplyQueue,
    /// When the client last sent anything; silence triggers a `PING`.
    last_heard: Instant,
    /// When our unanswered `PING` went out, if one is pending.
    ping_sent: Option<Instant>,
    connected: Instant,
}

impl IrcSession {
    fn flavor(&self) -> IrcFlavor {
        IrcFlavor::from_caps(self.caps)
    }

    /// The registered user; handlers behind the registration check may rely on it.
    fn user(&self) -> &Arc<User> {
        self.user
            .as_ref()
            .expect("command table checks registration")
    }

    /// The account logged in to (by SASL, `REGISTER` or NickServ), if any: the hub user's,
    /// or before registration the SASL login's.
    fn account(&self) -> Option<String> {
        match &self.user {
            Some(user) => user.identity().account.as_deref().map(str::to_owned),
            None => self
                .registering()
                .and_then(|registration| registration.login.as_ref())
                .map(|(name, _)| name.clone()),
        }
    }

    /// The nick to address replies to: the registered nick, the requested one, or `*`.
    fn reply_nick(&self) -> String {
        let requested = self
            .registering()
            .and_then(|registration| registration.nick.as_ref());
        match (&self.user, requested) {
            (Some(user), _) => user.nick().into(),
            (None, Some(nick)) => nick.clone(),
            (None, None) => "*".into(),
        }
    }

    /// Registration progress, while the client registers (`None` once it has).
    fn registering(&self) -> Option<&Registration> {
        self.registration.as_deref()
    }

    /// Registration progress, to change while the client registers. Only the handlers of
    /// commands before registration change it, so it is there whenever they ask; should one
    /// ask later it gets a fresh record, which registers nothing.
    fn registration(&mut self) -> &mut Registration {
        self.registration.get_or_insert_default()
    }

    /// What the command being handled asked for so far, to add to.
    fn pending(&mut self) -> &mut Pending {
        self.pending.get_or_insert_default()
    }

    /// Takes one list (or flag) of what the command asked for, allocating nothing if it
    /// asked for nothing.
    fn take_pending<T: Default>(&mut self, field: impl FnOnce(&mut Pending) -> &mut T) -> T {
        self.pending
            .as_deref_mut()
            .map(|pending| std::mem::take(field(pending)))
            .unwrap_or_default()
    }

    /// Queues a numeric reply `:server CODE nick params…`.
    fn numeric(&mut self, code: &str, params: &[&str]) {
        let nick = self.reply_nick();
        self.replies.numeric(code, &nick, params);
    }

    /// A `FAIL` that the specification of `command` itself defines (such as `FAIL REGISTER`,
    /// or the failures of multiline, message-redaction and read-marker), sent whatever the
    /// client negotiated: the `standard-replies` capability is only needed for replies no
    /// specification enables (IRCv3 standard-replies, "Capabilities").
    fn specified_fail(&mut self, command: &str, code: &str, context: &[&str], description: &str) {
        let mut params = vec![command.to_owned(), code.to_owned()];
        params.extend(context.iter().map(|item| item.to_string()));
        params.push(description.to_owned());
        self.replies.server_message("FAIL", params);
    }

    /// Queues the messages a hub event becomes for this client (its own copy of what it did).
    /// A multiline message's copy is a batch, the whole response to the batch that sent it.
    fn own_copy(&mut self, event: &Event) {
        let messages = event_messages(event, self.flavor());
        if messages
            .first()
            .is_some_and(|first| first.command == "BATCH")
        {
            self.replies.push_whole_batch(messages);
        } else {
            self.push_all(messages);
        }
    }

    /// A failure no specification defines a reply for: a `FAIL` for clients with
    /// `standard-replies`, a server `NOTICE` for the others.
    fn fail_or_notice(&mut self, command: &str, code: &str, context: &[&str], description: &str) {
        if self.caps.contains(Cap::StandardReplies) {
            self.specified_fail(command, code, context, description);
        } else {
            let nick = self.reply_nick();
            let text = if command == "*" {
                description.to_owned()
            } else {
                format!("{command}: {description}")
            };
            self.replies.server_message("NOTICE", vec![nick, text]);
        }
    }

    /// Answers a hub error with the numeric IRC uses for it.
    fn hub_error(&mut self, error: &HubError) {
        match error {
            HubError::NickTaken(nick) => {
                self.numeric(ERR_NICKNAMEINUSE, &[nick, "Nickname is already in use"])
            }
            HubError::NoSuchNick(nick) => self.numeric(ERR_NOSUCHNICK, &[nick, "No such nick"]),
            HubError::NoSuchRoom(room) => {
                self.numeric(ERR_NOSUCHCHANNEL, &[room, "No such channel"])
            }
            HubError::NotInRoom(room) => {
                self.numeric(ERR_NOTONCHANNEL, &[room, "You're not on that channel"])
            }
            HubError::NeedOperator(room) => self.numeric(
                ERR_CHANOPRIVSNEEDED,
                &[room, "You're not a channel operator"],
            ),
            HubError::UserNotInRoom { nick, room } => self.numeric(
                ERR_USERNOTINCHANNEL,
                &[nick, room, "They aren't on that channel"],
            ),
            HubError::AlreadyInRoom { nick, room } => {
                self.numeric(ERR_USERONCHANNEL, &[nick, room, "is already on channel"])
            }
            HubError::CannotJoin { room, reason } => {
                let (code, text) = match reason {
                    JoinRefusal::InviteOnly => (ERR_INVITEONLYCHAN, "Cannot join channel (+i)"),
                    JoinRefusal::Banned => (ERR_BANNEDFROMCHAN, "Cannot join channel (+b)"),
                    JoinRefusal::BadKey => (ERR_BADCHANNELKEY, "Cannot join channel (+k)"),
                    JoinRefusal::Full => (ERR_CHANNELISFULL, "Cannot join channel (+l)"),
                };
                self.numeric(code, &[room, text]);
            }
            HubError::TooManyRooms { room, .. } => self.numeric(
                ERR_TOOMANYCHANNELS,
                &[room, "You have joined too many channels"],
            ),
            HubError::TooManyRoomsCreated { room, seconds } => self.numeric(
                ERR_UNAVAILRESOURCE,
                &[
                    room,
                    &format!(
                        "Cannot create channel: too many created from your address; try again \
                         in {seconds} seconds"
                    ),
                ],
            ),
            HubError::CannotSend { room, reason } => {
                let text = match reason {
                    SendRefusal::NotMember => "Cannot send to channel (no external messages)",
                    SendRefusal::Moderated => "Cannot send to channel (+m)",
                    SendRefusal::Banned => "Cannot send to channel (+b)",
                };
                self.numeric(ERR_CANNOTSENDTOCHAN, &[room, text]);
            }
            HubError::NeedServerOperator => self.numeric(
                ERR_NOPRIVILEGES,
                &["Permission Denied- You're not an IRC operator"],
            ),
            HubError::NeedAccount
            | HubError::AlreadyRegistered(_)
            | HubError::NotYourMessage
            | HubError::LinkDown
            | HubError::NetworkUnreachable
            | HubError::MessageInDoubt
            | HubError::NotSaved(_) => {
                let nick = self.reply_nick();
                self.replies
                    .server_message("NOTICE", vec![nick, error.to_string()]);
            }
            HubError::ListFull { room, list, mask } => {
                let text = format!("Channel {} list is full", mode::list_name(*list));
                self.numeric(ERR_BANLISTFULL, &[room, mask, &text])
            }
            HubError::InvalidMask {
                room,
                list,
                mask,
                reason,
            } => {
                let description = format!("Invalid {} mask ({reason})", mode::list_name(*list));
                let shown = mode::echoable(mask);
                let letter = mode::list_mode(*list);
                self.numeric(ERR_INVALIDMODEPARAM, &[room, &letter, shown, &description]);
            }
        }
    }

    /// Sets the enabled capabilities, here and in the hub user.
    fn set_caps(&mut self, caps: CapSet) {
        self.caps = caps;
        self.replies.accept_batches(caps.contains(Cap::Batch));
        self.update_delivery();
    }

    /// Tells the hub user what this client's capabilities and user modes make it want.
    fn update_delivery(&self) {
        if let Some(user) = &self.user {
            cap::set_delivery(user, self.caps, self.wallops);
        }
    }

    /// Checks a raw line against the IRC limits and parses it; on failure the client has been
    /// answered.
    fn parse_line(&mut self, line: &[u8]) -> Option<Message> {
        let Ok(line) = std::str::from_utf8(line) else {
            let command = command_name(line);
            self.specified_fail(
                &command,
                "INVALID_UTF8",
                &[],
                "Message rejected: this server only accepts UTF-8",
            );
            return None;
        };
        let (tags, rest) = split_tags(line);
        let tags_too_long = tags.is_some_and(|tags| tags.len() > MAX_CLIENT_TAG_BYTES);
        // The 512-byte message limit counts the CRLF that framing removed.
        if tags_too_long || rest.len() + 2 > MAX_MESSAGE_BYTES {
            self.numeric(ERR_INPUTTOOLONG, &["Input line was too long"]);
            return None;
        }
        if line.contains(['\0', '\r']) {
            self.fail_or_notice(
                "*",
                "INVALID_MESSAGE",
                &[],
                "Message rejected: it contains a NUL, CR or LF character",
            );
            return None;
        }
        match Message::parse(line) {
            Ok(message) => Some(message),
            // Blank lines are ignored, as most servers do.
            Err(palaver_proto::irc::message::ParseError::Empty) => None,
            Err(palaver_proto::irc::message::ParseError::NoCommand) => {
                self.numeric(ERR_UNKNOWNCOMMAND, &["*", "Unknown command"]);
                None
            }
        }
    }

    /// Handles one frame: checks, parses and dispatches it, stores the messages it sent,
    /// runs the history query it asked for, and queues its replies (label applied) behind
    /// its commits.
    async fn handle_frame(&mut self, frame: Frame) -> Flow {
        let was_registered = self.user.is_some();
        let flow = match self.read_frame(frame) {
            Some(message) => {
                read_marker::prefetch_for_join(self, &message).await;
                self.dispatch(&message).await
            }
            None => Flow::Continue,
        };
        if let Some(nick) = self.take_pending(|pending| &mut pending.nick_to_check) {
            self.change_nick_checked(&nick).await;
        }
        let mut commits = Vec::new();
        for message in self.take_pending(|pending| &mut pending.to_store) {
            match self.context.store.append(message).await {
                Ok(commit) => commits.push(commit),
                Err(error) => self.not_saved(&error.to_string()),
            }
        }
        for request in self.take_pending(|pending| &mut pending.redactions) {
            commits.extend(redaction::run(self, request).await);
        }
        // After the appends: a message the command sent before ending a room's lifetime is
        // deleted with the rest of that history.
        let ended = self.take_pending(|pending| &mut pending.ended_rooms);
        crate::session::forget_ended_rooms(&self.context.store, ended).await;
        for request in self.take_pending(|pending| &mut pending.account_requests) {
            account::run(self, request).await;
        }
        account::confirm_login(self).await;
        for change in self.take_pending(|pending| &mut pending.ban_changes) {
            server_bans::run(self, change).await;
        }
        if !was_registered && self.user.is_some() {
            read_marker::after_registration(self).await;
        }
        if self.take_pending(|pending| &mut pending.nick_changed) {
            self.guard_nick().await;
        }
        for room in self.take_pending(|pending| &mut pending.rooms_to_save) {
            crate::session::save_room(&self.context.hub, &self.context.store, &room).await;
        }
        for request in self.take_pending(|pending| &mut pending.history_requests) {
            chathistory::answer(self, request).await;
        }
        read_marker::run_requests(self).await;
        read_marker::end_command(&mut self.read_markers);
        self.end_command(commits);
        self.pending = None;
        flow
    }

    /// `NICK` once the connection's grace period is over: refused (`433`) if the nick belongs
    /// to an account the user is not logged in to.
    async fn change_nick_checked(&mut self, nick: &str) {
        let user = self.user().clone();
        if self
            .nick_guard
            .refuses(&self.context.accounts, &user, nick)
            .await
        {
            self.numeric(
                ERR_NICKNAMEINUSE,
                &[
                    nick,
                    "Nickname is reserved by a registered account; log in first",
                ],
            );
            return;
        }
        match self.context.network.rename(&user, nick).await {
            Ok(event) => {
                self.own_copy(&event);
                self.pending().nick_changed = true;
            }
            Err(error) => self.hub_error(&error),
        }
    }

    /// Acts (as NickServ) on the nick guard's verdict about the user's nick and login: a
    /// warning, or a rename to a guest nick once the connection's grace period is over.
    async fn guard_nick(&mut self) {
        let Some(user) = self.user.clone() else {
            return;
        };
        match self.nick_guard.check(&self.context.accounts, &user).await {
            Verdict::Fine => {}
            Verdict::Warn(left) => {
                let seconds = crate::session::whole_seconds(left);
                let unit = if seconds == 1 { "second" } else { "seconds" };
                let text = format!(
                    "This nick is registered. Log in within {seconds} {unit} (SASL, or /msg {} \
                     IDENTIFY <password>) or you will be renamed.",
                    account::NICKSERV
                );
                account::nickserv_notice(self, &text);
            }
            Verdict::RenameNow => self.rename_off_registered_nick(&user).await,
        }
    }

    /// Moves the user off the registered nick it holds without being logged in to it.
    async fn rename_off_registered_nick(&mut self, user: &Arc<User>) {
        let nick = user.nick();
        let event = match self.context.network.rename_to_guest(user).await {
            Ok(event) => event,
            // A cluster that cannot be reached: should that last, the node is fenced and its
            // users disconnected (docs/CLUSTER.md, "Partition between a node and Redis").
            Err(error) => return self.hub_error(&error),
        };
        self.own_copy(&event);
        let text = format!("You were renamed: {nick} belongs to a registered account.");
        account::nickserv_notice(self, &text);
        // The guard must know the user left the nick (a guest nick is never registered).
        self.nick_guard.check(&self.context.accounts, user).await;
    }

    /// Moves the finished command's replies into the queue, behind `commits`.
    fn end_command(&mut self, commits: Vec<Commit>) {
        let bytes = self.replies.take();
        let unsaved = self.take_pending(|pending| &mut pending.unsaved);
        let failure = self.failure_notice_template(unsaved);
        self.queue
            .push_after(bytes, commits, move |error| failure(&error.to_string()));
    }

    /// Builds, ahead of time, the reply sent instead of a command's replies when what it
    /// saved (a message, or a deletion) could not be stored.
    fn failure_notice_template(
        &self,
        unsaved: Unsaved,
    ) -> impl FnOnce(&str) -> bytes::Bytes + Send + 'static {
        let server = self.context.irc.server_name.clone();
        let nick = self.reply_nick();
        let standard = self.caps.contains(Cap::StandardReplies);
        move |error| {
            let message = match unsaved {
                Unsaved::Message => {
                    let description = format!(
                        "Your message could not be saved ({error}); others may have seen it"
                    );
                    if standard {
                        let params = vec!["PRIVMSG".into(), "MESSAGE_ERROR".into(), description];
                        Message::new("FAIL", params)
                    } else {
                        Message::new("NOTICE", vec![nick, description])
                    }
                }
                // No code of message-redaction fits a storage failure; Ergo answers this one.
                Unsaved::Deletion { target, msgid } => {
                    let description = format!(
                        "The message could not be deleted ({error}); others may have been told \
                         it was"
                    );
                    let params = vec![
                        "REDACT".into(),
                        "REDACT_FORBIDDEN".into(),
                        target,
                        msgid,
                        description,
                    ];
                    Message::new("FAIL", params)
                }
            };
            message.with_source(server).to_bytes()
        }
    }

    /// Tells the client right away that a message could not even be queued for storage.
    fn not_saved(&mut self, error: &str) {
        let description =
            format!("Your message could not be saved ({error}); others may have seen it");
        self.fail_or_notice("PRIVMSG", "MESSAGE_ERROR", &[], &description);
    }

    /// Queues the own copy of a part or kick, and remembers the room if its lifetime ended.
    fn departed(&mut self, departure: Departure) {
        self.own_copy(&departure.event);
        self.pending().ended_rooms.extend(departure.ended);
    }

    /// Queues a message the client sent (to `recipient`, if private) for storage; its
    /// replies wait for the commit.
    fn persist(&mut self, event: &Event, recipient: Option<&User>) {
        let sender = self.user().clone();
        if let Some(message) = self
            .context
            .network
            .left_to_store(event, &sender, recipient)
        {
            self.pending().to_store.push(message);
        }
    }

    /// Checks and parses a frame and applies its label; `None` when there is nothing to
    /// dispatch (the client has been answered if it needed to be).
    fn read_frame(&mut self, frame: Frame) -> Option<Message> {
        self.last_heard = Instant::now();
        self.ping_sent = None;
        let line = match frame {
            Frame::Line(line) => line,
            Frame::TooLong => {
                self.numeric(ERR_INPUTTOOLONG, &["Input line was too long"]);
                return None;
            }
        };
        let message = self.parse_line(&line)?;
        if self.caps.contains(Cap::LabeledResponse)
            && let Some(label) = message.tag("label")
        {
            self.replies.set_label(label);
        }
        Some(message)
    }

    /// Runs a parsed message: a line of the multiline batch being sent, or a command.
    async fn dispatch(&mut self, message: &Message) -> Flow {
        if let Some(flow) = multiline::intercept(self, message) {
            return flow;
        }
        commands::dispatch(self, message).await
    }

    /// When the keepalive needs attention: registration timeout, next `PING`, or the end of
    /// the wait for its answer.
    fn keepalive_deadline(&self) -> Instant {
        if self.user.is_none() {
            return self.connected + self.context.irc.ping_timeout;
        }
        match self.ping_sent {
            Some(sent) => sent + self.context.irc.ping_timeout,
            None => self.last_heard + self.context.irc.ping_interval,
        }
    }

    /// Hands the replies collected outside any command (pings, renames, the farewell) to the
    /// outbox at once.
    fn release(&mut self) {
        let replies = self.replies.take();
        self.outbox.release(replies.chunks, replies.reserved);
    }

    /// `ERROR :Closing link: (user@host) why`, the last line a departing client gets.
    fn closing_link(&self, why: &str) -> Bytes {
        let host = match &self.user {
            Some(user) => {
                let identity = user.identity();
                format!("{}@{}", identity.user, identity.host)
            }
            None => format!("*@{}", self.host),
        };
        Message::new("ERROR", vec![format!("Closing link: ({host}) {why}")]).to_bytes()
    }

    /// Queues `messages` as replies.
    fn push_all(&mut self, messages: impl IntoIterator<Item = Message>) {
        for message in messages {
            self.replies.push(message);
        }
    }
}

/// The command of a line that could not be decoded, for the `FAIL` answering it: the word
/// after the tags and the source, upper-cased, or `*` if it is no command name.
fn command_name(line: &[u8]) -> String {
    let mut words = line
        .split(|&byte| byte == b' ')
        .filter(|word| !word.is_empty());
    let mut word = words.next().unwrap_or_default();
    if word.starts_with(b"@") {
        word = words.next().unwrap_or_default();
    }
    if word.starts_with(b":") {
        word = words.next().unwrap_or_default();
    }
    match std::str::from_utf8(word) {
        Ok(name) if !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphanumeric()) => {
            name.to_ascii_uppercase()
        }
        _ => "*".to_owned(),
    }
}

impl Session for IrcSession {
    const PROTOCOL: Protocol = Protocol::Irc;

    /// A session waiting for the client to register; nothing is sent before it speaks.
    async fn start(
        context: &Arc<Context>,
        peer: Peer,
        host: String,
        outbox: Arc<Outbox>,
    ) -> Result<Self, Bytes> {
        let now = Instant::now();
        let replies = Replies::new(context.irc.server_name.clone(), outbox.clone());
        let password_ok = context.irc.password.is_none();
        Ok(Self {
            context: context.clone(),
            sasl: SaslState::Idle,
            pending: None,
            nick_guard: NickGuard::new(context.nick_grace),
            peer: peer.address,
            tls: peer.tls,
            certificate_fingerprint: peer.certificate_fingerprint,
            host,
            outbox,
            user: None,
            registration: Some(Box::new(Registration {
                password_ok,
                ..Registration::default()
            })),
            caps: CapSet::EMPTY,
            cap_302: false,
            wallops: false,
            replies,
            client_batch: None,
            read_markers: None,
            queue: ReplyQueue::default(),
            last_heard: now,
            ping_sent: None,
            connected: now,
        })
    }

    fn max_line_bytes(&self) -> usize {
        MAX_LINE_BYTES
    }

    fn cost(&self, frame: &Frame) -> u32 {
        match frame {
            Frame::Line(line) => cost::line_cost(line),
            Frame::TooLong => 1,
        }
    }

    async fn handle(&mut self, frame: Frame) -> Flow {
        self.outbox.hold();
        self.handle_frame(frame).await
    }

    async fn flush(&mut self) {
        self.queue.flush(&self.outbox).await;
    }

    fn deadline(&self) -> Option<Instant> {
        let keepalive = self.keepalive_deadline();
        Some(match self.nick_guard.deadline() {
            Some(rename) => rename.min(keepalive),
            None => keepalive,
        })
    }

    async fn on_deadline(&mut self) -> Flow {
        if let Some(user) = self.user.clone()
            && self.nick_guard.expired(&user)
        {
            self.outbox.hold();
            self.rename_off_registered_nick(&user).await;
            self.release();
        }
        if Instant::now() < self.keepalive_deadline() {
            return Flow::Continue;
        }
        if self.user.is_none() {
            return Flow::Quit("registration timed out".into());
        }
        if let Some(sent) = self.ping_sent {
            let waited = sent.elapsed().as_secs();
            return Flow::Quit(format!("ping timeout: {waited} seconds"));
        }
        self.outbox.hold();
        let token = self.context.irc.server_name.clone();
        self.replies.server_message("PING", vec![token]);
        self.release();
        self.ping_sent = Some(Instant::now());
        Flow::Continue
    }

    async fn on_alert(&mut self) -> Flow {
        let Some(user) = self.user.clone() else {
            return Flow::Continue;
        };
        let alerts = user.take_alerts();
        if alerts.is_empty() {
            return Flow::Continue;
        }
        self.outbox.hold();
        if alerts.contains(Alert::LinkLost) {
            // The farewell `ERROR :Closing link: (…) [this server lost its link …]` says it.
            self.release();
            return Flow::LinkLost;
        }
        if alerts.contains(Alert::Killed)
            && let Some(kill) = user.take_kill()
        {
            // As the operator's own message, then the farewell `ERROR` (modern.ircdocs.horse,
            // "KILL message").
            let victim = user.nick().to_string();
            self.replies.push(
                Message::new("KILL", vec![victim, kill.reason.to_string()])
                    .with_source(kill.by.mask()),
            );
            self.release();
            return Flow::Quit(kill.quit_reason());
        }
        if alerts.contains(Alert::Ghosted) {
            account::nickserv_notice(
                self,
                "This session was ghosted by another session of your account.",
            );
            self.release();
            return Flow::Quit(crate::session::GHOSTED.to_owned());
        }
        let logged_out = if alerts.contains(Alert::AccountLocked) {
            Some("You were logged out: an administrator locked your account.")
        } else if alerts.contains(Alert::LoggedOut) {
            Some("You were logged out: your account's password was changed.")
        } else {
            None
        };
        if let Some(text) = logged_out {
            let mask = user.identity().mask();
            self.numeric(RPL_LOGGEDOUT, &[&mask, "You are now logged out"]);
            account::nickserv_notice(self, text);
            // Its right to the account's nick went with the login.
            self.nick_guard.spend();
            self.context.network.share_presence(&user).await;
        }
        if alerts.contains(Alert::NickReclaimed) {
            account::nickserv_notice(
                self,
                "You were renamed: your nick was reclaimed by its owner.",
            );
        }
        self.guard_nick().await;
        self.release();
        Flow::Continue
    }

    fn user(&self) -> Option<&Arc<User>> {
        self.user.as_ref()
    }

    fn farewell(&self, reason: &str) -> Option<Bytes> {
        Some(self.closing_link(&format!("[{reason}]")))
    }

    /// `ERROR` in the form of every other closing link, before there is any user.
    fn refusal(peer: SocketAddr, reason: &str) -> Bytes {
        let ip = peer.ip().to_canonical();
        Message::new("ERROR", vec![format!("Closing link: (*@{ip}) [{reason}]")]).to_bytes()
    }

    fn flood_farewell(&self) -> Bytes {
        self.closing_link(&format!("[{}]", crate::connection::EXCESS_FLOOD))
    }

    /// `ERROR` with the reason ircds traditionally give a client dropped for its send queue.
    fn overflow_farewell(&self) -> Bytes {
        self.closing_link("(SendQ exceeded)")
    }
}
