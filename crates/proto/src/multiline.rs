//! Messages of several lines (IRCv3 `draft/multiline`), in terms every protocol shares.
//!
//! A message's text is its *combined value*: its lines joined by LF. The sender may also have
//! cut a long line into pieces joined back without a break (`draft/multiline-concat`); where
//! it did is kept as byte offsets into the text (`concat_at`), so that IRC clients see the
//! lines exactly as sent. A message is multiline when its text holds an LF or a concat join;
//! every other message is one line, as it always was.
//!
//! [`Builder`] assembles a message line by line within the limits the server announces
//! ([`MAX_BYTES`], [`MAX_LINES`]); [`parts`] takes one apart again.

use thiserror::Error;

/// The most bytes a multiline message's combined value may have, each LF between lines
/// counted (the capability's `max-bytes`). The text protocol's default line limit, so a
/// text user's longest line and a paste are the same size.
pub const MAX_BYTES: usize = 4096;

/// The most lines (protocol lines, concat pieces included) one multiline message may have
/// (the capability's `max-lines`): about a terminal's screen.
pub const MAX_LINES: usize = 32;

/// Why a multiline message cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MultilineError {
    #[error("a message may have at most {MAX_BYTES} bytes")]
    TooManyBytes,
    #[error("a message may have at most {MAX_LINES} lines")]
    TooManyLines,
    /// A blank line cannot continue the previous one (IRCv3 multiline: clients MUST NOT send
    /// blank lines with the concat tag).
    #[error("a blank line cannot be joined to the previous one")]
    BlankConcat,
    /// Only blank lines, or none at all.
    #[error("there is nothing to send")]
    Empty,
}

/// Assembles a message line by line, refusing at once the line that breaks a limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Builder {
    text: String,
    concat_at: Vec<usize>,
    lines: usize,
}

impl Builder {
    /// Adds `line`, joined to the previous one without a break when `concat` (the first line
    /// has nothing to be joined to, so there it only starts the text).
    pub fn push(&mut self, line: &str, concat: bool) -> Result<(), MultilineError> {
        if concat && line.is_empty() {
            return Err(MultilineError::BlankConcat);
        }
        if self.lines == MAX_LINES {
            return Err(MultilineError::TooManyLines);
        }
        let separator = usize::from(self.lines > 0 && !concat);
        if self.text.len() + separator + line.len() > MAX_BYTES {
            return Err(MultilineError::TooManyBytes);
        }
        if separator == 1 {
            self.text.push('\n');
        } else if self.lines > 0 {
            self.concat_at.push(self.text.len());
        }
        self.text.push_str(line);
        self.lines += 1;
        Ok(())
    }

    /// The message: its combined value and its concat joins.
    pub fn finish(self) -> Result<(String, Vec<usize>), MultilineError> {
        if self.text.chars().all(|c| c == '\n') {
            return Err(MultilineError::Empty);
        }
        Ok((self.text, self.concat_at))
    }
}

/// Whether a message with this text and these joins has more than one line.
pub fn is_multiline(text: &str, concat_at: &[usize]) -> bool {
    !concat_at.is_empty() || text.contains('\n')
}

/// One protocol line of a message: its text and whether it continues the previous line
/// without a break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part<'a> {
    pub text: &'a str,
    pub concat: bool,
}

