//! Replies count against a client's send queue as they are produced: a burst of cheap commands
//! that would make the server build up more output than one client may queue ends the
//! connection under the slow-consumer policy, and the commands read after the limit was hit are
//! not handled. The client is told why in its own protocol. A page of history too big for the
//! queue is cut short instead.

mod support;

use palaver_server::config::Overrides;
use support::{Client, IrcClient, TestServer, irc_mask};

/// A small send queue keeps the tests quick; the rule is the same at any size.
const SEND_QUEUE_BYTES: usize = 64 * 1024;

async fn small_queue_server() -> TestServer {
    TestServer::start_with(Overrides {
        send_queue_bytes: Some(SEND_QUEUE_BYTES),
        ..Overrides::default()
    })
    .await
}

/// Says `count` messages of about 3,000 bytes in `#lobby` as `seeder`, each one acknowledged
/// (stored) before the next, and lets `witness` read them all.
async fn seed_long_history(seeder: &mut Client, witness: &mut Client, count: usize) {
    let padding = "x".repeat(3000);
    for sequence in 0..count {
        let text = format!("{sequence} {padding}");
        seeder.send(&text).await;
        let line = format!("#lobby <{}> {text}", seeder.nick);
        seeder.skip_until(&line).await;
        witness.skip_until(&line).await;
    }
}

/// A small-queue server where `seeder` said 30 messages of about 3 KB in `#lobby`, all read by
/// a client named `witness`; returns the server, the seeder and the witness.
async fn server_with_long_history(witness: &str) -> (TestServer, Client, Client) {
    let server = small_queue_server().await;
    let mut seeder = Client::named(server.address, "seeder").await;
    let mut witness = Client::named(server.address, witness).await;
    seeder
        .skip_until(&format!("-- guest-2 is now known as {}", witness.nick))
        .await;
    seed_long_history(&mut seeder, &mut witness, 30).await;
    (server, seeder, witness)
}

/// Twenty rooms with long topics, which make one `LIST` reply about 9 KB; returns their owner.
async fn twenty_rooms_with_long_topics(server: &TestServer) -> IrcClient {
    let mut owner = server.irc("owner").await;
    let topic = "t".repeat(380);
    for index in 0..20 {
        let room = format!("#room{index}");
        owner.join(&room).await;
        owner.send(&format!("TOPIC {room} :{topic}")).await;
        owner
            .skip_until(|m| m.command == "TOPIC" && m.params[0] == room)
            .await;
    }
    owner
}

#[tokio::test]
async fn history_requests_beyond_the_send_queue_end_the_connection_before_the_next_command() {
    let (server, _seeder, mut witness) = server_with_long_history("witness").await;
    let mut flooder = Client::connect(server.address).await;
    // Joining replays the newest history, cut short to fit.
    flooder.skip_until("-- end of history").await;
    flooder.rename("flooder").await;
    witness
        .skip_until("-- guest-3 is now known as flooder")
        .await;

    // Twenty requests for about 90 KB of history each, and a message, in one write: the
    // replies alone would be twenty times what the client may have queued.
    let mut burst = "/history 500\n".repeat(20);
    burst.push_str("marker\n");
    flooder.send_raw(burst.as_bytes()).await;

    // The client is dropped as too slow before its message is handled: the witness's next
    // line is its departure, not the marker.
    witness
        .expect("-- flooder left (too slow: send queue full)")
        .await;
    witness.sync().await;
    server.shut_down().await;
}

#[tokio::test]
async fn a_text_client_dropped_for_a_full_send_queue_is_told_why() {
    let (server, _seeder, _witness) = server_with_long_history("witness").await;
    let mut flooder = Client::connect(server.address).await;
    flooder.skip_until("-- end of history").await;

    flooder
        .send_raw("/history 500\n".repeat(20).as_bytes())
        .await;

    // Its replies were dropped; the documented notice is all it gets before the close.
    flooder
        .expect("! disconnected: too slow (send queue full)")
        .await;
    flooder.expect_closed().await;
    server.shut_down().await;
}

