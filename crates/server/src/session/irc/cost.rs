//! What each IRC command costs a client's flood budget (see `flood.rs`). Most lines cost 1;
//! a command that names several targets costs one per target, and the listings and history
//! queries that walk much of the server's state or the store cost more, so that a burst of
//! them is slowed as much as the work it causes.

/// The cost of a listing of users or rooms (`WHO`, `LIST`) and of a page of history.
const LISTING: u32 = 5;
/// The cost of a query about one user or room (`WHOIS`, `NAMES`, `WHOWAS`).
const QUERY: u32 = 2;

/// The cost of the raw IRC `line` (tags and source included); never 0.
pub(super) fn line_cost(line: &[u8]) -> u32 {
    let mut words = line
        .split(|&byte| byte == b' ')
        .filter(|word| !word.is_empty())
        .skip_while(|word| word.starts_with(b"@"))
        .skip_while(|word| word.starts_with(b":"));
    let Some(command) = words.next() else {
        return 1;
    };
    let first_parameter = words.next().unwrap_or_default();
    let is_one_of = |names: &[&[u8]]| names.iter().any(|name| command.eq_ignore_ascii_case(name));
    if is_one_of(&[b"JOIN", b"PART", b"PRIVMSG", b"NOTICE", b"TAGMSG"]) {
        count_listed(first_parameter)
    } else if is_one_of(&[b"WHO", b"LIST", b"CHATHISTORY"]) {
        LISTING
    } else if is_one_of(&[b"WHOIS", b"WHOWAS", b"NAMES"]) {
        QUERY
    } else {
        1
    }
}

/// How many comma-separated entries `parameter` names (`#a,#b,#c`: 3), at least 1.
fn count_listed(parameter: &[u8]) -> u32 {
    let entries = parameter
        .split(|&byte| byte == b',')
        .filter(|entry| !entry.is_empty());
    u32::try_from(entries.count()).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_lines_cost_one() {
        assert_eq!(line_cost(b"PRIVMSG #rust :hello, world"), 1);
        assert_eq!(line_cost(b"NICK alice"), 1);
        assert_eq!(line_cost(b"PONG :palaver.local"), 1);
        assert_eq!(line_cost(b""), 1);
        assert_eq!(line_cost(b"   "), 1);
    }

    #[test]
    fn each_room_or_target_named_costs_one() {
        assert_eq!(line_cost(b"JOIN #a,#b,#c"), 3);
        assert_eq!(line_cost(b"join #a,#b keya,keyb"), 2);
        assert_eq!(line_cost(b"JOIN 0"), 1);
        assert_eq!(line_cost(b"PRIVMSG alice,bob :hi"), 2);
        assert_eq!(line_cost(b"@label=x :alice!a@h PART #a,#b :bye"), 2);
        assert_eq!(line_cost(b"JOIN ,,,"), 1);
    }

    #[test]
    fn listings_and_history_cost_more() {
        assert_eq!(line_cost(b"WHO *"), LISTING);
        assert_eq!(line_cost(b"LIST"), LISTING);
        assert_eq!(line_cost(b"@label=1 CHATHISTORY LATEST #a * 50"), LISTING);
        assert_eq!(line_cost(b"WHOIS alice"), QUERY);
        assert_eq!(line_cost(b"NAMES #a"), QUERY);
    }
}
