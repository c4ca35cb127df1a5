//! When to try again after a lost connection: capped exponential backoff with jitter.
//!
//! Pure: no clock and no I/O. The caller asks [`Backoff::next_delay`] for how long to wait
//! before the next attempt and calls [`Backoff::reset`] once an attempt has registered, so a
//! flapping server is retried quickly the first time and ever more gently after that.
//!
//! Jitter (±20 % by default) keeps a crowd of clients that lost the same server from knocking
//! on its door in lockstep when it comes back. The random source is injected ([`Jitter`]) so
//! tests are deterministic; [`XorShift`] is the small generator used in practice, seeded from
//! the clock: the jitter only needs to differ between clients, not to be unpredictable.

use std::time::Duration;

/// The first delay after a connection is lost.
pub const INITIAL_DELAY: Duration = Duration::from_millis(250);
/// Each failed attempt multiplies the delay by this.
pub const MULTIPLIER: u32 = 2;
/// The delay never grows beyond this (before jitter).
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// Each delay is moved by up to this fraction of itself, up or down.
pub const JITTER_FRACTION: f64 = 0.2;

/// A source of uniformly distributed numbers in `[0, 1)`.
pub trait Jitter {
    fn next_unit(&mut self) -> f64;
}

/// xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift generators"):
/// plenty for spreading retries, and no dependency.
#[derive(Debug, Clone)]
pub struct XorShift {
    state: u64,
}

impl XorShift {
    /// A generator started from `seed` (0 is replaced, as xorshift would stay at 0 forever).
    pub fn new(seed: u64) -> Self {
        Self {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// A generator seeded from the system clock and the process id.
    pub fn from_clock() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64);
        Self::new(nanos ^ (u64::from(std::process::id()) << 32))
    }
}

impl Jitter for XorShift {
    fn next_unit(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let value = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // The top 53 bits fill an f64 mantissa exactly.
        (value >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Capped exponential backoff with jitter.
#[derive(Debug, Clone)]
pub struct Backoff<J = XorShift> {
    initial: Duration,
    max: Duration,
    /// The delay (before jitter) the next attempt waits; grows on every
    /// [`next_delay`](Self::next_delay), back to `initial` on [`reset`](Self::reset).
    current: Duration,
    /// Attempts since the last reset, for messages and for giving up.
    attempts: u32,
    jitter: J,
}

impl Backoff<XorShift> {
    /// 250 ms, doubling up to 30 s, ±20 %, jitter seeded from the clock.
    pub fn new() -> Self {
        Self::with_jitter(INITIAL_DELAY, MAX_DELAY, XorShift::from_clock())
    }
}

impl Default for Backoff<XorShift> {
    fn default() -> Self {
        Self::new()
    }
}

impl<J: Jitter> Backoff<J> {
    pub fn with_jitter(initial: Duration, max: Duration, jitter: J) -> Self {
        Self {
            initial,
            max,
            current: initial,
            attempts: 0,
            jitter,
        }
    }

    /// How long to wait before the next attempt; the delay after it doubles (up to the cap).
    pub fn next_delay(&mut self) -> Duration {
        let base = self.current;
        self.current = (self.current * MULTIPLIER).min(self.max);
        self.attempts = self.attempts.saturating_add(1);
        // A factor in [1 - f, 1 + f).
        let factor = 1.0 + JITTER_FRACTION * (2.0 * self.jitter.next_unit() - 1.0);
        base.mul_f64(factor)
    }

    /// Attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Back to the initial delay: call once a connection has registered.
    pub fn reset(&mut self) {
        self.current = self.initial;
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Always the same number: 0.5 means no jitter, 0 the lowest, just under 1 the highest.
    struct Fixed(f64);

    impl Jitter for Fixed {
        fn next_unit(&mut self) -> f64 {
            self.0
        }
    }

    fn millis(delays: &[Duration]) -> Vec<u128> {
        delays.iter().map(Duration::as_millis).collect()
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut backoff = Backoff::with_jitter(INITIAL_DELAY, MAX_DELAY, Fixed(0.5));
        let delays: Vec<_> = (0..10).map(|_| backoff.next_delay()).collect();
        assert_eq!(
            millis(&delays),
            [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(backoff.attempts(), 10);
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::with_jitter(INITIAL_DELAY, MAX_DELAY, Fixed(0.5));
        backoff.next_delay();
        backoff.next_delay();
        backoff.reset();
        assert_eq!(backoff.attempts(), 0);
        assert_eq!(backoff.next_delay(), INITIAL_DELAY);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let mut low = Backoff::with_jitter(INITIAL_DELAY, MAX_DELAY, Fixed(0.0));
        assert_eq!(low.next_delay(), Duration::from_millis(200));
        let mut high = Backoff::with_jitter(INITIAL_DELAY, MAX_DELAY, Fixed(0.999_999));
        let delay = high.next_delay();
        assert!(delay < Duration::from_millis(300) && delay > Duration::from_millis(299));

        let mut real = Backoff::with_jitter(MAX_DELAY, MAX_DELAY, XorShift::new(42));
        for _ in 0..1000 {
            let delay = real.next_delay();
            assert!(delay >= Duration::from_secs(24) && delay < Duration::from_secs(36));
        }
    }

    #[test]
    fn xorshift_is_uniform_enough_and_never_stuck() {
        let mut generator = XorShift::new(0);
        let samples: Vec<f64> = (0..10_000).map(|_| generator.next_unit()).collect();
        assert!(samples.iter().all(|&x| (0.0..1.0).contains(&x)));
        let below_half = samples.iter().filter(|&&x| x < 0.5).count();
        assert!((4_500..5_500).contains(&below_half), "{below_half}");
    }
}
