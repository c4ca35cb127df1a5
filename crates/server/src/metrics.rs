//! Every metric the server exports, defined once: names, help texts, labels, buckets, and the
//! calls that feed them. `docs/OPERATIONS.md` lists them for operators.
//!
//! Each server owns its [`Metrics`] (its own prometheus-client registry, never a global
//! recorder), so several servers in one process — as in the tests — each report only their own
//! traffic. Handles are `Arc<Metrics>`, held by the hub, the store thread, the listeners and
//! every connection's [`Context`](crate::session::Context).
//!
//! The message path stays lock-free: every series a hot path feeds is resolved once, when the
//! metrics are built, to a handle on its atomic (a family is only looked up here), fan-out adds
//! its recipient count once per message rather than once per recipient, and the latency
//! histograms are buckets of atomics ([`LatencyHistogram`]) rather than prometheus-client's
//! `Histogram`, which takes a mutex per observation — on the message path that would be the
//! global lock the hub promises not to have. Gauges that the hub can count when asked (users,
//! rooms) are set when `/metrics` is scraped ([`Metrics::encode`]).
//!
//! Labels take a handful of fixed values each; never a nick, a room or an address.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{
    EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use crate::config::ListenerKind;

/// The content type of [`Metrics::encode`]'s output: the OpenMetrics text format, which
/// Prometheus reads.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the latency histograms' buckets: 50 µs to 2.5 s. Fan-out of a
/// message to a room is usually tens of microseconds; a group commit one fsync, around a
/// millisecond on an SSD and tens on a slow disk.
const LATENCY_BUCKETS: [f64; 15] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];

/// The byte stream a connection runs over (the `transport` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    /// TLS over TCP. The value the TLS listeners (`ircs`, `texts`) are to use.
    Tls,
    /// WebSocket (`web` listeners).
    WebSocket,
    /// WebSocket over TLS (`webs` listeners).
    WebSocketTls,
}

/// The protocol a connection speaks (the `protocol` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Protocol {
    Text,
    Irc,
}

/// Why a connection ended (`palaver_disconnects_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The client said it was leaving (`QUIT`, `/quit`).
    ClientQuit,
    /// The stream ended or failed: the client closed it, reset it, or a read or write failed.
    ConnectionLost,
    /// Its send queue overflowed (the slow-consumer policy).
    SlowConsumer,
    /// It sent faster than flood control allows.
    Flood,
    /// It did not answer a `PING` in time, or did not finish registering in time.
    PingTimeout,
    /// An operator's `KILL`, a server ban, or a `GHOST`/`REGAIN` by the owner of its nick.
    Killed,
    /// This server, a cluster node, was fenced: it lost its link to Redis for longer than its
    /// lease, and the rest of the network takes its users as gone.
    LinkLost,
    /// The server shut down.
    Shutdown,
}

/// Why a connection was refused before a session started
/// (`palaver_connections_refused_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusedReason {
    /// Too many connections from its address at once.
    PerAddress,
    /// Its address connected too often lately.
    ConnectRate,
    /// The server holds as many connections as it takes.
    ServerFull,
    /// Its address is banned.
    Banned,
    /// This cluster node's link to the rest of the network is down.
    LinkDown,
}

/// Where a message went (`palaver_messages_received_total{target}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageTarget {
    /// A room's members.
    Room,
    /// The members of a room with at least some status (`@#room`).
    Status,
    /// One user.
    Private,
}

/// How a cluster node stands with Redis (`palaver_cluster_link{state}`; docs/CLUSTER.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// Its lease is renewed on time.
    Connected,
    /// A renewal failed; the lease still holds for a while.
    Degraded,
    /// Its lease may have lapsed, or is another incarnation's.
    Fenced,
}

/// A cluster feed a node publishes on or follows (`palaver_cluster_events_…{feed}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedKind {
    /// The state feed: users arriving, renaming, changing, leaving.
    State,
    /// A node's inbox: private messages, kills, logouts.
    Inbox,
}

/// Why a node read a feed's stream (`palaver_cluster_catchups_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatchUpReason {
    /// An event arrived past one the node had not seen.
    Gap,
    /// The node (re)subscribed to the feed: at its start, and after losing the subscription.
    Reconnect,
}

