//! Binding listening sockets and accepting connections.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::task::TaskTracker;
use tracing::{error, warn};

use crate::config::ListenerKind;
use crate::connection;
use crate::session::irc::IrcSession;
use crate::session::text::TextSession;
use crate::session::{Context, Peer, Session};
use crate::tls::{self, Tls};
use crate::transport;

/// Pending connections the kernel may hold before we accept them; large, so a storm of
/// clients connecting at once is queued rather than refused.
const BACKLOG: u32 = 4096;

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
/// tracked by `tasks` with the session its kind speaks; with `tls`, over TLS (the server
/// gives it to the TLS kinds).
pub async fn accept_loop(
    kind: ListenerKind,
    listener: TcpListener,
    tls: Option<Tls>,
    context: Context,
    tasks: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            () = context.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                transport::configure_tcp(&stream);
                let context = context.clone();
                let irc = matches!(kind, ListenerKind::Irc | ListenerKind::IrcTls);
                match (&tls, irc) {
                    (None, false) => {
                        tasks.spawn(connection::serve::<TextSession>(stream, peer, context))
                    }
                    (None, true) => {
                        tasks.spawn(connection::serve::<IrcSession>(stream, peer, context))
                    }
                    (Some(tls), false) => {
                        let tls = tls.clone();
                        tasks.spawn(serve_tls::<TextSession>(tls, stream, peer, context))
                    }
                    (Some(tls), true) => {
                        let tls = tls.clone();
                        tasks.spawn(serve_tls::<IrcSession>(tls, stream, peer, context))
                    }
                };
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

/// Serves a client of a TLS listener: the handshake first, in the connection's own task so a
/// slow or silent client holds up nobody (it is dropped after the handshake timeout), then the
/// connection as over any other stream.
async fn serve_tls<S: Session>(tls: Tls, stream: TcpStream, address: SocketAddr, context: Context) {
    let Some(stream) = tls.handshake(stream, address, &context.shutdown).await else {
        return;
    };
    let peer = Peer {
        address,
        tls: true,
        certificate_fingerprint: tls::client_fingerprint(&stream),
    };
    connection::serve::<S>(transport::Stream(stream), peer, context).await;
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
