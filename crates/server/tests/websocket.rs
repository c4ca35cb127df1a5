//! IRC over WebSocket (`--web-listen`, `/irc`) with a real WebSocket client: the IRCv3
//! subprotocols, one line per frame, the origin check, admission, and WebSocket and plain-text
//! users in the same room; and the web listener's files.

mod support;

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use palaver_server::config::Overrides;
use support::{Client, PATIENCE, TestServer, parse, untagged};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as Frame};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const TEXT: &str = "text.ircv3.net";
const BINARY: &str = "binary.ircv3.net";

async fn web_server(toml: &str) -> TestServer {
    let overrides = Overrides {
        web_listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..Overrides::default()
    };
    TestServer::start_with_config(toml, overrides).await
}

/// A WebSocket client of `/irc`.
struct WebClient {
    nick: String,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The subprotocol the server chose, if any.
    protocol: Option<String>,
}

/// Opens `/irc` offering `protocols` (in that order), with `origin` if given.
async fn open(
    address: SocketAddr,
    protocols: &[&str],
    origin: Option<&str>,
) -> Result<WebClient, WsError> {
    open_with(address, protocols, origin, &[]).await
}

/// [`open`], with more request headers.
async fn open_with(
    address: SocketAddr,
    protocols: &[&str],
    origin: Option<&str>,
    headers: &[(&'static str, &str)],
) -> Result<WebClient, WsError> {
    let mut request = format!("ws://{address}/irc").into_client_request()?;
    for (name, value) in headers {
        let value = HeaderValue::from_str(value).unwrap();
        request.headers_mut().insert(*name, value);
    }
    if !protocols.is_empty() {
        let offered = HeaderValue::from_str(&protocols.join(", ")).unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", offered);
    }
    if let Some(origin) = origin {
        let origin = HeaderValue::from_str(origin).unwrap();
        request.headers_mut().insert("Origin", origin);
    }
    let (socket, response) =
        tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request))
            .await
            .expect("the handshake in time")?;
    let protocol = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|value| value.to_str().unwrap().to_owned());
    Ok(WebClient {
        nick: "*".into(),
        socket,
        protocol,
    })
}

impl WebClient {
    /// Opens `/irc` offering `protocol` and registers as `nick`.
    async fn registered(address: SocketAddr, protocol: &str, nick: &str) -> Self {
        let mut client = open(address, &[protocol], None).await.expect("open /irc");
        client.nick = nick.into();
        client.send(&format!("NICK {nick}")).await;
        client.send(&format!("USER {nick} 0 * :{nick}")).await;
        client.skip_until("001").await;
        // The end of the MOTD, or that there is none.
        loop {
            let command = parse(&client.line().await).command;
            if command == "376" || command == "422" {
                break;
            }
        }
        client
    }

    /// Sends `line` as one frame of the kind the subprotocol uses (text by default).
    async fn send(&mut self, line: &str) {
        let frame = if self.protocol.as_deref() == Some(BINARY) {
            Frame::binary(line.as_bytes().to_vec())
        } else {
            Frame::text(line)
        };
        self.socket.send(frame).await.expect("send a frame");
    }

