//! The soak under faults (docs/SECURITY.md, "Soak under faults"): thousands of text clients
//! against one `palaver serve` for a long time, most of them well-behaved and talking in rooms
//! of twenty, the rest misbehaving in turns — vanishing mid-line, resetting the connection,
//! sending garbage, flooding, and not reading. At the end: the server is alive and never
//! panicked, every well-behaved client received every message of every other member of its
//! room, in order, and was never disconnected, every flooder was told why it was disconnected,
//! garbage was answered with errors, and the server's resident memory after the warm-up stayed
//! flat: its floor (the least in each minute, once what bursts used is handed back) did not
//! rise, and bursts above it stayed bounded.
//!
//! Ignored by default: it runs for 30 minutes. Run it with a release build:
//!
//! ```text
//! PALAVER_SOAK_SECONDS=1800 PALAVER_SOAK_OUT=soak.csv \
//!     cargo test --release -p palaver --test soak -- --ignored --nocapture
//! ```
//!
//! `PALAVER_SOAK_CLIENTS` sets the number of clients (2000), `PALAVER_SOAK_MAX_PER_ROOM` the
//! history kept per room (10,000, the default of `[store] history_max_per_room`: its rooms,
//! ten messages a second each, reach it after about 17 minutes, and from then on retention
//! deletes 600 messages of each a minute; a small limit starts that at once), and
//! `PALAVER_SOAK_OUT` a file for the memory samples (CSV, and beside it an SVG plot): resident
//! memory, and of it the heap and other private memory (`RssAnon`) and the pages of mapped
//! files, mostly the server's own code (`RssFile`).

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Options, serve_with};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

/// How long a test waits for an expected line before declaring the server broken.
const PATIENCE: Duration = Duration::from_secs(60);

/// Members per room of well-behaved clients.
const ROOM_SIZE: usize = 20;
/// One client in this many misbehaves.
const MISBEHAVING_ONE_IN: usize = 10;
/// How often a well-behaved client speaks.
const SPEAK_EVERY: Duration = Duration::from_secs(2);
/// The share of the run before memory must be flat.
const WARM_UP_SHARE: f64 = 0.2;
/// Over how long the least resident memory is taken: what the server holds once what bursts
/// used is freed and handed back, which the server does once a minute (`free_memory.rs`).
const FLOOR_WINDOW: f64 = 60.0;
/// How much that floor may rise from the warm-up to the end: flat, give or take.
const FLAT_FLOOR_GROWTH: f64 = 1.1;
/// How far above the floor a burst may take resident memory for a while (many clients
/// flooding or sending garbage at once hold their read buffers).
const BURST_ABOVE_FLOOR: f64 = 2.0;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|value| value.parse().expect("a whole number"))
        .unwrap_or(default)
}

/// A text client's line reader and writer.
struct Client {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    nick: String,
}

impl Client {
    /// Connects and reads the greeting, learning the guest nick.
    async fn connect(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        let (reader, writer) = stream.into_split();
        let mut client = Self {
            reader: BufReader::new(reader),
            writer,
            nick: String::new(),
        };
        let greeting = client.line().await.expect("a greeting");
        client.nick = greeting
            .strip_prefix("-- welcome to palaver; you are ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("unexpected greeting {greeting:?}"))
            .to_owned();
        client
    }

    async fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("send");
    }

    /// The next line without its stamp (`[HH:MM:SS] `), or `None` once the server closed.
    async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let read = tokio::time::timeout(PATIENCE, self.reader.read_line(&mut line))
            .await
            .expect("the server answers in time")
            .ok()?;
        if read == 0 {
            return None;
        }
        let line = line.trim_end_matches('\n');
        Some(
            line.split_once("] ")
                .map_or(line, |(_, rest)| rest)
                .to_owned(),
        )
    }

    async fn skip_until(&mut self, expected: &str) {
        loop {
            match self.line().await {
                Some(line) if line == expected => return,
                Some(_) => {}
                None => panic!("{}: closed before {expected:?}", self.nick),
            }
        }
    }
}

/// What a well-behaved client saw: per sender, the sequence numbers in the order received.
#[derive(Default)]
struct Received {
    last: HashMap<usize, u64>,
    gaps: Vec<String>,
    disconnected: bool,
}

