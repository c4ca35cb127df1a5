//! Read markers (IRCv3 `draft/read-marker`): `MARKREAD target [timestamp=…]` gets or moves
//! forward how far the user has read `target`, a channel or a nick's conversation.
//!
//! A session logged in to an account keeps its markers in the store, shared by every session
//! of the account: a change is told to the others (`Hub::share_read_marker`), and to nobody
//! else. A connection not logged in keeps its own, in memory, for as long as it lasts.
//!
//! Store work cannot run in a handler, so `MARKREAD` of an account is answered once the
//! handler returns ([`run_requests`]); the marker a `JOIN` must show before its `366` is
//! fetched before the `JOIN` is dispatched ([`prefetch_for_join`]); and a session logged in
//! when it registers is told its account's channel markers after the welcome
//! ([`after_registration`]), as a client that rejoins its channels would be.

use std::collections::HashMap;

use palaver_proto::event::Event;
use palaver_proto::irc::caps::Cap;
use palaver_proto::irc::message::Message;
use palaver_proto::names::{self, fold};
use palaver_proto::time::Timestamp;

use super::IrcSession;
use crate::session::Flow;
use crate::store::MAX_READ_MARKERS;

/// A session's read markers and the work they wait for.
#[derive(Debug, Default)]
pub struct ReadMarkers {
    /// A connection not logged in keeps its markers here, by folded target, at most
    /// [`MAX_READ_MARKERS`] (the oldest go first). Logging in switches to the account's.
    guest: HashMap<String, Timestamp>,
    /// The account's markers for the channels the command being handled joins, by folded
    /// name, fetched before it ran.
    for_join: HashMap<String, Timestamp>,
    /// `MARKREAD`s of an account the command being handled asked for.
    requests: Vec<Request>,
}

/// Forgets what was fetched for the command just handled. A session that keeps no marker of
/// its own then holds none of this (it is allocated on first use: most sessions never use it).
pub fn end_command(markers: &mut Option<Box<ReadMarkers>>) {
    if let Some(kept) = markers {
        kept.for_join.clear();
        if kept.guest.is_empty() && kept.requests.is_empty() {
            *markers = None;
        }
    }
}

/// The session's read markers, to change.
fn markers(session: &mut IrcSession) -> &mut ReadMarkers {
    session.read_markers.get_or_insert_default()
}

impl ReadMarkers {
    /// Moves a guest's marker for `target` forward to `marker`; returns the marker now kept.
    fn set_guest(&mut self, target: &str, marker: Timestamp) -> Timestamp {
        let key = fold(target);
        if !self.guest.contains_key(&key)
            && self.guest.len() >= MAX_READ_MARKERS
            && let Some(oldest) = self
                .guest
                .iter()
                .min_by_key(|(_, marker)| **marker)
                .map(|(key, _)| key.clone())
        {
            self.guest.remove(&oldest);
        }
        let kept = self.guest.entry(key).or_insert(marker);
        *kept = (*kept).max(marker);
        *kept
    }
}

/// A `MARKREAD` of an account, to run against the store.
#[derive(Debug)]
struct Request {
    account: String,
    /// As the client named it, for the reply.
    target: String,
    /// `None` to get the marker, the new marker to set it.
    marker: Option<Timestamp>,
}

/// `MARKREAD target [timestamp=…]`.
pub fn markread(session: &mut IrcSession, message: &Message) -> Flow {
    let Some(target) = message.params.first() else {
        session.specified_fail("MARKREAD", "NEED_MORE_PARAMS", &[], "Missing parameters");
        return Flow::Continue;
    };
    let valid = if target.starts_with('#') {
        names::validate_room(target).is_ok()
    } else {
        names::validate_nick(target).is_ok()
    };
    if !valid {
        invalid(session, target);
        return Flow::Continue;
    }
    let marker = match message.params.get(1) {
        None => None,
        Some(text) => match text
            .strip_prefix("timestamp=")
            .and_then(Timestamp::parse_iso8601)
        {
            // A marker says what was read: never beyond now (IRCv3 read-marker suggests
            // clamping between the stored value and the current time).
            Some(marker) => Some(marker.min(Timestamp::now())),
            // `*` included: only the server may say "no marker".
            None => {
                invalid(session, text);
                return Flow::Continue;
            }
        },
    };
    match session.account() {
        Some(account) => markers(session).requests.push(Request {
            account,
            target: target.clone(),
            marker,
        }),
        None => {
            let kept = match marker {
                Some(marker) => Some(markers(session).set_guest(target, marker)),
                None => session
                    .read_markers
                    .as_deref()
                    .and_then(|markers| markers.guest.get(&fold(target)).copied()),
            };
            send_marker(session, target, kept);
        }
    }
    Flow::Continue
}

