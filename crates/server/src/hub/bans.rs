//! Bans: `nick!user@host` globs, the form in which a room refuses people (both protocols show
//! and match this form, see `Identity::mask`), checked and completed when set, matched
//! case-insensitively.

use palaver_proto::event::Identity;
use palaver_proto::mask;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use thiserror::Error;

/// Most bans a room keeps (IRC `MAXLIST=b:100`).
pub const MAX_BANS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// A `nick!user@host` glob, case-folded.
    pub mask: Box<str>,
    pub set_by: Box<str>,
    pub set_at: Timestamp,
}

/// Whether any of `bans` matches `identity` (its case-folded `nick!user@host`).
pub(super) fn any_matches(bans: &[Ban], identity: &Identity) -> bool {
    let subject = fold(&identity.mask());
    bans.iter().any(|ban| mask::matches(&ban.mask, &subject))
}

/// Longest ban mask in bytes, once completed to `nick!user@host`. The longest mask a user here
/// can have is 30 (nick) + 1 + 11 (user name with its `~`) + 1 + 45 (an IPv6 address in its
/// longest text form) = 88 bytes; 128 leaves room to spare and keeps a `367` ban-list line,
/// with the room's name and the setter's mask, well under IRC's 512 bytes.
pub const BAN_MASK_MAX_BYTES: usize = 128;

/// Why a ban mask was refused. Each would let the mask, shown back in a ban list, read as more
/// than one field (a space, a leading `:`), carry terminal or protocol controls, or take
/// unbounded room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BanMaskError {
    #[error("a ban mask may not be empty")]
    Empty,
    #[error("a ban mask may not contain spaces")]
    Space,
    #[error("a ban mask may not start with ':'")]
    LeadingColon,
    #[error("a ban mask may not contain control characters")]
    Control,
    #[error("a ban mask may be at most {BAN_MASK_MAX_BYTES} bytes long")]
    TooLong,
}

/// Checks a ban mask and completes it to `nick!user@host` form, case-folded: `bob` →
/// `bob!*@*`, `*@host` → `*!*@host`.
pub fn normalize_ban_mask(mask: &str) -> Result<String, BanMaskError> {
    if mask.is_empty() {
        return Err(BanMaskError::Empty);
    }
    if mask.contains(' ') {
        return Err(BanMaskError::Space);
    }
    if mask.starts_with(':') {
        return Err(BanMaskError::LeadingColon);
    }
    if mask.chars().any(char::is_control) {
        return Err(BanMaskError::Control);
    }
    let full = complete_mask(mask);
    if full.len() > BAN_MASK_MAX_BYTES {
        return Err(BanMaskError::TooLong);
    }
    Ok(full)
}

/// `mask` in `nick!user@host` form, case-folded.
fn complete_mask(mask: &str) -> String {
    let (nick_user, host) = match mask.split_once('@') {
        Some((nick_user, host)) => (nick_user, if host.is_empty() { "*" } else { host }),
        None => (mask, "*"),
    };
    let full = match nick_user.split_once('!') {
        Some((nick, user)) => format!("{nick}!{user}@{host}"),
        None if mask.contains('@') => format!("*!{nick_user}@{host}"),
        None => format!("{nick_user}!*@{host}"),
    };
    fold(&full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ban_masks_are_completed_and_folded() {
        let normalized = |mask| normalize_ban_mask(mask).unwrap();
        assert_eq!(normalized("Bob"), "bob!*@*");
        assert_eq!(normalized("bob!~b"), "bob!~b@*");
        assert_eq!(normalized("*@Host.example"), "*!*@host.example");
        assert_eq!(normalized("a!b@c"), "a!b@c");
        assert_eq!(normalized("a!b@"), "a!b@*");
        assert_eq!(normalized("*!*@::1"), "*!*@::1");
    }

    #[test]
    fn ban_masks_that_could_not_be_shown_safely_are_refused() {
        for (mask, error) in [
            ("", BanMaskError::Empty),
            ("x fake!setter@evil 0", BanMaskError::Space),
            (":x", BanMaskError::LeadingColon),
            ("a\u{1}b", BanMaskError::Control),
            ("a\u{1b}[2J", BanMaskError::Control),
            ("a\u{85}b", BanMaskError::Control),
        ] {
            assert_eq!(normalize_ban_mask(mask), Err(error), "{mask:?}");
        }
        // The limit counts the completed mask: 123 + `!*@*` fits, 125 + `!*@*` does not.
        let longest = "n".repeat(BAN_MASK_MAX_BYTES - 4);
        assert_eq!(
            normalize_ban_mask(&longest).unwrap().len(),
            BAN_MASK_MAX_BYTES
        );
        let too_long = "n".repeat(BAN_MASK_MAX_BYTES - 3);
        assert_eq!(normalize_ban_mask(&too_long), Err(BanMaskError::TooLong));
    }
}
