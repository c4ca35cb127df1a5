//! Capability negotiation: `CAP LS`, `REQ`, `LIST` and `END`
//! (<https://ircv3.net/specs/extensions/capability-negotiation>).

use palaver_proto::Wire;
use palaver_proto::irc::caps::{Cap, CapSet};
use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::ERR_INVALIDCAPCMD;
use palaver_proto::irc::render::IrcFlavor;

use super::registration::try_register;
use super::{IrcSession, sasl};
use crate::hub::{Interest, Interests, User};
use crate::session::Flow;

/// Capability lists longer than this are split over several `CAP` lines (marked `*`), keeping
/// each line well inside 512 bytes.
const MAX_CAPS_LINE_BYTES: usize = 400;

pub async fn cap(session: &mut IrcSession, message: &Message) -> Flow {
    let subcommand = message.params[0].to_ascii_uppercase();
    match subcommand.as_str() {
        "LS" => {
            let version: u32 = message
                .params
                .get(1)
                .and_then(|version| version.parse().ok())
                .unwrap_or(0);
            if version >= 302 {
                session.cap_302 = true;
                // cap-notify is implicitly enabled for 302 clients.
                let mut caps = session.caps;
                caps.insert(Cap::CapNotify);
                session.set_caps(caps);
            }
            if session.user.is_none() {
                session.registration().negotiating_caps = true;
            }
            // Values (`name=value`) only for 302 clients (capability negotiation §CAP LS).
            // `sts` is nothing without its value, so only they see it, and only with a policy.
            let offered: Vec<String> = Cap::ALL
                .iter()
                .filter(|cap| {
                    **cap != Cap::Sts || (session.cap_302 && value(session, Cap::Sts).is_some())
                })
                .map(|cap| match value(session, *cap) {
                    Some(value) if session.cap_302 => format!("{}={value}", cap.name()),
                    _ => cap.name().to_owned(),
                })
                .collect();
            let offered: Vec<&str> = offered.iter().map(String::as_str).collect();
            send_list(session, "LS", &offered);
        }
        "LIST" => {
            let enabled: Vec<&str> = session.caps.iter().map(Cap::name).collect();
            send_list(session, "LIST", &enabled);
        }
        "REQ" => {
            if session.user.is_none() {
                session.registration().negotiating_caps = true;
            }
            let requested = message.params.get(1).map(String::as_str).unwrap_or("");
            // cap-notify cannot be disabled by a client that negotiated version 302.
            let disables_cap_notify = requested.split(' ').any(|item| item == "-cap-notify");
            let result = if session.cap_302 && disables_cap_notify {
                None
            } else {
                apply_request(session.caps, requested)
            };
            match result {
                Some(caps) => {
                    session.set_caps(caps);
                    reply(session, "ACK", requested);
                }
                None => reply(session, "NAK", requested),
            }
        }
        "END" => {
            if session.user.is_none() {
                session.registration().negotiating_caps = false;
                return try_register(session).await;
            }
        }
        _ => {
            let nick = session.reply_nick();
            session.replies.numeric(
                ERR_INVALIDCAPCMD,
                &nick,
                &[&message.params[0], "Invalid CAP command"],
            );
        }
    }
    Flow::Continue
}

/// The value `cap` is offered with in `CAP LS 302`: `draft/account-registration` says
/// `before-connect` when `REGISTER` is accepted before connecting (see
/// `IrcSettings::registers_before_connect`) and `email-required` when `[accounts]
/// require_email` is set; never `custom-account-name` (an account is its nick).
///
/// `sasl` adds EXTERNAL where TLS listeners exist; `sts` is the policy, if the server has one:
/// on a plain connection the TLS port to upgrade to, on a TLS connection how long to keep to
/// TLS (<https://ircv3.net/specs/extensions/sts>).
fn value(session: &IrcSession, cap: Cap) -> Option<std::borrow::Cow<'static, str>> {
    match cap {
        Cap::Sasl => Some(sasl::mechanisms(session).into()),
        Cap::Sts => {
            let policy = session.context.tls_offer.sts?;
            Some(if session.tls {
                format!("duration={}", policy.duration.as_secs()).into()
            } else {
                format!("port={}", policy.port).into()
            })
        }
        Cap::AccountRegistration => match (
            session.context.irc.registers_before_connect(),
            session.context.accounts.requires_email(),
        ) {
            (true, true) => Some("before-connect,email-required".into()),
            (true, false) => Some("before-connect".into()),
            (false, true) => Some("email-required".into()),
            (false, false) => None,
        },
        _ => cap.value().map(Into::into),
    }
}

