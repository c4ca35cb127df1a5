//! Channel membership and messages: `JOIN`, `PART`, `PRIVMSG`, `NOTICE`, `TAGMSG`, `TOPIC`,
//! `INVITE`, `KICK`.

use palaver_proto::event::MessageKind;
use palaver_proto::irc::caps::Cap;
use palaver_proto::irc::message::{Message, escape_tag_value};
use palaver_proto::irc::modes::split_status_target;
use palaver_proto::irc::numeric::*;
use palaver_proto::irc::render::text_room;
use palaver_proto::{names, utf8};

use super::registration::{MAX_KICK_TARGETS, MAX_MESSAGE_TARGETS};
use super::{IrcSession, account, chathistory, query, read_marker};
use crate::hub::{HubError, Joined, Said};
use crate::session::Flow;

pub async fn join(session: &mut IrcSession, message: &Message) -> Flow {
    let user = session.user().clone();
    if message.params[0] == "0" {
        // `JOIN 0` leaves every channel.
        for departure in session.context.network.part_all(&user).await {
            session.departed(departure);
        }
        return Flow::Continue;
    }
    let keys: Vec<&str> = message
        .params
        .get(1)
        .map(|keys| keys.split(',').collect())
        .unwrap_or_default();
    for (index, name) in message.params[0].split(',').enumerate() {
        if name.is_empty() {
            continue;
        }
        if names::validate_room(name).is_err() {
            session.numeric(ERR_BADCHANMASK, &[name, "Bad Channel Mask"]);
            continue;
        }
        let key = keys.get(index).copied().filter(|key| !key.is_empty());
        match session.context.network.join(&user, name, key).await {
            Ok(Joined::New { room, event, topic }) => {
                session.own_copy(&event);
                if let Some(topic) = topic {
                    query::send_topic(session, room.name(), &topic);
                }
                // Before the end of NAMES (IRCv3 read-marker).
                read_marker::on_join(session, room.name());
                query::send_names(session, &room, room.name());
                chathistory::replay_on_join(session, &room);
            }
            // Joining a channel one is in is a no-op in IRC.
            Ok(Joined::AlreadyMember(_)) => {}
            Err(error) => session.hub_error(&error),
        }
    }
    Flow::Continue
}

