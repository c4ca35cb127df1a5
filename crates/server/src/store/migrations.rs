//! The database schema and how it evolves: an ordered list of migrations, each applied once,
//! with the schema version kept in SQLite's `PRAGMA user_version`.
//!
//! To change the schema, append a [`Migration`] with the next version number; never edit one
//! that has shipped, since existing databases have already applied it.

use rusqlite::Connection;

use super::StoreError;

/// One step of the schema: the SQL that takes a database from `version - 1` to `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The schema version after this step; the list runs 1, 2, 3, … without gaps.
    pub version: u32,
    /// What the step does, for logs and readers.
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. The last one's version is the current schema version.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "messages",
        // A STRICT table rejects values of the wrong type instead of silently storing them.
        //
        // target_key is the lookup key of HistoryTarget::key: the folded room name, or for a
        // private conversation both folded nicks in sorted order ("alice bob"). So one index,
        // (target_key, id), answers history queries for rooms and for private conversations in
        // either direction, and no one else's private messages can match.
        //
        // For private messages, sender_name is the sender's nick as written and target_name the
        // recipient's; sender_key and recipient_key are their folded forms, indexed (only where
        // set) so CHATHISTORY TARGETS can find one user's conversations without a scan. Room
        // messages leave the three sender/recipient columns NULL.
        sql: "
        CREATE TABLE messages (
            id            INTEGER PRIMARY KEY,
            time          INTEGER NOT NULL,
            target_key    TEXT NOT NULL,
            target_name   TEXT NOT NULL,
            sender_name   TEXT,
            sender_key    TEXT,
            recipient_key TEXT,
            from_nick     TEXT NOT NULL,
            from_user     TEXT NOT NULL,
            from_host     TEXT NOT NULL,
            from_realname TEXT NOT NULL,
            account       TEXT,
            kind          TEXT NOT NULL CHECK (kind IN ('say', 'action', 'notice')),
            text          TEXT NOT NULL,
            client_tags   TEXT NOT NULL
        ) STRICT;
        CREATE INDEX messages_by_target ON messages (target_key, id);
        CREATE INDEX messages_by_time ON messages (time);
        CREATE INDEX private_messages_by_sender ON messages (sender_key, time)
            WHERE sender_key IS NOT NULL;
        CREATE INDEX private_messages_by_recipient ON messages (recipient_key, time)
            WHERE recipient_key IS NOT NULL;
    ",
    },
    Migration {
        version: 2,
        description: "accounts",
        // name_key is the account name folded with palaver_proto::names::fold, so "Alice" and
        // "alice" are one account; name keeps it as registered. password_hash is a PHC string
        // ($argon2id$v=19$m=…,t=…,p=…$salt$hash), which carries its own parameters, so hashes
        // made with older parameters still verify. created is unix time in milliseconds.
        sql: "
            CREATE TABLE accounts (
                name_key      TEXT PRIMARY KEY,
                name          TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                created       INTEGER NOT NULL
            ) STRICT;
        ",
    },
    Migration {
        version: 3,
        description: "registered rooms",
        // name_key is the folded room name; founder the founding account as registered.
        // flags holds the set flag letters of CHANMODES type D ("imnst" order), so new flags
        // need no migration. Times are unix milliseconds.
        sql: "
            CREATE TABLE rooms (
                name_key      TEXT PRIMARY KEY,
                name          TEXT NOT NULL,
                founder       TEXT NOT NULL,
                topic         TEXT,
                topic_set_by  TEXT,
                topic_set_at  INTEGER,
                flags         TEXT NOT NULL,
                room_key      TEXT,
                member_limit  INTEGER,
                created       INTEGER NOT NULL
            ) STRICT;
        ",
    },
    Migration {
        version: 4,
        description: "room lists and room lifetimes",
        // rooms.history_floor: the first message id of the lifetime in which the room was
        // registered; its history starts there (0 for rooms registered before this version,
        // which keep all of theirs).
        //
        // room_lists holds the mask lists of registered rooms, one row per entry: `mode` is the
        // list's mode letter (b bans; e and I, exceptions and invite exceptions, are accepted so
        // those lists need no migration), `position` the entry's place in its list, set_by the
        // setter's nick!user@host and set_at unix milliseconds.
        //
        // history_floors: for each unregistered room whose lifetime ended lately, the first
        // message id of whatever comes next; messages below it belong to the ended lifetime
        // and are deleted, also when they reach the store after the room closed. ended_at
        // (unix milliseconds) lets old rows go (see store/lifetimes.rs).
        sql: "
            ALTER TABLE rooms ADD COLUMN history_floor INTEGER NOT NULL DEFAULT 0;
            CREATE TABLE room_lists (
                room_key  TEXT NOT NULL,
                mode      TEXT NOT NULL CHECK (mode IN ('b', 'e', 'I')),
                position  INTEGER NOT NULL,
                mask      TEXT NOT NULL,
                set_by    TEXT NOT NULL,
                set_at    INTEGER NOT NULL,
                PRIMARY KEY (room_key, mode, mask)
            ) STRICT;
            CREATE TABLE history_floors (
                room_key  TEXT PRIMARY KEY,
                floor     INTEGER NOT NULL,
                ended_at  INTEGER NOT NULL
            ) STRICT;
            CREATE INDEX history_floors_by_age ON history_floors (ended_at);
        ",
    },
    Migration {
        version: 5,
        description: "private messages belong to their parties",
        // A private message belongs to its two parties, not to whoever holds their nicks
        // later. sender_party and recipient_party are message::Party::key: "a:<folded
        // account>" for a side logged in when the message was sent, "c:<32 hex digits>" (its
        // connection, unique across restarts) otherwise. sender_view and recipient_view are
        // message::view_key, the message as each side sees it: "<party> <folded nick of the
        // other side>"; indexed with the id, they answer one reader's history of one
        // conversation. The party indexes, with the time, answer CHATHISTORY TARGETS. All
        // four are NULL for room messages, and for private messages stored before this
        // version: their parties are unknown, so nobody can read them any more (retention
        // removes them in time). The nick-based indexes served the old lookup and go.
        sql: "
            ALTER TABLE messages ADD COLUMN sender_party TEXT;
            ALTER TABLE messages ADD COLUMN recipient_party TEXT;
            ALTER TABLE messages ADD COLUMN sender_view TEXT;
            ALTER TABLE messages ADD COLUMN recipient_view TEXT;
            DROP INDEX private_messages_by_sender;
            DROP INDEX private_messages_by_recipient;
            CREATE INDEX private_messages_by_sender_view ON messages (sender_view, id)
                WHERE sender_view IS NOT NULL;
            CREATE INDEX private_messages_by_recipient_view ON messages (recipient_view, id)
                WHERE recipient_view IS NOT NULL;
            CREATE INDEX private_messages_by_sender_party ON messages (sender_party, time)
                WHERE sender_party IS NOT NULL;
            CREATE INDEX private_messages_by_recipient_party ON messages (recipient_party, time)
                WHERE recipient_party IS NOT NULL;
        ",
    },
    Migration {
        version: SCRAM_CREDENTIALS_VERSION,
        description: "SCRAM-SHA-256 credentials",
        // scram_sha_256: the account's SASL SCRAM-SHA-256 credentials in RFC 5803's form,
        // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (base64), derived from the
        // password when it is set (accounts::scram). NULL for accounts registered before this
        // version: the password is not known then, so they are derived at the account's next
        // login with its password (or password change), and until then only PLAIN logs in.
        sql: "
            ALTER TABLE accounts ADD COLUMN scram_sha_256 TEXT;
        ",
    },
    Migration {
        version: 7,
        description: "multiline messages keep their lines",
        // text already holds a message's lines joined by LF. concat_at lists, comma-separated,
        // the byte offsets in text where the sender joined two lines without a break (IRCv3
        // draft/multiline-concat), so that a replay shows the lines as sent; empty for every
        // other message, and for all messages stored before this version.
        sql: "
            ALTER TABLE messages ADD COLUMN concat_at TEXT NOT NULL DEFAULT '';
        ",
    },
    Migration {
        version: MESSAGE_AUTHORS_VERSION,
        description: "message authors",
        // author is who sent the message, for deleting it later (IRCv3 message-redaction and
        // text /delete): message::Party::key, "a:<folded account>" for a sender logged in,
        // "c:<32 hex digits>" (its connection) otherwise; for a private message the same as
        // sender_party. Messages stored before this version get their sender's party where it
        // is known (sender_party) or their account (folded to ASCII lower case as
        // names::fold does, which is what SQLite's lower() does); a guest's older room message
        // stays without one. The index answers "this author's newest message in this room".
        sql: "
            ALTER TABLE messages ADD COLUMN author TEXT;
            UPDATE messages SET author = COALESCE(
                sender_party,
                CASE WHEN account IS NOT NULL THEN 'a:' || lower(account) END
            );
            CREATE INDEX messages_by_author ON messages (author, target_key, id)
                WHERE author IS NOT NULL;
        ",
    },
    Migration {
        version: 9,
        description: "read markers",
        // The last read time of each target (a room, or a nick's private conversation) per
        // account (IRCv3 draft/read-marker): account_key is the folded account name,
        // target_key the folded target and target_name its spelling when last set; marker is
        // unix milliseconds and only ever grows. Guests' markers live with their connection
        // and are never stored. The index finds an account's oldest markers, which go first
        // when it has too many (store/read_markers.rs).
        sql: "
            CREATE TABLE read_markers (
                account_key TEXT NOT NULL,
                target_key  TEXT NOT NULL,
                target_name TEXT NOT NULL,
                marker      INTEGER NOT NULL,
                PRIMARY KEY (account_key, target_key)
            ) STRICT;
            CREATE INDEX read_markers_by_age ON read_markers (account_key, marker);
        ",
    },
    Migration {
        version: 10,
        description: "account email addresses",
        // The address given when registering (IRCv3 draft/account-registration, text
        // /register PASSWORD EMAIL), as given; NULL when none was. Never verified (palaver
        // sends no mail): it is for the server's operators, required only when
        // [accounts] require_email is set.
        sql: "ALTER TABLE accounts ADD COLUMN email TEXT;",
    },
    Migration {
        version: 11,
        description: "account client certificates",
        // The SHA-256 fingerprints (lowercase hex) of the client certificates each account
        // logs in with by SASL EXTERNAL (NickServ CERT ADD, text /cert add); account_key is
        // the folded account name. A fingerprint belongs to one account; an account lists at
        // most a few (store/certificates.rs). added is unix milliseconds.
        sql: "
            CREATE TABLE account_certificates (
                fingerprint TEXT PRIMARY KEY,
                account_key TEXT NOT NULL,
                added       INTEGER NOT NULL
            ) STRICT;
            CREATE INDEX account_certificates_by_account ON account_certificates (account_key);
        ",
    },
    Migration {
        version: 12,
        description: "server bans",
        // Operators' server bans (IRC KLINE/DLINE, text /ban): target is the banned address
        // range, nick!user@host mask (folded) or $a:account (folded) as the hub prints it;
        // times are unix milliseconds, expires_at NULL for a ban without end.
        sql: "
            CREATE TABLE server_bans (
                target     TEXT PRIMARY KEY,
                kind       TEXT NOT NULL CHECK (kind IN ('address', 'mask', 'account')),
                reason     TEXT NOT NULL,
                set_by     TEXT NOT NULL,
                set_at     INTEGER NOT NULL,
                expires_at INTEGER
            ) STRICT;
        ",
    },
    Migration {
        version: 13,
        description: "account locks",
        // An administrator's lock (store/accounts.rs, AccountLock): locked_at is unix
        // milliseconds, NULL for an account that is not locked; locked_by names the
        // administration token, locked_reason says why.
        sql: "
            ALTER TABLE accounts ADD COLUMN locked_at INTEGER;
            ALTER TABLE accounts ADD COLUMN locked_by TEXT;
            ALTER TABLE accounts ADD COLUMN locked_reason TEXT;
        ",
    },
];

