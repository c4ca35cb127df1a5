//! This server's link to the rest of the network: nothing is sent while it is down, and a
//! fence ends every user's session.

use super::*;
use crate::metrics::LinkState;

#[test]
fn nothing_is_sent_while_the_link_is_down_and_everything_again_once_it_is_back() {
    let hub = Hub::default();
    let (alice, bob) = (irc_user(&hub, "alice"), irc_user(&hub, "bob"));
    let room = join(&hub, &alice, "#r");
    join(&hub, &bob, "#r");
    let said = Said::plain(MessageKind::Say, "hi");
    assert!(hub.link_is_up());

    hub.set_link_state(LinkState::Degraded);
    assert_eq!(hub.link_state(), LinkState::Degraded);
    assert_eq!(hub.say(&alice, &room, &said), Err(HubError::LinkDown));
    assert_eq!(
        hub.message_user(&alice, "bob", &said).map(drop),
        Err(HubError::LinkDown)
    );
    // Degraded is no fence: nobody is asked to leave.
    assert!(bob.take_alerts().is_empty());

    hub.set_link_state(LinkState::Connected);
    assert!(hub.say(&alice, &room, &said).is_ok());
    assert!(hub.message_user(&alice, "bob", &said).is_ok());
}

#[test]
fn a_fence_alerts_every_user_once() {
    let hub = Hub::default();
    let users = [irc_user(&hub, "alice"), guest(&hub)];
    hub.set_link_state(LinkState::Degraded);
    hub.set_link_state(LinkState::Fenced);
    for user in &users {
        assert!(user.take_alerts().contains(Alert::LinkLost));
    }
    // Still fenced: no second alert.
    hub.set_link_state(LinkState::Fenced);
    for user in &users {
        assert!(user.take_alerts().is_empty());
    }
}
