//! TLS listeners (`ircs`, `texts`) with real rustls clients over real sockets: chatting,
//! certificate reload under a live connection, SASL EXTERNAL with a client certificate and
//! `NickServ CERT`, the `sts` policy, handshake timeouts, Debian's `openssl s_client` (over
//! `ircs` and `texts`), and IRC over WebSocket over TLS (`webs`).

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use support::{IrcClient, PATIENCE, SERVER, TestServer, create_account, nickserv_line};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use palaver_server::config::Overrides;

type TlsIrcClient = IrcClient<ReadHalf<TlsStream<TcpStream>>, WriteHalf<TlsStream<TcpStream>>>;

/// A self-signed certificate and its key, for the server or a client.
struct Certificate {
    der: CertificateDer<'static>,
    pem: String,
    key_der: Vec<u8>,
    key_pem: String,
}

impl Certificate {
    fn new() -> Self {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        Self {
            der: generated.cert.der().clone(),
            pem: generated.cert.pem(),
            key_der: generated.signing_key.serialize_der(),
            key_pem: generated.signing_key.serialize_pem(),
        }
    }

    fn fingerprint(&self) -> String {
        palaver_server::tls::fingerprint(&self.der)
    }
}

/// The server's certificate files in a temporary directory, rewritten by [`Files::write`].
struct Files {
    _directory: TempDir,
    certificate: PathBuf,
    key: PathBuf,
}

impl Files {
    fn with(certificate: &Certificate) -> Self {
        let directory = tempfile::tempdir().unwrap();
        let files = Self {
            certificate: directory.path().join("cert.pem"),
            key: directory.path().join("key.pem"),
            _directory: directory,
        };
        files.write(certificate);
        files
    }

    fn write(&self, certificate: &Certificate) {
        std::fs::write(&self.certificate, &certificate.pem).unwrap();
        std::fs::write(&self.key, &certificate.key_pem).unwrap();
    }

    /// Overrides for a server with both TLS listeners serving these files.
    fn overrides(&self) -> Overrides {
        Overrides {
            irc_tls_listen: vec!["127.0.0.1:0".parse().unwrap()],
            text_tls_listen: vec!["127.0.0.1:0".parse().unwrap()],
            tls_certificate: Some(self.certificate.clone()),
            tls_key: Some(self.key.clone()),
            ..Overrides::default()
        }
    }
}

async fn tls_server(files: &Files, toml: &str) -> TestServer {
    TestServer::start_with_config(toml, files.overrides()).await
}

