//! Helpers shared by the end-to-end tests: a guard around a spawned child process (the
//! `palaver` binary or any other program), the server's `listening …`/`ready` handshake, free
//! ports and temporary directories, a text-protocol observer over a plain `std` `TcpStream`,
//! and a private tmux server for the full-screen tests.
//!
//! Timeouts use the including test binary's own `PATIENCE` constant (`crate::PATIENCE`), so
//! each test file keeps its safety net where it was.

// Each test binary compiles this module but uses only a subset of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::PATIENCE;

pub mod cluster;
pub mod proxy;

/// How often the screen is captured while waiting for it to show something.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Every environment variable the binary reads; cleared for each child so the tests do not
/// depend on the environment they run in.
pub const PALAVER_ENV: &[&str] = &[
    "PALAVER_CONFIG",
    "PALAVER_TEXT_LISTEN",
    "PALAVER_MAX_LINE_BYTES",
    "PALAVER_SEND_QUEUE_BYTES",
    "PALAVER_SHUTDOWN_GRACE",
    "PALAVER_SHUTDOWN_GRACE_SECONDS",
    "PALAVER_LOG",
    "PALAVER_IRC_LISTEN",
    "PALAVER_SERVER_NAME",
    "PALAVER_IRC_PASSWORD",
    "PALAVER_CLOAK_HOSTS",
    "PALAVER_DB",
    "PALAVER_CLUSTER",
    "PALAVER_NODE_NAME",
    "PALAVER_HTTP_LISTEN",
    "PALAVER_LOG_FORMAT",
    "PALAVER_ADMIN_URL",
    "PALAVER_ADMIN_TOKEN",
    "PALAVER_CONNECT_CONFIG",
];

/// The first line of the configuration files [`write_connect_config`] writes.
pub const CONNECT_CONFIG_COMMENT: &str = "# written by the test\n";

/// Writes `connect.toml` in `directory` for `palaver connect`: `server`'s IRC address, `nick`
/// and `#ops` to join, after a comment; returns its path.
pub fn write_connect_config(directory: &TempDir, server: &Server, nick: &str) -> PathBuf {
    let path = directory.path.join("connect.toml");
    let text = format!(
        "{CONNECT_CONFIG_COMMENT}server = \"{}\"\nnick = \"{nick}\"\njoin = [\"#ops\"]\n",
        server.irc()
    );
    std::fs::write(&path, text).expect("write connect.toml");
    path
}

/// `GET path` over HTTP/1.1 with `Connection: close`: the status code and the body.
pub fn http_get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect to HTTP");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head:?}"));
    (status, body.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

/// How to start a `palaver` child; the default is an empty stdin and `PALAVER_DB=:memory:`.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// Pipe stdin (for [`Process::write_stdin`]) instead of giving the child an empty one.
    pub pipe_stdin: bool,
    /// Set `PALAVER_DB=:memory:` so no database file is left behind.
    pub memory_db: bool,
    /// Variables set after the `PALAVER_*` ones are cleared (and after `PALAVER_DB`).
    pub envs: &'a [(&'a str, &'a str)],
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            pipe_stdin: false,
            memory_db: true,
            envs: &[],
        }
    }
}

/// A running (or exited) child process with piped stdout and stderr. Dropping it kills the
/// process, so no child outlives its test, whatever path the test takes.
pub struct Process {
    /// What the process is called in failure messages (`palaver`, a script's name).
    name: String,
    /// The child itself.
    pub child: Child,
    /// The child's stdin while it is open; `None` once closed (or never piped).
    stdin: Option<ChildStdin>,
    /// Stdout lines, read by a thread; the channel disconnects at EOF.
    stdout: Receiver<String>,
    /// Everything the process wrote to stderr so far.
    stderr: Arc<Mutex<String>>,
    /// Stderr lines not yet taken by [`stderr_line_containing`](Self::stderr_line_containing).
    stderr_lines: Receiver<String>,
    /// The stderr reader, joined once the process has exited.
    stderr_thread: Option<JoinHandle<()>>,
}

