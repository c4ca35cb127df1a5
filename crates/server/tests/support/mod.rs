//! Shared helpers for the integration tests: an in-process server on an ephemeral port and a
//! line-oriented test client speaking the text protocol over a real socket.
//!
//! Reads carry a generous timeout only as a safety net, so a broken server fails a test
//! instead of hanging it; no test sleeps to wait for the server.

#![allow(dead_code)] // Each test binary uses a different subset of these helpers.

pub mod operations;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use palaver_proto::irc::message::Message;
use palaver_server::config::{FileConfig, Overrides};
use palaver_server::{Config, Server};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a test waits for an expected line before declaring the server broken.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The server name that numerics and server messages come from.
pub const SERVER: &str = "palaver.local";

/// Every capability `CAP LS` offers, in its order.
pub const ALL_CAPS: &str = "account-notify account-tag away-notify batch cap-notify \
                            draft/account-registration draft/chathistory \
                            draft/message-redaction draft/multiline draft/read-marker \
                            echo-message extended-join extended-monitor invite-notify \
                            labeled-response message-tags multi-prefix sasl server-time setname \
                            standard-replies userhost-in-names";

/// The same list as `CAP LS 302` shows it, with capability values.
pub const ALL_CAPS_302: &str = "account-notify account-tag away-notify batch cap-notify \
                                draft/account-registration=before-connect draft/chathistory \
                                draft/message-redaction \
                                draft/multiline=max-bytes=4096,max-lines=32 draft/read-marker \
                                echo-message extended-join extended-monitor invite-notify \
                                labeled-response message-tags multi-prefix \
                                sasl=PLAIN,SCRAM-SHA-256 server-time setname standard-replies \
                                userhost-in-names";

/// `nick!~nick@127.0.0.1`, how an IRC user registered by these helpers appears.
pub fn irc_mask(nick: &str) -> String {
    format!("{nick}!~{nick}@127.0.0.1")
}

