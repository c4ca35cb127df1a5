//! Durability of history, tested on the real `palaver` binary with a real SQLite file, and
//! with a real Redis for a cluster node.
//!
//! The promise under test (docs/PROTOCOL.md, "Server lines" and IRC "History"): a message's
//! receipt (the sender's own stamped copy on the text protocol, its `echo-message` echo on
//! IRC) is sent only once the message is committed, so every acknowledged message survives
//! even `kill -9`; messages still in flight may or may not survive, but nothing is doubled or
//! reordered. Private messages survive too and stay between their two parties (read back as
//! the accounts they were sent between; a guest's belong to its connection and die with it). A
//! file that is not an SQLite database is refused before `ready`. On Redis
//! (docs/CLUSTER.md, "Nodes as built" and "The Redis store"), what a killed node acknowledged
//! is read back by the next one, and Redis itself killed under load and started again loses
//! no acknowledged message while the node recovers by itself.
//!
//! Every test spawns `palaver serve --db <temp dir>/palaver.db` (or `--cluster` with the URL
//! of a `redis-server` started for it) and talks to it over real
//! sockets with plain `std`. Synchronisation is by lines seen (the `ready` line, receipts,
//! replies), never by sleeps; timeouts ([`PATIENCE`]) are only a safety net so a broken server
//! fails a test instead of hanging it. Each server process is owned by a [`Process`] guard
//! that kills it when dropped, and each test's directory by a [`TempDir`] that removes it.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Options, Process, Server, TempDir, serve_with, untimed_checked};
use palaver_server::test_redis::RedisServer;

/// How long a test waits for anything (a stdout line, a client line, an exit, progress)
/// before declaring the server broken.
const PATIENCE: Duration = Duration::from_secs(30);

/// The default server name, the source of server lines on IRC.
const SERVER: &str = "palaver.local";

/// The room the load tests talk in.
const ROOM: &str = "#durable";

/// What the IRC clients of these tests ask for.
const CAPS: &str = "echo-message server-time message-tags draft/chathistory batch";

/// `[text] history_on_join`'s default: how many messages a text `/join` replays.
const HISTORY_ON_JOIN: usize = 20;

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

/// Where the servers of a test keep their history: an SQLite file, or Redis, served by one
/// cluster node at a time.
enum Storage {
    Sqlite(PathBuf),
    /// The Redis server, and the nodes' configuration file in a directory of its own.
    Redis(RedisServer, TempDir),
}

impl Storage {
    /// The SQLite file `palaver.db` in `directory`.
    fn sqlite(directory: &TempDir) -> Self {
        Self::Sqlite(directory.database())
    }

    /// A new Redis server, persisting as palaver requires, for nodes with a heartbeat of
    /// 100 ms and a lease of `lease` (docs/CLUSTER.md, "Nodes as built").
    fn redis(lease: &str) -> Self {
        let config = TempDir::new("palaver-durability-node");
        std::fs::write(
            config.path.join("palaver.toml"),
            format!("[cluster]\nheartbeat = \"100ms\"\nlease = \"{lease}\"\n"),
        )
        .expect("write the node's config");
        Self::Redis(RedisServer::start(), config)
    }

    /// How the store's `history store open` log line names it.
    fn name(&self) -> String {
        match self {
            Self::Sqlite(database) => database.display().to_string(),
            Self::Redis(redis, _) => redis.url(),
        }
    }

    /// Spawns `palaver serve` with one text and one IRC listener on loopback, history here
    /// and info logs, and waits for `ready`; on Redis, as the node `alpha`.
    fn serve(&self) -> Server {
        let options = Options {
            memory_db: false,
            ..Options::default()
        };
        match self {
            Self::Sqlite(database) => {
                let database = database.to_str().expect("temp path is UTF-8");
                serve_with(&["--db", database, "--log", "info"], options)
            }
            Self::Redis(redis, config) => {
                let config = config.path.join("palaver.toml");
                let config = config.to_str().expect("temp path is UTF-8");
                let url = redis.url();
                let args = [
                    "--cluster",
                    &url,
                    "--node-name",
                    "alpha",
                    "--config",
                    config,
                ];
                serve_with(&[&args[..], &["--log", "info"]].concat(), options)
            }
        }
    }
}

/// Waits for the `history store open` log line and returns its `messages=` count, checking
/// that it names `storage`.
fn opened_message_count(server: &Process, storage: &Storage) -> usize {
    let line = server.stderr_line_containing("history store open");
    let path = format!("path={}", storage.name());
    assert!(line.contains(&path), "the log line names {path}: {line:?}");
    let count = line
        .split(' ')
        .find_map(|field| field.strip_prefix("messages="))
        .unwrap_or_else(|| panic!("no messages= in {line:?}"));
    count
        .parse()
        .unwrap_or_else(|_| panic!("messages= is not a number in {line:?}"))
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

/// The reading half of a line-oriented connection: LF-terminated lines for the text
/// protocol, CRLF for IRC.
struct LineReader {
    name: String,
    irc: bool,
    reader: BufReader<TcpStream>,
}

impl LineReader {
    /// The next complete line without its ending, or `None` once the connection has ended
    /// (EOF, a reset, or a last line cut short by the server's death). Panics after
    /// [`PATIENCE`] without a line.
    fn next_line(&mut self) -> Option<String> {
        let mut bytes = Vec::new();
        match self.reader.read_until(b'\n', &mut bytes) {
            Ok(0) => None,
            Ok(_) => {
                if bytes.last() != Some(&b'\n') {
                    // Cut short: not a line the client can rely on.
                    return None;
                }
                bytes.pop();
                if self.irc {
                    assert_eq!(
                        bytes.pop(),
                        Some(b'\r'),
                        "{}: IRC lines end in CRLF",
                        self.name
                    );
                }
                Some(String::from_utf8(bytes).expect("the server sends UTF-8"))
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("{}: no line within {PATIENCE:?}", self.name)
            }
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                ) =>
            {
                None
            }
            Err(error) => panic!("{}: read failed: {error}", self.name),
        }
    }
}

