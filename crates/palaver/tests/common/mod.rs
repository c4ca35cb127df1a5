//! Helpers shared by the end-to-end tests: a guard around a spawned `palaver` binary, the
//! server's `listening …`/`ready` handshake, free ports and temp dirs, a text-protocol observer
//! over a plain `std` `TcpStream`, and a private tmux server for the full-screen tests.
//!
//! Timeouts use the including test binary's own `PATIENCE` constant (`crate::PATIENCE`), so
//! each test file keeps its safety net where it was.

// Each test binary compiles this module but uses only a subset of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::PATIENCE;

/// How often the screen is captured while waiting for it to show something.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Every environment variable the binary reads; cleared for each child so the tests do not
/// depend on the environment they run in.
pub const PALAVER_ENV: &[&str] = &[
    "PALAVER_CONFIG",
    "PALAVER_TEXT_LISTEN",
    "PALAVER_MAX_LINE_BYTES",
    "PALAVER_SEND_QUEUE_BYTES",
    "PALAVER_SHUTDOWN_GRACE_SECONDS",
    "PALAVER_LOG",
    "PALAVER_IRC_LISTEN",
    "PALAVER_SERVER_NAME",
    "PALAVER_IRC_PASSWORD",
    "PALAVER_CLOAK_HOSTS",
    "PALAVER_DB",
];

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

/// A running (or exited) `palaver` process. Dropping it kills the process.
pub struct Process {
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
    /// Spawns `palaver ARGS` with every `PALAVER_*` variable removed, then set per `options`.
    pub fn spawn(args: &[&str], options: Options) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_palaver"));
        command
            .args(args)
            .stdin(if options.pipe_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in PALAVER_ENV {
            command.env_remove(name);
        }
        if options.memory_db {
            command.env("PALAVER_DB", ":memory:");
        }
        for (name, value) in options.envs {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn palaver");

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
                "no stdout line within {PATIENCE:?}; stderr:\n{}",
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
                    "palaver did not exit within {PATIENCE:?}; stdout so far: {lines:?}; \
                     stderr:\n{}",
                    self.stderr_text()
                ),
            }
        }
        let status = self.child.wait().expect("wait for palaver");
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

/// A running `palaver serve` and the addresses it announced.
pub struct Server {
    /// The server process.
    pub process: Process,
    /// The text listener's address.
    pub text: SocketAddr,
    /// The IRC listener's address, if it was announced.
    irc: Option<SocketAddr>,
}

impl Server {
    /// The IRC listener's address.
    pub fn irc(&self) -> SocketAddr {
        self.irc.expect("an IRC listener")
    }
}

/// Spawns `palaver serve` on free ports (and an in-memory database) and waits for `ready`;
/// any stdout line before it but the two `listening` lines fails the test.
pub fn serve() -> Server {
    let process = Process::spawn(
        &[
            "serve",
            "--text-listen",
            "127.0.0.1:0",
            "--irc-listen",
            "127.0.0.1:0",
        ],
        Options::default(),
    );
    let server = wait_ready(process, true);
    server.irc();
    server
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
    wait_ready(process, false)
}

/// Reads `listening …` lines up to `ready`; `strict` fails on any other line.
fn wait_ready(process: Process, strict: bool) -> Server {
    let (mut text, mut irc) = (None, None);
    loop {
        let Some(line) = process.stdout_line() else {
            panic!(
                "palaver serve exited before `ready`; stderr:\n{}",
                process.stderr_text()
            );
        };
        if line == "ready" {
            break;
        }
        let address = |rest: &str| rest.parse::<SocketAddr>().expect("listening address");
        if let Some(rest) = line.strip_prefix("listening text ") {
            text = Some(address(rest));
        } else if let Some(rest) = line.strip_prefix("listening irc ") {
            irc = Some(address(rest));
        } else if strict {
            panic!("unexpected stdout line before `ready`: {line:?}");
        }
    }
    Server {
        process,
        text: text.expect("a text listener"),
        irc,
    }
}

/// A port nobody listens on right now, for a server that must come back on the same one.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A directory under the temp dir, unique per process and call, removed on drop.
pub struct TempDir {
    /// The directory.
    pub path: PathBuf,
}

impl TempDir {
    /// Creates `PREFIX-PID-NANOS` under the temp dir.
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self { path }
    }

    /// The database file inside it.
    pub fn database(&self) -> PathBuf {
        self.path.join("palaver.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
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
        match self {
            Self::Checked => untimed_checked(line),
            Self::Lenient => untimed(line),
        }
    }
}

