//! The report of a run: what was asked, what connecting took, what was sent and delivered,
//! latency percentiles, the server's and the generator's CPU and memory, and the series over
//! time that the plot draws. `--json` prints it as it is; [`Report::table`] words it for
//! people.

use std::fmt::Write;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::connect::{Failure, Failures, tally};
use super::counts::Counts;
use super::{BenchArgs, Proto, proc};

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
    /// The percentiles of a histogram in microseconds; `None` if it is empty.
    fn of(histogram: &Histogram<u64>) -> Option<Self> {
        (!histogram.is_empty()).then(|| Self {
            p50_ms: ms(histogram.value_at_quantile(0.5)),
            p90_ms: ms(histogram.value_at_quantile(0.9)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        })
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// A point of the latency distribution.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Percentile {
    /// Such as 99.9.
    pub percentile: f64,
    /// From the send.
    pub latency_ms: f64,
    /// From when the message was due.
    pub schedule_latency_ms: f64,
}

/// The deliveries received in one second of the run (from the measured window on).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Second {
    /// The second's start, in seconds since the run began.
    pub t_s: f64,
    pub deliveries: u64,
    /// Latency from the send.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The resources in use at one moment (sampled once a second over the whole run).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Resources {
    /// Seconds since the run began.
    pub t_s: f64,
    /// Clients registered and joined so far.
    pub connected: usize,
    /// `--server-pid`'s resident memory.
    pub server_rss_bytes: Option<u64>,
    /// `--server-pid`'s CPU time so far.
    pub server_cpu_s: Option<f64>,
    /// The generator's own CPU time so far.
    pub generator_cpu_s: Option<f64>,
}

impl Resources {
    pub fn sample(t: Duration, connected: usize, server_pids: &[u32]) -> Self {
        let server = proc::sample_all(server_pids);
        Self {
            t_s: t.as_secs_f64(),
            connected,
            server_rss_bytes: server.map(|sample| sample.rss_bytes),
            server_cpu_s: server.map(|sample| sample.cpu.as_secs_f64()),
            generator_cpu_s: proc::sample(None).map(|sample| sample.cpu.as_secs_f64()),
        }
    }
}

/// How the senders send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// On a fixed schedule (`--rate R`).
    Open,
    /// A window of messages in flight each (`--rate 0`).
    Closed,
    /// Nobody sends (`--senders 0`).
    Idle,
}

