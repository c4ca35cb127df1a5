//! The clients of a run: connecting and registering them, then one task per client that sends
//! on its schedule (if it is a sender), answers the server's pings and counts what it
//! receives.
//!
//! A message's text is `B <sender> <sequence> <due µs> <sent µs>` padded to `--size`, the times
//! counted from the start of the run on this process's clock, so receivers compute latencies
//! without any clock of the server's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::report::{Received, Report, Run};
use super::{BenchArgs, Proto, proc};

/// How long one client may take to connect, register and join.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most the run waits after the last message for deliveries still on their way.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A client that has registered and joined its room.
struct Connected {
    index: usize,
    /// The room it joined.
    room: String,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

/// What every client task shares.
struct Shared {
    proto: Proto,
    /// The clock every time in a message counts from.
    base: Instant,
    /// The measured window, in microseconds from `base`: messages due in it are counted.
    window: (u64, u64),
    /// Deliveries of messages due in the window, so far: the drain waits for all of them.
    delivered: AtomicU64,
    stop: CancellationToken,
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let address = args.address();
    let base = Instant::now();
    let before = proc::sample(args.server_pid);

    let clients = connect_all(args, address).await?;
    let connect = base.elapsed();
    let connected = proc::sample(args.server_pid);
    let server_rss_per_client = before.zip(connected).map(|(before, after)| {
        after.rss_bytes.saturating_sub(before.rss_bytes) as f64 / args.clients as f64
    });

    // Senders are spread evenly over the clients, and so over the rooms.
    let is_sender = |index: usize| index * args.senders % args.clients < args.senders;
    let members = |room: usize| (room..args.clients).step_by(args.rooms).count() as u64;
    let start = Instant::now() + Duration::from_millis(100);
    let micros = |at: Instant| at.duration_since(base).as_micros() as u64;
    let window_start = start + args.warmup;
    let window_end = window_start + args.duration;
    let shared = Arc::new(Shared {
        proto: args.proto,
        base,
        window: (micros(window_start), micros(window_end)),
        delivered: AtomicU64::new(0),
        stop: CancellationToken::new(),
    });
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let schedule = is_sender(client.index).then_some(Schedule {
                next: start,
                end: window_end,
                interval,
                size: args.size,
            });
            tokio::spawn(client_task(client, schedule, shared.clone()))
        })
        .collect();

    // Whatever each sender sends in the window calls for a delivery to every other member.
    let sent_in_window: u64 = (0..args.clients)
        .filter(|&index| is_sender(index))
        .map(|_| messages_due(window_start - start, args.duration, interval))
        .sum();
    let expected: u64 = (0..args.clients)
        .filter(|&index| is_sender(index))
        .map(|index| {
            messages_due(window_start - start, args.duration, interval)
                * (members(index % args.rooms) - 1)
        })
        .sum();

    tokio::time::sleep_until(window_start).await;
    let server_at_start = proc::sample(args.server_pid);
    let generator_at_start = proc::sample(None);
    tokio::time::sleep_until(window_end).await;
    let server_at_end = proc::sample(args.server_pid);
    let generator_at_end = proc::sample(None);

    let drain_until = Instant::now() + DRAIN_TIMEOUT;
    while shared.delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shared.stop.cancel();
    let mut received = Received::new();
    for task in tasks {
        let counted = task.await.context("a client task failed")??;
        received.merge(&counted);
    }
    let cpu = |start: Option<proc::Sample>, end: Option<proc::Sample>| {
        start
            .zip(end)
            .map(|(start, end)| end.cpu.saturating_sub(start.cpu))
    };
    Ok(Report::build(Run {
        args,
        connect,
        sent: sent_in_window,
        expected,
        received: &received,
        server_cpu: cpu(server_at_start, server_at_end),
        server_rss_per_client,
        generator_cpu: cpu(generator_at_start, generator_at_end),
    }))
}

