//! What every session is built from: the server's shared state and settings, handed to each
//! new connection.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::accounts::{Accounts, Operators};
use crate::admission::Admission;
use crate::config::{FloodSettings, IrcSettings, Limits};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::network::Network;
use crate::open_connections::OpenConnections;
use crate::store::Store;

/// What the server offers IRC clients because it has TLS listeners.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlsOffer {
    /// The IRCv3 `sts` policy, if one is advertised (`[tls] sts_duration`).
    pub sts: Option<StsPolicy>,
    /// Whether SASL EXTERNAL (a client certificate's fingerprint) is offered: only when a
    /// TLS listener exists, since only there can a client present a certificate.
    pub external: bool,
}

/// The IRCv3 `sts` policy (<https://ircv3.net/specs/extensions/sts>): plain connections are
/// told the TLS `port` to upgrade to, TLS connections for how long to keep to TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StsPolicy {
    pub port: u16,
    pub duration: Duration,
}

/// Everything a connection and its session need from the server, besides the byte stream.
/// Connections share it ([`SharedContext`]); cloned only when a reload changes it.
#[derive(Clone)]
pub struct Context {
    /// The network as this server sees it: read it here (lookups, listings, `NAMES`).
    pub hub: Arc<Hub>,
    /// Where changes to the network go, awaited (`network.rs`): the same hub on a single
    /// server.
    pub network: Network,
    pub store: Store,
    pub accounts: Accounts,
    /// The server operators of the configuration, for `OPER` and `/oper`.
    pub operators: Operators,
    /// Messages replayed to a text user joining a room.
    pub history_on_join: usize,
    /// When a text user's partial line counts as complete (`[text] idle_flush`).
    pub idle_flush: Option<Duration>,
    /// How long a text client may stay silent after connecting (`[text]
    /// registration_timeout`).
    pub text_registration_timeout: Option<Duration>,
    /// Grace period before a user on someone's registered nick is renamed.
    pub nick_grace: Duration,
    pub limits: Limits,
    /// Flood control for each connection (`[flood]`).
    pub flood: Arc<FloodSettings>,
    /// The counts of connections per address and in all; the accept loops admit through it.
    pub admission: Arc<Admission>,
    pub irc: Arc<IrcSettings>,
    /// What IRC clients are told of TLS: the `sts` policy and SASL EXTERNAL.
    pub tls_offer: TlsOffer,
    /// Whether to show peers by a cloak instead of their address.
    pub cloak_hosts: bool,
    /// The server's metrics, where connections count how they end.
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server shuts down; accept loops and TLS handshakes watch it.
    pub shutdown: CancellationToken,
    /// The connections being served, each told of the shutdown through its outbox.
    pub open_connections: Arc<OpenConnections>,
}

/// The context new connections are served with, shared by the accept loops. A reload changes
/// it (`reload.rs`); a connection keeps the context it started with, so settings that live
/// here apply to connections made after the reload. Connections share one copy (an `Arc`),
/// which is 8 bytes of each connection's memory instead of a whole context's.
#[derive(Clone)]
pub struct SharedContext(Arc<std::sync::RwLock<Arc<Context>>>);

impl SharedContext {
    pub fn new(context: Context) -> Self {
        Self(Arc::new(std::sync::RwLock::new(Arc::new(context))))
    }

    /// The context for a new connection.
    pub fn current(&self) -> Arc<Context> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Changes the context of connections to come.
    pub fn update(&self, change: impl FnOnce(&mut Context)) {
        let mut current = self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next = Context::clone(&current);
        change(&mut next);
        *current = Arc::new(next);
    }
}
