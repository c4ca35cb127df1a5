//! The connections being served, so that shutting down reaches each one through its outbox.
//!
//! A read loop already waits on its outbox for the close and for alerts
//! ([`Outbox::attention`]); the server's shutdown arrives the same way, so that an idle
//! connection waits on one thing besides its socket and its timer, and a read loop woken by
//! its client does not touch a lock shared by every connection (a cancellation token's list
//! of waiters, taken on every poll). Registering costs a lock at connect and at disconnect.

use std::sync::{Arc, Mutex, Weak};

use slab::Slab;

use crate::outbox::Outbox;

/// Shared by every connection of one server, across configuration reloads.
#[derive(Debug, Default)]
pub struct OpenConnections {
    registry: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    outboxes: Slab<Weak<Outbox>>,
    /// Set once: connections that register later are told at once.
    shutting_down: bool,
}

/// A connection's place in [`OpenConnections`], given up when dropped.
#[derive(Debug)]
pub struct Registration<'a> {
    connections: &'a OpenConnections,
    key: usize,
}

impl OpenConnections {
    /// Registers the connection whose outbox this is, until the registration is dropped. If
    /// the server is already shutting down, the outbox hears of it at once.
    pub fn register(&self, outbox: &Arc<Outbox>) -> Registration<'_> {
        let mut registry = crate::lock(&self.registry);
        if registry.shutting_down {
            outbox.shut_down();
        }
        let key = registry.outboxes.insert(Arc::downgrade(outbox));
        Registration {
            connections: self,
            key,
        }
    }

    /// Tells every open connection, and every one that registers from now on, that the server
    /// is shutting down ([`Attention::ShutDown`](crate::outbox::Attention::ShutDown)).
    pub fn shut_down(&self) {
        let outboxes: Vec<Arc<Outbox>> = {
            let mut registry = crate::lock(&self.registry);
            registry.shutting_down = true;
            registry
                .outboxes
                .iter()
                .filter_map(|(_, outbox)| outbox.upgrade())
                .collect()
        };
        // Woken outside the lock: a woken connection deregisters, taking it.
        for outbox in outboxes {
            outbox.shut_down();
        }
    }

    /// How many connections are registered.
    #[cfg(test)]
    fn len(&self) -> usize {
        crate::lock(&self.registry).outboxes.len()
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        crate::lock(&self.connections.registry)
            .outboxes
            .remove(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Attention;

    #[tokio::test]
    async fn shutting_down_reaches_open_connections_and_later_ones_and_forgets_closed_ones() {
        let connections = OpenConnections::default();
        let open = Arc::new(Outbox::new(100));
        let registered = connections.register(&open);
        let gone = Arc::new(Outbox::new(100));
        drop(connections.register(&gone));
        assert_eq!(connections.len(), 1, "a dropped registration is removed");

        connections.shut_down();
        assert_eq!(open.attention().await, Attention::ShutDown);
        assert_eq!(gone.closed_reason(), None);

        let late = Arc::new(Outbox::new(100));
        let _late = connections.register(&late);
        assert_eq!(late.attention().await, Attention::ShutDown);
        drop(registered);
        assert_eq!(connections.len(), 1);
    }
}
