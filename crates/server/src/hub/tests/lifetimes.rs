//! Room lifetimes and registered rooms: when a room's history ends, and what a registered
//! room keeps while it is empty.

use super::*;
use crate::store::RoomRecord;

#[test]
fn the_last_part_ends_an_unregistered_rooms_lifetime_and_the_next_room_starts_after_it() {
    let hub = Hub::default();
    let alice = guest(&hub);
    let first = join(&hub, &alice, "#a");
    let said = say(&hub, &alice, &first);
    assert!(first.history_floor() <= said);
    let departure = hub.part(&alice, &first, None).expect("part");
    let ended = departure.ended.expect("the lifetime ended");
    assert_eq!(&*ended.name, "#a");
    assert!(ended.history_end > said);
    let second = join(&hub, &alice, "#A");
    assert!(second.history_floor() >= ended.history_end);
    assert!(say(&hub, &alice, &second) >= second.history_floor());
}

#[test]
fn a_member_left_behind_keeps_the_lifetime_going() {
    let hub = Hub::default();
    let (alice, bob) = (guest(&hub), guest(&hub));
    // Bob creates the room, so he is its operator.
    let room = join(&hub, &bob, "#a");
    join(&hub, &alice, "#a");
    say(&hub, &alice, &room);
    assert_eq!(hub.part(&alice, &room, None).expect("part").ended, None);
    let kicked = hub.kick(&bob, &room, &bob.nick(), "").expect("kick");
    assert!(kicked.ended.is_some());
}

#[test]
fn a_shutdown_ends_no_lifetime_but_a_lost_connection_does() {
    let hub = Hub::default();
    let (alice, bob) = (guest(&hub), guest(&hub));
    let a = join(&hub, &alice, "#a");
    say(&hub, &alice, &a);
    let b = join(&hub, &bob, "#b");
    say(&hub, &bob, &b);
    assert_eq!(hub.disconnect(&alice, None), []);
    let ended = hub.disconnect(&bob, Some("connection closed"));
    assert_eq!(ended.len(), 1);
    assert_eq!(&*ended[0].name, "#b");
}

#[test]
fn a_room_that_never_had_history_leaves_the_store_nothing_to_forget() {
    let hub = Hub::default();
    let alice = guest(&hub);
    let quiet = join(&hub, &alice, "#quiet");
    // Typing notifications are not stored.
    let typing = Said {
        client_tags: "+typing=active",
        ..Said::plain(MessageKind::TagsOnly, "")
    };
    hub.say(&alice, &quiet, &typing).expect("tagmsg");
    assert_eq!(hub.part(&alice, &quiet, None).expect("part").ended, None);
    // A room that comes back after a restart has history, said or not.
    hub.load_rooms_with_history(vec!["#back".into()]);
    let back = join(&hub, &alice, "#back");
    assert!(hub.part(&alice, &back, None).expect("part").ended.is_some());
}

#[test]
fn a_registered_room_outlives_its_emptying_with_the_same_floor() {
    let hub = Hub::default();
    let alice = guest(&hub);
    hub.set_account(&alice, Some("alice"));
    let room = join(&hub, &alice, "#a");
    say(&hub, &alice, &room);
    let record = hub.room_registration(&alice, &room).expect("registration");
    assert_eq!(record.history_floor, room.history_floor());
    hub.mark_registered(&room, record);
    assert_eq!(hub.part(&alice, &room, None).expect("part").ended, None);
    assert_eq!(
        join(&hub, &alice, "#a").history_floor(),
        room.history_floor()
    );
}

#[test]
fn a_room_with_history_at_start_up_comes_back_once_with_all_of_it() {
    let hub = Hub::default();
    hub.load_rooms_with_history(vec!["#back".into()]);
    let alice = guest(&hub);
    let back = join(&hub, &alice, "#Back");
    assert_eq!(back.history_floor(), MessageId(0));
    let _ = hub.part(&alice, &back, None).expect("part");
    assert!(join(&hub, &alice, "#back").history_floor() > MessageId(0));
    // Registered rooms keep their history by their own rule.
    hub.load_registered_rooms(vec![RoomRecord {
        name: "#reg".into(),
        founder: "alice".into(),
        topic: None,
        flags: String::new(),
        key: None,
        limit: None,
        created: Timestamp(1),
        history_floor: MessageId(5),
        lists: Vec::new(),
    }]);
    hub.load_rooms_with_history(vec!["#reg".into()]);
    assert_eq!(join(&hub, &alice, "#reg").history_floor(), MessageId(5));
}

#[test]
fn a_message_to_a_room_that_just_closed_is_refused() {
    let hub = Hub::default();
    let (alice, bob) = (guest(&hub), guest(&hub));
    let room = join(&hub, &alice, "#a");
    // -n: outsiders may send to the room while it exists.
    let open = ModeChange::Flag {
        flag: RoomFlag::NoExternalMessages,
        set: false,
    };
    hub.change_modes(&alice, &room, vec![open]).expect("modes");
    say(&hub, &bob, &room);
    let _ = hub.part(&alice, &room, None).expect("part");
    let result = hub.say(&bob, &room, &Said::plain(MessageKind::Say, "late"));
    assert_eq!(result.err(), Some(HubError::NoSuchRoom("#a".into())));
}

#[test]
fn a_registered_rooms_mask_lists_are_saved_and_restored() {
    let hub = Hub::default();
    let alice = guest(&hub);
    hub.set_account(&alice, Some("alice"));
    let room = join(&hub, &alice, "#a");
    let record = hub.room_registration(&alice, &room).expect("registration");
    hub.mark_registered(&room, record);
    let changes = vec![
        ban("mallory"),
        mask(MaskList::InviteExceptions, "$a:bob"),
        ban("*@evil.example"),
        mask(MaskList::BanExceptions, "*!*@good.example"),
    ];
    hub.change_modes(&alice, &room, changes).expect("modes");
    let saved = hub.registered_state(&room).expect("registered");
    let masks: Vec<(MaskList, &str)> = saved
        .lists
        .iter()
        .map(|entry| (entry.list, entry.mask.as_str()))
        .collect();
    assert_eq!(
        masks,
        [
            (MaskList::Bans, "mallory!*@*"),
            (MaskList::Bans, "*!*@evil.example"),
            (MaskList::BanExceptions, "*!*@good.example"),
            (MaskList::InviteExceptions, "$a:bob"),
        ]
    );
    let _ = hub.part(&alice, &room, None).expect("part");
    let again = join(&hub, &alice, "#a");
    assert_eq!(again.state().lists, room.state().lists);
}
