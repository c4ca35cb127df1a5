//! Flood control without loss (`[flood]`, `flood.rs`): a client sending faster than its budget
//! has its lines handled later, in order, none dropped; one that piles up more than
//! `recvq_bytes` of waiting input is disconnected for excess flood; the others are not held up.

mod support;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use palaver_proto::irc::message::Message;
use palaver_server::config::Overrides;
use support::{Client, IrcClient, TestServer, irc_mask, untagged};

/// The nick a message comes from.
fn nick_of(message: &Message) -> Option<&str> {
    message.source.as_deref()?.split('!').next()
}

/// Flood control on for loopback (the tests' address), with a small burst.
fn flood_config(burst: u32, rate: f64, recvq_bytes: usize) -> String {
    format!(
        "[flood]\nburst = {burst}\nrate = {rate}\nrecvq_bytes = {recvq_bytes}\n\
         exempt_addresses = []\n"
    )
}

#[tokio::test]
async fn a_fast_irc_client_is_slowed_to_its_rate_and_every_line_arrives_in_order() {
    // 5 at once, then 10 a second: 25 lines take at least two seconds to be handled.
    let server =
        TestServer::start_with_config(&flood_config(5, 10.0, 64 * 1024), Overrides::default())
            .await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    alice.join("#flood").await;
    bob.join("#flood").await;
    alice.skip_until(|m| m.command == "JOIN").await;
    alice.sync().await;

    // Registration and the joins spent part of the budget; the bucket refills in half a
    // second, and the sync's PONG shows it was handled after that.
    let lines = 25;
    let burst: String = (1..=lines)
        .map(|n| format!("PRIVMSG #flood :line {n}\r\n"))
        .collect();
    alice.send_raw(burst.as_bytes()).await;
    let started = Instant::now();
    for n in 1..=lines {
        bob.expect_line(&format!(":{} PRIVMSG #flood :line {n}", irc_mask("alice")))
            .await;
    }
    // A lower bound only: the server cannot be faster than the budget, however fast the
    // machine; a slow machine only makes this longer.
    let budget = Duration::from_secs_f64(f64::from(lines - 5) / 10.0);
    assert!(
        started.elapsed() >= budget - Duration::from_millis(100),
        "25 lines handled in {:?}, faster than the budget allows",
        started.elapsed()
    );
    alice.sync().await;
    server.shut_down().await;
}

#[tokio::test]
async fn others_keep_talking_while_a_flooder_waits_for_its_budget() {
    // 5 at once, then 5 a second: the flooder's 30 lines take about five seconds.
    let server =
        TestServer::start_with_config(&flood_config(5, 5.0, 64 * 1024), Overrides::default()).await;
    let mut flooder = server.irc("flooder").await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc("carol").await;
    for client in [&mut flooder, &mut bob, &mut carol] {
        client.join("#busy").await;
    }
    flooder.sync().await;
    bob.sync().await;
    carol.sync().await;

    let burst: String = (1..=30)
        .map(|n| format!("PRIVMSG #busy :flood {n}\r\n"))
        .collect();
    flooder.send_raw(burst.as_bytes()).await;
    // Once the flooder is being slowed down, bob speaks: his line comes long before the
    // flooder's last.
    carol
        .skip_until(|m| m.params.last().is_some_and(|text| text == "flood 6"))
        .await;
    bob.send("PRIVMSG #busy :still here").await;
    let mut seen = Vec::new();
    loop {
        let message = carol.message().await;
        if message.command != "PRIVMSG" {
            continue;
        }
        let text = message.params[1].clone();
        let from_bob = nick_of(&message) == Some("bob");
        seen.push(text);
        if from_bob {
            break;
        }
    }
    assert!(
        !seen.contains(&"flood 30".to_owned()),
        "bob's line waited for the flood: {seen:?}"
    );
    // Nothing of the flood is lost: the rest follows, in order.
    let mut next = 6 + seen.len();
    while next <= 30 {
        let message = carol.message().await;
        if message.command == "PRIVMSG" {
            assert_eq!(message.params[1], format!("flood {next}"));
            next += 1;
        }
    }
    server.shut_down().await;
}

