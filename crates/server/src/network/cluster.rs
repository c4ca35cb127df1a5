//! The network of a cluster node (docs/CLUSTER.md, milestone 4): a user's nick is claimed in
//! the cluster's directory of users (`cluster/users.rs`) before this node's hub admits it, so
//! that a nick is held once across the cluster, and every arrival, rename and departure of this
//! node's users reaches the other nodes through the state feed the directory's scripts write.
//! The other nodes' users come into this hub from that feed (`cluster/applier.rs`).
//!
//! Each change asks the hub first (a nick this node sees taken is refused without a round
//! trip), then the directory, then makes it in the hub; should the hub refuse after the
//! directory agreed (its replica of the others' users was behind), the directory's change is
//! taken back. A change of what others see of a user (away, account, real name…) is made in
//! the hub, then told to the cluster. What is for another node's user — a private message, a
//! kill, a logout, a read marker — goes into that node's inbox, which it follows
//! (`cluster/applier.rs`). Rooms and their messages are still this node's hub's alone
//! (milestone 5).

use std::net::SocketAddr;
use std::sync::Arc;

use palaver_proto::event::{Event, Identity};
use palaver_proto::names::fold;
use tracing::warn;

use crate::cluster::user_ids::UserIds;
use crate::cluster::users::{ClaimError, ClusterUserId, Holder, UserDirectory, UserFacts};
use crate::cluster::wire::{KillOrder, LogOut, Presence, PrivateMessage, ReadMarker, Sender};
use crate::hub::{
    Alert, EndedRoom, Home, Hub, HubError, Protocol, Reclaim, Reclaimed, Said, User,
    guest_identity, is_reserved,
};
use crate::outbox::Outbox;

/// The quit reason the other nodes' users see for this node's users when it shuts down.
pub const NODE_SHUT_DOWN: &str = "Its server shut down";

/// A cluster node's users, claimed in the directory and kept in the hub.
pub struct ClusterNetwork {
    hub: Arc<Hub>,
    directory: UserDirectory,
    /// The cluster ids of this node's users, which it keeps there, and of the other nodes'
    /// users, which the state feed's applier keeps.
    ids: Arc<UserIds>,
}

