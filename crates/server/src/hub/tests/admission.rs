//! Who may join a room: its creator, its founder, keys, limits, bans, invite-only rooms and
//! invitations (an operator's, kept and used once; anyone else's, only a notice).

use super::*;

/// A room `#r` created by `op`, with `changes` applied.
fn room_with(hub: &Hub, op: &Arc<User>, changes: Vec<ModeChange>) -> Arc<Room> {
    let room = join(hub, op, "#r");
    change_modes(hub, op, &room, changes);
    room
}

/// A room `#r` created by `op` that refuses `bob` for every reason at once: banned,
/// invite-only, keyed (`k`) and full.
fn room_closed_to_bob(hub: &Hub, op: &Arc<User>) -> Arc<Room> {
    let closed = vec![
        ban("bob"),
        flag(RoomFlag::InviteOnly, true),
        ModeChange::Key(Some("k".into())),
        ModeChange::Limit(Some(1)),
    ];
    room_with(hub, op, closed)
}

fn is_op(room: &Room, user: &User) -> bool {
    room.state().is_op(user)
}

#[test]
fn a_users_invitations_are_withdrawn_when_it_disconnects() {
    let hub = Hub::default();
    let op = guest(&hub);
    let invitee = guest(&hub);
    let Ok(Joined::New { room, .. }) = hub.join(&op, "#x", None) else {
        panic!("joined");
    };
    let Ok(Joined::New { room: other, .. }) = hub.join(&op, "#y", None) else {
        panic!("joined");
    };
    hub.invite(&op, &invitee.nick(), "#x").unwrap();
    hub.invite(&op, &invitee.nick(), "#y").unwrap();
    assert_eq!(pending_invitations(&room), 1);
    assert_eq!(pending_invitations(&other), 1);

    hub.disconnect(&invitee, Some("gone"));
    assert_eq!(pending_invitations(&room), 0);
    assert_eq!(pending_invitations(&other), 0);
}

#[test]
fn only_an_operators_invitation_is_kept() {
    let hub = Hub::default();
    let op = guest(&hub);
    let member = guest(&hub);
    let invitee = guest(&hub);
    let Ok(Joined::New { room, .. }) = hub.join(&op, "#x", None) else {
        panic!("joined");
    };
    assert!(matches!(
        hub.join(&member, "#x", None),
        Ok(Joined::New { .. })
    ));
    hub.invite(&member, &invitee.nick(), "#x").unwrap();
    assert_eq!(pending_invitations(&room), 0);
    hub.invite(&op, &invitee.nick(), "#x").unwrap();
    assert_eq!(pending_invitations(&room), 1);
}

#[test]
fn whoever_creates_a_room_is_its_operator_and_nobody_after() {
    let hub = Hub::default();
    let (alice, bob) = (guest(&hub), guest(&hub));
    let room = join(&hub, &alice, "#r");
    join(&hub, &bob, "#R");
    assert!(is_op(&room, &alice));
    assert!(!is_op(&room, &bob));
    assert!(matches!(
        hub.join(&bob, "#r", None),
        Ok(Joined::AlreadyMember(_))
    ));
}

#[test]
fn a_keyed_room_admits_only_with_its_key() {
    let hub = Hub::default();
    let (op, bob) = (guest(&hub), guest(&hub));
    let room = room_with(&hub, &op, vec![ModeChange::Key(Some("sesame".into()))]);
    assert_eq!(refusal(&hub, &bob, "#r", None), JoinRefusal::BadKey);
    assert_eq!(
        refusal(&hub, &bob, "#r", Some("Sesame")),
        JoinRefusal::BadKey
    );
    assert!(hub.join(&bob, "#r", Some("sesame")).is_ok());
    assert!(room.state().is_member(&bob));
}

#[test]
fn a_full_room_admits_again_once_someone_leaves() {
    let hub = Hub::default();
    let (op, bob, carol) = (guest(&hub), guest(&hub), guest(&hub));
    let room = room_with(&hub, &op, vec![ModeChange::Limit(Some(2))]);
    join(&hub, &bob, "#r");
    assert_eq!(refusal(&hub, &carol, "#r", None), JoinRefusal::Full);
    let _ = hub.part(&bob, &room, None).expect("part");
    join(&hub, &carol, "#r");
}