/// `:palaver.local CODE nick rest`, a numeric reply line.
pub fn numeric(code: &str, nick: &str, rest: &str) -> String {
    format!(":{SERVER} {code} {nick} {rest}")
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `line` without its tag section.
pub fn untagged(line: &str) -> &str {
    match line.strip_prefix('@') {
        Some(rest) => rest.split_once(' ').map_or("", |(_, rest)| rest),
        None => line,
    }
}

/// `line` parsed as an IRC message; panics if it does not parse.
pub fn parse(line: &str) -> Message {
    Message::parse(line).unwrap_or_else(|error| panic!("unparsable {line:?}: {error}"))
}

/// Sends `command` as `client` and asserts that the replies are exactly `lines` (without
/// tags), and nothing more.
pub async fn expect_replies(client: &mut IrcClient, command: &str, lines: &[&str]) {
    client.send(command).await;
    for line in lines {
        client.expect_line(line).await;
    }
    client.expect_quiet().await;
}

/// Sends `JOIN channel` for `joiner` and reads its replies up to `366`; every client in
/// `witnesses` (members already) must read the `JOIN` as its very next message.
pub async fn join_witnessed(
    joiner: &mut IrcClient,
    channel: &str,
    witnesses: &mut [&mut IrcClient],
) {
    joiner.send(&format!("JOIN {channel}")).await;
    joiner.skip_until(|m| m.command == "366").await;
    let source = irc_mask(&joiner.nick);
    for witness in witnesses.iter_mut() {
        let message = witness.message().await;
        assert_eq!(message.command, "JOIN", "{}: {message:?}", witness.nick);
        assert_eq!(message.source.as_deref(), Some(source.as_str()));
        assert_eq!(message.params[0], channel);
    }
}

/// Joins each client to `channel` in order; every earlier member sees each later join, and
/// each joiner's own burst is read up to its 366.
pub async fn join_all(channel: &str, clients: &mut [&mut IrcClient]) {
    for index in 0..clients.len() {
        let nick = clients[index].nick.clone();
        let join_line = format!(":{} JOIN {channel}", irc_mask(&nick));
        clients[index].send(&format!("JOIN {channel}")).await;
        clients[index].expect_line(&join_line).await;
        clients[index].skip_until(|m| m.command == "366").await;
        for earlier in clients[..index].iter_mut() {
            earlier.expect_line(&join_line).await;
        }
    }
}

/// An in-process server with a text and an IRC listener on ephemeral loopback ports.
pub struct TestServer {
    /// The text-protocol listener.
    pub address: SocketAddr,
    /// The IRC listener.
    pub irc_address: SocketAddr,
    /// The operations endpoints, when the test asked for them (`http_listen`).
    pub http_address: Option<SocketAddr>,
    /// The TLS listeners, if the test asked for them (`irc_tls_listen`, `text_tls_listen`).
    pub ircs_address: Option<SocketAddr>,
    pub texts_address: Option<SocketAddr>,
    /// The web listeners, if the test asked for them (`web_listen`, `web_tls_listen`).
    pub web_address: Option<SocketAddr>,
    pub webs_address: Option<SocketAddr>,
    /// The configuration the server started with, and what reloads a new one.
    pub config: Config,
    pub reloader: palaver_server::reload::Reloader,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), palaver_server::cluster::ClusterError>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Overrides::default()).await
    }

    /// Starts a server with these overrides; the listeners are always one text and one IRC
    /// listener on ephemeral loopback ports.
    pub async fn start_with(overrides: Overrides) -> Self {
        Self::start_with_file(FileConfig::default(), overrides).await
    }

    /// Like [`start_with`](Self::start_with), with settings from a config file's text too.
    pub async fn start_with_config(toml: &str, overrides: Overrides) -> Self {
        let file = FileConfig::parse(toml).expect("valid config file");
        Self::start_with_file(file, overrides).await
    }

    async fn start_with_file(mut file: FileConfig, overrides: Overrides) -> Self {
        // Flood control would slow most tests' bursts to a few lines a second: the tests
        // run from loopback, exempt unless a test (of flood control) says otherwise.
        file.flood
            .exempt_addresses
            .get_or_insert_with(|| vec!["127.0.0.0/8".into(), "::1".into()]);
        // One text and one IRC listener on ephemeral loopback ports; a test may name its own
        // IRC address (an IPv6 one, say).
        let irc_listen = match overrides.irc_listen.as_slice() {
            [] => vec!["127.0.0.1:0".parse().unwrap()],
            named => named.to_vec(),
        };
        let overrides = Overrides {
            text_listen: vec!["127.0.0.1:0".parse().unwrap()],
            irc_listen,
            // A throw-away history unless the test names a database.
            database: overrides.database.clone().or(Some(":memory:".into())),
            ..overrides
        };
        let config = Config::resolve(file, overrides).expect("valid config");
        let server = Server::bind(config.clone()).await.expect("bind");
        let bound = |kind: &str| {
            server
                .local_addresses()
                .into_iter()
                .find(|(bound_kind, _)| *bound_kind == kind)
                .map(|(_, address)| address)
        };
        let address = bound("text").expect("a text listener");
        let irc_address = bound("irc").expect("an IRC listener");
        let (ircs_address, texts_address) = (bound("ircs"), bound("texts"));
        let (web_address, webs_address) = (bound("web"), bound("webs"));
        let reloader = server.reloader();
        let http_address = bound("http");
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            address,
            irc_address,
            http_address,
            ircs_address,
            texts_address,
            web_address,
            webs_address,
            config,
            reloader,
            stop: Some(stop),
            task,
        }
    }

    /// Connects a client and reads its greeting and lobby join.
    pub async fn client(&self) -> Client {
        Client::connect(self.address).await
    }

    /// Connects an IRC client and registers it as `nick` (no capabilities).
    pub async fn irc(&self, nick: &str) -> IrcClient {
        IrcClient::register(self.irc_address, nick, &[]).await
    }

    /// Connects an IRC client that negotiates `caps` and registers as `nick`.
    pub async fn irc_with_caps(&self, nick: &str, caps: &[&str]) -> IrcClient {
        IrcClient::register(self.irc_address, nick, caps).await
    }

    /// Triggers graceful shutdown and waits for the server to finish.
    pub async fn shut_down(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("server shut down in time")
            .expect("server task did not panic")
            .expect("the server ran to its end");
    }
}