#[tokio::test]
async fn an_irc_client_past_its_receive_queue_is_disconnected_for_excess_flood() {
    let server =
        TestServer::start_with_config(&flood_config(5, 1.0, 20 * 1024), Overrides::default()).await;
    let mut flooder = server.irc("flooder").await;
    let mut bob = server.irc("bob").await;
    flooder.join("#room").await;
    bob.join("#room").await;
    flooder.sync().await;

    // Far more than 20 KiB of lines at once, at one line a second.
    let line = format!("PRIVMSG #room :{}\r\n", "x".repeat(400));
    let flood = line.repeat(200);
    // The server closes the connection while this is being written; that is expected.
    let _ = flooder.try_send_raw(flood.as_bytes()).await;
    let last_words = flooder.expect_closed().await;
    assert_eq!(
        last_words.last().map(|line| untagged(line)),
        Some("ERROR :Closing link: (~flooder@127.0.0.1) [Excess Flood]"),
        "{last_words:?}"
    );
    bob.skip_until(|m| m.command == "QUIT").await;
    server.shut_down().await;
}

#[tokio::test]
async fn a_text_client_past_its_receive_queue_is_told_why_it_is_disconnected() {
    let server =
        TestServer::start_with_config(&flood_config(5, 1.0, 20 * 1024), Overrides::default()).await;
    let flooder = Client::named(server.address, "flooder").await;
    let mut watcher = Client::named(server.address, "watcher").await;

    let flood = format!("{}\n", "y".repeat(400)).repeat(200);
    let (mut reader, mut writer) = flooder.into_parts();
    let _ = tokio::io::AsyncWriteExt::write_all(&mut writer, flood.as_bytes()).await;
    let mut told = Vec::new();
    loop {
        let mut line = String::new();
        let read = tokio::time::timeout(
            support::PATIENCE,
            tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut line),
        )
        .await
        .expect("closed in time")
        .expect("read");
        if read == 0 {
            break;
        }
        told.push(support::untimed(line.trim_end()).to_owned());
    }
    assert_eq!(
        told.last().map(String::as_str),
        Some("! disconnected: excess flood (you sent faster than the server reads)"),
        "{told:?}"
    );
    watcher.skip_until("-- flooder left (Excess Flood)").await;
    server.shut_down().await;
}

#[tokio::test]
async fn a_cut_off_flooder_may_go_on_sending_while_it_reads_its_farewell() {
    let server =
        TestServer::start_with_config(&flood_config(5, 1.0, 20 * 1024), Overrides::default()).await;
    let flooder = Client::named(server.address, "flooder").await;
    let (mut reader, mut writer) = flooder.into_parts();
    let flood = format!("{}\n", "y".repeat(400)).repeat(200);
    writer
        .write_all(flood.as_bytes())
        .await
        .expect("the server reads on after cutting the flooder off");
    let mut told = String::new();
    tokio::time::timeout(support::PATIENCE, reader.read_to_string(&mut told))
        .await
        .expect("the farewell and the end of the stream in time")
        .expect("no reset");
    assert!(
        told.ends_with("! disconnected: excess flood (you sent faster than the server reads)\n"),
        "{told:?}"
    );
    // The end of the stream has come, and the server still takes what the flooder sends: had
    // it closed its socket with input unread, the connection would be reset, and a reset can
    // destroy a farewell the client has not read yet. (On loopback the reset would come back
    // during the first write, so the second would fail.)
    for _ in 0..20 {
        writer
            .write_all(&[b'z'; 1024])
            .await
            .expect("no reset while the flooder may still be reading");
    }
    server.shut_down().await;
}

