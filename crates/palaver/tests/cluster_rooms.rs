//! Rooms across nodes (docs/CLUSTER.md, "Rooms as built"): two and three `palaver serve
//! --cluster` processes on one real `redis-server` behave as one server to text and IRC
//! clients alike — one room, talked in from every node, in one order; membership, topics,
//! modes and invitations seen from every node; the same history from every node; and one
//! winner when two nodes' clients claim one nick at once.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::Observer;
use common::cluster::{
    Irc, Node, config_file, readyz_until, refusal_line, start_node, start_node_at,
};
use common::proxy::Proxy;
use palaver_server::accounts::hash_password;
use palaver_server::test_redis::RedisServer;

/// How long a test waits for anything before declaring the server broken (a safety net, not
/// a synchronisation).
const PATIENCE: Duration = Duration::from_secs(30);

/// A heartbeat of 100 ms and a lease of 500 ms; loopback exempt from flood control, so that
/// the tests' senders may send hundreds of lines at once.
const SHORT_LEASE: &str = "[cluster]\nheartbeat = \"100ms\"\nlease = \"500ms\"\n\
                           [flood]\nexempt_addresses = [\"127.0.0.0/8\"]\n";

/// Nodes named `names` on one Redis, sharing one configuration file.
struct Cluster {
    nodes: Vec<Node>,
    // Dropped last: the nodes stop before their Redis and configuration go.
    _config: common::TempDir,
    redis: RedisServer,
}

impl Cluster {
    fn start(names: &[&str]) -> Self {
        let redis = RedisServer::start();
        let (config_directory, config) = config_file(SHORT_LEASE);
        let nodes = names
            .iter()
            .map(|name| start_node(&redis, name, &config))
            .collect();
        Self {
            nodes,
            _config: config_directory,
            redis,
        }
    }

    fn text(&self, node: usize) -> SocketAddr {
        self.nodes[node].text
    }

    fn irc(&self, node: usize) -> SocketAddr {
        self.nodes[node].irc
    }
}

/// An IRC client on `address`, registered as `nick` and in `room`.
fn irc_in(address: SocketAddr, nick: &str, room: &str) -> Irc {
    let mut irc = Irc::register(address, nick);
    irc.send(&format!("JOIN {room}"));
    irc.skip_until(" 366 ");
    irc
}

/// The next `count` messages `irc` gets in `room`, as `nick: text`, skipping other lines.
fn irc_messages(irc: &mut Irc, room: &str, count: usize) -> Vec<String> {
    let marker = format!(" PRIVMSG {room} :");
    (0..count)
        .map(|_| {
            let line = irc.skip_until(&marker);
            let nick = line
                .trim_start_matches(':')
                .split('!')
                .next()
                .unwrap()
                .to_owned();
            let text = line.split_once(&marker).unwrap().1;
            format!("{nick}: {text}")
        })
        .collect()
}

/// The next `count` messages `observer` gets in `room`, as `nick: text`, skipping other
/// lines.
fn text_messages(observer: &mut Observer, room: &str, count: usize) -> Vec<String> {
    let prefix = format!("{room} <");
    let mut messages = Vec::new();
    while messages.len() < count {
        let line = observer.line();
        if let Some(rest) = line.strip_prefix(&prefix) {
            let (nick, text) = rest.split_once("> ").expect("<nick> text");
            messages.push(format!("{nick}: {text}"));
        }
    }
    messages
}

#[test]
fn a_text_user_and_an_irc_user_on_two_nodes_talk_in_one_room_both_ways_in_order() {
    let cluster = Cluster::start(&["alpha", "beta"]);
    let mut alice = Observer::join_ops(cluster.text(0), "alice");
    let mut bob = irc_in(cluster.irc(1), "bob", "#ops");
    alice.skip_until("-- bob joined #ops");

    let said: Vec<String> = (0..20).map(|n| format!("from alpha {n}")).collect();
    for text in &said {
        alice.send(text);
    }
    let heard = irc_messages(&mut bob, "#ops", 20);
    let expected: Vec<String> = said.iter().map(|text| format!("alice: {text}")).collect();
    assert_eq!(heard, expected);
    assert_eq!(text_messages(&mut alice, "#ops", 20), expected);

    for n in 0..20 {
        bob.send(&format!("PRIVMSG #ops :from beta {n}"));
    }
    let expected: Vec<String> = (0..20).map(|n| format!("bob: from beta {n}")).collect();
    assert_eq!(text_messages(&mut alice, "#ops", 20), expected);
}

