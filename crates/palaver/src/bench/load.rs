//! The phases of a run: connect every client, give each its role (sender on a schedule,
//! closed-loop sender and its witness, or listener), warm up, measure, drain, and gather what
//! the clients counted; the server's and the generator's resources are sampled once a second
//! throughout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::bail;
use tokio::sync::Semaphore;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::client::{self, Role, Sending, Shared};
use super::connect::{self, Connected, Failure, FailureKind};
use super::counts::Counts;
use super::progress::Progress;
use super::report::{Report, Resources, Run, Samples, cpu_between};
use super::{BenchArgs, proc};

/// The most the run waits after the window for deliveries still on their way.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the clients may take to stop once told to: one stuck writing to a server that has
/// stopped reading is abandoned then, so that the run ends in time whatever the server does.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Between the last client connecting and the first message, so every task is reading.
const START_DELAY: Duration = Duration::from_millis(100);

pub async fn run(args: &BenchArgs, progress: &Progress) -> anyhow::Result<Report> {
    let base = Instant::now();
    let connected = Arc::new(AtomicUsize::new(0));
    let sampling = CancellationToken::new();
    let sampler = tokio::spawn(sample_every_second(
        base,
        args.server_pid.clone(),
        connected.clone(),
        sampling.clone(),
    ));
    let mut server = Samples {
        before: proc::sample_all(&args.server_pid),
        ..Samples::default()
    };
    let mut generator = Samples {
        before: proc::sample(None),
        ..Samples::default()
    };

    progress.connecting(args.clients);
    let connecting = connect::connect_all(args, progress, &connected).await;
    let connect = base.elapsed();
    server.connected = proc::sample_all(&args.server_pid);
    generator.connected = proc::sample(None);
    if connecting.clients.is_empty() {
        let reason = connecting
            .failures
            .first()
            .map_or("", |failure| failure.detail.as_str());
        bail!("no client could connect: {reason}");
    }

    let start = Instant::now() + START_DELAY;
    let window_start = start + args.warmup;
    let window_end = window_start + args.duration;
    let shared = Arc::new(Shared {
        proto: args.proto,
        base,
        window: (
            window_start.duration_since(base).as_micros() as u64,
            window_end.duration_since(base).as_micros() as u64,
        ),
        counts: Mutex::new(Counts::new(
            window_start.duration_since(base).as_micros() as u64
        )),
        server_of: (0..args.clients)
            .map(|index| args.server_of(index, args.addresses().len()))
            .collect(),
        delivered: AtomicU64::new(0),
        received: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        expected: AtomicU64::new(0),
        stop: CancellationToken::new(),
    });
    let plan = Plan::new(args, &connecting.clients, start, window_end);
    let scheduled_deliveries = plan.scheduled_deliveries(args, (window_start, window_end));
    let tasks: Vec<_> = plan
        .roles(connecting.clients)
        .map(|(client, role)| tokio::spawn(client::run(client, role, shared.clone())))
        .collect();

    progress
        .wait("warm-up", start, window_start, &shared.received)
        .await;
    server.window_start = proc::sample_all(&args.server_pid);
    let each_window_start = proc::sample_each(&args.server_pid);
    generator.window_start = proc::sample(None);
    let phase = if args.senders == 0 {
        "holding"
    } else {
        "measuring"
    };
    progress
        .wait(phase, window_start, window_end, &shared.received)
        .await;
    server.window_end = proc::sample_all(&args.server_pid);
    let each_window_cpu = args
        .server_pid
        .iter()
        .zip(
            each_window_start
                .into_iter()
                .zip(proc::sample_each(&args.server_pid)),
        )
        .map(|(&pid, (start, end))| (pid, cpu_between(start, end)))
        .collect();
    generator.window_end = proc::sample(None);

    // In a closed loop only the messages sent tell how many deliveries to expect; a send
    // under way at the window's end may still add to it, so it is read again while draining.
    let expected =
        || scheduled_deliveries.unwrap_or_else(|| shared.expected.load(Ordering::Relaxed));
    progress.draining();
    let drain_until = Instant::now() + DRAIN_TIMEOUT;
    while shared.delivered.load(Ordering::Relaxed) < expected() && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shared.stop.cancel();
    let mut disconnects = Vec::new();
    let stop_until = Instant::now() + STOP_TIMEOUT;
    for mut task in tasks {
        match tokio::time::timeout_at(stop_until, &mut task).await {
            Ok(left_early) => disconnects.extend(left_early.expect("a client task panicked")),
            Err(_) => {
                task.abort();
                disconnects.push(Failure::new(
                    FailureKind::Timeout,
                    "still writing to the server when the run ended",
                ));
            }
        }
    }
    sampling.cancel();
    let resources = sampler.await.expect("the sampler panicked");

    let counts = shared
        .counts
        .lock()
        .expect("no client panicked while counting");
    Ok(Report::build(Run {
        args,
        connect,
        connected: connected.load(Ordering::Relaxed),
        connect_failures: connecting.failures,
        connect_latency: &connecting.latency,
        disconnects,
        sent: shared.sent.load(Ordering::Relaxed),
        expected: expected(),
        counts: &counts,
        window: (window_start - base, window_end - base),
        server,
        each_window_cpu,
        generator,
        resources,
    }))
}

