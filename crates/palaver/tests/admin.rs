//! End-to-end tests of `palaver admin`: the binary against a real `palaver serve` configured
//! with `[[admin.token]]` entries, its text for people and its `--json`, refusals on stderr
//! with exit status 1, a read token refused on a write, a password piped in, and the token
//! never printed.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Observer, Options, OtherLines, Process, TempDir, wait_ready};

/// How long a test waits for anything before declaring the binary broken.
const PATIENCE: Duration = Duration::from_secs(20);

const READ_TOKEN: &str = "viewer:read-secret-1234";
const WRITE_TOKEN: &str = "ops:write-secret-5678";

/// Writes the configuration file `palaver.toml` in `directory` with these tokens (`NAME:SECRET`
/// and scope), as an administrator writes it: the secrets' hashes. Returns its path.
fn write_config(directory: &TempDir, tokens: &[(&str, &str)]) -> std::path::PathBuf {
    let mut config = format!(
        "[admin]\naudit_log = \"{}\"\n",
        directory.path.join("audit.jsonl").display()
    );
    for (token, scope) in tokens {
        let (name, secret) = token.split_once(':').unwrap();
        let hash = palaver_server::accounts::hash_password(secret).unwrap();
        config.push_str(&format!(
            "[[admin.token]]\nname = \"{name}\"\nsecret_hash = \"{hash}\"\nscope = \"{scope}\"\n"
        ));
    }
    let path = directory.path.join("palaver.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// A server with the HTTP listener and the tokens `viewer` (read) and `ops` (write); returns
/// it with its text and HTTP addresses.
fn serve(directory: &TempDir) -> (Process, SocketAddr, SocketAddr) {
    let path = write_config(directory, &[(READ_TOKEN, "read"), (WRITE_TOKEN, "write")]);
    let args = [
        "serve",
        "--config",
        path.to_str().unwrap(),
        "--text-listen",
        "127.0.0.1:0",
        "--irc-listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
    ];
    let mut process = Process::spawn(&args, Options::default());
    let listening = wait_ready(&mut process, OtherLines::Fail);
    (process, listening.text[0], listening.http[0])
}

/// What one `palaver admin` run did.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `palaver admin ARGS` against `http` with `token` in the environment, `stdin` piped in.
fn admin(http: SocketAddr, token: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let url = format!("http://{http}");
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let envs = [
        ("PALAVER_ADMIN_URL", url.as_str()),
        ("PALAVER_ADMIN_TOKEN", token),
    ];
    let mut process = Process::spawn(
        &all,
        Options {
            pipe_stdin: stdin.is_some(),
            envs: &envs,
            ..Options::default()
        },
    );
    if let Some(input) = stdin {
        process.write_stdin(input);
        process.close_stdin();
    }
    finish(process)
}

/// Waits for `process` to exit, and checks that it printed no secret.
fn finish(mut process: Process) -> Run {
    let (status, lines) = process.wait_exit();
    let run = Run {
        success: status.success(),
        stdout: lines.iter().map(|line| format!("{line}\n")).collect(),
        stderr: process.stderr_text(),
    };
    for secret in ["read-secret-1234", "write-secret-5678"] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret was printed: {}{}",
            run.stdout,
            run.stderr
        );
    }
    run
}

