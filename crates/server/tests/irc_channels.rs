//! IRC channel commands against a real server over real sockets, with exact lines: `JOIN`,
//! `PART`, `PRIVMSG`, `NOTICE`, `TOPIC`, `INVITE` and `KICK`, their numerics, and how text
//! users take part.

mod support;

use support::{Client, IrcClient, SERVER, TestServer, irc_mask, join_all, numeric, unix_now};

/// `client` joins `channel`, where `member` already is and sees the join.
async fn rejoin(client: &mut IrcClient, channel: &str, member: &mut IrcClient) {
    let join_line = format!(":{} JOIN {channel}", irc_mask(&client.nick));
    client.send(&format!("JOIN {channel}")).await;
    client.expect_line(&join_line).await;
    client.skip_until(|m| m.command == "366").await;
    member.expect_line(&join_line).await;
}

/// Asserts that `message` is a 333 for `channel` set by `setter` at a plausible time.
fn assert_topic_who_time(
    message: &palaver_proto::irc::message::Message,
    viewer: &str,
    channel: &str,
    setter: &str,
    not_before: u64,
) {
    assert_eq!(message.source.as_deref(), Some(SERVER), "{message:?}");
    assert_eq!(message.command, "333", "{message:?}");
    assert_eq!(message.params.len(), 4, "{message:?}");
    assert_eq!(message.params[0], viewer);
    assert_eq!(message.params[1], channel);
    assert_eq!(message.params[2], setter);
    let set_at: u64 = message.params[3]
        .parse()
        .unwrap_or_else(|_| panic!("333 time is a unix time: {message:?}"));
    assert!(
        set_at >= not_before && set_at <= unix_now(),
        "333 time {set_at} not between {not_before} and now"
    );
}

