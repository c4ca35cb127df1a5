//! End-to-end test with a real, independent IRC client: jaraco's `irc` library for Python
//! (pinned in `tests/e2e/requirements.txt`, installed by `.ci/run`), driven by
//! `tests/e2e/irc_client.py`, talks to the real `palaver` binary alongside a plain-text user.
//!
//! The conversation is sequenced only by lines seen, never by sleeps:
//!
//! 1. the text user (`textuser`, over a plain `TcpStream`) joins `#e2e`;
//! 2. the Python client (`ircbot`) registers, joins `#e2e` and, once the server echoes its
//!    JOIN, says `hello from irc`;
//! 3. the text user sees `-- ircbot joined #e2e` and then `#e2e <ircbot> hello from irc`, and
//!    only then says `hello from text`;
//! 4. the Python client prints `PUBMSG textuser hello from text`, quits, and exits 0 once the
//!    server has closed its connection; the text user sees it leave.
//!
//! Timeouts ([`PATIENCE`] here, `--timeout` in the script) are only a safety net so a broken
//! server fails the test instead of hanging it. Both child processes are owned by guards that
//! kill them when dropped.
//!
//! Without the Python `irc` module the test prints a notice and passes, except under CI (the
//! `CI` environment variable is set), where `.ci/run` must have installed it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the test waits for anything (a stdout line, a client line, an exit).
const PATIENCE: Duration = Duration::from_secs(30);

/// The Python client's own bound on its whole run, shorter than [`PATIENCE`] so that when it
/// fails, it has exited with its reason on stderr before the test gives up waiting.
const CLIENT_TIMEOUT_SECONDS: &str = "20";

/// The client script, relative to this crate.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/e2e/irc_client.py");

/// Every environment variable the binary reads; cleared for the server so the test does not
/// depend on the environment it runs in.
const PALAVER_ENV: &[&str] = &[
    "PALAVER_CONFIG",
    "PALAVER_TEXT_LISTEN",
    "PALAVER_IRC_LISTEN",
    "PALAVER_SERVER_NAME",
    "PALAVER_IRC_PASSWORD",
    "PALAVER_CLOAK_HOSTS",
    "PALAVER_MAX_LINE_BYTES",
    "PALAVER_SEND_QUEUE_BYTES",
    "PALAVER_SHUTDOWN_GRACE_SECONDS",
    "PALAVER_LOG",
];

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

/// A running (or exited) child process with piped stdout and stderr. Dropping it kills it.
struct Process {
    name: &'static str,
    child: Child,
    /// Stdout lines, read by a thread; the channel disconnects at EOF.
    stdout: Receiver<String>,
    /// Everything the process wrote to stderr so far.
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<JoinHandle<()>>,
}

impl Process {
    fn spawn(name: &'static str, mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {name}: {error}"));

        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || forward_lines(stdout, sender));

        // Drain stderr continuously so a chatty child can never block on a full pipe.
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
            name,
            child,
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
                "no stdout line from {} within {PATIENCE:?}; stderr:\n{}",
                self.name,
                self.stderr_text()
            ),
        }
    }

    /// Waits for the process to exit, returning its status and its remaining stdout lines.
    /// The process closes stdout only by exiting, so EOF on stdout is the exit signal;
    /// [`PATIENCE`] bounds the wait.
    fn wait_exit_collecting(&mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + PATIENCE;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{} did not exit within {PATIENCE:?}; stdout so far: {lines:?}; stderr:\n{}",
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

    /// Stderr so far (all of it once [`wait_exit_collecting`](Self::wait_exit_collecting) has
    /// returned).
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

/// The listening addresses `palaver serve` announced before `ready`.
struct Addresses {
    text: SocketAddr,
    irc: SocketAddr,
}

/// Spawns `palaver serve` with one text and one IRC listener on loopback and waits for
/// `ready`.
fn serve() -> (Process, Addresses) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palaver"));
    command.args([
        "serve",
        "--text-listen",
        "127.0.0.1:0",
        "--irc-listen",
        "127.0.0.1:0",
    ]);
    for name in PALAVER_ENV {
        command.env_remove(name);
    }
    // Keep no database file behind.
    command.env("PALAVER_DB", ":memory:");
    let mut server = Process::spawn("palaver", command);
    let (mut text, mut irc) = (None, None);
    loop {
        let Some(line) = server.stdout_line() else {
            let (status, _) = server.wait_exit_collecting();
            panic!(
                "palaver exited ({status}) before printing `ready`; stderr:\n{}",
                server.stderr_text()
            );
        };
        if line == "ready" {
            break;
        }
        let (slot, address) = if let Some(address) = line.strip_prefix("listening text ") {
            (&mut text, address)
        } else if let Some(address) = line.strip_prefix("listening irc ") {
            (&mut irc, address)
        } else {
            panic!("unexpected stdout line before `ready`: {line:?}");
        };
        let address: SocketAddr = address
            .parse()
            .unwrap_or_else(|_| panic!("bad address in {line:?}"));
        assert!(slot.replace(address).is_none(), "listed twice: {line:?}");
    }
    let addresses = Addresses {
        text: text.expect("a `listening text` line before `ready`"),
        irc: irc.expect("a `listening irc` line before `ready`"),
    };
    (server, addresses)
}

// ---------------------------------------------------------------------------------------------
// A text-protocol client
// ---------------------------------------------------------------------------------------------

