//! One client connection from accept to close, in one task: the writer, the read loop that
//! feeds lines to the session beside it, and clean-up with the right quit reason.
//!
//! Generic over the session (which protocol: [`Session`]) and the transport (which byte stream:
//! [`Transport`]), which know nothing of each other: a new transport plugs in here without a
//! session knowing.
//!
//! Memory is allocated lazily: an idle connection waits for input with no read buffer, and its
//! outbox holds no allocation while empty. An idle connection's task is small for the same
//! reason: what runs only now and then (starting the session, handling lines, alerts,
//! deadlines, the clean-up) is boxed for the time it runs, because a task's future is as big
//! as the biggest state it can be in, and handling a command goes deep.

use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use palaver_proto::framing::{Frame, LineDecoder};
use tokio::time::Instant;
use tracing::{Instrument, info, info_span, warn};

use crate::flood::FloodGate;
use crate::hub::LINK_LOST;
use crate::metrics::DisconnectReason;
use crate::outbox::{Attention, Closed, Outbox, WriterEnd, last_words, run_writer};
use crate::session::{Context, Flow, Peer, Session};
use crate::transport::{Incoming, Transport};

/// How much to read per system call.
const READ_CHUNK: usize = 4096;

/// How long a closing connection may take to flush its last lines before it is cut.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The quit reason of a client disconnected by flood control, as IRC servers have long
/// worded it.
pub(crate) const EXCESS_FLOOD: &str = "Excess Flood";

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// The client asked to leave (`/quit`, `QUIT`).
    Quit(String),
    /// The server is shutting down: leave quietly, the shutdown notice was already queued.
    Shutdown,
    /// The connection is gone or must go, for the stated reason (the kind counts it in the
    /// metrics).
    Lost(DisconnectReason, String),
    /// The client sent more than flood control lets wait (`[flood] recvq_bytes`).
    Flood,
}

impl End {
    /// How the metrics count this end.
    fn counted_as(&self) -> DisconnectReason {
        match self {
            End::Quit(_) => DisconnectReason::ClientQuit,
            End::Shutdown => DisconnectReason::Shutdown,
            End::Lost(kind, _) => *kind,
            End::Flood => DisconnectReason::Flood,
        }
    }
}

