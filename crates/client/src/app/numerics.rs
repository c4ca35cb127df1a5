//! Numeric replies that read badly as their parameters joined (`robert 8 1796146619 seconds
//! idle, signon time`), said as sentences instead: `WHOIS`'s and the counts of `LUSERS`.
//! Numerics not named here are shown as their parameters joined; the room list (`LIST`) has
//! a window of its own (`state.rs`).

use palaver_proto::time::Timestamp;

/// `code`'s parameters (the first, our own nick, included) as a sentence, if it is one of
/// the numerics said that way. `now` dates `WHOIS`'s sign-on time.
pub fn sentence(code: &str, params: &[String], now: Timestamp) -> Option<String> {
    let params: Vec<&str> = params.iter().map(String::as_str).collect();
    let sentence = match (code, params.as_slice()) {
        ("311", [_, nick, user, host, _, realname]) => {
            format!("{nick} is {user}@{host} ({realname})")
        }
        ("312", [_, nick, server, info]) => format!("{nick} is on {server} ({info})"),
        ("313", [_, nick, ..]) => format!("{nick} is a server operator"),
        ("317", [_, nick, idle, signon, ..]) => {
            let idle = idle
                .parse()
                .ok()
                .map_or_else(|| (*idle).to_owned(), duration);
            let since = signon
                .parse::<u64>()
                .ok()
                .map(|signon| duration((now.0 / 1000).saturating_sub(signon)));
            match since {
                Some(since) => format!("{nick} has been idle {idle}, connected {since} ago"),
                None => format!("{nick} has been idle {idle}"),
            }
        }
        ("319", [_, nick, rooms]) => format!("{nick} is in {}", rooms.trim_end()),
        ("330", [_, nick, account, ..]) => format!("{nick} is logged in as {account}"),
        ("671", [_, nick, ..]) => format!("{nick} is on a secure connection"),
        ("252" | "253" | "254", [_, count, text]) => format!("{count} {text}"),
        _ => return None,
    };
    Some(sentence)
}

/// `seconds` as people say it: `8 s`, `3 min`, `2 h 5 min`, `3 d 4 h`.
fn duration(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, minutes) => format!("{minutes} min"),
        (0, hours, 0) => format!("{hours} h"),
        (0, hours, minutes) => format!("{hours} h {minutes} min"),
        (days, 0, _) => format!("{days} d"),
        (days, hours, _) => format!("{days} d {hours} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(code: &str, params: &[&str]) -> Option<String> {
        let params: Vec<String> = params.iter().map(|param| (*param).to_owned()).collect();
        // 1,000,000 s after the epoch.
        sentence(code, &params, Timestamp(1_000_000_000))
    }

    #[test]
    fn whois_replies_read_as_sentences() {
        let whois = [
            (
                "311",
                &["me", "robert", "~rob", "cloak", "*", "Robert R"][..],
            ),
            (
                "312",
                &["me", "robert", "palaver.example", "a palaver server"][..],
            ),
            (
                "317",
                &["me", "robert", "8", "992800", "seconds idle, signon time"][..],
            ),
            ("319", &["me", "robert", "@#ops #rust "][..]),
            ("330", &["me", "robert", "rob", "is logged in as"][..]),
            ("671", &["me", "robert", "is using a secure connection"][..]),
        ];
        let sentences: Vec<String> = whois
            .iter()
            .map(|(code, params)| said(code, params).expect("a sentence"))
            .collect();
        assert_eq!(
            sentences,
            [
                "robert is ~rob@cloak (Robert R)",
                "robert is on palaver.example (a palaver server)",
                "robert has been idle 8 s, connected 2 h ago",
                "robert is in @#ops #rust",
                "robert is logged in as rob",
                "robert is on a secure connection",
            ]
        );
    }

    #[test]
    fn the_counts_read_as_sentences() {
        assert_eq!(
            said("254", &["me", "7", "channels formed"]).as_deref(),
            Some("7 channels formed")
        );
        assert_eq!(said("999", &["me", "x"]), None);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(60), "1 min");
        assert_eq!(duration(7_500), "2 h 5 min");
        assert_eq!(duration(7_200), "2 h");
        assert_eq!(duration(3 * 86_400 + 4 * 3_600 + 60), "3 d 4 h");
        assert_eq!(duration(86_400), "1 d");
    }
}
