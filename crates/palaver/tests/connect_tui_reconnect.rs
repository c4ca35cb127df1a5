//! End-to-end test of the full-screen mode's resilience through a real pseudo-terminal: the
//! server is killed (`kill -9`), a line is typed while it is down (shown as pending), the
//! server comes back on the same IRC port and database, and the client reconnects, rejoins
//! and sends the line; the pending mark goes once its echo arrives.
//!
//! tmux runs the client in a detached session, `send-keys` types, `capture-pane` reads the
//! screen; the real server binary and a text-protocol observer check what others see.
//!
//! A terminal gives no readiness signal, so the screen is polled with `capture-pane` at a short
//! interval, bounded by [`PATIENCE`]; everything else is sequenced by lines the observer sees.
//! tmux runs on a private socket (`tmux -L`), so it neither touches nor depends on the user's
//! tmux server, and a guard kills that tmux server when the test ends, however it ends.
//!
//! Without tmux the test prints a notice and passes, unless `CI` is set: there it fails, so CI
//! cannot silently skip it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the test waits for anything (a line, a screen state).
const PATIENCE: Duration = Duration::from_secs(20);
/// How often the screen is captured while waiting for it to show something.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Every environment variable the binary reads; cleared for each child.
const PALAVER_ENV: &[&str] = &[
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
// The server process (the guard pattern of tests/connect.rs)
// ---------------------------------------------------------------------------------------------

/// A running `palaver serve`. Dropping it kills the process.
struct Process {
    child: Child,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Process {
    fn spawn(args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_palaver"));
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in PALAVER_ENV {
            command.env_remove(name);
        }
        let mut child = command.spawn().expect("spawn palaver");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || forward_lines(stdout, sender));
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = stderr.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match stderr_pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => collected
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&chunk[..n])),
                }
            }
        });
        Self {
            child,
            stdout: receiver,
            stderr,
        }
    }

    fn stdout_line(&self) -> Option<String> {
        match self.stdout.recv_timeout(PATIENCE) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "no stdout line within {PATIENCE:?}; stderr:\n{}",
                self.stderr.lock().unwrap()
            ),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stdout: ChildStdout, sender: mpsc::Sender<String>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        if sender.send(line).is_err() {
            return;
        }
    }
}

struct Server {
    process: Process,
    text: SocketAddr,
}

/// Spawns `palaver serve` with a text listener on a free port, IRC on `irc` and the database
/// `database`, and waits for `ready`.
fn serve(irc: &str, database: &Path) -> Server {
    let database = database.to_str().expect("UTF-8 temp path");
    let process = Process::spawn(&[
        "serve",
        "--text-listen",
        "127.0.0.1:0",
        "--irc-listen",
        irc,
        "--db",
        database,
    ]);
    let mut text = None;
    loop {
        let line = process
            .stdout_line()
            .expect("palaver serve exited before `ready`");
        if line == "ready" {
            break;
        }
        if let Some(rest) = line.strip_prefix("listening text ") {
            text = Some(rest.parse::<SocketAddr>().expect("text address"));
        }
    }
    Server {
        process,
        text: text.expect("a text listener"),
    }
}

/// A port nobody listens on right now, for a server that must come back on the same one.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A directory under the temp dir, unique per process, removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "palaver-tui-reconnect-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// A text-protocol observer
// ---------------------------------------------------------------------------------------------