/// Serves one connection from `peer` over `transport`, speaking `S`'s protocol, until it ends;
/// `held` (the connection's place in the counts) is dropped when it does. Never panics on
/// client input.
///
/// Not an `async fn`, and what it is given goes into the future in one box: a future keeps
/// every value it captured (an `async fn`'s arguments, an `async` block's captures) for as
/// long as it lives, even once moved out, so the transport (over a kilobyte with TLS), the
/// peer and `held` would each stay in every connection's memory twice. Unpacked from the box
/// at the start, only what the connection still needs stays, once. What the caller would hold
/// around the future is passed in as `held`.
pub fn serve<S: Session>(
    transport: impl Transport,
    peer: impl Into<Peer>,
    context: Arc<Context>,
    held: impl Send + 'static,
) -> impl Future<Output = ()> {
    let peer = peer.into();
    // Connect and disconnect lines name the nick; messages are never logged at info level.
    let span =
        info_span!("connection", peer = %peer.address, tls = peer.tls, protocol = ?S::PROTOCOL);
    let start = Box::new((transport, peer, context, held));
    async move {
        let (transport, peer, context, held) = *start;
        let _held = held;
        let (mut reader, writer) = transport.into_halves();
        let outbox = Arc::new(Outbox::new(context.limits.send_queue_bytes));
        // Until the end: shutting down wakes the read loop through the outbox.
        let _registered = context.open_connections.register(&outbox);
        // The writer runs in this task, beside the read loop, not as a task of its own: one
        // task per connection is a good part less memory per idle connection, and replies to
        // a command are written in the same wake-up that produced them.
        let mut writing = pin!(run_writer(&outbox, writer, context.limits.write_coalescing));
        let mut written = None;
        let host = display_host(peer.address, context.cloak_hosts);
        let address = peer.address;
        // What starting the session queues (a welcome) is written once the read loop runs.
        // Matched by reference: moving the session out of the result would keep room for
        // both in the connection's memory.
        let mut started = Box::pin(S::start(&context, peer, host, outbox.clone())).await;
        let session = match &mut started {
            Ok(session) => session,
            // Boxed: a rare step, kept out of every connection's memory.
            Err(last_words) => {
                let last_words = std::mem::take(last_words);
                return Box::pin(refuse(&context, &outbox, writing, last_words)).await;
            }
        };
        match session.user() {
            Some(user) => info!(nick = %user.nick(), "connected"),
            // Registration is still to come; it logs the nick.
            None => info!("connected"),
        }
        let flood = (!context.flood.exempt.contains(address.ip())).then(|| Flood {
            gate: FloodGate::new(&context.flood, Instant::now()),
            recvq_bytes: context.flood.recvq_bytes,
        });
        let why = {
            let reading = pin!(read_until_end(&mut reader, session, &outbox, flood));
            alongside(reading, writing.as_mut(), &mut written).await
        };
        context.metrics.disconnected(why.counted_as());
        let reason = match &why {
            End::Quit(reason) | End::Lost(_, reason) => Some(reason.as_str()),
            End::Flood => Some(EXCESS_FLOOD),
            End::Shutdown => None,
        };
        if !outbox.is_closed() {
            let farewell = match why {
                End::Flood => Some(session.flood_farewell()),
                _ => session.farewell(reason.unwrap_or("server shutting down")),
            };
            if let Some(farewell) = farewell {
                outbox.push(farewell);
            }
        }
        let nick = session.user().map(|user| user.nick());
        if let Some(user) = session.user() {
            // Boxed: in a cluster it is a call to Redis, kept out of every connection's memory.
            let ended = Box::pin(context.network.disconnect(user, reason)).await;
            Box::pin(crate::session::forget_ended_rooms(&context.store, ended)).await;
        }
        info!(nick = nick.as_deref().unwrap_or("-"), reason = ?why, "disconnected");
        outbox.finish();
        if written.is_none() {
            written = tokio::time::timeout(FLUSH_TIMEOUT, writing).await.ok();
        }
        match written {
            Some(WriterEnd::Overflowed(stream)) => {
                last_words(stream, &session.overflow_farewell());
            }
            Some(WriterEnd::Done) => {}
            None => warn!("gave up flushing to a client that does not read"),
        }
        if matches!(why, End::Flood) {
            Box::pin(ignore_until_closed(&mut reader)).await;
        }
    }
    .instrument(span)
}

/// Ends a connection whose session could not start (in a cluster that cannot be reached):
/// the client gets `last_words`, flushed by `writing` as at any other end.
async fn refuse<W>(
    context: &Context,
    outbox: &Outbox,
    writing: Pin<&mut impl Future<Output = WriterEnd<W>>>,
    last_words: Bytes,
) {
    info!("refused: the network could not take the connection");
    context.metrics.disconnected(DisconnectReason::LinkLost);
    outbox.push(last_words);
    outbox.finish();
    if tokio::time::timeout(FLUSH_TIMEOUT, writing).await.is_err() {
        warn!("gave up flushing to a client that does not read");
    }
}

/// Runs `main` to its end, polling `side` (until it ends, its output kept in `side_output`)
/// whenever the task wakes: two futures in one task, each looking again at what it waits for
/// when the other's wake-up polls it, which for the connection's two is cheap. `main` first,
/// so that what it queued is written in the same poll. Both are pinned by the caller, so that
/// neither is moved into this future as well (a future keeps what it was given).
fn alongside<'a, M: Future, S: Future>(
    mut main: Pin<&'a mut M>,
    mut side: Pin<&'a mut S>,
    side_output: &'a mut Option<S::Output>,
) -> impl Future<Output = M::Output> + 'a {
    std::future::poll_fn(move |context| {
        let main = main.as_mut().poll(context);
        if side_output.is_none()
            && let Poll::Ready(output) = side.as_mut().poll(context)
        {
            *side_output = Some(output);
        }
        main
    })
}

/// How long a client disconnected for flooding, whose farewell is sent, may go on sending
/// before its connection is closed under it.
const FLOOD_LINGER: Duration = Duration::from_secs(2);