#[test]
fn admin_reads_and_writes_through_the_api() {
    let directory = TempDir::new("palaver-admin");
    let (server, text, http) = serve(&directory);
    let mut guest = Observer::connect_guest(text);
    let nick = guest.nick.clone();

    let status = admin(http, READ_TOKEN, &["status"], None);
    assert!(status.success, "{}", status.stderr);
    assert!(
        status
            .stdout
            .contains("users:     1 (peak 1, 0 operators)\n"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("store:     sqlite\n"),
        "{}",
        status.stdout
    );

    let rooms = admin(http, READ_TOKEN, &["rooms"], None);
    let lines: Vec<&str> = rooms.stdout.lines().collect();
    assert_eq!(
        lines[0], "ROOM    MEMBERS  CREATED                   TOPIC",
        "{}",
        rooms.stdout
    );
    assert!(
        lines[1].starts_with("#lobby  1        "),
        "{}",
        rooms.stdout
    );
    assert_eq!(lines[2], "1 of 1 rooms");

    let users = admin(http, READ_TOKEN, &["--json", "users"], None);
    let users: serde_json::Value = serde_json::from_str(&users.stdout).expect("JSON");
    assert_eq!(users["total"], 1);
    assert_eq!(users["users"][0]["nick"], nick.as_str());

    // Refusals: the API's words on stderr and exit status 1; with --json, its body too.
    let missing = admin(http, READ_TOKEN, &["user", "nobody"], None);
    assert!(!missing.success);
    assert_eq!(
        missing.stderr,
        "palaver: no such nick: nobody (HTTP 404 not_found)\n"
    );
    let missing = admin(http, READ_TOKEN, &["user", "nobody", "--json"], None);
    assert!(!missing.success);
    let body: serde_json::Value = serde_json::from_str(&missing.stdout).expect("JSON");
    assert_eq!(body["error"], "not_found");
    let read_only = admin(http, READ_TOKEN, &["ban", "192.0.2.1"], None);
    assert!(!read_only.success);
    assert_eq!(
        read_only.stderr,
        "palaver: the token viewer may only read (HTTP 403 forbidden)\n"
    );
    let wrong = admin(http, "ops:guess", &["status"], None);
    assert_eq!(
        wrong.stderr,
        "palaver: wrong token (HTTP 401 unauthorized)\n"
    );

    // Writes.
    let banned = admin(
        http,
        WRITE_TOKEN,
        &[
            "ban",
            "192.0.2.0/24",
            "--duration",
            "1h",
            "--reason",
            "spam",
        ],
        None,
    );
    assert!(banned.success, "{}", banned.stderr);
    assert!(
        banned.stdout.starts_with("banned 192.0.2.0/24 until "),
        "{}",
        banned.stdout
    );
    assert!(
        banned.stdout.ends_with(" (spam); 0 disconnected\n"),
        "{}",
        banned.stdout
    );
    let bans = admin(http, READ_TOKEN, &["bans"], None);
    assert!(
        bans.stdout.starts_with("TARGET        EXPIRES"),
        "{}",
        bans.stdout
    );
    assert!(bans.stdout.contains("192.0.2.0/24  "), "{}", bans.stdout);
    let lifted = admin(http, WRITE_TOKEN, &["unban", "192.0.2.0/24"], None);
    assert_eq!(lifted.stdout, "lifted the ban on 192.0.2.0/24\n");

    let registered = admin(
        http,
        WRITE_TOKEN,
        &["register", "carol"],
        Some("a-good-password\n"),
    );
    assert_eq!(
        registered.stdout, "registered the account carol\n",
        "{}",
        registered.stderr
    );
    let locked = admin(
        http,
        WRITE_TOKEN,
        &["lock", "Carol", "--reason", "spamming"],
        None,
    );
    assert_eq!(
        locked.stdout, "locked the account carol (spamming); 0 sessions logged out\n",
        "{}",
        locked.stderr
    );
    let account = admin(http, READ_TOKEN, &["account", "carol"], None);
    let locked_line = account
        .stdout
        .lines()
        .find(|line| line.starts_with("locked:"))
        .unwrap_or_default();
    assert!(
        locked_line.starts_with("locked:       yes, by api:ops at ")
            && locked_line.ends_with(" (spamming)"),
        "{}",
        account.stdout
    );
    let unlocked = admin(http, WRITE_TOKEN, &["unlock", "carol"], None);
    assert_eq!(unlocked.stdout, "unlocked the account carol\n");
    let account = admin(http, READ_TOKEN, &["account", "carol"], None);
    assert!(
        account.stdout.contains("\nlocked:       no\n"),
        "{}",
        account.stdout
    );
    let topic = admin(http, WRITE_TOKEN, &["topic", "#lobby", "welcome all"], None);
    assert_eq!(
        topic.stdout, "topic of #lobby: welcome all\n",
        "{}",
        topic.stderr
    );
    guest.expect("-- palaver.local changed the topic of #lobby to: welcome all");

    let killed = admin(http, WRITE_TOKEN, &["kill", &nick, "go away"], None);
    assert_eq!(
        killed.stdout,
        format!("killed {nick}\n"),
        "{}",
        killed.stderr
    );
    guest.skip_until("-- you were killed by palaver.local (go away); goodbye");
    guest.expect_closed();

    let audit = admin(http, READ_TOKEN, &["audit"], None);
    let lines: Vec<&str> = audit.stdout.lines().collect();
    assert!(lines[0].starts_with("TIME "), "{}", audit.stdout);
    let actions: Vec<(&str, &str)> = lines[1..]
        .iter()
        .map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            (columns[2], columns[5])
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("POST", "refused"),
            ("POST", "done"),
            ("DELETE", "done"),
            ("POST", "done"),
            ("POST", "done"),
            ("POST", "done"),
            ("PUT", "done"),
            ("POST", "done"),
        ],
        "{}",
        audit.stdout
    );

    // The server's own log names each operator action and who took it, as for an OPER.
    for (action, detail) in [
        ("operator banned from the server", "target=192.0.2.0/24"),
        ("operator lifted a server ban", "target=192.0.2.0/24"),
        ("operator killed a user", &format!("victim={nick}")),
    ] {
        let line = server.stderr_line_containing(action);
        assert!(
            line.contains("api:ops") && line.contains(detail),
            "{action}: {line}"
        );
    }
}

