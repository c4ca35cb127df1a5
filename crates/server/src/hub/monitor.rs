//! Monitoring nicks (IRCv3 `MONITOR`, text `/monitor`): a user keeps a list of nicks and is
//! told whenever one of them comes online (its user connects, or someone takes the nick) or
//! goes offline (its user disconnects or takes another nick). A user who asked for it (IRC
//! `extended-monitor`) also hears of the away, real-name and account changes of the users it
//! monitors, as room peers do (`presence`).
//!
//! Nicks come and go under the nick directory lock, and the watchers of a nick are told
//! before that lock is released, so every watcher sees a nick's comings and goings in the
//! order they happened and a list's status is never out of date: adding a nick reads whether
//! it is online under the same lock. Lists hold nicks, never masks (IRCv3 monitor: no
//! subscription to hosts, against nick-change stalking).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use palaver_proto::event::{Event, Identity};
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;

use super::Hub;
use super::delivery::{Audience, deliver};
use super::user::{User, UserId};
use crate::lock;

/// The most nicks one user may monitor (IRC `MONITOR=100`): bounds what each user costs the
/// directory of watchers and what a nick's coming online costs the hub.
pub const MAX_MONITORED: usize = 100;

/// Who monitors which nick.
#[derive(Debug, Default)]
pub(super) struct Watchers {
    /// Folded nick → the users monitoring it. A user is here under exactly the nicks of its
    /// own list (`User::monitored`), and leaves when it disconnects. Lock order: taken alone or
    /// under the nick directory lock; only user leaf locks are taken while it is held.
    by_nick: Mutex<HashMap<String, HashMap<UserId, Arc<User>>>>,
}

impl Watchers {
    /// How many nicks somebody monitors.
    #[cfg(test)]
    pub(super) fn watched_nicks(&self) -> usize {
        lock(&self.by_nick).len()
    }

    /// The users monitoring the nick folded as `key`.
    fn of(&self, key: &str) -> Vec<Arc<User>> {
        lock(&self.by_nick)
            .get(key)
            .map(|watchers| watchers.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// Where the nicks of a monitor list stand.
#[derive(Debug, Default)]
pub struct MonitorStatus {
    /// The users on the list's nicks who are online.
    pub online: Vec<Arc<Identity>>,
    /// The list's nicks nobody uses, as the list spells them.
    pub offline: Vec<Box<str>>,
    /// The nicks asked for that the list had no room for, as given ([`MAX_MONITORED`]).
    pub refused: Vec<Box<str>>,
}

impl Hub {
    /// Adds `nicks` (already validated) to `user`'s monitor list, except those it has no room
    /// for, and says where each nick asked for stands.
    pub fn monitor(&self, user: &Arc<User>, nicks: &[&str]) -> MonitorStatus {
        let mut status = MonitorStatus::default();
        let directory = lock(&self.nicks);
        let mut listed = Vec::new();
        {
            let mut watchers = lock(&self.watchers.by_nick);
            let mut seen = HashSet::new();
            user.change_monitored(|list| {
                for &nick in nicks {
                    let key = fold(nick);
                    if !seen.insert(key.clone()) {
                        continue;
                    }
                    if !list.iter().any(|listed| fold(listed) == key) {
                        if list.len() >= MAX_MONITORED {
                            status.refused.push(nick.into());
                            continue;
                        }
                        list.push(nick.into());
                        watchers
                            .entry(key.clone())
                            .or_default()
                            .insert(user.id, user.clone());
                    }
                    listed.push((key, nick));
                }
            });
        }
        for (key, nick) in listed {
            match directory.get(&key) {
                Some(online) => status.online.push(online.identity()),
                None => status.offline.push(nick.into()),
            }
        }
        status
    }

    /// Takes `nicks` off `user`'s monitor list; nicks not on it are ignored.
    pub fn unmonitor(&self, user: &Arc<User>, nicks: &[&str]) {
        let keys: HashSet<String> = nicks.iter().map(|nick| fold(nick)).collect();
        let mut watchers = lock(&self.watchers.by_nick);
        user.change_monitored(|list| list.retain(|listed| !keys.contains(&fold(listed))));
        for key in &keys {
            stop_watching(&mut watchers, key, user.id);
        }
    }

    /// Empties `user`'s monitor list.
    pub fn clear_monitor(&self, user: &User) {
        let mut watchers = lock(&self.watchers.by_nick);
        for nick in user.change_monitored(std::mem::take) {
            stop_watching(&mut watchers, &fold(&nick), user.id);
        }
    }

    /// Where every nick of `user`'s monitor list stands, in the list's order.
    pub fn monitor_status(&self, user: &User) -> MonitorStatus {
        let directory = lock(&self.nicks);
        let mut status = MonitorStatus::default();
        for nick in user.monitored() {
            match directory.get(&fold(&nick)) {
                Some(online) => status.online.push(online.identity()),
                None => status.offline.push(nick),
            }
        }
        status
    }

    /// The users monitoring `nick`.
    pub(super) fn watchers_of(&self, nick: &str) -> Vec<Arc<User>> {
        self.watchers.of(&fold(nick))
    }

    /// Tells those monitoring `who`'s nick that it is online. Call with the nick directory
    /// lock held, right after the nick was taken (see the module's ordering rule).
    pub(super) fn tell_online(&self, who: Arc<Identity>) {
        let watchers = self.watchers.of(&fold(&who.nick));
        if watchers.is_empty() {
            return;
        }
        let event = Event::MonitoredOnline {
            time: Timestamp::now(),
            server: self.settings.server_name.clone(),
            who,
        };
        deliver(&watchers, &event, Audience::all());
    }

    /// Tells those monitoring `nick` that it is offline. Call with the nick directory lock
    /// held, right after the nick was given up.
    pub(super) fn tell_offline(&self, nick: &str) {
        let watchers = self.watchers.of(&fold(nick));
        if watchers.is_empty() {
            return;
        }
        let event = Event::MonitoredOffline {
            time: Timestamp::now(),
            server: self.settings.server_name.clone(),
            nick: nick.into(),
        };
        deliver(&watchers, &event, Audience::all());
    }

    /// Tells watchers that a user went from `old`'s nick to `new`'s; nothing when only the
    /// case changed (the same nick). Call with the nick directory lock held.
    pub(super) fn tell_renamed(&self, old: &Identity, new: Arc<Identity>) {
        if fold(&old.nick) == fold(&new.nick) {
            return;
        }
        self.tell_offline(&old.nick);
        self.tell_online(new);
    }
}

/// Removes `id` from the watchers of the nick folded as `key`, and the nick once nobody
/// watches it.
fn stop_watching(
    watchers: &mut HashMap<String, HashMap<UserId, Arc<User>>>,
    key: &str,
    id: UserId,
) {
    if let Some(of_nick) = watchers.get_mut(key) {
        of_nick.remove(&id);
        if of_nick.is_empty() {
            watchers.remove(key);
        }
    }
}
