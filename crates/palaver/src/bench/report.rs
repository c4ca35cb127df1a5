//! Counting what each client receives, and the report of a run.

use std::collections::HashMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// What one client counted of the messages sent in the measured window.
pub struct Received {
    /// Delivery latency from the actual send, in microseconds.
    pub latency: Histogram<u64>,
    /// Delivery latency from the schedule (when the message was due), in microseconds.
    pub schedule_latency: Histogram<u64>,
    pub deliveries: u64,
    pub duplicates: u64,
    /// The highest sequence number seen from each sender, to tell duplicates.
    last_seen: HashMap<usize, u64>,
}

impl Received {
    pub fn new() -> Self {
        Self {
            latency: histogram(),
            schedule_latency: histogram(),
            deliveries: 0,
            duplicates: 0,
            last_seen: HashMap::new(),
        }
    }

    /// Counts message `sequence` of `sender`, sent at `sent_us`, due at `due_us`, received at
    /// `now_us` (all microseconds since the run began). A message from a sender arrives after
    /// its earlier ones; one at or below the highest seen is a duplicate.
    pub fn count(&mut self, sender: usize, sequence: u64, due_us: u64, sent_us: u64, now_us: u64) {
        let last = self.last_seen.entry(sender).or_insert(0);
        if sequence <= *last {
            self.duplicates += 1;
            return;
        }
        *last = sequence;
        self.deliveries += 1;
        let _ = self.latency.record(now_us.saturating_sub(sent_us).max(1));
        let _ = self
            .schedule_latency
            .record(now_us.saturating_sub(due_us).max(1));
    }

    pub fn merge(&mut self, other: &Received) {
        let _ = self.latency.add(&other.latency);
        let _ = self.schedule_latency.add(&other.schedule_latency);
        self.deliveries += other.deliveries;
        self.duplicates += other.duplicates;
    }
}

/// Latencies up to an hour, to three significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(histogram: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            p50_ms: ms(histogram.value_at_quantile(0.5)),
            p90_ms: ms(histogram.value_at_quantile(0.9)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// A run's report (`--json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub proto: &'static str,
    pub clients: usize,
    pub rooms: usize,
    pub senders: usize,
    pub rate_per_sender: f64,
    pub size_bytes: usize,
    pub duration_s: f64,
    /// How long connecting, registering and joining took for all clients.
    pub connect_s: f64,
    /// Messages sent in the measured window.
    pub sent: u64,
    /// Deliveries those messages called for (one per other member of the room).
    pub expected_deliveries: u64,
    pub deliveries: u64,
    /// Expected deliveries that never arrived, even after the drain.
    pub lost: u64,
    pub duplicates: u64,
    pub offered_deliveries_per_s: f64,
    pub achieved_deliveries_per_s: f64,
    /// From the actual send.
    pub latency: Latency,
    /// From when each message was due: includes any time the sender fell behind.
    pub latency_from_schedule: Latency,
    /// The server's CPU time in the measured window per delivery (`--server-pid`).
    pub server_cpu_us_per_delivery: Option<f64>,
    /// The server's share of one core during the measured window.
    pub server_cpu_cores: Option<f64>,
    /// The server's resident memory growth per connected client (`--server-pid`).
    pub server_rss_per_client_bytes: Option<f64>,
    /// The generator's own share of one core while measuring: near the machine's cores, the
    /// generator was the limit.
    pub generator_cpu_cores: Option<f64>,
}

/// What [`Report::build`] needs besides the counts.
pub struct Run<'a> {
    pub args: &'a super::BenchArgs,
    pub connect: Duration,
    pub sent: u64,
    pub expected: u64,
    pub received: &'a Received,
    pub server_cpu: Option<Duration>,
    pub server_rss_per_client: Option<f64>,
    pub generator_cpu: Option<Duration>,
}

impl Report {
    pub fn build(run: Run<'_>) -> Self {
        let args = run.args;
        let seconds = args.duration.as_secs_f64();
        let deliveries = run.received.deliveries;
        let cores = |cpu: Duration| cpu.as_secs_f64() / seconds;
        Self {
            proto: match args.proto {
                super::Proto::Irc => "irc",
                super::Proto::Text => "text",
            },
            clients: args.clients,
            rooms: args.rooms,
            senders: args.senders,
            rate_per_sender: args.rate,
            size_bytes: args.size,
            duration_s: seconds,
            connect_s: run.connect.as_secs_f64(),
            sent: run.sent,
            expected_deliveries: run.expected,
            deliveries,
            lost: run.expected.saturating_sub(deliveries),
            duplicates: run.received.duplicates,
            offered_deliveries_per_s: run.expected as f64 / seconds,
            achieved_deliveries_per_s: deliveries as f64 / seconds,
            latency: Latency::of(&run.received.latency),
            latency_from_schedule: Latency::of(&run.received.schedule_latency),
            server_cpu_us_per_delivery: run
                .server_cpu
                .filter(|_| deliveries > 0)
                .map(|cpu| cpu.as_secs_f64() * 1e6 / deliveries as f64),
            server_cpu_cores: run.server_cpu.map(cores),
            server_rss_per_client_bytes: run.server_rss_per_client,
            generator_cpu_cores: run.generator_cpu.map(cores),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes")
    }

    /// The report for people.
    pub fn table(&self) -> String {
        let optional = |value: Option<f64>, unit: &str| {
            value.map_or_else(
                || "- (no --server-pid)".to_owned(),
                |v| format!("{v:.2}{unit}"),
            )
        };
        let latency = |l: &Latency| {
            format!(
                "p50 {:.2} ms, p90 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2}",
                l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
            )
        };
        format!(
            "palaver bench: {} clients ({}) in {} rooms, {} senders × {}/s, {} bytes, {:.1} s\n\
             connect + register + join: {:.3} s\n\
             sent {} messages; deliveries {} of {} expected ({} lost, {} duplicates)\n\
             deliveries/s: {:.0} offered, {:.0} achieved\n\
             latency:               {}\n\
             latency from schedule: {}\n\
             server CPU per delivery: {}; server cores: {}\n\
             server RSS per client: {}\n\
             generator cores: {}\n",
            self.clients,
            self.proto,
            self.rooms,
            self.senders,
            self.rate_per_sender,
            self.size_bytes,
            self.duration_s,
            self.connect_s,
            self.sent,
            self.deliveries,
            self.expected_deliveries,
            self.lost,
            self.duplicates,
            self.offered_deliveries_per_s,
            self.achieved_deliveries_per_s,
            latency(&self.latency),
            latency(&self.latency_from_schedule),
            optional(self.server_cpu_us_per_delivery, " µs"),
            optional(self.server_cpu_cores, ""),
            optional(self.server_rss_per_client_bytes.map(|b| b / 1024.0), " KiB"),
            optional(self.generator_cpu_cores, ""),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_count_once_and_later_copies_are_duplicates() {
        let mut received = Received::new();
        received.count(1, 1, 0, 10, 1_010);
        received.count(1, 2, 0, 20, 2_020);
        received.count(1, 2, 0, 20, 3_000);
        received.count(2, 1, 0, 5, 105);
        assert_eq!(received.deliveries, 3);
        assert_eq!(received.duplicates, 1);
        assert_eq!(received.latency.len(), 3);
        let mut total = Received::new();
        total.merge(&received);
        total.merge(&received);
        assert_eq!(total.deliveries, 6);
    }
}
