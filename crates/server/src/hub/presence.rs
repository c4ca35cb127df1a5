//! What a user's room peers hear about it besides what it says: away, real name and account.
//! Each is told only to the peers who want to hear of it (an [`Interest`]), and to those
//! monitoring the user who asked to hear of it too ([`Interest::MonitoredUsers`]). Bot mode,
//! which changes how everything the user does is shown, is set here too. And what a user's
//! other sessions of the same account hear: that it was logged out, and its read markers.

use std::collections::HashMap;
use std::sync::Arc;

use palaver_proto::event::{Event, Identity};
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use palaver_proto::utf8::truncate;

use super::delivery::{Audience, deliver};
use super::user::{Alert, Interest, User, UserId};
use super::{AWAY_MAX_BYTES, Hub};

impl Hub {
    /// Marks `user` away with `message`, or back with `None`; room peers who follow away
    /// changes are told.
    pub fn set_away(&self, user: &Arc<User>, message: Option<&str>) {
        let message: Option<Box<str>> = message.map(|text| truncate(text, AWAY_MAX_BYTES).into());
        user.set_away_message(message.clone());
        let event = Event::AwayChanged {
            time: Timestamp::now(),
            who: user.identity(),
            message,
        };
        self.tell_interested(user, &event, Interest::AwayChanges);
    }

    /// Changes `user`'s real name; room peers who follow real-name changes are told. Returns
    /// the user's own copy.
    pub fn set_realname(&self, user: &Arc<User>, realname: &str) -> Event {
        let (_, identity) = user.update_identity(|identity| Identity {
            realname: realname.into(),
            ..identity.clone()
        });
        let event = Event::RealnameChanged {
            time: Timestamp::now(),
            who: identity,
        };
        self.tell_interested(user, &event, Interest::RealnameChanges);
        event
    }

    /// Records that `user` logged in to `account` (or out, with `None`); room peers who follow
    /// account changes are told.
    pub fn set_account(&self, user: &Arc<User>, account: Option<&str>) {
        let (_, identity) = user.update_identity(|identity| Identity {
            account: account.map(Into::into),
            ..identity.clone()
        });
        let event = Event::AccountChanged {
            time: Timestamp::now(),
            who: identity,
        };
        self.tell_interested(user, &event, Interest::AccountChanges);
        // Logging in to a banned account ends the connection.
        if account.is_some()
            && let Some(ban) = self.ban_on(user)
        {
            self.enforce_ban(user, &ban);
        }
    }

    /// Logs every user logged in to `account` but `actor` out of it (its password was just
    /// changed, or it was locked): their room peers with account-notify are told, and their
    /// sessions alerted with `why` ([`Alert::LoggedOut`] or [`Alert::AccountLocked`]) so that
    /// they tell their clients. Returns how many were logged out.
    pub fn log_out_other_sessions(&self, account: &str, actor: &User, why: Alert) -> usize {
        let others = self.other_sessions(account, actor);
        for user in &others {
            self.log_out(user, why);
        }
        others.len()
    }

    /// Logs `user` out of its account and alerts its session `why` (a password change, a
    /// lock), here or, in a cluster, on another node's word (`cluster/applier.rs`).
    pub fn log_out(&self, user: &Arc<User>, why: Alert) {
        self.set_account(user, None);
        user.alert(why);
    }

    /// Tells the other sessions logged in to `account` than `actor`'s, those that want to
    /// hear of it, `event`: that the account read a target up to a new point (IRCv3
    /// read-marker). Nobody else ever hears of an account's read markers.
    pub fn share_read_marker(&self, account: &str, actor: &User, event: &Event) {
        let others = self.other_sessions(account, actor);
        deliver(
            &others,
            event,
            Audience::interested_except(Interest::ReadMarkers, actor),
        );
    }

    /// Tells `user`, a session of an account whose read marker another node's session
    /// moved, `event`, if it wants to hear of it (`cluster/applier.rs`).
    pub fn deliver_read_marker(&self, user: &Arc<User>, event: &Event) {
        deliver([user], event, Audience::interested(Interest::ReadMarkers));
    }

    /// Every user logged in to `account` but `actor` (a scan of the connected users: a
    /// password change and a new read marker are rare next to messages).
    pub fn other_sessions(&self, account: &str, actor: &User) -> Vec<Arc<User>> {
        let account = fold(account);
        self.users()
            .into_iter()
            .filter(|user| {
                user.id != actor.id
                    && user
                        .identity()
                        .account
                        .as_deref()
                        .is_some_and(|held| fold(held) == account)
            })
            .collect()
    }

    /// Marks `user` as a bot or not (IRCv3 bot mode): from now on what it does carries the
    /// `bot` tag for IRC clients that accept tags. Nobody is told of the change itself.
    pub fn set_bot(&self, user: &User, bot: bool) {
        user.update_identity(|identity| Identity {
            bot,
            ..identity.clone()
        });
    }

    /// Tells `event`, something about `user`, to everyone who shares a room with it or
    /// monitors it and asked to hear of that (each once) and wants to hear of `interest`.
    fn tell_interested(&self, user: &User, event: &Event, interest: Interest) {
        let mut recipients = self.room_peers(user);
        for watcher in self.watchers_of(&user.nick()) {
            if watcher.delivery().1.contains(Interest::MonitoredUsers) {
                recipients.insert(watcher.id, watcher);
            }
        }
        let audience = Audience::interested_except(interest, user);
        deliver(recipients.values(), event, audience);
    }

    /// Everyone who shares a room with `user` (each once), `user` excluded.
    pub(super) fn room_peers(&self, user: &User) -> HashMap<UserId, Arc<User>> {
        let mut peers = HashMap::new();
        for room in user.rooms() {
            for member in room.state().users() {
                if member.id != user.id {
                    peers.insert(member.id, member.clone());
                }
            }
        }
        peers
    }
}