struct TextClient {
    nick: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl TextClient {
    /// Connects, reads the greeting (learning the guest nick) and the lobby join line.
    fn connect(address: SocketAddr) -> Self {
        let stream = TcpStream::connect_timeout(&address, PATIENCE)
            .unwrap_or_else(|error| panic!("connect to {address}: {error}"));
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut client = Self {
            nick: String::new(),
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = client.line().expect("a greeting");
        let nick = greeting
            .strip_prefix("-- welcome to palaver; you are ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("unexpected greeting: {greeting:?}"))
            .to_owned();
        assert!(nick.starts_with("guest-"), "greeting: {greeting:?}");
        client.nick = nick.clone();
        client.expect(&format!("-- {nick} joined #lobby")).unwrap();
        client
    }

    /// Sends `line` followed by LF.
    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
    }

    /// The next line, without its LF and with its `[HH:MM:SS] ` stamp removed (its shape is
    /// checked); an error says why there is none.
    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => return Err(format!("{}: connection closed", self.nick)),
            Ok(_) => {}
            Err(error) => return Err(format!("{}: no line ({error})", self.nick)),
        }
        if line.pop() != Some('\n') {
            return Err(format!("{}: line without LF: {line:?}", self.nick));
        }
        untimed(&line).map(str::to_owned)
    }

    /// Checks that the next line (stamp removed) is `expected`.
    fn expect(&mut self, expected: &str) -> Result<(), String> {
        let line = self.line()?;
        if line == expected {
            Ok(())
        } else {
            Err(format!("{} expected {expected:?}, got {line:?}", self.nick))
        }
    }
}

/// Removes a leading `[HH:MM:SS] ` after checking its shape; other lines are returned whole.
fn untimed(line: &str) -> Result<&str, String> {
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

// ---------------------------------------------------------------------------------------------
// The Python client
// ---------------------------------------------------------------------------------------------

/// Whether `python3` can import `irc.client`; if not, why.
fn python_irc_available() -> Result<(), String> {
    match Command::new("python3")
        .args(["-c", "import irc.client"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!(
            "`python3 -c \"import irc.client\"` failed ({}): {}",
            output.status,
            // The last line of a traceback is the error itself.
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .rfind(|line| !line.trim().is_empty())
                .unwrap_or("")
                .trim()
        )),
        Err(error) => Err(format!("cannot run python3: {error}")),
    }
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[test]
fn python_irc_client_and_text_user_talk_in_one_room() {
    if let Err(why) = python_irc_available() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "the Python `irc` library is missing under CI: .ci/run should have installed \
                 it (python3 -m pip install -r tests/e2e/requirements.txt); {why}"
            );
        }
        eprintln!(
            "NOTICE: skipping the IRC end-to-end test: {why}. Install the client with \
             `python3 -m pip install -r tests/e2e/requirements.txt` to run it."
        );
        return;
    }

    let (server, addresses) = serve();

    let mut text = TextClient::connect(addresses.text);
    text.send("/nick textuser");
    text.expect(&format!("-- {} is now known as textuser", text.nick))
        .unwrap();
    text.nick = "textuser".to_owned();
    text.send("/join #e2e");
    text.expect("-- textuser joined #e2e").unwrap();

    let mut command = Command::new("python3");
    command.args([
        SCRIPT,
        "--host",
        &addresses.irc.ip().to_string(),
        "--port",
        &addresses.irc.port().to_string(),
        "--nick",
        "ircbot",
        "--channel",
        "#e2e",
        "--say",
        "hello from irc",
        "--expect-from",
        "textuser",
        "--expect-text",
        "hello from text",
        "--timeout",
        CLIENT_TIMEOUT_SECONDS,
    ]);
    let mut python = Process::spawn("irc_client.py", command);

    // Any failure from here on shows both sides: the Python client's trace of the IRC traffic
    // and the server's log.
    let fail = |python: &mut Process, what: String| -> ! {
        let (status, stdout) = python.wait_exit_collecting();
        panic!(
            "{what}\n--- irc_client.py exited {status}; stdout: {stdout:?}; stderr:\n{}\
             --- palaver stderr:\n{}",
            python.stderr_text(),
            server.stderr_text()
        );
    };

    // The IRC client's join, then its message, reach the text user in that order.
    if let Err(what) = text.expect("-- ircbot joined #e2e") {
        fail(&mut python, what);
    }
    if let Err(what) = text.expect("#e2e <ircbot> hello from irc") {
        fail(&mut python, what);
    }

    // Only now does the text user answer; the Python client waits for exactly this line.
    text.send("hello from text");
    if let Err(what) = text.expect("#e2e <textuser> hello from text") {
        fail(&mut python, what);
    }

    let (status, stdout) = python.wait_exit_collecting();
    let trace = python.stderr_text();
    assert!(
        status.success(),
        "irc_client.py failed ({status}); stdout: {stdout:?}; stderr:\n{trace}\
         --- palaver stderr:\n{}",
        server.stderr_text()
    );
    assert!(
        stdout
            .iter()
            .any(|line| line == "PUBMSG textuser hello from text"),
        "the IRC client heard the text user; stdout: {stdout:?}; stderr:\n{trace}"
    );
    assert!(
        !stdout.iter().any(|line| line.starts_with("PUBMSG ircbot ")),
        "the IRC client does not get its own message echoed; stdout: {stdout:?}"
    );

    // The client quit before exiting: the text user sees it leave.
    match text.line() {
        Ok(line) if line.starts_with("-- ircbot ") => {}
        Ok(line) => panic!("expected ircbot to leave, got {line:?}; IRC trace:\n{trace}"),
        Err(what) => panic!("expected ircbot to leave: {what}; IRC trace:\n{trace}"),
    }
}