/// Has `sender` say numbered 1000-byte messages in `#lobby` in batches until `slow` (a
/// [`Client::slow`] that never reads, on a server with a small `send_queue_bytes`) is dropped
/// as a slow consumer; `reader` must get every message, in order. Returns how many were sent
/// (all of them read by `reader`).
pub async fn send_until_dropped(sender: &mut Client, reader: &mut Client, slow: &str) -> usize {
    // Small enough that a reading client never has more than a third of its queue pending.
    const BATCH: usize = 20;
    // Enough to fill the slow client's queue and every kernel buffer on the way many times.
    const MAX_MESSAGES: usize = 100_000;
    let dropped = format!("-- {slow} left (too slow: send queue full)");
    let padding = "x".repeat(1000);
    let mut sent = 0;
    let mut slow_dropped = false;
    while !slow_dropped {
        assert!(sent < MAX_MESSAGES, "the slow client was never dropped");
        for sequence in sent..sent + BATCH {
            sender.send(&format!("{sequence} {padding}")).await;
        }
        for sequence in sent..sent + BATCH {
            let expected = format!("#lobby <{}> {sequence} {padding}", sender.nick);
            loop {
                let line = reader.line().await;
                if line == dropped {
                    slow_dropped = true;
                    continue;
                }
                assert_eq!(line, expected);
                break;
            }
        }
        sent += BATCH;
    }
    sent
}

/// A text-protocol client on a real socket: TCP, or any stream split in two halves (TLS).
pub struct Client<R = OwnedReadHalf, W = OwnedWriteHalf> {
    pub nick: String,
    reader: BufReader<R>,
    writer: W,
}

impl Client {
    /// Connects, reads the greeting (learning the guest nick) and the lobby join line.
    pub async fn connect(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).await.expect("connect");
        // Small writes leave at once, so tests control how bytes are cut into segments.
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Self::from_stream(stream).await
    }

    /// Like [`connect`](Self::connect), for a socket set up by the caller.
    pub async fn from_stream(stream: TcpStream) -> Self {
        let (reader, writer) = stream.into_split();
        Client::from_halves(reader, writer).await
    }

    /// Connects and renames to `nick`.
    pub async fn named(address: SocketAddr, nick: &str) -> Self {
        let mut client = Self::connect(address).await;
        client.rename(nick).await;
        client
    }

    /// Connects with a tiny receive buffer, so that the kernel absorbs little of what the
    /// server sends, and renames to `nick`: a client meant not to read, to fill its send
    /// queue.
    pub async fn slow(address: SocketAddr, nick: &str) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = socket.connect(address).await.expect("connect");
        let mut client = Self::from_stream(stream).await;
        client.rename(nick).await;
        client
    }
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Client<R, W> {
    /// A client over the two halves of a stream: reads the greeting (learning the guest
    /// nick) and the lobby join line.
    pub async fn from_halves(reader: R, writer: W) -> Self {
        let mut client = Self {
            nick: String::new(),
            reader: BufReader::new(reader),
            writer,
        };
        let greeting = client.line().await;
        let nick = greeting
            .split("you are ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("greeting names the nick: {greeting:?}"));
        client.nick = nick.to_owned();
        let joined = format!("-- {} joined #lobby", client.nick);
        client.expect(&joined).await;
        client
    }

    /// Reads whatever the kernel still holds for this client and waits until the server has
    /// closed the connection (cleanly or with a reset: either way it let go).
    pub async fn drain_until_closed(self) {
        let (mut reader, _writer) = self.into_parts();
        let mut sink = Vec::new();
        let drained = tokio::time::timeout(
            PATIENCE,
            tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut sink),
        )
        .await
        .expect("the connection was closed");
        drop(drained);
    }

    pub async fn rename(&mut self, nick: &str) {
        self.send(&format!("/nick {nick}")).await;
        let expected = format!("-- {} is now known as {nick}", self.nick);
        self.expect(&expected).await;
        self.nick = nick.to_owned();
    }

    /// Sends `line` followed by LF.
    pub async fn send(&mut self, line: &str) {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.send_raw(&bytes).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("send");
    }

    /// The next line, without its LF and with its `[HH:MM:SS] ` stamp removed (the stamp's
    /// shape is checked).
    pub async fn line(&mut self) -> String {
        untimed(&self.raw_line().await).to_owned()
    }

    /// The next line exactly as sent, without its LF.
    pub async fn raw_line(&mut self) -> String {
        let mut line = String::new();
        let read = tokio::time::timeout(PATIENCE, self.reader.read_line(&mut line))
            .await
            .unwrap_or_else(|_| panic!("{}: no line within {PATIENCE:?}", self.nick))
            .expect("read");
        assert!(
            read > 0,
            "{}: connection closed while expecting a line",
            self.nick
        );
        assert!(line.ends_with('\n'), "line ends with LF: {line:?}");
        line.pop();
        line
    }

    /// Asserts that the next line (stamp removed) is `expected`.
    pub async fn expect(&mut self, expected: &str) {
        let line = self.line().await;
        assert_eq!(line, expected, "{} got an unexpected line", self.nick);
    }

    /// Skips lines until one (stamp removed) equals `expected`; returns the skipped lines.
    pub async fn skip_until(&mut self, expected: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        loop {
            let line = self.line().await;
            if line == expected {
                return skipped;
            }
            skipped.push(line);
        }
    }

    /// Asserts that the server closes the connection next, with no further lines.
    pub async fn expect_closed(&mut self) {
        let mut rest = String::new();
        let read = tokio::time::timeout(PATIENCE, self.reader.read_line(&mut rest))
            .await
            .expect("connection closed in time");
        match read {
            Ok(0) => {}
            Ok(_) => panic!(
                "{}: expected the connection to close, got {rest:?}",
                self.nick
            ),
            Err(error) => panic!("{}: expected a clean close, got {error}", self.nick),
        }
    }

    /// Sends `/rooms` and reads the whole reply, asserting that its header is the very next
    /// line: nothing else was pending, and every earlier line of this client has been
    /// processed (a round trip through the server).
    pub async fn expect_quiet(&mut self) {
        self.send("/rooms").await;
        let header = self.line().await;
        assert!(
            header.starts_with("-- ") && (header.ends_with(" room") || header.ends_with(" rooms")),
            "{} expected nothing before the /rooms reply, got {header:?}",
            self.nick
        );
        let count: usize = header[3..].split(' ').next().unwrap().parse().unwrap();
        for _ in 0..count {
            self.line().await;
        }
    }

    /// A round trip through the server; the same as [`expect_quiet`](Self::expect_quiet).
    pub async fn sync(&mut self) {
        self.expect_quiet().await;
    }

    pub fn into_parts(self) -> (BufReader<R>, W) {
        (self.reader, self.writer)
    }
}