/// A run's report (`--json` prints it as it is).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub proto: &'static str,
    pub mode: Mode,
    pub clients: usize,
    pub rooms: usize,
    pub senders: usize,
    pub rate_per_sender: f64,
    /// Closed loop: messages each sender may have in flight.
    pub window: Option<usize>,
    pub size_bytes: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// The loopback addresses the clients connected from (1: the system's choice).
    pub source_addresses: usize,
    /// The servers' addresses the clients were spread over (a cluster's nodes).
    pub servers: usize,

    /// Clients registered and joined.
    pub connected: usize,
    /// Clients that were not (refused, timed out, …: `connect_failures` says).
    pub failed_to_connect: usize,
    pub connect_failures: Vec<Failures>,
    /// How long connecting, registering and joining took for all clients.
    pub connect_s: f64,
    pub connects_per_s: f64,
    /// Each client's own time from connecting to its join.
    pub connect_latency: Option<Latency>,

    /// Clients whose connection ended during the run.
    pub disconnected: usize,
    pub disconnects: Vec<Failures>,
    /// Messages due in the measured window that were sent.
    pub sent: u64,
    pub sent_per_s: f64,
    /// Deliveries those messages called for (one per other member of the room).
    pub expected_deliveries: u64,
    pub deliveries: u64,
    /// Expected deliveries that never arrived, even after the drain.
    pub lost: u64,
    pub duplicates: u64,
    /// Open loop only: what the schedule asked for.
    pub offered_deliveries_per_s: Option<f64>,
    pub achieved_deliveries_per_s: f64,
    /// From the actual send.
    pub latency: Option<Latency>,
    /// From when each message was due: includes any time the sender fell behind.
    pub latency_from_schedule: Option<Latency>,
    /// With several servers (a cluster's nodes): the latency of deliveries whose sender is
    /// connected to the receiver's server, and of those whose sender is connected to another.
    pub latency_same_server: Option<Latency>,
    pub latency_across_servers: Option<Latency>,

    /// The server's CPU time in the measured window per delivery (`--server-pid`).
    pub server_cpu_us_per_delivery: Option<f64>,
    /// The server's share of one core during the measured window.
    pub server_cpu_cores: Option<f64>,
    /// The same of each `--server-pid` (a cluster's nodes and its Redis), in their order.
    pub server_processes: Vec<ProcessCpu>,
    /// The server's resident memory before any client connected, once all had, and at the
    /// measured window's end.
    pub server_rss_before_bytes: Option<u64>,
    pub server_rss_connected_bytes: Option<u64>,
    pub server_rss_end_bytes: Option<u64>,
    /// The server's resident memory growth per connected client, from before connecting to
    /// all connected.
    pub server_rss_per_client_bytes: Option<f64>,
    /// The server's CPU time while connecting, per client connected (registration and join).
    pub server_cpu_us_per_connect: Option<f64>,
    /// The server's share of one core while connecting.
    pub server_cpu_cores_connecting: Option<f64>,
    /// The generator's own share of one core while measuring: near the machine's cores (less
    /// what the server takes), the generator was the limit.
    pub generator_cpu_cores: Option<f64>,
    /// The same while connecting.
    pub generator_cpu_cores_connecting: Option<f64>,
    pub machine_cores: usize,

    /// The measured window, in seconds since the run began.
    pub window_start_s: f64,
    pub window_end_s: f64,
    /// The latency distribution, from the 0th percentile to as many nines as the deliveries
    /// allow.
    pub distribution: Vec<Percentile>,
    /// Each second from the window's start on (late deliveries included).
    pub per_second: Vec<Second>,
    /// The resources, once a second over the whole run.
    pub resources: Vec<Resources>,
}

/// One server process's CPU in the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessCpu {
    pub pid: u32,
    /// Its share of one core.
    pub cpu_cores: Option<f64>,
    /// Its CPU time per message sent (not per delivery: a cluster's Redis does its work per
    /// message, whatever the room's size).
    pub cpu_us_per_message: Option<f64>,
}

/// A process's samples at the run's turning points (`None`: /proc could not tell, or no
/// `--server-pid`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Samples {
    pub before: Option<proc::Sample>,
    pub connected: Option<proc::Sample>,
    pub window_start: Option<proc::Sample>,
    pub window_end: Option<proc::Sample>,
}

impl Samples {
    /// The process's CPU time while connecting.
    fn connecting_cpu(&self) -> Option<Duration> {
        cpu_between(self.before, self.connected)
    }

    /// The process's CPU time in the measured window.
    fn window_cpu(&self) -> Option<Duration> {
        cpu_between(self.window_start, self.window_end)
    }
}

/// A process's CPU time from one sample to another.
pub fn cpu_between(from: Option<proc::Sample>, to: Option<proc::Sample>) -> Option<Duration> {
    from.zip(to)
        .map(|(from, to)| to.cpu.saturating_sub(from.cpu))
}

/// What [`Report::build`] needs.
pub struct Run<'a> {
    pub args: &'a BenchArgs,
    pub connect: Duration,
    pub connected: usize,
    pub connect_failures: Vec<Failure>,
    pub connect_latency: &'a Histogram<u64>,
    pub disconnects: Vec<Failure>,
    pub sent: u64,
    pub expected: u64,
    pub counts: &'a Counts,
    /// The measured window, since the run began.
    pub window: (Duration, Duration),
    pub server: Samples,
    /// Each `--server-pid`'s CPU time in the measured window.
    pub each_window_cpu: Vec<(u32, Option<Duration>)>,
    pub generator: Samples,
    pub resources: Vec<Resources>,
}

