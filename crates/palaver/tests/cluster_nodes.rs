//! Cluster mode's nodes against a real `redis-server` (docs/CLUSTER.md, "Leases and
//! heartbeats" and "`palaver cluster status`"): a node registers under its name, renews its
//! lease every heartbeat with its counts, and leaves at a clean stop; `palaver cluster status`
//! lists it, live or lost; a node that loses Redis is degraded, then fenced, and registers
//! again when Redis is back; a node whose place another took stops; a name held by a process
//! that just died is waited for. Leases here are short (`500ms`) so that the tests wait for
//! events in well under a second.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::cluster::{
    Irc, Node, config_file, metric, readyz_until, refusal_line, spawn_node, start_node,
};
use common::{Observer, Options, OtherLines, Process, TempDir, http_get, wait_ready};
use palaver_server::accounts::hash_password;
use palaver_server::cluster::users::{
    ClaimError, ClusterUserId, Feed, Holder, UserDirectory, UserFacts,
};
use palaver_server::cluster::wire::{
    Departure, Envelope, EventKind, KillOrder, LogOut, MovedAside, Presence, PrivateMessage,
    ReadMarker, Sender, Speech,
};
use palaver_server::hub::Protocol;
use palaver_server::store::Fence;
use palaver_server::test_redis::RedisServer;

/// How long a test waits for anything before declaring the server broken (a safety net, not
/// a synchronisation).
const PATIENCE: Duration = Duration::from_secs(30);

/// A heartbeat of 100 ms and a lease of 500 ms.
const SHORT_LEASE: &str = "[cluster]\nheartbeat = \"100ms\"\nlease = \"500ms\"\n";

/// `palaver cluster status` with `args`: its exit code and stdout.
fn cluster_status(args: &[&str]) -> (i32, Vec<String>, String) {
    let mut command = vec!["cluster", "status"];
    command.extend_from_slice(args);
    let mut process = Process::spawn(&command, Options::default());
    let (status, stdout) = process.wait_exit();
    (
        status.code().expect("exited, not killed"),
        stdout,
        process.stderr_text(),
    )
}

/// `palaver cluster status --json`: its exit code and report.
fn status_json(redis: &RedisServer) -> (i32, serde_json::Value) {
    let (code, stdout, stderr) = cluster_status(&["--cluster", &redis.url(), "--json"]);
    let [line] = &stdout[..] else {
        panic!("one line of JSON: {stdout:?}; stderr: {stderr}");
    };
    (code, serde_json::from_str(line).expect("JSON"))
}

