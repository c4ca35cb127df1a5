//! What the clients counted of the messages due in the measured window: latency histograms
//! over the whole window and per second of it, deliveries and duplicates. Each client gathers
//! its deliveries in a `Batch` and merges it under one lock once per read from the socket (not
//! once per line), so counting costs the generator little even at hundreds of thousands of
//! deliveries a second.

use std::collections::HashMap;

use hdrhistogram::Histogram;

/// One message received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// When it arrived, in microseconds since the run began.
    pub received_us: u64,
    /// Since it was sent.
    pub latency_us: u64,
    /// Since it was due (in a closed loop, when it was sent).
    pub schedule_latency_us: u64,
    /// Its sender is connected to another server (node) than its receiver.
    pub across_servers: bool,
}

/// A client's deliveries not yet merged into the [`Counts`].
#[derive(Debug, Default)]
pub struct Batch {
    pub deliveries: Vec<Delivery>,
    pub duplicates: u64,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.deliveries.is_empty() && self.duplicates == 0
    }

    pub fn clear(&mut self) {
        self.deliveries.clear();
        self.duplicates = 0;
    }
}

/// The sequence numbers one client has seen from each sender, to tell duplicates.
#[derive(Debug, Default)]
pub struct Seen {
    /// The highest sequence number seen from each sender: a sender's messages arrive in the
    /// order it sent them (one TCP stream in, one out), so anything at or below it is a copy.
    highest: HashMap<usize, u64>,
}

impl Seen {
    /// Whether message `sequence` of `sender` is new (and remembers it).
    pub fn first_time(&mut self, sender: usize, sequence: u64) -> bool {
        let highest = self.highest.entry(sender).or_insert(0);
        if sequence <= *highest {
            return false;
        }
        *highest = sequence;
        true
    }
}

/// Everything counted, merged.
pub struct Counts {
    /// Delivery latency from the actual send, in microseconds.
    pub latency: Histogram<u64>,
    /// Delivery latency from when each message was due: includes any time its sender fell
    /// behind its schedule, which a latency from the send would hide (coordinated omission).
    pub schedule_latency: Histogram<u64>,
    /// [`Self::latency`] split by whether sender and receiver are connected to the same
    /// server: with several `--addr`s (a cluster's nodes), what crossing from one node to
    /// another adds.
    pub same_server_latency: Histogram<u64>,
    pub across_servers_latency: Histogram<u64>,
    pub deliveries: u64,
    pub duplicates: u64,
    /// Latency from the send of the deliveries received in each second since `origin_us`,
    /// coarser (two significant digits) to stay small over a long run.
    pub per_second: Vec<Histogram<u64>>,
    /// Where the seconds of `per_second` count from (the measured window's start), in
    /// microseconds since the run began.
    origin_us: u64,
}

impl Counts {
    pub fn new(origin_us: u64) -> Self {
        Self {
            latency: latency_histogram(),
            schedule_latency: latency_histogram(),
            same_server_latency: latency_histogram(),
            across_servers_latency: latency_histogram(),
            deliveries: 0,
            duplicates: 0,
            per_second: Vec::new(),
            origin_us,
        }
    }

    pub fn add(&mut self, batch: &Batch) {
        self.duplicates += batch.duplicates;
        for delivery in &batch.deliveries {
            self.deliveries += 1;
            let _ = self.latency.record(delivery.latency_us.max(1));
            let by_server = if delivery.across_servers {
                &mut self.across_servers_latency
            } else {
                &mut self.same_server_latency
            };
            let _ = by_server.record(delivery.latency_us.max(1));
            let _ = self
                .schedule_latency
                .record(delivery.schedule_latency_us.max(1));
            let second = (delivery.received_us.saturating_sub(self.origin_us) / 1_000_000) as usize;
            if self.per_second.len() <= second {
                self.per_second.resize_with(second + 1, || {
                    Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).expect("valid bounds")
                });
            }
            let _ = self.per_second[second].record(delivery.latency_us.max(1));
        }
    }
}

/// The longest latency a histogram holds: an hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A histogram of latencies in microseconds up to an hour, to three significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_copies_are_duplicates() {
        let mut seen = Seen::default();
        assert!(seen.first_time(1, 1));
        assert!(seen.first_time(1, 2));
        assert!(!seen.first_time(1, 2));
        assert!(!seen.first_time(1, 1));
        assert!(seen.first_time(2, 1));
        // A lost message is a gap, not a duplicate.
        assert!(seen.first_time(1, 5));
    }

    #[test]
    fn batches_merge_into_seconds_of_the_window() {
        let mut counts = Counts::new(10_000_000);
        let delivery = |received_us, latency_us| Delivery {
            received_us,
            latency_us,
            schedule_latency_us: latency_us + 5,
            across_servers: latency_us > 1_000,
        };
        let batch = Batch {
            deliveries: vec![
                delivery(10_000_100, 100),
                delivery(10_999_999, 300),
                delivery(12_500_000, 2_000),
            ],
            duplicates: 2,
        };
        counts.add(&batch);
        counts.add(&batch);
        assert_eq!(counts.deliveries, 6);
        assert_eq!(counts.duplicates, 4);
        assert_eq!(counts.per_second.len(), 3);
        assert_eq!(counts.per_second[0].len(), 4);
        assert_eq!(counts.per_second[1].len(), 0);
        assert_eq!(counts.per_second[2].len(), 2);
        assert_eq!(counts.schedule_latency.min(), 105);
        // Split by whether the delivery crossed from one server to another.
        assert_eq!(counts.same_server_latency.len(), 4);
        assert_eq!(counts.across_servers_latency.len(), 2);
        assert_eq!(counts.across_servers_latency.min(), 2_000);
    }
}
