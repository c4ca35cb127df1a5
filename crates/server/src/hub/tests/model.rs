//! The hub against a model of its rules, over random histories.
//!
//! Proptest draws sequences of operations (connect, register, nick change, join with keys,
//! limits, bans, exceptions and invitations, part, kick, mode changes, room, status and
//! private messages, quits and netsplit-like mass quits) by a handful of users over three
//! rooms. Each is applied to the real hub and to [`rules::Model`], a plain restatement of the
//! documented rules, and after every step the two must agree on the outcome (done, or refused
//! and why), on who is connected under which nick (unique case-insensitively), who is in which
//! room as what, each room's modes, mask lists and invitations, and on exactly who received
//! each message, part, kick and quit: every text a step sends is unique, so it is found in the
//! recipients' outboxes whatever else they were sent. A user who left receives nothing at all.

mod ops;
mod rules;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use ops::{Action, SLOTS, history, tokens_in};
use rules::{Expected, Model, Outcome};

/// The real hub, the users connected in each slot, and those who left.
struct Harness {
    hub: Hub,
    users: [Option<Arc<User>>; SLOTS],
    /// Users who disconnected: nothing may reach them any more.
    departed: Vec<Arc<User>>,
    /// What reached each slot's user during the current step: per text, how many copies.
    received: BTreeMap<String, BTreeMap<usize, usize>>,
}

fn done<T>(result: Result<T, HubError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Done,
        Err(error) => Outcome::Refused(error),
    }
}

impl Harness {
    fn new() -> Self {
        Self {
            hub: Hub::default(),
            users: Default::default(),
            departed: Vec::new(),
            received: BTreeMap::new(),
        }
    }

    /// Does `action` on the hub, as a session would, and says what came of it.
    fn perform(&mut self, action: &Action) -> Outcome {
        let actor = match action.actor() {
            Some(slot) => match &self.users[slot] {
                Some(user) => Some(user.clone()),
                None => return Outcome::Skipped,
            },
            None => None,
        };
        let user = || actor.as_ref().expect("an action with an actor");
        let hub = &self.hub;
        // A session looks a room up by name before acting on it.
        let room = |name: &str| {
            hub.room(name)
                .ok_or_else(|| HubError::NoSuchRoom(name.to_owned()))
        };
        match action {
            Action::Connect { slot, nick } => self.connect(*slot, nick.as_deref()),
            Action::Rename { nick, .. } => done(hub.rename(user(), nick)),
            Action::Join { room, key, .. } => match hub.join(user(), room, key.as_deref()) {
                Ok(Joined::New { .. }) => Outcome::Done,
                Ok(Joined::AlreadyMember(_)) => Outcome::AlreadyMember,
                Err(error) => Outcome::Refused(error),
            },
            Action::Part {
                room: name, reason, ..
            } => done(room(name).and_then(|room| hub.part(user(), &room, Some(reason)))),
            Action::PartAll { .. } => {
                hub.part_all(user());
                Outcome::Done
            }
            Action::Kick {
                room: name,
                nick,
                reason,
                ..
            } => done(room(name).and_then(|room| hub.kick(user(), &room, nick, reason))),
            Action::Invite { nick, room, .. } => done(hub.invite(user(), nick, room)),
            Action::Modes {
                room: name,
                changes,
                ..
            } => match room(name).and_then(|room| hub.change_modes(user(), &room, changes.clone()))
            {
                Ok(ModeOutcome { event, errors }) => Outcome::Modes {
                    announced: match event {
                        None => Vec::new(),
                        Some(Event::ModeChanged { changes, .. }) => changes,
                        Some(other) => panic!("a mode change announced as {other:?}"),
                    },
                    refused: errors,
                },
                Err(error) => Outcome::Refused(error),
            },
            Action::Say {
                room: name,
                minimum,
                text,
                ..
            } => {
                let said = Said::plain(MessageKind::Say, text);
                done(room(name).and_then(|room| match minimum {
                    None => hub.say(user(), &room, &said),
                    Some(minimum) => hub.say_to_status(user(), &room, *minimum, &said),
                }))
            }
            Action::Tell { nick, text, .. } => {
                let said = Said::plain(MessageKind::Say, text);
                done(hub.message_user(user(), nick, &said))
            }
            Action::Quit { quits } => {
                for (slot, reason) in quits {
                    if let Some(user) = self.users[*slot].take() {
                        // What it heard before it went (of those who split before it) counts.
                        self.collect(*slot, &user);
                        let _ended = self.hub.disconnect(&user, Some(reason));
                        self.departed.push(user);
                    }
                }
                Outcome::Done
            }
        }
    }

    /// Connects a text user under a guest nick, or registers an IRC user (`nick!~nick@host`).
    fn connect(&mut self, slot: usize, nick: Option<&str>) -> Outcome {
        if self.users[slot].is_some() {
            return Outcome::Skipped;
        }
        let peer = PEER.parse().expect("address");
        let user = match nick {
            None => self
                .hub
                .connect_guest(peer, "127.0.0.1", Protocol::Text, outbox()),
            Some(nick) => {
                let identity = irc_identity(nick);
                match self.hub.register(peer, Protocol::Irc, outbox(), identity) {
                    Ok(user) => user,
                    Err(error) => return Outcome::Refused(error),
                }
            }
        };
        let nick = user.nick().into();
        self.users[slot] = Some(user);
        Outcome::Connected(nick)
    }

    /// Takes what `user` (in `slot`) was sent and counts the texts of this history in it.
    fn collect(&mut self, slot: usize, user: &User) {
        for chunk in user.outbox().expect("a user connected here").take_queued() {
            let line = String::from_utf8_lossy(&chunk);
            for token in tokens_in(&line) {
                *self
                    .received
                    .entry(token.to_owned())
                    .or_default()
                    .entry(slot)
                    .or_default() += 1;
            }
        }
    }

