//! The bodies of the fuzz targets (`fuzz/`, cargo-fuzz on nightly) and of the corpus replay
//! (`tests/fuzz_corpus.rs`, on stable in every `cargo test`): each takes arbitrary bytes,
//! feeds them to one of the parsers that read what strangers send, and panics only if a
//! promise breaks — a panic inside the parser, or an answer that contradicts another part of
//! the code. They live in the library so that both callers run exactly the same checks.

use bytes::BytesMut;
use palaver_proto::framing::{Frame, LineDecoder};
use palaver_proto::irc::message::Message;
use palaver_proto::proxy::{self, V2_FIXED_BYTES};
use palaver_proto::text as input;

use crate::accounts::scram::{ClientFirst, ScramCredentials, ServerExchange};
use crate::config::{Config, FileConfig, Overrides};

/// The text protocol's framing and command parser, fed `data` in arbitrary chunks. The first
/// two bytes choose the line limit and the chunk sizes. Checks that the lines come out as
/// splitting the whole input at LF would give them, each over-long one as one `TooLong`.
pub fn text_input(data: &[u8]) {
    let [limit, chunking, rest @ ..] = data else {
        return;
    };
    let max_line_bytes = 1 + usize::from(*limit);
    let mut decoder = LineDecoder::new(max_line_bytes);
    let mut buffer = BytesMut::new();
    let mut frames = Vec::new();
    let chunk = 1 + usize::from(*chunking % 64);
    for piece in rest.chunks(chunk) {
        buffer.extend_from_slice(piece);
        while let Some(frame) = decoder.decode(&mut buffer) {
            frames.push(frame);
        }
    }
    for frame in &frames {
        if let Frame::Line(line) = frame {
            assert!(line.len() <= max_line_bytes, "a line beyond the limit");
            assert!(!line.contains(&b'\n'), "a line holding an LF");
            let _ = input::parse(line);
            let _ = input::parse_paste_line(line);
        }
    }
    let expected = whole_lines(rest, max_line_bytes);
    assert_eq!(frames.len(), expected.len(), "one frame per complete line");
    for (frame, expected) in frames.iter().zip(&expected) {
        match (frame, expected) {
            (Frame::Line(line), Some(expected)) => assert_eq!(&line[..], *expected),
            (Frame::TooLong, None) => {}
            (frame, expected) => panic!("{frame:?} where {expected:?} was due"),
        }
    }
}

/// The complete lines of `data` without their LF or CRLF ending, `None` for one longer
/// than `max_line_bytes`: what [`LineDecoder`] promises, written the obvious way. What
/// follows the last LF is not a line yet, unless it is already too long even for a CR to end
/// it: that is reported at once, as `None`.
fn whole_lines(data: &[u8], max_line_bytes: usize) -> Vec<Option<&[u8]>> {
    let mut lines: Vec<&[u8]> = data.split(|&byte| byte == b'\n').collect();
    let unfinished = lines.pop().unwrap_or_default();
    let mut expected: Vec<Option<&[u8]>> = lines
        .into_iter()
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .map(|line| (line.len() <= max_line_bytes).then_some(line))
        .collect();
    if unfinished.len() > max_line_bytes + 1 {
        expected.push(None);
    }
    expected
}

/// The IRC message parser and serialiser: what parses, serialised, parses back to the same
/// message (serialising cuts an over-long message, so the check is that serialising again
/// gives the same bytes, and the same message when nothing was cut). Only lines an IRC
/// session would parse: it refuses a line holding a NUL or CR before parsing (a LF ends the
/// line), and the parser leaves those characters to it.
pub fn irc_message(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if line.contains(['\0', '\r', '\n']) {
        return;
    }
    let Ok(message) = Message::parse(line) else {
        return;
    };
    let wire = message.to_bytes();
    let text = std::str::from_utf8(&wire).expect("a message serialises to UTF-8");
    let body = text
        .strip_suffix("\r\n")
        .expect("a serialised message ends in CRLF");
    assert!(
        !body.contains(['\r', '\n', '\0']),
        "a line break inside {body:?}"
    );
    let again = Message::parse(body).expect("a serialised message parses");
    assert_eq!(again.to_bytes(), wire, "serialising is stable");
    if wire.len() < 400 {
        assert_eq!(again, message, "parse, serialise, parse");
    }
}

