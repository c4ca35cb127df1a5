//! Listeners behind a proxy (`[proxy]`): a connection that starts with a PROXY protocol header
//! (version 1 or 2) is taken to come from the client it names, for the host others see and for
//! the per-address limits; a connection without a valid header, or from an untrusted address,
//! is closed unheard.
//!
//! The proxied listener is the IRC one, on IPv6 loopback; the text listener (IPv4) is not.

mod support;

use palaver_server::config::Overrides;
use support::{IrcClient, PATIENCE, TestServer, numeric};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start(extra: &str) -> TestServer {
    let config = format!("[proxy]\nlisteners = [\"[::1]:0\"]\n{extra}");
    TestServer::start_with_config(
        &config,
        Overrides {
            irc_listen: vec!["[::1]:0".parse().unwrap()],
            ..Overrides::default()
        },
    )
    .await
}

/// Connects through a pretend proxy: sends `header`, then registers as `nick`, and returns the
/// client with the `001` line read.
async fn register_through(server: &TestServer, header: &[u8], nick: &str) -> (IrcClient, String) {
    let mut client = IrcClient::connect(server.irc_address).await;
    client.nick = nick.to_owned();
    client.send_raw(header).await;
    client.send(&format!("NICK {nick}")).await;
    client.send(&format!("USER {nick} 0 * :{nick}")).await;
    let welcome = client.line().await;
    client
        .skip_until(|m| m.command == "376" || m.command == "422")
        .await;
    (client, welcome)
}

fn v2_ipv6(client: &str, port: u16) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[0x21, 0x21, 0, 36]);
    let address: std::net::Ipv6Addr = client.parse().unwrap();
    header.extend_from_slice(&address.octets());
    header.extend_from_slice(&[0; 16]);
    header.extend_from_slice(&port.to_be_bytes());
    header.extend_from_slice(&6667u16.to_be_bytes());
    header
}

#[tokio::test]
async fn a_version_1_header_names_the_client_others_see() {
    let server = start("").await;
    let header = b"PROXY TCP4 192.0.2.55 198.51.100.1 40000 6667\r\n";
    let (mut alice, welcome) = register_through(&server, header, "alice").await;
    assert!(
        welcome.ends_with("Welcome to the palaver IRC Network alice!~alice@192.0.2.55"),
        "{welcome:?}"
    );
    alice.send("WHOIS alice").await;
    alice
        .expect_line(&numeric("311", "alice", "alice ~alice 192.0.2.55 * alice"))
        .await;
    server.shut_down().await;
}

#[tokio::test]
async fn a_version_2_header_names_an_ipv6_client() {
    let server = start("").await;
    let (_bob, welcome) = register_through(&server, &v2_ipv6("2001:db8::7", 5000), "bob").await;
    assert!(welcome.ends_with("bob!~bob@2001:db8::7"), "{welcome:?}");
    server.shut_down().await;
}

#[tokio::test]
async fn the_limits_count_the_client_the_proxy_names() {
    let server = start("[limits]\nexempt_addresses = []\nconnections_per_address = 1\n").await;
    let first = b"PROXY TCP4 192.0.2.55 198.51.100.1 40000 6667\r\n";
    let (_held, _) = register_through(&server, first, "first").await;
    // The same client through the proxy again: over its share.
    let mut again = IrcClient::connect(server.irc_address).await;
    again
        .send_raw(b"PROXY TCP4 192.0.2.55 198.51.100.1 40001 6667\r\n")
        .await;
    let told = again.expect_closed().await;
    assert_eq!(
        told,
        [
            "ERROR :Closing link: (*@192.0.2.55) [too many connections from your address (at most \
          1 at once)]"
        ]
    );
    // Another client behind the same proxy is its own address.
    let other = b"PROXY TCP4 192.0.2.56 198.51.100.1 40002 6667\r\n";
    let (_other, welcome) = register_through(&server, other, "other").await;
    assert!(welcome.ends_with("other!~other@192.0.2.56"), "{welcome:?}");
    server.shut_down().await;
}

/// Sends `bytes` and asserts that the server closes the connection without a word (a reset
/// counts: the server closed with the client's bytes unread).
async fn expect_closed_unheard(server: &TestServer, bytes: &[u8]) {
    let mut stream = tokio::net::TcpStream::connect(server.irc_address)
        .await
        .expect("connect");
    let _ = stream.write_all(bytes).await;
    let mut heard = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut heard))
        .await
        .expect("closed in time");
    if let Err(error) = read {
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    }
    assert!(heard.is_empty(), "{}", String::from_utf8_lossy(&heard));
}

#[tokio::test]
async fn a_connection_without_a_valid_header_is_closed_unheard() {
    let server = start("").await;
    expect_closed_unheard(&server, b"NICK alice\r\n").await;
    expect_closed_unheard(&server, b"PROXY TCP4 not-an-address 198.51.100.1 1 2\r\n").await;
    server.shut_down().await;
}

#[tokio::test]
async fn only_trusted_proxies_may_send_headers() {
    let server = start("trusted_proxies = [\"192.0.2.0/24\"]\n").await;
    expect_closed_unheard(
        &server,
        b"PROXY TCP4 192.0.2.55 198.51.100.1 40000 6667\r\n",
    )
    .await;
    server.shut_down().await;
}
