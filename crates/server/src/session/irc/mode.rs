//! `MODE`: user modes `+B` (bot), `+i`, `+o`, `+w`, and channel modes `+b +e +I +k +l +o +v`
//! and `+i +m +n +s +t`.

use palaver_proto::irc::message::Message;
use palaver_proto::irc::modes::{flag_from_letter, list_from_letter, list_letter, spell_modes};
use palaver_proto::irc::numeric::*;
use palaver_proto::names::fold;

use super::IrcSession;
use super::registration::MAX_MODES_WITH_PARAMETER;
use crate::hub::{BAN_MASK_MAX_BYTES, MaskList, ModeChange};
use crate::hub::{Room, User};
use crate::session::Flow;

/// The user mode marking a bot (IRCv3 bot mode, `BOT=B`), also its flag in `WHO` replies.
pub const BOT_MODE: char = 'B';

pub async fn mode(session: &mut IrcSession, message: &Message) -> Flow {
    if message.params[0].starts_with('#') {
        channel_mode(session, message).await;
    } else {
        user_mode(session, message).await;
    }
    Flow::Continue
}

/// User modes: `B` a bot, `i` invisible, `o` server operator (given only by `OPER`; a user may
/// drop it, never set it itself: `+o` is ignored, as on other servers), `w` wants `WALLOPS`.
async fn user_mode(session: &mut IrcSession, message: &Message) {
    let target = &message.params[0];
    let user = session.user().clone();
    let nick = user.nick();
    if fold(target) != fold(&nick) {
        if session.context.hub.user_by_nick(target).is_some() {
            session.numeric(ERR_USERSDONTMATCH, &["Can't change mode for other users"]);
        } else {
            session.numeric(ERR_NOSUCHNICK, &[target, "No such nick"]);
        }
        return;
    }
    let before = UserModes {
        bot: user.identity().bot,
        invisible: user.is_invisible(),
        operator: user.is_operator(),
        wallops: session.wallops,
    };
    let Some(modes) = message.params.get(1) else {
        session.numeric(RPL_UMODEIS, &[&before.spell()]);
        return;
    };
    let mut after = before;
    let mut set = true;
    let mut unknown = false;
    for letter in modes.chars() {
        match letter {
            '+' => set = true,
            '-' => set = false,
            BOT_MODE => after.bot = set,
            'i' => after.invisible = set,
            'o' => after.operator &= set,
            'w' => after.wallops = set,
            _ => unknown = true,
        }
    }
    if unknown {
        session.numeric(ERR_UMODEUNKNOWNFLAG, &["Unknown MODE flag"]);
    }
    if after.bot != before.bot {
        session.context.network.set_bot(&user, after.bot).await;
    }
    if after.invisible != before.invisible {
        let network = &session.context.network;
        network.set_invisible(&user, after.invisible).await;
    }
    if before.operator && !after.operator {
        tracing::info!(oper = ?user.operator(), "operator status dropped");
        session.context.network.set_operator(&user, None).await;
    }
    session.wallops = after.wallops;
    session.update_delivery();
    let changes = before.changes_to(after);
    if !changes.is_empty() {
        announce_user_modes(session, &changes);
    }
}

/// A user's modes, as `MODE` and `221` spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UserModes {
    bot: bool,
    invisible: bool,
    operator: bool,
    wallops: bool,
}

impl UserModes {
    fn letters(self) -> [(char, bool); 4] {
        [
            (BOT_MODE, self.bot),
            ('i', self.invisible),
            ('o', self.operator),
            ('w', self.wallops),
        ]
    }

    /// `+iw`, or `+` with none.
    fn spell(self) -> String {
        let mut spelled = String::from("+");
        spelled.extend(
            self.letters()
                .into_iter()
                .filter(|(_, on)| *on)
                .map(|(letter, _)| letter),
        );
        spelled
    }

    /// What changed from `self` to `after`: `+w-i`, empty if nothing did. Modes set come first.
    fn changes_to(self, after: Self) -> String {
        let changed: Vec<(char, bool)> = self
            .letters()
            .into_iter()
            .zip(after.letters())
            .filter(|((_, was), (_, is))| was != is)
            .map(|(_, now)| now)
            .collect();
        let mut spelled = String::new();
        for (sign, wanted) in [('+', true), ('-', false)] {
            let letters: String = changed
                .iter()
                .filter(|(_, on)| *on == wanted)
                .map(|(letter, _)| *letter)
                .collect();
            if !letters.is_empty() {
                spelled.push(sign);
                spelled.push_str(&letters);
            }
        }
        spelled
    }
}

