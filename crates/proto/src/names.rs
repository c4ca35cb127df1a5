//! Rules for nicknames and room names, shared by every protocol.
//!
//! Names compare case-insensitively using ASCII case mapping only (`CASEMAPPING=ascii` in IRC
//! terms): `Alice` and `alice` are the same nick, `É` and `é` are not. [`fold`] gives the key
//! under which a name is stored.

use thiserror::Error;

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
}

/// Checks a nickname: 1–30 ASCII letters, digits and `-_[]{}\|^`, not starting with a digit
/// or `-`.
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

/// Checks a room name: `#` and then 1–50 characters, none of them a space, comma or control
/// character.
pub fn validate_room(room: &str) -> Result<(), NameError> {
    let Some(rest) = room.strip_prefix('#') else {
        return Err(NameError::RoomPrefix);
    };
    let length = rest.chars().count();
    if length == 0 || length > ROOM_NAME_MAX_LEN {
        return Err(NameError::RoomLength);
    }
    if rest.chars().any(|c| c == ' ' || c == ',' || c.is_control()) {
        return Err(NameError::RoomCharacter);
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
        for bad in ["#a b", "#a,b", "#a\u{7}", "#a\tb"] {
            assert_eq!(validate_room(bad), Err(NameError::RoomCharacter), "{bad}");
        }
    }

    #[test]
    fn folding_is_ascii_only() {
        assert_eq!(fold("AlIcE[]"), "alice[]");
        assert_eq!(fold("#ÉCOLE"), "#École");
    }
}
