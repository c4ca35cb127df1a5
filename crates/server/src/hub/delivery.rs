//! Fan-out: who gets an event, and pushing it to them. An event is rendered at most once per
//! [`Wire`](palaver_proto::Wire) present among its recipients, and every recipient gets a
//! reference-counted clone of the same bytes.

use std::sync::Arc;

use bytes::Bytes;
use palaver_proto::Wire;
use palaver_proto::event::Event;

use super::user::{Interest, Interests, User, UserId};

/// Who among the recipients gets an event.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Audience {
    /// Skip this user: the actor, whose own copy the session sends with its replies.
    pub except: Option<UserId>,
    /// Only users who want to hear of this (see [`Interest`]).
    pub needs: Option<Interest>,
}

impl Audience {
    pub fn all() -> Self {
        Self::default()
    }

    pub fn except(user: &User) -> Self {
        Self {
            except: Some(user.id),
            needs: None,
        }
    }

    /// Everyone who wants to hear of `interest`.
    pub fn interested(interest: Interest) -> Self {
        Self {
            except: None,
            needs: Some(interest),
        }
    }

    /// Everyone but `user` who wants to hear of `interest`.
    pub fn interested_except(interest: Interest, user: &User) -> Self {
        Self {
            except: Some(user.id),
            needs: Some(interest),
        }
    }

    /// Whether the user `id`, who wants to hear of `interests`, gets the event.
    fn includes(&self, id: UserId, interests: Interests) -> bool {
        self.except != Some(id) && self.needs.is_none_or(|needed| interests.contains(needed))
    }
}

/// What one fan-out did, for the metrics: counted in locals and recorded once per message, so
/// that delivery adds no shared write per recipient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Delivered {
    /// Recipients whose outbox took the event.
    pub queued: usize,
    /// Recipients whose outbox was closing or full (see [`Outbox::push`](crate::outbox::Outbox::push)).
    pub dropped: usize,
}

/// Renders `event` at most once per wire and queues the shared bytes for every recipient in
/// `audience` connected here. Never blocks: a full outbox drops its own connection, not the delivery to
/// others.
pub(super) fn deliver<'a>(
    recipients: impl IntoIterator<Item = &'a Arc<User>>,
    event: &Event,
    audience: Audience,
) -> Delivered {
    let mut rendered: [Option<Option<Bytes>>; Wire::COUNT] = std::array::from_fn(|_| None);
    let mut delivered = Delivered::default();
    for user in recipients {
        // A user on another node gets the event from its own node.
        let Some(outbox) = user.outbox() else {
            continue;
        };
        let (wire, interests) = user.delivery();
        if !audience.includes(user.id, interests) {
            continue;
        }
        let bytes = rendered[wire.index()].get_or_insert_with(|| wire.render(event));
        if let Some(bytes) = bytes {
            if outbox.push(bytes.clone()) {
                delivered.queued += 1;
            } else {
                delivered.dropped += 1;
            }
        }
    }
    delivered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audience_skips_the_actor_and_those_not_interested() {
        let away_followers: Interests = [Interest::AwayChanges].into_iter().collect();
        let everyone = Audience::all();
        assert!(everyone.includes(1, Interests::default()));
        let others = Audience {
            except: Some(1),
            needs: None,
        };
        assert!(!others.includes(1, away_followers));
        assert!(others.includes(2, Interests::default()));
        let interested = Audience {
            except: Some(1),
            needs: Some(Interest::AwayChanges),
        };
        assert!(!interested.includes(1, away_followers));
        assert!(interested.includes(2, away_followers));
        assert!(!interested.includes(2, Interests::default()));
        let realname_followers: Interests = [Interest::RealnameChanges].into_iter().collect();
        assert!(!interested.includes(2, realname_followers));
    }
}
