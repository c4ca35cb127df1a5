//! Who may join a room: invitations (an operator's, kept and used once; anyone else's, only a
//! notice).

use super::*;

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
