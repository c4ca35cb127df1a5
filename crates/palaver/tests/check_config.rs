//! `palaver check-config FILE` through the binary: a valid file (the shipped example) gets one
//! line naming its listeners and exit status 0; every problem is one line on stderr and the
//! status is non-zero; a deprecated spelling is a warning, not a problem.

mod common;

use std::time::Duration;

use common::{Options, Process, TempDir};

/// How long a test waits for anything before declaring the binary broken.
const PATIENCE: Duration = Duration::from_secs(20);

/// Checks a file holding `toml`; returns whether it passed, its stdout and its stderr lines.
fn check(toml: &str) -> (bool, Vec<String>, Vec<String>) {
    let directory = TempDir::new("check-config");
    let file = directory.path.join("palaver.toml");
    std::fs::write(&file, toml).unwrap();
    let mut process = Process::spawn(
        &["check-config", file.to_str().unwrap()],
        Options::default(),
    );
    let (status, stdout) = process.wait_exit();
    let prefix = format!("{}: ", file.display());
    let strip = |line: &str| {
        line.strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("a line names the file: {line}"))
            .to_owned()
    };
    let stderr = process.stderr_text();
    (
        status.success(),
        stdout.iter().map(|line| strip(line)).collect(),
        stderr.lines().map(strip).collect(),
    )
}

#[test]
fn the_example_configuration_is_valid() {
    let (passed, stdout, stderr) = check(include_str!("../../../palaver.example.toml"));
    assert!(passed, "{stderr:?}");
    assert_eq!(
        stdout,
        ["valid; listeners: text 0.0.0.0:7788, irc 0.0.0.0:6667, web 0.0.0.0:8080"]
    );
    assert_eq!(stderr, Vec::<String>::new());
}

#[test]
fn every_problem_with_what_the_file_names_is_one_line() {
    let missing = TempDir::new("missing");
    let nowhere = missing.path.join("nowhere");
    let toml = format!(
        "[tls]\ncert = \"{0}/cert.pem\"\nkey = \"{0}/key.pem\"\n[web]\nroot = \"{0}/web\"\n\
         [store]\npath = \"{0}/palaver.db\"\n",
        nowhere.display()
    );
    let (passed, stdout, stderr) = check(&toml);
    assert!(!passed);
    assert_eq!(stdout, Vec::<String>::new());
    let nowhere = nowhere.display();
    assert_eq!(stderr.len(), 4, "{stderr:?}");
    assert!(
        stderr[0].starts_with(&format!(
            "cannot read the TLS certificate {nowhere}/cert.pem"
        )),
        "{stderr:?}"
    );
    assert_eq!(
        stderr[1],
        format!("[web] root {nowhere}/web is not a directory")
    );
    assert_eq!(
        stderr[2],
        format!("the database {nowhere}/palaver.db is in a directory that does not exist")
    );
    // The audit log's default file sits beside the database.
    assert_eq!(
        stderr[3],
        format!(
            "[admin] audit_log {nowhere}/palaver.db.audit.jsonl is in a directory that does \
             not exist"
        )
    );
}

#[test]
fn an_admin_token_must_hold_an_argon2id_hash_and_a_known_scope() {
    let token = |hash: &str, scope: &str| {
        format!("[[admin.token]]\nname = \"ops\"\nsecret_hash = \"{hash}\"\nscope = \"{scope}\"\n")
    };
    let (passed, _, stderr) = check(&token("s3cret", "write"));
    assert!(!passed);
    assert_eq!(
        stderr,
        [
            "invalid setting: [[admin.token]] ops: secret_hash must be an argon2id hash as \
             `palaver hash-password` prints it ($argon2id$v=19$…)"
        ]
    );
    let hash = palaver_server::accounts::hash_password("s3cret").unwrap();
    let (passed, _, stderr) = check(&token(&hash, "admin"));
    assert!(!passed);
    assert!(stderr[0].contains("unknown variant `admin`"), "{stderr:?}");
    let (passed, _, stderr) = check(&token(&hash, "read"));
    assert!(passed, "{stderr:?}");
}

#[test]
fn a_broken_rule_is_reported_and_a_deprecated_spelling_only_warned_about() {
    let (passed, _, stderr) = check("[irc]\nping_interval = \"soon\"\n");
    assert!(!passed);
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    assert!(
        stderr[0].starts_with("invalid setting: [irc] ping_interval"),
        "{stderr:?}"
    );

    let (passed, stdout, stderr) = check("[irc]\nping_interval_seconds = 120\n");
    assert!(passed, "{stderr:?}");
    assert_eq!(stdout.len(), 1);
    assert_eq!(
        stderr,
        [
            "warning: [irc] ping_interval_seconds = 120 is deprecated; write [irc] \
          ping_interval = \"2m\" instead"
        ]
    );
}
