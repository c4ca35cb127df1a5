//! A connection's bounded outgoing queue and the writer that drains it into the byte stream.
//!
//! Fan-out never touches a socket: it pushes shared [`Bytes`] into the recipient's [`Outbox`]
//! (a short, uncontended lock and a wake-up) and moves on. Each connection's writer takes
//! everything queued at once and hands it to the stream in one vectored write (one gathered
//! write for a stream without vectored writes), so a busy connection pays one system call for
//! many lines (our own coalescing on top of `TCP_NODELAY`).
//!
//! A write costs the kernel about the same whether it carries one line or twenty, so a busy
//! connection writes at most once per *coalescing interval* (`[limits] write_coalescing`):
//! traffic that arrives within the interval after a write waits for its end and goes out in
//! one write with everything else that arrived meanwhile. A connection that has been quiet for the interval writes at once, and so do the
//! replies to the client's own commands, which are [urgent](Outbox::release): only other
//! people's traffic to a busy connection ever waits, and never longer than the interval.
//!
//! A client that stops reading lets
//! its outbox fill; when a push would exceed the limit the outbox gives up on it (the
//! slow-consumer policy in `docs/PROTOCOL.md`): the queue is dropped, the writer hands the
//! stream back untouched ([`WriterEnd::Overflowed`]) so that the connection can tell the client
//! why in its protocol's words if the stream has room ([`last_words`]), and the connection
//! ends. The outbox itself knows no protocol.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

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

/// How many queued chunks one vectored write hands to the kernel at most.
const MAX_SLICES_PER_WRITE: usize = 64;

/// How many bytes of queued chunks are copied into one write for a stream without vectored
/// writes.
const MAX_GATHERED_BYTES: usize = 64 * 1024;

/// The outgoing queue of one connection. Shared (`Arc`) by the hub, which pushes, the session,
/// which pushes its replies, and the writer, which drains it.
#[derive(Debug)]
pub struct Outbox {
    state: Mutex<State>,
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
    /// The queue holds replies to the client's own commands: the writer does not wait for its
    /// coalescing interval to end.
    urgent: bool,
    /// How many chunks the writer took last time: room for as many is made at once when a
    /// push finds the queue without a buffer, instead of growing it step by step (a busy
    /// connection's queue is given back and allocated afresh between writes).
    last_batch: u32,
    /// The writer, when it waits for something to write (or for the close), to be woken by a
    /// push into the empty queue, urgent replies, or the close. Kept under the same lock as
    /// the queue it waits for, so a push never misses it and waking it costs no lock of its
    /// own; the writer looks at the queue again whenever it is woken.
    writer: Option<Waker>,
    /// The connection's read loop, when it waits for input, to be woken by the close (so a
    /// dropped slow consumer stops being read at once) or an alert.
    reader: Option<Waker>,
    /// Another task raised an alert for this connection's user that the read loop has not yet
    /// looked at (the alerts themselves are in the hub's `User`).
    alerted: bool,
    /// The server is shutting down (`open_connections.rs`).
    shutting_down: bool,
    closed: Option<Closed>,
}

