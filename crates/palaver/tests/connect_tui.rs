//! End-to-end test of `palaver connect`'s full-screen mode through a real pseudo-terminal:
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

use std::time::Duration;

use common::{Observer, Tmux, serve, tmux_available};

/// How long the test waits for anything (a line, a screen state).
const PATIENCE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[test]
fn full_screen_client_talks_and_shows_what_others_say() {
    if !tmux_available() {
        return;
    }
    let server = serve();
    let mut observer = Observer::join_ops(server.text, "watcher");

    let command = format!(
        "'{}' connect {} --nick tui --join '#ops'",
        env!("CARGO_BIN_EXE_palaver"),
        server.irc()
    );
    let tmux = Tmux::start(&command);
    observer.skip_until("-- tui joined #ops");
    // The client has switched to the room window once its prompt names the room.
    tmux.wait_for_screen("the #ops prompt", |screen| {
        screen.lines().any(|line| line.starts_with("[#ops]"))
    });

    tmux.send_keys(&["hello from tui", "Enter"]);
    observer.skip_until("#ops <tui> hello from tui");

    observer.send("hi tui");
    let screen = tmux.wait_for_screen("`hi tui`", |screen| {
        screen.contains("#ops <watcher> hi tui")
    });
    assert!(
        screen.contains("#ops <tui> hello from tui"),
        "our own line is shown too:\n{screen}"
    );
    assert!(screen.contains("connected"), "the status bar:\n{screen}");

    // `/quit` ends the client cleanly: the observer sees it leave, the process exits with 0.
    tmux.send_keys(&["/quit bye", "Enter"]);
    observer.skip_until("-- tui left (Quit: bye)");
    assert_eq!(tmux.wait_for_exit_status(), 0, "{}", tmux.screen());
}
