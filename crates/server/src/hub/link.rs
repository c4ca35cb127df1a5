//! Whether this server can reach the rest of the network (a cluster node's link to Redis,
//! docs/CLUSTER.md "Partition between a node and Redis"), and what users see when it cannot.
//! A single node is always connected.
//!
//! The node's heartbeat decides the state (`cluster/node.rs`); the server hands each change
//! to [`Hub::set_link_state`], which tells the users. The hub keeps the state so that every
//! place that must refuse while the link is down can ask without waiting: messages
//! ([`HubError::LinkDown`](super::HubError::LinkDown)), new connections (`listener.rs`) and
//! `/readyz`.

use std::sync::atomic::{AtomicU8, Ordering};

use super::Hub;
use super::user::Alert;
use crate::metrics::LinkState;

/// The server notice every user gets when the link goes down, and when it is back.
pub const LINK_DOWN_NOTICE: &str =
    "the link to the rest of the network is down; messages cannot be sent until it is back";
pub const LINK_BACK_NOTICE: &str = "the link to the rest of the network is back";

/// The quit reason of users disconnected when this server is fenced.
pub const LINK_LOST: &str = "this server lost its link to the network";

/// The link's state, in an atomic: read on every message.
#[derive(Debug)]
pub(super) struct LinkCell(AtomicU8);

impl Default for LinkCell {
    fn default() -> Self {
        Self(AtomicU8::new(LinkState::Connected as u8))
    }
}

impl LinkCell {
    fn load(&self) -> LinkState {
        match self.0.load(Ordering::Relaxed) {
            0 => LinkState::Connected,
            1 => LinkState::Degraded,
            _ => LinkState::Fenced,
        }
    }

    /// Stores `state`; returns the one it replaced.
    fn swap(&self, state: LinkState) -> LinkState {
        let previous = self.0.swap(state as u8, Ordering::Relaxed);
        match previous {
            0 => LinkState::Connected,
            1 => LinkState::Degraded,
            _ => LinkState::Fenced,
        }
    }
}

impl Hub {
    /// This server's link to the rest of the network.
    pub fn link_state(&self) -> LinkState {
        self.link.load()
    }

    /// Whether messages may be sent and clients admitted: the link is connected.
    pub fn link_is_up(&self) -> bool {
        self.link_state() == LinkState::Connected
    }

    /// Counts a message or command refused because the link is down
    /// (`palaver_cluster_refused_total`): every place that refuses one calls it.
    pub fn count_link_refusal(&self) {
        if let Some(cluster) = self.settings.metrics.cluster() {
            cluster.refused_while_link_down();
        }
    }

    /// Takes the link's new state and tells the users: a server notice when it goes down
    /// (degraded) and when it is back; when fenced, every user is disconnected (each session
    /// is alerted and ends with [`LINK_LOST`]), since the rest of the network takes this
    /// server's users for gone.
    pub fn set_link_state(&self, state: LinkState) {
        let previous = self.link.swap(state);
        match (previous, state) {
            (LinkState::Connected, LinkState::Degraded) => self.broadcast_notice(LINK_DOWN_NOTICE),
            (LinkState::Degraded, LinkState::Connected) => self.broadcast_notice(LINK_BACK_NOTICE),
            (previous, LinkState::Fenced) if previous != LinkState::Fenced => {
                for user in self.users() {
                    user.alert(Alert::LinkLost);
                }
            }
            _ => {}
        }
    }
}
