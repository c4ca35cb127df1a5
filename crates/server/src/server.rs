//! The server as a whole: bind every listener, run until told to stop, shut down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::accounts::{Accounts, AdminTokens, LoginLimits, Operators, RegistrationPolicy};
use crate::admin::Admin;
use crate::admission::Admission;
use crate::cluster::applier::{Applier, Apply, InboxApplier, StateApplier, follow};
use crate::cluster::user_ids::UserIds;
use crate::cluster::users::{Feed, FeedError, UserDirectory};
use crate::cluster::{
    ClusterError, Node, NodeCounts, NodeFacts, default_node_name, settings_digest,
};
use crate::config::{Config, ListenerKind};
use crate::hub::{Hub, HubSettings};
use crate::listener;
use crate::metrics::Metrics;
use crate::network::{ClusterNetwork, Network};
use crate::open_connections::OpenConnections;
use crate::operations::{self, Operations};
use crate::rate_limit::AddressRate;
use crate::reload::Reloader;
use crate::session::{Context, SharedContext, StsPolicy, TlsOffer};
use crate::store::{Fence, Store, StoreConfig, StoreError};
use crate::tls::{Tls, TlsError};
use crate::web::{Assets, Site};

/// The kind name of the operations endpoints' listeners in `listening http ADDR`.
const HTTP_KIND: &str = "http";

