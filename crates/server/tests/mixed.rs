//! One community, two protocols: text-protocol and IRC users in the same rooms, over real
//! sockets, with the exact lines each side gets for what the other does.

mod support;

use palaver_server::config::Overrides;
use support::{Client, IrcClient, TestServer, join_witnessed, parse, untagged};

/// Connects a text user, renames it to `nick`, and has every text client in `witnesses`
/// (all in the lobby) read its join and rename.
async fn text_user(server: &TestServer, nick: &str, witnesses: &mut [&mut Client]) -> Client {
    let mut client = Client::connect(server.address).await;
    let guest = client.nick.clone();
    client.rename(nick).await;
    for witness in witnesses.iter_mut() {
        witness.expect(&format!("-- {guest} joined #lobby")).await;
        witness
            .expect(&format!("-- {guest} is now known as {nick}"))
            .await;
    }
    client
}

/// An IRC user joins `channel`, reads its replies up to `366`; IRC `witnesses` read the
/// `JOIN`, text `text_witnesses` read `-- nick joined #channel`.
async fn irc_join(
    joiner: &mut IrcClient,
    channel: &str,
    witnesses: &mut [&mut IrcClient],
    text_witnesses: &mut [&mut Client],
) {
    join_witnessed(joiner, channel, witnesses).await;
    for witness in text_witnesses.iter_mut() {
        witness
            .expect(&format!("-- {} joined {channel}", joiner.nick))
            .await;
    }
}