impl Process {
    /// Spawns `palaver ARGS` with every `PALAVER_*` variable removed (and no user
    /// configuration for `palaver connect`), then set per `options`.
    pub fn spawn(args: &[&str], options: Options) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_palaver"));
        command.args(args);
        for name in PALAVER_ENV {
            command.env_remove(name);
        }
        // `palaver connect` reads the user's configuration file unless told otherwise: the
        // tests' clients must not find the developer's.
        command.env("XDG_CONFIG_HOME", "/nonexistent/palaver-tests");
        if options.memory_db {
            command.env("PALAVER_DB", ":memory:");
        }
        for (name, value) in options.envs {
            command.env(name, value);
        }
        Self::start("palaver", command, options.pipe_stdin)
    }

    /// Spawns `command` (any program) with an empty stdin, calling it `name` in failures.
    pub fn spawn_command(name: &str, command: Command) -> Self {
        Self::start(name, command, false)
    }

    /// Like [`spawn_command`](Self::spawn_command), with stdin piped for
    /// [`write_stdin`](Self::write_stdin).
    pub fn spawn_command_with_stdin(name: &str, command: Command) -> Self {
        Self::start(name, command, true)
    }

    fn start(name: &str, mut command: Command, pipe_stdin: bool) -> Self {
        command
            .stdin(if pipe_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {name}: {error}"));

        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || forward_lines(stdout, sender));

        // Drain stderr continuously so a chatty process can never block on a full pipe.
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = stderr.clone();
        let (line_sender, stderr_lines) = mpsc::channel();
        let stderr_thread = std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr_pipe);
            let mut bytes = Vec::new();
            loop {
                bytes.clear();
                match reader.read_until(b'\n', &mut bytes) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&bytes);
                        collected.lock().unwrap().push_str(&line);
                        let _ = line_sender.send(line.trim_end().to_owned());
                    }
                }
            }
        });

        Self {
            name: name.to_owned(),
            child,
            stdin,
            stdout: receiver,
            stderr,
            stderr_lines,
            stderr_thread: Some(stderr_thread),
        }
    }

    /// The next stdout line, or `None` at EOF. Panics after `PATIENCE`.
    pub fn stdout_line(&self) -> Option<String> {
        match self.stdout.recv_timeout(PATIENCE) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "no stdout line from {} within {PATIENCE:?}; stderr:\n{}",
                self.name,
                self.stderr_text()
            ),
        }
    }

    /// The first stderr line not yet taken that contains `needle`; waits for it.
    pub fn stderr_line_containing(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no stderr line containing {needle:?}; stderr:\n{}",
                    self.stderr_text()
                ),
            }
        }
    }

    /// Writes `text` to the child's stdin.
    pub fn write_stdin(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(text.as_bytes()).expect("write to stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Closes the child's stdin (EOF for the child).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends a signal with kill(1), e.g. `signal("9")` or `signal("TERM")`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// Waits for the process to exit, returning its status and its remaining stdout lines.
    /// The process closes stdout only by exiting, so EOF on stdout is the exit signal;
    /// `PATIENCE` bounds the wait.
    pub fn wait_exit(&mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + PATIENCE;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{} did not exit within {PATIENCE:?}; stdout so far: {lines:?}; \
                     stderr:\n{}",
                    self.name,
                    self.stderr_text()
                ),
            }
        }
        let status = self
            .child
            .wait()
            .unwrap_or_else(|error| panic!("wait for {}: {error}", self.name));
        // The process is gone, so stderr is at EOF too: collect all of it.
        if let Some(thread) = self.stderr_thread.take() {
            thread.join().expect("stderr reader");
        }
        (status, lines)
    }

    /// Stderr so far (all of it once [`wait_exit`](Self::wait_exit) has returned).
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each stdout line to `sender` until EOF (or until nobody listens).
fn forward_lines(stdout: ChildStdout, sender: mpsc::Sender<String>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        if sender.send(line).is_err() {
            return;
        }
    }
}

