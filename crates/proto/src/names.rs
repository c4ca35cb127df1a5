//! Rules for nicknames and room names, shared by every protocol.
//!
//! Names compare case-insensitively using ASCII case mapping only (`CASEMAPPING=ascii` in IRC
//! terms): `Alice` and `alice` are the same nick, `É` and `é` are not. [`fold`] gives the key
//! under which a name is stored.
//!
//! A name must not contain what a reader cannot see, or two different names would look the
//! same: nicks are ASCII letters, digits and a few symbols; room names may use any script, but
//! no whitespace, control, format or other invisible character ([`is_invisible`]).

mod invisible;

use thiserror::Error;

pub use invisible::is_invisible;

/// Longest nickname, in characters (all allowed characters are ASCII, so also bytes).
pub const NICK_MAX_LEN: usize = 30;
/// Longest room name in characters, not counting the leading `#`.
pub const ROOM_NAME_MAX_LEN: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("a nick must be 1 to {NICK_MAX_LEN} characters long")]
    NickLength,
    #[error("a nick may only contain letters, digits and - _ [ ] {{ }} \\ | ^")]
    NickCharacter,
    #[error("a nick may not start with a digit or -")]
    NickStart,
    #[error("a room name starts with #")]
    RoomPrefix,
    #[error("a room name is # and then 1 to {ROOM_NAME_MAX_LEN} characters")]
    RoomLength,
    #[error("a room name may not contain spaces, commas or control characters")]
    RoomCharacter,
    #[error(
        "a room name may not contain invisible characters such as U+{code:04X} (zero-width, \
         direction and other format characters, fillers, blank symbols)",
        code = u32::from(*.0)
    )]
    RoomInvisible(char),
}

/// Checks a nickname: 1–30 ASCII letters, digits and `-_[]{}\|^`, not starting with a digit
/// or `-`. Being ASCII, a nick can hold no invisible character; a rule that lets other
/// scripts in must refuse [`is_invisible`] characters as room names do.
pub fn validate_nick(nick: &str) -> Result<(), NameError> {
    if nick.is_empty() || nick.len() > NICK_MAX_LEN {
        return Err(NameError::NickLength);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_[]{}\\|^".contains(c);
    if !nick.chars().all(allowed) {
        return Err(NameError::NickCharacter);
    }
    if nick.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        return Err(NameError::NickStart);
    }
    Ok(())
}

/// Checks a room name: `#` and then 1–50 characters, none of them whitespace (any Unicode
/// space), a comma, a control character or an invisible one ([`is_invisible`]).
pub fn validate_room(room: &str) -> Result<(), NameError> {
    let Some(rest) = room.strip_prefix('#') else {
        return Err(NameError::RoomPrefix);
    };
    let length = rest.chars().count();
    if length == 0 || length > ROOM_NAME_MAX_LEN {
        return Err(NameError::RoomLength);
    }
    if rest
        .chars()
        .any(|c| c.is_whitespace() || c == ',' || c.is_control())
    {
        return Err(NameError::RoomCharacter);
    }
    if let Some(invisible) = rest.chars().find(|&c| is_invisible(c)) {
        return Err(NameError::RoomInvisible(invisible));
    }
    Ok(())
}

/// The case-folded key of a nick or room name (ASCII lower case).
pub fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicks() {
        for good in [
            "a",
            "alice",
            "Bob_42",
            "[x]",
            "{y}",
            "a-b",
            "\\o|^",
            &"n".repeat(30),
        ] {
            assert_eq!(validate_nick(good), Ok(()), "{good}");
        }
        assert_eq!(validate_nick(""), Err(NameError::NickLength));
        assert_eq!(validate_nick(&"n".repeat(31)), Err(NameError::NickLength));
        assert_eq!(validate_nick("1abc"), Err(NameError::NickStart));
        assert_eq!(validate_nick("-abc"), Err(NameError::NickStart));
        for bad in ["a b", "a,b", "a.b", "é", "a#", "a!", "a@b", "a*"] {
            assert_eq!(validate_nick(bad), Err(NameError::NickCharacter), "{bad}");
        }
    }

    #[test]
    fn rooms() {
        for good in [
            "#a",
            "#rust",
            "#Ünïcödé",
            "#a.b-c_d!",
            &format!("#{}", "r".repeat(50)),
        ] {
            assert_eq!(validate_room(good), Ok(()), "{good}");
        }
        assert_eq!(validate_room("rust"), Err(NameError::RoomPrefix));
        assert_eq!(validate_room("#"), Err(NameError::RoomLength));
        assert_eq!(
            validate_room(&format!("#{}", "é".repeat(51))),
            Err(NameError::RoomLength)
        );
        for bad in [
            "#a b",
            "#a,b",
            "#a\u{7}",
            "#a\tb",
            "#a\u{a0}",
            "#a\u{3000}",
            "#a\u{2028}",
        ] {
            assert_eq!(validate_room(bad), Err(NameError::RoomCharacter), "{bad}");
        }
    }

    #[test]
    fn room_names_refuse_invisible_characters() {
        for (bad, invisible) in [
            ("#lobby\u{200B}", '\u{200B}'),
            ("#\u{202E}ybbol", '\u{202E}'),
            ("#lob\u{200D}by", '\u{200D}'),
            ("#\u{FEFF}lobby", '\u{FEFF}'),
            ("#lobby\u{3164}", '\u{3164}'),
            ("#\u{2800}", '\u{2800}'),
            ("#\u{2764}\u{FE0F}", '\u{FE0F}'),
        ] {
            assert_eq!(
                validate_room(bad),
                Err(NameError::RoomInvisible(invisible)),
                "{bad:?}"
            );
        }
        assert_eq!(
            NameError::RoomInvisible('\u{200B}').to_string(),
            "a room name may not contain invisible characters such as U+200B (zero-width, \
             direction and other format characters, fillers, blank symbols)"
        );
        // Other scripts, marks and emoji stay welcome.
        for good in [
            "#\u{2764}",
            "#caf\u{E9}",
            "#cafe\u{301}",
            "#\u{0639}\u{0631}\u{0628}\u{064A}",
        ] {
            assert_eq!(validate_room(good), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn folding_is_ascii_only() {
        assert_eq!(fold("AlIcE[]"), "alice[]");
        assert_eq!(fold("#ÉCOLE"), "#École");
    }
}