/// Reads and drops what a flooder still sends, until it closes or [`FLOOD_LINGER`] passes.
///
/// A flooder is still sending when it is cut off, and closing a socket with unread input
/// resets the connection, which throws away whatever the client has not yet taken in: on a
/// busy machine, the farewell that says why it was disconnected (the soak saw it lost 6 times
/// in 16,762). Reading on after the end of the stream was sent gives the client time to read
/// it; a refused connection is closed the same way (`listener.rs`).
async fn ignore_until_closed(reader: &mut impl Incoming) {
    let mut ignored = BytesMut::new();
    let _ = tokio::time::timeout(FLOOD_LINGER, async {
        loop {
            reader.ready().await?;
            ignored.clear();
            ignored.reserve(READ_CHUNK);
            match reader.try_read_buf(&mut ignored) {
                Ok(0) => return io::Result::Ok(()),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
    })
    .await;
}

/// The host others see: the peer's IP address, or with cloaking a stable pseudonym of it
/// (so bans still work) that does not reveal it.
fn display_host(peer: SocketAddr, cloak: bool) -> String {
    // An IPv4 client on an IPv6 socket (`::ffff:192.0.2.1`) is the IPv4 address.
    let ip = peer.ip().to_canonical();
    if !cloak {
        return shown_address(ip);
    }
    use std::hash::BuildHasher;
    // One random key per server run: cloaks are stable while it runs, and cannot be reversed
    // by hashing every address.
    static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let hash = KEY.get_or_init(Default::default).hash_one(ip);
    format!("{hash:016x}.cloak")
}

/// `ip` as a host name others see. A host is a middle parameter of IRC lines (`352`, `311`,
/// `302`, WHOX), where a word starting with `:` would begin the trailing parameter and shift
/// every field after it; so an IPv6 address that starts with `:` gets a leading `0`
/// (`::1` → `0::1`), which names the same address, as established servers write it.
fn shown_address(ip: std::net::IpAddr) -> String {
    let text = ip.to_string();
    if text.starts_with(':') {
        format!("0{text}")
    } else {
        text
    }
}

/// Reads and handles lines until the client quits or disconnects, the outbox closes, or the
/// server shuts down.
///
/// With the session's idle flush, a partial line followed by that much quiet (or by the end of
/// the stream) is handed over as a line; the timer exists only while a line is in progress, so
/// an idle connection costs nothing more.
///
/// With flood control (`flood`), a line the client's budget does not cover waits until it
/// does (see `flood.rs`), and so do the lines after it; reading goes on meanwhile, and a
/// client whose waiting input passes `recvq_bytes` is disconnected for excess flood. Lines
/// that arrived before the end of the stream are still handled, at the same pace.
async fn read_until_end(
    reader: &mut impl Incoming,
    session: &mut impl Session,
    outbox: &Outbox,
    mut flood: Option<Flood>,
) -> End {
    let mut decoder = LineDecoder::new(session.max_line_bytes());
    let idle_flush = session.idle_flush();
    let mut buffer = BytesMut::new();
    // A line read but not yet handled: the flood budget did not cover it.
    let mut waiting: Option<Frame> = None;
    // The client closed its side; what it sent before that is still to be handled.
    let mut ended = false;
    // When the connection last finished with what it read and turned back to the socket: the
    // idle flush counts the client's quiet from there, so time spent handling a read (a slow
    // commit) is never taken for quiet while the rest of a line waits in the socket.
    let mut last_read = Instant::now();
    loop {
        if ended && waiting.is_none() {
            // The end of the stream ends a partial line as surely as quiet does.
            if idle_flush.is_some()
                && let Some(end) =
                    Box::pin(finish_line(&mut decoder, &mut buffer, session, outbox)).await
            {
                return end;
            }
            return lost("connection closed".into());
        }
        let deadline = session.deadline();
        let line_deadline = idle_flush
            .filter(|_| waiting.is_none() && decoder.is_mid_line(&buffer))
            .map(|quiet| last_read + quiet);
        let lagged_until = match (&waiting, &mut flood) {
            (Some(_), Some(flood)) => Some(
                flood
                    .gate
                    .ready_at(Instant::now())
                    .unwrap_or_else(Instant::now),
            ),
            _ => None,
        };
        let wake_at = [deadline, line_deadline, lagged_until]
            .into_iter()
            .flatten()
            .min();
        tokio::select! {
            biased;
            // Before reading more: the server shuts down, the outbox closed (a dropped slow
            // consumer is not read any further), or what another session did to this user (a
            // logout, a reclaimed nick) must take effect before this client's next command.
            attention = outbox.attention() => {
                match attention {
                    Attention::ShutDown => return End::Shutdown,
                    Attention::Closed => return lost_by_outbox(outbox),
                    Attention::Alerted => {}
                }
                // Alerts end a connection when it was killed or ghosted, or when this server
                // lost its link to the network.
                match Box::pin(session.on_alert()).await {
                    Flow::Continue => continue,
                    Flow::Quit(reason) => return End::Lost(DisconnectReason::Killed, reason),
                    Flow::LinkLost => return link_lost(),
                }
            }
            // One timer for the three reasons to wake (a timer is a good part of an idle
            // connection's memory); the earliest that has passed is acted on, in this order.
            () = sleep_until(wake_at) => {
                let now = Instant::now();
                let passed = |at: Option<Instant>| at.is_some_and(|at| at <= now);
                if passed(deadline) {
                    // Deadlines end a connection that did not answer a ping or register in
                    // time.
                    match Box::pin(session.on_deadline()).await {
                        Flow::Continue => {}
                        Flow::Quit(reason) => {
                            return End::Lost(DisconnectReason::PingTimeout, reason);
                        }
                        Flow::LinkLost => return link_lost(),
                    }
                } else if passed(line_deadline) {
                    // Before reading: once the quiet has lasted its period the line is over,
                    // and bytes found waiting after that start the next one.
                    if let Some(end) =
                        Box::pin(finish_line(&mut decoder, &mut buffer, session, outbox)).await
                    {
                        return end;
                    }
                } else if passed(lagged_until)
                    && let Some(end) = Box::pin(handle_lines(
                        &mut decoder, &mut buffer, &mut waiting, &mut flood, session, outbox,
                    ))
                    .await
                {
                    return end;
                }
                continue;
            }
            ready = reader.ready(), if !ended => {
                if let Err(error) = ready {
                    return lost(describe_read_error(&error));
                }
            }
        }
        // Allocate only once there is something to read, so idle connections hold no buffer.
        if buffer.capacity() - buffer.len() < READ_CHUNK / 4 {
            buffer.reserve(READ_CHUNK);
        }
        match reader.try_read_buf(&mut buffer) {
            Ok(0) => ended = true,
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                // Readiness can be reported with nothing to read after all (it was, with new
                // connections, 4 KiB held by every idle one): give the buffer back.
                if buffer.is_empty() {
                    buffer = BytesMut::new();
                }
                continue;
            }
            Err(error) => return lost(describe_read_error(&error)),
        }
        if let Some(flood) = &flood
            && buffer.len() > flood.recvq_bytes
        {
            return End::Flood;
        }
        if let Some(end) = Box::pin(handle_lines(
            &mut decoder,
            &mut buffer,
            &mut waiting,
            &mut flood,
            session,
            outbox,
        ))
        .await
        {
            return end;
        }
        last_read = Instant::now();
        if buffer.is_empty() {
            buffer = BytesMut::new();
        }
    }
}

/// A connection's flood control: its token bucket, and how much waiting input it may have.
struct Flood {
    gate: FloodGate,
    recvq_bytes: usize,
}

/// Handles the lines in `buffer` (the one `waiting` first) as far as the flood budget covers
/// them, then releases their replies; a line the budget does not cover is left `waiting`.
/// `Some` when the connection must end.
async fn handle_lines(
    decoder: &mut LineDecoder,
    buffer: &mut BytesMut,
    waiting: &mut Option<Frame>,
    flood: &mut Option<Flood>,
    session: &mut impl Session,
    outbox: &Outbox,
) -> Option<End> {
    while let Some(frame) = waiting.take().or_else(|| decoder.decode(buffer)) {
        if let Some(flood) = flood {
            let now = Instant::now();
            if flood.gate.ready_at(now).is_some() {
                *waiting = Some(frame);
                break;
            }
            flood.gate.charge(session.cost(&frame), now);
        }
        if let Some(end) = hand_over(session, outbox, frame).await {
            return Some(end);
        }
    }
    // Replies go out once per read, behind the commits of what was said.
    session.flush().await;
    None
}

/// Hands one frame to the session; `Some` when the connection must end.
async fn hand_over(session: &mut impl Session, outbox: &Outbox, frame: Frame) -> Option<End> {
    let end = match session.handle(frame).await {
        Flow::Continue => None,
        Flow::Quit(reason) => Some(End::Quit(reason)),
        Flow::LinkLost => Some(link_lost()),
    };
    if end.is_some() {
        session.flush().await;
        return end;
    }
    // The replies so far filled the send queue (see `session/reply_queue.rs`): the client is
    // dropped as a slow consumer, so the rest of what it sent is not handled.
    if outbox.is_closed() {
        return Some(lost_by_outbox(outbox));
    }
    None
}

/// Hands the partial line in `buffer` to the session as a complete one, flushes its replies
/// and frees the buffer; `Some` when the connection must end.
async fn finish_line(
    decoder: &mut LineDecoder,
    buffer: &mut BytesMut,
    session: &mut impl Session,
    outbox: &Outbox,
) -> Option<End> {
    if let Some(frame) = decoder.finish_line(buffer) {
        if let Some(end) = hand_over(session, outbox, frame).await {
            return Some(end);
        }
        session.flush().await;
    }
    *buffer = BytesMut::new();
    None
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// This server lost its link to the rest of the network.
fn link_lost() -> End {
    End::Lost(DisconnectReason::LinkLost, LINK_LOST.to_owned())
}

/// The stream ended or failed.
fn lost(reason: String) -> End {
    End::Lost(DisconnectReason::ConnectionLost, reason)
}

fn lost_by_outbox(outbox: &Outbox) -> End {
    match outbox.closed_reason() {
        Some(Closed::Overflowed) => End::Lost(
            DisconnectReason::SlowConsumer,
            "too slow: send queue full".into(),
        ),
        Some(Closed::WriteFailed(reason)) => lost(reason),
        Some(Closed::Finished) | None => lost("connection closed".into()),
    }
}

fn describe_read_error(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            "connection reset".into()
        }
        io::ErrorKind::TimedOut => "connection timed out".into(),
        _ => format!("read error: {error}"),
    }
}

