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

impl Timestamp {
    /// The stamp as IRCv3 `server-time` wants it: ISO 8601 in UTC with milliseconds,
    /// `2026-11-22T13:05:09.250Z`.
    pub fn iso8601(self) -> String {
        let days = (self.0 / 86_400_000) as i64;
        let (year, month, day) = civil_from_days(days);
        let (h, m, s) = self.hms();
        let millis = self.0 % 1000;
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
    }
}

impl Timestamp {
    /// Parses the `server-time` form, `2026-11-22T13:05:09.250Z` (milliseconds optional).
    /// Years run from 1970 to 9999 (four digits, as ISO 8601 writes them without agreement
    /// between the parties); anything else is `None`, so a client's timestamp can never
    /// overflow the arithmetic below.
    pub fn parse_iso8601(text: &str) -> Option<Timestamp> {
        let text = text.strip_suffix('Z')?;
        let (date, time) = text.split_once('T')?;
        let mut date_parts = date.splitn(3, '-');
        let year: i64 = date_parts.next()?.parse().ok()?;
        let month: u32 = date_parts.next()?.parse().ok()?;
        let day: u32 = date_parts.next()?.parse().ok()?;
        let (clock, millis) = match time.split_once('.') {
            Some((clock, fraction)) if !fraction.is_empty() && fraction.len() <= 3 => {
                let digits: u64 = fraction.parse().ok()?;
                (clock, digits * 10u64.pow(3 - fraction.len() as u32))
            }
            Some(_) => return None,
            None => (time, 0),
        };
        let mut clock_parts = clock.splitn(3, ':');
        let hours: u64 = clock_parts.next()?.parse().ok()?;
        let minutes: u64 = clock_parts.next()?.parse().ok()?;
        let seconds: u64 = clock_parts.next()?.parse().ok()?;
        let valid = (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && hours < 24
            && minutes < 60
            && seconds < 61;
        if !valid || !(1970..=9999).contains(&year) {
            return None;
        }
        let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
        let seconds = days
            .checked_mul(86_400)?
            .checked_add(hours * 3600 + minutes * 60 + seconds)?;
        Some(Timestamp(seconds.checked_mul(1000)?.checked_add(millis)?))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`]).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, <https://howardhinnant.github.io/date_algorithms.html>).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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

    #[test]
    fn formats_iso8601() {
        assert_eq!(
            Timestamp(1_795_352_709_250).iso8601(),
            "2026-11-22T13:05:09.250Z"
        );
        assert_eq!(Timestamp(0).iso8601(), "1970-01-01T00:00:00.000Z");
        // A leap day and the last millisecond of a year.
        assert_eq!(
            Timestamp(951_782_400_000).iso8601(),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp(1_735_689_599_999).iso8601(),
            "2024-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn parses_iso8601_back() {
        for millis in [0, 951_782_400_000, 1_735_689_599_999, 1_795_352_709_250] {
            let stamp = Timestamp(millis);
            assert_eq!(Timestamp::parse_iso8601(&stamp.iso8601()), Some(stamp));
        }
        assert_eq!(
            Timestamp::parse_iso8601("2026-11-22T13:05:09Z"),
            Some(Timestamp(1_795_352_709_000))
        );
        assert_eq!(
            Timestamp::parse_iso8601("2026-11-22T13:05:09.5Z"),
            Some(Timestamp(1_795_352_709_500))
        );
        assert_eq!(
            Timestamp::parse_iso8601("9999-12-31T23:59:59.999Z"),
            Some(Timestamp(253_402_300_799_999))
        );
        for bad in [
            "",
            "1969-12-31T23:59:59Z",
            "10000-01-01T00:00:00Z",
            "9223372036854775807-01-01T00:00:00Z",
            "-9223372036854775808-01-01T00:00:00Z",
            "2026-11-22",
            "2026-11-22T13:05:09",
            "2026-13-22T13:05:09Z",
            "x-y-zTa:b:cZ",
        ] {
            assert_eq!(Timestamp::parse_iso8601(bad), None, "{bad}");
        }
    }
}