#[test]
fn admin_says_why_it_cannot_ask() {
    let unreachable = admin(
        "127.0.0.1:1".parse().unwrap(),
        WRITE_TOKEN,
        &["status"],
        None,
    );
    assert!(!unreachable.success);
    assert!(
        unreachable
            .stderr
            .starts_with("palaver: cannot connect to 127.0.0.1:1"),
        "{}",
        unreachable.stderr
    );
    let url = Process::spawn(
        &["admin", "--url", "https://chat.example", "status"],
        Options {
            envs: &[("PALAVER_ADMIN_TOKEN", WRITE_TOKEN)],
            ..Options::default()
        },
    );
    let mut url = url;
    let (status, _) = url.wait_exit();
    assert!(!status.success());
    assert!(
        url.stderr_text().contains("https:// is not supported"),
        "{}",
        url.stderr_text()
    );
    // The help shows where the token comes from, never its value.
    let mut help = Process::spawn(
        &["admin", "--help"],
        Options {
            envs: &[("PALAVER_ADMIN_TOKEN", WRITE_TOKEN)],
            ..Options::default()
        },
    );
    let (status, lines) = help.wait_exit();
    assert!(status.success());
    let help = lines.join("\n");
    assert!(help.contains("[env: PALAVER_ADMIN_TOKEN]"), "{help}");
    assert!(!help.contains("write-secret"), "{help}");
}

#[test]
fn a_token_is_revoked_and_another_added_by_a_reload() {
    let directory = TempDir::new("palaver-admin-reload");
    let (server, _, http) = serve(&directory);
    assert!(admin(http, WRITE_TOKEN, &["status"], None).success);
    write_config(&directory, &[(READ_TOKEN, "write")]);
    server.signal("HUP");
    server.stderr_line_containing("reload: [[admin.token]] entries (1)");
    let revoked = admin(http, WRITE_TOKEN, &["status"], None);
    assert_eq!(
        revoked.stderr,
        "palaver: wrong token (HTTP 401 unauthorized)\n"
    );
    // The read token is a write token now.
    let unban = admin(http, READ_TOKEN, &["unban", "192.0.2.9"], None);
    assert_eq!(
        unban.stderr,
        "palaver: there is no ban on 192.0.2.9 (HTTP 404 not_found)\n"
    );
}

/// Runs `palaver check-config FILE --server http://HTTP` with `token` in the environment.
fn check_config(file: &std::path::Path, http: SocketAddr, token: &str) -> Run {
    let url = format!("http://{http}");
    let file = file.to_str().unwrap();
    let envs = [("PALAVER_ADMIN_TOKEN", token)];
    finish(Process::spawn(
        &["check-config", file, "--server", &url],
        Options {
            envs: &envs,
            ..Options::default()
        },
    ))
}

#[test]
fn check_config_says_what_a_reload_would_change_on_the_running_server() {
    let directory = TempDir::new("palaver-check-against");
    let (_server, _text, http) = serve(&directory);
    let running = directory.path.join("palaver.toml");
    let url = format!("http://{http}");

    // The file the server runs with (its listeners given as flags, as the server's were).
    let same = check_config(&running, http, READ_TOKEN);
    assert!(same.success, "{}", same.stderr);
    assert!(
        same.stdout.ends_with(&format!(
            "compared with {url}: a reload would change nothing\n"
        )),
        "{}",
        same.stdout
    );

    let changed = directory.path.join("changed.toml");
    let text = std::fs::read_to_string(&running).unwrap();
    std::fs::write(
        &changed,
        format!("[irc]\nserver_name = \"renamed.example.org\"\n[flood]\nburst = 3\n{text}"),
    )
    .unwrap();
    let differs = check_config(&changed, http, READ_TOKEN);
    assert!(differs.success, "{}", differs.stderr);
    let lines: Vec<&str> = differs.stdout.lines().collect();
    assert_eq!(
        lines[1],
        format!("compared with {url}:"),
        "{}",
        differs.stdout
    );
    assert!(
        lines[2].starts_with("  a reload applies: [flood]"),
        "{}",
        differs.stdout
    );
    assert!(
        lines[3].starts_with("  needs a restart: ") && lines[3].contains("[irc]"),
        "{}",
        differs.stdout
    );
    // The preview changed nothing: the server still runs with its own file.
    let again = check_config(&running, http, READ_TOKEN);
    assert!(
        again.stdout.ends_with("a reload would change nothing\n"),
        "{}",
        again.stdout
    );

    let refused = check_config(&changed, http, "ops:wrong-secret");
    assert!(!refused.success);
    assert!(refused.stderr.contains("wrong token"), "{}", refused.stderr);
}
