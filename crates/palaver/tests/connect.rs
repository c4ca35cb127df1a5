//! End-to-end tests of `palaver connect` in pipe mode: the real client binary talks IRC to the
//! real server binary, and a text-protocol observer (a plain `std` `TcpStream`) checks what
//! everyone else sees.
//!
//! Sequencing is by lines seen, never by sleeps: the server's `ready` line, the observer's
//! `-- bot joined #ops`, the client's stdout lines, and the client's exit (EOF on its stdout).
//! Timeouts ([`PATIENCE`]) are only a safety net so a broken client fails a test instead of
//! hanging it. Every child process is owned by a [`Process`] guard that kills it when dropped.

mod common;

use std::time::Duration;

use common::{
    Observer, Options, Process, Server, Stamps, TempDir, serve, untimed_checked,
    write_connect_config,
};

/// How long a test waits for anything (a stdout line, a client line, an exit).
const PATIENCE: Duration = Duration::from_secs(20);

/// Spawns `palaver connect SERVER ARGS` with stdin piped.
fn connect(server: &Server, args: &[&str]) -> Process {
    let address = server.irc().to_string();
    let mut full = vec![address.as_str()];
    full.extend_from_slice(args);
    connect_with(&full)
}

/// Spawns `palaver connect ARGS` with stdin piped.
fn connect_with(args: &[&str]) -> Process {
    let mut full = vec!["connect"];
    full.extend_from_slice(args);
    Process::spawn(
        &full,
        Options {
            pipe_stdin: true,
            ..Options::default()
        },
    )
}

/// Reads the client's stdout until a line whose stamp-less form is `expected` (stamps
/// checked); returns the stamp-less lines before it.
fn client_skip_until(client: &Process, expected: &str) -> Vec<String> {
    common::client_skip_until(client, expected, Stamps::Checked)
}

/// The stamp-less form of every line, asserting each is stamped.
fn stamped(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            assert!(line.starts_with('['), "unstamped stdout line {line:?}");
            untimed_checked(line).to_owned()
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
    let mut observer = Observer::join_ops_checked(server.text, "observer");

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
fn lines_the_client_cannot_send_are_errors_on_stderr_and_fail_the_run() {
    let server = serve();
    let mut observer = Observer::join_ops_checked(server.text, "observer");

    // No --join: the first line has no room to go to, the second is no command; the rest go.
    let mut client = connect(&server, &["--nick", "bot"]);
    client.write_stdin("lost words\n/frobnicate\n/join #ops\nhello\n");
    client.close_stdin();
    observer.skip_until("#ops <bot> hello");

    let (status, stdout) = client.wait_exit();
    assert!(!status.success(), "two lines were not sent");
    let stderr = client.stderr_text();
    for expected in [
        "palaver: not sent: you are not in any room (use --join #room or /join #room)\n",
        "palaver: not sent: unknown command /frobnicate\n",
        "palaver: 2 line(s) were not delivered\n",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} in stderr:\n{stderr}"
        );
    }
    assert!(
        stdout.iter().all(|line| !line.contains("not sent")),
        "stdout is for what the server says: {stdout:?}"
    );
}

#[test]
fn the_configuration_file_names_the_server_nick_and_rooms_and_flags_win_over_it() {
    let server = serve();
    let mut observer = Observer::join_ops_checked(server.text, "observer");
    let directory = TempDir::new("palaver-connect-config");
    let config = write_connect_config(&directory, &server, "filebot");
    let config = config.to_str().unwrap();
    let spawn = |args: &[&str]| {
        let mut full = vec!["--config", config];
        full.extend_from_slice(args);
        connect_with(&full)
    };

    let mut client = spawn(&[]);
    client.write_stdin("from the file\n");
    client.close_stdin();
    observer.skip_until("#ops <filebot> from the file");
    assert!(client.wait_exit().0.success());

    let mut client = spawn(&["--nick", "flagbot"]);
    client.write_stdin("the flag wins\n");
    client.close_stdin();
    observer.skip_until("#ops <flagbot> the flag wins");
    assert!(client.wait_exit().0.success());

    // A mistake in the file is named, and nothing connects.
    std::fs::write(directory.path.join("connect.toml"), "nickname = \"x\"\n").unwrap();
    let mut client = spawn(&[]);
    client.close_stdin();
    let (status, _) = client.wait_exit();
    assert!(!status.success());
    let stderr = client.stderr_text();
    assert!(
        stderr.contains("connect.toml: unknown setting `nickname`"),
        "{stderr}"
    );
}

#[test]
fn what_others_say_is_printed_while_connected() {
    let server = serve();
    let mut observer = Observer::join_ops_checked(server.text, "observer");

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
    let mut observer = Observer::join_ops_checked(server.text, "observer");

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
    let _observer = Observer::join_ops_checked(server.text, "bot");

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
    let mut observer = Observer::join_ops_checked(server.text, "acct");
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
