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
    let mut process = spawn_node(redis, name, config);
    let listening = wait_ready(&mut process, OtherLines::Fail);
    Node {
        process,
        text: listening.text[0],
        irc: listening.irc[0],
        http: listening.http[0],
    }
}

pub fn spawn_node(redis: &RedisServer, name: &str, config: &Path) -> Process {
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
            &redis.url(),
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
