//! The store thread: the one owner of the database, fed by [`Store`](super::Store) handles
//! through a bounded channel, writing appends with group commit.
//!
//! Group commit: the thread waits for a request, then takes everything already queued behind
//! it, writes all the appends among them in ONE transaction — one fsync however many
//! messages — and only then resolves their `Commit`s. The other requests (queries, counts,
//! prunes) run next, in arrival order, so they see every append queued before them.
//!
//! When a batch holds appends and the previous commit started less than the commit interval
//! ago, the thread first keeps taking requests until the interval is over, or until the batch
//! is as large as recent commits were (`pace.rs`): under steady load commits come once per
//! interval, each with everything that arrived meanwhile, instead of one per fsync's duration
//! with whatever little arrived during it. After a quiet spell a message is committed at once.

use std::sync::Arc;
use std::time::Duration;

use palaver_proto::time::Timestamp;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::StoreError;
use super::arrivals::Arrivals;
use super::message::StoredMessage;
use super::pace::CommitPace;
use super::retention::{PruneRound, log_pruned};
use super::sqlite::Database;
use crate::metrics::Metrics;

/// The most requests one batch takes, so a flood of appends still lets queries through and
/// keeps each transaction a reasonable size.
const MAX_BATCH: usize = super::CHANNEL_CAPACITY;

/// Work on the database that is not an append; it sends its own answer.
pub(super) type Job = Box<dyn FnOnce(&mut Database) + Send>;

