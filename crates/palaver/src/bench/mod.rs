//! `palaver bench`: a load generator for chat servers. It connects clients (IRC, so it measures
//! any IRC server, or palaver's text protocol), spreads them over rooms, has some of them send
//! numbered, timestamped messages on a fixed schedule (open loop), and has every client count
//! what it receives: deliveries, losses, duplicates, and latency in HDR histograms, measured
//! both from the actual send and from the schedule (so a stalled sender cannot hide latency:
//! coordinated omission). With `--server-pid` it also samples the server's CPU time and memory
//! from /proc.
//!
//! The phases, each bounded in time: connect and register every client (at most
//! `--connect-concurrency` at once) and join its room; warm up; measure for `--duration`;
//! stop sending and drain (until every expected delivery arrived, or a few seconds); report.
//!
//! `load.rs` is the clients, `report.rs` the counting and the report, `proc.rs` what /proc
//! says of a process.

mod load;
mod proc;
mod report;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, ensure};
use clap::{Args, ValueEnum};
use palaver_server::config::parse_duration;

/// The protocol the clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Proto {
    Irc,
    Text,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The server's address [default: 127.0.0.1:6667 for IRC, 127.0.0.1:7788 for text].
    #[arg(long, value_name = "ADDR")]
    pub addr: Option<SocketAddr>,

    /// The protocol the clients speak.
    #[arg(long, value_enum, default_value = "irc")]
    pub proto: Proto,

    /// How many clients connect.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub clients: usize,

    /// How many rooms they are spread over (client i joins room i mod K).
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub rooms: usize,

    /// How many of the clients send (spread over the rooms like the others).
    #[arg(long, value_name = "S", default_value_t = 20)]
    pub senders: usize,

    /// Messages per second each sender sends, on a fixed schedule.
    #[arg(long, value_name = "R", default_value_t = 200.0)]
    pub rate: f64,

    /// The size of each message's text in bytes (at least what its numbers take).
    #[arg(long, value_name = "BYTES", default_value_t = 32)]
    pub size: usize,

    /// How long to measure, such as 10s.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,

    /// How long to send before measuring, such as 2s.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub warmup: Duration,

    /// How many clients may be connecting and registering at once.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub connect_concurrency: usize,

    /// The server's process id: its CPU time and memory are sampled from /proc.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl BenchArgs {
    fn address(&self) -> SocketAddr {
        self.addr.unwrap_or_else(|| {
            let port = match self.proto {
                Proto::Irc => 6667,
                Proto::Text => 7788,
            };
            SocketAddr::from(([127, 0, 0, 1], port))
        })
    }

    fn check(&self) -> anyhow::Result<()> {
        ensure!(self.clients >= 2, "--clients must be at least 2");
        ensure!(
            (1..=self.clients).contains(&self.rooms),
            "--rooms must be between 1 and --clients"
        );
        ensure!(
            (1..=self.clients).contains(&self.senders),
            "--senders must be between 1 and --clients"
        );
        ensure!(
            self.rate.is_finite() && self.rate > 0.0,
            "--rate must be a positive number of messages per second per sender"
        );
        ensure!(
            self.connect_concurrency >= 1,
            "--connect-concurrency must be at least 1"
        );
        ensure!(!self.duration.is_zero(), "--duration must be positive");
        ensure!(
            self.size <= 400,
            "--size must be at most 400 bytes (one IRC line)"
        );
        Ok(())
    }
}

/// Runs the benchmark and prints its report.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    args.check()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(load::run(&args))?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.table());
    }
    Ok(())
}
