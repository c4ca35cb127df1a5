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
//! crashes too; only then does a server come back on the client's port.

mod common;

use std::time::Duration;

use common::{Observer, Options, Process, Stamps, TempDir, free_port, serve_on};

/// How long a test waits for anything (a line, an exit).
const PATIENCE: Duration = Duration::from_secs(30);

/// Reads the client's stdout until a line whose stamp-less form is `expected` (stamps not
/// checked); returns the stamp-less lines before it.
fn client_skip_until(client: &Process, expected: &str) -> Vec<String> {
    common::client_skip_until(client, expected, Stamps::Lenient)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn the_client_survives_a_server_crash_fills_the_gap_and_delivers_what_was_typed() {
    let dir = TempDir::new("palaver-reconnect-test-crash");
    let database = dir.database();
    let irc = format!("127.0.0.1:{}", free_port());

    // 1. Connected: a line goes through.
    let first = serve_on(&irc, &database);
    let mut observer = Observer::join_ops(first.text, "observer");
    let mut client = Process::spawn(
        &["connect", &irc, "--nick", "bot", "--join", "#ops"],
        Options {
            pipe_stdin: true,
            memory_db: false,
            ..Options::default()
        },
    );
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
