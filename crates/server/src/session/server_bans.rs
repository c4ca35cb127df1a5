//! Server bans for either protocol (IRC `KLINE`/`DLINE`, text `/ban`): reading a ban request,
//! putting the ban in force (the hub disconnects whom it bars), keeping it in the store, and
//! the words the operator is answered with. Loading the stored bans at start-up is here too.

use std::sync::Arc;
use std::time::Duration;

use palaver_proto::time::Timestamp;
use tracing::warn;

use crate::hub::{BanTarget, HubError, ServerBan, User};
use crate::network::Network;
use crate::store::{ServerBanRecord, Store, StoreError};

/// The reason of a ban that gives none.
pub(crate) const DEFAULT_BAN_REASON: &str = "no reason given";

/// A ban an operator asked for, read from its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BanRequest {
    pub target: BanTarget,
    /// `None`: until removed.
    pub duration: Option<Duration>,
    pub reason: String,
}

/// Reads `[DURATION] TARGET [REASON…]`: a duration is a number of minutes (as IRC servers
/// take it) or a duration such as `90m`, `12h`, `7d`.
pub(crate) fn parse_request(words: &[&str]) -> Result<BanRequest, String> {
    let (duration, rest) = match words.split_first() {
        Some((first, rest)) if !rest.is_empty() => match parse_duration(first) {
            Some(duration) => (Some(duration), rest),
            None => (None, words),
        },
        _ => (None, words),
    };
    let (target, reason) = rest
        .split_first()
        .ok_or_else(|| "name what to ban".to_owned())?;
    let reason = reason.join(" ");
    Ok(BanRequest {
        target: target.parse()?,
        duration,
        reason: if reason.trim().is_empty() {
            DEFAULT_BAN_REASON.to_owned()
        } else {
            reason.trim().to_owned()
        },
    })
}

/// A ban's duration: whole minutes, or a positive duration with its unit.
pub(crate) fn parse_duration(word: &str) -> Option<Duration> {
    if let Ok(minutes) = word.parse::<u64>() {
        return (minutes > 0).then(|| Duration::from_secs(minutes.saturating_mul(60)));
    }
    crate::config::parse_duration(word)
        .ok()
        .filter(|duration| !duration.is_zero())
}

/// A ban put in force.
pub(crate) struct Added {
    pub ban: ServerBan,
    /// How many connected users it disconnected.
    pub disconnected: usize,
    /// Why the store could not keep it, if it could not: then it ends at restart.
    pub unsaved: Option<StoreError>,
}

/// Puts the ban `request` in force as `operator` and keeps it in the store.
pub(crate) async fn put_in_force(
    network: &Network,
    store: &Store,
    operator: &Arc<User>,
    request: BanRequest,
) -> Result<Added, HubError> {
    let now = Timestamp::now();
    let expires = request.duration.map(|duration| {
        Timestamp(
            now.0
                .saturating_add(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)),
        )
    });
    let set_by = match operator.operator() {
        Some(name) => format!("{name} ({})", operator.nick()),
        None => return Err(HubError::NeedServerOperator),
    };
    let ban = ServerBan {
        target: request.target,
        reason: request.reason,
        set_by,
        set_at: now,
        expires,
    };
    let disconnected = network.add_server_ban(operator, ban.clone()).await?;
    let unsaved = store.save_server_ban(record(&ban)).await.err();
    if let Some(error) = &unsaved {
        warn!(%error, target = %ban.target, "a server ban could not be saved");
    }
    Ok(Added {
        ban,
        disconnected,
        unsaved,
    })
}

/// Puts the ban `request` in force as `operator` and keeps it in the store. Answers what the
/// operator is told: the ban, and how many it disconnected; or why it failed.
pub(crate) async fn add(
    network: &Network,
    store: &Store,
    operator: &Arc<User>,
    request: BanRequest,
) -> Result<String, String> {
    let added = put_in_force(network, store, operator, request)
        .await
        .map_err(|error| error.to_string())?;
    let ban = &added.ban;
    let until = match ban.expires {
        Some(expires) => format!("until {}", expires.iso8601()),
        None => "until removed".to_owned(),
    };
    let mut answer = format!(
        "banned {} {until} ({}); {} disconnected",
        ban.target, ban.reason, added.disconnected
    );
    if let Some(error) = added.unsaved {
        answer.push_str(&format!(
            "; in force, but not saved ({error}): it ends at restart"
        ));
    }
    Ok(answer)
}