/// Reads the client's stdout until a line whose stamp-less form is `expected`; returns the
/// stamp-less lines before it.
pub fn client_skip_until(client: &Process, expected: &str, stamps: Stamps) -> Vec<String> {
    let mut skipped = Vec::new();
    loop {
        let Some(line) = client.stdout_line() else {
            panic!(
                "client exited before printing {expected:?}; got {skipped:?}; stderr:\n{}",
                client.stderr_text()
            );
        };
        let line = stamps.strip(&line).to_owned();
        if line == expected {
            return skipped;
        }
        skipped.push(line);
    }
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// The listeners a `palaver serve` announced on stdout before `ready`, in order.
#[derive(Debug, Default)]
pub struct Listening {
    /// The `listening text ADDR` addresses.
    pub text: Vec<SocketAddr>,
    /// The `listening irc ADDR` addresses.
    pub irc: Vec<SocketAddr>,
    /// The `listening http ADDR` addresses (the operations endpoints).
    pub http: Vec<SocketAddr>,
    /// The `listening ircs ADDR` addresses (IRC over TLS).
    pub ircs: Vec<SocketAddr>,
    /// The `listening texts ADDR` addresses (the text protocol over TLS).
    pub texts: Vec<SocketAddr>,
    /// The `listening web ADDR` addresses (the web client and IRC over WebSocket).
    pub web: Vec<SocketAddr>,
    /// The `listening webs ADDR` addresses (the same over TLS).
    pub webs: Vec<SocketAddr>,
}

/// What [`wait_ready`] does with a stdout line before `ready` that is no `listening` line.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OtherLines {
    /// Fails the test: the readiness contract allows nothing else.
    Fail,
    /// Skips it.
    Ignore,
}

/// Reads the `listening KIND ADDR` lines up to `ready`; panics (with the exit status and
/// stderr) if the process exits first.
pub fn wait_ready(process: &mut Process, other_lines: OtherLines) -> Listening {
    let mut listening = Listening::default();
    loop {
        let Some(line) = process.stdout_line() else {
            let (status, _) = process.wait_exit();
            panic!(
                "palaver exited ({status}) before printing `ready`; stderr:\n{}",
                process.stderr_text()
            );
        };
        if line == "ready" {
            return listening;
        }
        let address = |rest: &str| -> SocketAddr {
            rest.parse()
                .unwrap_or_else(|_| panic!("bad address in {line:?}"))
        };
        if let Some(rest) = line.strip_prefix("listening text ") {
            listening.text.push(address(rest));
        } else if let Some(rest) = line.strip_prefix("listening irc ") {
            listening.irc.push(address(rest));
        } else if let Some(rest) = line.strip_prefix("listening http ") {
            listening.http.push(address(rest));
        } else if let Some(rest) = line.strip_prefix("listening ircs ") {
            listening.ircs.push(address(rest));
        } else if let Some(rest) = line.strip_prefix("listening texts ") {
            listening.texts.push(address(rest));
        } else if let Some(rest) = line.strip_prefix("listening web ") {
            listening.web.push(address(rest));
        } else if let Some(rest) = line.strip_prefix("listening webs ") {
            listening.webs.push(address(rest));
        } else if other_lines == OtherLines::Fail {
            panic!("unexpected stdout line before `ready`: {line:?}");
        }
    }
}

/// A running `palaver serve` with one text and one IRC listener.
pub struct Server {
    /// The server process.
    pub process: Process,
    /// The text listener's address.
    pub text: SocketAddr,
    /// The IRC listener's address.
    irc: SocketAddr,
    /// The IRC-over-TLS listener's address, if it has one.
    pub ircs: Option<SocketAddr>,
    /// The web listener's address, if it has one.
    pub web: Option<SocketAddr>,
    /// The web-over-TLS listener's address, if it has one.
    pub webs: Option<SocketAddr>,
}

impl Server {
    /// Waits for `process` to be ready, checking that it listens once for each protocol.
    fn ready(mut process: Process, other_lines: OtherLines) -> Self {
        let listening = wait_ready(&mut process, other_lines);
        let [text] = listening.text[..] else {
            panic!("one `listening text` line before `ready`: {listening:?}");
        };
        let [irc] = listening.irc[..] else {
            panic!("one `listening irc` line before `ready`: {listening:?}");
        };
        Self {
            process,
            text,
            irc,
            ircs: listening.ircs.first().copied(),
            web: listening.web.first().copied(),
            webs: listening.webs.first().copied(),
        }
    }

