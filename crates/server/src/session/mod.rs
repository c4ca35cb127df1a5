//! Per-protocol session adapters: each translates between one connection's protocol and the
//! protocol-neutral hub. A session never touches the socket; the connection feeds it frames
//! and it queues its replies in the user's outbox.

pub mod irc;
mod nick_guard;
mod reply_queue;
pub mod text;

use std::sync::Arc;

use palaver_proto::framing::Frame;
use tokio::time::Instant;

use crate::hub::User;

/// The quit reason of a session ghosted by another session of its account.
pub(crate) const GHOSTED: &str = "ghosted";

/// `duration` in whole seconds, rounded up, for "within N seconds" messages.
pub(crate) fn whole_seconds(duration: std::time::Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Whether the connection goes on after a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The connection must end; the others are told this reason.
    Quit(String),
}

/// What the connection needs from a protocol session.
///
/// The connection hands over every complete frame it has read with [`handle`](Self::handle),
/// then calls [`flush`](Self::flush) before reading again. Replies are released only at the
/// flush, in command order, once the messages they acknowledge are durable.
pub(crate) trait Session {
    /// Handles one frame from the client; its replies wait for the next flush.
    async fn handle(&mut self, frame: Frame) -> Flow;

    /// Releases the replies of every frame handled since the last flush.
    async fn flush(&mut self);

    /// When the session next wants [`on_deadline`](Self::on_deadline) called (keepalive
    /// pings, registration timeout), if ever.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// Called once the deadline has passed.
    async fn on_deadline(&mut self) -> Flow {
        Flow::Continue
    }

    /// Called when another task raised an alert for the user (see `hub::Alert`): the session
    /// takes the alerts and acts on them.
    async fn on_alert(&mut self) -> Flow {
        Flow::Continue
    }

    /// The hub user, once the client is registered.
    fn user(&self) -> Option<&Arc<User>>;

    /// Last words before the connection closes for `reason` (IRC sends `ERROR`).
    fn farewell(&mut self, _reason: &str) {}
}

/// What to store for `event`, a message `sender` sent; for a private message, `recipient`
/// received it, and each side's party is recorded as it is at this moment (the sender's as
/// the event shows it).
pub(crate) fn message_to_store(
    event: &palaver_proto::event::Event,
    sender: &User,
    recipient: Option<&User>,
) -> Option<crate::store::StoredMessage> {
    let mut message = crate::store::StoredMessage::from_event(event)?;
    if let Some(recipient) = recipient {
        let sender_party = crate::store::Party::of(message.account.as_deref(), sender.connection);
        message.set_parties(sender_party, recipient.party());
    }
    Some(message)
}

/// Saves a registered room's topic and modes after a change; nothing for other rooms. A
/// failure is logged: the change itself stands, only its surviving a restart is at risk.
pub(crate) async fn save_room(
    hub: &crate::hub::Hub,
    store: &crate::store::Store,
    room: &crate::hub::Room,
) {
    if let Some(record) = hub.registered_state(room)
        && let Err(error) = store.save_room(record).await
    {
        tracing::error!(%error, room = %room.name(), "saving a registered room failed");
    }
}