// ---------------------------------------------------------------------------------------------
// JOIN
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_echoes_then_names_and_the_founder_is_operator() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;

    a.send("JOIN #x").await;
    a.expect_line(":a!~a@127.0.0.1 JOIN #x").await;
    a.expect_line(&numeric("353", "a", "= #x @a")).await;
    a.expect_line(&numeric("366", "a", "#x :End of /NAMES list"))
        .await;

    b.send("JOIN #x").await;
    b.expect_line(":b!~b@127.0.0.1 JOIN #x").await;
    b.expect_line(&numeric("353", "b", "= #x :@a b")).await;
    b.expect_line(&numeric("366", "b", "#x :End of /NAMES list"))
        .await;
    a.expect_line(":b!~b@127.0.0.1 JOIN #x").await;

    // Channel names are case-insensitive and keep the spelling they were created with.
    c.send("JOIN #X").await;
    c.expect_line(":c!~c@127.0.0.1 JOIN #x").await;
    c.expect_line(&numeric("353", "c", "= #x :@a b c")).await;
    c.expect_line(&numeric("366", "c", "#x :End of /NAMES list"))
        .await;
    a.expect_line(":c!~c@127.0.0.1 JOIN #x").await;
    b.expect_line(":c!~c@127.0.0.1 JOIN #x").await;

    // No topic: no 332/333 were sent (checked by the exact sequence above), and nothing else.
    for client in [&mut a, &mut b, &mut c] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_sends_the_topic_with_332_and_333_before_the_names() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    let before = unix_now();
    join_all("#x", &mut [&mut a]).await;
    a.send("TOPIC #x :hello world").await;
    a.expect_line(":a!~a@127.0.0.1 TOPIC #x :hello world").await;

    b.send("JOIN #x").await;
    b.expect_line(":b!~b@127.0.0.1 JOIN #x").await;
    b.expect_line(&numeric("332", "b", "#x :hello world")).await;
    let who_time = b.message().await;
    assert_topic_who_time(&who_time, "b", "#x", "a!~a@127.0.0.1", before);
    b.expect_line(&numeric("353", "b", "= #x :@a b")).await;
    b.expect_line(&numeric("366", "b", "#x :End of /NAMES list"))
        .await;
    a.expect_line(":b!~b@127.0.0.1 JOIN #x").await;
    b.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_several_channels_in_one_command() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;

    a.send("JOIN #a,#b").await;
    a.expect_line(":a!~a@127.0.0.1 JOIN #a").await;
    a.expect_line(&numeric("353", "a", "= #a @a")).await;
    a.expect_line(&numeric("366", "a", "#a :End of /NAMES list"))
        .await;
    a.expect_line(":a!~a@127.0.0.1 JOIN #b").await;
    a.expect_line(&numeric("353", "a", "= #b @a")).await;
    a.expect_line(&numeric("366", "a", "#b :End of /NAMES list"))
        .await;

    // An invalid name in the list is refused on its own; the others are joined, in order.
    a.send("JOIN #c,nohash,#d").await;
    a.expect_line(":a!~a@127.0.0.1 JOIN #c").await;
    a.expect_line(&numeric("353", "a", "= #c @a")).await;
    a.expect_line(&numeric("366", "a", "#c :End of /NAMES list"))
        .await;
    a.expect_line(&numeric("476", "a", "nohash :Bad Channel Mask"))
        .await;
    a.expect_line(":a!~a@127.0.0.1 JOIN #d").await;
    a.expect_line(&numeric("353", "a", "= #d @a")).await;
    a.expect_line(&numeric("366", "a", "#d :End of /NAMES list"))
        .await;
    a.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_with_keys_matches_keys_to_channels_by_position() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    join_all("#a", &mut [&mut op]).await;
    join_all("#b", &mut [&mut op]).await;
    op.send("MODE #a +k k1").await;
    op.expect_line(":op!~op@127.0.0.1 MODE #a +k k1").await;
    op.send("MODE #b +k k2").await;
    op.expect_line(":op!~op@127.0.0.1 MODE #b +k k2").await;

    b.send("JOIN #a,#b k1,k2").await;
    b.expect_line(":b!~b@127.0.0.1 JOIN #a").await;
    b.expect_line(&numeric("353", "b", "= #a :@op b")).await;
    b.expect_line(&numeric("366", "b", "#a :End of /NAMES list"))
        .await;
    b.expect_line(":b!~b@127.0.0.1 JOIN #b").await;
    b.expect_line(&numeric("353", "b", "= #b :@op b")).await;
    b.expect_line(&numeric("366", "b", "#b :End of /NAMES list"))
        .await;
    op.expect_line(":b!~b@127.0.0.1 JOIN #a").await;
    op.expect_line(":b!~b@127.0.0.1 JOIN #b").await;

    // One key for two channels: the second channel has none and is refused.
    c.send("JOIN #a,#b k1").await;
    c.expect_line(":c!~c@127.0.0.1 JOIN #a").await;
    c.expect_line(&numeric("353", "c", "= #a :@op b c")).await;
    c.expect_line(&numeric("366", "c", "#a :End of /NAMES list"))
        .await;
    c.expect_line(&numeric("475", "c", "#b :Cannot join channel (+k)"))
        .await;
    // The other channel's key is wrong.
    c.send("JOIN #b k1").await;
    c.expect_line(&numeric("475", "c", "#b :Cannot join channel (+k)"))
        .await;
    c.expect_quiet().await;
    op.expect_line(":c!~c@127.0.0.1 JOIN #a").await;
    b.expect_line(":c!~c@127.0.0.1 JOIN #a").await;
    op.expect_quiet().await;
    b.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_zero_parts_every_channel() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    join_all("#a", &mut [&mut a, &mut b]).await;
    join_all("#b", &mut [&mut a]).await;

    a.send("JOIN 0").await;
    a.expect_line(":a!~a@127.0.0.1 PART #a").await;
    a.expect_line(":a!~a@127.0.0.1 PART #b").await;
    a.expect_quiet().await;
    b.expect_line(":a!~a@127.0.0.1 PART #a").await;
    b.expect_quiet().await;

    // #b lost its only member and is gone; #a remains with b alone.
    a.send("LIST").await;
    a.expect_line(&numeric("321", "a", "Channel :Users  Name"))
        .await;
    a.expect_line(&numeric("322", "a", "#a 1 :")).await;
    a.expect_line(&numeric("323", "a", ":End of /LIST")).await;

    // In no channel at all, JOIN 0 does nothing.
    a.send("JOIN 0").await;
    a.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_of_an_invalid_name_gets_476() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    a.send("JOIN nohash").await;
    a.expect_line(&numeric("476", "a", "nohash :Bad Channel Mask"))
        .await;
    a.send("JOIN #").await;
    a.expect_line(&numeric("476", "a", "# :Bad Channel Mask"))
        .await;
    let too_long = format!("#{}", "r".repeat(51));
    a.send(&format!("JOIN {too_long}")).await;
    a.expect_line(&numeric(
        "476",
        "a",
        &format!("{too_long} :Bad Channel Mask"),
    ))
    .await;
    // 50 characters after the # are fine (CHANNELLEN=51).
    let longest = format!("#{}", "r".repeat(50));
    a.send(&format!("JOIN {longest}")).await;
    a.expect_line(&format!(":a!~a@127.0.0.1 JOIN {longest}"))
        .await;
    a.skip_until(|m| m.command == "366").await;
    a.send("JOIN").await;
    a.expect_line(&numeric("461", "a", "JOIN :Not enough parameters"))
        .await;
    a.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_channel_one_is_in_is_a_no_op() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut a, &mut b]).await;
    a.send("JOIN #x").await;
    a.send("JOIN #X").await;
    a.expect_quiet().await;
    b.expect_quiet().await;
    a.send("NAMES #x").await;
    a.expect_line(&numeric("353", "a", "= #x :@a b")).await;
    a.expect_line(&numeric("366", "a", "#x :End of /NAMES list"))
        .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// PART
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_with_and_without_a_reason() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut b, &mut a]).await;

    a.send("PART #x").await;
    a.expect_line(":a!~a@127.0.0.1 PART #x").await;
    b.expect_line(":a!~a@127.0.0.1 PART #x").await;

    rejoin(&mut a, "#x", &mut b).await;
    // A one-word reason needs no colon on the wire (both forms are the same message).
    a.send("PART #x :bye").await;
    a.expect_line(":a!~a@127.0.0.1 PART #x bye").await;
    b.expect_line(":a!~a@127.0.0.1 PART #x bye").await;

    rejoin(&mut a, "#x", &mut b).await;
    a.send("PART #x :see you later").await;
    let message = a.message().await;
    assert_eq!(message.source.as_deref(), Some("a!~a@127.0.0.1"));
    assert_eq!(message.command, "PART");
    assert_eq!(message.params, vec!["#x", "see you later"]);
    b.expect_line(":a!~a@127.0.0.1 PART #x :see you later")
        .await;

    // No longer a member: NAMES shows b alone.
    a.send("NAMES #x").await;
    a.expect_line(&numeric("353", "a", "= #x @b")).await;
    a.expect_line(&numeric("366", "a", "#x :End of /NAMES list"))
        .await;
    a.expect_quiet().await;
    b.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_errors_and_several_channels() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut b]).await;

    a.send("PART #x").await;
    a.expect_line(&numeric("442", "a", "#x :You're not on that channel"))
        .await;
    a.send("PART #nope").await;
    a.expect_line(&numeric("403", "a", "#nope :No such channel"))
        .await;
    a.send("PART").await;
    a.expect_line(&numeric("461", "a", "PART :Not enough parameters"))
        .await;
    b.expect_quiet().await;

    join_all("#a", &mut [&mut a]).await;
    join_all("#b", &mut [&mut a]).await;
    a.send("PART #a,#nope,#b,#x :done here").await;
    a.expect_line(":a!~a@127.0.0.1 PART #a :done here").await;
    a.expect_line(&numeric("403", "a", "#nope :No such channel"))
        .await;
    a.expect_line(":a!~a@127.0.0.1 PART #b :done here").await;
    a.expect_line(&numeric("442", "a", "#x :You're not on that channel"))
        .await;
    a.expect_quiet().await;
    b.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// PRIVMSG and NOTICE
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privmsg_to_a_channel_reaches_the_others_but_not_the_sender() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    join_all("#x", &mut [&mut a, &mut b, &mut c]).await;
    let mut tom = Client::named(server.address, "tom").await;
    tom.send("/join #x").await;
    tom.expect("-- tom joined #x").await;
    for client in [&mut a, &mut b, &mut c] {
        client.expect_line(":tom!text@127.0.0.1 JOIN #x").await;
    }

    a.send("PRIVMSG #x :hello there").await;
    b.expect_line(":a!~a@127.0.0.1 PRIVMSG #x :hello there")
        .await;
    c.expect_line(":a!~a@127.0.0.1 PRIVMSG #x :hello there")
        .await;
    tom.expect("#x <a> hello there").await;
    // Without echo-message the sender gets no copy.
    a.expect_quiet().await;

    // The other way round: a text user's line reaches every IRC member.
    tom.send("hi from nc").await;
    tom.expect("#x <tom> hi from nc").await;
    for client in [&mut a, &mut b, &mut c] {
        client
            .expect_line(":tom!text@127.0.0.1 PRIVMSG #x :hi from nc")
            .await;
    }
    for client in [&mut a, &mut b, &mut c] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privmsg_to_a_nick_and_to_several_targets() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    join_all("#a", &mut [&mut a, &mut b, &mut c]).await;

    a.send("PRIVMSG b :just for you").await;
    b.expect_line(":a!~a@127.0.0.1 PRIVMSG b :just for you")
        .await;
    // Nicks are case-insensitive; the target shows the nick as registered.
    a.send("PRIVMSG B :again").await;
    b.expect_line(":a!~a@127.0.0.1 PRIVMSG b again").await;
    a.expect_quiet().await;
    c.expect_quiet().await;

    a.send("PRIVMSG #a,b :hi").await;
    b.expect_line(":a!~a@127.0.0.1 PRIVMSG #a hi").await;
    b.expect_line(":a!~a@127.0.0.1 PRIVMSG b hi").await;
    c.expect_line(":a!~a@127.0.0.1 PRIVMSG #a hi").await;
    a.expect_quiet().await;
    b.expect_quiet().await;
    c.expect_quiet().await;

    // A bad target among good ones is answered on its own; the others still get the message.
    a.send("PRIVMSG nobody,c,#nope :mixed").await;
    a.expect_line(&numeric("401", "a", "nobody :No such nick"))
        .await;
    a.expect_line(&numeric("403", "a", "#nope :No such channel"))
        .await;
    a.expect_quiet().await;
    c.expect_line(":a!~a@127.0.0.1 PRIVMSG c mixed").await;
    c.expect_quiet().await;

    // MAXTARGETS=4: targets past the fourth are not sent to, and each is named in a 407.
    a.send("PRIVMSG #a,nobody1,nobody2,nobody3,c :five targets")
        .await;
    a.expect_line(&numeric("401", "a", "nobody1 :No such nick"))
        .await;
    a.expect_line(&numeric("401", "a", "nobody2 :No such nick"))
        .await;
    a.expect_line(&numeric("401", "a", "nobody3 :No such nick"))
        .await;
    a.expect_line(&numeric(
        "407",
        "a",
        "c :Too many targets; not sent to this one",
    ))
    .await;
    a.expect_quiet().await;
    b.expect_line(":a!~a@127.0.0.1 PRIVMSG #a :five targets")
        .await;
    c.expect_line(":a!~a@127.0.0.1 PRIVMSG #a :five targets")
        .await;
    b.expect_quiet().await;
    c.expect_quiet().await;
    server.shut_down().await;
}