#[tokio::test]
async fn an_irc_client_dropped_for_a_full_send_queue_gets_an_irc_error_line() {
    let server = small_queue_server().await;
    let _owner = twenty_rooms_with_long_topics(&server).await;
    let mut flooder = server.irc("flooder").await;

    flooder.send_raw("LIST\r\n".repeat(20).as_bytes()).await;

    // Its replies were dropped; it is told why in IRC, not in the text protocol.
    assert_eq!(
        flooder.expect_closed().await,
        ["ERROR :Closing link: (~flooder@127.0.0.1) (SendQ exceeded)"]
    );
    server.shut_down().await;
}

#[tokio::test]
async fn a_page_of_history_bigger_than_half_the_send_queue_is_cut_short() {
    let (server, _seeder, mut reader) = server_with_long_history("reader").await;

    // 30 messages of about 3 KB do not fit in half of a 64 KiB queue; the newest that do are
    // shown, and the client is told how many older ones were left out.
    reader.send("/history 500").await;
    reader.expect("-- history").await;
    let notice = reader.line().await;
    let left_out: usize = notice
        .strip_prefix("-- ")
        .and_then(|rest| {
            rest.strip_suffix(" older messages left out: they would not fit in your send queue")
        })
        .unwrap_or_else(|| panic!("a notice of what was left out, got {notice:?}"))
        .parse()
        .expect("a count");
    assert!(left_out > 0 && left_out < 30, "{left_out}");
    for sequence in left_out..30 {
        let line = reader.line().await;
        assert!(
            line.starts_with(&format!("#lobby <seeder> {sequence} x")),
            "message {sequence} in order, got {:?}",
            &line[..line.len().min(40)]
        );
    }
    reader.expect("-- end of history").await;
    // The connection goes on.
    reader.sync().await;
    server.shut_down().await;
}

#[tokio::test]
async fn irc_listings_beyond_the_send_queue_end_the_connection_before_the_next_command() {
    let server = small_queue_server().await;
    let _owner = twenty_rooms_with_long_topics(&server).await;
    let mut watcher = server.irc("watcher").await;
    watcher.join("#watch").await;
    let mut flooder = server.irc("flooder").await;
    flooder.join("#watch").await;
    watcher
        .expect_line(&format!(":{} JOIN #watch", irc_mask("flooder")))
        .await;

    let mut burst = "LIST\r\n".repeat(20);
    burst.push_str("PRIVMSG #watch :marker\r\n");
    flooder.send_raw(burst.as_bytes()).await;

    watcher
        .expect_line(&format!(
            ":{} QUIT :too slow: send queue full",
            irc_mask("flooder")
        ))
        .await;
    watcher.expect_quiet().await;
    drop::<IrcClient>(flooder);
    server.shut_down().await;
}

#[tokio::test]
async fn a_chathistory_page_bigger_than_half_the_send_queue_keeps_the_newest_messages() {
    let (server, _seeder, _witness) = server_with_long_history("witness").await;
    let mut reader = server
        .irc_with_caps("reader", &["batch", "draft/chathistory", "message-tags"])
        .await;
    reader.join("#lobby").await;

    reader.send("CHATHISTORY LATEST #lobby * 100").await;
    let start = reader.expect_command("BATCH").await;
    assert_eq!(start.params[1], "chathistory");
    // Each 3 KB message arrives as several lines; the first line of each starts with its
    // sequence number.
    let mut sequences = Vec::new();
    loop {
        let message = reader.message().await;
        if message.command == "BATCH" {
            break;
        }
        if let Some((sequence, _)) = message.params[1].split_once(' ')
            && let Ok(sequence) = sequence.parse::<usize>()
        {
            sequences.push(sequence);
        }
    }
    let first = sequences[0];
    assert!(first > 0, "the page was cut short: {sequences:?}");
    assert_eq!(
        sequences,
        (first..30).collect::<Vec<_>>(),
        "the newest, in order"
    );
    // The connection goes on.
    reader.expect_quiet().await;
    server.shut_down().await;
}
