//! What listings show of secret rooms and invisible users, in both protocols: a secret room
//! does not exist for non-members (text `/who`, `/topic`; IRC `TOPIC`, `MODE`, `MODE b`,
//! `NAMES`, `WHO`, `WHOIS`, `LIST`), and invisible users are listed only to the members of
//! their rooms (`docs/SECURITY.md`, "Secret rooms and invisible users").

mod support;

use support::{Client, IrcClient, TestServer, irc_mask, join_all, numeric};

/// Sends `command` and asserts that the replies are exactly `lines`, and nothing more.
async fn expect_replies(client: &mut IrcClient, command: &str, lines: &[String]) {
    client.send(command).await;
    for line in lines {
        client.expect_line(line).await;
    }
    client.expect_quiet().await;
}

/// `op` sends `MODE {change}` and every client in `members` and `op` itself see it.
async fn set_mode(op: &mut IrcClient, members: &mut [&mut IrcClient], change: &str) {
    let line = format!(":{} MODE {change}", irc_mask(&op.nick));
    op.send(&format!("MODE {change}")).await;
    op.expect_line(&line).await;
    for member in members.iter_mut() {
        member.expect_line(&line).await;
    }
}

/// A server where alice runs secret `#s` (topic, key, a ban) with invisible carol in it, and
/// public `#pub` (topic, key, a ban) with bob and invisible carol.
struct Rooms {
    server: TestServer,
    alice: IrcClient,
    bob: IrcClient,
    carol: IrcClient,
}

impl Rooms {
    async fn set_up() -> Self {
        let server = TestServer::start().await;
        let mut alice = server.irc("alice").await;
        let mut bob = server.irc("bob").await;
        let mut carol = server.irc("carol").await;
        carol.send("MODE carol +i").await;
        carol.expect_line(":carol MODE carol +i").await;
        join_all("#s", &mut [&mut alice, &mut carol]).await;
        set_mode(&mut alice, &mut [&mut carol], "#s +s").await;
        set_mode(&mut alice, &mut [&mut carol], "#s +k sesame").await;
        set_mode(&mut alice, &mut [&mut carol], "#s +b spy!*@*").await;
        alice.send("TOPIC #s :the plans").await;
        alice
            .expect_line(&format!("{} TOPIC #s :the plans", irc_mask_line("alice")))
            .await;
        carol
            .expect_line(&format!("{} TOPIC #s :the plans", irc_mask_line("alice")))
            .await;
        join_all("#pub", &mut [&mut alice, &mut bob, &mut carol]).await;
        set_mode(&mut alice, &mut [&mut bob, &mut carol], "#pub +k open").await;
        set_mode(&mut alice, &mut [&mut bob, &mut carol], "#pub +b troll!*@*").await;
        alice.send("TOPIC #pub :welcome").await;
        for client in [&mut alice, &mut bob, &mut carol] {
            client
                .expect_line(&format!("{} TOPIC #pub welcome", irc_mask_line("alice")))
                .await;
        }
        Self {
            server,
            alice,
            bob,
            carol,
        }
    }
}

