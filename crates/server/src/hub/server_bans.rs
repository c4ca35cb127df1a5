//! Server bans: an operator bars a user mask (`nick!user@host`), an account or an address
//! range from the whole server, for good or until a time. A ban applies at once to everyone
//! connected who matches it (they are disconnected, as by a kill), and then to every new
//! connection: an address ban before anything is said (the accept loop), a mask ban when the
//! client registers (IRC) or connects (text), an account ban whenever someone logs in to the
//! account. The store keeps them across restarts (`store/server_bans.rs`); the hub keeps the
//! live list.
//!
//! Concurrency contract: the list is a leaf lock, held only to read or change it; users are
//! disconnected after it is released.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use ipnet::IpNet;
use palaver_proto::event::Identity;
use palaver_proto::names::fold;
use palaver_proto::time::Timestamp;
use palaver_proto::utf8::truncate;

use super::error::HubError;
use super::user::{Alert, Kill, User};
use super::{Hub, REASON_MAX_BYTES};
use crate::store::ServerBanRecord;

/// The prefix of an account ban's target, as in the `$a` extban of room bans.
const ACCOUNT_PREFIX: &str = "$a:";

/// Who a server ban bars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BanTarget {
    /// Connections from these addresses (a single address is a /32 or /128).
    Address(IpNet),
    /// Users whose `nick!user@host` matches this glob (stored folded).
    Mask(String),
    /// Users logged in to this account (stored folded).
    Account(String),
}

impl BanTarget {
    /// A ban's short kind name, as the store keeps it.
    pub fn kind(&self) -> &'static str {
        match self {
            BanTarget::Address(_) => "address",
            BanTarget::Mask(_) => "mask",
            BanTarget::Account(_) => "account",
        }
    }
}

impl BanTarget {
    /// Whether this target covers a user shown as `identity`, connected from `address`.
    fn bars(&self, identity: &Identity, address: IpAddr) -> bool {
        match self {
            BanTarget::Address(range) => range.contains(&address.to_canonical()),
            BanTarget::Mask(mask) => {
                let full = format!("{}!{}@{}", identity.nick, identity.user, identity.host);
                palaver_proto::mask::matches(mask, &fold(&full))
            }
            BanTarget::Account(account) => identity
                .account
                .as_deref()
                .is_some_and(|logged_in| fold(logged_in) == *account),
        }
    }
}

impl FromStr for BanTarget {
    type Err = String;

    /// An address or range (`192.0.2.7`, `2001:db8::/32`), `$a:account`, or a mask:
    /// `nick!user@host`, or `user@host` for any nick.
    fn from_str(text: &str) -> Result<Self, String> {
        if let Ok(range) = IpNet::from_str(text) {
            return Ok(BanTarget::Address(range.trunc()));
        }
        if let Ok(address) = IpAddr::from_str(text) {
            return Ok(BanTarget::Address(IpNet::from(address.to_canonical())));
        }
        if let Some(account) = text.strip_prefix(ACCOUNT_PREFIX) {
            if account.is_empty() || account.contains(char::is_whitespace) {
                return Err(format!("{text} names no account"));
            }
            return Ok(BanTarget::Account(fold(account)));
        }
        if text.contains(char::is_whitespace) || !text.contains('@') {
            return Err(format!(
                "{text} is not an address, an address range, $a:account, user@host or \
                 nick!user@host"
            ));
        }
        let mask = if text.contains('!') {
            text.to_owned()
        } else {
            format!("*!{text}")
        };
        if mask == "*!*@*" {
            return Err("a ban on *!*@* would bar everyone".into());
        }
        Ok(BanTarget::Mask(fold(&mask)))
    }
}

impl fmt::Display for BanTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BanTarget::Address(range) if range.prefix_len() == range.max_prefix_len() => {
                write!(f, "{}", range.addr())
            }
            BanTarget::Address(range) => write!(f, "{range}"),
            BanTarget::Mask(mask) => f.write_str(mask),
            BanTarget::Account(account) => write!(f, "{ACCOUNT_PREFIX}{account}"),
        }
    }
}

