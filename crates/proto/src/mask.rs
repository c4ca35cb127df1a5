//! Masks: `nick!user@host` globs (the form of [`Identity::mask`](crate::event::Identity::mask)),
//! as in bans, which apply to users of every protocol, and IRC's `WHO`; and splitting a
//! `nick!user@host` into its parts.
//!
//! Matching is exact, character by character: case mapping is the caller's to apply to both
//! sides first. Masks come from users, so the matcher must not be
//! a denial-of-service: it uses the classic "backtrack to the last star" loop, which is
//! O(mask × text) in the worst case instead of the exponential time of naive recursion.

/// One element of a mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
    /// A character that must match itself, including `\*`, `\?` and `\\`.
    Literal(char),
}

/// The token starting at byte `at` of `mask` and the byte index after it, or `None` at the end.
fn token(mask: &str, at: usize) -> Option<(Token, usize)> {
    let c = mask[at..].chars().next()?;
    let next = at + c.len_utf8();
    Some(match c {
        '*' => (Token::Star, next),
        '?' => (Token::One, next),
        '\\' => match mask[next..].chars().next() {
            Some(escaped) => (Token::Literal(escaped), next + escaped.len_utf8()),
            // A lone backslash at the end has nothing to escape: it stands for itself.
            None => (Token::Literal('\\'), next),
        },
        c => (Token::Literal(c), next),
    })
}

/// Glob match for IRC masks: `*` any run (also empty), `?` exactly one character; `\` escapes
/// the next character (per the ircdocs mask-match vectors), and a lone `\` at the end of the
/// mask matches a backslash. Compares exactly (callers case-fold first). `[`, `]` and every
/// other character are literals. Runs in O(mask × text) at worst, never exponentially.
pub fn matches(mask: &str, text: &str) -> bool {
    // Byte indices into `mask` and `text`, always on character boundaries.
    let (mut mi, mut ti) = (0, 0);
    // After the most recent star: where the mask resumes and how much text the star has
    // swallowed so far. On a mismatch the star swallows one more character and we retry from
    // there; earlier stars never need revisiting, which is what keeps this polynomial.
    let mut last_star: Option<(usize, usize)> = None;

    while let Some(c) = text[ti..].chars().next() {
        match token(mask, mi) {
            Some((Token::Star, next)) => {
                last_star = Some((next, ti));
                mi = next;
                continue;
            }
            Some((Token::One, next)) => {
                mi = next;
                ti += c.len_utf8();
                continue;
            }
            Some((Token::Literal(literal), next)) if literal == c => {
                mi = next;
                ti += c.len_utf8();
                continue;
            }
            _ => {}
        }
        let Some((resume, swallowed)) = last_star else {
            return false;
        };
        // `swallowed <= ti < text.len()`, so there is a character to swallow.
        let Some(extra) = text[swallowed..].chars().next() else {
            return false;
        };
        let swallowed = swallowed + extra.len_utf8();
        last_star = Some((resume, swallowed));
        mi = resume;
        ti = swallowed;
    }

    // The text is used up: only stars, which may match nothing, may remain in the mask.
    while let Some((Token::Star, next)) = token(mask, mi) {
        mi = next;
    }
    mi == mask.len()
}

/// A `nick!user@host` source split into parts (userhost-split vectors): returns
/// `(nick, Option<user>, Option<host>)`.
///
/// The host is everything after the first `@`, the user everything between the first `!` and
/// that `@`. A part whose separator is present but which is empty is `Some("")`
/// (`nick!@host`); a server name such as `irc.example.com` comes back as a nick with neither.
pub fn split_userhost(source: &str) -> (&str, Option<&str>, Option<&str>) {
    let (before_host, host) = match source.split_once('@') {
        Some((before, host)) => (before, Some(host)),
        None => (source, None),
    };
    let (nick, user) = match before_host.split_once('!') {
        Some((nick, user)) => (nick, Some(user)),
        None => (before_host, None),
    };
    (nick, user, host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Obviously-correct exponential reference matcher, for small inputs only.
    fn reference(mask: &[char], text: &[char]) -> bool {
        match mask {
            [] => text.is_empty(),
            ['*', rest @ ..] => (0..=text.len()).any(|skip| reference(rest, &text[skip..])),
            ['?', rest @ ..] => !text.is_empty() && reference(rest, &text[1..]),
            ['\\'] => text == ['\\'],
            ['\\', escaped, rest @ ..] | [escaped, rest @ ..] => {
                text.first() == Some(escaped) && reference(rest, &text[1..])
            }
        }
    }

    #[test]
    fn globs() {
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("*", ""));
        assert!(matches("**", "abc"));
        assert!(!matches("?", ""));
        assert!(matches("?", "é"));
        assert!(matches("a*b?d", "aXXbcd"));
        assert!(!matches("a*b?d", "aXXbd"));
        assert!(matches("*!*@*.example", "n!u@host.example"));
        assert!(!matches("*!*@*.example", "n!u@host.example.org"));
        assert!(matches("*a", "aaa"));
        assert!(!matches("a", "A"), "exact: folding is the caller's");
    }

    #[test]
    fn escapes() {
        assert!(matches("a\\*", "a*"));
        assert!(!matches("a\\*", "ab"));
        assert!(matches("\\?", "?"));
        assert!(!matches("\\?", "x"));
        assert!(matches("\\\\*", "\\abc"));
        assert!(matches("a\\", "a\\"));
        assert!(matches("\\a", "a"));
        assert!(matches("[x]", "[x]"));
        assert!(!matches("[x]", "x"));
    }

    #[test]
    fn pathological_masks_are_fast() {
        let text = "a".repeat(10_000);
        let mask = format!("{}b", "*a".repeat(50));
        let start = std::time::Instant::now();
        assert!(!matches(&mask, &text));
        assert!(matches(&format!("{}*", "*a".repeat(50)), &text));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn userhosts() {
        assert_eq!(split_userhost("n!u@h"), ("n", Some("u"), Some("h")));
        assert_eq!(split_userhost("n@h"), ("n", None, Some("h")));
        assert_eq!(split_userhost("n!u"), ("n", Some("u"), None));
        assert_eq!(split_userhost("n!@h"), ("n", Some(""), Some("h")));
        assert_eq!(
            split_userhost("irc.example.com"),
            ("irc.example.com", None, None)
        );
        assert_eq!(split_userhost(""), ("", None, None));
    }

    proptest! {
        #[test]
        fn agrees_with_reference(mask in "[ab*?\\\\é]{0,10}", text in "[ab*?\\\\é]{0,10}") {
            let mask_chars: Vec<char> = mask.chars().collect();
            let text_chars: Vec<char> = text.chars().collect();
            prop_assert_eq!(matches(&mask, &text), reference(&mask_chars, &text_chars));
        }

        #[test]
        fn literal_text_matches_itself(text in any::<String>()) {
            prop_assert!(matches(&text.replace(['\\', '*', '?'], "?"), &text));
            let escaped: String = text
                .chars()
                .flat_map(|c| ['\\', c])
                .collect();
            prop_assert!(matches(&escaped, &text));
        }

        #[test]
        fn never_panics(mask in any::<String>(), text in any::<String>()) {
            let _ = matches(&mask, &text);
            let _ = split_userhost(&text);
        }
    }
}
