//! Counting events per key in a sliding window, in bounded memory: failed logins (see
//! `accounts/limiter.rs`), and connections, account registrations and room creations per
//! address (`admission.rs`, `accounts.rs`, the hub).
//!
//! The clock is injected: every method takes `now`, and callers pass
//! `tokio::time::Instant::now()`, which tests control with `tokio::time::pause` and `advance`.
//!
//! Concurrency contract: nothing here locks; a [`Limiter`] lives in its owner's
//! `std::sync::Mutex`, held only for one call, never across an `.await`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

/// How many keys one [`Limiter`] tracks at most; beyond it the least recently active key is
/// forgotten. Keys whose failures have all aged out of the window are dropped long before
/// that, so the cap only matters under a flood of distinct names or addresses.
pub(crate) const MAX_TRACKED_KEYS: usize = 100_000;

/// The counted attempts of one key within the window.
#[derive(Debug)]
struct Entry {
    /// When each counted attempt began, oldest first; never more than the limiter's
    /// `capacity`.
    attempts: VecDeque<Instant>,
    /// This entry's position in [`Limiter::by_activity`].
    sequence: u64,
}

/// Counts attempts per key in a sliding window, keeping at most `capacity` per key (the
/// newest): callers ask only whether a key has reached some count no larger than that.
#[derive(Debug)]
pub(crate) struct Limiter<K> {
    /// At least 1.
    capacity: usize,
    window: Duration,
    max_keys: usize,
    entries: HashMap<K, Entry>,
    /// Every key in `entries` by the sequence number of its latest counted attempt, so the
    /// front holds the keys idle the longest: those are the first to expire and the ones
    /// evicted when `max_keys` is reached.
    by_activity: BTreeMap<u64, K>,
    next_sequence: u64,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub(crate) fn new(capacity: usize, window: Duration, max_keys: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            window,
            max_keys: max_keys.max(1),
            entries: HashMap::new(),
            by_activity: BTreeMap::new(),
            next_sequence: 0,
        }
    }

    /// How many attempts `key` made within the window before `now` (at most `capacity`).
    pub(crate) fn recent(&mut self, key: &K, now: Instant) -> usize {
        self.forget_expired(now);
        let Some(entry) = self.entries.get_mut(key) else {
            return 0;
        };
        drop_old_attempts(&mut entry.attempts, self.window, now);
        entry.attempts.len()
    }

    /// `Ok` if `key` has fewer than `limit` attempts in the window at `now`, else how long
    /// until the oldest of them ages out. `limit` must not exceed `capacity`.
    pub(crate) fn check(&mut self, key: &K, limit: usize, now: Instant) -> Result<(), Duration> {
        if self.recent(key, now) < limit.max(1) {
            return Ok(());
        }
        let oldest = self
            .entries
            .get(key)
            .and_then(|entry| entry.attempts.front());
        Err(oldest.map_or(Duration::ZERO, |&oldest| {
            oldest
                .checked_add(self.window)
                .map_or(Duration::MAX, |end| end.saturating_duration_since(now))
        }))
    }

    /// Counts an attempt by `key` beginning at `now`, forgetting its oldest one beyond
    /// `capacity`.
    pub(crate) fn record(&mut self, key: &K, now: Instant) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        if let Some(entry) = self.entries.get_mut(key) {
            self.by_activity.remove(&entry.sequence);
            entry.sequence = sequence;
            entry.attempts.push_back(now);
            if entry.attempts.len() > self.capacity {
                entry.attempts.pop_front();
            }
        } else {
            if self.entries.len() >= self.max_keys {
                self.evict_least_recently_active();
            }
            let attempts = VecDeque::from([now]);
            self.entries
                .insert(key.clone(), Entry { attempts, sequence });
        }
        self.by_activity.insert(sequence, key.clone());
    }

    /// Takes back the attempt by `key` that began at `began`: it did not fail (or never
    /// finished). Does nothing if that attempt was already forgotten.
    pub(crate) fn take_back(&mut self, key: &K, began: Instant) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        // Several attempts may share a start time; they are interchangeable.
        if let Some(position) = entry.attempts.iter().rposition(|&time| time == began) {
            entry.attempts.remove(position);
        }
        if entry.attempts.is_empty() {
            self.remove(key);
        }
    }

    /// Forgets every attempt by `key`.
    pub(crate) fn clear(&mut self, key: &K) {
        self.remove(key);
    }

    /// How many keys are tracked.
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.entries.len()
    }

    fn remove(&mut self, key: &K) {
        if let Some(entry) = self.entries.remove(key) {
            self.by_activity.remove(&entry.sequence);
        }
    }

    /// Drops the keys idle for a whole window, starting from the longest idle. Each key is
    /// dropped once, so this costs O(log n) per recorded attempt over time.
    fn forget_expired(&mut self, now: Instant) {
        while let Some((_, key)) = self.by_activity.first_key_value() {
            let expired = self.entries.get(key).is_none_or(|entry| {
                entry
                    .attempts
                    .back()
                    .is_none_or(|&latest| has_aged_out(latest, self.window, now))
            });
            if !expired {
                break;
            }
            if let Some((_, key)) = self.by_activity.pop_first() {
                self.entries.remove(&key);
            }
        }
    }

    fn evict_least_recently_active(&mut self) {
        if let Some((_, key)) = self.by_activity.pop_first() {
            self.entries.remove(&key);
        }
    }
}

