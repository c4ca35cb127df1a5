//! A node's registration in Redis: its lease, renewed by a heartbeat, and its record.
//!
//! A node starts by taking the lease of its name (`node_start`), waiting for the lease of a
//! previous process of that name to lapse if it stopped without a word. Every heartbeat it
//! renews the lease and writes its counts, round trip and clock offset into its record
//! (`renew`), and it stops by removing both (`node_stop`). The heartbeat runs on a
//! connection of its own, so the store's traffic never delays it. Registering also releases
//! the users that lapsed nodes (or this node's earlier incarnation) left in the directory of
//! users (`users.rs`), and with their last user those nodes go.
//!
//! The link's state follows the heartbeats ([`LeaseClock`]): `connected`, `degraded` after a
//! renewal fails, `fenced` past the deadline or when Redis says the lease is another's. A
//! fenced node registers again as a new incarnation once Redis answers; if another node took
//! its place meanwhile it cannot, and the server stops ([`Node::replaced`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::keys::NodeKeys;
use super::lease::LeaseClock;
use super::scripts::NodeScripts;
use super::users::UserDirectory;
use super::{ClusterError, ClusterSettings, valid_node_name};
use crate::metrics::{LinkState, Metrics};
use crate::store::{Fence, RedisConnection, redis_connection};

/// How long connecting to Redis, and then an answer, may take; a renewal is bounded by the
/// lease's deadline instead.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A clock offset from Redis's beyond which the node warns (at most once a minute).
const CLOCK_WARNING: Duration = Duration::from_secs(1);
const CLOCK_WARNING_EVERY: Duration = Duration::from_secs(60);

/// What a node says of itself in its record.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    /// palaver's version.
    pub version: String,
    /// A digest of the settings users can observe, which every node should share.
    pub settings_digest: String,
}

/// What a node counts at each heartbeat, for its record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeCounts {
    pub users: usize,
    pub connections: usize,
    pub rooms: usize,
}

type CountSource = Box<dyn Fn() -> NodeCounts + Send + Sync>;

/// This process's node in the cluster. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    /// Redis's URL without its password, for logs.
    url: String,
    heartbeat: Duration,
    lease: Duration,
    /// A renewal unanswered this long makes the node degraded.
    timeout: Duration,
    connection: RedisConnection,
    keys: NodeKeys,
    scripts: NodeScripts,
    facts: NodeFacts,
    /// The current incarnation's token, which its lease holds.
    token: Mutex<String>,
    counts: OnceLock<CountSource>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    /// Cancelled when another node took this one's place while it was fenced.
    replaced: CancellationToken,
    /// The link's state, for the server to act on ([`Node::link_states`]).
    link: watch::Sender<LinkState>,
    /// The store's fence, given the current incarnation's lease at each registration.
    fence: OnceLock<Fence>,
    /// Whether the users of lapsed nodes are being released ([`Node::release_lapsed`]).
    releasing: AtomicBool,
}

/// The node name `palaver cluster import` registers under while it copies a database into
/// Redis: no node starts while it is live, and it does not start beside a live node.
pub const IMPORT_NODE: &str = "palaver-import";

/// What `node_start` answered.
enum Registration {
    /// Registered (and the users that lapsed nodes, or this node's earlier incarnation, left
    /// in the directory released).
    Started,
    /// The name's lease is held for this much longer, by the incarnation with this token.
    Held { left: Duration, holder: String },
    /// An import runs on the Redis (or, for the import, a node is live): the node named.
    Busy(String),
}

/// What `renew` answered.
enum Renewal {
    /// Redis's clock (ms since the epoch) when it ran the renewal, and the live nodes.
    Renewed {
        redis_now_ms: i64,
        live_nodes: i64,
        /// The nodes whose lease lapsed with users still in the directory.
        lapsed: Vec<String>,
    },
    Fenced,
}

/// What a fenced node's attempt to register again came to.
enum Rejoin {
    Registered,
    /// Redis did not answer, or the old incarnation's lease still runs.
    StillFenced,
    /// Another node took its place: the server must stop.
    Replaced,
}

