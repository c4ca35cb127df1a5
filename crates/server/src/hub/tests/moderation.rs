//! Who may speak, set the topic, kick and change modes, and what a mode change announces.

use super::*;

fn send(hub: &Hub, user: &Arc<User>, room: &Arc<Room>) -> Result<(), HubError> {
    hub.say(user, room, &Said::plain(MessageKind::Say, "hello"))
        .map(drop)
}

fn cannot_send(reason: SendRefusal) -> Result<(), HubError> {
    Err(HubError::CannotSend {
        room: "#r".into(),
        reason,
    })
}

fn voice(nick: &str, set: bool) -> ModeChange {
    ModeChange::Voice {
        set,
        nick: nick.into(),
    }
}

#[test]
fn in_a_moderated_room_only_operators_and_voiced_members_speak() {
    let hub = Hub::default();
    let (op, bob) = (guest(&hub), irc_user(&hub, "bob"));
    let room = join(&hub, &op, "#r");
    join(&hub, &bob, "#r");
    change_modes(&hub, &op, &room, vec![flag(RoomFlag::Moderated, true)]);
    assert_eq!(send(&hub, &bob, &room), cannot_send(SendRefusal::Moderated));
    assert_eq!(send(&hub, &op, &room), Ok(()));
    change_modes(&hub, &op, &room, vec![voice("Bob", true)]);
    assert_eq!(send(&hub, &bob, &room), Ok(()));
    change_modes(&hub, &op, &room, vec![voice("bob", false)]);
    assert_eq!(send(&hub, &bob, &room), cannot_send(SendRefusal::Moderated));
}

#[test]
fn only_members_send_to_a_room_closed_to_outsiders() {
    let hub = Hub::default();
    let (op, outsider) = (guest(&hub), guest(&hub));
    // New rooms are closed to outsiders.
    let room = join(&hub, &op, "#r");
    assert_eq!(
        send(&hub, &outsider, &room),
        cannot_send(SendRefusal::NotMember)
    );
    change_modes(
        &hub,
        &op,
        &room,
        vec![flag(RoomFlag::NoExternalMessages, false)],
    );
    assert_eq!(send(&hub, &outsider, &room), Ok(()));
    // Moderation silences outsiders too.
    change_modes(&hub, &op, &room, vec![flag(RoomFlag::Moderated, true)]);
    assert_eq!(
        send(&hub, &outsider, &room),
        cannot_send(SendRefusal::Moderated)
    );
}

#[test]
fn a_ban_silences_a_member_unless_it_is_voiced() {
    let hub = Hub::default();
    let (op, bob) = (guest(&hub), irc_user(&hub, "bob"));
    let room = join(&hub, &op, "#r");
    join(&hub, &bob, "#r");
    change_modes(&hub, &op, &room, vec![ban("bob")]);
    assert!(room.state().is_member(&bob), "a ban does not remove anyone");
    assert_eq!(send(&hub, &bob, &room), cannot_send(SendRefusal::Banned));
    change_modes(&hub, &op, &room, vec![voice("bob", true)]);
    assert_eq!(send(&hub, &bob, &room), Ok(()));
}

#[test]
fn a_ban_exception_lets_a_banned_member_speak() {
    let hub = Hub::default();
    let (op, bob) = (guest(&hub), irc_user(&hub, "bob"));
    let room = join(&hub, &op, "#r");
    join(&hub, &bob, "#r");
    change_modes(&hub, &op, &room, vec![ban("*!*@*")]);
    assert_eq!(send(&hub, &bob, &room), cannot_send(SendRefusal::Banned));
    change_modes(&hub, &op, &room, vec![mask(MaskList::BanExceptions, "bob")]);
    assert_eq!(send(&hub, &bob, &room), Ok(()));
}

