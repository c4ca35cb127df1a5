//! Connecting the clients: a TCP connection (from one of the source addresses, round-robin),
//! registration (IRC `NICK`/`USER` until `001`; on the text protocol the guest is renamed) and
//! joining the client's room, at most `--connect-concurrency` clients at once. A client that
//! fails is counted with its reason and the others go on: "none refused" is a result to
//! report, like the time it all took.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::counts::latency_histogram;
use super::progress::Progress;
use super::{BenchArgs, Proto};

/// How long one client may take to connect, register and join.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A client that has registered and joined its room.
pub struct Connected {
    pub index: usize,
    /// The room it joined, by number (`room_name` spells it).
    pub room: usize,
    pub reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
}

/// Why a client did not get in, or left the run early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The TCP connection could not be made.
    Connect,
    /// The server said no: IRC `ERROR` or an error numeric, a text `! ` line.
    Refused,
    /// The server closed the connection without a word.
    Closed,
    /// No answer in time.
    Timeout,
    /// Any other I/O error.
    Io,
}

/// A failure and what it said (the server's line, the system's error).
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    pub detail: String,
}

impl Failure {
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self::new(FailureKind::Io, error.to_string())
    }
}

/// Failures of one kind, as the report lists them.
#[derive(Debug, Clone, Serialize)]
pub struct Failures {
    pub kind: FailureKind,
    pub clients: usize,
    /// What the first of them said.
    pub example: String,
}

/// Counts failures by kind, keeping the first detail of each.
pub fn tally(failures: impl IntoIterator<Item = Failure>) -> Vec<Failures> {
    let mut by_kind: BTreeMap<FailureKind, Failures> = BTreeMap::new();
    for failure in failures {
        by_kind
            .entry(failure.kind)
            .or_insert_with(|| Failures {
                kind: failure.kind,
                clients: 0,
                example: failure.detail,
            })
            .clients += 1;
    }
    by_kind.into_values().collect()
}

/// What connecting every client came to.
pub struct Connecting {
    /// The clients that got in, in index order.
    pub clients: Vec<Connected>,
    pub failures: Vec<Failure>,
    /// Each connected client's time from its first packet to its own join, in microseconds.
    pub latency: Histogram<u64>,
}

/// Connects, registers and joins every client, at most `--connect-concurrency` at once;
/// `connected` counts them as they get in.
pub async fn connect_all(
    args: &BenchArgs,
    progress: &Progress,
    connected: &Arc<AtomicUsize>,
) -> Connecting {
    let addresses = args.addresses();
    let sources = args.source_addresses();
    let permits = Arc::new(Semaphore::new(args.connect_concurrency));
    let tasks: Vec<_> = (0..args.clients)
        .map(|index| {
            let permits = permits.clone();
            let connected = connected.clone();
            let progress = progress.clone();
            let source = (!sources.is_empty()).then(|| sources[index % sources.len()]);
            let (proto, room) = (args.proto, index % args.rooms);
            let address = args.address_of(index, &addresses);
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await.expect("never closed");
                let started = Instant::now();
                let client = connect_one(address, source, proto, index, room);
                let result = match tokio::time::timeout(CONNECT_TIMEOUT, client).await {
                    Ok(result) => result,
                    Err(_) => Err(Failure::new(
                        FailureKind::Timeout,
                        format!("not registered and joined within {CONNECT_TIMEOUT:?}"),
                    )),
                };
                connected.fetch_add(usize::from(result.is_ok()), Ordering::Relaxed);
                progress.connected_one(result.is_ok());
                result.map(|client| (client, started.elapsed()))
            })
        })
        .collect();
    let mut connecting = Connecting {
        clients: Vec::with_capacity(args.clients),
        failures: Vec::new(),
        latency: latency_histogram(),
    };
    for task in tasks {
        match task.await.expect("a connecting task panicked") {
            Ok((client, took)) => {
                let _ = connecting.latency.record(took.as_micros() as u64);
                connecting.clients.push(client);
            }
            Err(failure) => connecting.failures.push(failure),
        }
    }
    connecting
}

fn nick(index: usize) -> String {
    format!("bench{index}")
}

pub fn room_name(room: usize) -> String {
    format!("#bench-{room}")
}

/// Opens a TCP connection to `address`, from `source` if given.
async fn open(address: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect(address).await;
    };
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    bind_address_no_port(&socket)?;
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(address).await
}