#[cfg(test)]
mod tests {
    //! Both sessions over a byte stream that is not TCP (an in-memory pipe, as a TLS stream or
    //! a WebSocket adapter would be): the connection needs nothing more from a transport.

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::accounts::{Accounts, LoginLimits, Operators};
    use crate::admission::Admission;
    use crate::config::{AddressLimits, FloodSettings, IrcSettings, Limits};
    use crate::hub::{Hub, HubSettings};
    use crate::session::irc::IrcSession;
    use crate::session::text::TextSession;
    use crate::store::{Store, StoreConfig};
    use crate::transport::Stream;

    fn context() -> Arc<Context> {
        context_with_idle_flush(Some(Duration::from_millis(500)))
    }

    fn context_with_idle_flush(idle_flush: Option<Duration>) -> Arc<Context> {
        let store = Store::open(StoreConfig {
            path: ":memory:".into(),
            history_max_age: None,
            history_max_per_room: None,
            prune_interval: Duration::from_secs(3600),
            commit_interval: Duration::ZERO,
        })
        .expect("open a throw-away store")
        .store;
        let accounts = Accounts::new(store.clone(), LoginLimits::default(), Default::default());
        let hub = Arc::new(Hub::new(HubSettings::default()));
        Arc::new(Context {
            tls_offer: Default::default(),
            network: crate::network::Network::local(hub.clone()),
            hub,
            operators: Operators::new(Vec::new(), accounts.clone()),
            accounts,
            store,
            history_on_join: 0,
            idle_flush,
            text_registration_timeout: None,
            nick_grace: Duration::from_secs(60),
            limits: Limits::default(),
            flood: Arc::new(FloodSettings::default()),
            admission: Admission::new(AddressLimits::default()),
            irc: Arc::new(IrcSettings::default()),
            cloak_hosts: false,
            metrics: Arc::default(),
            shutdown: CancellationToken::new(),
            open_connections: Arc::default(),
        })
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:50000".parse().unwrap()
    }

