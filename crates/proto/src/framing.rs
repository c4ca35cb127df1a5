//! Splits a byte stream into lines, with a hard limit on line length.
//!
//! TCP delivers bytes, not messages: one line may arrive in many segments and many lines in one
//! segment. [`LineDecoder`] turns whatever arrived so far into complete lines and leaves the rest
//! in the buffer. Unlike `tokio_util::codec::LinesCodec`, an over-long line is *not* fatal: the
//! decoder reports it once, throws its bytes away up to the next LF, and carries on, so one bad
//! line never costs a client its connection.

use bytes::{Buf, Bytes, BytesMut};

/// One result of [`LineDecoder::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line without its LF (or CRLF) ending. May be empty.
    Line(Bytes),
    /// A line was longer than the limit. Its bytes are discarded up to and including its LF; the
    /// caller answers with an error and keeps reading.
    TooLong,
}

/// Incremental LF-terminated line splitter.
///
/// Feed bytes into a `BytesMut` and call [`decode`](Self::decode) until it returns `None`
/// ("need more bytes", not an error).
#[derive(Debug)]
pub struct LineDecoder {
    /// Longest accepted line in bytes, not counting the LF or CRLF ending.
    max_line_bytes: usize,
    /// How many bytes at the front of the buffer are known to hold no LF, so a line arriving one
    /// byte at a time is scanned once in total rather than once per byte.
    scanned: usize,
    /// True while throwing away the rest of an over-long line whose `TooLong` was already
    /// reported; cleared at its LF.
    discarding: bool,
}

impl LineDecoder {
    pub fn new(max_line_bytes: usize) -> Self {
        Self {
            max_line_bytes,
            scanned: 0,
            discarding: false,
        }
    }

