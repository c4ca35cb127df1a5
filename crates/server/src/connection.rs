//! One client connection from accept to close: socket options, the writer task, the read loop
//! that feeds lines to the session, and clean-up.
//!
//! Memory is allocated lazily: an idle connection waits for readability with no read buffer,
//! and its outbox holds no allocation while empty.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use palaver_proto::Protocol;
use palaver_proto::framing::LineDecoder;
use socket2::{SockRef, TcpKeepalive};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::config::Limits;
use crate::hub::Hub;
use crate::outbox::{Closed, Outbox, run_writer};
use crate::session::text::{Flow, TextSession};

/// How much to read per system call.
const READ_CHUNK: usize = 4096;

/// TCP keepalive finds peers that vanished without a FIN or RST (a half-open connection):
/// after this much silence the kernel probes, and gives up after a few unanswered probes.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 5;

/// How long a closing connection may take to flush its last lines before it is cut.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// The client sent `/quit`.
    Quit(String),
    /// The server is shutting down: leave quietly, the shutdown notice was already queued.
    Shutdown,
    /// The connection is gone or must go, for the stated reason.
    Lost(String),
}

/// Serves one text-protocol connection until it ends. Never panics on client input.
pub async fn serve_text(
    stream: TcpStream,
    peer: SocketAddr,
    hub: Arc<Hub>,
    limits: Limits,
    shutdown: CancellationToken,
) {
    // The span names the first nick; the disconnect line names the last one.
    let span = info_span!("connection", %peer, nick = tracing::field::Empty);
    async move {
        configure_socket(&stream);
        let (reader, writer) = stream.into_split();
        let outbox = Arc::new(Outbox::new(limits.send_queue_bytes));
        let writer_task = tokio::spawn(run_writer(outbox.clone(), writer));
        let user = hub.connect(peer, Protocol::Text, outbox.clone());
        tracing::Span::current().record("nick", &*user.nick());
        info!("connected");

        let mut session = TextSession::start(hub.clone(), user.clone(), limits.max_line_bytes);
        let end = read_until_end(reader, &mut session, &outbox, &shutdown, limits).await;

        let nick = user.nick();
        match &end {
            End::Quit(reason) | End::Lost(reason) => hub.disconnect(&user, Some(reason)),
            End::Shutdown => hub.disconnect(&user, None),
        }
        info!(%nick, reason = ?end, "disconnected");
        outbox.finish();
        if tokio::time::timeout(FLUSH_TIMEOUT, writer_task)
            .await
            .is_err()
        {
            warn!(%nick, "gave up flushing to a client that does not read");
        }
    }
    .instrument(span)
    .await
}

fn configure_socket(stream: &TcpStream) {
    // Our outbox already coalesces lines into large writes; Nagle would only add latency.
    if let Err(error) = stream.set_nodelay(true) {
        warn!(%error, "could not set TCP_NODELAY");
    }
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    if let Err(error) = SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        warn!(%error, "could not enable TCP keepalive");
    }
}

/// Reads and handles lines until the client quits or disconnects, the outbox closes, or the
/// server shuts down.
async fn read_until_end(
    reader: OwnedReadHalf,
    session: &mut TextSession,
    outbox: &Outbox,
    shutdown: &CancellationToken,
    limits: Limits,
) -> End {
    let mut decoder = LineDecoder::new(limits.max_line_bytes);
    let mut buffer = BytesMut::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return End::Shutdown,
            () = outbox.closed() => return lost_by_outbox(outbox),
            ready = reader.readable() => {
                if let Err(error) = ready {
                    return End::Lost(describe_read_error(&error));
                }
            }
        }
        // Allocate only once there is something to read, so idle connections hold no buffer.
        if buffer.capacity() - buffer.len() < READ_CHUNK / 4 {
            buffer.reserve(READ_CHUNK);
        }
        match reader.try_read_buf(&mut buffer) {
            Ok(0) => return End::Lost("connection closed".into()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) => return End::Lost(describe_read_error(&error)),
        }
        while let Some(frame) = decoder.decode(&mut buffer) {
            if let Flow::Quit(reason) = session.handle(frame) {
                return End::Quit(reason);
            }
        }
        if buffer.is_empty() {
            buffer = BytesMut::new();
        }
    }
}

fn lost_by_outbox(outbox: &Outbox) -> End {
    match outbox.closed_reason() {
        Some(Closed::Overflowed) => End::Lost("too slow: send queue full".into()),
        Some(Closed::WriteFailed(reason)) => End::Lost(reason),
        Some(Closed::Finished) | None => End::Lost("connection closed".into()),
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
