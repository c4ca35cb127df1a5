//! Binding listening sockets and accepting connections.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::addresses::AddressList;
use crate::admission::{Admitted, Refusal};
use crate::config::ListenerKind;
use crate::connection;
use crate::proxy_protocol;
use crate::session::irc::IrcSession;
use crate::session::text::TextSession;
use crate::session::{Context, Peer, Session, SharedContext};
use crate::tls::{self, Tls};
use crate::transport;
use crate::web::Site;

/// Pending connections the kernel may hold before we accept them; large, so a storm of
/// clients connecting at once is queued rather than refused.
const BACKLOG: u32 = 4096;

/// How long a refused connection is kept open for its one line to reach the client.
const REFUSAL_LINGER: Duration = Duration::from_secs(2);

/// After an accept error such as running out of file descriptors, wait this long before
/// trying again instead of spinning.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Binds `address` with `SO_REUSEADDR`, so a restarted server never fails with "address in
/// use" because connections of its predecessor linger in TIME_WAIT.
pub fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

/// Accepts connections on `listener` until `shutdown` is cancelled, serving each in a task
/// tracked by `tasks` with the session its kind speaks, or for a web listener with `site`;
/// with `tls`, over TLS (the server gives it to the TLS kinds). With `proxied` (the addresses
/// of the proxies in front of it), each connection starts with a PROXY header naming the
/// client, and one from anywhere else is closed unheard.
pub async fn accept_loop(
    kind: ListenerKind,
    listener: TcpListener,
    tls: Option<Tls>,
    proxied: Option<AddressList>,
    site: Option<Site>,
    contexts: SharedContext,
    tasks: TaskTracker,
) {
    let shutdown = contexts.current().shutdown.clone();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                transport::configure_tcp(&stream);
                // The settings in force now (a reload changes them for connections to come).
                let context = contexts.current();
                match &proxied {
                    None => serve_accepted(
                        kind,
                        site.as_ref(),
                        tls.clone(),
                        stream,
                        peer,
                        &context,
                        &tasks,
                    ),
                    Some(trusted) if !trusted.contains(peer.ip()) => {
                        warn!(%peer, "closed a connection to a PROXY listener from no trusted proxy");
                    }
                    Some(_) => {
                        let (tls, context, inner_tasks, site) =
                            (tls.clone(), context.clone(), tasks.clone(), site.clone());
                        // The header is read in the connection's own task: a slow proxy holds
                        // up only its own connection, never the accept loop.
                        tasks.spawn(async move {
                            let mut stream = stream;
                            match proxy_protocol::read_header(&mut stream, peer).await {
                                Ok(client) => serve_accepted(
                                    kind,
                                    site.as_ref(),
                                    tls,
                                    stream,
                                    client,
                                    &context,
                                    &inner_tasks,
                                ),
                                Err(error) => debug!(%peer, %error, "no valid PROXY header"),
                            }
                        });
                    }
                }
            }
            Err(error) if is_per_connection_error(&error) => {
                warn!(%error, "a connection failed before it was accepted");
            }
            Err(error) => {
                error!(%error, "accept failed; pausing");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// Serves a connection just accepted from `peer` (its own address, or the one its proxy
/// named): a web listener's over HTTP with its `site` (which admits WebSocket clients as they
/// open `/irc`), a chat listener's once [`admit`]ted.
fn serve_accepted(
    kind: ListenerKind,
    site: Option<&Site>,
    tls: Option<Tls>,
    stream: TcpStream,
    peer: SocketAddr,
    context: &Arc<Context>,
    tasks: &TaskTracker,
) {
    match site {
        Some(site) => {
            let shutdown = context.shutdown.clone();
            tasks.spawn(site.clone().serve(stream, peer, tls, shutdown));
        }
        None => admit(kind, tls, stream, peer, context, tasks),
    }
}

/// Whether a client from `address` is served: not while this server's link to the rest of the
/// network is down (a cluster node's clients should go to another node), nor when a server
/// ban bars the address, nor beyond the connection limits.
pub(crate) fn check_admission(context: &Context, address: IpAddr) -> Result<Admitted, Refusal> {
    if !context.hub.link_is_up() {
        return Err(Refusal::LinkDown);
    }
    match context.hub.address_ban(address) {
        Some(ban) => Err(Refusal::Banned { reason: ban.reason }),
        None => context.admission.admit(address, Instant::now()),
    }
}

/// Serves the client at `peer` (its own address, or the one its proxy named) over `stream` if
/// no server ban bars its address and the connection limits admit it; else tells it why in one
/// line of its protocol and closes the connection. (On a TLS listener a refused client gets no
/// line: it would take a handshake, the very work refusing spares the server.)
fn admit(
    kind: ListenerKind,
    tls: Option<Tls>,
    stream: TcpStream,
    peer: SocketAddr,
    context: &Arc<Context>,
    tasks: &TaskTracker,
) {
    let irc = matches!(kind, ListenerKind::Irc | ListenerKind::IrcTls);
    let admitted = match check_admission(context, peer.ip()) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            let counted_as = refusal.counted_as();
            info!(%peer, reason = counted_as.name(), "connection refused: {refusal}");
            context.metrics.refused(counted_as);
            if tls.is_none() {
                let reason = refusal.to_string();
                let line = if irc {
                    IrcSession::refusal(peer, &reason)
                } else {
                    TextSession::refusal(peer, &reason)
                };
                tasks.spawn(refuse(stream, line));
            }
            return;
        }
    };
    let context = context.clone();
    let open = context.metrics.connection_opened(kind);
    // The connection's place in the counts is given back when its task ends.
    match (tls, irc) {
        (None, false) => tasks.spawn(connection::serve::<TextSession>(
            stream,
            peer,
            context,
            (open, admitted),
        )),
        (None, true) => tasks.spawn(connection::serve::<IrcSession>(
            stream,
            peer,
            context,
            (open, admitted),
        )),
        (Some(tls), false) => tasks.spawn(serve_tls::<TextSession>(
            tls,
            stream,
            peer,
            context,
            (open, admitted),
        )),
        (Some(tls), true) => tasks.spawn(serve_tls::<IrcSession>(
            tls,
            stream,
            peer,
            context,
            (open, admitted),
        )),
    };
}

/// Writes `line` to a refused client and closes the connection once the client has read it:
/// closing a socket with unread input resets it, and the reset may destroy the line before the
/// client reads it, so what the client sends meanwhile is read and ignored, for a short while.
async fn refuse(mut stream: TcpStream, line: Bytes) {
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(&line).await?;
        stream.shutdown().await?;
        let mut ignored = [0; 512];
        while stream.read(&mut ignored).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
}

/// Serves a client of a TLS listener: the handshake first, in the connection's own task so a
/// slow or silent client holds up nobody (it is dropped after the handshake timeout), then the
/// connection as over any other stream.
async fn serve_tls<S: Session>(
    tls: Tls,
    stream: TcpStream,
    address: SocketAddr,
    context: Arc<Context>,
    held: impl Send + 'static,
) {
    // Boxed for its duration, like every rare step of a connection (see `connection.rs`).
    let Some(stream) = Box::pin(tls.handshake(stream, address, &context.shutdown)).await else {
        return;
    };
    let peer = Peer {
        address,
        tls: true,
        certificate_fingerprint: tls::client_fingerprint(&stream),
    };
    connection::serve::<S>(transport::Stream(stream), peer, context, held).await;
}

/// Errors that concern only the one connection being accepted, not the listener.
fn is_per_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}
