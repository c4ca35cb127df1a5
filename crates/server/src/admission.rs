//! Which new connections are served: at most `connections_per_address` at once from one
//! address (IPv6 per /64), at most `connect_rate_per_address` new ones from it, and at most
//! `max_connections` in all. The accept loop asks before it starts a session; a refused client
//! is told why in one line of its protocol and disconnected (`listener.rs`).
//!
//! Exempt addresses (loopback by default) skip the per-address limits, not the global cap,
//! which protects the server's file descriptors whoever connects.
//!
//! Concurrency contract: one `std::sync::Mutex` per [`Admission`], held for one count, never
//! across an `.await`.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::addresses::AddressList;
use crate::lock;
use crate::metrics::RefusedReason;
use crate::rate_limit::{AddressRate, Rate, address_key};

/// `[limits]`: who may connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressLimits {
    /// Connections one address may hold at once. At least 1.
    pub connections_per_address: usize,
    /// New connections one address may open; `None`: no limit.
    pub connect_rate_per_address: Option<Rate>,
    /// Connections the server serves at once, from anywhere. At least 1.
    pub max_connections: usize,
    /// Accounts one address may register; `None`: no limit.
    pub account_registrations_per_address: Option<Rate>,
    /// Rooms one address may create (by joining a room that does not exist); `None`: no
    /// limit. With `rooms_per_user`, this keeps one client from filling the room directory.
    pub room_creations_per_address: Option<Rate>,
    /// Addresses the per-address limits (connections, connect rate, account registrations,
    /// room creations) do not apply to.
    pub exempt: AddressList,
}

impl Default for AddressLimits {
    fn default() -> Self {
        // A household or an office behind one address runs a few clients per person; 20 at
        // once and 30 new ones a minute leave room for all of them reconnecting together
        // after an outage, and still stop one address from holding thousands of sockets.
        // Registering 5 accounts an hour and creating 30 rooms an hour is more than a
        // community's people do, and far less than a script filling the server.
        Self {
            connections_per_address: 20,
            connect_rate_per_address: Some(Rate {
                count: 30,
                per: Duration::from_secs(60),
            }),
            max_connections: 100_000,
            account_registrations_per_address: Some(Rate {
                count: 5,
                per: Duration::from_secs(3600),
            }),
            room_creations_per_address: Some(Rate {
                count: 30,
                per: Duration::from_secs(3600),
            }),
            exempt: AddressList::loopback(),
        }
    }
}

/// Why a connection was refused; its `Display` is the line the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    PerAddress {
        limit: usize,
    },
    ConnectRate {
        seconds: u64,
    },
    ServerFull,
    /// A server ban on the address (`hub/server_bans.rs`), with its reason.
    Banned {
        reason: String,
    },
    /// This cluster node cannot reach the rest of the network (`hub/link.rs`).
    LinkDown,
}

impl Refusal {
    /// How the metrics count it.
    pub fn counted_as(&self) -> RefusedReason {
        match self {
            Refusal::PerAddress { .. } => RefusedReason::PerAddress,
            Refusal::ConnectRate { .. } => RefusedReason::ConnectRate,
            Refusal::ServerFull => RefusedReason::ServerFull,
            Refusal::Banned { .. } => RefusedReason::Banned,
            Refusal::LinkDown => RefusedReason::LinkDown,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::PerAddress { limit } => write!(
                f,
                "too many connections from your address (at most {limit} at once)"
            ),
            Refusal::ConnectRate { seconds } => write!(
                f,
                "connecting too often from your address; try again in {seconds} seconds"
            ),
            Refusal::ServerFull => write!(f, "the server is full; try again later"),
            Refusal::Banned { reason } => write!(f, "you are banned from this server ({reason})"),
            Refusal::LinkDown => write!(
                f,
                "server unavailable: it lost its link to the network; try another server or \
                 again shortly"
            ),
        }
    }
}

/// The live counts of connections, shared by every listener.
#[derive(Debug)]
pub struct Admission {
    connect_rate: AddressRate,
    counts: Mutex<Counts>,
}

#[derive(Debug)]
struct Counts {
    /// The limits in force; a reload replaces them ([`Admission::update`]).
    settings: AddressLimits,
    total: usize,
    /// Connections per address key, for addresses that are not exempt; an address leaves the
    /// map with its last connection.
    per_address: HashMap<IpAddr, usize>,
}

/// A served connection's place in the counts, given back when it is dropped (the
/// connection's task ends).
#[derive(Debug)]
pub struct Admitted {
    admission: Arc<Admission>,
    /// The address key counted, unless exempt.
    counted: Option<IpAddr>,
}