impl Report {
    pub fn build(run: Run<'_>) -> Self {
        let args = run.args;
        let seconds = args.duration.as_secs_f64();
        let per_second = |count: f64| if seconds > 0.0 { count / seconds } else { 0.0 };
        let deliveries = run.counts.deliveries;
        let server_cpu = run.server.window_cpu();
        let connect_s = run.connect.as_secs_f64().max(1e-6);
        let rss = |sample: Option<proc::Sample>| sample.map(|sample| sample.rss_bytes);
        let window_start_s = run.window.0.as_secs_f64();
        Self {
            proto: match args.proto {
                Proto::Irc => "irc",
                Proto::Text => "text",
            },
            mode: match (args.senders, args.closed_loop()) {
                (0, _) => Mode::Idle,
                (_, true) => Mode::Closed,
                (_, false) => Mode::Open,
            },
            clients: args.clients,
            rooms: args.rooms,
            senders: args.senders,
            rate_per_sender: args.rate,
            window: (args.closed_loop() && args.senders > 0).then_some(args.window),
            size_bytes: args.size,
            warmup_s: args.warmup.as_secs_f64(),
            duration_s: seconds,
            source_addresses: args.source_addresses().len().max(1),
            servers: args.addresses().len(),

            connected: run.connected,
            failed_to_connect: run.connect_failures.len(),
            connect_failures: tally(run.connect_failures),
            connect_s: run.connect.as_secs_f64(),
            connects_per_s: run.connected as f64 / connect_s,
            connect_latency: Latency::of(run.connect_latency),

            disconnected: run.disconnects.len(),
            disconnects: tally(run.disconnects),
            sent: run.sent,
            sent_per_s: per_second(run.sent as f64),
            expected_deliveries: run.expected,
            deliveries,
            lost: run.expected.saturating_sub(deliveries),
            duplicates: run.counts.duplicates,
            offered_deliveries_per_s: (!args.closed_loop() && args.senders > 0)
                .then(|| per_second(run.expected as f64)),
            achieved_deliveries_per_s: per_second(deliveries as f64),
            latency: Latency::of(&run.counts.latency),
            latency_from_schedule: Latency::of(&run.counts.schedule_latency),
            latency_same_server: Latency::of(&run.counts.same_server_latency)
                .filter(|_| args.addresses().len() > 1),
            latency_across_servers: Latency::of(&run.counts.across_servers_latency),

            server_cpu_us_per_delivery: server_cpu
                .filter(|_| deliveries > 0)
                .map(|cpu| cpu.as_secs_f64() * 1e6 / deliveries as f64),
            server_cpu_cores: server_cpu.map(|cpu| per_second(cpu.as_secs_f64())),
            server_processes: run
                .each_window_cpu
                .iter()
                .map(|&(pid, cpu)| ProcessCpu {
                    pid,
                    cpu_cores: cpu.map(|cpu| per_second(cpu.as_secs_f64())),
                    cpu_us_per_message: cpu
                        .filter(|_| run.sent > 0)
                        .map(|cpu| cpu.as_secs_f64() * 1e6 / run.sent as f64),
                })
                .collect(),
            server_rss_before_bytes: rss(run.server.before),
            server_rss_connected_bytes: rss(run.server.connected),
            server_rss_end_bytes: rss(run.server.window_end),
            server_rss_per_client_bytes: run
                .server
                .before
                .zip(run.server.connected)
                .filter(|_| run.connected > 0)
                .map(|(before, after)| {
                    after.rss_bytes.saturating_sub(before.rss_bytes) as f64 / run.connected as f64
                }),
            server_cpu_us_per_connect: run
                .server
                .connecting_cpu()
                .filter(|_| run.connected > 0)
                .map(|cpu| cpu.as_secs_f64() * 1e6 / run.connected as f64),
            server_cpu_cores_connecting: run
                .server
                .connecting_cpu()
                .map(|cpu| cpu.as_secs_f64() / connect_s),
            generator_cpu_cores: run
                .generator
                .window_cpu()
                .map(|cpu| per_second(cpu.as_secs_f64())),
            generator_cpu_cores_connecting: run
                .generator
                .connecting_cpu()
                .map(|cpu| cpu.as_secs_f64() / connect_s),
            machine_cores: std::thread::available_parallelism().map_or(1, |cores| cores.get()),

            window_start_s,
            window_end_s: run.window.1.as_secs_f64(),
            distribution: distribution(run.counts),
            per_second: run
                .counts
                .per_second
                .iter()
                .enumerate()
                .map(|(second, histogram)| Second {
                    t_s: window_start_s + second as f64,
                    deliveries: histogram.len(),
                    p50_ms: ms(histogram.value_at_quantile(0.5)),
                    p99_ms: ms(histogram.value_at_quantile(0.99)),
                    max_ms: ms(histogram.max()),
                })
                .collect(),
            resources: run.resources,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes")
    }

    /// The report for people.
    pub fn table(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        let rooms = if self.rooms == 1 { "room" } else { "rooms" };
        let what = match self.mode {
            Mode::Idle => format!("no senders: clients held {:.1} s", self.duration_s),
            Mode::Closed => format!(
                "{} senders, closed loop of {} in flight each, {} bytes, {:.1} s measured after \
                 {:.1} s warm-up",
                self.senders,
                self.window.unwrap_or_default(),
                self.size_bytes,
                self.duration_s,
                self.warmup_s
            ),
            Mode::Open => format!(
                "{} senders × {}/s, {} bytes, {:.1} s measured after {:.1} s warm-up",
                self.senders, self.rate_per_sender, self.size_bytes, self.duration_s, self.warmup_s
            ),
        };
        let servers = match (self.servers, self.server_processes.len()) {
            (1, 0 | 1) => String::new(),
            (servers, processes) => {
                format!(" over {servers} servers ({processes} processes measured)")
            }
        };
        line(format!(
            "palaver bench: {} clients ({}) in {} {rooms}{servers}, {what}",
            self.clients, self.proto, self.rooms,
        ));
        line(format!(
            "connect + register + join: {} of {} clients in {:.3} s ({:.0}/s)",
            self.connected, self.clients, self.connect_s, self.connects_per_s,
        ));
        if let Some(latency) = &self.connect_latency {
            line(format!("  each client:         {}", percentiles(latency)));
        }
        let mut cpu = Vec::new();
        if let (Some(us), Some(cores)) = (
            self.server_cpu_us_per_connect,
            self.server_cpu_cores_connecting,
        ) {
            cpu.push(format!(
                "server {us:.0} µs CPU per client, {cores:.2} cores"
            ));
        }
        if let Some(cores) = self.generator_cpu_cores_connecting {
            cpu.push(format!("generator {cores:.2} cores"));
        }
        if !cpu.is_empty() {
            line(format!("  while connecting:    {}", cpu.join(", ")));
        }
        if self.failed_to_connect > 0 {
            line(format!(
                "  failed to connect: {} ({})",
                self.failed_to_connect,
                failures(&self.connect_failures)
            ));
        }
        if self.mode != Mode::Idle {
            line(format!(
                "sent {} messages ({:.0}/s); deliveries {} of {} expected ({} lost, {} \
                 duplicates)",
                self.sent,
                self.sent_per_s,
                self.deliveries,
                self.expected_deliveries,
                self.lost,
                self.duplicates
            ));
            let offered = self
                .offered_deliveries_per_s
                .map_or_else(|| "closed loop".to_owned(), |o| format!("{o:.0} offered"));
            line(format!(
                "deliveries/s: {offered}, {:.0} achieved",
                self.achieved_deliveries_per_s
            ));
            let latency = |latency: &Option<Latency>| {
                latency
                    .as_ref()
                    .map_or_else(|| "- (no deliveries)".to_owned(), percentiles)
            };
            line(format!("latency:               {}", latency(&self.latency)));
            line(format!(
                "latency from schedule: {}",
                latency(&self.latency_from_schedule)
            ));
            if self.servers > 1 {
                line(format!(
                    "  same server:         {}",
                    latency(&self.latency_same_server)
                ));
                line(format!(
                    "  across servers:      {}",
                    latency(&self.latency_across_servers)
                ));
            }
        }
        if self.disconnected > 0 {
            line(format!(
                "disconnected during the run: {} ({})",
                self.disconnected,
                failures(&self.disconnects)
            ));
        }
        match (self.server_cpu_cores, self.server_rss_before_bytes) {
            (Some(cores), Some(before)) => {
                let mut server = String::from("server: ");
                if let Some(us) = self.server_cpu_us_per_delivery {
                    let _ = write!(server, "CPU {us:.2} µs per delivery, ");
                }
                let _ = write!(server, "{cores:.2} cores; RSS {} before", mib(before));
                if let Some(connected) = self.server_rss_connected_bytes {
                    let _ = write!(server, ", {} connected", mib(connected));
                }
                if let Some(per_client) = self.server_rss_per_client_bytes {
                    let _ = write!(server, " ({:.1} KiB per client)", per_client / 1024.0);
                }
                if let Some(end) = self.server_rss_end_bytes {
                    let _ = write!(server, ", {} at the end", mib(end));
                }
                line(server);
                if self.server_processes.len() > 1 {
                    for process in &self.server_processes {
                        if let (Some(cores), Some(us)) =
                            (process.cpu_cores, process.cpu_us_per_message)
                        {
                            line(format!(
                                "  process {}: {cores:.2} cores, {us:.1} µs per message",
                                process.pid
                            ));
                        }
                    }
                }
            }
            _ => line("server: - (no --server-pid)".to_owned()),
        }
        if let Some(generator) = self.generator_cpu_cores {
            line(format!(
                "generator: {generator:.2} cores (of {} on this machine)",
                self.machine_cores
            ));
            let busy = generator + self.server_cpu_cores.unwrap_or(0.0);
            if busy >= 0.9 * self.machine_cores as f64 {
                line(format!(
                    "  note: generator and server used {busy:.2} of {} cores: the machine, not \
                     the server alone, may have set the pace",
                    self.machine_cores
                ));
            }
        }
        out
    }
}

fn percentiles(latency: &Latency) -> String {
    format!(
        "p50 {:.2} ms, p90 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2}",
        latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.p999_ms, latency.max_ms
    )
}

fn failures(failures: &[Failures]) -> String {
    failures
        .iter()
        .map(|failures| {
            format!(
                "{:?} {}, such as {:?}",
                failures.kind, failures.clients, failures.example
            )
            .to_lowercase()
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The latency distribution at tenths of a "nine" (0%, 20.6%, …, 90%, …, 99%, …), as far as
/// the deliveries counted can tell apart: n deliveries resolve about log10(n) nines.
fn distribution(counts: &Counts) -> Vec<Percentile> {
    let total = counts.latency.len();
    if total == 0 {
        return Vec::new();
    }
    let most_nines = (total as f64).log10();
    (0..)
        .map(|tenths| f64::from(tenths) / 10.0)
        .take_while(|nines| *nines <= most_nines)
        .map(|nines| {
            let quantile = 1.0 - 10f64.powf(-nines);
            Percentile {
                percentile: quantile * 100.0,
                latency_ms: ms(counts.latency.value_at_quantile(quantile)),
                schedule_latency_ms: ms(counts.schedule_latency.value_at_quantile(quantile)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::counts::{Batch, Delivery};

    #[test]
    fn the_distribution_goes_as_many_nines_as_the_deliveries_tell() {
        let mut counts = Counts::new(0);
        let batch = Batch {
            deliveries: (1..=1000)
                .map(|us| Delivery {
                    received_us: us,
                    latency_us: us,
                    schedule_latency_us: us * 2,
                    across_servers: false,
                })
                .collect(),
            duplicates: 0,
        };
        counts.add(&batch);
        let points = distribution(&counts);
        // 1,000 deliveries: three nines, at tenths: 0.0 … 3.0.
        assert_eq!(points.len(), 31);
        assert_eq!(points[0].percentile, 0.0);
        assert_eq!(points[10].latency_ms, 0.9);
        assert!((points[30].percentile - 99.9).abs() < 1e-9);
        assert_eq!(points[30].schedule_latency_ms, 1.998);
        assert!(distribution(&Counts::new(0)).is_empty());
    }
}
