//! The operations endpoints, served over HTTP/1.1 (axum) on the `--http-listen` addresses:
//! `/healthz` (the process serves), `/readyz` (it takes clients) and `/metrics` (the
//! [`Metrics`] in the OpenMetrics text format), and the administration API under `/api/v1`
//! ([`crate::admin`]).
//!
//! Not a chat port: nothing here is limited per client, only the administration API is
//! authenticated (its bearer tokens travel in clear over plain HTTP), and the metrics show how
//! busy the server is, so it belongs on loopback or a private address (`docs/SECURITY.md`). Requests have no body and touch no lock on the message path; a
//! scrape takes the hub's nick and room directory locks once each, to count them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::admin::Admin;
use crate::hub::Hub;
use crate::metrics::{CONTENT_TYPE, Metrics};

/// What the endpoints read. Shared by the server, which says when it is ready, and the HTTP
/// tasks.
#[derive(Debug)]
pub struct Operations {
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    /// Whether `/readyz` says ready: set once the listeners are accepting (they are bound and
    /// the store open before that), cleared when shutdown begins.
    ready: AtomicBool,
}

impl Operations {
    pub fn new(hub: Arc<Hub>, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            hub,
            metrics,
            ready: AtomicBool::new(false),
        })
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

/// Serves the endpoints and the administration API `admin` on `listener` until `stop` is
/// cancelled.
pub async fn serve(
    listener: TcpListener,
    operations: Arc<Operations>,
    admin: Arc<Admin>,
    stop: CancellationToken,
) {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(operations)
        .nest(crate::admin::PREFIX, crate::admin::router(admin));
    // With each connection's address: the API counts wrong tokens per address.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
    if let Err(error) = served {
        tracing::warn!(%error, "the operations endpoints stopped");
    }
}

/// 200 while the process serves HTTP at all.
async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 while the server takes clients; 503 before that, once shutdown has begun, and while a
/// cluster node's link to the rest of the network is down (it refuses clients then).
async fn readyz(State(operations): State<Arc<Operations>>) -> impl IntoResponse {
    if !operations.ready.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n".to_owned())
    } else if !operations.hub.link_is_up() {
        let state = operations.hub.link_state().name();
        let text = format!("not ready: the link to the network is {state}\n");
        (StatusCode::SERVICE_UNAVAILABLE, text)
    } else {
        (StatusCode::OK, "ready\n".to_owned())
    }
}

async fn metrics(State(operations): State<Arc<Operations>>) -> impl IntoResponse {
    let hub = &operations.hub;
    let text = operations
        .metrics
        .encode(hub.user_count(), hub.room_count());
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::LinkState;

    #[tokio::test]
    async fn readiness_follows_the_server() {
        let operations = Operations::new(Arc::default(), Arc::default());
        let status = |operations: &Arc<Operations>| {
            let operations = operations.clone();
            async move { readyz(State(operations)).await.into_response().status() }
        };
        assert_eq!(status(&operations).await, StatusCode::SERVICE_UNAVAILABLE);
        operations.set_ready(true);
        assert_eq!(status(&operations).await, StatusCode::OK);
        // A cluster node that lost its link to Redis takes no clients until it is back.
        for state in [LinkState::Degraded, LinkState::Fenced] {
            operations.hub.set_link_state(state);
            assert_eq!(status(&operations).await, StatusCode::SERVICE_UNAVAILABLE);
        }
        operations.hub.set_link_state(LinkState::Connected);
        assert_eq!(status(&operations).await, StatusCode::OK);
        // Shutting down.
        operations.set_ready(false);
        assert_eq!(status(&operations).await, StatusCode::SERVICE_UNAVAILABLE);
    }
}
