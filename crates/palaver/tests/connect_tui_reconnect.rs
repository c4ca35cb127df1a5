//! End-to-end test of the full-screen mode's resilience through a real pseudo-terminal: the
//! server is killed (`kill -9`), a line is typed and three are pasted while it is down (shown
//! as pending), the server comes back on the same IRC port and database, and the client
//! reconnects, rejoins and sends the lines, each once and in order; the pending marks go once
//! their echoes arrive.
//!
//! tmux runs the client in a detached session, `send-keys` types, `capture-pane` reads the
//! screen; the real server binary and a text-protocol observer check what others see.
//!
//! A terminal gives no readiness signal, so the screen is polled with `capture-pane` at a short
//! interval, bounded by [`PATIENCE`]; everything else is sequenced by lines the observer sees.
//! tmux runs on a private socket (`tmux -S`), so it neither touches nor depends on the user's
//! tmux server, and a guard kills that tmux server when the test ends, however it ends.
//!
//! Without tmux the test prints a notice and passes, unless `CI` is set: there it fails, so CI
//! cannot silently skip it.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Observer, TempDir, Tmux, free_port, serve_on, tmux_available};

/// How long the test waits for anything (a line, a screen state).
const PATIENCE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[test]
fn full_screen_client_reconnects_and_sends_what_was_typed_meanwhile() {
    if !tmux_available() {
        return;
    }
    let dir = TempDir::new("palaver-tui-reconnect-test");
    let database = dir.path.join("palaver.db");
    let irc = format!("127.0.0.1:{}", free_port());
    let mut server = serve_on(&irc, &database);
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
    // A paste of lines separated by CR, as terminals send them: each pending, in order.
    tmux.paste("pasted one\npasted two\npasted three");
    tmux.wait_for_screen("the pending paste", |screen| {
        screen.contains("pasted three (pending)")
    });

    let server = serve_on(&irc, &database);
    let mut observer = Observer::join_ops(server.text, "watcher");
    observer.skip_until("#ops <tui> typed while down");
    let screen = tmux.wait_for_screen("the echoes replacing the pending lines", |screen| {
        screen.contains("] <tui> pasted three") && !screen.contains("(pending)")
    });
    // Each pasted line exactly once and in order, up to the line typed after them. (The
    // observer may have joined before or after the client said them, so they come live or in
    // the replay on joining, framed by `-- history` lines: only the client's lines count.)
    tmux.send_keys(&["after the restart", "Enter"]);
    let said: Vec<String> = observer
        .skip_until("#ops <tui> after the restart")
        .into_iter()
        .filter(|line| line.starts_with("#ops <tui> "))
        .collect();
    assert_eq!(
        said,
        [
            "#ops <tui> pasted one",
            "#ops <tui> pasted two",
            "#ops <tui> pasted three"
        ]
    );
    assert!(screen.contains("connected"), "the status bar:\n{screen}");
    assert_eq!(tmux.format("#{pane_dead}"), "0", "{screen}");
}

#[test]
fn full_screen_client_takes_a_variant_when_its_nick_is_taken_at_first() {
    if !tmux_available() {
        return;
    }
    let dir = TempDir::new("palaver-tui-reconnect-test");
    let irc = format!("127.0.0.1:{}", free_port());
    let server = serve_on(&irc, &dir.path.join("palaver.db"));
    let mut holder = Observer::join_ops(server.text, "taken");

    let command = format!(
        "'{}' connect {irc} --nick taken --join '#ops'",
        env!("CARGO_BIN_EXE_palaver")
    );
    let tmux = Tmux::start(&command);
    holder.skip_until("-- taken_ joined #ops");
    let screen = tmux.wait_for_screen("the status bar with the nick it got", |screen| {
        screen.contains("[taken_]")
    });
    assert_eq!(tmux.format("#{pane_dead}"), "0", "{screen}");
}
