//! IRCv3 capabilities the server offers (<https://ircv3.net/specs/extensions/capability-negotiation>)
//! and a compact set of them, cheap to read on every delivery.

/// The SASL mechanisms offered (the `sasl` capability's value, and `908 RPL_SASLMECHS`).
pub const SASL_MECHANISMS: &str = "PLAIN,SCRAM-SHA-256";
/// The SASL mechanisms offered by a server with TLS listeners, where clients can present a
/// certificate for EXTERNAL.
pub const SASL_MECHANISMS_WITH_EXTERNAL: &str = "PLAIN,SCRAM-SHA-256,EXTERNAL";

/// A capability a client can enable with `CAP REQ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cap {
    CapNotify,
    MessageTags,
    ServerTime,
    EchoMessage,
    Batch,
    LabeledResponse,
    MultiPrefix,
    UserhostInNames,
    AwayNotify,
    AccountNotify,
    ExtendedJoin,
    Setname,
    StandardReplies,
    InviteNotify,
    /// IRCv3 `draft/chathistory`.
    Chathistory,
    AccountTag,
    Sasl,
    /// IRCv3 `draft/account-registration`.
    AccountRegistration,
    /// IRCv3 `extended-monitor`: away, account and real-name changes of monitored users.
    ExtendedMonitor,
    /// IRCv3 `draft/multiline`: messages of several lines, in a batch.
    Multiline,
    /// IRCv3 `draft/message-redaction`: `REDACT`.
    MessageRedaction,
    /// IRCv3 `draft/read-marker`: `MARKREAD`.
    ReadMarker,
    /// IRCv3 `sts`: a policy the server advertises, never requested.
    Sts,
}

/// The value of `draft/multiline` in `CAP LS 302`: the limits of [`crate::multiline`].
const MULTILINE_VALUE: &str = "max-bytes=4096,max-lines=32";

impl Cap {
    /// Every capability, in the order `CAP LS` lists them.
    pub const ALL: [Cap; 23] = [
        Cap::AccountNotify,
        Cap::AccountTag,
        Cap::AwayNotify,
        Cap::Batch,
        Cap::CapNotify,
        Cap::AccountRegistration,
        Cap::Chathistory,
        Cap::MessageRedaction,
        Cap::Multiline,
        Cap::ReadMarker,
        Cap::EchoMessage,
        Cap::ExtendedJoin,
        Cap::ExtendedMonitor,
        Cap::InviteNotify,
        Cap::LabeledResponse,
        Cap::MessageTags,
        Cap::MultiPrefix,
        Cap::Sasl,
        Cap::ServerTime,
        Cap::Setname,
        Cap::StandardReplies,
        Cap::Sts,
        Cap::UserhostInNames,
    ];

    /// The name used in `CAP` messages.
    pub fn name(self) -> &'static str {
        match self {
            Cap::CapNotify => "cap-notify",
            Cap::MessageTags => "message-tags",
            Cap::ServerTime => "server-time",
            Cap::EchoMessage => "echo-message",
            Cap::Batch => "batch",
            Cap::LabeledResponse => "labeled-response",
            Cap::MultiPrefix => "multi-prefix",
            Cap::UserhostInNames => "userhost-in-names",
            Cap::AwayNotify => "away-notify",
            Cap::AccountNotify => "account-notify",
            Cap::ExtendedJoin => "extended-join",
            Cap::Setname => "setname",
            Cap::StandardReplies => "standard-replies",
            Cap::InviteNotify => "invite-notify",
            Cap::Chathistory => "draft/chathistory",
            Cap::AccountTag => "account-tag",
            Cap::Sasl => "sasl",
            Cap::AccountRegistration => "draft/account-registration",
            Cap::ExtendedMonitor => "extended-monitor",
            Cap::Multiline => "draft/multiline",
            Cap::MessageRedaction => "draft/message-redaction",
            Cap::ReadMarker => "draft/read-marker",
            Cap::Sts => "sts",
        }
    }

    /// The value advertised with the name in `CAP LS 302`.
    pub fn value(self) -> Option<&'static str> {
        match self {
            Cap::Sasl => Some(SASL_MECHANISMS),
            Cap::Multiline => Some(MULTILINE_VALUE),
            _ => None,
        }
    }

    /// The capability called `name` (case-sensitive, as the specification says).
    pub fn from_name(name: &str) -> Option<Cap> {
        Cap::ALL.into_iter().find(|cap| cap.name() == name)
    }

    /// The capability's bit in a [`CapSet`].
    fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// A set of capabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSet(u32);

impl CapSet {
    pub const EMPTY: CapSet = CapSet(0);

    pub fn contains(self, cap: Cap) -> bool {
        self.0 & cap.bit() != 0
    }

    pub fn insert(&mut self, cap: Cap) {
        self.0 |= cap.bit();
    }

    pub fn remove(&mut self, cap: Cap) {
        self.0 &= !cap.bit();
    }

    /// The raw bits, for storing in an atomic.
    pub fn bits(self) -> u32 {
        self.0
    }

    pub fn from_bits(bits: u32) -> CapSet {
        CapSet(bits)
    }

    /// The enabled capabilities in `CAP LS` order.
    pub fn iter(self) -> impl Iterator<Item = Cap> {
        Cap::ALL.into_iter().filter(move |cap| self.contains(*cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bits_are_distinct() {
        let mut all = CapSet::EMPTY;
        for cap in Cap::ALL {
            assert_eq!(Cap::from_name(cap.name()), Some(cap));
            assert!(!all.contains(cap));
            all.insert(cap);
        }
        assert_eq!(all.iter().count(), Cap::ALL.len());
        all.remove(Cap::Batch);
        assert!(!all.contains(Cap::Batch));
        assert_eq!(Cap::from_name("bogus"), None);
    }

    #[test]
    fn the_multiline_value_announces_the_limits_enforced() {
        use crate::multiline::{MAX_BYTES, MAX_LINES};
        assert_eq!(
            Cap::Multiline.value(),
            Some(format!("max-bytes={MAX_BYTES},max-lines={MAX_LINES}").as_str())
        );
    }
}
