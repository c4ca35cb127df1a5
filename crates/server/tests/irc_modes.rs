//! IRC `MODE` against a real server over real sockets, with exact lines: user mode `+i`, and
//! channel modes `b k l o v i m n s t`: queries, changes and their broadcasts, the effects of
//! each mode, errors, the `MODES=4` limit, and what text users see.

mod support;

use palaver_proto::irc::message::Message;
use support::{Client, IrcClient, SERVER, TestServer, irc_mask, join_all, numeric, unix_now};

/// `op` sends `MODE {command}`; every client in `members` (`op` not included) and `op` itself
/// see exactly `:op!~op@127.0.0.1 MODE {announced}`.
async fn mode_broadcast(
    op: &mut IrcClient,
    members: &mut [&mut IrcClient],
    command: &str,
    announced: &str,
) {
    let line = format!(":{} MODE {announced}", irc_mask(&op.nick));
    op.send(&format!("MODE {command}")).await;
    op.expect_line(&line).await;
    for member in members.iter_mut() {
        member.expect_line(&line).await;
    }
}

/// Sends `NAMES #channel` and asserts the single 353 line's names and the 366.
async fn assert_names(client: &mut IrcClient, channel: &str, names: &str) {
    client.send(&format!("NAMES {channel}")).await;
    let nick = client.nick.clone();
    let names = if names.contains(' ') {
        format!(":{names}")
    } else {
        names.to_owned()
    };
    client
        .expect_line(&numeric("353", &nick, &format!("= {channel} {names}")))
        .await;
    client
        .expect_line(&numeric(
            "366",
            &nick,
            &format!("{channel} :End of /NAMES list"),
        ))
        .await;
}

/// Sends `MODE #channel` and asserts the 324 line (`rest` after the nick) and a plausible 329.
async fn assert_channel_modes(client: &mut IrcClient, channel: &str, rest: &str, created: u64) {
    client.send(&format!("MODE {channel}")).await;
    let nick = client.nick.clone();
    client.expect_line(&numeric("324", &nick, rest)).await;
    let creation = client.expect_command("329").await;
    // Replies name the channel as it was created, which `rest` starts with.
    let shown = rest.split(' ').next().unwrap();
    assert_creation_time(&creation, &nick, shown, created);
}

/// Asserts that `message` is a 329 with a unix time between `not_before` and now.
fn assert_creation_time(message: &Message, nick: &str, channel: &str, not_before: u64) {
    assert_eq!(message.source.as_deref(), Some(SERVER), "{message:?}");
    assert_eq!(message.params.len(), 3, "{message:?}");
    assert_eq!(message.params[0], nick);
    assert_eq!(message.params[1], channel);
    let created: u64 = message.params[2]
        .parse()
        .unwrap_or_else(|_| panic!("329 time is a unix time: {message:?}"));
    assert!(
        created >= not_before && created <= unix_now(),
        "creation time {created} not between {not_before} and now"
    );
}