/// Removes the attempts that began a whole window or more before `now`.
fn drop_old_attempts(attempts: &mut VecDeque<Instant>, window: Duration, now: Instant) {
    while attempts
        .front()
        .is_some_and(|&time| has_aged_out(time, window, now))
    {
        attempts.pop_front();
    }
}

/// Whether an attempt that began at `time` is a whole `window` or more in the past. (With a
/// window too long for the clock to represent, never.)
fn has_aged_out(time: Instant, window: Duration, now: Instant) -> bool {
    time.checked_add(window).is_some_and(|end| end <= now)
}

/// The key an address is limited under. An IPv6 client usually holds a whole /64 (and can
/// pick any address in it), so IPv6 addresses count per /64; an IPv4 address written as
/// IPv6 (`::ffff:192.0.2.1`) counts as the IPv4 address.
pub(crate) fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6((v6.to_bits() & !u128::from(u64::MAX)).into()),
    }
}

/// At most `count` events per `per`, as the configuration writes it: `"30/1m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// At least 1.
    pub count: usize,
    /// Positive.
    pub per: Duration,
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || format!("{text:?} is not a rate such as \"30/1m\" (a count per duration)");
        let (count, per) = text.split_once('/').ok_or_else(wrong)?;
        let count: usize = count.trim().parse().map_err(|_| wrong())?;
        let per = crate::config::parse_duration(per).map_err(|_| wrong())?;
        if count == 0 || per.is_zero() {
            return Err(format!(
                "{text:?}: a rate needs a positive count and duration"
            ));
        }
        Ok(Self { count, per })
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            self.count,
            crate::config::format_duration(self.per)
        )
    }
}

/// A [`Rate`] counted per client address (IPv6 per /64, see [`address_key`]), except for the
/// exempt addresses: how often one address may connect, register accounts or create rooms.
/// Its rate and exemptions can change while the server runs ([`update`](Self::update)).
#[derive(Debug)]
pub(crate) struct AddressRate(std::sync::Mutex<RateState>);

#[derive(Debug)]
struct RateState {
    rate: Option<Rate>,
    exempt: crate::addresses::AddressList,
    counted: Limiter<IpAddr>,
}

impl RateState {
    fn new(rate: Option<Rate>, exempt: crate::addresses::AddressList) -> Self {
        let (capacity, window) =
            rate.map_or((1, Duration::from_secs(1)), |rate| (rate.count, rate.per));
        Self {
            rate,
            exempt,
            counted: Limiter::new(capacity, window, MAX_TRACKED_KEYS),
        }
    }

    /// The key `address` is counted under, if the rate applies to it at all.
    fn counted_key(&self, address: IpAddr) -> Option<(Rate, IpAddr)> {
        let rate = self.rate?;
        (!self.exempt.contains(address)).then(|| (rate, address_key(address)))
    }
}

impl AddressRate {
    /// `rate: None` allows everything.
    pub(crate) fn new(rate: Option<Rate>, exempt: crate::addresses::AddressList) -> Self {
        Self(std::sync::Mutex::new(RateState::new(rate, exempt)))
    }

    /// Takes a new rate and exemptions (a reload); what was counted under a different rate is
    /// forgotten.
    pub(crate) fn update(&self, rate: Option<Rate>, exempt: crate::addresses::AddressList) {
        let mut state = crate::lock(&self.0);
        if state.rate == rate {
            state.exempt = exempt;
        } else {
            *state = RateState::new(rate, exempt);
        }
    }

