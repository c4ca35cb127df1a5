//! A connection's bounded outgoing queue and the task that drains it into the socket.
//!
//! Fan-out never touches a socket: it pushes shared [`Bytes`] into the recipient's [`Outbox`]
//! (a short, uncontended lock and a wake-up) and moves on. Each connection's writer task takes
//! everything queued at once and hands it to the kernel in one vectored write, so a busy
//! connection pays one system call for many lines (our own coalescing on top of
//! `TCP_NODELAY`). A client that stops reading lets its outbox fill; when a push would exceed
//! the limit the outbox gives up on it (the slow-consumer policy in `docs/PROTOCOL.md`): the
//! queue is dropped, the client is told why if its socket has room, and the connection ends.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::Mutex;

use bytes::{Buf, Bytes};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

/// Why an outbox stopped accepting bytes, which is why its connection ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// The session finished; queued bytes are still flushed.
    Finished,
    /// A push would have exceeded the limit; queued bytes were dropped.
    Overflowed,
    /// Writing to the socket failed (the peer reset or vanished).
    WriteFailed(String),
}

/// The message a slow consumer gets, if its socket has room for it, before it is dropped.
const OVERFLOW_NOTICE: &[u8] = b"! disconnected: too slow (send queue full)\n";

/// How many queued chunks one vectored write hands to the kernel at most.
const MAX_SLICES_PER_WRITE: usize = 64;

/// The outgoing queue of one connection. Shared (`Arc`) by the hub, which pushes, the session,
/// which pushes its replies, and the writer task, which drains it.
#[derive(Debug)]
pub struct Outbox {
    state: Mutex<State>,
    /// Wakes the writer after a push into an empty queue or on close. `Notify` keeps a permit
    /// when the writer is busy, so no wake-up is lost.
    wake_writer: Notify,
    /// Cancelled when the outbox closes for any reason; the session's read loop watches it so
    /// a dropped slow consumer stops being read at once.
    closed_signal: CancellationToken,
    /// Most bytes that may wait to be written, counting bytes the writer has taken but the
    /// kernel has not yet accepted.
    limit: usize,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Bytes>,
    /// While the session handles a command, bytes pushed by others wait here, so the
    /// command's own replies (which the session hands over at the end, in
    /// [`Outbox::release`]) come first: a client sees its own JOIN before the channel's
    /// traffic, and a labeled response is never split by unrelated lines.
    held: Option<VecDeque<Bytes>>,
    /// Bytes pushed and not yet written to the socket: everything in `queue` plus the writer's
    /// unfinished batch. Compared against `limit` on every push.
    pending_bytes: usize,
    closed: Option<Closed>,
}

/// What the writer should do next.
enum Next {
    Write,
    Flushed,
    Overflowed,
    Stop,
}

