//! The plain-text protocol: what `nc host 7788` speaks.
//!
//! Clients send UTF-8 lines; a line is either text for the current room or a `/command`.
//! The server answers with stamped lines. The full grammar is in `docs/PROTOCOL.md`.

mod input;
mod output;

pub use input::{Command, Input, InputError, PasteLine, parse, parse_paste_line};
pub use output::{CONTINUATION, error_line, notice_line, render_event, render_own_copy};

/// Control characters could rewrite the screen (ESC sequences, CR, C1 controls) of everyone who
/// reads with `nc`, so the text protocol neither accepts nor sends them. TAB, DEL and the IRC
/// formatting codes (bold, colour, italic, …) are harmless and used by IRC clients, so they
/// pass.
pub fn is_terminal_control(c: char) -> bool {
    const IRC_FORMATTING: &[char] = &[
        '\x02', '\x03', '\x04', '\x0f', '\x11', '\x16', '\x1d', '\x1e', '\x1f',
    ];
    c.is_control() && c != '\t' && c != '\x7f' && !IRC_FORMATTING.contains(&c)
}
