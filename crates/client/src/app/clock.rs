//! Local time for the full-screen client: lines arrive stamped in UTC, as the text protocol
//! writes them (`[13:05:09] …`), and are shown stamped in the user's time zone and time
//! format (`time_format` in `connect.toml`, strftime's syntax), with a line where the day
//! changes, as irssi shows them. Pipe mode keeps the protocol's UTC.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use palaver_proto::time::Timestamp;

/// The width of a line's stamp as it arrives, `[HH:MM:SS] `.
const STAMP_BYTES: usize = 11;

/// How stamps read unless the configuration says otherwise: `13:05:09`.
pub const DEFAULT_TIME_FORMAT: &str = "%H:%M:%S";

/// The time zone and format lines are shown in.
#[derive(Debug, Clone)]
pub struct LocalTime {
    zone: TimeZone,
    format: String,
}

impl LocalTime {
    /// The system's time zone (`TZ`, else `/etc/localtime`); UTC if it cannot be found.
    pub fn system() -> Self {
        Self {
            zone: TimeZone::try_system().unwrap_or(TimeZone::UTC),
            format: DEFAULT_TIME_FORMAT.to_owned(),
        }
    }

    pub fn utc() -> Self {
        Self {
            zone: TimeZone::UTC,
            format: DEFAULT_TIME_FORMAT.to_owned(),
        }
    }

    /// A zone `hours` ahead of UTC (for tests: no time zone database needed).
    #[cfg(test)]
    pub fn fixed(hours: i8) -> Self {
        Self {
            zone: TimeZone::fixed(jiff::tz::offset(hours)),
            format: DEFAULT_TIME_FORMAT.to_owned(),
        }
    }

    /// Stamps in `format` (strftime's syntax, checked by [`check_format`]).
    pub fn with_format(mut self, format: &str) -> Self {
        self.format = format.to_owned();
        self
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
        let zoned = self.zoned(time);
        let local = jiff::fmt::strtime::format(&self.format, &zoned)
            .or_else(|_| jiff::fmt::strtime::format(DEFAULT_TIME_FORMAT, &zoned))
            .unwrap_or_default();
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

/// Whether `format` can stamp lines: valid strftime, on one line, and short enough for the
/// view to find where the stamp ends (`view::MAX_STAMP_BYTES`).
pub fn check_format(format: &str) -> Result<(), String> {
    let sample = jiff::Timestamp::UNIX_EPOCH.to_zoned_datetime(TimeZone::UTC);
    let stamp = jiff::fmt::strtime::format(format, &sample)
        .map_err(|error| format!("`time_format` {format:?} is not a time format: {error}"))?;
    if stamp.contains(['\n', '\r']) || stamp.contains("] ") {
        return Err(format!(
            "`time_format` {format:?} must stay on one line and not contain \"] \""
        ));
    }
    if stamp.len() > super::view::MAX_STAMP_BYTES {
        return Err(format!(
            "`time_format` {format:?} is too long: at most {} bytes once written",
            super::view::MAX_STAMP_BYTES
        ));
    }
    Ok(())
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

    #[test]
    fn the_time_format_is_the_user_s_if_it_can_stamp_a_line() {
        let line = "[23:05:09] #ops <alice> hello";
        let short = LocalTime::fixed(1).with_format("%H:%M");
        assert_eq!(short.restamp(line, LATE), "[00:05] #ops <alice> hello");
        let twelve = LocalTime::utc().with_format("%-I:%M %p");
        assert_eq!(twelve.restamp(line, LATE), "[11:05 PM] #ops <alice> hello");
        assert!(check_format("%H:%M").is_ok());
        assert!(
            check_format("%")
                .unwrap_err()
                .contains("is not a time format")
        );
        assert!(check_format("%H]\n").is_err());
        assert!(
            check_format(&"%Y".repeat(20))
                .unwrap_err()
                .contains("too long")
        );
    }
}