/// The first schema version with room lifetimes (`history_floors`) and room lists.
pub const ROOM_LIFETIMES_VERSION: u32 = 4;

/// The first schema version with SCRAM-SHA-256 credentials (`accounts.scram_sha_256`); tests
/// build databases of the version before it.
pub const SCRAM_CREDENTIALS_VERSION: u32 = 6;
/// The first schema version that records each message's author.
pub const MESSAGE_AUTHORS_VERSION: u32 = 8;

/// The schema version this build of palaver writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

/// Brings the database up to `target_version`, applying each missing migration in its own
/// transaction together with the `user_version` bump, so a crash leaves the database at one
/// version or the next, never in between. Returns the version reached.
///
/// Refuses a database whose version is newer than this build knows: it was written by a
/// later palaver, and guessing at its schema could lose data.
pub(super) fn migrate(connection: &mut Connection, target_version: u32) -> Result<u32, StoreError> {
    let mut version = schema_version(connection)?;
    if version > latest_version() {
        return Err(StoreError::Database(format!(
            "the database has schema version {version}, newer than this palaver knows ({})",
            latest_version()
        )));
    }
    for migration in MIGRATIONS {
        if migration.version <= version || migration.version > target_version {
            continue;
        }
        apply(connection, migration)?;
        version = migration.version;
    }
    Ok(version)
}

