//! Which rooms a room listing shows: IRC `LIST` and the text protocol's `/rooms` take the same
//! filters, the conditions IRC servers advertise with the `ELIST` token (modern.ircdocs.horse,
//! "ELIST parameter"):
//!
//! | Filter | Lists the rooms | `ELIST` |
//! | --- | --- | --- |
//! | `#room`, `*mask*` | named, or whose name matches the glob (any of several) | `M` |
//! | `!*mask*` | whose name does not match the glob (none of several) | `N` |
//! | `>N`, `<N` | with more, or fewer, than N members | `U` |
//! | `C>N`, `C<N` | created more, or less, than N minutes ago | `C` |
//! | `T>N`, `T<N` | whose topic was set more, or less, than N minutes ago (a room without a topic never matches) | `T` |
//!
//! Filters are given as words separated by commas (IRC) or spaces (text); a room is listed if
//! it passes every condition and negative mask, and matches one of the names and masks if any
//! are given. Names and masks compare ignoring ASCII case. A word that is not a well-formed
//! condition is taken as a mask (so `>x` lists nothing: no room name starts with `>`).

use crate::mask;
use crate::names::fold;
use crate::time::Timestamp;

/// The `ELIST` value: every kind of filter above.
pub const ELIST: &str = "CMNTU";

/// What a filter needs to know of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomFacts<'a> {
    pub name: &'a str,
    pub members: usize,
    pub created: Timestamp,
    /// When its topic was set; `None` without a topic.
    pub topic_set: Option<Timestamp>,
}

/// A comparison against a number: more than, or fewer than.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Above(u64),
    Below(u64),
}

impl Bound {
    fn holds(self, value: u64) -> bool {
        match self {
            Bound::Above(limit) => value > limit,
            Bound::Below(limit) => value < limit,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Members(Bound),
    /// Age of the room in minutes.
    CreatedMinutesAgo(Bound),
    /// Age of the topic in minutes.
    TopicMinutesAgo(Bound),
    /// The name must not match this (folded) glob.
    NotNamed(String),
}

/// A parsed set of filters; the empty filter lists every room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomFilter {
    /// Folded names and globs, one of which the name must match (if any).
    names: Vec<String>,
    conditions: Vec<Condition>,
}

impl RoomFilter {
    /// Parses filter words (empty words are ignored).
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        let mut filter = Self::default();
        for word in words.into_iter().filter(|word| !word.is_empty()) {
            match condition(word) {
                Some(condition) => filter.conditions.push(condition),
                None => filter.names.push(fold(word)),
            }
        }
        filter
    }

    /// Whether the filter lists every room.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.conditions.is_empty()
    }

    /// Whether `room` is listed, `now` being the time of the listing.
    pub fn matches(&self, room: &RoomFacts, now: Timestamp) -> bool {
        let name = fold(room.name);
        let minutes_since = |then: Timestamp| now.0.saturating_sub(then.0);
        let named =
            self.names.is_empty() || self.names.iter().any(|glob| mask::matches(glob, &name));
        named
            && self.conditions.iter().all(|condition| match condition {
                Condition::Members(bound) => bound.holds(room.members as u64),
                Condition::CreatedMinutesAgo(bound) => {
                    holds_in_minutes(*bound, minutes_since(room.created))
                }
                Condition::TopicMinutesAgo(bound) => room
                    .topic_set
                    .is_some_and(|set| holds_in_minutes(*bound, minutes_since(set))),
                Condition::NotNamed(glob) => !mask::matches(glob, &name),
            })
    }
}

/// Compares an age in milliseconds against a bound in minutes, exactly (a room created 30
/// seconds ago is less than 1 minute old and more than 0 minutes old).
fn holds_in_minutes(bound: Bound, age_millis: u64) -> bool {
    let millis = |minutes: u64| minutes.saturating_mul(60_000);
    match bound {
        Bound::Above(minutes) => age_millis > millis(minutes),
        Bound::Below(minutes) => age_millis < millis(minutes),
    }
}

