//! End-to-end test with a chat client written the way socket tutorials write one
//! (`tests/e2e/tutorial_client.py`, plain Python): it connects to the text port, sends
//! `hello` with one `send()` and no newline, and waits for the server's stamped copy. The real
//! `palaver` binary, with its default settings, hears it once the client falls quiet
//! (`[text] idle_flush`), and a text user in the lobby sees the message too.
//!
//! The conversation is sequenced by lines seen, never by sleeps; timeouts are only a safety
//! net. Python 3 (its standard library only) is all the client needs.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Observer, Process, serve, untimed_checked};

/// How long the test waits for anything (a stdout line, a client line, an exit).
const PATIENCE: Duration = Duration::from_secs(30);

/// The client's own bound on its wait, shorter than [`PATIENCE`] so that when it fails it has
/// exited with its reason on stderr before the test gives up.
const CLIENT_TIMEOUT_SECONDS: &str = "20";

/// The client script, relative to this crate.
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/e2e/tutorial_client.py"
);

#[test]
fn a_tutorial_client_without_newlines_is_heard_and_gets_its_copy() {
    let server = serve();
    let mut lobby = Observer::connect_guest(server.text);

    let mut command = Command::new("python3");
    command.args([
        SCRIPT,
        &server.text.ip().to_string(),
        &server.text.port().to_string(),
        "hello",
        CLIENT_TIMEOUT_SECONDS,
    ]);
    let mut client = Process::spawn_command("tutorial_client.py", command);

    // The client is the second guest; the room hears it join, then its message.
    let joined = lobby.line();
    let tutorial = joined
        .strip_prefix("-- ")
        .and_then(|rest| rest.strip_suffix(" joined #lobby"))
        .unwrap_or_else(|| panic!("expected the client to join the lobby, got {joined:?}"))
        .to_owned();
    lobby.expect(&format!("#lobby <{tutorial}> hello"));

    let (status, stdout) = client.wait_exit();
    assert!(
        status.success(),
        "tutorial_client.py failed ({status}); stdout: {stdout:?}; stderr:\n{}\
         --- palaver stderr:\n{}",
        client.stderr_text(),
        server.process.stderr_text()
    );
    let [copy] = &stdout[..] else {
        panic!("one line on the client's stdout: {stdout:?}");
    };
    assert_eq!(
        untimed_checked(copy),
        format!("#lobby <{tutorial}> hello"),
        "the client got its stamped copy"
    );
    // The client closed its socket after reading: it leaves, and said nothing else.
    lobby.expect(&format!("-- {tutorial} left (connection closed)"));
}