struct Observer {
    nick: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Observer {
    /// Connects, takes the nick `nick`, and joins `#ops`.
    fn join_ops(address: SocketAddr, nick: &str) -> Self {
        let stream = TcpStream::connect_timeout(&address, PATIENCE)
            .unwrap_or_else(|error| panic!("connect to {address}: {error}"));
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut observer = Self {
            nick: String::new(),
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = observer.line();
        let rest = greeting
            .strip_prefix("-- welcome to palaver; you are ")
            .unwrap_or_else(|| panic!("unexpected greeting: {greeting:?}"));
        let old = rest.split(' ').next().unwrap().to_owned();
        observer.skip_until(&format!("-- {old} joined #lobby"));
        observer.send(&format!("/nick {nick}"));
        observer.skip_until(&format!("-- {old} is now known as {nick}"));
        observer.nick = nick.to_owned();
        observer.send("/join #ops");
        observer.skip_until(&format!("-- {nick} joined #ops"));
        observer
    }

    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
    }

    /// The next line without its LF and `[HH:MM:SS] ` stamp.
    fn line(&mut self) -> String {
        let mut line = String::new();
        let read = self
            .reader
            .read_line(&mut line)
            .unwrap_or_else(|error| panic!("{}: no line ({error})", self.nick));
        assert!(read > 0, "{}: connection closed", self.nick);
        line.pop();
        untimed(&line).to_owned()
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
}

/// Removes a leading `[HH:MM:SS] `.
fn untimed(line: &str) -> &str {
    let bytes = line.as_bytes();
    if bytes.len() >= 11 && bytes[0] == b'[' && bytes[9] == b']' && bytes[10] == b' ' {
        &line[11..]
    } else {
        line
    }
}

// ---------------------------------------------------------------------------------------------
// tmux
// ---------------------------------------------------------------------------------------------

/// Whether tmux is installed; without it the test is skipped, except on CI where it fails.
fn tmux_available() -> bool {
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
struct Tmux {
    socket: String,
    config: PathBuf,
}

impl Tmux {
    /// Starts `command` in a detached 120×30 session on a private tmux server. Panes stay
    /// after their process exits (`remain-on-exit`), so a client that dies can still be read.
    fn start(command: &str) -> Self {
        let unique = format!(
            "palaver-tui-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let config = std::env::temp_dir().join(format!("{unique}.conf"));
        std::fs::write(&config, "set -g remain-on-exit on\n").expect("write tmux config");
        let tmux = Self {
            socket: unique,
            config,
        };
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
            command,
        ]);
        assert!(
            output.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        tmux
    }

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
    fn send_keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tui"];
        args.extend_from_slice(keys);
        let output = self.run(&args);
        assert!(output.status.success(), "tmux send-keys failed");
    }

    /// The screen as text.
    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "tui"]).stdout).into_owned()
    }

    /// A tmux format (`#{pane_dead}`, …) of the pane.
    fn format(&self, format: &str) -> String {
        let output = self.run(&["display-message", "-p", "-t", "tui", format]);
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Polls the screen until `done` holds for it; panics with the screen after [`PATIENCE`].
    fn wait_for_screen(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
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
    }
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[test]
fn full_screen_client_reconnects_and_sends_what_was_typed_meanwhile() {
    if !tmux_available() {
        return;
    }
    let dir = TempDir::new();
    let database = dir.path.join("palaver.db");
    let irc = format!("127.0.0.1:{}", free_port());
    let mut server = serve(&irc, &database);
    let mut observer = Observer::join_ops(server.text, "watcher");

    let command = format!(
        "'{}' connect {irc} --nick tui --join '#ops'",
        env!("CARGO_BIN_EXE_palaver")
    );
    let tmux = Tmux::start(&command);
    observer.skip_until("-- tui joined #ops");
    tmux.wait_for_screen("the #ops prompt", |screen| {
        screen.lines().any(|line| line.starts_with("[#ops]"))
    });
    tmux.send_keys(&["before the crash", "Enter"]);
    observer.skip_until("#ops <tui> before the crash");

    // Crash the server: no QUIT, no goodbye.
    let pid = server.process.child.id().to_string();
    let status = Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -9 failed");
    let _ = server.process.child.wait();
    drop(observer);
    tmux.wait_for_screen("the lost connection", |screen| {
        screen.contains("reconnecting")
    });

    tmux.send_keys(&["typed while down", "Enter"]);
    tmux.wait_for_screen("the pending line", |screen| {
        screen.contains("typed while down (pending)")
    });

    let server = serve(&irc, &database);
    let mut observer = Observer::join_ops(server.text, "watcher");
    observer.skip_until("#ops <tui> typed while down");
    let screen = tmux.wait_for_screen("the echo replacing the pending line", |screen| {
        screen.contains("#ops <tui> typed while down") && !screen.contains("(pending)")
    });
    assert!(screen.contains("connected"), "the status bar:\n{screen}");
    assert_eq!(tmux.format("#{pane_dead}"), "0", "{screen}");
}

#[test]
fn full_screen_client_exits_non_zero_when_its_nick_is_taken_at_first() {
    if !tmux_available() {
        return;
    }
    let dir = TempDir::new();
    let irc = format!("127.0.0.1:{}", free_port());
    let server = serve(&irc, &dir.path.join("palaver.db"));
    let _holder = Observer::join_ops(server.text, "taken");

    let errors = dir.path.join("stderr.txt");
    let command = format!(
        "'{}' connect {irc} --nick taken --join '#ops' 2>'{}'",
        env!("CARGO_BIN_EXE_palaver"),
        errors.display()
    );
    let tmux = Tmux::start(&command);
    let deadline = Instant::now() + PATIENCE;
    while tmux.format("#{pane_dead}") != "1" {
        assert!(
            Instant::now() < deadline,
            "the client did not exit; the screen shows:\n{}",
            tmux.screen()
        );
        std::thread::sleep(POLL_INTERVAL);
    }
    assert_ne!(tmux.format("#{pane_dead_status}"), "0", "{}", tmux.screen());
    let stderr = std::fs::read_to_string(&errors).expect("read stderr");
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(last, "palaver: nick taken is already in use", "{stderr}");
    // The terminal was restored: the full screen's status bar is gone from the pane.
    assert!(!tmux.screen().contains("registering"), "{}", tmux.screen());
}
