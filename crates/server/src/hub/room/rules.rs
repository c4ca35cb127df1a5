//! A room's rules: who may join it, who may speak in it, who may set its topic, invite into
//! it or act as its operator. Each is a pure function of the room's state (read under its
//! lock) and of who asks; the hub applies them and changes the state.

use palaver_proto::event::Identity;
use palaver_proto::names::fold;

use super::RoomState;
use crate::hub::error::{HubError, JoinRefusal, SendRefusal};
use crate::hub::user::{User, UserId};

/// What joining a room makes of the joiner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::hub) struct Admission {
    /// Whether the joiner becomes an operator: whoever creates an unregistered room, and the
    /// founder joining its registered room.
    pub op: bool,
    /// Whether the members already there must be told that the joiner is an operator: the
    /// founder joining its occupied registered room. (A room's creator is alone in it.)
    pub announce_op: bool,
}

impl RoomState {
    /// Whether the user `id`, who is `identity`, may join with `key`, and as what.
    ///
    /// Whoever creates an unregistered room may enter, as its operator. A registered room
    /// keeps its key, limit, bans and invite-only flag while empty and across restarts (saved
    /// with it), and only its founder walks past them, as its operator: a registered room
    /// opens to its founder, not to whoever happens to come first. An operator's invitation
    /// lets one past all four, once, as on InspIRCd and Ergo: the operator could as well lift
    /// the mode or the ban. Anyone else is refused if banned (and not excepted), else if the
    /// room is invite-only (and no invite exception matches), else if the key is wrong, else if
    /// the room is full.
    pub fn admit(
        &self,
        id: UserId,
        identity: &Identity,
        key: Option<&str>,
    ) -> Result<Admission, JoinRefusal> {
        let founding = self.members.is_empty();
        let is_founder = self.founder.as_deref().is_some_and(|founder| {
            identity
                .account
                .as_deref()
                .is_some_and(|account| fold(account) == fold(founder))
        });
        let registered = self.founder.is_some();
        let exempt = self.invitations.contains(id) || is_founder || (founding && !registered);
        if !exempt && let Some(refusal) = self.refusal(identity, key) {
            return Err(refusal);
        }
        let op = if registered { is_founder } else { founding };
        Ok(Admission {
            op,
            announce_op: op && !founding,
        })
    }

    /// Why the room refuses `identity` with `key`, if it does, to someone not exempt.
    fn refusal(&self, identity: &Identity, key: Option<&str>) -> Option<JoinRefusal> {
        let modes = &self.modes;
        if self.lists.bans(identity) {
            Some(JoinRefusal::Banned)
        } else if modes.invite_only && !self.lists.lets_in_uninvited(identity) {
            Some(JoinRefusal::InviteOnly)
        } else if modes
            .key
            .as_deref()
            .is_some_and(|wanted| key != Some(wanted))
        {
            Some(JoinRefusal::BadKey)
        } else if modes.limit.is_some_and(|limit| self.members.len() >= limit) {
            Some(JoinRefusal::Full)
        } else {
            None
        }
    }

    /// Whether `user`, who is `identity`, may send to the room. Non-members may, unless only
    /// members may; in a moderated room only operators and voiced members may; a ban (unless
    /// excepted) silences anyone but operators and voiced members.
    pub fn may_send(&self, user: &User, identity: &Identity) -> Result<(), SendRefusal> {
        let member = self.member(user);
        let privileged = member.is_some_and(|member| member.op || member.voice);
        if member.is_none() && self.modes.no_external_messages {
            Err(SendRefusal::NotMember)
        } else if !privileged && self.modes.moderated {
            Err(SendRefusal::Moderated)
        } else if !privileged && self.lists.bans(identity) {
            Err(SendRefusal::Banned)
        } else {
            Ok(())
        }
    }

    /// Checks that `user` is a member of the room called `room`, or the administration API's
    /// actor, which acts in every room without joining it.
    pub fn require_member(&self, user: &User, room: &str) -> Result<(), HubError> {
        if self.is_member(user) || user.is_administrator() {
            Ok(())
        } else {
            Err(HubError::NotInRoom(room.to_owned()))
        }
    }

    /// Checks that `user` is an operator of the room called `room` (needed to kick, change
    /// modes and register the room), or the administration API's actor: the server's owner
    /// has every room operator's rights.
    pub fn require_operator(&self, user: &User, room: &str) -> Result<(), HubError> {
        self.require_member(user, room)?;
        if self.is_op(user) || user.is_administrator() {
            Ok(())
        } else {
            Err(HubError::NeedOperator(room.to_owned()))
        }
    }

    /// Checks that `user` may delete a message of the room called `room`: its own (`own`) as
    /// a member, anyone's as an operator (IRCv3 message-redaction leaves who may to the
    /// server; these are the rights Ergo gives by default).
    pub fn may_delete(&self, user: &User, room: &str, own: bool) -> Result<(), HubError> {
        if own {
            self.require_member(user, room)
        } else {
            self.require_operator(user, room)
        }
    }

    /// Checks that `user` may set the topic of the room called `room`: any member, unless the
    /// topic is protected, then only operators.
    pub fn may_set_topic(&self, user: &User, room: &str) -> Result<(), HubError> {
        if self.modes.topic_protected {
            self.require_operator(user, room)
        } else {
            self.require_member(user, room)
        }
    }

    /// Checks that `user` may invite someone into the room called `room`: any member, unless
    /// the room is invite-only, then only operators. Returns whether the invitation is kept:
    /// only an operator's lets its invitee in (RFC 2812 §3.2.7); anyone else's only tells the
    /// invitee about the room.
    pub fn may_invite(&self, user: &User, room: &str) -> Result<bool, HubError> {
        self.require_member(user, room)?;
        let by_operator = self.is_op(user);
        if self.modes.invite_only && !by_operator {
            return Err(HubError::NeedOperator(room.to_owned()));
        }
        Ok(by_operator)
    }
}
