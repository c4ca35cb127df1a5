//! `palaver serve --cluster URL`: history, accounts and the rest kept in a real Redis
//! (`redis-server`, started per test on a Unix socket with the persistence palaver requires).
//!
//! What is promised (docs/CLUSTER.md, "The Redis store"): what one run stored, the next run
//! on the same Redis finds; a message acknowledged before Redis crashed is still there after
//! it restarts, one said while it was down reaches the room and its sender is told it was not
//! saved, and storing resumes by itself; one node uses a Redis at a time; `rediss://` speaks
//! TLS and verifies Redis's certificate; a Redis that could lose an acknowledged write, or
//! that cannot be reached, stops the server before `ready` with a line saying why, and never
//! with the Redis password in it.

mod common;

use std::time::Duration;

use common::{Observer, Options, Process, TempDir, free_port, serve_with};
use palaver_server::test_redis::{RedisSentinel, RedisServer};

/// How long a test waits for anything before declaring the server broken (a safety net, not
/// a synchronisation).
const PATIENCE: Duration = Duration::from_secs(30);

/// Spawns `palaver serve --cluster URL` on free ports with info logs and waits for `ready`.
fn serve_on_redis(url: &str) -> common::Server {
    serve_with(&["--cluster", url, "--log", "info"], Options::default())
}

/// Spawns `palaver serve --cluster URL` expected to fail, and returns its stderr once it has
/// exited (with a failure status).
fn refused(url: &str) -> String {
    let mut process = Process::spawn(
        &[
            "serve",
            "--text-listen",
            "127.0.0.1:0",
            "--irc-listen",
            "127.0.0.1:0",
            "--cluster",
            url,
        ],
        Options::default(),
    );
    let (status, stdout) = process.wait_exit();
    assert!(!status.success(), "palaver started: {stdout:?}");
    assert!(
        !stdout.iter().any(|line| line == "ready"),
        "printed ready: {stdout:?}"
    );
    process.stderr_text()
}

#[test]
fn history_and_accounts_outlive_the_server_in_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut first = serve_on_redis(&url);
    let opened = first.process.stderr_line_containing("history store open");
    assert!(opened.contains(&format!("path={url}")), "{opened}");

    let mut alice = Observer::join_ops(first.text, "alice");
    alice.send("/register correct-horse");
    alice.skip_until("-- account alice registered; you are logged in");
    alice.send("kept in redis");
    // The sender's own copy is its receipt: the message is in Redis's append-only file.
    alice.skip_until("#ops <alice> kept in redis");
    // Stopped with alice still in #ops: the room's lifetime did not end (as on SQLite, a room
    // its last member leaves forgets its history), so it comes back with the next run.
    first.process.signal("TERM");
    let (status, _) = first.process.wait_exit();
    assert!(status.success(), "{status}");
    drop(alice);

    let second = serve_on_redis(&url);
    let mut reader = Observer::join_ops(second.text, "reader");
    // The account is still registered, and its password still works.
    reader.send("/login alice wrong-password");
    reader.skip_until("! wrong account name or password");
    reader.send("/login alice correct-horse");
    reader.skip_until("-- you are now logged in as alice");
    // The room's history came back with it.
    reader.send("/history");
    reader.skip_until("#ops <alice> kept in redis");
}

#[test]
fn while_redis_is_down_messages_are_refused_and_taken_again_when_it_is_back() {
    let mut redis = RedisServer::start();
    let server = serve_on_redis(&redis.url());
    let mut alice = Observer::join_ops(server.text, "alice");
    let mut bob = Observer::join_ops(server.text, "bob");
    alice.skip_until("-- bob joined #ops");
    alice.send("acknowledged before the crash");
    alice.skip_until("#ops <alice> acknowledged before the crash");

    redis.stop();
    // Redis orders every room's messages: once the node finds it gone, none can be said, and
    // alice is told so, then for each message.
    alice.skip_until(
        "-- the link to the rest of the network is down; messages cannot be sent until it is back",
    );
    alice.send("said while redis is down");
    alice.expect(
        "! not sent: this server has lost its link to the rest of the network; try again in a \
         moment",
    );

    // Back, with what its append-only file held: the next message is said and stored, and
    // the refused one never reached bob.
    redis.restart();
    alice.skip_until("-- the link to the rest of the network is back");
    alice.send("said once redis is back");
    alice.expect("#ops <alice> said once redis is back");
    let seen = bob.skip_until("#ops <alice> said once redis is back");
    assert!(
        !seen
            .iter()
            .any(|line| line.contains("said while redis is down")),
        "{seen:?}"
    );
    alice.send("/history");
    let history = alice.skip_until("-- end of history");
    assert_eq!(
        history,
        [
            "-- history",
            "#ops <alice> acknowledged before the crash",
            "#ops <alice> said once redis is back"
        ]
    );
}