    /// The IRC listener's address.
    pub fn irc(&self) -> SocketAddr {
        self.irc
    }
}

/// Spawns `palaver serve` on free ports (and an in-memory database) and waits for `ready`;
/// any stdout line before it but the two `listening` lines fails the test.
pub fn serve() -> Server {
    serve_with(&[], Options::default())
}

/// Like [`serve`], with `extra` arguments after the listeners and `options` for the process.
pub fn serve_with(extra: &[&str], options: Options) -> Server {
    let mut args = vec![
        "serve",
        "--text-listen",
        "127.0.0.1:0",
        "--irc-listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Server::ready(Process::spawn(&args, options), OtherLines::Fail)
}

/// Spawns `palaver serve` with a text listener on a free port, IRC on `irc` and the database
/// `database`, and waits for `ready` (other stdout lines before it are ignored).
pub fn serve_on(irc: &str, database: &Path) -> Server {
    let database = database.to_str().expect("UTF-8 temp path");
    let process = Process::spawn(
        &[
            "serve",
            "--text-listen",
            "127.0.0.1:0",
            "--irc-listen",
            irc,
            "--db",
            database,
        ],
        Options {
            memory_db: false,
            ..Options::default()
        },
    );
    Server::ready(process, OtherLines::Ignore)
}

/// A port nobody listens on right now, for a server that must come back on the same one.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A fresh directory under the temp dir, removed (with its contents) on drop.
pub struct TempDir {
    /// The directory.
    pub path: PathBuf,
    /// Owns the directory: dropping it removes it.
    _dir: tempfile::TempDir,
}

impl TempDir {
    /// Creates a directory named `PREFIX` and a random suffix.
    pub fn new(prefix: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}-"))
            .tempdir()
            .expect("create temp dir");
        Self {
            path: dir.path().to_owned(),
            _dir: dir,
        }
    }

    /// The database file inside it.
    pub fn database(&self) -> PathBuf {
        self.path.join("palaver.db")
    }
}

// ---------------------------------------------------------------------------------------------
// Timestamps and a text-protocol observer
// ---------------------------------------------------------------------------------------------

/// How strictly `[HH:MM:SS] ` stamps (and line endings) are checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stamps {
    /// A line starting with `[` must carry a well-formed stamp; observer lines must end in LF.
    Checked,
    /// A stamp-shaped prefix is removed if present; nothing is asserted.
    Lenient,
}

impl Stamps {
    /// `line` without its stamp, checked per `self`.
    pub fn strip(self, line: &str) -> &str {
        self.try_strip(line)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// `line` without its stamp, or why its stamp is malformed (only when [`Stamps::Checked`]).
    pub fn try_strip(self, line: &str) -> Result<&str, String> {
        match self {
            Self::Checked => checked_untimed(line),
            Self::Lenient => Ok(untimed(line)),
        }
    }
}

/// Removes a leading `[HH:MM:SS] `; other lines are returned whole.
pub fn untimed(line: &str) -> &str {
    let bytes = line.as_bytes();
    let stamped = bytes.len() >= 11 && bytes[0] == b'[' && bytes[9] == b']' && bytes[10] == b' ';
    if stamped { &line[11..] } else { line }
}

/// Removes a leading `[HH:MM:SS] ` after checking its shape, panicking if it is malformed;
/// other lines are returned whole.
pub fn untimed_checked(line: &str) -> &str {
    Stamps::Checked.strip(line)
}

/// Removes a leading `[HH:MM:SS] ` after checking its shape; other lines are returned whole.
fn checked_untimed(line: &str) -> Result<&str, String> {
    let bytes = line.as_bytes();
    if bytes.first() != Some(&b'[') {
        return Ok(line);
    }
    let stamp_ok = bytes.len() >= 11
        && bytes[3] == b':'
        && bytes[6] == b':'
        && bytes[9] == b']'
        && bytes[10] == b' '
        && [1, 2, 4, 5, 7, 8]
            .iter()
            .all(|&i| bytes[i].is_ascii_digit());
    if stamp_ok {
        Ok(&line[11..])
    } else {
        Err(format!("malformed timestamp in {line:?}"))
    }
}

/// A text-protocol connection that watches (and talks in) rooms.
pub struct Observer {
    /// Its current nick.
    pub nick: String,
    /// The server's first line, stamp removed.
    pub greeting: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    stamps: Stamps,
}

impl Observer {
    /// Connects, skips to the lobby join, takes the nick `nick` and joins `#ops`, skipping
    /// whatever else comes; stamps are [`Stamps::Lenient`].
    pub fn join_ops(address: SocketAddr, nick: &str) -> Self {
        let mut observer = Self::open(address, Stamps::Lenient);
        let old = observer.nick.clone();
        observer.skip_until(&format!("-- {old} joined #lobby"));
        observer.send(&format!("/nick {nick}"));
        observer.skip_until(&format!("-- {old} is now known as {nick}"));
        observer.nick = nick.to_owned();
        observer.send("/join #ops");
        observer.skip_until(&format!("-- {nick} joined #ops"));
        observer
    }