/// The PROXY protocol's headers, version 1 (a text line) and version 2 (binary), as read
/// from a connection on a PROXY listener.
pub fn proxy_header(data: &[u8]) {
    let _ = proxy::parse_v1(data);
    if let Some((fixed, rest)) = data.split_first_chunk::<V2_FIXED_BYTES>()
        && let Ok(length) = proxy::v2_remaining(fixed)
        && let Some(rest) = rest.get(..length)
    {
        let _ = proxy::parse_v2(fixed, rest);
    }
}

/// IRC over WebSocket: frames (the payloads `data` holds, separated by 0xFF bytes) become
/// lines of the connection's byte stream, each frame exactly one line whatever it holds, and
/// each line goes to the IRC parser.
pub fn websocket_frames(data: &[u8]) {
    let payloads: Vec<&[u8]> = data.split(|&byte| byte == 0xFF).collect();
    let mut stream = BytesMut::new();
    for payload in &payloads {
        stream.extend_from_slice(&crate::web::frames::line_of(payload));
    }
    let mut decoder = LineDecoder::new(usize::MAX / 2);
    let mut lines = 0;
    while let Some(frame) = decoder.decode(&mut stream) {
        let Frame::Line(line) = frame else {
            panic!("no limit was set");
        };
        lines += 1;
        if let Ok(text) = std::str::from_utf8(&line) {
            let _ = Message::parse(text);
        }
    }
    assert_eq!(lines, payloads.len(), "one line per frame");
    assert!(stream.is_empty(), "every frame's line ended");
}

/// SASL: a PLAIN payload, and a SCRAM-SHA-256 exchange with the client's two messages taken
/// from `data` (separated by a NUL), against credentials of a known password.
pub fn sasl(data: &[u8]) {
    if let Some((name, password)) = crate::session::irc::sasl::decode_plain(data) {
        assert!(!name.is_empty() && !password.is_empty());
        assert!(!name.contains('\0') && !password.contains('\0'));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, last) = text.split_once('\0').unwrap_or((text, ""));
    let Ok(first) = ClientFirst::parse(first) else {
        return;
    };
    // One iteration: the exchange's parsing is what is under test, not PBKDF2.
    let credentials = ScramCredentials::derive("correct horse", b"salt", 1);
    let (exchange, _server_first) = ServerExchange::start(first, credentials, "servernonce");
    let _ = exchange.finish(last);
}

/// The configuration loader: a file that parses is resolved as `serve` would resolve it,
/// and either accepted or refused with an error, never a panic.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = FileConfig::parse(text) {
        let _ = Config::resolve_noting_deprecations(file, Overrides::default());
    }
}

/// The IRC session, as a client would drive it: the bytes of `data` up to the first 0xFF are
/// what one client sends, the rest what a second sends, both on an in-process server (its
/// history in memory, flood control off so that nothing waits). Checks that every line the
/// server sends either client parses as an IRC message, ends in CRLF and keeps its body to
/// 512 bytes, and that once both clients have gone no user is left in the hub.
pub fn irc_session(data: &[u8]) {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
    }
    let (first, second) = match data.iter().position(|&byte| byte == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    RUNTIME.with(|runtime| runtime.block_on(two_irc_clients(first, second)));
}