    /// Counts one event from `address` at `now` if the rate allows it; else how long until it
    /// will (an exempt address is always allowed and never counted).
    pub(crate) fn try_count(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut state = crate::lock(&self.0);
        let Some((rate, key)) = state.counted_key(address) else {
            return Ok(());
        };
        state.counted.check(&key, rate.count, now)?;
        state.counted.record(&key, now);
        Ok(())
    }

    /// Whether the rate allows one more event from `address` at `now`, without counting it:
    /// for events counted only once they succeed ([`record`](Self::record)).
    pub(crate) fn check(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut state = crate::lock(&self.0);
        match state.counted_key(address) {
            Some((rate, key)) => state.counted.check(&key, rate.count, now),
            None => Ok(()),
        }
    }

    /// Counts one event from `address` at `now`.
    pub(crate) fn record(&self, address: IpAddr, now: Instant) {
        let mut state = crate::lock(&self.0);
        if let Some((_, key)) = state.counted_key(address) {
            state.counted.record(&key, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn keys_are_forgotten_a_window_after_their_last_failure() {
        let start = Instant::now();
        let mut limiter = Limiter::new(3, seconds(60), MAX_TRACKED_KEYS);
        for n in 0..100 {
            limiter.record(&n, start);
        }
        limiter.record(&1_000, start + seconds(30));
        assert_eq!(limiter.tracked(), 101);
        // Touching any key sweeps the ones idle for a whole window.
        assert_eq!(limiter.check(&5_000, 3, start + seconds(60)), Ok(()));
        assert_eq!(limiter.tracked(), 1);
        assert_eq!(limiter.check(&5_000, 3, start + seconds(90)), Ok(()));
        assert_eq!(limiter.tracked(), 0);
        assert!(limiter.by_activity.is_empty());
    }

    #[test]
    fn the_number_of_keys_is_capped_dropping_the_least_recently_active() {
        let start = Instant::now();
        let mut limiter = Limiter::new(3, seconds(60), 3);
        limiter.record(&"a", start);
        limiter.record(&"b", start);
        limiter.record(&"c", start);
        // "a" fails again, so "b" is now the one idle longest.
        limiter.record(&"a", start);
        limiter.record(&"d", start);
        assert_eq!(limiter.tracked(), 3);
        assert!(limiter.entries.contains_key("a"));
        assert!(!limiter.entries.contains_key("b"));
        assert!(limiter.entries.contains_key("c"));
        assert!(limiter.entries.contains_key("d"));
        assert_eq!(limiter.by_activity.len(), 3);
    }

    #[test]
    fn a_key_keeps_at_most_capacity_attempts() {
        let start = Instant::now();
        let mut limiter = Limiter::new(2, seconds(60), MAX_TRACKED_KEYS);
        for offset in 0..10 {
            limiter.record(&"a", start + seconds(offset));
        }
        assert_eq!(limiter.recent(&"a", start + seconds(10)), 2);
        // The two kept are the newest.
        assert_eq!(
            limiter.check(&"a", 2, start + seconds(10)),
            Err(seconds(58))
        );
    }

    #[test]
    fn rates_read_and_write_as_count_per_duration() {
        let rate: Rate = "30/1m".parse().unwrap();
        assert_eq!(
            rate,
            Rate {
                count: 30,
                per: seconds(60)
            }
        );
        assert_eq!(rate.to_string(), "30/1m");
        assert!("30".parse::<Rate>().is_err());
        assert!("0/1m".parse::<Rate>().is_err());
        assert!("5/0s".parse::<Rate>().is_err());
        assert!("x/1m".parse::<Rate>().is_err());
    }

    #[test]
    fn an_address_rate_refuses_past_its_count_until_the_oldest_ages_out() {
        let start = Instant::now();
        let rate = Rate {
            count: 2,
            per: seconds(60),
        };
        let limited = AddressRate::new(Some(rate), crate::addresses::AddressList::loopback());
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(limited.try_count(client, start), Ok(()));
        assert_eq!(limited.try_count(client, start + seconds(10)), Ok(()));
        assert_eq!(
            limited.try_count(client, start + seconds(20)),
            Err(seconds(40))
        );
        // Refusals are not counted: the oldest ages out on time.
        assert_eq!(limited.try_count(client, start + seconds(60)), Ok(()));
        // Other addresses have their own count; exempt ones are never refused.
        assert_eq!(
            limited.try_count("192.0.2.2".parse().unwrap(), start),
            Ok(())
        );
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..10 {
            assert_eq!(limited.try_count(local, start), Ok(()));
        }
        let unlimited = AddressRate::new(None, Default::default());
        for _ in 0..10 {
            assert_eq!(unlimited.try_count(client, start), Ok(()));
        }
    }
}