    /// Like [`join_ops`](Self::join_ops), but every line up to the `#ops` join must be the
    /// expected one; stamps are [`Stamps::Checked`].
    pub fn join_ops_checked(address: SocketAddr, nick: &str) -> Self {
        let mut observer = Self::connect_checked(address);
        observer.rename(nick);
        observer.send("/join #ops");
        observer.skip_until(&format!("-- {nick} joined #ops"));
        observer
    }

    /// Connects and expects the greeting and then the lobby join; stamps are
    /// [`Stamps::Checked`].
    pub fn connect_checked(address: SocketAddr) -> Self {
        let mut observer = Self::open(address, Stamps::Checked);
        let nick = observer.nick.clone();
        observer.expect(&format!("-- {nick} joined #lobby"));
        observer
    }

    /// Like [`connect_checked`](Self::connect_checked), also asserting that the greeting
    /// names a `guest-N` nick and ends with the hint for `/nick` and `/help`.
    pub fn connect_guest(address: SocketAddr) -> Self {
        let observer = Self::connect_checked(address);
        let greeting = &observer.greeting;
        assert!(
            observer.nick.starts_with("guest-"),
            "greeting: {greeting:?}"
        );
        assert!(
            greeting.ends_with("(/nick NAME to change it, /help for commands)"),
            "greeting: {greeting:?}"
        );
        observer
    }

    /// Connects and reads the greeting, learning the guest nick.
    fn open(address: SocketAddr, stamps: Stamps) -> Self {
        let stream = TcpStream::connect_timeout(&address, PATIENCE)
            .unwrap_or_else(|error| panic!("connect to {address}: {error}"));
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut observer = Self {
            nick: String::new(),
            greeting: String::new(),
            reader: BufReader::new(stream),
            writer,
            stamps,
        };
        let greeting = observer.line();
        let rest = greeting
            .strip_prefix("-- welcome to palaver; you are ")
            .unwrap_or_else(|| panic!("unexpected greeting: {greeting:?}"));
        observer.nick = rest.split(' ').next().unwrap().to_owned();
        observer.greeting = greeting;
        observer
    }

    /// Takes the nick `nick`, expecting the rename line next.
    pub fn rename(&mut self, nick: &str) {
        self.send(&format!("/nick {nick}"));
        let old = std::mem::replace(&mut self.nick, nick.to_owned());
        self.expect(&format!("-- {old} is now known as {nick}"));
    }

    /// Says `{label} N` (into its current room, `#ops`) for N = 0, 1, … until one is stored —
    /// its own copy comes back — at most `tries` times; a refusal (`! …`) moves on to the next
    /// one, once the link is back if the link refused it. The text stored, if any.
    pub fn say_until_stored(&mut self, label: &str, tries: usize) -> Option<String> {
        for attempt in 0..tries {
            let text = format!("{label} {attempt}");
            self.send(&text);
            let receipt = format!("#ops <{}> {text}", self.nick);
            let line = loop {
                let line = self.line();
                if line == receipt || line.starts_with("! ") {
                    break line;
                }
            };
            if line == receipt {
                return Some(text);
            }
            if line.starts_with("! not sent: this server has lost its link") {
                self.skip_until("-- the link to the rest of the network is back");
            }
        }
        None
    }

