//! End-to-end tests of `palaver connect` in pipe mode: the real client binary talks IRC to the
//! real server binary, and a text-protocol observer (a plain `std` `TcpStream`) checks what
//! everyone else sees.
//!
//! Sequencing is by lines seen, never by sleeps: the server's `ready` line, the observer's
//! `-- bot joined #ops`, the client's stdout lines, and the client's exit (EOF on its stdout).
//! Timeouts ([`PATIENCE`]) are only a safety net so a broken client fails a test instead of
//! hanging it. Every child process is owned by a [`Process`] guard that kills it when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a test waits for anything (a stdout line, a client line, an exit).
const PATIENCE: Duration = Duration::from_secs(20);

/// Every environment variable the binary reads; cleared for each child so the tests do not
/// depend on the environment they run in.
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
// Child processes
// ---------------------------------------------------------------------------------------------

/// A running (or exited) `palaver` process. Dropping it kills the process.
struct Process {
    child: Child,
    /// The child's stdin while it is open; `None` once closed (or never piped).
    stdin: Option<ChildStdin>,
    /// Stdout lines, read by a thread; the channel disconnects at EOF.
    stdout: Receiver<String>,
    /// Everything the process wrote to stderr so far.
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<JoinHandle<()>>,
}

impl Process {
    /// Spawns `palaver ARGS` with every `PALAVER_*` variable removed but `PALAVER_DB=:memory:`,
    /// and stdin piped (`pipe_stdin`) or empty.
    fn spawn(args: &[&str], pipe_stdin: bool) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_palaver"));
        command
            .args(args)
            .stdin(if pipe_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in PALAVER_ENV {
            command.env_remove(name);
        }
        command.env("PALAVER_DB", ":memory:");
        let mut child = command.spawn().expect("spawn palaver");

        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || forward_lines(stdout, sender));

        // Drain stderr continuously so a chatty process can never block on a full pipe.
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = stderr.clone();
        let stderr_thread = std::thread::spawn(move || {
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
            stdin,
            stdout: receiver,
            stderr,
            stderr_thread: Some(stderr_thread),
        }
    }

    /// The next stdout line, or `None` at EOF. Panics after [`PATIENCE`].
    fn stdout_line(&self) -> Option<String> {
        match self.stdout.recv_timeout(PATIENCE) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "no stdout line within {PATIENCE:?}; stderr:\n{}",
                self.stderr_text()
            ),
        }
    }

    /// Writes `text` to the child's stdin.
    fn write_stdin(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(text.as_bytes()).expect("write to stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Closes the child's stdin (EOF for the child).
    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit, returning its status and its remaining stdout lines.
    /// The process closes stdout only by exiting, so EOF on stdout is the exit signal;
    /// [`PATIENCE`] bounds the wait.
    fn wait_exit(&mut self) -> (ExitStatus, Vec<String>) {
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
        if let Some(thread) = self.stderr_thread.take() {
            thread.join().expect("stderr reader");
        }
        (status, lines)
    }

    /// Stderr so far (all of it once [`wait_exit`](Self::wait_exit) has returned).
    fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
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

/// The server, with its text and IRC addresses.
struct Server {
    _process: Process,
    text: SocketAddr,
    irc: SocketAddr,
}

/// Spawns `palaver serve` on free ports and waits for `ready`.
fn serve() -> Server {
    let process = Process::spawn(
        &[
            "serve",
            "--text-listen",
            "127.0.0.1:0",
            "--irc-listen",
            "127.0.0.1:0",
        ],
        false,
    );
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
        } else {
            panic!("unexpected stdout line before `ready`: {line:?}");
        }
    }
    Server {
        _process: process,
        text: text.expect("a text listener"),
        irc: irc.expect("an IRC listener"),
    }
}

/// Spawns `palaver connect SERVER ARGS` with stdin piped.
fn connect(server: &Server, args: &[&str]) -> Process {
    let address = server.irc.to_string();
    let mut full = vec!["connect", address.as_str()];
    full.extend_from_slice(args);
    Process::spawn(&full, true)
}

/// Reads the client's stdout until a line whose stamp-less form is `expected`; returns the
/// stamp-less lines before it.
fn client_skip_until(client: &Process, expected: &str) -> Vec<String> {
    let mut skipped = Vec::new();
    loop {
        let Some(line) = client.stdout_line() else {
            panic!(
                "client exited before printing {expected:?}; got {skipped:?}; stderr:\n{}",
                client.stderr_text()
            );
        };
        let line = untimed(&line).to_owned();
        if line == expected {
            return skipped;
        }
        skipped.push(line);
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
        let mut observer = Self::connect(address);
        observer.rename(nick);
        observer.send("/join #ops");
        observer.skip_until(&format!("-- {nick} joined #ops"));
        observer
    }

    /// Connects and reads the greeting and the lobby join.
    fn connect(address: SocketAddr) -> Self {
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
        observer.nick = rest.split(' ').next().unwrap().to_owned();
        let nick = observer.nick.clone();
        observer.expect(&format!("-- {nick} joined #lobby"));
        observer
    }

    fn rename(&mut self, nick: &str) {
        self.send(&format!("/nick {nick}"));
        let old = std::mem::replace(&mut self.nick, nick.to_owned());
        self.expect(&format!("-- {old} is now known as {nick}"));
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
        assert!(line.ends_with('\n'), "line ends with LF: {line:?}");
        line.pop();
        untimed(&line).to_owned()
    }

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
}