/// The condition `word` spells, if it is one.
fn condition(word: &str) -> Option<Condition> {
    if let Some(glob) = word.strip_prefix('!') {
        return Some(Condition::NotNamed(fold(glob)));
    }
    let (make, rest): (fn(Bound) -> Condition, &str) = match word.as_bytes() {
        [b'C' | b'c', b'<' | b'>', ..] => (Condition::CreatedMinutesAgo, &word[1..]),
        [b'T' | b't', b'<' | b'>', ..] => (Condition::TopicMinutesAgo, &word[1..]),
        _ => (Condition::Members, word),
    };
    let bound = if let Some(number) = rest.strip_prefix('>') {
        Bound::Above(number.parse().ok()?)
    } else {
        Bound::Below(rest.strip_prefix('<')?.parse().ok()?)
    };
    Some(make(bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;
    const NOW: Timestamp = Timestamp(100 * MINUTE);

    fn room(name: &str, members: usize) -> RoomFacts<'_> {
        RoomFacts {
            name,
            members,
            created: Timestamp(NOW.0 - 5 * MINUTE),
            topic_set: None,
        }
    }

    fn listed<'a>(filter: &str, rooms: &[RoomFacts<'a>]) -> Vec<&'a str> {
        let filter = RoomFilter::parse(filter.split(','));
        rooms
            .iter()
            .filter(|room| filter.matches(room, NOW))
            .map(|room| room.name)
            .collect()
    }

    #[test]
    fn names_and_masks_list_any_match_ignoring_case() {
        let rooms = [room("#chan1", 1), room("#Chan2", 2), room("#other", 1)];
        assert_eq!(listed("", &rooms), ["#chan1", "#Chan2", "#other"]);
        assert_eq!(listed("*an1", &rooms), ["#chan1"]);
        assert_eq!(listed("#c*n2", &rooms), ["#Chan2"]);
        assert_eq!(listed("#CH*", &rooms), ["#chan1", "#Chan2"]);
        assert_eq!(listed("*an3", &rooms), Vec::<&str>::new());
        assert_eq!(listed("#chan1,#OTHER", &rooms), ["#chan1", "#other"]);
        assert_eq!(listed("#nope", &rooms), Vec::<&str>::new());
    }

    #[test]
    fn negative_masks_exclude_every_match() {
        let rooms = [room("#chan1", 1), room("#chan2", 1), room("#other", 1)];
        assert_eq!(listed("!*an1", &rooms), ["#chan2", "#other"]);
        assert_eq!(listed("!#ch*", &rooms), ["#other"]);
        assert_eq!(listed("!*an1,!*an2", &rooms), ["#other"]);
        assert_eq!(listed("#ch*,!*2", &rooms), ["#chan1"]);
    }

    #[test]
    fn member_counts_are_strict_bounds() {
        let rooms = [room("#one", 1), room("#two", 2)];
        assert_eq!(listed(">0", &rooms), ["#one", "#two"]);
        assert_eq!(listed(">1", &rooms), ["#two"]);
        assert_eq!(listed("<1", &rooms), Vec::<&str>::new());
        assert_eq!(listed("<2", &rooms), ["#one"]);
        assert_eq!(listed(">0,<100", &rooms), ["#one", "#two"]);
    }

    #[test]
    fn creation_and_topic_times_count_minutes_ago() {
        let old = RoomFacts {
            name: "#old",
            members: 1,
            created: Timestamp(NOW.0 - 3 * MINUTE),
            topic_set: Some(Timestamp(NOW.0 - 3 * MINUTE)),
        };
        let new = RoomFacts {
            name: "#new",
            members: 1,
            created: Timestamp(NOW.0 - MINUTE / 2),
            topic_set: Some(Timestamp(NOW.0 - MINUTE / 2)),
        };
        let bare = RoomFacts {
            name: "#bare",
            topic_set: None,
            ..new
        };
        let rooms = [old, new, bare];
        assert_eq!(listed("C>2", &rooms), ["#old"]);
        assert_eq!(listed("C<2", &rooms), ["#new", "#bare"]);
        assert_eq!(listed("C<0", &rooms), Vec::<&str>::new());
        assert_eq!(listed("C>0", &rooms), ["#old", "#new", "#bare"]);
        assert_eq!(listed("T>2", &rooms), ["#old"]);
        assert_eq!(listed("t<2", &rooms), ["#new"]);
        assert_eq!(listed("T>0", &rooms), ["#old", "#new"]);
        assert_eq!(listed("T<10,C>1", &rooms), ["#old"]);
    }

    #[test]
    fn malformed_conditions_are_masks_that_match_nothing() {
        let rooms = [room("#one", 1)];
        for word in [">x", "<", "C>", "T<-1", ">1.5"] {
            assert_eq!(listed(word, &rooms), Vec::<&str>::new(), "{word}");
        }
        assert!(RoomFilter::parse(["", ""]).is_empty());
        assert!(!RoomFilter::parse([">1"]).is_empty());
    }
}