/// Why a read loop's [`Outbox::attention`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attention {
    /// The server is shutting down: the connection leaves quietly (the notice was queued).
    ShutDown,
    /// The outbox closed: the connection ends ([`Outbox::closed_reason`] says why).
    Closed,
    /// An alert was raised for the connection's user.
    Alerted,
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
            limit,
        }
    }

    /// Queues `bytes` for sending. Never blocks on the socket. Bytes pushed after the outbox
    /// closed are ignored: their connection is ending and nobody is left to read them. A push
    /// that would exceed the limit closes the outbox as [`Closed::Overflowed`] instead.
    /// Returns whether the bytes were queued (fan-out counts the copies it could not queue).
    pub fn push(&self, bytes: Bytes) -> bool {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.closed.is_some() {
            return false;
        }
        if let Some(held) = &mut state.held {
            if state.pending_bytes + bytes.len() > self.limit {
                drop(guard);
                self.overflow();
                return false;
            }
            state.pending_bytes += bytes.len();
            held.push_back(bytes);
            return true;
        }
        let mut state = guard;
        let was_empty = state.queue.is_empty();
        if self.enqueue(&mut state, bytes).is_err() {
            drop(state);
            self.overflow();
            return false;
        }
        let writer = if was_empty { state.writer.take() } else { None };
        drop(state);
        wake(writer);
        true
    }

    /// Appends `bytes` to the queue, counting it against the limit.
    fn enqueue(&self, state: &mut State, bytes: Bytes) -> Result<(), ()> {
        if state.pending_bytes + bytes.len() > self.limit {
            return Err(());
        }
        state.pending_bytes += bytes.len();
        if state.queue.capacity() == 0 {
            // At most a write's worth: one large burst (a history replay) must not make every
            // later line allocate as much.
            state
                .queue
                .reserve((state.last_batch as usize).min(MAX_SLICES_PER_WRITE));
        }
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
    /// replies are counted against the limit like any push. Replies are urgent: the writer
    /// sends them without waiting for its coalescing interval to end.
    pub fn release(&self, replies: impl IntoIterator<Item = Bytes>, reserved: usize) {
        let mut state = self.lock();
        let held = state.held.take();
        if state.closed.is_some() {
            return;
        }
        state.pending_bytes = state.pending_bytes.saturating_sub(reserved);
        let was_empty = state.queue.is_empty();
        let mut urgent = false;
        for reply in replies {
            if self.enqueue(&mut state, reply).is_err() {
                drop(state);
                return self.overflow();
            }
            urgent = true;
        }
        // Held bytes were counted when pushed.
        state.queue.extend(held.into_iter().flatten());
        let has_data = !state.queue.is_empty();
        state.urgent |= urgent;
        // A writer waiting out its coalescing interval is woken for replies too.
        let writer = if (was_empty && has_data) || urgent {
            state.writer.take()
        } else {
            None
        };
        drop(state);
        wake(writer);
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

    /// Wakes the connection's read loop to look at its user's alerts
    /// ([`Attention::Alerted`]). An alert raised while the loop is busy is kept until it
    /// waits again.
    pub fn alert(&self) {
        self.tell_reader(|state| state.alerted = true);
    }

    /// Tells the connection's read loop that the server is shutting down
    /// ([`Attention::ShutDown`], from now on).
    pub fn shut_down(&self) {
        self.tell_reader(|state| state.shutting_down = true);
    }

    /// Changes the state under the lock, then wakes the read loop if it waits.
    fn tell_reader(&self, change: impl FnOnce(&mut State)) {
        let mut state = self.lock();
        change(&mut state);
        let reader = state.reader.take();
        drop(state);
        wake(reader);
    }

    /// Waits until the server shuts down, the outbox closed or an alert was raised: the one
    /// wake-up source a read loop needs besides its socket and its timer. In that order of
    /// precedence; an alert is reported once.
    pub async fn attention(&self) -> Attention {
        std::future::poll_fn(|context| {
            let mut state = self.lock();
            if state.shutting_down {
                Poll::Ready(Attention::ShutDown)
            } else if state.closed.is_some() {
                Poll::Ready(Attention::Closed)
            } else if std::mem::take(&mut state.alerted) {
                Poll::Ready(Attention::Alerted)
            } else {
                leave_waker(&mut state.reader, context);
                Poll::Pending
            }
        })
        .await
    }

    fn close_with(&self, reason: Closed) {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.closed = Some(reason);
            let writer = state.writer.take();
            let reader = state.reader.take();
            drop(state);
            wake(writer);
            wake(reader);
        }
    }

    /// Takes everything queued (held bytes included) as if written, so that tests without a
    /// writer can read what a user was sent.
    #[cfg(test)]
    pub fn take_queued(&self) -> Vec<Bytes> {
        let mut state = self.lock();
        let held = state.held.take().unwrap_or_default();
        let taken: Vec<Bytes> = std::mem::take(&mut state.queue)
            .into_iter()
            .chain(held)
            .collect();
        let bytes: usize = taken.iter().map(Bytes::len).sum();
        state.pending_bytes = state.pending_bytes.saturating_sub(bytes);
        taken
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        crate::lock(&self.state)
    }

    /// Waits for work and moves everything queued into `batch` (which the writer reuses, so
    /// that while traffic flows the two buffers swap instead of reallocating).
    async fn next(&self, batch: &mut VecDeque<Bytes>) -> Next {
        std::future::poll_fn(|context| {
            let mut state = self.lock();
            Poll::Ready(match (&state.closed, state.queue.is_empty()) {
                (Some(Closed::Overflowed), _) => Next::Overflowed,
                (Some(Closed::WriteFailed(_)), _) => Next::Stop,
                (_, false) => {
                    std::mem::swap(&mut state.queue, batch);
                    state.urgent = false;
                    state.last_batch = u32::try_from(batch.len()).unwrap_or(u32::MAX);
                    Next::Write
                }
                (Some(Closed::Finished), true) => Next::Flushed,
                (None, true) => {
                    give_back_buffers(&mut state, batch);
                    leave_waker(&mut state.writer, context);
                    return Poll::Pending;
                }
            })
        })
        .await
    }

    /// How many chunks the queue has room for without allocating.
    #[cfg(test)]
    fn queue_capacity(&self) -> usize {
        self.lock().queue.capacity()
    }

    /// Waits until there is something to write (or the outbox closed), then, if `until` (the
    /// end of the coalescing interval after the last write) is still to come, until then,
    /// unless replies to the client's own commands or the close come first. See the module's
    /// documentation.
    async fn coalesce(&self, until: Instant, batch: &mut VecDeque<Bytes>) {
        // Made only when there is something to hold back, and boxed: a timer is large, and an
        // idle connection's writer waits here, without one.
        let mut interval_over: Option<Pin<Box<tokio::time::Sleep>>> = None;
        std::future::poll_fn(|context| {
            let mut state = self.lock();
            let closed = state.closed.is_some();
            if state.queue.is_empty() && !closed {
                give_back_buffers(&mut state, batch);
            } else if state.urgent || closed || Instant::now() >= until {
                return Poll::Ready(());
            } else {
                let timer =
                    interval_over.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
                if timer.as_mut().poll(context).is_ready() {
                    return Poll::Ready(());
                }
            }
            // Replies, the close, or (with nothing queued yet) the first push: look again.
            leave_waker(&mut state.writer, context);
            Poll::Pending
        })
        .await
    }

    fn written(&self, count: usize) {
        let mut state = self.lock();
        state.pending_bytes = state.pending_bytes.saturating_sub(count);
    }
}