    /// A second handle on the connection, for a thread that sends while this one reads.
    pub fn sender(&self) -> TcpStream {
        self.writer.try_clone().expect("clone the connection")
    }

    /// Sends `line` followed by LF.
    pub fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
    }

    /// Sends `text` to the lobby and expects it echoed back.
    pub fn say(&mut self, text: &str) {
        self.send(text);
        let echo = format!("#lobby <{}> {text}", self.nick);
        self.expect(&echo);
    }

    /// The next line without its LF and `[HH:MM:SS] ` stamp.
    pub fn line(&mut self) -> String {
        self.try_line().unwrap_or_else(|error| panic!("{error}"))
    }

    /// Like [`line`](Self::line), but says why there is no line instead of panicking.
    pub fn try_line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => return Err(format!("{}: connection closed", self.nick)),
            Ok(_) => {}
            Err(error) => return Err(format!("{}: no line ({error})", self.nick)),
        }
        if self.stamps == Stamps::Checked && !line.ends_with('\n') {
            return Err(format!("line ends with LF: {line:?}"));
        }
        line.pop();
        self.stamps.try_strip(&line).map(str::to_owned)
    }

    /// Asserts that the next line (stamp removed) is `expected`.
    pub fn expect(&mut self, expected: &str) {
        let line = self.line();
        assert_eq!(line, expected, "{} got an unexpected line", self.nick);
    }

    /// Like [`expect`](Self::expect), but says what went wrong instead of panicking.
    pub fn try_expect(&mut self, expected: &str) -> Result<(), String> {
        let line = self.try_line()?;
        if line == expected {
            Ok(())
        } else {
            Err(format!("{} expected {expected:?}, got {line:?}", self.nick))
        }
    }

    /// Skips lines until one equals `expected`; returns the skipped lines.
    pub fn skip_until(&mut self, expected: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        loop {
            let line = self.line();
            if line == expected {
                return skipped;
            }
            skipped.push(line);
        }
    }

    /// Asserts that the server closes the connection next, with no further bytes.
    pub fn expect_closed(&mut self) {
        let mut rest = String::new();
        match self.reader.read_line(&mut rest) {
            Ok(0) => {}
            Ok(_) => panic!(
                "{}: expected the connection to close, got {rest:?}",
                self.nick
            ),
            Err(error) => panic!("{}: expected a clean close, got {error}", self.nick),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// tmux
// ---------------------------------------------------------------------------------------------

/// Whether tmux is installed; without it the test is skipped, except on CI where it fails.
pub fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is not installed, and CI is set: install it (apt-get install -y tmux)"
        );
        eprintln!("notice: tmux is not installed; skipping the full-screen end-to-end test");
    }
    found
}

/// A private tmux server running one session; dropping it kills the server (and the client).
pub struct Tmux {
    /// The private server's socket (`tmux -S`), inside `files` so it goes with them.
    socket: PathBuf,
    /// Where the shell running the command writes its exit status once it ends. tmux's own
    /// `#{pane_dead_status}` cannot be relied on: when tmux sees the pseudo-terminal close
    /// before it reaps the process, the pane is marked dead and the status is never filled in
    /// (seen with tmux 3.3a), so a test reading it fails at random.
    exit_status: PathBuf,
    /// Holds tmux's socket, its config file and the exit status; removed on drop, after the
    /// server.
    files: TempDir,
}