#[test]
fn messages_said_at_once_on_three_nodes_reach_everyone_in_one_order() {
    let cluster = Cluster::start(&["alpha", "beta", "gamma"]);
    let mut watchers: Vec<Observer> = (0..3)
        .map(|node| Observer::join_ops(cluster.text(node), &format!("watcher{node}")))
        .collect();
    let mut speakers: Vec<Irc> = (0..3)
        .map(|node| irc_in(cluster.irc(node), &format!("speaker{node}"), "#ops"))
        .collect();
    // Every watcher has seen every speaker join: the room is whole on every node.
    for watcher in &mut watchers {
        for node in 0..3 {
            watcher.skip_until(&format!("-- speaker{node} joined #ops"));
        }
    }
    for round in 0..30 {
        for (node, speaker) in speakers.iter_mut().enumerate() {
            speaker.send(&format!("PRIVMSG #ops :{node}.{round}"));
        }
    }
    let orders: Vec<Vec<String>> = watchers
        .iter_mut()
        .map(|watcher| text_messages(watcher, "#ops", 90))
        .collect();
    assert_eq!(
        orders[0], orders[1],
        "alpha and beta heard different orders"
    );
    assert_eq!(
        orders[0], orders[2],
        "alpha and gamma heard different orders"
    );
    // And each speaker's own lines in the order it said them.
    for node in 0..3 {
        let own: Vec<&String> = orders[0]
            .iter()
            .filter(|line| line.starts_with(&format!("speaker{node}: ")))
            .collect();
        let expected: Vec<String> = (0..30)
            .map(|round| format!("speaker{node}: {node}.{round}"))
            .collect();
        assert_eq!(own, expected.iter().collect::<Vec<_>>());
    }
}

#[test]
fn membership_topics_modes_and_invitations_are_seen_from_every_node() {
    let cluster = Cluster::start(&["alpha", "beta"]);
    let mut alice = Irc::register_with(cluster.irc(0), "alice", "away-notify");
    alice.send("JOIN #rust");
    alice.skip_until(" 366 ");
    let mut bob = Irc::register(cluster.irc(1), "bob");
    bob.send("JOIN #rust");
    let names = bob.skip_until(" 353 ");
    assert!(names.ends_with(":@alice bob"), "{names}");
    alice.skip_until(":bob!~bob@127.0.0.1 JOIN #rust");

    alice.send("TOPIC #rust :Rust, across nodes");
    bob.skip_until(" TOPIC #rust :Rust, across nodes");

    // Moderated: bob may not speak until voiced.
    alice.send("MODE #rust +m");
    bob.skip_until(":alice!~alice@127.0.0.1 MODE #rust +m");
    bob.send("PRIVMSG #rust :may I?");
    bob.skip_until(" 404 bob #rust ");
    alice.send("MODE #rust +v bob");
    bob.skip_until(" MODE #rust +v bob");
    bob.send("PRIVMSG #rust :thank you");
    alice.skip_until(":bob!~bob@127.0.0.1 PRIVMSG #rust :thank you");

    // Invite only: carol on beta needs alice's invitation from alpha.
    alice.send("MODE #rust +i");
    bob.skip_until(" MODE #rust +i");
    let mut carol = Irc::register(cluster.irc(1), "carol");
    carol.send("JOIN #rust");
    carol.skip_until(" 473 carol #rust ");
    alice.send("INVITE carol #rust");
    alice.skip_until(" 341 alice carol #rust");
    carol.skip_until(":alice!~alice@127.0.0.1 INVITE carol #rust");
    carol.send("JOIN #rust");
    carol.skip_until(" 366 carol #rust ");
    alice.skip_until(":carol!~carol@127.0.0.1 JOIN #rust");

    // Away, seen in WHO from the other node (once alice heard of it).
    bob.send("AWAY :out to lunch");
    alice.skip_until(":bob!~bob@127.0.0.1 AWAY :out to lunch");
    alice.send("WHO #rust");
    let who = alice.skip_until(" 352 alice #rust ~bob ");
    assert!(who.contains(" bob G+ "), "{who}");

    alice.send("KICK #rust carol :that is enough");
    carol.skip_until(":alice!~alice@127.0.0.1 KICK #rust carol :that is enough");
    bob.skip_until(" KICK #rust carol :that is enough");
    bob.send("PART #rust :see you");
    alice.skip_until(":bob!~bob@127.0.0.1 PART #rust :see you");

    // A node that starts now finds the room as it is.
    let (_config_directory, config) = config_file(SHORT_LEASE);
    let gamma = start_node(&cluster.redis, "gamma", &config);
    let mut dave = Irc::register(gamma.irc, "dave");
    dave.send("MODE #rust");
    let modes = dave.skip_until(" 324 dave #rust ");
    assert!(modes.ends_with(" +imnt"), "{modes}");
    dave.send("TOPIC #rust");
    dave.skip_until(" 332 dave #rust :Rust, across nodes");
    dave.send("NAMES #rust");
    let names = dave.skip_until(" 353 ");
    assert!(names.ends_with(" @alice"), "{names}");
}

