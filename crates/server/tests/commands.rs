//! Every text-protocol command and its errors, against a real server over real sockets, with
//! the exact lines the protocol promises (`docs/PROTOCOL.md`).

mod support;

use support::{Client, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greeting_names_a_fresh_guest_and_joins_the_lobby() {
    let server = TestServer::start().await;
    let mut first = Client::connect(server.address).await;
    let mut second = Client::connect(server.address).await;
    assert!(first.nick.starts_with("guest-"), "{}", first.nick);
    assert_ne!(first.nick, second.nick);
    first
        .expect(&format!("-- {} joined #lobby", second.nick))
        .await;

    // The greeting's exact wording, with its stamp.
    let stream = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    let (reader, _writer) = stream.into_split();
    let mut reader = tokio::io::BufReader::new(reader);
    let mut greeting = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut greeting)
        .await
        .unwrap();
    let greeting = greeting.trim_end_matches('\n');
    let nick = support::untimed(greeting)
        .strip_prefix("-- welcome to palaver; you are ")
        .and_then(|rest| rest.strip_suffix(" (/nick NAME to change it, /help for commands)"))
        .unwrap_or_else(|| panic!("unexpected greeting {greeting:?}"));
    assert!(nick.starts_with("guest-"));
    second.expect(&format!("-- {nick} joined #lobby")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_reaches_the_room_and_the_sender_gets_the_same_stamped_line() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    alice.skip_until("-- guest-2 is now known as bob").await;
    alice.send("hello, world").await;
    let receipt = alice.raw_line().await;
    assert_eq!(support::untimed(&receipt), "#lobby <alice> hello, world");
    // Formatted once and shared: byte for byte the same line, stamp included.
    assert_eq!(bob.raw_line().await, receipt);
    // `//` quotes a leading slash.
    bob.send("//join is how you join").await;
    alice.expect("#lobby <bob> /join is how you join").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nick_changes_are_seen_by_everyone_sharing_a_room_once() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    let mut loner = Client::named(server.address, "loner").await;
    alice.skip_until("-- guest-3 is now known as loner").await;
    bob.skip_until("-- guest-3 is now known as loner").await;
    // alice and bob also share #rust; loner leaves the lobby and shares nothing with alice.
    alice.send("/join #rust").await;
    alice.expect("-- alice joined #rust").await;
    bob.send("/join #rust").await;
    bob.expect("-- bob joined #rust").await;
    alice.expect("-- bob joined #rust").await;
    loner.send("/part").await;
    loner.expect("-- loner left #lobby").await;
    alice.expect("-- loner left #lobby").await;
    bob.expect("-- loner left #lobby").await;

    alice.send("/nick Alicia").await;
    alice.expect("-- alice is now known as Alicia").await;
    bob.expect("-- alice is now known as Alicia").await;
    // Exactly once, although bob shares two rooms with her: the next line is the next event.
    alice.send("ping").await;
    alice.expect("#rust <Alicia> ping").await;
    bob.expect("#rust <Alicia> ping").await;
    loner.send("/who #lobby").await;
    loner.expect("-- members of #lobby (2): @Alicia bob").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nick_rules_and_collisions() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    bob.send("/nick ALICE").await;
    bob.expect("! nick ALICE is taken").await;
    bob.send("/nick 7up").await;
    bob.expect("! invalid nick 7up: a nick may not start with a digit or -")
        .await;
    bob.send("/nick -x").await;
    bob.expect("! invalid nick -x: a nick may not start with a digit or -")
        .await;
    bob.send("/nick b.o.b").await;
    bob.expect(
        "! invalid nick b.o.b: a nick may only contain letters, digits and - _ [ ] { } \\ | ^",
    )
    .await;
    let too_long = "n".repeat(31);
    bob.send(&format!("/nick {too_long}")).await;
    bob.expect(&format!(
        "! invalid nick {too_long}: a nick must be 1 to 30 characters long"
    ))
    .await;
    bob.send("/nick").await;
    bob.expect("! usage: /nick NAME").await;
    bob.send("/nick two words").await;
    bob.expect("! usage: /nick NAME").await;
    // Special characters and the full length are fine.
    let longest = format!("[b]{}", "o".repeat(27));
    bob.rename(&longest).await;
    // Changing only the case of one's own nick is allowed.
    alice
        .skip_until(&format!("-- bob is now known as {longest}"))
        .await;
    alice.rename("ALICE").await;
    // A freed nick can be taken by someone else.
    alice.rename("carol").await;
    bob.skip_until("-- ALICE is now known as carol").await;
    bob.rename("alice").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_creates_rooms_and_switches_the_current_room() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    alice.skip_until("-- guest-2 is now known as bob").await;

    alice.send("/join #Rust").await;
    alice.expect("-- alice joined #Rust").await;
    alice.send("in rust").await;
    alice.expect("#Rust <alice> in rust").await;
    // Room names are case-insensitive; the name keeps the creator's spelling.
    bob.send("/join #RUST").await;
    bob.expect("-- bob joined #Rust").await;
    // A newcomer sees the room's recent history.
    bob.expect("-- history").await;
    bob.expect("#Rust <alice> in rust").await;
    bob.expect("-- end of history").await;
    alice.expect("-- bob joined #Rust").await;
    // Joining a room one is in makes it current.
    alice.send("/join #lobby").await;
    alice.expect("-- now talking in #lobby").await;
    alice.send("back in the lobby").await;
    alice.expect("#lobby <alice> back in the lobby").await;
    bob.expect("#lobby <alice> back in the lobby").await;

    alice.send("/join").await;
    alice.expect("! usage: /join #room [key]").await;
    alice.send("/join rust").await;
    alice
        .expect("! invalid room name rust: a room name starts with #")
        .await;
    alice.send("/join #a,b").await;
    alice
        .expect("! invalid room name #a,b: a room name may not contain spaces, commas or control characters")
        .await;
    alice.send("/join #").await;
    alice
        .expect("! invalid room name #: a room name is # and then 1 to 50 characters")
        .await;
    alice.send("/join #a key extra").await;
    alice.expect("! usage: /join #room [key]").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_leaves_rooms_and_moves_to_the_previous_room() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    alice.skip_until("-- guest-2 is now known as bob").await;
    alice.send("/join #rust").await;
    alice.expect("-- alice joined #rust").await;
    bob.send("/join #rust").await;
    alice.expect("-- bob joined #rust").await;
    bob.expect("-- bob joined #rust").await;

    alice.send("/part gone fishing").await;
    alice.expect("-- alice left #rust (gone fishing)").await;
    alice.expect("-- now talking in #lobby").await;
    bob.expect("-- alice left #rust (gone fishing)").await;
    alice.send("/part #rust").await;
    alice.expect("! you are not in #rust").await;
    alice.send("/part #nowhere").await;
    alice.expect("! you are not in #nowhere").await;

    alice.send("/part #lobby").await;
    alice.expect("-- alice left #lobby").await;
    bob.expect("-- alice left #lobby").await;
    alice.send("anyone?").await;
    alice
        .expect("! you are not in any room (try /join #lobby)")
        .await;
    alice.send("/me waves").await;
    alice
        .expect("! you are not in any room (try /join #lobby)")
        .await;
    alice.send("/part").await;
    alice.expect("! you are not in any room").await;
    alice.send("/who").await;
    alice
        .expect("! you are not in any room; name one: /who #room")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_messages_reach_only_their_recipient() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    let mut carol = Client::named(server.address, "carol").await;
    alice.skip_until("-- guest-3 is now known as carol").await;
    bob.skip_until("-- guest-3 is now known as carol").await;

    alice.send("/msg BOB  psst,  bob").await;
    alice.expect("-> *bob* psst,  bob").await;
    bob.expect("*alice* psst,  bob").await;
    alice.send("/msg dave hello?").await;
    alice.expect("! no such nick: dave").await;
    alice.send("/msg bob").await;
    alice.expect("! usage: /msg NICK text").await;
    alice.send("/msg").await;
    alice.expect("! usage: /msg NICK text").await;
    // carol saw none of it: her next line is the next public message.
    bob.send("public").await;
    carol.expect("#lobby <bob> public").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_sends_an_action() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    alice.skip_until("-- guest-2 is now known as bob").await;
    alice.send("/me waves  hello").await;
    alice.expect("#lobby * alice waves  hello").await;
    bob.expect("#lobby * alice waves  hello").await;
    alice.send("/me").await;
    alice.expect("! usage: /me action").await;
    alice.send("/ME   ").await;
    alice.expect("! usage: /me action").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_and_rooms_list_members_counts_and_topics() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    alice.skip_until("-- guest-2 is now known as bob").await;
    bob.send("/join #rust").await;
    bob.expect("-- bob joined #rust").await;
    bob.send("/topic Rust, mostly").await;
    bob.expect("-- bob changed the topic of #rust to: Rust, mostly")
        .await;

    alice.send("/who").await;
    alice.expect("-- members of #lobby (2): @alice bob").await;
    alice.send("/who #RUST").await;
    alice.expect("-- members of #rust (1): @bob").await;
    alice.send("/who #nope").await;
    alice.expect("! no such room: #nope").await;
    alice.send("/who #a #b").await;
    alice.expect("! usage: /who [#room]").await;

    alice.send("/rooms").await;
    alice.expect("-- 2 rooms").await;
    alice.expect("-- #lobby (2)").await;
    alice.expect("-- #rust (1) Rust, mostly").await;
    // The filters IRC's LIST takes (ELIST): member counts, masks, negative masks.
    alice.send("/rooms >1").await;
    alice.expect("-- 1 room").await;
    alice.expect("-- #lobby (2)").await;
    alice.send("/rooms *RU*").await;
    alice.expect("-- 1 room").await;
    alice.expect("-- #rust (1) Rust, mostly").await;
    alice.send("/rooms !#l*,<5").await;
    alice.expect("-- 1 room").await;
    alice.expect("-- #rust (1) Rust, mostly").await;
    alice.send("/rooms #nope").await;
    alice.expect("-- 0 rooms").await;
    // An emptied room is gone, topic and all.
    bob.send("/part #rust").await;
    bob.expect("-- bob left #rust").await;
    bob.expect("-- now talking in #lobby").await;
    alice.send("/LIST").await;
    alice.expect("-- 1 room").await;
    alice.expect("-- #lobby (2)").await;
    bob.send("/join #rust").await;
    bob.expect("-- bob joined #rust").await;
    bob.send("/topic").await;
    bob.expect("-- #rust has no topic").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_shown_set_and_announced() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    alice.skip_until("-- guest-2 is now known as bob").await;

    alice.send("/topic").await;
    alice.expect("-- #lobby has no topic").await;
    alice.send("/topic  be  nice ").await;
    alice
        .expect("-- alice changed the topic of #lobby to: be  nice ")
        .await;
    bob.expect("-- alice changed the topic of #lobby to: be  nice ")
        .await;
    bob.send("/topic").await;
    bob.expect("-- topic of #lobby: be  nice ").await;
    bob.send("/topic #LOBBY").await;
    bob.expect("-- topic of #lobby: be  nice ").await;

    // Someone joining a room with a topic is shown it after the join line.
    bob.send("/join #quiet").await;
    bob.expect("-- bob joined #quiet").await;
    bob.send("/topic shh").await;
    bob.expect("-- bob changed the topic of #quiet to: shh")
        .await;
    alice.send("/join #quiet").await;
    alice.expect("-- alice joined #quiet").await;
    alice.expect("-- topic of #quiet: shh").await;
    bob.expect("-- alice joined #quiet").await;

    // Setting needs membership; showing needs the room to exist.
    let mut carol = Client::connect(server.address).await;
    carol.expect("-- topic of #lobby: be  nice ").await;
    carol.send("/topic #quiet mine now").await;
    carol.expect("! you are not in #quiet").await;
    carol.send("/topic #quiet").await;
    carol.expect("-- topic of #quiet: shh").await;
    carol.send("/topic #nope").await;
    carol.expect("! no such room: #nope").await;
    carol.send("/topic #bad,name").await;
    carol
        .expect("! invalid room name #bad,name: a room name may not contain spaces, commas or control characters")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_says_goodbye_tells_the_room_and_closes() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    let mut carol = Client::named(server.address, "carol").await;
    alice.skip_until("-- guest-3 is now known as carol").await;
    bob.skip_until("-- guest-3 is now known as carol").await;

    bob.send("/quit see you").await;
    bob.expect("-- goodbye").await;
    bob.expect_closed().await;
    alice.expect("-- bob left (see you)").await;
    carol.expect("-- bob left (see you)").await;
    carol.send("/QUIT").await;
    carol.expect("-- goodbye").await;
    carol.expect_closed().await;
    alice.expect("-- carol left (quit)").await;
    // The nick is free again.
    let mut bob_again = Client::connect(server.address).await;
    bob_again.rename("bob").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_socket_tells_the_room() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let bob = Client::named(server.address, "bob").await;
    alice.skip_until("-- guest-2 is now known as bob").await;
    drop(bob);
    alice.expect("-- bob left (connection closed)").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_every_command_and_unknown_commands_point_to_it() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    alice.send("/help").await;
    alice.expect("-- commands:").await;
    let mut help = String::new();
    for _ in 0..32 {
        help.push_str(&alice.line().await);
        help.push('\n');
    }
    for command in [
        "/nick",
        "/join",
        "/part",
        "/msg",
        "/me",
        "/who",
        "/rooms",
        "/topic",
        "/quit",
        "/help",
        "/history",
        "/register",
        "/login",
        "/logout",
        "/password",
        "/regain",
        "/cert",
        "/monitor",
        "/unmonitor",
        "/bot",
        "/oper",
        "/kill",
        "/wallops",
        "/ban",
        "/unban",
        "/bans",
        "/paste",
        "/delete",
    ] {
        assert!(
            help.contains(&format!("--   {command} ")),
            "{command} in {help}"
        );
    }
    alice.send("/frobnicate now").await;
    alice
        .expect("! unknown command /frobnicate (try /help)")
        .await;
    alice.send("/").await;
    alice.expect("! unknown command / (try /help)").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_every_client_and_closes() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let mut bob = server.client().await;
    alice
        .expect(&format!("-- {} joined #lobby", bob.nick))
        .await;
    server.shut_down().await;
    for client in [&mut alice, &mut bob] {
        client.expect("-- server shutting down").await;
        client.expect_closed().await;
    }
}