/// One server ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBan {
    pub target: BanTarget,
    pub reason: String,
    /// The operator who set it: its `[[oper]]` name and nick then, as `name (nick)`.
    pub set_by: String,
    pub set_at: Timestamp,
    /// `None`: until removed.
    pub expires: Option<Timestamp>,
}

impl ServerBan {
    /// The bans the store's `records` keep; a record whose target no longer reads as one (a
    /// newer palaver's kind of target) is skipped with a warning.
    pub fn readable(records: Vec<ServerBanRecord>) -> Vec<Self> {
        records
            .into_iter()
            .filter_map(|record| match record.target.parse() {
                Ok(target) => Some(Self {
                    target,
                    reason: record.reason,
                    set_by: record.set_by,
                    set_at: record.set_at,
                    expires: record.expires,
                }),
                Err(error) => {
                    tracing::warn!(target = %record.target, %error, "skipping a stored server ban");
                    None
                }
            })
            .collect()
    }

    fn is_active(&self, now: Timestamp) -> bool {
        self.expires.is_none_or(|expires| now < expires)
    }

    /// Whether the ban bars `user`, as it is now.
    fn bars(&self, user: &User) -> bool {
        self.target.bars(&user.identity(), user.peer.ip())
    }

    /// What a barred user is told, and its quit reason: `Banned (reason)`.
    pub fn notice(&self) -> String {
        format!("Banned ({})", self.reason)
    }
}

/// The live list of server bans.
#[derive(Debug, Default)]
pub(super) struct ServerBans(RwLock<Vec<ServerBan>>);

impl ServerBans {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<ServerBan>> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<ServerBan>> {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Hub {
    /// Takes the bans the store kept (at start-up).
    pub fn load_server_bans(&self, bans: Vec<ServerBan>) {
        *self.server_bans.write() = bans;
    }

    /// Every ban still in force, oldest first.
    pub fn server_bans(&self) -> Vec<ServerBan> {
        let now = Timestamp::now();
        self.server_bans
            .read()
            .iter()
            .filter(|ban| ban.is_active(now))
            .cloned()
            .collect()
    }

    /// The ban in force on connections from `address`, if any.
    pub fn address_ban(&self, address: IpAddr) -> Option<ServerBan> {
        self.find_ban(|target| {
            matches!(target, BanTarget::Address(range) if range.contains(&address.to_canonical()))
        })
    }

    /// The ban in force on `user` as it is now (its mask, account and address), if any.
    pub fn ban_on(&self, user: &User) -> Option<ServerBan> {
        self.ban_on_newcomer(&user.identity(), user.peer.ip())
    }

    /// The ban in force on a client about to register as `identity` from `address`, if any.
    pub fn ban_on_newcomer(&self, identity: &Identity, address: IpAddr) -> Option<ServerBan> {
        self.find_ban(|target| target.bars(identity, address))
    }

    /// The first ban in force whose target `bars`.
    fn find_ban(&self, bars: impl Fn(&BanTarget) -> bool) -> Option<ServerBan> {
        let now = Timestamp::now();
        self.server_bans
            .read()
            .iter()
            .find(|ban| ban.is_active(now) && bars(&ban.target))
            .cloned()
    }

    /// Disconnects `user` for `ban`, as a kill by the server: its session tells it why.
    pub fn enforce_ban(&self, user: &User, ban: &ServerBan) {
        let kill = Kill {
            by: self.service_identity(&self.settings.server_name),
            reason: truncate(&ban.notice(), REASON_MAX_BYTES).into(),
        };
        if user.note_kill(kill) {
            user.alert(Alert::Killed);
        }
    }

    /// Adds `ban`, set by `operator` (a server operator), replacing any ban on the same
    /// target, and disconnects everyone connected whom it bars. Returns how many those were.
    pub fn add_server_ban(&self, operator: &Arc<User>, ban: ServerBan) -> Result<usize, HubError> {
        let name = operator.operator().ok_or(HubError::NeedServerOperator)?;
        let ban = ServerBan {
            reason: truncate(&ban.reason, REASON_MAX_BYTES).into(),
            ..ban
        };
        let barred = self.put_in_force(&ban);
        tracing::info!(
            operator = %name,
            by = %operator.nick(),
            target = %ban.target,
            reason = %ban.reason,
            expires = ?ban.expires,
            disconnected = barred.len(),
            "operator banned from the server"
        );
        for user in &barred {
            self.enforce_ban(user, &ban);
        }
        Ok(barred.len())
    }