#[test]
fn a_room_registered_and_a_message_deleted_on_one_node_are_so_on_every_node() {
    let cluster = Cluster::start(&["alpha", "beta"]);
    let mut alice = Observer::join_ops(cluster.text(0), "alice");
    alice.send("/register alice-password");
    alice.skip_until("-- account alice registered; you are logged in");
    alice.send("/register-room #ops");
    alice.skip_until("-- #ops is now registered to alice");
    let mut bob = Observer::join_ops(cluster.text(1), "bob");
    alice.send("/part #ops");
    bob.skip_until("-- alice left #ops");

    // The founder's other session, on beta, is made operator there on joining.
    let mut again = Observer::connect_checked(cluster.text(1));
    let guest = again.nick.clone();
    again.send("/login alice alice-password");
    again.skip_until("-- you are now logged in as alice");
    again.send("/join #ops");
    let opped = format!("-- ChanServ set mode +o {guest} on #ops");
    again.skip_until(&opped);
    bob.skip_until(&opped);

    // A message deleted on beta is deleted for alpha's members too.
    alice.send("/join #ops");
    alice.skip_until("-- alice joined #ops");
    bob.send("a message soon deleted");
    alice.skip_until("#ops <bob> a message soon deleted");
    bob.send("/delete oops");
    let deleted = loop {
        let line = alice.line();
        if line.starts_with("-- bob deleted") {
            break line;
        }
    };
    assert!(
        deleted.starts_with("-- bob deleted their message of ")
            && deleted.ends_with(" on #ops (oops)"),
        "{deleted}"
    );
}

/// The `msgid` tag of an IRC line.
fn msgid(line: &str) -> &str {
    line.split([';', ' '])
        .find_map(|tag| tag.strip_prefix("msgid=").or(tag.strip_prefix("@msgid=")))
        .unwrap_or_else(|| panic!("no msgid in {line}"))
}

/// The texts of `reader`'s `CHATHISTORY LATEST target * 10` page.
fn private_history(reader: &mut Irc, target: &str) -> Vec<String> {
    reader.send(&format!("CHATHISTORY LATEST {target} * 10"));
    reader.skip_until(" BATCH +");
    let mut texts = Vec::new();
    loop {
        let line = reader.line();
        if line.contains(" BATCH -") {
            return texts;
        }
        let (_, message) = line.split_once(" PRIVMSG ").expect("a message");
        let (_, text) = message.split_once(" :").expect("a message with a text");
        texts.push(text.to_owned());
    }
}

#[test]
fn a_private_message_between_nodes_is_its_parties_history_and_its_deletion_reaches_the_other() {
    let cluster = Cluster::start(&["alpha", "beta"]);
    let caps = "batch draft/chathistory draft/message-redaction echo-message message-tags";
    let mut alice = Irc::register_with(cluster.irc(0), "alice", caps);
    alice.send("JOIN #meet");
    alice.skip_until(" 366 ");
    let mut bob = Irc::register_with(cluster.irc(1), "bob", caps);
    bob.send("JOIN #meet");
    bob.skip_until(" 366 ");
    // alpha knows bob once it shows him joining.
    alice.skip_until("JOIN #meet");

    alice.send("PRIVMSG bob :kept between us two");
    let echo = alice.skip_until(" PRIVMSG bob :kept between us two");
    let id = msgid(&echo).to_owned();
    let received = bob.skip_until(" PRIVMSG bob :kept between us two");
    assert_eq!(msgid(&received), id);
    alice.send("PRIVMSG bob :and this one too");
    alice.skip_until(" PRIVMSG bob :and this one too");
    bob.skip_until(" PRIVMSG bob :and this one too");

    // Neither has an account: the messages belong to their connections, which are the same
    // parties on both nodes, so each reads the conversation from its own node.
    let both = ["kept between us two", "and this one too"];
    assert_eq!(private_history(&mut bob, "alice"), both);
    assert_eq!(private_history(&mut alice, "bob"), both);

    // Deleted by its sender on alpha: bob, on beta, is told, and it is gone for both.
    alice.send(&format!("REDACT bob {id} :sent to the wrong person"));
    alice.skip_until(&format!(" REDACT bob {id} :sent to the wrong person"));
    let told = bob.skip_until(" REDACT ");
    assert!(
        told.contains(":alice!")
            && told.ends_with(&format!(" REDACT bob {id} :sent to the wrong person")),
        "{told}"
    );
    assert_eq!(private_history(&mut bob, "alice"), ["and this one too"]);
    assert_eq!(private_history(&mut alice, "bob"), ["and this one too"]);
}