#[test]
fn a_ban_refuses_whoever_it_matches_in_any_case() {
    let hub = Hub::default();
    let op = guest(&hub);
    let (mallory, bob) = (irc_user(&hub, "Mallory"), irc_user(&hub, "bob"));
    room_with(&hub, &op, vec![ban("mallory")]);
    assert_eq!(refusal(&hub, &mallory, "#r", None), JoinRefusal::Banned);
    join(&hub, &bob, "#r");
    // Host masks match too.
    let other = guest(&hub);
    let room = hub.room("#r").expect("room");
    change_modes(&hub, &op, &room, vec![ban("*!text@*")]);
    assert_eq!(refusal(&hub, &other, "#r", None), JoinRefusal::Banned);
}

#[test]
fn refusals_are_checked_ban_first_then_invite_only_then_key_then_limit() {
    let hub = Hub::default();
    let (op, bob) = (guest(&hub), irc_user(&hub, "bob"));
    let room = room_closed_to_bob(&hub, &op);
    let lift = |change| change_modes(&hub, &op, &room, vec![change]);
    assert_eq!(refusal(&hub, &bob, "#r", Some("k")), JoinRefusal::Banned);
    lift(ModeChange::Mask {
        list: MaskList::Bans,
        set: false,
        mask: "bob".into(),
    });
    assert_eq!(
        refusal(&hub, &bob, "#r", Some("k")),
        JoinRefusal::InviteOnly
    );
    lift(flag(RoomFlag::InviteOnly, false));
    assert_eq!(refusal(&hub, &bob, "#r", None), JoinRefusal::BadKey);
    assert_eq!(refusal(&hub, &bob, "#r", Some("k")), JoinRefusal::Full);
    lift(ModeChange::Limit(None));
    assert!(hub.join(&bob, "#r", Some("k")).is_ok());
}

#[test]
fn a_ban_exception_lets_in_whom_a_ban_refuses() {
    let hub = Hub::default();
    let op = guest(&hub);
    let (bob, barbara) = (irc_user(&hub, "bob"), irc_user(&hub, "barbara"));
    room_with(
        &hub,
        &op,
        vec![ban("b*"), mask(MaskList::BanExceptions, "*o*")],
    );
    join(&hub, &bob, "#r");
    assert_eq!(refusal(&hub, &barbara, "#r", None), JoinRefusal::Banned);
}

#[test]
fn an_invite_exception_lets_in_uninvited_but_not_past_bans_or_keys() {
    let hub = Hub::default();
    let (op, bob) = (guest(&hub), irc_user(&hub, "bob"));
    let room = room_closed_to_bob(&hub, &op);
    change_modes(
        &hub,
        &op,
        &room,
        vec![
            mask(MaskList::InviteExceptions, "bob"),
            ModeChange::Limit(None),
        ],
    );
    assert_eq!(refusal(&hub, &bob, "#r", Some("k")), JoinRefusal::Banned);
    change_modes(&hub, &op, &room, vec![mask(MaskList::BanExceptions, "bob")]);
    assert_eq!(refusal(&hub, &bob, "#r", None), JoinRefusal::BadKey);
    assert!(hub.join(&bob, "#r", Some("k")).is_ok());
    // Others still need an invitation.
    let carol = irc_user(&hub, "carol");
    assert_eq!(
        refusal(&hub, &carol, "#r", Some("k")),
        JoinRefusal::InviteOnly
    );
}

#[test]
fn account_masks_match_whoever_is_logged_in_to_the_account() {
    let hub = Hub::default();
    let op = guest(&hub);
    let (bob, impostor) = (irc_user(&hub, "bob"), irc_user(&hub, "robert"));
    hub.set_account(&bob, Some("bob"));
    room_with(&hub, &op, vec![ban("$a:BOB")]);
    assert_eq!(refusal(&hub, &bob, "#r", None), JoinRefusal::Banned);
    // The account, not the nick: a user called bob without the login is not banned, and one
    // logged in to it under another nick is.
    hub.set_account(&impostor, Some("bob"));
    assert_eq!(refusal(&hub, &impostor, "#r", None), JoinRefusal::Banned);
    hub.set_account(&bob, None);
    join(&hub, &bob, "#r");
}

