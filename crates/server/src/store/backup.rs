//! Online backups: a consistent copy of the database taken while a server writes to it.
//!
//! The copy is made with SQLite's `VACUUM INTO` on a read-only connection of its own: it reads
//! one snapshot (in WAL mode a reader never blocks the writer, nor the writer it), so the copy
//! holds exactly what was committed when it began — every message whose receipt was sent
//! before — and nothing half-written. The copy is a standalone database, compacted; a server
//! started on it (after it is moved into place) opens it like its own.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// How long the copy waits for a lock (a checkpoint in progress) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Copies the database at `source` into the new file `destination`; returns how many messages
/// the copy holds. Refuses a `destination` that exists.
pub fn backup(source: &Path, destination: &Path) -> Result<u64, StoreError> {
    let failed = |message: String| StoreError::Database(message);
    if destination.exists() {
        return Err(failed(format!(
            "{} exists; a backup goes to a new file",
            destination.display()
        )));
    }
    if !source.is_file() {
        return Err(failed(format!("no database at {}", source.display())));
    }
    let connection = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let target = destination
        .to_str()
        .ok_or_else(|| failed(format!("{} is not UTF-8", destination.display())))?;
    connection.execute("VACUUM INTO ?1", [target])?;
    let copy = Connection::open_with_flags(destination, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let messages: i64 = copy.query_row("SELECT count(*) FROM messages", [], |row| row.get(0))?;
    Ok(u64::try_from(messages).unwrap_or(0))
}
