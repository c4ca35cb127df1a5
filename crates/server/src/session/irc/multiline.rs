//! Multiline messages from IRC clients (IRCv3 `draft/multiline`): `BATCH +ref draft/multiline
//! target`, `PRIVMSG` lines tagged `batch=ref` (and `draft/multiline-concat` for a line that
//! continues the previous one), `BATCH -ref`. The lines are collected as they come, within
//! the limits the capability announces, and the message is sent whole when the batch closes:
//! one message, one msgid, one history entry.
//!
//! A label on the opening line labels the reply to the closing one (the echo batch, or an
//! `ACK`). An error fails the batch at once (`FAIL BATCH …`); its remaining lines are then
//! dropped silently until its end. A line of another command while a batch is open fails the
//! batch and is then handled as usual.

use palaver_proto::event::MessageKind;
use palaver_proto::irc::message::Message;
use palaver_proto::multiline::{Builder, MAX_BYTES, MAX_LINES, MultilineError};
use palaver_proto::names::fold;

use super::{IrcSession, account, channel};
use crate::session::Flow;

/// The batch type of a multiline message.
const BATCH_TYPE: &str = "draft/multiline";
/// The tag on a line that continues the previous one without a break.
const CONCAT_TAG: &str = "draft/multiline-concat";

/// A batch the client opened and has not closed yet.
#[derive(Debug)]
pub enum ClientBatch {
    /// Collecting lines. Boxed: a batch is rarely open, and the session's size is every
    /// connection's memory.
    Open(Box<OpenBatch>),
    /// Refused already: its lines are dropped until `BATCH -reference`.
    Failed { reference: String },
}

#[derive(Debug)]
pub struct OpenBatch {
    reference: String,
    /// The target as the client named it on the opening line.
    target: String,
    /// The label of the opening line, for the reply to the closing one.
    label: Option<String>,
    /// The client-only tags of the opening line, which are the message's.
    client_tags: String,
    lines: Builder,
}

impl ClientBatch {
    fn reference(&self) -> &str {
        match self {
            ClientBatch::Open(batch) => &batch.reference,
            ClientBatch::Failed { reference } => reference,
        }
    }
}

/// `BATCH +reference type params…` and `BATCH -reference` from the client.
pub async fn batch(session: &mut IrcSession, message: &Message) -> Flow {
    let reference = &message.params[0];
    if let Some(reference) = reference.strip_prefix('+').filter(|r| !r.is_empty()) {
        open(session, reference, message);
    } else if let Some(reference) = reference.strip_prefix('-').filter(|r| !r.is_empty()) {
        close(session, reference).await;
    } else {
        fail(session, "MULTILINE_INVALID", &[], "Invalid batch reference");
    }
    Flow::Continue
}

fn open(session: &mut IrcSession, reference: &str, message: &Message) {
    if session.client_batch.is_some() {
        // One batch at a time; the new one's lines are dropped with the old one's.
        session.client_batch = Some(ClientBatch::Failed {
            reference: reference.to_owned(),
        });
        return fail(session, "MULTILINE_INVALID", &[], "A batch is already open");
    }
    let (Some(kind), Some(target)) = (message.params.get(1), message.params.get(2)) else {
        return refuse(
            session,
            reference,
            "MULTILINE_INVALID",
            "Missing parameters",
        );
    };
    if kind != BATCH_TYPE {
        return refuse(
            session,
            reference,
            "MULTILINE_INVALID",
            "Unknown batch type",
        );
    }
    if target.is_empty() || target.contains(',') {
        return refuse(session, reference, "MULTILINE_INVALID", "One target only");
    }
    // The reply to the closing line carries the label; the opening line gets none (no ACK).
    let label = session.replies.take_label();
    session.client_batch = Some(ClientBatch::Open(Box::new(OpenBatch {
        reference: reference.to_owned(),
        target: target.clone(),
        label,
        client_tags: channel::client_only_tags(message),
        lines: Builder::default(),
    })));
}

/// Fails a batch that could not even open: its lines are dropped until its end.
fn refuse(session: &mut IrcSession, reference: &str, code: &str, description: &str) {
    session.client_batch = Some(ClientBatch::Failed {
        reference: reference.to_owned(),
    });
    fail(session, code, &[], description);
}

async fn close(session: &mut IrcSession, reference: &str) {
    let batch = match session.client_batch.take() {
        Some(batch) if batch.reference() == reference => batch,
        Some(_) | None => {
            return fail(session, "MULTILINE_INVALID", &[], "No such batch is open");
        }
    };
    let ClientBatch::Open(batch) = batch else {
        // Refused already, and told so.
        return;
    };
    if let Some(label) = &batch.label {
        session.replies.set_label(label);
    }
    let (text, concat_at) = match batch.lines.finish() {
        Ok(message) => message,
        Err(error) => return fail_with(session, error),
    };
    if batch.target.eq_ignore_ascii_case(account::NICKSERV)
        || batch.target.eq_ignore_ascii_case(account::CHANSERV)
    {
        return fail(
            session,
            "MULTILINE_INVALID_TARGET",
            &[&batch.target, &batch.target],
            "Services take one line at a time",
        );
    }
    channel::send_to(
        session,
        &batch.target,
        MessageKind::Say,
        &text,
        &concat_at,
        &batch.client_tags,
        false,
    )
    .await;
}

