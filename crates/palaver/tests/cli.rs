//! End-to-end tests of the `palaver` binary: the readiness contract on stdout, bind failures,
//! configuration precedence (file < environment < flags), durations and deprecated settings,
//! graceful shutdown on signals, and restarting on the same port.
//!
//! Every test spawns the real binary and talks to it over real sockets with plain `std`.
//! Readiness is always taken from the `ready` line on stdout, never from a sleep; timeouts
//! ([`PATIENCE`]) are only a safety net so a broken server fails a test instead of hanging it.
//! Each child process is owned by a [`Process`] guard that kills it when dropped, so no
//! server outlives its test, whatever path the test takes.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Observer, Options, OtherLines, Process, Server, TempDir, serve_with, wait_ready};

/// How long a test waits for anything (a stdout line, a client line, an exit) before
/// declaring the server broken.
const PATIENCE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

/// Spawns `palaver ARGS` with `envs` set and every other `PALAVER_*` variable removed (and no
/// database file).
fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Process {
    Process::spawn(
        args,
        Options {
            envs,
            ..Options::default()
        },
    )
}

/// Spawns `palaver serve ARGS` and waits for `ready`, returning the process and the
/// addresses of its `listening text ADDR` lines, in order; any other line before `ready`
/// fails the test.
fn serve(args: &[&str], envs: &[(&str, &str)]) -> (Process, Vec<SocketAddr>) {
    let mut full = vec!["serve"];
    full.extend_from_slice(args);
    let mut server = spawn(&full, envs);
    let listening = wait_ready(&mut server, OtherLines::Fail);
    assert!(
        listening.irc.is_empty(),
        "unexpected `listening irc` lines before `ready`: {listening:?}"
    );
    (server, listening.text)
}

/// A text-protocol client: connects as a guest, checking the greeting and the lobby join.
fn connect(address: SocketAddr) -> Observer {
    Observer::connect_guest(address)
}

// ---------------------------------------------------------------------------------------------
// Temporary config files
// ---------------------------------------------------------------------------------------------

/// A config file in a temporary directory, removed (with the directory) on drop.
struct TempConfig {
    _dir: TempDir,
    path: PathBuf,
}

