//! The operations endpoints over real sockets: `/healthz`, `/readyz`, and `/metrics` scraped
//! and parsed after traffic the test generated, with exact values. Traffic is known to be
//! processed when its recipients have read it, and stored when its sender has its receipt or
//! echo (released only after the commit), so no test sleeps.

mod support;

use palaver_server::config::Overrides;
use support::operations::{Samples, get};
use support::{Client, IrcClient, TestServer};

/// A server with the operations endpoints on an ephemeral loopback port.
async fn server_with_http(overrides: Overrides) -> TestServer {
    TestServer::start_with(Overrides {
        http_listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..overrides
    })
    .await
}

async fn scrape(server: &TestServer) -> Samples {
    let response = get(server.http_address.expect("an HTTP listener"), "/metrics").await;
    assert_eq!(response.status, 200, "{}", response.body);
    let content_type = response.content_type.unwrap_or_default();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    Samples::parse(&response.body)
}

/// Reads `text` said in #lobby by the user whose mask is `from`, as an IRC member sees it.
async fn expect_room_message(client: &mut IrcClient, from: &str, text: &str) {
    client
        .expect_line(&format!(":{from} PRIVMSG #lobby :{text}"))
        .await;
}

/// How a text user appears to IRC users.
fn text_mask(nick: &str) -> String {
    format!("{nick}!text@127.0.0.1")
}

#[tokio::test]
async fn health_and_readiness_answer_while_the_server_runs() {
    let server = server_with_http(Overrides::default()).await;
    let http = server.http_address.expect("an HTTP listener");
    let health = get(http, "/healthz").await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let ready = get(http, "/readyz").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));
    assert_eq!(get(http, "/nothing-here").await.status, 404);
    server.shut_down().await;
}

#[tokio::test]
async fn without_http_listen_there_is_no_http_listener() {
    let server = TestServer::start().await;
    assert_eq!(server.http_address, None);
    server.shut_down().await;
}