/// Who does what, among the clients that got in: senders are spread evenly over the clients
/// (and so over the rooms); in a closed loop each sender's witness is the member of its room
/// after it.
struct Plan {
    /// Members of each room.
    members: Vec<u64>,
    /// The roles by client index.
    roles: HashMap<usize, Role>,
}

impl Plan {
    fn new(args: &BenchArgs, clients: &[Connected], start: Instant, end: Instant) -> Self {
        let is_sender = |index: usize| index * args.senders % args.clients < args.senders;
        let mut by_room: Vec<Vec<usize>> = vec![Vec::new(); args.rooms];
        for client in clients {
            by_room[client.room].push(client.index);
        }
        let members: Vec<u64> = by_room.iter().map(|room| room.len() as u64).collect();
        let mut roles: HashMap<usize, Role> = clients
            .iter()
            .map(|client| {
                let role = Role {
                    sending: Sending::Nothing,
                    audience: members[client.room].saturating_sub(1),
                    size: args.size,
                    witness_of: HashMap::new(),
                };
                (client.index, role)
            })
            .collect();
        for room in &by_room {
            for (position, &sender) in room.iter().enumerate() {
                if !is_sender(sender) {
                    continue;
                }
                let sending = if !args.closed_loop() {
                    // Each sender's schedule is offset by its rank among the senders, so that
                    // they take turns instead of all sending at the same instant.
                    let interval = Duration::from_secs_f64(1.0 / args.rate);
                    let rank = sender * args.senders / args.clients;
                    let offset = interval.mul_f64(rank as f64 / args.senders as f64);
                    Sending::Schedule {
                        next: start + offset,
                        end,
                        interval,
                    }
                } else if room.len() >= 2 {
                    let window = Arc::new(Semaphore::new(args.window));
                    let witness = room[(position + 1) % room.len()];
                    let witnessing = &mut roles.get_mut(&witness).expect("a member").witness_of;
                    witnessing.insert(sender, window.clone());
                    Sending::Window { start, end, window }
                } else {
                    // Alone in its room (the others failed to connect): nobody could count
                    // its messages back.
                    Sending::Nothing
                };
                roles.get_mut(&sender).expect("a member").sending = sending;
            }
        }
        Self { members, roles }
    }

    /// Open loop: the deliveries the messages due in the window call for; `None` in a closed
    /// loop, where only the sends tell.
    fn scheduled_deliveries(&self, args: &BenchArgs, window: (Instant, Instant)) -> Option<u64> {
        if args.closed_loop() {
            return None;
        }
        let scheduled = self.roles.values().map(|role| match role.sending {
            Sending::Schedule { next, interval, .. } => {
                messages_due(next, interval, window) * role.audience
            }
            _ => 0,
        });
        Some(scheduled.sum())
    }

    fn roles(mut self, clients: Vec<Connected>) -> impl Iterator<Item = (Connected, Role)> {
        debug_assert_eq!(self.members.iter().sum::<u64>(), clients.len() as u64);
        clients.into_iter().map(move |client| {
            let role = self.roles.remove(&client.index).expect("a role per client");
            (client, role)
        })
    }
}

/// How many of a sender's messages, due every `interval` from `first` on, fall due in the
/// window `[from, to)`.
fn messages_due(first: Instant, interval: Duration, (from, to): (Instant, Instant)) -> u64 {
    let due_before = |end: Instant| {
        let span = end.saturating_duration_since(first).as_nanos();
        span.div_ceil(interval.as_nanos()) as u64
    };
    due_before(to) - due_before(from)
}

/// Samples the resources once a second until `stop`, and once more then.
async fn sample_every_second(
    base: Instant,
    server_pids: Vec<u32>,
    connected: Arc<AtomicUsize>,
    stop: CancellationToken,
) -> Vec<Resources> {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut samples = Vec::new();
    loop {
        let stopping = tokio::select! {
            () = stop.cancelled() => true,
            _ = ticks.tick() => false,
        };
        let connected = connected.load(Ordering::Relaxed);
        samples.push(Resources::sample(base.elapsed(), connected, &server_pids));
        if stopping {
            return samples;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_due_in_the_window_are_counted_by_schedule() {
        let zero = Instant::now();
        let at = |ms| zero + Duration::from_millis(ms);
        let every = Duration::from_millis(100);
        // One every 100 ms from 0: due at 0, 100, …; the window [1000, 2000) holds 10.
        assert_eq!(messages_due(zero, every, (at(1000), at(2000))), 10);
        assert_eq!(messages_due(zero, every, (zero, at(1000))), 10);
        assert_eq!(messages_due(zero, every, (at(50), at(150))), 1);
        // A schedule offset by 30 ms: due at 30, 130, …
        assert_eq!(messages_due(at(30), every, (zero, at(100))), 1);
        assert_eq!(messages_due(at(30), every, (at(1000), at(2000))), 10);
        assert_eq!(messages_due(at(30), every, (at(1000), at(1030))), 0);
    }
}