/// A well-behaved member of `room`: joins, leaves the lobby, waits for everyone, then says
/// `s ID SEQ` every [`SPEAK_EVERY`] until `stop`, and reads everything until the end.
async fn well_behaved(
    address: SocketAddr,
    id: usize,
    room: String,
    ready: Arc<Barrier>,
    stop: Arc<AtomicBool>,
    done: Arc<Barrier>,
    sent_total: Arc<AtomicU64>,
) -> (usize, String, u64, Received) {
    let mut client = Client::connect(address).await;
    let nick = client.nick.clone();
    client.skip_until(&format!("-- {nick} joined #lobby")).await;
    client.send(&format!("/join {room}")).await;
    client.skip_until(&format!("-- {nick} joined {room}")).await;
    client.send("/part #lobby").await;
    client.skip_until(&format!("-- {nick} left #lobby")).await;
    ready.wait().await;

    let Client {
        mut reader,
        mut writer,
        ..
    } = client;
    // The newest of its own messages the client has seen come back.
    let (echoed, mut own_echo) = tokio::sync::watch::channel(0);
    let reading = tokio::spawn(async move {
        let mut received = Received::default();
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => {
                    received.disconnected = true;
                    return received;
                }
                Ok(_) => {}
            }
            let Some(text) = line.split_once("> s ").map(|(_, text)| text.trim_end()) else {
                if line.contains("-- end of soak") {
                    return received;
                }
                continue;
            };
            let mut words = text.split(' ');
            let (Some(sender), Some(seq)) = (words.next(), words.next()) else {
                continue;
            };
            let (sender, seq): (usize, u64) = (sender.parse().unwrap(), seq.parse().unwrap());
            if sender == id {
                echoed.send_replace(seq);
            }
            let last = received.last.entry(sender).or_insert(0);
            if seq != *last + 1 {
                received
                    .gaps
                    .push(format!("from {sender}: {seq} after {last}"));
            }
            *last = seq;
        }
    });
    // Spread the speakers over the interval.
    tokio::time::sleep(SPEAK_EVERY.mul_f64((id % 100) as f64 / 100.0)).await;
    let mut ticks = tokio::time::interval(SPEAK_EVERY);
    let mut seq = 0;
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        seq += 1;
        writer
            .write_all(format!("s {id} {seq}\n").as_bytes())
            .await
            .expect("a well-behaved client is never cut off");
        sent_total.fetch_add(1, Ordering::Relaxed);
    }
    // Its last message has come back, so the server has handed it to every member; once all
    // have seen theirs, a line to oneself marks the end of what to read (the server queues it
    // after everything queued before it).
    own_echo
        .wait_for(|&newest| newest >= seq)
        .await
        .expect("the reader runs");
    done.wait().await;
    writer
        .write_all(b"/msg ")
        .await
        .expect("a well-behaved client is never cut off");
    writer
        .write_all(format!("{nick} -- end of soak\n").as_bytes())
        .await
        .expect("a well-behaved client is never cut off");
    let received = reading.await.expect("the reader");
    (id, room, seq, received)
}

/// How misbehaving clients misbehave, in turns.
#[derive(Debug, Clone, Copy)]
enum Misbehaviour {
    /// Writes half a line and vanishes.
    VanishMidLine,
    /// Writes half a line and resets the connection.
    Reset,
    /// Sends random bytes, invalid UTF-8 and over-long lines among them.
    Garbage,
    /// Sends lines as fast as it can until disconnected.
    Flood,
    /// Joins a busy room and stops reading for a while.
    StopReading,
}

const MISBEHAVIOURS: [Misbehaviour; 5] = [
    Misbehaviour::VanishMidLine,
    Misbehaviour::Reset,
    Misbehaviour::Garbage,
    Misbehaviour::Flood,
    Misbehaviour::StopReading,
];

/// What the misbehaving clients saw.
#[derive(Debug, Default)]
struct Misbehaved {
    rounds: HashMap<&'static str, u64>,
    floods_told: u64,
    floods_untold: u64,
    garbage_errors: u64,
}

