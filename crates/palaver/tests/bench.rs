//! `palaver bench` against the real server over real sockets: a few clients for a second or
//! so, the JSON report parsed and its counts checked exactly (never its timings: benchmarks
//! are not assertions). The server runs with the benchmarks' own configuration,
//! `bench/palaver.toml` (loopback exempt from flood control, as a benchmark's server must be),
//! on ports of its own and an in-memory store; or as two nodes of a cluster on a real Redis, with
//! the clients spread over them.

mod common;

use std::time::Duration;

use common::cluster::{metric, start_node};
use common::{Options, Process, Server, TempDir, serve_with};
use palaver_server::test_redis::RedisServer;

/// How long anything may take before the test gives up (the runs take about a second each).
const PATIENCE: Duration = Duration::from_secs(30);

/// The benchmarks' configuration, as `bench/compare.sh` runs the server with it.
const BENCH_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/palaver.toml");

/// A server with the benchmarks' configuration (its listeners replaced by free ports).
fn bench_server() -> Server {
    serve_with(&["--config", BENCH_CONFIG], Options::default())
}

/// Runs `palaver bench --addr ADDRESS FLAGS… EXTRA… --json` to its end and returns the parsed
/// report; `flags` are split at spaces.
fn bench(address: &str, flags: &str, extra: &[&str]) -> serde_json::Value {
    let mut full = vec!["bench", "--addr", address];
    full.extend(flags.split(' '));
    full.extend_from_slice(extra);
    full.push("--json");
    let mut process = Process::spawn(&full, Options::default());
    let (status, stdout) = process.wait_exit();
    assert!(
        status.success(),
        "palaver bench failed ({status}): {}",
        process.stderr_text()
    );
    // Stderr is no terminal here: no progress bar, nothing at all.
    assert_eq!(process.stderr_text(), "");
    serde_json::from_str(&stdout.join("\n")).expect("a JSON report")
}

#[test]
fn bench_counts_every_delivery_over_irc_and_text() {
    let server = bench_server();
    let irc = server.irc().to_string();
    let text = server.text.to_string();

    // 4 clients in one room, 2 of them sending 10 a second for 1 s: 20 messages, each for the
    // 3 other members.
    let report = bench(
        &irc,
        "--clients 4 --senders 2 --rate 10 --duration 1s --warmup 0s",
        &[],
    );
    assert_eq!(report["proto"], "irc");
    assert_eq!(report["mode"], "open");
    assert_eq!(report["connected"], 4);
    assert_eq!(report["failed_to_connect"], 0);
    assert_eq!(report["disconnected"], 0);
    assert_eq!(report["sent"], 20);
    assert_eq!(report["expected_deliveries"], 60);
    assert_eq!(report["deliveries"], 60);
    assert_eq!(report["lost"], 0);
    assert_eq!(report["duplicates"], 0);
    assert_eq!(report["offered_deliveries_per_s"], 60.0);
    assert!(report["latency"]["p99_ms"].as_f64().unwrap() > 0.0);
    let seconds = report["per_second"].as_array().unwrap();
    let per_second: u64 = seconds
        .iter()
        .map(|s| s["deliveries"].as_u64().unwrap())
        .sum();
    assert_eq!(per_second, 60);

    // The text protocol, 6 clients in 2 rooms of 3, 2 senders (one per room) sending 5 a
    // second for 1 s after a warm-up: 10 messages, each for 2 others.
    let report = bench(
        &text,
        "--proto text --clients 6 --rooms 2 --senders 2 --rate 5 --duration 1s --warmup 200ms",
        &[],
    );
    assert_eq!(report["proto"], "text");
    assert_eq!(report["connected"], 6);
    assert_eq!(report["sent"], 10);
    assert_eq!(report["expected_deliveries"], 20);
    assert_eq!(report["deliveries"], 20);
    assert_eq!(report["lost"], 0);
    assert_eq!(report["duplicates"], 0);
}