#[test]
fn history_is_the_same_from_every_node() {
    let cluster = Cluster::start(&["alpha", "beta"]);
    let mut alice = Observer::join_ops(cluster.text(0), "alice");
    let mut bob = Irc::register_with(cluster.irc(1), "bob", "echo-message");
    bob.send("JOIN #ops");
    alice.skip_until("-- bob joined #ops");
    for n in 0..5 {
        alice.send(&format!("alpha says {n}"));
        alice.expect(&format!("#ops <alice> alpha says {n}"));
        bob.send(&format!("PRIVMSG #ops :beta says {n}"));
        alice.expect(&format!("#ops <bob> beta says {n}"));
    }
    // bob's own copy comes once his message is stored.
    bob.skip_until(" PRIVMSG #ops :beta says 4");
    let histories: Vec<Vec<String>> = (0..2)
        .map(|node| {
            let mut reader = Observer::join_ops(cluster.text(node), &format!("reader{node}"));
            // Joining showed the room's latest history; this asks for all of it.
            reader.skip_until("-- end of history");
            reader.send("/history 20");
            reader.skip_until("-- history");
            reader.skip_until("-- end of history")
        })
        .collect();
    let expected: Vec<String> = (0..5)
        .flat_map(|n| {
            [
                format!("#ops <alice> alpha says {n}"),
                format!("#ops <bob> beta says {n}"),
            ]
        })
        .collect();
    assert_eq!(histories[0], expected);
    assert_eq!(histories[1], expected);

    // Over IRC, the same messages with the same ids from either node.
    let ids: Vec<Vec<String>> = (0..2)
        .map(|node| {
            let caps = "batch draft/chathistory message-tags server-time";
            let mut reader = Irc::register_with(cluster.irc(node), &format!("ids{node}"), caps);
            reader.send("JOIN #ops");
            reader.skip_until(" 366 ");
            reader.send("CHATHISTORY LATEST #ops * 100");
            (0..10)
                .map(|_| {
                    let line = reader.skip_until(" PRIVMSG #ops :");
                    let id = line
                        .split(';')
                        .find_map(|tag| tag.strip_prefix("msgid="))
                        .unwrap_or_else(|| panic!("no msgid in {line}"));
                    format!("{id} {}", line.split_once(" PRIVMSG #ops :").unwrap().1)
                })
                .collect()
        })
        .collect();
    assert_eq!(ids[0], ids[1]);
}

#[test]
fn two_clients_claiming_one_nick_on_two_nodes_at_once_exactly_one_wins() {
    let cluster = Cluster::start(&["alpha", "beta"]);
    for round in 0..20 {
        let nick = format!("racer{round}");
        let claims: Vec<_> = (0..2)
            .map(|node| {
                let address = cluster.irc(node);
                let nick = nick.clone();
                std::thread::spawn(move || {
                    let mut irc = Irc::connect(address);
                    irc.send(&format!("NICK {nick}"));
                    irc.send(&format!("USER {nick} 0 * :{nick}"));
                    let answer = irc.skip_until_any(&[" 001 ", " 433 "]);
                    (answer.contains(" 001 "), irc)
                })
            })
            .collect();
        let outcomes: Vec<(bool, Irc)> = claims
            .into_iter()
            .map(|claim| claim.join().expect("a claim"))
            .collect();
        let winners = outcomes.iter().filter(|(won, _)| *won).count();
        assert_eq!(winners, 1, "round {round}");
    }
}

