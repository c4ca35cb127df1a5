//! TLS through the real binary: `palaver gen-cert`, `palaver serve` on an `ircs` listener with
//! that certificate, `palaver connect --ca`/`--insecure`, a certificate reloaded on a real
//! SIGHUP under a live connection, clear errors for certificates that cannot be used, and the
//! web client served over `web` and `webs` with its address named in the log.
//!
//! Sequencing is by lines seen: `ready`, the observer's lines, the server's reload log line,
//! the client's exit. Every child is owned by a [`Process`] guard.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// How long a test waits for anything (a stdout or stderr line, an exit).
const PATIENCE: Duration = Duration::from_secs(20);

use common::{
    Observer, Options, Process, Server, TempDir, gen_cert, http_get, serve_tls,
    serve_with_certificate,
};

/// `palaver connect 127.0.0.1:PORT ARGS` in pipe mode as `nick`, joined to `#ops`.
fn connect(server: &Server, nick: &str, args: &[&str]) -> Process {
    let address = server.ircs.expect("an ircs listener").to_string();
    let mut full = vec![
        "connect",
        address.as_str(),
        "--nick",
        nick,
        "--join",
        "#ops",
    ];
    full.extend_from_slice(args);
    Process::spawn(
        &full,
        Options {
            pipe_stdin: true,
            ..Options::default()
        },
    )
}

/// Says `line` through a new TLS client trusting `args` and checks the observer hears it.
fn say_once(server: &Server, observer: &mut Observer, nick: &str, args: &[&str], line: &str) {
    let mut client = connect(server, nick, args);
    client.write_stdin(&format!("{line}\n"));
    client.close_stdin();
    observer.skip_until(&format!("#ops <{nick}> {line}"));
    let (status, _) = client.wait_exit();
    assert!(status.success(), "stderr:\n{}", client.stderr_text());
}

/// A client that cannot complete its TLS handshake exits non-zero, saying why.
fn refused(server: &Server, args: &[&str]) -> String {
    let mut client = connect(server, "refused", args);
    client.close_stdin();
    let (status, _) = client.wait_exit();
    assert!(!status.success(), "the certificate is not trusted");
    client.stderr_text()
}

#[test]
fn gen_cert_writes_a_pair_once_and_replaces_it_only_when_forced() {
    let directory = TempDir::new("gen-cert");
    let (ok, stdout, _) = gen_cert(&directory.path, &[]);
    assert!(ok);
    let certificate = directory.path.join("cert.pem");
    let key = directory.path.join("key.pem");
    assert!(stdout[0].starts_with(&format!("wrote {} (self-signed", certificate.display())));
    assert_eq!(
        stdout[1],
        format!("wrote {} (its private key)", key.display())
    );
    assert_eq!(
        stdout[2],
        format!(
            "serve with: palaver serve --irc-tls-listen 0.0.0.0:6697 --tls-cert {} --tls-key {}",
            certificate.display(),
            key.display()
        )
    );
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key is its owner's only");
    let first = std::fs::read_to_string(&certificate).unwrap();
    assert!(first.starts_with("-----BEGIN CERTIFICATE-----"));

    let (ok, _, stderr) = gen_cert(&directory.path, &[]);
    assert!(!ok);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "palaver: {} exists; give --force to replace it",
            certificate.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&certificate).unwrap(), first);
    let (ok, _, _) = gen_cert(&directory.path, &["--force", "--name", "chat.example"]);
    assert!(ok);
    assert_ne!(std::fs::read_to_string(&certificate).unwrap(), first);
}

#[test]
fn connect_tls_chats_with_the_generated_certificate_and_refuses_others() {
    let directory = TempDir::new("tls-connect");
    assert!(gen_cert(&directory.path, &[]).0);
    let server = serve_tls(&directory.path);
    let mut observer = Observer::join_ops(server.text, "observer");
    let ca = directory.path.join("cert.pem");
    let ca = ca.to_str().unwrap();

    say_once(
        &server,
        &mut observer,
        "bot",
        &["--ca", ca],
        "hello over TLS",
    );
    // Port 6697 is not this one, so TLS comes from --ca (or --tls) here.
    // The system's authorities do not vouch for a self-signed certificate.
    let stderr = refused(&server, &["--tls"]);
    assert!(stderr.contains("TLS"), "{stderr}");
    let mut insecure = connect(&server, "careless", &["--insecure"]);
    insecure.write_stdin("unchecked\n");
    insecure.close_stdin();
    observer.skip_until("#ops <careless> unchecked");
    let (status, _) = insecure.wait_exit();
    assert!(status.success());
    assert!(
        insecure
            .stderr_text()
            .contains("--insecure: the server's certificate is not checked"),
        "{}",
        insecure.stderr_text()
    );
}