/// Puts the task's waker in `slot` (the writer's or the read loop's, where a push, release,
/// alert or close finds it), unless the one there already wakes it.
fn leave_waker(slot: &mut Option<Waker>, context: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(context.waker()) => {}
        _ => *slot = Some(context.waker().clone()),
    }
}

/// Wakes the task whose waker was taken from the state, after the lock is released.
fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Frees the writer's two queue buffers, both empty, before it waits for work: an idle
/// connection holds no queue (the memory per idle connection in `docs/PERFORMANCE.md`), and
/// the next burst allocates one afresh, which costs little beside its write.
fn give_back_buffers(state: &mut State, batch: &mut VecDeque<Bytes>) {
    state.queue = VecDeque::new();
    *batch = VecDeque::new();
}

/// How a writer ended.
#[derive(Debug)]
pub enum WriterEnd<W> {
    /// Everything was written and the stream shut down, or writing failed.
    Done,
    /// The outbox overflowed: its queue was dropped, and here is the stream, untouched since,
    /// for the client's [`last_words`].
    Overflowed(W),
}

/// Drains `outbox` into `stream` until the outbox closes, writing a busy connection at most
/// once per `coalescing` interval (`None`: whenever there is something to write). Runs in the
/// connection's task, beside its read loop.
pub async fn run_writer<W: AsyncWrite + Unpin>(
    outbox: &Outbox,
    mut stream: W,
    coalescing: Option<Duration>,
) -> WriterEnd<W> {
    let mut batch = VecDeque::new();
    let mut last_write: Option<Instant> = None;
    loop {
        if let (Some(interval), Some(last_write)) = (coalescing, last_write)
            && last_write.elapsed() < interval
        {
            outbox.coalesce(last_write + interval, &mut batch).await;
        }
        match outbox.next(&mut batch).await {
            Next::Write => {
                // A stream that buffers (a WebSocket's frames) sends what it holds on flush;
                // for TCP and TLS, which write through, the flush costs nothing.
                let written = match write_batch(outbox, &mut stream, &mut batch).await {
                    Ok(()) => stream.flush().await,
                    Err(error) => Err(error),
                };
                if let Err(error) = written {
                    outbox.close_with(Closed::WriteFailed(describe_write_error(&error)));
                    return WriterEnd::Done;
                }
                last_write = Some(Instant::now());
            }
            Next::Flushed => {
                // Send FIN after the last byte; errors are moot, the connection is over.
                let _ = stream.shutdown().await;
                return WriterEnd::Done;
            }
            Next::Overflowed => return WriterEnd::Overflowed(stream),
            Next::Stop => return WriterEnd::Done,
        }
    }
}