/// Why a ban was not lifted.
#[derive(Debug)]
pub(crate) enum LiftError {
    /// Neither the hub nor the store had a ban on the target.
    NoSuchBan,
    Refused(HubError),
    /// Lifted in the hub, but the store failed: the ban comes back at restart.
    Store(StoreError),
}

/// Lifts the ban on `target` as `operator`, in the hub and the store.
pub(crate) async fn lift(
    network: &Network,
    store: &Store,
    operator: &Arc<User>,
    target: &BanTarget,
) -> Result<(), LiftError> {
    let removed = network
        .remove_server_ban(operator, target)
        .await
        .map_err(LiftError::Refused)?;
    match store.delete_server_ban(&target.to_string()).await {
        Err(error) => Err(LiftError::Store(error)),
        Ok(false) if !removed => Err(LiftError::NoSuchBan),
        Ok(_) => Ok(()),
    }
}

/// Lifts the ban on `target` as `operator`, in the hub and the store, and words the answer.
pub(crate) async fn remove(
    network: &Network,
    store: &Store,
    operator: &Arc<User>,
    target: &BanTarget,
) -> Result<String, String> {
    match lift(network, store, operator, target).await {
        Ok(()) => Ok(format!("lifted the ban on {target}")),
        Err(LiftError::NoSuchBan) => Err(format!("there is no ban on {target}")),
        Err(LiftError::Refused(error)) => Err(error.to_string()),
        Err(LiftError::Store(error)) => Err(format!(
            "the ban on {target} is lifted until restart, but the store failed ({error})"
        )),
    }
}

/// One ban as a line of a listing: target, reason, who set it and when, and its end.
pub(crate) fn describe(ban: &ServerBan) -> String {
    let until = ban.expires.map_or_else(
        || "no end".to_owned(),
        |expires| format!("until {}", expires.iso8601()),
    );
    format!(
        "{} ({}) set by {} at {}, {until}",
        ban.target,
        ban.reason,
        ban.set_by,
        ban.set_at.iso8601()
    )
}

fn record(ban: &ServerBan) -> ServerBanRecord {
    ServerBanRecord {
        kind: ban.target.kind().to_owned(),
        target: ban.target.to_string(),
        reason: ban.reason.clone(),
        set_by: ban.set_by.clone(),
        set_at: ban.set_at,
        expires: ban.expires,
    }
}

/// The bans the store keeps, as the hub takes them; a row that no longer reads as a target is
/// skipped with a warning.
pub(crate) async fn load(store: &Store) -> Result<Vec<ServerBan>, StoreError> {
    let records = store.server_bans().await?;
    Ok(ServerBan::readable(records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_an_optional_duration_a_target_and_a_reason() {
        let request = parse_request(&["60", "*@bad.example", "spamming", "links"]).unwrap();
        assert_eq!(request.duration, Some(Duration::from_secs(3600)));
        assert_eq!(request.target.to_string(), "*!*@bad.example");
        assert_eq!(request.reason, "spamming links");

        let request = parse_request(&["7d", "192.0.2.0/24"]).unwrap();
        assert_eq!(request.duration, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(request.reason, DEFAULT_BAN_REASON);

        let request = parse_request(&["$a:spammer", "go", "away"]).unwrap();
        assert_eq!(request.duration, None);
        assert_eq!(request.reason, "go away");

        // A lone word is the target, even if it reads as a number.
        assert!(parse_request(&["60"]).is_err());
        assert!(parse_request(&[]).is_err());
        assert!(
            parse_request(&["0", "192.0.2.1"]).is_err(),
            "0 is no target"
        );
    }
}