#[test]
fn sighup_reloads_the_certificate_under_a_live_connection() {
    let directory = TempDir::new("tls-reload");
    assert!(gen_cert(&directory.path, &[]).0);
    let server = serve_tls(&directory.path);
    let mut observer = Observer::join_ops(server.text, "observer");
    let old_ca = directory.path.join("old.pem");
    std::fs::copy(directory.path.join("cert.pem"), &old_ca).unwrap();
    let old_ca = old_ca.to_str().unwrap();
    let new_ca = directory.path.join("cert.pem");
    let new_ca = new_ca.to_str().unwrap();

    // A connection made with the old certificate stays through the reload.
    let mut live = connect(&server, "live", &["--ca", old_ca]);
    live.write_stdin("before\n");
    observer.skip_until("#ops <live> before");

    assert!(gen_cert(&directory.path, &["--force"]).0);
    let stderr = refused(&server, &["--ca", new_ca]);
    assert!(stderr.contains("TLS failed"), "not served yet: {stderr}");
    server.process.signal("HUP");
    server
        .process
        .stderr_line_containing("reload: TLS certificate reloaded from");
    say_once(
        &server,
        &mut observer,
        "renewed",
        &["--ca", new_ca],
        "new certificate",
    );

    live.write_stdin("after\n");
    observer.skip_until("#ops <live> after");

    // A broken certificate is refused, in the log, and the last good one stays.
    std::fs::write(directory.path.join("cert.pem"), "garbage").unwrap();
    server.process.signal("HUP");
    let line = server
        .process
        .stderr_line_containing("reload: cannot read the TLS certificate");
    assert!(line.contains("the old certificate stays in use"), "{line}");
    live.write_stdin("still\n");
    observer.skip_until("#ops <live> still");
    live.close_stdin();
    let (status, _) = live.wait_exit();
    assert!(status.success(), "stderr:\n{}", live.stderr_text());
}

#[test]
fn serve_refuses_a_certificate_it_cannot_use_in_one_line() {
    let directory = TempDir::new("tls-errors");
    let missing = directory.path.join("missing.pem");
    let missing = missing.to_str().unwrap();
    let mut server = Process::spawn(
        &[
            "serve",
            "--irc-tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            missing,
            "--tls-key",
            missing,
        ],
        Options::default(),
    );
    let (status, stdout) = server.wait_exit();
    assert!(!status.success());
    assert_eq!(stdout, Vec::<String>::new(), "never ready");
    let stderr = server.stderr_text();
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "palaver: cannot read the TLS certificate {missing}"
        )),
        "{stderr}"
    );

    let mut server = Process::spawn(
        &["serve", "--irc-tls-listen", "127.0.0.1:0"],
        Options::default(),
    );
    let (status, _) = server.wait_exit();
    assert!(!status.success());
    assert_eq!(
        server.stderr_text().trim_end(),
        "palaver: invalid setting: the ircs listener on 127.0.0.1:0 needs a certificate: give \
         --tls-cert FILE and --tls-key FILE (or [tls] cert and key)"
    );
}

/// `GET /` over TLS with Debian's `openssl s_client`, checking the certificate against `ca`:
/// the whole response. `None` (saying so) where `openssl` is not installed, except under CI
/// (the `CI` environment variable set), where `.ci/run` must have installed it.
fn https_get_with_openssl(address: std::net::SocketAddr, ca: &std::path::Path) -> Option<String> {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is missing under CI: .ci/run should have installed it"
        );
        eprintln!("SKIPPED: openssl is not installed");
        return None;
    }
    let mut command = std::process::Command::new("openssl");
    command
        .args(["s_client", "-quiet", "-verify_return_error", "-CAfile"])
        .arg(ca)
        .arg("-connect")
        .arg(address.to_string());
    let mut openssl = Process::spawn_command_with_stdin("openssl", command);
    // The server closes the connection after the response, which ends s_client.
    openssl.write_stdin("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let (status, lines) = openssl.wait_exit();
    assert!(status.success(), "stderr:\n{}", openssl.stderr_text());
    Some(lines.join("\n"))
}

#[test]
fn the_web_client_is_served_over_web_and_webs_at_the_addresses_the_log_names() {
    let directory = TempDir::new("tls-web");
    assert!(gen_cert(&directory.path, &[]).0);
    let server = serve_with_certificate(
        &directory.path,
        &[
            "--web-listen",
            "127.0.0.1:0",
            "--web-tls-listen",
            "127.0.0.1:0",
        ],
    );
    let web = server.web.expect("a `listening web` line");
    let webs = server.webs.expect("a `listening webs` line");

    // After `ready`, the log says where to point a browser.
    let mut named: Vec<String> = (0..2)
        .map(|_| {
            let line = server
                .process
                .stderr_line_containing("the web client is at ");
            line.rsplit(' ').next().unwrap().to_owned()
        })
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            format!("http://127.0.0.1:{}/", web.port()),
            format!("https://127.0.0.1:{}/", webs.port()),
        ]
    );

    let (status, page) = http_get(web, "/");
    assert_eq!(status, 200);
    assert!(page.contains("<title>palaver</title>"), "{page}");
    if let Some(response) = https_get_with_openssl(webs, &directory.path.join("cert.pem")) {
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("<title>palaver</title>"), "{response}");
    }
}
