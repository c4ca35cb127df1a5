//! palaver's chat server: listeners accept connections, each connection runs a protocol
//! session, sessions act through the shared [`hub::Hub`], and the hub fans events out through
//! each recipient's bounded [`outbox::Outbox`].
//!
//! See `docs/ARCHITECTURE.md` for the map and the invariants.

pub mod accounts;
mod addresses;
pub mod admin;
mod admission;
pub mod cluster;
pub mod config;
mod connection;
mod flood;
#[doc(hidden)]
pub mod fuzzing;
pub mod hub;
mod listener;
pub mod metrics;
pub mod network;
pub mod open_connections;
mod operations;
pub mod outbox;
mod proxy_protocol;
mod rate_limit;
pub mod reload;
pub mod server;
pub mod session;
pub mod store;
#[doc(hidden)]
pub mod test_redis;
pub mod tls;
pub mod transport;
pub mod web;

pub use config::Config;
pub use server::Server;

/// Locks a mutex. Every critical section in this crate leaves its data consistent at each step,
/// so a lock poisoned by a panicking thread is still safe to use.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
