//! IRC questions about the server and about users who are gone, over real sockets: `TIME`,
//! `LINKS`, `HELP`/`HELPOP` and `WHOWAS` (`docs/PROTOCOL.md`, "IRC").

mod support;

use palaver_proto::time::Timestamp;
use palaver_server::config::Overrides;
use support::{Client, IrcClient, SERVER, TestServer, numeric};

/// Sends `command` and asserts that the replies are exactly `lines`, and nothing more.
async fn expect_replies(client: &mut IrcClient, command: &str, lines: &[&str]) {
    client.send(command).await;
    for line in lines {
        client.expect_line(line).await;
    }
    client.expect_quiet().await;
}

// ---------------------------------------------------------------------------------------------
// TIME and LINKS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_gives_the_server_clock_in_utc() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let before = Timestamp::now();
    alice.send("TIME").await;
    let reply = alice.expect_command("391").await;
    let after = Timestamp::now();
    assert_eq!(reply.source.as_deref(), Some(SERVER));
    assert_eq!(reply.params[..2], ["alice", SERVER]);
    let time = Timestamp::parse_iso8601(&reply.params[2])
        .unwrap_or_else(|| panic!("an ISO 8601 time: {reply:?}"));
    assert!(before <= time && time <= after, "{reply:?}");
    // This server by name or mask; any other is not there.
    alice.send("TIME *.local").await;
    alice.expect_command("391").await;
    expect_replies(
        &mut alice,
        "TIME irc.example.org",
        &[&numeric("402", "alice", "irc.example.org :No such server")],
    )
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_lists_this_one_server_with_its_description() {
    let server = TestServer::start_with_config(
        "[irc]\ndescription = \"the test server\"\n",
        Overrides::default(),
    )
    .await;
    let mut alice = server.irc("alice").await;
    expect_replies(
        &mut alice,
        "LINKS",
        &[
            &numeric(
                "364",
                "alice",
                &format!("{SERVER} {SERVER} :0 the test server"),
            ),
            &numeric("365", "alice", "* :End of /LINKS list"),
        ],
    )
    .await;
    expect_replies(
        &mut alice,
        "LINKS *.example",
        &[&numeric("365", "alice", "*.example :End of /LINKS list")],
    )
    .await;
    // Asking this server by name (or a mask of it) answers; asking another server cannot.
    expect_replies(
        &mut alice,
        &format!("LINKS {SERVER} *.example"),
        &[&numeric("365", "alice", "*.example :End of /LINKS list")],
    )
    .await;
    expect_replies(
        &mut alice,
        "LINKS irc.example.org *",
        &[&numeric("402", "alice", "irc.example.org :No such server")],
    )
    .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// HELP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_commands_and_explains_each() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    alice.send("HELP").await;
    let start = alice.expect_command("704").await;
    assert_eq!(start.params[..2], ["alice", "*"]);
    let mut listed = Vec::new();
    loop {
        let message = alice.message().await;
        match message.command.as_str() {
            "705" => listed.extend(message.params[2].split(' ').map(str::to_owned)),
            "706" => {
                assert_eq!(message.params, ["alice", "*", "End of /HELP"]);
                break;
            }
            _ => panic!("unexpected {message:?}"),
        }
    }
    for command in ["PRIVMSG", "JOIN", "LIST", "WHOWAS", "TIME", "HELP"] {
        assert!(
            listed.iter().any(|name| name == command),
            "{command}: {listed:?}"
        );
    }
    // One command, in any case; HELPOP is the same.
    for command in ["HELP privmsg", "HELPOP PRIVMSG"] {
        expect_replies(
            &mut alice,
            command,
            &[
                &numeric("704", "alice", "PRIVMSG :PRIVMSG target[,target] text"),
                &numeric(
                    "705",
                    "alice",
                    "PRIVMSG :Sends a message to channels or nicks (up to 4).",
                ),
                &numeric("706", "alice", "PRIVMSG :End of /HELP"),
            ],
        )
        .await;
    }
    expect_replies(
        &mut alice,
        "HELP NOTACOMMAND",
        &[&numeric(
            "524",
            "alice",
            "NOTACOMMAND :No help available on this topic",
        )],
    )
    .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// WHOWAS

/// What `WHOWAS` shows of one departure: 314, then 312 with the time the nick was left.
async fn expect_departure(client: &mut IrcClient, nick: &str, user: &str, realname: &str) {
    client
        .expect_line(&numeric(
            "314",
            &client.nick.clone(),
            &format!("{nick} {user} 127.0.0.1 * :{realname}"),
        ))
        .await;
    let server_line = client.expect_command("312").await;
    assert_eq!(server_line.params[1..3], [nick, SERVER]);
    let left = server_line.params[3]
        .strip_prefix("left ")
        .and_then(Timestamp::parse_iso8601);
    assert!(left.is_some(), "{server_line:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whowas_shows_who_left_a_nick_newest_first() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;

    // Nobody has used the nick yet.
    expect_replies(
        &mut alice,
        "WHOWAS bob",
        &[
            &numeric("406", "alice", "bob :There was no such nickname"),
            &numeric("369", "alice", "bob :End of WHOWAS"),
        ],
    )
    .await;

    // bob quits; then another bob changes its nick away; then a text user leaves a nick.
    let mut bob = server.irc("bob").await;
    bob.send("QUIT :bye").await;
    bob.expect_closed().await;
    let mut second = IrcClient::connect(server.irc_address).await;
    second.nick = "bob".into();
    second.send("NICK bob").await;
    second.send("USER other 0 * :Second Bob").await;
    second.skip_until(|m| m.command == "422").await;
    second.send("NICK robert").await;
    second.expect_command("NICK").await;
    let mut text = Client::named(server.address, "tex").await;
    text.rename("tex2").await;

    alice.send("WHOWAS BOB").await;
    expect_departure(&mut alice, "bob", "~other", "Second Bob").await;
    expect_departure(&mut alice, "bob", "~bob", "bob real name").await;
    alice
        .expect_line(&numeric("369", "alice", "BOB :End of WHOWAS"))
        .await;
    alice.expect_quiet().await;

    // A count limits the answer to the newest; a count that is not positive is ignored.
    alice.send("WHOWAS bob 1").await;
    expect_departure(&mut alice, "bob", "~other", "Second Bob").await;
    alice
        .expect_line(&numeric("369", "alice", "bob :End of WHOWAS"))
        .await;
    for count in ["0", "-1"] {
        alice.send(&format!("WHOWAS bob {count}")).await;
        expect_departure(&mut alice, "bob", "~other", "Second Bob").await;
        expect_departure(&mut alice, "bob", "~bob", "bob real name").await;
        alice
            .expect_line(&numeric("369", "alice", "bob :End of WHOWAS"))
            .await;
    }

    // Text users leave nicks too (their real name is empty).
    alice.send("WHOWAS tex").await;
    expect_departure(&mut alice, "tex", "text", "").await;
    alice
        .expect_line(&numeric("369", "alice", "tex :End of WHOWAS"))
        .await;

    // A change of case only keeps the nick.
    second.send("NICK Robert").await;
    second.expect_command("NICK").await;
    expect_replies(
        &mut alice,
        "WHOWAS robert",
        &[
            &numeric("406", "alice", "robert :There was no such nickname"),
            &numeric("369", "alice", "robert :End of WHOWAS"),
        ],
    )
    .await;
    expect_replies(
        &mut alice,
        "WHOWAS",
        &[&numeric("461", "alice", "WHOWAS :Not enough parameters")],
    )
    .await;
    server.shut_down().await;
}
