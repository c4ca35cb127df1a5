//! `/irc`: the WebSocket handshake (origin check, subprotocol, admission), then an IRC session
//! over the frames (`frames.rs`).
//!
//! The origin check stops other websites' pages from opening a chat connection in their
//! visitors' browsers: a browser always says which page opens a WebSocket (`Origin`), and only
//! the listener's own origin and `[web] allowed_origins` are let in. A client that is not a
//! browser sends no `Origin` and is let in like any IRC client.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Extension, State};
use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::info;

use super::frames::{FrameMode, WebSocketTransport};
use super::{Chat, Connection};
use crate::addresses::AddressList;
use crate::config::ListenerKind;
use crate::connection;
use crate::session::irc::IrcSession;
use crate::session::{Peer, Session};

/// The largest frame taken: well above the longest IRC line (8,191 bytes of tags and 512 of
/// message), so the session, not the WebSocket layer, answers a line that is too long.
const MAX_FRAME_BYTES: usize = 64 * 1024;

/// What the WebSocket layer reads the socket with; a line is far smaller (the default,
/// 128 KiB, would be held by every connection).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// How much the WebSocket layer gathers before writing to the socket; a flush writes the rest.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

pub(super) async fn upgrade(
    State(chat): State<Chat>,
    Extension(connection): Extension<Connection>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let connection = forwarded(&headers, connection, chat.proxies.as_ref());
    if !origin_allowed(&headers, connection.tls, &chat.allowed_origins) {
        info!(peer = %connection.peer, "refused a WebSocket from a page of another origin");
        return (
            StatusCode::FORBIDDEN,
            "this page's origin may not connect here (see [web] allowed_origins)\n",
        )
            .into_response();
    }
    // From the header itself: the client's order is its preference.
    let requested = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    let chosen = FrameMode::chosen(requested);
    let upgrade = match chosen {
        Some(mode) => upgrade.protocols([mode.name()]),
        None => upgrade,
    };
    let mode = chosen.unwrap_or(FrameMode::Text);
    let tasks = chat.tasks.clone();
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| tasks.track_future(serve(socket, mode, connection, chat)))
}

/// The client behind `connection`: itself, or, when `connection` comes from one of `proxies`,
/// the client named by the last address of `X-Forwarded-For` (the one that proxy added),
/// over TLS if `X-Forwarded-Proto` says `https`.
fn forwarded(
    headers: &HeaderMap,
    connection: Connection,
    proxies: Option<&AddressList>,
) -> Connection {
    if !proxies.is_some_and(|proxies| proxies.contains(connection.peer.ip())) {
        return connection;
    }
    let client = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        // Only the last entry is the proxy's own; any before it came from the client.
        .next_back()
        .and_then(|address| address.trim().parse::<IpAddr>().ok());
    let tls = match headers.get("x-forwarded-proto").map(HeaderValue::as_bytes) {
        Some(b"https") => true,
        Some(b"http") => false,
        _ => connection.tls,
    };
    Connection {
        // The client's port is not forwarded.
        peer: client.map_or(connection.peer, |ip| SocketAddr::new(ip, 0)),
        tls,
    }
}

/// Whether the page that opened the WebSocket may: no `Origin` (not a browser), the
/// listener's own origin (the same scheme and `Host`), or an allowed one.
fn origin_allowed(headers: &HeaderMap, tls: bool, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.to_ascii_lowercase();
    let scheme = if tls { "https" } else { "http" };
    let own = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .is_some_and(|host| origin == format!("{scheme}://{}", host.to_ascii_lowercase()));
    own || allowed
        .iter()
        .any(|allowed| allowed == "*" || *allowed == origin)
}

/// Admits the client as a chat connection and serves its IRC session, or tells it why not.
async fn serve(socket: WebSocket, mode: FrameMode, connection: Connection, chat: Chat) {
    let context = chat.contexts.current();
    let address = connection.peer.ip();
    let admitted = crate::listener::check_admission(&context, address);
    let kind = if connection.tls {
        ListenerKind::WebTls
    } else {
        ListenerKind::Web
    };
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => {
            let counted_as = refusal.counted_as();
            info!(peer = %connection.peer, reason = counted_as.name(), "connection refused: {refusal}");
            context.metrics.refused(counted_as);
            let line = IrcSession::refusal(connection.peer, &refusal.to_string());
            refuse(socket, mode, &line).await;
            return;
        }
    };
    let open = context.metrics.connection_opened(kind);
    let peer = Peer {
        address: connection.peer,
        tls: connection.tls,
        certificate_fingerprint: None,
    };
    let transport = WebSocketTransport { socket, mode };
    connection::serve::<IrcSession>(transport, peer, context, (open, admitted)).await;
}

/// Sends a refused client its `ERROR` line as one frame, then closes the WebSocket.
async fn refuse(mut socket: WebSocket, mode: FrameMode, line: &[u8]) {
    let line = line.strip_suffix(b"\r\n").unwrap_or(line);
    let frame = match mode {
        FrameMode::Text => Message::Text(String::from_utf8_lossy(line).into_owned().into()),
        FrameMode::Binary => Message::Binary(bytes::Bytes::copy_from_slice(line)),
    };
    let close = Message::Close(Some(CloseFrame {
        code: close_code::POLICY,
        reason: "connection refused".into(),
    }));
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        socket.send(frame).await?;
        socket.send(close).await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn only_a_trusted_proxy_says_who_the_client_is_and_whether_it_came_over_tls() {
        let mut headers = headers("chat.example.org", Some("https://chat.example.org"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let from_proxy = Connection {
            peer: "127.0.0.1:40000".parse().unwrap(),
            tls: false,
        };
        let trusted = AddressList::loopback();
        let client = forwarded(&headers, from_proxy, Some(&trusted));
        assert_eq!(client.peer, "203.0.113.9:0".parse().unwrap());
        assert!(client.tls);
        assert!(origin_allowed(&headers, client.tls, &[]));
        let untrusted = forwarded(&headers, from_proxy, None);
        assert_eq!(untrusted.peer, from_proxy.peer);
        assert!(!untrusted.tls);
    }

    #[test]
    fn pages_of_the_listener_s_own_origin_and_allowed_ones_may_connect() {
        let none: &[String] = &[];
        let own = headers(
            "chat.example.org:8080",
            Some("http://chat.example.org:8080"),
        );
        assert!(origin_allowed(&own, false, none));
        assert!(!origin_allowed(&own, true, none), "the scheme counts");
        let other = headers("chat.example.org", Some("https://evil.example"));
        assert!(!origin_allowed(&other, true, none));
        assert!(origin_allowed(
            &other,
            true,
            &["https://evil.example".to_owned()]
        ));
        assert!(origin_allowed(&other, true, &["*".to_owned()]));
        assert!(
            origin_allowed(&headers("chat.example.org", None), true, none),
            "not a browser"
        );
    }
}
