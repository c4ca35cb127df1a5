//! One IRC message: parsing a line into [`Message`] and writing a [`Message`] back as a line.
//!
//! The grammar is modern.ircdocs.horse's "Messages" with IRCv3 message-tags:
//!
//! ```text
//! [@tag[=value][;tag…] SPACE] [:source SPACE] command [SPACE param]… [SPACE :trailing]
//! ```
//!
//! Parsing is lenient the way the ircdocs parser-tests are: runs of spaces count as one
//! separator (RFC 1459, not RFC 2812's single space), because real servers and clients send
//! doubled and trailing spaces and rejecting them helps nobody. Parsing never fails on content,
//! only on a line with nothing in it or no command; what the command *means* is for the caller.
//!
//! Writing is strict the other way: what we send is the canonical form, so a message we write
//! parses back to itself (property-tested below).

use bytes::Bytes;
use thiserror::Error;

/// One IRCv3 message tag; `value` is unescaped ("" when the tag has no value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// An IRC message (modern.ircdocs.horse "Messages", IRCv3 message-tags).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Tags in the order received. Duplicates are kept; [`Message::tag`] returns the last one,
    /// which is the one IRCv3 says counts.
    pub tags: Vec<Tag>,
    /// The source (prefix), without the leading ':'.
    pub source: Option<String>,
    /// The command or numeric as received; callers uppercase it themselves.
    pub command: String,
    /// The parameters; a trailing parameter is the last element, without its ':'.
    pub params: Vec<String>,
}

/// The most bytes of a message without its tags and CRLF (modern.ircdocs.horse: 512 bytes
/// including CRLF).
const MAX_BODY_BYTES: usize = 510;

/// Why a line is not an IRC message at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("message has no command")]
    NoCommand,
}

impl Message {
    /// Builds a message with no tags and no source.
    pub fn new(command: impl Into<String>, params: Vec<String>) -> Self {
        Message {
            tags: Vec::new(),
            source: None,
            command: command.into(),
            params,
        }
    }

    /// Sets the source (without the leading ':').
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Appends a tag (unescaped `value`; "" for a tag without value). An existing tag with the
    /// same key is not removed, but since [`Message::tag`] and receivers take the last
    /// occurrence, the new value is the one that counts.
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push(Tag {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Parses one line WITHOUT its CRLF/LF.
    ///
    /// Runs of spaces separate atoms (RFC 1459, as the ircdocs test vectors do), so leading,
    /// doubled and trailing spaces are ignored everywhere except inside the trailing parameter,
    /// which is taken verbatim. Tag values are unescaped with [`unescape_tag_value`]; empty tag
    /// items (`@a;;b`) and items with an empty key (`@=x`) are skipped, because they name no tag.
    /// Duplicate keys are all kept in order; [`Message::tag`] returns the last.
    ///
    /// Tabs, control characters and NUL are not separators and are kept as they are: rejecting
    /// them is a policy decision for the caller.
    pub fn parse(line: &str) -> Result<Message, ParseError> {
        if line.bytes().all(|b| b == b' ') {
            return Err(ParseError::Empty);
        }
        // Leading spaces are ignored before the tags as before the source: otherwise
        // ` @a=b CMD` would read `@a=b` as the command, which serialises as tags.
        let (tag_section, rest) = split_tags(line.trim_start_matches(' '));
        let tags = tag_section.map(parse_tags).unwrap_or_default();

        let mut rest = rest.trim_start_matches(' ');
        let mut source = None;
        if let Some(after_colon) = rest.strip_prefix(':') {
            let (word, remaining) = next_word(after_colon);
            source = Some(word.to_owned());
            rest = remaining;
        }

        let (command, mut rest) = next_word(rest);
        // A word starting with `@` where the command belongs (`@ @a=b CMD`: tags that were not
        // at the start) is no command: serialised, it would read back as tags.
        if command.is_empty() || command.starts_with('@') {
            return Err(ParseError::NoCommand);
        }

        let mut params = Vec::new();
        while !rest.is_empty() {
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_owned());
                break;
            }
            let (word, remaining) = next_word(rest);
            params.push(word.to_owned());
            rest = remaining;
        }

        Ok(Message {
            tags,
            source,
            command: command.to_owned(),
            params,
        })
    }

