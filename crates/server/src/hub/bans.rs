//! A room's mask lists — bans, ban exceptions and invite exceptions — and the masks in them:
//! `nick!user@host` globs (the form in which both protocols show and match users, see
//! `Identity::mask`) and account masks (`$a:name`), checked and completed when set, matched
//! case-insensitively.
//!
//! An account mask is an IRC extended ban (`EXTBAN=$,a`, IRCv3 `ACCOUNTEXTBAN=a`), the form
//! Solanum uses: `$a` matches anyone logged in, `$a:<glob>` anyone logged in to an account the
//! glob matches, and `$~a` anyone not logged in. Nicks cannot contain `$`, so no such mask was
//! ever a nick.

use palaver_proto::event::Identity;
use palaver_proto::mask;
use palaver_proto::modes::MaskList;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use thiserror::Error;

/// Most entries a room's mask lists hold together (IRC `MAXLIST=beI:100`).
pub const MAX_LIST_ENTRIES: usize = 100;

/// One entry of a mask list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskEntry {
    /// A `nick!user@host` glob or an account mask, normalized by [`normalize_mask`].
    pub mask: Box<str>,
    pub set_by: Box<str>,
    pub set_at: Timestamp,
}

/// A room's three mask lists, each in the order its entries were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaskLists {
    bans: Vec<MaskEntry>,
    ban_exceptions: Vec<MaskEntry>,
    invite_exceptions: Vec<MaskEntry>,
}

impl MaskLists {
    /// The entries of `list`.
    pub fn get(&self, list: MaskList) -> &[MaskEntry] {
        match list {
            MaskList::Bans => &self.bans,
            MaskList::BanExceptions => &self.ban_exceptions,
            MaskList::InviteExceptions => &self.invite_exceptions,
        }
    }

    /// The entries of `list`, to change.
    pub fn get_mut(&mut self, list: MaskList) -> &mut Vec<MaskEntry> {
        match list {
            MaskList::Bans => &mut self.bans,
            MaskList::BanExceptions => &mut self.ban_exceptions,
            MaskList::InviteExceptions => &mut self.invite_exceptions,
        }
    }

    /// How many entries the lists hold together (what [`MAX_LIST_ENTRIES`] bounds).
    pub fn total(&self) -> usize {
        self.bans.len() + self.ban_exceptions.len() + self.invite_exceptions.len()
    }

    /// Whether `identity` is banned: a ban matches it and no ban exception does.
    pub fn bans(&self, identity: &Identity) -> bool {
        let subject = Subject::of(identity);
        subject.matches_any(&self.bans) && !subject.matches_any(&self.ban_exceptions)
    }

    /// Whether an invite exception lets `identity` into an invite-only room.
    pub fn lets_in_uninvited(&self, identity: &Identity) -> bool {
        Subject::of(identity).matches_any(&self.invite_exceptions)
    }
}

/// What masks are matched against: a user's case-folded `nick!user@host` and account.
struct Subject {
    mask: String,
    account: Option<String>,
}

impl Subject {
    fn of(identity: &Identity) -> Self {
        Self {
            mask: fold(&identity.mask()),
            account: identity.account.as_deref().map(fold),
        }
    }

    fn matches_any(&self, entries: &[MaskEntry]) -> bool {
        entries.iter().any(|entry| self.matches(&entry.mask))
    }

    /// Whether the normalized mask `mask` matches this subject.
    fn matches(&self, mask: &str) -> bool {
        match AccountMask::parse(mask) {
            Some(AccountMask::LoggedIn) => self.account.is_some(),
            Some(AccountMask::LoggedOut) => self.account.is_none(),
            Some(AccountMask::Account(glob)) => self
                .account
                .as_deref()
                .is_some_and(|account| mask::matches(glob, account)),
            None => mask::matches(mask, &self.mask),
        }
    }
}

/// The prefix of an extended mask (IRC `EXTBAN`).
pub const EXTBAN_PREFIX: char = '$';
/// The extended-mask type matching accounts (IRC `EXTBAN`, `ACCOUNTEXTBAN`).
pub const ACCOUNT_EXTBAN: char = 'a';

