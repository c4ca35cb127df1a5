//! IRC's spelling of room modes (RFC 2811 §4; `CHANMODES=beI,k,l,imnst`, `PREFIX=(ov)@+`):
//! the letter of each flag, mode strings such as `+ov-b` with their arguments for `MODE`
//! lines and `324 RPL_CHANNELMODEIS`, and reading such a string back.
//!
//! The letters live here and nowhere else: the hub speaks of [`RoomFlag`]s and
//! [`ModeChange`]s, and the text protocol shows mode changes in this notation too
//! (`-- alice set mode +o-v bob carol on #rust`).

use crate::event::MemberStatus;
use crate::modes::{MaskList, ModeChange, RoomFlag, RoomModes};

/// The letter of `flag` (type D of `CHANMODES`).
pub fn flag_letter(flag: RoomFlag) -> char {
    match flag {
        RoomFlag::InviteOnly => 'i',
        RoomFlag::Moderated => 'm',
        RoomFlag::NoExternalMessages => 'n',
        RoomFlag::Secret => 's',
        RoomFlag::TopicProtected => 't',
    }
}

/// The flag spelled `letter`, if any.
pub fn flag_from_letter(letter: char) -> Option<RoomFlag> {
    RoomFlag::ALL
        .into_iter()
        .find(|flag| flag_letter(*flag) == letter)
}

/// The prefix of members with `status` (`PREFIX=(ov)@+`), which also addresses a status
/// message to them (`STATUSMSG=@+`: `PRIVMSG @#room`).
pub fn status_prefix(status: MemberStatus) -> char {
    match status {
        MemberStatus::Operator => '@',
        MemberStatus::Voiced => '+',
    }
}

/// A status message target (`@#room`, `+#room`, or several prefixes such as `@+#room`, which
/// reach the lowest status named) split into the least status and the room; `None` unless
/// `target` is status prefixes followed by a room name.
pub fn split_status_target(target: &str) -> Option<(MemberStatus, &str)> {
    let room = target.trim_start_matches(['@', '+']);
    let prefixes = &target[..target.len() - room.len()];
    if prefixes.is_empty() || !room.starts_with('#') {
        return None;
    }
    let minimum = if prefixes.contains('+') {
        MemberStatus::Voiced
    } else {
        MemberStatus::Operator
    };
    Some((minimum, room))
}

/// The letter of the mask list `list` (type A of `CHANMODES`): `b` bans, `e` ban exceptions
/// (`EXCEPTS`), `I` invite exceptions (`INVEX`).
pub fn list_letter(list: MaskList) -> char {
    match list {
        MaskList::Bans => 'b',
        MaskList::BanExceptions => 'e',
        MaskList::InviteExceptions => 'I',
    }
}

/// The mask list spelled `letter`, if any.
pub fn list_from_letter(letter: char) -> Option<MaskList> {
    MaskList::ALL
        .into_iter()
        .find(|list| list_letter(*list) == letter)
}

/// What a removed key is announced with: `-k` takes an argument, and the old key is not
/// repeated.
const REMOVED_KEY: &str = "*";

/// The mode string and its arguments announcing `changes`, in order: `+ov-b` with
/// `["alice", "bob", "mallory!*@*"]`. A sign starts each run of changes of the same
/// direction; an empty list spells an empty string.
pub fn spell_changes(changes: &[ModeChange]) -> (String, Vec<String>) {
    let mut modes = String::new();
    let mut arguments = Vec::new();
    let mut last_sign = None;
    for change in changes {
        let set = change.sets();
        if last_sign != Some(set) {
            modes.push(if set { '+' } else { '-' });
            last_sign = Some(set);
        }
        let (letter, argument) = match change {
            ModeChange::Flag { flag, .. } => (flag_letter(*flag), None),
            ModeChange::Key(Some(key)) => ('k', Some(key.clone())),
            ModeChange::Key(None) => ('k', Some(REMOVED_KEY.to_owned())),
            ModeChange::Limit(limit) => ('l', limit.map(|limit| limit.to_string())),
            ModeChange::Operator { nick, .. } => ('o', Some(nick.clone())),
            ModeChange::Voice { nick, .. } => ('v', Some(nick.clone())),
            ModeChange::Mask { list, mask, .. } => (list_letter(*list), Some(mask.clone())),
        };
        modes.push(letter);
        arguments.extend(argument);
    }
    (modes, arguments)
}

/// A room's modes as `324 RPL_CHANNELMODEIS` shows them: the flags, then `k` and `l`, with
/// the key and limit as arguments (`+ntkl`, `["secret", "10"]`); `+` alone for none.
pub fn spell_modes(modes: &RoomModes) -> (String, Vec<String>) {
    let mut settings: Vec<ModeChange> = modes
        .flags()
        .map(|flag| ModeChange::Flag { flag, set: true })
        .collect();
    settings.extend(
        modes
            .key
            .as_deref()
            .map(|key| ModeChange::Key(Some(key.into()))),
    );
    settings.extend(modes.limit.map(|limit| ModeChange::Limit(Some(limit))));
    match spell_changes(&settings) {
        (spelled, arguments) if spelled.is_empty() => ("+".to_owned(), arguments),
        spelled => spelled,
    }
}