// ---------------------------------------------------------------------------------------------
// User modes
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_mode_query_and_invisible() {
    let server = TestServer::start().await;
    let mut me = server.irc("me").await;

    me.send("MODE me").await;
    me.expect_line(&numeric("221", "me", "+")).await;
    me.send("MODE me +i").await;
    me.expect_line(":me MODE me +i").await;
    me.send("MODE me").await;
    me.expect_line(&numeric("221", "me", "+i")).await;
    // Already invisible: nothing changes, nothing is said.
    me.send("MODE me +i").await;
    me.expect_quiet().await;
    // The nick is matched case-insensitively.
    me.send("MODE ME -i").await;
    me.expect_line(":me MODE me -i").await;
    me.send("MODE Me").await;
    me.expect_line(&numeric("221", "me", "+")).await;
    me.send("MODE me -i").await;
    me.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_mode_errors_401_501_502() {
    let server = TestServer::start().await;
    let mut me = server.irc("me").await;
    let mut other = server.irc("other").await;

    me.send("MODE other +i").await;
    me.expect_line(&numeric("502", "me", ":Can't change mode for other users"))
        .await;
    me.send("MODE other").await;
    me.expect_line(&numeric("502", "me", ":Can't change mode for other users"))
        .await;
    me.send("MODE ghost +i").await;
    me.expect_line(&numeric("401", "me", "ghost :No such nick"))
        .await;
    me.send("MODE me +x").await;
    me.expect_line(&numeric("501", "me", ":Unknown MODE flag"))
        .await;
    me.send("MODE me").await;
    me.expect_line(&numeric("221", "me", "+")).await;
    // An unknown flag next to a known one: the known one still applies.
    me.send("MODE me +xi").await;
    me.expect_line(&numeric("501", "me", ":Unknown MODE flag"))
        .await;
    me.expect_line(":me MODE me +i").await;
    me.send("MODE").await;
    me.expect_line(&numeric("461", "me", "MODE :Not enough parameters"))
        .await;
    me.expect_quiet().await;
    // other's modes were untouched.
    other.send("MODE other").await;
    other.expect_line(&numeric("221", "other", "+")).await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Channel mode queries
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_mode_query_shows_the_key_only_to_members() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut out = server.irc("out").await;
    let before = unix_now();
    join_all("#x", &mut [&mut op, &mut b]).await;

    assert_channel_modes(&mut op, "#x", "#x +nt", before).await;
    mode_broadcast(&mut op, &mut [&mut b], "#x +k sesame", "#x +k sesame").await;
    mode_broadcast(&mut op, &mut [&mut b], "#x +l 10", "#x +l 10").await;
    assert_channel_modes(&mut op, "#x", "#x +ntkl sesame 10", before).await;
    assert_channel_modes(&mut b, "#x", "#x +ntkl sesame 10", before).await;
    assert_channel_modes(&mut out, "#x", "#x +ntkl * 10", before).await;
    // The channel name is case-insensitive; replies use its own spelling.
    assert_channel_modes(&mut out, "#X", "#x +ntkl * 10", before).await;

    out.send("MODE #nope").await;
    out.expect_line(&numeric("403", "out", "#nope :No such channel"))
        .await;
    out.send("MODE #nope +m").await;
    out.expect_line(&numeric("403", "out", "#nope :No such channel"))
        .await;
    for client in [&mut op, &mut b, &mut out] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_flag_is_set_and_removed_and_broadcast_to_every_member() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    let before = unix_now();
    join_all("#x", &mut [&mut op, &mut b, &mut c]).await;

    for flag in ['i', 'm', 's'] {
        mode_broadcast(
            &mut op,
            &mut [&mut b, &mut c],
            &format!("#x +{flag}"),
            &format!("#x +{flag}"),
        )
        .await;
    }
    assert_channel_modes(&mut b, "#x", "#x +imnst", before).await;
    for flag in ['i', 'm', 'n', 's', 't'] {
        mode_broadcast(
            &mut op,
            &mut [&mut b, &mut c],
            &format!("#x -{flag}"),
            &format!("#x -{flag}"),
        )
        .await;
    }
    assert_channel_modes(&mut b, "#x", "#x +", before).await;
    for flag in ['n', 't'] {
        mode_broadcast(
            &mut op,
            &mut [&mut b, &mut c],
            &format!("#x +{flag}"),
            &format!("#x +{flag}"),
        )
        .await;
    }
    assert_channel_modes(&mut c, "#x", "#x +nt", before).await;

    // Several in one command.
    mode_broadcast(&mut op, &mut [&mut b, &mut c], "#x +im", "#x +im").await;
    mode_broadcast(&mut op, &mut [&mut b, &mut c], "#x -im+s", "#x -im+s").await;
    mode_broadcast(&mut op, &mut [&mut b, &mut c], "#x s-t", "#x -t").await;
    assert_channel_modes(&mut op, "#x", "#x +ns", before).await;
    // A repeated letter is applied (and announced) once.
    mode_broadcast(&mut op, &mut [&mut b, &mut c], "#x +mm", "#x +m").await;
    for client in [&mut op, &mut b, &mut c] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_channels_are_hidden_from_non_members() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut out = server.irc("out").await;
    join_all("#x", &mut [&mut op]).await;
    mode_broadcast(&mut op, &mut [], "#x +s", "#x +s").await;

    op.send("NAMES #x").await;
    op.expect_line(&numeric("353", "op", "@ #x @op")).await;
    op.expect_line(&numeric("366", "op", "#x :End of /NAMES list"))
        .await;
    out.send("NAMES #x").await;
    out.expect_line(&numeric("366", "out", "#x :End of /NAMES list"))
        .await;
    out.send("LIST").await;
    out.expect_line(&numeric("321", "out", "Channel :Users  Name"))
        .await;
    out.expect_line(&numeric("323", "out", ":End of /LIST"))
        .await;
    op.send("LIST").await;
    op.expect_line(&numeric("321", "op", "Channel :Users  Name"))
        .await;
    op.expect_line(&numeric("322", "op", "#x 1 :")).await;
    op.expect_line(&numeric("323", "op", ":End of /LIST")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_only_and_moderated_take_effect_and_lift() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    join_all("#x", &mut [&mut op, &mut b]).await;

    mode_broadcast(&mut op, &mut [&mut b], "#x +im", "#x +im").await;
    c.send("JOIN #x").await;
    c.expect_line(&numeric("473", "c", "#x :Cannot join channel (+i)"))
        .await;
    b.send("PRIVMSG #x :hello?").await;
    b.expect_line(&numeric("404", "b", "#x :Cannot send to channel (+m)"))
        .await;
    op.expect_quiet().await;

    mode_broadcast(&mut op, &mut [&mut b], "#x -im", "#x -im").await;
    b.send("PRIVMSG #x :hello!").await;
    op.expect_line(":b!~b@127.0.0.1 PRIVMSG #x hello!").await;
    join_all("#x", &mut [&mut c]).await;
    op.expect_line(":c!~c@127.0.0.1 JOIN #x").await;
    b.expect_line(":c!~c@127.0.0.1 JOIN #x").await;
    for client in [&mut op, &mut b, &mut c] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Operator and voice
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op_and_voice_change_prefixes_and_who_may_speak() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc("carol").await;
    join_all("#x", &mut [&mut op, &mut alice, &mut bob, &mut carol]).await;

    // The combined form: +o alice, +v bob, -v bob.
    mode_broadcast(
        &mut op,
        &mut [&mut alice, &mut bob, &mut carol],
        "#x +ov-v alice bob bob",
        "#x +ov-v alice bob bob",
    )
    .await;
    assert_names(&mut carol, "#x", "@op @alice bob carol").await;

    mode_broadcast(
        &mut op,
        &mut [&mut alice, &mut bob, &mut carol],
        "#x +v BOB",
        "#x +v bob",
    )
    .await;
    assert_names(&mut carol, "#x", "@op @alice +bob carol").await;

    // In +m, operators and voiced members speak; others get 404.
    mode_broadcast(
        &mut op,
        &mut [&mut alice, &mut bob, &mut carol],
        "#x +m",
        "#x +m",
    )
    .await;
    bob.send("PRIVMSG #x :voiced").await;
    for client in [&mut op, &mut alice, &mut carol] {
        client
            .expect_line(":bob!~bob@127.0.0.1 PRIVMSG #x voiced")
            .await;
    }
    alice.send("PRIVMSG #x :opped").await;
    for client in [&mut op, &mut bob, &mut carol] {
        client
            .expect_line(":alice!~alice@127.0.0.1 PRIVMSG #x opped")
            .await;
    }
    carol.send("PRIVMSG #x :me too").await;
    carol
        .expect_line(&numeric("404", "carol", "#x :Cannot send to channel (+m)"))
        .await;

    // The new operator may change modes; after -o she may not.
    mode_broadcast(
        &mut alice,
        &mut [&mut op, &mut bob, &mut carol],
        "#x +v carol",
        "#x +v carol",
    )
    .await;
    carol.send("PRIVMSG #x :thanks").await;
    for client in [&mut op, &mut alice, &mut bob] {
        client
            .expect_line(":carol!~carol@127.0.0.1 PRIVMSG #x thanks")
            .await;
    }
    mode_broadcast(
        &mut op,
        &mut [&mut alice, &mut bob, &mut carol],
        "#x -o+o-v alice bob bob",
        "#x -o+o-v alice bob bob",
    )
    .await;
    assert_names(&mut alice, "#x", "@op alice @bob +carol").await;
    alice.send("MODE #x -m").await;
    alice
        .expect_line(&numeric(
            "482",
            "alice",
            "#x :You're not a channel operator",
        ))
        .await;
    alice.send("PRIVMSG #x :deopped").await;
    alice
        .expect_line(&numeric("404", "alice", "#x :Cannot send to channel (+m)"))
        .await;
    // An operator may take its own status.
    mode_broadcast(
        &mut bob,
        &mut [&mut op, &mut alice, &mut carol],
        "#x -o bob",
        "#x -o bob",
    )
    .await;
    assert_names(&mut op, "#x", "@op alice bob +carol").await;
    for client in [&mut op, &mut alice, &mut bob, &mut carol] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op_or_voice_for_a_missing_nick_gets_441_or_401_and_the_rest_applies() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut elsewhere = server.irc("elsewhere").await;
    join_all("#x", &mut [&mut op, &mut b]).await;

    op.send("MODE #x +o elsewhere").await;
    op.expect_line(&numeric(
        "441",
        "op",
        "elsewhere #x :They aren't on that channel",
    ))
    .await;
    op.send("MODE #x +v ghost").await;
    op.expect_line(&numeric("401", "op", "ghost :No such nick"))
        .await;
    op.expect_quiet().await;
    b.expect_quiet().await;

    op.send("MODE #x +omv ghost b").await;
    op.expect_line(&numeric("401", "op", "ghost :No such nick"))
        .await;
    op.expect_line(":op!~op@127.0.0.1 MODE #x +mv b").await;
    b.expect_line(":op!~op@127.0.0.1 MODE #x +mv b").await;

    // +o without a nick: 696.
    op.send("MODE #x +o").await;
    op.expect_line(&numeric("696", "op", "#x o * :You must specify a nick"))
        .await;
    for client in [&mut op, &mut b, &mut elsewhere] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Key and limit
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_mode_guards_joins_until_removed() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    join_all("#x", &mut [&mut op]).await;

    mode_broadcast(&mut op, &mut [], "#x +k sesame", "#x +k sesame").await;
    b.send("JOIN #x").await;
    b.expect_line(&numeric("475", "b", "#x :Cannot join channel (+k)"))
        .await;
    b.send("JOIN #x wrong").await;
    b.expect_line(&numeric("475", "b", "#x :Cannot join channel (+k)"))
        .await;
    b.send("JOIN #x Sesame").await;
    b.expect_line(&numeric("475", "b", "#x :Cannot join channel (+k)"))
        .await;
    b.send("JOIN #x sesame").await;
    b.expect_line(":b!~b@127.0.0.1 JOIN #x").await;
    b.expect_line(&numeric("353", "b", "= #x :@op b")).await;
    b.expect_line(&numeric("366", "b", "#x :End of /NAMES list"))
        .await;
    op.expect_line(":b!~b@127.0.0.1 JOIN #x").await;

    // A new key replaces the old one.
    mode_broadcast(&mut op, &mut [&mut b], "#x +k other", "#x +k other").await;
    c.send("JOIN #x sesame").await;
    c.expect_line(&numeric("475", "c", "#x :Cannot join channel (+k)"))
        .await;

    // -k removes it (its argument, if any, is ignored); the announcement shows `*`.
    mode_broadcast(&mut op, &mut [&mut b], "#x -k whatever", "#x -k *").await;
    c.send("JOIN #x").await;
    c.expect_line(":c!~c@127.0.0.1 JOIN #x").await;
    c.skip_until(|m| m.command == "366").await;
    op.expect_line(":c!~c@127.0.0.1 JOIN #x").await;
    b.expect_line(":c!~c@127.0.0.1 JOIN #x").await;
    mode_broadcast(&mut op, &mut [&mut b, &mut c], "#x +k k2", "#x +k k2").await;
    mode_broadcast(&mut op, &mut [&mut b, &mut c], "#x -k", "#x -k *").await;

    // Invalid keys: 696 and nothing changes.
    op.send("MODE #x +k").await;
    op.expect_line(&numeric("696", "op", "#x k * :Invalid key"))
        .await;
    op.send("MODE #x +k a,b").await;
    op.expect_line(&numeric("696", "op", "#x k a,b :Invalid key"))
        .await;
    for client in [&mut op, &mut b, &mut c] {
        client.expect_quiet().await;
    }
    op.send("MODE #x").await;
    op.expect_line(&numeric("324", "op", "#x +nt")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_mode_refuses_joins_when_full_until_removed() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut c = server.irc("c").await;
    join_all("#x", &mut [&mut op]).await;

    mode_broadcast(&mut op, &mut [], "#x +l 2", "#x +l 2").await;
    join_all("#x", &mut [&mut b]).await;
    op.expect_line(":b!~b@127.0.0.1 JOIN #x").await;
    c.send("JOIN #x").await;
    c.expect_line(&numeric("471", "c", "#x :Cannot join channel (+l)"))
        .await;
    op.expect_quiet().await;

    mode_broadcast(&mut op, &mut [&mut b], "#x +l 3", "#x +l 3").await;
    mode_broadcast(&mut op, &mut [&mut b], "#x -l", "#x -l").await;
    join_all("#x", &mut [&mut c]).await;
    op.expect_line(":c!~c@127.0.0.1 JOIN #x").await;
    b.expect_line(":c!~c@127.0.0.1 JOIN #x").await;
    for client in [&mut op, &mut b, &mut c] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_limit_is_answered_with_696() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    join_all("#x", &mut [&mut op]).await;
    op.send("MODE #x +l").await;
    op.expect_line(&numeric("696", "op", "#x l * :Invalid limit"))
        .await;
    op.expect_quiet().await;
    op.send("MODE #x").await;
    op.expect_line(&numeric("324", "op", "#x +nt")).await;
    server.shut_down().await;
}

/// ERR_INVALIDMODEPARAM is `<client> <target> <mode char> <parameter> :<description>`
/// (modern.ircdocs.horse): the parameter named is the invalid one the client sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_limit_is_answered_with_696_naming_the_parameter() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    join_all("#x", &mut [&mut op]).await;
    op.send("MODE #x +l abc").await;
    op.expect_line(&numeric("696", "op", "#x l abc :Invalid limit"))
        .await;
    op.send("MODE #x +l 0").await;
    op.expect_line(&numeric("696", "op", "#x l 0 :Invalid limit"))
        .await;
    op.send("MODE #x +l -5").await;
    op.expect_line(&numeric("696", "op", "#x l -5 :Invalid limit"))
        .await;
    op.expect_quiet().await;
    op.send("MODE #x").await;
    op.expect_line(&numeric("324", "op", "#x +nt")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_limit_consumes_its_parameter_and_later_changes_apply() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut op, &mut b]).await;
    op.send("MODE #x +lv abc b").await;
    op.expect_command("696").await;
    op.expect_line(":op!~op@127.0.0.1 MODE #x +v b").await;
    b.expect_line(":op!~op@127.0.0.1 MODE #x +v b").await;
    op.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Bans
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_are_normalised_listed_enforced_and_removed() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut bob = server.irc("bob").await;
    join_all("#x", &mut [&mut op, &mut b]).await;

    // An empty list.
    b.send("MODE #x +b").await;
    b.expect_line(&numeric("368", "b", "#x :End of channel ban list"))
        .await;

    let before = unix_now();
    mode_broadcast(&mut op, &mut [&mut b], "#x +b Bob", "#x +b bob!*@*").await;
    mode_broadcast(
        &mut op,
        &mut [&mut b],
        "#x +b *@Some.Host",
        "#x +b *!*@some.host",
    )
    .await;
    // Already listed (after normalisation): nothing to announce.
    op.send("MODE #x +b bob!*@*").await;
    op.expect_quiet().await;
    b.expect_quiet().await;

    // `+b` and `b` without a mask list the bans, for any member.
    for query in ["MODE #x +b", "MODE #x b"] {
        b.send(query).await;
        for expected_mask in ["bob!*@*", "*!*@some.host"] {
            let entry = b.message().await;
            assert_eq!(entry.source.as_deref(), Some(SERVER), "{entry:?}");
            assert_eq!(entry.command, "367", "{entry:?}");
            assert_eq!(entry.params.len(), 5, "{entry:?}");
            assert_eq!(
                entry.params[..4],
                ["b", "#x", expected_mask, "op!~op@127.0.0.1"]
            );
            let set_at: u64 = entry.params[4].parse().unwrap();
            assert!(set_at >= before && set_at <= unix_now(), "{entry:?}");
        }
        b.expect_line(&numeric("368", "b", "#x :End of channel ban list"))
            .await;
    }

    bob.send("JOIN #x").await;
    bob.expect_line(&numeric("474", "bob", "#x :Cannot join channel (+b)"))
        .await;
    // -b removes it, with the same normalisation.
    mode_broadcast(&mut op, &mut [&mut b], "#x -b BOB", "#x -b bob!*@*").await;
    op.send("MODE #x b").await;
    let entry = op.expect_command("367").await;
    assert_eq!(entry.params[2], "*!*@some.host");
    op.expect_line(&numeric("368", "op", "#x :End of channel ban list"))
        .await;
    bob.send("JOIN #x").await;
    bob.expect_line(":bob!~bob@127.0.0.1 JOIN #x").await;
    bob.skip_until(|m| m.command == "366").await;
    op.expect_line(":bob!~bob@127.0.0.1 JOIN #x").await;
    b.expect_line(":bob!~bob@127.0.0.1 JOIN #x").await;
    for client in [&mut op, &mut b, &mut bob] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_member_stays_but_cannot_speak() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut op, &mut b]).await;

    // Bans match the whole nick!user@host, with globs.
    mode_broadcast(
        &mut op,
        &mut [&mut b],
        "#x +b *!~b@127.0.0.?",
        "#x +b *!~b@127.0.0.?",
    )
    .await;
    b.send("PRIVMSG #x :can you hear me").await;
    b.expect_line(&numeric("404", "b", "#x :Cannot send to channel (+b)"))
        .await;
    op.expect_quiet().await;
    assert_names(&mut op, "#x", "@op b").await;

    // Design choice: voice lets a banned member speak (as on most servers).
    mode_broadcast(&mut op, &mut [&mut b], "#x +v b", "#x +v b").await;
    b.send("PRIVMSG #x :voiced now").await;
    op.expect_line(":b!~b@127.0.0.1 PRIVMSG #x :voiced now")
        .await;
    mode_broadcast(&mut op, &mut [&mut b], "#x -v b", "#x -v b").await;
    b.send("PRIVMSG #x :and now?").await;
    b.expect_line(&numeric("404", "b", "#x :Cannot send to channel (+b)"))
        .await;
    mode_broadcast(
        &mut op,
        &mut [&mut b],
        "#x -b *!~b@127.0.0.?",
        "#x -b *!~b@127.0.0.?",
    )
    .await;
    b.send("PRIVMSG #x :free").await;
    op.expect_line(":b!~b@127.0.0.1 PRIVMSG #x free").await;
    for client in [&mut op, &mut b] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Errors and limits
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_mode_char_gets_472_and_the_valid_changes_still_apply() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut op, &mut b]).await;

    op.send("MODE #x +zm").await;
    op.expect_line(&numeric("472", "op", "z :is unknown mode char to me"))
        .await;
    op.expect_line(":op!~op@127.0.0.1 MODE #x +m").await;
    b.expect_line(":op!~op@127.0.0.1 MODE #x +m").await;

    op.send("MODE #x -m+Xv b").await;
    op.expect_line(&numeric("472", "op", "X :is unknown mode char to me"))
        .await;
    op.expect_line(":op!~op@127.0.0.1 MODE #x -m+v b").await;
    b.expect_line(":op!~op@127.0.0.1 MODE #x -m+v b").await;

    // Only unknown letters: just the 472s.
    op.send("MODE #x +yz").await;
    op.expect_line(&numeric("472", "op", "y :is unknown mode char to me"))
        .await;
    op.expect_line(&numeric("472", "op", "z :is unknown mode char to me"))
        .await;
    op.expect_quiet().await;
    b.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_modes_needs_operator_status_and_membership() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    let mut out = server.irc("out").await;
    join_all("#x", &mut [&mut op, &mut b]).await;

    b.send("MODE #x +m").await;
    b.expect_line(&numeric("482", "b", "#x :You're not a channel operator"))
        .await;
    b.send("MODE #x +o b").await;
    b.expect_line(&numeric("482", "b", "#x :You're not a channel operator"))
        .await;
    b.send("MODE #x -o op").await;
    b.expect_line(&numeric("482", "b", "#x :You're not a channel operator"))
        .await;
    out.send("MODE #x +m").await;
    out.expect_line(&numeric("442", "out", "#x :You're not on that channel"))
        .await;
    out.send("MODE #x +b b").await;
    out.expect_line(&numeric("442", "out", "#x :You're not on that channel"))
        .await;
    for client in [&mut op, &mut b, &mut out] {
        client.expect_quiet().await;
    }
    // Nothing changed.
    assert_names(&mut op, "#x", "@op b").await;
    op.send("MODE #x").await;
    op.expect_line(&numeric("324", "op", "#x +nt")).await;
    op.expect_command("329").await;
    op.send("MODE #x b").await;
    op.expect_line(&numeric("368", "op", "#x :End of channel ban list"))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_four_changes_with_a_parameter_apply_per_command() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut op, &mut b]).await;

    mode_broadcast(
        &mut op,
        &mut [&mut b],
        "#x +bbbbb m1 m2 m3 m4 m5",
        "#x +bbbb m1!*@* m2!*@* m3!*@* m4!*@*",
    )
    .await;
    op.send("MODE #x b").await;
    for expected in ["m1!*@*", "m2!*@*", "m3!*@*", "m4!*@*"] {
        let entry = op.expect_command("367").await;
        assert_eq!(entry.params[2], expected);
    }
    op.expect_command("368").await;

    // Flags take no parameter and do not count.
    mode_broadcast(
        &mut op,
        &mut [&mut b],
        "#x -bbbbb+mi m1 m2 m3 m4 m5",
        "#x -bbbb+mi m1!*@* m2!*@* m3!*@* m4!*@*",
    )
    .await;
    // A mix of parameter modes: the fifth (+v b) is ignored.
    mode_broadcast(
        &mut op,
        &mut [&mut b],
        "#x +kblbv key m9 5 m8 b",
        "#x +kblb key m9!*@* 5 m8!*@*",
    )
    .await;
    assert_names(&mut op, "#x", "@op b").await;
    for client in [&mut op, &mut b] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_that_change_nothing_are_not_announced() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut b = server.irc("b").await;
    join_all("#x", &mut [&mut op, &mut b]).await;

    for change in [
        "#x +n",
        "#x +t",
        "#x +nt",
        "#x -i",
        "#x -ms",
        "#x +o op",
        "#x -o b",
        "#x -v b",
        "#x -b nobody",
        "#x -k",
        "#x -l",
    ] {
        op.send(&format!("MODE {change}")).await;
        op.expect_quiet().await;
    }
    b.expect_quiet().await;

    // Within one command only the real changes are announced.
    mode_broadcast(&mut op, &mut [&mut b], "#x +ntm-is", "#x +m").await;
    mode_broadcast(&mut op, &mut [&mut b], "#x +l 5", "#x +l 5").await;
    op.send("MODE #x +l 5").await;
    op.expect_quiet().await;
    mode_broadcast(&mut op, &mut [&mut b], "#x +k key", "#x +k key").await;
    op.send("MODE #x +k key").await;
    op.expect_quiet().await;
    mode_broadcast(&mut op, &mut [&mut b], "#x +v b", "#x +v b").await;
    op.send("MODE #x +v b").await;
    op.expect_quiet().await;
    b.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Text users
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_users_see_mode_changes_and_are_subject_to_them() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    join_all("#x", &mut [&mut op]).await;
    let mut tom = Client::named(server.address, "tom").await;
    tom.send("/join #x").await;
    tom.expect("-- tom joined #x").await;
    op.expect_line(":tom!text@127.0.0.1 JOIN #x").await;

    mode_broadcast(&mut op, &mut [], "#x +m", "#x +m").await;
    tom.expect("-- op set mode +m on #x").await;
    tom.send("hello?").await;
    tom.expect("! cannot send to #x (room is moderated)").await;
    op.expect_quiet().await;

    mode_broadcast(&mut op, &mut [], "#x +v tom", "#x +v tom").await;
    tom.expect("-- op set mode +v tom on #x").await;
    tom.send("hello!").await;
    tom.expect("#x <tom> hello!").await;
    op.expect_line(":tom!text@127.0.0.1 PRIVMSG #x hello!")
        .await;

    mode_broadcast(&mut op, &mut [], "#x -mv+b tom tom", "#x -mv+b tom tom!*@*").await;
    tom.expect("-- op set mode -mv+b tom tom!*@* on #x").await;
    tom.send("banned?").await;
    tom.expect("! cannot send to #x (you are banned)").await;
    op.expect_quiet().await;
    tom.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_founder_of_a_room_created_by_a_text_user_is_that_text_user() {
    let server = TestServer::start().await;
    let mut guest = Client::connect(server.address).await;
    let guest_nick = guest.nick.clone();
    assert!(guest_nick.starts_with("guest-"), "{guest_nick}");
    guest.send("/join #t").await;
    guest.expect(&format!("-- {guest_nick} joined #t")).await;

    let mut a = server.irc("a").await;
    a.send("JOIN #t").await;
    a.expect_line(":a!~a@127.0.0.1 JOIN #t").await;
    a.expect_line(&numeric("353", "a", &format!("= #t :@{guest_nick} a")))
        .await;
    a.expect_line(&numeric("366", "a", "#t :End of /NAMES list"))
        .await;
    guest.expect("-- a joined #t").await;

    // The IRC user is not an operator there.
    a.send("MODE #t +m").await;
    a.expect_line(&numeric("482", "a", "#t :You're not a channel operator"))
        .await;
    a.send("MODE #t").await;
    a.expect_line(&numeric("324", "a", "#t +nt")).await;
    a.expect_command("329").await;
    a.send("WHO #t").await;
    let who = a.expect_command("352").await;
    assert_eq!(who.params[5], guest_nick);
    assert_eq!(who.params[6], "H@");
    let who = a.expect_command("352").await;
    assert_eq!(who.params[5], "a");
    assert_eq!(who.params[6], "H");
    a.expect_command("315").await;
    a.expect_quiet().await;
    guest.expect_quiet().await;
    server.shut_down().await;
}
