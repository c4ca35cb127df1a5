//! End-to-end tests of the operations settings of `palaver serve`: `--http-listen` (and
//! `PALAVER_HTTP_LISTEN`) announced as `listening http ADDR` and serving `/healthz`, `/readyz`
//! and `/metrics`, and `--log-format json` (and `PALAVER_LOG_FORMAT`) writing one JSON object
//! per log line.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{Observer, Options, OtherLines, Process, wait_ready};

/// How long a test waits for anything before declaring the server broken.
const PATIENCE: Duration = Duration::from_secs(20);

/// `GET path` with `Connection: close`: the status code and the body.
fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect to HTTP");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head:?}"));
    (status, body.to_owned())
}

/// Environment variables set for a child, as `(NAME, VALUE)`.
type Environment<'a> = &'a [(&'a str, &'a str)];

/// Parses one stderr line as a JSON object, or fails the test saying which line.
fn json(line: &str) -> serde_json::Value {
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"));
    assert!(value.is_object(), "a JSON object: {line:?}");
    value
}

#[test]
fn http_listen_serves_the_endpoints_and_json_logs_are_json() {
    // Each setting once as a flag and once from the environment.
    let flags: [(&[&str], Environment); 2] = [
        (
            &["--http-listen", "127.0.0.1:0"],
            &[("PALAVER_LOG_FORMAT", "json")],
        ),
        (
            &["--log-format", "json"],
            &[("PALAVER_HTTP_LISTEN", "127.0.0.1:0")],
        ),
    ];
    for (args, envs) in flags {
        let mut command = vec!["serve", "--text-listen", "127.0.0.1:0"];
        command.extend_from_slice(args);
        let mut server = Process::spawn(
            &command,
            Options {
                envs,
                ..Options::default()
            },
        );
        let listening = wait_ready(&mut server, OtherLines::Fail);
        let ([text], [http]) = (&listening.text[..], &listening.http[..]) else {
            panic!("one text and one http listener: {listening:?}");
        };
        assert_eq!(get(*http, "/healthz"), (200, "ok\n".to_owned()));
        assert_eq!(get(*http, "/readyz"), (200, "ready\n".to_owned()));

        let guest = Observer::connect_guest(*text);
        let connected = json(&server.stderr_line_containing("\"connected\""));
        assert_eq!(connected["level"], "INFO", "{connected}");
        assert_eq!(connected["fields"]["message"], "connected", "{connected}");
        assert_eq!(
            connected["fields"]["nick"],
            guest.nick.as_str(),
            "{connected}"
        );
        assert_eq!(connected["span"]["protocol"], "Text", "{connected}");
        let (status, metrics) = get(*http, "/metrics");
        assert_eq!(status, 200);
        assert!(
            metrics
                .lines()
                .any(|line| line == "palaver_connections{protocol=\"text\",transport=\"tcp\"} 1"),
            "{metrics}"
        );

        server.signal("TERM");
        let (status, _) = server.wait_exit();
        assert!(status.success(), "{status}");
        for line in server.stderr_text().lines() {
            json(line);
        }
    }
}
