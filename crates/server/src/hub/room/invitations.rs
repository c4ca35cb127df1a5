//! A room's pending invitations.

use std::collections::VecDeque;

use crate::hub::user::UserId;

/// Most invitations a room keeps pending; inviting one more user withdraws the oldest.
pub const MAX_PENDING_INVITATIONS: usize = 100;

/// The users an operator invited into a room who have not joined since, oldest first. An
/// invitation lets its user in once, past the invite-only flag, the key, the limit and bans;
/// it is used up by joining and withdrawn when its user disconnects. At most
/// [`MAX_PENDING_INVITATIONS`], so every check is a short scan and a room's list cannot grow
/// without bound.
#[derive(Debug, Clone, Default)]
pub(in crate::hub) struct Invitations(VecDeque<UserId>);

impl Invitations {
    /// Invites `user` (again: a repeated invitation becomes the newest), withdrawing the
    /// oldest invitation if the list is full.
    pub fn add(&mut self, user: UserId) {
        self.withdraw(user);
        if self.0.len() >= MAX_PENDING_INVITATIONS {
            self.0.pop_front();
        }
        self.0.push_back(user);
    }

    pub fn contains(&self, user: UserId) -> bool {
        self.0.contains(&user)
    }

    /// Removes `user`'s invitation, if any.
    pub fn withdraw(&mut self, user: UserId) {
        self.0.retain(|invited| *invited != user);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitations_keep_the_newest_and_refresh_repeats() {
        let mut invitations = Invitations::default();
        for user in 0..MAX_PENDING_INVITATIONS as UserId {
            invitations.add(user);
        }
        assert_eq!(invitations.len(), MAX_PENDING_INVITATIONS);
        // Inviting user 0 again makes it the newest, so user 1 is now the oldest.
        invitations.add(0);
        invitations.add(1000);
        assert!(invitations.contains(0));
        assert!(!invitations.contains(1));
        assert!(invitations.contains(1000));
        assert_eq!(invitations.len(), MAX_PENDING_INVITATIONS);
        invitations.withdraw(1000);
        assert!(!invitations.contains(1000));
        assert_eq!(invitations.len(), MAX_PENDING_INVITATIONS - 1);
    }
}