    /// The client's end of an in-memory pipe, and the server's end as a transport.
    fn pipe() -> (BufReader<DuplexStream>, Stream<DuplexStream>) {
        let (client, server) = tokio::io::duplex(64 * 1024);
        (BufReader::new(client), Stream(server))
    }

    async fn line(client: &mut BufReader<DuplexStream>) -> String {
        let mut line = String::new();
        client.read_line(&mut line).await.expect("read");
        line
    }

    /// Asserts that the server ended the stream and that the connection finished, its user
    /// gone from the hub.
    async fn expect_end(
        mut client: BufReader<DuplexStream>,
        connection: tokio::task::JoinHandle<()>,
        context: &Context,
    ) {
        assert_eq!(line(&mut client).await, "", "the stream ends");
        connection.await.unwrap();
        assert_eq!(context.hub.user_count(), 0);
    }

    /// `line` without a leading `[HH:MM:SS] `.
    fn untimed(line: &str) -> &str {
        line.split_once("] ").map_or(line, |(_, rest)| rest)
    }

    /// What an idle connection costs is mostly the state of its task, which is as big as the
    /// biggest state it can be in: the rare, deep steps are boxed while they run so that
    /// waiting for input stays cheap (the per-connection memory target in
    /// `docs/PERFORMANCE.md`). The writer's state is part of it.
    #[tokio::test]
    async fn a_connection_s_task_stays_small_while_it_waits() {
        let context = context();
        let (_client, transport) = pipe();
        let irc = serve::<IrcSession>(transport, peer(), context.clone(), ());
        let (_client, transport) = pipe();
        let text = serve::<TextSession>(transport, peer(), context.clone(), ());
        let (_client, stream) = tokio::io::duplex(1);
        let outbox = Outbox::new(1);
        let writer = run_writer(&outbox, stream, Some(Duration::from_millis(2)));
        let sizes = [
            std::mem::size_of_val(&irc),
            std::mem::size_of_val(&text),
            std::mem::size_of_val(&writer),
        ];
        eprintln!(
            "SIZES {sizes:?} irc {} text {} ctx {} sleep {} notified {} cancelled {} span {} readiness {} frame {}",
            std::mem::size_of::<IrcSession>(),
            std::mem::size_of::<TextSession>(),
            std::mem::size_of::<Context>(),
            std::mem::size_of::<tokio::time::Sleep>(),
            std::mem::size_of::<tokio::sync::futures::Notified<'static>>(),
            std::mem::size_of::<tokio_util::sync::WaitForCancellationFuture<'static>>(),
            std::mem::size_of::<tracing::Span>(),
            std::mem::size_of_val(&sleep_until(None)),
            std::mem::size_of::<Frame>()
        );
        assert!(sizes[0] <= 1600, "IRC connection: {} bytes", sizes[0]);
        assert!(sizes[1] <= 1536, "text connection: {} bytes", sizes[1]);
        assert!(sizes[2] <= 256, "writer: {} bytes", sizes[2]);
    }