/// A text user joins `channel`; IRC `witnesses` read its `JOIN`.
async fn text_join(joiner: &mut Client, channel: &str, witnesses: &mut [&mut IrcClient]) {
    joiner.send(&format!("/join {channel}")).await;
    joiner
        .expect(&format!("-- {} joined {channel}", joiner.nick))
        .await;
    let expected = format!(":{}!text@127.0.0.1 JOIN {channel}", joiner.nick);
    for witness in witnesses.iter_mut() {
        witness.expect_raw(&expected).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Messages

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_irc_users_talk_both_ways_in_a_room() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut ian = server.irc("ian").await;
    ian.send("JOIN #lobby").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 JOIN #lobby").await;
    // The text user founded the lobby, so she is its operator.
    ian.expect_raw(":palaver.local 353 ian = #lobby :@tina ian")
        .await;
    ian.expect_raw(":palaver.local 366 ian #lobby :End of /NAMES list")
        .await;
    tina.expect("-- ian joined #lobby").await;

    tina.send("hi there").await;
    let receipt = tina.raw_line().await;
    assert_eq!(support::untimed(&receipt), "#lobby <tina> hi there");
    ian.expect_raw(":tina!text@127.0.0.1 PRIVMSG #lobby :hi there")
        .await;

    ian.send("PRIVMSG #lobby :hello tina").await;
    let line = tina.raw_line().await;
    assert!(line.starts_with('['), "stamped: {line:?}");
    assert_eq!(support::untimed(&line), "#lobby <ian> hello tina");
    // No echo for the IRC sender without echo-message.
    ian.expect_quiet().await;

    // One-word texts and texts starting with ':' keep their exact content on IRC.
    tina.send("hi").await;
    tina.expect("#lobby <tina> hi").await;
    ian.expect_raw(":tina!text@127.0.0.1 PRIVMSG #lobby hi")
        .await;
    tina.send(":-) smile").await;
    tina.expect("#lobby <tina> :-) smile").await;
    ian.expect_raw(":tina!text@127.0.0.1 PRIVMSG #lobby ::-) smile")
        .await;
    tina.send(":)").await;
    tina.expect("#lobby <tina> :)").await;
    let line = ian.line().await;
    assert_eq!(parse(&line).params, ["#lobby", ":)"], "{line:?}");

    // A notice to the room, and IRC formatting codes, which the text protocol passes on.
    ian.send("NOTICE #lobby :please read the rules").await;
    tina.expect("#lobby -ian- please read the rules").await;
    ian.send("PRIVMSG #lobby :\x02bold\x02 and \x1ditalic\x1d")
        .await;
    tina.expect("#lobby <ian> \x02bold\x02 and \x1ditalic\x1d")
        .await;
    // A message to the room and to tina at once arrives twice, once each way.
    ian.send("PRIVMSG #lobby,tina :to both").await;
    tina.expect("#lobby <ian> to both").await;
    tina.expect("*ian* to both").await;
    tina.sync().await;
    ian.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_are_ctcp_action_on_irc_both_ways() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut ian = server.irc("ian").await;
    irc_join(&mut ian, "#lobby", &mut [], &mut [&mut tina]).await;

    tina.send("/me waves hello").await;
    tina.expect("#lobby * tina waves hello").await;
    ian.expect_raw(":tina!text@127.0.0.1 PRIVMSG #lobby :\x01ACTION waves hello\x01")
        .await;
    ian.send("PRIVMSG #lobby :\x01ACTION waves\x01").await;
    tina.expect("#lobby * ian waves").await;
    // A missing closing \x01 is tolerated.
    ian.send("PRIVMSG #lobby :\x01ACTION nods slowly").await;
    tina.expect("#lobby * ian nods slowly").await;
    // In private.
    ian.send("PRIVMSG tina :\x01ACTION pokes you\x01").await;
    tina.expect("*ian* * ian pokes you").await;
    // Other CTCPs are plain messages.
    ian.send("PRIVMSG #lobby :\x01VERSION\x01").await;
    // Other CTCP requests reach text users as text, their \x01 markers made harmless.
    tina.expect("#lobby <ian> \u{fffd}VERSION\u{fffd}").await;
    tina.sync().await;
    ian.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_messages_and_notices_cross_protocols() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut ian = server.irc("ian").await;

    tina.send("/msg ian hi there").await;
    tina.expect("-> *ian* hi there").await;
    ian.expect_raw(":tina!text@127.0.0.1 PRIVMSG ian :hi there")
        .await;
    // Nicks are case-insensitive; the recipient's spelling is used.
    tina.send("/msg IAN shouting").await;
    tina.expect("-> *ian* shouting").await;
    ian.expect_raw(":tina!text@127.0.0.1 PRIVMSG ian shouting")
        .await;

    ian.send("PRIVMSG tina :yo there").await;
    tina.expect("*ian* yo there").await;
    ian.send("PRIVMSG TINA :yo again").await;
    tina.expect("*ian* yo again").await;
    ian.send("NOTICE tina :a private notice").await;
    tina.expect("*ian* -ian- a private notice").await;
    ian.expect_quiet().await;

    // An IRC user with echo-message sees its own copy.
    let mut mia = server.irc_with_caps("mia", &["echo-message"]).await;
    mia.send("PRIVMSG tina :echoed to me").await;
    mia.expect_raw(":mia!~mia@127.0.0.1 PRIVMSG tina :echoed to me")
        .await;
    tina.expect("*mia* echoed to me").await;

    // Errors on each side.
    tina.send("/msg nobody hello").await;
    tina.expect("! no such nick: nobody").await;
    ian.send("PRIVMSG nobody :hello").await;
    ian.expect_raw(":palaver.local 401 ian nobody :No such nick")
        .await;
    tina.sync().await;
    server.shut_down().await;
}

/// Characters that could rewrite a terminal (the text protocol refuses them from text
/// clients for this reason, `docs/PROTOCOL.md`): TAB, DEL and the IRC formatting codes are the
/// only controls allowed.
fn is_terminal_control(c: char) -> bool {
    const IRC_FORMATTING: &[char] = &[
        '\x02', '\x03', '\x04', '\x0f', '\x11', '\x16', '\x1d', '\x1e', '\x1f',
    ];
    c.is_control() && c != '\t' && c != '\x7f' && !IRC_FORMATTING.contains(&c)
}

/// The text protocol promises that nobody reading with `nc` gets terminal control sequences
/// (ESC, BEL, C1 controls): what an IRC user sends must not smuggle them in, whether the
/// server refuses such a message or cleans it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_users_cannot_send_terminal_controls_to_text_users() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut ian = server.irc("ian").await;
    let mut jo = server.irc("jo").await;
    irc_join(&mut ian, "#lobby", &mut [], &mut [&mut tina]).await;
    irc_join(&mut jo, "#lobby", &mut [&mut ian], &mut [&mut tina]).await;
    irc_join(&mut ian, "#x", &mut [], &mut []).await;
    text_join(&mut tina, "#x", &mut [&mut ian]).await;

    // Every way an IRC user's free text reaches a text user.
    ian.send("PRIVMSG #lobby :clear\x1b[2Jscreen").await;
    ian.send("PRIVMSG tina :ring\x07bell").await;
    ian.send("NOTICE #lobby :c1\u{9b}31mred").await;
    ian.send("PRIVMSG #lobby :\x01ACTION blinks\x1b[5m\x01")
        .await;
    ian.send("TOPIC #x :\x1b]0;title\x07").await;
    ian.send("KICK #x tina :\x1b[8mhidden").await;
    jo.send("PART #lobby :\x1bc").await;
    jo.send("JOIN #lobby").await;
    jo.send("QUIT :\x1b[?1049h").await;
    jo.expect_closed().await;
    ian.send("PRIVMSG #lobby :the end").await;
    let lines = tina.skip_until("#lobby <ian> the end").await;
    let smuggled: Vec<&String> = lines
        .iter()
        .filter(|line| line.chars().any(is_terminal_control))
        .collect();
    assert!(
        smuggled.is_empty(),
        "terminal controls reached a text user: {smuggled:#?}"
    );
    server.shut_down().await;
}

/// Reads the lines of one long message, until their texts add up to `total` bytes.
async fn read_message_lines(client: &mut IrcClient, total: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut received = 0;
    while received < total {
        let line = client.line().await;
        received += parse(&line).params.get(1).map_or(0, String::len);
        lines.push(line);
    }
    assert_eq!(received, total, "{lines:?}");
    lines
}