impl ClusterNetwork {
    pub fn new(hub: Arc<Hub>, directory: UserDirectory, ids: Arc<UserIds>) -> Self {
        Self {
            hub,
            directory,
            ids,
        }
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// A text user arrives under the cluster's next free guest nick.
    pub async fn connect_guest(
        &self,
        peer: SocketAddr,
        host: &str,
        protocol: Protocol,
        outbox: Arc<Outbox>,
    ) -> Result<Arc<User>, HubError> {
        let identity = guest_identity("", host);
        let facts = facts_of(peer, protocol, &identity);
        let (id, nick) = self
            .directory
            .connect_guest(&facts)
            .await
            .map_err(|error| refusal(error, "guest"))?;
        let admitted = self
            .hub
            .register(peer, protocol, outbox, guest_identity(&nick, host));
        self.keep_or_take_back(id, &nick, admitted).await
    }

    /// A user completes registration under the nick in `identity`.
    pub async fn register(
        &self,
        peer: SocketAddr,
        protocol: Protocol,
        outbox: Arc<Outbox>,
        identity: Identity,
    ) -> Result<Arc<User>, HubError> {
        if !self.hub.nick_available(&identity.nick, None) {
            return Err(HubError::NickTaken(identity.nick.into()));
        }
        let nick = identity.nick.clone();
        let facts = facts_of(peer, protocol, &identity);
        let id = self
            .directory
            .connect(&nick, &facts)
            .await
            .map_err(|error| refusal(error, &nick))?;
        let admitted = self.hub.register(peer, protocol, outbox, identity);
        self.keep_or_take_back(id, &nick, admitted).await
    }

    /// Keeps the cluster id of a user the hub admitted, or takes back the directory's claim
    /// for one it refused.
    async fn keep_or_take_back(
        &self,
        id: ClusterUserId,
        nick: &str,
        admitted: Result<Arc<User>, HubError>,
    ) -> Result<Arc<User>, HubError> {
        match admitted {
            Ok(user) => {
                self.ids.insert(id, user.clone());
                Ok(user)
            }
            Err(error) => {
                if let Err(undo) = self.directory.disconnect(id, nick, None).await {
                    warn!(%nick, error = %undo, "could not take back a claim the hub refused");
                }
                Err(error)
            }
        }
    }

    pub async fn rename(&self, user: &Arc<User>, nick: &str) -> Result<Event, HubError> {
        if !self.hub.nick_available(nick, Some(user)) {
            return Err(HubError::NickTaken(nick.to_owned()));
        }
        let id = self.id_of(user)?;
        let old = user.nick();
        self.directory
            .rename(id, &old, nick)
            .await
            .map_err(|error| refusal(error, nick))?;
        self.rename_in_hub(user, id, &old, nick).await
    }

    /// Renames `user` to the cluster's next free guest nick (nick protection).
    pub async fn rename_to_guest(&self, user: &Arc<User>) -> Result<Event, HubError> {
        let id = self.id_of(user)?;
        let old = user.nick();
        let guest = self
            .directory
            .rename_to_guest(id, &old)
            .await
            .map_err(|error| refusal(error, "guest"))?;
        self.rename_in_hub(user, id, &old, &guest).await
    }

    /// Renames `user` in the hub as the directory did already, or renames it back there.
    async fn rename_in_hub(
        &self,
        user: &Arc<User>,
        id: ClusterUserId,
        old: &str,
        nick: &str,
    ) -> Result<Event, HubError> {
        let renamed = self.hub.rename(user, nick);
        if renamed.is_err()
            && let Err(undo) = self.directory.rename(id, nick, old).await
        {
            warn!(%nick, error = %undo, "could not take back a rename the hub refused");
        }
        renamed
    }

    /// The owner of `account` reclaims its nick from whoever holds it, here or on another
    /// node, which moves its user as the state feed tells it (`scripts/user_reclaim.lua`).
    pub async fn reclaim_nick(
        &self,
        owner: &Arc<User>,
        account: &str,
        how: Reclaim,
    ) -> Result<Reclaimed, HubError> {
        let holder = self.hub.user_by_nick(account);
        let nothing_to_claim = match &holder {
            _ if is_reserved(account) => true,
            Some(holder) if holder.id == owner.id => true,
            Some(holder) => how == Reclaim::FromSquatter && holds_account(holder, account),
            None => how != Reclaim::Take,
        };
        if nothing_to_claim {
            // The hub says why, changing nothing.
            return self.hub.reclaim_nick(owner, account, how);
        }
        let moved = match &holder {
            Some(holder) => Some(Holder {
                id: self.id_of(holder)?,
                // Another node's user is moved by its node, as the state feed tells it.
                elsewhere: holder.outbox().is_none(),
                ghosted: how == Reclaim::Ghost && holds_account(holder, account),
            }),
            None => None,
        };
        let owner_id = self.id_of(owner)?;
        let guest = self
            .directory
            .reclaim(
                account,
                moved,
                owner_id,
                &owner.nick(),
                how == Reclaim::Take,
            )
            .await
            .map_err(|error| refusal(error, account))?;
        match guest {
            Some(guest) => self.hub.reclaim_nick_to(owner, account, how, &guest),
            None => self.hub.reclaim_nick(owner, account, how),
        }
    }

    /// Sends a private message to the user called `to`: through the hub to a user of this
    /// node, into its node's inbox to another node's user (answered once Redis has it).
    pub async fn message_user(
        &self,
        user: &Arc<User>,
        to: &str,
        said: &Said<'_>,
    ) -> Result<(Event, Arc<User>), HubError> {
        let (event, recipient) = self.hub.message_user(user, to, said)?;
        let Home::Node(node) = &recipient.home else {
            return Ok((event, recipient));
        };
        let gone = || HubError::NoSuchNick(to.to_owned());
        let id = self.ids.id_of(&recipient).ok_or_else(gone)?;
        let message = PrivateMessage::of(&event).expect("message_user makes a private message");
        match self
            .directory
            .send_private(id, node, &recipient.nick(), &message)
            .await
        {
            Ok(true) => Ok((event, recipient)),
            // It left as the message was sent; its node's departure is on its way.
            Ok(false) => Err(gone()),
            Err(error) => {
                warn!(%error, "could not send a private message to another node");
                Err(HubError::NetworkUnreachable)
            }
        }
    }

    /// Tells the other nodes what others now see of this node's `user` (its away message,
    /// real name, account, bot and invisible flags, operator status), after a change the hub
    /// made already; a failure is logged (the user's next change, or its departure, corrects
    /// what the others see).
    pub async fn share_presence(&self, user: &User) {
        let Some(id) = self.ids.id_of(user) else {
            return;
        };
        let identity = user.identity();
        let presence = Presence {
            away: user.away().map(String::from),
            realname: identity.realname.to_string(),
            account: identity.account.as_deref().map(str::to_owned),
            bot: identity.bot,
            invisible: user.is_invisible(),
            operator: user.operator().as_deref().map(str::to_owned),
        };
        if let Err(error) = self.directory.update(id, &identity.nick, &presence).await {
            warn!(nick = %identity.nick, %error, "could not tell the cluster of a user's change");
        }
    }

    /// Logs out every other session of `account` (`why`: a password change, a lock): this
    /// node's through the hub, the other nodes' through their inboxes. How many there were.
    pub async fn log_out_other_sessions(&self, account: &str, actor: &User, why: Alert) -> usize {
        let elsewhere: Vec<_> = self
            .hub
            .other_sessions(account, actor)
            .into_iter()
            .filter_map(|user| match &user.home {
                Home::Node(node) => Some((user.clone(), node.clone())),
                Home::Here(_) => None,
            })
            .collect();
        let count = self.hub.log_out_other_sessions(account, actor, why);
        let log_out = LogOut {
            locked: why == Alert::AccountLocked,
        };
        for (user, node) in elsewhere {
            let Some(id) = self.ids.id_of(&user) else {
                continue;
            };
            let sent = self
                .directory
                .send_log_out(id, &node, &user.nick(), &log_out)
                .await;
            if let Err(error) = sent {
                warn!(nick = %user.nick(), %error, "could not log out a session on another node");
            }
        }
        count
    }

    /// Tells the account's other sessions of a read marker `actor` moved: this node's through
    /// the hub, the other nodes' through their inboxes (a failure is logged: the marker is
    /// stored, and a session asks for it again when it next looks).
    pub async fn share_read_marker(&self, account: &str, actor: &User, event: &Event) {
        self.hub.share_read_marker(account, actor, event);
        let Some(marker) = ReadMarker::of(event) else {
            return;
        };
        for user in self.hub.other_sessions(account, actor) {
            let (Home::Node(node), Some(id)) = (&user.home, self.ids.id_of(&user)) else {
                continue;
            };
            let sent = self
                .directory
                .send_read_marker(id, node, &user.nick(), &marker)
                .await;
            if let Err(error) = sent {
                warn!(nick = %user.nick(), %error, "could not tell another node of a read marker");
            }
        }
    }

    /// An operator kills the user called `nick`: here through the hub, on another node
    /// through its inbox (answered once Redis has it; its node disconnects it, and everyone
    /// sees it quit when that node says it left).
    pub async fn kill(
        &self,
        killer: &Arc<User>,
        nick: &str,
        reason: &str,
    ) -> Result<Arc<User>, HubError> {
        let victim = self.hub.kill(killer, nick, reason)?;
        let Home::Node(node) = &victim.home else {
            return Ok(victim);
        };
        let gone = || HubError::NoSuchNick(nick.to_owned());
        let id = self.ids.id_of(&victim).ok_or_else(gone)?;
        // Taken from the hub's copy of a user no session here reads: its node carries it out.
        let kill = victim.take_kill().ok_or_else(gone)?;
        let order = KillOrder {
            by: Sender::of(&kill.by),
            reason: kill.reason.to_string(),
        };
        match self
            .directory
            .send_kill(id, node, &victim.nick(), &order)
            .await
        {
            Ok(true) => Ok(victim),
            Ok(false) => Err(gone()),
            Err(error) => {
                warn!(%error, "could not send a kill to another node");
                Err(HubError::NetworkUnreachable)
            }
        }
    }

    /// The user leaves the hub and the directory; a failure to tell the directory is logged,
    /// and the user is released with the rest of this node's when it next starts (or, should
    /// it die, by the node that sees its lease lapse). Without a reason (this node is shutting
    /// down) nobody here is told, but the other nodes' users are: the network goes on.
    pub async fn disconnect(&self, user: &Arc<User>, reason: Option<&str>) -> Vec<EndedRoom> {
        let ended = self.hub.disconnect(user, reason);
        if let Some(id) = self.ids.remove_user(user) {
            let nick = user.nick();
            let told = reason.unwrap_or(NODE_SHUT_DOWN);
            if let Err(error) = self.directory.disconnect(id, &nick, Some(told)).await {
                warn!(%nick, %error, "could not tell the cluster a user left");
            }
        }
        ended
    }

    /// The cluster id of this node's `user`.
    fn id_of(&self, user: &User) -> Result<ClusterUserId, HubError> {
        self.ids
            .id_of(user)
            .ok_or_else(|| HubError::NoSuchNick(user.nick().into()))
    }
}

/// What the directory keeps of a user arriving from `peer` as `identity`.
fn facts_of(peer: SocketAddr, protocol: Protocol, identity: &Identity) -> UserFacts {
    UserFacts {
        address: peer.ip(),
        protocol,
        user: identity.user.to_string(),
        host: identity.host.to_string(),
        realname: identity.realname.to_string(),
    }
}

/// Whether `user` is logged in to the account named `account`.
fn holds_account(user: &User, account: &str) -> bool {
    user.identity()
        .account
        .as_deref()
        .is_some_and(|held| fold(held) == fold(account))
}

/// The hub's word for a claim of `nick` the directory refused.
fn refusal(error: ClaimError, nick: &str) -> HubError {
    match error {
        ClaimError::Taken => HubError::NickTaken(nick.to_owned()),
        // The directory and this node disagree on a nick of this node's user: the node was
        // fenced and its users released meanwhile, or Redis did not answer.
        ClaimError::Stale | ClaimError::Redis(_) => {
            if let ClaimError::Redis(error) = &error {
                warn!(%error, "the cluster's directory of users did not answer");
            }
            HubError::NetworkUnreachable
        }
    }
}