/// Removes a leading `[HH:MM:SS] ` after checking its shape; other lines are returned whole.
fn untimed(line: &str) -> &str {
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

/// The stamp-less form of every line, asserting each is stamped.
fn stamped(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            assert!(line.starts_with('['), "unstamped stdout line {line:?}");
            untimed(line).to_owned()
        })
        .collect()
}

/// Asserts that `wanted` occur in `lines` in this order (other lines may come between).
fn assert_in_order(lines: &[String], wanted: &[&str]) {
    let mut position = 0;
    for want in wanted {
        match lines[position..].iter().position(|line| line == want) {
            Some(found) => position += found + 1,
            None => panic!("{want:?} missing (or out of order) in {lines:#?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn piped_lines_reach_the_room_in_order_and_the_client_exits_cleanly() {
    let server = serve();
    let mut observer = Observer::join_ops(server.text, "observer");

    let mut client = connect(&server, &["--nick", "bot", "--join", "#ops"]);
    client.write_stdin("hi\nthere\n");
    client.close_stdin();

    observer.skip_until("-- bot joined #ops");
    observer.expect("#ops <bot> hi");
    observer.expect("#ops <bot> there");

    let (status, stdout) = client.wait_exit();
    assert!(
        status.success(),
        "client failed ({status}); stderr:\n{}",
        client.stderr_text()
    );
    let lines = stamped(&stdout);
    assert_in_order(
        &lines,
        &["-- bot joined #ops", "#ops <bot> hi", "#ops <bot> there"],
    );
    // Everything sent was acknowledged before QUIT, so the observer sees the quit last.
    let quit = observer.line();
    assert!(
        quit.starts_with("-- bot left ("),
        "expected a quit, got {quit:?}"
    );
}

#[test]
fn what_others_say_is_printed_while_connected() {
    let server = serve();
    let mut observer = Observer::join_ops(server.text, "observer");

    let mut client = connect(&server, &["--nick", "bot", "--join", "#ops"]);
    observer.skip_until("-- bot joined #ops");
    observer.send("hello bot");
    observer.expect("#ops <observer> hello bot");

    client_skip_until(&client, "#ops <observer> hello bot");
    client.close_stdin();
    let (status, _) = client.wait_exit();
    assert!(
        status.success(),
        "client failed ({status}); stderr:\n{}",
        client.stderr_text()
    );
}

#[test]
fn actions_and_private_messages_from_the_pipe() {
    let server = serve();
    let mut observer = Observer::join_ops(server.text, "observer");

    let mut client = connect(&server, &["--nick", "bot", "--join", "#ops"]);
    client.write_stdin("/me waves\n/msg observer psst\n");
    client.close_stdin();

    observer.skip_until("-- bot joined #ops");
    observer.expect("#ops * bot waves");
    observer.expect("*bot* psst");

    let (status, stdout) = client.wait_exit();
    assert!(
        status.success(),
        "client failed ({status}); stderr:\n{}",
        client.stderr_text()
    );
    assert_in_order(
        &stamped(&stdout),
        &["#ops * bot waves", "-> *observer* psst"],
    );
}

#[test]
fn a_nick_in_use_fails_with_one_line() {
    let server = serve();
    let _observer = Observer::join_ops(server.text, "bot");

    let mut client = connect(&server, &["--nick", "bot", "--join", "#ops"]);
    let (status, _) = client.wait_exit();
    assert!(!status.success(), "client should fail with a taken nick");
    assert_eq!(
        client.stderr_text(),
        "palaver: nick bot is already in use\n"
    );
}

#[test]
fn sasl_logs_in_to_an_account_registered_over_text() {
    let server = serve();
    let mut observer = Observer::join_ops(server.text, "acct");
    observer.send("/register pw12345678");
    observer.expect("-- account acct registered; you are logged in");
    // Free the nick for the client; the observer stays logged in to the account.
    observer.rename("observer");

    // A wrong password: refused, with one clear line.
    let mut client = connect(&server, &["--nick", "acct", "--password", "wrong-password"]);
    let (status, _) = client.wait_exit();
    assert!(!status.success(), "a wrong password must fail");
    let stderr = client.stderr_text();
    assert!(
        stderr.starts_with("palaver: login failed: ") && stderr.lines().count() == 1,
        "stderr: {stderr:?}"
    );

    // The right one: logged in, then the piped line is said.
    let mut client = connect(
        &server,
        &[
            "--nick",
            "acct",
            "--password",
            "pw12345678",
            "--join",
            "#ops",
        ],
    );
    client.write_stdin("logged in\n");
    client.close_stdin();
    observer.skip_until("#ops <acct> logged in");
    let (status, stdout) = client.wait_exit();
    assert!(
        status.success(),
        "client failed ({status}); stderr:\n{}",
        client.stderr_text()
    );
    assert_in_order(
        &stamped(&stdout),
        &["-- you are now logged in as acct", "#ops <acct> logged in"],
    );
}
