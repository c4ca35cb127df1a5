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
use crate::store::Store;

/// Everything a connection and its session need from the server, besides the byte stream.
/// Cheap to clone: one per connection.
#[derive(Clone)]
pub struct Context {
    pub hub: Arc<Hub>,
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
    /// Whether to show peers by a cloak instead of their address.
    pub cloak_hosts: bool,
    /// The server's metrics, where connections count how they end.
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server shuts down; every connection watches it.
    pub shutdown: CancellationToken,
}
