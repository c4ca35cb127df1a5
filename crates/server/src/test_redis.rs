//! A real `redis-server` for tests: started on a Unix socket in a directory of its own, with
//! the persistence palaver requires (AOF, `appendfsync always`), and stopped (then its
//! directory removed) when dropped. Tests of the Redis store and of `palaver serve --cluster`
//! use it; `redis-server` must be installed (`.ci/run` installs Debian's).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// A running `redis-server`, stopped when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    directory: PathBuf,
    /// The options it was started with, besides the usual ones.
    options: Vec<String>,
}

impl RedisServer {
    /// Starts a server and returns once it accepts connections (it says so on its standard
    /// output). Panics, naming what to install, if `redis-server` cannot be run.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`start`](Self::start) with more of `redis-server`'s options (such as a TLS port).
    pub fn start_with(options: &[&str]) -> Self {
        static STARTED: AtomicU64 = AtomicU64::new(0);
        let directory = std::env::temp_dir().join(format!(
            "palaver-redis-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&directory).expect("create the Redis test directory");
        let options: Vec<String> = options.iter().map(|&option| option.to_owned()).collect();
        let child = spawn(&directory, &options);
        Self {
            child,
            directory,
            options,
        }
    }

    /// Kills the server (`SIGKILL`, as a crash) and starts it again on the same files and
    /// socket; returns once it accepts connections, with what its append-only file held.
    pub fn restart(&mut self) {
        self.stop();
        self.child = spawn(&self.directory, &self.options);
    }

    /// Kills the server (`SIGKILL`) and waits for it to go.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The URL palaver connects to.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Sends one command over the socket (in Redis's inline form, such as `CONFIG SET
    /// appendfsync everysec`) and returns the first line of the answer (`+OK`, `:2`).
    pub fn command(&self, command: &str) -> String {
        let mut socket = UnixStream::connect(self.socket()).expect("connect to Redis");
        socket
            .write_all(format!("{command}\r\n").as_bytes())
            .expect("send to Redis");
        let mut answer = String::new();
        BufReader::new(socket)
            .read_line(&mut answer)
            .expect("Redis answers");
        answer.trim_end().to_owned()
    }

    /// Returns once `replicas` replicas have every write made so far. (`WAIT` counts only the
    /// writes of the connection it is sent on, so it follows a write of its own.)
    pub fn replicated(&self, replicas: u32) {
        let mut socket = UnixStream::connect(self.socket()).expect("connect to Redis");
        socket
            .write_all(
                format!("INCR palaver-test:replicated\r\nWAIT {replicas} 30000\r\n").as_bytes(),
            )
            .expect("send to Redis");
        let mut answers = BufReader::new(socket);
        let mut answer = String::new();
        for _ in 0..2 {
            answer.clear();
            answers.read_line(&mut answer).expect("Redis answers");
        }
        assert_eq!(
            answer.trim_end(),
            format!(":{replicas}"),
            "replicas caught up"
        );
    }

    pub fn socket(&self) -> PathBuf {
        self.directory.join("redis.sock")
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

/// Starts `redis-server` on `directory`'s socket and files, and returns once it accepts
/// connections (it says so on its standard output).
fn spawn(directory: &Path, options: &[String]) -> Child {
    let mut child = Command::new("redis-server")
        .args(["--port", "0", "--unixsocket"])
        .arg(directory.join("redis.sock"))
        .args(["--unixsocketperm", "700", "--dir"])
        .arg(directory)
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--loglevel",
            "notice",
        ])
        .args(options)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run redis-server (on Debian: apt-get install redis-server)");
    let stdout = child.stdout.take().expect("redis-server's output");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            // "The server is now ready to accept connections at …" (Redis 7 on a Unix
            // socket), "Ready to accept connections" (others).
            Some(Ok(line)) if line.to_lowercase().contains("ready to accept connections") => break,
            Some(Ok(_)) => {}
            _ => panic!("redis-server stopped before accepting connections"),
        }
    }
    // Keep reading its log so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    child
}

/// The service name a [`RedisSentinel`] watches its primary under.
pub const SENTINEL_SERVICE: &str = "palaver";

/// A running Redis Sentinel (`redis-server --sentinel`) on TCP, watching one primary as
/// [`SENTINEL_SERVICE`] with a quorum of one and a short down time (one second), so that a
/// test's failover takes a few seconds. Shorter is fragile: on a busy test machine a primary
/// that misses 300 ms of pings is flagged down, and a Sentinel names no primary that is.
/// Stopped, and its directory removed, when dropped.
#[derive(Debug)]
pub struct RedisSentinel {
    child: Child,
    directory: PathBuf,
    port: u16,
    /// Its log, line by line, read by a thread.
    log: std::sync::mpsc::Receiver<String>,
}

impl RedisSentinel {
    /// Starts a Sentinel on `port` watching the primary at `127.0.0.1:primary_port`, and
    /// returns once it has found `replicas` replicas of it (a failover needs one).
    pub fn start(port: u16, primary_port: u16, replicas: usize) -> Self {
        let directory =
            std::env::temp_dir().join(format!("palaver-sentinel-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("create the Sentinel's directory");
        // Sentinel rewrites its file as it learns: it must be its own, and writable.
        let config = directory.join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {port}\ndir {}\nsentinel monitor {SENTINEL_SERVICE} 127.0.0.1 \
                 {primary_port} 1\nsentinel down-after-milliseconds {SENTINEL_SERVICE} 1000\n\
                 sentinel failover-timeout {SENTINEL_SERVICE} 2000\n",
                directory.display()
            ),
        )
        .expect("write the Sentinel's config");
        let mut child = Command::new("redis-server")
            .arg(&config)
            .args(["--sentinel", "--loglevel", "notice"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run redis-server --sentinel (on Debian: apt-get install redis-server)");
        let stdout = child.stdout.take().expect("the Sentinel's output");
        let (sender, log) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let sentinel = Self {
            child,
            directory,
            port,
            log,
        };
        for _ in 0..replicas {
            sentinel.wait_for("+slave slave");
        }
        sentinel
    }

    /// Waits until the Sentinel logs a line containing `event` (such as `+switch-master`,
    /// once it has promoted a replica), and returns the line.
    pub fn wait_for(&self, event: &str) -> String {
        let patience = std::time::Duration::from_secs(30);
        loop {
            match self.log.recv_timeout(patience) {
                Ok(line) if line.contains(event) => return line,
                Ok(_) => {}
                Err(_) => panic!("the Sentinel never logged {event:?}"),
            }
        }
    }

    /// The `redis+sentinel://` URL palaver finds the primary through.
    pub fn url(&self) -> String {
        format!(
            "redis+sentinel://127.0.0.1:{}/{SENTINEL_SERVICE}",
            self.port
        )
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