#[test]
fn a_protected_topic_is_set_by_operators_only() {
    let hub = Hub::default();
    let (op, bob, outsider) = (guest(&hub), guest(&hub), guest(&hub));
    let room = join(&hub, &op, "#r");
    join(&hub, &bob, "#r");
    assert_eq!(
        hub.set_topic(&bob, &room, "mine").err(),
        Some(HubError::NeedOperator("#r".into()))
    );
    hub.set_topic(&op, &room, "ours").expect("topic");
    change_modes(
        &hub,
        &op,
        &room,
        vec![flag(RoomFlag::TopicProtected, false)],
    );
    hub.set_topic(&bob, &room, "mine").expect("topic");
    assert_eq!(room.topic().expect("a topic").text.as_ref(), "mine");
    assert_eq!(
        hub.set_topic(&outsider, &room, "theirs").err(),
        Some(HubError::NotInRoom("#r".into()))
    );
    hub.set_topic(&bob, &room, "").expect("cleared");
    assert_eq!(room.topic(), None);
}

#[test]
fn kicking_needs_an_operator_and_a_member_to_kick() {
    let hub = Hub::default();
    let (op, bob) = (guest(&hub), irc_user(&hub, "bob"));
    irc_user(&hub, "stranger");
    let room = join(&hub, &op, "#r");
    join(&hub, &bob, "#r");
    assert_eq!(
        hub.kick(&bob, &room, &op.nick(), "").err(),
        Some(HubError::NeedOperator("#r".into()))
    );
    assert_eq!(
        hub.kick(&op, &room, "stranger", "").err(),
        Some(HubError::UserNotInRoom {
            nick: "stranger".into(),
            room: "#r".into()
        })
    );
    assert_eq!(
        hub.kick(&op, &room, "nobody", "").err(),
        Some(HubError::NoSuchNick("nobody".into()))
    );
    let kicked = hub.kick(&op, &room, "BOB", "out").expect("kick");
    assert!(matches!(kicked.event, Event::Kicked { ref nick, .. } if &**nick == "bob"));
    assert!(!room.state().is_member(&bob));
    assert!(bob.room(room.key()).is_none());
}

#[test]
fn only_an_operator_changes_modes() {
    let hub = Hub::default();
    let (op, bob, outsider) = (guest(&hub), guest(&hub), guest(&hub));
    let room = join(&hub, &op, "#r");
    join(&hub, &bob, "#r");
    let moderate = || vec![flag(RoomFlag::Moderated, true)];
    assert_eq!(
        hub.change_modes(&bob, &room, moderate()).err(),
        Some(HubError::NeedOperator("#r".into()))
    );
    assert_eq!(
        hub.change_modes(&outsider, &room, moderate()).err(),
        Some(HubError::NotInRoom("#r".into()))
    );
    assert!(!room.state().modes.moderated);
}

#[test]
fn a_mode_change_announces_what_changed_in_order() {
    let hub = Hub::default();
    let (op, bob) = (guest(&hub), irc_user(&hub, "Bob"));
    irc_user(&hub, "elsewhere");
    let room = join(&hub, &op, "#r");
    join(&hub, &bob, "#r");
    let outcome = change_modes(
        &hub,
        &op,
        &room,
        vec![
            // Already set: nothing to announce.
            flag(RoomFlag::TopicProtected, true),
            flag(RoomFlag::Moderated, true),
            ModeChange::Operator {
                set: true,
                nick: "bob".into(),
            },
            ModeChange::Operator {
                set: true,
                nick: "nobody".into(),
            },
            voice("elsewhere", true),
            ban("Mallory"),
            ban("mallory!*@*"),
            ban("bad mask"),
            ModeChange::Key(None),
            ModeChange::Limit(Some(5)),
        ],
    );
    let Some(Event::ModeChanged { changes, by, .. }) = outcome.event else {
        panic!("nothing announced");
    };
    assert_eq!(by.nick, op.nick());
    assert_eq!(
        changes,
        [
            flag(RoomFlag::Moderated, true),
            // The member's nick as it is, not as it was asked for.
            ModeChange::Operator {
                set: true,
                nick: "Bob".into(),
            },
            // Completed and folded; the repeat changes nothing.
            ban("mallory!*@*"),
            ModeChange::Limit(Some(5)),
        ]
    );
    assert_eq!(
        outcome.errors,
        [
            HubError::NoSuchNick("nobody".into()),
            HubError::UserNotInRoom {
                nick: "elsewhere".into(),
                room: "#r".into()
            },
            HubError::InvalidMask {
                room: "#r".into(),
                list: MaskList::Bans,
                mask: "bad mask".into(),
                reason: BanMaskError::Space
            },
        ]
    );
    assert!(room.state().is_op(&bob));
    // Changing nothing announces nothing.
    let again = change_modes(&hub, &op, &room, vec![flag(RoomFlag::Moderated, true)]);
    assert!(again.event.is_none() && again.errors.is_empty());
}