/// Sends `load 0`, `load 1`, … to `#ops` as `sender`, from a thread, as fast as the connection
/// takes them, `count` of them or until the connection fails.
fn send_load(sender: &Observer, count: usize) -> std::thread::JoinHandle<()> {
    let mut connection = sender.sender();
    std::thread::spawn(move || {
        use std::io::Write;
        for n in 0..count {
            if connection
                .write_all(format!("load {n}\n").as_bytes())
                .is_err()
            {
                return;
            }
        }
    })
}

/// What `sender` was told of the messages `load N` it sent to `#ops`: the numbers
/// acknowledged (its own copy came back) and how many were refused (`! …`), until `count` are
/// accounted for or the connection closed.
fn acknowledged(sender: &mut Observer, count: usize) -> (Vec<usize>, usize) {
    let prefix = format!("#ops <{}> load ", sender.nick);
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    while acknowledged.len() + refused < count {
        let Ok(line) = sender.try_line() else {
            break;
        };
        if let Some(number) = line.strip_prefix(&prefix) {
            acknowledged.push(number.parse().expect("a message number"));
        } else if line.starts_with("! ") {
            refused += 1;
        }
    }
    (acknowledged, refused)
}

/// Every message of `#ops`'s history, oldest first, as `<nick> text`, as an IRC client on
/// `address` reads it: page by page (`CHATHISTORY BEFORE`), from the latest back.
fn history(address: SocketAddr, nick: &str) -> Vec<String> {
    let caps = "batch draft/chathistory message-tags server-time";
    let mut reader = Irc::register_with(address, nick, caps);
    reader.send("JOIN #ops");
    reader.skip_until(" 366 ");
    let mut messages = Vec::new();
    let mut request = "LATEST #ops * 100".to_owned();
    loop {
        reader.send(&format!("CHATHISTORY {request}"));
        reader.skip_until(" BATCH +");
        let mut page = Vec::new();
        loop {
            let line = reader.line();
            if line.contains(" BATCH -") {
                break;
            }
            let Some((prefix, text)) = line.split_once(" PRIVMSG #ops :") else {
                continue;
            };
            let (tags, source) = prefix.split_once(" :").expect("tags and a source");
            let id = tags
                .split(';')
                .find_map(|tag| tag.strip_prefix("msgid="))
                .expect("a msgid")
                .to_owned();
            let sender = source.split('!').next().expect("a nick");
            page.push((id, format!("<{sender}> {text}")));
        }
        let Some((oldest, _)) = page.first() else {
            break;
        };
        request = format!("BEFORE #ops msgid={oldest} 100");
        messages.splice(0..0, page.into_iter().map(|(_, message)| message));
    }
    messages
}

#[test]
fn a_node_killed_under_load_loses_no_acknowledged_message_and_its_users_quit() {
    let cluster = Cluster::start(&["alpha", "beta"]);
    let mut alice = Observer::join_ops(cluster.text(0), "alice");
    let mut bob = Observer::join_ops(cluster.text(1), "bob");
    alice.skip_until("-- bob joined #ops");
    let load = send_load(&bob, 1_000_000);
    // Some are through: beta dies in the middle of the rest.
    bob.skip_until("#ops <bob> load 100");
    cluster.nodes[1].process.signal("KILL");
    let killed = std::time::Instant::now();
    let (acknowledged, _) = acknowledged(&mut bob, usize::MAX);
    load.join().expect("the sender");

    // alpha's users see bob go once beta's lease lapsed (500 ms here; docs/CLUSTER.md, "Node
    // death": a lease and a heartbeat).
    alice.skip_until("-- bob left (Its server left the network)");
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(5), "bob's quit took {took:?}");
    // Every message beta acknowledged is in the history alpha reads.
    let history = history(cluster.irc(0), "reader");
    let history: std::collections::HashSet<String> = history.into_iter().collect();
    for n in acknowledged {
        let line = format!("<bob> load {n}");
        assert!(history.contains(&line), "{line:?} is not in the history");
    }
    // And bob's nick is free again.
    Irc::register(cluster.irc(0), "bob");
}