    /// Takes a ban an operator put in force on another node of the cluster (which checked
    /// it) and disconnects this node's users it bars.
    pub fn apply_server_ban(&self, ban: ServerBan) {
        let ban = ServerBan {
            reason: truncate(&ban.reason, REASON_MAX_BYTES).into(),
            ..ban
        };
        for user in &self.put_in_force(&ban) {
            self.enforce_ban(user, &ban);
        }
    }

    /// Adds `ban` to the live list, replacing any on its target; the users connected here
    /// whom it bars (another node's users are its own to disconnect).
    fn put_in_force(&self, ban: &ServerBan) -> Vec<Arc<User>> {
        {
            let mut bans = self.server_bans.write();
            bans.retain(|kept| kept.target != ban.target);
            bans.push(ban.clone());
        }
        self.users()
            .into_iter()
            .filter(|user| user.outbox().is_some() && ban.bars(user))
            .collect()
    }

    /// Removes the ban on `target`, by `operator` (a server operator); whether there was one.
    pub fn remove_server_ban(
        &self,
        operator: &Arc<User>,
        target: &BanTarget,
    ) -> Result<bool, HubError> {
        let name = operator.operator().ok_or(HubError::NeedServerOperator)?;
        let removed = self.apply_ban_lift(target);
        tracing::info!(
            operator = %name,
            by = %operator.nick(),
            %target,
            removed,
            "operator lifted a server ban"
        );
        Ok(removed)
    }

    /// Removes the ban on `target` from the live list (an operator lifted it, here or on
    /// another node of the cluster); whether there was one.
    pub fn apply_ban_lift(&self, target: &BanTarget) -> bool {
        let mut bans = self.server_bans.write();
        let before = bans.len();
        bans.retain(|kept| kept.target != *target);
        bans.len() < before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> BanTarget {
        text.parse().unwrap()
    }

    #[test]
    fn targets_read_and_print_in_their_three_forms() {
        assert_eq!(target("192.0.2.7").to_string(), "192.0.2.7");
        assert_eq!(target("192.0.2.7/24").to_string(), "192.0.2.0/24");
        assert_eq!(target("2001:DB8::/32").to_string(), "2001:db8::/32");
        assert_eq!(target("::ffff:192.0.2.1").to_string(), "192.0.2.1");
        assert_eq!(target("$a:Alice").to_string(), "$a:alice");
        assert_eq!(target("Bad@Host.example").to_string(), "*!bad@host.example");
        assert_eq!(target("spam*!*@*").to_string(), "spam*!*@*");
        for wrong in ["alice", "$a:", "*!*@*", "*@*", "a b@c"] {
            assert!(wrong.parse::<BanTarget>().is_err(), "{wrong}");
        }
    }

    #[test]
    fn masks_and_accounts_match_identities_ignoring_case() {
        let identity = Identity {
            nick: "Spammer".into(),
            user: "~spam".into(),
            host: "192.0.2.9".into(),
            realname: "".into(),
            account: Some("SpamAccount".into()),
            bot: false,
        };
        let elsewhere: IpAddr = "198.51.100.1".parse().unwrap();
        let bars = |text: &str| target(text).bars(&identity, elsewhere);
        assert!(bars("*!*@192.0.2.9"));
        assert!(bars("SPAM*!*@*"));
        assert!(bars("$a:spamaccount"));
        assert!(!bars("*!*@192.0.2.10"));
        assert!(!bars("$a:other"));
        // An address ban goes by the connection's address, not the host shown.
        assert!(!bars("192.0.2.9"));
        assert!(target("198.51.100.0/24").bars(&identity, elsewhere));
    }

    #[test]
    fn an_expired_ban_is_not_in_force() {
        let ban = ServerBan {
            target: target("192.0.2.0/24"),
            reason: "r".into(),
            set_by: "o".into(),
            set_at: Timestamp(0),
            expires: Some(Timestamp(1_000)),
        };
        assert!(ban.is_active(Timestamp(999)));
        assert!(!ban.is_active(Timestamp(1_000)));
    }
}