/// An account mask, as written after [`EXTBAN_PREFIX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AccountMask<'a> {
    /// `$a`: anyone logged in.
    LoggedIn,
    /// `$~a`: anyone not logged in.
    LoggedOut,
    /// `$a:<glob>`: anyone logged in to an account the glob matches.
    Account(&'a str),
}

impl<'a> AccountMask<'a> {
    /// Reads an extended mask; `None` if `mask` is not one, or not of a known type.
    fn parse(mask: &'a str) -> Option<Self> {
        match mask.strip_prefix(EXTBAN_PREFIX)? {
            "a" => Some(AccountMask::LoggedIn),
            "~a" => Some(AccountMask::LoggedOut),
            rest => rest
                .strip_prefix("a:")
                .filter(|glob| !glob.is_empty())
                .map(AccountMask::Account),
        }
    }
}

/// Longest mask in bytes, once completed to `nick!user@host`. The longest mask a user here
/// can have is 30 (nick) + 1 + 11 (user name with its `~`) + 1 + 45 (an IPv6 address in its
/// longest text form) = 88 bytes; 128 leaves room to spare and keeps a `367` ban-list line,
/// with the room's name and the setter's mask, well under IRC's 512 bytes. An account mask is
/// at most `$a:` and a 30-byte name.
pub const BAN_MASK_MAX_BYTES: usize = 128;

/// Why a mask was refused. Each would let the mask, shown back in a list, read as more than
/// one field (a space, a leading `:`), carry terminal or protocol controls, take unbounded
/// room, or never match anyone (an extended mask of a type palaver does not know).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BanMaskError {
    #[error("a mask may not be empty")]
    Empty,
    #[error("a mask may not contain spaces")]
    Space,
    #[error("a mask may not start with ':'")]
    LeadingColon,
    #[error("a mask may not contain control characters")]
    Control,
    #[error("a mask may be at most {BAN_MASK_MAX_BYTES} bytes long")]
    TooLong,
    #[error("the only extended masks are $a, $a:<account> and $~a")]
    UnknownExtended,
}