#[test]
fn redis_restarted_under_load_the_nodes_recover_and_no_acknowledged_message_is_lost() {
    let mut cluster = Cluster::start(&["alpha", "beta"]);
    let mut alice = Observer::join_ops(cluster.text(0), "alice");
    let mut bob = Observer::join_ops(cluster.text(1), "bob");
    alice.skip_until("-- bob joined #ops");
    const LOAD: usize = 3000;
    let load = send_load(&alice, LOAD);
    alice.skip_until("#ops <alice> load 100");
    cluster.redis.restart();
    let (acknowledged, refused) = acknowledged(&mut alice, LOAD - 101);
    load.join().expect("the sender");
    assert_eq!(
        acknowledged.len() + refused,
        LOAD - 101,
        "alice was not told of every message"
    );

    // The nodes recover by themselves: a message said on alpha reaches bob on beta again.
    let text = alice
        .say_until_stored("after the restart", 20)
        .expect("a message is stored after Redis restarted");
    bob.skip_until(&format!("#ops <alice> {text}"));
    let history = history(cluster.irc(1), "reader");
    let history: std::collections::HashSet<String> = history.into_iter().collect();
    for n in acknowledged {
        let line = format!("<alice> load {n}");
        assert!(history.contains(&line), "{line:?} is not in the history");
    }
}

/// Two nodes on one Redis, alpha reaching it only through a [`Proxy`] that can cut the link,
/// beta directly; both configured with `config`.
struct CutOff {
    alpha: Node,
    beta: Node,
    // Dropped after the nodes.
    proxy: Proxy,
    _config: common::TempDir,
    _redis: RedisServer,
}

impl CutOff {
    fn start(config: &str) -> Self {
        let redis = RedisServer::start();
        let proxy = Proxy::start(redis.socket());
        let (config_directory, config) = config_file(config);
        Self {
            alpha: start_node_at(&proxy.url(), "alpha", &config),
            beta: start_node(&redis, "beta", &config),
            proxy,
            _config: config_directory,
            _redis: redis,
        }
    }
}

#[test]
fn a_node_cut_off_from_redis_stops_taking_messages_and_the_others_go_on() {
    let CutOff {
        alpha, beta, proxy, ..
    } = &CutOff::start(SHORT_LEASE);
    let mut alice = Observer::join_ops(alpha.text, "alice");
    let mut bob = Observer::join_ops(beta.text, "bob");
    let mut carol = irc_in(beta.irc, "carol", "#ops");
    alice.skip_until("-- bob joined #ops");
    let load = send_load(&alice, 1_000_000);
    alice.skip_until("#ops <alice> load 100");
    proxy.cut();
    let cut = std::time::Instant::now();

    // alpha acknowledges nothing it could not deliver (docs/CLUSTER.md, "Partition between a
    // node and Redis"): alice's messages are acknowledged in order until the cut; those on
    // their way then are in doubt, and said so (never "could not be saved": a room message is
    // stored in the step that publishes it); later ones are refused as not sent; and she is
    // disconnected once alpha's lease is past. Each line she sent is answered in turn.
    let answers = std::thread::spawn(move || {
        let mut acknowledged = 101;
        let mut in_doubt = 0;
        let mut not_sent = Vec::new();
        loop {
            let line = alice
                .try_line()
                .expect("a line before alice is disconnected");
            if line == format!("#ops <alice> load {acknowledged}") {
                assert!(
                    in_doubt + not_sent.len() == 0,
                    "acknowledged after a refusal: {line:?}"
                );
                acknowledged += 1;
            } else if line.starts_with("! not confirmed: ") {
                assert!(not_sent.is_empty(), "in doubt after a refusal: {line:?}");
                in_doubt += 1;
            } else if line.starts_with("! not sent: ") {
                not_sent.push(acknowledged + in_doubt + not_sent.len());
            } else if line.starts_with("! ") {
                assert_eq!(
                    line,
                    "! disconnected: this server lost its link to the rest of the network; \
                     reconnect to continue"
                );
                break;
            }
        }
        alice.expect_closed();
        (acknowledged, not_sent)
    });
    // beta's users see alice go once alpha's lease lapsed (500 ms), and go on talking.
    bob.skip_until("-- alice left (Its server left the network)");
    let took = cut.elapsed();
    assert!(took < Duration::from_secs(5), "alice's quit took {took:?}");
    let (acknowledged, not_sent) = answers.join().expect("alice's answers");
    load.join().expect("the sender");
    bob.send("without alpha");
    bob.skip_until("#ops <bob> without alpha");
    carol.skip_until(":bob!");
    // alpha takes no client while cut off, and says so.
    assert_eq!(common::http_get(alpha.http, "/readyz").0, 503);
    let refused = refusal_line(alpha.text);
    assert!(
        refused.contains("server unavailable: it lost its link to the network"),
        "{refused:?}"
    );

    // Healed, alpha registers again by itself and its users talk with beta's.
    proxy.heal();
    alpha
        .process
        .stderr_line_containing("registered again in the cluster");
    // The server takes the node's new state a moment after the node logs it.
    readyz_until(alpha, 200);
    let mut alice = Observer::join_ops(alpha.text, "alice");
    let text = alice
        .say_until_stored("after the cut", 20)
        .expect("a message is stored after the link healed");
    bob.skip_until(&format!("#ops <alice> {text}"));

    // Every message acknowledged before the cut is in the history, and none refused.
    let history: Vec<String> = history(beta.irc, "reader");
    let said: std::collections::HashSet<&String> = history.iter().collect();
    for n in 0..acknowledged {
        let line = format!("<alice> load {n}");
        assert!(said.contains(&line), "{line:?} is not in the history");
    }
    for n in not_sent {
        let line = format!("<alice> load {n}");
        assert!(
            !said.contains(&line),
            "refused, yet in the history: {line:?}"
        );
    }
}