pub async fn part(session: &mut IrcSession, message: &Message) -> Flow {
    let user = session.user().clone();
    let reason = message.params.get(1).map(String::as_str);
    for name in message.params[0].split(',').filter(|name| !name.is_empty()) {
        let Some(room) = session.context.hub.room(name) else {
            session.numeric(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
            continue;
        };
        match session.context.network.part(&user, &room, reason).await {
            Ok(departure) => session.departed(departure),
            Err(error) => session.hub_error(&error),
        }
    }
    Flow::Continue
}

pub async fn privmsg(session: &mut IrcSession, message: &Message) -> Flow {
    send(session, message, "PRIVMSG").await
}

pub async fn notice(session: &mut IrcSession, message: &Message) -> Flow {
    send(session, message, "NOTICE").await
}

pub async fn tagmsg(session: &mut IrcSession, message: &Message) -> Flow {
    send(session, message, "TAGMSG").await
}

/// `PRIVMSG`, `NOTICE` and `TAGMSG` to channels, to the operators or voiced members of a
/// channel (`@#a`, `+#a`: `STATUSMSG`) and to nicks. Per RFC 2812 §3.3.2, a `NOTICE`
/// never gets an error reply (automatic replies to notices could loop between bots).
async fn send(session: &mut IrcSession, message: &Message, command: &str) -> Flow {
    let is_notice = command == "NOTICE";
    let tags_only = command == "TAGMSG";
    let Some(targets) = message.params.first().filter(|targets| !targets.is_empty()) else {
        if !is_notice {
            session.numeric(
                ERR_NORECIPIENT,
                &[&format!("No recipient given ({command})")],
            );
        }
        return Flow::Continue;
    };
    let text = message.params.get(1).map(String::as_str).unwrap_or("");
    if !tags_only && text.is_empty() {
        if !is_notice {
            session.numeric(ERR_NOTEXTTOSEND, &["No text to send"]);
        }
        return Flow::Continue;
    }
    let (kind, text) = if tags_only {
        (MessageKind::TagsOnly, "")
    } else if is_notice {
        (MessageKind::Notice, text)
    } else if let Some(action) = ctcp_action(text) {
        (MessageKind::Action, action)
    } else {
        (MessageKind::Say, text)
    };
    let client_tags = client_only_tags(message);
    let targets: Vec<&str> = targets
        .split(',')
        .filter(|target| !target.is_empty())
        .collect();
    let (targets, beyond) = targets.split_at(targets.len().min(MAX_MESSAGE_TARGETS));
    for &target in targets {
        if !tags_only && target.eq_ignore_ascii_case(account::NICKSERV) {
            // Account services for clients without SASL; never stored or relayed.
            account::nickserv(session, text);
            continue;
        }
        if !tags_only && target.eq_ignore_ascii_case(account::CHANSERV) {
            account::chanserv(session, text);
            continue;
        }
        // One IRC line in, one line out to every recipient: what would not fit in a relayed
        // line once the source is prefixed is cut, as IRC servers do (text users' longer
        // messages are split instead).
        let room = text_room(&session.user().identity().mask(), target, kind);
        let text = utf8::truncate(text, room);
        let quiet = is_notice || tags_only;
        send_to(session, target, kind, text, &[], &client_tags, quiet).await;
    }
    if !(is_notice || tags_only) {
        too_many_targets(session, beyond);
    }
    Flow::Continue
}

/// `407` for each target beyond a command's `TARGMAX` (after the first ones were served), so
/// that no target is dropped without a word. Never for `NOTICE` or `TAGMSG`, which get no
/// error replies.
fn too_many_targets(session: &mut IrcSession, beyond: &[&str]) {
    for target in beyond {
        session.numeric(
            ERR_TOOMANYTARGETS,
            &[target, "Too many targets; not sent to this one"],
        );
    }
}

/// Sends one message to one channel or nick: stored, echoed with `echo-message`, `301` for an
/// away recipient of a `PRIVMSG`. `text` and `concat_at` are the message's lines (see
/// `palaver_proto::multiline`). Refusals are answered unless `quiet` (a `NOTICE` or
/// `TAGMSG`).
pub(super) async fn send_to(
    session: &mut IrcSession,
    target: &str,
    kind: MessageKind,
    text: &str,
    concat_at: &[usize],
    client_tags: &str,
    quiet: bool,
) {
    let user = session.user().clone();
    let said = Said {
        kind,
        text,
        concat_at,
        client_tags,
    };
    let result = if let Some((minimum, room)) = split_status_target(target) {
        // STATUSMSG: `@#room` reaches its operators, `+#room` its voiced members too.
        match session.context.hub.room(room) {
            Some(room) => session
                .context
                .network
                .say_to_status(&user, &room, minimum, &said)
                .await
                .map(|event| (event, None)),
            None => Err(HubError::NoSuchRoom(target.to_owned())),
        }
    } else if target.starts_with('#') {
        match session.context.hub.room(target) {
            Some(room) => session
                .context
                .network
                .say(&user, &room, &said)
                .await
                .map(|event| (event, None)),
            None => Err(HubError::NoSuchRoom(target.to_owned())),
        }
    } else {
        session
            .context
            .network
            .message_user(&user, target, &said)
            .await
            .map(|(event, recipient)| {
                if let Some(away) = recipient.away()
                    && kind == MessageKind::Say
                {
                    let nick = recipient.nick();
                    session.numeric(RPL_AWAY, &[&nick, &away]);
                }
                (event, Some(recipient))
            })
    };
    match result {
        Ok((event, recipient)) => {
            session.persist(&event, recipient.as_deref());
            if session.caps.contains(Cap::EchoMessage) {
                session.own_copy(&event);
            }
        }
        // Never silent, not even for a NOTICE: the client must know it was not sent, or that
        // it may not have been.
        Err(
            error @ (HubError::LinkDown | HubError::NetworkUnreachable | HubError::MessageInDoubt),
        ) => {
            let description = match error {
                HubError::MessageInDoubt => {
                    "Message not confirmed: this server lost its link to the rest of the \
                     network with the message on its way; it may have been delivered \
                     (CHATHISTORY shows it if so, once the link is back)"
                }
                _ => {
                    "Message not sent: this server has lost its link to the rest of the \
                     network; try again shortly"
                }
            };
            session.fail_or_notice(
                command_of(kind),
                "TEMPORARILY_UNAVAILABLE",
                &[target],
                description,
            );
        }
        Err(HubError::NotSaved(reason)) => {
            let description = format!("Message not sent: it could not be saved ({reason})");
            session.fail_or_notice(command_of(kind), "MESSAGE_ERROR", &[target], &description);
        }
        Err(_) if quiet => {}
        Err(error) => session.hub_error(&error),
    }
}

/// The command that sends a message of `kind`.
fn command_of(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Notice => "NOTICE",
        MessageKind::TagsOnly => "TAGMSG",
        MessageKind::Say | MessageKind::Action => "PRIVMSG",
    }
}

/// The text of a CTCP ACTION (`\x01ACTION waves\x01`), if `text` is one.
fn ctcp_action(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('\x01')?;
    let inner = inner.strip_suffix('\x01').unwrap_or(inner);
    inner
        .strip_prefix("ACTION ")
        .or_else(|| (inner == "ACTION").then_some(""))
}