/// Lets the kernel choose the source port at connect time rather than at bind time
/// (IP_BIND_ADDRESS_NO_PORT), so a port is taken per destination, not per source address:
/// without it, binding would use up the ports of each source address at once.
fn bind_address_no_port(socket: &TcpSocket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: the descriptor is the socket's own, open for the call; the option's value is a
    // c_int that lives for the call, with its size given.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

async fn connect_one(
    address: SocketAddr,
    source: Option<IpAddr>,
    proto: Proto,
    index: usize,
    room: usize,
) -> Result<Connected, Failure> {
    let stream = open(address, source).await.map_err(|error| {
        Failure::new(
            FailureKind::Connect,
            format!("cannot connect to {address}: {error}"),
        )
    })?;
    stream.set_nodelay(true)?;
    let (reader, writer) = stream.into_split();
    let mut client = Connected {
        index,
        room,
        reader: BufReader::new(reader),
        writer,
    };
    let (nick, room) = (nick(index), room_name(room));
    match proto {
        Proto::Irc => {
            let hello = format!("NICK {nick}\r\nUSER {nick} 0 * :palaver bench\r\n");
            client.writer.write_all(hello.as_bytes()).await?;
            client
                .wait_for(|line| line.split(' ').nth(1) == Some("001"))
                .await?;
            let join = format!("JOIN {room}\r\n");
            client.writer.write_all(join.as_bytes()).await?;
            let own_join = format!(":{nick}!");
            client
                .wait_for(|line| line.starts_with(&own_join) && line.contains(" JOIN "))
                .await?;
        }
        Proto::Text => {
            client
                .wait_for(|line| line.contains("joined #lobby"))
                .await?;
            // Out of #lobby once in its room: every client starts there, and thousands of
            // members would hear of every other client's arrival.
            let commands = format!("/nick {nick}\n/join {room}\n/part #lobby\n");
            client.writer.write_all(commands.as_bytes()).await?;
            let left = format!("-- {nick} left #lobby");
            client.wait_for(|line| line.ends_with(&left)).await?;
        }
    }
    Ok(client)
}

impl Connected {
    /// Reads lines until one satisfies `wanted`, answering pings; fails on a refusal or the
    /// end of the stream.
    async fn wait_for(&mut self, wanted: impl Fn(&str) -> bool) -> Result<(), Failure> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await? == 0 {
                return Err(Failure::new(
                    FailureKind::Closed,
                    "the server closed the connection",
                ));
            }
            let line = line.trim_end();
            if wanted(line) {
                return Ok(());
            }
            if is_refusal(line) {
                return Err(Failure::new(FailureKind::Refused, line));
            }
            if let Some(pong) = pong(line.as_bytes()) {
                self.writer.write_all(&pong).await?;
            }
        }
    }
}

/// Whether a line refuses the client: IRC `ERROR` or an error numeric (400–599, but 422, "no
/// MOTD", which is news rather than a refusal), or a text-protocol error (`! …`).
pub fn is_refusal(line: &str) -> bool {
    if line.starts_with("ERROR") || line.starts_with("! ") {
        return true;
    }
    let numeric = line
        .strip_prefix(':')
        .and_then(|rest| rest.split(' ').nth(1))
        .and_then(|word| word.parse::<u16>().ok());
    numeric.is_some_and(|numeric| (400..600).contains(&numeric) && numeric != 422)
}

/// The answer to an IRC `PING`, if `line` is one.
pub fn pong(line: &[u8]) -> Option<Vec<u8>> {
    let token = line.strip_prefix(b"PING ")?;
    let token = token.strip_suffix(b"\n").unwrap_or(token);
    let token = token.strip_suffix(b"\r").unwrap_or(token);
    Some([b"PONG ", token, b"\r\n"].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_errors_and_error_numerics_but_no_motd() {
        assert!(is_refusal(
            "ERROR :Closing link: (bench1@127.0.0.1) [Too many]"
        ));
        assert!(is_refusal(
            ":irc.local 433 * bench1 :Nickname is already in use"
        ));
        assert!(is_refusal(
            ":irc.local 471 bench1 #bench-0 :Cannot join channel (+l)"
        ));
        assert!(is_refusal(
            "! disconnected: too many connections from your address"
        ));
        assert!(!is_refusal(":irc.local 422 bench1 :MOTD File is missing"));
        assert!(!is_refusal(":irc.local 001 bench1 :Welcome"));
        assert!(!is_refusal(
            ":bench2!b@h PRIVMSG #bench-0 :433 is no numeric here"
        ));
    }

    #[test]
    fn pings_are_answered_with_their_token() {
        assert_eq!(
            pong(b"PING :abc\r\n").as_deref(),
            Some(&b"PONG :abc\r\n"[..])
        );
        assert_eq!(pong(b"PING x").as_deref(), Some(&b"PONG x\r\n"[..]));
        assert_eq!(pong(b":a PRIVMSG b :PING"), None);
    }

    #[test]
    fn failures_are_tallied_by_kind_with_the_first_detail() {
        let tallied = tally([
            Failure::new(FailureKind::Refused, "first"),
            Failure::new(FailureKind::Timeout, "slow"),
            Failure::new(FailureKind::Refused, "second"),
        ]);
        assert_eq!(tallied.len(), 2);
        assert_eq!(tallied[0].kind, FailureKind::Refused);
        assert_eq!(tallied[0].clients, 2);
        assert_eq!(tallied[0].example, "first");
        assert_eq!(tallied[1].clients, 1);
    }
}
