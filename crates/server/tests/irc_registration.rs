//! IRC connection registration and the connection-level rules, over real sockets: `NICK`/`USER`,
//! the welcome burst, `CAP` negotiation, `PASS`, registration errors, nick changes, `PING`/`PONG`
//! both ways, `QUIT`, `INFO`, and the line limits and checks (`docs/PROTOCOL.md`, "IRC").

mod support;

use palaver_proto::irc::message::Message;
use palaver_server::config::Overrides;
use support::{ALL_CAPS, ALL_CAPS_302, Client, IrcClient, TestServer, numeric};

const VERSION: &str = concat!("palaver-", env!("CARGO_PKG_VERSION"));

/// Sends `NICK` and `USER` for `nick` (real name "`nick` real name").
async fn send_nick_user(client: &mut IrcClient, nick: &str) {
    client.send(&format!("NICK {nick}")).await;
    client
        .send(&format!("USER {nick} 0 * :{nick} real name"))
        .await;
}

/// Reads the welcome burst after `001` up to the end of the MOTD (376 or 422).
async fn skip_welcome(client: &mut IrcClient) {
    client
        .skip_until(|m| m.command == "376" || m.command == "422")
        .await;
}

fn motd_config() -> &'static str {
    "[irc]\nmotd = \"line one\\nline two\"\n"
}

fn ping_config() -> &'static str {
    "[irc]\nping_interval = \"1s\"\nping_timeout = \"1s\"\n"
}

