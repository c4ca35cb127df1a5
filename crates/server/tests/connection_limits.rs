//! What one address may do (`[limits]`, `admission.rs`): connections at once and per
//! minute, the global cap, account registrations and room creations; and the text protocol's
//! registration timeout. A refused connection is told why in one line before it is closed.
//!
//! The tests connect from loopback, which is exempt by default, so each one empties
//! `exempt_addresses`.

mod support;

use std::time::Duration;

use palaver_server::config::Overrides;
use support::{Client, IrcClient, PATIENCE, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

async fn start(limits: &str) -> TestServer {
    let config = format!("[limits]\nexempt_addresses = []\n{limits}\n");
    TestServer::start_with_config(&config, Overrides::default()).await
}

/// Connects and returns every line the server sends before it closes the connection, without
/// line endings (and text lines without their stamp).
async fn refused_lines(address: std::net::SocketAddr) -> Vec<String> {
    let stream = TcpStream::connect(address).await.expect("connect");
    let mut reader = BufReader::new(stream);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let read = tokio::time::timeout(PATIENCE, reader.read_line(&mut line))
            .await
            .expect("closed in time")
            .expect("read");
        if read == 0 {
            return lines;
        }
        lines.push(support::untimed(line.trim_end()).to_owned());
    }
}

/// Connects text clients until one is admitted: a connection that just closed gives its
/// place back when its task ends, a moment after the client sees the end of the stream.
async fn connect_once_admitted(address: std::net::SocketAddr) -> Client {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let stream = TcpStream::connect(address).await.expect("connect");
        let mut peek = [0; 1];
        stream.peek(&mut peek).await.expect("peek");
        if peek[0] != b'!' {
            return Client::from_stream(stream).await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never admitted again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_address_holds_at_most_connections_per_address() {
    let server = start("connections_per_address = 2").await;
    let mut first = server.client().await;
    let _second = server.client().await;
    assert_eq!(
        refused_lines(server.address).await,
        ["! disconnected: too many connections from your address (at most 2 at once)"]
    );
    assert_eq!(
        refused_lines(server.irc_address).await,
        [
            "ERROR :Closing link: (*@127.0.0.1) [too many connections from your address (at most \
             2 at once)]"
        ]
    );
    first.send("/quit").await;
    first.skip_until("-- goodbye").await;
    first.expect_closed().await;
    let mut again = connect_once_admitted(server.address).await;
    again.sync().await;
    server.shut_down().await;
}

#[tokio::test]
async fn an_address_may_connect_only_so_often() {
    let server = start("connect_rate_per_address = \"3/1h\"").await;
    for _ in 0..3 {
        let mut client = server.client().await;
        client.sync().await;
    }
    let refused = refused_lines(server.address).await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]
            .starts_with("! disconnected: connecting too often from your address; try again in "),
        "{refused:?}"
    );
    server.shut_down().await;
}

#[tokio::test]
async fn the_server_serves_at_most_max_connections_even_from_exempt_addresses() {
    let config = "[limits]\nmax_connections = 2\n";
    let server = TestServer::start_with_config(config, Overrides::default()).await;
    let _one = server.client().await;
    let _two = IrcClient::register(server.irc_address, "two", &[]).await;
    assert_eq!(
        refused_lines(server.address).await,
        ["! disconnected: the server is full; try again later"]
    );
    server.shut_down().await;
}

#[tokio::test]
async fn an_address_may_register_only_so_many_accounts() {
    let server = start("account_registrations_per_address = \"2/1h\"").await;
    for nick in ["reg-one", "reg-two"] {
        let mut client = Client::named(server.address, nick).await;
        client.send("/register a-long-password").await;
        client
            .expect(&format!("-- account {nick} registered; you are logged in"))
            .await;
    }
    let mut third = Client::named(server.address, "reg-three").await;
    third.send("/register a-long-password").await;
    let refusal = third.line().await;
    assert!(
        refusal.starts_with("! too many accounts registered from your address; try again in "),
        "{refusal:?}"
    );
    // A failed attempt does not count: a mistake costs nothing.
    let mut irc = IrcClient::register(
        server.irc_address,
        "reg-four",
        &["draft/account-registration"],
    )
    .await;
    irc.send("REGISTER * * a-long-password").await;
    let fail = irc.expect_command("FAIL").await;
    assert_eq!(
        &fail.params[..3],
        ["REGISTER", "TEMPORARILY_UNAVAILABLE", "reg-four"]
    );
    server.shut_down().await;
}

#[tokio::test]
async fn an_address_may_create_only_so_many_rooms_and_join_any_number() {
    let server = start("room_creations_per_address = \"2/1h\"").await;
    let mut founder = Client::named(server.address, "founder").await;
    // The lobby, which the founder brought into being by connecting, does not count.
    for room in ["#one", "#two"] {
        founder.send(&format!("/join {room}")).await;
        founder
            .skip_until(&format!("-- founder joined {room}"))
            .await;
    }
    founder.send("/join #three").await;
    let refusal = founder.line().await;
    assert!(
        refusal.starts_with(
            "! cannot create #three (too many rooms created from your address; try again in "
        ),
        "{refusal:?}"
    );
    let mut irc = server.irc("ircfounder").await;
    irc.send("JOIN #four").await;
    let refused = irc.expect_command("437").await;
    assert_eq!(refused.params[1], "#four");
    // Joining rooms that exist is not creating them.
    irc.join("#one").await;
    irc.sync().await;
    server.shut_down().await;
}

#[tokio::test]
async fn a_text_client_that_never_says_anything_is_disconnected() {
    let config = "[text]\nregistration_timeout = \"1s\"\n";
    let server = TestServer::start_with_config(config, Overrides::default()).await;
    let mut talker = server.client().await;
    talker.send("/who").await;
    let mut silent = server.client().await;
    silent
        .skip_until("! disconnected: you sent nothing since connecting (send any line to stay)")
        .await;
    silent.expect_closed().await;
    // The talker said something in time, and is still served.
    talker
        .skip_until(&format!("-- {} left (registration timed out)", silent.nick))
        .await;
    talker.sync().await;
    server.shut_down().await;
}
