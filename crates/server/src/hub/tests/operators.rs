//! What server operators may do: kill and send wallops, nobody else; a kill is recorded on
//! the victim (the first one wins) and its session alerted.

use super::*;

/// `nick`, made a server operator acting as the entry `root`.
fn operator(hub: &Hub, nick: &str) -> Arc<User> {
    let user = irc_user(hub, nick);
    user.set_operator(Some("root".into()));
    user
}

#[test]
fn only_operators_kill_and_the_first_kill_is_the_one_told() {
    let hub = Hub::default();
    let (alice, bob, carol) = (
        operator(&hub, "alice"),
        irc_user(&hub, "bob"),
        operator(&hub, "carol"),
    );
    assert_eq!(
        hub.kill(&bob, "alice", "no").err(),
        Some(HubError::NeedServerOperator)
    );
    assert!(alice.take_alerts().is_empty());
    assert_eq!(
        hub.kill(&alice, "nobody", "why").err(),
        Some(HubError::NoSuchNick("nobody".into()))
    );

    let victim = hub.kill(&alice, "BOB", "spam").expect("killed");
    assert_eq!(victim.id, bob.id);
    hub.kill(&carol, "bob", "also spam").expect("killed again");
    assert!(bob.take_alerts().contains(Alert::Killed));
    let kill = bob.take_kill().expect("the kill is recorded");
    assert_eq!(&*kill.by.nick, "alice");
    assert_eq!(kill.quit_reason(), "Killed (alice (spam))");
    // The kill only asks the victim's session to end the connection; until it does, the
    // victim is still there.
    assert!(hub.user_by_nick("bob").is_some());
}

#[test]
fn a_kill_reason_is_cut_to_fit_a_quit_reason() {
    let hub = Hub::default();
    let alice = operator(&hub, "alice");
    let bob = irc_user(&hub, "bob");
    hub.kill(&alice, "bob", &"é".repeat(REASON_MAX_BYTES))
        .expect("killed");
    let kill = bob.take_kill().expect("recorded");
    assert_eq!(kill.reason.len(), REASON_MAX_BYTES);
}

#[test]
fn only_operators_send_wallops_and_get_their_copy_only_if_they_want_them() {
    let hub = Hub::default();
    let (alice, bob) = (operator(&hub, "alice"), irc_user(&hub, "bob"));
    assert_eq!(
        hub.wallops(&bob, "hi").err(),
        Some(HubError::NeedServerOperator)
    );
    assert_eq!(hub.wallops(&alice, "hi"), Ok(None));
    let (wire, _) = alice.delivery();
    alice.set_delivery(wire, [Interest::Wallops].into_iter().collect());
    match hub.wallops(&alice, "hi") {
        Ok(Some(Event::Wallops { from, text, .. })) => {
            assert_eq!(&*from.nick, "alice");
            assert_eq!(&*text, "hi");
        }
        other => panic!("no own copy: {other:?}"),
    }
    assert_eq!(hub.operator_count(), 1);
    alice.set_operator(None);
    assert_eq!(hub.operator_count(), 0);
    assert_eq!(
        hub.wallops(&alice, "hi").err(),
        Some(HubError::NeedServerOperator)
    );
}

#[test]
fn user_counts_follow_operator_and_invisible_status() {
    let hub = Hub::default();
    let (alice, bob, _carol) = (
        operator(&hub, "alice"),
        irc_user(&hub, "bob"),
        irc_user(&hub, "carol"),
    );
    bob.set_invisible(true);
    let counts = UserCounts {
        total: 3,
        invisible: 1,
        operators: 1,
    };
    assert_eq!(hub.user_counts(), counts);
    alice.set_operator(None);
    bob.set_invisible(false);
    assert_eq!(
        hub.user_counts(),
        UserCounts {
            invisible: 0,
            operators: 0,
            ..counts
        }
    );
}

#[test]
fn the_administrator_acts_in_every_room_without_joining_and_is_listed_nowhere() {
    let hub = Hub::default();
    let (alice, bob) = (irc_user(&hub, "alice"), irc_user(&hub, "bob"));
    let room = join(&hub, &alice, "#help");
    join(&hub, &bob, "#help");
    change_modes(
        &hub,
        &alice,
        &room,
        vec![flag(RoomFlag::TopicProtected, true)],
    );
    let administrator = hub.administrator("ops");
    assert_eq!(administrator.operator().as_deref(), Some("api:ops"));
    assert_eq!(hub.user_count(), 2, "not in the nick directory");
    assert!(hub.user_by_nick("palaver").is_none());

    // A room operator's rights, though not a member: topic, modes, kick.
    hub.set_topic(&administrator, &room, "ask here")
        .expect("topic");
    let outcome = change_modes(
        &hub,
        &administrator,
        &room,
        vec![flag(RoomFlag::Moderated, true)],
    );
    assert!(outcome.event.is_some());
    hub.kick(&administrator, &room, "bob", "enough")
        .expect("kick");
    assert!(!room.state().is_member(&bob));
    assert!(!room.state().is_member(&administrator));
    // Nobody else has them without being an operator there.
    assert_eq!(
        hub.kick(&bob, &room, "alice", "no").err(),
        Some(HubError::NotInRoom("#help".into()))
    );
    // And it sees what a member sees: a secret room and its key.
    change_modes(
        &hub,
        &alice,
        &room,
        vec![
            flag(RoomFlag::Secret, true),
            ModeChange::Key(Some("sesame".into())),
        ],
    );
    assert!(hub.rooms(&bob).is_empty());
    assert_eq!(hub.administered_rooms().len(), 1);
    assert_eq!(
        hub.administered_room_view(&room).modes.key.as_deref(),
        Some("sesame")
    );
    assert_eq!(hub.administered_memberships(&alice).len(), 1);
}
