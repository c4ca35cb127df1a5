//! Protects registered nicks: someone using a registered nick without being logged in to its
//! account is warned and, when its grace period is over, renamed to a `guest-N` nick.
//!
//! The grace period belongs to the connection, not to one nick change: it starts the first
//! time the connection uses a registered nick it is not logged in to, and ends at a fixed
//! time, however often the connection changes nick in between (`NICK x`, `NICK owner`, … in a
//! loop keeps the nick no longer than going straight there). Once it has ended, the
//! connection may not take a registered nick it is not logged in to (the session refuses the
//! change, see [`NickGuard::refuses`]), and if it finds itself on one all the same (it logged
//! out, or was logged out, while using its account's nick) it is renamed at once.
//!
//! Each session owns one guard, asks it before a nick change whether to refuse it, and
//! [`check`](NickGuard::check)s after anything that changed its nick or login; the guard's
//! deadline joins the session's other timers.

use std::sync::Arc;
use std::time::Duration;

use palaver_proto::names::fold;
use tokio::time::Instant;

use crate::accounts::Accounts;
use crate::hub::User;

/// The connection's one grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grace {
    /// Not needed yet.
    Unused,
    /// Started; ends at this instant.
    Running(Instant),
    /// Over: no registered nick without logging in any more.
    Spent,
}

/// What the session must do after a [`NickGuard::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing.
    Fine,
    /// Warn the user that its nick is registered and it has this long to log in.
    Warn(Duration),
    /// Rename the user to a guest nick now: its grace period is over.
    RenameNow,
}

pub struct NickGuard {
    /// How long a connection may use registered nicks without logging in; zero disables the
    /// protection.
    grace: Duration,
    grace_period: Grace,
    /// The (folded) registered nick the user held without being logged in to it when last
    /// checked. The session checks after every change of nick or login, so this stays true.
    squatting: Option<String>,
}

impl NickGuard {
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            grace_period: Grace::Unused,
            squatting: None,
        }
    }

    /// Looks at `user`'s current nick and login, after anything that changed either; says
    /// whether to warn it (the first time it is found on a given registered nick while its
    /// grace period runs) or to rename it at once (its grace period is over).
    pub async fn check(&mut self, accounts: &Accounts, user: &Arc<User>) -> Verdict {
        if self.grace.is_zero() {
            return Verdict::Fine;
        }
        let identity = user.identity();
        let nick = fold(&identity.nick);
        let logged_in_to_it = identity.account.as_deref().map(fold).as_deref() == Some(&nick);
        // A store failure must not rename anyone: treat the nick as free.
        if logged_in_to_it || !accounts.is_registered(&nick).await.unwrap_or(false) {
            self.squatting = None;
            return Verdict::Fine;
        }
        let already_warned = self.squatting.as_deref() == Some(nick.as_str());
        self.squatting = Some(nick);
        let now = Instant::now();
        match self.grace_period {
            Grace::Unused => {
                self.grace_period = Grace::Running(now + self.grace);
                Verdict::Warn(self.grace)
            }
            Grace::Running(end) if now < end => {
                if already_warned {
                    Verdict::Fine
                } else {
                    Verdict::Warn(end - now)
                }
            }
            Grace::Running(_) | Grace::Spent => {
                self.grace_period = Grace::Spent;
                Verdict::RenameNow
            }
        }
    }

    /// Before `user` changes its nick to `nick`: whether to refuse, because the connection's
    /// grace period is over and `nick` is registered to an account it is not logged in to.
    pub async fn refuses(&self, accounts: &Accounts, user: &User, nick: &str) -> bool {
        if self.grace.is_zero() || self.grace_period != Grace::Spent {
            return false;
        }
        let folded = fold(nick);
        let account = user.identity().account.as_deref().map(fold);
        account.as_deref() != Some(folded.as_str())
            && accounts.is_registered(&folded).await.unwrap_or(false)
    }

    /// Whether the connection's grace period is over (nick changes then need
    /// [`refuses`](Self::refuses) first).
    pub fn is_spent(&self) -> bool {
        !self.grace.is_zero() && self.grace_period == Grace::Spent
    }

    /// Ends the grace period now: the connection lost its right to a nick it held by its
    /// account (a password change in another session logged it out).
    pub fn spend(&mut self) {
        self.grace_period = Grace::Spent;
    }

    /// When the grace period ends, while it runs.
    pub fn deadline(&self) -> Option<Instant> {
        match self.grace_period {
            Grace::Running(end) => Some(end),
            Grace::Unused | Grace::Spent => None,
        }
    }

    /// Called at the deadline: ends the grace period if it is over, and says whether `user`
    /// still holds the registered nick it was last found on without being logged in to it,
    /// and so must be renamed now.
    pub fn expired(&mut self, user: &User) -> bool {
        let Grace::Running(end) = self.grace_period else {
            return false;
        };
        if Instant::now() < end {
            return false;
        }
        self.grace_period = Grace::Spent;
        let Some(squatting) = &self.squatting else {
            return false;
        };
        let identity = user.identity();
        fold(&identity.nick) == *squatting
            && identity.account.as_deref().map(fold).as_deref() != Some(squatting.as_str())
    }
}