    #[tokio::test]
    async fn a_text_session_runs_over_any_byte_stream() {
        let context = context();
        let (mut client, transport) = pipe();
        let connection = tokio::spawn(serve::<TextSession>(transport, peer(), context.clone(), ()));
        assert!(
            line(&mut client)
                .await
                .contains("welcome to palaver; you are guest-1")
        );
        assert_eq!(
            untimed(&line(&mut client).await),
            "-- guest-1 joined #lobby\n"
        );

        // A line cut in two writes, and two lines in one.
        client.write_all(b"/nick al").await.unwrap();
        client.write_all(b"ice\n/quit\n").await.unwrap();
        assert_eq!(
            untimed(&line(&mut client).await),
            "-- guest-1 is now known as alice\n"
        );
        assert_eq!(untimed(&line(&mut client).await), "-- goodbye\n");
        expect_end(client, connection, &context).await;
    }

    #[tokio::test]
    async fn an_irc_session_runs_over_any_byte_stream() {
        let context = context();
        let (mut client, transport) = pipe();
        let connection = tokio::spawn(serve::<IrcSession>(transport, peer(), context.clone(), ()));
        client
            .write_all(b"NICK alice\r\nUSER alice 0 * :Alice\r\n")
            .await
            .unwrap();
        assert!(
            line(&mut client)
                .await
                .starts_with(":palaver.local 001 alice ")
        );
        loop {
            let line = line(&mut client).await;
            if line.contains(" 376 ") || line.contains(" 422 ") {
                break;
            }
        }

        client.write_all(b"QUIT :bye\r\n").await.unwrap();
        assert_eq!(
            line(&mut client).await,
            "ERROR :Closing link: (~alice@127.0.0.1) [Quit: bye]\r\n"
        );
        expect_end(client, connection, &context).await;
    }