impl Outbox {
    pub fn new(limit: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake_writer: Notify::new(),
            closed_signal: CancellationToken::new(),
            limit,
        }
    }

    /// Queues `bytes` for sending. Never blocks on the socket. Bytes pushed after the outbox
    /// closed are ignored: their connection is ending and nobody is left to read them. A push
    /// that would exceed the limit closes the outbox as [`Closed::Overflowed`] instead.
    pub fn push(&self, bytes: Bytes) {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.closed.is_some() {
            return;
        }
        if let Some(held) = &mut state.held {
            if state.pending_bytes + bytes.len() > self.limit {
                drop(guard);
                return self.overflow();
            }
            state.pending_bytes += bytes.len();
            held.push_back(bytes);
            return;
        }
        let mut state = guard;
        let was_empty = state.queue.is_empty();
        if self.enqueue(&mut state, bytes).is_err() {
            drop(state);
            return self.overflow();
        }
        drop(state);
        if was_empty {
            self.wake_writer.notify_one();
        }
    }

    /// Appends `bytes` to the queue, counting it against the limit.
    fn enqueue(&self, state: &mut State, bytes: Bytes) -> Result<(), ()> {
        if state.pending_bytes + bytes.len() > self.limit {
            return Err(());
        }
        state.pending_bytes += bytes.len();
        state.queue.push_back(bytes);
        Ok(())
    }

    /// Gives up on a consumer that cannot keep up: drops what is queued and closes.
    fn overflow(&self) {
        let mut state = self.lock();
        state.queue = VecDeque::new();
        state.held = None;
        drop(state);
        self.close_with(Closed::Overflowed);
    }

    /// Starts holding back bytes pushed by others until [`release`](Self::release). Called by
    /// the session before it handles a command.
    pub fn hold(&self) {
        let mut state = self.lock();
        if state.held.is_none() {
            state.held = Some(VecDeque::new());
        }
    }

    /// Counts `bytes` of replies a session is producing against the limit before they exist
    /// in full, so that no command — and no burst of commands read at once — can make the
    /// server hold more for one client than the limit allows. Returns `false`, and closes the
    /// outbox as [`Closed::Overflowed`] (the slow-consumer policy), when they do not fit; the
    /// session then drops the replies. Always `false` once closed.
    ///
    /// The reservation is given back by [`release`](Self::release), which counts the replies
    /// actually queued instead.
    pub fn reserve(&self, bytes: usize) -> bool {
        let mut state = self.lock();
        if state.closed.is_some() {
            return false;
        }
        if state.pending_bytes + bytes > self.limit {
            drop(state);
            self.overflow();
            return false;
        }
        state.pending_bytes += bytes;
        true
    }

    /// The most bytes that may wait for this connection (`send_queue_bytes`).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether the outbox has closed for any reason.
    pub fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }

    /// Queues the session's `replies`, then everything held back since [`hold`](Self::hold),
    /// and stops holding — all under one lock, so nothing pushed meanwhile can get between.
    /// `reserved` bytes earlier counted by [`reserve`](Self::reserve) are given back and the
    /// replies are counted against the limit like any push.
    pub fn release(&self, replies: impl IntoIterator<Item = Bytes>, reserved: usize) {
        let mut state = self.lock();
        let held = state.held.take();
        if state.closed.is_some() {
            return;
        }
        state.pending_bytes = state.pending_bytes.saturating_sub(reserved);
        let was_empty = state.queue.is_empty();
        for reply in replies {
            if self.enqueue(&mut state, reply).is_err() {
                drop(state);
                return self.overflow();
            }
        }
        // Held bytes were counted when pushed.
        state.queue.extend(held.into_iter().flatten());
        let has_data = !state.queue.is_empty();
        drop(state);
        if was_empty && has_data {
            self.wake_writer.notify_one();
        }
    }

    /// Stops accepting bytes; the writer flushes what is queued and then closes the socket.
    /// Has no effect if the outbox is already closed.
    pub fn finish(&self) {
        self.close_with(Closed::Finished);
    }

    /// Why the outbox closed, or `None` while it is open.
    pub fn closed_reason(&self) -> Option<Closed> {
        self.lock().closed.clone()
    }

    /// Completes once the outbox has closed for any reason.
    pub fn closed(&self) -> WaitForCancellationFuture<'_> {
        self.closed_signal.cancelled()
    }

    fn close_with(&self, reason: Closed) {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.closed = Some(reason);
            drop(state);
            self.closed_signal.cancel();
            self.wake_writer.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        crate::lock(&self.state)
    }

    /// Waits for work and moves everything queued into `batch` (which the writer reuses, so
    /// the two buffers swap instead of reallocating).
    async fn next(&self, batch: &mut VecDeque<Bytes>) -> Next {
        loop {
            {
                let mut state = self.lock();
                match (&state.closed, state.queue.is_empty()) {
                    (Some(Closed::Overflowed), _) => return Next::Overflowed,
                    (Some(Closed::WriteFailed(_)), _) => return Next::Stop,
                    (_, false) => {
                        std::mem::swap(&mut state.queue, batch);
                        return Next::Write;
                    }
                    (Some(Closed::Finished), true) => return Next::Flushed,
                    (None, true) => {}
                }
            }
            self.wake_writer.notified().await;
        }
    }

    fn written(&self, count: usize) {
        let mut state = self.lock();
        state.pending_bytes = state.pending_bytes.saturating_sub(count);
    }
}

