//! Protects registered nicks: someone using a registered nick without being logged in to its
//! account is warned and, after a grace period, renamed to a `guest-N` nick.
//!
//! Each session owns one guard and asks it to [`check`](NickGuard::check) after anything that
//! changes its nick or login; the guard's deadline joins the session's other timers.

use std::sync::Arc;
use std::time::Duration;

use palaver_proto::names::fold;
use tokio::time::Instant;

use crate::accounts::Accounts;
use crate::hub::User;

pub struct NickGuard {
    /// How long a user may keep a registered nick without logging in; zero disables the
    /// protection.
    grace: Duration,
    /// When the user must be renamed, and the (folded) nick the warning was about.
    pending: Option<(Instant, String)>,
}

impl NickGuard {
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            pending: None,
        }
    }

    /// Looks at `user`'s current nick and login. Returns the grace period when the user has
    /// just been found using someone's registered nick (the session warns it); `None` when
    /// all is well or the warning was already given.
    pub async fn check(&mut self, accounts: &Accounts, user: &Arc<User>) -> Option<Duration> {
        if self.grace.is_zero() {
            return None;
        }
        let identity = user.identity();
        let nick = fold(&identity.nick);
        if identity.account.as_deref().map(fold).as_deref() == Some(nick.as_str()) {
            self.pending = None;
            return None;
        }
        if self
            .pending
            .as_ref()
            .is_some_and(|(_, warned)| *warned == nick)
        {
            return None;
        }
        // A store failure must not rename anyone: treat the nick as free.
        if accounts.is_registered(&nick).await.unwrap_or(false) {
            self.pending = Some((Instant::now() + self.grace, nick));
            Some(self.grace)
        } else {
            self.pending = None;
            None
        }
    }

    /// When the user must be renamed, if a warning is pending.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.as_ref().map(|(deadline, _)| *deadline)
    }

    /// Called at the deadline: whether `user` still holds the nick it was warned about without
    /// being logged in to it, and so must be renamed now. Clears the warning either way.
    pub fn expired(&mut self, user: &User) -> bool {
        let Some((deadline, nick)) = self.pending.take() else {
            return false;
        };
        if Instant::now() < deadline {
            self.pending = Some((deadline, nick));
            return false;
        }
        let identity = user.identity();
        fold(&identity.nick) == nick && identity.account.as_deref().map(fold) != Some(nick)
    }
}