/// Tells the client its user modes changed by `changes` (`+o`, `-iw`): `:nick MODE nick
/// changes`.
pub(super) fn announce_user_modes(session: &mut IrcSession, changes: &str) {
    let nick = session.user().nick().to_string();
    session
        .push_all([Message::new("MODE", vec![nick.clone(), changes.to_owned()]).with_source(nick)]);
}

async fn channel_mode(session: &mut IrcSession, message: &Message) {
    let name = &message.params[0];
    let user = session.user().clone();
    // A secret channel one is not in is answered as one that does not exist: no modes, no
    // bans, no changes.
    let Some(room) = session.context.hub.visible_room(&user, name) else {
        session.numeric(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
        return;
    };
    let Some(modes) = message.params.get(1) else {
        let Some(info) = session.context.hub.room_view(&user, &room) else {
            session.numeric(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
            return;
        };
        let (flags, arguments) = spell_modes(&info.modes);
        let mut params: Vec<&str> = vec![&info.name, &flags];
        params.extend(arguments.iter().map(String::as_str));
        session.numeric(RPL_CHANNELMODEIS, &params);
        let created = (info.created.0 / 1000).to_string();
        session.numeric(RPL_CREATIONTIME, &[&info.name, &created]);
        return;
    };
    let mut arguments = message.params[2..].iter();
    let mut changes = Vec::new();
    let mut with_parameter = 0;
    // Lists asked for (a list letter without a mask), each once, in the order asked.
    let mut lists_to_show: Vec<MaskList> = Vec::new();
    let mut set = true;
    for letter in modes.chars() {
        let change = match letter {
            '+' => {
                set = true;
                continue;
            }
            '-' => {
                set = false;
                continue;
            }
            'k' if set => match arguments.next() {
                Some(key) if valid_key(key) => ModeChange::Key(Some(key.clone())),
                other => {
                    invalid_parameter(session, name, 'k', other, "Invalid key");
                    continue;
                }
            },
            'k' => {
                // `-k` takes the old key as a parameter, which is ignored.
                arguments.next();
                ModeChange::Key(None)
            }
            'l' if set => {
                let given = arguments.next();
                match given.map(|limit| limit.parse::<usize>()) {
                    Some(Ok(limit)) if limit > 0 => ModeChange::Limit(Some(limit)),
                    _ => {
                        invalid_parameter(session, name, 'l', given, "Invalid limit");
                        continue;
                    }
                }
            }
            'l' => ModeChange::Limit(None),
            'o' | 'v' => match arguments.next() {
                Some(nick) if letter == 'o' => ModeChange::Operator {
                    set,
                    nick: nick.clone(),
                },
                Some(nick) => ModeChange::Voice {
                    set,
                    nick: nick.clone(),
                },
                None => {
                    invalid_parameter(session, name, letter, None, "You must specify a nick");
                    continue;
                }
            },
            _ => match (list_from_letter(letter), flag_from_letter(letter)) {
                (Some(list), _) => match arguments.next() {
                    Some(mask) => ModeChange::Mask {
                        list,
                        set,
                        mask: mask.clone(),
                    },
                    None => {
                        if !lists_to_show.contains(&list) {
                            lists_to_show.push(list);
                        }
                        continue;
                    }
                },
                (None, Some(flag)) => ModeChange::Flag { flag, set },
                (None, None) => {
                    session.numeric(
                        ERR_UNKNOWNMODE,
                        &[&letter.to_string(), "is unknown mode char to me"],
                    );
                    continue;
                }
            },
        };
        let takes_parameter = !matches!(
            change,
            ModeChange::Flag { .. } | ModeChange::Limit(None) | ModeChange::Key(None)
        );
        if takes_parameter {
            with_parameter += 1;
            // MODES=4: further changes with a parameter are ignored, as ISUPPORT says.
            if with_parameter > MAX_MODES_WITH_PARAMETER {
                continue;
            }
        }
        changes.push(change);
    }
    for list in lists_to_show {
        show_list(session, &user, &room, list);
    }
    if changes.is_empty() {
        return;
    }
    match session
        .context
        .network
        .change_modes(&user, &room, changes)
        .await
    {
        Ok(outcome) => {
            for error in &outcome.errors {
                session.hub_error(error);
            }
            if let Some(event) = outcome.event {
                session.own_copy(&event);
                session.pending().rooms_to_save.push(room.clone());
            }
        }
        Err(error) => session.hub_error(&error),
    }
}

/// Lists the entries of `room`'s mask list `list` (`367`/`368`, `348`/`349`, `346`/`347`),
/// each with who set it and when: the bans to anyone who may see the channel, as on most
/// networks; the exception lists to its operators only (`482` otherwise).
fn show_list(session: &mut IrcSession, user: &User, room: &Room, list: MaskList) {
    let entries = match session.context.hub.mask_list(user, room, list) {
        Ok(entries) => entries,
        Err(error) => return session.hub_error(&error),
    };
    let (entry_code, end_code, end_text) = match list {
        MaskList::Bans => (RPL_BANLIST, RPL_ENDOFBANLIST, "End of channel ban list"),
        MaskList::BanExceptions => (
            RPL_EXCEPTLIST,
            RPL_ENDOFEXCEPTLIST,
            "End of channel exception list",
        ),
        MaskList::InviteExceptions => (
            RPL_INVEXLIST,
            RPL_ENDOFINVEXLIST,
            "End of channel invite exception list",
        ),
    };
    for entry in &entries {
        let set_at = (entry.set_at.0 / 1000).to_string();
        session.numeric(
            entry_code,
            &[room.name(), &entry.mask, &entry.set_by, &set_at],
        );
    }
    session.numeric(end_code, &[room.name(), end_text]);
}

/// The name of `list` in error messages (`478`, `696`).
pub(super) fn list_name(list: MaskList) -> &'static str {
    match list {
        MaskList::Bans => "ban",
        MaskList::BanExceptions => "ban exception",
        MaskList::InviteExceptions => "invite exception",
    }
}

/// The mode letter of `list`, as `696` shows it.
pub(super) fn list_mode(list: MaskList) -> String {
    list_letter(list).to_string()
}

/// A key is one word of printable characters (it travels as a middle parameter).
fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 23 && !key.contains([' ', ',', ':']) && !key.starts_with('#')
}

