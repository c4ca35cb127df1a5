//! Monitor lists: where monitored nicks stand, the list's limit, and the directory of
//! watchers kept in step with the lists, renames and disconnects.

use super::*;

fn nicks(status: &MonitorStatus) -> (Vec<String>, Vec<String>, Vec<String>) {
    (
        status
            .online
            .iter()
            .map(|who| who.nick.to_string())
            .collect(),
        status.offline.iter().map(|nick| nick.to_string()).collect(),
        status.refused.iter().map(|nick| nick.to_string()).collect(),
    )
}

fn watcher_ids(hub: &Hub, nick: &str) -> Vec<UserId> {
    let mut ids: Vec<UserId> = hub.watchers_of(nick).iter().map(|user| user.id).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn adding_nicks_says_where_each_stands_once() {
    let hub = Hub::default();
    let alice = irc_user(&hub, "alice");
    irc_user(&hub, "Bob");
    let status = hub.monitor(&alice, &["bob", "carol", "BOB", "Carol"]);
    assert_eq!(
        nicks(&status),
        (vec!["Bob".into()], vec!["carol".into()], vec![])
    );
    assert_eq!(
        &*alice.monitored(),
        [Box::<str>::from("bob"), "carol".into()]
    );
    // Asking again changes nothing and says the same.
    let again = hub.monitor(&alice, &["BOB"]);
    assert_eq!(nicks(&again), (vec!["Bob".into()], vec![], vec![]));
    assert_eq!(alice.monitored().len(), 2);
    assert_eq!(watcher_ids(&hub, "BOB"), [alice.id]);
    let status = hub.monitor_status(&alice);
    assert_eq!(
        nicks(&status),
        (vec!["Bob".into()], vec!["carol".into()], vec![])
    );
}

#[test]
fn a_full_list_refuses_what_it_has_no_room_for() {
    let hub = Hub::default();
    let alice = irc_user(&hub, "alice");
    let many: Vec<String> = (0..MAX_MONITORED + 2).map(|n| format!("n{n}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let status = hub.monitor(&alice, &many);
    assert_eq!(status.offline.len(), MAX_MONITORED);
    assert_eq!(
        nicks(&status).2,
        [
            format!("n{MAX_MONITORED}"),
            format!("n{}", MAX_MONITORED + 1)
        ]
    );
    // A nick already listed is no addition.
    assert!(hub.monitor(&alice, &["N0"]).refused.is_empty());
    hub.unmonitor(&alice, &["n0"]);
    assert!(hub.monitor(&alice, &["late"]).refused.is_empty());
    assert_eq!(alice.monitored().len(), MAX_MONITORED);
}

#[test]
fn the_directory_follows_removals_clears_and_disconnects() {
    let hub = Hub::default();
    let (alice, bob) = (irc_user(&hub, "alice"), irc_user(&hub, "bob"));
    hub.monitor(&alice, &["carol", "dave"]);
    hub.monitor(&bob, &["carol"]);
    assert_eq!(watcher_ids(&hub, "carol"), [alice.id, bob.id]);
    hub.unmonitor(&alice, &["CAROL", "nobody"]);
    assert_eq!(watcher_ids(&hub, "carol"), [bob.id]);
    assert_eq!(&*alice.monitored(), [Box::<str>::from("dave")]);
    hub.clear_monitor(&alice);
    assert!(alice.monitored().is_empty());
    assert!(watcher_ids(&hub, "dave").is_empty());
    let _ = hub.disconnect(&bob, Some("bye"));
    assert!(watcher_ids(&hub, "carol").is_empty());
    assert_eq!(hub.watchers.watched_nicks(), 0);
}

#[test]
fn renames_and_disconnects_move_users_between_monitored_nicks() {
    let hub = Hub::default();
    let alice = irc_user(&hub, "alice");
    let bob = irc_user(&hub, "bob");
    hub.monitor(&alice, &["bob", "robert"]);
    hub.rename(&bob, "Robert").expect("renamed");
    assert_eq!(
        nicks(&hub.monitor_status(&alice)),
        (vec!["Robert".into()], vec!["bob".into()], vec![])
    );
    let _ = hub.disconnect(&bob, Some("bye"));
    assert_eq!(
        nicks(&hub.monitor_status(&alice)),
        (vec![], vec!["bob".into(), "robert".into()], vec![])
    );
}

#[test]
fn a_reclaimed_nick_moves_its_squatter_and_brings_its_owner() {
    let hub = Hub::default();
    let alice = irc_user(&hub, "alice");
    let squatter = irc_user(&hub, "owner");
    let owner = irc_user(&hub, "someone");
    hub.monitor(&alice, &["owner", "someone"]);
    hub.reclaim_nick(&owner, "owner", Reclaim::Take)
        .expect("reclaimed");
    let status = hub.monitor_status(&alice);
    assert_eq!(status.offline.len(), 1);
    assert_eq!(&*status.offline[0], "someone");
    assert_eq!(status.online.len(), 1);
    assert_eq!(&*status.online[0].user, "~someone");
    assert!(squatter.nick().starts_with("guest-"));
}