/// What a [`Store`](super::Store) handle asks of the thread.
pub(super) enum Request {
    /// Write `message` in the next batch; `committed` resolves once it is durable.
    Append {
        /// Boxed: a message is much larger than the other requests, and the channel holds
        /// thousands of them.
        message: Box<StoredMessage>,
        committed: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Run a job (a query, a count, a prune) between batches.
    Call(Job),
    /// Finish the current batch, close the database and stop; `closed` gets the outcome.
    ShutDown {
        closed: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// How often the thread does its periodic work.
pub(super) struct Timing {
    /// How often retention runs.
    pub prune_interval: Duration,
    /// The least time between the starts of two commits.
    pub commit_interval: Duration,
}

/// The thread's body: serves requests until shut down or until every handle is gone, starting
/// a round of pruning every `prune_interval` and doing it in steps between requests
/// (`retention.rs`), then closes the database.
///
/// `clock` is a current-thread tokio runtime used only to wait for the next request with a
/// deadline: a tokio channel has `blocking_recv` but no timed variant, and the prune timer
/// must fire even when no request comes.
pub(super) fn run(
    mut database: Database,
    mut requests: mpsc::Receiver<Request>,
    arrivals: Arc<Arrivals>,
    clock: Runtime,
    timing: Timing,
    metrics: Arc<Metrics>,
) {
    let prune_interval = timing.prune_interval;
    let mut next_prune = deadline_after(prune_interval);
    let mut pruning: Option<PruneRound> = None;
    let mut pace = CommitPace::new(timing.commit_interval);
    let mut shut_down = None;
    while shut_down.is_none() {
        // While a round of pruning is under way, requests go first but are not waited for:
        // between two of its steps, the thread serves whatever queued meanwhile.
        let wait_until = if pruning.is_some() {
            Instant::now()
        } else {
            next_prune
        };
        match next_request(&clock, &mut requests, wait_until) {
            Wait::Closed => break,
            Wait::Request(first) => {
                let mut batch = take_batch(first, &mut requests, &arrivals);
                if appends_in(&batch) > 0 {
                    if let Some(due) = pace.due(Instant::now()) {
                        let enough = pace.enough();
                        take_until(&clock, &mut requests, &arrivals, &mut batch, due, enough);
                    }
                    pace.started(Instant::now(), appends_in(&batch));
                }
                shut_down = serve(&mut database, batch, &metrics);
            }
            // The check below prunes.
            Wait::TimedOut => {}
        }
        // Checked after every batch too, since under steady load the wait never times out.
        if pruning.is_none() && Instant::now() >= next_prune {
            pruning = Some(PruneRound::new(Timestamp::now()));
            next_prune = deadline_after(prune_interval);
        }
        if let Some(round) = &mut pruning {
            match database.prune_step(round) {
                Ok(()) if round.is_done() => {
                    log_pruned(Ok(round.deleted()));
                    pruning = None;
                }
                Ok(()) => {}
                Err(error) => {
                    log_pruned(Err(error));
                    pruning = None;
                }
            }
        }
    }
    if shut_down.is_some() {
        refuse_the_rest(&mut requests);
    }
    let closed = database.close();
    if let Err(error) = &closed {
        tracing::warn!(%error, "closing the database failed");
    }
    if let Some(reply) = shut_down {
        let _ = reply.send(closed);
    }
}

/// Closes the channel after a shutdown request and drops what other handles sent behind it,
/// so that each of them hears [`StoreError::Closed`] before the shutdown is answered.
///
/// Dropping the receiver is not enough: a `send` that reserved its slot just before the drop
/// puts its request in the channel after the drop has emptied it, and there the request stays,
/// unanswered, for as long as any handle lives (tokio-rs/tokio#7714). `close` instead lets
/// such sends finish, and `blocking_recv` returns `None` only once every reserved slot is
/// used or given back.
fn refuse_the_rest(requests: &mut mpsc::Receiver<Request>) {
    requests.close();
    while let Some(refused) = requests.blocking_recv() {
        // Dropping a request drops its reply channel: its sender gets `StoreError::Closed`.
        drop(refused);
    }
}

/// When the next prune is due. A zero interval is stretched to a few milliseconds so it cannot
/// spin the thread, and an enormous one means "not in this process's lifetime".
fn deadline_after(prune_interval: Duration) -> Instant {
    const SHORTEST: Duration = Duration::from_millis(10);
    const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let now = Instant::now();
    now.checked_add(prune_interval.max(SHORTEST))
        .unwrap_or_else(|| now + FOREVER)
}

/// What waiting for the next request brought.
// A `Wait` only lives for one return; boxing the request to shrink it would cost an allocation
// per request for nothing.
#[allow(clippy::large_enum_variant)]
enum Wait {
    Request(Request),
    /// The deadline passed with nothing to do.
    TimedOut,
    /// Every handle was dropped: nothing more can arrive.
    Closed,
}

/// Blocks the store thread until a request arrives or `deadline` passes.
fn next_request(
    clock: &Runtime,
    requests: &mut mpsc::Receiver<Request>,
    deadline: Instant,
) -> Wait {
    // The timer must be created inside `block_on`: tokio timers need the runtime's context.
    clock.block_on(async {
        match tokio::time::timeout_at(deadline, requests.recv()).await {
            Ok(Some(request)) => Wait::Request(request),
            Ok(None) => Wait::Closed,
            Err(_elapsed) => Wait::TimedOut,
        }
    })
}

/// `first` and everything queued behind it, up to [`MAX_BATCH`], stopping after a shutdown
/// request (what comes later is refused when the channel closes).
fn take_batch(
    first: Request,
    requests: &mut mpsc::Receiver<Request>,
    arrivals: &Arrivals,
) -> Vec<Request> {
    let first_appends = usize::from(is_append(&first));
    let mut batch = vec![first];
    let appends = first_appends + drain(requests, &mut batch);
    arrivals.taken(appends);
    batch
}

/// How many messages `batch` has to commit.
fn appends_in(batch: &[Request]) -> usize {
    batch.iter().filter(|request| is_append(request)).count()
}

fn is_append(request: &Request) -> bool {
    matches!(request, Request::Append { .. })
}

/// Adds to `batch` what arrives until `due`, stopping early once it holds `enough` appends or
/// [`MAX_BATCH`] requests, at a shutdown request, or when every handle is gone. Between looks
/// at the channel the thread sleeps until `due` or until the appends it still lacks have
/// arrived (`arrivals.rs`), not woken by each one.
fn take_until(
    clock: &Runtime,
    requests: &mut mpsc::Receiver<Request>,
    arrivals: &Arrivals,
    batch: &mut Vec<Request>,
    due: Instant,
    enough: usize,
) {
    let mut appends = appends_in(batch);
    loop {
        let taken = drain(requests, batch);
        arrivals.taken(taken);
        appends += taken;
        let full = appends >= enough
            || batch.len() >= MAX_BATCH
            || matches!(batch.last(), Some(Request::ShutDown { .. }));
        if full || Instant::now() >= due {
            return;
        }
        clock.block_on(arrivals.wait_for(enough - appends, due));
    }
}

/// Moves what is queued on the channel into `batch`, without waiting, up to [`MAX_BATCH`] and
/// stopping after a shutdown request. Returns how many appends it moved.
fn drain(requests: &mut mpsc::Receiver<Request>, batch: &mut Vec<Request>) -> usize {
    let mut appends = 0;
    while batch.len() < MAX_BATCH && !matches!(batch.last(), Some(Request::ShutDown { .. })) {
        match requests.try_recv() {
            Ok(request) => {
                appends += usize::from(is_append(&request));
                batch.push(request);
            }
            // Closed: the next wait for a request sees it.
            Err(_empty_or_closed) => break,
        }
    }
    appends
}

/// Serves one batch: commits its appends together, then runs its jobs. Returns the reply
/// channel of a shutdown request, if the batch ends with one.
fn serve(
    database: &mut Database,
    batch: Vec<Request>,
    metrics: &Metrics,
) -> Option<oneshot::Sender<Result<(), StoreError>>> {
    let mut messages = Vec::new();
    let mut commits = Vec::new();
    let mut jobs = Vec::new();
    let mut shut_down = None;
    for request in batch {
        match request {
            Request::Append { message, committed } => {
                messages.push(*message);
                commits.push(committed);
            }
            Request::Call(job) => jobs.push(job),
            Request::ShutDown { closed } => shut_down = Some(closed),
        }
    }
    if !messages.is_empty() {
        commit(database, &messages, commits, metrics);
    }
    for job in jobs {
        job(database);
    }
    shut_down
}

/// Writes `messages` in one transaction and tells each waiting `Commit` how its message fared.
/// A caller that dropped its `Commit` no longer listens; its message is written all the same.
fn commit(
    database: &mut Database,
    messages: &[StoredMessage],
    commits: Vec<oneshot::Sender<Result<(), StoreError>>>,
    metrics: &Metrics,
) {
    let started = std::time::Instant::now();
    let written = database.append_batch(messages);
    // Recorded before any sender hears of its commit, so a client holding its receipt finds
    // its message counted.
    if let Ok(outcomes) = &written {
        let stored = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        metrics.committed(stored, started.elapsed());
    }
    match written {
        Ok(outcomes) => {
            for (committed, outcome) in commits.into_iter().zip(outcomes) {
                let _ = committed.send(outcome);
            }
        }
        Err(error) => {
            tracing::warn!(%error, messages = messages.len(), "writing history failed");
            for committed in commits {
                let _ = committed.send(Err(error.clone()));
            }
        }
    }
}
