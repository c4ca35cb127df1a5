//! Users connected to another node of a cluster, in this server's hub: seen and talked to like
//! any other user, but reached only through their own node (`Home::Node`).

use super::*;
use crate::hub::user::Home;
use crate::metrics::{LinkState, Metrics};
use crate::store::ConnectionId;

/// The connection id beta gave its user: the same on every node.
const BETA_CONNECTION: ConnectionId = ConnectionId(7 << 64 | 1);

/// A user `nick` connected to the node `beta`.
fn remote_user(hub: &Hub, nick: &str) -> Arc<User> {
    let peer = "192.0.2.7:40000".parse().expect("address");
    hub.admit_remote(
        "beta".into(),
        peer,
        Protocol::Irc,
        irc_identity(nick),
        BETA_CONNECTION,
    )
    .expect("admitted")
}

/// The value of the counter `name` in `metrics`' exposition.
fn counter(metrics: &Metrics, name: &str) -> u64 {
    let text = metrics.encode(0, 0);
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("palaver_{name}_total ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"));
    line.rsplit(' ')
        .next()
        .expect("value")
        .parse()
        .expect("a number")
}

#[test]
fn a_remote_user_holds_its_nick_with_no_outbox_here() {
    let hub = Hub::default();
    let bob = remote_user(&hub, "bob");
    assert!(bob.outbox().is_none());
    assert!(matches!(&bob.home, Home::Node(node) if &**node == "beta"));
    // As its own node knows it: its private history is the same party here.
    assert_eq!(bob.connection, BETA_CONNECTION);
    let found = hub.user_by_nick("BOB").expect("found by nick");
    assert!(Arc::ptr_eq(&found, &bob));
    assert!(!hub.nick_available("Bob", None));
    let peer = PEER.parse().expect("address");
    assert_eq!(
        hub.register(peer, Protocol::Irc, outbox(), irc_identity("bob"))
            .err(),
        Some(HubError::NickTaken("bob".into()))
    );
    // And a nick held here is not admitted from elsewhere.
    irc_user(&hub, "alice");
    let elsewhere = "192.0.2.7:40001".parse().expect("address");
    assert_eq!(
        hub.admit_remote(
            "beta".into(),
            elsewhere,
            Protocol::Irc,
            irc_identity("Alice"),
            BETA_CONNECTION,
        )
        .err(),
        Some(HubError::NickTaken("Alice".into()))
    );
    assert_eq!(hub.user_count(), 2);
}

#[test]
fn a_room_message_is_queued_for_the_members_here_and_left_to_the_remote_ones_node() {
    let metrics = Arc::new(Metrics::default());
    let hub = Hub::new(HubSettings {
        metrics: metrics.clone(),
        ..HubSettings::default()
    });
    let (alice, carol) = (irc_user(&hub, "alice"), irc_user(&hub, "carol"));
    let bob = remote_user(&hub, "bob");
    let room = join(&hub, &alice, "#r");
    join(&hub, &bob, "#r");
    join(&hub, &carol, "#r");
    let carol_s = carol.outbox().expect("connected here");
    carol_s.take_queued();
    assert!(
        room.state()
            .members
            .iter()
            .any(|member| member.user.id == bob.id),
        "the remote user is a member like any other"
    );

    say(&hub, &alice, &room);
    let queued = String::from_utf8(carol_s.take_queued().concat()).expect("UTF-8");
    assert!(queued.ends_with(" PRIVMSG #r hi\r\n"), "{queued}");
    // One copy queued (carol's); bob's is not a copy this server dropped.
    assert_eq!(counter(&metrics, "messages_delivered"), 1);
    assert_eq!(counter(&metrics, "deliveries_dropped"), 0);
}

#[test]
fn alerts_for_a_remote_user_are_its_own_node_s_to_raise() {
    let hub = Hub::default();
    let (alice, bob) = (irc_user(&hub, "alice"), remote_user(&hub, "bob"));
    hub.set_link_state(LinkState::Degraded);
    hub.set_link_state(LinkState::Fenced);
    assert!(alice.take_alerts().contains(Alert::LinkLost));
    assert!(bob.take_alerts().is_empty());
}