/// Takes `message` if it belongs to the client's batches: a line of the open batch (or of a
/// refused one), or any line tagged for a batch that is not open. A line of another command
/// while a batch is open fails the batch and is left to the command table, as is everything
/// when no batch is involved. `None`: not taken.
pub fn intercept(session: &mut IrcSession, message: &Message) -> Option<Flow> {
    // Before registration every line goes to the command table, which refuses BATCH.
    session.user.as_ref()?;
    let tag = message.tag("batch");
    let is_batch_command = message.command.eq_ignore_ascii_case("BATCH");
    match (&mut session.client_batch, tag) {
        (None, None) => None,
        (Some(_), None) if is_batch_command => None,
        (Some(ClientBatch::Failed { .. }), None) => None,
        (Some(ClientBatch::Open(batch)), None) => {
            let reference = batch.reference.clone();
            session.client_batch = Some(ClientBatch::Failed { reference });
            fail(
                session,
                "MULTILINE_INVALID",
                &[],
                "Only the batch's PRIVMSG lines may be sent while it is open",
            );
            None
        }
        (Some(ClientBatch::Failed { reference }), Some(tag)) if tag == reference => {
            Some(Flow::Continue)
        }
        (Some(ClientBatch::Open(batch)), Some(tag)) if tag == batch.reference => {
            let line = line_of(batch, message);
            if let Err(failure) = line {
                let reference = batch.reference.clone();
                session.client_batch = Some(ClientBatch::Failed { reference });
                failure.tell(session);
            }
            Some(Flow::Continue)
        }
        (Some(batch), Some(_)) => {
            let reference = batch.reference().to_owned();
            session.client_batch = Some(ClientBatch::Failed { reference });
            fail(session, "MULTILINE_INVALID", &[], "Incorrect batch tag");
            Some(Flow::Continue)
        }
        (None, Some(_)) => {
            fail(session, "MULTILINE_INVALID", &[], "No such batch is open");
            Some(Flow::Continue)
        }
    }
}

/// Why a line could not join its batch.
enum LineFailure {
    Invalid(&'static str),
    WrongTarget { batch: String, line: String },
    Limit(MultilineError),
}

impl LineFailure {
    fn tell(self, session: &mut IrcSession) {
        match self {
            LineFailure::Invalid(description) => {
                fail(session, "MULTILINE_INVALID", &[], description)
            }
            LineFailure::WrongTarget { batch, line } => fail(
                session,
                "MULTILINE_INVALID_TARGET",
                &[&batch, &line],
                "Invalid multiline target",
            ),
            LineFailure::Limit(error) => fail_with(session, error),
        }
    }
}

/// Adds a line tagged for `batch` to it.
fn line_of(batch: &mut OpenBatch, message: &Message) -> Result<(), LineFailure> {
    if !message.command.eq_ignore_ascii_case("PRIVMSG") {
        return Err(LineFailure::Invalid(
            "A multiline batch holds PRIVMSG lines only",
        ));
    }
    let (Some(target), Some(text)) = (message.params.first(), message.params.get(1)) else {
        return Err(LineFailure::Invalid("Invalid multiline batch"));
    };
    if fold(target) != fold(&batch.target) {
        return Err(LineFailure::WrongTarget {
            batch: batch.target.clone(),
            line: target.clone(),
        });
    }
    let concat = message.tag(CONCAT_TAG).is_some();
    batch.lines.push(text, concat).map_err(LineFailure::Limit)
}

/// `FAIL BATCH …` for a message the limits or the rules refused.
fn fail_with(session: &mut IrcSession, error: MultilineError) {
    let description = error.to_string();
    match error {
        MultilineError::TooManyBytes => fail(
            session,
            "MULTILINE_MAX_BYTES",
            &[&MAX_BYTES.to_string()],
            &description,
        ),
        MultilineError::TooManyLines => fail(
            session,
            "MULTILINE_MAX_LINES",
            &[&MAX_LINES.to_string()],
            &description,
        ),
        MultilineError::BlankConcat | MultilineError::Empty => {
            fail(session, "MULTILINE_INVALID", &[], &description)
        }
    }
}

fn fail(session: &mut IrcSession, code: &str, context: &[&str], description: &str) {
    session.specified_fail("BATCH", code, context, description);
}
