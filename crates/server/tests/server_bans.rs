//! Server bans over real sockets: an operator bans a mask, an address or an account (IRC
//! `KLINE`/`DLINE`, text `/ban`), which disconnects whoever it bars at once and refuses them
//! again; bans are listed (`STATS k`/`d`, `/bans`), lifted, and kept across restarts.

mod support;

use palaver_server::accounts::hash_password;
use palaver_server::config::Overrides;
use support::*;

const OPER: &str = "root";
const PASSWORD: &str = "correct-horse";

fn operator_config() -> String {
    let hash = hash_password(PASSWORD).expect("hash");
    format!("[[oper]]\nname = \"{OPER}\"\npassword_hash = \"{hash}\"\n")
}

async fn text_operator(server: &TestServer, nick: &str) -> Client {
    let mut operator = Client::named(server.address, nick).await;
    operator.send(&format!("/oper {OPER} {PASSWORD}")).await;
    operator
        .skip_until("-- you are now a server operator")
        .await;
    operator
}

/// What the server said before closing `client`'s connection.
async fn last_words(client: &mut IrcClient) -> String {
    let lines = client.expect_closed().await;
    lines.last().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_mask_ban_disconnects_who_it_bars_and_refuses_them_again_until_lifted() {
    let server = TestServer::start_with_config(&operator_config(), Overrides::default()).await;
    let mut operator = text_operator(&server, "warden").await;
    let mut spammer = server.irc("spammer").await;
    let mut bystander = server.irc("bystander").await;

    operator.send("/ban 60 spammer!*@* spamming links").await;
    let answer = operator.line().await;
    assert!(
        answer.starts_with("-- banned spammer!*@* until ")
            && answer.ends_with(" (spamming links); 1 disconnected"),
        "{answer:?}"
    );
    let farewell = last_words(&mut spammer).await;
    assert!(farewell.contains("Banned (spamming links)"), "{farewell:?}");
    bystander.sync().await;

    // Registering under the banned mask again is refused with 465.
    let mut again = IrcClient::connect(server.irc_address).await;
    again.send("NICK spammer").await;
    again.send("USER spammer 0 * :again").await;
    again
        .expect_line(&numeric(
            "465",
            "spammer",
            ":You are banned from this server (spamming links)",
        ))
        .await;
    assert!(
        last_words(&mut again)
            .await
            .contains("Banned (spamming links)")
    );

    operator.send("/bans").await;
    operator.expect("-- 1 server ban").await;
    let listed = operator.line().await;
    assert!(
        listed.starts_with("--   spammer!*@* (spamming links) set by root (warden) at "),
        "{listed:?}"
    );
    operator.send("/unban spammer!*@*").await;
    operator.expect("-- lifted the ban on spammer!*@*").await;
    operator.send("/unban spammer!*@*").await;
    operator.expect("! there is no ban on spammer!*@*").await;
    let mut back = server.irc("spammer").await;
    back.sync().await;
    server.shut_down().await;
}

#[tokio::test]
async fn an_address_ban_refuses_connections_before_anything_is_said() {
    // The banned client comes over IPv6 loopback, the operator over IPv4.
    let server = TestServer::start_with_config(
        &operator_config(),
        Overrides {
            irc_listen: vec!["[::1]:0".parse().unwrap()],
            ..Overrides::default()
        },
    )
    .await;
    let mut operator = text_operator(&server, "warden").await;
    let mut victim = server.irc("victim").await;
    operator.send("/ban ::1 flooding").await;
    let answer = operator.line().await;
    assert!(
        answer.starts_with("-- banned ::1 until removed (flooding)"),
        "{answer:?}"
    );
    assert!(last_words(&mut victim).await.contains("Banned (flooding)"));

    let mut refused = IrcClient::connect(server.irc_address).await;
    assert_eq!(
        last_words(&mut refused).await,
        "ERROR :Closing link: (*@::1) [you are banned from this server (flooding)]"
    );
    // The text listener (IPv4) is not barred.
    let mut other = server.client().await;
    other.sync().await;
    server.shut_down().await;
}

#[tokio::test]
async fn an_account_ban_takes_effect_at_login() {
    let server = TestServer::start_with_config(&operator_config(), Overrides::default()).await;
    let mut troll = Client::named(server.address, "troll").await;
    troll.send("/register troll-password").await;
    troll
        .expect("-- account troll registered; you are logged in")
        .await;
    troll.send("/logout").await;
    troll.skip_until("-- you are now logged out").await;

    let mut operator = text_operator(&server, "warden").await;
    operator.send("/ban $a:Troll abusive").await;
    let answer = operator.line().await;
    assert!(
        answer.starts_with("-- banned $a:troll until removed (abusive); 0 disconnected"),
        "{answer:?}"
    );
    troll.send("/login troll troll-password").await;
    troll
        .skip_until("-- you were killed by palaver.local (Banned (abusive)); goodbye")
        .await;
    troll.expect_closed().await;
    server.shut_down().await;
}

#[tokio::test]
async fn irc_operators_kline_list_with_stats_and_unkline() {
    let server = TestServer::start_with_config(&operator_config(), Overrides::default()).await;
    let mut oper = server.irc("oper").await;
    let mut plain = server.irc("plain").await;
    plain.send("KLINE *@bad.example").await;
    plain
        .expect_line(&numeric(
            "481",
            "plain",
            ":Permission Denied- You're not an IRC operator",
        ))
        .await;
    plain.send("STATS k").await;
    plain.expect_command("481").await;

    oper.send(&format!("OPER {OPER} {PASSWORD}")).await;
    oper.skip_until(|m| m.command == "MODE").await;
    oper.send("KLINE 7d *@bad.example :spam bot").await;
    let notice = oper.expect_command("NOTICE").await;
    assert!(
        notice.params[1].starts_with("banned *!*@bad.example until "),
        "{notice:?}"
    );
    oper.send("DLINE *@bad.example").await;
    let notice = oper.expect_command("NOTICE").await;
    assert!(
        notice.params[1].starts_with("DLINE bans an address"),
        "{notice:?}"
    );
    oper.send("DLINE 192.0.2.0/24 :bad network").await;
    oper.expect_command("NOTICE").await;

    oper.send("STATS k").await;
    let entry = oper.expect_command("216").await;
    assert_eq!(&entry.params[1..5], ["K", "bad.example", "*", "*!*"]);
    assert!(entry.params[5].starts_with("*!*@bad.example (spam bot) set by root (oper) at "));
    oper.expect_line(&numeric("219", "oper", "k :End of /STATS report"))
        .await;
    oper.send("STATS d").await;
    let entry = oper.expect_command("225").await;
    assert_eq!(&entry.params[1..3], ["D", "192.0.2.0/24"]);
    oper.expect_command("219").await;

    oper.send("UNKLINE *@bad.example").await;
    let notice = oper.expect_command("NOTICE").await;
    assert_eq!(notice.params[1], "lifted the ban on *!*@bad.example");
    oper.send("STATS k").await;
    oper.expect_command("219").await;
    server.shut_down().await;
}

#[tokio::test]
async fn bans_are_kept_across_restarts() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let database = directory.path().join("palaver.db");
    let on_file = || Overrides {
        database: Some(database.to_string_lossy().into_owned()),
        ..Overrides::default()
    };
    let server = TestServer::start_with_config(&operator_config(), on_file()).await;
    let mut operator = text_operator(&server, "warden").await;
    operator.send("/ban 1d banned!*@* still banned").await;
    operator.line().await;
    operator.send("/ban 192.0.2.0/24").await;
    operator.line().await;
    server.shut_down().await;

    let server = TestServer::start_with_config(&operator_config(), on_file()).await;
    let mut again = IrcClient::connect(server.irc_address).await;
    again.send("NICK banned").await;
    again.send("USER banned 0 * :again").await;
    again
        .expect_line(&numeric(
            "465",
            "banned",
            ":You are banned from this server (still banned)",
        ))
        .await;
    let mut operator = text_operator(&server, "warden").await;
    operator.send("/bans").await;
    operator.expect("-- 2 server bans").await;
    let first = operator.line().await;
    let second = operator.line().await;
    assert!(first.contains("banned!*@* (still banned)"), "{first:?}");
    assert!(
        second.contains("192.0.2.0/24 (no reason given)"),
        "{second:?}"
    );
    server.shut_down().await;
}
