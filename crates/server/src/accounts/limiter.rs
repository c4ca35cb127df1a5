//! Failed-login rate limiting, in bounded memory. Three counts, each over a sliding `window`:
//!
//! - per account **and** address: at most `max_failures` failures, then that address is
//!   refused for that account until the oldest ages out;
//! - per address, across accounts: at most `max_failures_per_address`, so one address cannot
//!   spray guesses over many accounts;
//! - per account, across addresses: never a refusal (that would let anyone lock the owner
//!   out), but beyond `max_failures` every further attempt on the account waits before it is
//!   checked, `slowdown_base` doubling per failure up to `slowdown_cap`.
//!
//! So an address that has not failed for an account (and is not over its own limit) is never
//! refused for it: failures elsewhere only slow it down.
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
pub(super) struct Limiter<K> {
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
    pub(super) fn new(capacity: usize, window: Duration, max_keys: usize) -> Self {
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
    pub(super) fn recent(&mut self, key: &K, now: Instant) -> usize {
        self.forget_expired(now);
        let Some(entry) = self.entries.get_mut(key) else {
            return 0;
        };
        drop_old_attempts(&mut entry.attempts, self.window, now);
        entry.attempts.len()
    }

    /// `Ok` if `key` has fewer than `limit` attempts in the window at `now`, else how long
    /// until the oldest of them ages out. `limit` must not exceed `capacity`.
    pub(super) fn check(&mut self, key: &K, limit: usize, now: Instant) -> Result<(), Duration> {
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
    pub(super) fn record(&mut self, key: &K, now: Instant) {
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
    /// How long the attempt must wait before its password is checked: the account is being
    /// guessed at from several addresses.
    pub(super) delay: Duration,
}

/// The three counts a login is subject to (see the module documentation).
#[derive(Debug)]
pub(super) struct LoginLimiter {
    limits: LoginLimits,
    /// Per (folded) account name and address: refuses at `max_failures`.
    pairs: Limiter<(String, IpAddr)>,
    /// Per address across accounts: refuses at `max_failures_per_address`.
    addresses: Limiter<IpAddr>,
    /// Per (folded) account name across addresses: never refuses, only slows down. Keeps
    /// just enough attempts per account to tell when the slowdown reaches its cap.
    accounts: Limiter<String>,
}

impl LoginLimiter {
    pub(super) fn new(limits: LoginLimits, max_keys: usize) -> Self {
        let per_pair = as_count(limits.max_failures);
        let per_address = as_count(limits.max_failures_per_address);
        let slowdown_steps = slowdown_steps(limits.slowdown_base, limits.slowdown_cap);
        Self {
            limits,
            pairs: Limiter::new(per_pair, limits.window, max_keys),
            addresses: Limiter::new(per_address, limits.window, max_keys),
            accounts: Limiter::new(
                per_pair.saturating_add(slowdown_steps),
                limits.window,
                max_keys,
            ),
        }
    }

    /// Begins an attempt on `account` (already folded) from `address` at `now`, counting it
    /// against all three, unless this address has run out of attempts, for this account or
    /// altogether. The attempt carries the delay the account's failures from anywhere call
    /// for.
    pub(super) fn begin(
        &mut self,
        account: &str,
        address: IpAddr,
        now: Instant,
    ) -> Result<Attempt, Refused> {
        let account = account.to_owned();
        let address = address_key(address);
        let pair = (account.clone(), address);
        let pair_wait = self
            .pairs
            .check(&pair, as_count(self.limits.max_failures), now)
            .err();
        let address_wait = self
            .addresses
            .check(
                &address,
                as_count(self.limits.max_failures_per_address),
                now,
            )
            .err();
        if let Some(wait) = pair_wait.max(address_wait) {
            return Err(Refused::after(wait));
        }
        let failures = self.accounts.recent(&account, now);
        let delay = self.slowdown(failures);
        self.pairs.record(&pair, now);
        self.addresses.record(&address, now);
        self.accounts.record(&account, now);
        Ok(Attempt {
            account,
            address,
            began: now,
            delay,
        })
    }

    /// The attempt was right: this address's failures for the account are forgotten, and the
    /// attempt no longer counts against the address or the account (whose other failures
    /// stay, so that an attacker who owns one account cannot wipe its address's record, and
    /// one owner's login does not end the slowdown of an account under attack).
    pub(super) fn succeeded(&mut self, attempt: &Attempt) {
        self.pairs
            .clear(&(attempt.account.clone(), attempt.address));
        self.addresses.take_back(&attempt.address, attempt.began);
        self.accounts.take_back(&attempt.account, attempt.began);
    }

    /// The attempt never reached an answer (the store failed, or the caller went away): it
    /// counts against none.
    pub(super) fn abandoned(&mut self, attempt: &Attempt) {
        self.pairs
            .take_back(&(attempt.account.clone(), attempt.address), attempt.began);
        self.addresses.take_back(&attempt.address, attempt.began);
        self.accounts.take_back(&attempt.account, attempt.began);
    }

    // A failed attempt needs no call: it was counted when it began.

    /// The wait for an attempt on an account that has `failures` counted attempts in the
    /// window: none up to `max_failures` (what one address may try anyway), then
    /// `slowdown_base` doubling with each further one, at most `slowdown_cap`.
    fn slowdown(&self, failures: usize) -> Duration {
        let Some(beyond) = failures.checked_sub(as_count(self.limits.max_failures)) else {
            return Duration::ZERO;
        };
        if beyond == 0 {
            return Duration::ZERO;
        }
        let doublings = u32::try_from(beyond - 1).unwrap_or(u32::MAX).min(31);
        self.limits
            .slowdown_base
            .saturating_mul(1 << doublings)
            .min(self.limits.slowdown_cap)
    }
}

/// A configured count as a limit: at least 1, since a limit of zero would refuse everyone
/// forever.
fn as_count(limit: u32) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX).max(1)
}

/// How many doublings take `base` to `cap` (or past it): the failures beyond the free ones
/// after which the slowdown stops growing.
fn slowdown_steps(base: Duration, cap: Duration) -> usize {
    let mut steps = 1;
    let mut delay = base;
    while delay < cap && !delay.is_zero() && steps < 32 {
        delay = delay.saturating_mul(2);
        steps += 1;
    }
    steps
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const LIMITS: LoginLimits = LoginLimits {
        max_failures: 3,
        max_failures_per_address: 5,
        window: Duration::from_secs(60),
        slowdown_base: Duration::from_secs(1),
        slowdown_cap: Duration::from_secs(8),
    };

    fn seconds(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    /// An attempt that fails; `Ok` carries its delay.
    fn fail(
        limiter: &mut LoginLimiter,
        account: &str,
        address: IpAddr,
        now: Instant,
    ) -> Result<Duration, Refused> {
        limiter
            .begin(account, address, now)
            .map(|attempt| attempt.delay)
    }

    #[test]
    fn failures_up_to_the_limit_then_refusal_with_the_wait() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        for offset in [0, 10, 20] {
            assert!(fail(&mut limiter, "alice", v4(1), start + seconds(offset)).is_ok());
        }
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
        assert!(fail(&mut limiter, "alice", v4(1), start + seconds(60)).is_ok());
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
    fn failures_from_one_address_never_refuse_another() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        for _ in 0..3 {
            fail(&mut limiter, "alice", v4(1), start).expect("allowed");
        }
        assert!(fail(&mut limiter, "alice", v4(1), start).is_err());
        // The owner, elsewhere, is let through at once: three failures are what any single
        // address may make anyway.
        let owner = limiter.begin("alice", v4(2), start).expect("not refused");
        assert_eq!(owner.delay, Duration::ZERO);
        limiter.succeeded(&owner);
    }

    #[test]
    fn an_account_guessed_from_many_addresses_is_slowed_down_not_locked() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        // Three free failures, then 1, 2, 4 and 8 seconds, and never more than 8.
        let delays: Vec<Duration> = (1..=10)
            .map(|last| fail(&mut limiter, "alice", v4(last), start).expect("never refused"))
            .collect();
        let expected: Vec<Duration> = [0, 0, 0, 0, 1, 2, 4, 8, 8, 8]
            .into_iter()
            .map(seconds)
            .collect();
        assert_eq!(delays, expected);
        // Memory per account stays bounded however many failures it collects.
        assert!(limiter.accounts.entries["alice"].attempts.len() <= 3 + 4);
        // Other accounts are not slowed down.
        assert_eq!(fail(&mut limiter, "bob", v4(20), start), Ok(Duration::ZERO));
        // The slowdown fades as the failures leave the window.
        assert_eq!(
            fail(&mut limiter, "alice", v4(30), start + seconds(60)),
            Ok(Duration::ZERO)
        );
    }

