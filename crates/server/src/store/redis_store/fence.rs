//! The fence on a cluster node's writes (docs/CLUSTER.md, "Leases and heartbeats"): once a
//! node has registered, Redis takes its store's writes only while the node's lease still holds
//! the token of its incarnation. A node whose lease lapsed (it was cut off long enough to be taken
//! for dead, and perhaps replaced) cannot then add to the history behind the network's back,
//! whatever its own clock believes, nor change its accounts, rooms or bans.
//!
//! The node ([`crate::cluster::Node`]) says which lease and token count, at each registration;
//! every script the store writes with starts with `scripts/fence.lua`, which checks them in the
//! same step as the script writes: appends, accounts, certificates, registered rooms, server
//! bans, read markers, deletions and retention alike. A store no node fences (`palaver cluster
//! import`, tests) writes unchecked.

use std::sync::{Arc, Mutex};

use redis::ScriptInvocation;

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

    /// Adds the lease key and the token it must hold as `invocation`'s last key and argument,
    /// where `scripts/fence.lua` takes them off (empty for an unfenced store): call it once
    /// every other key and argument is in.
    pub(crate) fn seal(&self, invocation: &mut ScriptInvocation<'_>) {
        let (key, token) = match &*crate::lock(&self.0) {
            Some(lease) => (lease.key.clone(), lease.token.clone()),
            None => (String::new(), String::new()),
        };
        invocation.key(key).arg(token);
    }
}
