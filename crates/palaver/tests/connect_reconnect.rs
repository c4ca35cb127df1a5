//! `palaver connect` (pipe mode) survives a server crash: it reconnects on its own, rejoins,
//! fills the gap from `draft/chathistory`, and delivers what was typed while it was down; and
//! it sends a line once, however the server answered the lines before it.
//!
//! The server runs on a fixed IRC port (picked free by binding `127.0.0.1:0` and closing it)
//! and a real database file, so a restarted server is the "same" server to the client.
//! Sequencing is by lines seen (stdout, stderr, the observer's lines), never by sleeps; the
//! client's own backoff timing is its business. [`PATIENCE`] is only a safety net.
//!
//! The gap is made deterministic with a server in between: after the crash, a server with the
//! same database but *without* the client's port takes the message the client must miss, and
//! crashes too; only then does a server come back on the client's port.

mod common;

use std::time::Duration;

use common::{Observer, Options, Process, Server, Stamps, TempDir, free_port, serve_on};

/// How long a test waits for anything (a line, an exit).
const PATIENCE: Duration = Duration::from_secs(30);

/// Reads the client's stdout until a line whose stamp-less form is `expected` (stamps not
/// checked); returns the stamp-less lines before it.
fn client_skip_until(client: &Process, expected: &str) -> Vec<String> {
    common::client_skip_until(client, expected, Stamps::Lenient)
}

/// Spawns `palaver connect IRC --nick bot --join #ops` in pipe mode, stdin piped.
fn connect_bot(irc: &str) -> Process {
    Process::spawn(
        &["connect", irc, "--nick", "bot", "--join", "#ops"],
        Options {
            pipe_stdin: true,
            memory_db: false,
            ..Options::default()
        },
    )
}

/// Starts a server on a fixed free port with its database in `dir`, an observer in `#ops` and
/// the client; types `typed` and waits until the observer and then the client have seen
/// `echoed` (so the client knows that message's msgid). Returns the IRC address, the server,
/// the observer and the client.
fn connected_and_said(
    dir: &TempDir,
    typed: &str,
    echoed: &str,
) -> (String, Server, Observer, Process) {
    let irc = format!("127.0.0.1:{}", free_port());
    let server = serve_on(&irc, &dir.database());
    let mut observer = Observer::join_ops(server.text, "observer");
    let mut client = connect_bot(&irc);
    observer.skip_until("-- bot joined #ops");
    client.write_stdin(typed);
    observer.skip_until(echoed);
    client_skip_until(&client, echoed);
    (irc, server, observer, client)
}

/// What was said in `#ops`, in order: sends `/history 10` and reads up to the first `-- end of
/// history`, which, for an observer that just joined, ends the replay on joining (the same
/// messages).
fn said_in_history(observer: &mut Observer) -> Vec<String> {
    observer.send("/history 10");
    let history = observer.skip_until("-- end of history");
    history
        .into_iter()
        .filter(|line| line.starts_with("#ops <"))
        .collect()
}

/// Closes the client's stdin and asserts it exits cleanly; returns its last stdout lines.
fn close_and_expect_success(client: &mut Process) -> Vec<String> {
    client.close_stdin();
    let (status, rest) = client.wait_exit();
    assert!(
        status.success(),
        "client failed ({status}); stderr:\n{}",
        client.stderr_text()
    );
    rest
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn the_client_survives_a_server_crash_fills_the_gap_and_delivers_what_was_typed() {
    let dir = TempDir::new("palaver-reconnect-test-crash");
    let database = dir.database();

    // 1. Connected: a line goes through, and its echo comes back: the client knows the
    //    message's msgid.
    let (irc, first, observer, mut client) =
        connected_and_said(&dir, "before\n", "#ops <bot> before");

    // 2. The server crashes; the client says so and keeps reading stdin.
    first.process.signal("9");
    let notice = client.stderr_line_containing("palaver: connection lost");
    assert!(notice.contains("; reconnecting in "), "{notice:?}");
    client.write_stdin("during\n");
    drop(observer);
    drop(first);

    // 3. Someone says something the client cannot see: a server with the same database but
    //    not on the client's port takes it (its receipt means it is stored) and stops.
    let interim = serve_on("127.0.0.1:0", &database);
    let mut observer = Observer::join_ops(interim.text, "observer");
    observer.send("missed");
    observer.skip_until("#ops <observer> missed");
    // It crashes with the observer still in #ops: had the observer left first, #ops would have
    // emptied and its history ended with it (docs/SECURITY.md); a crash ends no room.
    interim.process.signal("9");
    drop(observer);
    drop(interim);

    // 4. The server comes back on the client's port: the client reconnects by itself, prints
    //    what it missed, and then sends what was typed while it was down.
    let last = serve_on(&irc, &database);
    client.stderr_line_containing("palaver: reconnected to");
    let skipped = client_skip_until(&client, "#ops <observer> missed");
    assert!(
        !skipped.iter().any(|line| line.ends_with("<bot> before")),
        "an already printed message came again: {skipped:?}"
    );
    client_skip_until(&client, "#ops <bot> during");

    // The room has it, in order after the missed message.
    let mut observer = Observer::join_ops(last.text, "observer");
    assert_eq!(
        said_in_history(&mut observer),
        [
            "#ops <bot> before",
            "#ops <observer> missed",
            "#ops <bot> during"
        ]
    );

    // 5. EOF: everything acknowledged, clean exit, and nothing printed twice.
    let rest = close_and_expect_success(&mut client);
    assert!(
        !rest
            .iter()
            .any(|line| line.contains("missed") || line.contains("during")),
        "printed twice: {rest:?}"
    );
}

#[test]
fn a_line_whose_echo_came_is_not_sent_again_after_a_reconnection() {
    let dir = TempDir::new("palaver-reconnect-test-resend");

    // NickServ answers with a notice, never an echo; then a line to the room is echoed (after
    // NickServ's answer: one connection keeps its order). The client matches answers to lines
    // by label: the echo of `hello` is not taken for the answer to the NickServ line, which
    // would leave `hello` to be sent again below.
    let (irc, first, observer, mut client) =
        connected_and_said(&dir, "/msg NickServ HELP\nhello\n", "#ops <bot> hello");

    // The server crashes with the observer still in #ops (so the room and its history live
    // on); the client reconnects to the server that comes back on its port.
    first.process.signal("9");
    client.stderr_line_containing("palaver: connection lost");
    drop(observer);
    drop(first);
    let last = serve_on(&irc, &dir.database());
    client.stderr_line_containing("palaver: reconnected to");
    client.write_stdin("after\n");
    // Its echo means it is stored (and `hello`, had it gone again, would have come before it).
    let skipped = client_skip_until(&client, "#ops <bot> after");
    assert!(
        !skipped.iter().any(|line| line.ends_with("<bot> hello")),
        "sent again: {skipped:?}"
    );

    // The room has `hello` once.
    let mut observer = Observer::join_ops(last.text, "observer");
    assert_eq!(
        said_in_history(&mut observer),
        ["#ops <bot> hello", "#ops <bot> after"]
    );
    close_and_expect_success(&mut client);
}