/// Splits the text of a long message as IRC receives it, checking each line.
fn irc_chunks(lines: &[String], source: &str, target: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let rest = untagged(line);
        // 512 bytes including CRLF, tags excluded.
        assert!(
            rest.len() + 2 <= 512,
            "line {index} too long: {}",
            rest.len()
        );
        if index + 1 < lines.len() {
            // Split only when the next character did not fit (at most 4 bytes each).
            assert!(
                rest.len() + 2 >= 509,
                "line {index} split early: {}",
                rest.len()
            );
        }
        let message = parse(line);
        assert_eq!(message.source.as_deref(), Some(source), "{line:?}");
        assert_eq!(message.command, "PRIVMSG", "{line:?}");
        assert_eq!(message.params.len(), 2, "{line:?}");
        assert_eq!(message.params[0], target, "{line:?}");
        chunks.push(message.params[1].clone());
    }
    chunks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_text_messages_are_split_into_several_irc_lines() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut tom = text_user(&server, "tom", &mut [&mut tina]).await;
    let mut ian = server.irc("ian").await;
    let mut mia = server.irc_with_caps("mia", &["message-tags"]).await;
    irc_join(&mut ian, "#lobby", &mut [], &mut [&mut tina, &mut tom]).await;
    irc_join(
        &mut mia,
        "#lobby",
        &mut [&mut ian],
        &mut [&mut tina, &mut tom],
    )
    .await;

    // About 1500 bytes of one-, two-, three- and four-byte characters.
    let piece = "Grüße, 世界! 🦀 ok ";
    let mut text = String::new();
    while text.len() < 1510 {
        text.push_str(piece);
    }
    let text = text.trim_end().to_owned();
    assert!(text.len() >= 1500);
    tina.send(&text).await;
    let receipt = tina.raw_line().await;
    assert_eq!(support::untimed(&receipt), format!("#lobby <tina> {text}"));
    assert_eq!(tom.raw_line().await, receipt);

    let plain = read_message_lines(&mut ian, text.len()).await;
    assert!(plain.len() >= 4, "{} lines", plain.len());
    let chunks = irc_chunks(&plain, "tina!text@127.0.0.1", "#lobby");
    assert_eq!(chunks.concat(), text);
    for line in &plain {
        assert!(!line.starts_with('@'), "no tags without caps: {line:?}");
    }
    // With message-tags: the same lines, with msgids `id`, `id-2`, `id-3`, …
    let tagged = read_message_lines(&mut mia, text.len()).await;
    assert_eq!(tagged.len(), plain.len());
    let id = parse(&tagged[0]).tag("msgid").unwrap_or("").to_owned();
    assert!(!id.is_empty(), "{:?}", tagged[0]);
    for (index, (tagged, plain)) in tagged.iter().zip(&plain).enumerate() {
        let expected_id = if index == 0 {
            id.clone()
        } else {
            format!("{id}-{}", index + 1)
        };
        assert_eq!(tagged, &format!("@msgid={expected_id} {plain}"));
    }

    // A private message too.
    tina.send(&format!("/msg ian {text}")).await;
    tina.expect(&format!("-> *ian* {text}")).await;
    let private = read_message_lines(&mut ian, text.len()).await;
    let chunks = irc_chunks(&private, "tina!text@127.0.0.1", "ian");
    assert_eq!(chunks.concat(), text);
    ian.expect_quiet().await;
    mia.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_only_events_are_invisible_to_text_users() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut ian = server.irc_with_caps("ian", &["message-tags"]).await;
    irc_join(&mut ian, "#lobby", &mut [], &mut [&mut tina]).await;
    ian.send("@+typing=active TAGMSG #lobby").await;
    ian.send("@+typing=active TAGMSG tina").await;
    ian.send("AWAY :lunch").await;
    ian.send("AWAY").await;
    ian.send("SETNAME :A New Name").await;
    ian.sync().await;
    // The reply to /rooms is the very next line.
    tina.sync().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Presence: nicks, joins, parts, quits, kicks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nick_changes_are_seen_across_protocols() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut ian = server.irc("ian").await;
    irc_join(&mut ian, "#lobby", &mut [], &mut [&mut tina]).await;

    tina.send("/nick tilda").await;
    tina.expect("-- tina is now known as tilda").await;
    ian.expect_raw(":tina!text@127.0.0.1 NICK tilda").await;
    ian.send("NICK ivan").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 NICK ivan").await;
    tina.expect("-- ian is now known as ivan").await;
    ian.nick = "ivan".into();

    // One namespace, case-insensitive.
    tina.send("/nick IVAN").await;
    tina.expect("! nick IVAN is taken").await;
    ian.send("NICK Tilda").await;
    ian.expect_raw(":palaver.local 433 ivan Tilda :Nickname is already in use")
        .await;
    // The new nicks work for messages.
    tina.send("/msg ivan still me").await;
    tina.expect("-> *ivan* still me").await;
    ian.expect_raw(":tilda!text@127.0.0.1 PRIVMSG ivan :still me")
        .await;
    ian.send("PRIVMSG tilda :got it").await;
    tina.expect("*ivan* got it").await;
    tina.sync().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_parts_quits_and_kicks_cross_protocols() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut tom = text_user(&server, "tom", &mut [&mut tina]).await;
    let mut ian = server.irc("ian").await;
    let mut xj = server.irc_with_caps("xj", &["extended-join"]).await;

    irc_join(&mut ian, "#x", &mut [], &mut []).await;
    irc_join(&mut xj, "#x", &mut [&mut ian], &mut []).await;
    // A text user's JOIN; with extended-join its (empty) real name.
    tina.send("/join #x").await;
    tina.expect("-- tina joined #x").await;
    ian.expect_raw(":tina!text@127.0.0.1 JOIN #x").await;
    xj.expect_raw(":tina!text@127.0.0.1 JOIN #x * :").await;
    text_join(&mut tom, "#x", &mut [&mut ian]).await;
    tina.expect("-- tom joined #x").await;
    xj.expect_raw(":tom!text@127.0.0.1 JOIN #x * :").await;

    // Parts, with and without a reason.
    tom.send("/part #x bye now").await;
    tom.expect("-- tom left #x (bye now)").await;
    tina.expect("-- tom left #x (bye now)").await;
    ian.expect_raw(":tom!text@127.0.0.1 PART #x :bye now").await;
    xj.expect_raw(":tom!text@127.0.0.1 PART #x :bye now").await;
    tom.expect("-- now talking in #lobby").await;
    text_join(&mut tom, "#x", &mut [&mut ian]).await;
    xj.expect_raw(":tom!text@127.0.0.1 JOIN #x * :").await;
    tina.expect("-- tom joined #x").await;
    tom.send("/part").await;
    tom.expect("-- tom left #x").await;
    tina.expect("-- tom left #x").await;
    ian.expect_raw(":tom!text@127.0.0.1 PART #x").await;
    xj.expect_raw(":tom!text@127.0.0.1 PART #x").await;
    tom.expect("-- now talking in #lobby").await;

    xj.send("PART #x :gone away").await;
    xj.expect_raw(":xj!~xj@127.0.0.1 PART #x :gone away").await;
    ian.expect_raw(":xj!~xj@127.0.0.1 PART #x :gone away").await;
    tina.expect("-- xj left #x (gone away)").await;
    irc_join(&mut xj, "#x", &mut [&mut ian], &mut [&mut tina]).await;
    xj.send("PART #x").await;
    xj.expect_raw(":xj!~xj@127.0.0.1 PART #x").await;
    ian.expect_raw(":xj!~xj@127.0.0.1 PART #x").await;
    tina.expect("-- xj left #x").await;

    // A kick of a text user, and where her text goes next.
    ian.send("KICK #x tina :behave yourself").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 KICK #x tina :behave yourself")
        .await;
    tina.expect("-- tina was kicked from #x by ian (behave yourself)")
        .await;
    tina.send("back in the lobby").await;
    tina.expect("-- now talking in #lobby").await;
    tina.expect("#lobby <tina> back in the lobby").await;
    tom.expect("#lobby <tina> back in the lobby").await;

    // Quits: IRC to text, and text to IRC.
    irc_join(&mut xj, "#lobby", &mut [], &mut [&mut tina, &mut tom]).await;
    xj.send("QUIT :bye all").await;
    let last = xj.expect_closed().await;
    assert_eq!(
        last,
        ["ERROR :Closing link: (~xj@127.0.0.1) [Quit: bye all]"]
    );
    tina.expect("-- xj left (Quit: bye all)").await;
    tom.expect("-- xj left (Quit: bye all)").await;

    irc_join(&mut ian, "#lobby", &mut [], &mut [&mut tina, &mut tom]).await;
    tom.send("/quit see ya").await;
    tom.expect("-- goodbye").await;
    tom.expect_closed().await;
    ian.expect_raw(":tom!text@127.0.0.1 QUIT :see ya").await;
    tina.expect("-- tom left (see ya)").await;

    // Dropped connections, both ways.
    let mut jo = server.irc("jo").await;
    irc_join(&mut jo, "#lobby", &mut [&mut ian], &mut [&mut tina]).await;
    jo.sync().await;
    drop(jo);
    tina.expect("-- jo left (connection closed)").await;
    ian.expect_raw(":jo!~jo@127.0.0.1 QUIT :connection closed")
        .await;
    tina.sync().await;
    drop(tina);
    ian.expect_raw(":tina!text@127.0.0.1 QUIT :connection closed")
        .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Topics and listings

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_cross_protocols_and_follow_the_room_modes() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut ian = server.irc("ian").await;
    irc_join(&mut ian, "#x", &mut [], &mut []).await;
    text_join(&mut tina, "#x", &mut [&mut ian]).await;

    ian.send("TOPIC #x :all about x").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 TOPIC #x :all about x")
        .await;
    tina.expect("-- ian changed the topic of #x to: all about x")
        .await;
    tina.send("/topic").await;
    tina.expect("-- topic of #x: all about x").await;

    // #x is +t and tina is no operator.
    tina.send("/topic #x mine now").await;
    tina.expect("! you need to be a room operator in #x").await;
    ian.send("MODE #x -t").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #x -t").await;
    tina.expect("-- ian set mode -t on #x").await;
    tina.send("/topic #x mine now").await;
    tina.expect("-- tina changed the topic of #x to: mine now")
        .await;
    ian.expect_raw(":tina!text@127.0.0.1 TOPIC #x :mine now")
        .await;
    ian.send("TOPIC #x").await;
    ian.expect_raw(":palaver.local 332 ian #x :mine now").await;
    let who_time = ian.expect_command("333").await;
    assert_eq!(who_time.params[..3], ["ian", "#x", "tina!text@127.0.0.1"]);
    assert!(who_time.params[3].parse::<u64>().is_ok(), "{who_time:?}");

    // IRC can clear a topic.
    ian.send("TOPIC #x :").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 TOPIC #x :").await;
    tina.expect("-- ian cleared the topic of #x").await;
    tina.send("/topic #x").await;
    tina.expect("-- #x has no topic").await;

    // A room founded by a text user: she is its operator and sets the topic of a +t room.
    tina.send("/join #t").await;
    tina.expect("-- tina joined #t").await;
    ian.send("JOIN #t").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 JOIN #t").await;
    ian.expect_raw(":palaver.local 353 ian = #t :@tina ian")
        .await;
    ian.skip_until(|m| m.command == "366").await;
    tina.expect("-- ian joined #t").await;
    tina.send("/topic text topic here").await;
    tina.expect("-- tina changed the topic of #t to: text topic here")
        .await;
    ian.expect_raw(":tina!text@127.0.0.1 TOPIC #t :text topic here")
        .await;
    ian.send("TOPIC #t :not yours").await;
    ian.expect_raw(":palaver.local 482 ian #t :You're not a channel operator")
        .await;
    // Joiners get the topic in their own form.
    let mut jo = server.irc("jo").await;
    jo.send("JOIN #t").await;
    jo.expect_command("JOIN").await;
    jo.expect_raw(":palaver.local 332 jo #t :text topic here")
        .await;
    let who_time = jo.expect_command("333").await;
    assert_eq!(who_time.params[..3], ["jo", "#t", "tina!text@127.0.0.1"]);
    tina.expect("-- jo joined #t").await;
    let mut tom = text_user(&server, "tom", &mut [&mut tina]).await;
    tom.send("/join #t").await;
    tom.expect("-- tom joined #t").await;
    tom.expect("-- topic of #t: text topic here").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_show_both_kinds_of_users_and_rooms() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut tom = text_user(&server, "tom", &mut [&mut tina]).await;
    let mut ian = server.irc("ian").await;
    irc_join(&mut ian, "#lobby", &mut [], &mut [&mut tina, &mut tom]).await;
    irc_join(&mut ian, "#irc", &mut [], &mut []).await;
    text_join(&mut tina, "#irc", &mut [&mut ian]).await;
    ian.send("MODE #irc +v tina").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #irc +v tina")
        .await;
    tina.expect("-- ian set mode +v tina on #irc").await;

    // /who marks operators (only) with @, in join order.
    tina.send("/who #lobby").await;
    tina.expect("-- members of #lobby (3): @tina tom ian").await;
    tina.send("/who").await;
    tina.expect("-- members of #irc (2): @ian tina").await;

    ian.send("NAMES #lobby").await;
    ian.expect_raw(":palaver.local 353 ian = #lobby :@tina tom ian")
        .await;
    ian.expect_raw(":palaver.local 366 ian #lobby :End of /NAMES list")
        .await;
    ian.send("NAMES #irc").await;
    ian.expect_raw(":palaver.local 353 ian = #irc :@ian +tina")
        .await;
    ian.expect_raw(":palaver.local 366 ian #irc :End of /NAMES list")
        .await;
    ian.send("WHO #lobby").await;
    ian.expect_raw(":palaver.local 352 ian #lobby text 127.0.0.1 palaver.local tina H@ :0 ")
        .await;
    ian.expect_raw(":palaver.local 352 ian #lobby text 127.0.0.1 palaver.local tom H :0 ")
        .await;
    ian.expect_raw(
        ":palaver.local 352 ian #lobby ~ian 127.0.0.1 palaver.local ian H :0 ian real name",
    )
    .await;
    ian.expect_raw(":palaver.local 315 ian #lobby :End of WHO list")
        .await;
    ian.send("WHOIS tina").await;
    ian.expect_raw(":palaver.local 311 ian tina text 127.0.0.1 * :")
        .await;
    ian.expect_raw(":palaver.local 319 ian tina :@#lobby +#irc")
        .await;
    ian.expect_raw(":palaver.local 312 ian tina palaver.local palaver")
        .await;
    ian.expect_command("317").await;
    ian.expect_raw(":palaver.local 318 ian tina :End of /WHOIS list")
        .await;
    ian.send("ISON tina nobody tom").await;
    ian.expect_raw(":palaver.local 303 ian :tina tom").await;
    ian.send("USERHOST tina").await;
    ian.expect_raw(":palaver.local 302 ian tina=+text@127.0.0.1")
        .await;

    // Rooms made on either side are listed on both.
    irc_join(&mut ian, "#quiet", &mut [], &mut []).await;
    ian.send("TOPIC #quiet :irc topic here").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 TOPIC #quiet :irc topic here")
        .await;
    tom.send("/join #text-made").await;
    tom.expect("-- tom joined #text-made").await;
    tom.send("/topic made by text").await;
    tom.expect("-- tom changed the topic of #text-made to: made by text")
        .await;
    tina.send("/rooms").await;
    tina.expect("-- 4 rooms").await;
    tina.expect("-- #irc (2)").await;
    tina.expect("-- #lobby (3)").await;
    tina.expect("-- #quiet (1) irc topic here").await;
    tina.expect("-- #text-made (1) made by text").await;
    ian.send("LIST").await;
    ian.expect_raw(":palaver.local 321 ian Channel :Users  Name")
        .await;
    ian.expect_raw(":palaver.local 322 ian #irc 2 :").await;
    ian.expect_raw(":palaver.local 322 ian #lobby 3 :").await;
    ian.expect_raw(":palaver.local 322 ian #quiet 1 :irc topic here")
        .await;
    ian.expect_raw(":palaver.local 322 ian #text-made 1 :made by text")
        .await;
    ian.expect_raw(":palaver.local 323 ian :End of /LIST").await;
    // A secret room is hidden from non-members on both sides.
    ian.send("MODE #quiet +s").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #quiet +s").await;
    tina.send("/rooms").await;
    tina.expect("-- 3 rooms").await;
    tina.expect("-- #irc (2)").await;
    tina.expect("-- #lobby (3)").await;
    tina.expect("-- #text-made (1) made by text").await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Host cloaking

