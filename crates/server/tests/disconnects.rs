//! Abrupt disconnects are cleaned up and announced.

mod support;

use std::time::Duration;

use socket2::SockRef;
use support::{Client, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_connection_is_cleaned_up_and_announced() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let bob_stream = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    // Linger zero: closing sends RST instead of FIN.
    SockRef::from(&bob_stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    let mut bob = Client::from_stream(bob_stream).await;
    bob.rename("bob").await;
    bob.send("/join #rust").await;
    bob.expect("-- bob joined #rust").await;
    alice.skip_until("-- guest-2 is now known as bob").await;
    // Half a line, then the reset: the fragment must not be delivered.
    bob.send_raw(b"never finished").await;
    // Reunite the halves first: dropping a lone write half would send a FIN before the RST.
    let (reader, writer) = bob.into_parts();
    let stream = reader.into_inner().reunite(writer).unwrap();
    drop(stream);
    alice.expect("-- bob left (connection reset)").await;
    // bob is gone everywhere: the nick is free and #rust no longer exists.
    alice.rename("bob").await;
    alice.send("/rooms").await;
    alice.expect("-- 1 room").await;
    alice.expect("-- #lobby (1)").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_connection_still_gets_its_replies() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let stream = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    let mut bob = Client::from_stream(stream).await;
    alice
        .skip_until(&format!("-- {} joined #lobby", bob.nick))
        .await;
    let bob_nick = bob.nick.clone();
    // A client that sends its lines and then shuts down its sending side (as `nc -N` or a
    // script piping a file does) still gets everything up to the end of its input.
    bob.send_raw(b"last words\n").await;
    let (mut reader, mut writer) = bob.into_parts();
    tokio::io::AsyncWriteExt::shutdown(&mut writer)
        .await
        .unwrap();
    let mut rest = String::new();
    tokio::time::timeout(
        support::PATIENCE,
        tokio::io::AsyncReadExt::read_to_string(&mut reader, &mut rest),
    )
    .await
    .expect("server closed the connection")
    .unwrap();
    let lines: Vec<&str> = rest.lines().map(support::untimed).collect();
    assert_eq!(lines, vec![format!("#lobby <{bob_nick}> last words")]);
    alice
        .expect(&format!("#lobby <{bob_nick}> last words"))
        .await;
    alice
        .expect(&format!("-- {bob_nick} left (connection closed)"))
        .await;
    server.shut_down().await;
}