#[test]
fn a_closed_loop_counts_what_its_senders_managed_to_send() {
    let server = bench_server();
    let irc = server.irc().to_string();

    // 6 clients in 2 rooms of 3, 2 senders with at most 4 messages in flight each: as many
    // messages as the server takes in the second, each for the 2 others of its room.
    let report = bench(
        &irc,
        "--clients 6 --rooms 2 --senders 2 --rate 0 --window 4 --duration 1s --warmup 200ms",
        &[],
    );
    assert_eq!(report["mode"], "closed");
    assert_eq!(report["window"], 4);
    assert_eq!(report["offered_deliveries_per_s"], serde_json::Value::Null);
    let sent = report["sent"].as_u64().unwrap();
    assert!(sent > 0, "no message sent: {report}");
    assert_eq!(report["expected_deliveries"], sent * 2);
    assert_eq!(report["deliveries"], sent * 2);
    assert_eq!(report["lost"], 0);
    assert_eq!(report["duplicates"], 0);
    // One server: nothing crosses between servers.
    assert!(report["latency_same_server"].is_null(), "{report}");
    assert!(report["latency_across_servers"].is_null(), "{report}");
}

#[test]
fn clients_spread_over_a_clusters_nodes_hear_each_other_and_every_node_is_measured() {
    let redis = RedisServer::start();
    let config = std::path::Path::new(BENCH_CONFIG);
    let nodes = [
        start_node(&redis, "alpha", config),
        start_node(&redis, "beta", config),
    ];
    let [alpha, beta] = &nodes;
    let pids = nodes
        .each_ref()
        .map(|node| node.process.child.id().to_string());

    // 6 clients in 2 rooms of 3, each room's members on both nodes in turn (clients 0 and 1
    // on alpha, 2 and 3 on beta, 4 and 5 on alpha again); one sender per room, 10 a second
    // for 1 s: 20 messages, each for the 2 other members of its room.
    let report = bench(
        &alpha.irc.to_string(),
        "--clients 6 --rooms 2 --senders 2 --rate 10 --duration 1s --warmup 200ms",
        &[
            "--addr",
            &beta.irc.to_string(),
            "--server-pid",
            &pids[0],
            "--server-pid",
            &pids[1],
        ],
    );
    assert_eq!(report["servers"], 2);
    // Both nodes measured, each on its own too.
    let processes = report["server_processes"].as_array().unwrap();
    let measured: Vec<String> = processes.iter().map(|p| p["pid"].to_string()).collect();
    assert_eq!(measured, pids);
    assert!(
        processes
            .iter()
            .all(|p| p["cpu_us_per_message"].as_f64().unwrap() > 0.0)
    );
    assert_eq!(report["connected"], 6);
    assert_eq!(report["expected_deliveries"], 40);
    assert_eq!(report["deliveries"], 40);
    assert_eq!(report["lost"], 0);
    assert_eq!(report["duplicates"], 0);
    assert!(report["server_cpu_us_per_delivery"].as_f64().unwrap() > 0.0);
    // Each sender has one listener on its own node and one on the other: both kinds of
    // delivery are measured apart.
    for kind in ["latency_same_server", "latency_across_servers"] {
        assert!(
            report[kind]["p99_ms"].as_f64().unwrap() > 0.0,
            "{kind}: {report}"
        );
    }
    // The clients went to both nodes, as said.
    let accepted = |node| {
        metric(
            node,
            "palaver_connections_accepted_total{protocol=\"irc\",transport=\"tcp\"}",
        )
    };
    assert_eq!((accepted(alpha), accepted(beta)), ("4".into(), "2".into()));
}