/// Whether `host` looks like a cloak: 16 lowercase hex digits and `.cloak`.
fn is_cloak(host: &str) -> bool {
    host.strip_suffix(".cloak").is_some_and(|hash| {
        hash.len() == 16
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloaked_hosts_hide_the_address_of_text_and_irc_users() {
    let server = TestServer::start_with(Overrides {
        cloak_hosts: Some(true),
        ..Overrides::default()
    })
    .await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut ian = server.irc("ian").await;
    ian.send("WHOIS ian").await;
    let whois = ian.expect_command("311").await;
    ian.skip_until(|m| m.command == "318").await;
    let cloak = whois.params[3].clone();
    assert!(is_cloak(&cloak), "{cloak:?}");
    assert_eq!(whois.params[..3], ["ian", "ian", "~ian"]);

    ian.send("JOIN #lobby").await;
    ian.expect_raw(&format!(":ian!~ian@{cloak} JOIN #lobby"))
        .await;
    ian.skip_until(|m| m.command == "366").await;
    tina.expect("-- ian joined #lobby").await;
    tina.send("hello cloaked world").await;
    tina.expect("#lobby <tina> hello cloaked world").await;
    // Same address, same cloak, for both kinds of users.
    ian.expect_raw(&format!(
        ":tina!text@{cloak} PRIVMSG #lobby :hello cloaked world"
    ))
    .await;

    // The welcome names the cloaked mask.
    let mut kim = IrcClient::connect(server.irc_address).await;
    kim.nick = "kim".into();
    kim.send("NICK kim").await;
    kim.send("USER kim 0 * :Kim").await;
    kim.expect_raw(&format!(
        ":palaver.local 001 kim :Welcome to the palaver IRC Network kim!~kim@{cloak}"
    ))
    .await;
    kim.skip_until(|m| m.command == "376" || m.command == "422")
        .await;
    kim.send("JOIN #lobby").await;
    kim.skip_until(|m| m.command == "366").await;
    ian.expect_raw(&format!(":kim!~kim@{cloak} JOIN #lobby"))
        .await;
    tina.expect("-- kim joined #lobby").await;

    ian.send("WHOIS tina").await;
    ian.expect_raw(&format!(":palaver.local 311 ian tina text {cloak} * :"))
        .await;
    ian.skip_until(|m| m.command == "318").await;
    ian.send("USERHOST tina kim").await;
    ian.expect_raw(&format!(
        ":palaver.local 302 ian :tina=+text@{cloak} kim=+~kim@{cloak}"
    ))
    .await;
    ian.send("WHO #lobby").await;
    for nick in ["tina", "ian", "kim"] {
        let reply = ian.expect_command("352").await;
        assert_eq!(reply.params[5], nick, "{reply:?}");
        assert_eq!(reply.params[3], cloak, "{reply:?}");
    }
    ian.expect_command("315").await;
    // Bans match the cloak.
    irc_join(&mut ian, "#c", &mut [], &mut []).await;
    ian.send(&format!("MODE #c +b *!*@{cloak}")).await;
    ian.expect_raw(&format!(":ian!~ian@{cloak} MODE #c +b *!*@{cloak}"))
        .await;
    tina.send("/join #c").await;
    tina.expect("! cannot join #c (you are banned)").await;

    ian.send("QUIT :bye").await;
    let last = ian.expect_closed().await;
    assert_eq!(
        last,
        [format!("ERROR :Closing link: (~ian@{cloak}) [Quit: bye]")]
    );
    kim.expect_raw(&format!(":ian!~ian@{cloak} QUIT :Quit: bye"))
        .await;
    tina.expect("-- ian left (Quit: bye)").await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Rendering once per variant

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_variant_gets_byte_identical_lines() {
    let server = TestServer::start().await;
    let mut t1 = text_user(&server, "t1", &mut []).await;
    let mut t2 = text_user(&server, "t2", &mut [&mut t1]).await;
    let caps = ["server-time", "message-tags", "extended-join"];
    let mut a1 = server.irc_with_caps("a1", &caps).await;
    let mut a2 = server.irc_with_caps("a2", &caps).await;
    let mut b1 = server.irc("b1").await;
    let mut b2 = server.irc("b2").await;
    irc_join(&mut a1, "#lobby", &mut [], &mut [&mut t1, &mut t2]).await;
    irc_join(&mut a2, "#lobby", &mut [&mut a1], &mut [&mut t1, &mut t2]).await;
    irc_join(
        &mut b1,
        "#lobby",
        &mut [&mut a1, &mut a2],
        &mut [&mut t1, &mut t2],
    )
    .await;
    irc_join(
        &mut b2,
        "#lobby",
        &mut [&mut a1, &mut a2, &mut b1],
        &mut [&mut t1, &mut t2],
    )
    .await;

    /// The four IRC observers' next lines: identical within a variant, different across.
    async fn compare(
        a1: &mut IrcClient,
        a2: &mut IrcClient,
        b1: &mut IrcClient,
        b2: &mut IrcClient,
        expected: &str,
    ) {
        let tagged = a1.line().await;
        assert_eq!(a2.line().await, tagged);
        let plain = b1.line().await;
        assert_eq!(b2.line().await, plain);
        assert_eq!(plain, expected);
        assert!(tagged.starts_with("@time="), "{tagged:?}");
        assert_eq!(untagged(&tagged), expected);
    }

    // A text message: the sender's receipt is the very same bytes as the other text copy.
    t1.send("same bytes for all").await;
    let receipt = t1.raw_line().await;
    assert_eq!(support::untimed(&receipt), "#lobby <t1> same bytes for all");
    assert_eq!(t2.raw_line().await, receipt);
    compare(
        &mut a1,
        &mut a2,
        &mut b1,
        &mut b2,
        ":t1!text@127.0.0.1 PRIVMSG #lobby :same bytes for all",
    )
    .await;

    t1.send("/topic one topic for everyone").await;
    let receipt = t1.raw_line().await;
    assert_eq!(
        support::untimed(&receipt),
        "-- t1 changed the topic of #lobby to: one topic for everyone"
    );
    assert_eq!(t2.raw_line().await, receipt);
    compare(
        &mut a1,
        &mut a2,
        &mut b1,
        &mut b2,
        ":t1!text@127.0.0.1 TOPIC #lobby :one topic for everyone",
    )
    .await;

    // An IRC message, seen by both text users and by the other IRC variants.
    let mut c = server.irc("c").await;
    c.send("JOIN #lobby").await;
    c.skip_until(|m| m.command == "366").await;
    let tagged = a1.line().await;
    assert_eq!(a2.line().await, tagged);
    assert_eq!(
        untagged(&tagged),
        ":c!~c@127.0.0.1 JOIN #lobby * :c real name"
    );
    let plain = b1.line().await;
    assert_eq!(b2.line().await, plain);
    assert_eq!(plain, ":c!~c@127.0.0.1 JOIN #lobby");
    let joined = t1.raw_line().await;
    assert_eq!(t2.raw_line().await, joined);
    assert_eq!(support::untimed(&joined), "-- c joined #lobby");

    c.send("PRIVMSG #lobby :from irc to all").await;
    let line = t1.raw_line().await;
    assert_eq!(t2.raw_line().await, line);
    assert_eq!(support::untimed(&line), "#lobby <c> from irc to all");
    compare(
        &mut a1,
        &mut a2,
        &mut b1,
        &mut b2,
        ":c!~c@127.0.0.1 PRIVMSG #lobby :from irc to all",
    )
    .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Room modes applied to text users

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_users_are_held_to_keys_invitations_bans_and_limits() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut ian = server.irc("ian").await;
    irc_join(&mut ian, "#k", &mut [], &mut []).await;

    ian.send("MODE #k +k sesame").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #k +k sesame")
        .await;
    tina.send("/join #k").await;
    tina.expect("! cannot join #k (wrong key)").await;
    tina.send("/join #k open-up").await;
    tina.expect("! cannot join #k (wrong key)").await;
    tina.send("/join #k sesame").await;
    tina.expect("-- tina joined #k").await;
    ian.expect_raw(":tina!text@127.0.0.1 JOIN #k").await;
    tina.send("/part #k").await;
    tina.expect("-- tina left #k").await;
    tina.expect("-- now talking in #lobby").await;
    ian.expect_raw(":tina!text@127.0.0.1 PART #k").await;
    ian.send("MODE #k -k").await;
    ian.expect_command("MODE").await;

    ian.send("MODE #k +i").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #k +i").await;
    tina.send("/join #k").await;
    tina.expect("! cannot join #k (invite only)").await;
    ian.send("INVITE tina #k").await;
    ian.expect_raw(":palaver.local 341 ian tina #k").await;
    tina.expect("-- ian invited tina to #k").await;
    text_join(&mut tina, "#k", &mut [&mut ian]).await;
    tina.send("/part #k").await;
    tina.expect("-- tina left #k").await;
    tina.expect("-- now talking in #lobby").await;
    ian.expect_raw(":tina!text@127.0.0.1 PART #k").await;
    // The invitation was used up.
    tina.send("/join #k").await;
    tina.expect("! cannot join #k (invite only)").await;
    ian.send("MODE #k -i").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #k -i").await;

    ian.send("MODE #k +b tina").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #k +b tina!*@*")
        .await;
    tina.send("/join #k").await;
    tina.expect("! cannot join #k (you are banned)").await;
    ian.send("MODE #k -b tina!*@*").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #k -b tina!*@*")
        .await;

    ian.send("MODE #k +l 1").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #k +l 1").await;
    tina.send("/join #k").await;
    tina.expect("! cannot join #k (room is full)").await;
    // The same refusal for an IRC user, for comparison.
    let mut jo = server.irc("jo").await;
    jo.send("JOIN #k").await;
    jo.expect_raw(":palaver.local 471 jo #k :Cannot join channel (+l)")
        .await;
    ian.send("MODE #k -l").await;
    ian.expect_command("MODE").await;
    text_join(&mut tina, "#k", &mut [&mut ian]).await;
    tina.sync().await;
    ian.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_users_are_held_to_moderation_bans_and_topic_protection() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    let mut ian = server.irc("ian").await;
    irc_join(&mut ian, "#m", &mut [], &mut []).await;
    text_join(&mut tina, "#m", &mut [&mut ian]).await;

    // Moderated: only @ and + speak.
    ian.send("MODE #m +m").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #m +m").await;
    tina.expect("-- ian set mode +m on #m").await;
    tina.send("can I talk").await;
    tina.expect("! cannot send to #m (room is moderated)").await;
    tina.send("/me tries to talk").await;
    tina.expect("! cannot send to #m (room is moderated)").await;
    ian.expect_quiet().await;
    ian.send("MODE #m +v tina").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #m +v tina").await;
    tina.expect("-- ian set mode +v tina on #m").await;
    tina.send("now I can").await;
    tina.expect("#m <tina> now I can").await;
    ian.expect_raw(":tina!text@127.0.0.1 PRIVMSG #m :now I can")
        .await;

    // Banned members may not speak.
    ian.send("MODE #m -v tina").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #m -v tina").await;
    tina.expect("-- ian set mode -v tina on #m").await;
    ian.send("MODE #m -m").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #m -m").await;
    tina.expect("-- ian set mode -m on #m").await;
    ian.send("MODE #m +b tina").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #m +b tina!*@*")
        .await;
    tina.expect("-- ian set mode +b tina!*@* on #m").await;
    tina.send("banned words").await;
    tina.expect("! cannot send to #m (you are banned)").await;

    // +t: only operators set the topic.
    tina.send("/topic #m my topic").await;
    tina.expect("! you need to be a room operator in #m").await;
    ian.send("MODE #m +o tina").await;
    ian.expect_raw(":ian!~ian@127.0.0.1 MODE #m +o tina").await;
    tina.expect("-- ian set mode +o tina on #m").await;
    tina.send("/topic #m my topic").await;
    tina.expect("-- tina changed the topic of #m to: my topic")
        .await;
    ian.expect_raw(":tina!text@127.0.0.1 TOPIC #m :my topic")
        .await;
    // An operator speaks despite the ban.
    tina.send("ops may speak").await;
    tina.expect("#m <tina> ops may speak").await;
    ian.expect_raw(":tina!text@127.0.0.1 PRIVMSG #m :ops may speak")
        .await;
    tina.sync().await;
    ian.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Long fields

/// What a text user may write in one line is far longer than an IRC line: a reason that would
/// run past 512 bytes, whose tail reads as a line of its own to a client that cuts there.
fn spoofing_reason() -> String {
    format!("{} :evil!e@h PRIVMSG #lobby :spoofed", "é".repeat(1519))
}

#[tokio::test]
async fn long_part_and_quit_reasons_reach_irc_clients_cut_to_390_bytes() {
    let server = TestServer::start().await;
    let mut ian = server.irc("ian").await;
    ian.join("#long").await;
    let mut tina = text_user(&server, "tina", &mut []).await;
    tina.send("/join #long").await;
    ian.expect_raw(":tina!text@127.0.0.1 JOIN #long").await;

    let reason = spoofing_reason();
    tina.send(&format!("/part #long {reason}")).await;
    let part = ian.line().await;
    assert!(part.len() <= 510, "{} bytes: {part}", part.len());
    // 390 bytes of two-byte characters: cut at a character boundary, the tail gone.
    let expected = format!(":tina!text@127.0.0.1 PART #long {}", "é".repeat(195));
    assert_eq!(part, expected);

    tina.send("/join #long").await;
    ian.expect_raw(":tina!text@127.0.0.1 JOIN #long").await;
    tina.send(&format!("/quit {reason}")).await;
    let quit = ian.line().await;
    assert_eq!(
        quit,
        format!(":tina!text@127.0.0.1 QUIT {}", "é".repeat(195))
    );
    ian.expect_quiet().await;
    server.shut_down().await;
}