/// Reads back a mode string and its arguments as a server announces them (`MODE #room +o-v
/// alice bob`). `None` if a letter is not one of palaver's room modes or an argument is
/// missing: what the letters after an unknown one take cannot be known.
pub fn parse_changes(modes: &str, arguments: &[String]) -> Option<Vec<ModeChange>> {
    let mut arguments = arguments.iter().cloned();
    let mut changes = Vec::new();
    let mut set = true;
    for letter in modes.chars() {
        let change = match letter {
            '+' | '-' => {
                set = letter == '+';
                continue;
            }
            'k' if set => ModeChange::Key(Some(arguments.next()?)),
            'k' => {
                // `-k` takes an argument, the old key or `*`, which says nothing.
                arguments.next();
                ModeChange::Key(None)
            }
            'l' if set => ModeChange::Limit(Some(arguments.next()?.parse().ok()?)),
            'l' => ModeChange::Limit(None),
            'o' => ModeChange::Operator {
                set,
                nick: arguments.next()?,
            },
            'v' => ModeChange::Voice {
                set,
                nick: arguments.next()?,
            },
            _ => match list_from_letter(letter) {
                Some(list) => ModeChange::Mask {
                    list,
                    set,
                    mask: arguments.next()?,
                },
                None => ModeChange::Flag {
                    flag: flag_from_letter(letter)?,
                    set,
                },
            },
        };
        changes.push(change);
    }
    Some(changes)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn every_flag_has_its_own_letter_in_chanmodes_order() {
        let letters: String = RoomFlag::ALL.into_iter().map(flag_letter).collect();
        assert_eq!(letters, "imnst");
        for flag in RoomFlag::ALL {
            assert_eq!(flag_from_letter(flag_letter(flag)), Some(flag));
        }
        assert_eq!(flag_from_letter('x'), None);
    }

    #[test]
    fn every_mask_list_has_its_own_letter_in_chanmodes_order() {
        let letters: String = MaskList::ALL.into_iter().map(list_letter).collect();
        assert_eq!(letters, "beI");
        for list in MaskList::ALL {
            assert_eq!(list_from_letter(list_letter(list)), Some(list));
            assert_eq!(flag_from_letter(list_letter(list)), None);
        }
        assert_eq!(list_from_letter('i'), None);
    }

    #[test]
    fn changes_are_spelled_with_a_sign_per_run() {
        let changes = [
            ModeChange::Operator {
                set: true,
                nick: "alice".into(),
            },
            ModeChange::Voice {
                set: true,
                nick: "bob".into(),
            },
            ModeChange::Flag {
                flag: RoomFlag::Moderated,
                set: false,
            },
            ModeChange::Key(None),
            ModeChange::Limit(None),
            ModeChange::Mask {
                list: MaskList::Bans,
                set: true,
                mask: "m!*@*".into(),
            },
            ModeChange::Mask {
                list: MaskList::InviteExceptions,
                set: true,
                mask: "$a:bob".into(),
            },
            ModeChange::Limit(Some(10)),
        ];
        let (modes, arguments) = spell_changes(&changes);
        assert_eq!(modes, "+ov-mkl+bIl");
        assert_eq!(arguments, ["alice", "bob", "*", "m!*@*", "$a:bob", "10"]);
    }

    #[test]
    fn a_rooms_modes_list_flags_then_key_then_limit() {
        assert_eq!(spell_modes(&RoomModes::default()), ("+".into(), vec![]));
        let modes = RoomModes {
            no_external_messages: true,
            topic_protected: true,
            key: Some("secret".into()),
            limit: Some(10),
            ..RoomModes::default()
        };
        assert_eq!(
            spell_modes(&modes),
            ("+ntkl".into(), vec!["secret".into(), "10".into()])
        );
    }

    #[test]
    fn unknown_letters_and_missing_arguments_are_not_read() {
        let arguments = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_changes("+h", &arguments(&["bob"])), None);
        assert_eq!(parse_changes("+o", &[]), None);
        assert_eq!(parse_changes("+l", &arguments(&["many"])), None);
        assert_eq!(
            parse_changes("-k+t", &arguments(&["old"])),
            Some(vec![
                ModeChange::Key(None),
                ModeChange::Flag {
                    flag: RoomFlag::TopicProtected,
                    set: true
                }
            ])
        );
    }

    fn any_change() -> impl Strategy<Value = ModeChange> {
        let flag = proptest::sample::select(RoomFlag::ALL.to_vec());
        let list = proptest::sample::select(MaskList::ALL.to_vec());
        let word = "[a-z*!@]{1,8}";
        prop_oneof![
            (flag, any::<bool>()).prop_map(|(flag, set)| ModeChange::Flag { flag, set }),
            proptest::option::of(word).prop_map(ModeChange::Key),
            proptest::option::of(1usize..1000).prop_map(ModeChange::Limit),
            (any::<bool>(), word).prop_map(|(set, nick)| ModeChange::Operator { set, nick }),
            (any::<bool>(), word).prop_map(|(set, nick)| ModeChange::Voice { set, nick }),
            (list, any::<bool>(), word).prop_map(|(list, set, mask)| ModeChange::Mask {
                list,
                set,
                mask
            }),
        ]
    }

    proptest! {
        #[test]
        fn spelled_changes_read_back_as_themselves(
            changes in proptest::collection::vec(any_change(), 0..8)
        ) {
            let (modes, arguments) = spell_changes(&changes);
            prop_assert_eq!(parse_changes(&modes, &arguments), Some(changes));
        }
    }
}