/// Tells the hub how to deliver to `user`, whose client enabled `caps` and set user mode `+w`
/// or not (`wallops`): the flavor of IRC its lines are rendered in, and the notifications it
/// asked for.
pub(super) fn set_delivery(user: &User, caps: CapSet, wallops: bool) {
    let mut interests = interests(caps);
    if wallops {
        interests.insert(Interest::Wallops);
    }
    user.set_delivery(Wire::Irc(IrcFlavor::from_caps(caps)), interests);
}

/// What a client with `caps` wants to hear of about its room peers: one capability each.
fn interests(caps: CapSet) -> Interests {
    [
        (Cap::AwayNotify, Interest::AwayChanges),
        (Cap::Setname, Interest::RealnameChanges),
        (Cap::AccountNotify, Interest::AccountChanges),
        (Cap::InviteNotify, Interest::Invitations),
        (Cap::ExtendedMonitor, Interest::MonitoredUsers),
        (Cap::MessageRedaction, Interest::Redactions),
        (Cap::ReadMarker, Interest::ReadMarkers),
    ]
    .into_iter()
    .filter(|(cap, _)| caps.contains(*cap))
    .map(|(_, interest)| interest)
    .collect()
}

/// The capability set after `REQ` of `request` (space-separated names, `-name` to disable),
/// or `None` if any name is unknown: a request is accepted or refused whole. `sts` is never
/// requested ("Clients MUST NOT request this capability"; servers may refuse it).
fn apply_request(current: CapSet, request: &str) -> Option<CapSet> {
    let mut caps = current;
    for item in request.split(' ').filter(|item| !item.is_empty()) {
        let (enable, name) = match item.strip_prefix('-') {
            Some(name) => (false, name),
            None => (true, item),
        };
        let cap = Cap::from_name(name).filter(|cap| *cap != Cap::Sts)?;
        if enable {
            caps.insert(cap);
        } else {
            caps.remove(cap);
        }
    }
    Some(caps)
}

fn reply(session: &mut IrcSession, verb: &str, text: &str) {
    let nick = session.reply_nick();
    session
        .replies
        .server_message("CAP", vec![nick, verb.into(), text.into()]);
}

/// `CAP * LS :a b c`, split over lines with `*` continuation markers for 302 clients.
fn send_list(session: &mut IrcSession, verb: &str, names: &[&str]) {
    let nick = session.reply_nick();
    let mut lines: Vec<String> = vec![String::new()];
    for name in names {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.len() + name.len() + 1 > MAX_CAPS_LINE_BYTES {
            lines.push(String::new());
        }
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(name);
    }
    let count = lines.len();
    for (index, line) in lines.into_iter().enumerate() {
        let mut params = vec![nick.clone(), verb.to_owned()];
        if index + 1 < count && session.cap_302 {
            params.push("*".into());
        }
        params.push(line);
        session.replies.server_message("CAP", params);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_all_or_nothing() {
        let caps = apply_request(CapSet::EMPTY, "server-time  echo-message").unwrap();
        assert!(caps.contains(Cap::ServerTime) && caps.contains(Cap::EchoMessage));
        let caps = apply_request(caps, "-server-time").unwrap();
        assert!(!caps.contains(Cap::ServerTime) && caps.contains(Cap::EchoMessage));
        assert_eq!(apply_request(caps, "batch bogus"), None);
    }

    #[test]
    fn each_notification_capability_is_one_interest() {
        assert_eq!(interests(CapSet::EMPTY), Interests::default());
        for (cap, interest) in [
            (Cap::AwayNotify, Interest::AwayChanges),
            (Cap::Setname, Interest::RealnameChanges),
            (Cap::AccountNotify, Interest::AccountChanges),
            (Cap::InviteNotify, Interest::Invitations),
            (Cap::ExtendedMonitor, Interest::MonitoredUsers),
            (Cap::MessageRedaction, Interest::Redactions),
            (Cap::ReadMarker, Interest::ReadMarkers),
        ] {
            let mut caps = CapSet::EMPTY;
            caps.insert(cap);
            caps.insert(Cap::ServerTime);
            assert_eq!(interests(caps), [interest].into_iter().collect());
        }
    }
}
