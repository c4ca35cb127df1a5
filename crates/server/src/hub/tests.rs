//! Hub rules whose effect cannot be seen from a socket: what the hub keeps after users go.

use std::net::SocketAddr;
use std::sync::Arc;

use super::*;
use crate::outbox::Outbox;

fn connect(hub: &Hub) -> Arc<User> {
    let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let outbox = Arc::new(Outbox::new(1 << 20));
    hub.connect_guest(peer, "127.0.0.1", Protocol::Text, outbox)
}

fn pending_invitations(room: &Room) -> usize {
    room.state().invitations.len()
}

#[test]
fn a_users_invitations_are_withdrawn_when_it_disconnects() {
    let hub = Hub::default();
    let op = connect(&hub);
    let invitee = connect(&hub);
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
    let op = connect(&hub);
    let member = connect(&hub);
    let invitee = connect(&hub);
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