/// Writes `farewell` to a client dropped as a slow consumer and closes the stream, best effort
/// only: the client is not reading, so whatever the stream does not take at once is dropped,
/// and nothing waits for room.
pub fn last_words<W: AsyncWrite + Unpin>(mut stream: W, farewell: &[u8]) {
    let mut context = Context::from_waker(Waker::noop());
    let mut stream = Pin::new(&mut stream);
    let _ = stream.as_mut().poll_write(&mut context, farewell);
    // A stream that buffers (TLS) sends it now or never; then the end of the stream.
    let _ = stream.as_mut().poll_flush(&mut context);
    let _ = stream.poll_shutdown(&mut context);
}

/// Writes every chunk of `batch`, many per system call, leaving `batch` empty.
async fn write_batch<W: AsyncWrite + Unpin>(
    outbox: &Outbox,
    stream: &mut W,
    batch: &mut VecDeque<Bytes>,
) -> io::Result<()> {
    // For a stream without vectored writes: the front chunks copied into one buffer, reused
    // across the writes of this batch.
    let mut gathered = Vec::new();
    while !batch.is_empty() {
        let written = if stream.is_write_vectored() {
            write_vectored(stream, batch).await?
        } else {
            match batch.front() {
                // Nothing to gather, or too big to be worth copying.
                Some(front) if batch.len() == 1 || front.len() >= MAX_GATHERED_BYTES => {
                    stream.write(front).await?
                }
                _ => {
                    gather(batch, &mut gathered);
                    stream.write(&gathered).await?
                }
            }
        };
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        outbox.written(written);
        consume(batch, written);
    }
    Ok(())
}

/// Writes the front chunks of `batch` (up to [`MAX_SLICES_PER_WRITE`]) in one vectored write.
/// The slices are laid out afresh on each poll, on the stack, so that the writer's future
/// does not carry them while it waits (an idle connection's writer stays small).
async fn write_vectored<W: AsyncWrite + Unpin>(
    stream: &mut W,
    batch: &VecDeque<Bytes>,
) -> io::Result<usize> {
    std::future::poll_fn(|context| {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES_PER_WRITE];
        let mut count = 0;
        for (slot, chunk) in slices.iter_mut().zip(batch.iter()) {
            *slot = IoSlice::new(chunk);
            count += 1;
        }
        Pin::new(&mut *stream).poll_write_vectored(context, &slices[..count])
    })
    .await
}

