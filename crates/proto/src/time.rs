//! Server timestamps.
//!
//! Every message and event is stamped once, by the hub, with the server's UTC clock; protocols
//! only format the stamp. Milliseconds are kept because IRCv3 `server-time` shows them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time as milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The server's clock now. A clock set before 1970 reads as the epoch rather than failing.
    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }

    /// Hours, minutes and seconds of the day, UTC.
    pub fn hms(self) -> (u8, u8, u8) {
        let seconds_of_day = (self.0 / 1000) % 86_400;
        // Each value is below 60 (or 24), so the narrowing casts cannot truncate.
        (
            (seconds_of_day / 3600) as u8,
            (seconds_of_day / 60 % 60) as u8,
            (seconds_of_day % 60) as u8,
        )
    }

    /// The stamp in the text protocol's form, `[HH:MM:SS]`.
    pub fn bracketed_hms(self) -> [u8; 10] {
        let (h, m, s) = self.hms();
        let digit = |value: u8, tens: bool| b'0' + if tens { value / 10 } else { value % 10 };
        [
            b'[',
            digit(h, true),
            digit(h, false),
            b':',
            digit(m, true),
            digit(m, false),
            b':',
            digit(s, true),
            digit(s, false),
            b']',
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_time_of_day() {
        // 2026-11-22T13:05:09.250Z
        let stamp = Timestamp(1_795_352_709_250);
        assert_eq!(stamp.hms(), (13, 5, 9));
        assert_eq!(&stamp.bracketed_hms(), b"[13:05:09]");
        assert_eq!(&Timestamp(0).bracketed_hms(), b"[00:00:00]");
        assert_eq!(&Timestamp(86_399_999).bracketed_hms(), b"[23:59:59]");
    }
}