    /// The configured line limit in bytes.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Takes the next frame off the front of `buf`, or returns `None` when `buf` holds no
    /// complete line yet. Never keeps more than `max_line_bytes + 1` undecided bytes in `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        loop {
            let Some(offset) = memchr::memchr(b'\n', &buf[self.scanned..]) else {
                return self.no_line_end_yet(buf);
            };
            let newline = self.scanned + offset;
            self.scanned = 0;
            if self.discarding {
                // The tail of a line already reported as too long: drop it and look again.
                buf.advance(newline + 1);
                self.discarding = false;
                continue;
            }
            let mut line = buf.split_to(newline + 1).freeze();
            line.truncate(newline);
            if line.last() == Some(&b'\r') {
                line.truncate(newline - 1);
            }
            if line.len() > self.max_line_bytes {
                return Some(Frame::TooLong);
            }
            return Some(Frame::Line(line));
        }
    }

    /// Whether a line has begun and not ended: bytes without an LF wait in `buf`, or the rest
    /// of an over-long line is being thrown away.
    pub fn is_mid_line(&self, buf: &BytesMut) -> bool {
        !buf.is_empty() || self.discarding
    }

    /// Ends the line in progress as if its LF had arrived (the client fell quiet in the middle
    /// of a line): the bytes waiting in `buf` as a line (a final CR removed), or `None` if there
    /// are none. The rest of an over-long line, already reported, ends here too, so what the
    /// client sends next starts a new line. Call only after [`decode`](Self::decode) has
    /// returned `None`.
    pub fn finish_line(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        self.scanned = 0;
        self.discarding = false;
        if buf.is_empty() {
            return None;
        }
        let mut line = buf.split().freeze();
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        // `decode` keeps one byte beyond the limit, in case it is a CR.
        if line.len() > self.max_line_bytes {
            return Some(Frame::TooLong);
        }
        Some(Frame::Line(line))
    }

    fn no_line_end_yet(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        if self.discarding {
            buf.clear();
            self.scanned = 0;
            return None;
        }
        // One extra byte is allowed for a CR that may turn out to precede the LF.
        if buf.len() > self.max_line_bytes + 1 {
            buf.clear();
            self.scanned = 0;
            self.discarding = true;
            return Some(Frame::TooLong);
        }
        self.scanned = buf.len();
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(decoder: &mut LineDecoder, buf: &mut BytesMut) -> Vec<Frame> {
        std::iter::from_fn(|| decoder.decode(buf)).collect()
    }

    /// Feeds `input` in pieces cut at `cuts` and returns every frame, in order.
    fn decode_in_pieces(max: usize, input: &[u8], cuts: &[usize]) -> Vec<Frame> {
        let mut decoder = LineDecoder::new(max);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            let cut = cut.clamp(start, input.len());
            buf.extend_from_slice(&input[start..cut]);
            frames.extend(decode_all(&mut decoder, &mut buf));
            start = cut;
        }
        frames
    }

    fn line(text: &str) -> Frame {
        Frame::Line(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn splits_lf_and_crlf_lines_and_keeps_the_partial_tail() {
        let mut decoder = LineDecoder::new(100);
        let mut buf = BytesMut::from(&b"one\ntwo\r\n\nthr"[..]);
        assert_eq!(
            decode_all(&mut decoder, &mut buf),
            vec![line("one"), line("two"), line("")]
        );
        assert_eq!(&buf[..], b"thr");
        buf.extend_from_slice(b"ee\n");
        assert_eq!(decode_all(&mut decoder, &mut buf), vec![line("three")]);
    }

    #[test]
    fn over_long_line_is_reported_once_and_the_next_line_survives() {
        let mut input = vec![b'a'; 50];
        input.extend_from_slice(b"\nok\n");
        assert_eq!(
            decode_in_pieces(10, &input, &[]),
            vec![Frame::TooLong, line("ok")]
        );
        // The same bytes one at a time: the limit trips before the LF arrives.
        let cuts: Vec<usize> = (1..input.len()).collect();
        assert_eq!(
            decode_in_pieces(10, &input, &cuts),
            vec![Frame::TooLong, line("ok")]
        );
    }

    #[test]
    fn limit_counts_content_not_the_line_ending() {
        let exact = b"0123456789\r\n0123456789\n01234567890\n";
        assert_eq!(
            decode_in_pieces(10, exact, &[11]),
            vec![line("0123456789"), line("0123456789"), Frame::TooLong]
        );
    }

    #[test]
    fn buffer_stays_bounded_while_discarding() {
        let mut decoder = LineDecoder::new(8);
        let mut buf = BytesMut::new();
        let mut reported = 0;
        for _ in 0..1000 {
            buf.extend_from_slice(b"xxxxxxxxxxxxxxxx");
            reported += decode_all(&mut decoder, &mut buf).len();
            assert!(buf.len() <= 9 + 16);
        }
        assert_eq!(reported, 1);
        buf.extend_from_slice(b"tail\nnext\n");
        assert_eq!(decode_all(&mut decoder, &mut buf), vec![line("next")]);
    }

    #[test]
    fn a_partial_line_can_be_finished_as_a_line() {
        let mut decoder = LineDecoder::new(10);
        let mut buf = BytesMut::new();
        assert!(!decoder.is_mid_line(&buf));
        assert_eq!(decoder.finish_line(&mut buf), None);

        buf.extend_from_slice(b"one\nhello");
        assert_eq!(decode_all(&mut decoder, &mut buf), vec![line("one")]);
        assert!(decoder.is_mid_line(&buf));
        assert_eq!(decoder.finish_line(&mut buf), Some(line("hello")));
        assert!(!decoder.is_mid_line(&buf));
        assert!(buf.is_empty());

        // A CR at the end is the start of a CRLF: removed. The LF, when it comes, ends an empty
        // line.
        buf.extend_from_slice(b"hi\r");
        assert_eq!(decode_all(&mut decoder, &mut buf), vec![]);
        assert_eq!(decoder.finish_line(&mut buf), Some(line("hi")));
        buf.extend_from_slice(b"\nnext\n");
        assert_eq!(
            decode_all(&mut decoder, &mut buf),
            vec![line(""), line("next")]
        );

        // One byte past the limit is kept in case it is a CR; finished, it is too long.
        buf.extend_from_slice(b"0123456789x");
        assert_eq!(decode_all(&mut decoder, &mut buf), vec![]);
        assert_eq!(decoder.finish_line(&mut buf), Some(Frame::TooLong));
    }

    #[test]
    fn finishing_ends_the_discarding_of_an_over_long_line() {
        let mut decoder = LineDecoder::new(4);
        let mut buf = BytesMut::from(&b"far too long"[..]);
        assert_eq!(decode_all(&mut decoder, &mut buf), vec![Frame::TooLong]);
        assert!(decoder.is_mid_line(&buf));
        assert_eq!(decoder.finish_line(&mut buf), None);
        assert!(!decoder.is_mid_line(&buf));
        // What follows the quiet period is a new line, not the tail of the long one.
        buf.extend_from_slice(b"ok\n");
        assert_eq!(decode_all(&mut decoder, &mut buf), vec![line("ok")]);
    }

    proptest! {
        /// Any way TCP cuts the bytes up gives the same frames as one big read.
        #[test]
        fn any_split_gives_the_same_frames(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), any::<u8>()], 0..300),
            mut cuts in proptest::collection::vec(0usize..300, 0..20),
            max in 1usize..40,
        ) {
            cuts.sort_unstable();
            prop_assert_eq!(decode_in_pieces(max, &input, &cuts), decode_in_pieces(max, &input, &[]));
        }

        /// Every accepted line is within the limit and contains no LF.
        #[test]
        fn lines_respect_the_limit(input in proptest::collection::vec(any::<u8>(), 0..500), max in 1usize..40) {
            for frame in decode_in_pieces(max, &input, &[]) {
                if let Frame::Line(line) = frame {
                    prop_assert!(line.len() <= max);
                    prop_assert!(!line.contains(&b'\n'));
                }
            }
        }
    }
}
