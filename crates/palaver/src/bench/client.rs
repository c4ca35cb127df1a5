//! One client while the load runs: it sends its messages (on its schedule in an open loop, or
//! whenever its window has room in a closed one), answers the server's pings, and counts the
//! benchmark messages it receives, until told to stop.
//!
//! A message's text is `B <sender> <sequence> <due µs> <sent µs>` padded with `x` to `--size`,
//! the times counted from the start of the run on this process's clock, so receivers compute
//! latencies without any clock of the server's. In a closed loop a message is due when its
//! sender's window let it go (so the two latencies differ only by the generator's own delay).

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Proto;
use super::connect::{Connected, Failure, FailureKind, pong, room_name};
use super::counts::{Batch, Counts, Delivery, Seen};

/// What every client task shares.
pub struct Shared {
    pub proto: Proto,
    /// The clock every time in a message counts from.
    pub base: Instant,
    /// The measured window, in microseconds from `base`: messages due in it are counted.
    pub window: (u64, u64),
    /// Everything counted of the messages due in the window; each client merges its batch
    /// once per read, never holding the lock across an await.
    pub counts: Mutex<Counts>,
    /// Which server (of the `--addr`s) each client, by index, is connected to.
    pub server_of: Vec<usize>,
    /// Deliveries of messages due in the window so far: the drain waits for all of them.
    pub delivered: AtomicU64,
    /// Benchmark messages received so far, warm-up included: the progress bar's rate.
    pub received: AtomicU64,
    /// Messages due in the window that were sent.
    pub sent: AtomicU64,
    /// The deliveries those messages call for, one per other member of the sender's room (in
    /// a closed loop nothing else can tell how many to expect).
    pub expected: AtomicU64,
    /// Cancelled when the run is over.
    pub stop: CancellationToken,
}

impl Shared {
    pub fn micros(&self, at: Instant) -> u64 {
        at.duration_since(self.base).as_micros() as u64
    }

    fn in_window(&self, due_us: u64) -> bool {
        let (from, to) = self.window;
        (from..to).contains(&due_us)
    }
}

/// What a client sends.
pub enum Sending {
    Nothing,
    /// Open loop: a message every `interval` from `next`; every message due before `end` is
    /// sent, late if the client falls behind.
    Schedule {
        next: Instant,
        end: Instant,
        interval: Duration,
    },
    /// Closed loop: from `start` until `end`, a message whenever `window` has a permit. The
    /// sender's witness (another member of its room) gives a permit back for each of its
    /// messages it receives, so at most the window's size are in flight.
    Window {
        start: Instant,
        end: Instant,
        window: Arc<Semaphore>,
    },
}

/// What one client does in the run.
pub struct Role {
    pub sending: Sending,
    /// The deliveries each of its messages calls for: the other members of its room.
    pub audience: u64,
    /// The size of a message's text.
    pub size: usize,
    /// The closed-loop senders this client is the witness of, and their windows.
    pub witness_of: HashMap<usize, Arc<Semaphore>>,
}

/// Runs one client until the run stops; how it left early, if it did (the server closed its
/// connection, or an error).
pub async fn run(client: Connected, role: Role, shared: Arc<Shared>) -> Option<Failure> {
    let prefix = match shared.proto {
        Proto::Irc => format!("PRIVMSG {} :", room_name(client.room)),
        Proto::Text => String::new(),
    };
    let mut task = Task {
        client,
        role,
        shared,
        prefix,
        sequence: 0,
        seen: Seen::default(),
        batch: Batch::default(),
        received: 0,
        line: Vec::with_capacity(512),
        output: Vec::with_capacity(512),
        last_words: None,
    };
    task.drive().await.err()
}

/// One client's state in the run; only its own task touches it.
struct Task {
    client: Connected,
    role: Role,
    shared: Arc<Shared>,
    /// What comes before a message's text on the wire (`PRIVMSG #room :` on IRC).
    prefix: String,
    /// The sequence number of the last message sent.
    sequence: u64,
    seen: Seen,
    /// Deliveries counted since the last merge into the shared counts.
    batch: Batch,
    /// Benchmark messages received since the last merge, warm-up included.
    received: u64,
    /// The line being read; kept across reads, as a read interrupted by a send may have
    /// taken part of it already.
    line: Vec<u8>,
    /// The message being written.
    output: Vec<u8>,
    /// An `ERROR` or `! ` line the server sent, saying why it is about to close.
    last_words: Option<String>,
}

