//! Local time for the full-screen client: lines arrive stamped in UTC, as the text protocol
//! writes them (`[13:05:09] …`), and are shown stamped in the user's time zone, with a line
//! where the day changes, as irssi shows them. Pipe mode keeps the protocol's UTC.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use palaver_proto::time::Timestamp;

/// The width of a line's stamp, `[HH:MM:SS] `.
const STAMP_BYTES: usize = 11;

/// The time zone lines are shown in.
#[derive(Debug, Clone)]
pub struct LocalTime {
    zone: TimeZone,
}

impl LocalTime {
    /// The system's time zone (`TZ`, else `/etc/localtime`); UTC if it cannot be found.
    pub fn system() -> Self {
        Self {
            zone: TimeZone::try_system().unwrap_or(TimeZone::UTC),
        }
    }

    pub fn utc() -> Self {
        Self {
            zone: TimeZone::UTC,
        }
    }

    /// A zone `hours` ahead of UTC (for tests: no time zone database needed).
    #[cfg(test)]
    pub fn fixed(hours: i8) -> Self {
        Self {
            zone: TimeZone::fixed(jiff::tz::offset(hours)),
        }
    }

    /// `line` with its stamp (`[HH:MM:SS] `, UTC) showing `time` in this zone instead; a line
    /// without a stamp as it is.
    pub fn restamp(&self, line: &str, time: Timestamp) -> String {
        let stamped = line.len() >= STAMP_BYTES
            && line.starts_with('[')
            && line.as_bytes()[STAMP_BYTES - 2] == b']';
        if !stamped {
            return line.to_owned();
        }
        let local = self.zoned(time).strftime("%H:%M:%S");
        format!("[{local}]{}", &line[STAMP_BYTES - 1..])
    }

    /// The day `time` falls on here.
    pub fn day(&self, time: Timestamp) -> Date {
        self.zoned(time).date()
    }

    /// The line that says the day changed to `day`.
    pub fn day_line(day: Date) -> String {
        format!("-- day changed to {}", day.strftime("%A %-d %B %Y"))
    }

    fn zoned(&self, time: Timestamp) -> jiff::ZonedDateTime {
        let millis = i64::try_from(time.0).unwrap_or(i64::MAX);
        jiff::Timestamp::from_millisecond(millis)
            .unwrap_or(jiff::Timestamp::MAX)
            .to_zoned_datetime(self.zone.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22T23:05:09.250Z.
    const LATE: Timestamp = Timestamp(1_795_388_709_250);

    #[test]
    fn stamps_show_the_zone_s_time_and_day() {
        let line = "[23:05:09] #ops <alice> hello";
        assert_eq!(LocalTime::utc().restamp(line, LATE), line);
        let paris = LocalTime::fixed(1);
        assert_eq!(paris.restamp(line, LATE), "[00:05:09] #ops <alice> hello");
        assert_eq!(
            LocalTime::fixed(-5).restamp(line, LATE),
            "[18:05:09] #ops <alice> hello"
        );
        assert_eq!(paris.restamp("no stamp", LATE), "no stamp");
        assert_eq!(paris.day(LATE), jiff::civil::date(2026, 11, 23));
        assert_eq!(LocalTime::utc().day(LATE), jiff::civil::date(2026, 11, 22));
        assert_eq!(
            LocalTime::day_line(jiff::civil::date(2026, 11, 23)),
            "-- day changed to Monday 23 November 2026"
        );
    }
}