/// A line-oriented connection.
struct Conn {
    lines: LineReader,
    writer: TcpStream,
}

impl Conn {
    fn connect(address: SocketAddr, irc: bool) -> Self {
        let stream = TcpStream::connect_timeout(&address, PATIENCE)
            .unwrap_or_else(|error| panic!("connect to {address}: {error}"));
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        let writer = stream.try_clone().unwrap();
        Self {
            lines: LineReader {
                name: "?".into(),
                irc,
                reader: BufReader::new(stream),
            },
            writer,
        }
    }

    fn set_name(&mut self, name: &str) {
        self.lines.name = name.to_owned();
    }

    /// Sends `line` with the protocol's line ending.
    fn send(&mut self, line: &str) {
        let ending = if self.lines.irc { "\r\n" } else { "\n" };
        self.writer
            .write_all(format!("{line}{ending}").as_bytes())
            .unwrap_or_else(|error| panic!("{}: send {line:?}: {error}", self.lines.name));
    }

    fn next_line(&mut self) -> Option<String> {
        self.lines.next_line()
    }

    /// The next line; panics if the connection has ended.
    fn line(&mut self) -> String {
        self.next_line().unwrap_or_else(|| {
            panic!(
                "{}: connection closed while expecting a line",
                self.lines.name
            )
        })
    }

    /// Asserts that the server closes the connection next.
    fn expect_closed(&mut self) {
        if let Some(line) = self.next_line() {
            panic!(
                "{}: expected the connection to close, got {line:?}",
                self.lines.name
            );
        }
    }
}

/// A plain-text protocol client.
struct TextClient {
    nick: String,
    conn: Conn,
}

impl TextClient {
    /// Connects, reads the greeting (learning the guest nick) and the lobby join line.
    fn connect(address: SocketAddr) -> Self {
        let mut conn = Conn::connect(address, false);
        let greeting = untimed_checked(&conn.line()).to_owned();
        let rest = greeting
            .strip_prefix("-- welcome to palaver; you are ")
            .unwrap_or_else(|| panic!("unexpected greeting: {greeting:?}"));
        let nick = rest.split(' ').next().unwrap().to_owned();
        conn.set_name(&nick);
        let mut client = Self { nick, conn };
        client.expect(&format!("-- {} joined #lobby", client.nick));
        client
    }

    /// Connects and renames itself to `nick`.
    fn named(address: SocketAddr, nick: &str) -> Self {
        let mut client = Self::connect(address);
        client.send(&format!("/nick {nick}"));
        client.expect(&format!("-- {} is now known as {nick}", client.nick));
        client.nick = nick.to_owned();
        client.conn.set_name(nick);
        client
    }

    fn send(&mut self, line: &str) {
        self.conn.send(line);
    }

    /// The next line with its `[HH:MM:SS] ` stamp removed (its shape is checked).
    fn line(&mut self) -> String {
        untimed_checked(&self.conn.line()).to_owned()
    }

    /// Asserts that the next line (stamp removed) is `expected`.
    fn expect(&mut self, expected: &str) {
        let line = self.line();
        assert_eq!(line, expected, "{} got an unexpected line", self.nick);
    }

    /// Skips lines until one equals `expected`; returns the skipped lines.
    fn skip_until(&mut self, expected: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        loop {
            let line = self.line();
            if line == expected {
                return skipped;
            }
            skipped.push(line);
        }
    }

    /// Joins a room that has no history yet.
    fn join_empty_room(&mut self, room: &str) {
        self.send(&format!("/join {room}"));
        self.expect(&format!("-- {} joined {room}", self.nick));
    }

    /// The lines of a `-- history` … `-- end of history` frame, whose header is next.
    fn history_frame(&mut self) -> Vec<String> {
        self.expect("-- history");
        self.skip_until("-- end of history")
    }

    /// Sends `/rooms` and asserts that its header is the very next line: nothing else was
    /// pending, and every earlier line of this client has been processed.
    fn expect_quiet(&mut self) {
        self.send("/rooms");
        let header = self.line();
        let count = header
            .strip_prefix("-- ")
            .and_then(|rest| rest.strip_suffix(" rooms").or(rest.strip_suffix(" room")))
            .and_then(|count| count.parse::<usize>().ok())
            .unwrap_or_else(|| {
                panic!(
                    "{} expected nothing before the /rooms reply, got {header:?}",
                    self.nick
                )
            });
        for _ in 0..count {
            self.line();
        }
    }
}

/// An IRC line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IrcLine {
    tags: Vec<(String, String)>,
    source: Option<String>,
    command: String,
    params: Vec<String>,
}

impl IrcLine {
    fn parse(line: &str) -> Self {
        let mut rest = line;
        let mut tags = Vec::new();
        if let Some(tagged) = rest.strip_prefix('@') {
            let (section, after) = tagged
                .split_once(' ')
                .unwrap_or_else(|| panic!("tags without a message: {line:?}"));
            for tag in section.split(';') {
                let (key, value) = tag.split_once('=').unwrap_or((tag, ""));
                tags.push((key.to_owned(), value.to_owned()));
            }
            rest = after;
        }
        let mut source = None;
        if let Some(sourced) = rest.strip_prefix(':') {
            let (name, after) = sourced
                .split_once(' ')
                .unwrap_or_else(|| panic!("a source without a command: {line:?}"));
            source = Some(name.to_owned());
            rest = after;
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut params = Vec::new();
        while !rest.is_empty() {
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_owned());
                break;
            }
            match rest.split_once(' ') {
                Some((param, after)) => {
                    params.push(param.to_owned());
                    rest = after;
                }
                None => {
                    params.push(rest.to_owned());
                    break;
                }
            }
        }
        Self {
            tags,
            source,
            command: command.to_owned(),
            params,
        }
    }

    fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// The nick part of the source.
    fn source_nick(&self) -> Option<&str> {
        self.source
            .as_deref()
            .map(|source| source.split('!').next().unwrap())
    }
}