/// The database's schema version: 0 for a new, empty database.
pub(super) fn schema_version(connection: &Connection) -> Result<u32, StoreError> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    u32::try_from(version)
        .map_err(|_| StoreError::Database(format!("invalid schema version {version}")))
}

fn apply(connection: &mut Connection, migration: &Migration) -> Result<(), StoreError> {
    tracing::info!(
        version = migration.version,
        description = migration.description,
        "migrating the database"
    );
    let transaction = connection.transaction()?;
    transaction.execute_batch(migration.sql)?;
    // user_version lives in the database header, which the transaction covers.
    transaction.pragma_update(None, "user_version", migration.version)?;
    transaction.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_run_from_one_without_gaps() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1, "{migration:?}");
        }
        assert_eq!(latest_version() as usize, MIGRATIONS.len());
    }

    #[test]
    fn migrates_step_by_step_and_is_idempotent() {
        let mut connection = Connection::open_in_memory().expect("open");
        assert_eq!(schema_version(&connection).expect("version"), 0);
        for migration in MIGRATIONS {
            assert_eq!(
                migrate(&mut connection, migration.version).expect("migrate"),
                migration.version
            );
        }
        // Running again changes nothing.
        assert_eq!(
            migrate(&mut connection, latest_version()).expect("migrate"),
            latest_version()
        );
    }

    #[test]
    fn the_named_versions_are_the_migrations_that_make_them() {
        let description = |version: u32| MIGRATIONS[version as usize - 1].description;
        assert_eq!(
            description(ROOM_LIFETIMES_VERSION),
            "room lists and room lifetimes"
        );
        assert_eq!(description(MESSAGE_AUTHORS_VERSION), "message authors");
    }

    #[test]
    fn refuses_a_database_from_a_newer_palaver() {
        let mut connection = Connection::open_in_memory().expect("open");
        connection
            .pragma_update(None, "user_version", latest_version() + 1)
            .expect("set version");
        let error = migrate(&mut connection, latest_version()).expect_err("newer schema");
        assert!(error.to_string().contains("newer"), "{error}");
    }
}
