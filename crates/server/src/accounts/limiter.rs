//! Failed-login rate limiting: at most `max_failures` failed attempts per `window`, counted
//! per account and per client address, in bounded memory.
//!
//! An attempt is counted when it *begins* (pessimistically, as if it will fail) and taken back
//! if it succeeds or never finishes. So attempts still being verified count against the limit:
//! an attacker opening many connections at once gets no more guesses than one who waits for
//! each answer, although checking a password takes tens of milliseconds.
//!
//! The clock is injected: every method takes `now`, and the caller passes
//! `tokio::time::Instant::now()`, which tests control with `tokio::time::pause` and `advance`.
//!
//! Concurrency contract: nothing here locks; [`LoginLimiter`] lives in a `std::sync::Mutex`
//! owned by `Accounts`, held only for the duration of one call, never across an `.await`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::LoginLimits;

/// How many keys one [`Limiter`] tracks at most; beyond it the least recently active key is
/// forgotten. Keys whose failures have all aged out of the window are dropped long before
/// that, so the cap only matters under a flood of distinct names or addresses.
pub(super) const MAX_TRACKED_KEYS: usize = 100_000;

/// The failed attempts of one key (an account or an address) within the window.
#[derive(Debug)]
struct Entry {
    /// When each counted attempt began, oldest first; never more than `max_failures`, since
    /// no attempt may begin once the key has that many.
    attempts: VecDeque<Instant>,
    /// This entry's position in [`Limiter::by_activity`].
    sequence: u64,
}

/// Counts attempts per key in a sliding window: a key is refused while it has `max_failures`
/// attempts that began less than `window` ago.
#[derive(Debug)]
pub(super) struct Limiter<K> {
    /// At least 1: a limit of zero would refuse everyone forever.
    max_failures: usize,
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
    pub(super) fn new(limits: LoginLimits, max_keys: usize) -> Self {
        Self {
            max_failures: usize::try_from(limits.max_failures)
                .unwrap_or(usize::MAX)
                .max(1),
            window: limits.window,
            max_keys: max_keys.max(1),
            entries: HashMap::new(),
            by_activity: BTreeMap::new(),
            next_sequence: 0,
        }
    }

    /// `Ok` if `key` may make another attempt at `now`, else how long until it may.
    pub(super) fn check(&mut self, key: &K, now: Instant) -> Result<(), Duration> {
        self.forget_expired(now);
        let Some(entry) = self.entries.get_mut(key) else {
            return Ok(());
        };
        drop_old_attempts(&mut entry.attempts, self.window, now);
        match entry.attempts.front() {
            Some(&oldest) if entry.attempts.len() >= self.max_failures => Err(oldest
                .checked_add(self.window)
                .map_or(Duration::MAX, |end| end.saturating_duration_since(now))),
            _ => Ok(()),
        }
    }

    /// Counts an attempt by `key` beginning at `now`. Call after [`Limiter::check`] allowed
    /// it, under the same lock.
    pub(super) fn record(&mut self, key: &K, now: Instant) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        if let Some(entry) = self.entries.get_mut(key) {
            self.by_activity.remove(&entry.sequence);
            entry.sequence = sequence;
            entry.attempts.push_back(now);
            // check() keeps this from happening; if a caller skipped it, stay bounded anyway.
            if entry.attempts.len() > self.max_failures {
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
    pub(super) fn take_back(&mut self, key: &K, began: Instant) {
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
    pub(super) fn clear(&mut self, key: &K) {
        self.remove(key);
    }

    /// How many keys are tracked.
    #[cfg(test)]
    pub(super) fn tracked(&self) -> usize {
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
pub(super) fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6((v6.to_bits() & !u128::from(u64::MAX)).into()),
    }
}

/// Why an attempt may not begin: how long until it may, in whole seconds, rounded up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refused {
    pub(super) seconds: u64,
}

impl Refused {
    fn after(wait: Duration) -> Self {
        let rounded_up = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        // "Try again in 0 seconds" would invite an immediate retry that may still be early.
        Self {
            seconds: rounded_up.max(1),
        }
    }
}

/// One login attempt counted against an account and an address, until it is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Attempt {
    account: String,
    address: IpAddr,
    began: Instant,
}

/// The two limits a login is subject to: per (folded) account name and per address.
#[derive(Debug)]
pub(super) struct LoginLimiter {
    accounts: Limiter<String>,
    addresses: Limiter<IpAddr>,
}

impl LoginLimiter {
    pub(super) fn new(limits: LoginLimits, max_keys: usize) -> Self {
        Self {
            accounts: Limiter::new(limits, max_keys),
            addresses: Limiter::new(limits, max_keys),
        }
    }