#[test]
fn a_redis_that_could_lose_acknowledged_messages_is_refused() {
    let redis = RedisServer::start();
    assert_eq!(redis.command("CONFIG SET appendfsync everysec"), "+OK");
    let stderr = refused(&redis.url());
    assert!(
        stderr.contains(r#"appendfsync is "everysec", not "always""#),
        "{stderr}"
    );
    // The check can be turned off, for a Redis whose durability is the operator's choice.
    let config = common::TempDir::new("redis-config");
    let path = config.path.join("palaver.toml");
    std::fs::write(&path, "[cluster]\nverify_persistence = false\n").expect("write config");
    serve_with(
        &[
            "--cluster",
            &redis.url(),
            "--config",
            path.to_str().expect("UTF-8 path"),
        ],
        Options::default(),
    );
}

#[test]
fn the_redis_user_docs_security_suggests_is_all_palaver_needs() {
    let redis = RedisServer::start();
    // As docs/SECURITY.md, "Redis holds the password hashes too", gives it.
    assert_eq!(
        redis.command(
            "ACL SETUSER palaver on >s3cret ~palaver:* &palaver:* +@all -@dangerous +config|get"
        ),
        "+OK"
    );
    let url = format!(
        "redis+unix://{}?user=palaver&pass=s3cret",
        redis.socket().display()
    );
    let server = serve_on_redis(&url);
    let mut alice = Observer::join_ops(server.text, "alice");
    alice.send("/register correct-horse");
    alice.skip_until("-- account alice registered; you are logged in");
    alice.send("stored as palaver's own user");
    alice.skip_until("#ops <alice> stored as palaver's own user");
    alice.send("/history");
    alice.skip_until("#ops <alice> stored as palaver's own user");
    assert!(!server.process.stderr_text().contains("s3cret"));
}

#[test]
fn rediss_urls_reach_redis_over_tls_and_verify_its_certificate() {
    let certificates = common::TempDir::new("redis-tls");
    let (generated, _, stderr) = common::gen_cert(&certificates.path, &[]);
    assert!(generated, "{stderr}");
    let certificate = certificates.path.join("cert.pem");
    let key = certificates.path.join("key.pem");
    let port = free_port().to_string();
    let redis = RedisServer::start_with(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        certificate.to_str().expect("UTF-8 path"),
        "--tls-key-file",
        key.to_str().expect("UTF-8 path"),
        "--tls-auth-clients",
        "no",
    ]);
    let url = format!("rediss://localhost:{port}");
    // A certificate the system does not trust is refused.
    let stderr = refused(&url);
    assert!(
        stderr.contains(&format!("cannot reach Redis at {url}"))
            && stderr.contains("invalid peer certificate"),
        "{stderr}"
    );
    // Trusted (here through SSL_CERT_FILE, which the system's roots are read from), it serves.
    let trusted = certificate.to_str().expect("UTF-8 path");
    let server = serve_with(
        &["--cluster", &url],
        Options {
            envs: &[("SSL_CERT_FILE", trusted)],
            ..Options::default()
        },
    );
    let mut alice = Observer::join_ops(server.text, "alice");
    alice.send("over tls");
    alice.skip_until("#ops <alice> over tls");
    drop(redis);
}

#[test]
fn an_unreachable_redis_stops_the_server_without_showing_its_password() {
    let port = free_port();
    let stderr = refused(&format!("redis://palaver:hunter2@127.0.0.1:{port}"));
    assert!(
        stderr.contains(&format!("redis://…@127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// Through Sentinel (`redis+sentinel://`): the node finds the primary, and when the primary
/// dies and the Sentinel promotes its replica, the node follows by itself: what was
/// acknowledged (and replicated) before is still in the history, and messages are stored
/// again, on the new primary, without anyone reconnecting.
#[test]
fn a_node_follows_the_primary_sentinel_names_through_a_failover() {
    let (primary_port, replica_port, sentinel_port) = (free_port(), free_port(), free_port());
    // The primary sends its replica the first copy at once, rather than after Redis's default
    // five seconds of waiting for more replicas.
    let mut primary = RedisServer::start_with(&[
        "--port",
        &primary_port.to_string(),
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let _replica = RedisServer::start_with(&[
        "--port",
        &replica_port.to_string(),
        "--replicaof",
        "127.0.0.1",
        &primary_port.to_string(),
    ]);
    let sentinel = RedisSentinel::start(sentinel_port, primary_port, 1);
    let config = TempDir::new("palaver-sentinel-node");
    let config_path = config.path.join("palaver.toml");
    std::fs::write(
        &config_path,
        "[cluster]\nheartbeat = \"100ms\"\nlease = \"10s\"\n",
    )
    .expect("write the config");
    let url = sentinel.url();
    let mut server = serve_with(
        &[
            "--cluster",
            &url,
            "--config",
            config_path.to_str().expect("UTF-8 path"),
            "--log",
            "info",
        ],
        Options::default(),
    );
    let found = server
        .process
        .stderr_line_containing("Redis primary found through Sentinel");
    assert!(
        found.contains(&format!("127.0.0.1:{primary_port}")),
        "{found}"
    );

    let mut alice = Observer::join_ops(server.text, "alice");
    alice.send("before the failover");
    alice.skip_until("#ops <alice> before the failover");
    // Replication is asynchronous (docs/CLUSTER.md, "Sentinel and replicas"): wait until the
    // replica has everything (its first copy included), so that the failover cannot lose it.
    primary.replicated(1);

    primary.stop();
    let switched = sentinel.wait_for("+switch-master");
    assert!(
        switched.ends_with(&format!("127.0.0.1 {replica_port}")),
        "{switched}"
    );
    // The node may not have noticed yet, or may be between noticing and finding the new
    // primary: a message is either stored at once or refused with a clear line, and one sent
    // once the node says its link is back is stored.
    let stored = alice
        .say_until_stored("after the failover, try", 10)
        .expect("a message is stored after the failover");
    // Each of the node's connections asks the Sentinel for itself; the one that stored the
    // message found the replica promoted.
    let promoted = format!("primary=127.0.0.1:{replica_port}");
    while !server
        .process
        .stderr_line_containing("Redis primary found through Sentinel")
        .contains(&promoted)
    {}

    alice.send("/history");
    let history = alice.skip_until("-- end of history");
    assert!(
        history.contains(&"#ops <alice> before the failover".to_owned()),
        "{history:?}"
    );
    assert!(
        history.contains(&format!("#ops <alice> {stored}")),
        "{history:?}"
    );
    server.process.signal("TERM");
    assert!(server.process.wait_exit().0.success());
}
