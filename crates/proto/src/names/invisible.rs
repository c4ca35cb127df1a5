//! Characters that show as nothing, or as an empty space, and so let two different names look
//! the same: `#lobby` beside `#lobby` followed by a zero-width space, or a name whose letters a
//! direction override shows in another order.
//!
//! Rust's standard library has no lookup of Unicode general categories or of derived
//! properties, so the ranges are written out here, from the Unicode Character Database
//! 16.0.0 (<https://www.unicode.org/Public/16.0.0/ucd/>). They follow the advice of Unicode
//! Technical Standard #39 (Unicode Security Mechanisms) to keep default-ignorable code points
//! out of identifiers.

/// General category Cf (format), from `extracted/DerivedGeneralCategory.txt`: the soft hyphen,
/// zero-width spaces and joiners, direction marks, embeddings, overrides and isolates, the
/// byte-order mark, invisible operators, prepended number marks, tag characters.
const FORMAT: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Default_Ignorable_Code_Point, from `DerivedCoreProperties.txt`: what a renderer that does
/// not support a character shows as nothing at all. Mostly format characters again, plus the
/// Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), the combining grapheme joiner (U+034F),
/// variation selectors, Khmer inherent vowels, Mongolian free variation selectors, and the
/// unassigned code points set aside for more of the kind.
const DEFAULT_IGNORABLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFF8}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// Characters in neither table that still draw as an empty cell: U+2800 BRAILLE PATTERN
/// BLANK (a symbol, So), popular for posing as a space where spaces are refused.
const BLANK_SYMBOLS: &[(char, char)] = &[('\u{2800}', '\u{2800}')];

/// Whether `c` is a format character (Cf), a default-ignorable code point, or a blank symbol:
/// something a reader cannot see in a name. (Whitespace and control characters are separate
/// questions: see `char::is_whitespace` and `char::is_control`.)
pub fn is_invisible(c: char) -> bool {
    !c.is_ascii()
        && [FORMAT, DEFAULT_IGNORABLE, BLANK_SYMBOLS]
            .iter()
            .any(|table| contains(table, c))
}

/// Whether one of `table`'s inclusive ranges (sorted, not overlapping) holds `c`.
fn contains(table: &[(char, char)], c: char) -> bool {
    let after = table.partition_point(|&(_, last)| last < c);
    table.get(after).is_some_and(|&(first, _)| first <= c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_disjoint_ranges() {
        for table in [FORMAT, DEFAULT_IGNORABLE, BLANK_SYMBOLS] {
            for &(first, last) in table {
                assert!(first <= last, "{first:?}..{last:?}");
            }
            for pair in table.windows(2) {
                assert!(pair[0].1 < pair[1].0, "{pair:?}");
            }
        }
    }

    #[test]
    fn invisible_characters() {
        for c in [
            '\u{00AD}',  // soft hyphen
            '\u{034F}',  // combining grapheme joiner
            '\u{061C}',  // Arabic letter mark
            '\u{115F}',  // Hangul choseong filler
            '\u{1160}',  // Hangul jungseong filler
            '\u{180E}',  // Mongolian vowel separator
            '\u{200B}',  // zero width space
            '\u{200D}',  // zero width joiner
            '\u{200E}',  // left-to-right mark
            '\u{202E}',  // right-to-left override
            '\u{2060}',  // word joiner
            '\u{2065}',  // reserved, default ignorable
            '\u{2066}',  // left-to-right isolate
            '\u{2800}',  // Braille pattern blank
            '\u{3164}',  // Hangul filler
            '\u{FE0F}',  // variation selector-16
            '\u{FEFF}',  // byte order mark
            '\u{FFA0}',  // halfwidth Hangul filler
            '\u{FFFB}',  // interlinear annotation terminator
            '\u{1343F}', // Egyptian hieroglyph end walled enclosure (Unicode 15)
            '\u{1D173}', // musical symbol begin beam
            '\u{E0041}', // tag latin capital letter A
            '\u{E01EF}', // variation selector-256
        ] {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn visible_characters() {
        for c in [
            'a',
            '#',
            ' ',
            'é',
            'ß',
            'Ж',
            'ع',
            '中',
            '한',
            '\u{0301}',
            '❤',
            '😀',
            '\u{2801}',
            '\u{FFFC}',
            '\u{FFFD}',
            '\u{10FFFF}',
        ] {
            assert!(!is_invisible(c), "U+{:04X}", u32::from(c));
        }
    }
}