    #[test]
    fn success_clears_the_pair_but_not_the_address_or_the_account() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        fail(&mut limiter, "alice", v4(1), start).expect("allowed");
        fail(&mut limiter, "alice", v4(1), start).expect("allowed");
        let right = limiter.begin("alice", v4(1), start).expect("allowed");
        limiter.succeeded(&right);
        // Alice's failures from this address are forgotten: three more fit...
        for _ in 0..3 {
            fail(&mut limiter, "alice", v4(1), start).expect("allowed");
        }
        // ...but the address keeps its other failures (5 per address): that was its last.
        assert!(fail(&mut limiter, "bob", v4(1), start).is_err());
        // The account keeps them too: five failures, two beyond the three free, so the next
        // attempt waits 2 s.
        assert_eq!(fail(&mut limiter, "alice", v4(2), start), Ok(seconds(2)));
    }

    #[test]
    fn an_address_is_limited_across_accounts() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(LIMITS, MAX_TRACKED_KEYS);
        for account in ["alice", "bob", "carol", "dave", "erin"] {
            fail(&mut limiter, account, v4(1), start).expect("allowed");
        }
        assert_eq!(
            fail(&mut limiter, "frank", v4(1), start + seconds(15)),
            Err(Refused { seconds: 45 })
        );
        // Another address may still try those accounts.
        fail(&mut limiter, "frank", v4(2), start).expect("allowed");
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
        assert_eq!(limiter.pairs.tracked(), 0);
        assert_eq!(limiter.addresses.tracked(), 0);
        assert_eq!(limiter.accounts.tracked(), 0);
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
        for _ in 0..3 {
            fail(&mut limiter, "alice", a.into(), start).expect("allowed");
        }
        assert!(fail(&mut limiter, "alice", b.into(), start).is_err());
        fail(&mut limiter, "alice", other.into(), start).expect("another /64");
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
    fn a_limit_of_zero_failures_means_one() {
        let start = Instant::now();
        let limits = LoginLimits {
            max_failures: 0,
            max_failures_per_address: 0,
            ..LIMITS
        };
        let mut limiter = LoginLimiter::new(limits, MAX_TRACKED_KEYS);
        fail(&mut limiter, "alice", v4(1), start).expect("allowed");
        assert!(fail(&mut limiter, "alice", v4(1), start).is_err());
    }

    #[test]
    fn slowdown_steps_reach_the_cap() {
        assert_eq!(slowdown_steps(seconds(1), seconds(8)), 4);
        assert_eq!(slowdown_steps(seconds(1), seconds(9)), 5);
        assert_eq!(slowdown_steps(seconds(8), seconds(8)), 1);
        assert_eq!(slowdown_steps(Duration::ZERO, seconds(8)), 1);
    }
}