/// `line` without its tag section.
fn untagged(line: &str) -> &str {
    match line.strip_prefix('@') {
        Some(rest) => rest.split_once(' ').map_or("", |(_, rest)| rest),
        None => line,
    }
}

/// A message out of a `chathistory` batch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HistoryMessage {
    msgid: String,
    /// `nick!user@host`.
    source: String,
    target: String,
    text: String,
}

/// An IRC client speaking raw lines.
struct IrcClient {
    nick: String,
    conn: Conn,
}

impl IrcClient {
    /// Connects, negotiates `caps` with `CAP LS 302`/`CAP REQ`, registers as `nick` and reads
    /// the welcome burst up to the end of the MOTD (376 or 422).
    fn register(address: SocketAddr, nick: &str, caps: &str) -> Self {
        let mut conn = Conn::connect(address, true);
        conn.set_name(nick);
        let mut client = Self {
            nick: nick.to_owned(),
            conn,
        };
        client.send("CAP LS 302");
        let ls = client.line();
        assert!(
            ls.starts_with(&format!(":{SERVER} CAP * LS ")),
            "CAP LS reply: {ls:?}"
        );
        client.send(&format!("CAP REQ :{caps}"));
        client.expect(&format!(":{SERVER} CAP * ACK :{caps}"));
        client.send(&format!("NICK {nick}"));
        client.send(&format!("USER {nick} 0 * :{nick} real name"));
        client.send("CAP END");
        let welcome = IrcLine::parse(&client.line());
        assert_eq!(welcome.command, "001", "{nick}: {welcome:?}");
        loop {
            let line = IrcLine::parse(&client.line());
            if line.command == "376" || line.command == "422" {
                return client;
            }
        }
    }

    fn send(&mut self, line: &str) {
        self.conn.send(line);
    }

    fn line(&mut self) -> String {
        self.conn.line()
    }

    /// Asserts that the next line, tags included, is exactly `expected`.
    fn expect(&mut self, expected: &str) {
        let line = self.line();
        assert_eq!(line, expected, "{} got an unexpected line", self.nick);
    }

    /// `nick!~nick@127.0.0.1`, how this client appears.
    fn mask(&self) -> String {
        format!("{0}!~{0}@127.0.0.1", self.nick)
    }

    /// Joins `channel`: expects the own `JOIN` and reads the replies up to its `366`.
    fn join(&mut self, channel: &str) {
        self.send(&format!("JOIN {channel}"));
        let line = self.line();
        assert_eq!(
            untagged(&line),
            format!(":{} JOIN {channel}", self.mask()),
            "{} joins {channel}",
            self.nick
        );
        loop {
            let line = IrcLine::parse(&self.line());
            if line.command == "366" && line.params.get(1).map(String::as_str) == Some(channel) {
                return;
            }
        }
    }

    /// Sends a `CHATHISTORY` `command` about `target` and returns the messages of the
    /// `chathistory` batch that answers it, asserting the batch's shape.
    fn history(&mut self, command: &str, target: &str) -> Vec<HistoryMessage> {
        self.send(command);
        let opening = self.line();
        let reference = opening
            .strip_prefix(&format!(":{SERVER} BATCH +"))
            .and_then(|rest| rest.strip_suffix(&format!(" chathistory {target}")))
            .unwrap_or_else(|| panic!("{}: {command:?} answered {opening:?}", self.nick))
            .to_owned();
        let closing = format!(":{SERVER} BATCH -{reference}");
        let mut messages = Vec::new();
        loop {
            let line = self.line();
            if line == closing {
                return messages;
            }
            let parsed = IrcLine::parse(&line);
            assert_eq!(
                parsed.tags.first(),
                Some(&("batch".to_owned(), reference.clone())),
                "a batched line: {line:?}"
            );
            assert!(parsed.tag("time").is_some(), "a time tag: {line:?}");
            assert_eq!(parsed.command, "PRIVMSG", "{line:?}");
            assert_eq!(parsed.params.len(), 2, "{line:?}");
            messages.push(HistoryMessage {
                msgid: parsed
                    .tag("msgid")
                    .unwrap_or_else(|| panic!("a msgid tag: {line:?}"))
                    .to_owned(),
                source: parsed.source.clone().expect("a source"),
                target: parsed.params[0].clone(),
                text: parsed.params[1].clone(),
            });
        }
    }

    /// Asserts that nothing is waiting for this client: after a `PING :quiet`, the very next
    /// line is exactly its `PONG`.
    fn expect_quiet(&mut self) {
        self.send("PING :quiet");
        self.expect(&format!(":{SERVER} PONG {SERVER} quiet"));
    }

    /// Reads lines until NickServ's notice ending with `text` (skipping, say, the warning on
    /// a registered nick).
    fn skip_to_nickserv(&mut self, text: &str) {
        loop {
            let line = IrcLine::parse(&self.line());
            if line.source.as_deref() == Some(&format!("NickServ!services@{SERVER}"))
                && line.params.last().map(String::as_str) == Some(text)
            {
                return;
            }
        }
    }

    /// Registers this client's nick as an account with `password` (NickServ), logging in.
    fn register_account(&mut self, password: &str) {
        self.send(&format!("PRIVMSG NickServ :REGISTER {password}"));
        let nick = self.nick.clone();
        self.skip_to_nickserv(&format!("Account {nick} registered; you are logged in."));
    }

    /// Logs in to the account named like this client's nick (NickServ).
    fn identify(&mut self, password: &str) {
        self.send(&format!("PRIVMSG NickServ :IDENTIFY {password}"));
        let nick = self.nick.clone();
        self.skip_to_nickserv(&format!("You are now identified for {nick}."));
    }