/// An empty entry in a target list (`b,,c`) names nobody. JOIN, PART and KICK skip such
/// entries; a reply naming it would need an empty middle parameter, which the IRC message
/// grammar does not allow (`:server 401 a  :No such nick` parses as a 401 about the nick
/// "No such nick").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privmsg_skips_empty_entries_in_a_target_list() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    a.send("PRIVMSG b,,c :hi").await;
    b.expect_line(":a!~a@127.0.0.1 PRIVMSG b hi").await;
    c.expect_line(":a!~a@127.0.0.1 PRIVMSG c hi").await;
    a.expect_quiet().await;
    server.shut_down().await;
}

/// A message as long as an IRC client may send is one line to every recipient: what would not
/// fit once the sender's `nick!user@host` is prefixed is cut at a character boundary, and
/// everyone (the sender's echo, text users, a private recipient) gets the same cut text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maximal_irc_message_is_cut_to_fit_one_relayed_line() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["echo-message"]).await;
    let mut bob = server.irc("bob").await;
    join_all("#x", &mut [&mut alice, &mut bob]).await;
    let mut tex = Client::named(server.address, "tex").await;
    tex.send("/join #x").await;
    tex.skip_until("-- tex joined #x").await;
    for client in [&mut alice, &mut bob] {
        client.expect_line(":tex!text@127.0.0.1 JOIN #x").await;
    }

    // `PRIVMSG #x :` and CRLF leave 498 bytes; `:alice!~alice@127.0.0.1 PRIVMSG #x :` and
    // CRLF leave 474: 237 two-byte characters.
    let sent = "é".repeat(249);
    alice.send(&format!("PRIVMSG #x :{sent}")).await;
    // (One word needs no `:`, so the line has a byte to spare.)
    let relayed = format!(":alice!~alice@127.0.0.1 PRIVMSG #x {}", "é".repeat(237));
    assert_eq!(relayed.len() + 2, 511);
    alice.expect_line(&relayed).await;
    bob.expect_line(&relayed).await;
    tex.expect(&format!("#x <alice> {}", "é".repeat(237))).await;

    // The same for a private message (the target is longer: one character less) and an
    // action, whose CTCP wrapping counts too.
    alice
        .send(&format!("PRIVMSG bob :{}", "é".repeat(248)))
        .await;
    let private = format!(":alice!~alice@127.0.0.1 PRIVMSG bob {}", "é".repeat(236));
    alice.expect_line(&private).await;
    bob.expect_line(&private).await;
    let action = "a".repeat(480);
    alice
        .send(&format!("PRIVMSG #x :\x01ACTION {action}\x01"))
        .await;
    let acted = format!(
        ":alice!~alice@127.0.0.1 PRIVMSG #x :\x01ACTION {}\x01",
        "a".repeat(465)
    );
    assert_eq!(acted.len() + 2, 512);
    alice.expect_line(&acted).await;
    bob.expect_line(&acted).await;
    tex.expect(&format!("#x * alice {}", "a".repeat(465))).await;
    for client in [&mut alice, &mut bob] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privmsg_errors_401_403_411_412() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut a, &mut b]).await;

    a.send("PRIVMSG nobody :hi").await;
    a.expect_line(&numeric("401", "a", "nobody :No such nick"))
        .await;
    a.send("PRIVMSG #nope :hi").await;
    a.expect_line(&numeric("403", "a", "#nope :No such channel"))
        .await;
    a.send("PRIVMSG").await;
    a.expect_line(&numeric("411", "a", ":No recipient given (PRIVMSG)"))
        .await;
    a.send("PRIVMSG :").await;
    a.expect_line(&numeric("411", "a", ":No recipient given (PRIVMSG)"))
        .await;
    a.send("PRIVMSG #x").await;
    a.expect_line(&numeric("412", "a", ":No text to send"))
        .await;
    a.send("PRIVMSG #x :").await;
    a.expect_line(&numeric("412", "a", ":No text to send"))
        .await;
    a.send("PRIVMSG b").await;
    a.expect_line(&numeric("412", "a", ":No text to send"))
        .await;
    a.expect_quiet().await;
    b.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privmsg_refused_with_404_outside_plus_n_moderated_and_banned() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut out = server.irc("out").await;
    join_all("#x", &mut [&mut op, &mut b]).await;

    // New channels are +n: an outsider cannot send.
    out.send("PRIVMSG #x :let me in").await;
    out.expect_line(&numeric(
        "404",
        "out",
        "#x :Cannot send to channel (no external messages)",
    ))
    .await;
    out.expect_quiet().await;
    op.expect_quiet().await;
    b.expect_quiet().await;

    // -n lets outsiders talk.
    op.send("MODE #x -n").await;
    op.expect_line(":op!~op@127.0.0.1 MODE #x -n").await;
    b.expect_line(":op!~op@127.0.0.1 MODE #x -n").await;
    out.send("PRIVMSG #x :from outside").await;
    op.expect_line(":out!~out@127.0.0.1 PRIVMSG #x :from outside")
        .await;
    b.expect_line(":out!~out@127.0.0.1 PRIVMSG #x :from outside")
        .await;
    out.expect_quiet().await;

    // +m: only operators and voiced members speak.
    op.send("MODE #x +m").await;
    op.expect_line(":op!~op@127.0.0.1 MODE #x +m").await;
    b.expect_line(":op!~op@127.0.0.1 MODE #x +m").await;
    b.send("PRIVMSG #x :may I?").await;
    b.expect_line(&numeric("404", "b", "#x :Cannot send to channel (+m)"))
        .await;
    out.send("PRIVMSG #x :and me?").await;
    out.expect_line(&numeric("404", "out", "#x :Cannot send to channel (+m)"))
        .await;
    op.expect_quiet().await;
    op.send("PRIVMSG #x :ops may").await;
    b.expect_line(":op!~op@127.0.0.1 PRIVMSG #x :ops may").await;
    op.send("MODE #x -m").await;
    op.expect_line(":op!~op@127.0.0.1 MODE #x -m").await;
    b.expect_line(":op!~op@127.0.0.1 MODE #x -m").await;

    // A banned member cannot speak.
    op.send("MODE #x +b b").await;
    op.expect_line(":op!~op@127.0.0.1 MODE #x +b b!*@*").await;
    b.expect_line(":op!~op@127.0.0.1 MODE #x +b b!*@*").await;
    b.send("PRIVMSG #x :still here").await;
    b.expect_line(&numeric("404", "b", "#x :Cannot send to channel (+b)"))
        .await;
    b.expect_quiet().await;
    op.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctcp_action_arrives_as_an_action_on_both_protocols() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut a, &mut b]).await;
    let mut tom = Client::named(server.address, "tom").await;
    tom.send("/join #x").await;
    tom.expect("-- tom joined #x").await;
    a.expect_line(":tom!text@127.0.0.1 JOIN #x").await;
    b.expect_line(":tom!text@127.0.0.1 JOIN #x").await;

    a.send("PRIVMSG #x :\x01ACTION waves\x01").await;
    b.expect_line(":a!~a@127.0.0.1 PRIVMSG #x :\x01ACTION waves\x01")
        .await;
    tom.expect("#x * a waves").await;
    a.expect_quiet().await;

    tom.send("/me dances").await;
    tom.expect("#x * tom dances").await;
    a.expect_line(":tom!text@127.0.0.1 PRIVMSG #x :\x01ACTION dances\x01")
        .await;
    b.expect_line(":tom!text@127.0.0.1 PRIVMSG #x :\x01ACTION dances\x01")
        .await;

    // A private action.
    a.send("PRIVMSG b :\x01ACTION nods\x01").await;
    b.expect_line(":a!~a@127.0.0.1 PRIVMSG b :\x01ACTION nods\x01")
        .await;
    a.expect_quiet().await;
    b.expect_quiet().await;
    tom.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notice_to_channel_and_nick_and_notice_errors_get_no_reply() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    let mut out = server.irc("out").await;
    join_all("#x", &mut [&mut a, &mut b]).await;
    let mut tom = Client::named(server.address, "tom").await;
    tom.send("/join #x").await;
    tom.expect("-- tom joined #x").await;
    a.expect_line(":tom!text@127.0.0.1 JOIN #x").await;
    b.expect_line(":tom!text@127.0.0.1 JOIN #x").await;

    a.send("NOTICE #x :heads up").await;
    b.expect_line(":a!~a@127.0.0.1 NOTICE #x :heads up").await;
    tom.expect("#x -a- heads up").await;
    a.send("NOTICE b :psst, b").await;
    b.expect_line(":a!~a@127.0.0.1 NOTICE b :psst, b").await;
    a.send("NOTICE tom :for nc").await;
    tom.expect("*a* -a- for nc").await;
    a.expect_quiet().await;

    // Every error is silent for a NOTICE.
    a.send("NOTICE nobody :hi").await;
    a.send("NOTICE #nope :hi").await;
    a.send("NOTICE").await;
    a.send("NOTICE :").await;
    a.send("NOTICE #x").await;
    a.send("NOTICE #x :").await;
    a.send("NOTICE b").await;
    a.expect_quiet().await;
    out.send("NOTICE #x :from outside a +n channel").await;
    out.expect_quiet().await;
    a.send("MODE #x +m").await;
    a.expect_line(":a!~a@127.0.0.1 MODE #x +m").await;
    b.expect_line(":a!~a@127.0.0.1 MODE #x +m").await;
    tom.expect("-- a set mode +m on #x").await;
    b.send("NOTICE #x :unvoiced in +m").await;
    b.expect_quiet().await;
    a.expect_quiet().await;
    tom.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// TOPIC
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_query_set_and_clear() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut a, &mut b]).await;
    let mut tom = Client::named(server.address, "tom").await;
    tom.send("/join #x").await;
    tom.expect("-- tom joined #x").await;
    a.expect_line(":tom!text@127.0.0.1 JOIN #x").await;
    b.expect_line(":tom!text@127.0.0.1 JOIN #x").await;

    a.send("TOPIC #x").await;
    a.expect_line(&numeric("331", "a", "#x :No topic is set"))
        .await;

    let before = unix_now();
    a.send("TOPIC #x :new topic").await;
    a.expect_line(":a!~a@127.0.0.1 TOPIC #x :new topic").await;
    b.expect_line(":a!~a@127.0.0.1 TOPIC #x :new topic").await;
    tom.expect("-- a changed the topic of #x to: new topic")
        .await;

    b.send("TOPIC #x").await;
    b.expect_line(&numeric("332", "b", "#x :new topic")).await;
    let who_time = b.message().await;
    assert_topic_who_time(&who_time, "b", "#x", "a!~a@127.0.0.1", before);
    // Non-members may read the topic of a public channel.
    let mut out = server.irc("out").await;
    out.send("TOPIC #X").await;
    out.expect_line(&numeric("332", "out", "#x :new topic"))
        .await;
    let who_time = out.message().await;
    assert_topic_who_time(&who_time, "out", "#x", "a!~a@127.0.0.1", before);
    out.send("LIST #x").await;
    out.expect_line(&numeric("321", "out", "Channel :Users  Name"))
        .await;
    out.expect_line(&numeric("322", "out", "#x 3 :new topic"))
        .await;
    out.expect_line(&numeric("323", "out", ":End of /LIST"))
        .await;

    // `TOPIC #x :` clears it.
    a.send("TOPIC #x :").await;
    a.expect_line(":a!~a@127.0.0.1 TOPIC #x :").await;
    b.expect_line(":a!~a@127.0.0.1 TOPIC #x :").await;
    tom.expect("-- a cleared the topic of #x").await;
    b.send("TOPIC #x").await;
    b.expect_line(&numeric("331", "b", "#x :No topic is set"))
        .await;
    for client in [&mut a, &mut b, &mut out] {
        client.expect_quiet().await;
    }
    tom.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_errors_442_482_403() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut out = server.irc("out").await;
    join_all("#x", &mut [&mut op, &mut b]).await;

    out.send("TOPIC #x :outsider topic").await;
    out.expect_line(&numeric("442", "out", "#x :You're not on that channel"))
        .await;
    b.send("TOPIC #x :not an op").await;
    b.expect_line(&numeric("482", "b", "#x :You're not a channel operator"))
        .await;
    op.send("TOPIC #nope").await;
    op.expect_line(&numeric("403", "op", "#nope :No such channel"))
        .await;
    op.send("TOPIC #nope :text").await;
    op.expect_line(&numeric("403", "op", "#nope :No such channel"))
        .await;
    op.send("TOPIC").await;
    op.expect_line(&numeric("461", "op", "TOPIC :Not enough parameters"))
        .await;
    for client in [&mut op, &mut b, &mut out] {
        client.expect_quiet().await;
    }

    // Without +t any member may set it.
    op.send("MODE #x -t").await;
    op.expect_line(":op!~op@127.0.0.1 MODE #x -t").await;
    b.expect_line(":op!~op@127.0.0.1 MODE #x -t").await;
    b.send("TOPIC #x :anyone may").await;
    b.expect_line(":b!~b@127.0.0.1 TOPIC #x :anyone may").await;
    op.expect_line(":b!~b@127.0.0.1 TOPIC #x :anyone may").await;
    out.send("TOPIC #x :still not a member").await;
    out.expect_line(&numeric("442", "out", "#x :You're not on that channel"))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_longer_than_390_bytes_are_cut_at_a_character_boundary() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut a, &mut b]).await;

    let cut = "t".repeat(390);
    a.send(&format!("TOPIC #x :{cut}overflow")).await;
    a.expect_line(&format!(":a!~a@127.0.0.1 TOPIC #x {cut}"))
        .await;
    b.expect_line(&format!(":a!~a@127.0.0.1 TOPIC #x {cut}"))
        .await;
    b.send("TOPIC #x").await;
    b.expect_line(&numeric("332", "b", &format!("#x {cut}")))
        .await;
    b.expect_command("333").await;

    // Exactly 390 bytes is kept whole.
    a.send(&format!("TOPIC #x :{}", "u".repeat(390))).await;
    a.expect_line(&format!(":a!~a@127.0.0.1 TOPIC #x {}", "u".repeat(390)))
        .await;
    b.expect_line(&format!(":a!~a@127.0.0.1 TOPIC #x {}", "u".repeat(390)))
        .await;

    // A two-byte character straddling byte 390 is dropped whole.
    let prefix = "v".repeat(389);
    a.send(&format!("TOPIC #x :{prefix}éabc")).await;
    let message = a.message().await;
    assert_eq!(message.command, "TOPIC");
    assert_eq!(message.params, vec!["#x".to_owned(), prefix.clone()]);
    b.expect_line(&format!(":a!~a@127.0.0.1 TOPIC #x {prefix}"))
        .await;
    a.send("TOPIC #x").await;
    let topic = a.message().await;
    assert_eq!(topic.command, "332");
    assert_eq!(topic.params[2].len(), 389);
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// INVITE
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_lets_a_user_into_an_invite_only_channel_once() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut a]).await;
    a.send("MODE #x +i").await;
    a.expect_line(":a!~a@127.0.0.1 MODE #x +i").await;

    b.send("JOIN #x").await;
    b.expect_line(&numeric("473", "b", "#x :Cannot join channel (+i)"))
        .await;

    a.send("INVITE b #x").await;
    a.expect_line(&numeric("341", "a", "b #x")).await;
    b.expect_line(":a!~a@127.0.0.1 INVITE b #x").await;
    a.expect_quiet().await;

    b.send("JOIN #x").await;
    b.expect_line(":b!~b@127.0.0.1 JOIN #x").await;
    b.expect_line(&numeric("353", "b", "= #x :@a b")).await;
    b.expect_line(&numeric("366", "b", "#x :End of /NAMES list"))
        .await;
    a.expect_line(":b!~b@127.0.0.1 JOIN #x").await;

    // Already there: 443.
    a.send("INVITE b #x").await;
    a.expect_line(&numeric("443", "a", "b #x :is already on channel"))
        .await;

    // The invitation was used up by joining.
    b.send("PART #x").await;
    b.expect_line(":b!~b@127.0.0.1 PART #x").await;
    a.expect_line(":b!~b@127.0.0.1 PART #x").await;
    b.send("JOIN #x").await;
    b.expect_line(&numeric("473", "b", "#x :Cannot join channel (+i)"))
        .await;
    a.expect_quiet().await;
    b.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_errors_401_403_442_482() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    let mut out = server.irc("out").await;
    join_all("#x", &mut [&mut op, &mut b]).await;

    op.send("INVITE nobody #x").await;
    op.expect_line(&numeric("401", "op", "nobody :No such nick"))
        .await;
    op.send("INVITE c #nope").await;
    op.expect_line(&numeric("403", "op", "#nope :No such channel"))
        .await;
    out.send("INVITE c #x").await;
    out.expect_line(&numeric("442", "out", "#x :You're not on that channel"))
        .await;
    op.send("INVITE c").await;
    op.expect_line(&numeric("461", "op", "INVITE :Not enough parameters"))
        .await;
    c.expect_quiet().await;

    // Any member may invite to a channel that is not +i (the invitee is told; only an
    // operator's invitation would let it past anything).
    b.send("INVITE c #x").await;
    b.expect_line(&numeric("341", "b", "c #x")).await;
    c.expect_line(":b!~b@127.0.0.1 INVITE c #x").await;

    // On a +i channel only operators may.
    op.send("MODE #x +i").await;
    op.expect_line(":op!~op@127.0.0.1 MODE #x +i").await;
    b.expect_line(":op!~op@127.0.0.1 MODE #x +i").await;
    b.send("INVITE out #x").await;
    b.expect_line(&numeric("482", "b", "#x :You're not a channel operator"))
        .await;
    for client in [&mut op, &mut b, &mut c, &mut out] {
        client.expect_quiet().await;
    }
    // b's earlier invitation of c was no pass: the now +i channel stays closed to c.
    c.send("JOIN #x").await;
    c.expect_line(&numeric("473", "c", "#x :Cannot join channel (+i)"))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_invitee_is_told_and_can_join() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    join_all("#x", &mut [&mut a]).await;
    a.send("MODE #x +i").await;
    a.expect_line(":a!~a@127.0.0.1 MODE #x +i").await;
    let mut bob = Client::named(server.address, "bob").await;
    bob.send("/join #x").await;
    bob.expect("! cannot join #x (invite only)").await;

    a.send("INVITE bob #x").await;
    a.expect_line(&numeric("341", "a", "bob #x")).await;
    bob.expect("-- a invited bob to #x").await;
    bob.send("/join #x").await;
    bob.expect("-- bob joined #x").await;
    a.expect_line(":bob!text@127.0.0.1 JOIN #x").await;
    a.expect_quiet().await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// KICK
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_is_seen_by_everyone_including_the_kicked_user() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    join_all("#x", &mut [&mut op, &mut b, &mut c]).await;

    op.send("KICK #x b :you know why").await;
    for client in [&mut op, &mut b, &mut c] {
        client
            .expect_line(":op!~op@127.0.0.1 KICK #x b :you know why")
            .await;
    }
    op.send("NAMES #x").await;
    op.expect_line(&numeric("353", "op", "= #x :@op c")).await;
    op.expect_line(&numeric("366", "op", "#x :End of /NAMES list"))
        .await;
    // The kicked user is out: it may not speak in the +n channel any more.
    b.send("PRIVMSG #x :hey").await;
    b.expect_line(&numeric(
        "404",
        "b",
        "#x :Cannot send to channel (no external messages)",
    ))
    .await;

    // The default reason is the kicker's nick.
    op.send("KICK #x C").await;
    op.expect_line(":op!~op@127.0.0.1 KICK #x c op").await;
    c.expect_line(":op!~op@127.0.0.1 KICK #x c op").await;

    // KICKLEN=255: longer reasons are cut.
    rejoin(&mut b, "#x", &mut op).await;
    let reason = "r".repeat(255);
    op.send(&format!("KICK #x b :{reason}and more")).await;
    op.expect_line(&format!(":op!~op@127.0.0.1 KICK #x b {reason}"))
        .await;
    b.expect_line(&format!(":op!~op@127.0.0.1 KICK #x b {reason}"))
        .await;
    for client in [&mut op, &mut b, &mut c] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

