//! `HELP [subject]` and its other name `HELPOP`: what each command does, as
//! `RPL_HELPSTART`, `RPL_HELPTXT` lines and `RPL_ENDOFHELP` (modern.ircdocs.horse, HELP), or
//! `ERR_HELPNOTFOUND` for a subject with no help.

use palaver_proto::irc::message::Message;
use palaver_proto::irc::numeric::*;

use super::IrcSession;
use crate::session::Flow;

/// The subject of the help index (`HELP` without a subject).
const INDEX: &str = "*";

/// One help topic: the command's syntax, then what it does. Every command of the command table
/// has one (a unit test checks).
struct Topic {
    command: &'static str,
    syntax: &'static str,
    text: &'static [&'static str],
}

const fn topic(
    command: &'static str,
    syntax: &'static str,
    text: &'static [&'static str],
) -> Topic {
    Topic {
        command,
        syntax,
        text,
    }
}

const TOPICS: &[Topic] = &[
    topic(
        "AUTHENTICATE",
        "AUTHENTICATE PLAIN|SCRAM-SHA-256",
        &["Logs in to an account with SASL."],
    ),
    topic(
        "AWAY",
        "AWAY [message]",
        &["Marks you away with a message, or back without one."],
    ),
    topic(
        "BATCH",
        "BATCH +ref draft/multiline #channel | BATCH -ref",
        &["Sends several lines as one message (IRCv3 draft/multiline)."],
    ),
    topic(
        "CAP",
        "CAP LS [302] | CAP REQ :caps | CAP LIST | CAP END",
        &["Negotiates IRCv3 capabilities."],
    ),
    topic(
        "CHATHISTORY",
        "CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN|TARGETS ...",
        &["Fetches stored messages of a channel you are in, or of your private conversations."],
    ),
    topic(
        "DLINE",
        "DLINE [minutes|duration] address|range [reason]",
        &[
            "Bans an address or range from the server, for good or for a time such as 90",
            "(minutes), 12h or 7d; disconnects whoever it bars (server operators only).",
        ],
    ),
    topic(
        "HELP",
        "HELP [command]",
        &["Shows the commands, or what one of them does."],
    ),
    topic("HELPOP", "HELPOP [command]", &["The same as HELP."]),
    topic("INFO", "INFO", &["Shows what this server is."]),
    topic(
        "INVITE",
        "INVITE nick #channel",
        &["Invites someone to a channel you are in."],
    ),
    topic(
        "ISON",
        "ISON nick [nick ...]",
        &["Tells which of the nicks are online."],
    ),
    topic(
        "JOIN",
        "JOIN #channel[,#channel] [key[,key]] | JOIN 0",
        &["Joins channels, creating them as their operator; JOIN 0 leaves every channel."],
    ),
    topic(
        "KICK",
        "KICK #channel[,#channel] nick[,nick] [reason]",
        &["Removes people from a channel you are an operator of."],
    ),
    topic(
        "KILL",
        "KILL nick [reason]",
        &["Disconnects a user (server operators only)."],
    ),
    topic(
        "KLINE",
        "KLINE [minutes|duration] user@host|nick!user@host|$a:account [reason]",
        &[
            "Bans a mask or an account from the server, for good or for a time such as 90",
            "(minutes), 12h or 7d; disconnects whoever it bars (server operators only).",
        ],
    ),
    topic(
        "LINKS",
        "LINKS [mask]",
        &["Lists the servers of the network: this one."],
    ),
    topic(
        "LIST",
        "LIST [#channel|mask|!mask|>N|<N|C>N|C<N|T>N|T<N,...]",
        &[
            "Lists channels with their member counts and topics. Filters: names and masks, !mask",
            "to leave out, >N or <N members, created (C) or topic set (T) more or less than N",
            "minutes ago.",
        ],
    ),
    topic("LUSERS", "LUSERS", &["Counts users and channels."]),
    topic(
        "MARKREAD",
        "MARKREAD target [timestamp=...]",
        &["Shows or sets how far you have read a conversation (IRCv3 draft/read-marker)."],
    ),
    topic(
        "MODE",
        "MODE #channel [changes] | MODE nick [changes]",
        &["Shows or changes channel modes (b e I k l i m n s t, o v), or your user modes (i w B)."],
    ),
    topic(
        "MONITOR",
        "MONITOR + nick,... | - nick,... | C | L | S",
        &["Tells you when nicks come online or go offline."],
    ),
    topic("MOTD", "MOTD", &["Shows the message of the day."]),
    topic(
        "NAMES",
        "NAMES #channel[,#channel]",
        &["Lists the members of channels."],
    ),
    topic("NICK", "NICK nick", &["Changes your nick."]),
    topic(
        "NOTICE",
        "NOTICE target[,target] text",
        &["Sends a notice to channels or nicks; it never gets an automatic reply."],
    ),
    topic(
        "OPER",
        "OPER name password",
        &["Makes you a server operator."],
    ),
    topic(
        "PART",
        "PART #channel[,#channel] [reason]",
        &["Leaves channels."],
    ),
    topic(
        "PASS",
        "PASS password",
        &["Gives the server password, before registering."],
    ),
    topic(
        "PING",
        "PING token",
        &["Asks the server for a PONG with the same token."],
    ),
    topic("PONG", "PONG token", &["Answers the server's PING."]),
    topic(
        "PRIVMSG",
        "PRIVMSG target[,target] text",
        &["Sends a message to channels or nicks (up to 4)."],
    ),
    topic("QUIT", "QUIT [reason]", &["Leaves the server."]),
    topic(
        "REDACT",
        "REDACT target msgid [reason]",
        &["Deletes one of your messages (IRCv3 draft/message-redaction)."],
    ),
    topic(
        "REGISTER",
        "REGISTER * email|* password",
        &["Registers your nick as an account and logs you in; the email address is kept."],
    ),
    topic("SETNAME", "SETNAME realname", &["Changes your real name."]),
    topic(
        "STATS",
        "STATS k|d",
        &["Lists the server bans: k masks and accounts, d addresses (server operators only)."],
    ),
    topic(
        "TAGMSG",
        "TAGMSG target[,target]",
        &["Sends client tags (such as typing) alone."],
    ),
    topic("TIME", "TIME", &["Shows the server's time (UTC)."]),
    topic(
        "TOPIC",
        "TOPIC #channel [text]",
        &["Shows a channel's topic, or sets it (TOPIC #channel : clears it)."],
    ),
    topic(
        "UNDLINE",
        "UNDLINE address|range",
        &["Lifts a server ban on an address or range (server operators only)."],
    ),
    topic(
        "UNKLINE",
        "UNKLINE user@host|nick!user@host|$a:account",
        &["Lifts a server ban on a mask or an account (server operators only)."],
    ),
    topic(
        "USER",
        "USER username 0 * realname",
        &["Gives your user name and real name."],
    ),
    topic(
        "USERHOST",
        "USERHOST nick [nick ...]",
        &["Shows nick!user@host of up to 5 nicks."],
    ),
    topic(
        "WALLOPS",
        "WALLOPS text",
        &["Sends a message to everyone with user mode +w (server operators only)."],
    ),
    topic(
        "WHO",
        "WHO #channel | WHO mask",
        &["Lists the members of a channel, or matching users."],
    ),
    topic(
        "WHOIS",
        "WHOIS nick",
        &["Shows who someone is, and the channels you may see them in."],
    ),
    topic(
        "WHOWAS",
        "WHOWAS nick [count]",
        &["Shows who last used a nick that is gone, newest first."],
    ),
];