impl Task {
    async fn drive(&mut self) -> Result<(), Failure> {
        let shared = self.shared.clone();
        let stopped = shared.stop.cancelled();
        tokio::pin!(stopped);
        // The timer: the next message due on a schedule, or the start of a closed loop.
        let (mut timer_on, first) = match &self.role.sending {
            Sending::Nothing => (false, Instant::now()),
            Sending::Schedule { next, end, .. } => (next < end, *next),
            Sending::Window { start, .. } => (true, *start),
        };
        let timer = tokio::time::sleep_until(first);
        tokio::pin!(timer);
        let mut window_open = false;
        loop {
            let window = match &self.role.sending {
                Sending::Window { window, .. } if window_open => Some(window.clone()),
                _ => None,
            };
            tokio::select! {
                biased;
                () = &mut stopped => return Ok(()),
                () = &mut timer, if timer_on => match &mut self.role.sending {
                    Sending::Schedule { next, end, interval } => {
                        let due = *next;
                        *next += *interval;
                        if *next < *end {
                            timer.as_mut().reset(*next);
                        } else {
                            timer_on = false;
                        }
                        self.send(due).await?;
                    }
                    Sending::Window { .. } => {
                        window_open = true;
                        timer_on = false;
                    }
                    Sending::Nothing => timer_on = false,
                },
                permit = acquire(window.as_deref()), if window.is_some() => {
                    permit.forget();
                    let Sending::Window { end, .. } = &self.role.sending else {
                        unreachable!("a window only in a closed loop")
                    };
                    let now = Instant::now();
                    if now < *end {
                        self.send(now).await?;
                    } else {
                        window_open = false;
                    }
                }
                read = self.client.reader.read_until(b'\n', &mut self.line) => {
                    if read? == 0 {
                        return Err(self.closed());
                    }
                    self.take_line().await?;
                    // Whatever else the read brought in is handled before merging the counts.
                    while self.client.reader.buffer().contains(&b'\n') {
                        self.client.reader.read_until(b'\n', &mut self.line).await?;
                        self.take_line().await?;
                    }
                    self.merge();
                }
            }
        }
    }

