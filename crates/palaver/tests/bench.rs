//! A smoke test of `palaver bench` against the real server: a few clients for a second, its
//! JSON report parsed and its counts checked exactly (never its timings: benchmarks are not
//! assertions). The server exempts loopback from flood control in its configuration, as a
//! benchmark's server must; the defaults stay as they are.

mod common;

use std::time::Duration;

use common::{Options, Process, TempDir, serve_with};

/// How long anything may take before the test gives up (the runs take about a second each).
const PATIENCE: Duration = Duration::from_secs(30);

/// Runs `palaver bench ARGS --json` to its end and returns the parsed report.
fn bench(args: &[&str]) -> serde_json::Value {
    let mut full = vec!["bench"];
    full.extend_from_slice(args);
    full.push("--json");
    let mut process = Process::spawn(&full, Options::default());
    let (status, stdout) = process.wait_exit();
    assert!(
        status.success(),
        "palaver bench failed ({status}): {}",
        process.stderr_text()
    );
    serde_json::from_str(&stdout.join("\n")).expect("a JSON report")
}

#[test]
fn bench_counts_every_delivery_over_irc_and_text() {
    let directory = TempDir::new("bench");
    let config = directory.path.join("palaver.toml");
    std::fs::write(&config, "[flood]\nexempt_addresses = [\"127.0.0.0/8\"]\n").unwrap();
    let server = serve_with(&["--config", config.to_str().unwrap()], Options::default());
    let irc = server.irc().to_string();
    let text = server.text.to_string();

    // 4 clients in one room, 2 of them sending 10 a second for 1 s: 20 messages, each for the
    // 3 other members.
    let report = bench(&[
        "--addr",
        &irc,
        "--clients",
        "4",
        "--senders",
        "2",
        "--rate",
        "10",
        "--duration",
        "1s",
        "--warmup",
        "0s",
    ]);
    assert_eq!(report["proto"], "irc");
    assert_eq!(report["sent"], 20);
    assert_eq!(report["expected_deliveries"], 60);
    assert_eq!(report["deliveries"], 60);
    assert_eq!(report["lost"], 0);
    assert_eq!(report["duplicates"], 0);
    assert!(report["latency"]["p99_ms"].as_f64().unwrap() > 0.0);

    // The text protocol, 6 clients in 2 rooms of 3, 2 senders (one per room) sending 5 a
    // second for 1 s after a warm-up: 10 messages, each for 2 others.
    let report = bench(&[
        "--proto",
        "text",
        "--addr",
        &text,
        "--clients",
        "6",
        "--rooms",
        "2",
        "--senders",
        "2",
        "--rate",
        "5",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
    ]);
    assert_eq!(report["proto"], "text");
    assert_eq!(report["sent"], 10);
    assert_eq!(report["expected_deliveries"], 20);
    assert_eq!(report["deliveries"], 20);
    assert_eq!(report["lost"], 0);
    assert_eq!(report["duplicates"], 0);
}

#[test]
fn bench_refuses_impossible_settings_in_one_line() {
    let mut process = Process::spawn(
        &["bench", "--clients", "1", "--duration", "1s"],
        Options::default(),
    );
    let (status, _) = process.wait_exit();
    assert!(!status.success());
    assert_eq!(
        process.stderr_text().trim_end(),
        "palaver: --clients must be at least 2"
    );
}
