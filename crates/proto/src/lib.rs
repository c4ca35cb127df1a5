//! palaver's wire protocols, with no I/O: line framing, name rules, the protocol-neutral
//! [`event::Event`], and per-protocol parsing and formatting.
//!
//! Everything here is a pure function of its input so it can be unit-tested, property-tested
//! and fuzzed without a socket. The server, and later the client and the load generator, share
//! these types.

pub mod event;
pub mod framing;
pub mod irc;
pub mod mask;
pub mod modes;
pub mod multiline;
pub mod names;
pub mod proxy;
pub mod room_filter;
pub mod text;
pub mod time;
pub mod utf8;

use bytes::Bytes;

use irc::render::IrcFlavor;

/// How a recipient wants events rendered: its protocol and, for IRC, the capabilities that
/// change the bytes of a fanned-out line. The hub renders each event once per `Wire` present
/// among its recipients and shares the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Text,
    Irc(IrcFlavor),
}

impl Wire {
    /// How many distinct wires exist (for per-wire caches).
    pub const COUNT: usize = 1 + IrcFlavor::COUNT;

    /// A dense index below [`COUNT`](Self::COUNT).
    pub fn index(self) -> usize {
        match self {
            Wire::Text => 0,
            Wire::Irc(flavor) => 1 + flavor.index(),
        }
    }

    /// The wire whose [`index`](Self::index) is `index`; `None` from [`COUNT`](Self::COUNT) on.
    pub fn from_index(index: usize) -> Option<Self> {
        match index {
            0 => Some(Wire::Text),
            _ => IrcFlavor::from_index(index - 1).map(Wire::Irc),
        }
    }

    /// Renders `event` as the bytes a recipient with this wire gets, or `None` if such a
    /// recipient does not see it.
    pub fn render(self, event: &event::Event) -> Option<Bytes> {
        match self {
            Wire::Text => text::render_event(event),
            Wire::Irc(flavor) => irc::render::render_event(event, flavor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_is_found_again_by_its_index() {
        for index in 0..Wire::COUNT {
            let wire = Wire::from_index(index).expect("a wire");
            assert_eq!(wire.index(), index);
        }
        assert_eq!(Wire::from_index(Wire::COUNT), None);
    }
}