/// A misbehaving client: one [`Misbehaviour`] after another, each on a new connection, until
/// `stop`.
async fn misbehaving(address: SocketAddr, id: usize, stop: Arc<AtomicBool>) -> Misbehaved {
    let mut seen = Misbehaved::default();
    let mut turn = id;
    let mut random = id as u64 * 2_654_435_761 + 1;
    let mut next = move || {
        // xorshift: reproducible, no dependency.
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random
    };
    while !stop.load(Ordering::Relaxed) {
        let misbehaviour = MISBEHAVIOURS[turn % MISBEHAVIOURS.len()];
        turn += 1;
        *seen.rounds.entry(name(misbehaviour)).or_default() += 1;
        let mut client = Client::connect(address).await;
        match misbehaviour {
            Misbehaviour::VanishMidLine => {
                client.writer.write_all(b"half a li").await.ok();
            }
            Misbehaviour::Reset => {
                client.writer.write_all(b"half a li").await.ok();
                let stream = client
                    .reader
                    .into_inner()
                    .reunite(client.writer)
                    .expect("the two halves");
                stream.set_zero_linger().ok();
            }
            Misbehaviour::Garbage => {
                let mut bytes = Vec::new();
                for _ in 0..20 {
                    let length = (next() % 300) as usize;
                    bytes.extend((0..length).map(|_| (next() % 256) as u8));
                    bytes.push(b'\n');
                }
                bytes.extend(std::iter::repeat_n(b'x', 20_000));
                bytes.extend(b"\n/quit\n");
                client.writer.write_all(&bytes).await.ok();
                let mut rest = Vec::new();
                client.reader.read_to_end(&mut rest).await.ok();
                let rest = String::from_utf8_lossy(&rest);
                // Error lines carry no time stamp.
                if rest.lines().any(|line| line.starts_with("! ")) {
                    seen.garbage_errors += 1;
                }
            }
            Misbehaviour::Flood => {
                let Client {
                    mut reader, writer, ..
                } = client;
                let reading = tokio::spawn(async move {
                    let mut all = Vec::new();
                    reader.read_to_end(&mut all).await.ok();
                    String::from_utf8_lossy(&all).into_owned()
                });
                let mut writer = writer;
                let lines = "flood flood flood flood flood\n".repeat(100);
                while writer.write_all(lines.as_bytes()).await.is_ok() {}
                let output = reading.await.expect("the reader");
                if output.contains("! disconnected: excess flood") {
                    seen.floods_told += 1;
                } else {
                    seen.floods_untold += 1;
                }
            }
            Misbehaviour::StopReading => {
                client.send("/join #soak-0").await;
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(500 + next() % 2000)).await;
    }
    seen
}

fn name(misbehaviour: Misbehaviour) -> &'static str {
    match misbehaviour {
        Misbehaviour::VanishMidLine => "vanish mid-line",
        Misbehaviour::Reset => "reset",
        Misbehaviour::Garbage => "garbage",
        Misbehaviour::Flood => "flood",
        Misbehaviour::StopReading => "stop reading",
    }
}

/// The server's resident memory, in KiB.
/// One sample of the server's memory, in KiB: resident in all, and of that its heap and other
/// private memory (`RssAnon`) and the pages of files it maps (`RssFile`, mostly its own code).
#[derive(Debug, Clone, Copy)]
struct Memory {
    resident: u64,
    heap: u64,
    files: u64,
}

fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server runs");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| value.trim().trim_end_matches(" kB").parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    Memory {
        resident: field("VmRSS:"),
        heap: field("RssAnon:"),
        files: field("RssFile:"),
    }
}