impl TempConfig {
    fn new(contents: &str) -> Self {
        let dir = TempDir::new("palaver-cli-test");
        let path = dir.path.join("palaver.toml");
        std::fs::write(&path, contents).expect("write temp config");
        Self { _dir: dir, path }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn arg(&self) -> &str {
        self.path.to_str().expect("temp path is UTF-8")
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn ready_contract_lists_every_listener_then_ready() {
    let mut server = spawn(
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
    let mut first = connect(addresses[0]);
    let mut second = connect(addresses[1]);
    first.expect(&format!("-- {} joined #lobby", second.nick));
    second.say("hello from the second listener");
    first.expect(&format!(
        "#lobby <{}> hello from the second listener",
        second.nick
    ));

    // Nothing else appears on stdout: after `ready` it is silent until exit.
    server.signal("TERM");
    let (status, rest) = server.wait_exit();
    assert!(status.success(), "{status}");
    assert!(rest.is_empty(), "unexpected stdout after ready: {rest:?}");
}

#[test]
fn bind_failure_exits_with_one_line_naming_the_address() {
    let occupant = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = occupant.local_addr().unwrap().to_string();
    let mut server = spawn(&["serve", "--text-listen", &address], &[]);
    let (status, stdout) = server.wait_exit();
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
    let mut server = spawn(&["serve", "--text-listen", &address], &[]);
    let (status, _) = server.wait_exit();
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
    let mut server = spawn(
        &[
            "serve",
            "--text-listen",
            "127.0.0.1:0",
            "--text-listen",
            &address,
        ],
        &[],
    );
    let (status, stdout) = server.wait_exit();
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
    let (_server, addresses) = serve(
        &["--config", config.arg(), "--text-listen", "127.0.0.1:0"],
        &[("PALAVER_MAX_LINE_BYTES", "200")],
    );
    assert_eq!(
        addresses.len(),
        1,
        "only the flag's listener: {addresses:?}"
    );
    assert_ne!(addresses[0].to_string(), file_address);

    let mut client = connect(addresses[0]);
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
    let (_server, addresses) = serve(
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
        connect(*address);
    }
}

#[test]
fn flag_listeners_replace_the_environments() {
    // The environment names a taken address: using it at all would make the bind fail.
    let (_occupant, env_address) = occupied_address();
    let (_server, addresses) = serve(
        &["--text-listen", "127.0.0.1:0"],
        &[("PALAVER_TEXT_LISTEN", &env_address)],
    );
    assert_eq!(
        addresses.len(),
        1,
        "only the flag's listener: {addresses:?}"
    );
    assert_ne!(addresses[0].to_string(), env_address);
    connect(addresses[0]);
}

#[test]
fn file_settings_apply_when_nothing_overrides_them() {
    let config =
        TempConfig::new("[text]\nlisten = [\"127.0.0.1:0\"]\n\n[limits]\nmax_line_bytes = 100\n");
    let (_server, addresses) = serve(&["--config", config.arg()], &[]);
    assert_eq!(addresses.len(), 1, "the file's listener: {addresses:?}");
    let mut client = connect(addresses[0]);
    client.say(&"a".repeat(100));
    client.send(&"b".repeat(101));
    client.expect("! line too long (max 100 bytes); discarded");
}

#[test]
fn flag_beats_the_environment() {
    let config = TempConfig::new("[limits]\nmax_line_bytes = 100\n");
    let (_server, addresses) = serve(
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
    let mut client = connect(addresses[0]);
    client.say(&"a".repeat(110));
    client.send(&"b".repeat(150));
    client.expect("! line too long (max 120 bytes); discarded");
    client.say("still here");
}

#[test]
fn unknown_config_key_fails_naming_the_file() {
    let config = TempConfig::new("[limits]\nmax_line_byts = 100\n");
    let mut server = spawn(
        &[
            "serve",
            "--config",
            config.arg(),
            "--text-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let (status, stdout) = server.wait_exit();
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
    let mut server = spawn(
        &[
            "serve",
            "--config",
            path_text,
            "--text-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let (status, stdout) = server.wait_exit();
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
    let mut server = spawn(
        &[
            "serve",
            "--config",
            path_text,
            "--text-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let (status, _) = server.wait_exit();
    assert!(!status.success(), "{status}");
    let stderr = server.stderr_text();
    assert_eq!(
        stderr.matches("(os error").count(),
        1,
        "the OS error is stated once: {stderr:?}"
    );
}

/// Whoever started the server may stop it as soon as it reads `ready`: the signal handlers
/// must already be in place then, or SIGTERM's default action ends the process without a
/// clean shutdown. (Before they were, this failed in more than half of the attempts.)
#[test]
fn sigterm_right_after_ready_is_a_clean_shutdown() {
    // kill(2) itself rather than kill(1): starting a process would give the server time to
    // finish starting and hide the gap.
    unsafe extern "C" {
        fn kill(pid: i32, signal: i32) -> i32;
    }
    const SIGTERM: i32 = 15;
    for attempt in 0..10 {
        let (mut server, _) = serve(&["--text-listen", "127.0.0.1:0"], &[]);
        let pid = i32::try_from(server.child.id()).expect("a pid");
        // SAFETY: kill(2) only sends a signal; the pid is our own running child.
        assert_eq!(unsafe { kill(pid, SIGTERM) }, 0, "kill failed");
        let (status, _) = server.wait_exit();
        assert!(status.success(), "attempt {attempt}: {status}");
    }
}

#[test]
fn sigterm_tells_every_client_closes_them_and_exits_cleanly() {
    // A long grace period: the server must not need it when every client reads its output.
    let (mut server, addresses) = serve(
        &["--text-listen", "127.0.0.1:0", "--shutdown-grace", "60s"],
        &[],
    );
    let mut first = connect(addresses[0]);
    let mut second = connect(addresses[0]);
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

    let (status, _) = server.wait_exit();
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
    let (mut server, addresses) = serve(&["--text-listen", "127.0.0.1:0"], &[]);
    let mut client = connect(addresses[0]);
    client.say("hello");
    server.signal("INT");
    client.expect("-- server shutting down");
    client.expect_closed();
    let (status, _) = server.wait_exit();
    assert!(
        status.success(),
        "{status}; stderr:\n{}",
        server.stderr_text()
    );
}

/// Every client is an open file: a server started under a low soft limit raises it, and
/// serves more clients than that limit would have let it accept.
#[test]
fn the_server_raises_its_open_file_limit_for_its_clients() {
    const SOFT_LIMIT: usize = 256;
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            &format!("ulimit -Sn {SOFT_LIMIT} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_palaver"),
            "serve",
            "--text-listen",
            "127.0.0.1:0",
        ])
        .env("PALAVER_DB", ":memory:");
    let mut server = common::Process::spawn_command("palaver", command);
    let address = common::wait_ready(&mut server, OtherLines::Fail).text[0];
    let clients: Vec<TcpStream> = (0..SOFT_LIMIT + 100)
        .map(|_| TcpStream::connect(address).expect("connect"))
        .collect();
    for (number, client) in clients.iter().enumerate() {
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut welcome = String::new();
        BufReader::new(client).read_line(&mut welcome).unwrap();
        assert!(
            welcome.contains("welcome to palaver"),
            "client {number}: {welcome:?}; stderr:\n{}",
            server.stderr_text()
        );
    }
}

#[test]
fn restart_on_the_same_port_right_after_shutdown() {
    let (mut server, addresses) = serve(&["--text-listen", "127.0.0.1:0"], &[]);
    let address = addresses[0];
    let fixed = address.to_string();
    for cycle in 0..3 {
        // The server closes first, so its side of the connection lingers in TIME_WAIT.
        let mut client = connect(address);
        client.say(&format!("cycle {cycle}"));
        server.signal("TERM");
        client.expect("-- server shutting down");
        client.expect_closed();
        drop(client);
        let (status, _) = server.wait_exit();
        assert!(
            status.success(),
            "cycle {cycle}: {status}; stderr:\n{}",
            server.stderr_text()
        );

        let (next, addresses) = serve(&["--text-listen", &fixed], &[]);
        assert_eq!(addresses, vec![address], "cycle {cycle}");
        server = next;
    }
    let mut client = connect(address);
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

// ---------------------------------------------------------------------------------------------
// Durations and deprecated settings
// ---------------------------------------------------------------------------------------------

/// Spawns `palaver serve` with a text and an IRC listener and the config file `config`, and
/// waits for `ready`.
fn serve_configured(config: &TempConfig, envs: &[(&str, &str)]) -> Server {
    serve_with(
        &["--config", config.arg()],
        Options {
            envs,
            ..Options::default()
        },
    )
}

/// Checks the settings both configuration tests give, each observed over a real connection:
/// a join replays one message of history to a text user, and a registered IRC client that
/// stays silent is sent `PING` (after one second; the default two minutes would outlast
/// [`PATIENCE`]).
fn assert_one_message_replayed_and_pinged_soon(server: &Server) {
    let mut alice = connect(server.text);
    alice.rename("alice");
    alice.send("/join #settings");
    alice.expect("-- alice joined #settings");
    for text in ["one", "two"] {
        alice.send(text);
        alice.expect(&format!("#settings <alice> {text}"));
    }
    let mut bob = connect(server.text);
    bob.rename("bob");
    bob.send("/join #settings");
    bob.expect("-- bob joined #settings");
    bob.expect("-- history");
    bob.expect("#settings <alice> two");
    bob.expect("-- end of history");

    let stream = TcpStream::connect_timeout(&server.irc(), PATIENCE).expect("connect to IRC");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    writer
        .write_all(b"NICK pinged\r\nUSER pinged 0 * :pinged\r\n")
        .expect("register");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        let read = reader
            .read_line(&mut line)
            .unwrap_or_else(|error| panic!("no PING within {PATIENCE:?}: {error}"));
        assert!(read > 0, "the connection closed before a PING");
        // `:palaver.local PING palaver.local`: the command follows the source.
        let command = line
            .strip_prefix(':')
            .and_then(|sourced| sourced.split_once(' '))
            .map_or(line.as_str(), |(_, rest)| rest);
        if command.starts_with("PING ") {
            return;
        }
    }
}

#[test]
fn durations_take_a_unit_and_each_protocol_sets_its_history_on_join() {
    let config = TempConfig::new(
        "[text]\nhistory_on_join = 1\n\n[irc]\nping_interval = \"1s\"\nhistory_on_join = 0\n",
    );
    let server = serve_configured(&config, &[]);
    assert_one_message_replayed_and_pinged_soon(&server);
}

#[test]
fn deprecated_settings_still_apply_with_a_warning_at_startup() {
    let config =
        TempConfig::new("[store]\nhistory_on_join = 1\n\n[irc]\nping_interval_seconds = 1\n");
    let server = serve_configured(&config, &[("PALAVER_SHUTDOWN_GRACE_SECONDS", "7")]);
    // Warned in this order: the environment's, then the file's by section.
    for warning in [
        "PALAVER_SHUTDOWN_GRACE_SECONDS=7 is deprecated; write PALAVER_SHUTDOWN_GRACE=7s instead",
        "[store] history_on_join = 1 is deprecated; write [text] history_on_join = 1 instead",
        "[irc] ping_interval_seconds = 1 is deprecated; write [irc] ping_interval = \"1s\" \
         instead",
    ] {
        let line = server.process.stderr_line_containing(warning);
        assert!(line.contains("WARN"), "{line:?}");
    }
    assert_one_message_replayed_and_pinged_soon(&server);
}

#[test]
fn the_shutdown_grace_flag_takes_a_duration_and_the_old_flag_still_works() {
    // A bare number has no unit: refused before anything listens.
    let mut refused = spawn(
        &[
            "serve",
            "--text-listen",
            "127.0.0.1:0",
            "--shutdown-grace",
            "5",
        ],
        &[],
    );
    let (status, stdout) = refused.wait_exit();
    let stderr = refused.stderr_text();
    assert!(!status.success(), "stderr:\n{stderr}");
    assert!(stdout.is_empty(), "nothing on stdout: {stdout:?}");
    assert!(
        stderr.contains("invalid value '5' for '--shutdown-grace <DURATION>'"),
        "{stderr}"
    );

    for (flag, value, warning) in [
        ("--shutdown-grace", "1m", None),
        (
            "--shutdown-grace-seconds",
            "60",
            Some("--shutdown-grace-seconds 60 is deprecated; write --shutdown-grace 1m instead"),
        ),
    ] {
        let (mut server, addresses) = serve(&["--text-listen", "127.0.0.1:0", flag, value], &[]);
        if let Some(warning) = warning {
            server.stderr_line_containing(warning);
        }
        let mut client = connect(addresses[0]);
        server.signal("TERM");
        client.expect("-- server shutting down");
        client.expect_closed();
        let (status, _) = server.wait_exit();
        assert!(status.success(), "{flag}: {status}");
    }
}
