//! Per-protocol session adapters: each translates between one connection's protocol and the
//! protocol-neutral hub. A session never touches the byte stream; the connection feeds it
//! frames and it queues its replies in the connection's outbox.

mod certificates;
mod context;
pub mod irc;
mod nick_guard;
pub(crate) mod redaction;
mod reply_queue;
pub(crate) mod server_bans;
pub mod text;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use palaver_proto::framing::Frame;
use tokio::time::Instant;

pub(crate) use context::{Context, SharedContext};
pub use context::{StsPolicy, TlsOffer};

use crate::hub::{EndedRoom, Protocol, User};
use crate::outbox::Outbox;

/// The quit reason of a session ghosted by another session of its account.
pub(crate) const GHOSTED: &str = "ghosted";

/// `duration` in whole seconds, rounded up, for "within N seconds" messages.
pub(crate) fn whole_seconds(duration: std::time::Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Who is at the other end of a connection, as the connection knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub address: SocketAddr,
    /// Whether the connection runs over TLS.
    pub tls: bool,
    /// The SHA-256 fingerprint (lowercase hex) of the certificate the client presented in
    /// its TLS handshake, if it presented one: what SASL EXTERNAL logs in with.
    pub certificate_fingerprint: Option<String>,
}

/// A peer on a plain connection.
impl From<SocketAddr> for Peer {
    fn from(address: SocketAddr) -> Self {
        Self {
            address,
            tls: false,
            certificate_fingerprint: None,
        }
    }
}

/// Whether the connection goes on after a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The connection must end; the others are told this reason.
    Quit(String),
    /// The connection must end because this server lost its link to the rest of the network
    /// (cluster mode): the others are told [`LINK_LOST`](crate::hub::LINK_LOST), and the
    /// metrics count it apart.
    LinkLost,
}

/// What the connection needs from a protocol session.
///
/// Every session is built the same way, by [`start`](Self::start), and declares what the
/// connection must know about its protocol: how long a line may be and what a departing client
/// is told. The connection then hands over every complete frame it has read with
/// [`handle`](Self::handle), and calls [`flush`](Self::flush) before reading again. Replies are
/// released only at the flush, in command order, once the messages they acknowledge are
/// durable.
pub(crate) trait Session: Sized {
    /// How the hub renders events for this session's user.
    const PROTOCOL: Protocol;

    /// A session for a new connection from `peer`, shown to others as `host`, whose output goes
    /// to `outbox`. What the client gets before it says anything (a greeting) is queued here.
    /// Refused (the error holds the client's last words) when the session cannot begin: a text
    /// user's guest nick comes from the cluster, which may not answer.
    async fn start(
        context: &Arc<Context>,
        peer: Peer,
        host: String,
        outbox: Arc<Outbox>,
    ) -> Result<Self, Bytes>;

    /// The longest line the connection frames for this session, without its line ending;
    /// anything longer arrives as [`Frame::TooLong`].
    fn max_line_bytes(&self) -> usize;

    /// How long the client may stay quiet in the middle of a line before the connection
    /// hands the partial line over as complete, if the protocol wants that at all.
    fn idle_flush(&self) -> Option<std::time::Duration> {
        None
    }

    /// What handling `frame` costs the client's flood budget (see `flood.rs`): 1 for most
    /// lines, more for commands that walk much of the server's state or the store.
    fn cost(&self, _frame: &Frame) -> u32 {
        1
    }

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

    /// Last words before the connection closes for `reason` (IRC: `ERROR`), if the protocol
    /// has any; queued behind everything else and flushed like it.
    fn farewell(&self, _reason: &str) -> Option<Bytes> {
        None
    }

    /// The one line a client the server refuses to serve (`admission.rs`) is told, before
    /// any session starts.
    fn refusal(peer: SocketAddr, reason: &str) -> Bytes;

    /// What a client disconnected by flood control is told, queued like the
    /// [`farewell`](Self::farewell).
    fn flood_farewell(&self) -> Bytes;

    /// What a client dropped because its send queue is full is told (the slow-consumer policy
    /// in `docs/PROTOCOL.md`). Its queued output is gone and it is not reading, so this is
    /// written only if the byte stream takes it at once.
    fn overflow_farewell(&self) -> Bytes;
}

/// Which end of a page of history to keep when it is too big to send whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    Newest,
    Oldest,
}

/// The most bytes one history reply may take: half the client's send queue. Replies count
/// against the queue as they are made and a client whose queue overflows is dropped, so a
/// page of long messages is cut short instead; the client can ask for the rest.
pub(crate) fn history_budget(outbox: &crate::outbox::Outbox) -> usize {
    outbox.limit() / 2
}

/// The range of a page of history, given each message's size oldest first, that fits in
/// `budget` bytes counting from the `keep` end (always whole messages).
pub(crate) fn fitting(sizes: &[usize], budget: usize, keep: Keep) -> std::ops::Range<usize> {
    let mut total = 0;
    let fits = |size: &&usize| {
        total += **size;
        total <= budget
    };
    match keep {
        Keep::Newest => sizes.len() - sizes.iter().rev().take_while(fits).count()..sizes.len(),
        Keep::Oldest => 0..sizes.iter().take_while(fits).count(),
    }
}

/// Saves a registered room's topic, modes and bans after a change; nothing for other rooms. A
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

/// Tells the store that these rooms' lifetimes ended, so it deletes their history; done before
/// the replies of the command that ended them go out. A failure is logged: the hub already
/// hides that history from whoever creates the room next, but it stays on disk, and would come
/// back with the room after a restart.
pub(crate) async fn forget_ended_rooms(store: &crate::store::Store, ended: Vec<EndedRoom>) {
    for room in ended {
        if let Err(error) = store.end_room_lifetime(&room.name, room.history_end).await {
            tracing::error!(%error, room = %room.name, "forgetting an ended room's history failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_keeps_whole_messages_from_the_chosen_end() {
        let sizes = [5, 4, 3, 2];
        assert_eq!(fitting(&sizes, 100, Keep::Newest), 0..4);
        assert_eq!(fitting(&sizes, 100, Keep::Oldest), 0..4);
        assert_eq!(fitting(&sizes, 6, Keep::Newest), 2..4);
        assert_eq!(fitting(&sizes, 6, Keep::Oldest), 0..1);
        assert_eq!(fitting(&sizes, 1, Keep::Newest), 4..4);
        assert_eq!(fitting(&sizes, 1, Keep::Oldest), 0..0);
        assert_eq!(fitting(&[], 10, Keep::Newest), 0..0);
    }
}
