//! Line framing over real sockets: however TCP splits or glues the bytes, the server sees the
//! same lines; bad lines are refused one by one and the connection lives on.

mod support;

use palaver_server::config::Overrides;
use support::{Client, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_sent_one_byte_per_segment_arrives_whole() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let nick = alice.nick.clone();
    for byte in b"hello, byte by byte\n" {
        // One write per byte with Nagle off, so bytes travel in separate segments as far as
        // timing allows; the decoder's unit tests cover every possible split exhaustively.
        alice.send_raw(&[*byte]).await;
    }
    alice
        .expect(&format!("#lobby <{nick}> hello, byte by byte"))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_lines_in_one_segment_arrive_as_ten_messages_in_order() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let nick = alice.nick.clone();
    let batch: String = (0..10).map(|i| format!("line {i}\n")).collect();
    alice.send_raw(batch.as_bytes()).await;
    for i in 0..10 {
        alice.expect(&format!("#lobby <{nick}> line {i}")).await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crlf_is_accepted_and_empty_lines_are_ignored() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let nick = alice.nick.clone();
    alice.send_raw(b"\r\n\n   \nwindows\r\n\r\nunix\n").await;
    alice.expect(&format!("#lobby <{nick}> windows")).await;
    alice.expect(&format!("#lobby <{nick}> unix")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_long_line_is_refused_and_its_neighbours_survive() {
    let server = TestServer::start_with(Overrides {
        max_line_bytes: Some(100),
        ..Overrides::default()
    })
    .await;
    let mut alice = server.client().await;
    let nick = alice.nick.clone();
    let mut bytes = b"before\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 5000));
    bytes.extend_from_slice(b"\nafter\n");
    // In several segments, so the limit trips before the LF arrives.
    for chunk in bytes.chunks(700) {
        alice.send_raw(chunk).await;
    }
    alice.expect(&format!("#lobby <{nick}> before")).await;
    alice
        .expect("! line too long (max 100 bytes); discarded")
        .await;
    alice.expect(&format!("#lobby <{nick}> after")).await;
    // Exactly at the limit is fine.
    let exact = "y".repeat(100);
    alice.send(&exact).await;
    alice.expect(&format!("#lobby <{nick}> {exact}")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_refused_and_its_neighbours_survive() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let mut bob = server.client().await;
    alice
        .expect(&format!("-- {} joined #lobby", bob.nick))
        .await;
    let nick = alice.nick.clone();
    alice
        .send_raw(b"one\nbad \xff\xfe bytes\ntw\xc3\xb6\n")
        .await;
    alice.expect(&format!("#lobby <{nick}> one")).await;
    alice.expect("! invalid UTF-8; line discarded").await;
    alice.expect(&format!("#lobby <{nick}> twö")).await;
    // Others see the good lines only.
    bob.expect(&format!("#lobby <{nick}> one")).await;
    bob.expect(&format!("#lobby <{nick}> twö")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_control_characters_are_refused() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let nick = alice.nick.clone();
    alice.send_raw(b"\x1b[2Jcleared your screen\nfine\n").await;
    alice
        .expect("! control characters are not allowed; line discarded")
        .await;
    alice.expect(&format!("#lobby <{nick}> fine")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_cut_at_every_position_in_a_utf8_character_arrives_whole() {
    let server = TestServer::start().await;
    let mut alice = Client::connect(server.address).await;
    let nick = alice.nick.clone();
    let text = "naïve 日本語 🦀";
    let line = format!("{text}\n");
    for cut in 1..line.len() {
        alice.send_raw(&line.as_bytes()[..cut]).await;
        alice.send_raw(&line.as_bytes()[cut..]).await;
        alice.expect(&format!("#lobby <{nick}> {text}")).await;
    }
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Partial lines and quiet clients (`[text] idle_flush`)
// ---------------------------------------------------------------------------------------------

/// A client written like the socket tutorials' sends its message without a newline and waits
/// for the answer: once it has been quiet for the idle flush, its partial line is a line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_without_a_newline_is_heard_once_the_client_falls_quiet() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let mut bob = server.client().await;
    alice
        .expect(&format!("-- {} joined #lobby", bob.nick))
        .await;
    let nick = alice.nick.clone();
    alice.send_raw(b"hello").await;
    alice.expect(&format!("#lobby <{nick}> hello")).await;
    bob.expect(&format!("#lobby <{nick}> hello")).await;
    // Lines with their LF are handled at once, as always.
    alice.send_raw(b"with a newline\n").await;
    alice
        .expect(&format!("#lobby <{nick}> with a newline"))
        .await;
    bob.expect(&format!("#lobby <{nick}> with a newline")).await;
    // Commands too.
    alice.send_raw(b"/nick tutorial").await;
    alice
        .expect(&format!("-- {nick} is now known as tutorial"))
        .await;
    server.shut_down().await;
}

/// The trade-off: a line whose bytes pause longer than the idle flush in the middle arrives as
/// two messages. (The first half's stamped copy shows the pause was long enough.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_that_pauses_longer_than_the_idle_flush_arrives_as_two_messages() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let nick = alice.nick.clone();
    alice.send_raw(b"first half").await;
    alice.expect(&format!("#lobby <{nick}> first half")).await;
    alice.send_raw(b"-second half\n").await;
    alice.expect(&format!("#lobby <{nick}> -second half")).await;
    // A CRLF cut after its CR: the CR ends the flushed line, the late LF an empty (ignored)
    // one.
    alice.send_raw(b"windows\r").await;
    alice.expect(&format!("#lobby <{nick}> windows")).await;
    alice.send_raw(b"\nnext\n").await;
    alice.expect(&format!("#lobby <{nick}> next")).await;
    server.shut_down().await;
}

/// The end of the stream ends a partial line too: `printf hello | nc -N host 7788` is heard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_the_stream_ends_a_partial_line() {
    let server = TestServer::start().await;
    let alice = server.client().await;
    let mut bob = server.client().await;
    let nick = alice.nick.clone();
    let (mut reader, mut writer) = alice.into_parts();
    writer.write_all(b"goodbye").await.expect("send");
    writer.shutdown().await.expect("half-close");
    bob.expect(&format!("#lobby <{nick}> goodbye")).await;
    bob.expect(&format!("-- {nick} left (connection closed)"))
        .await;
    // The half-closed client still got its copy before the server closed.
    let mut rest = String::new();
    reader.read_to_string(&mut rest).await.expect("read");
    assert!(
        rest.ends_with(&format!("#lobby <{nick}> goodbye\n")),
        "{rest:?}"
    );
    server.shut_down().await;
}
