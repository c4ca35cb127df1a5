//! Bot mode (IRC user mode `+B` and the `bot` tag, text `/bot`) and status messages (IRC
//! `STATUSMSG`: `PRIVMSG @#room`, text `/msg @#room`) over real sockets, on both protocols
//! (`docs/PROTOCOL.md`).

mod support;

use support::{Client, IrcClient, TestServer, expect_replies, irc_mask, parse, untagged};

/// Reads the next line and asserts what it is without tags, and whether it carries the `bot`
/// tag.
async fn expect_tagged(client: &mut IrcClient, expected: &str, bot_tag: bool) {
    let line = client.line().await;
    assert_eq!(untagged(&line), expected, "{} got {line:?}", client.nick);
    assert_eq!(
        parse(&line).tag("bot").is_some(),
        bot_tag,
        "{} got {line:?}",
        client.nick
    );
}

/// The `335 RPL_WHOISBOT` line of `asker`'s `WHOIS nick`, if there is one.
async fn whois_bot_line(asker: &mut IrcClient, nick: &str) -> Option<String> {
    asker.send(&format!("WHOIS {nick}")).await;
    let mut bot_line = None;
    loop {
        let line = asker.line().await;
        let message = parse(&line);
        match message.command.as_str() {
            "335" => bot_line = Some(line),
            "318" => return bot_line,
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_is_marked_in_modes_who_whois_and_a_tag_on_what_it_does() {
    let server = TestServer::start().await;
    let mut bot = server
        .irc_with_caps("bot", &["echo-message", "message-tags"])
        .await;
    let mut tagged = server.irc_with_caps("tagged", &["message-tags"]).await;
    let mut plain = server.irc("plain").await;

    expect_replies(&mut bot, "MODE bot +B", &[":bot MODE bot +B"]).await;
    expect_replies(&mut bot, "MODE bot +Bi", &[":bot MODE bot +i"]).await;
    expect_replies(&mut bot, "MODE bot", &[":palaver.local 221 bot +Bi"]).await;

    bot.join("#a").await;
    tagged.join("#a").await;
    plain.join("#a").await;
    bot.skip_until(|m| m.command == "JOIN" && m.source.as_deref() == Some(&irc_mask("plain")))
        .await;
    tagged
        .skip_until(|m| m.command == "JOIN" && m.source.as_deref() == Some(&irc_mask("plain")))
        .await;

    // Every message of the bot carries the tag for clients with message-tags, its echo too.
    bot.send("PRIVMSG #a :beep boop").await;
    expect_tagged(&mut bot, ":bot!~bot@127.0.0.1 PRIVMSG #a :beep boop", true).await;
    expect_tagged(
        &mut tagged,
        ":bot!~bot@127.0.0.1 PRIVMSG #a :beep boop",
        true,
    )
    .await;
    expect_tagged(
        &mut plain,
        ":bot!~bot@127.0.0.1 PRIVMSG #a :beep boop",
        false,
    )
    .await;
    bot.send("PRIVMSG tagged :hello").await;
    expect_tagged(&mut bot, ":bot!~bot@127.0.0.1 PRIVMSG tagged hello", true).await;
    expect_tagged(
        &mut tagged,
        ":bot!~bot@127.0.0.1 PRIVMSG tagged hello",
        true,
    )
    .await;
    bot.send("TOPIC #a :robots").await;
    expect_tagged(&mut tagged, ":bot!~bot@127.0.0.1 TOPIC #a robots", true).await;
    bot.skip_until(|m| m.command == "TOPIC").await;
    plain.skip_until(|m| m.command == "TOPIC").await;
    // Others' messages do not.
    tagged.send("PRIVMSG #a :human").await;
    expect_tagged(
        &mut bot,
        ":tagged!~tagged@127.0.0.1 PRIVMSG #a human",
        false,
    )
    .await;
    plain.skip_until(|m| m.command == "PRIVMSG").await;

    // `B` among the flags, after H/G and before the prefixes.
    expect_replies(
        &mut plain,
        "WHO #a",
        &[
            ":palaver.local 352 plain #a ~bot 127.0.0.1 palaver.local bot HB@ :0 bot real name",
            ":palaver.local 352 plain #a ~tagged 127.0.0.1 palaver.local tagged H :0 tagged real name",
            ":palaver.local 352 plain #a ~plain 127.0.0.1 palaver.local plain H :0 plain real name",
            ":palaver.local 315 plain #a :End of WHO list",
        ],
    )
    .await;
    expect_replies(
        &mut plain,
        "WHO bot %nf",
        &[
            ":palaver.local 354 plain bot HB",
            ":palaver.local 315 plain bot :End of WHO list",
        ],
    )
    .await;
    assert_eq!(
        whois_bot_line(&mut plain, "bot").await.as_deref(),
        Some(":palaver.local 335 plain bot :is a bot")
    );
    assert_eq!(whois_bot_line(&mut plain, "tagged").await, None);

    // Unmarked, it is a user like any other.
    expect_replies(&mut bot, "MODE bot -B", &[":bot MODE bot -B"]).await;
    bot.send("PRIVMSG #a :human now").await;
    expect_tagged(
        &mut tagged,
        ":bot!~bot@127.0.0.1 PRIVMSG #a :human now",
        false,
    )
    .await;
    assert_eq!(whois_bot_line(&mut plain, "bot").await, None);
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_user_marks_itself_as_a_bot() {
    let server = TestServer::start().await;
    let mut robot = Client::named(server.address, "robot").await;
    let mut tagged = server.irc_with_caps("tagged", &["message-tags"]).await;
    tagged.join("#lobby").await;
    robot.expect("-- tagged joined #lobby").await;

    robot.send("/bot on").await;
    robot.expect("-- you are now marked as a bot").await;
    robot.send("beep").await;
    robot.expect("#lobby <robot> beep").await;
    expect_tagged(
        &mut tagged,
        ":robot!text@127.0.0.1 PRIVMSG #lobby beep",
        true,
    )
    .await;
    assert_eq!(
        whois_bot_line(&mut tagged, "robot").await.as_deref(),
        Some(":palaver.local 335 tagged robot :is a bot")
    );
    robot.send("/bot off").await;
    robot.expect("-- you are no longer marked as a bot").await;
    robot.send("plain").await;
    robot.expect("#lobby <robot> plain").await;
    expect_tagged(
        &mut tagged,
        ":robot!text@127.0.0.1 PRIVMSG #lobby plain",
        false,
    )
    .await;
    robot.send("/bot").await;
    robot.expect("! usage: /bot on|off").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_messages_reach_only_members_with_the_status_named() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc_with_caps("bob", &["echo-message"]).await;
    let mut vic = server.irc("vic").await;
    let mut joe = server.irc("joe").await;
    let mut tom = Client::named(server.address, "tom").await;
    alice.join("#a").await;
    for (member, nick) in [(&mut bob, "bob"), (&mut vic, "vic"), (&mut joe, "joe")] {
        member.join("#a").await;
        alice
            .expect_line(&format!(":{} JOIN #a", irc_mask(nick)))
            .await;
    }
    tom.send("/join #a").await;
    tom.skip_until("-- tom joined #a").await;
    alice.expect_line(":tom!text@127.0.0.1 JOIN #a").await;
    for change in ["+o bob", "+v vic", "+o tom"] {
        alice.send(&format!("MODE #a {change}")).await;
        alice
            .expect_line(&format!(":{} MODE #a {change}", irc_mask("alice")))
            .await;
    }
    for member in [&mut bob, &mut vic, &mut joe] {
        member
            .skip_until(|m| m.command == "MODE" && m.params[2] == "tom")
            .await;
    }
    tom.skip_until("-- alice set mode +o tom on #a").await;

    // `@#a`: the operators, whoever sends it (any member may).
    bob.send("PRIVMSG @#a :ops only").await;
    bob.expect_line(":bob!~bob@127.0.0.1 PRIVMSG @#a :ops only")
        .await;
    alice
        .expect_line(":bob!~bob@127.0.0.1 PRIVMSG @#a :ops only")
        .await;
    tom.expect("@#a <bob> ops only").await;
    joe.send("PRIVMSG @#a :a question for the ops").await;
    alice
        .expect_line(":joe!~joe@127.0.0.1 PRIVMSG @#a :a question for the ops")
        .await;
    bob.expect_line(":joe!~joe@127.0.0.1 PRIVMSG @#a :a question for the ops")
        .await;
    tom.expect("@#a <joe> a question for the ops").await;
    // `+#a`: voiced members as well.
    vic.send("NOTICE +#a :voiced too").await;
    alice
        .expect_line(":vic!~vic@127.0.0.1 NOTICE +#a :voiced too")
        .await;
    bob.expect_line(":vic!~vic@127.0.0.1 NOTICE +#a :voiced too")
        .await;
    tom.expect("+#a -vic- voiced too").await;
    // From the text protocol: `/msg @#a`.
    tom.send("/msg @#a from text").await;
    tom.expect("@#a <tom> from text").await;
    alice
        .expect_line(":tom!text@127.0.0.1 PRIVMSG @#a :from text")
        .await;
    bob.expect_line(":tom!text@127.0.0.1 PRIVMSG @#a :from text")
        .await;
    for client in [&mut alice, &mut bob, &mut vic, &mut joe] {
        client.expect_quiet().await;
    }

    // Errors as for the room itself.
    expect_replies(
        &mut joe,
        "PRIVMSG @#nope :hello",
        &[":palaver.local 403 joe @#nope :No such channel"],
    )
    .await;
    let mut outsider = server.irc("outsider").await;
    expect_replies(
        &mut outsider,
        "PRIVMSG @#a :let me in",
        &[":palaver.local 404 outsider #a :Cannot send to channel (no external messages)"],
    )
    .await;
    tom.send("/msg +#nope hi").await;
    tom.expect("! no such room: #nope").await;

    // None of it is history, which every member could read.
    tom.send("/history").await;
    tom.expect("-- #a has no history").await;
    server.shut_down().await;
}
