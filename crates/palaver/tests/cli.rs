//! End-to-end tests of the `palaver` binary: the readiness contract on stdout, bind failures,
//! configuration precedence (file < environment < flags), graceful shutdown on signals, and
//! restarting on the same port.
//!
//! Every test spawns the real binary and talks to it over real sockets with plain `std`.
//! Readiness is always taken from the `ready` line on stdout, never from a sleep; timeouts
//! ([`PATIENCE`]) are only a safety net so a broken server fails a test instead of hanging it.
//! Each child process is owned by a [`Palaver`] guard that kills it when dropped, so no
//! server outlives its test, whatever path the test takes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a test waits for anything (a stdout line, a client line, an exit) before
/// declaring the server broken.
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
// The server process
// ---------------------------------------------------------------------------------------------

/// A running (or exited) `palaver` process. Dropping it kills the process.
struct Palaver {
    child: Child,
    /// Stdout lines, read by a thread; the channel disconnects at EOF.
    stdout: Receiver<String>,
    /// Everything the process wrote to stderr so far (logs, errors).
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<JoinHandle<()>>,
}

impl Palaver {
    /// Spawns `palaver ARGS` with `envs` set and every other `PALAVER_*` variable removed.
    fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_palaver"));
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in PALAVER_ENV {
            command.env_remove(name);
        }
        // Keep no database file behind unless a test asks for one.
        command.env("PALAVER_DB", ":memory:");
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn palaver");

        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || forward_lines(stdout, sender));

        // Drain stderr continuously so a chatty server can never block on a full pipe.
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
            stdout: receiver,
            stderr,
            stderr_thread: Some(stderr_thread),
        }
    }

    /// Spawns `palaver serve ARGS` and waits for `ready`, returning the process and the
    /// addresses of its `listening text ADDR` lines, in order.
    fn serve(args: &[&str], envs: &[(&str, &str)]) -> (Self, Vec<SocketAddr>) {
        let mut full = vec!["serve"];
        full.extend_from_slice(args);
        let mut server = Self::spawn(&full, envs);
        let mut addresses = Vec::new();
        loop {
            let line = match server.stdout_line() {
                Some(line) => line,
                None => {
                    let status = server.wait_exit();
                    panic!(
                        "palaver exited ({status}) before printing `ready`; stderr:\n{}",
                        server.stderr_text()
                    );
                }
            };
            if line == "ready" {
                return (server, addresses);
            }
            let address = line
                .strip_prefix("listening text ")
                .unwrap_or_else(|| panic!("unexpected stdout line before `ready`: {line:?}"));
            addresses.push(
                address
                    .parse()
                    .unwrap_or_else(|_| panic!("bad address in {line:?}")),
            );
        }
    }

    /// The next stdout line, or `None` at EOF. Panics after [`PATIENCE`].
    fn stdout_line(&self) -> Option<String> {
        match self.stdout.recv_timeout(PATIENCE) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "no stdout line from palaver within {PATIENCE:?}; stderr:\n{}",
                self.stderr_text()
            ),
        }
    }

    /// Sends a signal (`TERM`, `INT`, …) with kill(1).
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// Waits for the process to exit and returns its status, discarding any further stdout.
    /// The process closes stdout only by exiting, so EOF on stdout is the exit signal;
    /// [`PATIENCE`] bounds the wait.
    fn wait_exit(&mut self) -> ExitStatus {
        self.wait_exit_collecting().0
    }

    /// Like [`wait_exit`](Self::wait_exit), also returning the remaining stdout lines.
    fn wait_exit_collecting(&mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + PATIENCE;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "palaver did not exit within {PATIENCE:?}; stderr:\n{}",
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
    fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Palaver {
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

// ---------------------------------------------------------------------------------------------
// A text-protocol client
// ---------------------------------------------------------------------------------------------

struct Client {
    nick: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
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
        let greeting = client.line();
        let rest = greeting
            .strip_prefix("-- welcome to palaver; you are ")
            .unwrap_or_else(|| panic!("unexpected greeting: {greeting:?}"));
        let nick = rest.split(' ').next().unwrap();
        assert!(nick.starts_with("guest-"), "greeting: {greeting:?}");
        assert!(
            rest.ends_with("(/nick NAME to change it, /help for commands)"),
            "greeting: {greeting:?}"
        );
        client.nick = nick.to_owned();
        client.expect(&format!("-- {nick} joined #lobby"));
        client
    }

    /// Sends `line` followed by LF.
    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
    }

    /// The next line, without its LF and with its `[HH:MM:SS] ` stamp removed (its shape is
    /// checked).
    fn line(&mut self) -> String {
        let mut line = String::new();
        let read = self
            .reader
            .read_line(&mut line)
            .unwrap_or_else(|error| panic!("{}: no line ({error})", self.nick));
        assert!(
            read > 0,
            "{}: connection closed while expecting a line",
            self.nick
        );
        assert!(line.ends_with('\n'), "line ends with LF: {line:?}");
        line.pop();
        untimed(&line).to_owned()
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

    /// Sends `text` to the lobby and expects it echoed back.
    fn say(&mut self, text: &str) {
        self.send(text);
        let echo = format!("#lobby <{}> {text}", self.nick);
        self.expect(&echo);
    }

    /// Asserts that the server closes the connection next, with no further bytes.
    fn expect_closed(&mut self) {
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

// ---------------------------------------------------------------------------------------------
// Temporary config files
// ---------------------------------------------------------------------------------------------

/// A config file in the temp directory, unique per process and test, removed on drop.
struct TempConfig {
    path: PathBuf,
}

impl TempConfig {
    fn new(contents: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "palaver-cli-test-{}-{}.toml",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).expect("write temp config");
        Self { path }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn arg(&self) -> &str {
        self.path.to_str().expect("temp path is UTF-8")
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn ready_contract_lists_every_listener_then_ready() {
    let mut server = Palaver::spawn(
        &[
            "serve",
            "--text-listen",
            "127.0.0.1:0",
            "--text-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let lines: Vec<String> = (0..3)
        .map(|_| server.stdout_line().expect("a stdout line"))
        .collect();
    assert_eq!(lines[2], "ready", "stdout: {lines:?}");
    let addresses: Vec<SocketAddr> = lines[..2]
        .iter()
        .map(|line| {
            line.strip_prefix("listening text ")
                .unwrap_or_else(|| panic!("not a listening line: {line:?}"))
                .parse()
                .unwrap_or_else(|_| panic!("bad address in {line:?}"))
        })
        .collect();
    for address in &addresses {
        assert_eq!(address.ip().to_string(), "127.0.0.1", "{lines:?}");
        assert_ne!(address.port(), 0, "port 0 must be resolved: {lines:?}");
    }
    assert_ne!(addresses[0].port(), addresses[1].port(), "{lines:?}");

    // Both listeners serve the same hub: a client on each sees the other's message.
    let mut first = Client::connect(addresses[0]);
    let mut second = Client::connect(addresses[1]);
    first.expect(&format!("-- {} joined #lobby", second.nick));
    second.say("hello from the second listener");
    first.expect(&format!(
        "#lobby <{}> hello from the second listener",
        second.nick
    ));

    // Nothing else appears on stdout: after `ready` it is silent until exit.
    server.signal("TERM");
    let (status, rest) = server.wait_exit_collecting();
    assert!(status.success(), "{status}");
    assert!(rest.is_empty(), "unexpected stdout after ready: {rest:?}");
}

#[test]
fn bind_failure_exits_with_one_line_naming_the_address() {
    let occupant = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = occupant.local_addr().unwrap().to_string();
    let mut server = Palaver::spawn(&["serve", "--text-listen", &address], &[]);
    let (status, stdout) = server.wait_exit_collecting();
    let stderr = server.stderr_text();
    assert!(!status.success(), "palaver must fail; stderr:\n{stderr}");
    assert!(
        !stdout.iter().any(|line| line == "ready"),
        "no `ready` after a bind failure: {stdout:?}"
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "exactly one stderr line; got:\n{stderr}");
    assert!(
        lines[0].contains(&address),
        "stderr names {address}: {stderr}"
    );
    assert!(lines[0].starts_with("palaver: "), "{stderr}");
    drop(occupant);
}

#[test]
fn bind_failure_states_the_os_error_once() {
    // The documented shape is `palaver: cannot listen on ADDR (text): OS ERROR`, one cause.
    let occupant = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = occupant.local_addr().unwrap().to_string();
    let mut server = Palaver::spawn(&["serve", "--text-listen", &address], &[]);
    let status = server.wait_exit();
    assert!(!status.success(), "{status}");
    let stderr = server.stderr_text();
    let line = stderr.trim_end();
    let prefix = format!("palaver: cannot listen on {address} (text): ");
    let cause = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("stderr starts with {prefix:?}: {stderr:?}"));
    assert_eq!(
        cause.matches("(os error").count(),
        1,
        "the OS error is stated once: {stderr:?}"
    );
    drop(occupant);
}

#[test]
fn bind_failure_on_a_later_listener_prints_no_ready() {
    // The first listener binds fine; the second is taken, so the whole server must fail.
    let occupant = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = occupant.local_addr().unwrap().to_string();
    let mut server = Palaver::spawn(
        &[
            "serve",
            "--text-listen",
            "127.0.0.1:0",
            "--text-listen",
            &address,
        ],
        &[],
    );
    let (status, stdout) = server.wait_exit_collecting();
    let stderr = server.stderr_text();
    assert!(!status.success(), "palaver must fail; stderr:\n{stderr}");
    assert!(stdout.is_empty(), "nothing on stdout: {stdout:?}");
    assert!(
        stderr.contains(&address),
        "stderr names {address}: {stderr}"
    );
}

/// The file's listener is one we occupy: if it were used at all (instead of or besides the
/// flag's), the server would fail to bind or list two listeners.
fn occupied_address() -> (TcpListener, String) {
    let occupant = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = occupant.local_addr().unwrap().to_string();
    (occupant, address)
}

#[test]
fn environment_beats_the_file_and_the_flag_listener_replaces_the_files() {
    let (_occupant, file_address) = occupied_address();
    let config = TempConfig::new(&format!(
        "[text]\nlisten = [\"{file_address}\"]\n\n[limits]\nmax_line_bytes = 100\n"
    ));
    let (_server, addresses) = Palaver::serve(
        &["--config", config.arg(), "--text-listen", "127.0.0.1:0"],
        &[("PALAVER_MAX_LINE_BYTES", "200")],
    );
    assert_eq!(
        addresses.len(),
        1,
        "only the flag's listener: {addresses:?}"
    );
    assert_ne!(addresses[0].to_string(), file_address);

    let mut client = Client::connect(addresses[0]);
    // 150 bytes: over the file's 100, under the environment's 200.
    client.say(&"a".repeat(150));
    client.send(&"b".repeat(250));
    client.expect("! line too long (max 200 bytes); discarded");
    // The connection survives the discarded line.
    client.say("still here");
}

#[test]
fn environment_listeners_replace_the_files() {
    let (_occupant, file_address) = occupied_address();
    let config = TempConfig::new(&format!("[text]\nlisten = [\"{file_address}\"]\n"));
    let (_server, addresses) = Palaver::serve(
        &["--config", config.arg()],
        &[("PALAVER_TEXT_LISTEN", "127.0.0.1:0,127.0.0.1:0")],
    );
    assert_eq!(
        addresses.len(),
        2,
        "the environment's two listeners: {addresses:?}"
    );
    for address in &addresses {
        assert_ne!(address.to_string(), file_address);
        Client::connect(*address);
    }
}

#[test]
fn flag_listeners_replace_the_environments() {
    // The environment names a taken address: using it at all would make the bind fail.
    let (_occupant, env_address) = occupied_address();
    let (_server, addresses) = Palaver::serve(
        &["--text-listen", "127.0.0.1:0"],
        &[("PALAVER_TEXT_LISTEN", &env_address)],
    );
    assert_eq!(
        addresses.len(),
        1,
        "only the flag's listener: {addresses:?}"
    );
    assert_ne!(addresses[0].to_string(), env_address);
    Client::connect(addresses[0]);
}

#[test]
fn file_settings_apply_when_nothing_overrides_them() {
    let config =
        TempConfig::new("[text]\nlisten = [\"127.0.0.1:0\"]\n\n[limits]\nmax_line_bytes = 100\n");
    let (_server, addresses) = Palaver::serve(&["--config", config.arg()], &[]);
    assert_eq!(addresses.len(), 1, "the file's listener: {addresses:?}");
    let mut client = Client::connect(addresses[0]);
    client.say(&"a".repeat(100));
    client.send(&"b".repeat(101));
    client.expect("! line too long (max 100 bytes); discarded");
}

#[test]
fn flag_beats_the_environment() {
    let config = TempConfig::new("[limits]\nmax_line_bytes = 100\n");
    let (_server, addresses) = Palaver::serve(
        &[
            "--config",
            config.arg(),
            "--text-listen",
            "127.0.0.1:0",
            "--max-line-bytes",
            "120",
        ],
        &[("PALAVER_MAX_LINE_BYTES", "200")],
    );
    assert_eq!(addresses.len(), 1, "{addresses:?}");
    let mut client = Client::connect(addresses[0]);
    client.say(&"a".repeat(110));
    client.send(&"b".repeat(150));
    client.expect("! line too long (max 120 bytes); discarded");
    client.say("still here");
}

#[test]
fn unknown_config_key_fails_naming_the_file() {
    let config = TempConfig::new("[limits]\nmax_line_byts = 100\n");
    let mut server = Palaver::spawn(
        &[
            "serve",
            "--config",
            config.arg(),
            "--text-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let (status, stdout) = server.wait_exit_collecting();
    let stderr = server.stderr_text();
    assert!(
        !status.success(),
        "palaver must reject the file; stderr:\n{stderr}"
    );
    assert!(stdout.is_empty(), "nothing on stdout: {stdout:?}");
    let path = config.path().display().to_string();
    assert!(stderr.contains(&path), "stderr names {path}: {stderr}");
    assert!(
        stderr.contains("max_line_byts"),
        "stderr names the key: {stderr}"
    );
}

#[test]
fn missing_config_file_fails_naming_the_file() {
    let config = TempConfig::new("");
    let path = config.path().to_owned();
    drop(config); // Removes it.
    let path_text = path.to_str().unwrap();
    let mut server = Palaver::spawn(
        &[
            "serve",
            "--config",
            path_text,
            "--text-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let (status, stdout) = server.wait_exit_collecting();
    let stderr = server.stderr_text();
    assert!(!status.success(), "stderr:\n{stderr}");
    assert!(stdout.is_empty(), "nothing on stdout: {stdout:?}");
    assert!(
        stderr.contains(path_text),
        "stderr names {path_text}: {stderr}"
    );
}

#[test]
fn missing_config_file_states_the_os_error_once() {
    let config = TempConfig::new("");
    let path = config.path().to_owned();
    drop(config); // Removes it.
    let path_text = path.to_str().unwrap();
    let mut server = Palaver::spawn(
        &[
            "serve",
            "--config",
            path_text,
            "--text-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let status = server.wait_exit();
    assert!(!status.success(), "{status}");
    let stderr = server.stderr_text();
    assert_eq!(
        stderr.matches("(os error").count(),
        1,
        "the OS error is stated once: {stderr:?}"
    );
}

#[test]
fn sigterm_tells_every_client_closes_them_and_exits_cleanly() {
    // A long grace period: the server must not need it when every client reads its output.
    let (mut server, addresses) = Palaver::serve(
        &[
            "--text-listen",
            "127.0.0.1:0",
            "--shutdown-grace-seconds",
            "60",
        ],
        &[],
    );
    let mut first = Client::connect(addresses[0]);
    let mut second = Client::connect(addresses[0]);
    second.say("before the end");

    let started = Instant::now();
    server.signal("TERM");
    let skipped = first.skip_until("-- server shutting down");
    assert_eq!(
        skipped,
        vec![
            format!("-- {} joined #lobby", second.nick),
            format!("#lobby <{}> before the end", second.nick),
        ],
        "lines before the shutdown notice"
    );
    first.expect_closed();
    second.expect("-- server shutting down");
    second.expect_closed();

    let status = server.wait_exit();
    assert!(
        status.success(),
        "{status}; stderr:\n{}",
        server.stderr_text()
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "shutdown took {:?} although every client took its output",
        started.elapsed()
    );
}

#[test]
fn sigint_shuts_down_gracefully_too() {
    let (mut server, addresses) = Palaver::serve(&["--text-listen", "127.0.0.1:0"], &[]);
    let mut client = Client::connect(addresses[0]);
    client.say("hello");
    server.signal("INT");
    client.expect("-- server shutting down");
    client.expect_closed();
    let status = server.wait_exit();
    assert!(
        status.success(),
        "{status}; stderr:\n{}",
        server.stderr_text()
    );
}

#[test]
fn restart_on_the_same_port_right_after_shutdown() {
    let (mut server, addresses) = Palaver::serve(&["--text-listen", "127.0.0.1:0"], &[]);
    let address = addresses[0];
    let fixed = address.to_string();
    for cycle in 0..3 {
        // The server closes first, so its side of the connection lingers in TIME_WAIT.
        let mut client = Client::connect(address);
        client.say(&format!("cycle {cycle}"));
        server.signal("TERM");
        client.expect("-- server shutting down");
        client.expect_closed();
        drop(client);
        let status = server.wait_exit();
        assert!(
            status.success(),
            "cycle {cycle}: {status}; stderr:\n{}",
            server.stderr_text()
        );

        let (next, addresses) = Palaver::serve(&["--text-listen", &fixed], &[]);
        assert_eq!(addresses, vec![address], "cycle {cycle}");
        server = next;
    }
    let mut client = Client::connect(address);
    client.say("after three restarts");
}

#[test]
fn help_mentions_serve_and_its_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .arg("--help")
        .output()
        .expect("run palaver --help");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", output.status);
    assert!(stdout.contains("serve"), "{stdout}");

    let output = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args(["serve", "--help"])
        .output()
        .expect("run palaver serve --help");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", output.status);
    for flag in [
        "--text-listen",
        "--config",
        "--max-line-bytes",
        "--send-queue-bytes",
        "--shutdown-grace-seconds",
        "--log",
    ] {
        assert!(
            stdout.contains(flag),
            "serve --help mentions {flag}:\n{stdout}"
        );
    }
}

#[test]
fn no_subcommand_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .output()
        .expect("run palaver");
    assert!(!output.status.success(), "{}", output.status);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("serve"), "{stderr}");
}
