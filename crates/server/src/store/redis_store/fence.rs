//! The fence on a cluster node's writes (docs/CLUSTER.md, "Leases and heartbeats"): once a
//! node has registered, Redis stores its messages only while the node's lease still holds the
//! token of its incarnation. A node whose lease lapsed (it was cut off long enough to be taken
//! for dead, and perhaps replaced) cannot then add to the history behind the network's back,
//! whatever its own clock believes.
//!
//! The node ([`crate::cluster::Node`]) says which lease and token count, at each registration;
//! the store's appends (`scripts/append.lua`) check them in the same step as they write. A
//! store no node fences (`palaver cluster import`, tests) writes unchecked.

use std::sync::{Arc, Mutex};

/// The lease key and token a store's writes are checked against. Cheap to clone: the node and
/// the store share one.
#[derive(Debug, Clone, Default)]
pub struct Fence(Arc<Mutex<Option<Lease>>>);

#[derive(Debug, Clone)]
struct Lease {
    key: String,
    token: String,
}

impl Fence {
    /// From now on writes go through only while `key` holds `token`.
    pub fn hold(&self, key: String, token: String) {
        *crate::lock(&self.0) = Some(Lease { key, token });
    }

    /// The lease key and token to check, or empty strings for an unfenced store.
    pub(super) fn current(&self) -> (String, String) {
        match &*crate::lock(&self.0) {
            Some(lease) => (lease.key.clone(), lease.token.clone()),
            None => (String::new(), String::new()),
        }
    }
}
