//! The SQLite database behind the store: opening and configuring it, writing a batch of
//! messages in one transaction, and turning rows back into [`StoredMessage`]s.
//!
//! Concurrency contract: a [`Database`] is owned by the store thread alone (rusqlite's
//! `Connection` is `!Sync` and every call blocks), so nothing here is shared or locked.

use std::time::Duration;

use palaver_proto::event::{Identity, MessageId};
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use rusqlite::{CachedStatement, Connection, ErrorCode, Row, params};

use super::message::{
    Correspondent, HistoryTarget, Party, StoredMessage, kind_from_name, kind_name, party_views,
};
use super::{Statistics, StoreConfig, StoreError, migrations};

/// The columns every history query selects, in the order [`decode_message`] reads them.
pub(super) const MESSAGE_COLUMNS: &str = "id, time, target_name, sender_name, from_nick, \
     from_user, from_host, from_realname, account, kind, text, client_tags, sender_party, \
     recipient_party, concat_at, author";

const INSERT_MESSAGE: &str = "INSERT INTO messages (id, time, target_key, target_name, \
     sender_name, sender_key, recipient_key, from_nick, from_user, from_host, from_realname, \
     account, kind, text, client_tags, sender_party, recipient_party, sender_view, \
     recipient_view, concat_at, author) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19, ?20, ?21)";

/// An open, migrated database and what the store thread needs alongside it.
pub(super) struct Database {
    pub(super) connection: Connection,
    /// How long and how much history to keep; applied by `prune` (retention.rs).
    pub(super) max_age: Option<Duration>,
    pub(super) max_per_target: Option<usize>,
    /// The schema version the database was migrated to: below
    /// [`migrations::ROOM_LIFETIMES_VERSION`] (a test building an older database) there are
    /// no history floors to keep.
    pub(super) schema_version: u32,
    /// Counters for tests and benchmarks (how well group commit batches).
    pub(super) statistics: Statistics,
}

impl Database {
    /// Opens (creating if missing) the database at `config.path`, switches it to WAL with
    /// `synchronous=FULL`, and migrates it up to `max_version`. Returns the database and the
    /// schema version reached. Every failure is a [`StoreError::Open`] naming the path.
    pub(super) fn open(config: &StoreConfig, max_version: u32) -> Result<(Self, u32), StoreError> {
        let opened = Connection::open(&config.path)
            .map_err(StoreError::from)
            .and_then(|mut connection| {
                configure(&connection)?;
                let version = migrations::migrate(&mut connection, max_version)?;
                Ok((connection, version))
            });
        let (connection, version) = opened.map_err(|error| StoreError::Open {
            path: config.path.clone(),
            message: error.detail(),
        })?;
        let database = Self {
            connection,
            max_age: config.history_max_age,
            max_per_target: config.history_max_per_room,
            schema_version: version,
            statistics: Statistics::default(),
        };
        Ok((database, version))
    }

    /// Writes `messages` in one transaction (one fsync for the lot: that is group commit).
    ///
    /// The outer `Result` fails the whole batch (nothing was written); the inner ones say, per
    /// message, whether it was written. A message the database refuses on its own account —
    /// a duplicate id, a value out of range — is rejected alone and the rest still commit.
    pub(super) fn append_batch(
        &mut self,
        messages: &[StoredMessage],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let transaction = self.connection.transaction()?;
        let mut outcomes = Vec::with_capacity(messages.len());
        {
            let mut insert = transaction.prepare_cached(INSERT_MESSAGE)?;
            for message in messages {
                outcomes.push(insert_one(&mut insert, message)?);
            }
        }
        transaction.commit()?;
        self.statistics.batches += 1;
        self.statistics.appended +=
            outcomes.iter().filter(|outcome| outcome.is_ok()).count() as u64;
        Ok(outcomes)
    }

    /// How many messages are stored.
    pub(super) fn count(&self) -> Result<u64, StoreError> {
        let count: i64 = self
            .connection
            .query_row("SELECT COUNT(*) FROM messages", [], |row| row.get(0))?;
        unsigned(count, "message count")
    }

    /// Closes the connection. Closing the last connection checkpoints the WAL into the main
    /// file and removes it, so a stopped server leaves a single, self-contained database file.
    pub(super) fn close(self) -> Result<(), StoreError> {
        self.connection
            .close()
            .map_err(|(_connection, error)| error.into())
    }
}