/// `:nick!~nick@127.0.0.1`, the source of an IRC user's lines.
fn irc_mask_line(nick: &str) -> String {
    format!(":{}", irc_mask(nick))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_who_and_topic_hide_secret_rooms_and_invisible_users() {
    let Rooms {
        server,
        mut alice,
        bob: _bob,
        carol: _carol,
    } = Rooms::set_up().await;
    let mut tom = Client::named(server.address, "tom").await;

    // A secret room one is not in does not exist.
    tom.send("/who #s").await;
    tom.expect("! no such room: #s").await;
    tom.send("/topic #s").await;
    tom.expect("! no such room: #s").await;
    tom.send("/who #S").await;
    tom.expect("! no such room: #S").await;
    // A public room shows its topic and its visible members, counted as shown.
    tom.send("/who #pub").await;
    tom.expect("-- members of #pub (2): @alice bob").await;
    tom.send("/topic #pub").await;
    tom.expect("-- topic of #pub: welcome").await;
    tom.expect_quiet().await;

    // Members see everyone, invisible or not.
    alice.send("JOIN #lobby").await;
    alice.skip_until(|m| m.command == "366").await;
    tom.expect("-- alice joined #lobby").await;
    let mut tess = Client::named(server.address, "tess").await;
    tom.expect("-- guest-2 joined #lobby").await;
    tom.expect("-- guest-2 is now known as tess").await;
    tess.send("/join #s sesame").await;
    tess.expect("-- tess joined #s").await;
    tess.expect("-- topic of #s: the plans").await;
    tess.send("/who").await;
    tess.expect("-- members of #s (3): @alice carol tess").await;
    tess.send("/topic #s").await;
    tess.expect("-- topic of #s: the plans").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_topic_and_mode_treat_a_secret_channel_as_missing_for_outsiders() {
    let Rooms {
        server,
        mut alice,
        bob: _bob,
        carol: _carol,
    } = Rooms::set_up().await;
    let mut otto = server.irc("otto").await;
    let no_such = |name: &str| numeric("403", "otto", &format!("{name} :No such channel"));

    expect_replies(&mut otto, "TOPIC #s", &[no_such("#s")]).await;
    expect_replies(&mut otto, "TOPIC #S", &[no_such("#S")]).await;
    expect_replies(&mut otto, "MODE #s", &[no_such("#s")]).await;
    expect_replies(&mut otto, "MODE #s b", &[no_such("#s")]).await;
    expect_replies(&mut otto, "MODE #s +m", &[no_such("#s")]).await;
    expect_replies(&mut otto, "TOPIC #s :mine now", &[no_such("#s")]).await;
    // As for a channel that does not exist at all.
    expect_replies(&mut otto, "MODE #nowhere b", &[no_such("#nowhere")]).await;

    // A public channel shows its topic, its modes without the key, and its bans.
    otto.send("TOPIC #pub").await;
    otto.expect_line(&numeric("332", "otto", "#pub welcome"))
        .await;
    otto.expect_command("333").await;
    otto.send("MODE #pub").await;
    otto.expect_line(&numeric("324", "otto", "#pub +ntk *"))
        .await;
    otto.expect_command("329").await;
    otto.send("MODE #pub b").await;
    let ban = otto.expect_command("367").await;
    assert_eq!(
        ban.params[..4],
        ["otto", "#pub", "troll!*@*", &irc_mask("alice")]
    );
    otto.expect_line(&numeric("368", "otto", "#pub :End of channel ban list"))
        .await;
    otto.expect_quiet().await;

    // A member sees the secret channel's topic, key and bans.
    alice.send("MODE #s").await;
    alice
        .expect_line(&numeric("324", "alice", "#s +nstk sesame"))
        .await;
    alice.expect_command("329").await;
    alice.send("MODE #s b").await;
    let ban = alice.expect_command("367").await;
    assert_eq!(ban.params[2], "spy!*@*");
    alice.expect_command("368").await;
    alice.send("TOPIC #s").await;
    alice
        .expect_line(&numeric("332", "alice", "#s :the plans"))
        .await;
    alice.expect_command("333").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_listings_hide_secret_channels_and_invisible_users_from_outsiders() {
    let Rooms {
        server,
        mut alice,
        bob: _bob,
        carol: _carol,
    } = Rooms::set_up().await;
    let mut otto = server.irc("otto").await;

    expect_replies(
        &mut otto,
        "NAMES #S",
        &[numeric("366", "otto", "#S :End of /NAMES list")],
    )
    .await;
    expect_replies(
        &mut otto,
        "NAMES #pub",
        &[
            numeric("353", "otto", "= #pub :@alice bob"),
            numeric("366", "otto", "#pub :End of /NAMES list"),
        ],
    )
    .await;
    expect_replies(
        &mut otto,
        "WHO #s",
        &[numeric("315", "otto", "#s :End of WHO list")],
    )
    .await;
    otto.send("WHO #pub").await;
    for nick in ["alice", "bob"] {
        let reply = otto.expect_command("352").await;
        assert_eq!(reply.params[5], nick, "{reply:?}");
    }
    otto.expect_line(&numeric("315", "otto", "#pub :End of WHO list"))
        .await;
    // WHOIS shows only the public channel; LIST only the public one.
    otto.send("WHOIS carol").await;
    otto.expect_command("311").await;
    otto.expect_line(&numeric("319", "otto", "carol #pub"))
        .await;
    otto.skip_until(|m| m.command == "318").await;
    otto.send("LIST").await;
    otto.expect_command("321").await;
    otto.expect_line(&numeric("322", "otto", "#pub 3 welcome"))
        .await;
    otto.expect_command("323").await;

    // Members see the secret channel and its invisible member.
    expect_replies(
        &mut alice,
        "NAMES #s",
        &[
            numeric("353", "alice", "@ #s :@alice carol"),
            numeric("366", "alice", "#s :End of /NAMES list"),
        ],
    )
    .await;
    server.shut_down().await;
}