#[test]
fn an_operators_invitation_lets_its_invitee_past_everything_once() {
    let hub = Hub::default();
    let (op, bob) = (guest(&hub), irc_user(&hub, "bob"));
    let room = room_closed_to_bob(&hub, &op);
    hub.invite(&op, "bob", "#r").expect("invite");
    join(&hub, &bob, "#r");
    assert!(!is_op(&room, &bob));
    assert_eq!(pending_invitations(&room), 0);
    // Used up: after leaving, the room refuses again.
    let _ = hub.part(&bob, &room, None).expect("part");
    assert_eq!(refusal(&hub, &bob, "#r", Some("k")), JoinRefusal::Banned);
}

#[test]
fn only_an_operator_may_invite_into_an_invite_only_room() {
    let hub = Hub::default();
    let (op, member, invitee) = (guest(&hub), guest(&hub), guest(&hub));
    let room = join(&hub, &op, "#r");
    join(&hub, &member, "#r");
    change_modes(&hub, &op, &room, vec![flag(RoomFlag::InviteOnly, true)]);
    assert_eq!(
        hub.invite(&member, &invitee.nick(), "#r").err(),
        Some(HubError::NeedOperator("#r".into()))
    );
    assert_eq!(refusal(&hub, &invitee, "#r", None), JoinRefusal::InviteOnly);
    // Outsiders may not invite at all, and nobody may invite a member.
    let outsider = guest(&hub);
    assert_eq!(
        hub.invite(&outsider, &invitee.nick(), "#r").err(),
        Some(HubError::NotInRoom("#r".into()))
    );
    assert_eq!(
        hub.invite(&op, &member.nick(), "#r").err(),
        Some(HubError::AlreadyInRoom {
            nick: member.nick().into(),
            room: "#r".into()
        })
    );
}

#[test]
fn a_non_operators_invitation_opens_nothing() {
    let hub = Hub::default();
    let (op, member, invitee) = (guest(&hub), guest(&hub), guest(&hub));
    let room = join(&hub, &op, "#r");
    join(&hub, &member, "#r");
    change_modes(&hub, &op, &room, vec![ModeChange::Key(Some("k".into()))]);
    hub.invite(&member, &invitee.nick(), "#r").expect("invite");
    assert_eq!(refusal(&hub, &invitee, "#r", None), JoinRefusal::BadKey);
}

#[test]
fn a_registered_room_opens_to_its_founder_and_keeps_its_modes_while_empty() {
    let hub = Hub::default();
    let founder = guest(&hub);
    hub.set_account(&founder, Some("Alice"));
    let room = room_with(
        &hub,
        &founder,
        vec![
            ModeChange::Key(Some("k".into())),
            ModeChange::Limit(Some(1)),
        ],
    );
    let record = hub
        .room_registration(&founder, &room)
        .expect("registration");
    hub.mark_registered(&room, record);
    let _ = hub.part(&founder, &room, None).expect("part");

    // Whoever comes first to the empty room is held to its key and not made operator.
    let bob = guest(&hub);
    assert_eq!(refusal(&hub, &bob, "#r", None), JoinRefusal::BadKey);
    let room = hub.join(&bob, "#r", Some("k")).map(|joined| match joined {
        Joined::New { room, .. } | Joined::AlreadyMember(room) => room,
    });
    let room = room.expect("join with the key");
    assert!(!is_op(&room, &bob));

    // The founder (its account, in any case) walks past the key and the full room, as
    // operator.
    let again = guest(&hub);
    hub.set_account(&again, Some("alice"));
    join(&hub, &again, "#r");
    assert!(is_op(&room, &again));
}

#[test]
fn nobody_is_in_more_rooms_than_allowed() {
    let hub = Hub::new(HubSettings {
        rooms_per_user: 2,
        ..HubSettings::default()
    });
    let alice = guest(&hub);
    join(&hub, &alice, "#a");
    join(&hub, &alice, "#b");
    assert_eq!(
        hub.join(&alice, "#c", None).err(),
        Some(HubError::TooManyRooms {
            room: "#c".into(),
            limit: 2
        })
    );
    // Rejoining a room one is in costs nothing.
    assert!(matches!(
        hub.join(&alice, "#A", None),
        Ok(Joined::AlreadyMember(_))
    ));
}