    /// The next frame's line, checked to be one line without a line ending, in a frame of
    /// the kind the subprotocol uses.
    async fn line(&mut self) -> String {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("{}: no frame within {PATIENCE:?}", self.nick))
                .expect("the WebSocket is open")
                .expect("a frame");
            let line = match frame {
                Frame::Text(text) => {
                    assert_ne!(
                        self.protocol.as_deref(),
                        Some(BINARY),
                        "a text frame: {text}"
                    );
                    text.as_str().to_owned()
                }
                Frame::Binary(bytes) => {
                    assert_eq!(self.protocol.as_deref(), Some(BINARY), "a binary frame");
                    String::from_utf8(bytes.to_vec()).expect("UTF-8")
                }
                Frame::Ping(_) | Frame::Pong(_) => continue,
                other => panic!("{}: expected a line, got {other:?}", self.nick),
            };
            assert!(!line.contains(['\r', '\n']), "one line per frame: {line:?}");
            return line;
        }
    }

    /// Skips lines until one with `command`; returns it.
    async fn skip_until(&mut self, command: &str) -> String {
        loop {
            let line = self.line().await;
            if parse(&line).command == command {
                return line;
            }
        }
    }

    /// Asserts that the server ends the WebSocket (a close frame or the end of the stream).
    async fn expect_closed(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            match tokio::time::timeout(PATIENCE, self.socket.next()).await {
                Err(_) => panic!("{}: still open after {PATIENCE:?}", self.nick),
                Ok(None | Some(Err(_)) | Some(Ok(Frame::Close(_)))) => return lines,
                Ok(Some(Ok(Frame::Text(text)))) => lines.push(text.as_str().to_owned()),
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

#[tokio::test]
async fn both_subprotocols_carry_one_line_per_frame_in_the_client_s_order_of_preference() {
    let server = web_server("").await;
    let address = server.web_address.expect("a web listener");
    for (offered, chosen) in [
        (&[TEXT][..], TEXT),
        (&[BINARY][..], BINARY),
        (&[BINARY, TEXT][..], BINARY),
        (&[TEXT, BINARY][..], TEXT),
    ] {
        let mut client = open(address, offered, None).await.expect("open /irc");
        assert_eq!(
            client.protocol.as_deref(),
            Some(chosen),
            "offered {offered:?}"
        );
        client.send("NICK webby").await;
        client.send("USER webby 0 * :Web User").await;
        let welcome = client.skip_until("001").await;
        assert!(welcome.contains("Welcome"), "{welcome}");
        client.send("QUIT :bye").await;
        client.expect_closed().await;
    }
    // No subprotocol named: text frames, as browsers' simplest clients expect.
    let mut client = open(address, &[], None).await.expect("open /irc");
    assert_eq!(client.protocol, None);
    client.send("PING :plain").await;
    assert_eq!(
        client.line().await,
        ":palaver.local PONG palaver.local plain"
    );
    server.shut_down().await;
}

#[tokio::test]
async fn a_frame_holding_a_line_break_is_refused_as_one_invalid_line() {
    let server = web_server("").await;
    let address = server.web_address.expect("a web listener");
    let mut web = WebClient::registered(address, TEXT, "webby").await;
    web.send("PRIVMSG webby :one\r\nQUIT :two").await;
    assert_eq!(
        web.line().await,
        ":palaver.local NOTICE webby :Message rejected: it contains a NUL, CR or LF character"
    );
    // Neither half ran: the connection is still there.
    web.send("PING :still").await;
    assert_eq!(web.line().await, ":palaver.local PONG palaver.local still");
    server.shut_down().await;
}

#[tokio::test]
async fn pages_of_other_origins_are_refused_unless_allowed() {
    let server = web_server("[web]\nallowed_origins = [\"https://chat.example.org\"]\n").await;
    let address = server.web_address.expect("a web listener");
    match open(address, &[TEXT], Some("https://evil.example")).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 403),
        Err(other) => panic!("refused with the wrong error: {other}"),
        Ok(_) => panic!("a page of another origin was let in"),
    }
    for origin in [
        format!("http://{address}"),
        "https://chat.example.org".into(),
    ] {
        let mut client = open(address, &[TEXT], Some(&origin))
            .await
            .unwrap_or_else(|error| panic!("{origin} refused: {error}"));
        client.send("PING :ok").await;
        assert_eq!(client.line().await, ":palaver.local PONG palaver.local ok");
    }
    server.shut_down().await;
}

#[tokio::test]
async fn a_websocket_client_past_the_per_address_limit_is_told_why_and_closed() {
    let server = web_server("[limits]\nconnections_per_address = 1\nexempt_addresses = []\n").await;
    let address = server.web_address.expect("a web listener");
    let mut first = WebClient::registered(address, TEXT, "first").await;
    let mut second = open(address, &[TEXT], None).await.expect("the handshake");
    let lines = second.expect_closed().await;
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    assert!(
        lines[0].starts_with("ERROR :") && lines[0].contains("too many connections"),
        "{lines:?}"
    );
    first.send("PING :still").await;
    assert_eq!(
        first.line().await,
        ":palaver.local PONG palaver.local still"
    );
    server.shut_down().await;
}

#[tokio::test]
async fn websocket_and_plain_text_users_talk_in_the_same_room() {
    let server = web_server("").await;
    let address = server.web_address.expect("a web listener");
    let mut nc = Client::named(server.address, "nina").await;
    let mut web = WebClient::registered(address, TEXT, "webby").await;
    web.send("JOIN #lobby").await;
    web.skip_until("366").await;
    nc.expect("-- webby joined #lobby").await;

    web.send("PRIVMSG #lobby :hello from a browser").await;
    nc.expect("#lobby <webby> hello from a browser").await;
    nc.send("hello from nc").await;
    let line = web.skip_until("PRIVMSG").await;
    assert_eq!(
        untagged(&line),
        ":nina!text@127.0.0.1 PRIVMSG #lobby :hello from nc"
    );
    server.shut_down().await;
}