#[test]
fn full_mask_lists_refuse_more_entries_of_any_list() {
    let hub = Hub::default();
    let op = guest(&hub);
    let room = join(&hub, &op, "#r");
    // MAXLIST=beI:100 counts the three lists together.
    let entries = (0..MAX_LIST_ENTRIES)
        .map(|n| match n % 3 {
            0 => ban(&format!("spam{n}")),
            1 => mask(MaskList::BanExceptions, &format!("friend{n}")),
            _ => mask(MaskList::InviteExceptions, &format!("guest{n}")),
        })
        .collect();
    change_modes(&hub, &op, &room, entries);
    for list in MaskList::ALL {
        let outcome = change_modes(&hub, &op, &room, vec![mask(list, "one-more")]);
        assert!(outcome.event.is_none());
        assert_eq!(
            outcome.errors,
            [HubError::ListFull {
                room: "#r".into(),
                list,
                mask: "one-more!*@*".into()
            }]
        );
    }
    // Removing an entry of one list makes room in any.
    let removal = ModeChange::Mask {
        list: MaskList::Bans,
        set: false,
        mask: "spam0!*@*".into(),
    };
    change_modes(&hub, &op, &room, vec![removal]);
    let outcome = change_modes(
        &hub,
        &op,
        &room,
        vec![mask(MaskList::InviteExceptions, "one-more")],
    );
    assert!(outcome.event.is_some() && outcome.errors.is_empty());
}

#[test]
fn members_delete_their_own_messages_and_operators_anyones() {
    let hub = Hub::default();
    let (op, bob, outsider) = (guest(&hub), irc_user(&hub, "bob"), guest(&hub));
    let room = join(&hub, &op, "#r");
    join(&hub, &bob, "#r");
    let deletion = |own| Deletion {
        message: MessageId(1),
        author: "bob",
        sent: palaver_proto::time::Timestamp(0),
        own,
        reason: None,
    };
    let deleted = |result: Result<Event, HubError>| result.map(drop);
    assert_eq!(
        deleted(hub.redact_in_room(&bob, &room, deletion(true))),
        Ok(())
    );
    assert_eq!(
        deleted(hub.redact_in_room(&bob, &room, deletion(false))),
        Err(HubError::NeedOperator("#r".into()))
    );
    assert_eq!(
        deleted(hub.redact_in_room(&op, &room, deletion(false))),
        Ok(())
    );
    // Not even one's own from outside the room.
    assert_eq!(
        deleted(hub.redact_in_room(&outsider, &room, deletion(true))),
        Err(HubError::NotInRoom("#r".into()))
    );
    // In private, only one's own, whoever one is.
    let party = crate::store::Party::Account("bob".into());
    assert_eq!(
        deleted(hub.redact_private(&op, "bob", &party, deletion(false))),
        Err(HubError::NotYourMessage)
    );
    assert_eq!(
        deleted(hub.redact_private(&op, "bob", &party, deletion(true))),
        Ok(())
    );
}
