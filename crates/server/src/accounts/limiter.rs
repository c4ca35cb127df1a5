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

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::LoginLimits;
pub(super) use crate::rate_limit::MAX_TRACKED_KEYS;
use crate::rate_limit::{Limiter, address_key};

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
        assert!(limiter.accounts.recent(&"alice".to_owned(), start) <= 3 + 4);
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
