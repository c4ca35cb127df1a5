//! The administration API: JSON over HTTP under `/api/v1`, on the operations endpoints'
//! listeners (`--http-listen`), for `palaver admin` and for scripts (`docs/OPERATIONS.md`,
//! "Administration API").
//!
//! Every request but `/api/v1/openapi.json` presents a bearer token from `[[admin.token]]`
//! (`auth.rs`); a token of scope `read` may only read. Writes act through the hub as an `OPER`
//! would, as the actor [`Hub::administrator`] (which also holds a room operator's rights in
//! every room), and through the same session helpers (server bans, redaction, saving
//! registered rooms, forgetting ended rooms), so no chat rule is written twice. Every write,
//! done or refused, is recorded in the audit log (`audit.rs`).
//!
//! `read.rs` and `write.rs` are the handlers with the types of their answers and requests
//! (public: `palaver admin` reads the same types), each described for OpenAPI (`utoipa`); the
//! router registers a handler together with its description (`utoipa_axum::routes!`), so the
//! description served at `/api/v1/openapi.json` (`openapi.rs`) lists exactly the routes served.

mod audit;
mod auth;
pub mod config;
mod error;
mod extract;
mod openapi;
pub mod read;
pub mod write;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Accounts, AdminTokens};
use crate::hub::Hub;
use crate::network::Network;
use crate::reload::Reloader;
use crate::store::Store;

pub use audit::{AuditEntry, Outcome};
pub use openapi::to_json;

/// The path the API is served under.
pub const PREFIX: &str = "/api/v1";

/// What the API's handlers act on: the server's own shared state, the same instances its
/// sessions use, so that the API's writes and the chat commands meet the same rules and locks.
pub struct Admin {
    /// Read for the listings; changes go through `network`, as the sessions' do.
    hub: Arc<Hub>,
    network: Network,
    /// For what the chat commands also keep: bans, deletions, registered rooms, accounts.
    store: Store,
    /// Registration and password resets, with the configured password policy.
    accounts: Accounts,
    /// The `[[admin.token]]` entries; the server's reloader holds a clone and replaces them.
    tokens: AdminTokens,
    audit: audit::Audit,
    /// The server's name (`[irc] server_name`), shown by `/status`.
    server_name: Arc<str>,
    /// What previews a configuration file (`/config/preview`).
    reloader: Reloader,
}

impl Admin {
    pub fn new(
        network: Network,
        store: Store,
        accounts: Accounts,
        tokens: AdminTokens,
        audit_log: Option<std::path::PathBuf>,
        server_name: Arc<str>,
        reloader: Reloader,
    ) -> Arc<Self> {
        Arc::new(Self {
            hub: network.hub().clone(),
            network,
            store,
            accounts,
            tokens,
            audit: audit::Audit::new(audit_log),
            server_name,
            reloader,
        })
    }
}

/// The read and the write endpoints, each registered with its description.
fn endpoints() -> (OpenApiRouter<Arc<Admin>>, OpenApiRouter<Arc<Admin>>) {
    let reads = OpenApiRouter::new()
        .routes(routes!(read::status))
        .routes(routes!(read::users))
        .routes(routes!(read::user))
        .routes(routes!(read::rooms))
        .routes(routes!(read::room))
        .routes(routes!(read::bans))
        .routes(routes!(read::audit))
        .routes(routes!(read::account))
        .routes(routes!(config::preview));
    let writes = OpenApiRouter::new()
        .routes(routes!(write::kill))
        .routes(routes!(write::kick))
        .routes(routes!(write::set_topic))
        .routes(routes!(write::set_modes))
        .routes(routes!(write::delete_message))
        .routes(routes!(write::add_ban, write::remove_ban))
        .routes(routes!(write::register_account))
        .routes(routes!(write::reset_password))
        .routes(routes!(write::lock_account))
        .routes(routes!(write::unlock_account));
    (reads, writes)
}

/// The reads and the writes together, in the description's frame.
fn together(
    reads: OpenApiRouter<Arc<Admin>>,
    writes: OpenApiRouter<Arc<Admin>>,
) -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(reads)
        .merge(writes)
}

/// The API's OpenAPI description, as served at `/api/v1/openapi.json`.
pub fn description() -> utoipa::openapi::OpenApi {
    let (reads, writes) = endpoints();
    together(reads, writes).into_openapi()
}

/// The API's router, to be nested under [`PREFIX`]: the described routes, the description
/// itself at `/openapi.json` (no token needed: it tells nothing about the server), and a JSON
/// 404 for any other path.
pub(crate) fn router(admin: Arc<Admin>) -> Router {
    let (reads, writes) = endpoints();
    // The layer added last runs first: the token is checked, then a write is audited.
    let reads = reads.layer(from_fn_with_state(admin.clone(), auth::authenticate));
    let writes = writes
        .layer(from_fn_with_state(admin.clone(), audit::record_writes))
        .layer(from_fn_with_state(admin.clone(), auth::authenticate));
    let (routes, api) = together(reads, writes).split_for_parts();
    let json = openapi::to_json(&api);
    routes
        .route(
            "/openapi.json",
            axum::routing::get(move || async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    json,
                )
            }),
        )
        .fallback(error::no_such_endpoint)
        .with_state(admin)
}