/// Drains `outbox` into `socket` until the outbox closes. Runs as its own task per connection.
pub async fn run_writer(outbox: std::sync::Arc<Outbox>, mut socket: OwnedWriteHalf) {
    let mut batch = VecDeque::new();
    loop {
        match outbox.next(&mut batch).await {
            Next::Write => {
                if let Err(error) = write_batch(&outbox, &mut socket, &mut batch).await {
                    outbox.close_with(Closed::WriteFailed(describe_write_error(&error)));
                    return;
                }
            }
            Next::Flushed => {
                // Send FIN after the last byte; errors are moot, the connection is over.
                let _ = socket.shutdown().await;
                return;
            }
            Next::Overflowed => {
                // Best effort only: the client is not reading, so never wait for room.
                let _ = socket.try_write(OVERFLOW_NOTICE);
                return;
            }
            Next::Stop => return,
        }
    }
}

/// Writes every chunk of `batch`, many per system call, leaving `batch` empty.
async fn write_batch(
    outbox: &Outbox,
    socket: &mut OwnedWriteHalf,
    batch: &mut VecDeque<Bytes>,
) -> io::Result<()> {
    while !batch.is_empty() {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES_PER_WRITE];
        let mut count = 0;
        for (slot, chunk) in slices.iter_mut().zip(batch.iter()) {
            *slot = IoSlice::new(chunk);
            count += 1;
        }
        let mut written = socket.write_vectored(&slices[..count]).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        outbox.written(written);
        while written > 0 {
            let Some(front) = batch.front_mut() else {
                break;
            };
            if written >= front.len() {
                written -= front.len();
                batch.pop_front();
            } else {
                front.advance(written);
                written = 0;
            }
        }
    }
    Ok(())
}

fn describe_write_error(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => "connection reset".into(),
        _ => format!("write error: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_closes_and_drops_the_queue() {
        let outbox = Outbox::new(10);
        outbox.push(Bytes::from_static(b"12345"));
        outbox.push(Bytes::from_static(b"12345"));
        assert_eq!(outbox.closed_reason(), None);
        outbox.push(Bytes::from_static(b"x"));
        assert_eq!(outbox.closed_reason(), Some(Closed::Overflowed));
        assert!(outbox.lock().queue.is_empty());
        // Later pushes are ignored rather than queued.
        outbox.push(Bytes::from_static(b"y"));
        assert!(outbox.lock().queue.is_empty());
        // The first reason sticks.
        outbox.finish();
        assert_eq!(outbox.closed_reason(), Some(Closed::Overflowed));
    }

    #[test]
    fn replies_overtake_what_others_pushed_while_holding() {
        let outbox = Outbox::new(100);
        outbox.push(Bytes::from_static(b"before "));
        outbox.hold();
        outbox.push(Bytes::from_static(b"other "));
        outbox.release([Bytes::from_static(b"reply ")], 0);
        outbox.push(Bytes::from_static(b"after"));
        let queued: Vec<Bytes> = outbox.lock().queue.iter().cloned().collect();
        assert_eq!(queued.concat(), b"before reply other after");
        assert_eq!(outbox.lock().pending_bytes, 24);
    }

    #[test]
    fn reservations_count_until_released() {
        let outbox = Outbox::new(10);
        outbox.hold();
        assert!(outbox.reserve(6));
        outbox.push(Bytes::from_static(b"1234"));
        assert_eq!(outbox.closed_reason(), None);
        // Reserved plus held bytes are at the limit: one more byte does not fit.
        assert!(!outbox.reserve(1));
        assert_eq!(outbox.closed_reason(), Some(Closed::Overflowed));
        assert!(!outbox.reserve(0), "nothing is reserved once closed");
    }

    #[test]
    fn release_exchanges_the_reservation_for_the_replies() {
        let outbox = Outbox::new(10);
        outbox.hold();
        assert!(outbox.reserve(6));
        outbox.release([Bytes::from_static(b"123456")], 6);
        assert_eq!(outbox.lock().pending_bytes, 6);
        assert!(outbox.reserve(4));
        assert_eq!(outbox.closed_reason(), None);
    }

    #[test]
    fn written_bytes_free_room() {
        let outbox = Outbox::new(10);
        outbox.push(Bytes::from_static(b"1234567890"));
        outbox.written(10);
        outbox.push(Bytes::from_static(b"1234567890"));
        assert_eq!(outbox.closed_reason(), None);
    }
}
