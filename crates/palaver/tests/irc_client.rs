//! End-to-end test with a real, independent IRC client: jaraco's `irc` library for Python
//! (pinned in `tests/e2e/requirements.txt`, installed by `.ci/run`), driven by
//! `tests/e2e/irc_client.py`, talks to the real `palaver` binary alongside a plain-text user:
//! once on the plain IRC listener, once on an `ircs` listener over Python's own TLS (verifying
//! the certificate `palaver gen-cert` made).
//!
//! The conversation is sequenced only by lines seen, never by sleeps:
//!
//! 1. the text user (`textuser`, over a plain `TcpStream`) joins `#e2e`;
//! 2. the Python client (`ircbot`) registers, joins `#e2e` and, once the server echoes its
//!    JOIN, says `hello from irc`;
//! 3. the text user sees `-- ircbot joined #e2e` and then `#e2e <ircbot> hello from irc`, and
//!    only then says `hello from text`;
//! 4. the Python client prints `PUBMSG textuser hello from text`, quits, and exits 0 once the
//!    server has closed its connection; the text user sees it leave.
//!
//! Timeouts ([`PATIENCE`] here, `--timeout` in the script) are only a safety net so a broken
//! server fails the test instead of hanging it. Both child processes are owned by guards that
//! kill them when dropped.
//!
//! Without the Python `irc` module the test prints a notice and passes, except under CI (the
//! `CI` environment variable is set), where `.ci/run` must have installed it.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Observer, Process, Server, TempDir, gen_cert, serve, serve_tls};

/// How long the test waits for anything (a stdout line, a client line, an exit).
const PATIENCE: Duration = Duration::from_secs(30);

/// The Python client's own bound on its whole run, shorter than [`PATIENCE`] so that when it
/// fails, it has exited with its reason on stderr before the test gives up waiting.
const CLIENT_TIMEOUT_SECONDS: &str = "20";

/// The client script, relative to this crate.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/e2e/irc_client.py");

// ---------------------------------------------------------------------------------------------
// The Python client
// ---------------------------------------------------------------------------------------------

/// Whether `python3` can import `irc.client`; if not, why.
fn python_irc_available() -> Result<(), String> {
    match Command::new("python3")
        .args(["-c", "import irc.client"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!(
            "`python3 -c \"import irc.client\"` failed ({}): {}",
            output.status,
            // The last line of a traceback is the error itself.
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .rfind(|line| !line.trim().is_empty())
                .unwrap_or("")
                .trim()
        )),
        Err(error) => Err(format!("cannot run python3: {error}")),
    }
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[test]
fn python_irc_client_and_text_user_talk_in_one_room() {
    if !python_ready() {
        return;
    }
    let server = serve();
    talk(&server, server.irc(), None);
}

/// The same conversation with the IRC client on the `ircs` listener, over Python's own TLS
/// verifying the certificate `palaver gen-cert` made.
#[test]
fn python_irc_client_talks_over_tls() {
    if !python_ready() {
        return;
    }
    let directory = TempDir::new("irc-client-tls");
    let (made, _, stderr) = gen_cert(&directory.path, &[]);
    assert!(made, "gen-cert failed: {stderr}");
    let server = serve_tls(&directory.path);
    let ircs = server.ircs.expect("an ircs listener");
    talk(&server, ircs, Some(&directory.path.join("cert.pem")));
}

/// Whether the Python `irc` library is there to run; without it, a notice (and under CI, a
/// failure: `.ci/run` must have installed it).
fn python_ready() -> bool {
    if let Err(why) = python_irc_available() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "the Python `irc` library is missing under CI: .ci/run should have installed \
                 it (python3 -m pip install -r tests/e2e/requirements.txt); {why}"
            );
        }
        eprintln!(
            "NOTICE: skipping the IRC end-to-end test: {why}. Install the client with \
             `python3 -m pip install -r tests/e2e/requirements.txt` to run it."
        );
        return false;
    }
    true
}

/// The conversation of the module documentation, with the IRC client connecting to `irc`
/// (over TLS trusting `tls_ca`, if given).
fn talk(server: &Server, irc: std::net::SocketAddr, tls_ca: Option<&std::path::Path>) {
    let mut text = Observer::connect_guest(server.text);
    text.rename("textuser");
    text.send("/join #e2e");
    text.expect("-- textuser joined #e2e");

    let mut command = Command::new("python3");
    if let Some(ca) = tls_ca {
        command.arg(SCRIPT).arg("--tls-ca").arg(ca);
    } else {
        command.arg(SCRIPT);
    }
    command.args([
        "--host",
        &irc.ip().to_string(),
        "--port",
        &irc.port().to_string(),
        "--nick",
        "ircbot",
        "--channel",
        "#e2e",
        "--say",
        "hello from irc",
        "--expect-from",
        "textuser",
        "--expect-text",
        "hello from text",
        "--timeout",
        CLIENT_TIMEOUT_SECONDS,
    ]);
    let mut python = Process::spawn_command("irc_client.py", command);

    // Any failure from here on shows both sides: the Python client's trace of the IRC traffic
    // and the server's log.
    let fail = |python: &mut Process, what: String| -> ! {
        let (status, stdout) = python.wait_exit();
        panic!(
            "{what}\n--- irc_client.py exited {status}; stdout: {stdout:?}; stderr:\n{}\
             --- palaver stderr:\n{}",
            python.stderr_text(),
            server.process.stderr_text()
        );
    };

    // The IRC client's join, then its message, reach the text user in that order.
    if let Err(what) = text.try_expect("-- ircbot joined #e2e") {
        fail(&mut python, what);
    }
    if let Err(what) = text.try_expect("#e2e <ircbot> hello from irc") {
        fail(&mut python, what);
    }

    // Only now does the text user answer; the Python client waits for exactly this line.
    text.send("hello from text");
    if let Err(what) = text.try_expect("#e2e <textuser> hello from text") {
        fail(&mut python, what);
    }

    let (status, stdout) = python.wait_exit();
    let trace = python.stderr_text();
    assert!(
        status.success(),
        "irc_client.py failed ({status}); stdout: {stdout:?}; stderr:\n{trace}\
         --- palaver stderr:\n{}",
        server.process.stderr_text()
    );
    assert!(
        stdout
            .iter()
            .any(|line| line == "PUBMSG textuser hello from text"),
        "the IRC client heard the text user; stdout: {stdout:?}; stderr:\n{trace}"
    );
    assert!(
        !stdout.iter().any(|line| line.starts_with("PUBMSG ircbot ")),
        "the IRC client does not get its own message echoed; stdout: {stdout:?}"
    );

    // The client quit before exiting: the text user sees it leave.
    match text.try_line() {
        Ok(line) if line.starts_with("-- ircbot ") => {}
        Ok(line) => panic!("expected ircbot to leave, got {line:?}; IRC trace:\n{trace}"),
        Err(what) => panic!("expected ircbot to leave: {what}; IRC trace:\n{trace}"),
    }
}
