//! Saying things: messages to rooms and to users, room topics, and the server's own notices.

use std::sync::Arc;
use std::time::Instant;

use palaver_proto::event::{Event, Identity, MemberStatus, MessageId, MessageKind, Target};
use palaver_proto::time::Timestamp;
use palaver_proto::utf8::truncate;

use super::delivery::{Audience, Delivered, deliver};
use super::error::HubError;
use super::room::{Room, RoomState, Topic};
use super::user::{User, UserId};
use super::{Hub, TOPIC_MAX_BYTES};
use crate::metrics::MessageTarget;

/// What a message says: its kind, its lines joined by LF with where its sender joined lines
/// without a break (`concat_at`, see `palaver_proto::multiline`; empty for one line), and its
/// client-only tags.
#[derive(Debug, Clone, Copy)]
pub struct Said<'a> {
    pub kind: MessageKind,
    pub text: &'a str,
    pub concat_at: &'a [usize],
    pub client_tags: &'a str,
}

impl<'a> Said<'a> {
    /// A message of one line (or of lines joined with breaks only) without client tags.
    pub fn plain(kind: MessageKind, text: &'a str) -> Self {
        Self {
            kind,
            text,
            concat_at: &[],
            client_tags: "",
        }
    }
}

impl Hub {
    /// Sends a message to every member of `room` but the sender, if the sender may (see
    /// `RoomState::may_send`), and returns the sender's copy (its receipt).
    pub fn say(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        said: &Said<'_>,
    ) -> Result<Event, HubError> {
        self.say_among(user, room, None, said)
    }

    /// Sends a status message: to the members of `room` with at least the status `minimum`
    /// (IRC `STATUSMSG`), if the sender may send to the room at all; returns the sender's
    /// copy. Such a message is not kept in history, which has no per-status view.
    pub fn say_to_status(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        minimum: MemberStatus,
        said: &Said<'_>,
    ) -> Result<Event, HubError> {
        self.say_among(user, room, Some(minimum), said)
    }

    /// A message to the members of `room` with at least the status `minimum`, or to all.
    fn say_among(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        minimum: Option<MemberStatus>,
        said: &Said<'_>,
    ) -> Result<Event, HubError> {
        let Said {
            kind,
            text,
            concat_at,
            client_tags,
        } = *said;
        let identity = user.identity();
        let mut state = room.state();
        self.check_send(&state, user, &identity, room)?;
        let time = Timestamp::now();
        let stamped = Instant::now();
        let target = match minimum {
            None => Target::Room(room.name().clone()),
            Some(minimum) => Target::RoomStatus {
                room: room.name().clone(),
                minimum,
            },
        };
        let event = Event::Message {
            id: self.next_message_id(),
            time,
            from: identity,
            target,
            kind,
            text: text.into(),
            concat_at: concat_at.into(),
            client_tags: client_tags.into(),
        };
        let recipients = state
            .members
            .iter()
            .filter(|member| minimum.is_none_or(|minimum| member.has_status(minimum)))
            .map(|member| &member.user);
        let delivered = deliver(recipients, &event, Audience::except(user));
        let counted_as = match minimum {
            None => MessageTarget::Room,
            Some(_) => MessageTarget::Status,
        };
        self.record_fan_out(counted_as, delivered, stamped);
        if kind != MessageKind::TagsOnly && minimum.is_none() {
            // Stored by the sender's session: this lifetime now has history to forget.
            state.has_history = true;
        }
        drop(state);
        if kind != MessageKind::TagsOnly {
            user.mark_spoke(time);
        }
        Ok(event)
    }

    /// Whether `user` (as `identity`) may send to `room` (whose lock `state` is) now: the
    /// server's link is up, the room still open, and its rules let the user speak.
    pub(super) fn check_send(
        &self,
        state: &RoomState,
        user: &User,
        identity: &Identity,
        room: &Room,
    ) -> Result<(), HubError> {
        if !self.link_is_up() {
            self.count_link_refusal();
            return Err(HubError::LinkDown);
        }
        if state.closed {
            // Looked up just before its last member left: that room is gone, and a message
            // stamped now would land in the history of whichever room takes the name next.
            return Err(HubError::NoSuchRoom(room.name().to_string()));
        }
        state
            .may_send(user, identity)
            .map_err(|reason| HubError::CannotSend {
                room: room.name().to_string(),
                reason,
            })
    }

    /// Whether `user` may send to `room` now, by the rules [`say`](Self::say) applies, changing
    /// nothing (a cluster node's decision, `replica.rs`).
    pub fn decide_say(&self, user: &User, room: &Room) -> Result<(), HubError> {
        let identity = user.identity();
        let state = room.state();
        self.check_send(&state, user, &identity, room)
    }