    /// The value of the last tag named `key`, if any ("" for a tag without value).
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .rev()
            .find(|tag| tag.key == key)
            .map(|tag| tag.value.as_str())
    }

    /// Appends the wire form and CRLF to `out`.
    ///
    /// Tag values are escaped; a tag with an empty value is written as its bare key. The last
    /// param is written as a trailing `:param` when it is empty, contains a space, or starts
    /// with ':' (otherwise plain, which is what the ircdocs join vectors list first). Earlier
    /// params, the command, the source and tag keys are written as they are: callers must keep
    /// them non-empty and free of spaces (and params from starting with ':'), or the line will
    /// not parse back to the same message. Nothing here strips CR, LF or NUL either; a caller
    /// relaying client text must have rejected them already.
    ///
    /// The line never exceeds the 512 bytes IRC allows a message without its tags, CRLF
    /// included: a longer last parameter is cut at a UTF-8 character boundary, and so is a
    /// middle parameter that leaves no room for those after it (a client's over-long unknown
    /// command echoed in `421`, say). Callers keep
    /// their lines within the limit themselves (long messages are split, reasons and topics
    /// capped); this is the guarantee that a field someone forgot cannot make a client that
    /// cuts at 512 bytes read the rest as a line of its own.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.wire_len_hint());
        if !self.tags.is_empty() {
            out.push(b'@');
            for (i, tag) in self.tags.iter().enumerate() {
                if i > 0 {
                    out.push(b';');
                }
                out.extend_from_slice(tag.key.as_bytes());
                if !tag.value.is_empty() {
                    out.push(b'=');
                    escape_pieces(&tag.value, |piece| out.extend_from_slice(piece.as_bytes()));
                }
            }
            out.push(b' ');
        }
        let body_start = out.len();
        if let Some(source) = &self.source {
            out.push(b':');
            out.extend_from_slice(source.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(self.command.as_bytes());
        if let Some((last, middle)) = self.params.split_last() {
            for (index, param) in middle.iter().enumerate() {
                out.push(b' ');
                // Room for this one, keeping a space and a byte for each parameter after it.
                let after = middle.len() - index;
                let room = (body_start + MAX_BODY_BYTES).saturating_sub(out.len() + 2 * after);
                // Never cut to nothing, not even before a character wider than the room: an
                // empty middle parameter would read back as none, shifting those after it.
                let first_character = param.chars().next().map_or(0, char::len_utf8);
                let kept = crate::utf8::truncate(param, room.max(first_character));
                out.extend_from_slice(kept.as_bytes());
            }
            out.push(b' ');
            // Whether the colon is needed is decided on what is written, after any cut: a
            // parameter cut to nothing still needs it (a line ending in a bare space parses
            // back as no parameter), and one whose space was cut off no longer does, so the
            // line reads back to the same bytes.
            let needs_colon =
                |text: &str| text.is_empty() || text.contains(' ') || text.starts_with(':');
            let room = (body_start + MAX_BODY_BYTES).saturating_sub(out.len());
            let mut written = crate::utf8::truncate(last, room);
            if needs_colon(written) {
                written = crate::utf8::truncate(last, room.saturating_sub(1));
                if needs_colon(written) {
                    out.push(b':');
                }
            }
            out.extend_from_slice(written.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The wire form with CRLF as [`Bytes`], ready to share between recipients.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.write_to(&mut out);
        Bytes::from(out)
    }

    /// A close upper bound of the wire length when no tag value needs escaping, so one
    /// allocation usually suffices.
    fn wire_len_hint(&self) -> usize {
        let tags: usize = self
            .tags
            .iter()
            .map(|tag| tag.key.len() + tag.value.len() + 2)
            .sum();
        let source = self.source.as_ref().map_or(0, |source| source.len() + 2);
        let params: usize = self.params.iter().map(|param| param.len() + 2).sum();
        tags + 1 + source + self.command.len() + params + 2
    }
}

/// Splits a raw line (no CRLF) into its tag section (without the '@' and without the following
/// space) and the rest (source/command/params), without allocating. Used to enforce the
/// separate 512-byte (message) and 8191-byte (tags) limits before parsing.
///
/// The whole run of spaces after the tag section is dropped, so `rest` starts at the source or
/// command. A line not starting with '@' has no tag section; a line that is only a tag section
/// has an empty rest.
pub fn split_tags(line: &str) -> (Option<&str>, &str) {
    let Some(after_at) = line.strip_prefix('@') else {
        return (None, line);
    };
    match memchr::memchr(b' ', after_at.as_bytes()) {
        Some(space) => (
            Some(&after_at[..space]),
            after_at[space..].trim_start_matches(' '),
        ),
        None => (Some(after_at), ""),
    }
}

/// Escapes a tag value per IRCv3 message-tags: `;` as `\:`, space as `\s`, `\` as `\\`, CR as
/// `\r` and LF as `\n`. Everything else, NUL included, is left alone.
pub fn escape_tag_value(value: &str, out: &mut String) {
    out.reserve(value.len());
    escape_pieces(value, |piece| out.push_str(piece));
}

/// Unescapes a tag value per IRCv3 message-tags: `\:` `\s` `\\` `\r` `\n` give `;`, space, `\`,
/// CR and LF; any other escaped character stands for itself (`\x` gives `x`), and a lone
/// backslash at the end is dropped. Never fails: the spec asks receivers to be this lenient.
pub fn unescape_tag_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Calls `emit` with the escaped form of `value` in pieces: unchanged runs are passed through as
/// slices, so escaping a value with nothing to escape is one call. Shared by the `String` and
/// byte-buffer writers.
fn escape_pieces(value: &str, mut emit: impl FnMut(&str)) {
    let mut start = 0;
    for (i, byte) in value.bytes().enumerate() {
        let escaped = match byte {
            b';' => "\\:",
            b' ' => "\\s",
            b'\\' => "\\\\",
            b'\r' => "\\r",
            b'\n' => "\\n",
            _ => continue,
        };
        // Every escaped byte is ASCII, so `i` and `i + 1` are character boundaries.
        emit(&value[start..i]);
        emit(escaped);
        start = i + 1;
    }
    emit(&value[start..]);
}

/// Parses a tag section (without the '@'), unescaping values.
fn parse_tags(section: &str) -> Vec<Tag> {
    section
        .split(';')
        .filter_map(|item| {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            (!key.is_empty()).then(|| Tag {
                key: key.to_owned(),
                value: unescape_tag_value(value),
            })
        })
        .collect()
}

/// Splits off the next space-delimited word and skips the run of spaces after it.
fn next_word(s: &str) -> (&str, &str) {
    match memchr::memchr(b' ', s.as_bytes()) {
        Some(space) => (&s[..space], s[space..].trim_start_matches(' ')),
        None => (s, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn wire(message: &Message) -> String {
        String::from_utf8(message.to_bytes().to_vec()).unwrap()
    }

    #[test]
    fn parses_every_part() {
        let message = Message::parse("@a=b\\sc;k :nick!u@h PRIVMSG #room :hello there").unwrap();
        assert_eq!(
            message,
            Message::new("PRIVMSG", strings(&["#room", "hello there"]))
                .with_tag("a", "b c")
                .with_tag("k", "")
                .with_source("nick!u@h")
        );
    }

    /// Found by fuzzing: a 500-byte unknown command echoed in `421` made a line over 512
    /// bytes, since only the last parameter was cut.
    #[test]
    fn an_over_long_middle_parameter_is_cut_too() {
        let command = "A".repeat(505);
        let message = Message::new(
            "421",
            vec!["alice".into(), command, "Unknown command".into()],
        )
        .with_source("palaver.local");
        let line = wire(&message);
        assert_eq!(line.len(), 512, "{line}");
        let parsed = Message::parse(line.trim_end()).unwrap();
        assert_eq!(parsed.command, "421");
        assert_eq!(parsed.params.len(), 3, "{line}");
        assert!(parsed.params[1].starts_with("AAAA"));
    }

    /// Found by fuzzing: with a command too long to leave room for its parameter, `CMD O`
    /// was written `CMD ` (the parameter cut to nothing, without its colon), which reads back
    /// as no parameter and is written `CMD`: the line did not survive a round trip.
    #[test]
    fn a_cut_trailing_parameter_reads_back_to_the_same_line() {
        let stable = |message: &Message| {
            let line = wire(message);
            let again = Message::parse(line.trim_end_matches("\r\n")).unwrap();
            assert_eq!(wire(&again), line);
            line
        };
        let no_room = Message::new("A".repeat(600), strings(&["O"]));
        assert!(stable(&no_room).ends_with(" :\r\n"));
        // A space in the part cut off: no colon is needed for what is left.
        let command = "C".repeat(500);
        let spaced = Message::new(command.clone(), strings(&["abcdefghij klm"]));
        assert_eq!(stable(&spaced), format!("{command} abcdefghi\r\n"));
        // A space in what is left: the colon, and one byte less for the text.
        let early = Message::new(command.clone(), strings(&["ab cdefghijklm"]));
        assert_eq!(stable(&early), format!("{command} :ab cdefg\r\n"));
    }

    /// Found by fuzzing: a middle parameter starting with a character wider than the room
    /// left for it was cut to nothing, and the line read back with a parameter fewer.
    #[test]
    fn a_middle_parameter_is_never_cut_to_nothing() {
        let command = "C".repeat(503);
        let message = Message::new(command, strings(&["윤", "윤", "윤", "end"]));
        let line = wire(&message);
        let again = Message::parse(line.trim_end_matches("\r\n")).unwrap();
        assert_eq!(again.params.len(), 4, "{line}");
        assert_eq!(wire(&again), line);
    }

    /// Found by fuzzing: ` @acd:oyumog lloo …` read `@acd:oyumog` as the command, which
    /// serialised back as tags, so the message did not survive a round trip.
    #[test]
    fn leading_spaces_are_ignored_before_tags_as_before_a_source() {
        let message = Message::parse(" @a=b  :nick PING :x").unwrap();
        assert_eq!(
            message,
            Message::new("PING", strings(&["x"]))
                .with_tag("a", "b")
                .with_source("nick")
        );
        assert_eq!(
            Message::parse(&wire(&message)[..wire(&message).len() - 2]),
            Ok(message)
        );
    }

    #[test]
    fn empty_and_commandless_lines() {
        assert_eq!(Message::parse(""), Err(ParseError::Empty));
        assert_eq!(Message::parse("   "), Err(ParseError::Empty));
        for line in [
            ":src",
            ":src   ",
            "@a=b",
            "@a=b ",
            "@a=b :src",
            "@",
            "@ @a=b CMD x",
        ] {
            assert_eq!(Message::parse(line), Err(ParseError::NoCommand), "{line:?}");
        }
    }

    #[test]
    fn spaces_are_runs() {
        let message = Message::parse("  :src   CMD   a  b   :  c  ").unwrap();
        assert_eq!(message.source.as_deref(), Some("src"));
        assert_eq!(message.command, "CMD");
        assert_eq!(message.params, strings(&["a", "b", "  c  "]));

        let message = Message::parse("@t=1    CMD").unwrap();
        assert_eq!(message.tag("t"), Some("1"));
        assert_eq!(message.command, "CMD");
    }

    #[test]
    fn command_is_kept_as_received() {
        assert_eq!(Message::parse("privMsg x").unwrap().command, "privMsg");
    }

    #[test]
    fn empty_tag_items_are_skipped() {
        let message = Message::parse("@;a=1;;=x;b; CMD").unwrap();
        let keys: Vec<&str> = message.tags.iter().map(|tag| tag.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn duplicate_tags_are_kept_and_the_last_counts() {
        let message = Message::parse("@k=1;j=2;k=3;k CMD").unwrap();
        assert_eq!(message.tags.len(), 4);
        assert_eq!(message.tag("k"), Some(""));
        assert_eq!(message.tag("j"), Some("2"));
        assert_eq!(message.tag("missing"), None);
    }

    #[test]
    fn tag_values_keep_equals_signs() {
        let message = Message::parse("@k=a=b CMD").unwrap();
        assert_eq!(message.tag("k"), Some("a=b"));
    }

    #[test]
    fn splits_tags_without_allocating() {
        assert_eq!(split_tags("CMD a"), (None, "CMD a"));
        assert_eq!(split_tags("@a=b CMD a"), (Some("a=b"), "CMD a"));
        assert_eq!(split_tags("@a=b   :s CMD"), (Some("a=b"), ":s CMD"));
        assert_eq!(split_tags("@a=b"), (Some("a=b"), ""));
        assert_eq!(split_tags("@ CMD"), (Some(""), "CMD"));
        assert_eq!(split_tags(" @a CMD"), (None, " @a CMD"));
        assert_eq!(split_tags(""), (None, ""));
    }

    #[test]
    fn writes_canonical_lines() {
        let cases = [
            (Message::new("PING", vec![]), "PING\r\n"),
            (Message::new("JOIN", strings(&["#a"])), "JOIN #a\r\n"),
            (
                Message::new("PRIVMSG", strings(&["#a", "hi there"])).with_source("n!u@h"),
                ":n!u@h PRIVMSG #a :hi there\r\n",
            ),
            (
                Message::new("TOPIC", strings(&["#a", ""])),
                "TOPIC #a :\r\n",
            ),
            (
                Message::new("PRIVMSG", strings(&["#a", ":)"])),
                "PRIVMSG #a ::)\r\n",
            ),
            (
                Message::new("TAGMSG", strings(&["#a"]))
                    .with_tag("+typing", "active")
                    .with_tag("msgid", "")
                    .with_tag("x", "a;b c\\d\r\n"),
                "@+typing=active;msgid;x=a\\:b\\sc\\\\d\\r\\n TAGMSG #a\r\n",
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(wire(&message), expected);
            let mut out = b"prefix ".to_vec();
            message.write_to(&mut out);
            assert_eq!(out, [b"prefix ".as_slice(), expected.as_bytes()].concat());
        }
    }

    #[test]
    fn escapes_and_unescapes() {
        let mut out = String::from(">");
        escape_tag_value("a;b c\\d\re\nf", &mut out);
        assert_eq!(out, ">a\\:b\\sc\\\\d\\re\\nf");
        assert_eq!(
            unescape_tag_value("a\\:b\\sc\\\\d\\re\\nf"),
            "a;b c\\d\re\nf"
        );
        assert_eq!(unescape_tag_value("\\x\\"), "x");
        assert_eq!(unescape_tag_value("é\\é"), "éé");
        assert_eq!(unescape_tag_value(""), "");
    }

    /// Messages whose canonical form parses back to themselves: params before the last have no
    /// spaces and do not start with ':' (write_to's documented contract); the last may be
    /// anything but CR, LF or NUL.
    fn message_strategy() -> impl Strategy<Value = Message> {
        let tag =
            ("[a-zA-Z0-9/.+-]{1,12}", "[^\\x00]{0,16}").prop_map(|(key, value)| Tag { key, value });
        (
            proptest::collection::vec(tag, 0..4),
            proptest::option::of("[^ \\r\\n\\x00]{1,16}"),
            "[a-zA-Z0-9]{1,10}",
            proptest::collection::vec("[^ :\\r\\n\\x00][^ \\r\\n\\x00]{0,8}", 0..5),
            proptest::option::of("[^\\r\\n\\x00]{0,16}"),
        )
            .prop_map(|(tags, source, command, mut params, last)| {
                params.extend(last);
                Message {
                    tags,
                    source,
                    command,
                    params,
                }
            })
    }

    #[test]
    fn an_over_long_last_parameter_is_cut_at_a_character_boundary() {
        // 3,073 bytes of reason, ending in what would read as a line of its own to a client
        // that cuts at 512 bytes.
        let reason = format!("{} :evil!e@h PRIVMSG #lobby :spoofed", "é".repeat(1519));
        let message = Message::new("PART", vec!["#lobby".into(), reason.clone()])
            .with_source("alice!a@host")
            .with_tag("time", "2026-11-22T13:05:09.250Z");
        let line = wire(&message);
        let (tags, body) = split_tags(line.strip_suffix("\r\n").unwrap());
        assert_eq!(tags, Some("time=2026-11-22T13:05:09.250Z"));
        // 512 with the CRLF: no character is split, and the part kept holds no space, so it
        // needs no colon.
        assert_eq!(body.len(), 510, "{body}");
        let parsed = Message::parse(body).unwrap();
        assert!(reason.starts_with(&parsed.params[1]));
        assert!(!line.contains("spoofed"));
    }

    proptest! {
        #[test]
        fn round_trips(message in message_strategy()) {
            let bytes = message.to_bytes();
            let line = std::str::from_utf8(&bytes).unwrap();
            let line = line.strip_suffix("\r\n").unwrap();
            prop_assert_eq!(Message::parse(line), Ok(message));
        }

        #[test]
        fn bodies_never_exceed_512_bytes(
            source in "[a-z!@.]{1,60}",
            middle in proptest::collection::vec("[a-z#]{1,20}", 0..4),
            last in "[^\r\n\x00]{0,1200}",
        ) {
            let mut params = middle;
            params.push(last.clone());
            let message = Message::new("PART", params).with_source(source).with_tag("t", "v");
            let line = wire(&message);
            let (_, body) = split_tags(line.strip_suffix("\r\n").unwrap());
            prop_assert!(body.len() <= 510, "{} bytes", body.len());
            let parsed = Message::parse(body).unwrap();
            prop_assert!(last.starts_with(parsed.params.last().map_or("", String::as_str)));
        }

        #[test]
        fn never_panics(line in any::<String>()) {
            let _ = Message::parse(&line);
            let _ = split_tags(&line);
        }

        #[test]
        fn never_panics_on_irc_shaped_lines(line in "[@:;= \\\\a-z\\r\\n\\x00é]{0,40}") {
            if let Ok(message) = Message::parse(&line) {
                prop_assert!(!message.command.is_empty());
            }
        }

        #[test]
        fn escape_round_trips(value in any::<String>()) {
            let mut escaped = String::new();
            escape_tag_value(&value, &mut escaped);
            prop_assert!(!escaped.contains([';', ' ', '\r', '\n']));
            prop_assert_eq!(unescape_tag_value(&escaped), value);
        }

        #[test]
        fn split_tags_partitions_the_line(line in "(@[a-z=;]{0,8})? {0,3}[a-z :]{0,12}") {
            let (tags, rest) = split_tags(&line);
            match tags {
                Some(tags) => {
                    prop_assert!(line.starts_with('@'));
                    prop_assert!(!tags.contains(' '));
                    prop_assert!(line.ends_with(rest));
                    prop_assert!(!rest.starts_with(' '));
                }
                None => prop_assert_eq!(rest, line.as_str()),
            }
        }
    }
}