/// A TLS connection to `address` trusting `trusted`, presenting `client` if given.
async fn connect(
    address: SocketAddr,
    trusted: &[&Certificate],
    client: Option<&Certificate>,
) -> TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    for certificate in trusted {
        roots.add(certificate.der.clone()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(palaver_server::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(certificate) => builder
            .with_client_auth_cert(
                vec![certificate.der.clone()],
                PrivateKeyDer::Pkcs8(certificate.key_der.clone().into()),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let stream = TcpStream::connect(address).await.unwrap();
    let connector = TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(PATIENCE, connector.connect(name, stream))
        .await
        .expect("handshake in time")
        .expect("handshake")
}

/// The certificate the server presented on `stream`.
fn served(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

fn irc_over(stream: TlsStream<TcpStream>) -> TlsIrcClient {
    let (reader, writer) = tokio::io::split(stream);
    IrcClient::from_halves(reader, writer)
}

async fn tls_irc(address: SocketAddr, trusted: &Certificate, nick: &str) -> TlsIrcClient {
    irc_over(connect(address, &[trusted], None).await)
        .registered(nick, &[])
        .await
}

/// Sends `command` (`CAP LS [302]`) and reads every line of the answer: the capabilities.
async fn cap_ls<R, W>(client: &mut IrcClient<R, W>, command: &str) -> Vec<String>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    client.send(command).await;
    let mut caps = Vec::new();
    loop {
        let line = client.expect_command("CAP").await;
        let list = line.params.last().unwrap();
        caps.extend(list.split(' ').map(str::to_owned));
        if line.params.len() == 3 {
            return caps;
        }
    }
}

#[tokio::test]
async fn ircs_and_texts_users_chat_with_plain_users() {
    let certificate = Certificate::new();
    let files = Files::with(&certificate);
    let server = tls_server(&files, "").await;
    let mut plain = server.irc("plain").await;
    plain.join("#lobby").await;

    let mut secure = tls_irc(server.ircs_address.unwrap(), &certificate, "secure").await;
    secure.join("#lobby").await;
    plain
        .expect_line(":secure!~secure@127.0.0.1 JOIN #lobby")
        .await;

    let stream = connect(server.texts_address.unwrap(), &[&certificate], None).await;
    let (reader, writer) = tokio::io::split(stream);
    let mut text = support::Client::from_halves(reader, writer).await;
    text.rename("texter").await;
    plain.skip_until(|m| m.command == "NICK").await;
    secure.skip_until(|m| m.command == "NICK").await;

    text.send("hello over TLS").await;
    text.expect("#lobby <texter> hello over TLS").await;
    plain
        .expect_line(":texter!text@127.0.0.1 PRIVMSG #lobby :hello over TLS")
        .await;
    secure
        .expect_line(":texter!text@127.0.0.1 PRIVMSG #lobby :hello over TLS")
        .await;
    secure.send("PRIVMSG #lobby :and back").await;
    text.expect("#lobby <secure> and back").await;
    plain
        .expect_line(":secure!~secure@127.0.0.1 PRIVMSG #lobby :and back")
        .await;

    // WHOIS tells who is on TLS (671), to anyone.
    plain.send("WHOIS secure").await;
    let whois = plain
        .skip_until(|m| m.command == "318" || m.command == "671")
        .await;
    assert_eq!(
        whois.params,
        ["plain", "secure", "is using a secure connection"]
    );
    plain.send("WHOIS plain").await;
    let whois = plain
        .skip_until(|m| m.command == "318" || m.command == "671")
        .await;
    assert_eq!(whois.command, "318", "plain is not on TLS");
    server.shut_down().await;
}

#[tokio::test]
async fn sasl_external_logs_in_with_a_certificate_the_account_lists() {
    let server_certificate = Certificate::new();
    let files = Files::with(&server_certificate);
    let server = tls_server(&files, "").await;
    let ircs = server.ircs_address.unwrap();
    create_account(&server, "alice", "alice-password").await;
    let laptop = Certificate::new();
    let fingerprint = laptop.fingerprint();

    // Logged in with the password, alice lists the certificate she connected with.
    let stream = connect(ircs, &[&server_certificate], Some(&laptop)).await;
    let mut alice = irc_over(stream).registered("alice", &[]).await;
    alice.skip_until(|m| m.command == "NOTICE").await; // "This nick is registered"
    alice.send("PRIVMSG NickServ :CERT ADD").await;
    alice
        .expect_line(&nickserv_line("alice", "You are not logged in."))
        .await;
    alice
        .send("PRIVMSG NickServ :IDENTIFY alice-password")
        .await;
    alice.skip_until(|m| m.command == "NOTICE").await;
    alice.send("PRIVMSG NickServ :CERT ADD").await;
    let added = format!("Certificate {fingerprint} added to alice.");
    alice.expect_line(&nickserv_line("alice", &added)).await;
    alice.send("PRIVMSG NickServ :CERT LIST").await;
    let listed = alice.expect_command("NOTICE").await;
    assert_eq!(listed.params, ["alice", &fingerprint]);
    alice
        .expect_line(&nickserv_line("alice", "End of alice's certificates (1)."))
        .await;
    // Her own WHOIS shows the fingerprint (276); someone else's does not.
    alice.send("WHOIS alice").await;
    let certfp = alice.skip_until(|m| m.command == "276").await;
    assert_eq!(
        certfp.params,
        [
            "alice",
            "alice",
            &format!("has client certificate fingerprint {fingerprint}")
        ]
    );
    let mut bob = server.irc("bob").await;
    bob.send("WHOIS alice").await;
    let mut numerics = Vec::new();
    loop {
        let message = bob.message().await;
        numerics.push(message.command.clone());
        if message.command == "318" {
            break;
        }
    }
    assert!(numerics.contains(&"671".to_owned()), "{numerics:?}");
    assert!(!numerics.contains(&"276".to_owned()), "{numerics:?}");
    alice.send("QUIT").await;
    alice.expect_closed().await;

    // With the certificate, EXTERNAL logs in as alice before registration.
    let stream = connect(ircs, &[&server_certificate], Some(&laptop)).await;
    let mut again = irc_over(stream);
    let listed = cap_ls(&mut again, "CAP LS 302").await;
    assert!(
        listed.contains(&"sasl=PLAIN,SCRAM-SHA-256,EXTERNAL".to_owned()),
        "{listed:?}"
    );
    again.send("CAP REQ sasl").await;
    again.expect_command("CAP").await;
    again.send("NICK alice").await;
    again.send("USER alice 0 * :Alice").await;
    again.send("AUTHENTICATE EXTERNAL").await;
    again.expect_line("AUTHENTICATE +").await;
    again.send("AUTHENTICATE +").await;
    again
        .expect_line(&format!(
            ":{SERVER} 900 alice alice!*@127.0.0.1 alice :You are now logged in as alice"
        ))
        .await;
    again
        .expect_line(&format!(
            ":{SERVER} 903 alice :SASL authentication successful"
        ))
        .await;
    again.send("CAP END").await;
    again.expect_command("001").await;
    again.skip_until(|m| m.command == "422").await;

    // Removed, the certificate logs nobody in.
    let removed = format!("Certificate {fingerprint} removed from alice.");
    again
        .send(&format!(
            "PRIVMSG NickServ :CERT DEL {}",
            fingerprint.to_uppercase()
        ))
        .await;
    again.expect_line(&nickserv_line("alice", &removed)).await;
    let stream = connect(ircs, &[&server_certificate], Some(&laptop)).await;
    let mut refused = irc_over(stream);
    refused.send("AUTHENTICATE EXTERNAL").await;
    refused.expect_line("AUTHENTICATE +").await;
    refused.send("AUTHENTICATE +").await;
    refused
        .expect_line(&format!(":{SERVER} 904 * :SASL authentication failed"))
        .await;

    // Without a certificate, EXTERNAL fails at once.
    let stream = connect(ircs, &[&server_certificate], None).await;
    let mut without = irc_over(stream);
    without.send("AUTHENTICATE EXTERNAL").await;
    without
        .expect_line(&format!(
            ":{SERVER} 904 * :SASL authentication failed: you presented no TLS client \
             certificate"
        ))
        .await;
    server.shut_down().await;
}

#[tokio::test]
async fn sasl_external_refuses_a_locked_account() {
    let server_certificate = Certificate::new();
    let files = Files::with(&server_certificate);
    let overrides = Overrides {
        http_listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..files.overrides()
    };
    let config = support::operations::admin_token_config();
    let server = TestServer::start_with_config(&config, overrides).await;
    let ircs = server.ircs_address.unwrap();
    create_account(&server, "alice", "alice-password").await;
    let laptop = Certificate::new();
    let stream = connect(ircs, &[&server_certificate], Some(&laptop)).await;
    let mut alice = irc_over(stream).registered("alice", &[]).await;
    alice
        .send("PRIVMSG NickServ :IDENTIFY alice-password")
        .await;
    alice
        .skip_until(|m| m.command == "NOTICE" && m.params[1].starts_with("You are now identified"))
        .await;
    alice.send("PRIVMSG NickServ :CERT ADD").await;
    alice
        .skip_until(|m| m.command == "NOTICE" && m.params[1].starts_with("Certificate"))
        .await;

    let http = server.http_address.unwrap();
    support::operations::lock_account(http, "alice", "stolen laptop").await;
    let stream = connect(ircs, &[&server_certificate], Some(&laptop)).await;
    let mut thief = irc_over(stream);
    thief.send("AUTHENTICATE EXTERNAL").await;
    thief.expect_line("AUTHENTICATE +").await;
    thief.send("AUTHENTICATE +").await;
    thief
        .expect_line(&format!(
            ":{SERVER} 904 * :SASL authentication failed: account alice is locked (stolen laptop)"
        ))
        .await;
    drop(alice);
    server.shut_down().await;
}

#[tokio::test]
async fn a_reloaded_certificate_serves_new_connections_while_live_ones_go_on() {
    let old = Certificate::new();
    let new = Certificate::new();
    let files = Files::with(&old);
    let server = tls_server(&files, "").await;
    let ircs = server.ircs_address.unwrap();
    let stream = connect(ircs, &[&old, &new], None).await;
    assert_eq!(served(&stream), old.der);
    let mut live = irc_over(stream).registered("live", &[]).await;
    live.join("#room").await;

    files.write(&new);
    let reloaded = server.reloader.reload(server.config.clone());
    assert_eq!(reloaded.refused, Vec::<String>::new());
    assert_eq!(reloaded.needs_restart, Vec::<&str>::new());
    assert_eq!(reloaded.applied.len(), 1, "{reloaded:?}");

    let stream = connect(ircs, &[&old, &new], None).await;
    assert_eq!(
        served(&stream),
        new.der,
        "a new connection gets the new certificate"
    );
    let mut fresh = irc_over(stream).registered("fresh", &[]).await;
    fresh.join("#room").await;
    live.expect_line(":fresh!~fresh@127.0.0.1 JOIN #room").await;
    live.send("PRIVMSG #room :still here").await;
    fresh
        .expect_line(":live!~live@127.0.0.1 PRIVMSG #room :still here")
        .await;

    // A broken certificate is refused and the last good one kept.
    std::fs::write(&files.certificate, "not a certificate").unwrap();
    let reloaded = server.reloader.reload(server.config.clone());
    assert_eq!(reloaded.refused.len(), 1, "{reloaded:?}");
    assert!(
        reloaded.refused[0].contains(&files.certificate.display().to_string()),
        "names the file: {reloaded:?}"
    );
    // A key that is not the certificate's, likewise.
    std::fs::write(&files.certificate, &old.pem).unwrap();
    std::fs::write(&files.key, &new.key_pem).unwrap();
    let reloaded = server.reloader.reload(server.config.clone());
    assert!(
        reloaded.refused[0].contains("does not belong"),
        "{reloaded:?}"
    );
    let stream = connect(ircs, &[&old, &new], None).await;
    assert_eq!(served(&stream), new.der, "the last good certificate");
    fresh.send("PRIVMSG #room :and still").await;
    live.expect_line(":fresh!~fresh@127.0.0.1 PRIVMSG #room :and still")
        .await;
    server.shut_down().await;
}

#[tokio::test]
async fn clients_that_never_finish_a_handshake_are_dropped_and_hold_up_nobody() {
    let certificate = Certificate::new();
    let files = Files::with(&certificate);
    let server = tls_server(&files, "[tls]\nhandshake_timeout = \"300ms\"\n").await;
    let ircs = server.ircs_address.unwrap();
    // One says nothing, one speaks plain IRC to the TLS port.
    let mut silent = TcpStream::connect(ircs).await.unwrap();
    let mut confused = TcpStream::connect(ircs).await.unwrap();
    confused.write_all(b"NICK confused\r\n").await.unwrap();
    // Meanwhile others connect and chat.
    let mut alice = tls_irc(ircs, &certificate, "alice").await;
    let mut bob = tls_irc(ircs, &certificate, "bob").await;
    alice.send("PRIVMSG bob :hi").await;
    bob.expect_line(":alice!~alice@127.0.0.1 PRIVMSG bob hi")
        .await;
    for stream in [&mut silent, &mut confused] {
        let mut rest = Vec::new();
        // Closed by the server: at the end of the stream (after a TLS alert, if any), or
        // reset.
        let _closed_or_reset = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
            .await
            .expect("dropped after the handshake timeout");
        assert!(!String::from_utf8_lossy(&rest).contains("001"), "{rest:?}");
    }
    bob.send("PRIVMSG alice :still fine").await;
    alice
        .expect_line(":bob!~bob@127.0.0.1 PRIVMSG alice :still fine")
        .await;
    server.shut_down().await;
}

#[tokio::test]
async fn the_sts_policy_sends_plain_clients_to_tls_when_enabled() {
    let certificate = Certificate::new();
    let files = Files::with(&certificate);
    let server = tls_server(&files, "[tls]\nsts_duration = \"1h\"\n").await;
    let port = server.ircs_address.unwrap().port();

    let mut plain = IrcClient::connect(server.irc_address).await;
    let caps = cap_ls(&mut plain, "CAP LS 302").await;
    assert!(caps.contains(&format!("sts=port={port}")), "{caps:?}");
    plain.send("CAP REQ sts").await;
    let refused = plain.expect_command("CAP").await;
    assert_eq!(refused.params[1..], ["NAK", "sts"], "never requested");

    let stream = connect(server.ircs_address.unwrap(), &[&certificate], None).await;
    let mut secure = irc_over(stream);
    let listed = cap_ls(&mut secure, "CAP LS 302").await;
    assert!(
        listed.contains(&"sts=duration=3600".to_owned()),
        "{listed:?}"
    );
    // Before 302 there are no values, so no policy.
    let mut old = IrcClient::connect(server.irc_address).await;
    let listed = cap_ls(&mut old, "CAP LS").await;
    assert!(
        !listed.iter().any(|cap| cap.starts_with("sts")),
        "{listed:?}"
    );
    server.shut_down().await;

    // Off by default: no sts even with TLS listeners.
    let server = tls_server(&files, "").await;
    let mut plain = IrcClient::connect(server.irc_address).await;
    let listed = cap_ls(&mut plain, "CAP LS 302").await;
    assert!(
        !listed.iter().any(|cap| cap.starts_with("sts")),
        "{listed:?}"
    );
    server.shut_down().await;
}

#[tokio::test]
async fn a_missing_or_mismatched_certificate_stops_the_server_naming_the_file() {
    let certificate = Certificate::new();
    let files = Files::with(&certificate);
    let mut overrides = files.overrides();
    overrides.tls_certificate = Some("/nonexistent/cert.pem".into());
    overrides.database = Some(":memory:".into());
    let config = palaver_server::Config::resolve(Default::default(), overrides).unwrap();
    let error = palaver_server::Server::bind(config).await.err().unwrap();
    assert!(
        error
            .to_string()
            .starts_with("cannot read the TLS certificate /nonexistent/cert.pem"),
        "{error}"
    );
    std::fs::write(&files.key, Certificate::new().key_pem).unwrap();
    let mut overrides = files.overrides();
    overrides.database = Some(":memory:".into());
    let config = palaver_server::Config::resolve(Default::default(), overrides).unwrap();
    let error = palaver_server::Server::bind(config).await.err().unwrap();
    assert!(error.to_string().contains("does not belong"), "{error}");
}

/// A WebSocket over TLS: the page's origin is `https://`, and IRC works as over `ircs`.
#[tokio::test]
async fn irc_over_a_websocket_over_tls_from_the_listener_s_own_https_origin() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message as Frame;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let certificate = Certificate::new();
    let files = Files::with(&certificate);
    let overrides = Overrides {
        web_tls_listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..files.overrides()
    };
    let server = TestServer::start_with(overrides).await;
    let address = server.webs_address.expect("a webs listener");
    let mut plain = server.irc("plain").await;

    let host = format!("localhost:{}", address.port());
    let mut request = format!("wss://{host}/irc").into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("Origin", format!("https://{host}").parse().unwrap());
    headers.insert("Sec-WebSocket-Protocol", "text.ircv3.net".parse().unwrap());
    let stream = connect(address, &[&certificate], None).await;
    let (mut socket, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("the WebSocket handshake over TLS");
    assert_eq!(
        response.headers()["Sec-WebSocket-Protocol"],
        "text.ircv3.net"
    );
    for line in [
        "NICK secure",
        "USER secure 0 * :Secure",
        "PRIVMSG plain :over wss",
    ] {
        socket.send(Frame::text(line)).await.unwrap();
    }
    plain
        .expect_line(":secure!~secure@127.0.0.1 PRIVMSG plain :over wss")
        .await;
    server.shut_down().await;
}

/// Debian's `openssl s_client` connected to `address`, trusting `files`' certificate and
/// checking it; `None` (saying so) where `openssl` is not installed, except under CI (the `CI`
/// environment variable set), where `.ci/run` must have installed it.
fn openssl_s_client(address: SocketAddr, files: &Files) -> Option<tokio::process::Child> {
    let installed = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok();
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is missing under CI: .ci/run should have installed it"
        );
        eprintln!("SKIPPED: openssl is not installed");
        return None;
    }
    let child = tokio::process::Command::new("openssl")
        .args(["s_client", "-quiet", "-verify_return_error", "-CAfile"])
        .arg(&files.certificate)
        .arg("-connect")
        .arg(address.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl s_client starts");
    Some(child)
}

/// Waits for `openssl` to end, as it does once the server has closed the connection.
async fn expect_exit(mut openssl: tokio::process::Child) {
    let status = tokio::time::timeout(PATIENCE, openssl.wait())
        .await
        .expect("openssl ends once the server has closed the connection");
    assert!(status.is_ok());
}

#[tokio::test]
async fn openssl_s_client_chats_over_ircs() {
    let certificate = Certificate::new();
    let files = Files::with(&certificate);
    let server = tls_server(&files, "").await;
    let Some(mut openssl) = openssl_s_client(server.ircs_address.unwrap(), &files) else {
        return;
    };
    let mut plain = server.irc("plain").await;
    let stdin = openssl.stdin.take().unwrap();
    let stdout = openssl.stdout.take().unwrap();
    let mut client = IrcClient::from_halves(stdout, stdin)
        .registered("ossl", &[])
        .await;
    client.send("PRIVMSG plain :hello from openssl").await;
    plain
        .expect_line(":ossl!~ossl@127.0.0.1 PRIVMSG plain :hello from openssl")
        .await;
    plain.send("PRIVMSG ossl :hello openssl").await;
    client
        .expect_line(":plain!~plain@127.0.0.1 PRIVMSG ossl :hello openssl")
        .await;
    client.send("QUIT").await;
    client.expect_closed().await;
    expect_exit(openssl).await;
    server.shut_down().await;
}

#[tokio::test]
async fn openssl_s_client_chats_over_texts() {
    let certificate = Certificate::new();
    let files = Files::with(&certificate);
    let server = tls_server(&files, "").await;
    let mut plain = support::Client::named(server.address, "plain").await;
    let Some(mut openssl) = openssl_s_client(server.texts_address.unwrap(), &files) else {
        return;
    };
    let stdin = openssl.stdin.take().unwrap();
    let stdout = openssl.stdout.take().unwrap();
    let mut client = support::Client::from_halves(stdout, stdin).await;
    client.rename("ossl").await;
    client.send("hello from openssl").await;
    plain.skip_until("#lobby <ossl> hello from openssl").await;
    plain.send("hello openssl").await;
    // Its own line comes back to it first, as to every text client.
    client.expect("#lobby <ossl> hello from openssl").await;
    client.expect("#lobby <plain> hello openssl").await;
    client.send("/quit").await;
    client.skip_until("-- goodbye").await;
    client.expect_closed().await;
    expect_exit(openssl).await;
    server.shut_down().await;
}

#[tokio::test]
async fn a_text_user_lists_the_certificate_it_connected_with_for_irc_logins() {
    let server_certificate = Certificate::new();
    let files = Files::with(&server_certificate);
    let server = tls_server(&files, "").await;
    let phone = Certificate::new();
    let fingerprint = phone.fingerprint();

    let stream = connect(
        server.texts_address.unwrap(),
        &[&server_certificate],
        Some(&phone),
    )
    .await;
    let (reader, writer) = tokio::io::split(stream);
    let mut text = support::Client::from_halves(reader, writer).await;
    text.send("/cert list").await;
    text.expect("! you are not logged in").await;
    text.rename("carol").await;
    text.send("/register carol-password").await;
    text.expect("-- account carol registered; you are logged in")
        .await;
    text.send("/cert add").await;
    text.expect(&format!("-- Certificate {fingerprint} added to carol."))
        .await;
    text.send("/cert add 12:34").await;
    text.expect("-- A fingerprint is a SHA-256 digest: 64 hex digits.")
        .await;
    text.send("/cert list").await;
    text.expect(&format!("-- {fingerprint}")).await;
    text.expect("-- End of carol's certificates (1).").await;
    text.send("/quit").await;
    text.expect("-- goodbye").await;

    let stream = connect(
        server.ircs_address.unwrap(),
        &[&server_certificate],
        Some(&phone),
    )
    .await;
    let mut irc = irc_over(stream);
    irc.send("AUTHENTICATE EXTERNAL").await;
    irc.expect_line("AUTHENTICATE +").await;
    // The authorization identity, when given, must be the certificate's account.
    irc.send("AUTHENTICATE Y2Fyb2w=").await; // "carol"
    irc.expect_command("900").await;
    irc.expect_command("903").await;
    server.shut_down().await;
}
