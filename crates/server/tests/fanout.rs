//! Fan-out under load: many clients each get every message in per-sender order, and a client
//! that never reads is dropped without slowing anyone else down.

mod support;

use std::collections::HashMap;

use palaver_server::config::Overrides;
use support::{Client, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_clients_each_get_every_message_in_per_sender_order() {
    const CLIENTS: usize = 500;
    const SENDERS: usize = 10;
    const MESSAGES_PER_SENDER: usize = 40;

    let server = TestServer::start().await;
    let mut connecting = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let address = server.address;
        connecting.spawn(async move { Client::connect(address).await });
    }
    // Each client has read its own join: from here on, all of them are in the lobby.
    let mut clients = connecting.join_all().await;
    let senders: Vec<String> = clients[..SENDERS].iter().map(|c| c.nick.clone()).collect();

    let mut receiving = tokio::task::JoinSet::new();
    for mut client in clients.drain(SENDERS..) {
        let senders = senders.clone();
        receiving.spawn(async move {
            collect_messages(&mut client, &senders, MESSAGES_PER_SENDER).await;
        });
    }
    for (index, mut client) in clients.into_iter().enumerate() {
        let senders = senders.clone();
        receiving.spawn(async move {
            for sequence in 0..MESSAGES_PER_SENDER {
                client
                    .send(&format!("message {sequence} from sender {index}"))
                    .await;
            }
            collect_messages(&mut client, &senders, MESSAGES_PER_SENDER).await;
        });
    }
    while let Some(result) = receiving.join_next().await {
        result.expect("every client received every message in order");
    }
    server.shut_down().await;
}

/// Reads until every sender's messages have arrived, asserting that each sender's messages
/// come in the order sent, with none missing or repeated. Join lines of later clients are
/// skipped.
async fn collect_messages(client: &mut Client, senders: &[String], per_sender: usize) {
    let mut next_expected: HashMap<&str, usize> = senders.iter().map(|s| (s.as_str(), 0)).collect();
    let mut remaining = senders.len() * per_sender;
    while remaining > 0 {
        let line = client.line().await;
        if line.starts_with("-- ") && line.ends_with(" joined #lobby") {
            continue;
        }
        let body = line
            .strip_prefix("#lobby <")
            .unwrap_or_else(|| panic!("{line:?}"));
        let (sender, text) = body.split_once("> ").unwrap();
        let sequence: usize = text
            .strip_prefix("message ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line:?}"));
        let expected = next_expected
            .get_mut(sender)
            .unwrap_or_else(|| panic!("{line:?}"));
        assert_eq!(
            sequence, *expected,
            "{} got {sender}'s messages out of order",
            client.nick
        );
        *expected += 1;
        remaining -= 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_and_the_others_keep_receiving() {
    let server = TestServer::start_with(Overrides {
        send_queue_bytes: Some(64 * 1024),
        ..Overrides::default()
    })
    .await;
    let slow = Client::slow(server.address, "slow").await;
    let mut reader = Client::named(server.address, "reader").await;
    let mut sender = Client::named(server.address, "sender").await;
    reader.skip_until("-- guest-3 is now known as sender").await;

    // The reader gets every message while the slow client fills up and is dropped.
    support::send_until_dropped(&mut sender, &mut reader, "slow").await;
    // The sender saw the departure too, and delivery goes on.
    sender
        .skip_until("-- slow left (too slow: send queue full)")
        .await;
    sender.send("after the drop").await;
    reader.skip_until("#lobby <sender> after the drop").await;
    reader.send("/who").await;
    reader
        .skip_until("-- members of #lobby (2): reader sender")
        .await;

    // The slow client's connection was closed by the server.
    slow.drain_until_closed().await;
    server.shut_down().await;
}
