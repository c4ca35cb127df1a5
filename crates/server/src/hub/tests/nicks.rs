//! The nick directory: taken and reserved nicks, case changes, guest nicks and reclaims.

use super::*;

fn nick_change(event: &Event) -> (&str, &str) {
    match event {
        Event::NickChanged { old, new_nick, .. } => (&old.nick, new_nick),
        other => panic!("not a nick change: {other:?}"),
    }
}

#[test]
fn a_nick_is_taken_in_every_case() {
    let hub = Hub::default();
    let (alice, bob) = (irc_user(&hub, "alice"), irc_user(&hub, "bob"));
    assert_eq!(
        hub.rename(&bob, "ALICE").err(),
        Some(HubError::NickTaken("ALICE".into()))
    );
    assert_eq!(&*bob.nick(), "bob");
    assert!(!hub.nick_available("Alice", Some(&bob)));
    assert!(!hub.nick_available("Alice", None));
    assert!(hub.nick_available("Alice", Some(&alice)));
    let peer = "127.0.0.1:2".parse().expect("address");
    let identity = Identity {
        nick: "Bob".into(),
        ..(*alice.identity()).clone()
    };
    let outbox = Arc::new(Outbox::new(1024));
    assert_eq!(
        hub.register(peer, Protocol::Irc, outbox, identity).err(),
        Some(HubError::NickTaken("Bob".into()))
    );
}

#[test]
fn the_services_nicks_belong_to_nobody() {
    let hub = Hub::default();
    let alice = irc_user(&hub, "alice");
    for nick in ["NickServ", "chanserv", "CHANSERV"] {
        assert_eq!(
            hub.rename(&alice, nick).err(),
            Some(HubError::NickTaken(nick.into()))
        );
        assert!(!hub.nick_available(nick, Some(&alice)));
    }
    assert!(matches!(
        hub.reclaim_nick(&alice, "nickserv", Reclaim::Take),
        Err(HubError::NickTaken(_))
    ));
    let peer = "127.0.0.1:2".parse().expect("address");
    let identity = Identity {
        nick: "ChanServ".into(),
        ..(*alice.identity()).clone()
    };
    let outbox = Arc::new(Outbox::new(1024));
    assert!(hub.register(peer, Protocol::Irc, outbox, identity).is_err());
}

#[test]
fn a_user_may_change_the_case_of_its_own_nick() {
    let hub = Hub::default();
    let alice = irc_user(&hub, "alice");
    let event = hub.rename(&alice, "Alice").expect("rename");
    assert_eq!(nick_change(&event), ("alice", "Alice"));
    assert_eq!(&*alice.nick(), "Alice");
    let found = hub.user_by_nick("ALICE").expect("still listed");
    assert_eq!(found.id, alice.id);
    assert_eq!(hub.user_count(), 1);
}

#[test]
fn a_rename_frees_the_old_nick_and_shows_in_rooms() {
    let hub = Hub::default();
    let (alice, bob) = (irc_user(&hub, "alice"), irc_user(&hub, "bob"));
    let room = join(&hub, &alice, "#r");
    hub.rename(&alice, "alicia").expect("rename");
    assert!(hub.user_by_nick("alice").is_none());
    hub.rename(&bob, "alice").expect("the old nick is free");
    // Rooms find members by their current nick.
    assert!(room.state().member_by_nick("ALICIA").is_some());
    assert!(room.state().member_by_nick("alice").is_none());
}

#[test]
fn guest_nicks_skip_the_ones_taken() {
    let hub = Hub::default();
    let first = guest(&hub);
    assert_eq!(&*first.nick(), "guest-1");
    let squatter = irc_user(&hub, "alice");
    hub.rename(&squatter, "guest-2").expect("rename");
    assert_eq!(&*guest(&hub).nick(), "guest-3");
    let renamed = hub.rename_to_guest(&first);
    assert_eq!(nick_change(&renamed), ("guest-1", "guest-4"));
}

#[test]
fn an_owner_takes_its_nick_from_a_squatter_who_is_told() {
    let hub = Hub::default();
    let (owner, squatter) = (irc_user(&hub, "owner"), irc_user(&hub, "alice"));
    hub.set_account(&owner, Some("alice"));
    let Ok(Reclaimed::Done {
        displaced: Some(displaced),
        own_copy: Some(own_copy),
    }) = hub.reclaim_nick(&owner, "alice", Reclaim::Take)
    else {
        panic!("not reclaimed");
    };
    assert_eq!(nick_change(&own_copy), ("owner", "alice"));
    assert_eq!(*squatter.nick(), *displaced.guest);
    assert!(!displaced.ghosted);
    assert!(squatter.take_alerts().contains(Alert::NickReclaimed));
    assert!(matches!(
        hub.reclaim_nick(&owner, "alice", Reclaim::Take),
        Ok(Reclaimed::AlreadyHeld)
    ));
}

#[test]
fn a_login_leaves_the_nick_to_another_session_of_the_account() {
    let hub = Hub::default();
    let (holder, other) = (irc_user(&hub, "alice"), irc_user(&hub, "laptop"));
    hub.set_account(&holder, Some("alice"));
    hub.set_account(&other, Some("alice"));
    assert!(matches!(
        hub.reclaim_nick(&other, "alice", Reclaim::FromSquatter),
        Ok(Reclaimed::HeldByAccount)
    ));
    assert_eq!(&*holder.nick(), "alice");
    // A ghost of the owner's own is renamed and told to quit.
    let Ok(Reclaimed::Done {
        displaced: Some(displaced),
        own_copy: None,
    }) = hub.reclaim_nick(&other, "alice", Reclaim::Ghost)
    else {
        panic!("not ghosted");
    };
    assert!(displaced.ghosted);
    assert!(holder.take_alerts().contains(Alert::Ghosted));
    assert!(hub.nick_available("alice", Some(&other)));
}