    /// Whether `user` may set the topic of `room`, changing nothing (a cluster node's
    /// decision).
    pub fn decide_topic(&self, user: &User, room: &Room) -> Result<(), HubError> {
        room.state().may_set_topic(user, room.name())
    }

    /// Sends a private message to the user called `to`; returns the sender's copy and the
    /// recipient (so a session can mention that it is away).
    pub fn message_user(
        &self,
        user: &Arc<User>,
        to: &str,
        said: &Said<'_>,
    ) -> Result<(Event, Arc<User>), HubError> {
        self.message_user_as(user, to, said, None)
    }

    /// [`message_user`](Self::message_user) with the message id `id` (a cluster's, whose
    /// time it gives) rather than one of this server's.
    pub fn message_user_as(
        &self,
        user: &Arc<User>,
        to: &str,
        said: &Said<'_>,
        id: Option<MessageId>,
    ) -> Result<(Event, Arc<User>), HubError> {
        let Said {
            kind,
            text,
            concat_at,
            client_tags,
        } = *said;
        if !self.link_is_up() {
            self.count_link_refusal();
            return Err(HubError::LinkDown);
        }
        let recipient = self
            .user_by_nick(to)
            .ok_or_else(|| HubError::NoSuchNick(to.to_owned()))?;
        let (id, time) = match id {
            Some(id) => (id, super::time_of(id.0)),
            None => (self.next_message_id(), Timestamp::now()),
        };
        let stamped = Instant::now();
        let event = Event::Message {
            id,
            time,
            from: user.identity(),
            target: Target::User(recipient.nick().into()),
            kind,
            text: text.into(),
            concat_at: concat_at.into(),
            client_tags: client_tags.into(),
        };
        // A message to oneself is delivered too; the returned copy is then a second one.
        let audience = if recipient.id == user.id {
            Audience::all()
        } else {
            Audience::except(user)
        };
        let delivered = deliver([&recipient], &event, audience);
        self.record_fan_out(MessageTarget::Private, delivered, stamped);
        if kind != MessageKind::TagsOnly {
            user.mark_spoke(time);
        }
        Ok((event, recipient))
    }

    /// Delivers a private message another node stamped and sent to `recipient`, a user of
    /// this one, through this node's inbox (`cluster/applier.rs`).
    pub fn deliver_private(&self, recipient: &Arc<User>, event: &Event) {
        let stamped = Instant::now();
        let delivered = deliver([recipient], event, Audience::all());
        self.record_fan_out(MessageTarget::Private, delivered, stamped);
    }

    /// Counts a message fanned out (once per message, whatever its number of recipients) and
    /// how long it took from its stamp until every recipient's outbox had it.
    pub(super) fn record_fan_out(
        &self,
        target: MessageTarget,
        delivered: Delivered,
        stamped: Instant,
    ) {
        self.settings.metrics.fanned_out(
            target,
            delivered.queued,
            delivered.dropped,
            stamped.elapsed(),
        );
    }

    /// Sets (or, with an empty `topic`, clears) the topic of `room`, if `user` may (see
    /// `RoomState::may_set_topic`). Returns the setter's copy.
    pub fn set_topic(
        &self,
        user: &Arc<User>,
        room: &Arc<Room>,
        topic: &str,
    ) -> Result<Event, HubError> {
        let mut state = room.state();
        state.may_set_topic(user, room.name())?;
        let time = Timestamp::now();
        Ok(put_topic(
            &mut state,
            room,
            user.identity(),
            topic,
            time,
            Some(user.id),
        ))
    }

    /// Tells every connected user `text` as a server notice.
    pub fn broadcast_notice(&self, text: &str) {
        let event = Event::ServerNotice {
            time: Timestamp::now(),
            server: self.settings.server_name.clone(),
            text: text.into(),
        };
        deliver(&self.users(), &event, Audience::all());
    }
}

/// Sets (empty: clears) the topic of `room` (whose lock `state` is) as `by` set it at `time`,
/// and tells the members but `except` (the setter, whose session has its own copy): that copy.
pub(super) fn put_topic(
    state: &mut RoomState,
    room: &Room,
    by: Arc<Identity>,
    topic: &str,
    time: Timestamp,
    except: Option<UserId>,
) -> Event {
    let topic = truncate(topic, TOPIC_MAX_BYTES);
    state.topic = (!topic.is_empty()).then(|| Topic {
        text: topic.into(),
        set_by: by.mask().into(),
        set_at: time,
    });
    let event = Event::TopicChanged {
        time,
        room: room.name().clone(),
        by,
        topic: topic.into(),
    };
    let audience = Audience {
        except,
        needs: None,
    };
    deliver(state.users(), &event, audience);
    event
}
