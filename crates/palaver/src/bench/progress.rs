//! The progress bar on stderr while a run goes on: clients connecting (done of all), the
//! warm-up, the measurement with its elapsed time and the live rate of deliveries, the drain.
//! Drawn only when stderr is a terminal: in a pipe, a file or CI nothing is written, and the
//! report on stdout is all there is.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;

/// How often a timed phase updates the bar (and measures the rate it shows).
const TICK: Duration = Duration::from_millis(250);

/// The progress bar; cheap to clone (the connecting tasks each hold one).
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    /// Clients that failed to connect so far, shown next to the count.
    failed: Arc<AtomicUsize>,
}

impl Progress {
    /// A bar on stderr, or one that draws nothing when `visible` is false.
    pub fn new(visible: bool) -> Self {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            bar: ProgressBar::with_draw_target(Some(0), target),
            failed: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Starts the connecting phase: `clients` to go.
    pub fn connecting(&self, clients: usize) {
        self.bar.set_style(style(
            "{prefix:>10} [{bar:30}] {human_pos}/{human_len} {msg}",
        ));
        self.bar.set_prefix("connecting");
        self.bar.set_length(clients as u64);
        self.bar.set_position(0);
    }

    /// One more client connected, or failed to.
    pub fn connected_one(&self, ok: bool) {
        if !ok {
            let failed = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
            self.bar.set_message(format!("({failed} failed)"));
        }
        self.bar.inc(1);
    }

    /// Waits until `until`, showing `phase`'s time elapsed since `from` and the rate at which
    /// `received` grows (benchmark messages received, by every client).
    pub async fn wait(
        &self,
        phase: &'static str,
        from: Instant,
        until: Instant,
        received: &AtomicU64,
    ) {
        let length = until.saturating_duration_since(from);
        self.bar.set_style(style("{prefix:>10} [{bar:30}] {msg}"));
        self.bar.set_prefix(phase);
        self.bar.set_message("");
        self.bar.set_length(length.as_millis().max(1) as u64);
        self.bar.set_position(0);
        let (mut then, mut count) = (Instant::now(), received.load(Ordering::Relaxed));
        while let Some(left) = until
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
        {
            tokio::time::sleep(TICK.min(left)).await;
            let now = Instant::now();
            let total = received.load(Ordering::Relaxed);
            let rate = (total - count) as f64 / now.duration_since(then).as_secs_f64().max(1e-3);
            (then, count) = (now, total);
            let elapsed = now.saturating_duration_since(from).min(length);
            self.bar.set_position(elapsed.as_millis() as u64);
            self.bar.set_message(format!(
                "{:.1}/{:.1} s, {} deliveries/s",
                elapsed.as_secs_f64(),
                length.as_secs_f64(),
                HumanCount(rate as u64)
            ));
        }
    }

    /// The drain: waiting for the last deliveries.
    pub fn draining(&self) {
        self.bar.set_style(style("{prefix:>10} {spinner} {msg}"));
        self.bar.set_prefix("draining");
        self.bar
            .set_message("waiting for deliveries still on their way");
        self.bar.enable_steady_tick(TICK);
    }

    /// Removes the bar, leaving the terminal as it was.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("a valid template")
        .progress_chars("=> ")
}
