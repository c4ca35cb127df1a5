//! `palaver connect` (pipe mode) survives a server crash: it reconnects on its own, rejoins,
//! fills the gap from `draft/chathistory`, and delivers what was typed while it was down.
//!
//! The server runs on a fixed IRC port (picked free by binding `127.0.0.1:0` and closing it)
//! and a real database file, so a restarted server is the "same" server to the client.
//! Sequencing is by lines seen (stdout, stderr, the observer's lines), never by sleeps; the
//! client's own backoff timing is its business. [`PATIENCE`] is only a safety net.
//!
//! The gap is made deterministic with a server in between: after the crash, a server with the
//! same database but *without* the client's port takes the message the client must miss, and
//! stops; only then does a server come back on the client's port.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a test waits for anything (a line, an exit).
const PATIENCE: Duration = Duration::from_secs(30);

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
// Child processes
// ---------------------------------------------------------------------------------------------

/// A running (or exited) `palaver` process. Dropping it kills the process.
struct Process {
    child: Child,
    /// The child's stdin while it is open; `None` once closed (or never piped).
    stdin: Option<ChildStdin>,
    /// Stdout lines, read by a thread; the channel disconnects at EOF.
    stdout: Receiver<String>,
    /// Stderr lines not yet taken by [`stderr_line_containing`](Self::stderr_line_containing).
    stderr_lines: Receiver<String>,
    /// Everything the process wrote to stderr so far.
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<JoinHandle<()>>,
}

impl Process {
    /// Spawns `palaver ARGS` with every `PALAVER_*` variable removed, stdin piped or empty.
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
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
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
            stderr_lines,
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

    /// The first stderr line not yet taken that contains `needle`; waits for it.
    fn stderr_line_containing(&self, needle: &str) -> String {
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

    fn write_stdin(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(text.as_bytes()).expect("write to stdin");
        stdin.flush().expect("flush stdin");
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends a signal with kill(1), e.g. `signal("9")` or `signal("TERM")`.
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// Waits for the process to exit (EOF on stdout), returning its status and its remaining
    /// stdout lines.
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

/// A server and its text address.
struct Server {
    process: Process,
    text: SocketAddr,
}

/// Spawns `palaver serve` with a text listener on a free port, IRC on `irc` and the database
/// `database`, and waits for `ready`.
fn serve(irc: &str, database: &Path) -> Server {
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
        false,
    );
    let mut text = None;
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
        if let Some(rest) = line.strip_prefix("listening text ") {
            text = Some(rest.parse().expect("text address"));
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

/// A directory under the temp dir, unique per process and test, removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "palaver-reconnect-test-{}-{test}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self { path }
    }

    fn database(&self) -> PathBuf {
        self.path.join("palaver.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
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
        observer.nick = nick.to_owned();
        observer.send(&format!("/nick {nick}"));
        observer.skip_until(&format!("-- {old} is now known as {nick}"));
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

/// Removes a leading `[HH:MM:SS] `; other lines are returned whole.
fn untimed(line: &str) -> &str {
    let bytes = line.as_bytes();
    let stamped = bytes.len() >= 11 && bytes[0] == b'[' && bytes[9] == b']' && bytes[10] == b' ';
    if stamped { &line[11..] } else { line }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn the_client_survives_a_server_crash_fills_the_gap_and_delivers_what_was_typed() {
    let dir = TempDir::new("crash");
    let database = dir.database();
    let irc = format!("127.0.0.1:{}", free_port());

    // 1. Connected: a line goes through.
    let first = serve(&irc, &database);
    let mut observer = Observer::join_ops(first.text, "observer");
    let mut client = Process::spawn(&["connect", &irc, "--nick", "bot", "--join", "#ops"], true);
    observer.skip_until("-- bot joined #ops");
    client.write_stdin("before\n");
    observer.skip_until("#ops <bot> before");
    // The echo came back: the client knows the message's msgid.
    client_skip_until(&client, "#ops <bot> before");

    // 2. The server crashes; the client says so and keeps reading stdin.
    first.process.signal("9");
    let notice = client.stderr_line_containing("palaver: connection lost");
    assert!(notice.contains("; reconnecting in "), "{notice:?}");
    client.write_stdin("during\n");
    drop(observer);
    drop(first);

    // 3. Someone says something the client cannot see: a server with the same database but
    //    not on the client's port takes it (its receipt means it is stored) and stops.
    let interim = serve("127.0.0.1:0", &database);
    let mut observer = Observer::join_ops(interim.text, "observer");
    observer.send("missed");
    observer.skip_until("#ops <observer> missed");
    drop(observer);
    interim.process.signal("9");
    drop(interim);

    // 4. The server comes back on the client's port: the client reconnects by itself, prints
    //    what it missed, and then sends what was typed while it was down.
    let last = serve(&irc, &database);
    client.stderr_line_containing("palaver: reconnected to");
    let skipped = client_skip_until(&client, "#ops <observer> missed");
    assert!(
        !skipped.iter().any(|line| line.ends_with("<bot> before")),
        "an already printed message came again: {skipped:?}"
    );
    client_skip_until(&client, "#ops <bot> during");

    // The room has it, in order after the missed message.
    let mut observer = Observer::join_ops(last.text, "observer");
    observer.send("/history 10");
    let history = observer.skip_until("-- end of history");
    let said: Vec<&str> = history
        .iter()
        .filter(|line| line.starts_with("#ops <"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        said,
        [
            "#ops <bot> before",
            "#ops <observer> missed",
            "#ops <bot> during"
        ]
    );

    // 5. EOF: everything acknowledged, clean exit, and nothing printed twice.
    client.close_stdin();
    let (status, rest) = client.wait_exit();
    assert!(
        status.success(),
        "client failed ({status}); stderr:\n{}",
        client.stderr_text()
    );
    assert!(
        !rest
            .iter()
            .any(|line| line.contains("missed") || line.contains("during")),
        "printed twice: {rest:?}"
    );
}
