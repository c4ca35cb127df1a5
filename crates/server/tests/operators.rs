//! Server operators over real sockets: `[[oper]]` entries, IRC `OPER`, user modes `+o` and
//! `+w`, `KILL`, `WALLOPS`, the operator flags in `WHO`, `WHOIS`, `USERHOST` and `LUSERS`,
//! and the text protocol's `/oper`, `/kill` and `/wallops`.

mod support;

use palaver_server::accounts::hash_password;
use palaver_server::config::Overrides;
use support::*;

const OPER_NAME: &str = "root";
const OPER_PASSWORD: &str = "correct-horse";

/// A server with one operator entry, `root` with password `correct-horse`, as its
/// configuration file holds it: the argon2id hash of the password, never the password.
async fn server_with_an_operator() -> TestServer {
    let hash = hash_password(OPER_PASSWORD).expect("hash");
    let toml = format!("[[oper]]\nname = \"{OPER_NAME}\"\npassword_hash = \"{hash}\"\n");
    TestServer::start_with_config(&toml, Overrides::default()).await
}

/// Makes `client` an operator and reads the `381` and the `MODE +o`.
async fn oper_up(client: &mut IrcClient) {
    let nick = client.nick.clone();
    client
        .send(&format!("OPER {OPER_NAME} {OPER_PASSWORD}"))
        .await;
    client
        .expect_line(&numeric("381", &nick, ":You are now an IRC operator"))
        .await;
    client.expect_line(&format!(":{nick} MODE {nick} +o")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oper_with_the_right_name_and_password_gives_mode_o() {
    let server = server_with_an_operator().await;
    let mut alice = server.irc("alice").await;

    alice.send("MODE alice").await;
    alice.expect_line(&numeric("221", "alice", "+")).await;
    // A wrong password and an unknown name get the same answer.
    alice.send("OPER root wrong-horse").await;
    alice
        .expect_line(&numeric("464", "alice", ":Password incorrect"))
        .await;
    alice.send("OPER nobody correct-horse").await;
    alice
        .expect_line(&numeric("464", "alice", ":Password incorrect"))
        .await;
    alice.send("OPER root").await;
    alice
        .expect_line(&numeric("461", "alice", "OPER :Not enough parameters"))
        .await;
    // Names are compared ignoring case.
    alice.send("OPER ROOT correct-horse").await;
    alice
        .expect_line(&numeric("381", "alice", ":You are now an IRC operator"))
        .await;
    alice.expect_line(":alice MODE alice +o").await;
    alice.send("MODE alice").await;
    alice.expect_line(&numeric("221", "alice", "+o")).await;
    // Again: no second mode change.
    alice.send("OPER root correct-horse").await;
    alice
        .expect_line(&numeric("381", "alice", ":You are now an IRC operator"))
        .await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_cannot_give_itself_mode_o_but_may_drop_it() {
    let server = server_with_an_operator().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;

    alice.send("MODE alice +o").await;
    alice.expect_quiet().await;
    alice.send("MODE alice").await;
    alice.expect_line(&numeric("221", "alice", "+")).await;

    oper_up(&mut alice).await;
    alice.send("MODE alice +wi").await;
    alice.expect_line(":alice MODE alice +iw").await;
    alice.send("MODE alice").await;
    alice.expect_line(&numeric("221", "alice", "+iow")).await;
    alice.send("MODE alice -o+o").await;
    alice.expect_line(":alice MODE alice -o").await;
    // No longer an operator: no KILL.
    alice.send("KILL bob :gone").await;
    alice
        .expect_line(&numeric(
            "481",
            "alice",
            ":Permission Denied- You're not an IRC operator",
        ))
        .await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_opers_are_rate_limited_like_logins() {
    let server = server_with_an_operator().await;
    let mut alice = server.irc("alice").await;
    for _ in 0..5 {
        alice.send("OPER root guess").await;
        alice
            .expect_line(&numeric("464", "alice", ":Password incorrect"))
            .await;
    }
    // Refused without a check now, even with the right password.
    alice.send("OPER root correct-horse").await;
    let refused = alice.expect_command("464").await;
    assert!(
        refused.params[1].starts_with("Too many failed attempts; try again in "),
        "{refused:?}"
    );
    alice.send("MODE alice").await;
    alice.expect_line(&numeric("221", "alice", "+")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_disconnects_the_victim_and_its_peers_see_who_killed_it() {
    let server = server_with_an_operator().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let mut carol = Client::named(server.address, "carol").await;
    join_all("#room", &mut [&mut alice, &mut bob]).await;
    carol.send("/join #room").await;
    carol.expect("-- carol joined #room").await;
    for client in [&mut alice, &mut bob] {
        client.expect_line(":carol!text@127.0.0.1 JOIN #room").await;
    }

    bob.send("KILL alice :bye").await;
    bob.expect_line(&numeric(
        "481",
        "bob",
        ":Permission Denied- You're not an IRC operator",
    ))
    .await;
    oper_up(&mut alice).await;
    alice.send("KILL nobody :bye").await;
    alice
        .expect_line(&numeric("401", "alice", "nobody :No such nick"))
        .await;

    alice.send("KILL bob :spamming the room").await;
    bob.expect_line(":alice!~alice@127.0.0.1 KILL bob :spamming the room")
        .await;
    assert_eq!(
        bob.expect_closed().await,
        ["ERROR :Closing link: (~bob@127.0.0.1) [Killed (alice (spamming the room))]"]
    );
    alice
        .expect_line(":bob!~bob@127.0.0.1 QUIT :Killed (alice (spamming the room))")
        .await;
    carol
        .expect("-- bob left (Killed (alice (spamming the room)))")
        .await;
    alice.send("WHOIS bob").await;
    alice
        .expect_line(&numeric("401", "alice", "bob :No such nick/channel"))
        .await;
    alice.expect_command("318").await;

    // One argument is enough; the reason is then said to be missing. A text user is told.
    alice.send("KILL carol").await;
    carol
        .expect("-- you were killed by alice (no reason given); goodbye")
        .await;
    carol.expect_closed().await;
    alice
        .expect_line(":carol!text@127.0.0.1 QUIT :Killed (alice (no reason given))")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallops_reach_users_with_mode_w_and_text_operators() {
    let server = server_with_an_operator().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc("carol").await;
    let mut dave = Client::named(server.address, "dave").await;

    bob.send("WALLOPS :hello").await;
    bob.expect_line(&numeric(
        "481",
        "bob",
        ":Permission Denied- You're not an IRC operator",
    ))
    .await;
    bob.send("MODE bob +w").await;
    bob.expect_line(":bob MODE bob +w").await;
    dave.send("/oper root correct-horse").await;
    dave.expect("-- you are now a server operator").await;
    oper_up(&mut alice).await;

    // Alice has no +w: she gets no copy. Carol has no +w either.
    alice.send("WALLOPS :restart at noon").await;
    bob.expect_line(":alice!~alice@127.0.0.1 WALLOPS :restart at noon")
        .await;
    dave.expect("-- wallops from alice: restart at noon").await;
    alice.expect_quiet().await;
    carol.expect_quiet().await;

    // With +w, the sender gets its own copy too; after -w, bob gets none.
    alice.send("MODE alice +w").await;
    alice.expect_line(":alice MODE alice +w").await;
    bob.send("MODE bob -w").await;
    bob.expect_line(":bob MODE bob -w").await;
    dave.send("/wallops tea is ready").await;
    dave.expect("-- wallops from dave: tea is ready").await;
    alice
        .expect_line(":dave!text@127.0.0.1 WALLOPS :tea is ready")
        .await;
    bob.expect_quiet().await;
    carol.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_whois_userhost_and_lusers_show_operators() {
    let server = server_with_an_operator().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    join_all("#room", &mut [&mut alice, &mut bob]).await;
    oper_up(&mut alice).await;
    alice.send("AWAY :lunch").await;
    alice.expect_command("306").await;

    bob.send("WHO alice").await;
    bob.expect_line(&numeric(
        "352",
        "bob",
        "* ~alice 127.0.0.1 palaver.local alice G* :0 alice real name",
    ))
    .await;
    bob.expect_line(&numeric("315", "bob", "alice :End of WHO list"))
        .await;
    bob.send("WHO #room").await;
    bob.expect_line(&numeric(
        "352",
        "bob",
        "#room ~alice 127.0.0.1 palaver.local alice G*@ :0 alice real name",
    ))
    .await;
    bob.expect_line(&numeric(
        "352",
        "bob",
        "#room ~bob 127.0.0.1 palaver.local bob H :0 bob real name",
    ))
    .await;
    bob.expect_command("315").await;

    bob.send("WHOIS alice").await;
    let operator = bob
        .skip_until(|m| m.command == "313" || m.command == "318")
        .await;
    assert_eq!(operator.params, ["bob", "alice", "is an IRC operator"]);
    bob.skip_until(|m| m.command == "318").await;
    bob.send("WHOIS bob").await;
    let end = bob
        .skip_until(|m| m.command == "313" || m.command == "318")
        .await;
    assert_eq!(end.command, "318", "bob is no operator");

    bob.send("USERHOST alice bob").await;
    bob.expect_line(&numeric(
        "302",
        "bob",
        ":alice*=-~alice@127.0.0.1 bob=+~bob@127.0.0.1",
    ))
    .await;

    bob.send("LUSERS").await;
    bob.expect_command("251").await;
    bob.expect_line(&numeric("252", "bob", "1 :operator(s) online"))
        .await;
    bob.expect_command("254").await;
    bob.skip_until(|m| m.command == "266").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_users_oper_kill_and_are_refused_like_irc_users() {
    let server = server_with_an_operator().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = server.irc("bob").await;

    alice.send("/kill bob").await;
    alice.expect("! you need to be a server operator").await;
    alice.send("/wallops hello").await;
    alice.expect("! you need to be a server operator").await;
    alice.send("/oper root wrong-horse").await;
    alice.expect("! wrong operator name or password").await;
    alice.send("/oper root correct-horse").await;
    alice.expect("-- you are now a server operator").await;
    alice.send("/kill nobody").await;
    alice.expect("! no such nick: nobody").await;

    alice.send("/kill bob  flooding").await;
    alice.expect("-- you killed bob (flooding)").await;
    bob.expect_line(":alice!text@127.0.0.1 KILL bob flooding")
        .await;
    assert_eq!(
        bob.expect_closed().await,
        ["ERROR :Closing link: (~bob@127.0.0.1) [Killed (alice (flooding))]"]
    );
    alice.expect_quiet().await;
    server.shut_down().await;
}
