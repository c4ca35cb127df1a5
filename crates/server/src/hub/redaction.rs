//! Deleting messages (IRCv3 message-redaction, text `/delete`): who may, and telling those
//! who saw the message. The store finds the message and forgets it; the hub only decides and
//! tells.

use std::sync::Arc;

use palaver_proto::event::{Event, MessageId, Target};
use palaver_proto::time::Timestamp;

use super::delivery::{Audience, deliver};
use super::error::HubError;
use super::room::{Room, RoomState};
use super::user::{Interest, User};
use super::{Hub, REASON_MAX_BYTES};
use crate::store::Party;

/// A message someone asked to delete, as the store found it.
#[derive(Debug, Clone, Copy)]
pub struct Deletion<'a> {
    pub message: MessageId,
    /// Its sender's nick when it was sent.
    pub author: &'a str,
    pub sent: Timestamp,
    /// Whether the user deleting it sent it.
    pub own: bool,
    pub reason: Option<&'a str>,
}

impl Hub {
    /// Deletes a message of `room`, if `user` may (see `RoomState::may_delete`): the members
    /// who want to hear of deletions are told (under the room's lock, in the room's order);
    /// returns the user's own copy.
    pub fn redact_in_room(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        deletion: Deletion<'_>,
    ) -> Result<Event, HubError> {
        let state = room.state();
        may_delete(&state, user, room, deletion.own)?;
        let event = self.deletion_event(user, Target::Room(room.name().clone()), deletion);
        deliver(
            state.users(),
            &event,
            Audience::interested_except(Interest::Redactions, user),
        );
        Ok(event)
    }

    /// Whether `user` may delete a message of `room`, by the rules
    /// [`redact_in_room`](Self::redact_in_room) applies, changing nothing; the deletion's
    /// event as it would be (its id and time are the cluster's to give).
    pub fn decide_deletion(
        &self,
        user: &User,
        room: &Room,
        deletion: Deletion<'_>,
    ) -> Result<Event, HubError> {
        may_delete(&room.state(), user, room, deletion.own)?;
        Ok(self.deletion_event(user, Target::Room(room.name().clone()), deletion))
    }

    /// Deletes a private message `user` sent to whoever used the nick `peer` as `recipient`:
    /// only one's own (`deletion.own`). The user now called `peer` is told only if it is that
    /// recipient still (its account or connection), and wants to hear of deletions. Returns
    /// the user's own copy.
    pub fn redact_private(
        &self,
        user: &Arc<User>,
        peer: &str,
        recipient: &Party,
        deletion: Deletion<'_>,
    ) -> Result<Event, HubError> {
        if !deletion.own {
            return Err(HubError::NotYourMessage);
        }
        let event = self.deletion_event(user, Target::User(peer.into()), deletion);
        if let Some(holder) = self.user_by_nick(peer)
            && holder.reader_parties().contains(recipient)
        {
            deliver(
                [&holder],
                &event,
                Audience::interested_except(Interest::Redactions, user),
            );
        }
        Ok(event)
    }

    /// Tells `recipient`, a user of this node, that the sender of a private message it
    /// received deleted it, if it wants to hear of deletions: `event` is the deletion as the
    /// sender's node made it ([`Self::redact_private`]), which checked that `recipient` is
    /// the party the message went to.
    pub fn deliver_private_deletion(&self, recipient: &Arc<User>, event: &Event) {
        deliver(
            [recipient],
            event,
            Audience::interested(Interest::Redactions),
        );
    }

    fn deletion_event(&self, user: &User, target: Target, deletion: Deletion<'_>) -> Event {
        Event::Redacted {
            id: self.next_message_id(),
            time: Timestamp::now(),
            by: user.identity(),
            target,
            message: deletion.message,
            author: deletion.author.into(),
            sent: deletion.sent,
            reason: deletion
                .reason
                .filter(|reason| !reason.is_empty())
                .map(|reason| palaver_proto::utf8::truncate(reason, REASON_MAX_BYTES).into()),
        }
    }
}

/// Whether `user` may delete a message of `room` (whose lock `state` is) now: the room is
/// still open, and its rules let the user (`own`: a message it sent).
fn may_delete(state: &RoomState, user: &User, room: &Room, own: bool) -> Result<(), HubError> {
    if state.closed {
        return Err(HubError::NoSuchRoom(room.name().to_string()));
    }
    state.may_delete(user, room.name(), own)
}