fn invalid_parameter(
    session: &mut IrcSession,
    room: &str,
    letter: char,
    given: Option<&String>,
    description: &str,
) {
    let given = given.map_or("*", |given| echoable(given));
    session.numeric(
        ERR_INVALIDMODEPARAM,
        &[room, &letter.to_string(), given, description],
    );
}

/// A refused mode parameter as `696 ERR_INVALIDMODEPARAM` may show it: as given if it is one
/// short word, `*` otherwise. The parameter is a middle one, so a space or a leading `:` would
/// split the line differently, and an unbounded one could overflow it.
pub(super) fn echoable(given: &str) -> &str {
    let one_word = !given.is_empty()
        && !given.starts_with(':')
        && !given.contains(' ')
        && !given.chars().any(char::is_control);
    if one_word && given.len() <= BAN_MASK_MAX_BYTES {
        given
    } else {
        "*"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: UserModes = UserModes {
        bot: false,
        invisible: false,
        operator: false,
        wallops: false,
    };

    #[test]
    fn user_modes_are_spelled_in_order_with_sets_first() {
        assert_eq!(NONE.spell(), "+");
        let all = UserModes {
            bot: true,
            invisible: true,
            operator: true,
            wallops: true,
        };
        assert_eq!(all.spell(), "+Biow");
        assert_eq!(NONE.changes_to(NONE), "");
        assert_eq!(NONE.changes_to(all), "+Biow");
        let only_wallops = UserModes {
            wallops: true,
            ..NONE
        };
        let invisible_operator = UserModes {
            invisible: true,
            operator: true,
            ..NONE
        };
        assert_eq!(only_wallops.changes_to(invisible_operator), "+io-w");
        assert_eq!(all.changes_to(only_wallops), "-Bio");
    }
}