/// RFC 2812 §3.2.8: one channel for every nick, or one channel per nick, paired in order; each
/// user kicked is one `KICK` line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_pairs_a_channel_list_with_the_nick_list() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    join_all("#x", &mut [&mut op, &mut b, &mut c]).await;
    join_all("#y", &mut [&mut op, &mut c]).await;

    op.send("KICK #x,#y b,c :bye").await;
    op.expect_line(":op!~op@127.0.0.1 KICK #x b bye").await;
    op.expect_line(":op!~op@127.0.0.1 KICK #y c bye").await;
    b.expect_line(":op!~op@127.0.0.1 KICK #x b bye").await;
    c.expect_line(":op!~op@127.0.0.1 KICK #x b bye").await;
    c.expect_line(":op!~op@127.0.0.1 KICK #y c bye").await;

    // The same channel twice, as clients that repeat it send it.
    rejoin(&mut b, "#x", &mut op).await;
    c.expect_line(":b!~b@127.0.0.1 JOIN #x").await;
    op.send("KICK #x,#x b,c :again").await;
    for line in [
        ":op!~op@127.0.0.1 KICK #x b again",
        ":op!~op@127.0.0.1 KICK #x c again",
    ] {
        op.expect_line(line).await;
        c.expect_line(line).await;
    }
    b.expect_line(":op!~op@127.0.0.1 KICK #x b again").await;

    // TARGMAX KICK:4: the nicks past the fourth are not kicked, and each is named in a 407.
    op.send("KICK #x x1,x2,x3,x4,c,b :many").await;
    for nick in ["x1", "x2", "x3", "x4"] {
        op.expect_line(&numeric("401", "op", &format!("{nick} :No such nick")))
            .await;
    }
    for nick in ["c", "b"] {
        op.expect_line(&numeric(
            "407",
            "op",
            &format!("{nick} :Too many targets; not sent to this one"),
        ))
        .await;
    }

    // Two channels for one nick pair nothing; nor does a list of no nicks.
    for unreadable in ["KICK #x,#y b", "KICK #x ,", "KICK , b"] {
        op.send(unreadable).await;
        op.expect_line(&numeric("461", "op", "KICK :Not enough parameters"))
            .await;
    }
    for client in [&mut op, &mut b, &mut c] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_errors_482_441_401_442_403() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    let mut out = server.irc("out").await;
    join_all("#x", &mut [&mut op, &mut b, &mut c]).await;

    b.send("KICK #x c").await;
    b.expect_line(&numeric("482", "b", "#x :You're not a channel operator"))
        .await;
    op.send("KICK #x out").await;
    op.expect_line(&numeric("441", "op", "out #x :They aren't on that channel"))
        .await;
    op.send("KICK #x nobody").await;
    op.expect_line(&numeric("401", "op", "nobody :No such nick"))
        .await;
    out.send("KICK #x b").await;
    out.expect_line(&numeric("442", "out", "#x :You're not on that channel"))
        .await;
    op.send("KICK #nope b").await;
    op.expect_line(&numeric("403", "op", "#nope :No such channel"))
        .await;
    op.send("KICK #x").await;
    op.expect_line(&numeric("461", "op", "KICK :Not enough parameters"))
        .await;
    for client in [&mut op, &mut b, &mut c, &mut out] {
        client.expect_quiet().await;
    }
    op.send("NAMES #x").await;
    op.expect_line(&numeric("353", "op", "= #x :@op b c")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kicked_text_user_talks_in_its_previous_room_next() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    join_all("#x", &mut [&mut op]).await;
    let mut bob = Client::named(server.address, "bob").await;
    bob.send("/join #x").await;
    bob.expect("-- bob joined #x").await;
    op.expect_line(":bob!text@127.0.0.1 JOIN #x").await;

    op.send("KICK #x bob :behave").await;
    op.expect_line(":op!~op@127.0.0.1 KICK #x bob behave").await;
    bob.expect("-- bob was kicked from #x by op (behave)").await;

    bob.send("back in the lobby").await;
    bob.expect("-- now talking in #lobby").await;
    bob.expect("#lobby <bob> back in the lobby").await;
    op.expect_quiet().await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kicked_text_user_in_no_other_room_is_told_so() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    join_all("#x", &mut [&mut op]).await;
    let mut bob = Client::named(server.address, "bob").await;
    bob.send("/part #lobby").await;
    bob.expect("-- bob left #lobby").await;
    bob.send("/join #x").await;
    bob.expect("-- bob joined #x").await;
    op.expect_line(":bob!text@127.0.0.1 JOIN #x").await;

    op.send("KICK #x bob").await;
    op.expect_line(":op!~op@127.0.0.1 KICK #x bob op").await;
    bob.expect("-- bob was kicked from #x by op (op)").await;
    bob.send("anyone?").await;
    bob.expect("! you are not in any room (try /join #lobby)")
        .await;
    op.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_channel_disappears_and_is_recreated_fresh() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    join_all("#x", &mut [&mut a, &mut b]).await;
    a.send("TOPIC #x :old topic").await;
    a.expect_line(":a!~a@127.0.0.1 TOPIC #x :old topic").await;
    b.expect_line(":a!~a@127.0.0.1 TOPIC #x :old topic").await;
    a.send("MODE #x +mk-t key").await;
    a.expect_line(":a!~a@127.0.0.1 MODE #x +mk-t key").await;
    b.expect_line(":a!~a@127.0.0.1 MODE #x +mk-t key").await;
    a.send("MODE #x +b c").await;
    a.expect_line(":a!~a@127.0.0.1 MODE #x +b c!*@*").await;
    b.expect_line(":a!~a@127.0.0.1 MODE #x +b c!*@*").await;

    c.send("LIST").await;
    c.expect_line(&numeric("321", "c", "Channel :Users  Name"))
        .await;
    c.expect_line(&numeric("322", "c", "#x 2 :old topic")).await;
    c.expect_line(&numeric("323", "c", ":End of /LIST")).await;

    a.send("PART #x").await;
    a.expect_line(":a!~a@127.0.0.1 PART #x").await;
    b.expect_line(":a!~a@127.0.0.1 PART #x").await;
    b.send("PART #x").await;
    b.expect_line(":b!~b@127.0.0.1 PART #x").await;

    c.send("LIST").await;
    c.expect_line(&numeric("321", "c", "Channel :Users  Name"))
        .await;
    c.expect_line(&numeric("323", "c", ":End of /LIST")).await;
    c.send("NAMES #x").await;
    c.expect_line(&numeric("366", "c", "#x :End of /NAMES list"))
        .await;
    c.send("MODE #x").await;
    c.expect_line(&numeric("403", "c", "#x :No such channel"))
        .await;
    c.send("TOPIC #x").await;
    c.expect_line(&numeric("403", "c", "#x :No such channel"))
        .await;

    // Recreated by c, once banned: no ban, key, topic or old modes; c is the founder, and the
    // new spelling is kept.
    c.send("JOIN #X").await;
    c.expect_line(":c!~c@127.0.0.1 JOIN #X").await;
    c.expect_line(&numeric("353", "c", "= #X @c")).await;
    c.expect_line(&numeric("366", "c", "#X :End of /NAMES list"))
        .await;
    c.send("MODE #x").await;
    c.expect_line(&numeric("324", "c", "#X +nt")).await;
    c.expect_command("329").await;
    c.send("MODE #x b").await;
    c.expect_line(&numeric("368", "c", "#X :End of channel ban list"))
        .await;
    c.send("TOPIC #x").await;
    c.expect_line(&numeric("331", "c", "#X :No topic is set"))
        .await;
    a.send("JOIN #x").await;
    a.expect_line(":a!~a@127.0.0.1 JOIN #X").await;
    a.expect_line(&numeric("353", "a", "= #X :@c a")).await;
    a.expect_line(&numeric("366", "a", "#X :End of /NAMES list"))
        .await;
    c.expect_line(":a!~a@127.0.0.1 JOIN #X").await;
    for client in [&mut a, &mut b, &mut c] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}
