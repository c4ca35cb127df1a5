//! Flood control without loss ("fake lag"): each connection has a token bucket of `burst`
//! tokens refilled at `rate` per second, and every line it sends costs tokens (most cost 1;
//! commands that walk much state cost more, see `Session::cost`). A line that finds the bucket
//! below one token waits until it refills: the connection stops *handling* the client's lines
//! for that long, in order, and handles them later. Nothing is dropped for going fast.
//!
//! The connection goes on reading meanwhile, so what waits is bounded by `recvq_bytes`: a
//! client whose unhandled input passes it is disconnected for excess flood (see
//! `connection.rs`). A person typing, or pasting a screenful, never meets either limit; a
//! script writing as fast as it can is slowed to `rate` lines per second, and one that keeps
//! going far past that is cut off.
//!
//! The clock is injected (`now`), so tests run it with `tokio::time::pause`.

use std::time::Duration;

use tokio::time::Instant;

use crate::addresses::AddressList;

/// `[flood]`: what flood control allows each connection.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodSettings {
    /// Lines a client may send at once before it is slowed down: the bucket's size. At
    /// least 1.
    pub burst: u32,
    /// Lines per second a client may keep sending: the refill rate. Positive.
    pub rate: f64,
    /// The most bytes of a client's input waiting to be handled before it is disconnected
    /// for excess flood.
    pub recvq_bytes: usize,
    /// Clients from these addresses are not slowed down (bots you run, a bridge).
    pub exempt: AddressList,
}

impl Default for FloodSettings {
    fn default() -> Self {
        // 20 lines at once covers a client's registration burst (CAP, NICK, USER, SASL and a
        // JOIN list) and a pasted screenful; 4 lines a second is faster than anyone types and
        // in line with what established servers allow before they lag a client. 32 KiB of
        // waiting input is some 400 typical lines: a long paste is slowed, not cut off.
        Self {
            burst: 20,
            rate: 4.0,
            recvq_bytes: 32 * 1024,
            exempt: AddressList::default(),
        }
    }
}

/// One connection's token bucket.
///
/// Concurrency contract: owned by the connection's read loop; nothing else touches it.
#[derive(Debug)]
pub struct FloodGate {
    burst: f64,
    rate: f64,
    /// Tokens available as of `refilled`; may go below zero when a line costs more than
    /// what was left (an expensive command is handled once one token is there, and the
    /// lines after it wait for the debt to be paid off).
    tokens: f64,
    refilled: Instant,
}

impl FloodGate {
    /// A full bucket for a client from an address that is not exempt.
    pub fn new(settings: &FloodSettings, now: Instant) -> Self {
        let burst = f64::from(settings.burst.max(1));
        Self {
            burst,
            rate: settings.rate,
            tokens: burst,
            refilled: now,
        }
    }

    /// `None` if a line may be handled at `now`; else when it may.
    pub fn ready_at(&mut self, now: Instant) -> Option<Instant> {
        self.refill(now);
        if self.tokens >= 1.0 {
            return None;
        }
        let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.rate);
        Some(now + wait)
    }

    /// Charges a line costing `cost` tokens, handled at `now`.
    pub fn charge(&mut self, cost: u32, now: Instant) {
        self.refill(now);
        self.tokens -= f64::from(cost);
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(burst: u32, rate: f64) -> FloodSettings {
        FloodSettings {
            burst,
            rate,
            ..FloodSettings::default()
        }
    }

    #[test]
    fn a_burst_passes_and_then_lines_wait_for_the_rate() {
        let start = Instant::now();
        let mut gate = FloodGate::new(&settings(3, 2.0), start);
        for _ in 0..3 {
            assert_eq!(gate.ready_at(start), None);
            gate.charge(1, start);
        }
        // Empty: the next line waits half a second (2 per second).
        assert_eq!(
            gate.ready_at(start),
            Some(start + Duration::from_millis(500))
        );
        let later = start + Duration::from_millis(500);
        assert_eq!(gate.ready_at(later), None);
        gate.charge(1, later);
        assert!(gate.ready_at(later).is_some());
    }

    #[test]
    fn the_bucket_refills_to_the_burst_and_no_further() {
        let start = Instant::now();
        let mut gate = FloodGate::new(&settings(2, 1.0), start);
        gate.charge(2, start);
        let much_later = start + Duration::from_secs(3600);
        for _ in 0..2 {
            assert_eq!(gate.ready_at(much_later), None);
            gate.charge(1, much_later);
        }
        assert!(gate.ready_at(much_later).is_some());
    }

    #[test]
    fn an_expensive_line_runs_once_and_the_next_waits_off_its_debt() {
        let start = Instant::now();
        let mut gate = FloodGate::new(&settings(2, 1.0), start);
        gate.charge(1, start);
        assert_eq!(gate.ready_at(start), None, "one token left");
        gate.charge(5, start);
        // Four in debt: the next line needs five seconds to have one token again.
        assert_eq!(gate.ready_at(start), Some(start + Duration::from_secs(5)));
    }
}