impl Tmux {
    /// Starts `command` (a shell command line) in a detached 120×30 session on a private tmux
    /// server. Panes stay after their process exits (`remain-on-exit`), so a client that dies
    /// can still be read.
    pub fn start(command: &str) -> Self {
        let files = TempDir::new("palaver-tui-test");
        let config = files.path.join("tmux.conf");
        std::fs::write(&config, "set -g remain-on-exit on\n").expect("write tmux config");
        let tmux = Self {
            socket: files.path.join("tmux.socket"),
            exit_status: files.path.join("status"),
            files,
        };
        // Written to a temporary name and renamed, so a reader never sees a half-written file.
        let status = tmux.exit_status.to_str().expect("UTF-8 temp path");
        // No user configuration for `palaver connect` (see `Process::spawn`).
        let command = format!(
            "export XDG_CONFIG_HOME=/nonexistent/palaver-tests; {command}; \
             echo $? >'{status}.partial' && mv '{status}.partial' '{status}'"
        );
        let config = config.to_str().expect("UTF-8 temp path");
        let output = tmux.run(&[
            "-f",
            config,
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "120",
            "-y",
            "30",
            &command,
        ]);
        assert!(
            output.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        tmux
    }

    /// Runs `tmux -S SOCKET ARGS` against this server.
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    /// Types `keys` (tmux key names, or literal text).
    pub fn send_keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tui"];
        args.extend_from_slice(keys);
        let output = self.run(&args);
        assert!(output.status.success(), "tmux send-keys failed");
    }

    /// Pastes `text` as a terminal does: bracketed (the client asks for bracketed paste), with
    /// each LF sent as CR, the line break terminals send (tmux's `paste-buffer`).
    pub fn paste(&self, text: &str) {
        let output = self.run(&["set-buffer", "-b", "test-paste", "--", text]);
        assert!(output.status.success(), "tmux set-buffer failed");
        let output = self.run(&["paste-buffer", "-p", "-d", "-b", "test-paste", "-t", "tui"]);
        assert!(output.status.success(), "tmux paste-buffer failed");
    }

    /// The screen as text.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "tui"]).stdout).into_owned()
    }

    /// A tmux format (`#{pane_dead}`, …) of the pane.
    pub fn format(&self, format: &str) -> String {
        let output = self.run(&["display-message", "-p", "-t", "tui", format]);
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Waits for the command in the pane to exit and returns its exit status (as the shell
    /// reports it: 128 + N for a process killed by signal N); panics with the screen after
    /// `PATIENCE`.
    pub fn wait_for_exit_status(&self) -> i32 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.exit_status) {
                return text
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("unreadable exit status {text:?}"));
            }
            assert!(
                Instant::now() < deadline,
                "the client did not exit within {PATIENCE:?}; the screen shows:\n{}",
                self.screen()
            );
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Polls the screen until `done` holds for it; panics with the screen after `PATIENCE`.
    pub fn wait_for_screen(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen did not show {what} within {PATIENCE:?}; it shows:\n{screen}"
            );
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The files go when `files` is dropped, right after this.
        let _ = self.run(&["kill-server"]);
    }
}

/// Runs `palaver gen-cert --out-dir DIR ARGS` to its end: (success, stdout lines, stderr).
pub fn gen_cert(directory: &Path, args: &[&str]) -> (bool, Vec<String>, String) {
    let directory = directory.to_str().unwrap();
    let mut full = vec!["gen-cert", "--out-dir", directory];
    full.extend_from_slice(args);
    let mut process = Process::spawn(&full, Options::default());
    let (status, stdout) = process.wait_exit();
    (status.success(), stdout, process.stderr_text())
}

/// A server with a text listener, a plain IRC listener and an `ircs` listener serving the
/// certificate in `directory`.
pub fn serve_tls(directory: &Path) -> Server {
    serve_with_certificate(directory, &["--irc-tls-listen", "127.0.0.1:0"])
}

/// A server with a text listener, a plain IRC listener and `listeners` (flags and addresses),
/// serving the certificate `palaver gen-cert` wrote in `directory`.
pub fn serve_with_certificate(directory: &Path, listeners: &[&str]) -> Server {
    let certificate = directory.join("cert.pem");
    let key = directory.join("key.pem");
    let mut args = listeners.to_vec();
    args.extend([
        "--tls-cert",
        certificate.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    serve_with(&args, Options::default())
}