    /// The targets named by `CHATHISTORY TARGETS` over all time.
    fn targets(&mut self) -> Vec<String> {
        self.send(
            "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z \
             timestamp=2100-01-01T00:00:00.000Z 50",
        );
        let opening = self.line();
        let reference = opening
            .strip_prefix(&format!(":{SERVER} BATCH +"))
            .and_then(|rest| rest.strip_suffix(" draft/chathistory-targets"))
            .unwrap_or_else(|| panic!("TARGETS answered {opening:?}"))
            .to_owned();
        let closing = format!(":{SERVER} BATCH -{reference}");
        let mut names = Vec::new();
        loop {
            let line = self.line();
            if line == closing {
                return names;
            }
            let parsed = IrcLine::parse(&line);
            assert_eq!(parsed.command, "CHATHISTORY", "{line:?}");
            names.push(parsed.params[1].clone());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A load of pipelined messages from many clients at once
// ---------------------------------------------------------------------------------------------

/// How the clients of a [`Load`] send.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Messages each client sends, `c{client}-m{index:03}`.
    per_client: usize,
    /// Each client holds its message with this index until [`Load::release`].
    hold_at: usize,
    /// At most this many messages of one client are sent and not yet acknowledged.
    window: usize,
}

/// What the clients of a load have done, shared between their threads and the test.
#[derive(Debug)]
struct State {
    /// Per client: how many of its messages were acknowledged (always a prefix: receipts
    /// come in order, which the readers check).
    acked: Vec<usize>,
    /// Per client: how many of its messages were handed to the socket.
    written: Vec<usize>,
    /// Per client: whether its connection has ended.
    closed: Vec<bool>,
    released: bool,
    /// Anything a client saw that it should not have (error lines, receipts out of order).
    problems: Vec<String>,
    /// Texts of messages that some client received from another one.
    seen_from_others: HashSet<String>,
}

struct Progress {
    state: Mutex<State>,
    changed: Condvar,
}

impl Progress {
    /// Nothing done yet by `clients` clients.
    fn new(clients: usize) -> Self {
        Self {
            state: Mutex::new(State {
                acked: vec![0; clients],
                written: vec![0; clients],
                closed: vec![false; clients],
                released: false,
                problems: Vec::new(),
                seen_from_others: HashSet::new(),
            }),
            changed: Condvar::new(),
        }
    }

    /// Waits until `done` holds, for at most [`PATIENCE`].
    fn wait_until(&self, what: &str, done: impl Fn(&State) -> bool) -> MutexGuard<'_, State> {
        let deadline = Instant::now() + PATIENCE;
        let mut state = self.state.lock().unwrap();
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting until {what}: {state:?}");
            state = self.changed.wait_timeout(state, left).unwrap().0;
        }
        state
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().unwrap());
        self.changed.notify_all();
    }
}

/// Clients in [`ROOM`], each sending its messages pipelined from one thread while another
/// thread reads everything it receives and counts its receipts.
struct Load {
    nicks: Vec<String>,
    progress: Arc<Progress>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// Connects `text` text clients (`t0`, `t1`, …) and `irc` IRC clients (numbered on),
    /// joins them all to [`ROOM`] (which must be empty), and starts them sending.
    fn start(server: &Server, text: usize, irc: usize, plan: Plan) -> Self {
        let mut conns = Vec::new();
        let mut nicks = Vec::new();
        for index in 0..text + irc {
            let conn = if index < text {
                let mut client = TextClient::named(server.text, &format!("t{index}"));
                client.join_empty_room(ROOM);
                nicks.push(client.nick);
                client.conn
            } else {
                let mut client = IrcClient::register(server.irc(), &format!("i{index}"), CAPS);
                client.join(ROOM);
                nicks.push(client.nick);
                client.conn
            };
            conns.push(conn);
        }
        let count = conns.len();
        let progress = Arc::new(Progress::new(count));
        let mut threads = Vec::new();
        for (index, conn) in conns.into_iter().enumerate() {
            let Conn { lines, writer } = conn;
            let irc = lines.irc;
            let progress_for_writer = progress.clone();
            threads.push(std::thread::spawn(move || {
                send_messages(index, irc, writer, plan, &progress_for_writer)
            }));
            let progress_for_reader = progress.clone();
            threads.push(std::thread::spawn(move || {
                read_receipts(index, lines, &progress_for_reader)
            }));
        }
        Self {
            nicks,
            progress,
            threads,
        }
    }

    fn wait_until(&self, what: &str, done: impl Fn(&State) -> bool) {
        drop(self.progress.wait_until(what, done));
    }

    /// Lets every client send its held messages.
    fn release(&self) {
        self.progress.update(|state| state.released = true);
    }

    /// Waits for every client's threads to end (after the server has gone) and returns the
    /// final state.
    fn finish(self) -> (Vec<String>, State) {
        for thread in self.threads {
            thread.join().expect("a client thread panicked");
        }
        let progress = Arc::try_unwrap(self.progress)
            .unwrap_or_else(|_| panic!("client threads still hold the progress"));
        (self.nicks, progress.state.into_inner().unwrap())
    }
}

/// The text of message `index` of client `client`.
fn message_text(client: usize, index: usize) -> String {
    format!("c{client}-m{index:03}")
}

/// `(client, index)` from a text made by [`message_text`].
fn parse_message_text(text: &str) -> Option<(usize, usize)> {
    let (client, index) = text.strip_prefix('c')?.split_once("-m")?;
    Some((client.parse().ok()?, index.parse().ok()?))
}

/// A client's sending thread: writes its messages in order, never more than the plan's window
/// ahead of its receipts, holding at `hold_at` until released; stops when its connection ends.
fn send_messages(client: usize, irc: bool, mut writer: TcpStream, plan: Plan, progress: &Progress) {
    for index in 0..plan.per_client {
        let state = progress.wait_until(&format!("client {client} may send {index}"), |state| {
            state.closed[client]
                || ((index < plan.hold_at || state.released)
                    && index < state.acked[client] + plan.window)
        });
        if state.closed[client] {
            return;
        }
        drop(state);
        let text = message_text(client, index);
        let line = if irc {
            format!("PRIVMSG {ROOM} :{text}\r\n")
        } else {
            format!("{text}\n")
        };
        if writer.write_all(line.as_bytes()).is_err() {
            // The server is gone.
            return;
        }
        progress.update(|state| state.written[client] = index + 1);
    }
}