    /// The slot of the connected user `user`.
    fn slot_of(&self, user: &User) -> Option<usize> {
        (0..SLOTS).find(|&slot| {
            self.users[slot]
                .as_ref()
                .is_some_and(|held| held.id == user.id)
        })
    }

    /// Checks that the hub agrees with `model` after a step that was expected to do
    /// `expected`.
    fn check(&mut self, model: &Model, expected: &Expected) {
        self.check_users(model);
        self.check_rooms(model);
        self.check_deliveries(expected);
    }

    fn check_users(&self, model: &Model) {
        for slot in 0..SLOTS {
            match (model.nick(slot), &self.users[slot]) {
                (None, None) => {}
                (Some(nick), Some(user)) => {
                    assert_eq!(&*user.nick(), nick, "the nick in slot {slot}");
                    // Found by its nick in any case, and nobody else is.
                    for spelling in [nick.to_owned(), nick.to_ascii_uppercase()] {
                        let found = self.hub.user_by_nick(&spelling);
                        assert!(
                            found.is_some_and(|found| Arc::ptr_eq(&found, user)),
                            "{spelling} does not find the user in slot {slot}"
                        );
                    }
                }
                (nick, user) => panic!(
                    "slot {slot}: the model has {nick:?}, the hub {:?}",
                    user.as_ref().map(|user| user.nick())
                ),
            }
        }
        let connected = self.users.iter().flatten().count();
        assert_eq!(self.hub.user_count(), connected, "users connected");
        for user in self.hub.users() {
            assert!(
                self.slot_of(&user).is_some(),
                "{} is connected but should not be",
                user.nick()
            );
        }
    }

    fn check_rooms(&self, model: &Model) {
        assert_eq!(self.hub.room_count(), model.rooms.len(), "rooms that exist");
        for (key, expected) in &model.rooms {
            let room = self
                .hub
                .room(key)
                .unwrap_or_else(|| panic!("{key} should exist"));
            assert_eq!(&**room.name(), expected.name, "the name of {key}");
            let state = room.state();
            let members: Vec<rules::ModelMember> = state
                .members
                .iter()
                .map(|member| rules::ModelMember {
                    slot: self
                        .slot_of(&member.user)
                        .unwrap_or_else(|| panic!("{} left but is in {key}", member.user.nick())),
                    op: member.op,
                    voice: member.voice,
                })
                .collect();
            assert_eq!(members, expected.members, "the members of {key}");
            assert_eq!(state.modes, expected.modes, "the modes of {key}");
            for (list, wanted) in [
                (MaskList::Bans, &expected.bans),
                (MaskList::BanExceptions, &expected.ban_exceptions),
                (MaskList::InviteExceptions, &expected.invite_exceptions),
            ] {
                let masks: Vec<&str> = state
                    .lists
                    .get(list)
                    .iter()
                    .map(|entry| &*entry.mask)
                    .collect();
                assert_eq!(&masks, wanted, "the {list:?} of {key}");
            }
            for slot in 0..SLOTS {
                if let Some(user) = &self.users[slot] {
                    assert_eq!(
                        state.invitations.contains(user.id),
                        expected.invited.contains(&slot),
                        "the invitation of slot {slot} to {key}"
                    );
                }
            }
            for user in &self.departed {
                assert!(
                    !state.invitations.contains(user.id),
                    "{key} still invites {}, who left",
                    user.nick()
                );
            }
        }
        // Membership seen from the users' side.
        for slot in 0..SLOTS {
            if let Some(user) = &self.users[slot] {
                let rooms: BTreeSet<String> = user
                    .rooms()
                    .iter()
                    .map(|room| room.key().to_owned())
                    .collect();
                let expected: BTreeSet<String> = model.rooms_of(slot).into_iter().collect();
                assert_eq!(rooms, expected, "the rooms of slot {slot}");
            }
        }
    }

    /// Every text the step sent reached exactly its recipients, once each, and nothing reached
    /// anyone who left.
    fn check_deliveries(&mut self, expected: &Expected) {
        for slot in 0..SLOTS {
            if let Some(user) = self.users[slot].clone() {
                self.collect(slot, &user);
            }
        }
        for user in &self.departed {
            let queued = user.outbox().expect("a user connected here").take_queued();
            assert!(
                queued.is_empty(),
                "{}, who left, was sent {queued:?}",
                user.nick()
            );
            assert!(
                user.rooms().is_empty(),
                "{} left but has rooms",
                user.nick()
            );
        }
        let wanted: BTreeMap<String, BTreeMap<usize, usize>> = expected
            .deliveries
            .iter()
            .filter(|(_, recipients)| !recipients.is_empty())
            .map(|(text, recipients)| {
                let once = recipients.iter().map(|&slot| (slot, 1)).collect();
                (text.clone(), once)
            })
            .collect();
        let received = std::mem::take(&mut self.received);
        assert_eq!(received, wanted, "who received what (text → slot → copies)");
    }
}

proptest! {
    // 512 histories of up to 60 steps take a few seconds; a failure is shrunk to a short
    // history and printed as the list of operations.
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_hub_agrees_with_a_model_of_its_rules(ops in history(60)) {
        let mut model = Model::default();
        let mut harness = Harness::new();
        for (step, op) in ops.iter().enumerate() {
            let action = op.resolve(&model, step);
            let expected = model.apply(&action);
            let outcome = harness.perform(&action);
            assert_eq!(outcome, expected.outcome, "step {step}: {action:?}");
            harness.check(&model, &expected);
        }
    }
}