#[test]
fn idle_clients_are_held_and_the_servers_memory_sampled() {
    let server = bench_server();
    let irc = server.irc().to_string();
    let pid = server.process.child.id().to_string();

    // 20 clients in 5 rooms, nobody sending, held for a second, from 3 source addresses.
    let report = bench(
        &irc,
        "--clients 20 --rooms 5 --senders 0 --duration 1s --warmup 0s --source-addresses 3",
        &["--server-pid", &pid],
    );
    assert_eq!(report["mode"], "idle");
    assert_eq!(report["source_addresses"], 3);
    assert_eq!(report["connected"], 20);
    assert_eq!(report["failed_to_connect"], 0);
    assert_eq!(report["sent"], 0);
    assert_eq!(report["expected_deliveries"], 0);
    assert_eq!(report["deliveries"], 0);
    assert_eq!(report["latency"], serde_json::Value::Null);
    assert_eq!(
        report["server_cpu_us_per_delivery"],
        serde_json::Value::Null
    );
    assert!(report["server_rss_per_client_bytes"].is_number());
    assert!(report["connect_latency"]["max_ms"].as_f64().unwrap() > 0.0);
    let resources = report["resources"].as_array().unwrap();
    let last = resources.last().unwrap();
    assert_eq!(last["connected"], 20);
    assert!(last["server_rss_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn clients_the_server_refuses_are_counted_not_fatal() {
    let directory = TempDir::new("bench-refused");
    // Three connections per address, loopback included.
    let config = directory.path.join("palaver.toml");
    let limits = "[limits]\nconnections_per_address = 3\nexempt_addresses = []\n";
    std::fs::write(&config, limits).unwrap();
    let server = serve_with(&["--config", config.to_str().unwrap()], Options::default());
    let irc = server.irc().to_string();

    let report = bench(
        &irc,
        "--clients 5 --senders 0 --duration 0s --warmup 0s",
        &[],
    );
    assert_eq!(report["connected"], 3);
    assert_eq!(report["failed_to_connect"], 2);
    let failures = report["connect_failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["kind"], "refused");
    assert_eq!(failures[0]["clients"], 2);
    assert!(
        failures[0]["example"]
            .as_str()
            .unwrap()
            .starts_with("ERROR "),
        "{failures:?}"
    );
}

#[test]
fn the_plot_is_an_svg_with_every_series() {
    let directory = TempDir::new("bench-plot");
    let server = bench_server();
    let irc = server.irc().to_string();
    let pid = server.process.child.id().to_string();
    let plot = directory.path.join("plot.svg");

    bench(
        &irc,
        "--clients 4 --senders 2 --rate 20 --duration 1s --warmup 0s",
        &["--server-pid", &pid, "--plot", plot.to_str().unwrap()],
    );
    let svg = std::fs::read_to_string(&plot).expect("the plot was written");
    let document = roxmltree::Document::parse(&svg).expect("the plot is XML");
    assert_eq!(document.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = document
        .descendants()
        .filter(|node| node.has_tag_name("text"))
        .filter_map(|node| node.text())
        .map(str::trim)
        .collect();
    for expected in [
        "Latency over time (from the send; each second of receipt)",
        "p50",
        "p99",
        "max",
        "Latency distribution",
        "from the send",
        "from the schedule",
        "Server memory and connected clients",
        "server RSS (MiB)",
        "connected clients",
        "measured window",
    ] {
        assert!(texts.contains(&expected), "no {expected:?} in {texts:?}");
    }
    // A line per series: three over time, two in the distribution, memory and clients.
    let lines = document
        .descendants()
        .filter(|node| node.has_tag_name("polyline"))
        .count();
    assert!(lines >= 7, "{lines} lines");
}

#[test]
fn bench_refuses_impossible_settings_in_one_line() {
    let cases: [(&[&str], &str); 3] = [
        (&["--clients", "1"], "--clients must be at least 2"),
        (
            &[
                "--clients",
                "4",
                "--senders",
                "2",
                "--rooms",
                "3",
                "--rate",
                "0",
            ],
            "a closed loop (--rate 0) needs at least two clients per room: another member \
             counts each sender's messages back to it",
        ),
        (
            &["--addr", "192.0.2.1:6667", "--source-addresses", "2"],
            "--source-addresses needs a server on IPv4 loopback (127.0.0.0/8)",
        ),
    ];
    for (args, error) in cases {
        let mut full = vec!["bench", "--duration", "1s"];
        full.extend_from_slice(args);
        let mut process = Process::spawn(&full, Options::default());
        let (status, _) = process.wait_exit();
        assert!(!status.success());
        assert_eq!(
            process.stderr_text().trim_end(),
            format!("palaver: {error}")
        );
    }
}