// Each `ALL` lists its enum's variants in declaration order, so `variant as usize` indexes the
// arrays of handles built from it (checked by `every_variant_indexes_its_own_handle`).

impl Protocol {
    const ALL: [Self; 2] = [Self::Text, Self::Irc];
}

impl Transport {
    const ALL: [Self; 4] = [Self::Tcp, Self::Tls, Self::WebSocket, Self::WebSocketTls];
}

impl DisconnectReason {
    const ALL: [Self; 8] = [
        Self::ClientQuit,
        Self::ConnectionLost,
        Self::SlowConsumer,
        Self::Flood,
        Self::PingTimeout,
        Self::Killed,
        Self::LinkLost,
        Self::Shutdown,
    ];
}

impl RefusedReason {
    const ALL: [Self; 5] = [
        Self::PerAddress,
        Self::ConnectRate,
        Self::ServerFull,
        Self::Banned,
        Self::LinkDown,
    ];
}

impl MessageTarget {
    const ALL: [Self; 3] = [Self::Room, Self::Status, Self::Private];
}

impl LinkState {
    const ALL: [Self; 3] = [Self::Connected, Self::Degraded, Self::Fenced];
}

impl FeedKind {
    const ALL: [Self; 2] = [Self::State, Self::Inbox];
}

impl CatchUpReason {
    const ALL: [Self; 2] = [Self::Gap, Self::Reconnect];
}

/// Each label value's spelling in the exposition, written once.
macro_rules! label_values {
    ($($type:ty { $($variant:ident => $name:literal),* $(,)? })*) => {$(
        impl $type {
            /// The label value, also how logs name it.
            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
        }

        impl EncodeLabelValue for $type {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
                encoder.write_str(self.name())
            }
        }
    )*};
}