/// Removes a leading `[HH:MM:SS] ` after checking its shape; other lines are returned whole.
pub fn untimed(line: &str) -> &str {
    let bytes = line.as_bytes();
    if bytes.first() != Some(&b'[') {
        return line;
    }
    let stamp_ok = bytes.len() >= 11
        && bytes[3] == b':'
        && bytes[6] == b':'
        && bytes[9] == b']'
        && bytes[10] == b' '
        && [1, 2, 4, 5, 7, 8]
            .iter()
            .all(|&i| bytes[i].is_ascii_digit());
    assert!(stamp_ok, "malformed timestamp in {line:?}");
    &line[11..]
}

/// An IRC client on a real socket, speaking raw IRC lines: TCP, or any stream split in two
/// halves (TLS).
pub struct IrcClient<R = OwnedReadHalf, W = OwnedWriteHalf> {
    pub nick: String,
    reader: BufReader<R>,
    writer: W,
}

impl IrcClient {
    /// Connects without sending anything.
    pub async fn connect(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (reader, writer) = stream.into_split();
        IrcClient::from_halves(reader, writer)
    }

    /// Connects, negotiates `caps` (if any) with `CAP LS 302`/`CAP REQ`, registers as `nick`
    /// and reads the welcome burst up to the end of the MOTD (376 or 422).
    pub async fn register(address: SocketAddr, nick: &str, caps: &[&str]) -> Self {
        Self::connect(address).await.registered(nick, caps).await
    }
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> IrcClient<R, W> {
    /// A client over the two halves of a stream, which has sent nothing yet.
    pub fn from_halves(reader: R, writer: W) -> Self {
        Self {
            nick: "*".into(),
            reader: BufReader::new(reader),
            writer,
        }
    }

    /// Negotiates `caps` (if any) with `CAP LS 302`/`CAP REQ`, registers as `nick` and reads
    /// the welcome burst up to the end of the MOTD (376 or 422).
    pub async fn registered(self, nick: &str, caps: &[&str]) -> Self {
        let mut client = self;
        client.nick = nick.to_owned();
        if !caps.is_empty() {
            client.send("CAP LS 302").await;
            client.expect_command("CAP").await;
            client.send(&format!("CAP REQ :{}", caps.join(" "))).await;
            let ack = client.expect_command("CAP").await;
            assert_eq!(ack.params[1], "ACK", "capabilities acknowledged: {ack:?}");
        }
        client.send(&format!("NICK {nick}")).await;
        client
            .send(&format!("USER {nick} 0 * :{nick} real name"))
            .await;
        if !caps.is_empty() {
            client.send("CAP END").await;
        }
        client.expect_command("001").await;
        client
            .skip_until(|m| m.command == "376" || m.command == "422")
            .await;
        client
    }

    /// Sends `line` followed by CRLF.
    pub async fn send(&mut self, line: &str) {
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.send_raw(&bytes).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("send");
    }

    /// Sends `bytes`, which the server may refuse to take (closing the connection midway).
    pub async fn try_send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await
    }

