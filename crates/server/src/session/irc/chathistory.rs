//! History for IRC clients: IRCv3 `draft/chathistory` (`CHATHISTORY LATEST`, `BEFORE`,
//! `AFTER`, `AROUND`, `BETWEEN`, `TARGETS`), and the optional replay on join for clients
//! without it.
//!
//! Handlers in the command table are synchronous, so `CHATHISTORY` only records a
//! [`HistoryRequest`]; the session runs it against the store once the handler returns
//! ([`answer`]). A channel's history is read from the channel's history floor on: what an
//! unregistered channel said before it last emptied is nobody's (docs/SECURITY.md).

use palaver_proto::irc::caps::Cap;
use palaver_proto::irc::message::Message;
use palaver_proto::irc::render::event_messages;
use palaver_proto::names::{self, fold};
use palaver_proto::time::Timestamp;

use super::IrcSession;
use super::replies::BatchType;
use crate::hub::Room;
use crate::session::{Flow, Keep, fitting, history_budget};
use crate::store::{Bound, HistoryQuery, StoredMessage};

/// Most messages one `CHATHISTORY` request returns (`CHATHISTORY` in `RPL_ISUPPORT`).
pub const MAX_MESSAGES: usize = 100;

/// What to fetch, for whom; decided by the handler, run by [`answer`].
#[derive(Debug, Clone)]
pub struct HistoryRequest {
    query: Query,
    /// The target as the client named it, echoed in the batch.
    target_name: String,
    /// What the client may read of the target.
    target: HistoryQuery,
    limit: usize,
    /// A chathistory batch (`CHATHISTORY`), or plain lines (replay on join without the
    /// capability; in a batch when the client has `batch`).
    reply: Reply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    Chathistory,
    Replay,
}

#[derive(Debug, Clone)]
enum Query {
    Latest(Option<Bound>),
    Before(Bound),
    After(Bound),
    Around(Bound),
    Between(Bound, Bound),
    Targets(Timestamp, Timestamp),
}

/// `CHATHISTORY subcommand target reference… limit`.
pub fn chathistory(session: &mut IrcSession, message: &Message) -> Flow {
    let params = &message.params;
    let subcommand = params[0].to_ascii_uppercase();
    let needed = match subcommand.as_str() {
        "LATEST" | "BEFORE" | "AFTER" | "AROUND" => 4,
        "BETWEEN" => 5,
        "TARGETS" => 4,
        _ => {
            session.specified_fail(
                "CHATHISTORY",
                "INVALID_PARAMS",
                &[&params[0]],
                "Unknown subcommand",
            );
            return Flow::Continue;
        }
    };
    if params.len() < needed {
        session.specified_fail(
            "CHATHISTORY",
            "NEED_MORE_PARAMS",
            &[&subcommand],
            "Missing parameters",
        );
        return Flow::Continue;
    }
    let Some(limit) = params[needed - 1].parse::<usize>().ok().map(|limit| {
        if limit == 0 {
            MAX_MESSAGES
        } else {
            limit.min(MAX_MESSAGES)
        }
    }) else {
        invalid_params(session, &subcommand, "Invalid limit");
        return Flow::Continue;
    };
    if subcommand == "TARGETS" {
        let (Some(start), Some(end)) = (time_bound(&params[1]), time_bound(&params[2])) else {
            invalid_params(session, &subcommand, "Invalid timestamp");
            return Flow::Continue;
        };
        let (start, end) = if start <= end {
            (start, end)
        } else {
            (end, start)
        };
        session.pending().history_requests.push(HistoryRequest {
            query: Query::Targets(start, end),
            target_name: String::new(),
            // Unused: TARGETS names the rooms itself (answer_targets).
            target: HistoryQuery::conversation(Vec::new(), ""),
            limit,
            reply: Reply::Chathistory,
        });
        return Flow::Continue;
    }
    let target_name = params[1].clone();
    let Some(target) = visible_target(session, &target_name) else {
        session.specified_fail(
            "CHATHISTORY",
            "INVALID_TARGET",
            &[&subcommand, &target_name],
            "Messages could not be retrieved",
        );
        return Flow::Continue;
    };
    let references: Option<Vec<Option<Bound>>> = params[2..needed - 1]
        .iter()
        .map(|text| reference(text))
        .collect();
    let Some(references) = references else {
        invalid_params(session, &subcommand, "Invalid message reference");
        return Flow::Continue;
    };
    let query = match (subcommand.as_str(), references.as_slice()) {
        ("LATEST", [bound]) => Query::Latest(*bound),
        ("BEFORE", [Some(bound)]) => Query::Before(*bound),
        ("AFTER", [Some(bound)]) => Query::After(*bound),
        ("AROUND", [Some(bound)]) => Query::Around(*bound),
        ("BETWEEN", [Some(start), Some(end)]) => Query::Between(*start, *end),
        _ => {
            invalid_params(session, &subcommand, "Invalid message reference");
            return Flow::Continue;
        }
    };
    session.pending().history_requests.push(HistoryRequest {
        query,
        target_name,
        target,
        limit,
        reply: Reply::Chathistory,
    });
    Flow::Continue
}

/// The replay on join for a client without `draft/chathistory`, when configured.
pub fn replay_on_join(session: &mut IrcSession, room: &Room) {
    let count = session.context.irc.history_on_join;
    if count == 0 || session.caps.contains(Cap::Chathistory) {
        return;
    }
    session.pending().history_requests.push(HistoryRequest {
        query: Query::Latest(None),
        target_name: room.name().to_string(),
        target: room_history(room),
        limit: count,
        reply: Reply::Replay,
    });
}

