//! Deleting messages (IRCv3 message-redaction, text `/delete`): finding the message by its
//! id, or a sender's newest one in a room, and forgetting it. Who may delete what is the hub's
//! and the sessions' business; a deleted message is simply gone from every history query.

use palaver_proto::event::MessageId;
use rusqlite::OptionalExtension;

use super::StoreError;
use super::message::{HistoryTarget, Party, StoredMessage};
use super::sqlite::{Database, MESSAGE_COLUMNS, bound_integer, decode_message};

impl Database {
    /// The message with id `id`, if it is stored.
    pub(super) fn message(&self, id: MessageId) -> Result<Option<StoredMessage>, StoreError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1");
        let mut select = self.connection.prepare_cached(&sql)?;
        let row = select
            .query_row([bound_integer(id.0)], |row| Ok(decode_message(row)))
            .optional()?;
        row.transpose()
    }

    /// The newest message any of `authors` sent to `room` from message id `since` on (the
    /// room's current lifetime), by the author index.
    pub(super) fn newest_by(
        &self,
        room: &str,
        since: MessageId,
        authors: &[Party],
    ) -> Result<Option<StoredMessage>, StoreError> {
        let key = HistoryTarget::Room(room.to_owned()).key();
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE author = ?1 AND target_key = ?2 AND id >= ?3
             ORDER BY id DESC LIMIT 1"
        );
        let mut select = self.connection.prepare_cached(&sql)?;
        let mut newest: Option<StoredMessage> = None;
        for author in authors {
            let row = select
                .query_row(
                    rusqlite::params![author.key(), key, bound_integer(since.0)],
                    |row| Ok(decode_message(row)),
                )
                .optional()?
                .transpose()?;
            if let Some(found) = row
                && newest.as_ref().is_none_or(|newest| found.id > newest.id)
            {
                newest = Some(found);
            }
        }
        Ok(newest)
    }

    /// Forgets the message with id `id`. Returns whether there was one.
    pub(super) fn delete_message(&mut self, id: MessageId) -> Result<bool, StoreError> {
        let deleted = self
            .connection
            .prepare_cached("DELETE FROM messages WHERE id = ?1")?
            .execute([bound_integer(id.0)])?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use palaver_proto::event::MessageId;
    use palaver_proto::time::Timestamp;

    on_both_backends!(
        a_deleted_message_is_gone_from_every_history,
        newest_by_finds_an_authors_newest_message_in_a_rooms_lifetime
    );

    use crate::store::migrations::MESSAGE_AUTHORS_VERSION;
    use crate::store::tests::{TestBackend, append_all, config_at, ids, open, room_message};
    use crate::store::{ConnectionId, HistoryQuery, Party, Store, StoreConfig, StoredMessage};

    fn by(author: &Party, id: u64, room: &str) -> StoredMessage {
        StoredMessage {
            author: Some(author.clone()),
            ..room_message(id, id * 10, room, &format!("message {id}"))
        }
    }

    /// Deletes message `id` and waits until that is durable.
    async fn delete(store: &Store, id: u64) {
        let commit = store.delete_message(MessageId(id)).await.expect("queue");
        commit.await.expect("durable");
    }

    async fn a_deleted_message_is_gone_from_every_history(backend: TestBackend) {
        let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
        let alice = Party::Account("alice".into());
        let guest = Party::Connection(ConnectionId(7));
        let messages = [
            by(&alice, 1, "#a"),
            by(&guest, 2, "#a"),
            by(&alice, 3, "#b"),
        ];
        append_all(&store, messages).await;
        let found = store.message(MessageId(2)).await.expect("find");
        assert_eq!(found, Some(by(&guest, 2, "#a")));
        delete(&store, 2).await;
        assert_eq!(store.message(MessageId(2)).await.expect("find"), None);
        let history = store
            .latest(HistoryQuery::room("#a", MessageId(0)), 10)
            .await
            .expect("latest");
        assert_eq!(ids(&history), [1]);
        // Deleting what is gone changes nothing.
        delete(&store, 2).await;
        assert_eq!(store.count().await.expect("count"), 2);
    }

    async fn newest_by_finds_an_authors_newest_message_in_a_rooms_lifetime(backend: TestBackend) {
        let (store, _guard) = backend.open(StoreConfig::new(":memory:")).await;
        let alice = Party::Account("alice".into());
        let connection = Party::Connection(ConnectionId(9));
        let bob = Party::Account("bob".into());
        let messages = [
            by(&alice, 1, "#a"),
            by(&connection, 2, "#A"),
            by(&bob, 3, "#a"),
            by(&alice, 4, "#b"),
        ];
        append_all(&store, messages).await;
        let newest = |authors: Vec<Party>, since: u64| {
            let store = store.clone();
            async move {
                store
                    .newest_by("#a", MessageId(since), authors)
                    .await
                    .expect("query")
                    .map(|message| message.id.0)
            }
        };
        assert_eq!(newest(vec![alice.clone()], 0).await, Some(1));
        // Reading as an account and a connection, the newer of the two.
        let both = vec![alice.clone(), connection.clone()];
        assert_eq!(newest(both, 0).await, Some(2));
        assert_eq!(newest(vec![alice.clone()], 2).await, None);
        assert_eq!(newest(vec![Party::Account("carol".into())], 0).await, None);
    }

    #[tokio::test]
    async fn messages_stored_before_authors_get_them_from_their_parties_or_accounts() {
        let directory = tempfile::tempdir().expect("temp dir");
        // As the version before authors left it (line joins already recorded).
        let before = MESSAGE_AUTHORS_VERSION - 1;
        let older = Store::open_at_version(config_at(&directory), before).expect("open older");
        older.store.shut_down().await.expect("shut down");
        let path = directory.path().join("history.db");
        let connection = rusqlite::Connection::open(&path).expect("open");
        connection
            .execute_batch(
                "INSERT INTO messages (id, time, target_key, target_name, sender_name,
                     sender_key, recipient_key, from_nick, from_user, from_host, from_realname,
                     account, kind, text, client_tags, sender_party, recipient_party,
                     sender_view, recipient_view, concat_at)
                 VALUES
                     (1, 10, '#a', '#a', NULL, NULL, NULL, 'Alice', 'u', 'h', '', 'Alice',
                      'say', 'logged in', '', NULL, NULL, NULL, NULL, ''),
                     (2, 20, '#a', '#a', NULL, NULL, NULL, 'guest-1', 'u', 'h', '', NULL,
                      'say', 'a guest', '', NULL, NULL, NULL, NULL, ''),
                     (3, 30, 'bob guest-2', 'bob', 'guest-2', 'guest-2', 'bob', 'guest-2',
                      'u', 'h', '', NULL, 'say', 'private', '',
                      'c:000000000000000000000000000000ff', 'a:bob',
                      'c:000000000000000000000000000000ff bob', 'a:bob guest-2', '1');",
            )
            .expect("insert as the older version");
        drop(connection);
        let store = open(config_at(&directory));
        let author = |id| {
            let store = store.clone();
            async move {
                let message = store.message(MessageId(id)).await.expect("find");
                message.expect("kept").author
            }
        };
        assert_eq!(author(1).await, Some(Party::Account("alice".into())));
        assert_eq!(author(2).await, None);
        assert_eq!(author(3).await, Some(Party::Connection(ConnectionId(0xff))));
        let private = store.message(MessageId(3)).await.expect("find");
        assert_eq!(private.expect("kept").concat_at, [1]);
        assert_eq!(
            store
                .newest_by("#a", MessageId(0), vec![Party::Account("alice".into())])
                .await
                .expect("query")
                .map(|message| message.time),
            Some(Timestamp(10))
        );
    }
}