    /// Ends the client's side of the stream (a FIN), as a client does when it has nothing
    /// more to say; it can still read.
    pub async fn finish_sending(&mut self) {
        self.writer
            .shutdown()
            .await
            .expect("shut down the write side");
    }

    /// The next line exactly as sent, without CRLF (which is checked).
    pub async fn line(&mut self) -> String {
        let mut line = String::new();
        let read = tokio::time::timeout(PATIENCE, self.reader.read_line(&mut line))
            .await
            .unwrap_or_else(|_| panic!("{}: no IRC line within {PATIENCE:?}", self.nick))
            .expect("read");
        assert!(
            read > 0,
            "{}: connection closed while expecting a line",
            self.nick
        );
        assert!(line.ends_with("\r\n"), "IRC line ends with CRLF: {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    /// The next message, parsed.
    pub async fn message(&mut self) -> Message {
        parse(&self.line().await)
    }

    /// Asserts that the next message has `command` (or numeric) and returns it.
    pub async fn expect_command(&mut self, command: &str) -> Message {
        let message = self.message().await;
        assert_eq!(message.command, command, "{} got {message:?}", self.nick);
        message
    }

    /// Asserts that the next line, without its tags, is exactly `expected`.
    pub async fn expect_line(&mut self, expected: &str) {
        let line = self.line().await;
        assert_eq!(
            untagged(&line),
            expected,
            "{} got an unexpected line",
            self.nick
        );
    }

    /// Asserts that the next line, tags included, is exactly `expected`.
    pub async fn expect_raw(&mut self, expected: &str) {
        let line = self.line().await;
        assert_eq!(line, expected, "{} got an unexpected line", self.nick);
    }

    /// Asserts that nothing is waiting for this client: after a `PING :quiet`, the very next
    /// line is exactly its `PONG` (tags included).
    pub async fn expect_quiet(&mut self) {
        self.send("PING :quiet").await;
        let line = self.line().await;
        assert_eq!(
            line,
            format!(":{SERVER} PONG {SERVER} quiet"),
            "{} expected nothing before the PONG",
            self.nick
        );
    }

    /// Joins `channel`, expects the own `JOIN` echo and reads the replies up to its `366`.
    pub async fn join(&mut self, channel: &str) {
        self.send(&format!("JOIN {channel}")).await;
        let join_line = format!(":{} JOIN {channel}", irc_mask(&self.nick));
        self.expect_line(&join_line).await;
        self.skip_until(|m| {
            m.command == "366" && m.params.get(1).map(String::as_str) == Some(channel)
        })
        .await;
    }

    /// Skips messages until one satisfies `wanted`, and returns it.
    pub async fn skip_until(&mut self, wanted: impl Fn(&Message) -> bool) -> Message {
        loop {
            let message = self.message().await;
            if wanted(&message) {
                return message;
            }
        }
    }

    /// Sends `PING :token` and skips everything up to its `PONG`: once it is back, every
    /// earlier command of this client has been handled (a round trip through the server).
    pub async fn sync(&mut self) {
        self.send("PING :sync").await;
        self.skip_until(|m| {
            m.command == "PONG" && m.params.last().map(String::as_str) == Some("sync")
        })
        .await;
    }

    /// Asserts that the server closes the connection, reading and returning what it sent
    /// before that.
    pub async fn expect_closed(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(PATIENCE, self.reader.read_line(&mut line))
                .await
                .expect("connection closed in time");
            match read {
                Ok(0) => return lines,
                Ok(_) => lines.push(line.trim_end_matches("\r\n").to_owned()),
                Err(error) => panic!("{}: expected a clean close, got {error}", self.nick),
            }
        }
    }
}

/// Lists `room`'s mask list `letter` as `client` and returns each entry's parameters after
/// the channel (mask, setter, time), checking the list's numerics.
pub async fn mask_list(client: &mut IrcClient, room: &str, letter: char) -> Vec<Vec<String>> {
    let (entry, end, end_text) = match letter {
        'b' => ("367", "368", "End of channel ban list"),
        'e' => ("348", "349", "End of channel exception list"),
        'I' => ("346", "347", "End of channel invite exception list"),
        _ => panic!("not a list mode: {letter}"),
    };
    client.send(&format!("MODE {room} {letter}")).await;
    let mut entries = Vec::new();
    loop {
        let message = client.message().await;
        if message.command == entry {
            assert_eq!(message.params[1], room);
            entries.push(message.params[2..].to_vec());
        } else {
            assert_eq!(message.command, end, "{} got {message:?}", client.nick);
            assert_eq!(message.params[1..], [room, end_text]);
            return entries;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

/// A `NOTICE` to `nick` from NickServ.
pub fn nickserv_line(nick: &str, text: &str) -> String {
    format!(":NickServ!services@{SERVER} NOTICE {nick} :{text}")
}

/// `:palaver.local 900 nick mask account :You are now logged in as account`.
pub fn logged_in_line(nick: &str, mask: &str, account: &str) -> String {
    format!(":{SERVER} 900 {nick} {mask} {account} :You are now logged in as {account}")
}

/// The base64 SASL PLAIN payload `\0account\0password` (RFC 4616, empty authorization id).
pub fn sasl_plain(account: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{account}\0{password}"))
}

/// A text client named `nick` that registers `nick` as an account with `password` and stays
/// logged in to it.
pub async fn text_account(server: &TestServer, nick: &str, password: &str) -> Client {
    let mut client = Client::named(server.address, nick).await;
    client.send(&format!("/register {password}")).await;
    client
        .expect(&format!("-- account {nick} registered; you are logged in"))
        .await;
    client
}

/// Registers the account `nick` over the text protocol and disconnects, leaving the nick free.
pub async fn create_account(server: &TestServer, nick: &str, password: &str) {
    let mut client = text_account(server, nick, password).await;
    client.send("/quit").await;
    client.expect("-- goodbye").await;
    client.expect_closed().await;
}

/// Connects an IRC client that requests `sasl` and `caps`, sends `NICK nick` and `USER`, and
/// logs in to `account` with SASL PLAIN, stopping before `CAP END` (registration pending).
pub async fn irc_sasl_pending(
    server: &TestServer,
    nick: &str,
    account: &str,
    password: &str,
    caps: &[&str],
) -> IrcClient {
    let mut client = IrcClient::connect(server.irc_address).await;
    client.nick = nick.to_owned();
    let mut requested = vec!["sasl"];
    requested.extend_from_slice(caps);
    let requested = requested.join(" ");
    client.send(&format!("CAP REQ :{requested}")).await;
    let colon = if requested.contains(' ') { ":" } else { "" };
    client
        .expect_raw(&format!(":{SERVER} CAP * ACK {colon}{requested}"))
        .await;
    client.send(&format!("NICK {nick}")).await;
    client
        .send(&format!("USER {nick} 0 * :{nick} real name"))
        .await;
    client.send("AUTHENTICATE PLAIN").await;
    client.expect_raw("AUTHENTICATE +").await;
    client
        .send(&format!("AUTHENTICATE {}", sasl_plain(account, password)))
        .await;
    client
        .expect_raw(&logged_in_line(
            nick,
            &format!("{nick}!*@127.0.0.1"),
            account,
        ))
        .await;
    client
        .expect_raw(&format!(
            ":{SERVER} 903 {nick} :SASL authentication successful"
        ))
        .await;
    client
}

/// [`irc_sasl_pending`], then `CAP END`, reading the welcome burst up to the end of the MOTD.
pub async fn irc_sasl(
    server: &TestServer,
    nick: &str,
    account: &str,
    password: &str,
    caps: &[&str],
) -> IrcClient {
    let mut client = irc_sasl_pending(server, nick, account, password, caps).await;
    client.send("CAP END").await;
    client.expect_command("001").await;
    client
        .skip_until(|m| m.command == "376" || m.command == "422")
        .await;
    client
}