    /// Sends the next message, due at `due`.
    async fn send(&mut self, due: Instant) -> Result<(), Failure> {
        self.sequence += 1;
        let shared = &self.shared;
        let due_us = shared.micros(due);
        self.output.clear();
        self.output.extend_from_slice(self.prefix.as_bytes());
        write_message(
            &mut self.output,
            self.client.index,
            self.sequence,
            due_us,
            shared.micros(Instant::now()),
            self.role.size,
        );
        self.output.extend_from_slice(match shared.proto {
            Proto::Irc => b"\r\n",
            Proto::Text => b"\n",
        });
        self.client.writer.write_all(&self.output).await?;
        if shared.in_window(due_us) {
            shared.sent.fetch_add(1, Ordering::Relaxed);
            shared
                .expected
                .fetch_add(self.role.audience, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Handles the complete line in `self.line` and empties it.
    async fn take_line(&mut self) -> Result<(), Failure> {
        let line = trim_line_ending(&self.line);
        if let Some(message) = Payload::read(line) {
            if message.sender != self.client.index {
                self.count(message);
            }
        } else if let Some(pong) = pong(line) {
            self.client.writer.write_all(&pong).await?;
        } else if line.starts_with(b"ERROR") || line.starts_with(b"! ") {
            self.last_words = Some(String::from_utf8_lossy(line).into_owned());
        }
        self.line.clear();
        Ok(())
    }

    fn count(&mut self, message: Payload) {
        self.received += 1;
        let first = self.seen.first_time(message.sender, message.sequence);
        if first && let Some(window) = self.role.witness_of.get(&message.sender) {
            window.add_permits(1);
        }
        if !self.shared.in_window(message.due_us) {
            return;
        }
        if first {
            let now = self.shared.micros(Instant::now());
            let server_of = |client: usize| self.shared.server_of.get(client).copied();
            self.batch.deliveries.push(Delivery {
                received_us: now,
                latency_us: now.saturating_sub(message.sent_us),
                schedule_latency_us: now.saturating_sub(message.due_us),
                across_servers: server_of(message.sender) != server_of(self.client.index),
            });
        } else {
            self.batch.duplicates += 1;
        }
    }

    /// Merges the batch into the shared counts.
    fn merge(&mut self) {
        let shared = &self.shared;
        if !self.batch.is_empty() {
            shared
                .counts
                .lock()
                .expect("no client panics while counting")
                .add(&self.batch);
            let delivered = self.batch.deliveries.len() as u64;
            shared.delivered.fetch_add(delivered, Ordering::Relaxed);
            self.batch.clear();
        }
        if self.received > 0 {
            shared.received.fetch_add(self.received, Ordering::Relaxed);
            self.received = 0;
        }
    }

    /// Why the server closed the connection: what it said last, if it said why.
    fn closed(&mut self) -> Failure {
        match self.last_words.take() {
            Some(words) => Failure::new(FailureKind::Refused, words),
            None => Failure::new(FailureKind::Closed, "the server closed the connection"),
        }
    }
}

/// A permit of `window`; never, without one.
async fn acquire(window: Option<&Semaphore>) -> SemaphorePermit<'_> {
    match window {
        Some(window) => window.acquire().await.expect("never closed"),
        None => std::future::pending().await,
    }
}

fn trim_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Appends a message's text, padded with `x` to `size` bytes.
fn write_message(
    output: &mut Vec<u8>,
    sender: usize,
    sequence: u64,
    due_us: u64,
    sent_us: u64,
    size: usize,
) {
    let start = output.len();
    write!(output, "B {sender} {sequence} {due_us} {sent_us} ").expect("writing to memory");
    let padding = size.saturating_sub(output.len() - start);
    output.resize(output.len() + padding, b'x');
}

/// The numbers a benchmark message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Payload {
    sender: usize,
    sequence: u64,
    due_us: u64,
    sent_us: u64,
}

impl Payload {
    /// The message in a received line (IRC `… PRIVMSG #room :B …`, text
    /// `[time] #room <nick> B …`), if it is one.
    fn read(line: &[u8]) -> Option<Self> {
        let start =
            memchr::memmem::find(line, b" :B ").or_else(|| memchr::memmem::find(line, b"> B "))?;
        let mut words = line[start + 4..].split(|&byte| byte == b' ');
        let mut number =
            || -> Option<u64> { std::str::from_utf8(words.next()?).ok()?.parse().ok() };
        Some(Self {
            sender: usize::try_from(number()?).ok()?,
            sequence: number()?,
            due_us: number()?,
            sent_us: number()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_reads_back_from_either_protocol() {
        let mut text = Vec::new();
        write_message(&mut text, 3, 17, 1_000, 1_005, 32);
        assert_eq!(text.len(), 32);
        let text = String::from_utf8(text).unwrap();
        let expected = Some(Payload {
            sender: 3,
            sequence: 17,
            due_us: 1_000,
            sent_us: 1_005,
        });
        let irc = format!(":bench3!~bench3@127.0.0.1 PRIVMSG #bench-0 :{text}");
        assert_eq!(Payload::read(irc.as_bytes()), expected);
        let plain = format!("[12:00:00] #bench-0 <bench3> {text}");
        assert_eq!(Payload::read(plain.as_bytes()), expected);
        assert_eq!(Payload::read(b":server 001 bench3 :Welcome"), None);
    }

    #[test]
    fn a_message_shorter_than_its_numbers_keeps_them_whole() {
        let mut text = b"PRIVMSG #r :".to_vec();
        write_message(&mut text, 12, 345, 6_789, 10_111, 4);
        assert_eq!(text, b"PRIVMSG #r :B 12 345 6789 10111 ");
        // A server that strips the trailing space loses nothing.
        let line = b":n!u@h PRIVMSG #r :B 12 345 6789 10111";
        assert_eq!(
            Payload::read(line).map(|payload| payload.sent_us),
            Some(10_111)
        );
    }
}