/// Removes a leading `[HH:MM:SS] `; other lines are returned whole.
pub fn untimed(line: &str) -> &str {
    let bytes = line.as_bytes();
    let stamped = bytes.len() >= 11 && bytes[0] == b'[' && bytes[9] == b']' && bytes[10] == b' ';
    if stamped { &line[11..] } else { line }
}

/// Removes a leading `[HH:MM:SS] ` after checking its shape; other lines are returned whole.
pub fn untimed_checked(line: &str) -> &str {
    let bytes = line.as_bytes();
    if bytes.first() != Some(&b'[') {
        return line;
    }
    let stamp_ok = bytes.len() >= 11
        && bytes[3] == b':'
        && bytes[6] == b':'
        && bytes[9] == b']'
        && bytes[10] == b' '
        && [1, 2, 4, 5, 7, 8]
            .iter()
            .all(|&i| bytes[i].is_ascii_digit());
    assert!(stamp_ok, "malformed timestamp in {line:?}");
    &line[11..]
}

/// A text-protocol connection that watches (and talks in) rooms.
pub struct Observer {
    /// Its current nick.
    pub nick: String,
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

    /// Connects and reads the greeting, learning the guest nick.
    fn open(address: SocketAddr, stamps: Stamps) -> Self {
        let stream = TcpStream::connect_timeout(&address, PATIENCE)
            .unwrap_or_else(|error| panic!("connect to {address}: {error}"));
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut observer = Self {
            nick: String::new(),
            reader: BufReader::new(stream),
            writer,
            stamps,
        };
        let greeting = observer.line();
        let rest = greeting
            .strip_prefix("-- welcome to palaver; you are ")
            .unwrap_or_else(|| panic!("unexpected greeting: {greeting:?}"));
        observer.nick = rest.split(' ').next().unwrap().to_owned();
        observer
    }

    /// Takes the nick `nick`, expecting the rename line next.
    pub fn rename(&mut self, nick: &str) {
        self.send(&format!("/nick {nick}"));
        let old = std::mem::replace(&mut self.nick, nick.to_owned());
        self.expect(&format!("-- {old} is now known as {nick}"));
    }

    /// Sends `line` followed by LF.
    pub fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
    }

    /// The next line without its LF and `[HH:MM:SS] ` stamp.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        let read = self
            .reader
            .read_line(&mut line)
            .unwrap_or_else(|error| panic!("{}: no line ({error})", self.nick));
        assert!(read > 0, "{}: connection closed", self.nick);
        if self.stamps == Stamps::Checked {
            assert!(line.ends_with('\n'), "line ends with LF: {line:?}");
        }
        line.pop();
        self.stamps.strip(&line).to_owned()
    }

    /// Asserts that the next line (stamp removed) is `expected`.
    pub fn expect(&mut self, expected: &str) {
        let line = self.line();
        assert_eq!(line, expected, "{} got an unexpected line", self.nick);
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
    socket: String,
    config: PathBuf,
    /// Where the shell running the command writes its exit status once it ends. tmux's own
    /// `#{pane_dead_status}` cannot be relied on: when tmux sees the pseudo-terminal close
    /// before it reaps the process, the pane is marked dead and the status is never filled in
    /// (seen with tmux 3.3a), so a test reading it fails at random.
    exit_status: PathBuf,
}

impl Tmux {
    /// Starts `command` (a shell command line) in a detached 120×30 session on a private tmux
    /// server. Panes stay after their process exits (`remain-on-exit`), so a client that dies
    /// can still be read.
    pub fn start(command: &str) -> Self {
        let unique = format!(
            "palaver-tui-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let temp = std::env::temp_dir();
        let config = temp.join(format!("{unique}.conf"));
        std::fs::write(&config, "set -g remain-on-exit on\n").expect("write tmux config");
        let tmux = Self {
            socket: unique.clone(),
            config,
            exit_status: temp.join(format!("{unique}.status")),
        };
        // Written to a temporary name and renamed, so a reader never sees a half-written file.
        let status = tmux.exit_status.to_str().expect("UTF-8 temp path");
        let command =
            format!("{command}; echo $? >'{status}.partial' && mv '{status}.partial' '{status}'");
        let config = tmux.config.to_str().expect("UTF-8 temp path").to_owned();
        let output = tmux.run(&[
            "-f",
            &config,
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

    /// Runs `tmux -L SOCKET ARGS` against this server.
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
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
        let _ = self.run(&["kill-server"]);
        let _ = std::fs::remove_file(&self.config);
        let _ = std::fs::remove_file(&self.exit_status);
    }
}
