//! Which user of this node's hub is which user of the cluster, both ways: this node's own users
//! (`network/cluster.rs` adds each once the directory gave it an id) and the other nodes' (the
//! state feed's applier adds them as they arrive). A private message to another node's user
//! needs its cluster id; one arriving in this node's inbox names its recipient by that id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::users::ClusterUserId;
use crate::hub::{User, UserId};
use crate::lock;

#[derive(Default)]
pub struct UserIds {
    maps: Mutex<Maps>,
}

#[derive(Default)]
struct Maps {
    by_hub: HashMap<UserId, ClusterUserId>,
    by_cluster: HashMap<ClusterUserId, Arc<User>>,
}

impl UserIds {
    pub fn insert(&self, id: ClusterUserId, user: Arc<User>) {
        let mut maps = lock(&self.maps);
        maps.by_hub.insert(user.id, id);
        maps.by_cluster.insert(id, user);
    }

    /// Forgets `user`; its cluster id, if it had one.
    pub fn remove_user(&self, user: &User) -> Option<ClusterUserId> {
        let mut maps = lock(&self.maps);
        let id = maps.by_hub.remove(&user.id)?;
        maps.by_cluster.remove(&id);
        Some(id)
    }

    /// Forgets the user with the cluster id `id`; the hub's user, if there was one.
    pub fn remove_id(&self, id: ClusterUserId) -> Option<Arc<User>> {
        let mut maps = lock(&self.maps);
        let user = maps.by_cluster.remove(&id)?;
        maps.by_hub.remove(&user.id);
        Some(user)
    }

    pub fn id_of(&self, user: &User) -> Option<ClusterUserId> {
        lock(&self.maps).by_hub.get(&user.id).copied()
    }

    /// The other nodes' users.
    pub fn remote_users(&self) -> Vec<Arc<User>> {
        lock(&self.maps)
            .by_cluster
            .values()
            .filter(|user| user.outbox().is_none())
            .cloned()
            .collect()
    }

    pub fn user(&self, id: ClusterUserId) -> Option<Arc<User>> {
        lock(&self.maps).by_cluster.get(&id).cloned()
    }
}
