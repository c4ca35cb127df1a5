//! Read markers (IRCv3 `draft/read-marker`) over real sockets: getting and moving them, the
//! marker a `JOIN` shows, and an account's markers shared by its sessions (and nobody else)
//! and kept for its next connection.

mod support;

use support::{IrcClient, SERVER, TestServer, create_account, irc_sasl, irc_sasl_pending};

const CAP: &str = "draft/read-marker";

fn markread(target: &str, marker: &str) -> String {
    format!(":{SERVER} MARKREAD {target} {marker}")
}

/// Joins `channel` and returns the `MARKREAD` among the replies, checking it comes before
/// the `366`.
async fn join_marker(client: &mut IrcClient, channel: &str) -> String {
    client.send(&format!("JOIN {channel}")).await;
    let mut marker = None;
    loop {
        let line = client.line().await;
        let message = support::parse(&line);
        match message.command.as_str() {
            "MARKREAD" => marker = Some(line),
            "366" => return marker.expect("MARKREAD before the end of NAMES"),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markread_gets_and_moves_a_marker_forward_only() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &[CAP]).await;
    alice.send("MARKREAD #nowhere").await;
    alice.expect_raw(&markread("#nowhere", "*")).await;
    assert_eq!(join_marker(&mut alice, "#a").await, markread("#a", "*"));

    let newer = "timestamp=2019-06-01T12:00:00.000Z";
    alice.send(&format!("MARKREAD #a {newer}")).await;
    alice.expect_raw(&markread("#a", newer)).await;
    alice
        .send("MARKREAD #A timestamp=2019-01-01T00:00:00.000Z")
        .await;
    alice.expect_raw(&markread("#A", newer)).await;
    alice.send("MARKREAD #a").await;
    alice.expect_raw(&markread("#a", newer)).await;
    // A nick's conversation, and a rejoin.
    alice
        .send("MARKREAD bob timestamp=2023-07-04T00:00:00Z")
        .await;
    alice
        .expect_raw(&markread("bob", "timestamp=2023-07-04T00:00:00.000Z"))
        .await;
    alice.send("PART #a").await;
    alice.expect_command("PART").await;
    assert_eq!(join_marker(&mut alice, "#a").await, markread("#a", newer));
    // Never beyond now: a marker says what was read.
    alice
        .send("MARKREAD #future timestamp=9999-01-01T00:00:00.000Z")
        .await;
    let clamped = alice.expect_command("MARKREAD").await;
    assert!(clamped.params[1].as_str() < "timestamp=2200", "{clamped:?}");

    // Errors: standard replies, which the capability's clients understand.
    let fail = |rest: &str| format!(":{SERVER} FAIL MARKREAD {rest}");
    alice.send("MARKREAD").await;
    alice
        .expect_raw(&fail("NEED_MORE_PARAMS :Missing parameters"))
        .await;
    for bad in ["#a *", "#a timestamp=not-a-time", "#a 2019-01-01T00:00:00Z"] {
        alice.send(&format!("MARKREAD {bad}")).await;
        let parameter = bad.split_once(' ').unwrap().1;
        alice
            .expect_raw(&fail(&format!(
                "INVALID_PARAMS {parameter} :Invalid parameters"
            )))
            .await;
    }
    alice.send("MARKREAD 9lives").await;
    alice
        .expect_raw(&fail("INVALID_PARAMS 9lives :Invalid parameters"))
        .await;

    // A guest's markers are its connection's own.
    let mut other = server.irc_with_caps("other", &[CAP]).await;
    other.send("MARKREAD #a").await;
    other.expect_raw(&markread("#a", "*")).await;
    // Without the capability, a JOIN shows none.
    let mut plain = server.irc("plain").await;
    plain.send("JOIN #a").await;
    let replies = plain.skip_until(|m| m.command == "366").await;
    assert_eq!(replies.command, "366");
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_markers_are_its_sessions_own_and_outlive_them() {
    let directory = tempfile::tempdir().expect("temp dir");
    let database = directory.path().join("history.db");
    let overrides = || palaver_server::config::Overrides {
        database: Some(database.to_string_lossy().into_owned()),
        ..Default::default()
    };
    let server = TestServer::start_with(overrides()).await;
    create_account(&server, "alice", "alice-secret").await;
    let mut first = irc_sasl(&server, "alice", "alice", "alice-secret", &[CAP]).await;
    let mut second = irc_sasl(&server, "alice_", "alice", "alice-secret", &[CAP]).await;
    let mut without = irc_sasl(&server, "alice__", "alice", "alice-secret", &[]).await;
    let mut guest = server.irc_with_caps("guest", &[CAP]).await;
    assert_eq!(join_marker(&mut first, "#a").await, markread("#a", "*"));

    // A marker set in one session is told to the account's other sessions that asked.
    let marker = "timestamp=2022-11-11T11:11:11.111Z";
    first.send(&format!("MARKREAD #a {marker}")).await;
    first.expect_raw(&markread("#a", marker)).await;
    second.expect_raw(&markread("#a", marker)).await;
    // Not moved, not told.
    first
        .send("MARKREAD #a timestamp=2000-01-01T00:00:00.000Z")
        .await;
    first.expect_raw(&markread("#a", marker)).await;
    second
        .send("MARKREAD bob timestamp=2022-01-01T00:00:00.000Z")
        .await;
    second
        .expect_raw(&markread("bob", "timestamp=2022-01-01T00:00:00.000Z"))
        .await;
    first
        .expect_raw(&markread("bob", "timestamp=2022-01-01T00:00:00.000Z"))
        .await;
    for client in [&mut first, &mut second, &mut without, &mut guest] {
        client.expect_quiet().await;
    }
    guest.send("MARKREAD #a").await;
    guest.expect_raw(&markread("#a", "*")).await;
    server.shut_down().await;

    // After a restart, a session logging in is told its channel markers after the welcome,
    // and a JOIN shows the marker.
    let server = TestServer::start_with(overrides()).await;
    let mut again = irc_sasl_pending(&server, "alice", "alice", "alice-secret", &[CAP]).await;
    again.send("CAP END").await;
    again
        .skip_until(|m| m.command == "376" || m.command == "422")
        .await;
    again.expect_raw(&markread("#a", marker)).await;
    again.expect_quiet().await;
    assert_eq!(join_marker(&mut again, "#a").await, markread("#a", marker));
    again.send("MARKREAD bob").await;
    again
        .expect_raw(&markread("bob", "timestamp=2022-01-01T00:00:00.000Z"))
        .await;
    server.shut_down().await;
}
