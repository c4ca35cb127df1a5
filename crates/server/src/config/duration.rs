//! Durations as the configuration spells them everywhere (file, flags, environment): a number
//! and a unit, such as `"90s"`, `"5m"`, `"12h"` or `"90d"`, in humantime's syntax (which also
//! takes `"1h 30m"`, `"2weeks"` or `"500ms"`).

use std::time::Duration;

use super::ConfigError;

/// What a duration looks like, for error messages.
pub const EXAMPLES: &str = "\"90s\", \"5m\" or \"90d\"";

/// Parses a duration such as `"90s"`, `"5m"` or `"90d"`. A bare number is an error: the unit
/// is never implied.
pub fn parse_duration(text: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(text.trim())
}

/// Writes `duration` the way [`parse_duration`] reads it, in the largest unit that keeps it
/// whole: `"90d"`, `"2m"`, `"5s"`, `"250ms"`.
pub fn format_duration(duration: Duration) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    if duration.subsec_nanos() == 0 {
        let seconds = duration.as_secs();
        if seconds == 0 {
            return "0s".to_owned();
        }
        for (unit_seconds, unit) in UNITS {
            if seconds.is_multiple_of(unit_seconds) {
                return format!("{}{unit}", seconds / unit_seconds);
            }
        }
    }
    humantime::format_duration(duration).to_string()
}

/// The duration the file gives for `key` (named as `[section] key` in errors): a string in
/// [`parse_duration`]'s syntax.
pub fn from_value(key: &str, value: &toml::Value) -> Result<Duration, ConfigError> {
    let invalid = |why: String| {
        ConfigError::Invalid(format!(
            "{key} must be a duration in quotes, such as {EXAMPLES}, not {value}{why}"
        ))
    };
    match value {
        toml::Value::String(text) => {
            parse_duration(text).map_err(|error| invalid(format!(" ({error})")))
        }
        _ => Err(invalid(String::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_number_and_a_unit() {
        let seconds = |text: &str| parse_duration(text).map(|duration| duration.as_secs());
        assert_eq!(seconds("90s").unwrap(), 90);
        assert_eq!(seconds("5m").unwrap(), 300);
        assert_eq!(seconds("12h").unwrap(), 43_200);
        assert_eq!(seconds("90d").unwrap(), 90 * 86_400);
        assert_eq!(seconds("1h 30m").unwrap(), 5400);
        assert_eq!(seconds(" 2weeks ").unwrap(), 14 * 86_400);
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "s", "90", "-1s", "5 parsecs", "1d!"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formats_in_the_largest_whole_unit_and_reads_back() {
        for (seconds, text) in [
            (0, "0s"),
            (5, "5s"),
            (60, "1m"),
            (90, "90s"),
            (120, "2m"),
            (7200, "2h"),
            (90 * 86_400, "90d"),
        ] {
            let duration = Duration::from_secs(seconds);
            assert_eq!(format_duration(duration), text);
            assert_eq!(parse_duration(text).unwrap(), duration);
        }
        let odd = Duration::from_millis(1500);
        assert_eq!(parse_duration(&format_duration(odd)).unwrap(), odd);
    }

    #[test]
    fn a_file_value_must_be_a_quoted_duration() {
        let value = |text: &str| -> toml::Value { toml::from_str(&format!("v = {text}")).unwrap() };
        let read = |text: &str| from_value("[irc] ping_interval", &value(text)["v"]);
        assert_eq!(read("\"2m\"").unwrap(), Duration::from_secs(120));
        let error = read("120").unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid setting: [irc] ping_interval must be a duration in quotes, such as \
             \"90s\", \"5m\" or \"90d\", not 120"
        );
        let error = read("\"120\"").unwrap_err().to_string();
        assert!(
            error.starts_with(
                "invalid setting: [irc] ping_interval must be a duration in quotes, such as \
                 \"90s\", \"5m\" or \"90d\", not \"120\" ("
            ),
            "{error}"
        );
    }
}
