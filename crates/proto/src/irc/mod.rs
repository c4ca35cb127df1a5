//! The IRC wire format, with no I/O: one message per line, as in modern.ircdocs.horse's
//! "Messages" and IRCv3 message-tags; room modes in IRC's letters ([`modes`]); the fields of
//! a WHOX query ([`whox`]); and, re-exported
//! from [`crate::mask`], the `nick!user@host` helpers every IRC server needs.
//!
//! This layer only splits and joins lines. It knows nothing of commands, numerics or state:
//! the command stays as the client sent it (case-folding and validation are the session's
//! business), and limits (512 bytes for the message, 8191 for tags) are the caller's to enforce
//! before parsing, with [`split_tags`] telling the two parts apart without allocating.

pub mod caps;
pub mod message;
pub mod modes;
pub mod numeric;
pub mod render;
pub mod whox;

pub use crate::mask::{self, matches, split_userhost};
pub use message::{Message, ParseError, Tag, escape_tag_value, split_tags, unescape_tag_value};