/// How many of a sender's messages fall due in the window that opens `warmup` after its first
/// one and lasts `duration`, at one per `interval`.
fn messages_due(warmup: Duration, duration: Duration, interval: Duration) -> u64 {
    let before_window = warmup.as_nanos().div_ceil(interval.as_nanos());
    let before_end = (warmup + duration).as_nanos().div_ceil(interval.as_nanos());
    (before_end - before_window) as u64
}

/// Connects, registers and joins every client, at most `--connect-concurrency` at once.
async fn connect_all(
    args: &BenchArgs,
    address: std::net::SocketAddr,
) -> anyhow::Result<Vec<Connected>> {
    let permits = Arc::new(Semaphore::new(args.connect_concurrency));
    let tasks: Vec<_> = (0..args.clients)
        .map(|index| {
            let permits = permits.clone();
            let (proto, room) = (args.proto, index % args.rooms);
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await?;
                tokio::time::timeout(CONNECT_TIMEOUT, connect_one(address, proto, index, room))
                    .await
                    .map_err(|_| anyhow!("client {index} did not register in time"))?
            })
        })
        .collect();
    let mut clients = Vec::with_capacity(args.clients);
    for task in tasks {
        clients.push(task.await.context("a connecting task failed")??);
    }
    Ok(clients)
}

fn nick(index: usize) -> String {
    format!("bench{index}")
}

fn room_name(room: usize) -> String {
    format!("#bench-{room}")
}

async fn connect_one(
    address: std::net::SocketAddr,
    proto: Proto,
    index: usize,
    room: usize,
) -> anyhow::Result<Connected> {
    let stream = TcpStream::connect(address)
        .await
        .with_context(|| format!("cannot connect to {address}"))?;
    stream.set_nodelay(true)?;
    let (reader, writer) = stream.into_split();
    let (nick, room) = (nick(index), room_name(room));
    let mut client = Connected {
        index,
        room: room.clone(),
        reader: BufReader::new(reader),
        writer,
    };
    match proto {
        Proto::Irc => {
            let hello = format!("NICK {nick}\r\nUSER {nick} 0 * :palaver bench\r\n");
            client.writer.write_all(hello.as_bytes()).await?;
            client
                .wait_for(|line| line.split(' ').nth(1) == Some("001"))
                .await?;
            client
                .writer
                .write_all(format!("JOIN {room}\r\n").as_bytes())
                .await?;
            let own_join = format!(":{nick}!");
            client
                .wait_for(|line| line.starts_with(&own_join) && line.contains(" JOIN "))
                .await?;
        }
        Proto::Text => {
            client
                .wait_for(|line| line.contains("joined #lobby"))
                .await?;
            let commands = format!("/nick {nick}\n/join {room}\n");
            client.writer.write_all(commands.as_bytes()).await?;
            let joined = format!("-- {nick} joined {room}");
            client.wait_for(|line| line.ends_with(&joined)).await?;
        }
    }
    Ok(client)
}

impl Connected {
    /// Reads lines until one satisfies `wanted`, answering pings; fails on `ERROR` or the end
    /// of the stream.
    async fn wait_for(&mut self, wanted: impl Fn(&str) -> bool) -> anyhow::Result<()> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await? == 0 {
                bail!("the server closed the connection of client {}", self.index);
            }
            let line = line.trim_end();
            if wanted(line) {
                return Ok(());
            }
            if line.starts_with("ERROR") || line.starts_with("! ") {
                bail!("client {} was refused: {line}", self.index);
            }
            self.answer_ping(line).await?;
        }
    }

    async fn answer_ping(&mut self, line: &str) -> std::io::Result<()> {
        if let Some(token) = line.strip_prefix("PING ") {
            self.writer
                .write_all(format!("PONG {token}\r\n").as_bytes())
                .await?;
        }
        Ok(())
    }
}