pub fn help(session: &mut IrcSession, message: &Message) -> Flow {
    let Some(subject) = message.params.first() else {
        let commands: Vec<&str> = TOPICS.iter().map(|topic| topic.command).collect();
        session.numeric(
            RPL_HELPSTART,
            &[INDEX, "Commands (HELP <command> for one of them):"],
        );
        for line in commands.chunks(10) {
            session.numeric(RPL_HELPTXT, &[INDEX, &line.join(" ")]);
        }
        session.numeric(RPL_ENDOFHELP, &[INDEX, "End of /HELP"]);
        return Flow::Continue;
    };
    let Some(topic) = TOPICS
        .iter()
        .find(|topic| topic.command.eq_ignore_ascii_case(subject))
    else {
        session.numeric(
            ERR_HELPNOTFOUND,
            &[subject, "No help available on this topic"],
        );
        return Flow::Continue;
    };
    session.numeric(RPL_HELPSTART, &[topic.command, topic.syntax]);
    for line in topic.text {
        session.numeric(RPL_HELPTXT, &[topic.command, line]);
    }
    session.numeric(RPL_ENDOFHELP, &[topic.command, "End of /HELP"]);
    Flow::Continue
}

/// Whether `command` has a help topic.
#[cfg(test)]
pub fn has_topic(command: &str) -> bool {
    TOPICS.iter().any(|topic| topic.command == command)
}