#[tokio::test]
async fn behind_a_trusted_reverse_proxy_the_client_is_the_one_it_forwards() {
    let forwarded = [("X-Forwarded-For", "198.51.100.1, 203.0.113.9")];
    for (toml, host) in [
        ("", "127.0.0.1"),
        ("[web]\ntrust_forwarded_for = true\n", "203.0.113.9"),
    ] {
        let server = web_server(toml).await;
        let address = server.web_address.expect("a web listener");
        let mut watcher = server.irc("watcher").await;
        watcher.join("#lobby").await;
        let mut web = open_with(address, &[TEXT], None, &forwarded)
            .await
            .expect("open /irc");
        web.nick = "webby".into();
        for line in ["NICK webby", "USER webby 0 * :Web", "JOIN #lobby"] {
            web.send(line).await;
        }
        watcher
            .expect_line(&format!(":webby!~webby@{host} JOIN #lobby"))
            .await;
        server.shut_down().await;
    }
}

/// Sends one HTTP/1.1 request for `path` and returns the whole response as text.
async fn http_get(address: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .expect("the response in time")
        .expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn the_client_s_files_come_from_the_web_root_with_a_strict_security_policy() {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::write(root.path().join("index.html"), "<!doctype html><p>hi</p>").unwrap();
    std::fs::create_dir(root.path().join("js")).unwrap();
    std::fs::write(root.path().join("js/app.js"), "export const x = 1;").unwrap();
    std::fs::write(root.path().join(".secret"), "hidden").unwrap();
    let overrides = Overrides {
        web_listen: vec!["127.0.0.1:0".parse().unwrap()],
        web_root: Some(root.path().to_owned()),
        ..Overrides::default()
    };
    let server = TestServer::start_with(overrides).await;
    let address = server.web_address.expect("a web listener");

    let index = http_get(address, "/").await.to_ascii_lowercase();
    assert!(index.starts_with("http/1.1 200"), "{index}");
    assert!(
        index.contains("content-type: text/html; charset=utf-8"),
        "{index}"
    );
    assert!(
        index.contains("content-security-policy: default-src 'none'; script-src 'self';"),
        "{index}"
    );
    assert!(index.contains("x-content-type-options: nosniff"), "{index}");
    assert!(index.ends_with("<!doctype html><p>hi</p>"), "{index}");

    let script = http_get(address, "/js/app.js").await.to_ascii_lowercase();
    assert!(script.contains("content-type: text/javascript"), "{script}");

    for missing in ["/nope.html", "/.secret", "/../Cargo.toml", "/js/../../x"] {
        let response = http_get(address, missing).await;
        assert!(
            response.starts_with("HTTP/1.1 404"),
            "{missing}: {response}"
        );
    }
    server.shut_down().await;
}

#[tokio::test]
async fn the_built_in_web_client_is_served_at_the_root() {
    let server = web_server("").await;
    let address = server.web_address.expect("a web listener");
    let page = http_get(address, "/").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    // The page loads its script as a module of its own origin, as the policy requires.
    assert!(
        page.contains("<script type=\"module\" src=\"js/main.js\">"),
        "{page}"
    );
    let script = http_get(address, "/js/main.js").await;
    assert!(script.starts_with("HTTP/1.1 200"), "{script}");
    server.shut_down().await;
}

#[tokio::test]
async fn flood_control_holds_for_websocket_clients_as_for_any_other() {
    // Flood control on for loopback, at one line a second and 20 KiB of waiting input.
    let server =
        web_server("[flood]\nburst = 5\nrate = 1.0\nrecvq_bytes = 20480\nexempt_addresses = []\n")
            .await;
    let address = server.web_address.expect("a web listener");
    let mut watcher = Client::named(server.address, "watcher").await;
    let mut flooder = WebClient::registered(address, TEXT, "flooder").await;
    flooder.send("JOIN #lobby").await;
    flooder.skip_until("366").await;
    watcher.expect("-- flooder joined #lobby").await;

    // Far more than 20 KiB of lines at once: the server closes the WebSocket while they are
    // being sent, which may fail the sending.
    let line = format!("PRIVMSG #lobby :{}", "x".repeat(400));
    for _ in 0..200 {
        if flooder
            .socket
            .send(Frame::text(line.clone()))
            .await
            .is_err()
        {
            break;
        }
    }
    let last_words = flooder.expect_closed().await;
    assert!(
        last_words
            .last()
            .is_some_and(|line| untagged(line).starts_with("ERROR :Closing link: ")
                && line.ends_with("[Excess Flood]")),
        "{last_words:?}"
    );
    // What was handled before the cut reached the room, at the flood rate: whole lines, in
    // order, and then the quit.
    let mut seen = 0;
    loop {
        let line = watcher.line().await;
        if line == "-- flooder left (Excess Flood)" {
            break;
        }
        assert_eq!(line, format!("#lobby <flooder> {}", "x".repeat(400)));
        seen += 1;
    }
    assert!(seen < 200, "all 200 lines were handled: no flood control");
    server.shut_down().await;
}
