//! Cluster nodes for the tests: `palaver serve --cluster` processes on a test Redis, and a
//! raw IRC connection to talk to them.

use std::net::SocketAddr;
use std::path::Path;

use palaver_server::test_redis::RedisServer;

use super::{Options, OtherLines, Process, TempDir, wait_ready};
use crate::PATIENCE;

/// A running node: its process and its text and operations listeners.
pub struct Node {
    pub process: Process,
    pub text: SocketAddr,
    pub irc: SocketAddr,
    pub http: SocketAddr,
}

/// Starts `palaver serve --cluster URL --node-name NAME` with `config` as its file, and
/// waits for `ready`.
pub fn start_node(redis: &RedisServer, name: &str, config: &Path) -> Node {
    start_node_at(&redis.url(), name, config)
}

/// [`start_node`] on the Redis at `url` (through a [`Proxy`](super::proxy::Proxy), say).
pub fn start_node_at(url: &str, name: &str, config: &Path) -> Node {
    let mut process = spawn_node_at(url, name, config);
    let listening = wait_ready(&mut process, OtherLines::Fail);
    Node {
        process,
        text: listening.text[0],
        irc: listening.irc[0],
        http: listening.http[0],
    }
}

pub fn spawn_node(redis: &RedisServer, name: &str, config: &Path) -> Process {
    spawn_node_at(&redis.url(), name, config)
}

pub fn spawn_node_at(url: &str, name: &str, config: &Path) -> Process {
    Process::spawn(
        &[
            "serve",
            "--text-listen",
            "127.0.0.1:0",
            "--irc-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--cluster",
            url,
            "--node-name",
            name,
            "--config",
            config.to_str().expect("UTF-8 path"),
            "--log",
            "info",
        ],
        Options::default(),
    )
}

/// The one line a client connecting to `address` is told before the connection closes.
pub fn refusal_line(address: SocketAddr) -> String {
    use std::io::{BufRead, BufReader};
    let stream = std::net::TcpStream::connect_timeout(&address, PATIENCE).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("a line");
    let mut rest = String::new();
    assert_eq!(reader.read_line(&mut rest).expect("closed"), 0, "{rest:?}");
    line
}

/// Asks `/readyz` until it answers `status`.
pub fn readyz_until(node: &Node, status: u16) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while super::http_get(node.http, "/readyz").0 != status {
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz never answered {status}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The value `node`'s `/metrics` gives `series` (a name with its labels).
pub fn metric(node: &Node, series: &str) -> String {
    let (status, body) = super::http_get(node.http, "/metrics");
    assert_eq!(status, 200);
    body.lines()
        .find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no {series} in:\n{body}"))
}

/// A configuration file holding `text`, in a directory that lives as long as the guard.
pub fn config_file(text: &str) -> (TempDir, std::path::PathBuf) {
    let directory = TempDir::new("cluster-config");
    let path = directory.path.join("palaver.toml");
    std::fs::write(&path, text).expect("write the config");
    (directory, path)
}

/// A raw IRC connection, registered as `nick`.
pub struct Irc {
    reader: std::io::BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
}

impl Irc {
    pub fn connect(address: SocketAddr) -> Self {
        let stream = std::net::TcpStream::connect_timeout(&address, PATIENCE).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let writer = stream.try_clone().unwrap();
        Self {
            reader: std::io::BufReader::new(stream),
            writer,
        }
    }

    pub fn register(address: SocketAddr, nick: &str) -> Self {
        let mut irc = Self::connect(address);
        irc.send(&format!("NICK {nick}"));
        irc.send(&format!("USER {nick} 0 * :{nick}"));
        irc.skip_until(" 001 ");
        irc
    }

    /// Registers as `nick` with the capabilities `caps` (space-separated).
    pub fn register_with(address: SocketAddr, nick: &str, caps: &str) -> Self {
        let mut irc = Self::connect(address);
        irc.send(&format!("CAP REQ :{caps}"));
        irc.send(&format!("NICK {nick}"));
        irc.send(&format!("USER {nick} 0 * :{nick}"));
        irc.send("CAP END");
        irc.skip_until(" 001 ");
        irc
    }

    pub fn send(&mut self, line: &str) {
        use std::io::Write;
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("send");
    }

    /// The next line, without its CRLF.
    pub fn line(&mut self) -> String {
        self.skip_until("")
    }

    /// Skips lines until one contains `needle`; returns it, without its CRLF.
    pub fn skip_until(&mut self, needle: &str) -> String {
        self.skip_until_any(&[needle])
    }

    /// Skips lines until one contains one of `needles`; returns it, without its CRLF.
    pub fn skip_until_any(&mut self, needles: &[&str]) -> String {
        use std::io::BufRead;
        loop {
            let mut line = String::new();
            let read = self.reader.read_line(&mut line).expect("a line");
            assert!(read > 0, "closed before a line containing {needles:?}");
            if needles.iter().any(|needle| line.contains(needle)) {
                return line.trim_end().to_owned();
            }
        }
    }
}