async fn two_irc_clients(first: &[u8], second: &[u8]) {
    let context = std::sync::Arc::new(session_context());
    let clients = [first, second].map(|input| {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let peer: std::net::SocketAddr = "127.0.0.1:50000".parse().expect("an address");
        let connection = tokio::spawn(crate::connection::serve::<crate::session::irc::IrcSession>(
            crate::transport::Stream(server),
            peer,
            context.clone(),
            (),
        ));
        let input = input.to_vec();
        let client = tokio::spawn(talk(client, input));
        (connection, client)
    });
    for (connection, client) in clients {
        let output = tokio::time::timeout(SESSION_PATIENCE, client)
            .await
            .expect("the server answered everything and hung up")
            .expect("the client task");
        for line in output.split_inclusive(|&byte| byte == b'\n') {
            check_irc_line(line);
        }
        tokio::time::timeout(SESSION_PATIENCE, connection)
            .await
            .expect("the connection ended")
            .expect("the connection did not panic");
    }
    assert_eq!(
        context.hub.user_count(),
        0,
        "a user outlived its connection"
    );
}

/// How long a session may take over one input before it counts as hung.
const SESSION_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Sends `input` (and a `QUIT`, so that even a client that never finishes a line leaves),
/// closes its side, and returns everything the server sent until it hung up.
async fn talk(client: tokio::io::DuplexStream, mut input: Vec<u8>) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    input.extend_from_slice(b"\r\nQUIT :done\r\n");
    let (mut reader, mut writer) = tokio::io::split(client);
    let send = async move {
        // The server may stop reading (a flood, an error): what it does not take is lost.
        let _ = writer.write_all(&input).await;
        let _ = writer.shutdown().await;
    };
    let mut output = Vec::new();
    let receive = reader.read_to_end(&mut output);
    let ((), received) = tokio::join!(send, receive);
    received.expect("read what the server sent");
    output
}

/// One line an IRC client received: CRLF-terminated, parseable, its body within 512 bytes.
fn check_irc_line(line: &[u8]) {
    let body = line
        .strip_suffix(b"\r\n")
        .unwrap_or_else(|| panic!("a line without CRLF: {line:?}"));
    let text = std::str::from_utf8(body).unwrap_or_else(|_| panic!("not UTF-8: {line:?}"));
    Message::parse(text).unwrap_or_else(|error| panic!("{error}: {text:?}"));
    let untagged = match text.strip_prefix('@') {
        Some(tagged) => tagged.split_once(' ').map_or("", |(_, rest)| rest),
        None => text,
    };
    assert!(untagged.len() + 2 <= 512, "a line over 512 bytes: {text:?}");
}

/// A server's shared state with its history in memory and nothing that makes a session wait
/// for the clock.
fn session_context() -> crate::session::Context {
    use std::sync::Arc;

    use crate::accounts::{Accounts, LoginLimits, Operators};
    use crate::addresses::AddressList;
    use crate::admission::Admission;
    use crate::config::{AddressLimits, IrcSettings, Limits};
    use crate::flood::FloodSettings;
    use crate::hub::{Hub, HubSettings};
    use crate::store::{Store, StoreConfig};

    let store = Store::open(StoreConfig::new(":memory:"))
        .expect("a store in memory")
        .store;
    let accounts = Accounts::new(store.clone(), LoginLimits::default(), Default::default());
    let hub = Arc::new(Hub::new(HubSettings::default()));
    crate::session::Context {
        tls_offer: Default::default(),
        network: crate::network::Network::local(hub.clone()),
        hub,
        operators: Operators::new(Vec::new(), accounts.clone()),
        accounts,
        store,
        history_on_join: 10,
        idle_flush: None,
        text_registration_timeout: None,
        nick_grace: std::time::Duration::from_secs(60),
        limits: Limits::default(),
        flood: Arc::new(FloodSettings {
            exempt: AddressList::loopback(),
            ..FloodSettings::default()
        }),
        admission: Admission::new(AddressLimits::default()),
        irc: Arc::new(IrcSettings::default()),
        cloak_hosts: false,
        metrics: Arc::default(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        open_connections: Default::default(),
    }
}