fn invalid(session: &mut IrcSession, parameter: &str) {
    session.specified_fail(
        "MARKREAD",
        "INVALID_PARAMS",
        &[parameter],
        "Invalid parameters",
    );
}

/// Answers the `MARKREAD`s of the command just handled, and tells the account's other
/// sessions of each marker that moved.
pub async fn run_requests(session: &mut IrcSession) {
    let requests = match session.read_markers.as_deref_mut() {
        Some(markers) => std::mem::take(&mut markers.requests),
        None => return,
    };
    for request in requests {
        let Request {
            account,
            target,
            marker,
        } = request;
        let result = match marker {
            None => session.context.store.read_marker(&account, &target).await,
            Some(marker) => match session
                .context
                .store
                .set_read_marker(&account, &target, marker)
                .await
            {
                Ok((stored, changed)) => {
                    if changed {
                        let event = marker_event(session, &target, Some(stored));
                        let user = session.user().clone();
                        session
                            .context
                            .network
                            .share_read_marker(&account, &user, &event)
                            .await;
                    }
                    Ok(Some(stored))
                }
                Err(error) => Err(error),
            },
        };
        match result {
            Ok(stored) => send_marker(session, &target, stored),
            Err(error) => {
                tracing::error!(%error, "a read marker could not be read or saved");
                session.specified_fail(
                    "MARKREAD",
                    "INTERNAL_ERROR",
                    &[&target],
                    "The read timestamp could not be set",
                );
            }
        }
    }
}

/// Fetches the account's markers for the channels a `JOIN` names, for [`on_join`].
pub async fn prefetch_for_join(session: &mut IrcSession, message: &Message) {
    if !message.command.eq_ignore_ascii_case("JOIN")
        || session.user.is_none()
        || !session.caps.contains(Cap::ReadMarker)
    {
        return;
    }
    let (Some(account), Some(channels)) = (session.account(), message.params.first()) else {
        return;
    };
    let channels: Vec<String> = channels
        .split(',')
        .filter(|name| names::validate_room(name).is_ok())
        .map(str::to_owned)
        .collect();
    match session.context.store.read_markers(&account, channels).await {
        Ok(fetched) => markers(session).for_join = fetched,
        Err(error) => tracing::error!(%error, "read markers could not be read"),
    }
}

/// The `MARKREAD` a client with the capability gets after its `JOIN` of `room`, before the
/// end of `NAMES` (IRCv3 read-marker).
pub fn on_join(session: &mut IrcSession, room: &str) {
    if !session.caps.contains(Cap::ReadMarker) {
        return;
    }
    let logged_in = session.account().is_some();
    let marker = session.read_markers.as_deref().and_then(|markers| {
        let known = if logged_in {
            &markers.for_join
        } else {
            &markers.guest
        };
        known.get(&fold(room)).copied()
    });
    send_marker(session, room, marker);
}

/// Tells a session that registered logged in to an account (with the capability) the
/// account's channel markers, newest first.
pub async fn after_registration(session: &mut IrcSession) {
    if !session.caps.contains(Cap::ReadMarker) {
        return;
    }
    let Some(account) = session.account() else {
        return;
    };
    match session.context.store.room_read_markers(&account).await {
        Ok(markers) => {
            for (room, marker) in markers {
                send_marker(session, &room, Some(marker));
            }
        }
        Err(error) => tracing::error!(%error, "read markers could not be read"),
    }
}

/// `:server MARKREAD target timestamp=…` (or `*`), to this client.
fn send_marker(session: &mut IrcSession, target: &str, marker: Option<Timestamp>) {
    let event = marker_event(session, target, marker);
    session.own_copy(&event);
}

fn marker_event(session: &IrcSession, target: &str, marker: Option<Timestamp>) -> Event {
    Event::ReadMarker {
        time: Timestamp::now(),
        server: session.context.irc.server_name.as_str().into(),
        target: target.into(),
        marker,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guests_markers_only_move_forward_and_the_oldest_goes_first() {
        let mut markers = ReadMarkers::default();
        assert_eq!(markers.set_guest("#A", Timestamp(10)), Timestamp(10));
        assert_eq!(markers.set_guest("#a", Timestamp(5)), Timestamp(10));
        assert_eq!(markers.set_guest("#a", Timestamp(20)), Timestamp(20));
        for number in 0..MAX_READ_MARKERS as u64 {
            markers.set_guest(&format!("#room{number}"), Timestamp(100 + number));
        }
        assert_eq!(markers.guest.len(), MAX_READ_MARKERS);
        assert!(!markers.guest.contains_key("#a"), "the oldest went");
        assert!(markers.guest.contains_key("#room0"));
    }
}
