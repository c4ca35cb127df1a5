//! Deleting a message, the same in both protocols (IRC `REDACT`, text `/delete`): the store
//! finds the message, the hub decides whether the user may delete it and tells those who saw
//! it, and the store forgets it. The deleter's own copy of the deletion is its receipt: like a
//! message's, it waits until the deletion is durable (the returned [`Commit`]).

use std::sync::Arc;

use palaver_proto::event::{Event, MessageId};
use palaver_proto::names::fold;

use crate::hub::{Deletion, HubError, Room, User};
use crate::network::Network;
use crate::store::{Commit, HistoryTarget, Party, Store, StoreError, StoredMessage};

/// Where the message to delete was said, as the deleter names it.
#[derive(Debug, Clone)]
pub(crate) enum Place {
    /// A room the deleter is in.
    Room(Arc<Room>),
    /// The deleter's private conversation with whoever used the nick `peer` at the time.
    Private { peer: String },
}

/// Why a message was not deleted.
#[derive(Debug)]
pub(crate) enum RedactError {
    /// No such message where the deleter named it, or none it may see: one answer for both,
    /// so that a guessed id tells nothing about others' messages.
    UnknownMessage,
    /// The hub refused (not the deleter's message, not an operator, no longer in the room).
    Refused(HubError),
    Store(StoreError),
}

/// The deletion done: the deleter's copy, and the commit it waits for.
pub(crate) struct Redacted {
    pub event: Event,
    pub commit: Commit,
}

/// Deletes message `id` said in `place`, if `user` may.
pub(crate) async fn redact(
    network: &Network,
    store: &Store,
    user: &Arc<User>,
    place: &Place,
    id: MessageId,
    reason: Option<&str>,
) -> Result<Redacted, RedactError> {
    let found = store.message(id).await.map_err(RedactError::Store)?;
    let message = found.ok_or(RedactError::UnknownMessage)?;
    redact_found(network, store, user, place, &message, reason).await
}

/// Deletes `message`, found by the store, said in `place`, if `user` may.
pub(crate) async fn redact_found(
    network: &Network,
    store: &Store,
    user: &Arc<User>,
    place: &Place,
    message: &StoredMessage,
    reason: Option<&str>,
) -> Result<Redacted, RedactError> {
    let readers = user.reader_parties();
    let deletion = Deletion {
        message: message.id,
        author: &message.from.nick,
        sent: message.time,
        own: message.is_by(&readers),
        reason,
    };
    let event = match (place, &message.target) {
        // Only from the room's current lifetime: an earlier one's history is nobody's.
        (Place::Room(room), HistoryTarget::Room(name))
            if fold(name) == room.key() && message.id >= room.history_floor() =>
        {
            network.redact_in_room(user, room, deletion).await
        }
        (Place::Private { peer }, HistoryTarget::Private { sender, recipient }) => {
            let mine = |party: &Option<Party>| party.as_ref().is_some_and(|p| readers.contains(p));
            let other = if mine(&sender.party) && fold(&recipient.nick) == fold(peer) {
                recipient.party.as_ref()
            } else if mine(&recipient.party) && fold(&sender.nick) == fold(peer) {
                sender.party.as_ref()
            } else {
                None
            };
            let other = other.ok_or(RedactError::UnknownMessage)?;
            network.redact_private(user, peer, other, deletion).await
        }
        _ => return Err(RedactError::UnknownMessage),
    }
    .map_err(RedactError::Refused)?;
    let commit = store
        .delete_message(message.id)
        .await
        .map_err(RedactError::Store)?;
    Ok(Redacted { event, commit })
}