/// Reads the status until `done` holds for it; nodes report at each heartbeat, so that is
/// the event waited for.
fn status_until(
    redis: &RedisServer,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> (i32, serde_json::Value) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (code, report) = status_json(redis);
        if done(&report) {
            return (code, report);
        }
        assert!(Instant::now() < deadline, "never {what}: {report}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The node named `name` in a status report.
fn node<'a>(report: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    report["nodes"]
        .as_array()
        .expect("a list of nodes")
        .iter()
        .find(|node| node["name"] == name)
}

#[test]
fn cluster_status_lists_a_live_node_with_its_users_and_the_node_reports_metrics() {
    let redis = RedisServer::start();
    let (_directory, config) = config_file(SHORT_LEASE);
    let alpha = start_node(&redis, "alpha", &config);
    let _alice = Observer::join_ops(alpha.text, "alice");

    // A text user starts in #lobby; join_ops took alice to #ops as well. The node's counts
    // are its heartbeat's, which may come between her arrival and her second join.
    let (code, report) = status_until(&redis, "counted alice and her rooms", |report| {
        node(report, "alpha").is_some_and(|alpha| alpha["users"] == 1 && alpha["rooms"] == 2)
    });
    assert_eq!(code, 0, "{report}");
    let listed = node(&report, "alpha").expect("alpha");
    assert_eq!(listed["live"], true);
    assert_eq!(listed["connections"], 1);
    assert_eq!(listed["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["redis"]["appendfsync"], "always");

    let (code, lines, _) = cluster_status(&["--cluster", &redis.url()]);
    assert_eq!(code, 0);
    assert!(lines[0].starts_with("redis redis+unix://"), "{lines:?}");
    assert!(lines[0].contains("aof always"), "{lines:?}");
    assert!(lines[1].starts_with("node "), "{lines:?}");
    assert!(lines[2].starts_with("alpha  live "), "{lines:?}");
    assert_eq!(lines[3], "1 user in 2 rooms; 1 node live");

    assert_eq!(
        metric(&alpha, "palaver_cluster_link{state=\"connected\"}"),
        "1"
    );
    assert_eq!(
        metric(&alpha, "palaver_cluster_link{state=\"fenced\"}"),
        "0"
    );
    assert_eq!(metric(&alpha, "palaver_cluster_nodes"), "1");
    let renewals: u64 = metric(
        &alpha,
        "palaver_cluster_redis_seconds_count{call=\"renew\"}",
    )
    .parse()
    .expect("a count");
    assert!(renewals >= 1, "{renewals}");
}

/// Leaves a user of `node` in the cluster's directory of users (`cluster/users.rs`), as a
/// node that died with a client connected would.
fn leave_user_behind(redis: &RedisServer, node: &str, id: u64, nick: &str) {
    for command in [
        format!("SET palaver:nick:{nick} {id}"),
        format!("HSET palaver:user:{id} node {node} nick {nick} folded {nick}"),
        format!("SADD palaver:users {id}"),
        format!("SADD palaver:node:{node}:users {id}"),
    ] {
        assert!(!redis.command(&command).starts_with('-'), "{command}");
    }
}

/// Whether the cluster's directory still has users or nick claims from `node`.
fn users_left_by(redis: &RedisServer, node: &str, nick: &str) -> (String, String, String) {
    (
        redis.command(&format!("SCARD palaver:node:{node}:users")),
        redis.command(&format!("EXISTS palaver:nick:{nick}")),
        redis.command("SCARD palaver:users"),
    )
}

#[test]
fn a_node_killed_is_lost_until_its_lease_lapses_and_then_another_node_may_start() {
    let redis = RedisServer::start();
    let (_directory, config) = config_file(SHORT_LEASE);
    let mut alpha = start_node(&redis, "alpha", &config);
    alpha.process.signal("KILL");
    alpha.process.wait_exit();
    leave_user_behind(&redis, "alpha", 41, "alice");

    let (code, report) = status_until(&redis, "saw alpha lost", |report| {
        node(report, "alpha").is_some_and(|alpha| alpha["live"] == false)
    });
    assert_eq!(code, 1, "a lost node is a failing status: {report}");
    let (_, lines, _) = cluster_status(&["--cluster", &redis.url()]);
    assert!(
        lines[2].starts_with("alpha  lost ")
            && lines[2].ends_with("removed when a node next starts"),
        "{lines:?}"
    );

    // Another node may start once the dead one's lease lapsed; it releases the users alpha
    // left (their nicks are free again, and the state feed says they went) and removes its
    // record.
    let _beta = start_node(&redis, "beta", &config);
    assert_eq!(
        users_left_by(&redis, "alpha", "alice"),
        (":0".into(), ":0".into(), ":0".into())
    );
    assert_eq!(redis.command("XLEN palaver:state"), ":1");
    let (code, report) = status_json(&redis);
    assert_eq!(code, 0, "{report}");
    assert!(node(&report, "alpha").is_none(), "{report}");
    assert_eq!(node(&report, "beta").expect("beta")["live"], true);
}

#[test]
fn a_node_restarted_at_once_waits_for_the_lease_of_its_previous_run() {
    let redis = RedisServer::start();
    // A lease long enough that the restart surely comes before it lapses.
    let (_directory, config) = config_file("[cluster]\nheartbeat = \"500ms\"\nlease = \"3s\"\n");
    let mut alpha = start_node(&redis, "alpha", &config);
    alpha.process.signal("KILL");
    alpha.process.wait_exit();
    leave_user_behind(&redis, "alpha", 41, "alice");

    let mut again = spawn_node(&redis, "alpha", &config);
    again.stderr_line_containing("stopped without leaving the cluster");
    wait_ready(&mut again, OtherLines::Fail);
    // The new incarnation released what the old one left, and stays.
    assert_eq!(
        users_left_by(&redis, "alpha", "alice"),
        (":0".into(), ":0".into(), ":0".into())
    );
    let (code, report) = status_json(&redis);
    assert_eq!(code, 0, "{report}");
    assert_eq!(node(&report, "alpha").expect("alpha")["live"], true);
}

#[test]
fn a_clean_stop_leaves_the_cluster_at_once() {
    let redis = RedisServer::start();
    let (_directory, config) = config_file(SHORT_LEASE);
    let mut alpha = start_node(&redis, "alpha", &config);
    alpha.process.signal("TERM");
    let (status, _) = alpha.process.wait_exit();
    assert!(status.success(), "{status}");

    let (code, lines, _) = cluster_status(&["--cluster", &redis.url()]);
    assert_eq!(code, 0);
    assert_eq!(
        lines.last().map(String::as_str),
        Some("0 users in 0 rooms; 0 nodes live")
    );
    // The name is free at once: no wait for a lease.
    let mut again = spawn_node(&redis, "alpha", &config);
    wait_ready(&mut again, OtherLines::Fail);
    assert!(
        !again.stderr_text().contains("stopped without leaving"),
        "{}",
        again.stderr_text()
    );
}

#[test]
fn a_node_that_loses_redis_is_degraded_then_fenced_and_registers_again_when_it_is_back() {
    let mut redis = RedisServer::start();
    let (_directory, config) = config_file(SHORT_LEASE);
    let alpha = start_node(&redis, "alpha", &config);
    assert_eq!(
        metric(&alpha, "palaver_cluster_link{state=\"connected\"}"),
        "1"
    );

    redis.stop();
    alpha
        .process
        .stderr_line_containing("renewing this node's lease failed");
    alpha
        .process
        .stderr_line_containing("this node's lease lapsed");
    assert_eq!(
        metric(&alpha, "palaver_cluster_link{state=\"fenced\"}"),
        "1"
    );
    assert_eq!(
        metric(&alpha, "palaver_cluster_link{state=\"connected\"}"),
        "0"
    );

    redis.restart();
    alpha
        .process
        .stderr_line_containing("registered again in the cluster");
    assert_eq!(
        metric(&alpha, "palaver_cluster_link{state=\"connected\"}"),
        "1"
    );
    let (code, report) = status_json(&redis);
    assert_eq!(code, 0, "{report}");
    assert_eq!(node(&report, "alpha").expect("alpha")["live"], true);
}

#[test]
fn a_node_whose_place_another_took_stops_with_a_reason() {
    let redis = RedisServer::start();
    let (_directory, config) = config_file(SHORT_LEASE);
    let mut alpha = start_node(&redis, "alpha", &config);
    // As if alpha's lease had lapsed unseen, and another process had started under its name.
    assert_eq!(
        redis.command("DEL palaver:lease:alpha palaver:node:alpha"),
        ":2"
    );
    let _second = start_node(&redis, "alpha", &config);

    let (status, _) = alpha.process.wait_exit();
    assert!(!status.success(), "alpha went on: {status}");
    let stderr = alpha.process.stderr_text();
    assert!(
        stderr.contains("another process registered under this node's name while it was fenced"),
        "{stderr}"
    );
    let (code, report) = status_json(&redis);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        node(&report, "alpha").expect("the second alpha")["live"],
        true
    );
}

#[test]
fn cluster_status_without_a_reachable_redis_says_so_and_exits_2() {
    let directory = TempDir::new("no-redis");
    let url = format!(
        "redis+unix://{}",
        directory.path.join("none.sock").display()
    );
    let (code, stdout, stderr) = cluster_status(&["--cluster", &url]);
    assert_eq!(code, 2, "{stdout:?}");
    assert!(
        stderr.contains("cannot reach Redis at redis+unix://"),
        "{stderr}"
    );
    let (code, _, stderr) = cluster_status(&[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no cluster named"), "{stderr}");
}

#[test]
fn cluster_import_moves_a_single_nodes_history_and_accounts_into_an_empty_redis() {
    let redis = RedisServer::start();
    let (directory, config) = config_file(SHORT_LEASE);
    let database = directory.path.join("palaver.db");
    let database = database.to_str().expect("UTF-8 path");
    let mut single = common::serve_with(&["--db", database], Options::default());
    let mut alice = Observer::join_ops(single.text, "alice");
    alice.send("/register correct-horse");
    alice.skip_until("-- account alice registered; you are logged in");
    alice.send("said before the move");
    alice.skip_until("#ops <alice> said before the move");
    single.process.signal("TERM");
    single.process.wait_exit();
    drop(alice);

    let import = |database: &str| {
        let mut process = Process::spawn(
            &[
                "cluster",
                "import",
                "--db",
                database,
                "--cluster",
                &redis.url(),
            ],
            Options::default(),
        );
        let (status, stdout) = process.wait_exit();
        (status.success(), stdout, process.stderr_text())
    };
    let (imported, stdout, stderr) = import(database);
    assert!(imported, "{stderr}");
    assert_eq!(
        stdout[0],
        format!(
            "imported 1 message, 1 account, 0 client certificates, 0 read markers, 0 registered \
             rooms, 0 server bans from {database} into {} (key prefix palaver)",
            redis.url()
        )
    );
    // Once is all: a second import would mix two histories.
    let (imported, _, stderr) = import(database);
    assert!(!imported);
    assert!(stderr.contains("already holds palaver data"), "{stderr}");

    let node = start_node(&redis, "alpha", &config);
    let mut reader = Observer::join_ops(node.text, "reader");
    reader.send("/login alice correct-horse");
    reader.skip_until("-- you are now logged in as alice");
    reader.send("/history");
    reader.skip_until("#ops <alice> said before the move");
    // Not beside a running node, nor from a database that is not there.
    let (imported, _, stderr) = import(database);
    assert!(!imported);
    assert!(
        stderr.contains("another palaver node (alpha) is live"),
        "{stderr}"
    );
    let (imported, _, stderr) = import(&format!("{database}.missing"));
    assert!(!imported);
    assert!(stderr.contains("no database at"), "{stderr}");
}

/// A lease of 10 s: a node that loses Redis stays degraded long enough to be asked things.
const LONG_LEASE: &str = "[cluster]\nheartbeat = \"100ms\"\nlease = \"10s\"\n";

#[test]
fn a_degraded_node_refuses_messages_and_clients_until_redis_is_back() {
    let mut redis = RedisServer::start();
    let (_directory, config) = config_file(LONG_LEASE);
    let alpha = start_node(&redis, "alpha", &config);
    let mut alice = Observer::join_ops(alpha.text, "alice");
    alice.send("before");
    alice.expect("#ops <alice> before");
    let mut carol = Irc::register(alpha.irc, "carol");
    // Connected, but registering only once the link is down.
    let mut late = Irc::connect(alpha.irc);
    late.send("NICK dave");

    redis.stop();
    alice.skip_until(
        "-- the link to the rest of the network is down; messages cannot be sent until it is back",
    );
    // What changes what the network shares is refused; what this server knows is answered.
    for (command, answer) in [
        (
            "/join #new",
            "! cannot join #new (this server has lost its link to the rest of the network)",
        ),
        (
            "/nick alicia",
            "! cannot change nick (this server has lost its link to the rest of the network)",
        ),
        (
            "/history",
            "! history is unavailable (this server has lost its link to the rest of the network)",
        ),
        (
            "/topic a new topic",
            "! not done: this server has lost its link to the rest of the network; try again in a moment",
        ),
    ] {
        alice.send(command);
        alice.expect(answer);
    }
    alice.send("/who");
    alice.expect("-- members of #ops (1): @alice");
    alice.send("during");
    alice.expect(
        "! not sent: this server has lost its link to the rest of the network; try again in a \
         moment",
    );
    carol.skip_until("the link to the rest of the network is down");
    carol.send("JOIN #new");
    assert_eq!(
        carol.skip_until(" 437 "),
        ":palaver.local 437 carol #new :Temporarily unavailable: this server has lost its link \
         to the rest of the network"
    );
    carol.send("TOPIC #ops :a new topic");
    assert_eq!(
        carol.skip_until("NOTICE carol :TOPIC"),
        ":palaver.local NOTICE carol :TOPIC: Not done: this server has lost its link to the rest \
         of the network; try again shortly"
    );
    // The services read and change the accounts and rooms the network shares.
    carol.send("PRIVMSG NickServ :IDENTIFY carol secret");
    assert_eq!(
        carol.skip_until(":NickServ!"),
        ":NickServ!services@palaver.local NOTICE carol :Not done: this server has lost its link \
         to the rest of the network; try again shortly."
    );
    carol.send("PRIVMSG ChanServ :REGISTER #ops");
    assert_eq!(
        carol.skip_until(":ChanServ!"),
        ":ChanServ!services@palaver.local NOTICE carol :Not done: this server has lost its link \
         to the rest of the network; try again shortly."
    );
    late.send("USER dave 0 * :Dave");
    assert_eq!(
        late.skip_until("ERROR"),
        "ERROR :Closing link: (*@127.0.0.1) [this server lost its link to the network]"
    );
    // Not even a NOTICE is dropped without a word.
    carol.send("NOTICE alice :during");
    assert_eq!(
        carol.skip_until("NOTICE carol :"),
        ":palaver.local NOTICE carol :NOTICE: Message not sent: this server has lost its link \
         to the rest of the network; try again shortly"
    );
    assert_eq!(
        http_get(alpha.http, "/readyz"),
        (
            503,
            "not ready: the link to the network is degraded\n".to_owned()
        )
    );
    let refused = refusal_line(alpha.text);
    assert!(
        refused.contains(
            "server unavailable: it lost its link to the network; try another server or again \
             shortly"
        ),
        "{refused:?}"
    );
    assert_eq!(
        metric(
            &alpha,
            "palaver_connections_refused_total{reason=\"link_down\"}"
        ),
        "1"
    );
    // Alice's four commands and message; carol's JOIN, TOPIC, two service commands and NOTICE.
    assert_eq!(metric(&alpha, "palaver_cluster_refused_total"), "10");

    // Back before the lease's deadline: nobody was disconnected, and messages go again.
    redis.restart();
    alice.skip_until("-- the link to the rest of the network is back");
    alice.send("after");
    alice.expect("#ops <alice> after");
    assert_eq!(http_get(alpha.http, "/readyz").0, 200);
    let _bob = Observer::join_ops(alpha.text, "bob");
}

#[test]
fn a_fenced_node_disconnects_its_users_and_takes_clients_again_once_registered() {
    let mut redis = RedisServer::start();
    let (_directory, config) = config_file(SHORT_LEASE);
    let alpha = start_node(&redis, "alpha", &config);
    let mut alice = Observer::join_ops(alpha.text, "alice");
    let mut carol = Irc::register(alpha.irc, "carol");

    redis.stop();
    assert_eq!(
        carol.skip_until("ERROR"),
        "ERROR :Closing link: (~carol@127.0.0.1) [this server lost its link to the network]"
    );
    alice.skip_until(
        "! disconnected: this server lost its link to the rest of the network; reconnect to \
         continue",
    );
    alice.expect_closed();
    assert_eq!(
        http_get(alpha.http, "/readyz"),
        (
            503,
            "not ready: the link to the network is fenced\n".to_owned()
        )
    );
    // Counted as lost with the link, not as killed.
    let disconnects = |reason: &str| {
        metric(
            &alpha,
            &format!("palaver_disconnects_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(disconnects("link_lost"), "2");
    assert_eq!(disconnects("killed"), "0");

    redis.restart();
    alpha
        .process
        .stderr_line_containing("registered again in the cluster");
    // The server takes the node's new state a moment after the node logs it.
    readyz_until(&alpha, 200);
    let mut bob = Observer::join_ops(alpha.text, "bob");
    bob.send("hello again");
    bob.expect("#ops <bob> hello again");
}

/// A text client that registered an account under its nick, `nick`, with the password
/// `NICK-password`, and is logged in to it.
fn registered(address: SocketAddr, nick: &str) -> Observer {
    let mut client = Observer::join_ops(address, nick);
    client.send(&format!("/register {nick}-password"));
    client.skip_until(&format!("-- account {nick} registered; you are logged in"));
    client
}

/// Another node's view of the cluster's directory of users, as a second node would change it
/// (the one-node guard keeps a second palaver from starting until rooms are shared).
struct OtherNode {
    runtime: tokio::runtime::Runtime,
    directory: UserDirectory,
}

impl OtherNode {
    fn open(redis: &RedisServer, name: &str) -> Self {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let directory = runtime
            .block_on(UserDirectory::open(
                &redis.url(),
                "palaver",
                name,
                Fence::default(),
            ))
            .expect("open the directory");
        Self { runtime, directory }
    }

    fn connect(&self, nick: &str) -> Result<ClusterUserId, ClaimError> {
        let facts = UserFacts {
            address: [192, 0, 2, 9].into(),
            protocol: Protocol::Irc,
            user: "~b".into(),
            host: "192.0.2.9".into(),
            realname: "Elsewhere".into(),
        };
        self.runtime.block_on(self.directory.connect(nick, &facts))
    }

    fn disconnect(&self, id: ClusterUserId, nick: &str, reason: &str) {
        self.runtime
            .block_on(self.directory.disconnect(id, nick, Some(reason)))
            .expect("disconnect");
    }

    /// Sends `text` from `from` (a user of this node) to the user `to` of `node`.
    fn send_private(&self, from: &str, to: ClusterUserId, node: &str, nick: &str, text: &str) {
        let message = PrivateMessage {
            id: 1,
            time_ms: 1_700_000_000_000,
            from: elsewhere(from),
            to: nick.into(),
            kind: Speech::Say,
            text: text.into(),
            concat_at: Vec::new(),
            client_tags: String::new(),
        };
        let sent = self
            .runtime
            .block_on(self.directory.send_private(
                to,
                (node, nick),
                &message,
                None,
                &self.directory.nonce(),
            ))
            .expect("send");
        assert!(sent.is_some(), "{nick} is connected through {node}");
    }

    /// This node's user `owner`, holding `owner_nick`, takes `nick` from `holder`, another
    /// node's user; the guest nick the holder got.
    fn regain(
        &self,
        nick: &str,
        holder: ClusterUserId,
        owner: ClusterUserId,
        owner_nick: &str,
    ) -> String {
        let holder = Holder {
            id: holder,
            elsewhere: true,
            ghosted: false,
        };
        self.runtime
            .block_on(
                self.directory
                    .reclaim(nick, Some(holder), owner, owner_nick, true),
            )
            .expect("reclaim")
            .expect("the holder moved")
    }

    /// Logs out `to`, a user of `node` holding `nick`, as a password change here would.
    fn log_out(&self, to: ClusterUserId, node: &str, nick: &str) {
        let sent = self
            .runtime
            .block_on(
                self.directory
                    .send_log_out(to, node, nick, &LogOut { locked: false }),
            )
            .expect("send");
        assert!(sent, "{nick} is connected through {node}");
    }

    /// Tells `to`, a user of `node` holding `nick`, that its account read `target` up to
    /// `marker_ms`.
    fn send_read_marker(
        &self,
        to: ClusterUserId,
        node: &str,
        nick: &str,
        target: &str,
        marker_ms: u64,
    ) {
        let marker = ReadMarker {
            time_ms: marker_ms,
            server: "palaver.local".into(),
            target: target.into(),
            marker_ms: Some(marker_ms),
        };
        let sent = self
            .runtime
            .block_on(self.directory.send_read_marker(to, node, nick, &marker))
            .expect("send");
        assert!(sent, "{nick} is connected through {node}");
    }

    /// Says what others now see of this node's user `id`.
    fn update(&self, id: ClusterUserId, nick: &str, presence: &Presence) {
        self.runtime
            .block_on(self.directory.update(id, nick, presence))
            .expect("update");
    }

    /// Waits for the first event in `node`'s inbox.
    fn first_inbox_event(&self, node: &str) -> Envelope {
        self.events_until(&Feed::Inbox(node.to_owned()), |_| true)
    }

    /// Waits until `feed` has an event that `wanted` picks, and returns it.
    fn events_until(&self, feed: &Feed, wanted: impl Fn(&Envelope) -> bool) -> Envelope {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let events = self
                .runtime
                .block_on(self.directory.events_after(feed, 0, 100))
                .expect("read the feed");
            if let Some(event) = events.into_iter().find(|event| wanted(event)) {
                return event;
            }
            assert!(Instant::now() < deadline, "nothing came on {feed:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends an operator's kill of the user `to` of `node`, by `by`.
    fn send_kill(&self, by: &str, to: ClusterUserId, node: &str, nick: &str, reason: &str) {
        let order = KillOrder {
            by: elsewhere(by),
            reason: reason.into(),
        };
        let sent = self
            .runtime
            .block_on(self.directory.send_kill(to, node, nick, &order))
            .expect("send");
        assert!(sent, "{nick} is connected through {node}");
    }

    fn holder(&self, nick: &str) -> Option<ClusterUserId> {
        self.runtime
            .block_on(self.directory.holder(nick))
            .expect("read a claim")
    }

    /// Waits until `nick`'s holder in the directory is `done` (a node tells the directory as
    /// a connection ends, after the client saw it end).
    fn holder_until(&self, nick: &str, done: impl Fn(Option<ClusterUserId>) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(self.holder(nick)) {
            assert!(Instant::now() < deadline, "{nick} never changed hands");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The stand-in node's bob logs in to `account`; alice's node shows it.
fn log_bob_in(beta: &OtherNode, bob: ClusterUserId, alice: &mut Irc, account: &str) {
    beta.update(bob, "bob", &logged_in_to(account));
    alice.whois_until("bob", "330");
}

/// What others see of the stand-in node's user once it logged in to `account`.
fn logged_in_to(account: &str) -> Presence {
    Presence {
        away: None,
        realname: "Elsewhere".into(),
        account: Some(account.into()),
        bot: false,
        invisible: false,
        operator: None,
    }
}

/// A user of the stand-in node, as others see it.
fn elsewhere(nick: &str) -> Sender {
    Sender {
        nick: nick.into(),
        user: "~b".into(),
        host: "192.0.2.9".into(),
        realname: "Elsewhere".into(),
        account: None,
        bot: false,
    }
}

impl Irc {
    /// Asks `WHOIS nick` until the answer has `numeric` (the state feed reaches the node's
    /// hub a moment after the directory changed); returns that line.
    fn whois_until(&mut self, nick: &str, numeric: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.send(&format!("WHOIS {nick}"));
            let mut found = None;
            loop {
                let line = self.skip_until(&format!(" {nick} "));
                if line.contains(&format!(" {numeric} ")) {
                    found = Some(line.clone());
                }
                if line.contains(" 318 ") {
                    break;
                }
            }
            if let Some(line) = found {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "WHOIS {nick} never had {numeric}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn nicks_are_held_once_across_the_cluster_and_other_nodes_users_are_seen() {
    let redis = RedisServer::start();
    let (_directory, config) = config_file(SHORT_LEASE);
    let alpha = start_node(&redis, "alpha", &config);
    let beta = OtherNode::open(&redis, "beta");

    // Bob is connected through another node: alpha refuses his nick, and shows him.
    let bob = beta.connect("bob").expect("bob's nick is free");
    let mut irc = Irc::connect(alpha.irc);
    irc.send("NICK bob");
    irc.send("USER a 0 * :A");
    irc.skip_until(" 433 ");
    irc.send("NICK alice");
    irc.skip_until(" 001 ");
    assert_eq!(
        irc.whois_until("bob", "311"),
        ":palaver.local 311 alice bob ~b 192.0.2.9 * Elsewhere"
    );

    // Alice's nick, and its change, are the cluster's: the other node cannot take them.
    assert!(beta.holder("alice").is_some());
    irc.send("NICK carol");
    irc.skip_until(" NICK ");
    assert!(matches!(beta.connect("carol"), Err(ClaimError::Taken)));
    assert_eq!(beta.holder("alice"), None);
    // A text user's guest nick comes from the cluster's counter.
    let guest = Observer::connect_guest(alpha.text);
    assert!(beta.holder(&guest.nick).is_some(), "{}", guest.nick);

    // Bob leaves his node: alpha's users see him gone, and may take his nick.
    beta.disconnect(bob, "bob", "bye");
    irc.whois_until("bob", "401");
    irc.send("NICK bob");
    irc.skip_until(":carol!");
    assert!(matches!(beta.connect("bob"), Err(ClaimError::Taken)));

    // Leaving alpha frees the nick in the cluster.
    irc.send("QUIT :done");
    irc.skip_until("ERROR");
    beta.holder_until("bob", |holder| holder.is_none());
}

#[test]
fn an_account_s_nick_is_regained_through_the_cluster_s_directory() {
    let redis = RedisServer::start();
    let (_directory, config) = config_file(SHORT_LEASE);
    let alpha = start_node(&redis, "alpha", &config);
    let beta = OtherNode::open(&redis, "beta");
    let mut owner = registered(alpha.text, "alice");
    owner.send("/nick owner");
    owner.skip_until("-- alice is now known as owner");
    let mut squatter = Observer::join_ops(alpha.text, "alice");
    let owner_id = beta.holder("owner").expect("the owner's nick is claimed");

    owner.send("/regain");
    owner.skip_until("-- you regained the nick alice");
    let guest = loop {
        if let Some(guest) = squatter.line().strip_prefix("-- alice is now known as ") {
            break guest.to_owned();
        }
    };
    let guest = guest.as_str();
    // The directory agrees with the hub: the nick is the owner's, the squatter has a guest
    // nick of the cluster's, and the owner's old nick is free.
    assert_eq!(beta.holder("alice"), Some(owner_id));
    assert!(
        beta.holder(guest).is_some_and(|id| id != owner_id),
        "{guest}"
    );
    assert_eq!(beta.holder("owner"), None);
}

/// A node, alpha, with its IRC user alice; a stand-in for another node, beta, with its user
/// bob, whom alice's node has heard of. (Bind every field: one left out is dropped at once,
/// Redis and the node with it.)
struct AliceAndBob {
    redis: RedisServer,
    _config: TempDir,
    alpha: Node,
    beta: OtherNode,
    bob: ClusterUserId,
    alice: Irc,
}

/// [`AliceAndBob`], alpha started with `config` after the short lease's settings.
fn alice_on_alpha_and_bob_elsewhere(config: &str) -> AliceAndBob {
    let redis = RedisServer::start();
    let (directory, path) = config_file(&format!("{SHORT_LEASE}{config}"));
    let alpha = start_node(&redis, "alpha", &path);
    let beta = OtherNode::open(&redis, "beta");
    let bob = beta.connect("bob").expect("bob's nick is free");
    let mut alice = Irc::register(alpha.irc, "alice");
    alice.whois_until("bob", "311");
    AliceAndBob {
        redis,
        _config: directory,
        alpha,
        beta,
        bob,
        alice,
    }
}

#[test]
fn private_messages_reach_another_node_s_users_through_its_inbox() {
    let AliceAndBob {
        redis: _redis,
        _config,
        alpha,
        beta,
        bob,
        mut alice,
    } = alice_on_alpha_and_bob_elsewhere("");

    // To bob: into beta's inbox, as alpha stamped it.
    alice.send("PRIVMSG Bob :hello over there");
    let event = beta.first_inbox_event("beta");
    assert_eq!((event.user, event.kind), (bob, EventKind::Private));
    let message: PrivateMessage = event.body().expect("a private message");
    assert_eq!(
        (message.from.nick.as_str(), message.to.as_str()),
        ("alice", "bob")
    );
    assert_eq!(message.text, "hello over there");
    assert_eq!(message.kind, Speech::Say);

    // From bob: out of alpha's inbox, to alice.
    let alice_id = beta.holder("alice").expect("alice's nick is claimed");
    beta.send_private("bob", alice_id, "alpha", "alice", "hello back");
    assert_eq!(
        alice.skip_until("PRIVMSG alice"),
        ":bob!~b@192.0.2.9 PRIVMSG alice :hello back"
    );
    // Alpha counted one event out to an inbox and one in from its own.
    let events = |direction: &str| {
        metric(
            &alpha,
            &format!("palaver_cluster_events_{direction}_total{{feed=\"inbox\"}}"),
        )
    };
    assert_eq!((events("out"), events("in")), ("1".into(), "1".into()));

    // Once bob has left, he is nobody to write to.
    beta.disconnect(bob, "bob", "bye");
    alice.whois_until("bob", "401");
    alice.send("PRIVMSG bob :still there?");
    alice.skip_until(" 401 alice bob ");
}

#[test]
fn an_operator_s_kill_crosses_to_the_victim_s_node_through_its_inbox() {
    let hash = hash_password("oper-password").expect("hash");
    let AliceAndBob {
        redis: _redis,
        _config,
        alpha,
        beta,
        bob,
        alice: mut root,
    } = alice_on_alpha_and_bob_elsewhere(&format!(
        "[[oper]]\nname = \"root\"\npassword_hash = \"{hash}\"\n"
    ));
    root.send("OPER root oper-password");
    root.skip_until(" 381 ");

    // Killing bob: an order in his node's inbox, for his node to carry out.
    root.send("KILL bob :spamming");
    let event = beta.first_inbox_event("beta");
    assert_eq!((event.user, event.kind), (bob, EventKind::Killed));
    let order: KillOrder = event.body().expect("a kill");
    assert_eq!(
        (order.by.nick.as_str(), order.reason.as_str()),
        ("alice", "spamming")
    );

    // An order from elsewhere for dave: alpha disconnects him, and the cluster hears why.
    let mut dave = Irc::register(alpha.irc, "dave");
    let dave_id = beta.holder("dave").expect("dave's nick is claimed");
    beta.send_kill("carol", dave_id, "alpha", "dave", "flooding");
    let error = dave.skip_until("ERROR");
    assert!(error.contains("Killed (carol (flooding))"), "{error}");
    let departure = beta.events_until(&Feed::State, |event| {
        event.kind == EventKind::Disconnected && event.user == dave_id
    });
    let departure: Departure = departure.body().expect("a departure");
    assert_eq!(
        departure.reason.as_deref(),
        Some("Killed (carol (flooding))")
    );
}

#[test]
fn away_account_and_real_name_are_seen_from_every_node() {
    let AliceAndBob {
        redis,
        _config,
        alpha: _alpha,
        beta,
        bob,
        mut alice,
    } = alice_on_alpha_and_bob_elsewhere("");

    // Bob's node says he is away, logged in and renamed his real name: alpha shows it.
    let presence = Presence {
        away: Some("at lunch".into()),
        realname: "Bob Builder".into(),
        account: Some("bob".into()),
        bot: false,
        invisible: false,
        operator: None,
    };
    beta.update(bob, "bob", &presence);
    assert_eq!(
        alice.whois_until("bob", "301"),
        ":palaver.local 301 alice bob :at lunch"
    );
    assert_eq!(
        alice.whois_until("bob", "330"),
        ":palaver.local 330 alice bob bob :is logged in as"
    );
    assert_eq!(
        alice.whois_until("bob", "311"),
        ":palaver.local 311 alice bob ~b 192.0.2.9 * :Bob Builder"
    );

    // Alice's away is the cluster's: on the state feed and in her record.
    alice.send("AWAY :back soon");
    alice.skip_until(" 306 ");
    let alice_id = beta.holder("alice").expect("alice's nick is claimed");
    let event = beta.events_until(&Feed::State, |event| {
        event.kind == EventKind::Updated && event.user == alice_id
    });
    let shared: Presence = event.body().expect("a presence");
    assert_eq!(shared.away.as_deref(), Some("back soon"));
    assert_eq!(
        redis.command(&format!("HGET palaver:user:{alice_id} away")),
        "$9"
    );
}

#[test]
fn an_account_s_nick_is_regained_from_another_node_s_user() {
    let AliceAndBob {
        redis: _redis,
        _config,
        alpha,
        beta,
        bob,
        mut alice,
    } = alice_on_alpha_and_bob_elsewhere("");
    let mut owner = registered(alpha.text, "dave");
    owner.send("/nick owner");
    owner.skip_until("-- dave is now known as owner");
    let owner_id = beta.holder("owner").expect("the owner's nick is claimed");
    let squatter = beta.connect("dave").expect("dave is free again");
    alice.whois_until("dave", "311");

    owner.send("/regain");
    owner.skip_until("-- you regained the nick dave");
    // The squatter's rename on the state feed tells its node to move it to the guest nick
    // the cluster gave it; the directory agrees.
    let moved = beta.events_until(&Feed::State, |event| {
        event.kind == EventKind::Renamed && event.user == squatter
    });
    assert!(moved.nick.starts_with("guest-"), "{}", moved.nick);
    assert_eq!(
        moved.body::<MovedAside>(),
        Ok(MovedAside { ghosted: false })
    );
    assert_eq!(beta.holder(&moved.nick), Some(squatter));
    assert_eq!(beta.holder("dave"), Some(owner_id));
    // Alpha shows the squatter under its guest nick.
    assert_eq!(
        alice.whois_until(&moved.nick, "311"),
        format!(
            ":palaver.local 311 alice {} ~b 192.0.2.9 * Elsewhere",
            moved.nick
        )
    );

    // The other way: bob's node regains "alice" for him; alpha moves alice, who is told.
    let alice_id = beta.holder("alice").expect("alice's nick is claimed");
    let guest = beta.regain("alice", alice_id, bob, "bob");
    assert_eq!(
        alice.skip_until(" NICK "),
        format!(":alice!~alice@127.0.0.1 NICK {guest}")
    );
    assert_eq!(
        alice.skip_until("reclaimed"),
        format!(
            ":NickServ!services@palaver.local NOTICE {guest} :You were renamed: your nick was \
             reclaimed by its owner."
        )
    );
    assert_eq!(
        alice.whois_until("alice", "311"),
        ":palaver.local 311 {guest} alice ~b 192.0.2.9 * Elsewhere".replace("{guest}", &guest)
    );
}

#[test]
fn a_password_change_logs_out_the_account_s_sessions_on_every_node() {
    let AliceAndBob {
        redis: _redis,
        _config,
        alpha,
        beta,
        bob,
        mut alice,
    } = alice_on_alpha_and_bob_elsewhere("");
    let mut erin = registered(alpha.text, "erin");
    // Bob, on the other node, is logged in to erin's account too.
    log_bob_in(&beta, bob, &mut alice, "erin");

    // Changed here: bob's node is told to log him out.
    erin.send("/password erin-password new-password");
    erin.skip_until("-- password changed; your other session was logged out");
    let event = beta.first_inbox_event("beta");
    assert_eq!((event.kind, event.user), (EventKind::LoggedOut, bob));
    assert_eq!(event.body::<LogOut>(), Ok(LogOut { locked: false }));

    // Changed there: alpha logs erin out, and tells the cluster she no longer has an account.
    let erin_id = beta.holder("erin").expect("erin's nick is claimed");
    beta.log_out(erin_id, "alpha", "erin");
    erin.skip_until("-- you were logged out: your account's password was changed");
    let update = beta.events_until(&Feed::State, |event| {
        event.kind == EventKind::Updated
            && event.user == erin_id
            && event
                .body::<Presence>()
                .is_ok_and(|presence| presence.account.is_none())
    });
    assert_eq!(update.nick, "erin");
}

#[test]
fn read_markers_reach_the_account_s_sessions_on_other_nodes() {
    let AliceAndBob {
        redis: _redis,
        _config,
        alpha: _alpha,
        beta,
        bob,
        mut alice,
    } = alice_on_alpha_and_bob_elsewhere("");
    alice.send("CAP REQ :draft/read-marker");
    alice.skip_until(" ACK ");
    alice.send("PRIVMSG NickServ :REGISTER alice-password");
    alice.skip_until(" 900 ");
    // Bob, on the other node, is logged in to alice's account too.
    log_bob_in(&beta, bob, &mut alice, "alice");

    // Moved here: bob's node hears of it.
    alice.send("MARKREAD #rust timestamp=2026-01-02T03:04:05.678Z");
    alice.skip_until(" MARKREAD ");
    let event = beta.first_inbox_event("beta");
    assert_eq!((event.kind, event.user), (EventKind::Marker, bob));
    let marker: ReadMarker = event.body().expect("a read marker");
    assert_eq!(
        (marker.target.as_str(), marker.marker_ms),
        ("#rust", Some(1_767_323_045_678))
    );

    // Moved there: alice, who asked to hear of markers, does.
    let alice_id = beta.holder("alice").expect("alice's nick is claimed");
    beta.send_read_marker(alice_id, "alpha", "alice", "#go", 1_767_323_045_678);
    assert_eq!(
        alice.skip_until("MARKREAD #go"),
        ":palaver.local MARKREAD #go timestamp=2026-01-02T03:04:05.678Z"
    );
}
