//! The plain-text protocol: what `nc host 7788` speaks.
//!
//! Clients send UTF-8 lines; a line is either text for the current room or a `/command`.
//! The server answers with stamped lines. The full grammar is in `docs/PROTOCOL.md`.

mod input;
mod output;

pub use input::{Command, Input, InputError, parse};
pub use output::{error_line, notice_line, render_event, render_own_copy};
