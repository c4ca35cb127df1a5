//! What a server operator may do beyond any user: disconnect a user (`kill`) and send a
//! message to everyone who asked for operators' messages (`wallops`). Nothing else: an
//! operator has no say in rooms it does not run and sees nothing a user does not (see
//! `docs/SECURITY.md`). Both are logged, with the operator entry the actor acts as.

use std::net::SocketAddr;
use std::sync::Arc;

use palaver_proto::event::{Event, Identity};
use palaver_proto::time::Timestamp;
use palaver_proto::utf8::truncate;

use super::delivery::{Audience, deliver};
use super::error::HubError;
use super::user::{Alert, Home, Interest, Kill, Protocol, User};
use super::{Hub, REASON_MAX_BYTES, lock};
use crate::outbox::Outbox;

/// The reason of a kill that gives none.
pub const DEFAULT_KILL_REASON: &str = "no reason given";

impl Hub {
    /// Has the user called `nick` disconnected by `killer`, a server operator, for `reason`
    /// (cut to fit a quit reason): the kill is recorded on the victim and its session alerted,
    /// which tells its client and ends the connection, so that everyone who shared a room
    /// with it sees it quit with [`Kill::quit_reason`]. Returns the victim.
    pub fn kill(
        &self,
        killer: &Arc<User>,
        nick: &str,
        reason: &str,
    ) -> Result<Arc<User>, HubError> {
        let operator = killer.operator().ok_or(HubError::NeedServerOperator)?;
        let victim = self
            .user_by_nick(nick)
            .ok_or_else(|| HubError::NoSuchNick(nick.to_owned()))?;
        let by = killer.identity();
        // The quit reason is cut again where it is set; cut here, the victim's own notice and
        // everyone's quit line say the same.
        let kill = Kill {
            by: by.clone(),
            reason: truncate(reason, REASON_MAX_BYTES).into(),
        };
        tracing::info!(
            %operator,
            by = %by.nick,
            victim = %victim.nick(),
            reason = %kill.reason,
            "operator killed a user"
        );
        self.carry_out_kill(&victim, kill);
        Ok(victim)
    }

    /// Records `kill` on `victim` and alerts its session (unless it was killed already): an
    /// operator's kill here, or on another node of the cluster, which sent it through this
    /// node's inbox (`cluster/applier.rs`).
    pub fn carry_out_kill(&self, victim: &User, kill: Kill) {
        if victim.note_kill(kill) {
            victim.alert(Alert::Killed);
        }
    }

    /// The server operator that the administration API acts as for the token `token`: a user
    /// the nick directory never holds (nobody can see, message or kill it), with the server's
    /// identity and the operator name `api:TOKEN`, so that what it does goes through the same
    /// rules, logs and notices as an `OPER`'s command. It is also an operator of every room
    /// without being in it (`room/rules.rs`): the API kicks, sets topics and modes and deletes
    /// messages with the rights a room's operator has.
    pub fn administrator(&self, token: &str) -> Arc<User> {
        let identity = Arc::unwrap_or_clone(self.service_identity(&self.settings.server_name));
        // Nothing is ever delivered to it: the smallest outbox.
        let outbox = Arc::new(Outbox::new(0));
        let peer = SocketAddr::from(([0, 0, 0, 0], 0));
        let user = self.new_user(peer, Protocol::Text, Home::Here(outbox), identity, None);
        user.set_operator(Some(format!("api:{token}").into()));
        user.set_administrator();
        user
    }

    /// Sends `text` (cut to fit a line) from `sender`, a server operator, to every user who
    /// wants operators' messages ([`Interest::Wallops`]). Returns the sender's own copy if it
    /// wants them too.
    pub fn wallops(&self, sender: &Arc<User>, text: &str) -> Result<Option<Event>, HubError> {
        let operator = sender.operator().ok_or(HubError::NeedServerOperator)?;
        let from = sender.identity();
        tracing::info!(%operator, by = %from.nick, "operator sent wallops");
        let event = Event::Wallops {
            time: Timestamp::now(),
            from,
            text: truncate(text, REASON_MAX_BYTES).into(),
        };
        let audience = Audience::interested_except(Interest::Wallops, sender);
        deliver(&self.users(), &event, audience);
        let (_, interests) = sender.delivery();
        Ok(interests.contains(Interest::Wallops).then_some(event))
    }

    /// Delivers the wallops of another node's operator `from` to this node's users who asked
    /// for wallops.
    pub fn apply_wallops(&self, from: Identity, text: &str, time: Timestamp) {
        let event = Event::Wallops {
            time,
            from: from.into(),
            text: truncate(text, REASON_MAX_BYTES).into(),
        };
        deliver(
            &self.users(),
            &event,
            Audience::interested(Interest::Wallops),
        );
    }

    /// How many users are server operators.
    pub fn operator_count(&self) -> usize {
        self.user_counts().operators
    }

    /// How many users are connected, invisible and server operators (IRC `LUSERS`, which
    /// every registration sends): one pass over the users, copying none, so that a crowd
    /// registering at once does not pay for a snapshot of everyone each.
    pub fn user_counts(&self) -> UserCounts {
        let nicks = lock(&self.nicks);
        let mut counts = UserCounts {
            total: nicks.len(),
            ..UserCounts::default()
        };
        for user in nicks.values() {
            counts.invisible += usize::from(user.is_invisible());
            counts.operators += usize::from(user.is_operator());
        }
        counts
    }
}

/// The user counts of `LUSERS`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UserCounts {
    pub total: usize,
    pub invisible: usize,
    pub operators: usize,
}