/// When a sender sends.
struct Schedule {
    next: Instant,
    end: Instant,
    interval: Duration,
    size: usize,
}

/// One client for the whole run: sends on `schedule` (if a sender), answers pings, counts the
/// messages due in the window it receives, until told to stop.
async fn client_task(
    mut client: Connected,
    mut schedule: Option<Schedule>,
    shared: Arc<Shared>,
) -> anyhow::Result<Received> {
    let mut received = Received::new();
    let mut sequence = 0u64;
    let mut line = String::new();
    let micros = |at: Instant| at.duration_since(shared.base).as_micros() as u64;
    loop {
        let due = schedule
            .as_ref()
            .filter(|schedule| schedule.next < schedule.end)
            .map(|schedule| schedule.next);
        line.clear();
        tokio::select! {
            biased;
            () = shared.stop.cancelled() => return Ok(received),
            () = sleep_until(due) => {
                let schedule = schedule.as_mut().expect("a due message has a schedule");
                sequence += 1;
                let text = message(client.index, sequence, micros(schedule.next), micros(Instant::now()), schedule.size);
                let line = match shared.proto {
                    Proto::Irc => format!("PRIVMSG {} :{text}\r\n", client.room),
                    Proto::Text => format!("{text}\n"),
                };
                client.writer.write_all(line.as_bytes()).await?;
                schedule.next += schedule.interval;
            }
            read = client.reader.read_line(&mut line) => {
                if read? == 0 {
                    bail!("the server closed the connection of client {}", client.index);
                }
                let text = line.trim_end();
                if let Some((sender, sequence, due_us, sent_us)) = payload(text)
                    && sender != client.index
                {
                    let (from, to) = shared.window;
                    if (from..to).contains(&due_us) {
                        received.count(sender, sequence, due_us, sent_us, micros(Instant::now()));
                        shared.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    client.answer_ping(text).await?;
                }
            }
        }
    }
}

/// Sleeps until `at`, or forever without it.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A message's text, padded with `x` to `size` bytes.
fn message(sender: usize, sequence: u64, due_us: u64, sent_us: u64, size: usize) -> String {
    let mut text = format!("B {sender} {sequence} {due_us} {sent_us} ");
    while text.len() < size {
        text.push('x');
    }
    text
}

/// The numbers of a benchmark message in a received line (IRC `… PRIVMSG #room :B …`, text
/// `[time] #room <nick> B …`), if it is one.
fn payload(line: &str) -> Option<(usize, u64, u64, u64)> {
    let start = line.find(" :B ").map(|at| at + 2).or_else(|| {
        let at = line.find("> B ")?;
        Some(at + 2)
    })?;
    let mut words = line[start..].split(' ').skip(1);
    Some((
        words.next()?.parse().ok()?,
        words.next()?.parse().ok()?,
        words.next()?.parse().ok()?,
        words.next()?.parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_reads_back_from_either_protocol() {
        let text = message(3, 17, 1_000, 1_005, 32);
        assert_eq!(text.len(), 32);
        let irc = format!(":bench3!~bench3@127.0.0.1 PRIVMSG #bench-0 :{text}");
        assert_eq!(payload(&irc), Some((3, 17, 1_000, 1_005)));
        let plain = format!("[12:00:00] #bench-0 <bench3> {text}");
        assert_eq!(payload(&plain), Some((3, 17, 1_000, 1_005)));
        assert_eq!(payload(":server 001 bench3 :Welcome"), None);
    }

    #[test]
    fn messages_due_in_the_window_are_counted_by_schedule() {
        let ms = Duration::from_millis;
        // One every 100 ms from 0: due at 0, 100, …; the window [1000, 2000) holds 10.
        assert_eq!(messages_due(ms(1000), ms(1000), ms(100)), 10);
        assert_eq!(messages_due(ms(0), ms(1000), ms(100)), 10);
        assert_eq!(messages_due(ms(50), ms(100), ms(100)), 1);
    }
}