impl Admission {
    pub fn new(settings: AddressLimits) -> Arc<Self> {
        Arc::new(Self {
            connect_rate: AddressRate::new(
                settings.connect_rate_per_address,
                settings.exempt.clone(),
            ),
            counts: Mutex::new(Counts {
                settings,
                total: 0,
                per_address: HashMap::new(),
            }),
        })
    }

    /// Takes new limits (a reload). Connections already served stay, even past a lowered
    /// limit; new ones are counted against the new limits.
    pub fn update(&self, settings: AddressLimits) {
        self.connect_rate
            .update(settings.connect_rate_per_address, settings.exempt.clone());
        lock(&self.counts).settings = settings;
    }

    /// Admits a connection from `address` at `now`, or says why not.
    pub fn admit(self: &Arc<Self>, address: IpAddr, now: Instant) -> Result<Admitted, Refusal> {
        let key = address_key(address);
        let mut counts = lock(&self.counts);
        let exempt = counts.settings.exempt.contains(address);
        if counts.total >= counts.settings.max_connections {
            return Err(Refusal::ServerFull);
        }
        if !exempt {
            let open = counts.per_address.get(&key).copied().unwrap_or(0);
            let limit = counts.settings.connections_per_address;
            if open >= limit {
                return Err(Refusal::PerAddress { limit });
            }
            // Counted only once the other limits let it through: a client refused for
            // holding too many connections does not also use up its connect rate.
            self.connect_rate
                .try_count(address, now)
                .map_err(|wait| Refusal::ConnectRate {
                    seconds: crate::session::whole_seconds(wait).max(1),
                })?;
            *counts.per_address.entry(key).or_default() += 1;
        }
        counts.total += 1;
        Ok(Admitted {
            admission: self.clone(),
            counted: (!exempt).then_some(key),
        })
    }

    /// How many connections are being served.
    #[cfg(test)]
    pub fn connections(&self) -> usize {
        lock(&self.counts).total
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = lock(&self.admission.counts);
        counts.total -= 1;
        if let Some(key) = self.counted
            && let std::collections::hash_map::Entry::Occupied(mut open) =
                counts.per_address.entry(key)
        {
            *open.get_mut() -= 1;
            if *open.get() == 0 {
                open.remove();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn settings() -> AddressLimits {
        AddressLimits {
            connections_per_address: 2,
            connect_rate_per_address: Some(Rate {
                count: 3,
                per: Duration::from_secs(60),
            }),
            max_connections: 5,
            account_registrations_per_address: None,
            room_creations_per_address: None,
            exempt: AddressList::loopback(),
        }
    }

    #[test]
    fn an_address_holds_at_most_its_share_and_gets_it_back_as_connections_close() {
        let admission = Admission::new(AddressLimits {
            max_connections: 100,
            ..settings()
        });
        let now = Instant::now();
        let first = admission.admit(ip("192.0.2.1"), now).unwrap();
        let _second = admission.admit(ip("192.0.2.1"), now).unwrap();
        assert_eq!(
            admission.admit(ip("192.0.2.1"), now).unwrap_err(),
            Refusal::PerAddress { limit: 2 }
        );
        // Another address, and another address in the same IPv6 /64.
        let _other = admission.admit(ip("192.0.2.2"), now).unwrap();
        let _v6 = admission.admit(ip("2001:db8::1"), now).unwrap();
        let _v6_same_64 = admission.admit(ip("2001:db8::2"), now).unwrap();
        assert_eq!(
            admission.admit(ip("2001:db8::3"), now).unwrap_err(),
            Refusal::PerAddress { limit: 2 }
        );
        drop(first);
        assert_eq!(admission.connections(), 4);
        admission.admit(ip("192.0.2.1"), now).unwrap();
    }

    #[test]
    fn an_address_may_open_connections_only_so_often() {
        let admission = Admission::new(settings());
        let now = Instant::now();
        for _ in 0..3 {
            drop(admission.admit(ip("192.0.2.1"), now).unwrap());
        }
        assert_eq!(
            admission.admit(ip("192.0.2.1"), now).unwrap_err(),
            Refusal::ConnectRate { seconds: 60 }
        );
        admission
            .admit(ip("192.0.2.1"), now + Duration::from_secs(60))
            .unwrap();
    }

    #[test]
    fn exempt_addresses_skip_the_per_address_limits_but_not_the_cap() {
        let admission = Admission::new(settings());
        let now = Instant::now();
        let held: Vec<_> = (0..5)
            .map(|_| admission.admit(ip("127.0.0.1"), now).unwrap())
            .collect();
        assert_eq!(
            admission.admit(ip("127.0.0.1"), now).unwrap_err(),
            Refusal::ServerFull
        );
        assert_eq!(
            admission.admit(ip("192.0.2.1"), now).unwrap_err(),
            Refusal::ServerFull
        );
        drop(held);
        assert_eq!(admission.connections(), 0);
        assert!(lock(&admission.counts).per_address.is_empty());
    }
}
