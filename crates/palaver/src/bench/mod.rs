//! `palaver bench`: a load generator for chat servers. It connects clients (IRC, so it measures
//! any IRC server, or palaver's text protocol), spreads them over rooms, has some of them send
//! numbered, timestamped messages, and has every client count what it receives: deliveries,
//! losses, duplicates, and latency in HDR histograms, measured both from the actual send and
//! from the schedule (so a stalled sender cannot hide latency: coordinated omission). With
//! `--server-pid` it also samples the server's CPU time and memory from /proc, once a second.
//!
//! Several `--addr`s spread the clients over the nodes of a cluster (each room's members take
//! the addresses in turn, so every room spans them); several `--server-pid`s are summed, so a
//! cluster's nodes and its Redis count as one server.
//!
//! Senders send on a fixed schedule (`--rate R`, open loop), or as fast as the server takes
//! them with at most `--window W` messages each in flight (`--rate 0`, closed loop), or not at
//! all (`--senders 0`: idle clients held for `--duration`, to measure memory per connection or
//! a registration storm).
//!
//! The phases, each bounded in time: raise the open-file limit; connect and register every
//! client (at most `--connect-concurrency` at once; a client that fails is counted, not fatal)
//! and join its room; warm up; measure for `--duration`; stop sending and drain (until every
//! expected delivery arrived, or a few seconds); report, and draw the plot.
//!
//! `connect.rs` connects the clients, `client.rs` is one client's task while the load runs,
//! `load.rs` the phases, `counts.rs` what the clients counted, `report.rs` the report (a table,
//! or JSON), `plot.rs` its SVG charts, `progress.rs` the progress bar, `proc.rs` what /proc
//! says of a process; the open-file limit is raised by `crate::open_files`, shared with
//! `serve`.

mod client;
mod connect;
mod counts;
mod load;
mod plot;
mod proc;
mod progress;
mod report;

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, ensure};
use clap::{Args, ValueEnum};
use palaver_server::config::parse_duration;

use progress::Progress;

/// The protocol the clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Proto {
    Irc,
    Text,
}