/// How long the operations endpoints may take to finish their requests at the very end.
const HTTP_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// How often retention runs.
const PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Error)]
pub enum BindError {
    #[error("cannot listen on {address} ({kind})")]
    Listen {
        kind: &'static str,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// A server whose listeners are bound and which is ready to [`run`](Server::run).
pub struct Server {
    config: Config,
    listeners: Vec<(ListenerKind, TcpListener)>,
    /// The operations endpoints' listeners (`--http-listen`).
    http_listeners: Vec<TcpListener>,
    hub: Arc<Hub>,
    store: Store,
    metrics: Arc<Metrics>,
    /// The certificate of the TLS listeners, when one is configured.
    tls: Option<Tls>,
    reloader: Reloader,
    /// This server's node, in cluster mode.
    node: Option<Node>,
    /// Where sessions change the network: the hub, or in cluster mode the cluster too.
    network: Network,
    /// In cluster mode, which hub user is which user of the cluster.
    user_ids: Arc<UserIds>,
    /// In cluster mode, the sequence number of the last state feed event the hub applied:
    /// told by the state feed's follower, awaited by sessions (`network/cluster.rs`).
    state_applied: Arc<tokio::sync::watch::Sender<u64>>,
    /// In cluster mode, the state feed's applier, its snapshot of the cluster loaded into the
    /// hub before the server says it is ready; `run` follows the feed with it.
    state_changes: Option<StateApplier>,
}

impl Server {
    /// Opens the store (recovering it after a crash) and binds every configured listener;
    /// fails on the first that cannot be bound.
    pub async fn bind(config: Config) -> Result<Self, BindError> {
        // The certificate first: a bad one is the likeliest mistake, and reported before any
        // port is taken. (`Config::resolve` made sure every TLS listener has one.)
        let tls = config
            .tls
            .certificate
            .as_ref()
            .map(|files| Tls::new(files, config.tls.handshake_timeout))
            .transpose()?;
        if tls.is_none() && config.listeners.iter().any(|wanted| wanted.kind.is_tls()) {
            return Err(TlsError::NoCertificate.into());
        }
        let listeners: Vec<(ListenerKind, TcpListener)> = config
            .listeners
            .iter()
            .map(|wanted| {
                bind_listener(wanted.kind.name(), wanted.address).map(|bound| (wanted.kind, bound))
            })
            .collect::<Result<_, _>>()?;
        let http_listeners = config
            .http_listen
            .iter()
            .map(|&address| bind_listener(HTTP_KIND, address))
            .collect::<Result<_, _>>()?;
        let metrics = Arc::new(if config.cluster.is_some() {
            Metrics::for_cluster()
        } else {
            Metrics::new()
        });
        // The node's lease first: it says whether this process may use the Redis at all.
        let node = match &config.cluster {
            Some(cluster) => {
                let first_port = listeners
                    .iter()
                    .find_map(|(_, listener)| Some(listener.local_addr().ok()?.port()))
                    .unwrap_or(0);
                let name = cluster
                    .node_name
                    .clone()
                    .unwrap_or_else(|| default_node_name(first_port));
                let facts = NodeFacts {
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    settings_digest: settings_digest(&config),
                };
                Some(Node::start(cluster, name, facts, metrics.clone()).await?)
            }
            None => None,
        };
        let (store, hub) = match open_state(&config, &metrics).await {
            Ok(state) => state,
            Err(error) => {
                // Leave the cluster at once, rather than hold the name for a lease.
                if let Some(node) = &node {
                    node.stop().await;
                }
                return Err(error);
            }
        };
        let hub = Arc::new(hub);
        let mut network = Network::local(hub.clone());
        let user_ids = Arc::new(UserIds::default());
        let state_applied = Arc::new(tokio::sync::watch::Sender::new(0));
        let mut state_changes = None;
        // In cluster mode the store is on Redis (`open_state`): it has a fence and history
        // entries.
        if let (Some(node), Some(cluster), Some(history)) =
            (&node, &config.cluster, store.history_entries())
        {
            let fence = store.fence().unwrap_or_default();
            node.fence_writes(fence.clone());
            // The node's users are claimed under its lease, as the store's writes are.
            let directory = match UserDirectory::open(
                &cluster.redis.url,
                &cluster.redis.key_prefix,
                node.name(),
                fence,
            )
            .await
            {
                // A node makes a call again at most until it is fenced, within a lease.
                Ok(directory) => directory.keep_nonces_for(cluster.lease * 2),
                Err(error) => {
                    node.stop().await;
                    return Err(ClusterError::Unreachable {
                        url: cluster.redis.display_url(),
                        message: error.to_string(),
                    }
                    .into());
                }
            };
            // The other nodes' users and the rooms, in the hub before the first client: a
            // node is ready once its replica is (the feed is followed from the snapshot on;
            // should the snapshot fail, the follower loads one).
            let mut changes = StateApplier::for_state(node.name(), hub.clone(), user_ids.clone());
            match directory.snapshot().await {
                Ok(snapshot) => {
                    changes.load(snapshot);
                    state_applied.send_replace(changes.applied());
                }
                Err(error) => warn!(%error, "could not load the cluster's users and rooms yet"),
            }
            state_changes = Some(changes);
            network = Network::cluster(ClusterNetwork::new(
                hub.clone(),
                directory.count_in(metrics.clone()),
                user_ids.clone(),
                state_applied.subscribe(),
                node.link_states(),
                history,
            ));
            let (hub, metrics) = (hub.clone(), metrics.clone());
            node.count_with(move || NodeCounts {
                users: hub.user_count(),
                connections: metrics.open_connections(),
                rooms: hub.room_count(),
            });
        }
        Ok(Self {
            reloader: Reloader::new(config.clone(), tls.clone()),
            config,
            listeners,
            http_listeners,
            hub,
            store,
            metrics,
            tls,
            node,
            network,
            user_ids,
            state_applied,
            state_changes,
        })
    }

    /// The bound address of each listener, in configuration order, with its kind's name: the
    /// chat listeners, then the operations endpoints' (`http`).
    pub fn local_addresses(&self) -> Vec<(&'static str, SocketAddr)> {
        let chat = self
            .listeners
            .iter()
            .map(|(kind, listener)| (kind.name(), listener));
        let http = self
            .http_listeners
            .iter()
            .map(|listener| (HTTP_KIND, listener));
        chat.chain(http)
            .filter_map(|(kind, listener)| Some((kind, listener.local_addr().ok()?)))
            .collect()
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// What applies a changed configuration to this server while it runs (on SIGHUP).
    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// What IRC clients are told of TLS: SASL EXTERNAL where a TLS listener exists, and the
    /// `sts` policy when `[tls] sts_duration` is set, pointing to `[tls] sts_port` or else the
    /// first `ircs` listener's port (no policy without either).
    fn tls_offer(&self) -> TlsOffer {
        let ircs_port = self
            .listeners
            .iter()
            .filter(|(kind, _)| *kind == ListenerKind::IrcTls)
            .find_map(|(_, listener)| Some(listener.local_addr().ok()?.port()));
        let port = self.config.tls.sts_port.or(ircs_port);
        TlsOffer {
            sts: port
                .zip(self.config.tls.sts_duration)
                .map(|(port, duration)| StsPolicy { port, duration }),
            external: self.listeners.iter().any(|(kind, _)| kind.is_tls()),
        }
    }

    /// Serves until `shutdown` completes, then stops accepting, tells every client the server
    /// is shutting down, and waits up to the grace period for their output to flush. A cluster
    /// node also stops, with an error, when another node took its place.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), ClusterError> {
        let stop = CancellationToken::new();
        let open_connections = Arc::new(OpenConnections::default());
        let tasks = TaskTracker::new();
        let accounts = Accounts::new(
            self.store.clone(),
            LoginLimits::default(),
            RegistrationPolicy {
                min_bytes: self.config.accounts.min_password_bytes,
                require_email: self.config.accounts.require_email,
            },
        )
        .limit_registrations(AddressRate::new(
            self.config.address_limits.account_registrations_per_address,
            self.config.address_limits.exempt.clone(),
        ));
        let context = Context {
            hub: self.hub.clone(),
            network: self.network.clone(),
            store: self.store.clone(),
            operators: Operators::new(self.config.operators.clone(), accounts.clone()),
            accounts: accounts.clone(),
            history_on_join: self.config.text.history_on_join,
            idle_flush: self.config.text.idle_flush,
            text_registration_timeout: self.config.text.registration_timeout,
            nick_grace: self.config.accounts.nick_grace,
            limits: self.config.limits,
            flood: Arc::new(self.config.flood.clone()),
            admission: Admission::new(self.config.address_limits.clone()),
            irc: Arc::new(self.config.irc.clone()),
            tls_offer: self.tls_offer(),
            cloak_hosts: self.config.cloak_hosts,
            metrics: self.metrics.clone(),
            shutdown: stop.clone(),
            open_connections: open_connections.clone(),
        };
        // The endpoints answer through the whole shutdown (`/readyz` with 503) and stop last;
        // they are not among the tasks shutdown waits for. Ready from the start: the listeners
        // are bound and the store open, and what connects before the accept loops run waits
        // in the backlog.
        let operations = Operations::new(self.hub.clone(), self.metrics.clone());
        operations.set_ready(true);
        let admin_tokens = AdminTokens::new(self.config.admin.tokens.clone(), accounts.clone());
        self.reloader.administer_with(admin_tokens.clone());
        let admin = Admin::new(
            self.network.clone(),
            self.store.clone(),
            accounts.clone(),
            admin_tokens,
            self.config.admin.audit_log.clone(),
            self.config.irc.server_name.as_str().into(),
            self.reloader.clone(),
        );
        let stop_http = CancellationToken::new();
        let http_tasks = TaskTracker::new();
        for listener in self.http_listeners {
            http_tasks.spawn(operations::serve(
                listener,
                operations.clone(),
                admin.clone(),
                stop_http.clone(),
            ));
        }
        http_tasks.close();
        let contexts = SharedContext::new(context);
        self.reloader.serve_with(contexts.clone());
        // Bound in configuration order, so each pairs with its configured address.
        for ((kind, listener), wanted) in self.listeners.into_iter().zip(&self.config.listeners) {
            let proxied = self
                .config
                .proxy
                .listeners
                .contains(&wanted.address)
                .then(|| self.config.proxy.trusted_proxies.clone());
            let tls = if kind.is_tls() {
                self.tls.clone()
            } else {
                None
            };
            let site = kind.is_web().then(|| {
                let assets = Assets::from_root(self.config.web.root.clone());
                let proxies = (self.config.web.trust_forwarded_for)
                    .then(|| self.config.proxy.trusted_proxies.clone());
                Site::new(
                    &self.config.web,
                    assets,
                    proxies,
                    contexts.clone(),
                    tasks.clone(),
                )
            });
            tasks.spawn(listener::accept_loop(
                kind,
                listener,
                tls,
                proxied,
                site,
                contexts.clone(),
                tasks.clone(),
            ));
        }
        if let (Some(node), Some(cluster)) = (&self.node, &self.config.cluster) {
            tokio::spawn(follow_link(
                node.link_states(),
                self.hub.clone(),
                stop.clone(),
            ));
            let redis = (
                cluster.redis.url.clone(),
                cluster.redis.key_prefix.clone(),
                node.name().to_owned(),
            );
            let (hub, ids) = (self.hub.clone(), self.user_ids.clone());
            let changes = self
                .state_changes
                .take()
                .unwrap_or_else(|| StateApplier::for_state(node.name(), hub.clone(), ids.clone()));
            let metrics = self.metrics.clone();
            tokio::spawn(follow_feed(
                redis.clone(),
                (Feed::State, self.state_applied.clone()),
                changes,
                metrics.clone(),
                stop.clone(),
            ));
            let inbox = Feed::Inbox(node.name().to_owned());
            let inbox_applied = Arc::new(tokio::sync::watch::Sender::new(0));
            let deliveries = InboxApplier::for_inbox(hub, ids);
            tokio::spawn(follow_feed(
                redis,
                (inbox, inbox_applied),
                deliveries,
                metrics,
                stop.clone(),
            ));
        }
        let replaced = async {
            match &self.node {
                Some(node) => node.replaced().await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            () = shutdown => Ok(()),
            () = replaced => Err(ClusterError::Refused(
                "another node took this node's place in the cluster while its lease had lapsed"
                    .into(),
            )),
        };
        operations.set_ready(false);
        info!(users = self.hub.user_count(), "shutting down");
        self.hub.broadcast_notice("server shutting down");
        stop.cancel();
        open_connections.shut_down();
        tasks.close();
        if tokio::time::timeout(self.config.shutdown_grace, tasks.wait())
            .await
            .is_err()
        {
            warn!("some clients did not take their last output in time");
        }
        // Every session has ended, so nothing more will be appended: commit and close.
        if let Err(error) = self.store.shut_down().await {
            warn!(%error, "closing the history store failed");
        }
        if let Some(node) = &self.node {
            node.stop().await;
        }
        stop_http.cancel();
        if tokio::time::timeout(HTTP_STOP_GRACE, http_tasks.wait())
            .await
            .is_err()
        {
            warn!("an operations endpoint request did not finish in time");
        }
        outcome
    }
}

/// Opens the store and builds the hub with what it keeps from the store: registered rooms,
/// rooms whose lifetime a stop interrupted, server bans.
async fn open_state(config: &Config, metrics: &Arc<Metrics>) -> Result<(Store, Hub), BindError> {
    let store_config = StoreConfig {
        path: config.store.path.clone(),
        history_max_age: config.store.history_max_age,
        history_max_per_room: config.store.history_max_per_room,
        prune_interval: PRUNE_INTERVAL,
        commit_interval: config.store.commit_interval.unwrap_or_default(),
    };
    let opened = match &config.cluster {
        Some(cluster) => Store::open_redis(&cluster.redis, store_config, metrics.clone()).await?,
        None => {
            // Opening may recover a crashed database's WAL: blocking work, off the async
            // workers.
            let store_metrics = metrics.clone();
            tokio::task::spawn_blocking(move || Store::open_counted(store_config, store_metrics))
                .await
                .map_err(|error| StoreError::Open {
                    path: config.store.path.clone(),
                    message: error.to_string(),
                })??
        }
    };
    let registered_rooms = opened.store.registered_rooms().await?;
    // Rooms whose lifetime the last shutdown (or crash) interrupted: they come back with
    // their history when someone creates them again.
    let rooms_with_history = opened.store.rooms_with_history().await?;
    let server_bans = crate::session::server_bans::load(&opened.store).await?;
    let store_location = match &config.cluster {
        Some(cluster) => cluster.redis.display_url(),
        None => config.store.path.clone(),
    };
    info!(
        path = %store_location,
        messages = opened.message_count,
        schema = opened.schema_version,
        "history store open"
    );
    let hub = Hub::new(HubSettings {
        server_name: config.irc.server_name.as_str().into(),
        rooms_per_user: config.limits.rooms_per_user,
        room_creations_per_address: config.address_limits.room_creations_per_address,
        exempt_addresses: config.address_limits.exempt.clone(),
        metrics: metrics.clone(),
    });
    hub.load_registered_rooms(registered_rooms);
    hub.load_rooms_with_history(rooms_with_history);
    hub.load_server_bans(server_bans);
    Ok((opened.store, hub))
}

/// Binds `address` for a listener of kind `kind`, naming both if it cannot.
fn bind_listener(kind: &'static str, address: SocketAddr) -> Result<TcpListener, BindError> {
    listener::bind(address).map_err(|source| BindError::Listen {
        kind,
        address,
        source,
    })
}

/// Follows one of the cluster's feeds for this node (`cluster/applier.rs`) until `stop`: the
/// state feed, which brings the other nodes' users into its hub, or its inbox, which brings
/// private messages (and kills, logouts, read markers) to its users. When the feed is lost
/// (Redis restarted, the link broke) it is followed again from the last event applied, after
/// a pause; after a gap its stream cannot fill, from a fresh start (`Applier::resync`: the
/// state feed from a new snapshot, an inbox from its last event). `applied` is told the
/// sequence number of the last event applied.
async fn follow_feed<A: Apply>(
    (url, prefix, node): (String, String, String),
    (feed, applied): (Feed, Arc<tokio::sync::watch::Sender<u64>>),
    mut applier: Applier<A>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        // Reads only: no fence.
        let directory = UserDirectory::open(&url, &prefix, &node, Fence::default()).await;
        let followed = match &directory {
            Ok(directory) => {
                let metrics = metrics.cluster();
                follow(
                    &url,
                    directory,
                    &feed,
                    &mut applier,
                    &applied,
                    &stop,
                    metrics,
                )
                .await
            }
            Err(error) => Err(error.clone().into()),
        };
        if let (Err(FeedError::Gap(_)), Ok(directory)) = (&followed, &directory) {
            if let Err(error) = applier.resync(directory, &feed).await {
                warn!(%error, "could not start a feed of the cluster's over");
            }
            if let Some(metrics) = metrics.cluster() {
                metrics.resynced();
            }
        }
        if let Err(error) = followed {
            warn!(%error, "lost a feed of the cluster's; following it again in a moment");
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(FEED_RETRY) => {}
            }
        }
    }
}

/// How long a node waits before following a lost feed again.
const FEED_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Hands each change of a cluster node's link to the hub, which tells the users (and whose
/// state messages, admission and `/readyz` consult), until `stop`.
async fn follow_link(
    mut states: tokio::sync::watch::Receiver<crate::metrics::LinkState>,
    hub: Arc<Hub>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = states.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        let state = *states.borrow_and_update();
        hub.set_link_state(state);
    }
}