/// The lines of a message as its sender composed them: split at each LF (dropped) and at each
/// concat join. A single-line message is one part. Offsets that are not inside the text on a
/// character boundary (they never are, from a [`Builder`]) are ignored.
pub fn parts<'a>(text: &'a str, concat_at: &'a [usize]) -> impl Iterator<Item = Part<'a>> {
    let mut rest = text;
    let mut offset = 0;
    let mut joins = concat_at.iter().copied().peekable();
    let mut concat = false;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let line_end = rest.find('\n').unwrap_or(rest.len());
        // Joins behind us were never valid; a join is used once.
        while joins.next_if(|&join| join < offset).is_some() {}
        let join = joins
            .peek()
            .map(|join| join - offset)
            .filter(|&join| join < line_end && rest.is_char_boundary(join));
        let part = Part {
            text: &rest[..join.unwrap_or(line_end)],
            concat,
        };
        match join {
            Some(join) => {
                joins.next();
                rest = &rest[join..];
                offset += join;
                concat = true;
            }
            None if line_end < rest.len() => {
                rest = &rest[line_end + 1..];
                offset += line_end + 1;
                concat = false;
            }
            None => done = true,
        }
        Some(part)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(lines: &[(&str, bool)]) -> Result<(String, Vec<usize>), MultilineError> {
        let mut builder = Builder::default();
        for (line, concat) in lines {
            builder.push(line, *concat)?;
        }
        builder.finish()
    }

    fn split(text: &str, concat_at: &[usize]) -> Vec<(String, bool)> {
        parts(text, concat_at)
            .map(|part| (part.text.to_owned(), part.concat))
            .collect()
    }

    #[test]
    fn lines_join_with_lf_and_concat_pieces_without() {
        let (text, concat_at) =
            built(&[("hello", false), ("how is ", false), ("everyone?", true)]).unwrap();
        assert_eq!(text, "hello\nhow is everyone?");
        assert_eq!(concat_at, vec![13]);
        assert!(is_multiline(&text, &concat_at));
        assert_eq!(
            split(&text, &concat_at),
            vec![
                ("hello".into(), false),
                ("how is ".into(), false),
                ("everyone?".into(), true)
            ]
        );
    }

    #[test]
    fn blank_lines_are_kept_but_never_joined_and_never_all() {
        let (text, concat_at) = built(&[("", false), ("x", false), ("", false)]).unwrap();
        assert_eq!(text, "\nx\n");
        assert_eq!(
            split(&text, &concat_at),
            vec![("".into(), false), ("x".into(), false), ("".into(), false)]
        );
        assert_eq!(
            built(&[("hi", false), ("", true)]),
            Err(MultilineError::BlankConcat)
        );
        assert_eq!(
            built(&[("", false), ("", false)]),
            Err(MultilineError::Empty)
        );
        assert_eq!(built(&[]), Err(MultilineError::Empty));
    }

    #[test]
    fn the_line_that_breaks_a_limit_is_refused() {
        let mut builder = Builder::default();
        for _ in 0..MAX_LINES {
            builder.push("hi", false).unwrap();
        }
        assert_eq!(builder.push("hi", true), Err(MultilineError::TooManyLines));

        // Ten lines of 400 bytes and their nine LFs fit; an eleventh does not.
        let mut builder = Builder::default();
        let line = "x".repeat(400);
        for _ in 0..10 {
            builder.push(&line, false).unwrap();
        }
        assert_eq!(
            builder.push(&line, false),
            Err(MultilineError::TooManyBytes)
        );
        // The LF counts: a line filling the rest exactly fits only when concatenated.
        let mut builder = Builder::default();
        builder.push(&"y".repeat(MAX_BYTES - 1), false).unwrap();
        assert_eq!(builder.push("z", false), Err(MultilineError::TooManyBytes));
        builder.push("z", true).unwrap();
    }

    #[test]
    fn a_line_may_continue_a_blank_one() {
        let (text, concat_at) = built(&[("a", false), ("", false), ("x", true)]).unwrap();
        assert_eq!(text, "a\nx");
        assert_eq!(
            split(&text, &concat_at),
            vec![("a".into(), false), ("".into(), false), ("x".into(), true)]
        );
    }

    #[test]
    fn a_single_line_is_one_part_and_not_multiline() {
        assert!(!is_multiline("just this", &[]));
        assert_eq!(split("just this", &[]), vec![("just this".into(), false)]);
        assert_eq!(split("", &[]), vec![("".into(), false)]);
    }

    #[test]
    fn joins_outside_the_text_or_inside_a_character_are_ignored() {
        assert_eq!(
            split("é\nab", &[1, 4, 99]),
            vec![("é".into(), false), ("a".into(), false), ("b".into(), true)]
        );
    }
}
