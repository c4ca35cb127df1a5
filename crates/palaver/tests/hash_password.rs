//! End-to-end tests of `palaver hash-password`: a password piped in, or typed at a terminal
//! (under tmux) without being shown, becomes the argon2id hash an `[[oper]]` entry holds, and
//! a server configured with that hash lets the operator in with the password.

mod common;

use std::time::Duration;

use common::{Observer, Options, Process, TempDir, Tmux, serve_with, tmux_available};

/// How long a test waits for anything before declaring the binary broken.
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs `palaver hash-password` with `input` on a piped stdin; returns whether it succeeded,
/// its stdout lines and its stderr.
fn hash_piped(input: &str) -> (bool, Vec<String>, String) {
    let mut process = Process::spawn(
        &["hash-password"],
        Options {
            pipe_stdin: true,
            ..Options::default()
        },
    );
    process.write_stdin(input);
    process.close_stdin();
    let (status, lines) = process.wait_exit();
    (status.success(), lines, process.stderr_text())
}

#[test]
fn a_piped_password_is_hashed_and_the_hash_lets_the_operator_in() {
    // As a Windows editor would save it: the line's end is not part of the password.
    let (succeeded, lines, stderr) = hash_piped("correct-horse-battery\r\n");
    assert!(succeeded, "{stderr}");
    let [hash] = &lines[..] else {
        panic!("one line, the hash: {lines:?}");
    };
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!hash.contains("correct-horse-battery"));

    let dir = TempDir::new("palaver-hash-password-test");
    let config = dir.path.join("palaver.toml");
    std::fs::write(
        &config,
        format!("[[oper]]\nname = \"root\"\npassword_hash = \"{hash}\"\n"),
    )
    .expect("write the config");
    let config = config.to_str().expect("UTF-8 temp path");
    let server = serve_with(&["--config", config], Options::default());
    let mut observer = Observer::connect_guest(server.text);
    observer.send("/oper root correct-horse");
    observer.expect("! wrong operator name or password");
    observer.send("/oper root correct-horse-battery");
    observer.expect("-- you are now a server operator");
}

#[test]
fn each_hash_has_its_own_salt_and_an_empty_password_is_refused() {
    let (succeeded, lines, stderr) = hash_piped("correct-horse-battery\n");
    assert!(succeeded, "{stderr}");
    let (_, again, _) = hash_piped("correct-horse-battery");
    // Fresh salts: the two hashes differ, but both are of the same length and form.
    assert_ne!(lines, again);
    assert_eq!(lines[0].len(), again[0].len());

    for empty in ["\n", "", "\r\n"] {
        let (succeeded, lines, stderr) = hash_piped(empty);
        assert!(!succeeded, "{empty:?} was hashed: {lines:?}");
        assert_eq!(stderr, "palaver: the password is empty\n");
        assert_eq!(lines, Vec::<String>::new());
    }
}

/// Runs `palaver hash-password` at a terminal (tmux), types `first` and `second` at its two
/// prompts, and returns its exit status and the screen it leaves.
fn hash_at_a_terminal(first: &str, second: &str) -> (i32, String) {
    let tmux = Tmux::start(&format!("{} hash-password", env!("CARGO_BIN_EXE_palaver")));
    tmux.wait_for_screen("the prompt", |screen| screen.contains("Password:"));
    tmux.send_keys(&[first, "Enter"]);
    tmux.wait_for_screen("the second prompt", |screen| screen.contains("Again:"));
    tmux.send_keys(&[second, "Enter"]);
    (tmux.wait_for_exit_status(), tmux.screen())
}

#[test]
fn at_a_terminal_the_password_is_asked_twice_and_never_shown() {
    if !tmux_available() {
        return;
    }
    let (status, screen) = hash_at_a_terminal("s3cret-horse", "s3cret-horse");
    assert_eq!(status, 0, "{screen}");
    assert!(screen.contains("$argon2id$v=19$"), "{screen}");
    assert!(
        !screen.contains("s3cret"),
        "the password was echoed:\n{screen}"
    );

    let (status, screen) = hash_at_a_terminal("s3cret-horse", "s3cret-hose");
    assert_eq!(status, 1, "{screen}");
    assert!(
        screen.contains("palaver: the two passwords differ"),
        "{screen}"
    );
    assert!(!screen.contains("argon2id"), "{screen}");
}