/// Sets the connection up for durable, fast appends.
fn configure(connection: &Connection) -> Result<(), StoreError> {
    // WAL: a commit appends to the log and syncs it once, instead of the rollback journal's
    // several syncs, and readers never block the writer. The pragma answers with the mode in
    // force: `memory` for `:memory:`, where WAL does not apply, which is fine.
    let _mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    // FULL: a commit is on disk before its Commit resolves, even across a power cut (NORMAL
    // in WAL mode may lose the last commits). Group commit is what keeps this affordable.
    connection.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Inserts one message inside the batch's transaction. `Ok(Err(_))`: this message is refused
/// and the transaction goes on (SQLite undoes only the failed statement on a constraint
/// violation). `Err(_)`: anything else, after which the transaction may be gone, so the whole
/// batch must fail.
fn insert_one(
    insert: &mut CachedStatement<'_>,
    message: &StoredMessage,
) -> Result<Result<(), StoreError>, StoreError> {
    let row = match InsertRow::new(message) {
        Ok(row) => row,
        Err(refused) => return Ok(Err(refused)),
    };
    let result = insert.execute(params![
        row.id,
        row.time,
        message.target.key(),
        row.target_name,
        row.sender_name,
        row.sender_key,
        row.recipient_key,
        &*message.from.nick,
        &*message.from.user,
        &*message.from.host,
        &*message.from.realname,
        message.account,
        row.kind,
        message.text,
        message.client_tags,
        row.parties.sender,
        row.parties.recipient,
        row.parties.sender_view,
        row.parties.recipient_view,
        concat_column(&message.concat_at),
        message.author.as_ref().map(Party::key),
    ]);
    match result {
        Ok(_) => Ok(Ok(())),
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
            Ok(Err(error.into()))
        }
        Err(error) => Err(error.into()),
    }
}

/// The column values of a message that need converting before they can be written.
struct InsertRow<'a> {
    id: i64,
    time: i64,
    target_name: &'a str,
    sender_name: Option<&'a str>,
    sender_key: Option<String>,
    recipient_key: Option<String>,
    kind: &'static str,
    parties: PartyColumns,
}

/// Who a private message belongs to, as its four columns (all `None` for a room message, or
/// a side whose party is unknown).
#[derive(Default)]
struct PartyColumns {
    sender: Option<String>,
    recipient: Option<String>,
    sender_view: Option<String>,
    recipient_view: Option<String>,
}

impl<'a> InsertRow<'a> {
    fn new(message: &'a StoredMessage) -> Result<Self, StoreError> {
        let kind = kind_name(message.kind).ok_or_else(|| {
            StoreError::Database(format!("message {} has no text to store", message.id))
        })?;
        let (target_name, sender_name, sender_key, recipient_key, parties) = match &message.target {
            HistoryTarget::Room(room) => (room.as_str(), None, None, None, PartyColumns::default()),
            HistoryTarget::Private { sender, recipient } => (
                recipient.nick.as_str(),
                Some(sender.nick.as_str()),
                Some(fold(&sender.nick)),
                Some(fold(&recipient.nick)),
                {
                    let (sender_view, recipient_view) = party_views(sender, recipient);
                    PartyColumns {
                        sender: sender.party.as_ref().map(Party::key),
                        recipient: recipient.party.as_ref().map(Party::key),
                        sender_view,
                        recipient_view,
                    }
                },
            ),
            HistoryTarget::Conversation { .. } => {
                return Err(StoreError::Database(format!(
                    "message {} names a conversation, not where it was sent",
                    message.id
                )));
            }
        };
        Ok(Self {
            id: signed(message.id.0, "message id")?,
            time: signed(message.time.0, "message time")?,
            target_name,
            sender_name,
            sender_key,
            recipient_key,
            kind,
            parties,
        })
    }
}

/// Reads one row selected with [`MESSAGE_COLUMNS`]. Bad data (a NULL where text belongs, a
/// negative id, an unknown kind) is a [`StoreError::Database`], never a panic.
pub(super) fn decode_message(row: &Row<'_>) -> Result<StoredMessage, StoreError> {
    let id = MessageId(unsigned(row.get(0)?, "message id")?);
    let target_name: String = row.get(2)?;
    let sender_name: Option<String> = row.get(3)?;
    let party = |column: usize| -> Result<Option<Party>, StoreError> {
        let key: Option<String> = row.get(column)?;
        key.map(|key| {
            Party::from_key(&key).ok_or_else(|| {
                StoreError::Database(format!("message {id} has an unknown party {key:?}"))
            })
        })
        .transpose()
    };
    let target = match sender_name {
        None => HistoryTarget::Room(target_name),
        Some(sender) => HistoryTarget::Private {
            sender: Correspondent {
                nick: sender,
                party: party(12)?,
            },
            recipient: Correspondent {
                nick: target_name,
                party: party(13)?,
            },
        },
    };
    let concat_text: String = row.get(14)?;
    let concat_at = parse_concat_column(&concat_text).ok_or_else(|| {
        StoreError::Database(format!("message {id} has bad line joins {concat_text:?}"))
    })?;
    let kind_text: String = row.get(9)?;
    let kind = kind_from_name(&kind_text).ok_or_else(|| {
        StoreError::Database(format!("message {id} has an unknown kind {kind_text:?}"))
    })?;
    Ok(StoredMessage {
        id,
        time: Timestamp(unsigned(row.get(1)?, "message time")?),
        from: Identity {
            nick: row.get::<_, String>(4)?.into(),
            user: row.get::<_, String>(5)?.into(),
            host: row.get::<_, String>(6)?.into(),
            realname: row.get::<_, String>(7)?.into(),
            account: None,
            // Not stored: a replayed message shows no bot tag.
            bot: false,
        },
        account: row.get(8)?,
        target,
        kind,
        text: row.get(10)?,
        concat_at,
        author: party(15)?,
        client_tags: row.get(11)?,
    })
}

