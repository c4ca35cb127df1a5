//! Monitoring nicks over real sockets: IRC `MONITOR` (730–734), `extended-monitor`, and the
//! text protocol's `/monitor` and `/unmonitor`, with watchers and the watched on both
//! protocols (`docs/PROTOCOL.md`).

mod support;

use support::{Client, IrcClient, TestServer, expect_replies, irc_mask, numeric, text_account};

/// The notification every watcher of `nick` gets when it comes online.
fn online(nick: &str) -> String {
    format!(":palaver.local 730 * {}", irc_mask(nick))
}

/// The notification every watcher of `nick` gets when it goes offline.
fn offline(nick: &str) -> String {
    format!(":palaver.local 731 * {nick}")
}

/// Quits `client` and waits until the server closed its connection.
async fn quit(mut client: IrcClient) {
    client.send("QUIT :bye").await;
    client.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_are_told_when_monitored_nicks_come_and_go() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let bob = server.irc("bob").await;

    // Adding says where each nick stands: online with its mask, offline as given.
    expect_replies(
        &mut alice,
        "MONITOR + bob,Carol",
        &[
            &numeric("730", "alice", &irc_mask("bob")),
            &numeric("731", "alice", "Carol"),
        ],
    )
    .await;

    let carol = server.irc("carol").await;
    alice.expect_line(&online("carol")).await;
    quit(bob).await;
    alice.expect_line(&offline("bob")).await;
    quit(carol).await;
    alice.expect_line(&offline("carol")).await;
    let _bob = server.irc("bob").await;
    alice.expect_line(&online("bob")).await;
    alice.expect_quiet().await;

    // Nobody else hears of it.
    let mut dave = server.irc("dave").await;
    let _erin = server.irc("erin").await;
    dave.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nick_change_takes_monitored_nicks_offline_and_online() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    alice.send("MONITOR + qux").await;
    alice.expect_line(&numeric("731", "alice", "qux")).await;
    let mut baz = server.irc("baz").await;
    alice.expect_quiet().await;

    baz.send("NICK qux").await;
    baz.expect_line(":baz!~baz@127.0.0.1 NICK qux").await;
    alice
        .expect_line(":palaver.local 730 * qux!~baz@127.0.0.1")
        .await;
    // A change of case is the same nick: nothing to tell.
    baz.send("NICK QUX").await;
    baz.expect_line(":qux!~baz@127.0.0.1 NICK QUX").await;
    alice.expect_quiet().await;
    // Going offline names the nick as its last user spelled it.
    baz.send("NICK bazbat").await;
    baz.expect_line(":QUX!~baz@127.0.0.1 NICK bazbat").await;
    alice.expect_line(&offline("QUX")).await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_can_be_shown_checked_shortened_and_cleared() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let _bob = server.irc("bob").await;
    expect_replies(
        &mut alice,
        "MONITOR L",
        &[":palaver.local 733 alice :End of MONITOR list"],
    )
    .await;
    alice.send("MONITOR + bob,carol,dave").await;
    alice.skip_until(|m| m.command == "731").await;
    expect_replies(
        &mut alice,
        "MONITOR L",
        &[
            ":palaver.local 732 alice bob,carol,dave",
            ":palaver.local 733 alice :End of MONITOR list",
        ],
    )
    .await;
    expect_replies(
        &mut alice,
        "MONITOR S",
        &[
            &numeric("730", "alice", &irc_mask("bob")),
            ":palaver.local 731 alice carol,dave",
        ],
    )
    .await;
    // `-` and `C` answer nothing.
    expect_replies(&mut alice, "MONITOR - CAROL,nobody", &[]).await;
    expect_replies(
        &mut alice,
        "MONITOR L",
        &[
            ":palaver.local 732 alice bob,dave",
            ":palaver.local 733 alice :End of MONITOR list",
        ],
    )
    .await;
    expect_replies(&mut alice, "MONITOR C", &[]).await;
    expect_replies(
        &mut alice,
        "MONITOR L",
        &[":palaver.local 733 alice :End of MONITOR list"],
    )
    .await;
    expect_replies(&mut alice, "MONITOR S", &[]).await;
    let _carol = server.irc("carol").await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masks_are_refused_and_the_list_is_capped() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    expect_replies(
        &mut alice,
        "MONITOR + *!*@127.0.0.1,bob",
        &[
            ":palaver.local 432 alice *!*@127.0.0.1 :Erroneous nickname",
            ":palaver.local 731 alice bob",
        ],
    )
    .await;
    let _someone = server.irc("someone").await;
    alice.expect_quiet().await;

    expect_replies(
        &mut alice,
        "MONITOR +",
        &[":palaver.local 461 alice MONITOR :Not enough parameters"],
    )
    .await;
    expect_replies(
        &mut alice,
        "MONITOR X",
        &[":palaver.local NOTICE alice :MONITOR: Unknown MONITOR modifier (use +, -, C, L or S)"],
    )
    .await;

    // 100 nicks at most (`MONITOR=100`): the rest are refused with 734.
    let mut added = 1;
    while added < 100 {
        let batch: Vec<String> = (added..(added + 30).min(100))
            .map(|n| format!("n{n}"))
            .collect();
        added += batch.len();
        alice.send(&format!("MONITOR + {}", batch.join(","))).await;
        alice.expect_command("731").await;
    }
    expect_replies(
        &mut alice,
        "MONITOR + n5,late1,late2",
        &[
            ":palaver.local 731 alice n5",
            ":palaver.local 734 alice 100 late1,late2 :Monitor list is full",
        ],
    )
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_monitor_tells_of_away_real_name_and_account_changes() {
    let server = TestServer::start().await;
    let mut watcher = server
        .irc_with_caps(
            "watcher",
            &[
                "extended-monitor",
                "away-notify",
                "setname",
                "account-notify",
            ],
        )
        .await;
    // Asked for the interest but not extended-monitor: hears nothing of those it monitors.
    let mut plain = server.irc_with_caps("plain", &["away-notify"]).await;
    let mut bob = server.irc_with_caps("bob", &["setname"]).await;
    watcher.send("MONITOR + bob").await;
    watcher.expect_command("730").await;
    plain.send("MONITOR + bob").await;
    plain.expect_command("730").await;

    bob.send("AWAY :lunch").await;
    bob.expect_command("306").await;
    watcher.expect_line(":bob!~bob@127.0.0.1 AWAY lunch").await;
    bob.send("AWAY").await;
    bob.expect_command("305").await;
    watcher.expect_line(":bob!~bob@127.0.0.1 AWAY").await;
    bob.send("SETNAME :Robert").await;
    bob.expect_line(":bob!~bob@127.0.0.1 SETNAME Robert").await;
    watcher
        .expect_line(":bob!~bob@127.0.0.1 SETNAME Robert")
        .await;
    watcher.expect_quiet().await;
    plain.expect_quiet().await;

    // Sharing a room as well, it hears each change once.
    watcher.join("#a").await;
    bob.join("#a").await;
    watcher.expect_line(":bob!~bob@127.0.0.1 JOIN #a").await;
    bob.send("AWAY :again").await;
    bob.expect_command("306").await;
    watcher.expect_line(":bob!~bob@127.0.0.1 AWAY again").await;
    watcher.expect_quiet().await;

    // An account change of a text user it monitors.
    watcher.send("MONITOR + carol").await;
    watcher.expect_command("731").await;
    let _carol = text_account(&server, "carol", "carols-secret").await;
    watcher
        .expect_line(":palaver.local 730 * carol!text@127.0.0.1")
        .await;
    watcher
        .expect_line(":carol!text@127.0.0.1 ACCOUNT carol")
        .await;
    watcher.expect_quiet().await;
    plain.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_users_monitor_nicks_too() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    alice.send("/monitor").await;
    alice
        .expect("-- you monitor no nicks (/monitor NICK to be told when NICK comes and goes)")
        .await;
    let mut bob = Client::named(server.address, "bob").await;
    alice.expect("-- guest-2 joined #lobby").await;
    alice.expect("-- guest-2 is now known as bob").await;
    alice.send("/monitor bob, carol").await;
    alice.expect("-- bob is online").await;
    alice.expect("-- carol is offline").await;
    alice.send("/monitor").await;
    alice.expect("-- you monitor 2 nicks:").await;
    alice.expect("-- bob is online").await;
    alice.expect("-- carol is offline").await;

    // An IRC user coming and going, and a text user taking the nick.
    let carol = server.irc("carol").await;
    alice.expect("-- carol is online").await;
    quit(carol).await;
    alice.expect("-- carol is offline").await;
    bob.rename("carol").await;
    alice.expect("-- bob is offline").await;
    alice.expect("-- carol is online").await;
    alice.expect("-- bob is now known as carol").await;

    alice.send("/unmonitor carol").await;
    alice.expect("-- no longer monitoring carol").await;
    bob.send("/quit").await;
    bob.expect("-- goodbye").await;
    alice.expect("-- carol left (quit)").await;
    alice.send("/monitor bob carol x").await;
    alice.expect("-- bob is offline").await;
    alice.expect("-- carol is offline").await;
    alice.expect("-- x is offline").await;
    alice.send("/monitor *!*@*").await;
    alice
        .expect(
            "! invalid nick *!*@*: a nick may only contain letters, digits and - _ [ ] { } \\ | ^",
        )
        .await;
    alice.sync().await;
    server.shut_down().await;
}
