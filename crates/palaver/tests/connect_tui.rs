//! End-to-end tests of `palaver connect`'s full-screen mode through a real pseudo-terminal:
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

use common::{Observer, Server, TempDir, Tmux, serve, tmux_available, write_connect_config};

/// How long the test waits for anything (a line, a screen state).
const PATIENCE: Duration = Duration::from_secs(20);

/// Starts the full-screen client as `tui`, joined to `#ops` (where `observer` sees it arrive),
/// and waits until it shows the room's window.
fn start_in_ops(server: &Server, observer: &mut Observer) -> Tmux {
    run_in_ops(
        &format!("{} --nick tui --join '#ops'", server.irc()),
        observer,
    )
}

/// Starts `palaver connect ARGS`, which must join `#ops` as `tui`, as [`start_in_ops`] does.
fn run_in_ops(args: &str, observer: &mut Observer) -> Tmux {
    let command = format!("'{}' connect {args}", env!("CARGO_BIN_EXE_palaver"));
    let tmux = Tmux::start(&command);
    observer.skip_until("-- tui joined #ops");
    // The client has switched to the room window once its prompt names the room.
    tmux.wait_for_screen("the #ops prompt", |screen| {
        screen.lines().any(|line| line.starts_with("[#ops]"))
    });
    tmux
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

#[test]
fn full_screen_client_talks_and_shows_what_others_say() {
    if !tmux_available() {
        return;
    }
    let server = serve();
    let mut observer = Observer::join_ops(server.text, "watcher");
    // Said before the client joins: its window shows it from the room's history.
    observer.send("said before you came");
    observer.skip_until("#ops <watcher> said before you came");

    let tmux = start_in_ops(&server, &mut observer);
    // The room's window does not repeat the room's name on its lines.
    tmux.wait_for_screen("the room's latest messages", |screen| {
        screen.contains("] <watcher> said before you came")
    });

    tmux.send_keys(&["hello from tui", "Enter"]);
    observer.skip_until("#ops <tui> hello from tui");

    observer.send("hi tui");
    let screen = tmux.wait_for_screen("`hi tui`", |screen| screen.contains("] <watcher> hi tui"));
    assert!(
        screen.contains("] <tui> hello from tui"),
        "our own line is shown too:\n{screen}"
    );
    assert!(screen.contains("connected"), "the status bar:\n{screen}");

    // `/quit` ends the client cleanly: the observer sees it leave, the process exits with 0.
    tmux.send_keys(&["/quit bye", "Enter"]);
    observer.skip_until("-- tui left (Quit: bye)");
    assert_eq!(tmux.wait_for_exit_status(), 0, "{}", tmux.screen());
}

#[test]
fn pasted_lines_reach_the_room_once_each_and_a_long_paste_waits_for_enter() {
    if !tmux_available() {
        return;
    }
    let server = serve();
    let mut observer = Observer::join_ops(server.text, "watcher");
    let tmux = start_in_ops(&server, &mut observer);

    // Three lines, separated by CR as the terminal sends them: said at once, in order, once.
    tmux.paste("one\ntwo\nthree");
    observer.skip_until("#ops <tui> one");
    observer.expect("#ops <tui> two");
    observer.expect("#ops <tui> three");

    // Seven lines wait for Enter.
    let lines = |count: usize| {
        (1..=count)
            .map(|n| format!("line {n}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    tmux.paste(&lines(7));
    tmux.wait_for_screen("the question", |screen| {
        screen.contains("paste of 7 lines to #ops: Enter sends them, Esc cancels")
    });
    tmux.send_keys(&["Enter"]);
    for n in 1..=7 {
        observer.expect(&format!("#ops <tui> line {n}"));
    }

    // Six lines, cancelled: none goes, and the next line typed is the next the room sees.
    tmux.paste(&lines(6));
    tmux.wait_for_screen("the question", |screen| screen.contains("paste of 6 lines"));
    tmux.send_keys(&["Escape"]);
    tmux.wait_for_screen("the cancellation", |screen| {
        screen.contains("paste cancelled; nothing was sent")
    });
    tmux.send_keys(&["after", "Enter"]);
    observer.expect("#ops <tui> after");

    tmux.send_keys(&["/quit bye", "Enter"]);
    observer.skip_until("-- tui left (Quit: bye)");
    assert_eq!(tmux.wait_for_exit_status(), 0, "{}", tmux.screen());
}

#[test]
fn an_ignored_nick_is_not_shown_and_the_configuration_file_keeps_it() {
    if !tmux_available() {
        return;
    }
    let server = serve();
    let mut watcher = Observer::join_ops(server.text, "watcher");
    let mut friend = Observer::join_ops(server.text, "friend");
    let directory = TempDir::new("palaver-tui-config");
    let config = write_connect_config(&directory, &server, "tui");
    let tmux = run_in_ops(&format!("--config '{}'", config.display()), &mut watcher);

    tmux.send_keys(&["/ignore watcher", "Enter"]);
    tmux.wait_for_screen("the confirmation", |screen| {
        screen.contains("ignoring watcher (kept in")
    });
    watcher.send("spam one");
    // The room's order: the client gets the spam before what friend says after seeing it.
    friend.skip_until("#ops <watcher> spam one");
    friend.send("friendly");
    let screen = tmux.wait_for_screen("friend's line", |screen| {
        screen.contains("<friend> friendly")
    });
    assert!(!screen.contains("spam one"), "{screen}");
    let kept = std::fs::read_to_string(&config).unwrap();
    assert!(kept.starts_with(common::CONNECT_CONFIG_COMMENT), "{kept}");
    assert!(kept.contains("ignore = [\"watcher\"]"), "{kept}");

    tmux.send_keys(&["/quit bye", "Enter"]);
    watcher.skip_until("-- tui left (Quit: bye)");
    assert_eq!(tmux.wait_for_exit_status(), 0, "{}", tmux.screen());
}
