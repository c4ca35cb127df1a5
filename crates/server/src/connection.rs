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
use palaver_proto::framing::LineDecoder;
use socket2::{SockRef, TcpKeepalive};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::accounts::Accounts;
use crate::config::{IrcSettings, Limits};
use crate::hub::{Hub, Protocol, User};
use crate::outbox::{Closed, Outbox, run_writer};
use crate::session::irc::{self, IrcSession};
use crate::session::text::{TextSession, TextSettings};
use crate::session::{Flow, Session};
use crate::store::Store;

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
    /// The client asked to leave (`/quit`, `QUIT`).
    Quit(String),
    /// The server is shutting down: leave quietly, the shutdown notice was already queued.
    Shutdown,
    /// The connection is gone or must go, for the stated reason.
    Lost(String),
}

/// Everything a connection needs from the server, besides its socket.
#[derive(Clone)]
pub struct Context {
    pub hub: Arc<Hub>,
    pub store: Store,
    pub accounts: Accounts,
    /// Messages replayed to a text user joining a room.
    pub history_on_join: usize,
    /// Grace period before a user on someone's registered nick is renamed.
    pub nick_grace: Duration,
    pub limits: Limits,
    pub irc: Arc<IrcSettings>,
    /// Whether to show peers by a cloak instead of their address.
    pub cloak_hosts: bool,
    pub shutdown: CancellationToken,
}

/// Serves one connection of `protocol` until it ends. Never panics on client input.
pub async fn serve(stream: TcpStream, peer: SocketAddr, protocol: Protocol, context: Context) {
    // Connect and disconnect lines name the nick; messages are never logged at info level.
    let span = info_span!("connection", %peer, protocol = ?protocol);
    async move {
        configure_socket(&stream);
        let (reader, writer) = stream.into_split();
        let outbox = Arc::new(Outbox::new(context.limits.send_queue_bytes));
        let writer_task = tokio::spawn(run_writer(outbox.clone(), writer));
        let host = display_host(peer, context.cloak_hosts);

        let end = match protocol {
            Protocol::Text => {
                let user = context
                    .hub
                    .connect_guest(peer, &host, Protocol::Text, outbox.clone());
                info!(nick = %user.nick(), "connected");
                let settings = TextSettings {
                    max_line_bytes: context.limits.max_line_bytes,
                    history_on_join: context.history_on_join,
                    nick_grace: context.nick_grace,
                };
                let session = TextSession::start(
                    context.hub.clone(),
                    context.store.clone(),
                    context.accounts.clone(),
                    user,
                    settings,
                )
                .await;
                run_session(
                    reader,
                    session,
                    &outbox,
                    &context,
                    context.limits.max_line_bytes,
                )
                .await
            }
            Protocol::Irc => {
                // The nick is logged when registration completes.
                info!("connected");
                let session = IrcSession::new(&context, peer, host, outbox.clone());
                run_session(reader, session, &outbox, &context, irc::MAX_LINE_BYTES).await
            }
        };
        info!(nick = end.nick.as_deref().unwrap_or("-"), reason = ?end.why, "disconnected");
        outbox.finish();
        if tokio::time::timeout(FLUSH_TIMEOUT, writer_task)
            .await
            .is_err()
        {
            warn!("gave up flushing to a client that does not read");
        }
    }
    .instrument(span)
    .await
}

/// How a session ended, for the log.
struct Ended {
    nick: Option<Box<str>>,
    why: End,
}

/// Runs `session` until the connection ends, then removes its user from the hub.
async fn run_session(
    reader: OwnedReadHalf,
    mut session: impl Session,
    outbox: &Outbox,
    context: &Context,
    max_line_bytes: usize,
) -> Ended {
    let why = read_until_end(
        reader,
        &mut session,
        outbox,
        &context.shutdown,
        max_line_bytes,
    )
    .await;
    let reason = match &why {
        End::Quit(reason) | End::Lost(reason) => Some(reason.as_str()),
        End::Shutdown => None,
    };
    session.farewell(reason.unwrap_or("server shutting down"));
    let nick = session.user().map(|user| user.nick());
    if let Some(user) = session.user() {
        let ended = context.hub.disconnect(user, reason);
        crate::session::forget_ended_rooms(&context.store, ended).await;
    }
    Ended { nick, why }
}

/// The host others see: the peer's IP address, or with cloaking a stable pseudonym of it
/// (so bans still work) that does not reveal it.
fn display_host(peer: SocketAddr, cloak: bool) -> String {
    if !cloak {
        return peer.ip().to_string();
    }
    use std::hash::BuildHasher;
    // One random key per server run: cloaks are stable while it runs, and cannot be reversed
    // by hashing every address.
    static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let hash = KEY.get_or_init(Default::default).hash_one(peer.ip());
    format!("{hash:016x}.cloak")
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
    session: &mut impl Session,
    outbox: &Outbox,
    shutdown: &CancellationToken,
    max_line_bytes: usize,
) -> End {
    let mut decoder = LineDecoder::new(max_line_bytes);
    let mut buffer = BytesMut::new();
    loop {
        let deadline = session.deadline();
        let user = session.user().cloned();
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return End::Shutdown,
            () = outbox.closed() => return lost_by_outbox(outbox),
            // Before reading more: what another session did to this user (a logout, a
            // reclaimed nick) must take effect before this client's next command.
            () = alerted(user.as_deref()) => {
                if let Flow::Quit(reason) = session.on_alert().await {
                    return End::Lost(reason);
                }
                continue;
            }
            () = sleep_until(deadline) => {
                if let Flow::Quit(reason) = session.on_deadline().await {
                    return End::Lost(reason);
                }
                continue;
            }
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
            if let Flow::Quit(reason) = session.handle(frame).await {
                session.flush().await;
                return End::Quit(reason);
            }
            // The replies so far filled the send queue (see `session/reply_queue.rs`): the
            // client is dropped as a slow consumer, so the rest of what it sent is not
            // handled.
            if outbox.is_closed() {
                return lost_by_outbox(outbox);
            }
        }
        // Replies go out once per read, behind the commits of what was said.
        session.flush().await;
        if buffer.is_empty() {
            buffer = BytesMut::new();
        }
    }
}

/// Waits for an alert raised for `user` by another task, or forever before there is a user.
async fn alerted(user: Option<&User>) {
    match user {
        Some(user) => user.alerted().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
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