fn invalid_params(session: &mut IrcSession, subcommand: &str, description: &str) {
    session.specified_fail("CHATHISTORY", "INVALID_PARAMS", &[subcommand], description);
}

/// The history the user may read under `name`: a room it is in (its current lifetime), or the
/// private messages it was a party to (as its account, or as this connection) with whoever
/// used the nick `name` at the time. Whoever holds a nick now has no claim on messages to or
/// from it.
fn visible_target(session: &IrcSession, name: &str) -> Option<HistoryQuery> {
    let user = session.user();
    if name.starts_with('#') {
        let room = user.room(&fold(name))?;
        return Some(room_history(&room));
    }
    names::validate_nick(name).ok()?;
    Some(HistoryQuery::conversation(user.reader_parties(), name))
}

/// The history of `room`'s current lifetime.
fn room_history(room: &Room) -> HistoryQuery {
    HistoryQuery::room(room.name().as_ref(), room.history_floor())
}

/// `msgid=…`, `timestamp=…`, or `*` (no bound, for `LATEST`); `None` if malformed.
fn reference(text: &str) -> Option<Option<Bound>> {
    if text == "*" {
        return Some(None);
    }
    if let Some(id) = text.strip_prefix("msgid=") {
        // The later parts of a long message that was split have msgids `id-2`, `id-3`, …;
        // they all stand at the message's place in history.
        return Some(Some(Bound::Id(palaver_proto::event::MessageId::parse(id)?)));
    }
    time_bound(text).map(|time| Some(Bound::Time(time)))
}

fn time_bound(text: &str) -> Option<Timestamp> {
    Timestamp::parse_iso8601(text.strip_prefix("timestamp=")?)
}

/// Runs `request` against the store and queues the reply.
pub async fn answer(session: &mut IrcSession, request: HistoryRequest) {
    if let Query::Targets(start, end) = request.query {
        return answer_targets(session, start, end, request.limit).await;
    }
    let store = session.context.store.clone();
    let target = request.target.clone();
    let limit = request.limit;
    let result = match request.query {
        Query::Latest(None) => store.latest(target, limit).await,
        Query::Latest(Some(bound)) => store.latest_after(target, bound, limit).await,
        Query::Before(bound) => store.before(target, bound, limit).await,
        Query::After(bound) => store.after(target, bound, limit).await,
        Query::Around(bound) => store.around(target, bound, limit).await,
        // Counted from the first reference, forwards or backwards (IRCv3 chathistory BETWEEN).
        Query::Between(start, end) => store.between(target, start, end, limit).await,
        Query::Targets(..) => unreachable!("answered above"),
    };
    let messages = match result {
        Ok(messages) => messages,
        Err(error) => {
            tracing::error!(%error, "history query failed");
            session.specified_fail(
                "CHATHISTORY",
                "MESSAGE_ERROR",
                &[&request.target_name],
                "Messages could not be retrieved",
            );
            return;
        }
    };
    send_messages(session, &request, &messages);
}

/// The messages, in a `chathistory` batch when the client accepts batches.
fn send_messages(session: &mut IrcSession, request: &HistoryRequest, messages: &[StoredMessage]) {
    if request.reply == Reply::Replay && messages.is_empty() {
        return;
    }
    let flavor = session.flavor();
    // Cut a page too big for the send queue at the end away from where it was counted from
    // (clients page on with BEFORE/AFTER from the messages they got).
    let keep = match request.query {
        Query::Latest(_) | Query::Before(_) => Keep::Newest,
        Query::After(_) | Query::Around(_) | Query::Between(..) | Query::Targets(..) => {
            Keep::Oldest
        }
    };
    let rendered: Vec<Vec<Message>> = messages
        .iter()
        .map(|stored| event_messages(&stored.to_event(), flavor))
        .collect();
    let sizes: Vec<usize> = rendered
        .iter()
        .map(|lines| lines.iter().map(|line| line.to_bytes().len()).sum())
        .collect();
    let kept = fitting(&sizes, history_budget(&session.outbox), keep);
    let lines = rendered
        .into_iter()
        .take(kept.end)
        .skip(kept.start)
        .flatten();
    session.replies.batch(
        BatchType::Chathistory,
        vec![request.target_name.clone()],
        lines,
    );
}

async fn answer_targets(session: &mut IrcSession, start: Timestamp, end: Timestamp, limit: usize) {
    let user = session.user().clone();
    // Only rooms the user is in (their current lifetimes), and the private conversations it
    // was a party to.
    let rooms = user
        .rooms()
        .iter()
        .map(|room| (room.name().to_string(), room.history_floor()))
        .collect();
    let result = session
        .context
        .store
        .targets_among(user.reader_parties(), rooms, start, end, limit)
        .await;
    let targets = match result {
        Ok(targets) => targets,
        Err(error) => {
            tracing::error!(%error, "history targets query failed");
            session.specified_fail(
                "CHATHISTORY",
                "MESSAGE_ERROR",
                &["TARGETS"],
                "Messages could not be retrieved",
            );
            return;
        }
    };
    let server = session.context.irc.server_name.clone();
    let lines = targets.into_iter().map(|(name, time)| {
        Message::new("CHATHISTORY", vec!["TARGETS".into(), name, time.iso8601()])
            .with_source(server.clone())
    });
    session
        .replies
        .batch(BatchType::ChathistoryTargets, Vec::new(), lines);
}