/// How many clients share one source address when `--source-addresses` is not given: one
/// loopback address has some 28,000 ephemeral ports (Linux's default range, 32768–60999) to
/// connect to one server from; this leaves room for connections still in TIME_WAIT.
const CLIENTS_PER_SOURCE_ADDRESS: usize = 20_000;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The server's address [default: 127.0.0.1:6667 for IRC, 127.0.0.1:7788 for text].
    /// Repeat for a cluster's nodes: each room's members connect to them in turn.
    #[arg(long, value_name = "ADDR")]
    pub addr: Vec<SocketAddr>,

    /// The protocol the clients speak.
    #[arg(long, value_enum, default_value = "irc")]
    pub proto: Proto,

    /// How many clients connect.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub clients: usize,

    /// How many rooms they are spread over (client i joins room i mod K).
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub rooms: usize,

    /// How many of the clients send (spread over the rooms like the others); 0: the clients
    /// stay idle for --duration (memory per connection, registration storms).
    #[arg(long, value_name = "S", default_value_t = 20)]
    pub senders: usize,

    /// Messages per second each sender sends, on a fixed schedule (open loop); 0: closed
    /// loop, each sender keeping at most --window messages in flight.
    #[arg(long, value_name = "R", default_value_t = 200.0)]
    pub rate: f64,

    /// Closed loop (--rate 0): how many of its messages each sender may have in flight, sent
    /// but not yet received by its witness (the next client in its room).
    #[arg(long, value_name = "W", default_value_t = 8)]
    pub window: usize,

    /// The size of each message's text in bytes (at least what its numbers take).
    #[arg(long, value_name = "BYTES", default_value_t = 32)]
    pub size: usize,

    /// How long to measure, such as 10s (with --senders 0: how long to hold the clients).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,

    /// How long to send before measuring, such as 2s.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub warmup: Duration,

    /// How many clients may be connecting and registering at once.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub connect_concurrency: usize,

    /// Bind the clients round-robin to N source addresses, 127.0.0.1 to 127.0.0.N (a
    /// loopback server only): each address has some 28,000 ports to connect from [default:
    /// one per 20,000 clients].
    #[arg(long, value_name = "N")]
    pub source_addresses: Option<usize>,

    /// The server's process id: its CPU time and memory are sampled from /proc. Repeat for a
    /// cluster (its nodes, its Redis): their CPU times and memory are added up.
    #[arg(long, value_name = "PID")]
    pub server_pid: Vec<u32>,

    /// Draw the latency over time, the latency distribution and (with --server-pid) the
    /// server's memory over time into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl BenchArgs {
    /// The servers' addresses: `--addr`s, or the protocol's default port on loopback.
    fn addresses(&self) -> Vec<SocketAddr> {
        if !self.addr.is_empty() {
            return self.addr.clone();
        }
        let port = match self.proto {
            Proto::Irc => 6667,
            Proto::Text => 7788,
        };
        vec![SocketAddr::from(([127, 0, 0, 1], port))]
    }

    /// The address client `index` connects to: the members of a room (client i is in room
    /// i mod K) take the addresses in turn, so that each room spans every node of a cluster.
    fn address_of(&self, index: usize, addresses: &[SocketAddr]) -> SocketAddr {
        addresses[self.server_of(index, addresses.len())]
    }

    /// Which of `servers` addresses client `index` connects to ([`Self::address_of`]).
    fn server_of(&self, index: usize, servers: usize) -> usize {
        (index / self.rooms) % servers
    }

    /// Whether every server is on IPv4 loopback, where the clients can connect from several
    /// source addresses.
    fn on_ipv4_loopback(&self) -> bool {
        self.addresses()
            .iter()
            .all(|address| address.is_ipv4() && address.ip().is_loopback())
    }

    /// Closed loop: senders send as fast as their window lets them.
    fn closed_loop(&self) -> bool {
        self.rate == 0.0
    }

    /// The addresses the clients connect from, round-robin; empty: the system picks (one
    /// address), as for any server not on IPv4 loopback.
    fn source_addresses(&self) -> Vec<IpAddr> {
        let count = self
            .source_addresses
            .unwrap_or_else(|| self.clients.div_ceil(CLIENTS_PER_SOURCE_ADDRESS));
        if count <= 1 || !self.on_ipv4_loopback() {
            return Vec::new();
        }
        (1..=count)
            .map(|last| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last as u8)))
            .collect()
    }

    fn check(&self) -> anyhow::Result<()> {
        ensure!(self.clients >= 2, "--clients must be at least 2");
        ensure!(
            (1..=self.clients).contains(&self.rooms),
            "--rooms must be between 1 and --clients"
        );
        ensure!(
            self.senders <= self.clients,
            "--senders must be at most --clients"
        );
        ensure!(
            self.rate.is_finite() && self.rate >= 0.0,
            "--rate must be a number of messages per second per sender (0: closed loop)"
        );
        if self.closed_loop() && self.senders > 0 {
            ensure!(self.window >= 1, "--window must be at least 1");
            ensure!(
                self.clients >= 2 * self.rooms,
                "a closed loop (--rate 0) needs at least two clients per room: another member \
                 counts each sender's messages back to it"
            );
        }
        ensure!(
            self.connect_concurrency >= 1,
            "--connect-concurrency must be at least 1"
        );
        ensure!(
            self.senders == 0 || !self.duration.is_zero(),
            "--duration must be positive"
        );
        ensure!(
            self.size <= 400,
            "--size must be at most 400 bytes (one IRC line)"
        );
        if let Some(count) = self.source_addresses {
            ensure!(
                (1..=254).contains(&count),
                "--source-addresses must be between 1 and 254"
            );
            ensure!(
                count == 1 || self.on_ipv4_loopback(),
                "--source-addresses needs a server on IPv4 loopback (127.0.0.0/8)"
            );
        }
        Ok(())
    }
}

/// Runs the benchmark, prints its report and draws its plot.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    args.check()?;
    crate::open_files::raise_for(args.clients)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let progress = Progress::new(std::io::stderr().is_terminal());
    let report = runtime.block_on(load::run(&args, &progress));
    progress.finish();
    let report = report?;
    if let Some(path) = &args.plot {
        plot::write(&report, path)
            .with_context(|| format!("cannot draw the plot {}", path.display()))?;
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.table());
    }
    Ok(())
}
