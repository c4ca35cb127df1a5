//! The web listeners (`--web-listen`, `--web-tls-listen`): HTTP/1.1 serving the browser client
//! (`assets.rs`) and IRC over WebSocket at `/irc`, and at `/` for a WebSocket opened there
//! (`websocket.rs`, `frames.rs`).
//!
//! Each accepted connection is served in its own task (tracked like every chat connection, so
//! shutdown waits for it): the TLS handshake first on a `webs` listener, then HTTP with
//! upgrades. A WebSocket client becomes an IRC session like any other; only the bytes it
//! travels in differ. Fetching the client's files is not a chat connection and is not counted
//! against the per-address limits; opening `/irc` is.

mod assets;
pub(crate) mod frames;
mod websocket;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Extension, FromRef, State};
use axum::http::{HeaderMap, Method, Request, Uri};
use axum::response::Response;
use axum::routing::get;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::task::TaskTracker;
use tower::Service;
use tracing::debug;

use crate::addresses::AddressList;
use crate::config::WebSettings;
use crate::session::SharedContext;
use crate::tls::Tls;

pub use assets::Assets;

/// How long a client has to send a request's headers, the first or the next on a kept-alive
/// connection: a connection that sends nothing is closed, and holds no task for long.
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
pub use frames::{FrameMode, WebSocketTransport};

/// What a web listener serves, shared by its connections.
#[derive(Clone)]
pub struct Site {
    router: Router,
}

/// What the handlers know of the connection a request came on (a request extension).
#[derive(Debug, Clone, Copy)]
struct Connection {
    /// The client's address (or the one its PROXY header named).
    peer: SocketAddr,
    /// Whether it came over TLS: the scheme of the listener's own origin.
    tls: bool,
}

/// What the `/irc` handler needs besides the request.
#[derive(Clone)]
struct Chat {
    contexts: SharedContext,
    tasks: TaskTracker,
    allowed_origins: Arc<[String]>,
    /// The reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed
    /// (`[web] trust_forwarded_for`); `None`: nobody's.
    proxies: Option<AddressList>,
}

/// The state of every route.
#[derive(Clone)]
struct Routes {
    chat: Chat,
    assets: Assets,
}

impl FromRef<Routes> for Chat {
    fn from_ref(routes: &Routes) -> Self {
        routes.chat.clone()
    }
}

impl FromRef<Routes> for Assets {
    fn from_ref(routes: &Routes) -> Self {
        routes.assets.clone()
    }
}

/// `/`: the web client's page, or IRC for a WebSocket opened there (as clients given only a
/// host and port do, `ws://chat.example.org:8080`).
async fn front_door(
    State(routes): State<Routes>,
    connection: Extension<Connection>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    method: Method,
    uri: Uri,
) -> Response {
    match upgrade {
        Ok(upgrade) => websocket::upgrade(State(routes.chat), connection, headers, upgrade).await,
        Err(_not_websocket) => assets::serve(State(routes.assets), method, uri).await,
    }
}

impl Site {
    /// The routes of a web listener: the client's files, and `/irc`. Its WebSocket sessions
    /// are tracked by `tasks` and run with the context of the moment they connect; a request
    /// from one of `proxies` is taken to be for the client its forwarding headers name.
    pub fn new(
        settings: &WebSettings,
        assets: Assets,
        proxies: Option<AddressList>,
        contexts: SharedContext,
        tasks: TaskTracker,
    ) -> Self {
        let chat = Chat {
            contexts,
            tasks,
            allowed_origins: settings.allowed_origins.clone().into(),
            proxies,
        };
        let router = Router::new()
            .route("/irc", get(websocket::upgrade))
            .route("/", get(front_door))
            .fallback(assets::serve)
            .with_state(Routes { chat, assets });
        Self { router }
    }

    /// Serves one accepted connection until it closes or shutdown begins: TLS first with
    /// `tls`, then HTTP/1.1 with upgrades.
    pub async fn serve(
        self,
        stream: TcpStream,
        peer: SocketAddr,
        tls: Option<Tls>,
        context_shutdown: tokio_util::sync::CancellationToken,
    ) {
        match tls {
            None => {
                let connection = Connection { peer, tls: false };
                self.serve_http(stream, connection, context_shutdown).await;
            }
            Some(tls) => {
                // Boxed for its duration, like every rare step of a connection.
                let handshake = Box::pin(tls.handshake(stream, peer, &context_shutdown));
                let Some(stream) = handshake.await else {
                    return;
                };
                let connection = Connection { peer, tls: true };
                self.serve_http(stream, connection, context_shutdown).await;
            }
        }
    }

    async fn serve_http<S>(
        self,
        stream: S,
        connection: Connection,
        shutdown: tokio_util::sync::CancellationToken,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let router = self.router;
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(connection);
            let mut router = router.clone();
            async move {
                let response = router.call(request.map(Body::new)).await;
                Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
            }
        });
        let http = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::pin!(http);
        let served = tokio::select! {
            served = http.as_mut() => served,
            () = shutdown.cancelled() => {
                // Finish the request in progress, take no other.
                http.as_mut().graceful_shutdown();
                http.await
            }
        };
        if let Err(error) = served {
            debug!(peer = %connection.peer, %error, "an HTTP connection ended with an error");
        }
    }
}