/// A client's reading thread: reads until the connection ends, counting the client's own
/// receipts (the stamped text copy, or the IRC echo) and checking that they come in order.
fn read_receipts(client: usize, mut lines: LineReader, progress: &Progress) {
    let nick = lines.name.clone();
    while let Some(line) = lines.next_line() {
        let message = if lines.irc {
            let parsed = IrcLine::parse(&line);
            if parsed.command == "FAIL" || parsed.command.starts_with('4') {
                progress.update(|state| state.problems.push(format!("{nick}: {line}")));
                continue;
            }
            if parsed.command != "PRIVMSG"
                || parsed.params.first().map(String::as_str) != Some(ROOM)
            {
                continue;
            }
            let sender = parsed.source_nick().unwrap_or_default().to_owned();
            (sender, parsed.params.get(1).cloned().unwrap_or_default())
        } else {
            let line = untimed_checked(&line);
            if line.starts_with("! ") {
                progress.update(|state| state.problems.push(format!("{nick}: {line}")));
                continue;
            }
            let Some((sender, text)) = line
                .strip_prefix(&format!("{ROOM} <"))
                .and_then(|rest| rest.split_once("> "))
            else {
                continue;
            };
            (sender.to_owned(), text.to_owned())
        };
        let (sender, text) = message;
        if sender != nick {
            progress.update(|state| {
                state.seen_from_others.insert(text);
            });
            continue;
        }
        progress.update(|state| {
            let expected = message_text(client, state.acked[client]);
            if text == expected {
                state.acked[client] += 1;
            } else {
                state.problems.push(format!(
                    "{nick}: receipt {text:?} where {expected:?} was due"
                ));
            }
        });
    }
    progress.update(|state| state.closed[client] = true);
}

// ---------------------------------------------------------------------------------------------
// Checking what a restarted server holds
// ---------------------------------------------------------------------------------------------

/// Reads all of [`ROOM`]'s history from the restarted server twice — a text client's
/// `/history 500` and an IRC client's `CHATHISTORY LATEST` paged back with `BEFORE` — and
/// checks that both give the same messages, that every acknowledged message of every sender
/// (`acked` lists their indices, per sender) is there exactly once and in its sender's order,
/// that nothing is doubled, and that the startup log counted exactly these messages. Returns
/// the indices of each sender's stored messages.
fn verify_room(
    server: &Server,
    storage: &Storage,
    nicks: &[String],
    acked: &[Vec<usize>],
) -> Vec<Vec<usize>> {
    let acknowledged: usize = acked.iter().map(Vec::len).sum();
    let opened = opened_message_count(&server.process, storage);
    assert!(
        opened >= acknowledged,
        "the log counts {opened} messages, but {acknowledged} were acknowledged"
    );

    // The text view: the join replay, then the whole room with /history 500.
    let mut checker = TextClient::named(server.text, "checker");
    checker.send(&format!("/join {ROOM}"));
    checker.expect(&format!("-- checker joined {ROOM}"));
    let on_join = checker.history_frame();
    checker.send("/history 500");
    let frame = checker.history_frame();
    checker.expect_quiet();
    let text_view: Vec<(String, String)> = frame
        .iter()
        .map(|line| {
            let (sender, text) = line
                .strip_prefix(&format!("{ROOM} <"))
                .and_then(|rest| rest.split_once("> "))
                .unwrap_or_else(|| panic!("not a message of {ROOM}: {line:?}"));
            (sender.to_owned(), text.to_owned())
        })
        .collect();
    assert!(
        text_view.len() < 500,
        "the room must fit in /history 500 for this test: {}",
        text_view.len()
    );
    assert_eq!(
        on_join,
        frame[frame.len().saturating_sub(HISTORY_ON_JOIN)..],
        "the join replay is the last {HISTORY_ON_JOIN} messages"
    );

    // The IRC view: the latest page, then older pages until an empty one.
    let mut reader = IrcClient::register(server.irc(), "reader", CAPS);
    reader.join(ROOM);
    let mut irc_view: Vec<HistoryMessage> = Vec::new();
    let mut page = reader.history(&format!("CHATHISTORY LATEST {ROOM} * 100"), ROOM);
    let mut short_page_seen = false;
    while !page.is_empty() {
        assert!(
            page.len() <= 100,
            "a page holds at most 100: {}",
            page.len()
        );
        assert!(
            !short_page_seen,
            "a short page is the oldest: yet {} older messages follow it",
            page.len()
        );
        short_page_seen = page.len() < 100;
        let oldest = page[0].msgid.clone();
        page.append(&mut irc_view);
        irc_view = page;
        page = reader.history(
            &format!("CHATHISTORY BEFORE {ROOM} msgid={oldest} 100"),
            ROOM,
        );
    }
    reader.expect_quiet();
    let msgids: HashSet<&str> = irc_view.iter().map(|m| m.msgid.as_str()).collect();
    assert_eq!(msgids.len(), irc_view.len(), "msgids are unique");
    let irc_pairs: Vec<(String, String)> = irc_view
        .iter()
        .map(|message| {
            assert_eq!(message.target, ROOM, "{message:?}");
            let nick = message.source.split('!').next().unwrap().to_owned();
            (nick, message.text.clone())
        })
        .collect();
    assert_eq!(
        irc_pairs, text_view,
        "CHATHISTORY and /history show the same messages"
    );
    for message in &irc_view {
        let nick = message.source.split('!').next().unwrap();
        let host = if nick.starts_with('t') {
            format!("{nick}!text@127.0.0.1")
        } else {
            format!("{nick}!~{nick}@127.0.0.1")
        };
        assert_eq!(message.source, host, "{message:?}");
    }

    // Every acknowledged message once, per-sender order, no duplicates at all.
    let mut texts = HashSet::new();
    let mut per_sender: Vec<Vec<usize>> = vec![Vec::new(); nicks.len()];
    for (sender, text) in &text_view {
        assert!(texts.insert(text.clone()), "{text:?} is stored twice");
        let (client, index) = parse_message_text(text)
            .unwrap_or_else(|| panic!("a message nobody sent: {sender} {text:?}"));
        assert_eq!(
            nicks.get(client),
            Some(sender),
            "{text:?} is stored as sent by {sender}"
        );
        per_sender[client].push(index);
    }
    for (client, indices) in per_sender.iter().enumerate() {
        assert!(
            indices.windows(2).all(|pair| pair[0] < pair[1]),
            "{}'s messages are stored in the order sent: {indices:?}",
            nicks[client]
        );
        let missing: Vec<usize> = acked[client]
            .iter()
            .copied()
            .filter(|index| !indices.contains(index))
            .collect();
        assert!(
            missing.is_empty(),
            "{} lost acknowledged messages {missing:?} (acknowledged {:?}, stored {indices:?})",
            nicks[client],
            acked[client]
        );
    }
    assert_eq!(
        opened,
        text_view.len(),
        "the startup log counts exactly the stored messages"
    );
    per_sender
}

