//! Cutting text to a byte limit without splitting a character.

/// `text` cut to at most `max_bytes` bytes, at a character boundary (so possibly a little
/// shorter).
pub fn truncate(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_only_between_characters() {
        assert_eq!(truncate("héllo", 10), "héllo");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("é", 1), "");
        assert_eq!(truncate("", 0), "");
    }
}
