//! IRC listings and lookups over real sockets: `NAMES`, `LIST`, `WHO`, `WHOIS`, `ISON`,
//! `USERHOST` and `AWAY`, with IRC and text users side by side (`docs/PROTOCOL.md`, "IRC").

mod support;

use std::collections::BTreeSet;

use palaver_server::config::Overrides;
use support::{Client, IrcClient, TestServer, expect_replies, numeric, text_account, unix_now};

/// Reads everything queued for each client (a `PING` round trip each).
async fn sync_all(clients: &mut [&mut IrcClient]) {
    for client in clients {
        client.sync().await;
    }
}

/// Reads `count` lines and returns them as a set, for replies in no defined order.
async fn lines_as_set(client: &mut IrcClient, count: usize) -> BTreeSet<String> {
    let mut lines = BTreeSet::new();
    for _ in 0..count {
        lines.insert(client.line().await);
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// NAMES

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_and_names_list_members_with_prefixes() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;

    alice.send("JOIN #a").await;
    alice.expect_line(":alice!~alice@127.0.0.1 JOIN #a").await;
    alice
        .expect_line(":palaver.local 353 alice = #a @alice")
        .await;
    alice
        .expect_line(":palaver.local 366 alice #a :End of /NAMES list")
        .await;
    bob.send("JOIN #a").await;
    bob.expect_line(":bob!~bob@127.0.0.1 JOIN #a").await;
    bob.expect_line(":palaver.local 353 bob = #a :@alice bob")
        .await;
    bob.expect_line(":palaver.local 366 bob #a :End of /NAMES list")
        .await;
    alice.expect_line(":bob!~bob@127.0.0.1 JOIN #a").await;

    expect_replies(
        &mut alice,
        "NAMES #a",
        &[
            ":palaver.local 353 alice = #a :@alice bob",
            ":palaver.local 366 alice #a :End of /NAMES list",
        ],
    )
    .await;
    // Channel names are case-insensitive; the reply uses the channel's own spelling.
    expect_replies(
        &mut bob,
        "NAMES #A",
        &[
            ":palaver.local 353 bob = #a :@alice bob",
            ":palaver.local 366 bob #a :End of /NAMES list",
        ],
    )
    .await;

    // Voice shows as `+`.
    alice.send("MODE #a +v bob").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 MODE #a +v bob")
        .await;
    bob.expect_line(":alice!~alice@127.0.0.1 MODE #a +v bob")
        .await;
    expect_replies(
        &mut bob,
        "NAMES #a",
        &[
            ":palaver.local 353 bob = #a :@alice +bob",
            ":palaver.local 366 bob #a :End of /NAMES list",
        ],
    )
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_of_unknown_channels_and_without_arguments() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    alice.join("#a").await;
    expect_replies(
        &mut alice,
        "NAMES #nope",
        &[":palaver.local 366 alice #nope :End of /NAMES list"],
    )
    .await;
    expect_replies(
        &mut alice,
        "NAMES",
        &[":palaver.local 366 alice * :End of /NAMES list"],
    )
    .await;
    // Several channels: each one's names, then one 366 naming the list as asked (RFC 2812).
    alice.join("#b").await;
    expect_replies(
        &mut alice,
        "NAMES #nope,#a,#B",
        &[
            ":palaver.local 353 alice = #a @alice",
            ":palaver.local 353 alice = #b @alice",
            ":palaver.local 366 alice #nope,#a,#B :End of /NAMES list",
        ],
    )
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_hides_secret_channels_and_invisible_users_from_outsiders() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc("carol").await;
    let mut dave = server.irc("dave").await;
    alice.join("#a").await;
    bob.join("#a").await;
    carol.send("MODE carol +i").await;
    carol.expect_line(":carol MODE carol +i").await;
    carol.join("#a").await;
    alice.sync().await;
    alice.join("#s").await;
    alice.send("MODE #s +s").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 MODE #s +s")
        .await;
    sync_all(&mut [&mut alice, &mut bob, &mut carol]).await;

    // A member sees everyone; an outsider does not see invisible carol.
    expect_replies(
        &mut bob,
        "NAMES #a",
        &[
            ":palaver.local 353 bob = #a :@alice bob carol",
            ":palaver.local 366 bob #a :End of /NAMES list",
        ],
    )
    .await;
    expect_replies(
        &mut dave,
        "NAMES #a",
        &[
            ":palaver.local 353 dave = #a :@alice bob",
            ":palaver.local 366 dave #a :End of /NAMES list",
        ],
    )
    .await;
    // A secret channel is `@` to its members and empty to everyone else.
    expect_replies(
        &mut alice,
        "NAMES #s",
        &[
            ":palaver.local 353 alice @ #s @alice",
            ":palaver.local 366 alice #s :End of /NAMES list",
        ],
    )
    .await;
    expect_replies(
        &mut dave,
        "NAMES #s",
        &[":palaver.local 366 dave #s :End of /NAMES list"],
    )
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_shows_text_users_by_nick() {
    let server = TestServer::start().await;
    let _tex = Client::named(server.address, "tex").await;
    let mut alice = server.irc("alice").await;
    alice.join("#lobby").await;
    // The text user founded #lobby, so it is its operator.
    expect_replies(
        &mut alice,
        "NAMES #lobby",
        &[
            ":palaver.local 353 alice = #lobby :@tex alice",
            ":palaver.local 366 alice #lobby :End of /NAMES list",
        ],
    )
    .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// LIST

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_channels_with_counts_and_topics_and_hides_secret_ones() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc("carol").await;
    alice.join("#a").await;
    bob.join("#a").await;
    alice.sync().await;
    alice.send("TOPIC #a :the topic").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 TOPIC #a :the topic")
        .await;
    bob.sync().await;
    bob.join("#b").await;
    carol.join("#s").await;
    carol.send("MODE #s +s").await;
    carol
        .expect_line(":carol!~carol@127.0.0.1 MODE #s +s")
        .await;
    sync_all(&mut [&mut alice, &mut bob]).await;

    expect_replies(
        &mut alice,
        "LIST",
        &[
            ":palaver.local 321 alice Channel :Users  Name",
            ":palaver.local 322 alice #a 2 :the topic",
            ":palaver.local 322 alice #b 1 :",
            ":palaver.local 323 alice :End of /LIST",
        ],
    )
    .await;
    // Members see their secret channel.
    expect_replies(
        &mut carol,
        "LIST",
        &[
            ":palaver.local 321 carol Channel :Users  Name",
            ":palaver.local 322 carol #a 2 :the topic",
            ":palaver.local 322 carol #b 1 :",
            ":palaver.local 322 carol #s 1 :",
            ":palaver.local 323 carol :End of /LIST",
        ],
    )
    .await;
    // A filter, case-insensitive; the secret channel stays hidden even when named.
    expect_replies(
        &mut alice,
        "LIST #B,#s,#nope",
        &[
            ":palaver.local 321 alice Channel :Users  Name",
            ":palaver.local 322 alice #b 1 :",
            ":palaver.local 323 alice :End of /LIST",
        ],
    )
    .await;
    expect_replies(
        &mut carol,
        "LIST #a,#s",
        &[
            ":palaver.local 321 carol Channel :Users  Name",
            ":palaver.local 322 carol #a 2 :the topic",
            ":palaver.local 322 carol #s 1 :",
            ":palaver.local 323 carol :End of /LIST",
        ],
    )
    .await;

    // Counts follow parts; an emptied channel disappears.
    bob.send("PART #b").await;
    bob.expect_line(":bob!~bob@127.0.0.1 PART #b").await;
    bob.send("PART #a").await;
    bob.expect_line(":bob!~bob@127.0.0.1 PART #a").await;
    expect_replies(
        &mut alice,
        "LIST",
        &[
            ":bob!~bob@127.0.0.1 PART #a",
            ":palaver.local 321 alice Channel :Users  Name",
            ":palaver.local 322 alice #a 1 :the topic",
            ":palaver.local 323 alice :End of /LIST",
        ],
    )
    .await;
    server.shut_down().await;
}

/// `ELIST=CMNTU`: masks, negative masks, member counts, creation and topic times, combined.
/// (The times are minutes ago, so a test can only tell "just now" from "long ago".)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_by_mask_member_count_and_age() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    alice.join("#chan1").await;
    alice.join("#chan2").await;
    alice.send("TOPIC #chan2 :two").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 TOPIC #chan2 two")
        .await;
    bob.join("#chan2").await;
    alice.sync().await;

    let listing = |channels: &[&str]| {
        let mut lines = vec![":palaver.local 321 bob Channel :Users  Name".to_owned()];
        for channel in channels {
            lines.push(match *channel {
                "#chan1" => ":palaver.local 322 bob #chan1 1 :".to_owned(),
                _ => ":palaver.local 322 bob #chan2 2 two".to_owned(),
            });
        }
        lines.push(":palaver.local 323 bob :End of /LIST".to_owned());
        lines
    };
    for (command, channels) in [
        ("LIST *an1", &["#chan1"][..]),
        ("LIST #C*N2", &["#chan2"]),
        ("LIST *an3", &[]),
        ("LIST !*an1", &["#chan2"]),
        ("LIST !#ch*", &[]),
        ("LIST >1", &["#chan2"]),
        ("LIST <2", &["#chan1"]),
        ("LIST >0,<100", &["#chan1", "#chan2"]),
        ("LIST C<10", &["#chan1", "#chan2"]),
        ("LIST C>10", &[]),
        ("LIST T<10", &["#chan2"]),
        ("LIST T>10", &[]),
        ("LIST #ch*,!*1 >0", &["#chan2"]),
    ] {
        let lines = listing(channels);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        expect_replies(&mut bob, command, &lines).await;
    }
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// WHO

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_channel_lists_members_with_flags_and_prefixes() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc("carol").await;
    alice.join("#a").await;
    bob.join("#a").await;
    carol.join("#a").await;
    alice.sync().await;
    alice.send("MODE #a +v carol").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 MODE #a +v carol")
        .await;
    bob.sync().await;
    bob.send("AWAY :lunch").await;
    bob.expect_line(":palaver.local 306 bob :You have been marked as being away")
        .await;
    sync_all(&mut [&mut alice, &mut bob, &mut carol]).await;

    let expected = [
        ":palaver.local 352 alice #a ~alice 127.0.0.1 palaver.local alice H@ :0 alice real name",
        ":palaver.local 352 alice #a ~bob 127.0.0.1 palaver.local bob G :0 bob real name",
        ":palaver.local 352 alice #a ~carol 127.0.0.1 palaver.local carol H+ :0 carol real name",
        ":palaver.local 315 alice #a :End of WHO list",
    ];
    expect_replies(&mut alice, "WHO #a", &expected).await;
    // Case-insensitive channel name; the reply names the channel as it was created, and the
    // end names the mask as given.
    alice.send("WHO #A").await;
    for line in &expected[..3] {
        alice.expect_line(line).await;
    }
    alice
        .expect_line(":palaver.local 315 alice #A :End of WHO list")
        .await;

    // With multi-prefix an operator with voice shows both.
    let mut dave = server.irc_with_caps("dave", &["multi-prefix"]).await;
    alice.send("MODE #a +v alice").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 MODE #a +v alice")
        .await;
    expect_replies(
        &mut dave,
        "WHO #a",
        &[
            ":palaver.local 352 dave #a ~alice 127.0.0.1 palaver.local alice H@+ :0 alice real name",
            ":palaver.local 352 dave #a ~bob 127.0.0.1 palaver.local bob G :0 bob real name",
            ":palaver.local 352 dave #a ~carol 127.0.0.1 palaver.local carol H+ :0 carol real name",
            ":palaver.local 315 dave #a :End of WHO list",
        ],
    )
    .await;
    // An unknown channel is just the end.
    expect_replies(
        &mut alice,
        "WHO #nope",
        &[":palaver.local 315 alice #nope :End of WHO list"],
    )
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_nick_and_who_mask() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let _alan = server.irc("alan").await;
    let mut bob = server.irc("bob").await;
    bob.send("AWAY :out").await;
    bob.expect_command("306").await;

    expect_replies(
        &mut alice,
        "WHO bob",
        &[
            ":palaver.local 352 alice * ~bob 127.0.0.1 palaver.local bob G :0 bob real name",
            ":palaver.local 315 alice bob :End of WHO list",
        ],
    )
    .await;
    expect_replies(
        &mut alice,
        "WHO BOB",
        &[
            ":palaver.local 352 alice * ~bob 127.0.0.1 palaver.local bob G :0 bob real name",
            ":palaver.local 315 alice BOB :End of WHO list",
        ],
    )
    .await;
    expect_replies(
        &mut alice,
        "WHO nobody",
        &[":palaver.local 315 alice nobody :End of WHO list"],
    )
    .await;

    // A glob over nicks; users come in no particular order.
    alice.send("WHO a*").await;
    let found = lines_as_set(&mut alice, 2).await;
    let wanted: BTreeSet<String> = [
        ":palaver.local 352 alice * ~alan 127.0.0.1 palaver.local alan H :0 alan real name",
        ":palaver.local 352 alice * ~alice 127.0.0.1 palaver.local alice H :0 alice real name",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(found, wanted);
    alice
        .expect_line(":palaver.local 315 alice a* :End of WHO list")
        .await;
    alice.expect_quiet().await;

    // A glob over nick!user@host.
    expect_replies(
        &mut alice,
        "WHO *!~b?b@127.0.0.*",
        &[
            ":palaver.local 352 alice * ~bob 127.0.0.1 palaver.local bob G :0 bob real name",
            ":palaver.local 315 alice *!~b?b@127.0.0.* :End of WHO list",
        ],
    )
    .await;
    // `*` is everyone.
    alice.send("WHO *").await;
    let everyone = lines_as_set(&mut alice, 3).await;
    assert_eq!(everyone.len(), 3);
    for nick in ["alice", "alan", "bob"] {
        assert!(
            everyone
                .iter()
                .any(|line| line.contains(&format!(" ~{nick} 127.0.0.1 palaver.local {nick} "))),
            "{nick} missing from {everyone:?}"
        );
    }
    alice
        .expect_line(":palaver.local 315 alice * :End of WHO list")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_users_are_hidden_from_who_searches_unless_a_channel_is_shared() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut carol = server.irc("carol").await;
    let mut dave = server.irc("dave").await;
    carol.send("MODE carol +i").await;
    carol.expect_line(":carol MODE carol +i").await;
    dave.join("#c").await;
    carol.join("#c").await;
    dave.sync().await;

    let carol_in_c =
        ":palaver.local 352 {viewer} #c ~carol 127.0.0.1 palaver.local carol H :0 carol real name";
    let dave_in_c =
        ":palaver.local 352 {viewer} #c ~dave 127.0.0.1 palaver.local dave H@ :0 dave real name";
    let carol_anywhere =
        ":palaver.local 352 {viewer} * ~carol 127.0.0.1 palaver.local carol H :0 carol real name";
    let as_seen_by = |line: &str, viewer: &str| line.replace("{viewer}", viewer);

    // alice shares no channel with carol: a search (a mask) skips her, but her nick finds
    // her, as WHOIS does.
    expect_replies(
        &mut alice,
        "WHO c*",
        &[":palaver.local 315 alice c* :End of WHO list"],
    )
    .await;
    expect_replies(
        &mut alice,
        "WHO *!~carol@*",
        &[":palaver.local 315 alice *!~carol@* :End of WHO list"],
    )
    .await;
    expect_replies(
        &mut alice,
        "WHO carol",
        &[
            as_seen_by(carol_anywhere, "alice").as_str(),
            ":palaver.local 315 alice carol :End of WHO list",
        ],
    )
    .await;
    expect_replies(
        &mut alice,
        "WHO #c",
        &[
            as_seen_by(dave_in_c, "alice").as_str(),
            ":palaver.local 315 alice #c :End of WHO list",
        ],
    )
    .await;

    // dave shares #c with carol.
    expect_replies(
        &mut dave,
        "WHO carol",
        &[
            as_seen_by(carol_anywhere, "dave").as_str(),
            ":palaver.local 315 dave carol :End of WHO list",
        ],
    )
    .await;
    expect_replies(
        &mut dave,
        "WHO #c",
        &[
            as_seen_by(dave_in_c, "dave").as_str(),
            as_seen_by(carol_in_c, "dave").as_str(),
            ":palaver.local 315 dave #c :End of WHO list",
        ],
    )
    .await;
    // carol always sees herself.
    expect_replies(
        &mut carol,
        "WHO carol",
        &[
            as_seen_by(carol_anywhere, "carol").as_str(),
            ":palaver.local 315 carol carol :End of WHO list",
        ],
    )
    .await;

    // Once alice joins #c a search finds carol; once carol is visible again, it finds her
    // for everyone.
    alice.join("#c").await;
    expect_replies(
        &mut alice,
        "WHO c*",
        &[
            as_seen_by(carol_anywhere, "alice").as_str(),
            ":palaver.local 315 alice c* :End of WHO list",
        ],
    )
    .await;
    alice.send("PART #c").await;
    alice.expect_line(":alice!~alice@127.0.0.1 PART #c").await;
    carol.sync().await;
    carol.send("MODE carol -i").await;
    carol.expect_line(":carol MODE carol -i").await;
    expect_replies(
        &mut alice,
        "WHO c*",
        &[
            as_seen_by(carol_anywhere, "alice").as_str(),
            ":palaver.local 315 alice c* :End of WHO list",
        ],
    )
    .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// WHOX

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whox_answers_exactly_the_fields_asked_for_in_one_order() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let _carol = text_account(&server, "carol", "carols-secret").await;
    alice.join("#a").await;
    bob.join("#a").await;
    sync_all(&mut [&mut alice, &mut bob]).await;

    // Every field, asked in any order: token, channel, user, IP, host, server, nick, flags,
    // hops, idle, account, op level, real name.
    for fields in ["%tcuihsnfdlaor,42", "%roaldfnshiuct,42"] {
        alice.send(&format!("WHO bob {fields}")).await;
        let reply = alice.expect_command("354").await;
        assert_eq!(
            reply.params[..10],
            [
                "alice",
                "42",
                "*",
                "~bob",
                "127.0.0.1",
                "127.0.0.1",
                "palaver.local",
                "bob",
                "H",
                "0"
            ]
        );
        assert!(
            reply.params[10].bytes().all(|byte| byte.is_ascii_digit()),
            "idle seconds: {reply:?}"
        );
        assert_eq!(reply.params[11..], ["0", "n/a", "bob real name"]);
        alice
            .expect_line(":palaver.local 315 alice bob :End of WHO list")
            .await;
    }
    // The real name is the last parameter, whatever it holds.
    expect_replies(
        &mut alice,
        "WHO bob %nr",
        &[
            ":palaver.local 354 alice bob :bob real name",
            ":palaver.local 315 alice bob :End of WHO list",
        ],
    )
    .await;
    expect_replies(
        &mut alice,
        "WHO carol %nr",
        &[
            ":palaver.local 354 alice carol :",
            ":palaver.local 315 alice carol :End of WHO list",
        ],
    )
    .await;
    // Accounts: the name, or 0 when logged out; a text user is found like anyone.
    expect_replies(
        &mut alice,
        "WHO carol %tna,7",
        &[
            ":palaver.local 354 alice 7 carol carol",
            ":palaver.local 315 alice carol :End of WHO list",
        ],
    )
    .await;
    expect_replies(
        &mut alice,
        "WHO bob %na",
        &[
            ":palaver.local 354 alice bob 0",
            ":palaver.local 315 alice bob :End of WHO list",
        ],
    )
    .await;
    // A channel's members, with their prefixes in the flags.
    expect_replies(
        &mut alice,
        "WHO #a %cnf",
        &[
            ":palaver.local 354 alice #a alice H@",
            ":palaver.local 354 alice #a bob H",
            ":palaver.local 315 alice #a :End of WHO list",
        ],
    )
    .await;
    // Unknown letters are ignored; a token that is not up to three digits is given back as 0.
    expect_replies(
        &mut alice,
        "WHO bob %tnzx,1234",
        &[
            ":palaver.local 354 alice 0 bob",
            ":palaver.local 315 alice bob :End of WHO list",
        ],
    )
    .await;
    // Without `%`, the second parameter changes nothing.
    expect_replies(
        &mut alice,
        "WHO bob o",
        &[
            ":palaver.local 352 alice * ~bob 127.0.0.1 palaver.local bob H :0 bob real name",
            ":palaver.local 315 alice bob :End of WHO list",
        ],
    )
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whox_keeps_a_cloaked_address_hidden() {
    let server = TestServer::start_with(Overrides {
        cloak_hosts: Some(true),
        ..Overrides::default()
    })
    .await;
    let mut alice = server.irc("alice").await;
    alice.send("WHO alice %ihn").await;
    let reply = alice.expect_command("354").await;
    assert_eq!(reply.params[1], "255.255.255.255");
    assert!(reply.params[2].ends_with(".cloak"), "{reply:?}");
    assert_eq!(reply.params[3], "alice");
    alice
        .expect_line(":palaver.local 315 alice alice :End of WHO list")
        .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// WHOIS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whois_shows_user_channels_server_away_and_idle() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let before = unix_now();
    alice.join("#a").await;
    bob.join("#a").await;
    bob.join("#b").await;
    alice.sync().await;

    alice.send("WHOIS bob").await;
    alice
        .expect_line(":palaver.local 311 alice bob ~bob 127.0.0.1 * :bob real name")
        .await;
    alice
        .expect_line(":palaver.local 319 alice bob :#a @#b")
        .await;
    alice
        .expect_line(":palaver.local 312 alice bob palaver.local palaver")
        .await;
    let idle = alice.expect_command("317").await;
    assert_eq!(idle.source.as_deref(), Some("palaver.local"));
    assert_eq!(idle.params.len(), 5, "{idle:?}");
    assert_eq!(idle.params[0], "alice");
    assert_eq!(idle.params[1], "bob");
    assert_eq!(idle.params[4], "seconds idle, signon time");
    let idle_seconds: u64 = idle.params[2].parse().unwrap();
    assert!(idle_seconds < 10, "{idle:?}");
    let signon: u64 = idle.params[3].parse().unwrap();
    assert!(
        signon + 10 >= before && signon <= unix_now(),
        "signon {signon} around {before}"
    );
    alice
        .expect_line(":palaver.local 318 alice bob :End of /WHOIS list")
        .await;
    alice.expect_quiet().await;

    // Away adds 301 after 312; the nick is case-insensitive and a server name may precede it.
    bob.send("AWAY :gone fishing").await;
    bob.expect_command("306").await;
    alice.send("WHOIS palaver.local BOB").await;
    alice
        .expect_line(":palaver.local 311 alice bob ~bob 127.0.0.1 * :bob real name")
        .await;
    alice
        .expect_line(":palaver.local 319 alice bob :#a @#b")
        .await;
    alice
        .expect_line(":palaver.local 312 alice bob palaver.local palaver")
        .await;
    alice
        .expect_line(":palaver.local 301 alice bob :gone fishing")
        .await;
    alice.expect_command("317").await;
    alice
        .expect_line(":palaver.local 318 alice bob :End of /WHOIS list")
        .await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whois_of_an_unknown_nick_is_401_and_318() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    expect_replies(
        &mut alice,
        "WHOIS nobody",
        &[
            ":palaver.local 401 alice nobody :No such nick/channel",
            ":palaver.local 318 alice nobody :End of /WHOIS list",
        ],
    )
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whois_hides_secret_channels_from_non_members_and_omits_319_without_channels() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    bob.join("#pub").await;
    bob.join("#s").await;
    bob.send("MODE #s +s").await;
    bob.expect_line(":bob!~bob@127.0.0.1 MODE #s +s").await;

    alice.send("WHOIS bob").await;
    alice.expect_command("311").await;
    alice
        .expect_line(":palaver.local 319 alice bob @#pub")
        .await;
    alice.expect_command("312").await;
    alice.expect_command("317").await;
    alice.expect_command("318").await;
    alice.expect_quiet().await;

    // A member of the secret channel sees it.
    alice.join("#s").await;
    alice.send("WHOIS bob").await;
    alice.expect_command("311").await;
    alice
        .expect_line(":palaver.local 319 alice bob :@#pub @#s")
        .await;
    alice.expect_command("312").await;
    alice.expect_command("317").await;
    alice.expect_command("318").await;

    // No visible channel: no 319 at all.
    let mut carol = server.irc("carol").await;
    bob.sync().await;
    bob.send("PART #pub").await;
    bob.expect_line(":bob!~bob@127.0.0.1 PART #pub").await;
    carol.send("WHOIS bob").await;
    carol
        .expect_line(":palaver.local 311 carol bob ~bob 127.0.0.1 * :bob real name")
        .await;
    carol
        .expect_line(":palaver.local 312 carol bob palaver.local palaver")
        .await;
    carol.expect_command("317").await;
    carol
        .expect_line(":palaver.local 318 carol bob :End of /WHOIS list")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_users_appear_in_who_and_whois_as_text_at_their_address() {
    let server = TestServer::start().await;
    let mut tex = Client::named(server.address, "tex").await;
    let mut alice = server.irc("alice").await;
    alice.join("#lobby").await;
    tex.expect("-- alice joined #lobby").await;

    expect_replies(
        &mut alice,
        "WHO #lobby",
        &[
            ":palaver.local 352 alice #lobby text 127.0.0.1 palaver.local tex H@ :0 ",
            ":palaver.local 352 alice #lobby ~alice 127.0.0.1 palaver.local alice H :0 alice real name",
            ":palaver.local 315 alice #lobby :End of WHO list",
        ],
    )
    .await;
    expect_replies(
        &mut alice,
        "WHO TEX",
        &[
            ":palaver.local 352 alice * text 127.0.0.1 palaver.local tex H :0 ",
            ":palaver.local 315 alice TEX :End of WHO list",
        ],
    )
    .await;

    alice.send("WHOIS tex").await;
    alice
        .expect_line(":palaver.local 311 alice tex text 127.0.0.1 * :")
        .await;
    alice
        .expect_line(":palaver.local 319 alice tex @#lobby")
        .await;
    alice
        .expect_line(":palaver.local 312 alice tex palaver.local palaver")
        .await;
    let idle = alice.expect_command("317").await;
    assert_eq!(idle.params[1], "tex");
    alice
        .expect_line(":palaver.local 318 alice tex :End of /WHOIS list")
        .await;

    // A text user's rename shows at once.
    tex.rename("texas").await;
    alice.expect_line(":tex!text@127.0.0.1 NICK texas").await;
    expect_replies(
        &mut alice,
        "USERHOST texas tex",
        &[":palaver.local 302 alice texas=+text@127.0.0.1"],
    )
    .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// ISON, USERHOST, AWAY

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ison_lists_the_present_nicks_case_insensitively() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let _bob = server.irc("bob").await;
    let _carol = server.irc("Carol").await;
    let _tex = Client::named(server.address, "tex").await;

    expect_replies(
        &mut alice,
        "ISON bob carol nobody TEX",
        &[":palaver.local 303 alice :bob Carol tex"],
    )
    .await;
    expect_replies(
        &mut alice,
        "ISON :BOB nobody",
        &[":palaver.local 303 alice bob"],
    )
    .await;
    expect_replies(
        &mut alice,
        "ISON nobody noone",
        &[":palaver.local 303 alice :"],
    )
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userhost_shows_user_and_host_with_away_marks() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    expect_replies(
        &mut alice,
        "USERHOST alice",
        &[":palaver.local 302 alice alice=+~alice@127.0.0.1"],
    )
    .await;
    bob.send("AWAY :brb").await;
    bob.expect_command("306").await;
    expect_replies(
        &mut alice,
        "USERHOST alice BOB nobody",
        &[":palaver.local 302 alice :alice=+~alice@127.0.0.1 bob=-~bob@127.0.0.1"],
    )
    .await;
    expect_replies(
        &mut alice,
        "USERHOST nobody",
        &[":palaver.local 302 alice :"],
    )
    .await;
    // At most five nicks are answered.
    expect_replies(
        &mut alice,
        "USERHOST x1 x2 x3 x4 x5 alice",
        &[":palaver.local 302 alice :"],
    )
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn away_is_set_and_unset_and_privmsg_to_an_away_user_gets_301() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;

    expect_replies(
        &mut bob,
        "AWAY :gone fishing",
        &[":palaver.local 306 bob :You have been marked as being away"],
    )
    .await;
    alice.send("PRIVMSG bob :are you there?").await;
    alice
        .expect_line(":palaver.local 301 alice bob :gone fishing")
        .await;
    alice.expect_quiet().await;
    bob.expect_line(":alice!~alice@127.0.0.1 PRIVMSG bob :are you there?")
        .await;

    // A notice never gets an automatic reply.
    alice.send("NOTICE bob :fyi").await;
    alice.expect_quiet().await;
    bob.expect_line(":alice!~alice@127.0.0.1 NOTICE bob fyi")
        .await;

    // Back: no more 301.
    expect_replies(
        &mut bob,
        "AWAY",
        &[":palaver.local 305 bob :You are no longer marked as being away"],
    )
    .await;
    alice.send("PRIVMSG bob :hello again").await;
    alice.expect_quiet().await;
    bob.expect_line(":alice!~alice@127.0.0.1 PRIVMSG bob :hello again")
        .await;
    expect_replies(
        &mut alice,
        "USERHOST bob",
        &[":palaver.local 302 alice bob=+~bob@127.0.0.1"],
    )
    .await;

    // An empty message unsets too.
    bob.send("AWAY :zzz").await;
    bob.expect_command("306").await;
    expect_replies(
        &mut bob,
        "AWAY :",
        &[":palaver.local 305 bob :You are no longer marked as being away"],
    )
    .await;
    alice.send("PRIVMSG bob :still?").await;
    alice.expect_quiet().await;
    bob.expect_line(":alice!~alice@127.0.0.1 PRIVMSG bob still?")
        .await;

    // Away messages are cut to AWAYLEN=200 bytes.
    bob.send(&format!("AWAY :{}", "z".repeat(250))).await;
    bob.expect_command("306").await;
    alice.send("PRIVMSG bob :long?").await;
    alice
        .expect_line(&format!(":palaver.local 301 alice bob {}", "z".repeat(200)))
        .await;
    server.shut_down().await;
}

/// A host is a middle parameter of `311`, `352` and `302`: an IPv6 peer such as `::1` must not
/// be written with its leading `:`, which would start the trailing parameter and shift every
/// field after it. It is shown as `0::1`, the same address.
#[tokio::test]
async fn an_ipv6_host_is_written_so_that_it_stays_one_parameter() {
    let server = TestServer::start_with(Overrides {
        irc_listen: vec!["[::1]:0".parse().unwrap()],
        ..Overrides::default()
    })
    .await;
    let mut six = IrcClient::register(server.irc_address, "six", &[]).await;
    six.send("WHOIS six").await;
    six.expect_line(&numeric("311", "six", "six ~six 0::1 * :six real name"))
        .await;
    six.skip_until(|m| m.command == "318").await;
    six.send("USERHOST six").await;
    six.expect_line(&numeric("302", "six", "six=+~six@0::1"))
        .await;
    six.send("WHO six").await;
    let who = six.expect_command("352").await;
    assert_eq!(who.params[3], "0::1", "{who:?}");
    assert_eq!(who.params[5], "six", "{who:?}");
    six.skip_until(|m| m.command == "315").await;
    server.shut_down().await;
}