/// The memory samples as an SVG line chart (seconds across, MiB up): resident memory, and
/// the heap's share of it.
fn plot(samples: &[(f64, Memory)]) -> String {
    let (width, height, margin) = (640.0, 320.0, 40.0);
    let last_second = samples.last().map_or(1.0, |sample| sample.0).max(1.0);
    let top_mib = samples
        .iter()
        .map(|sample| sample.1.resident)
        .max()
        .unwrap_or(1) as f64
        / 1024.0
        * 1.1;
    let line = |kib: fn(&Memory) -> u64| {
        let point = |(second, memory): &(f64, Memory)| {
            let x = margin + second / last_second * (width - 2.0 * margin);
            let mib = kib(memory) as f64 / 1024.0;
            let y = height - margin - mib / top_mib * (height - 2.0 * margin);
            format!("{x:.1},{y:.1}")
        };
        samples.iter().map(point).collect::<Vec<_>>().join(" ")
    };
    let (resident, heap) = (line(|memory| memory.resident), line(|memory| memory.heap));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <line x1=\"{margin}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"black\"/>\n\
         <line x1=\"{margin}\" y1=\"{margin}\" x2=\"{margin}\" y2=\"{bottom}\" stroke=\"black\"/>\n\
         <text x=\"{margin}\" y=\"{label_y}\">0 s</text>\n\
         <text x=\"{right}\" y=\"{label_y}\" text-anchor=\"end\">{last_second:.0} s</text>\n\
         <text x=\"4\" y=\"{margin}\">{top_mib:.0} MiB</text>\n\
         <text x=\"{middle}\" y=\"20\" text-anchor=\"middle\">palaver resident memory during the soak \
         (blue; orange: its heap)</text>\n\
         <polyline fill=\"none\" stroke=\"steelblue\" stroke-width=\"2\" points=\"{resident}\"/>\n\
         <polyline fill=\"none\" stroke=\"darkorange\" stroke-width=\"2\" points=\"{heap}\"/>\n\
         </svg>\n",
        bottom = height - margin,
        right = width - margin,
        label_y = height - margin + 16.0,
        middle = width / 2.0,
    )
}

