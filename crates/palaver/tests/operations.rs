//! End-to-end tests of the operations settings of `palaver serve`: `--http-listen` (and
//! `PALAVER_HTTP_LISTEN`) announced as `listening http ADDR` and serving `/healthz`, `/readyz`
//! and `/metrics`, and `--log-format json` (and `PALAVER_LOG_FORMAT`) writing one JSON object
//! per log line.

mod common;

use std::time::Duration;

use common::{Observer, Options, OtherLines, Process, http_get, wait_ready};

/// How long a test waits for anything before declaring the server broken.
const PATIENCE: Duration = Duration::from_secs(20);

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
        assert_eq!(http_get(*http, "/healthz"), (200, "ok\n".to_owned()));
        assert_eq!(http_get(*http, "/readyz"), (200, "ready\n".to_owned()));

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
        let (status, metrics) = http_get(*http, "/metrics");
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
