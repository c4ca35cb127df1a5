//! Settings still read under an old name or in an old form, and the warning each one earns.
//!
//! A renamed setting may be given under either name, never both. Every old spelling found is
//! returned by [`Config::resolve_noting_deprecations`](super::Config::resolve_noting_deprecations)
//! and logged at start-up by [`Config::resolve`](super::Config::resolve), with the spelling that
//! replaces it.

use std::fmt;
use std::time::Duration;

use super::{ConfigError, duration};

/// One old spelling in use, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecation {
    /// What was given, as given: `[irc] ping_interval_seconds = 120`,
    /// `--shutdown-grace-seconds 10`.
    pub old: String,
    /// The same setting in today's spelling: `[irc] ping_interval = "2m"`.
    pub new: String,
}

impl Deprecation {
    pub fn new(old: impl Into<String>, new: impl Into<String>) -> Self {
        Self {
            old: old.into(),
            new: new.into(),
        }
    }
}

impl fmt::Display for Deprecation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is deprecated; write {} instead", self.old, self.new)
    }
}

/// A count given under its current key `new_key` or its old key `old_key`; an error if both
/// were, and a [`Deprecation`] noted if the old one was.
pub fn renamed_count(
    new_key: &str,
    new: Option<usize>,
    old_key: &str,
    old: Option<usize>,
    deprecations: &mut Vec<Deprecation>,
) -> Result<Option<usize>, ConfigError> {
    if let Some(count) = old {
        deprecations.push(Deprecation::new(
            format!("{old_key} = {count}"),
            format!("{new_key} = {count}"),
        ));
    }
    either(new_key, new, old_key, old)
}

/// A duration given under its current key `new_key` (a string such as `"2m"`) or its old key
/// `old_key` (whole seconds); an error if both were, and a [`Deprecation`] noted if the old
/// one was.
pub fn seconds_renamed(
    new_key: &str,
    new: Option<&toml::Value>,
    old_key: &str,
    old_seconds: Option<u64>,
    deprecations: &mut Vec<Deprecation>,
) -> Result<Option<Duration>, ConfigError> {
    let new = new
        .map(|value| duration::from_value(new_key, value))
        .transpose()?;
    let old = old_seconds.map(Duration::from_secs);
    if let Some(old) = old {
        deprecations.push(Deprecation::new(
            format!("{old_key} = {}", old.as_secs()),
            format!("{new_key} = \"{}\"", duration::format_duration(old)),
        ));
    }
    either(new_key, new, old_key, old)
}

/// The value under the current key or the old one; never both, since which should win would
/// be a guess.
fn either<T>(
    new_key: &str,
    new: Option<T>,
    old_key: &str,
    old: Option<T>,
) -> Result<Option<T>, ConfigError> {
    match (new, old) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid(format!(
            "give either {new_key} or the deprecated {old_key}, not both"
        ))),
        (new, old) => Ok(new.or(old)),
    }
}