label_values! {
    Protocol { Text => "text", Irc => "irc" }
    Transport { Tcp => "tcp", Tls => "tls", WebSocket => "ws", WebSocketTls => "wss" }
    DisconnectReason {
        ClientQuit => "client_quit",
        ConnectionLost => "connection_lost",
        SlowConsumer => "slow_consumer",
        Flood => "flood",
        PingTimeout => "ping_timeout",
        Killed => "killed",
        LinkLost => "link_lost",
        Shutdown => "shutdown",
    }
    RefusedReason {
        PerAddress => "per_address",
        ConnectRate => "connect_rate",
        ServerFull => "server_full",
        Banned => "banned",
        LinkDown => "link_down",
    }
    MessageTarget { Room => "room", Status => "status", Private => "private" }
    LinkState { Connected => "connected", Degraded => "degraded", Fenced => "fenced" }
    RedisCall { Renew => "renew" }
    FeedKind { State => "state", Inbox => "inbox" }
    CatchUpReason { Gap => "gap", Reconnect => "reconnect" }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FeedLabels {
    feed: FeedKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CatchUpLabels {
    reason: CatchUpReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ConnectionLabels {
    protocol: Protocol,
    transport: Transport,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DisconnectLabels {
    reason: DisconnectReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RefusedLabels {
    reason: RefusedReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TargetLabels {
    target: MessageTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LinkLabels {
    state: LinkState,
}

/// The Redis calls timed in `palaver_cluster_redis_seconds{call}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RedisCall {
    /// A heartbeat renewing the node's lease.
    Renew,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CallLabels {
    call: RedisCall,
}

/// One server's metrics and the registry that exports them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Open connections, indexed by [`ListenerKind`]'s protocol and transport (see
    /// [`connection_labels`]); a connection holds its gauge up for as long as its task runs.
    open: [[Gauge; Transport::ALL.len()]; Protocol::ALL.len()],
    accepted: [[Counter; Transport::ALL.len()]; Protocol::ALL.len()],
    refused: [Counter; RefusedReason::ALL.len()],
    disconnects: [Counter; DisconnectReason::ALL.len()],
    /// Set from the hub at each scrape.
    users: Gauge,
    rooms: Gauge,
    received: [Counter; MessageTarget::ALL.len()],
    delivered: Counter,
    dropped: Counter,
    stored: Counter,
    commit_latency: LatencyHistogram,
    fan_out_latency: LatencyHistogram,
    /// A cluster node's series; `None` on a single node, which exports none of them.
    cluster: Option<ClusterMetrics>,
}

/// A cluster node's own series (`palaver_cluster_…`).
#[derive(Debug)]
pub struct ClusterMetrics {
    link: [Gauge; LinkState::ALL.len()],
    renew_latency: LatencyHistogram,
    nodes: Gauge,
    clock_offset: Gauge<f64, AtomicU64>,
    refused: Counter,
    events_out: [Counter; FeedKind::ALL.len()],
    events_in: [Counter; FeedKind::ALL.len()],
    catch_ups: [Counter; CatchUpReason::ALL.len()],
    catch_up_events: Counter,
    resyncs: Counter,
}

impl ClusterMetrics {
    fn register(registry: &mut Registry) -> Self {
        let link = Family::<LinkLabels, Gauge>::default();
        let link_handles =
            LinkState::ALL.map(|state| link.get_or_create(&LinkLabels { state }).clone());
        registry.register(
            "cluster_link",
            "1 for this node's current state with Redis (connected, degraded, fenced)",
            link,
        );
        let latency = Family::<CallLabels, LatencyHistogram>::default();
        let renew_latency = latency
            .get_or_create(&CallLabels {
                call: RedisCall::Renew,
            })
            .clone();
        registry.register(
            "cluster_redis_seconds",
            "Round trip of a call to Redis, by call",
            latency,
        );
        let nodes = Gauge::default();
        registry.register(
            "cluster_nodes",
            "Live nodes in the cluster, as this node's last heartbeat counted them",
            nodes.clone(),
        );
        let clock_offset = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "cluster_clock_offset_seconds",
            "This machine's clock minus Redis's, measured at the last heartbeat",
            clock_offset.clone(),
        );
        let refused = Counter::default();
        registry.register(
            "cluster_refused",
            "Messages and commands refused because this node's link to Redis was down",
            refused.clone(),
        );
        let events_out = Family::<FeedLabels, Counter>::default();
        let events_out_handles =
            FeedKind::ALL.map(|feed| events_out.get_or_create(&FeedLabels { feed }).clone());
        registry.register(
            "cluster_events_out",
            "Events this node's calls published, by feed",
            events_out,
        );
        let events_in = Family::<FeedLabels, Counter>::default();
        let events_in_handles =
            FeedKind::ALL.map(|feed| events_in.get_or_create(&FeedLabels { feed }).clone());
        registry.register(
            "cluster_events_in",
            "Events this node applied, live or caught up, by feed",
            events_in,
        );
        let catch_ups = Family::<CatchUpLabels, Counter>::default();
        let catch_up_handles = CatchUpReason::ALL
            .map(|reason| catch_ups.get_or_create(&CatchUpLabels { reason }).clone());
        registry.register(
            "cluster_catchups",
            "Reads of a feed's stream, by why",
            catch_ups,
        );
        let catch_up_events = Counter::default();
        registry.register(
            "cluster_catchup_events",
            "Events applied from reads of a feed's stream",
            catch_up_events.clone(),
        );
        let resyncs = Counter::default();
        registry.register(
            "cluster_resyncs",
            "Feeds started over after a gap their stream could not fill",
            resyncs.clone(),
        );
        Self {
            link: link_handles,
            renew_latency,
            nodes,
            clock_offset,
            refused,
            events_out: events_out_handles,
            events_in: events_in_handles,
            catch_ups: catch_up_handles,
            catch_up_events,
            resyncs,
        }
    }

    /// Counts `events` this node's calls published on `feed`.
    pub fn published(&self, feed: FeedKind, events: u64) {
        self.events_out[feed as usize].inc_by(events);
    }

    /// Counts `events` this node applied from `feed`.
    pub fn applied(&self, feed: FeedKind, events: u64) {
        self.events_in[feed as usize].inc_by(events);
    }

    /// Counts a feed started over after a gap its stream could not fill.
    pub fn resynced(&self) {
        self.resyncs.inc();
    }

    /// Counts a read of a feed's stream, for `reason`, that applied `events`.
    pub fn caught_up(&self, reason: CatchUpReason, events: u64) {
        self.catch_ups[reason as usize].inc();
        self.catch_up_events.inc_by(events);
    }

    /// Counts a message or command refused while the link was down.
    pub fn refused_while_link_down(&self) {
        self.refused.inc();
    }

    /// Sets the link's state: its gauge to 1, the others to 0.
    pub fn set_link(&self, state: LinkState) {
        for (gauge, each) in self.link.iter().zip(LinkState::ALL) {
            gauge.set(i64::from(each == state));
        }
    }

    /// Records a heartbeat that renewed the lease.
    pub fn renewed(&self, round_trip: Duration, live_nodes: i64, clock_offset_ms: i64) {
        self.renew_latency.observe(round_trip);
        self.nodes.set(live_nodes);
        self.clock_offset.set(clock_offset_ms as f64 / 1000.0);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered, with every label value present (at zero) from the start: a
    /// series that appears only once something happens is hard to alert on.
    pub fn new() -> Self {
        Self::build(false)
    }

    /// The metrics of a cluster node: those of [`Metrics::new`] and the `palaver_cluster_…`
    /// series.
    pub fn for_cluster() -> Self {
        Self::build(true)
    }

    fn build(cluster: bool) -> Self {
        let mut root = Registry::default();
        let registry = root.sub_registry_with_prefix("palaver");

        let open = Family::<ConnectionLabels, Gauge>::default();
        let accepted = Family::<ConnectionLabels, Counter>::default();
        let open_handles = per_connection_kind(&open);
        let accepted_handles = per_connection_kind(&accepted);
        registry.register(
            "connections",
            "Connections open now, by protocol and transport",
            open,
        );
        registry.register(
            "connections_accepted",
            "Connections accepted, by protocol and transport",
            accepted,
        );

        let refused = Family::<RefusedLabels, Counter>::default();
        let refused_handles = RefusedReason::ALL
            .map(|reason| refused.get_or_create(&RefusedLabels { reason }).clone());
        registry.register(
            "connections_refused",
            "Connections refused before a session started, by reason",
            refused,
        );

        let disconnects = Family::<DisconnectLabels, Counter>::default();
        let disconnect_handles = DisconnectReason::ALL.map(|reason| {
            disconnects
                .get_or_create(&DisconnectLabels { reason })
                .clone()
        });
        registry.register("disconnects", "Connections ended, by reason", disconnects);

        let users = Gauge::default();
        registry.register(
            "users",
            "Users connected and registered (text users from connecting, IRC users once \
             registration completes)",
            users.clone(),
        );
        let rooms = Gauge::default();
        registry.register("rooms", "Rooms with at least one member", rooms.clone());

        let received = Family::<TargetLabels, Counter>::default();
        let received_handles = MessageTarget::ALL
            .map(|target| received.get_or_create(&TargetLabels { target }).clone());
        registry.register(
            "messages_received",
            "Messages accepted from clients and fanned out, by target",
            received,
        );
        let delivered = Counter::default();
        registry.register(
            "messages_delivered",
            "Copies of messages queued for their recipients (the sender's own copy not counted)",
            delivered.clone(),
        );
        let dropped = Counter::default();
        registry.register(
            "deliveries_dropped",
            "Copies of messages not queued because the recipient's connection was closing or \
             its send queue full",
            dropped.clone(),
        );
        let stored = Counter::default();
        registry.register(
            "messages_stored",
            "Messages committed to the history store",
            stored.clone(),
        );
        let commit_latency = LatencyHistogram::default();
        registry.register(
            "store_commit_seconds",
            "Time to write and commit one group commit of messages to the history store",
            commit_latency.clone(),
        );
        let fan_out_latency = LatencyHistogram::default();
        registry.register(
            "fanout_seconds",
            "Time from a message being stamped in the hub until it is queued for every recipient",
            fan_out_latency.clone(),
        );
        let cluster = cluster.then(|| ClusterMetrics::register(registry));
        Self {
            registry: root,
            open: open_handles,
            accepted: accepted_handles,
            refused: refused_handles,
            disconnects: disconnect_handles,
            users,
            rooms,
            received: received_handles,
            delivered,
            dropped,
            stored,
            commit_latency,
            fan_out_latency,
            cluster,
        }
    }

    /// A cluster node's series, if this is one.
    pub fn cluster(&self) -> Option<&ClusterMetrics> {
        self.cluster.as_ref()
    }

    /// Connections open now, over every listener.
    pub fn open_connections(&self) -> usize {
        self.open
            .iter()
            .flatten()
            .map(|gauge| usize::try_from(gauge.get()).unwrap_or(0))
            .sum()
    }

    /// Counts a connection accepted on a listener of `kind`; it counts as open until the
    /// returned guard drops.
    pub fn connection_opened(&self, kind: ListenerKind) -> OpenConnection {
        let (protocol, transport) = connection_labels(kind);
        self.accepted[protocol as usize][transport as usize].inc();
        let gauge = self.open[protocol as usize][transport as usize].clone();
        gauge.inc();
        OpenConnection { gauge }
    }

    /// Counts a connection refused before its session started.
    pub fn refused(&self, reason: RefusedReason) {
        self.refused[reason as usize].inc();
    }

    /// Counts a connection that ended.
    pub fn disconnected(&self, reason: DisconnectReason) {
        self.disconnects[reason as usize].inc();
    }

    /// Records one message fanned out: `queued` copies queued for recipients, `dropped` not,
    /// `since_stamped` after the hub stamped it. Called once per message, not per recipient.
    pub fn fanned_out(
        &self,
        target: MessageTarget,
        queued: usize,
        dropped: usize,
        since_stamped: Duration,
    ) {
        self.received[target as usize].inc();
        if queued > 0 {
            self.delivered.inc_by(queued as u64);
        }
        if dropped > 0 {
            self.dropped.inc_by(dropped as u64);
        }
        self.fan_out_latency.observe(since_stamped);
    }

    /// Records one group commit of `stored` messages that took `took`.
    pub fn committed(&self, stored: usize, took: Duration) {
        self.stored.inc_by(stored as u64);
        self.commit_latency.observe(took);
    }

    /// The metrics in the OpenMetrics text format ([`CONTENT_TYPE`]), with the gauges counted
    /// at scrape time set to `users` and `rooms` first.
    pub fn encode(&self, users: usize, rooms: usize) -> String {
        self.users.set(saturating_i64(users));
        self.rooms.set(saturating_i64(rooms));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// The protocol and transport of a listener kind's connections.
fn connection_labels(kind: ListenerKind) -> (Protocol, Transport) {
    match kind {
        ListenerKind::Text => (Protocol::Text, Transport::Tcp),
        ListenerKind::Irc => (Protocol::Irc, Transport::Tcp),
        ListenerKind::TextTls => (Protocol::Text, Transport::Tls),
        ListenerKind::IrcTls => (Protocol::Irc, Transport::Tls),
        ListenerKind::Web => (Protocol::Irc, Transport::WebSocket),
        ListenerKind::WebTls => (Protocol::Irc, Transport::WebSocketTls),
    }
}

/// The series of `family` for every protocol and transport, indexed like [`Metrics::open`].
fn per_connection_kind<M: Clone + Default>(
    family: &Family<ConnectionLabels, M>,
) -> [[M; Transport::ALL.len()]; Protocol::ALL.len()] {
    Protocol::ALL.map(|protocol| {
        Transport::ALL.map(|transport| {
            family
                .get_or_create(&ConnectionLabels {
                    protocol,
                    transport,
                })
                .clone()
        })
    })
}

fn saturating_i64(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// An open connection, counted in `palaver_connections` until dropped.
#[derive(Debug)]
#[must_use = "the connection counts as open only while this lives"]
pub struct OpenConnection {
    gauge: Gauge,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// A histogram of durations in fixed [`LATENCY_BUCKETS`], kept in atomics: observing is three
/// relaxed atomic additions and no lock. Cheap to clone (shared counts).
///
/// A scrape reads the buckets one by one while observations go on, so it may see an
/// observation in its bucket but not yet in the sum; the count is the total of the buckets, so
/// count and buckets always agree.
#[derive(Debug, Clone, Default)]
struct LatencyHistogram {
    shared: std::sync::Arc<HistogramCounts>,
}

#[derive(Debug, Default)]
struct HistogramCounts {
    /// Observations per bucket (not cumulative), the last for those above every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl LatencyHistogram {
    fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS.partition_point(|&bound| bound < seconds);
        let counts = &self.shared;
        counts.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        counts.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

// A family of histograms needs to know the type of its members.
impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> std::fmt::Result {
        let counts = &self.shared;
        let bounds = LATENCY_BUCKETS.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds
            .zip(&counts.buckets)
            .map(|(bound, count)| (bound, count.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, count)| count).sum();
        let sum = counts.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_present_from_the_start() {
        let text = Metrics::new().encode(0, 0);
        for series in [
            "palaver_connections{protocol=\"text\",transport=\"tcp\"} 0",
            "palaver_connections{protocol=\"irc\",transport=\"tls\"} 0",
            "palaver_connections_accepted_total{protocol=\"irc\",transport=\"tcp\"} 0",
            "palaver_connections_refused_total{reason=\"per_address\"} 0",
            "palaver_connections_refused_total{reason=\"banned\"} 0",
            "palaver_disconnects_total{reason=\"slow_consumer\"} 0",
            "palaver_disconnects_total{reason=\"flood\"} 0",
            "palaver_users 0",
            "palaver_rooms 0",
            "palaver_messages_received_total{target=\"private\"} 0",
            "palaver_messages_delivered_total 0",
            "palaver_deliveries_dropped_total 0",
            "palaver_messages_stored_total 0",
            "palaver_store_commit_seconds_count 0",
            "palaver_fanout_seconds_bucket{le=\"+Inf\"} 0",
        ] {
            assert!(
                text.lines().any(|line| line == series),
                "{series} in:\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn counts_land_in_their_series() {
        let metrics = Metrics::new();
        let open = metrics.connection_opened(ListenerKind::Irc);
        metrics.refused(RefusedReason::ConnectRate);
        metrics.disconnected(DisconnectReason::SlowConsumer);
        metrics.fanned_out(MessageTarget::Room, 3, 1, Duration::from_micros(70));
        metrics.committed(2, Duration::from_millis(2));
        let text = metrics.encode(4, 1);
        for series in [
            "palaver_connections{protocol=\"irc\",transport=\"tcp\"} 1",
            "palaver_connections_accepted_total{protocol=\"irc\",transport=\"tcp\"} 1",
            "palaver_connections_refused_total{reason=\"connect_rate\"} 1",
            "palaver_disconnects_total{reason=\"slow_consumer\"} 1",
            "palaver_users 4",
            "palaver_rooms 1",
            "palaver_messages_received_total{target=\"room\"} 1",
            "palaver_messages_delivered_total 3",
            "palaver_deliveries_dropped_total 1",
            "palaver_messages_stored_total 2",
            "palaver_store_commit_seconds_count 1",
            "palaver_store_commit_seconds_bucket{le=\"0.001\"} 0",
            "palaver_store_commit_seconds_bucket{le=\"0.0025\"} 1",
            "palaver_fanout_seconds_bucket{le=\"0.00005\"} 0",
            "palaver_fanout_seconds_bucket{le=\"0.0001\"} 1",
            "palaver_fanout_seconds_count 1",
        ] {
            assert!(
                text.lines().any(|line| line == series),
                "{series} in:\n{text}"
            );
        }
        drop(open);
        let text = metrics.encode(0, 0);
        assert!(text.contains("palaver_connections{protocol=\"irc\",transport=\"tcp\"} 0\n"));
    }

    #[test]
    fn every_variant_indexes_its_own_handle() {
        macro_rules! in_order {
            ($($type:ty),*) => {$(
                for (index, variant) in <$type>::ALL.into_iter().enumerate() {
                    assert_eq!(variant as usize, index, "{variant:?}");
                }
            )*};
        }
        in_order!(
            Protocol,
            Transport,
            DisconnectReason,
            RefusedReason,
            MessageTarget,
            LinkState,
            FeedKind,
            CatchUpReason
        );
    }

    #[test]
    fn a_bound_is_inclusive() {
        let histogram = LatencyHistogram::default();
        histogram.observe(Duration::from_millis(1));
        assert_eq!(histogram.shared.buckets[4].load(Ordering::Relaxed), 1);
    }
}