#[test]
fn a_node_cut_off_silently_says_so_within_its_timeout_and_recovers_once_healed() {
    // A lease long enough that the node is degraded, not fenced, for the whole cut.
    let CutOff {
        alpha, beta, proxy, ..
    } = &CutOff::start("[cluster]\nheartbeat = \"100ms\"\nlease = \"30s\"\ntimeout = \"300ms\"\n");
    let mut alice = Observer::join_ops(alpha.text, "alice");
    let mut bob = Observer::join_ops(beta.text, "bob");
    alice.skip_until("-- bob joined #ops");

    // Nothing fails, nothing is closed: a renewal unanswered for `timeout` tells.
    proxy.cut();
    alice.skip_until(
        "-- the link to the rest of the network is down; messages cannot be sent until it is back",
    );
    alice.send("while cut off");
    alice.expect(
        "! not sent: this server has lost its link to the rest of the network; try again in a \
         moment",
    );
    assert_eq!(common::http_get(alpha.http, "/readyz").0, 503);

    proxy.heal();
    alice.skip_until("-- the link to the rest of the network is back");
    let text = alice
        .say_until_stored("after the cut", 20)
        .expect("a message is stored once the link healed");
    // bob, on the other node, never saw alice leave.
    let before = bob.skip_until(&format!("#ops <alice> {text}"));
    assert!(
        before.iter().all(|line| !line.contains("alice left")),
        "{before:?}"
    );
}

#[test]
fn a_message_on_its_way_when_the_link_fails_is_delivered_once_when_it_heals() {
    // A lease long enough that the node is degraded, not fenced, for the whole cut.
    let CutOff {
        alpha, beta, proxy, ..
    } = &CutOff::start("[cluster]\nheartbeat = \"100ms\"\nlease = \"30s\"\ntimeout = \"300ms\"\n");
    let mut alice = Observer::join_ops(alpha.text, "alice");
    let mut carol = irc_in(alpha.irc, "carol", "#ops");
    let mut bob = Observer::join_ops(beta.text, "bob");
    alice.skip_until("-- bob joined #ops");
    alice.send("before the cut");
    alice.skip_until("#ops <alice> before the cut");

    // Cut silently: the messages go out and no answer comes. Redis may or may not have them;
    // neither sender is told "not sent" (it could send the message twice), and each is sent
    // again, under the nonce that makes it count once, when the link is back.
    // (Their sessions wait for the answer, so they tell their users nothing meanwhile: the
    // node's /readyz says when it found the link down.)
    proxy.cut();
    alice.send("on its way");
    carol.send("PRIVMSG #ops :on its way too");
    readyz_until(alpha, 503);
    proxy.heal();
    let waited = alice.skip_until("#ops <alice> on its way");
    assert!(
        waited.iter().all(|line| !line.starts_with("! ")),
        "{waited:?}"
    );
    // bob, on the other node, gets each once, in whichever order Redis took them.
    bob.skip_until("#ops <alice> before the cut");
    let mut expected = vec!["#ops <alice> on its way", "#ops <carol> on its way too"];
    while !expected.is_empty() {
        let line = bob.line();
        if line.starts_with("#ops <") {
            let position = expected.iter().position(|message| *message == line);
            assert!(position.is_some(), "{line:?} unexpected or twice");
            expected.swap_remove(position.unwrap_or_default());
        }
    }

    // Once each in the history, read from the other node.
    let history = history(beta.irc, "reader");
    for message in ["<alice> on its way", "<carol> on its way too"] {
        let copies = history
            .iter()
            .filter(|line| line.as_str() == message)
            .count();
        assert_eq!(copies, 1, "{message:?} in {history:?}");
    }
}