    /// Begins an attempt on `account` (already folded) from `address` at `now`, counting it
    /// against both, unless either has run out of attempts.
    pub(super) fn begin(
        &mut self,
        account: &str,
        address: IpAddr,
        now: Instant,
    ) -> Result<Attempt, Refused> {
        let account = account.to_owned();
        let address = address_key(address);
        let account_wait = self.accounts.check(&account, now).err();
        let address_wait = self.addresses.check(&address, now).err();
        if let Some(wait) = account_wait.max(address_wait) {
            return Err(Refused::after(wait));
        }
        self.accounts.record(&account, now);
        self.addresses.record(&address, now);
        Ok(Attempt {
            account,
            address,
            began: now,
        })
    }

    /// The attempt was right: the account's failures are forgotten, and the attempt no longer
    /// counts against the address (whose other failures stay).
    pub(super) fn succeeded(&mut self, attempt: &Attempt) {
        self.accounts.clear(&attempt.account);
        self.addresses.take_back(&attempt.address, attempt.began);
    }

    /// The attempt never reached an answer (the store failed, or the caller went away): it
    /// counts against neither.
    pub(super) fn abandoned(&mut self, attempt: &Attempt) {
        self.accounts.take_back(&attempt.account, attempt.began);
        self.addresses.take_back(&attempt.address, attempt.began);
    }

    // A failed attempt needs no call: it was counted when it began.
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const LIMITS: LoginLimits = LoginLimits {
        max_failures: 3,
        window: Duration::from_secs(60),
    };

    fn seconds(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    /// An attempt that fails.
    fn fail(
        limiter: &mut LoginLimiter,
        account: &str,
        address: IpAddr,
        now: Instant,
    ) -> Result<(), Refused> {
        limiter.begin(account, address, now).map(drop)
    }

    #[test]
    fn failures_up_to_the_limit_then_refusal_with_the_wait() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        assert_eq!(fail(&mut limiter, "alice", v4(1), start), Ok(()));
        assert_eq!(
            fail(&mut limiter, "alice", v4(1), start + seconds(10)),
            Ok(())
        );
        assert_eq!(
            fail(&mut limiter, "alice", v4(1), start + seconds(20)),
            Ok(())
        );
        // The oldest failure ages out at 60 s: 30 s from now.
        assert_eq!(
            fail(&mut limiter, "alice", v4(1), start + seconds(30)),
            Err(Refused { seconds: 30 })
        );
        // Rounded up, and never 0.
        let almost = start + seconds(59) + Duration::from_millis(999);
        assert_eq!(
            fail(
                &mut limiter,
                "alice",
                v4(1),
                almost - Duration::from_millis(500)
            ),
            Err(Refused { seconds: 1 })
        );
        assert_eq!(
            fail(&mut limiter, "alice", v4(1), almost),
            Err(Refused { seconds: 1 })
        );
        // Refused attempts are not counted: once the oldest failure ages out, one more fits.
        assert_eq!(
            fail(&mut limiter, "alice", v4(1), start + seconds(60)),
            Ok(())
        );
        assert_eq!(
            fail(&mut limiter, "alice", v4(1), start + seconds(61)),
            Err(Refused { seconds: 9 })
        );
    }

    #[test]
    fn the_window_expires() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        for _ in 0..3 {
            fail(&mut limiter, "alice", v4(1), start).expect("allowed");
        }
        assert!(fail(&mut limiter, "alice", v4(1), start + seconds(59)).is_err());
        for _ in 0..3 {
            fail(&mut limiter, "alice", v4(1), start + seconds(60)).expect("a new window");
        }
        assert!(fail(&mut limiter, "alice", v4(1), start + seconds(60)).is_err());
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        fail(&mut limiter, "alice", v4(1), start).expect("allowed");
        fail(&mut limiter, "alice", v4(1), start).expect("allowed");
        let right = limiter.begin("alice", v4(1), start).expect("allowed");
        limiter.succeeded(&right);
        // The address still has its two failures (the success does not count): one more
        // failure from it is allowed, then none.
        fail(&mut limiter, "alice", v4(1), start).expect("allowed");
        assert!(fail(&mut limiter, "alice", v4(1), start).is_err());
        // From elsewhere, the account has a clean slate again: only the one failure since.
        fail(&mut limiter, "alice", v4(2), start).expect("allowed");
        fail(&mut limiter, "alice", v4(2), start).expect("allowed");
        assert!(fail(&mut limiter, "alice", v4(3), start).is_err());
    }