#[test]
#[ignore = "a 30-minute soak; run it on purpose (see the module's documentation)"]
fn thousands_of_clients_some_misbehaving_for_a_long_time() {
    let seconds = setting("PALAVER_SOAK_SECONDS", 1800);
    let clients = setting("PALAVER_SOAK_CLIENTS", 2000) as usize;
    let misbehaving_count = clients / MISBEHAVING_ONE_IN;
    let well_behaved_count = (clients - misbehaving_count) / ROOM_SIZE * ROOM_SIZE;
    let directory = tempfile::tempdir().expect("a directory");
    let config = directory.path().join("palaver.toml");
    // Loopback is exempt from the per-address limits (thousands of clients come from one
    // address here), but not from flood control.
    let max_per_room = setting("PALAVER_SOAK_MAX_PER_ROOM", 10_000);
    std::fs::write(
        &config,
        format!("[flood]\nexempt_addresses = []\n[store]\nhistory_max_per_room = {max_per_room}\n"),
    )
    .expect("write the config");
    // A database file, as a deployment has: one in memory would grow with the history.
    let database = directory.path().join("palaver.db");
    let mut server = serve_with(
        &[
            "--config",
            config.to_str().unwrap(),
            "--db",
            database.to_str().unwrap(),
            "--log",
            "warn",
        ],
        Options {
            memory_db: false,
            ..Options::default()
        },
    );
    let pid = server.process.child.id();
    let address = server.text;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(Barrier::new(well_behaved_count + 1));
        let done = Arc::new(Barrier::new(well_behaved_count + 1));
        let sent = Arc::new(AtomicU64::new(0));
        let mut members = Vec::new();
        for id in 0..well_behaved_count {
            let room = format!("#soak-{}", id / ROOM_SIZE);
            members.push(tokio::spawn(well_behaved(
                address,
                id,
                room,
                ready.clone(),
                stop.clone(),
                done.clone(),
                sent.clone(),
            )));
            if id % 50 == 49 {
                // Connect in waves, as a crowd does, not all in one instant.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        ready.wait().await;
        println!("{well_behaved_count} well-behaved clients joined; {misbehaving_count} misbehave");
        let start = Instant::now();
        let misbehavers: Vec<_> = (0..misbehaving_count)
            .map(|id| tokio::spawn(misbehaving(address, id, stop.clone())))
            .collect();

        let mut samples = Vec::new();
        let run = Duration::from_secs(seconds);
        while start.elapsed() < run {
            let sample = (start.elapsed().as_secs_f64(), memory(pid));
            println!(
                "{:>6.0} s  {:>7} KiB resident ({} heap, {} files)  {} messages sent",
                sample.0,
                sample.1.resident,
                sample.1.heap,
                sample.1.files,
                sent.load(Ordering::Relaxed)
            );
            samples.push(sample);
            tokio::time::sleep(Duration::from_secs(10).min(run / 20)).await;
        }
        samples.push((start.elapsed().as_secs_f64(), memory(pid)));
        stop.store(true, Ordering::Relaxed);
        let mut misbehaved = Misbehaved::default();
        for task in misbehavers {
            let seen = task.await.expect("a misbehaving client");
            for (kind, rounds) in seen.rounds {
                *misbehaved.rounds.entry(kind).or_default() += rounds;
            }
            misbehaved.floods_told += seen.floods_told;
            misbehaved.floods_untold += seen.floods_untold;
            misbehaved.garbage_errors += seen.garbage_errors;
        }
        done.wait().await;
        let mut last_sent: HashMap<usize, u64> = HashMap::new();
        let mut outcomes = Vec::new();
        for member in members {
            let (id, room, seq, received) = member.await.expect("a well-behaved client");
            last_sent.insert(id, seq);
            outcomes.push((id, room, received));
        }

        // Every member received every other member's every message, in order.
        let mut problems = Vec::new();
        for (id, room, received) in &outcomes {
            if received.disconnected {
                problems.push(format!("client {id} was disconnected"));
            }
            problems.extend(
                received
                    .gaps
                    .iter()
                    .map(|gap| format!("client {id}: gap {gap}")),
            );
            let room_members = (0..well_behaved_count)
                .filter(|other| format!("#soak-{}", other / ROOM_SIZE) == *room && other != id);
            for other in room_members {
                let got = received.last.get(&other).copied().unwrap_or(0);
                if got != last_sent[&other] {
                    problems.push(format!(
                        "client {id} got {got} of {}'s {} messages",
                        other, last_sent[&other]
                    ));
                }
            }
        }
        let delivered: u64 = outcomes
            .iter()
            .map(|(_, _, received)| received.last.values().sum::<u64>())
            .sum();
        // The least resident memory in the window ending at `end`.
        let floor = |end: f64| {
            samples
                .iter()
                .filter(|sample| sample.0 <= end && sample.0 >= end - FLOOR_WINDOW)
                .map(|sample| sample.1.resident)
                .min()
                .unwrap_or(samples[0].1.resident)
        };
        let warm_up_end = seconds as f64 * WARM_UP_SHARE;
        let warm = floor(warm_up_end);
        let last = samples.last().map_or(0.0, |sample| sample.0);
        let end = floor(last);
        let peak_after = samples
            .iter()
            .filter(|sample| sample.0 >= warm_up_end)
            .map(|sample| sample.1.resident)
            .max()
            .unwrap_or(warm);
        println!(
            "sent {} messages, delivered {delivered}; misbehaviour rounds {:?}; floods told {} \
             (untold {}); garbage answered with errors {} times; resident memory's floor \
             {warm} KiB after the warm-up, {end} KiB at the end, peak after the warm-up \
             {peak_after} KiB",
            sent.load(Ordering::Relaxed),
            misbehaved.rounds,
            misbehaved.floods_told,
            misbehaved.floods_untold,
            misbehaved.garbage_errors,
        );
        if let Ok(out) = std::env::var("PALAVER_SOAK_OUT") {
            let mut csv = String::from("seconds,resident_kib,heap_kib,files_kib\n");
            for (second, memory) in &samples {
                let Memory {
                    resident,
                    heap,
                    files,
                } = memory;
                csv.push_str(&format!("{second:.0},{resident},{heap},{files}\n"));
            }
            std::fs::write(&out, csv).expect("write the samples");
            std::fs::write(format!("{out}.svg"), plot(&samples)).expect("write the plot");
        }
        assert!(
            problems.is_empty(),
            "{} problems: {:#?}",
            problems.len(),
            &problems[..problems.len().min(20)]
        );
        assert_eq!(
            misbehaved.floods_untold, 0,
            "every flooder is told why it is cut off"
        );
        assert!(misbehaved.floods_told > 0, "flooders were cut off");
        assert!(misbehaved.garbage_errors > 0, "garbage is answered");
        assert!(
            end as f64 <= warm as f64 * FLAT_FLOOR_GROWTH,
            "resident memory's floor grew from {warm} KiB after the warm-up to {end} KiB"
        );
        assert!(
            peak_after as f64 <= warm as f64 * BURST_ABOVE_FLOOR,
            "a burst took resident memory to {peak_after} KiB, from a floor of {warm} KiB"
        );
    });
    assert!(
        server.process.child.try_wait().ok().flatten().is_none(),
        "the server is still running"
    );
    assert!(
        !server.process.stderr_text().contains("panicked"),
        "{}",
        server.process.stderr_text()
    );
}