#[tokio::test]
async fn lines_sent_just_before_closing_are_still_handled_at_the_flood_rate() {
    let server =
        TestServer::start_with_config(&flood_config(2, 20.0, 64 * 1024), Overrides::default())
            .await;
    let mut bob = IrcClient::register(server.irc_address, "bob", &[]).await;
    bob.join("#last").await;
    let mut alice = server.irc("alice").await;
    alice.join("#last").await;
    alice.sync().await;
    let lines: String = (1..=10)
        .map(|n| format!("PRIVMSG #last :{n}\r\n"))
        .collect();
    alice
        .send_raw(format!("{lines}QUIT :done\r\n").as_bytes())
        .await;
    alice.finish_sending().await;
    for n in 1..=10 {
        bob.skip_until(|m| m.command == "PRIVMSG" && m.params[1] == n.to_string())
            .await;
    }
    let quit = bob.skip_until(|m| m.command == "QUIT").await;
    assert_eq!(quit.params, ["Quit: done"]);
    server.shut_down().await;
}

/// A server with flood control at 5 lines at once, then 10 a second, and two text users in
/// the lobby: `bob` listening and `alice`, who has nothing left to be answered.
async fn text_users_under_flood_control() -> (TestServer, Client, Client) {
    let server =
        TestServer::start_with_config(&flood_config(5, 10.0, 64 * 1024), Overrides::default())
            .await;
    let bob = Client::named(server.address, "bob").await;
    let mut alice = Client::named(server.address, "alice").await;
    alice.sync().await;
    (server, bob, alice)
}

#[tokio::test]
async fn a_fast_text_client_is_slowed_to_its_rate_and_every_line_arrives_in_order() {
    let (server, mut bob, mut alice) = text_users_under_flood_control().await;

    let lines = 25;
    let burst: String = (1..=lines).map(|n| format!("line {n}\n")).collect();
    alice.send_raw(burst.as_bytes()).await;
    let started = Instant::now();
    bob.skip_until("#lobby <alice> line 1").await;
    for n in 2..=lines {
        bob.expect(&format!("#lobby <alice> line {n}")).await;
    }
    assert!(
        started.elapsed() >= least_wait(lines - 1, 5, 10.0),
        "25 lines handled in {:?}, faster than the budget allows",
        started.elapsed()
    );
    server.shut_down().await;
}

/// The least time before the line after lines costing `cost` in all may be handled, from a
/// bucket of `burst` refilled at `rate`: it is handled once one token is back, so at least
/// `cost - burst + 1` must have been refilled (less a margin for the clocks).
fn least_wait(cost: u32, burst: u32, rate: f64) -> Duration {
    Duration::from_secs_f64(f64::from(cost - burst + 1) / rate) - Duration::from_millis(100)
}

#[tokio::test]
async fn a_storm_of_text_listings_costs_five_lines_each() {
    let (server, mut bob, mut alice) = text_users_under_flood_control().await;

    // Six listings (30 lines' worth), then a message: at one line each they would all pass
    // at once; at five each the message waits for 26 tokens, 2.6 s at 10 a second.
    let storm = "/who\n/rooms\n/list\n/history\n/who\n/rooms\ndone\n";
    alice.send_raw(storm.as_bytes()).await;
    let started = Instant::now();
    bob.skip_until("#lobby <alice> done").await;
    assert!(
        started.elapsed() >= least_wait(30, 5, 10.0),
        "the listings were handled in {:?}, as if they cost one line each",
        started.elapsed()
    );
    server.shut_down().await;
}

#[tokio::test]
async fn join_storms_and_irc_listings_cost_by_what_they_ask_for() {
    let server =
        TestServer::start_with_config(&flood_config(5, 10.0, 64 * 1024), Overrides::default())
            .await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    alice.join("#storm").await;
    bob.join("#storm").await;
    alice.sync().await;

    // A JOIN of ten rooms costs ten; WHO and LIST five each: 30 in all before the message.
    let rooms: Vec<String> = (1..=10).map(|n| format!("#storm{n}")).collect();
    let storm = format!(
        "JOIN {}\r\nWHO #storm\r\nLIST\r\nWHO alice\r\nLIST\r\nPRIVMSG #storm :done\r\n",
        rooms.join(",")
    );
    alice.send_raw(storm.as_bytes()).await;
    let started = Instant::now();
    bob.skip_until(|m| m.command == "PRIVMSG" && m.params[1] == "done")
        .await;
    assert!(
        started.elapsed() >= least_wait(30, 5, 10.0),
        "the storm was handled in {:?}, as if each line cost one",
        started.elapsed()
    );
    server.shut_down().await;
}