    #[test]
    fn an_address_is_limited_across_accounts() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        for account in ["alice", "bob", "carol"] {
            fail(&mut limiter, account, v4(1), start).expect("allowed");
        }
        assert_eq!(
            fail(&mut limiter, "dave", v4(1), start + seconds(15)),
            Err(Refused { seconds: 45 })
        );
        // Another address may still try those accounts.
        fail(&mut limiter, "dave", v4(2), start).expect("allowed");
    }

    #[test]
    fn an_account_is_limited_across_addresses() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        for last in 1..=3 {
            fail(&mut limiter, "alice", v4(last), start).expect("allowed");
        }
        assert!(fail(&mut limiter, "alice", v4(4), start).is_err());
        fail(&mut limiter, "bob", v4(4), start).expect("another account");
    }

    #[test]
    fn attempts_in_flight_count_and_abandoned_ones_do_not() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        let pending: Vec<Attempt> = (0..3)
            .map(|_| limiter.begin("alice", v4(1), start).expect("allowed"))
            .collect();
        assert!(limiter.begin("alice", v4(1), start).is_err());
        limiter.abandoned(&pending[0]);
        let again = limiter
            .begin("alice", v4(1), start)
            .expect("a slot was freed");
        limiter.abandoned(&again);
        for attempt in &pending[1..] {
            limiter.abandoned(attempt);
        }
        assert_eq!(limiter.accounts.tracked(), 0);
        assert_eq!(limiter.addresses.tracked(), 0);
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().expect("address");
        let b: Ipv6Addr = "2001:db8:1:2:bbbb::2".parse().expect("address");
        let other: Ipv6Addr = "2001:db8:1:3::1".parse().expect("address");
        assert_eq!(address_key(a.into()), address_key(b.into()));
        assert_ne!(address_key(a.into()), address_key(other.into()));
        assert_eq!(
            address_key(a.into()),
            IpAddr::V6("2001:db8:1:2::".parse().expect("address"))
        );
        let mapped: Ipv6Addr = "::ffff:192.0.2.7".parse().expect("address");
        assert_eq!(address_key(mapped.into()), v4(7));
        assert_eq!(address_key(v4(7)), v4(7));

        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        for account in ["alice", "bob", "carol"] {
            fail(&mut limiter, account, a.into(), start).expect("allowed");
        }
        assert!(fail(&mut limiter, "dave", b.into(), start).is_err());
        fail(&mut limiter, "dave", other.into(), start).expect("another /64");
    }

    #[test]
    fn keys_are_forgotten_a_window_after_their_last_failure() {
        let start = Instant::now();
        let mut limiter = Limiter::new(LIMITS, MAX_TRACKED_KEYS);
        for n in 0..100 {
            limiter.record(&n, start);
        }
        limiter.record(&1_000, start + seconds(30));
        assert_eq!(limiter.tracked(), 101);
        // Touching any key sweeps the ones idle for a whole window.
        assert_eq!(limiter.check(&5_000, start + seconds(60)), Ok(()));
        assert_eq!(limiter.tracked(), 1);
        assert_eq!(limiter.check(&5_000, start + seconds(90)), Ok(()));
        assert_eq!(limiter.tracked(), 0);
        assert!(limiter.by_activity.is_empty());
    }

    #[test]
    fn the_number_of_keys_is_capped_dropping_the_least_recently_active() {
        let start = Instant::now();
        let mut limiter = Limiter::new(LIMITS, 3);
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
    fn a_limit_of_zero_failures_means_one() {
        let start = Instant::now();
        let limits = LoginLimits {
            max_failures: 0,
            window: seconds(60),
        };
        let mut limiter = LoginLimiter::new(limits, MAX_TRACKED_KEYS);
        fail(&mut limiter, "alice", v4(1), start).expect("allowed");
        assert!(fail(&mut limiter, "alice", v4(1), start).is_err());
    }
}