/// The indices of the first `count` messages of each sender, for acknowledgements that come
/// in order.
fn prefixes(counts: &[usize]) -> Vec<Vec<usize>> {
    counts.iter().map(|&count| (0..count).collect()).collect()
}

/// How many messages [`verify_room`] found, all senders together.
fn stored_count(stored: &[Vec<usize>]) -> usize {
    stored.iter().map(Vec::len).sum()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn acknowledged_messages_survive_kill_9() {
    let dir = TempDir::new("palaver-durability-kill9");
    acknowledged_messages_survive_kill_9_of(Storage::sqlite(&dir));
}

/// On Redis the node started after the kill waits for its predecessor's lease to lapse, and
/// reads back from Redis what the killed one acknowledged. The lease is short, to keep that
/// wait short, but not so short that a busy test machine (Redis fsyncs every write, the other
/// tests fsync too) delays one renewal past it and fences the node under its load.
#[test]
fn acknowledged_messages_survive_kill_9_of_a_cluster_node() {
    acknowledged_messages_survive_kill_9_of(Storage::redis("3s"));
}

fn acknowledged_messages_survive_kill_9_of(storage: Storage) {
    let mut server = storage.serve();
    assert_eq!(
        opened_message_count(&server.process, &storage),
        0,
        "a new database"
    );

    // Six clients, 80 messages each: 480 in all, so the whole room fits in `/history 500`.
    let plan = Plan {
        per_client: 80,
        hold_at: 50,
        window: 10,
    };
    let load = Load::start(&server, 4, 2, plan);
    load.wait_until("every client has 40 receipts", |state| {
        state.acked.iter().all(|&acked| acked >= 40)
    });
    // Let the held messages go and kill the server while they are being written.
    load.release();
    load.wait_until("every client is sending its held messages", |state| {
        state
            .written
            .iter()
            .all(|&written| written > plan.hold_at + 2)
    });
    let before_kill = {
        let state = load.progress.state.lock().unwrap();
        (state.written.clone(), state.acked.clone())
    };
    server.process.signal("9");
    let (status, _) = server.process.wait_exit();
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");

    let (nicks, state) = load.finish();
    assert!(state.problems.is_empty(), "{:?}", state.problems);
    assert!(state.closed.iter().all(|&closed| closed));
    eprintln!(
        "at the kill: written {:?}, acknowledged {:?}; finally acknowledged {:?}",
        before_kill.0, before_kill.1, state.acked
    );

    let server = storage.serve();
    let stored = stored_count(&verify_room(
        &server,
        &storage,
        &nicks,
        &prefixes(&state.acked),
    ));
    eprintln!(
        "stored after the crash: {stored} of {} written, {} acknowledged",
        state.written.iter().sum::<usize>(),
        state.acked.iter().sum::<usize>()
    );
}

#[test]
fn graceful_shutdown_keeps_everything() {
    let dir = TempDir::new("palaver-durability-graceful");
    let storage = Storage::sqlite(&dir);
    let mut server = storage.serve();
    // Watches for the shutdown notice without sending anything.
    let mut observer = TextClient::named(server.text, "observer");

    let plan = Plan {
        per_client: 60,
        hold_at: 30,
        window: 8,
    };
    let load = Load::start(&server, 2, 1, plan);
    load.wait_until("every client has 20 receipts", |state| {
        state.acked.iter().all(|&acked| acked >= 20)
    });
    load.release();
    load.wait_until("every client is sending its held messages", |state| {
        state
            .written
            .iter()
            .all(|&written| written > plan.hold_at + 2)
    });
    server.process.signal("TERM");
    observer.skip_until("-- server shutting down");
    observer.conn.expect_closed();
    let (status, _) = server.process.wait_exit();
    assert!(
        status.success(),
        "{status}; stderr:\n{}",
        server.process.stderr_text()
    );
    // Closing the database checkpoints and removes the write-ahead log (store/sqlite.rs).
    let wal = dir.path.join("palaver.db-wal");
    assert!(
        !wal.exists(),
        "a clean shutdown leaves no write-ahead log behind"
    );

    let (nicks, state) = load.finish();
    assert!(state.problems.is_empty(), "{:?}", state.problems);

    let server = storage.serve();
    let stored = stored_count(&verify_room(
        &server,
        &storage,
        &nicks,
        &prefixes(&state.acked),
    ));
    eprintln!(
        "stored after a graceful shutdown: {stored} of {} written, {} acknowledged, {} seen by others",
        state.written.iter().sum::<usize>(),
        state.acked.iter().sum::<usize>(),
        state.seen_from_others.len()
    );
}

/// Private history is read back as the accounts it was sent between (a private message
/// belongs to its parties: the account each side was logged in to, or its connection), so
/// both sides here have accounts; a guest's conversation stays with its connection, which
/// does not outlive the server.
#[test]
fn private_messages_survive_and_stay_private() {
    let dir = TempDir::new("palaver-durability-private");
    let storage = Storage::sqlite(&dir);
    let mut server = storage.serve();
    let mut bob = IrcClient::register(server.irc(), "bob", CAPS);
    bob.register_account("bob-password");
    let mut alice = TextClient::named(server.text, "alice");
    alice.send("/register alice-password");
    alice.expect("-- account alice registered; you are logged in");
    // A guest, the third client to register, says something to bob and waits for its echo
    // (the commit).
    let mut gus = IrcClient::register(server.irc(), "gus", CAPS);
    gus.send("PRIVMSG bob :from-gus");
    let echo = IrcLine::parse(&gus.line());
    assert_eq!(echo.params, ["bob", "from-gus"], "gus's echo");

    // Forty private messages in one burst; kill once half of them are acknowledged.
    const SENT: usize = 40;
    let burst: String = (0..SENT)
        .map(|index| format!("/msg bob secret-{index:02}\n"))
        .collect();
    alice
        .conn
        .writer
        .write_all(burst.as_bytes())
        .expect("send the burst");
    let mut acked = 0;
    while acked < SENT / 2 {
        alice.expect(&format!("-> *bob* secret-{acked:02}"));
        acked += 1;
    }
    server.process.signal("9");
    // Receipts already on their way count too: the server sent them after the commit.
    while let Some(line) = alice.conn.next_line() {
        assert_eq!(
            untimed_checked(&line),
            format!("-> *bob* secret-{acked:02}"),
            "alice's receipts come in order"
        );
        acked += 1;
    }
    let (status, _) = server.process.wait_exit();
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");

    let server = storage.serve();
    let opened = opened_message_count(&server.process, &storage);

    // Bob, back and logged in to his account, finds them in his conversation with alice.
    let mut bob = IrcClient::register(server.irc(), "bob", CAPS);
    bob.identify("bob-password");
    let for_bob = bob.history("CHATHISTORY LATEST alice * 50", "alice");
    bob.expect_quiet();
    let texts: Vec<&str> = for_bob.iter().map(|m| m.text.as_str()).collect();
    assert!(
        texts.len() >= acked && texts.len() <= SENT,
        "bob sees {} messages; {acked} were acknowledged: {texts:?}",
        texts.len()
    );
    let expected: Vec<String> = (0..texts.len())
        .map(|index| format!("secret-{index:02}"))
        .collect();
    assert_eq!(
        texts, expected,
        "every acknowledged message once, in order, and only whole prefixes of the burst"
    );
    for message in &for_bob {
        assert_eq!(message.source, "alice!text@127.0.0.1", "{message:?}");
        assert_eq!(message.target, "bob", "{message:?}");
    }
    // And the guest's message, sent to his account.
    let from_gus = bob.history("CHATHISTORY LATEST gus * 50", "gus");
    let from_gus: Vec<&str> = from_gus.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(from_gus, ["from-gus"]);
    assert_eq!(
        opened,
        for_bob.len() + 1,
        "the log counts exactly these messages"
    );

    // Alice, logged in to her account over IRC, sees the same conversation, same ids.
    let mut alice = IrcClient::register(server.irc(), "alice", CAPS);
    alice.identify("alice-password");
    let for_alice = alice.history("CHATHISTORY LATEST bob * 50", "bob");
    assert_eq!(for_alice, for_bob, "both parties see the same messages");

    // The guest's new connection (the third again, in a new run) reads nothing of its old
    // conversation.
    let mut gus = IrcClient::register(server.irc(), "gus", CAPS);
    assert_eq!(
        gus.history("CHATHISTORY LATEST bob * 50", "bob"),
        vec![],
        "a new connection is not the guest that talked"
    );
    assert_eq!(gus.targets(), Vec::<String>::new());
    gus.expect_quiet();

    // Carol sees none of it.
    let mut carol = IrcClient::register(server.irc(), "carol", CAPS);
    assert_eq!(
        carol.history("CHATHISTORY LATEST alice * 50", "alice"),
        vec![],
        "carol has no conversation with alice"
    );
    assert_eq!(
        carol.history("CHATHISTORY LATEST bob * 50", "bob"),
        vec![],
        "carol has no conversation with bob"
    );
    assert_eq!(carol.targets(), Vec::<String>::new());
    carol.expect_quiet();

    // Nor does a text user joining the lobby: private messages are never replayed.
    let mut dave = TextClient::named(server.text, "dave");
    dave.expect_quiet();
}

#[test]
fn a_database_that_is_not_sqlite_is_refused() {
    let dir = TempDir::new("palaver-durability-garbage");
    let database = dir.database();
    let garbage = "this is not an SQLite database, just text\n".repeat(100);
    std::fs::write(&database, &garbage).expect("write the garbage file");
    let path = database.to_str().expect("temp path is UTF-8");

    let mut server = Process::spawn(
        &[
            "serve",
            "--text-listen",
            "127.0.0.1:0",
            "--irc-listen",
            "127.0.0.1:0",
            "--db",
            path,
            "--log",
            "info",
        ],
        Options {
            memory_db: false,
            ..Options::default()
        },
    );
    let (status, stdout) = server.wait_exit();
    let stderr = server.stderr_text();
    assert!(!status.success(), "palaver must fail; stderr:\n{stderr}");
    assert!(
        !stdout.iter().any(|line| line == "ready"),
        "no `ready` when the database is refused: {stdout:?}"
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "exactly one stderr line; got:\n{stderr}");
    assert!(lines[0].starts_with("palaver: "), "{stderr}");
    assert!(lines[0].contains(path), "stderr names {path}: {stderr}");
    assert_eq!(
        std::fs::read_to_string(&database).expect("the file is still there"),
        garbage,
        "the refused file is left as it was"
    );
}

/// What a text sender of [`redis_killed_under_load_loses_no_acknowledged_message`] was told
/// about each of its messages.
#[derive(Debug, Default)]
struct Outcomes {
    /// Acknowledged: the sender's own stamped copy came back.
    acked: Vec<usize>,
    /// Refused while the link was down (`! not sent: …`): never stored.
    refused: Vec<usize>,
    /// Lines that should not have come, such as `! your message could not be saved …`: a
    /// room's message is stored in the step that relays it, or not at all.
    problems: Vec<String>,
}

/// Messages each sender of [`redis_killed_under_load_loses_no_acknowledged_message`] sends
/// before Redis is killed, and in all.
const BEFORE_OUTAGE: usize = 30;
const IN_ALL: usize = 80;

/// The notices of a cluster node's link to Redis (docs/CLUSTER.md, "Nodes as built").
const LINK_DOWN: &str =
    "-- the link to the rest of the network is down; messages cannot be sent until it is back";
const LINK_BACK: &str = "-- the link to the rest of the network is back";

/// Redis killed (`SIGKILL`) under load and started again on its append-only file: the node
/// tells its users; a message on its way to Redis waits for it (up to the store's timeout),
/// one said once the node knows is refused; the node recovers by itself once Redis is back,
/// and every message it acknowledged — before, during or after — is in the history, once;
/// none it refused is.
#[test]
fn redis_killed_under_load_loses_no_acknowledged_message() {
    // A lease long enough that the outage never fences the node.
    let mut storage = Storage::redis("10s");
    let mut server = storage.serve();
    let mut observer = TextClient::named(server.text, "observer");
    const SENDERS: usize = 4;
    let mut clients = Vec::new();
    for index in 0..SENDERS {
        let mut client = TextClient::named(server.text, &format!("t{index}"));
        client.join_empty_room(ROOM);
        clients.push(client);
    }
    let nicks: Vec<String> = clients.iter().map(|client| client.nick.clone()).collect();
    // Senders hold after BEFORE_OUTAGE messages until the outage begins, and after a failure
    // until Redis has been started again.
    let gates = Arc::new(Progress::new(SENDERS));
    let restarted = Arc::new((Mutex::new(false), Condvar::new()));
    let threads: Vec<JoinHandle<(Outcomes, TextClient)>> = clients
        .into_iter()
        .enumerate()
        .map(|(index, client)| {
            let gates = gates.clone();
            let restarted = restarted.clone();
            std::thread::spawn(move || send_through_outage(index, client, &gates, &restarted))
        })
        .collect();

    drop(gates.wait_until("every sender holds", |state| {
        state.acked.iter().all(|&acked| acked == BEFORE_OUTAGE)
    }));
    let Storage::Redis(redis, _) = &mut storage else {
        unreachable!("a Redis storage")
    };
    redis.stop();
    gates.update(|state| state.released = true);
    observer.skip_until(LINK_DOWN);
    redis.restart();
    {
        let (started, changed) = &*restarted;
        *started.lock().unwrap() = true;
        changed.notify_all();
    }
    observer.skip_until(LINK_BACK);

    // The senders stay connected until the node stops: a room its last member leaves forgets
    // its history.
    let (outcomes, _senders): (Vec<Outcomes>, Vec<TextClient>) = threads
        .into_iter()
        .map(|thread| thread.join().expect("a sender panicked"))
        .unzip();
    for (nick, outcome) in nicks.iter().zip(&outcomes) {
        assert!(
            outcome.problems.is_empty(),
            "{nick}: {:?}",
            outcome.problems
        );
        assert_eq!(
            outcome.acked.last(),
            Some(&(IN_ALL - 1)),
            "{nick} was acknowledged again once Redis was back: {outcome:?}"
        );
    }
    for (nick, outcome) in nicks.iter().zip(&outcomes) {
        eprintln!(
            "{nick}: {} acknowledged, refused {:?}",
            outcome.acked.len(),
            outcome.refused,
        );
    }

    // Read back by a node started afresh (a clean stop frees the name at once).
    server.process.signal("TERM");
    assert!(server.process.wait_exit().0.success());
    let server = storage.serve();
    let acked: Vec<Vec<usize>> = outcomes.iter().map(|o| o.acked.clone()).collect();
    let stored = verify_room(&server, &storage, &nicks, &acked);
    for ((nick, outcome), stored) in nicks.iter().zip(&outcomes).zip(&stored) {
        let refused_but_stored: Vec<&usize> = outcome
            .refused
            .iter()
            .filter(|index| stored.contains(index))
            .collect();
        assert!(
            refused_but_stored.is_empty(),
            "{nick}'s refused messages {refused_but_stored:?} were stored"
        );
    }
}

/// One sender of [`redis_killed_under_load_loses_no_acknowledged_message`]: sends its
/// messages one at a time, each once the previous one's outcome is in; after [`BEFORE_OUTAGE`]
/// holds until released; after a failure holds until Redis has been started again and reads
/// on until the node says its link is back. Returns the client, still connected.
fn send_through_outage(
    index: usize,
    mut client: TextClient,
    gates: &Progress,
    restarted: &(Mutex<bool>, Condvar),
) -> (Outcomes, TextClient) {
    let mut outcomes = Outcomes::default();
    let own = format!("{ROOM} <{}> ", client.nick);
    let mut link_back = false;
    for message in 0..IN_ALL {
        if message == BEFORE_OUTAGE {
            drop(gates.wait_until("the outage begins", |state| state.released));
        }
        let text = message_text(index, message);
        client.send(&text);
        let failed = loop {
            let line = client.line();
            if line == format!("{own}{text}") {
                outcomes.acked.push(message);
                gates.update(|state| state.acked[index] = outcomes.acked.len());
                break false;
            } else if line.starts_with("! not sent: this server has lost its link") {
                outcomes.refused.push(message);
                break true;
            } else if line.starts_with("! ") || line.starts_with(&own) {
                outcomes.problems.push(line);
            }
        };
        if failed && link_back {
            outcomes
                .problems
                .push(format!("{text} failed after the link was back"));
        } else if failed {
            let (started, changed) = restarted;
            let guard = started.lock().unwrap();
            drop(
                changed
                    .wait_timeout_while(guard, PATIENCE, |started| !*started)
                    .unwrap(),
            );
            client.skip_until(LINK_BACK);
            link_back = true;
        }
    }
    (outcomes, client)
}
