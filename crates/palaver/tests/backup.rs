//! `palaver backup FILE --db PATH` on the real binary, while a server writes to the database:
//! the copy passes SQLite's integrity check, and a server started on it has every message
//! whose receipt came back before the backup began. A backup over an existing file is refused.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Observer, Options, Process, TempDir, serve_with};

/// How long a test waits for anything before declaring the binary broken.
const PATIENCE: Duration = Duration::from_secs(30);

/// How many messages are acknowledged before the backup begins.
const ACKNOWLEDGED: usize = 30;

fn serve_on_file(database: &str) -> common::Server {
    serve_with(
        &["--db", database],
        Options {
            memory_db: false,
            ..Options::default()
        },
    )
}

#[test]
fn a_backup_under_write_load_restores_every_acknowledged_message() {
    let directory = TempDir::new("backup");
    let database = directory.database();
    let database = database.to_str().unwrap();
    let server = serve_on_file(database);
    let mut alice = Observer::connect_checked(server.text);
    alice.rename("alice");
    for number in 1..=ACKNOWLEDGED {
        // `say` returns once the receipt is back: the message is committed.
        alice.say(&format!("acknowledged {number}"));
    }

    // Someone keeps writing while the backup runs.
    let mut bob = Observer::connect_checked(server.text);
    // After the lobby's history, replayed on joining.
    let guest = bob.nick.clone();
    bob.send("/nick bob");
    bob.skip_until(&format!("-- {guest} is now known as bob"));
    bob.nick = "bob".into();
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let writing = writing.clone();
        std::thread::spawn(move || {
            let mut number = 0;
            while writing.load(Ordering::Relaxed) {
                number += 1;
                bob.say(&format!("meanwhile {number}"));
            }
            number
        })
    };
    let copy = directory.path.join("copy.db");
    let copy_name = copy.to_str().unwrap();
    let mut backup = Process::spawn(&["backup", copy_name, "--db", database], Options::default());
    let (status, lines) = backup.wait_exit();
    assert!(status.success(), "{}", backup.stderr_text());
    assert!(
        lines[0].starts_with(&format!("backed up {database} to {copy_name} (")),
        "{lines:?}"
    );
    writing.store(false, Ordering::Relaxed);
    let written_meanwhile = writer.join().expect("the writer");
    assert!(written_meanwhile > 0);

    let checked: String = rusqlite::Connection::open(&copy)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(checked, "ok");

    // A backup never overwrites.
    let mut again = Process::spawn(&["backup", copy_name, "--db", database], Options::default());
    let (status, _) = again.wait_exit();
    assert!(!status.success());
    assert!(
        again
            .stderr_text()
            .contains("exists; a backup goes to a new file")
    );
    drop(server);

    let restored = serve_on_file(copy_name);
    let mut reader = Observer::connect_checked(restored.text);
    // The lobby's newest messages, replayed on joining; then all of them.
    reader.skip_until("-- end of history");
    reader.send("/history 500");
    reader.skip_until("-- history");
    let mut history = Vec::new();
    loop {
        let line = reader.line();
        if line == "-- end of history" {
            break;
        }
        history.push(line);
    }
    for number in 1..=ACKNOWLEDGED {
        let wanted = format!("<alice> acknowledged {number}");
        assert!(
            history.iter().any(|line| line.ends_with(&wanted)),
            "{wanted} is missing from the restored history: {history:?}"
        );
    }
}
