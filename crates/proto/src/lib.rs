//! palaver's wire protocols, with no I/O: line framing, name rules, the protocol-neutral
//! [`event::Event`], and per-protocol parsing and formatting.
//!
//! Everything here is a pure function of its input so it can be unit-tested, property-tested
//! and fuzzed without a socket. The server, and later the client and the load generator, share
//! these types.

pub mod event;
pub mod framing;
pub mod names;
pub mod text;
pub mod time;

/// The protocols a connection can speak. The hub renders each event once per protocol present
/// among its recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Text,
}

impl Protocol {
    /// Every protocol, in index order.
    pub const ALL: [Protocol; 1] = [Protocol::Text];

    /// A dense index, for per-protocol caches.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Renders `event` as the bytes this protocol sends for it.
    pub fn render(self, event: &event::Event) -> bytes::Bytes {
        match self {
            Protocol::Text => text::render_event(event),
        }
    }
}
