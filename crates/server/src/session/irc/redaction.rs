//! `REDACT target msgid [reason]` (IRCv3 `draft/message-redaction`): deleting a message, one's
//! own or, as a channel operator, anyone's in the channel. The handler checks the target; the
//! deletion itself (`session::redaction`) waits for the store, so it runs once the handler
//! returns, and the `REDACT` copy goes back only once the deletion is durable.

use palaver_proto::event::MessageId;
use palaver_proto::irc::message::Message;
use palaver_proto::names::{self, fold};

use super::{IrcSession, Unsaved};
use crate::hub::HubError;
use crate::session::Flow;
use crate::session::redaction::{self, Place, RedactError, Redacted};
use crate::store::Commit;

/// A deletion the handler accepted, to run against the store.
#[derive(Debug)]
pub struct RedactRequest {
    place: Place,
    /// The target and msgid as the client wrote them, for errors.
    target: String,
    msgid: String,
    id: MessageId,
    reason: Option<String>,
}

/// `REDACT target msgid [reason]`.
pub fn redact(session: &mut IrcSession, message: &Message) -> Flow {
    let (target, msgid) = (&message.params[0], &message.params[1]);
    let place = if target.starts_with('#') {
        session.user().room(&fold(target)).map(Place::Room)
    } else {
        names::validate_nick(target).ok().map(|()| Place::Private {
            peer: target.clone(),
        })
    };
    let Some(place) = place else {
        session.specified_fail(
            "REDACT",
            "INVALID_TARGET",
            &[target],
            &format!("You cannot delete messages from {target}"),
        );
        return Flow::Continue;
    };
    let Some(id) = MessageId::parse(msgid) else {
        unknown(session, target, msgid);
        return Flow::Continue;
    };
    session.pending().redactions.push(RedactRequest {
        place,
        target: target.clone(),
        msgid: msgid.clone(),
        id,
        reason: message.params.get(2).cloned(),
    });
    Flow::Continue
}

/// Runs a deletion: on success queues the `REDACT` copy and returns the commit it waits for.
pub async fn run(session: &mut IrcSession, request: RedactRequest) -> Option<Commit> {
    let user = session.user().clone();
    let result = redaction::redact(
        &session.context.network,
        &session.context.store,
        &user,
        &request.place,
        request.id,
        request.reason.as_deref(),
    )
    .await;
    let (target, msgid) = (&request.target, &request.msgid);
    match result {
        Ok(Redacted { event, commit }) => {
            // The deleter always gets its copy: it is the answer to its command.
            session.own_copy(&event);
            session.pending().unsaved = Unsaved::Deletion {
                target: target.clone(),
                msgid: msgid.clone(),
            };
            return Some(commit);
        }
        Err(RedactError::UnknownMessage) => unknown(session, target, msgid),
        Err(RedactError::Refused(HubError::NotInRoom(_) | HubError::NoSuchRoom(_))) => {
            session.specified_fail(
                "REDACT",
                "INVALID_TARGET",
                &[target],
                &format!("You cannot delete messages from {target}"),
            );
        }
        Err(RedactError::Refused(_)) => session.specified_fail(
            "REDACT",
            "REDACT_FORBIDDEN",
            &[target, msgid],
            "You are not authorised to delete this message",
        ),
        Err(RedactError::Store(error)) => {
            tracing::error!(%error, "deleting a message failed");
            session.specified_fail(
                "REDACT",
                "REDACT_FORBIDDEN",
                &[target, msgid],
                "The message could not be deleted",
            );
        }
    }
    None
}

fn unknown(session: &mut IrcSession, target: &str, msgid: &str) {
    session.specified_fail(
        "REDACT",
        "UNKNOWN_MSGID",
        &[target, msgid],
        "This message does not exist or is too old",
    );
}