// ---------------------------------------------------------------------------------------------
// Registration and the welcome burst

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nick_and_user_register_with_the_exact_welcome_burst() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.nick = "alice".into();
    send_nick_user(&mut alice, "alice").await;

    alice
        .expect_line(
            ":palaver.local 001 alice :Welcome to the palaver IRC Network alice!~alice@127.0.0.1",
        )
        .await;
    alice
        .expect_line(&format!(
            ":palaver.local 002 alice :Your host is palaver.local, running version {VERSION}"
        ))
        .await;
    let created = alice.expect_command("003").await;
    assert_eq!(created.source.as_deref(), Some("palaver.local"));
    assert_eq!(created.params.len(), 2, "{created:?}");
    assert_eq!(created.params[0], "alice");
    let date = created.params[1]
        .strip_prefix("This server was created ")
        .unwrap_or_else(|| panic!("{created:?}"));
    // 2026-11-22T13:05:09.250Z
    let bytes = date.as_bytes();
    assert_eq!(bytes.len(), 24, "{date:?}");
    for (index, &byte) in bytes.iter().enumerate() {
        match index {
            4 | 7 => assert_eq!(byte, b'-', "{date:?}"),
            10 => assert_eq!(byte, b'T', "{date:?}"),
            13 | 16 => assert_eq!(byte, b':', "{date:?}"),
            19 => assert_eq!(byte, b'.', "{date:?}"),
            23 => assert_eq!(byte, b'Z', "{date:?}"),
            _ => assert!(byte.is_ascii_digit(), "{date:?}"),
        }
    }
    alice
        .expect_line(&format!(
            ":palaver.local 004 alice palaver.local {VERSION} Biow beIiklmnostv beIklov"
        ))
        .await;

    let mut tokens = Vec::new();
    let mut isupport_lines = 0;
    let mut next = alice.message().await;
    while next.command == "005" {
        isupport_lines += 1;
        assert_eq!(next.source.as_deref(), Some("palaver.local"));
        assert_eq!(next.params[0], "alice");
        let (last, middle) = next.params[1..].split_last().expect("tokens");
        assert_eq!(last, "are supported by this server", "{next:?}");
        assert!(
            !middle.is_empty() && middle.len() <= 13,
            "1 to 13 tokens per 005 line: {next:?}"
        );
        tokens.extend(middle.iter().cloned());
        next = alice.message().await;
    }
    assert!(isupport_lines >= 2, "17 tokens need two 005 lines");
    for wanted in [
        "CASEMAPPING=ascii",
        "CHANLIMIT=#:100",
        "CHANTYPES=#",
        "PREFIX=(ov)@+",
        "CHANMODES=beI,k,l,imnst",
        "EXCEPTS=e",
        "INVEX=I",
        "EXTBAN=$,a",
        "ACCOUNTEXTBAN=a",
        "NICKLEN=30",
        "CHANNELLEN=51",
        "TOPICLEN=390",
        "NETWORK=palaver",
        "AWAYLEN=200",
        "KICKLEN=255",
        "MAXLIST=beI:100",
        "MODES=4",
        "ELIST=CMNTU",
        "UTF8ONLY",
        "BOT=B",
        "MONITOR=100",
        "STATUSMSG=@+",
        "WHOX",
    ] {
        assert!(
            tokens.iter().any(|token| token == wanted),
            "{wanted} missing from {tokens:?}"
        );
    }
    let mut unique = tokens.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), tokens.len(), "no token twice: {tokens:?}");

    // LUSERS: alice is the only user, and there are no channels.
    let luserclient = next;
    assert_eq!(
        luserclient.params,
        ["alice", "There are 1 users and 0 invisible on 1 servers"]
    );
    assert_eq!(luserclient.command, "251");
    alice
        .expect_line(":palaver.local 254 alice 0 :channels formed")
        .await;
    alice
        .expect_line(":palaver.local 255 alice :I have 1 clients and 0 servers")
        .await;
    alice
        .expect_line(":palaver.local 265 alice 1 1 :Current local users 1, max 1")
        .await;
    alice
        .expect_line(":palaver.local 266 alice 1 1 :Current global users 1, max 1")
        .await;
    alice
        .expect_line(":palaver.local 422 alice :MOTD File is missing")
        .await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lusers_counts_text_and_irc_users_invisible_ones_and_channels() {
    let server = TestServer::start().await;
    let _text = Client::named(server.address, "tex").await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    bob.send("MODE bob +i").await;
    bob.expect_line(":bob MODE bob +i").await;
    alice.join("#a").await;

    alice.send("LUSERS").await;
    alice
        .expect_line(":palaver.local 251 alice :There are 2 users and 1 invisible on 1 servers")
        .await;
    // #lobby (the text user's) and #a.
    alice
        .expect_line(":palaver.local 254 alice 2 :channels formed")
        .await;
    alice
        .expect_line(":palaver.local 255 alice :I have 3 clients and 0 servers")
        .await;
    alice
        .expect_line(":palaver.local 265 alice 3 3 :Current local users 3, max 3")
        .await;
    alice
        .expect_line(":palaver.local 266 alice 3 3 :Current global users 3, max 3")
        .await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

/// RPL_LOCALUSERS/RPL_GLOBALUSERS report the current count and the most seen at once
/// (modern.ircdocs.horse: "the maximum number of clients that have been connected directly
/// to this server at one time").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lusers_max_is_the_peak_not_the_current_count() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    bob.send("QUIT").await;
    bob.expect_closed().await;

    alice.send("LUSERS").await;
    alice.expect_command("251").await;
    alice.expect_command("254").await;
    alice
        .expect_line(":palaver.local 255 alice :I have 1 clients and 0 servers")
        .await;
    alice
        .expect_line(":palaver.local 265 alice 1 2 :Current local users 1, max 2")
        .await;
    alice
        .expect_line(":palaver.local 266 alice 1 2 :Current global users 1, max 2")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_motd_ends_the_burst_and_the_motd_command_repeats_it() {
    let server = TestServer::start_with_config(motd_config(), Overrides::default()).await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.nick = "alice".into();
    send_nick_user(&mut alice, "alice").await;
    alice.expect_command("001").await;
    alice.skip_until(|m| m.command == "266").await;
    let motd = [
        ":palaver.local 375 alice :- palaver.local Message of the day - ",
        ":palaver.local 372 alice :- line one",
        ":palaver.local 372 alice :- line two",
        ":palaver.local 376 alice :End of /MOTD command.",
    ];
    for line in motd {
        alice.expect_line(line).await;
    }
    alice.expect_quiet().await;

    alice.send("MOTD").await;
    for line in motd {
        alice.expect_line(line).await;
    }
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn motd_command_without_a_motd_is_422() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    alice.send("MOTD").await;
    alice
        .expect_line(":palaver.local 422 alice :MOTD File is missing")
        .await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_before_nick_registers_too() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("USER alice 0 * :Alice Liddell").await;
    // Nothing happens until NICK.
    alice.expect_quiet().await;
    alice.send("NICK alice").await;
    alice
        .expect_line(
            ":palaver.local 001 alice :Welcome to the palaver IRC Network alice!~alice@127.0.0.1",
        )
        .await;
    skip_welcome(&mut alice).await;

    // The real name made it.
    alice.send("WHOIS alice").await;
    alice
        .expect_line(":palaver.local 311 alice alice ~alice 127.0.0.1 * :Alice Liddell")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_name_is_sanitised_and_marked_unverified() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("NICK alice").await;
    alice.send("USER a$l!i@c*e.xyz-very-long 0 * :r").await;
    // Only letters, digits and - _ . survive, at most ten of them, after the `~`.
    alice
        .expect_line(
            ":palaver.local 001 alice :Welcome to the palaver IRC Network alice!~alice.xyz-@127.0.0.1",
        )
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_split_byte_by_byte_works() {
    let server = TestServer::start().await;
    let mut slow = IrcClient::connect(server.irc_address).await;
    for byte in b"NICK slow\r\nUSER slow 0 * :slow real name\r\n" {
        slow.send_raw(&[*byte]).await;
    }
    slow.expect_line(
        ":palaver.local 001 slow :Welcome to the palaver IRC Network slow!~slow@127.0.0.1",
    )
    .await;
    skip_welcome(&mut slow).await;
    for byte in b"PING :bytewise\r\n" {
        slow.send_raw(&[*byte]).await;
    }
    slow.expect_line(":palaver.local PONG palaver.local bytewise")
        .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Capability negotiation

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_ls_suspends_registration_until_cap_end() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("CAP LS 302").await;
    alice
        .expect_line(&format!(":palaver.local CAP * LS :{ALL_CAPS_302}"))
        .await;
    send_nick_user(&mut alice, "alice").await;
    // PING works before registration; its PONG being the very next line proves no 001 came.
    alice.send("PING :x").await;
    alice
        .expect_line(":palaver.local PONG palaver.local x")
        .await;
    alice.send("CAP END").await;
    alice
        .expect_line(
            ":palaver.local 001 alice :Welcome to the palaver IRC Network alice!~alice@127.0.0.1",
        )
        .await;
    skip_welcome(&mut alice).await;
    // CAP END after registration does nothing, and CAP LS suspends nothing any more.
    alice.send("CAP END").await;
    alice.expect_quiet().await;
    alice.send("CAP LS 302").await;
    alice
        .expect_line(&format!(":palaver.local CAP alice LS :{ALL_CAPS_302}"))
        .await;
    alice.send("JOIN #a").await;
    alice.expect_line(":alice!~alice@127.0.0.1 JOIN #a").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_ls_without_a_version_lists_every_capability_too() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("CAP LS").await;
    let ls = alice.expect_command("CAP").await;
    assert_eq!(ls.source.as_deref(), Some("palaver.local"));
    assert_eq!(ls.params, ["*", "LS", ALL_CAPS]);
    // Without 302, cap-notify is not enabled implicitly.
    alice.send("CAP LIST").await;
    alice.expect_line(":palaver.local CAP * LIST :").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_req_is_acknowledged_and_listed() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("CAP LS").await;
    alice.expect_command("CAP").await;
    alice.send("CAP REQ :server-time echo-message").await;
    alice
        .expect_line(":palaver.local CAP * ACK :server-time echo-message")
        .await;
    alice.send("CAP LIST").await;
    alice
        .expect_line(":palaver.local CAP * LIST :echo-message server-time")
        .await;
    // Disabling one with `-`.
    alice.send("CAP REQ -server-time").await;
    alice
        .expect_line(":palaver.local CAP * ACK -server-time")
        .await;
    alice.send("CAP LIST").await;
    alice
        .expect_line(":palaver.local CAP * LIST echo-message")
        .await;
    send_nick_user(&mut alice, "alice").await;
    alice.expect_quiet().await;
    alice.send("CAP END").await;
    alice.expect_command("001").await;
    skip_welcome(&mut alice).await;
    // After registration the replies are addressed to the nick.
    alice.send("CAP LIST").await;
    alice
        .expect_line(":palaver.local CAP alice LIST echo-message")
        .await;
    alice.send("CAP REQ :multi-prefix").await;
    alice
        .expect_line(":palaver.local CAP alice ACK multi-prefix")
        .await;
    alice.send("CAP LIST").await;
    alice
        .expect_line(":palaver.local CAP alice LIST :echo-message multi-prefix")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_ls_302_implies_cap_notify() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("CAP LS 302").await;
    alice.expect_command("CAP").await;
    alice.send("CAP LIST").await;
    alice
        .expect_line(":palaver.local CAP * LIST cap-notify")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_req_of_an_unknown_capability_is_refused_whole() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("CAP LS").await;
    alice.expect_command("CAP").await;
    alice.send("CAP REQ :server-time bogus-cap").await;
    alice
        .expect_line(":palaver.local CAP * NAK :server-time bogus-cap")
        .await;
    alice.send("CAP REQ example.org/unknown").await;
    alice
        .expect_line(":palaver.local CAP * NAK example.org/unknown")
        .await;
    // Names are case-sensitive.
    alice.send("CAP REQ Server-Time").await;
    alice
        .expect_line(":palaver.local CAP * NAK Server-Time")
        .await;
    // Nothing was enabled, not even the known half of the first request.
    alice.send("CAP LIST").await;
    alice.expect_line(":palaver.local CAP * LIST :").await;
    alice.nick = "alice".into();
    send_nick_user(&mut alice, "alice").await;
    alice.send("CAP END").await;
    alice.expect_command("001").await;
    skip_welcome(&mut alice).await;
    // Without server-time, replies and events carry no tags.
    alice.join("#a").await;
    alice.send("PART #a").await;
    let part = alice.line().await;
    assert_eq!(part, ":alice!~alice@127.0.0.1 PART #a");
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_cap_subcommand_is_410_and_bare_cap_is_461() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("CAP FOO").await;
    alice
        .expect_line(":palaver.local 410 * FOO :Invalid CAP command")
        .await;
    alice.send("CAP").await;
    alice
        .expect_line(":palaver.local 461 * CAP :Not enough parameters")
        .await;
    // Neither started a negotiation: NICK and USER register at once.
    send_nick_user(&mut alice, "alice").await;
    alice.expect_command("001").await;
    skip_welcome(&mut alice).await;
    alice.send("CAP BAR baz").await;
    alice
        .expect_line(":palaver.local 410 alice BAR :Invalid CAP command")
        .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// PASS

fn password_config() -> &'static str {
    "[irc]\npassword = \"sesame\"\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_password_registers() {
    let server = TestServer::start_with_config(password_config(), Overrides::default()).await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("PASS sesame").await;
    send_nick_user(&mut alice, "alice").await;
    alice
        .expect_line(
            ":palaver.local 001 alice :Welcome to the palaver IRC Network alice!~alice@127.0.0.1",
        )
        .await;
    skip_welcome(&mut alice).await;
    // PASS after registration.
    alice.send("PASS sesame").await;
    alice
        .expect_line(":palaver.local 462 alice :You may not reregister")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_464_and_the_connection_closes() {
    let server = TestServer::start_with_config(password_config(), Overrides::default()).await;
    let mut mallory = IrcClient::connect(server.irc_address).await;
    mallory.send("PASS open-sesame").await;
    send_nick_user(&mut mallory, "mallory").await;
    let rest = mallory.expect_closed().await;
    assert_eq!(
        rest,
        [
            ":palaver.local 464 mallory :Password incorrect",
            "ERROR :Closing link: (*@127.0.0.1) [bad password]",
        ]
    );
    // The nick was never taken.
    let mut mallory = IrcClient::connect(server.irc_address).await;
    mallory.send("PASS sesame").await;
    send_nick_user(&mut mallory, "mallory").await;
    mallory.expect_command("001").await;
    server.shut_down().await;
}

/// `PASS` is compared in constant time (a unit test in `session/irc/registration.rs` covers the
/// comparison); over the wire, only the exact password is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_exact_password_registers() {
    let server = TestServer::start_with_config(password_config(), Overrides::default()).await;
    for wrong in ["sesam", "sesame!", "SESAME", "sesamf", "sesame sesame"] {
        let mut mallory = IrcClient::connect(server.irc_address).await;
        mallory.send(&format!("PASS :{wrong}")).await;
        send_nick_user(&mut mallory, "mallory").await;
        assert_eq!(
            mallory.expect_closed().await,
            [
                ":palaver.local 464 mallory :Password incorrect",
                "ERROR :Closing link: (*@127.0.0.1) [bad password]",
            ],
            "{wrong:?}"
        );
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_password_is_464_and_the_connection_closes() {
    let server = TestServer::start_with_config(password_config(), Overrides::default()).await;
    let mut mallory = IrcClient::connect(server.irc_address).await;
    send_nick_user(&mut mallory, "mallory").await;
    let rest = mallory.expect_closed().await;
    assert_eq!(
        rest,
        [
            ":palaver.local 464 mallory :Password incorrect",
            "ERROR :Closing link: (*@127.0.0.1) [bad password]",
        ]
    );
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_is_checked_when_cap_end_completes_registration() {
    let server = TestServer::start_with_config(password_config(), Overrides::default()).await;
    let mut mallory = IrcClient::connect(server.irc_address).await;
    mallory.send("CAP LS 302").await;
    mallory.expect_command("CAP").await;
    send_nick_user(&mut mallory, "mallory").await;
    mallory.expect_quiet().await;
    mallory.send("CAP END").await;
    assert_eq!(
        mallory.expect_closed().await,
        [
            ":palaver.local 464 mallory :Password incorrect",
            "ERROR :Closing link: (*@127.0.0.1) [bad password]",
        ]
    );
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_without_a_server_password_is_accepted_and_ignored() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("PASS whatever").await;
    send_nick_user(&mut alice, "alice").await;
    alice.expect_command("001").await;
    skip_welcome(&mut alice).await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Registration errors

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_and_user_after_registration_are_462() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    alice.send("USER other 0 * :Other").await;
    alice
        .expect_line(":palaver.local 462 alice :You may not reregister")
        .await;
    alice.send("PASS secret").await;
    alice
        .expect_line(":palaver.local 462 alice :You may not reregister")
        .await;
    // Nothing changed.
    alice.send("USERHOST alice").await;
    alice
        .expect_line(":palaver.local 302 alice alice=+~alice@127.0.0.1")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_user_before_registration_ends_is_462() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("CAP LS 302").await;
    alice.expect_command("CAP").await;
    alice.send("USER first 0 * :First").await;
    alice.send("USER second 0 * :Second").await;
    alice
        .expect_line(":palaver.local 462 * :You may not reregister")
        .await;
    alice.send("NICK alice").await;
    alice.send("CAP END").await;
    alice
        .expect_line(
            ":palaver.local 001 alice :Welcome to the palaver IRC Network alice!~first@127.0.0.1",
        )
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_before_registration_are_451() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("JOIN #a").await;
    alice
        .expect_line(":palaver.local 451 * :You have not registered")
        .await;
    alice.send("PRIVMSG bob :hi").await;
    alice
        .expect_line(":palaver.local 451 * :You have not registered")
        .await;
    alice.send("NICK alice").await;
    // Once a nick is requested, replies address it.
    alice.send("WHOIS alice").await;
    alice
        .expect_line(":palaver.local 451 alice :You have not registered")
        .await;
    // Registration-phase commands are fine: PONG is accepted silently.
    alice.send("PONG :whatever").await;
    alice.expect_quiet().await;
    alice.send("USER alice 0 * :a").await;
    alice.expect_command("001").await;
    skip_welcome(&mut alice).await;
    // The channel was never joined.
    alice.send("NAMES #a").await;
    alice
        .expect_line(":palaver.local 366 alice #a :End of /NAMES list")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_commands_are_421_before_and_after_registration() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("FROB a b").await;
    alice
        .expect_line(":palaver.local 421 * FROB :Unknown command")
        .await;
    send_nick_user(&mut alice, "alice").await;
    alice.expect_command("001").await;
    skip_welcome(&mut alice).await;
    alice.send("frob").await;
    alice
        .expect_line(":palaver.local 421 alice frob :Unknown command")
        .await;
    // A line with a source but no command.
    alice.send(":alice").await;
    alice
        .expect_line(":palaver.local 421 alice * :Unknown command")
        .await;
    // Known commands are case-insensitive.
    alice.send("ping :lower").await;
    alice
        .expect_line(":palaver.local PONG palaver.local lower")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_parameters_are_461() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("USER a").await;
    alice
        .expect_line(":palaver.local 461 * USER :Not enough parameters")
        .await;
    alice.send("USER a 0 *").await;
    alice
        .expect_line(":palaver.local 461 * USER :Not enough parameters")
        .await;
    // An empty real name is a missing one (modern.ircdocs.horse).
    alice.send("USER a 0 * :").await;
    alice
        .expect_line(":palaver.local 461 * USER :Not enough parameters")
        .await;
    alice.send("PING").await;
    alice
        .expect_line(":palaver.local 461 * PING :Not enough parameters")
        .await;
    alice.send("PASS").await;
    alice
        .expect_line(":palaver.local 461 * PASS :Not enough parameters")
        .await;
    send_nick_user(&mut alice, "alice").await;
    alice.expect_command("001").await;
    skip_welcome(&mut alice).await;
    for (line, command) in [
        ("JOIN", "JOIN"),
        ("KICK #a", "KICK"),
        ("part", "PART"),
        ("TOPIC", "TOPIC"),
        ("INVITE bob", "INVITE"),
        ("MODE", "MODE"),
        ("WHOIS", "WHOIS"),
        ("ISON", "ISON"),
        ("USERHOST", "USERHOST"),
    ] {
        alice.send(line).await;
        alice
            .expect_line(&format!(
                ":palaver.local 461 alice {command} :Not enough parameters"
            ))
            .await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nick_errors_before_registration() {
    let server = TestServer::start().await;
    let _bob = server.irc("bob").await;
    let _text = Client::named(server.address, "Tex").await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("NICK").await;
    alice
        .expect_line(":palaver.local 431 * :No nickname given")
        .await;
    alice.send("NICK :").await;
    alice
        .expect_line(":palaver.local 431 * :No nickname given")
        .await;
    alice.send("NICK 9x").await;
    alice
        .expect_line(":palaver.local 432 * 9x :Erroneous nickname")
        .await;
    alice.send("NICK a!b").await;
    alice
        .expect_line(":palaver.local 432 * a!b :Erroneous nickname")
        .await;
    alice.send(&format!("NICK {}", "n".repeat(31))).await;
    alice
        .expect_line(&format!(
            ":palaver.local 432 * {} :Erroneous nickname",
            "n".repeat(31)
        ))
        .await;
    alice.send("NICK bob").await;
    alice
        .expect_line(":palaver.local 433 * bob :Nickname is already in use")
        .await;
    alice.send("NICK BOB").await;
    alice
        .expect_line(":palaver.local 433 * BOB :Nickname is already in use")
        .await;
    // A text user's nick, in another case.
    alice.send("NICK tex").await;
    alice
        .expect_line(":palaver.local 433 * tex :Nickname is already in use")
        .await;
    // None of these was kept: USER alone does not register.
    alice.send("USER alice 0 * :a").await;
    alice.expect_quiet().await;
    alice.send("NICK alice").await;
    alice
        .expect_line(
            ":palaver.local 001 alice :Welcome to the palaver IRC Network alice!~alice@127.0.0.1",
        )
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nick_errors_after_registration() {
    let server = TestServer::start().await;
    let _bob = server.irc("bob").await;
    let _text = Client::named(server.address, "Tex").await;
    let mut alice = server.irc("alice").await;
    alice.send("NICK").await;
    alice
        .expect_line(":palaver.local 431 alice :No nickname given")
        .await;
    alice.send("NICK 9x").await;
    alice
        .expect_line(":palaver.local 432 alice 9x :Erroneous nickname")
        .await;
    alice.send("NICK a!b").await;
    alice
        .expect_line(":palaver.local 432 alice a!b :Erroneous nickname")
        .await;
    alice.send("NICK Bob").await;
    alice
        .expect_line(":palaver.local 433 alice Bob :Nickname is already in use")
        .await;
    alice.send("NICK TEX").await;
    alice
        .expect_line(":palaver.local 433 alice TEX :Nickname is already in use")
        .await;
    // The same nick is a no-op; a change of case is a rename.
    alice.send("NICK alice").await;
    alice.expect_quiet().await;
    alice.send("NICK Alice").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 NICK Alice")
        .await;
    alice.send("USERHOST alice").await;
    alice
        .expect_line(":palaver.local 302 Alice Alice=+~alice@127.0.0.1")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_fails_with_433_if_the_nick_was_taken_meanwhile() {
    let server = TestServer::start().await;
    let mut late = IrcClient::connect(server.irc_address).await;
    late.send("CAP LS 302").await;
    late.expect_command("CAP").await;
    send_nick_user(&mut late, "alice").await;
    late.expect_quiet().await;
    // Someone else registers as alice before CAP END.
    let _alice = server.irc("alice").await;
    late.send("CAP END").await;
    late.expect_line(":palaver.local 433 * alice :Nickname is already in use")
        .await;
    // A new nick completes the registration with the USER already given.
    late.send("NICK alice2").await;
    late.expect_line(
        ":palaver.local 001 alice2 :Welcome to the palaver IRC Network alice2!~alice@127.0.0.1",
    )
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nick_change_is_seen_by_irc_and_text_peers_once() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let mut outsider = server.irc("outsider").await;
    let mut tex = Client::named(server.address, "tex").await;
    alice.join("#a").await;
    alice.join("#b").await;
    bob.join("#a").await;
    bob.join("#b").await;
    tex.send("/join #a").await;
    tex.expect("-- tex joined #a").await;
    alice.sync().await;
    bob.sync().await;

    alice.send("NICK alice2").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 NICK alice2")
        .await;
    // Once, though bob shares two channels with alice.
    bob.expect_line(":alice!~alice@127.0.0.1 NICK alice2").await;
    tex.expect("-- alice is now known as alice2").await;
    alice.expect_quiet().await;
    bob.expect_quiet().await;
    outsider.expect_quiet().await;
    tex.expect_quiet().await;

    // The new nick is in use: the old one is free again.
    alice.send("PRIVMSG #a :hello").await;
    bob.expect_line(":alice2!~alice@127.0.0.1 PRIVMSG #a hello")
        .await;
    tex.expect("#a <alice2> hello").await;
    outsider.send("NICK alice").await;
    outsider
        .expect_line(":outsider!~outsider@127.0.0.1 NICK alice")
        .await;

    // A text user's rename reaches IRC peers as NICK.
    tex.rename("texas").await;
    alice.expect_line(":tex!text@127.0.0.1 NICK texas").await;
    bob.expect_line(":tex!text@127.0.0.1 NICK texas").await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// PING and PONG

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_with_pong_before_and_after_registration() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("PING token").await;
    alice
        .expect_line(":palaver.local PONG palaver.local token")
        .await;
    send_nick_user(&mut alice, "alice").await;
    alice.expect_command("001").await;
    skip_welcome(&mut alice).await;
    alice.send("PING :two words").await;
    alice
        .expect_line(":palaver.local PONG palaver.local :two words")
        .await;
    alice.send("PING token").await;
    let pong = alice.expect_command("PONG").await;
    assert_eq!(pong.source.as_deref(), Some("palaver.local"));
    assert_eq!(pong.params, ["palaver.local", "token"]);
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_are_pinged_and_stay_while_they_answer() {
    let server = TestServer::start_with_config(ping_config(), Overrides::default()).await;
    let mut alice = server.irc("alice").await;
    for _ in 0..2 {
        alice.expect_line(":palaver.local PING palaver.local").await;
        alice.send("PONG :palaver.local").await;
    }
    // Any line is an answer too.
    alice.expect_line(":palaver.local PING palaver.local").await;
    alice.send("PING :still-here").await;
    alice
        .expect_line(":palaver.local PONG palaver.local still-here")
        .await;
    alice.expect_line(":palaver.local PING palaver.local").await;
    alice.send("QUIT").await;
    assert_eq!(
        alice.expect_closed().await,
        ["ERROR :Closing link: (~alice@127.0.0.1) [Quit]"]
    );
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_answer_ping_times_out() {
    let server = TestServer::start_with_config(ping_config(), Overrides::default()).await;
    let mut tex = Client::named(server.address, "tex").await;
    let mut sleepy = server.irc("sleepy").await;
    sleepy.send("JOIN #lobby").await;
    // On a loaded machine the first PING may come before the JOIN replies are all out.
    let mut pinged = false;
    loop {
        let message = sleepy.message().await;
        if message.command == "PING" {
            assert_eq!(message.params, ["palaver.local"]);
            pinged = true;
        } else if message.command == "366" {
            break;
        }
    }
    tex.expect("-- sleepy joined #lobby").await;
    if !pinged {
        sleepy
            .expect_line(":palaver.local PING palaver.local")
            .await;
    }
    let rest = sleepy.expect_closed().await;
    assert_eq!(rest.len(), 1, "{rest:?}");
    let seconds = rest[0]
        .strip_prefix("ERROR :Closing link: (~sleepy@127.0.0.1) [ping timeout: ")
        .and_then(|rest| rest.strip_suffix(" seconds]"))
        .unwrap_or_else(|| panic!("{rest:?}"));
    let seconds: u64 = seconds.parse().unwrap_or_else(|_| panic!("{rest:?}"));
    assert!(seconds >= 1, "{rest:?}");
    tex.expect(&format!("-- sleepy left (ping timeout: {seconds} seconds)"))
        .await;
    // Text clients are not pinged.
    tex.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_registers_is_disconnected() {
    let server = TestServer::start_with_config(ping_config(), Overrides::default()).await;
    let mut silent = IrcClient::connect(server.irc_address).await;
    assert_eq!(
        silent.expect_closed().await,
        ["ERROR :Closing link: (*@127.0.0.1) [registration timed out]"]
    );
    // Half a registration times out just the same, however busy the client is.
    let mut half = IrcClient::connect(server.irc_address).await;
    half.send("NICK half").await;
    half.send("PING :busy").await;
    half.expect_line(":palaver.local PONG palaver.local busy")
        .await;
    let rest = half.expect_closed().await;
    assert_eq!(
        rest,
        ["ERROR :Closing link: (*@127.0.0.1) [registration timed out]"]
    );
    // The nick was never taken.
    let mut again = IrcClient::connect(server.irc_address).await;
    send_nick_user(&mut again, "half").await;
    again.expect_command("001").await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// QUIT

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_with_a_reason_closes_the_link_and_tells_the_peers() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    let mut tex = Client::named(server.address, "tex").await;
    a.join("#lobby").await;
    b.join("#lobby").await;
    a.sync().await;
    tex.skip_until("-- b joined #lobby").await;

    a.send("QUIT :bye").await;
    assert_eq!(
        a.expect_closed().await,
        ["ERROR :Closing link: (~a@127.0.0.1) [Quit: bye]"]
    );
    b.expect_line(":a!~a@127.0.0.1 QUIT :Quit: bye").await;
    tex.expect("-- a left (Quit: bye)").await;
    b.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_without_a_reason() {
    let server = TestServer::start().await;
    let mut a = server.irc("a").await;
    let mut b = server.irc("b").await;
    let mut tex = Client::named(server.address, "tex").await;
    a.join("#lobby").await;
    b.join("#lobby").await;
    a.sync().await;
    tex.skip_until("-- b joined #lobby").await;

    a.send("QUIT").await;
    assert_eq!(
        a.expect_closed().await,
        ["ERROR :Closing link: (~a@127.0.0.1) [Quit]"]
    );
    let quit = b.expect_command("QUIT").await;
    assert_eq!(quit.source.as_deref(), Some("a!~a@127.0.0.1"));
    assert_eq!(quit.params, ["Quit"]);
    tex.expect("-- a left (Quit)").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_before_registration() {
    let server = TestServer::start().await;
    let mut a = IrcClient::connect(server.irc_address).await;
    a.send("NICK a").await;
    a.send("QUIT :changed my mind").await;
    assert_eq!(
        a.expect_closed().await,
        ["ERROR :Closing link: (*@127.0.0.1) [Quit: changed my mind]"]
    );
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Line limits and checks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_part_over_510_bytes_is_417_and_the_connection_keeps_working() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    alice.join("#a").await;
    bob.join("#a").await;
    alice.sync().await;

    // 510 bytes before CRLF is the most a message may have.
    let longest = format!("PING :{}", "x".repeat(510 - 6));
    assert_eq!(longest.len(), 510);
    alice.send(&longest).await;
    // The PONG must fit in 512 bytes too, so its copy of the token is cut to what fits after
    // `:palaver.local PONG palaver.local ` (34 bytes).
    alice
        .expect_line(&format!(
            ":palaver.local PONG palaver.local {}",
            "x".repeat(510 - 34)
        ))
        .await;
    let too_long = format!("PING :{}", "x".repeat(511 - 6));
    alice.send(&too_long).await;
    alice
        .expect_line(":palaver.local 417 alice :Input line was too long")
        .await;

    // Nothing of a too-long message is delivered.
    alice
        .send(&format!("PRIVMSG #a :{}", "y".repeat(600)))
        .await;
    alice
        .expect_line(":palaver.local 417 alice :Input line was too long")
        .await;
    alice.send("PRIVMSG #a :short").await;
    alice.expect_quiet().await;
    bob.expect_line(":alice!~alice@127.0.0.1 PRIVMSG #a short")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_section_over_4094_bytes_is_417() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    // Client tag data (without `@` and the space) may be 4094 bytes (IRCv3 message-tags).
    let tags = format!("+x={}", "v".repeat(4094 - 3));
    assert_eq!(tags.len(), 4094);
    alice.send(&format!("@{tags} PING :tagged")).await;
    alice
        .expect_line(":palaver.local PONG palaver.local tagged")
        .await;
    for size in [4095, 8189, 8190] {
        let tags = format!("+x={}", "v".repeat(size - 3));
        alice.send(&format!("@{tags} PING :tagged")).await;
        alice
            .expect_line(":palaver.local 417 alice :Input line was too long")
            .await;
    }
    // Both limits at once: a full tag section and a full message.
    let tags = format!("+x={}", "v".repeat(4094 - 3));
    let message = format!("PING :{}", "m".repeat(504));
    alice.send(&format!("@{tags} {message}")).await;
    alice
        .expect_line(&format!(
            ":palaver.local PONG palaver.local {}",
            "m".repeat(510 - 34)
        ))
        .await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_over_8703_bytes_arriving_in_pieces_is_417_once() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let piece = vec![b'a'; 6000];
    alice.send_raw(b"PRIVMSG alice :").await;
    alice.send_raw(&piece).await;
    alice.send_raw(&piece).await;
    // Reported as soon as the limit is passed, before the line even ends.
    alice
        .expect_line(":palaver.local 417 alice :Input line was too long")
        .await;
    alice.send_raw(&piece).await;
    // The rest of the line is thrown away up to its LF, whatever it looks like.
    alice.send_raw(b" PING :ghost\r\nPING :after\r\n").await;
    alice
        .expect_line(":palaver.local PONG palaver.local after")
        .await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_too_long_line_before_registration_is_417_too() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send(&format!("NICK {}", "a".repeat(600))).await;
    alice
        .expect_line(":palaver.local 417 * :Input line was too long")
        .await;
    send_nick_user(&mut alice, "alice").await;
    alice.expect_command("001").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_rejected_with_fail_and_the_next_line_works() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    // IRCv3 utf8-only: `FAIL <command> INVALID_UTF8`, standard-replies or not.
    alice.send_raw(b"PRIVMSG bob :caf\xe9\r\n").await;
    alice
        .expect_line(
            ":palaver.local FAIL PRIVMSG INVALID_UTF8 :Message rejected: this server only \
             accepts UTF-8",
        )
        .await;
    alice.send("PRIVMSG bob :café").await;
    bob.expect_line(":alice!~alice@127.0.0.1 PRIVMSG bob café")
        .await;
    alice.expect_quiet().await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

/// A `USER` with a real name (or user name) that is not UTF-8 is refused like any such line;
/// registration waits for a valid one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_utf8_user_line_is_refused_and_registration_waits() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send("NICK alice").await;
    alice.send_raw(b"USER alice 0 * :i\xe8rc\xe9\r\n").await;
    alice
        .expect_line(
            ":palaver.local FAIL USER INVALID_UTF8 :Message rejected: this server only accepts \
             UTF-8",
        )
        .await;
    alice.send_raw(b"USER \xe8rc\xe9 0 * :Alice\r\n").await;
    alice
        .expect_line(
            ":palaver.local FAIL USER INVALID_UTF8 :Message rejected: this server only accepts \
             UTF-8",
        )
        .await;
    alice.expect_quiet().await;
    alice.send("USER alice 0 * :Alice").await;
    alice.expect_command("001").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_a_fail_with_standard_replies() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["standard-replies"]).await;
    alice.send_raw(b"PING :\xff\xfe\r\n").await;
    let fail = alice.message().await;
    assert_eq!(fail.source.as_deref(), Some("palaver.local"));
    assert_eq!(fail.command, "FAIL");
    assert_eq!(
        fail.params,
        [
            "PING",
            "INVALID_UTF8",
            "Message rejected: this server only accepts UTF-8"
        ]
    );
    alice.send_raw(b"PING :a\0b\r\n").await;
    alice
        .expect_line(
            ":palaver.local FAIL * INVALID_MESSAGE :Message rejected: it contains a NUL, CR or LF character",
        )
        .await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_or_cr_inside_a_line_is_rejected() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let rejected =
        ":palaver.local NOTICE alice :Message rejected: it contains a NUL, CR or LF character";
    alice.send_raw(b"PRIVMSG bob :a\0b\r\n").await;
    alice.expect_line(rejected).await;
    alice.send_raw(b"PRIVMSG bob :a\rb\r\n").await;
    alice.expect_line(rejected).await;
    // A lone CR before the LF is a line ending, not content.
    alice.send_raw(b"PRIVMSG bob :fine\r\n").await;
    alice.expect_quiet().await;
    bob.expect_line(":alice!~alice@127.0.0.1 PRIVMSG bob fine")
        .await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_lines_are_ignored_and_crlf_and_lf_both_end_lines() {
    let server = TestServer::start().await;
    let mut alice = IrcClient::connect(server.irc_address).await;
    alice.send_raw(b"\r\n\n   \r\n").await;
    alice.send_raw(b"NICK alice\nUSER alice 0 * :a\r\n").await;
    alice.expect_command("001").await;
    skip_welcome(&mut alice).await;
    alice.send_raw(b"\r\n  \n").await;
    alice.send_raw(b"PING :lf\nPING :crlf\r\n").await;
    alice
        .expect_line(":palaver.local PONG palaver.local lf")
        .await;
    alice
        .expect_line(":palaver.local PONG palaver.local crlf")
        .await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_lines_in_one_segment_are_all_handled_in_order() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let burst: String = (0..50).map(|n| format!("PING :n{n}\r\n")).collect();
    alice.send_raw(burst.as_bytes()).await;
    for n in 0..50 {
        let pong: Message = alice.expect_command("PONG").await;
        assert_eq!(pong.params, ["palaver.local".to_owned(), format!("n{n}")]);
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_describes_the_server_named_or_not() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    for command in ["INFO", "INFO palaver.local", "INFO *.LOCAL", "INFO alice"] {
        alice.send(command).await;
        let first = alice.expect_command("371").await;
        assert!(
            first.params[1].starts_with("palaver-"),
            "{command}: {first:?}"
        );
        let end = alice.skip_until(|m| m.command != "371").await;
        assert_eq!(end.command, "374", "{command}: {end:?}");
        assert_eq!(end.params, ["alice", "End of INFO list"]);
    }
    alice.send("INFO elsewhere.example").await;
    alice
        .expect_line(&numeric(
            "402",
            "alice",
            "elsewhere.example :No such server",
        ))
        .await;
    server.shut_down().await;
}