/// The client-only tags (`+name`) of a message, escaped and joined, to relay to recipients
/// that accept message tags.
pub(super) fn client_only_tags(message: &Message) -> String {
    let mut joined = String::new();
    for tag in message.tags.iter().filter(|tag| tag.key.starts_with('+')) {
        if !joined.is_empty() {
            joined.push(';');
        }
        joined.push_str(&tag.key);
        if !tag.value.is_empty() {
            joined.push('=');
            escape_tag_value(&tag.value, &mut joined);
        }
    }
    joined
}

pub async fn topic(session: &mut IrcSession, message: &Message) -> Flow {
    let name = &message.params[0];
    let user = session.user().clone();
    // A secret channel one is not in is answered as one that does not exist.
    let Some(room) = session.context.hub.visible_room(&user, name) else {
        session.numeric(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
        return Flow::Continue;
    };
    match message.params.get(1) {
        None => match room.topic() {
            Some(topic) => query::send_topic(session, room.name(), &topic),
            None => session.numeric(RPL_NOTOPIC, &[room.name(), "No topic is set"]),
        },
        Some(text) => match session.context.network.set_topic(&user, &room, text).await {
            Ok(event) => {
                session.own_copy(&event);
                session.pending().rooms_to_save.push(room.clone());
            }
            Err(error) => session.hub_error(&error),
        },
    }
    Flow::Continue
}

pub async fn invite(session: &mut IrcSession, message: &Message) -> Flow {
    let (nick, room) = (&message.params[0], &message.params[1]);
    let user = session.user().clone();
    match session.context.network.invite(&user, nick, room).await {
        Ok(invitee) => {
            let invitee_nick = invitee.nick();
            let room_name = session
                .context
                .hub
                .room(room)
                .map(|room| room.name().to_string())
                .unwrap_or_else(|| room.clone());
            session.numeric(RPL_INVITING, &[&invitee_nick, &room_name]);
            if let Some(away) = invitee.away() {
                session.numeric(RPL_AWAY, &[&invitee_nick, &away]);
            }
        }
        Err(error) => session.hub_error(&error),
    }
    Flow::Continue
}

/// `KICK #a nick[,nick…] [reason]` kicks each nick from `#a`; `KICK #a,#b nick1,nick2`
/// kicks each nick from the channel in the same position (RFC 2812 §3.2.8). Everyone sees one
/// `KICK` per user kicked.
pub async fn kick(session: &mut IrcSession, message: &Message) -> Flow {
    let channels: Vec<&str> = message.params[0]
        .split(',')
        .filter(|channel| !channel.is_empty())
        .collect();
    let nicks: Vec<&str> = message.params[1]
        .split(',')
        .filter(|nick| !nick.is_empty())
        .collect();
    let pairs: Vec<(&str, &str)> = match channels[..] {
        _ if nicks.is_empty() => Vec::new(),
        [channel] => nicks.iter().map(|&nick| (channel, nick)).collect(),
        _ if channels.len() == nicks.len() => channels.into_iter().zip(nicks).collect(),
        _ => Vec::new(),
    };
    if pairs.is_empty() {
        // No nick, or neither one channel nor one per nick: the command cannot be read.
        session.numeric(ERR_NEEDMOREPARAMS, &["KICK", "Not enough parameters"]);
        return Flow::Continue;
    }
    let (pairs, beyond) = pairs.split_at(pairs.len().min(MAX_KICK_TARGETS));
    let user = session.user().clone();
    let default_reason = user.nick();
    let reason = message
        .params
        .get(2)
        .map(String::as_str)
        .unwrap_or(&default_reason);
    for &(channel, nick) in pairs {
        let Some(room) = session.context.hub.room(channel) else {
            session.numeric(ERR_NOSUCHCHANNEL, &[channel, "No such channel"]);
            continue;
        };
        match session
            .context
            .network
            .kick(&user, &room, nick, reason)
            .await
        {
            Ok(departure) => session.departed(departure),
            Err(error) => session.hub_error(&error),
        }
    }
    let beyond: Vec<&str> = beyond.iter().map(|&(_, nick)| nick).collect();
    too_many_targets(session, &beyond);
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctcp_actions() {
        assert_eq!(ctcp_action("\x01ACTION waves\x01"), Some("waves"));
        assert_eq!(ctcp_action("\x01ACTION waves"), Some("waves"));
        assert_eq!(ctcp_action("\x01ACTION\x01"), Some(""));
        assert_eq!(ctcp_action("\x01VERSION\x01"), None);
        assert_eq!(ctcp_action("ACTION waves"), None);
    }

    #[test]
    fn only_client_tags_are_relayed() {
        let message =
            Message::parse("@label=x;+typing=active;+draft/reply=a\\sb PRIVMSG #a :hi").unwrap();
        assert_eq!(
            client_only_tags(&message),
            "+typing=active;+draft/reply=a\\sb"
        );
    }
}