/// The `concat_at` column: the offsets comma-separated, empty for none.
fn concat_column(concat_at: &[usize]) -> String {
    let offsets: Vec<String> = concat_at.iter().map(usize::to_string).collect();
    offsets.join(",")
}

/// The offsets [`concat_column`] wrote; `None` for anything it never writes.
fn parse_concat_column(text: &str) -> Option<Vec<usize>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',').map(|offset| offset.parse().ok()).collect()
}

/// Runs a prepared query selecting [`MESSAGE_COLUMNS`] and decodes every row.
pub(super) fn read_messages(
    statement: &mut CachedStatement<'_>,
    parameters: impl rusqlite::Params,
) -> Result<Vec<StoredMessage>, StoreError> {
    let mut rows = statement.query(parameters)?;
    let mut messages = Vec::new();
    while let Some(row) = rows.next()? {
        messages.push(decode_message(row)?);
    }
    Ok(messages)
}

/// SQLite integers are signed 64-bit; ids and times beyond that cannot be stored.
pub(super) fn signed(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Database(format!("{what} {value} is too large")))
}

/// A stored integer that must not be negative.
pub(super) fn unsigned(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Database(format!("{what} {value} is negative")))
}

/// A query bound as an SQLite integer. A bound beyond the largest storable value means the
/// same as the largest value, so it saturates instead of failing.
pub(super) fn bound_integer(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{config_at, room_message};

    #[test]
    fn a_duplicate_id_is_refused_alone() {
        let directory = tempfile::tempdir().expect("temp dir");
        let config = config_at(&directory);
        let (mut database, _) =
            Database::open(&config, migrations::latest_version()).expect("open");
        let first = room_message(1, 10, "#a", "one");
        database
            .append_batch(std::slice::from_ref(&first))
            .expect("batch")
            .remove(0)
            .expect("first write");
        let batch = [
            room_message(1, 11, "#a", "again"),
            room_message(2, 12, "#a", "two"),
        ];
        let outcomes = database.append_batch(&batch).expect("batch");
        assert!(
            matches!(outcomes[0], Err(StoreError::Database(_))),
            "{outcomes:?}"
        );
        assert!(outcomes[1].is_ok(), "{outcomes:?}");
        assert_eq!(database.count().expect("count"), 2);
    }

    #[test]
    fn ids_beyond_sqlite_integers_are_refused() {
        let directory = tempfile::tempdir().expect("temp dir");
        let (mut database, _) =
            Database::open(&config_at(&directory), migrations::latest_version()).expect("open");
        let outcomes = database
            .append_batch(&[room_message(u64::MAX, 1, "#a", "huge")])
            .expect("batch");
        assert!(outcomes[0].is_err());
        assert_eq!(database.count().expect("count"), 0);
    }

    #[test]
    fn line_joins_round_trip_through_their_column() {
        for offsets in [vec![], vec![7], vec![3, 40, 4095]] {
            assert_eq!(parse_concat_column(&concat_column(&offsets)), Some(offsets));
        }
        assert_eq!(parse_concat_column("1,,2"), None);
        assert_eq!(parse_concat_column("-1"), None);
    }

    #[test]
    fn bad_rows_are_errors_not_panics() {
        let directory = tempfile::tempdir().expect("temp dir");
        let (mut database, _) =
            Database::open(&config_at(&directory), migrations::latest_version()).expect("open");
        database
            .append_batch(&[room_message(1, 1, "#a", "fine")])
            .expect("batch");
        // Corrupt the row behind the store's back; the CHECK constraint would refuse it.
        database
            .connection
            .execute_batch(
                "PRAGMA ignore_check_constraints = ON;
                 UPDATE messages SET kind = 'shout' WHERE id = 1;",
            )
            .expect("corrupt");
        let mut select = database
            .connection
            .prepare_cached(&format!("SELECT {MESSAGE_COLUMNS} FROM messages"))
            .expect("prepare");
        let error = read_messages(&mut select, []).expect_err("unknown kind");
        assert!(error.to_string().contains("unknown kind"), "{error}");
    }
}