impl Node {
    /// Registers this node under `name`, waiting up to a lease (and a heartbeat) for a
    /// previous process of that name to let its lease lapse, and starts its heartbeat.
    pub async fn start(
        settings: &ClusterSettings,
        name: String,
        facts: NodeFacts,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ClusterError> {
        let url = settings.redis.display_url();
        debug_assert!(valid_node_name(&name), "checked when the config was read");
        let connection = redis_connection(&settings.redis.url, CONNECT_TIMEOUT, RESPONSE_TIMEOUT)
            .await
            .map_err(|error| ClusterError::Unreachable {
                url: url.clone(),
                message: error.to_string(),
            })?;
        let node = Self {
            inner: Arc::new(Inner {
                name,
                url,
                heartbeat: settings.heartbeat,
                lease: settings.lease,
                timeout: settings.timeout,
                connection,
                keys: NodeKeys::new(&settings.redis.key_prefix),
                scripts: NodeScripts::new(),
                facts,
                token: Mutex::new(String::new()),
                counts: OnceLock::new(),
                metrics,
                stop: CancellationToken::new(),
                replaced: CancellationToken::new(),
                releasing: AtomicBool::new(false),
                link: watch::Sender::new(LinkState::Connected),
                fence: OnceLock::new(),
            }),
        };
        let sent = node.register_waiting().await?;
        tokio::spawn(
            node.clone()
                .heartbeats(LeaseClock::new(node.inner.lease, sent)),
        );
        Ok(node)
    }

    /// Where the heartbeats read the node's counts from, from now on (zero until then).
    pub fn count_with(&self, source: impl Fn() -> NodeCounts + Send + Sync + 'static) {
        let _already_set = self.inner.counts.set(Box::new(source));
    }

    /// Fences the store's writes with this node's lease (`store/redis_store/fence.rs`): from
    /// now on, and after every registration, Redis stores a message only while the lease holds
    /// the current incarnation's token.
    pub fn fence_writes(&self, fence: Fence) {
        fence.hold(self.lease_key(), self.token());
        let _already_set = self.inner.fence.set(fence);
    }

    fn lease_key(&self) -> String {
        self.inner.keys.lease(&self.inner.name)
    }

    /// The node's name in the cluster.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The link's state, now and as it changes (see [`LinkState`]).
    pub fn link_states(&self) -> watch::Receiver<LinkState> {
        self.inner.link.subscribe()
    }

    /// Completes when another node took this one's place: this process must stop serving.
    pub async fn replaced(&self) {
        self.inner.replaced.cancelled().await;
    }

    /// Stops the heartbeat and removes the node's lease and record, so that `cluster status`
    /// no longer lists it and its name is free at once.
    pub async fn stop(&self) {
        self.inner.stop.cancel();
        let token = self.token();
        let removed: Result<i64, _> = self
            .keys_of(&self.inner.scripts.stop)
            .arg(&self.inner.name)
            .arg(&token)
            .invoke_async(&mut self.inner.connection.clone())
            .await;
        match removed {
            Ok(1) => tracing::info!(node = %self.inner.name, "left the cluster"),
            Ok(_) => {}
            Err(error) => tracing::warn!(
                %error,
                "could not remove this node's record from Redis; it lapses within {:?}",
                self.inner.lease
            ),
        }
    }

    fn token(&self) -> String {
        crate::lock(&self.inner.token).clone()
    }

    /// A call of `script` with the node's three keys: the set of nodes, its lease, its record.
    fn keys_of<'a>(&self, script: &'a redis::Script) -> redis::ScriptInvocation<'a> {
        let keys = &self.inner.keys;
        let mut invocation = script.prepare_invoke();
        invocation
            .key(keys.nodes())
            .key(keys.lease(&self.inner.name))
            .key(keys.record(&self.inner.name));
        invocation
    }

    /// Registers, waiting while the name's lease is held; returns when the registration that
    /// succeeded was sent.
    async fn register_waiting(&self) -> Result<Instant, ClusterError> {
        let give_up = Instant::now() + self.inner.lease + self.inner.heartbeat;
        let mut told = false;
        loop {
            let sent = Instant::now();
            let registration =
                self.register()
                    .await
                    .map_err(|error| ClusterError::Unreachable {
                        url: self.inner.url.clone(),
                        message: error.to_string(),
                    })?;
            match registration {
                Registration::Started => {
                    tracing::info!(
                        node = %self.inner.name,
                        redis = %self.inner.url,
                        "joined the cluster"
                    );
                    return Ok(sent);
                }
                Registration::Busy(other) => return Err(self.busy(&other)),
                Registration::Held { .. } if Instant::now() >= give_up => {
                    return Err(ClusterError::Refused(format!(
                        "the node name {} is in use by a running node; give this one another \
                         name (--node-name or [cluster] node_name)",
                        self.inner.name
                    )));
                }
                Registration::Held { left, .. } => {
                    if !told {
                        tracing::info!(
                            node = %self.inner.name,
                            "a process of this node's name stopped without leaving the \
                             cluster, or is still running; waiting up to {:?} for its lease to \
                             lapse",
                            left
                        );
                        told = true;
                    }
                    tokio::time::sleep(left + Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Why this node cannot start beside `other`: an import and nodes never run at once.
    fn busy(&self, other: &str) -> ClusterError {
        let prefix = self.inner.keys.prefix();
        ClusterError::Refused(if other == IMPORT_NODE {
            format!(
                "palaver cluster import is copying a database into this Redis (key prefix \
                 {prefix}); start nodes once it is done"
            )
        } else {
            format!(
                "another palaver node ({other}) is live on this Redis under the key prefix \
                 {prefix}; stop every node before importing"
            )
        })
    }

    /// One `node_start` call, as a new incarnation with a new token.
    async fn register(&self) -> Result<Registration, redis::RedisError> {
        let token = random_token();
        let keys = &self.inner.keys;
        let (answer, number, holder, left_users): (String, i64, String, Vec<String>) = self
            .keys_of(&self.inner.scripts.start)
            .arg(&self.inner.name)
            .arg(&token)
            .arg(millis(self.inner.lease))
            .arg(&self.inner.facts.version)
            .arg(&self.inner.facts.settings_digest)
            .arg(keys.lease_prefix())
            .arg(keys.record_prefix())
            .arg(IMPORT_NODE)
            .invoke_async(&mut self.inner.connection.clone())
            .await?;
        Ok(match answer.as_str() {
            "started" => {
                if let Some(fence) = self.inner.fence.get() {
                    fence.hold(self.lease_key(), token.clone());
                }
                *crate::lock(&self.inner.token) = token.clone();
                self.release_users_left_by(&left_users, token).await;
                Registration::Started
            }
            "held" => Registration::Held {
                left: Duration::from_millis(number.max(0) as u64),
                holder,
            },
            _ => Registration::Busy(holder),
        })
    }

    /// Releases the users that `nodes` left in the cluster's directory (they died, or this
    /// node's earlier incarnation stopped without leaving), so that their nicks are free and
    /// every node's hub sees them go. A failure is logged: the next node to start, or this
    /// one when it next registers, tries again.
    async fn release_users_left_by(&self, nodes: &[String], token: String) {
        if nodes.is_empty() {
            return;
        }
        let fence = Fence::default();
        fence.hold(self.lease_key(), token);
        let directory = UserDirectory::on(
            self.inner.connection.clone(),
            self.inner.keys.prefix(),
            &self.inner.name,
            fence,
        );
        for node in nodes {
            match directory.release_node(node).await {
                Ok(released) => tracing::info!(
                    node = %node,
                    released,
                    "released the users a node left behind"
                ),
                Err(error) => tracing::warn!(
                    node = %node,
                    %error,
                    "could not release the users a node left behind"
                ),
            }
        }
    }

    /// Releases the users of the nodes whose lease lapsed (they died), beside the heartbeat:
    /// at most one release runs at a time, and the next heartbeat names whatever is left.
    fn release_lapsed(&self, lapsed: Vec<String>) {
        if lapsed.is_empty() || self.inner.releasing.swap(true, Ordering::AcqRel) {
            return;
        }
        let node = self.clone();
        tokio::spawn(async move {
            node.release_users_left_by(&lapsed, node.token()).await;
            node.inner.releasing.store(false, Ordering::Release);
        });
    }

    async fn renew(&self, last: &Sample) -> Result<Renewal, redis::RedisError> {
        let counts = self
            .inner
            .counts
            .get()
            .map(|count| count())
            .unwrap_or_default();
        let (answer, redis_now_ms, live_nodes, lapsed): (String, i64, i64, Vec<String>) = self
            .keys_of(&self.inner.scripts.renew)
            .arg(self.token())
            .arg(millis(self.inner.lease))
            .arg(counts.users)
            .arg(counts.connections)
            .arg(counts.rooms)
            .arg(last.round_trip.as_micros() as u64)
            .arg(last.clock_offset_ms)
            .arg(self.inner.keys.lease_prefix())
            .arg(self.inner.keys.record_prefix())
            .arg(self.inner.keys.run())
            .invoke_async(&mut self.inner.connection.clone())
            .await?;
        Ok(if answer == "renewed" {
            Renewal::Renewed {
                redis_now_ms,
                live_nodes,
                lapsed,
            }
        } else {
            Renewal::Fenced
        })
    }

    /// Renews the lease every heartbeat until stopped, following the link's state.
    async fn heartbeats(self, mut clock: LeaseClock) {
        let inner = &self.inner;
        let cluster_metrics = inner.metrics.cluster();
        let mut ticks = tokio::time::interval(inner.heartbeat);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        let mut state = LinkState::Connected;
        let mut last = Sample::default();
        if let Some(metrics) = cluster_metrics {
            metrics.set_link(state);
        }
        loop {
            tokio::select! {
                () = inner.stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if state == LinkState::Fenced {
                match self.register_again(&mut clock).await {
                    Rejoin::Registered => state = LinkState::Connected,
                    Rejoin::StillFenced => {}
                    Rejoin::Replaced => return,
                }
                continue;
            }
            let sent = Instant::now();
            let sent_wall_ms = wall_clock_ms();
            // A slow renewal is waited for as long as the lease holds: only its deadline
            // makes it late. Unanswered for `timeout`, though, the node is degraded meanwhile
            // (a silent partition is noticed then, not only at the deadline).
            let deadline = clock.deadline();
            let answer = {
                let renewal = self.renew(&last);
                tokio::pin!(renewal);
                let slow = deadline.min(sent + inner.timeout);
                match tokio::time::timeout_at(slow, &mut renewal).await {
                    Err(_slow) if Instant::now() < deadline => {
                        if state == LinkState::Connected {
                            tracing::warn!(
                                redis = %inner.url,
                                "renewing this node's lease got no answer in {:?}",
                                inner.timeout
                            );
                            clock.failed();
                            self.enter(&mut state, clock.state(Instant::now()));
                        }
                        tokio::time::timeout_at(deadline, &mut renewal).await
                    }
                    answer => answer,
                }
            };
            match answer.unwrap_or_else(|_late| Err(timed_out())) {
                Ok(Renewal::Renewed {
                    redis_now_ms,
                    live_nodes,
                    lapsed,
                }) => {
                    clock.renewed(sent);
                    last.record(sent, sent_wall_ms, redis_now_ms);
                    if let Some(metrics) = cluster_metrics {
                        metrics.renewed(last.round_trip, live_nodes, last.clock_offset_ms);
                    }
                    self.release_lapsed(lapsed);
                }
                Ok(Renewal::Fenced) => clock.fence(),
                Err(error) => {
                    if state == LinkState::Connected {
                        tracing::warn!(%error, redis = %inner.url, "renewing this node's lease failed");
                    }
                    clock.failed();
                }
            }
            self.enter(&mut state, clock.state(Instant::now()));
        }
    }

    /// Moves the link from `state` to `now_state` if they differ: the metric, the log, and
    /// the server told.
    fn enter(&self, state: &mut LinkState, now_state: LinkState) {
        if now_state == *state {
            return;
        }
        // The metric first: whoever reads the log line finds the metric agreeing.
        *state = now_state;
        let inner = &self.inner;
        if let Some(metrics) = inner.metrics.cluster() {
            metrics.set_link(now_state);
        }
        log_state(&inner.name, now_state, inner.lease);
        inner.link.send_replace(now_state);
    }

    /// One attempt of a fenced node to register as a new incarnation, with a new lease in
    /// `clock` if it did.
    async fn register_again(&self, clock: &mut LeaseClock) -> Rejoin {
        let inner = &self.inner;
        // The connection first: reconnecting after Redis came back can take a while, and the
        // new lease counts from when `node_start` was sent, so that wait must not be in it
        // (the lease would seem to lapse as soon as it was taken).
        let (mut connection, ping) = (inner.connection.clone(), redis::cmd("PING"));
        let answered = tokio::time::timeout(inner.lease, ping.query_async::<()>(&mut connection));
        if !matches!(answered.await, Ok(Ok(()))) {
            return Rejoin::StillFenced;
        }
        let sent = Instant::now();
        let registration = tokio::time::timeout(inner.lease, self.register()).await;
        match registration.unwrap_or_else(|_late| Err(timed_out())) {
            Ok(Registration::Started) => {
                *clock = LeaseClock::new(inner.lease, sent);
                if let Some(metrics) = inner.metrics.cluster() {
                    metrics.set_link(LinkState::Connected);
                }
                tracing::warn!(
                    node = %inner.name,
                    "registered again in the cluster, as a new incarnation"
                );
                inner.link.send_replace(LinkState::Connected);
                Rejoin::Registered
            }
            // Its own lease, still running in Redis though this node counted it lapsed.
            Ok(Registration::Held { holder, .. }) if holder == *crate::lock(&inner.token) => {
                Rejoin::StillFenced
            }
            Ok(Registration::Busy(other)) => {
                tracing::error!("{}; this node stops", self.busy(&other));
                inner.replaced.cancel();
                Rejoin::Replaced
            }
            Ok(Registration::Held { .. }) => {
                tracing::error!(
                    node = %inner.name,
                    "another process registered under this node's name while it was fenced; \
                     this node stops"
                );
                inner.replaced.cancel();
                Rejoin::Replaced
            }
            Err(_) => Rejoin::StillFenced,
        }
    }
}

/// The last heartbeat's measurements, recorded by the next.
#[derive(Debug, Default)]
struct Sample {
    round_trip: Duration,
    /// This machine's clock minus Redis's.
    clock_offset_ms: i64,
    /// When the clock offset was last warned about.
    clock_warned: Option<Instant>,
}

impl Sample {
    /// Measures a renewal sent at `sent` (`sent_wall_ms` on the wall clock) and run by Redis
    /// at `redis_now_ms` on its clock, warning about a clock far off.
    fn record(&mut self, sent: Instant, sent_wall_ms: i64, redis_now_ms: i64) {
        self.round_trip = sent.elapsed();
        // Redis ran the renewal about half a round trip after it was sent.
        let half_trip = (self.round_trip / 2).as_millis() as i64;
        self.clock_offset_ms = sent_wall_ms + half_trip - redis_now_ms;
        let off_by = Duration::from_millis(self.clock_offset_ms.unsigned_abs());
        let due = self
            .clock_warned
            .is_none_or(|at| at.elapsed() >= CLOCK_WARNING_EVERY);
        if off_by > CLOCK_WARNING && due {
            tracing::warn!(
                offset_ms = self.clock_offset_ms,
                "this machine's clock is off from Redis's by more than {:?}",
                CLOCK_WARNING
            );
            self.clock_warned = Some(Instant::now());
        }
    }
}

fn log_state(node: &str, state: LinkState, lease: Duration) {
    match state {
        LinkState::Connected => tracing::info!(node, "this node's lease is renewed again"),
        LinkState::Degraded => tracing::warn!(
            node,
            "this node cannot renew its lease in Redis; it is fenced if that lasts {:?}",
            lease - lease / 10
        ),
        LinkState::Fenced => tracing::error!(
            node,
            "this node's lease lapsed (Redis was unreachable too long, or another node removed \
             it as dead); it registers again as soon as Redis answers"
        ),
    }
}

fn timed_out() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no answer in time",
    ))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// The name a node takes unless configured: the host's name and the port of its first chat
/// listener (`chat-1.example.org-6667`), stable across restarts and distinct for nodes on
/// one host.
pub fn default_node_name(first_port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || "_-.".contains(character) {
                character
            } else {
                '-'
            }
        })
        .take(48)
        .collect();
    let host = if host.is_empty() { "palaver" } else { &host };
    format!("{host}-{first_port}")
}

/// 128 random bits in hex: an incarnation's token.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the token is still unique enough between a handful of processes:
    // the time and the process id.
    if getrandom::fill(&mut bytes).is_err() {
        let fallback = u128::from(std::process::id()) << 64 | wall_clock_ms() as u128;
        bytes = fallback.to_be_bytes();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_name_is_a_valid_one_ending_in_the_port() {
        let name = default_node_name(6667);
        assert!(name.ends_with("-6667"), "{name}");
        assert!(valid_node_name(&name), "{name}");
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 32);
    }
}
