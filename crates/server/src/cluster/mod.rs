//! Cluster mode's nodes (`--cluster redis://…`, docs/CLUSTER.md): each palaver process on a
//! Redis is a *node* with a name, a lease that it renews with a heartbeat, and a record that
//! `palaver cluster status` reads.
//!
//! Built so far: the store on Redis (`store/redis_store/`) and the nodes themselves
//! (`node.rs`, with the lease's deadline in `lease.rs` and the status report in
//! `status.rs`), and the first parts of sharing users: their directory in Redis (`users.rs`:
//! ids, nick claims, home nodes), the feeds that tell the nodes of them and carry private
//! messages (`wire.rs`, `feed.rs`, `applier.rs`), and the map of cluster ids
//! (`user_ids.rs`). Nodes do not yet share rooms, so a Redis (under one key prefix) takes one
//! live node at a time: a second one is refused at start.

pub mod applier;
pub mod feed;
mod keys;
mod lease;
mod node;
pub mod rooms;
mod scripts;
pub mod status;
pub mod user_ids;
pub mod users;
pub mod wire;

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::Config;
pub use node::{IMPORT_NODE, Node, NodeCounts, NodeFacts, default_node_name};

use crate::store::RedisSettings;

/// What `[cluster] heartbeat`, `lease` and `timeout` are unless set.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(2);
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// `[cluster]` resolved: where Redis is, and how this node stays registered there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    pub redis: RedisSettings,
    /// `[cluster] node_name` or `--node-name`; `None`: the host's name and the port of the
    /// first chat listener ([`default_node_name`]).
    pub node_name: Option<String>,
    /// How often the node renews its lease.
    pub heartbeat: Duration,
    /// How long a lease lasts unrenewed: how soon a node that died is known to be gone.
    pub lease: Duration,
    /// How long a renewal may go unanswered before the node counts itself degraded (it goes
    /// on waiting for the answer until its deadline).
    pub timeout: Duration,
}

/// Why a node could not join, or stay in, the cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot reach Redis at {url}: {message}")]
    Unreachable { url: String, message: String },
    /// Another node holds what this one needs; the message says which and what to do.
    #[error("{0}")]
    Refused(String),
}

/// Whether `name` can name a node: it is part of Redis keys and of `cluster status`'s table.
pub fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "_-.".contains(character))
}

/// A digest of the settings users can observe, which every node of a cluster should share:
/// the server's name, retention, rooms per user, operators and account rules. Nodes record
/// it, and `cluster status` marks a node whose digest differs from most others'.
pub fn settings_digest(config: &Config) -> String {
    let observable = format!(
        "{:?}",
        (
            &config.irc.server_name,
            config.store.history_max_age,
            config.store.history_max_per_room,
            config.limits.rooms_per_user,
            &config.operators,
            &config.accounts,
        )
    );
    let digest = Sha256::digest(observable.as_bytes());
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