    /// The idle flush, on the clock: a partial line is handed over once the client has been
    /// quiet for the period, not before, and with the flush off not at all.
    #[tokio::test(start_paused = true)]
    async fn a_partial_line_counts_after_the_idle_flush_period() {
        let context = context();
        let (mut client, transport) = pipe();
        let connection = tokio::spawn(serve::<TextSession>(transport, peer(), context.clone(), ()));
        line(&mut client).await;
        line(&mut client).await;
        // The clock is paused: each sleep lets the connection read what was written, and then
        // runs the clock on to the sleep's end.
        client.write_all(b"/nick al").await.unwrap();
        // Almost the whole period passes; more of the line comes and the wait starts over.
        tokio::time::sleep(Duration::from_millis(499)).await;
        client.write_all(b"ice").await.unwrap();
        tokio::time::sleep(Duration::from_millis(499)).await;
        client.write_all(b"\n/nick bob").await.unwrap();
        assert_eq!(
            untimed(&line(&mut client).await),
            "-- guest-1 is now known as alice\n"
        );
        // Nothing else is pending; with the clock run on, the partial `/nick bob` is a line.
        let renamed = line(&mut client).await;
        assert_eq!(untimed(&renamed), "-- alice is now known as bob\n");
        drop(client);
        connection.await.unwrap();
    }

    /// An over-long partial line is refused as soon as it passes the limit, and its tail is
    /// thrown away until the client falls quiet: what it sends after the quiet is a new line.
    #[tokio::test(start_paused = true)]
    async fn quiet_ends_an_over_long_partial_line() {
        let context = context();
        let (mut client, transport) = pipe();
        let connection = tokio::spawn(serve::<TextSession>(transport, peer(), context.clone(), ()));
        line(&mut client).await;
        line(&mut client).await;
        client.write_all(&[b'x'; 5000]).await.unwrap();
        assert_eq!(
            line(&mut client).await,
            "! line too long (max 4096 bytes); discarded\n"
        );
        client.write_all(b"still the long line").await.unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        client.write_all(b"/nick alice\n").await.unwrap();
        assert_eq!(
            untimed(&line(&mut client).await),
            "-- guest-1 is now known as alice\n"
        );
        drop(client);
        connection.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn with_the_idle_flush_off_a_partial_line_waits_for_its_newline() {
        let context = context_with_idle_flush(None);
        let (mut client, transport) = pipe();
        let connection = tokio::spawn(serve::<TextSession>(transport, peer(), context.clone(), ()));
        line(&mut client).await;
        line(&mut client).await;
        client.write_all(b"/nick al").await.unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        client.write_all(b"ice\n").await.unwrap();
        assert_eq!(
            untimed(&line(&mut client).await),
            "-- guest-1 is now known as alice\n"
        );
        drop(client);
        connection.await.unwrap();
    }

    #[tokio::test]
    async fn the_end_of_the_stream_ends_the_connection() {
        let context = context();
        let (mut client, transport) = pipe();
        let connection = tokio::spawn(serve::<TextSession>(transport, peer(), context.clone(), ()));
        line(&mut client).await;
        line(&mut client).await;
        client.write_all(b"/nick alice\n").await.unwrap();
        drop(client);
        connection.await.unwrap();
        assert_eq!(context.hub.user_count(), 0);
    }
}
