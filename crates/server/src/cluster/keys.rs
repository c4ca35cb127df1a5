//! The Redis keys of the nodes, named once. They start with `[cluster] key_prefix`, as the
//! store's (`store/redis_store/keys.rs`) do.

/// The key names of one prefix.
#[derive(Debug, Clone)]
pub(super) struct NodeKeys {
    prefix: String,
}

impl NodeKeys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Set: the names of the nodes registered and not yet removed.
    pub(super) fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    /// String with an expiry: the token of the node's live incarnation.
    pub(super) fn lease(&self, node: &str) -> String {
        format!("{}{node}", self.lease_prefix())
    }

    /// Hash: the node's record (token, start, version, settings digest, counts, heartbeat).
    pub(super) fn record(&self, node: &str) -> String {
        format!("{}{node}", self.record_prefix())
    }

    /// What a lease key is without its node's name: scripts that look at every node build
    /// the keys from it.
    pub(super) fn lease_prefix(&self) -> String {
        format!("{}:lease:", self.prefix)
    }

    /// Hash: the run id of the Redis last seen, and until when (Redis's clock, ms) no lapsed
    /// node is released (a lease after Redis started again).
    pub(super) fn run(&self) -> String {
        format!("{}:run", self.prefix)
    }

    pub(super) fn record_prefix(&self) -> String {
        format!("{}:node:", self.prefix)
    }
}
