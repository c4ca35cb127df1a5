//! A user in many rooms: the per-user room limit (`[limits] rooms_per_user`, IRC `CHANLIMIT`,
//! `405 ERR_TOOMANYCHANNELS`), and `WHO` over all users and `JOIN 0` with users in many rooms
//! (`docs/SECURITY.md`, "Listings cost what they show").

mod support;

use palaver_proto::irc::message::Message;
use palaver_server::config::Overrides;
use support::{Client, IrcClient, TestServer, irc_mask, numeric};

/// Channels one `JOIN` names, keeping the line well under 512 bytes.
const JOIN_BATCH: usize = 40;

/// `client` joins every channel in `channels` (new ones, so it founds each), reading each
/// batch's replies up to the 366 of its last channel.
async fn join_many(client: &mut IrcClient, channels: &[String]) {
    for batch in channels.chunks(JOIN_BATCH) {
        client.send(&format!("JOIN {}", batch.join(","))).await;
        let last = batch.last().unwrap().clone();
        client
            .skip_until(|m| m.command == "366" && m.params[1] == last)
            .await;
    }
}

/// `#{prefix}0` … `#{prefix}{count - 1}`.
fn channels(prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|index| format!("#{prefix}{index}"))
        .collect()
}

/// Sends `WHO *` and returns the nicks of the 352 replies, sorted, checking the 315.
async fn who_everyone(client: &mut IrcClient) -> Vec<String> {
    client.send("WHO *").await;
    let mut nicks = Vec::new();
    loop {
        let message = client.message().await;
        match message.command.as_str() {
            "352" => nicks.push(message.params[5].clone()),
            "315" => break,
            _ => panic!("{} got {message:?} in a WHO reply", client.nick),
        }
    }
    nicks.sort();
    nicks
}

/// The `RPL_ISUPPORT` tokens a client registering as `nick` is sent.
async fn isupport_tokens(server: &TestServer, nick: &str) -> Vec<String> {
    let mut client = IrcClient::connect(server.irc_address).await;
    client.send(&format!("NICK {nick}")).await;
    client.send(&format!("USER {nick} 0 * :{nick}")).await;
    let mut tokens = Vec::new();
    loop {
        let message: Message = client.message().await;
        match message.command.as_str() {
            "005" => {
                let (_, middle) = message.params[1..].split_last().unwrap();
                tokens.extend(middle.iter().cloned());
            }
            "376" | "422" => return tokens,
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_may_be_in_at_most_rooms_per_user_rooms() {
    let server =
        TestServer::start_with_config("[limits]\nrooms_per_user = 3\n", Overrides::default()).await;
    let tokens = isupport_tokens(&server, "probe").await;
    assert!(
        tokens.iter().any(|token| token == "CHANLIMIT=#:3"),
        "{tokens:?}"
    );

    // IRC: the fourth channel is refused with 405, and leaving one makes room.
    let mut alice = server.irc("alice").await;
    join_many(&mut alice, &channels("a", 3)).await;
    alice.send("JOIN #a3,#a4").await;
    alice
        .expect_line(&numeric(
            "405",
            "alice",
            "#a3 :You have joined too many channels",
        ))
        .await;
    alice
        .expect_line(&numeric(
            "405",
            "alice",
            "#a4 :You have joined too many channels",
        ))
        .await;
    // Joining a channel one is already in is no join at all.
    alice.send("JOIN #a0").await;
    alice.expect_quiet().await;
    alice.send("PART #a0").await;
    alice
        .expect_line(&format!(":{} PART #a0", irc_mask("alice")))
        .await;
    alice.join("#a3").await;
    alice.expect_quiet().await;

    // Text: the lobby counts.
    let mut tina = Client::named(server.address, "tina").await;
    tina.send("/join #t1").await;
    tina.expect("-- tina joined #t1").await;
    tina.send("/join #t2").await;
    tina.expect("-- tina joined #t2").await;
    tina.send("/join #t3").await;
    tina.expect("! cannot join #t3 (you are already in 3 rooms, the most allowed)")
        .await;
    tina.send("/join #t1").await;
    tina.expect("-- now talking in #t1").await;
    tina.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_over_all_users_in_many_rooms_shows_exactly_who_may_be_seen() {
    let server = TestServer::start().await;
    let rooms = server_limit();
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc("carol").await;
    let mut dave = server.irc("dave").await;
    for invisible in [&mut alice, &mut carol] {
        let nick = invisible.nick.clone();
        invisible.send(&format!("MODE {nick} +i")).await;
        invisible
            .expect_line(&format!(":{nick} MODE {nick} +i"))
            .await;
    }
    // alice and bob fill their room lists; they share only the last room. carol (invisible)
    // shares nothing with anyone.
    join_many(&mut alice, &channels("a", rooms - 1)).await;
    join_many(&mut bob, &channels("b", rooms - 1)).await;
    join_many(&mut carol, &channels("c", 1)).await;
    alice.join("#shared").await;
    bob.join("#shared").await;
    alice.sync().await;

    assert_eq!(who_everyone(&mut bob).await, ["alice", "bob", "dave"]);
    assert_eq!(who_everyone(&mut alice).await, ["alice", "bob", "dave"]);
    assert_eq!(who_everyone(&mut dave).await, ["bob", "dave"]);
    assert_eq!(who_everyone(&mut carol).await, ["bob", "carol", "dave"]);

    // Once they share no room, bob no longer sees invisible alice.
    bob.send("PART #shared").await;
    bob.expect_line(&format!(":{} PART #shared", irc_mask("bob")))
        .await;
    alice
        .expect_line(&format!(":{} PART #shared", irc_mask("bob")))
        .await;
    assert_eq!(who_everyone(&mut bob).await, ["bob", "dave"]);
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_0_leaves_every_room_of_a_full_room_list() {
    let server = TestServer::start().await;
    let rooms = server_limit();
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let names = channels("r", rooms);
    // bob witnesses the first and the last room.
    bob.join(&names[0]).await;
    bob.join(&names[rooms - 1]).await;
    join_many(&mut alice, &names).await;
    bob.skip_until(|m| m.command == "JOIN" && m.params[0] == names[rooms - 1])
        .await;

    alice.send("JOIN 0").await;
    for name in &names {
        alice
            .expect_line(&format!(":{} PART {name}", irc_mask("alice")))
            .await;
    }
    alice.expect_quiet().await;
    bob.expect_line(&format!(":{} PART {}", irc_mask("alice"), names[0]))
        .await;
    bob.expect_line(&format!(":{} PART {}", irc_mask("alice"), names[rooms - 1]))
        .await;
    bob.expect_quiet().await;

    // Nothing is left of alice's memberships: no channel in WHOIS, and the whole allowance
    // is free again.
    bob.send("WHOIS alice").await;
    bob.expect_command("311").await;
    bob.expect_command("312").await;
    join_many(&mut alice, &channels("again", rooms)).await;
    alice.send("JOIN #one-too-many").await;
    alice
        .expect_line(&numeric(
            "405",
            "alice",
            "#one-too-many :You have joined too many channels",
        ))
        .await;
    server.shut_down().await;
}

/// The default number of rooms one user may be in.
fn server_limit() -> usize {
    palaver_server::hub::DEFAULT_ROOMS_PER_USER
}