/// Checks a mask and normalizes it, case-folded: a `nick!user@host` glob is completed (`bob`
/// → `bob!*@*`, `*@host` → `*!*@host`); an account mask (`$a:Bob` → `$a:bob`) must be of a
/// known type.
pub fn normalize_mask(mask: &str) -> Result<String, BanMaskError> {
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
    let normalized = if mask.starts_with(EXTBAN_PREFIX) {
        let folded = fold(mask);
        AccountMask::parse(&folded).ok_or(BanMaskError::UnknownExtended)?;
        folded
    } else {
        complete_mask(mask)
    };
    if normalized.len() > BAN_MASK_MAX_BYTES {
        return Err(BanMaskError::TooLong);
    }
    Ok(normalized)
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

    fn identity(nick: &str, account: Option<&str>) -> Identity {
        Identity {
            nick: nick.into(),
            user: "~u".into(),
            host: "127.0.0.1".into(),
            realname: "".into(),
            account: account.map(Into::into),
            bot: false,
        }
    }

    fn lists(entries: &[(MaskList, &str)]) -> MaskLists {
        let mut lists = MaskLists::default();
        for (list, mask) in entries {
            lists.get_mut(*list).push(MaskEntry {
                mask: normalize_mask(mask).expect("valid mask").into(),
                set_by: "op!~op@host".into(),
                set_at: Timestamp(0),
            });
        }
        lists
    }

    #[test]
    fn ban_masks_are_completed_and_folded() {
        let normalized = |mask| normalize_mask(mask).unwrap();
        assert_eq!(normalized("Bob"), "bob!*@*");
        assert_eq!(normalized("bob!~b"), "bob!~b@*");
        assert_eq!(normalized("*@Host.example"), "*!*@host.example");
        assert_eq!(normalized("a!b@c"), "a!b@c");
        assert_eq!(normalized("a!b@"), "a!b@*");
        assert_eq!(normalized("*!*@::1"), "*!*@::1");
    }

    #[test]
    fn account_masks_are_folded_and_not_completed() {
        let normalized = |mask| normalize_mask(mask).unwrap();
        assert_eq!(normalized("$a:Bob"), "$a:bob");
        assert_eq!(normalized("$a"), "$a");
        assert_eq!(normalized("$~a"), "$~a");
        assert_eq!(normalized("$a:b*"), "$a:b*");
        for unknown in ["$x:bob", "$a:", "$", "$ab", "$~a:bob"] {
            assert_eq!(
                normalize_mask(unknown),
                Err(BanMaskError::UnknownExtended),
                "{unknown}"
            );
        }
    }

    #[test]
    fn masks_that_could_not_be_shown_safely_are_refused() {
        for (mask, error) in [
            ("", BanMaskError::Empty),
            ("x fake!setter@evil 0", BanMaskError::Space),
            (":x", BanMaskError::LeadingColon),
            ("a\u{1}b", BanMaskError::Control),
            ("a\u{1b}[2J", BanMaskError::Control),
            ("a\u{85}b", BanMaskError::Control),
            ("$a:b c", BanMaskError::Space),
        ] {
            assert_eq!(normalize_mask(mask), Err(error), "{mask:?}");
        }
        // The limit counts the completed mask: 123 + `!*@*` fits, 125 + `!*@*` does not.
        let longest = "n".repeat(BAN_MASK_MAX_BYTES - 4);
        assert_eq!(normalize_mask(&longest).unwrap().len(), BAN_MASK_MAX_BYTES);
        let too_long = "n".repeat(BAN_MASK_MAX_BYTES - 3);
        assert_eq!(normalize_mask(&too_long), Err(BanMaskError::TooLong));
        let too_long = format!("$a:{}", "n".repeat(BAN_MASK_MAX_BYTES));
        assert_eq!(normalize_mask(&too_long), Err(BanMaskError::TooLong));
    }

    #[test]
    fn account_masks_match_accounts_never_nicks() {
        let bob = identity("bob", Some("Bob"));
        let bob_unidentified = identity("bob", None);
        let carol = identity("carol", Some("carol"));
        let by_account = lists(&[(MaskList::Bans, "$a:BOB")]);
        assert!(by_account.bans(&bob));
        assert!(!by_account.bans(&bob_unidentified));
        assert!(!by_account.bans(&carol));
        let by_glob = lists(&[(MaskList::Bans, "$a:b*")]);
        assert!(by_glob.bans(&bob) && !by_glob.bans(&carol));
        let logged_in = lists(&[(MaskList::Bans, "$a")]);
        assert!(logged_in.bans(&bob) && logged_in.bans(&carol));
        assert!(!logged_in.bans(&bob_unidentified));
        let logged_out = lists(&[(MaskList::Bans, "$~a")]);
        assert!(logged_out.bans(&bob_unidentified) && !logged_out.bans(&bob));
    }

    #[test]
    fn a_ban_exception_outweighs_any_ban() {
        let bob = identity("bob", Some("bob"));
        let carol = identity("carol", None);
        let everyone_but_bob = lists(&[
            (MaskList::Bans, "*!*@*"),
            (MaskList::BanExceptions, "$a:bob"),
        ]);
        assert!(!everyone_but_bob.bans(&bob));
        assert!(everyone_but_bob.bans(&carol));
        // An exception alone bans nobody.
        let exception_only = lists(&[(MaskList::BanExceptions, "carol")]);
        assert!(!exception_only.bans(&carol));
    }

    #[test]
    fn invite_exceptions_are_their_own_list() {
        let bob = identity("bob", None);
        let lists = lists(&[
            (MaskList::InviteExceptions, "bob"),
            (MaskList::Bans, "carol"),
        ]);
        assert!(lists.lets_in_uninvited(&bob));
        assert!(!lists.bans(&bob));
        assert!(!lists.lets_in_uninvited(&identity("carol", None)));
        assert_eq!(lists.total(), 2);
    }
}