/// Copies the front chunks of `batch` into `gathered`, whole, as many as fit in
/// [`MAX_GATHERED_BYTES`] (always the first).
fn gather(batch: &VecDeque<Bytes>, gathered: &mut Vec<u8>) {
    gathered.clear();
    for chunk in batch {
        if !gathered.is_empty() && gathered.len() + chunk.len() > MAX_GATHERED_BYTES {
            break;
        }
        gathered.extend_from_slice(chunk);
    }
}

/// Removes the first `written` bytes from the front of `batch`.
fn consume(batch: &mut VecDeque<Bytes>, mut written: usize) {
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

fn describe_write_error(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => "connection reset".into(),
        _ => format!("write error: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::Poll;

    use tokio::io::{AsyncReadExt, DuplexStream};

    use super::*;

    /// A real stream that offers no vectored writes, as some transports do not.
    struct OneSliceAtATime(DuplexStream);

    impl AsyncWrite for OneSliceAtATime {
        fn poll_write(
            mut self: Pin<&mut Self>,
            context: &mut Context<'_>,
            bytes: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(context, bytes)
        }

        fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(context)
        }

        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            context: &mut Context<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(context)
        }
    }

    /// The writer as a task of its own, draining `outbox` while the test pushes.
    fn spawn_writer<W: AsyncWrite + Unpin + Send + 'static>(
        outbox: Arc<Outbox>,
        stream: W,
        coalescing: Option<Duration>,
    ) -> tokio::task::JoinHandle<WriterEnd<W>> {
        tokio::spawn(async move { run_writer(&outbox, stream, coalescing).await })
    }

    async fn read_all(mut stream: DuplexStream) -> Vec<u8> {
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.unwrap();
        bytes
    }

    #[tokio::test]
    async fn the_writer_writes_everything_queued_in_order_with_or_without_vectored_writes() {
        let lines: Vec<Bytes> = (0..1000)
            .map(|number| Bytes::from(format!("line {number}\n")))
            .collect();
        let expected = lines.concat();
        for vectored in [true, false] {
            let (server, client) = tokio::io::duplex(1024);
            let outbox = Arc::new(Outbox::new(1 << 20));
            let writer = if vectored {
                let writing = spawn_writer(outbox.clone(), server, None);
                tokio::spawn(async move { matches!(writing.await, Ok(WriterEnd::Done)) })
            } else {
                let writing = spawn_writer(outbox.clone(), OneSliceAtATime(server), None);
                tokio::spawn(async move { matches!(writing.await, Ok(WriterEnd::Done)) })
            };
            for line in &lines {
                outbox.push(line.clone());
            }
            outbox.finish();
            assert_eq!(read_all(client).await, expected, "vectored: {vectored}");
            assert!(writer.await.unwrap(), "the writer flushed and finished");
            assert_eq!(outbox.lock().pending_bytes, 0);
        }
    }

    /// Reads what the writer wrote in one go (a duplex pipe hands over each write whole while
    /// it fits).
    async fn read_some(client: &mut DuplexStream) -> String {
        let mut buffer = [0; 1024];
        let count = client.read(&mut buffer).await.unwrap();
        String::from_utf8_lossy(&buffer[..count]).into_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_s_traffic_waits_for_the_interval_and_shares_one_write() {
        const INTERVAL: Duration = Duration::from_millis(20);
        let (server, mut client) = tokio::io::duplex(1024);
        let outbox = Arc::new(Outbox::new(1 << 20));
        spawn_writer(outbox.clone(), server, Some(INTERVAL));
        let start = Instant::now();
        outbox.push(Bytes::from_static(b"first "));
        assert_eq!(read_some(&mut client).await, "first ");
        assert!(
            start.elapsed() < INTERVAL,
            "a quiet connection is written at once"
        );

        outbox.push(Bytes::from_static(b"second "));
        tokio::task::yield_now().await;
        outbox.push(Bytes::from_static(b"third "));
        assert_eq!(read_some(&mut client).await, "second third ");
        assert!(
            start.elapsed() >= INTERVAL,
            "traffic waited for the interval"
        );

        // The client's own replies do not wait, and take what is queued with them.
        let replied = Instant::now();
        outbox.push(Bytes::from_static(b"fourth "));
        outbox.release([Bytes::from_static(b"reply ")], 0);
        assert_eq!(read_some(&mut client).await, "fourth reply ");
        assert!(replied.elapsed() < INTERVAL, "replies went out at once");

        // Quiet for an interval: written at once again.
        tokio::time::sleep(INTERVAL).await;
        let quiet = Instant::now();
        outbox.push(Bytes::from_static(b"fifth"));
        assert_eq!(read_some(&mut client).await, "fifth");
        assert_eq!(quiet.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn an_overflowed_writer_hands_the_stream_back_for_last_words() {
        let (server, client) = tokio::io::duplex(1024);
        let outbox = Arc::new(Outbox::new(10));
        let writer = spawn_writer(outbox.clone(), server, None);
        outbox.push(Bytes::from_static(b"12345678901"));
        let WriterEnd::Overflowed(stream) = writer.await.unwrap() else {
            panic!("the writer stopped for the overflow");
        };
        last_words(stream, b"bye\n");
        assert_eq!(read_all(client).await, b"bye\n", "only the last words");
    }

    #[tokio::test]
    async fn last_words_never_wait_for_room() {
        let (mut server, client) = tokio::io::duplex(4);
        server.write_all(b"full").await.unwrap();
        last_words(server, b"bye\n");
        assert_eq!(
            read_all(client).await,
            b"full",
            "what did not fit is dropped"
        );
    }

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

    /// Polled by hand: the writer takes a batch of 20, then the first push after it makes room
    /// for 20 at once.
    #[tokio::test]
    async fn a_queue_allocated_afresh_has_room_for_a_batch_like_the_last() {
        let (server, _client) = tokio::io::duplex(1 << 16);
        let outbox = Arc::new(Outbox::new(1 << 20));
        let mut writer = Box::pin(run_writer(&outbox, server, None));
        let mut context = Context::from_waker(Waker::noop());
        for number in 0..20 {
            outbox.push(Bytes::from(format!("line {number}\n")));
        }
        assert!(writer.as_mut().poll(&mut context).is_pending());
        assert_eq!(outbox.queue_capacity(), 0, "written and given back");
        outbox.push(Bytes::from_static(b"one more\n"));
        assert!(outbox.queue_capacity() >= 20);
    }

    /// Polled by hand, so that the test sees the writer exactly when it has written everything
    /// and waits for more. With and without write coalescing: a writer that wrote a moment
    /// ago waits in its coalescing interval, not for the next batch.
    #[tokio::test(start_paused = true)]
    async fn a_writer_with_nothing_to_write_holds_no_queue() {
        for coalescing in [None, Some(Duration::from_millis(2))] {
            let (server, mut client) = tokio::io::duplex(1 << 16);
            let outbox = Arc::new(Outbox::new(1 << 20));
            let mut writer = Box::pin(run_writer(&outbox, server, coalescing));
            let mut context = Context::from_waker(Waker::noop());
            for burst in 0..2 {
                for number in 0..20 {
                    outbox.push(Bytes::from(format!("burst {burst} line {number}\n")));
                }
                assert!(outbox.queue_capacity() >= 20);
                if burst > 0 && coalescing.is_some() {
                    // The second burst waits for the end of the interval.
                    assert!(writer.as_mut().poll(&mut context).is_pending());
                    tokio::time::advance(Duration::from_millis(2)).await;
                }
                assert!(writer.as_mut().poll(&mut context).is_pending());
                assert_eq!(outbox.queue_capacity(), 0, "{coalescing:?}, burst {burst}");
                let mut buffer = vec![0; 1 << 16];
                let read = client.read(&mut buffer).await.unwrap();
                let text = String::from_utf8_lossy(&buffer[..read]).into_owned();
                assert_eq!(text.lines().count(), 20, "{text}");
                assert!(text.ends_with(&format!("burst {burst} line 19\n")));
            }
        }
    }
}