#[tokio::test]
async fn metrics_count_the_traffic_of_text_and_irc_clients() {
    let server = server_with_http(Overrides::default()).await;

    // A room of four: two text users (in #lobby from the start) and two IRC users.
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    let mut carol = server.irc_with_caps("carol", &["echo-message"]).await;
    let mut dave = server.irc("dave").await;
    carol.join("#lobby").await;
    dave.join("#lobby").await;
    carol
        .expect_line(&format!(":{} JOIN #lobby", support::irc_mask("dave")))
        .await;
    for text_user in [&mut alice, &mut bob] {
        text_user.skip_until("-- dave joined #lobby").await;
    }

    // Before any message: who is here, and nothing counted yet.
    let samples = scrape(&server).await;
    let connections = |samples: &Samples, protocol, transport| {
        samples.value(
            "palaver_connections",
            &[("protocol", protocol), ("transport", transport)],
        )
    };
    assert_eq!(connections(&samples, "text", "tcp"), 2.0);
    assert_eq!(connections(&samples, "irc", "tcp"), 2.0);
    assert_eq!(connections(&samples, "text", "tls"), 0.0);
    assert_eq!(connections(&samples, "irc", "tls"), 0.0);
    assert_eq!(samples.plain("palaver_users"), 4.0);
    assert_eq!(samples.plain("palaver_rooms"), 1.0);
    assert_eq!(samples.plain("palaver_messages_delivered_total"), 0.0);
    assert_eq!(samples.plain("palaver_messages_stored_total"), 0.0);

    // Three text messages and two IRC messages to the room, one at a time: each waits for
    // its sender's receipt or echo (so it is committed, one commit each) and is read by the
    // three other members (so its fan-out is done).
    const TEXT_MESSAGES: usize = 3;
    const IRC_MESSAGES: usize = 2;
    for sequence in 0..TEXT_MESSAGES {
        let text = format!("text message {sequence}");
        alice.send(&text).await;
        let seen = format!("#lobby <alice> {text}");
        alice.expect(&seen).await;
        bob.expect(&seen).await;
        expect_room_message(&mut carol, &text_mask("alice"), &text).await;
        expect_room_message(&mut dave, &text_mask("alice"), &text).await;
    }
    for sequence in 0..IRC_MESSAGES {
        let text = format!("irc message {sequence}");
        carol.send(&format!("PRIVMSG #lobby :{text}")).await;
        let carol_mask = support::irc_mask("carol");
        expect_room_message(&mut carol, &carol_mask, &text).await;
        expect_room_message(&mut dave, &carol_mask, &text).await;
        let seen = format!("#lobby <carol> {text}");
        alice.expect(&seen).await;
        bob.expect(&seen).await;
    }
    // And one private message.
    carol.send("PRIVMSG alice :just you").await;
    carol
        .expect_line(&format!(
            ":{} PRIVMSG alice :just you",
            support::irc_mask("carol")
        ))
        .await;
    alice.expect("*carol* just you").await;

    let samples = scrape(&server).await;
    let room_messages = (TEXT_MESSAGES + IRC_MESSAGES) as f64;
    let received = |target| samples.value("palaver_messages_received_total", &[("target", target)]);
    assert_eq!(received("room"), room_messages);
    assert_eq!(received("private"), 1.0);
    assert_eq!(received("status"), 0.0);
    // Every room message to the three members besides its sender, and the private one.
    assert_eq!(
        samples.plain("palaver_messages_delivered_total"),
        room_messages * 3.0 + 1.0
    );
    assert_eq!(samples.plain("palaver_deliveries_dropped_total"), 0.0);
    let all_messages = room_messages + 1.0;
    assert_eq!(samples.plain("palaver_messages_stored_total"), all_messages);
    for histogram in ["palaver_store_commit_seconds", "palaver_fanout_seconds"] {
        let count = samples.plain(&format!("{histogram}_count"));
        assert_eq!(
            count, all_messages,
            "{histogram}: one observation per message"
        );
        assert_eq!(
            samples.value(&format!("{histogram}_bucket"), &[("le", "+Inf")]),
            count
        );
        assert!(samples.plain(&format!("{histogram}_sum")) > 0.0);
    }
    let accepted = |protocol| {
        samples.value(
            "palaver_connections_accepted_total",
            &[("protocol", protocol), ("transport", "tcp")],
        )
    };
    assert_eq!((accepted("text"), accepted("irc")), (2.0, 2.0));
    for reason in [
        "client_quit",
        "connection_lost",
        "slow_consumer",
        "flood",
        "ping_timeout",
        "killed",
        "shutdown",
    ] {
        assert_eq!(
            samples.value("palaver_disconnects_total", &[("reason", reason)]),
            0.0,
            "{reason}"
        );
    }
    for reason in ["per_address", "connect_rate", "server_full", "banned"] {
        assert_eq!(
            samples.value("palaver_connections_refused_total", &[("reason", reason)]),
            0.0,
            "{reason}"
        );
    }

    // A quit and a closed connection are counted before the others hear of them.
    dave.send("QUIT :bye").await;
    carol
        .expect_line(&format!(":{} QUIT :Quit: bye", support::irc_mask("dave")))
        .await;
    for text_user in [&mut alice, &mut bob] {
        text_user.expect("-- dave left (Quit: bye)").await;
    }
    // With nothing left unread, so a clean close.
    drop(bob);
    alice.expect("-- bob left (connection closed)").await;
    let samples = scrape(&server).await;
    let disconnects = |reason| samples.value("palaver_disconnects_total", &[("reason", reason)]);
    assert_eq!(disconnects("client_quit"), 1.0);
    assert_eq!(disconnects("connection_lost"), 1.0);
    assert_eq!(samples.plain("palaver_users"), 2.0);
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_shows_as_a_disconnect_and_dropped_deliveries() {
    let server = server_with_http(Overrides {
        send_queue_bytes: Some(64 * 1024),
        ..Overrides::default()
    })
    .await;
    let slow = Client::slow(server.address, "slow").await;
    let mut reader = Client::named(server.address, "reader").await;
    let mut sender = Client::named(server.address, "sender").await;
    reader.skip_until("-- guest-3 is now known as sender").await;

    let sent = support::send_until_dropped(&mut sender, &mut reader, "slow").await;

    let samples = scrape(&server).await;
    assert_eq!(
        samples.value("palaver_disconnects_total", &[("reason", "slow_consumer")]),
        1.0
    );
    let sent = sent as f64;
    assert_eq!(
        samples.value("palaver_messages_received_total", &[("target", "room")]),
        sent
    );
    // The push that overflowed the slow client's queue at least was not queued; every copy
    // is either queued or dropped, and the reader got all of them.
    let delivered = samples.plain("palaver_messages_delivered_total");
    let dropped = samples.plain("palaver_deliveries_dropped_total");
    assert!(dropped >= 1.0, "{dropped}");
    assert!(delivered >= sent, "{delivered} < {sent}");
    assert!(delivered + dropped <= 2.0 * sent, "{delivered} + {dropped}");
    assert_eq!(samples.plain("palaver_fanout_seconds_count"), sent);
    // The sender reads its receipts and the slow client's socket is drained, so shutdown has
    // no output left to wait for.
    sender
        .skip_until("-- slow left (too slow: send queue full)")
        .await;
    slow.drain_until_closed().await;
    server.shut_down().await;
}

#[tokio::test]
async fn refused_connections_and_flood_disconnects_are_counted() {
    let config = "[limits]\nexempt_addresses = []\nconnections_per_address = 2\n\
                  [flood]\nexempt_addresses = []\nburst = 5\nrate = 1.0\nrecvq_bytes = 20480\n";
    let server = TestServer::start_with_config(
        config,
        Overrides {
            http_listen: vec!["127.0.0.1:0".parse().unwrap()],
            ..Overrides::default()
        },
    )
    .await;
    let flooder = Client::named(server.address, "flooder").await;
    let mut watcher = Client::named(server.address, "watcher").await;
    // Two more from the same address are refused, one on each listener.
    for address in [server.address, server.irc_address] {
        let mut refused = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let mut told = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut refused, &mut told)
            .await
            .expect("read the refusal");
        assert!(told.contains("too many connections"), "{told:?}");
    }
    let (_reader, mut writer) = flooder.into_parts();
    let flood = format!("{}\n", "z".repeat(400)).repeat(200);
    let _ = tokio::io::AsyncWriteExt::write_all(&mut writer, flood.as_bytes()).await;
    watcher.skip_until("-- flooder left (Excess Flood)").await;

    let samples = scrape(&server).await;
    let refused =
        |reason| samples.value("palaver_connections_refused_total", &[("reason", reason)]);
    assert_eq!(refused("per_address"), 2.0);
    assert_eq!(refused("connect_rate"), 0.0);
    assert_eq!(
        samples.value("palaver_disconnects_total", &[("reason", "flood")]),
        1.0
    );
    server.shut_down().await;
}