#[test]
fn operators_and_administrators_act_on_every_node() {
    let hash = hash_password("oper-password").expect("hash");
    let redis = RedisServer::start();
    let (_config_directory, config) = config_file(&format!(
        "{SHORT_LEASE}[[oper]]\nname = \"root\"\npassword_hash = \"{hash}\"\n\
         [[admin.token]]\nname = \"ops\"\nsecret_hash = \"{hash}\"\nscope = \"write\"\n"
    ));
    let alpha = start_node(&redis, "alpha", &config);
    let beta = start_node(&redis, "beta", &config);
    let mut root = irc_in(alpha.irc, "root", "#ops");
    root.send("OPER root oper-password");
    root.skip_until(" 381 ");
    let mut watcher = irc_in(beta.irc, "watcher", "#ops");
    watcher.send("MODE watcher +w");
    watcher.skip_until(" MODE watcher ");
    let mut spammer = Irc::register(beta.irc, "spammer");

    // An operator's wallops reach the users who asked for them on every node.
    root.send("WALLOPS :maintenance at noon");
    let wallops = watcher.skip_until(" WALLOPS ");
    assert!(wallops.starts_with(":root!"), "{wallops}");
    assert!(
        wallops.ends_with(" WALLOPS :maintenance at noon"),
        "{wallops}"
    );

    // A ban put in force on alpha disconnects the user it bars on beta, and beta refuses a
    // newcomer it bars.
    root.send("KLINE spammer!*@* :spamming links");
    let answer = root.skip_until("NOTICE root :banned spammer!*@*");
    assert!(
        answer.ends_with("until removed (spamming links); 0 disconnected"),
        "{answer}"
    );
    let error = spammer.skip_until("ERROR");
    assert!(error.contains("Banned (spamming links)"), "{error}");
    let mut again = Irc::connect(beta.irc);
    again.send("NICK spammer");
    again.send("USER spammer 0 * :again");
    assert_eq!(
        again.skip_until("ERROR"),
        "ERROR :Closing link: (*@127.0.0.1) [Banned (spamming links)]"
    );

    // A ban through alpha's administration API too.
    let mut lurker = irc_in(beta.irc, "lurker", "#ops");
    assert_eq!(
        admin(&alpha, &["ban", "lurker!*@*", "--reason", "lurking"]),
        ["banned lurker!*@* until removed (lurking); 0 disconnected"]
    );
    let error = lurker.skip_until("ERROR");
    assert!(error.contains("Banned (lurking)"), "{error}");

    // Lifted on alpha, lifted on beta: once beta has what alpha said after the lifting (one
    // order for both), the barred user may come back there.
    root.send("UNKLINE spammer!*@*");
    root.skip_until("NOTICE root :lifted the ban on spammer!*@*");
    root.send("PRIVMSG #ops :the ban is lifted");
    watcher.skip_until(" PRIVMSG #ops :the ban is lifted");
    Irc::register(beta.irc, "spammer");

    // An administrator, who is no user of the cluster, kicks and sets topics on every node.
    assert_eq!(
        admin(&alpha, &["topic", "#ops", "kept by the staff"]),
        ["topic of #ops: kept by the staff"]
    );
    let topic = watcher.skip_until(" TOPIC #ops ");
    assert!(topic.ends_with(" TOPIC #ops :kept by the staff"), "{topic}");
    assert_eq!(
        admin(&alpha, &["kick", "#ops", "watcher", "closing"]),
        ["kicked watcher from #ops"]
    );
    let kick = watcher.skip_until(" KICK #ops watcher");
    assert!(kick.ends_with(" KICK #ops watcher closing"), "{kick}");
}

/// Runs `palaver admin ARGS` against `node`'s administration API with the token `ops` (write),
/// and returns what it printed.
fn admin(node: &Node, args: &[&str]) -> Vec<String> {
    let url = format!("http://{}", node.http);
    let envs = [
        ("PALAVER_ADMIN_URL", url.as_str()),
        ("PALAVER_ADMIN_TOKEN", "ops:oper-password"),
    ];
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let mut process = common::Process::spawn(
        &all,
        common::Options {
            envs: &envs,
            ..common::Options::default()
        },
    );
    let (status, stdout) = process.wait_exit();
    assert!(status.success(), "{}", process.stderr_text());
    stdout
}
