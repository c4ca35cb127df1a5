//! Registered nicks and registered rooms against a real server over real sockets.
//!
//! Nick protection: whoever takes a registered nick without being logged in to its account is
//! warned and, after `[accounts] nick_grace`, renamed to a free `guest-N`. These tests
//! run with a one-second grace period; waiting for the rename line is the synchronisation. To
//! show that something did NOT happen at a deadline, a test arranges another user's rename
//! whose deadline is strictly later (its warning came after) and checks quietness once that
//! rename has arrived.
//!
//! Registered rooms: `/register-room` and `PRIVMSG ChanServ :REGISTER #room`, the founder made
//! operator on joining, and the topic, modes and bans kept while the room is empty and across
//! a restart on the same database file.
//!
//! Guest numbers are exact: every text connection takes the next `guest-N`, and so does every
//! rename by nick protection, so each test counts its text connections.

mod support;

use std::time::{Duration, Instant};

use palaver_server::config::Overrides;
use support::{
    Client, IrcClient, SERVER, TestServer, irc_mask, irc_sasl, join_all, logged_in_line,
    nickserv_line, numeric, text_account,
};

/// A one-second grace period before a squatter is renamed.
const GRACE_ONE_SECOND: &str = "[accounts]\nnick_grace = \"1s\"\n";

async fn grace_server() -> TestServer {
    TestServer::start_with_config(GRACE_ONE_SECOND, Overrides::default()).await
}

/// The text warning with the one-second grace period.
fn text_warning(nick: &str) -> String {
    format!(
        "-- nick {nick} is registered; log in with /login {nick} PASSWORD within 1 second or \
         you will be renamed"
    )
}

/// The text notice after the rename, `nick` being the nick taken away.
fn text_renamed(nick: &str) -> String {
    format!("-- you were renamed: {nick} belongs to a registered account")
}

/// A `NOTICE` to `nick` from the service `service`.
fn service_line(service: &str, nick: &str, text: &str) -> String {
    format!(":{service}!services@{SERVER} NOTICE {nick} :{text}")
}

fn chanserv_line(nick: &str, text: &str) -> String {
    service_line("ChanServ", nick, text)
}

/// NickServ's warning to an IRC user on a registered nick, with `seconds` of grace.
fn irc_warning(nick: &str, seconds: u64) -> String {
    let unit = if seconds == 1 { "second" } else { "seconds" };
    nickserv_line(
        nick,
        &format!(
            "This nick is registered. Log in within {seconds} {unit} (SASL, or /msg NickServ \
             IDENTIFY <password>) or you will be renamed."
        ),
    )
}

/// NickServ's notice to `guest` after renaming it away from `nick`.
fn irc_renamed(guest: &str, nick: &str) -> String {
    nickserv_line(
        guest,
        &format!("You were renamed: {nick} belongs to a registered account."),
    )
}

/// Registers the account `nick` over the text protocol and disconnects, leaving the nick free
/// (one guest number).
async fn register_account(server: &TestServer, nick: &str, password: &str) {
    let mut client = text_account(server, nick, password).await;
    client.send("/quit").await;
    client.expect("-- goodbye").await;
    client.expect_closed().await;
}

/// A text client that has left `#lobby`, so it hears nothing about anyone else (one guest
/// number).
async fn loner(server: &TestServer) -> Client {
    let mut client = server.client().await;
    client.send("/part #lobby").await;
    let left = format!("-- {} left #lobby", client.nick);
    client.expect(&left).await;
    client
}

/// An IRC client registered as `nick` that registers the account `nick` through NickServ and
/// is logged in to it.
async fn irc_account(server: &TestServer, nick: &str, password: &str) -> IrcClient {
    let mut client = server.irc(nick).await;
    client
        .send(&format!("PRIVMSG NickServ :REGISTER {password}"))
        .await;
    client
        .expect_raw(&logged_in_line(nick, &irc_mask(nick), nick))
        .await;
    client
        .expect_raw(&nickserv_line(
            nick,
            &format!("Account {nick} registered; you are logged in."),
        ))
        .await;
    client
}

/// `PRIVMSG NickServ :IDENTIFY account password`, and its two replies.
async fn identify(client: &mut IrcClient, account: &str, password: &str) {
    client
        .send(&format!("PRIVMSG NickServ :IDENTIFY {account} {password}"))
        .await;
    let nick = client.nick.clone();
    let mask = irc_mask(&nick);
    client
        .expect_raw(&logged_in_line(&nick, &mask, account))
        .await;
    client
        .expect_raw(&nickserv_line(
            &nick,
            &format!("You are now identified for {account}."),
        ))
        .await;
}

/// Called once a warned user's rename has been read: asserts that it came no earlier than the
/// grace period after the warning was read (less a margin for the warning's own delivery).
fn assert_waited(warned: Instant) {
    let waited = warned.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "renamed {waited:?} after the warning, before the one-second grace period ended"
    );
}

// ---------------------------------------------------------------------------------------------
// Nick protection, text protocol
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_user_taking_a_registered_nick_is_warned_then_renamed() {
    let server = grace_server().await;
    register_account(&server, "alice", "alice-password").await; // guest-1
    let mut bob = Client::named(server.address, "bob").await; // guest-2
    let mut watcher = server.irc("watcher").await;
    watcher.join("#lobby").await;
    bob.expect("-- watcher joined #lobby").await;
    let mut squatter = server.client().await; // guest-3
    bob.expect("-- guest-3 joined #lobby").await;
    watcher
        .expect_line(":guest-3!text@127.0.0.1 JOIN #lobby")
        .await;

    squatter.send("/nick alice").await;
    squatter.expect("-- guest-3 is now known as alice").await;
    squatter.expect(&text_warning("alice")).await;
    let warned = Instant::now();
    bob.expect("-- guest-3 is now known as alice").await;
    watcher
        .expect_line(":guest-3!text@127.0.0.1 NICK alice")
        .await;
    // Only the squatter is warned.
    bob.expect_quiet().await;
    watcher.expect_quiet().await;

    // The rename is the event to wait for: it comes once the grace period is over.
    squatter.expect("-- alice is now known as guest-4").await;
    assert_waited(warned);
    squatter.expect(&text_renamed("alice")).await;
    bob.expect("-- alice is now known as guest-4").await;
    watcher
        .expect_line(":alice!text@127.0.0.1 NICK guest-4")
        .await;
    squatter.nick = "guest-4".into();

    // The nick is free again: its owner logs in and takes it, and is not warned.
    let mut owner = server.client().await; // guest-5
    for peer in [&mut bob, &mut squatter] {
        peer.expect("-- guest-5 joined #lobby").await;
    }
    watcher
        .expect_line(":guest-5!text@127.0.0.1 JOIN #lobby")
        .await;
    owner.send("/login alice alice-password").await;
    owner.expect("-- guest-5 is now known as alice").await;
    owner.expect("-- you are now logged in as alice").await;
    owner.expect_quiet().await;
    for peer in [&mut bob, &mut squatter] {
        peer.expect("-- guest-5 is now known as alice").await;
        peer.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logout_while_on_the_accounts_nick_warns_then_renames() {
    let server = grace_server().await;
    let mut alice = text_account(&server, "alice", "alice-password").await; // guest-1
    alice.send("/logout").await;
    alice.expect("-- you are now logged out").await;
    alice.expect(&text_warning("alice")).await;
    let warned = Instant::now();
    alice.expect("-- alice is now known as guest-2").await;
    assert_waited(warned);
    alice.expect(&text_renamed("alice")).await;
    alice.nick = "guest-2".into();
    alice.expect_quiet().await;
    // The connection's grace period is over: taking the nick again is refused...
    alice.send("/nick alice").await;
    alice
        .expect("! nick alice is registered; log in first (/login alice PASSWORD)")
        .await;
    // ...but logging in takes it, as ever.
    alice.send("/login alice alice-password").await;
    alice.expect("-- guest-2 is now known as alice").await;
    alice.expect("-- you are now logged in as alice").await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_login_or_a_nick_change_within_the_grace_period_keeps_the_user() {
    let server = grace_server().await;
    register_account(&server, "alice", "alice-password").await; // guest-1
    register_account(&server, "carol", "carol-password").await; // guest-2
    register_account(&server, "dave", "dave-password").await; // guest-3
    let mut logs_in = loner(&server).await; // guest-4
    let mut moves_on = loner(&server).await; // guest-5
    let mut sentinel = loner(&server).await; // guest-6

    logs_in.send("/nick alice").await;
    logs_in.expect("-- guest-4 is now known as alice").await;
    logs_in.expect(&text_warning("alice")).await;
    moves_on.send("/nick carol").await;
    moves_on.expect("-- guest-5 is now known as carol").await;
    moves_on.expect(&text_warning("carol")).await;
    // Warned after both others, so its deadline is later than theirs.
    sentinel.send("/nick dave").await;
    sentinel.expect("-- guest-6 is now known as dave").await;
    sentinel.expect(&text_warning("dave")).await;

    logs_in.send("/login alice alice-password").await;
    logs_in.expect("-- you are now logged in as alice").await;
    moves_on.send("/nick erin").await;
    moves_on.expect("-- carol is now known as erin").await;

    sentinel.expect("-- dave is now known as guest-7").await;
    sentinel.expect(&text_renamed("dave")).await;
    // Both other deadlines have passed: neither was renamed nor told anything.
    logs_in.expect_quiet().await;
    moves_on.expect_quiet().await;
    // And they are still on the nicks they chose.
    logs_in.send("/join #check").await;
    logs_in.expect("-- alice joined #check").await;
    moves_on.send("/join #check").await;
    moves_on.expect("-- erin joined #check").await;
    logs_in.expect("-- erin joined #check").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logout_after_a_login_that_cancelled_a_warning_warns_again() {
    // Logging out while on the account's nick is warned again, but the grace period is the
    // connection's, counted from its first warning (docs/PROTOCOL.md): logging in cancelled
    // the rename, not the clock.
    let server = grace_server().await;
    register_account(&server, "alice", "alice-password").await; // guest-1
    let mut squatter = loner(&server).await; // guest-2
    squatter.send("/nick alice").await;
    squatter.expect("-- guest-2 is now known as alice").await;
    squatter.expect(&text_warning("alice")).await;
    let first_warning = Instant::now();
    squatter.send("/login alice alice-password").await;
    squatter.expect("-- you are now logged in as alice").await;
    squatter.send("/logout").await;
    squatter.expect("-- you are now logged out").await;
    // What is left of the one second, rounded up.
    squatter.expect(&text_warning("alice")).await;
    squatter.expect("-- alice is now known as guest-3").await;
    assert_waited(first_warning);
    squatter.expect(&text_renamed("alice")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn being_logged_in_to_another_account_does_not_protect_a_registered_nick() {
    let server = grace_server().await;
    register_account(&server, "alice", "alice-password").await; // guest-1
    let mut bob = text_account(&server, "bob", "bob-password").await; // guest-2
    bob.send("/nick alice").await;
    bob.expect("-- bob is now known as alice").await;
    bob.expect(&text_warning("alice")).await;
    bob.expect("-- alice is now known as guest-3").await;
    bob.expect(&text_renamed("alice")).await;
    bob.nick = "guest-3".into();
    // Still logged in to bob.
    bob.send("/register another-password").await;
    bob.expect("! you are already logged in as bob").await;
    // Its own nick is its to take back without a warning.
    bob.rename("bob").await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_nicks_cannot_be_registered() {
    let server = grace_server().await;
    let mut guest = server.client().await; // guest-1
    guest.send("/register guest-password").await;
    guest
        .expect("! invalid account name: guest- nicks cannot be registered")
        .await;
    // In any case, and for a guest nick no connection was given.
    guest.rename("GUEST-77").await;
    guest.send("/register guest-password").await;
    guest
        .expect("! invalid account name: guest- nicks cannot be registered")
        .await;
    guest.expect_quiet().await;

    let mut irc = server.irc("guest-99").await;
    irc.send("PRIVMSG NickServ :REGISTER guest-password").await;
    irc.expect_raw(&nickserv_line(
        "guest-99",
        "Registration failed: invalid account name: guest- nicks cannot be registered.",
    ))
    .await;
    irc.send("REGISTER * * guest-password").await;
    irc.expect_raw(&format!(
        ":{SERVER} FAIL REGISTER BAD_ACCOUNT_NAME guest-99 :invalid account name: guest- nicks \
         cannot be registered"
    ))
    .await;
    irc.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_skips_guest_nicks_someone_holds() {
    let server = grace_server().await;
    register_account(&server, "alice", "alice-password").await; // guest-1
    let mut squatter = loner(&server).await; // guest-2
    // guest-3 would be next: an IRC user holds it already.
    let mut holder = server.irc("guest-3").await;
    squatter.send("/nick alice").await;
    squatter.expect("-- guest-2 is now known as alice").await;
    squatter.expect(&text_warning("alice")).await;
    squatter.expect("-- alice is now known as guest-4").await;
    squatter.expect(&text_renamed("alice")).await;
    holder.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Nick protection, IRC
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_nick_to_a_registered_nick_is_warned_then_renamed_and_peers_see_it() {
    let server = grace_server().await;
    register_account(&server, "alice", "alice-password").await; // guest-1
    let mut squatter = server.irc("sq").await;
    let mut watcher = server.irc("w").await;
    join_all("#x", &mut [&mut squatter, &mut watcher]).await;
    let mut tex = Client::named(server.address, "tex").await; // guest-2
    tex.send("/join #x").await;
    tex.expect("-- tex joined #x").await;
    for member in [&mut squatter, &mut watcher] {
        member.expect_line(":tex!text@127.0.0.1 JOIN #x").await;
    }

    squatter.send("NICK alice").await;
    squatter.expect_raw(":sq!~sq@127.0.0.1 NICK alice").await;
    squatter.expect_raw(&irc_warning("alice", 1)).await;
    let warned = Instant::now();
    watcher.expect_raw(":sq!~sq@127.0.0.1 NICK alice").await;
    tex.expect("-- sq is now known as alice").await;

    squatter
        .expect_raw(":alice!~sq@127.0.0.1 NICK guest-3")
        .await;
    assert_waited(warned);
    squatter.expect_raw(&irc_renamed("guest-3", "alice")).await;
    watcher
        .expect_raw(":alice!~sq@127.0.0.1 NICK guest-3")
        .await;
    tex.expect("-- alice is now known as guest-3").await;
    for client in [&mut squatter, &mut watcher] {
        client.expect_quiet().await;
    }
    tex.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_registering_with_a_registered_nick_is_warned_after_the_motd() {
    let server = grace_server().await;
    register_account(&server, "alice", "alice-password").await; // guest-1
    // `irc` reads up to the end of the MOTD: the warning is the very next line.
    let mut squatter = server.irc("alice").await;
    squatter.expect_raw(&irc_warning("alice", 1)).await;
    let warned = Instant::now();
    squatter
        .expect_raw(":alice!~alice@127.0.0.1 NICK guest-2")
        .await;
    assert_waited(warned);
    squatter.expect_raw(&irc_renamed("guest-2", "alice")).await;
    squatter.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_sasl_identify_or_a_nick_change_keep_the_nick_and_another_account_does_not() {
    let server = grace_server().await;
    for account in ["alice", "bob", "carol", "dave", "erin"] {
        register_account(&server, account, &format!("{account}-password")).await;
    } // guest-1 to guest-5

    // Logged in with SASL before registration completes: never warned.
    let mut alice = irc_sasl(&server, "alice", "alice", "alice-password", &[]).await;
    alice.expect_quiet().await;
    // Warned, then logged in with NickServ IDENTIFY.
    let mut bob = server.irc("bob").await;
    bob.expect_raw(&irc_warning("bob", 1)).await;
    // Warned, then moved to a free nick.
    let mut erin = server.irc("erin").await;
    erin.expect_raw(&irc_warning("erin", 1)).await;
    // Logged in with SASL to another account (dave): warned all the same, and last, so its
    // deadline is the latest.
    let mut carol = irc_sasl(&server, "carol", "dave", "dave-password", &[]).await;
    carol.expect_raw(&irc_warning("carol", 1)).await;

    identify(&mut bob, "bob", "bob-password").await;
    erin.send("NICK frank").await;
    erin.expect_raw(":erin!~erin@127.0.0.1 NICK frank").await;

    carol
        .expect_raw(":carol!~carol@127.0.0.1 NICK guest-6")
        .await;
    carol.expect_raw(&irc_renamed("guest-6", "carol")).await;
    // Every other deadline passed before carol's: nobody else was renamed.
    for client in [&mut alice, &mut bob, &mut erin, &mut carol] {
        client.expect_quiet().await;
    }
    bob.send("WHOIS bob").await;
    bob.expect_line(&numeric(
        "311",
        "bob",
        "bob ~bob 127.0.0.1 * :bob real name",
    ))
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_grace_period_turns_nick_protection_off() {
    // No warning and no rename ever come, so there is no event to wait for. The IRC keepalive
    // gives one: with a one-second ping interval the server sends PING a second after the
    // client last spoke, by which time a rename after a one-second grace would have come.
    let server = TestServer::start_with_config(
        "[accounts]\nnick_grace = \"0s\"\n[irc]\nping_interval = \"1s\"\n",
        Overrides::default(),
    )
    .await;
    register_account(&server, "alice", "alice-password").await; // guest-1
    register_account(&server, "bob", "bob-password").await; // guest-2
    let mut alice = loner(&server).await; // guest-3
    alice.send("/nick alice").await;
    alice.expect("-- guest-3 is now known as alice").await;
    alice.expect_quiet().await;
    let mut bob = server.irc("bob").await;
    bob.expect_quiet().await;

    let ping = bob.message().await;
    assert_eq!(
        ping.command, "PING",
        "expected only the keepalive: {ping:?}"
    );
    assert_eq!(ping.params, [SERVER]);
    bob.send(&format!("PONG {SERVER}")).await;
    bob.expect_quiet().await;
    alice.expect_quiet().await;
    // Both still hold the nicks.
    alice.send("/join #check").await;
    alice.expect("-- alice joined #check").await;
    bob.send("ISON alice bob").await;
    bob.expect_line(&numeric("303", "bob", ":alice bob")).await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Registered rooms
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_register_room_needs_an_account_operator_status_and_membership() {
    let server = TestServer::start().await;
    let mut carol = loner(&server).await; // guest-1
    carol.rename("carol").await;
    carol.send("/register-room").await;
    carol.expect("! you are not in any room").await;
    carol.send("/join #x").await;
    carol.expect("-- carol joined #x").await;
    carol.send("/register-room").await;
    carol
        .expect("! you need to be logged in to an account")
        .await;
    carol.send("/register-room #x").await;
    carol
        .expect("! you need to be logged in to an account")
        .await;

    let mut alice = text_account(&server, "alice", "alice-password").await; // guest-2
    alice.send("/register-room #x").await;
    alice.expect("! you are not in #x").await;
    alice.send("/join #x").await;
    alice.expect("-- alice joined #x").await;
    carol.expect("-- alice joined #x").await;
    alice.send("/register-room").await;
    alice.expect("! you need to be a room operator in #x").await;
    alice.send("/register-room #x extra").await;
    alice.expect("! usage: /register-room [#room]").await;

    alice.send("/join #Yard").await;
    alice.expect("-- alice joined #Yard").await;
    alice.send("/register-room").await;
    alice.expect("-- #Yard is now registered to alice").await;
    alice.send("/register-room #yard").await;
    alice.expect("! #Yard is already registered").await;
    alice.send("/register-room #x").await;
    alice.expect("! you need to be a room operator in #x").await;
    carol.expect_quiet().await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chanserv_register_needs_an_account_operator_status_and_membership() {
    let server = TestServer::start().await;
    let mut carol = server.irc("carol").await;
    let mut alice = irc_account(&server, "alice", "alice-password").await;
    let mut bob = irc_account(&server, "bob", "bob-password").await;
    join_all("#x", &mut [&mut carol, &mut alice, &mut bob]).await;
    carol.join("#y").await;

    carol.send("PRIVMSG ChanServ :REGISTER #x").await;
    carol
        .expect_raw(&chanserv_line(
            "carol",
            "you need to be logged in to an account.",
        ))
        .await;
    alice.send("PRIVMSG ChanServ :REGISTER #x").await;
    alice
        .expect_raw(&chanserv_line(
            "alice",
            "you need to be a room operator in #x.",
        ))
        .await;
    alice.send("PRIVMSG ChanServ :REGISTER #nope").await;
    alice
        .expect_raw(&chanserv_line("alice", "No such channel: #nope."))
        .await;
    alice.send("PRIVMSG ChanServ :REGISTER #y").await;
    alice
        .expect_raw(&chanserv_line("alice", "you are not in #y."))
        .await;
    for help in ["PRIVMSG ChanServ :HELP", "PRIVMSG chanserv :register"] {
        alice.send(help).await;
        alice
            .expect_raw(&chanserv_line(
                "alice",
                "Commands: REGISTER <#channel> (you must be logged in and a channel operator).",
            ))
            .await;
    }

    carol.send("MODE #x +o alice").await;
    let opped = ":carol!~carol@127.0.0.1 MODE #x +o alice";
    for member in [&mut carol, &mut alice, &mut bob] {
        member.expect_line(opped).await;
    }
    alice.send("PRIVMSG ChanServ :register #X").await;
    alice
        .expect_raw(&chanserv_line("alice", "#x is now registered to alice."))
        .await;
    alice.send("PRIVMSG ChanServ :REGISTER #x").await;
    alice
        .expect_raw(&chanserv_line("alice", "#x is already registered."))
        .await;
    // Another account's operator cannot take it over.
    alice.send("MODE #x +o bob").await;
    let opped = ":alice!~alice@127.0.0.1 MODE #x +o bob";
    for member in [&mut carol, &mut alice, &mut bob] {
        member.expect_line(opped).await;
    }
    bob.send("PRIVMSG ChanServ :REGISTER #x").await;
    bob.expect_raw(&chanserv_line("bob", "#x is already registered."))
        .await;
    // Nothing of this reached anyone else.
    for client in [&mut carol, &mut alice, &mut bob] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_room_keeps_topic_and_modes_while_empty_and_opens_only_its_founder() {
    let server = TestServer::start().await;
    let mut alice = irc_account(&server, "alice", "alice-password").await;
    let mut carol = irc_account(&server, "carol", "carol-password").await;
    let mut bob = server.irc("bob").await;
    alice.join("#x").await;
    alice.send("PRIVMSG ChanServ :REGISTER #x").await;
    alice
        .expect_raw(&chanserv_line("alice", "#x is now registered to alice."))
        .await;
    alice.send("TOPIC #x :kept while empty").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 TOPIC #x :kept while empty")
        .await;
    alice.send("MODE #x +msk sesame").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 MODE #x +msk sesame")
        .await;
    alice.send("MODE #x +l 5").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 MODE #x +l 5")
        .await;
    alice.send("TOPIC #x").await;
    alice
        .expect_line(&numeric("332", "alice", "#x :kept while empty"))
        .await;
    let who_time = alice.expect_command("333").await;
    assert_eq!(who_time.params[2], irc_mask("alice"));
    alice.send("PART #x").await;
    alice.expect_line(":alice!~alice@127.0.0.1 PART #x").await;

    // Carol comes first to the empty room, logged in but not as its founder: not opped.
    carol.send("JOIN #x sesame").await;
    carol.expect_line(":carol!~carol@127.0.0.1 JOIN #x").await;
    carol
        .expect_line(&numeric("332", "carol", "#x :kept while empty"))
        .await;
    let carol_time = carol.expect_command("333").await;
    assert_eq!(carol_time.params[1..], who_time.params[1..]);
    carol
        .expect_line(&numeric("353", "carol", "@ #x carol"))
        .await;
    carol
        .expect_line(&numeric("366", "carol", "#x :End of /NAMES list"))
        .await;
    carol.send("MODE #x").await;
    carol
        .expect_line(&numeric("324", "carol", "#x +mnstkl sesame 5"))
        .await;
    carol.expect_command("329").await;
    carol.send("TOPIC #x :mine now").await;
    carol
        .expect_line(&numeric(
            "482",
            "carol",
            "#x :You're not a channel operator",
        ))
        .await;
    carol.send("PRIVMSG #x :hello?").await;
    carol
        .expect_line(&numeric("404", "carol", "#x :Cannot send to channel (+m)"))
        .await;

    // The limit and key hold too.
    bob.send("JOIN #x").await;
    bob.expect_line(&numeric("475", "bob", "#x :Cannot join channel (+k)"))
        .await;
    bob.send("JOIN #x sesame").await;
    bob.expect_line(":bob!~bob@127.0.0.1 JOIN #x").await;
    bob.skip_until(|m| m.command == "366").await;
    carol.expect_line(":bob!~bob@127.0.0.1 JOIN #x").await;

    // The founder is made operator on joining, even after others.
    alice.send("JOIN #x sesame").await;
    alice.expect_line(":alice!~alice@127.0.0.1 JOIN #x").await;
    alice
        .expect_line(&numeric("332", "alice", "#x :kept while empty"))
        .await;
    alice.expect_command("333").await;
    alice
        .expect_line(&numeric("353", "alice", "@ #x :carol bob @alice"))
        .await;
    alice
        .expect_line(&numeric("366", "alice", "#x :End of /NAMES list"))
        .await;
    // The founder is opped, and everyone hears it from ChanServ.
    alice
        .expect_line(":ChanServ!services@palaver.local MODE #x +o alice")
        .await;
    for member in [&mut carol, &mut bob] {
        member.expect_line(":alice!~alice@127.0.0.1 JOIN #x").await;
        member
            .expect_line(":ChanServ!services@palaver.local MODE #x +o alice")
            .await;
    }
    alice.send("TOPIC #x :founder is back").await;
    for member in [&mut alice, &mut carol, &mut bob] {
        member
            .expect_line(":alice!~alice@127.0.0.1 TOPIC #x :founder is back")
            .await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_founder_joining_an_occupied_room_is_announced_as_operator() {
    // Members track who is an operator from NAMES at their own join and MODE changes after it;
    // a member that becomes operator by joining must be announced, or every client already
    // there shows the founder without `@`.
    let server = TestServer::start().await;
    let mut alice = irc_account(&server, "alice", "alice-password").await;
    let mut bob = server.irc("bob").await;
    alice.join("#x").await;
    alice.send("PRIVMSG ChanServ :REGISTER #x").await;
    alice
        .expect_raw(&chanserv_line("alice", "#x is now registered to alice."))
        .await;
    alice.send("PART #x").await;
    alice.expect_line(":alice!~alice@127.0.0.1 PART #x").await;
    bob.join("#x").await;

    alice.send("JOIN #x").await;
    alice.expect_line(":alice!~alice@127.0.0.1 JOIN #x").await;
    alice
        .expect_line(&numeric("353", "alice", "= #x :bob @alice"))
        .await;
    alice.skip_until(|m| m.command == "366").await;
    bob.expect_line(":alice!~alice@127.0.0.1 JOIN #x").await;
    // Whatever the source, a MODE +o must follow before the answer to this PING.
    bob.send("PING :after-join").await;
    let announcement = bob.message().await;
    assert_eq!(
        (
            announcement.command.as_str(),
            announcement.params.as_slice()
        ),
        (
            "MODE",
            ["#x".to_owned(), "+o".into(), "alice".into()].as_slice()
        ),
        "bob was not told that alice is an operator: {announcement:?}"
    );
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_registered_room_still_needs_its_key_and_an_invitation() {
    // The key and +i are kept while the room is empty (docs/PROTOCOL.md); they must keep out
    // whoever comes first, or they protect nothing while nobody is there.
    let server = TestServer::start().await;
    let mut alice = irc_account(&server, "alice", "alice-password").await;
    let mut bob = server.irc("bob").await;
    for (room, mode) in [("#keyed", "+k sesame"), ("#closed", "+i")] {
        alice.join(room).await;
        alice
            .send(&format!("PRIVMSG ChanServ :REGISTER {room}"))
            .await;
        alice
            .expect_raw(&chanserv_line(
                "alice",
                &format!("{room} is now registered to alice."),
            ))
            .await;
        alice.send(&format!("MODE {room} {mode}")).await;
        alice
            .expect_line(&format!(":alice!~alice@127.0.0.1 MODE {room} {mode}"))
            .await;
        alice.send(&format!("PART {room}")).await;
        alice
            .expect_line(&format!(":alice!~alice@127.0.0.1 PART {room}"))
            .await;
    }
    // Both answers are read before asserting, so a failure shows both.
    bob.send("JOIN #keyed").await;
    let keyed = bob.line().await;
    bob.sync().await;
    bob.send("JOIN #closed").await;
    let closed = bob.line().await;
    assert_eq!(
        [keyed.as_str(), closed.as_str()],
        [
            numeric("475", "bob", "#keyed :Cannot join channel (+k)"),
            numeric("473", "bob", "#closed :Cannot join channel (+i)"),
        ]
    );
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_registered_room_keeps_its_topic_and_opens_only_its_founder() {
    let server = TestServer::start().await;
    let mut alice = text_account(&server, "alice", "alice-password").await; // guest-1
    alice.send("/join #t").await;
    alice.expect("-- alice joined #t").await;
    alice.send("/topic before registering").await;
    alice
        .expect("-- alice changed the topic of #t to: before registering")
        .await;
    alice.send("/register-room").await;
    alice.expect("-- #t is now registered to alice").await;
    alice.send("/topic after registering").await;
    alice
        .expect("-- alice changed the topic of #t to: after registering")
        .await;
    alice.send("/part").await;
    alice.expect("-- alice left #t").await;
    alice.expect("-- now talking in #lobby").await;

    let mut bob = Client::named(server.address, "bob").await; // guest-2
    alice.expect("-- guest-2 joined #lobby").await;
    alice.expect("-- guest-2 is now known as bob").await;
    bob.send("/join #t").await;
    bob.expect("-- bob joined #t").await;
    bob.expect("-- topic of #t: after registering").await;
    bob.send("/who").await;
    bob.expect("-- members of #t (1): bob").await;
    bob.send("/topic taken over").await;
    bob.expect("! you need to be a room operator in #t").await;

    alice.send("/join #t").await;
    alice.expect("-- alice joined #t").await;
    alice.expect("-- topic of #t: after registering").await;
    alice.expect("-- ChanServ set mode +o alice on #t").await;
    bob.expect("-- alice joined #t").await;
    bob.expect("-- ChanServ set mode +o alice on #t").await;
    alice.send("/who").await;
    alice.expect("-- members of #t (2): bob @alice").await;
    alice.send("/topic founder is back").await;
    alice
        .expect("-- alice changed the topic of #t to: founder is back")
        .await;
    bob.expect("-- alice changed the topic of #t to: founder is back")
        .await;
    server.shut_down().await;
}

/// A database file in `directory`, and overrides that use it.
fn on_file(directory: &tempfile::TempDir) -> Overrides {
    let path = directory
        .path()
        .join("palaver.db")
        .to_string_lossy()
        .into_owned();
    Overrides {
        database: Some(path),
        ..Overrides::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_room_survives_a_restart_with_founder_topic_and_modes() {
    let directory = tempfile::tempdir().expect("temporary directory");

    let server = TestServer::start_with(on_file(&directory)).await;
    let mut alice = irc_account(&server, "alice", "alice-password").await;
    alice.join("#Keep").await;
    alice.send("TOPIC #keep :set before registering").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 TOPIC #Keep :set before registering")
        .await;
    alice.send("PRIVMSG ChanServ :REGISTER #keep").await;
    alice
        .expect_raw(&chanserv_line("alice", "#Keep is now registered to alice."))
        .await;
    // Every change below is saved before its echo is sent.
    alice.send("TOPIC #keep :set after registering").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 TOPIC #Keep :set after registering")
        .await;
    alice.send("MODE #keep +mk sesame").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 MODE #Keep +mk sesame")
        .await;
    alice.send("MODE #keep +l 7").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 MODE #Keep +l 7")
        .await;
    alice.send("MODE #keep -n").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 MODE #Keep -n")
        .await;
    alice.send("TOPIC #keep").await;
    alice
        .expect_line(&numeric("332", "alice", "#Keep :set after registering"))
        .await;
    let saved_time = alice.expect_command("333").await;
    assert_eq!(saved_time.params[1], "#Keep");
    assert_eq!(saved_time.params[2], irc_mask("alice"));
    drop(alice);
    server.shut_down().await;

    let server = TestServer::start_with(on_file(&directory)).await;
    let mut bob = server.irc("bob").await;
    bob.send("JOIN #KEEP sesame").await;
    bob.expect_line(":bob!~bob@127.0.0.1 JOIN #Keep").await;
    bob.expect_line(&numeric("332", "bob", "#Keep :set after registering"))
        .await;
    let restored_time = bob.expect_command("333").await;
    assert_eq!(restored_time.params[1..], saved_time.params[1..]);
    bob.expect_line(&numeric("353", "bob", "= #Keep bob")).await;
    bob.expect_line(&numeric("366", "bob", "#Keep :End of /NAMES list"))
        .await;
    bob.send("MODE #keep").await;
    bob.expect_line(&numeric("324", "bob", "#Keep +mtkl sesame 7"))
        .await;
    bob.expect_command("329").await;
    bob.send("TOPIC #keep :not yours").await;
    bob.expect_line(&numeric(
        "482",
        "bob",
        "#Keep :You're not a channel operator",
    ))
    .await;

    // The account survived too; logging in to it makes its holder the operator on joining.
    let mut alice = server.irc("alice").await;
    alice.expect_raw(&irc_warning("alice", 60)).await;
    identify(&mut alice, "alice", "alice-password").await;
    alice.send("JOIN #keep sesame").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 JOIN #Keep")
        .await;
    alice.skip_until(|m| m.command == "333").await;
    alice
        .expect_line(&numeric("353", "alice", "= #Keep :bob @alice"))
        .await;
    alice.skip_until(|m| m.command == "366").await;
    alice
        .expect_line(":ChanServ!services@palaver.local MODE #Keep +o alice")
        .await;
    bob.expect_line(":alice!~alice@127.0.0.1 JOIN #Keep").await;
    bob.expect_line(":ChanServ!services@palaver.local MODE #Keep +o alice")
        .await;
    alice.send("TOPIC #keep :").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 TOPIC #Keep :")
        .await;
    drop((alice, bob));
    server.shut_down().await;

    // A cleared topic is saved as cleared.
    let server = TestServer::start_with(on_file(&directory)).await;
    let mut carol = server.irc("carol").await;
    carol.send("JOIN #keep sesame").await;
    carol
        .expect_line(":carol!~carol@127.0.0.1 JOIN #Keep")
        .await;
    carol
        .expect_line(&numeric("353", "carol", "= #Keep carol"))
        .await;
    carol
        .expect_line(&numeric("366", "carol", "#Keep :End of /NAMES list"))
        .await;
    carol.send("MODE #keep").await;
    carol
        .expect_line(&numeric("324", "carol", "#Keep +mtkl sesame 7"))
        .await;
    carol.expect_command("329").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_registered_room_survives_a_restart() {
    let directory = tempfile::tempdir().expect("temporary directory");

    let server = TestServer::start_with(on_file(&directory)).await;
    let mut alice = text_account(&server, "alice", "alice-password").await;
    alice.send("/join #t").await;
    alice.expect("-- alice joined #t").await;
    alice.send("/register-room #t").await;
    alice.expect("-- #t is now registered to alice").await;
    alice.send("/topic saved from text").await;
    alice
        .expect("-- alice changed the topic of #t to: saved from text")
        .await;
    drop(alice);
    server.shut_down().await;

    let server = TestServer::start_with(on_file(&directory)).await;
    let mut bob = Client::named(server.address, "bob").await; // guest-1
    bob.send("/join #t").await;
    bob.expect("-- bob joined #t").await;
    bob.expect("-- topic of #t: saved from text").await;
    let mut alice = server.client().await; // guest-2
    bob.expect("-- guest-2 joined #lobby").await;
    alice.send("/login alice alice-password").await;
    alice.expect("-- guest-2 is now known as alice").await;
    alice.expect("-- you are now logged in as alice").await;
    bob.expect("-- guest-2 is now known as alice").await;
    alice.send("/join #t").await;
    alice.expect("-- alice joined #t").await;
    alice.expect("-- topic of #t: saved from text").await;
    alice.expect("-- ChanServ set mode +o alice on #t").await;
    bob.expect("-- alice joined #t").await;
    bob.expect("-- ChanServ set mode +o alice on #t").await;
    bob.send("/who #t").await;
    bob.expect("-- members of #t (2): bob @alice").await;
    server.shut_down().await;
}

/// `MODE #room b` as `nick` sees it: the `367` entries' parameters after the nick (room, mask,
/// setter, time), read up to the `368`.
async fn ban_list(client: &mut IrcClient, room: &str) -> Vec<Vec<String>> {
    client.send(&format!("MODE {room} b")).await;
    let mut entries = Vec::new();
    loop {
        let message = client.message().await;
        match message.command.as_str() {
            "367" => entries.push(message.params[1..].to_vec()),
            "368" => return entries,
            _ => panic!("{}: expected the ban list, got {message:?}", client.nick),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_rooms_bans_survive_its_emptying_and_a_restart() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let server = TestServer::start_with(on_file(&directory)).await;
    let mut alice = irc_account(&server, "alice", "alice-password").await;
    alice.join("#keep").await;
    alice.send("PRIVMSG ChanServ :REGISTER #keep").await;
    alice
        .expect_raw(&chanserv_line("alice", "#keep is now registered to alice."))
        .await;
    alice
        .send("MODE #keep +bbb mallory *!*@evil.example carol")
        .await;
    alice
        .expect_line(
            ":alice!~alice@127.0.0.1 MODE #keep +bbb mallory!*@* *!*@evil.example carol!*@*",
        )
        .await;
    alice.send("MODE #keep -b carol").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 MODE #keep -b carol!*@*")
        .await;
    let bans = ban_list(&mut alice, "#keep").await;
    assert_eq!(bans.len(), 2, "{bans:?}");
    assert_eq!(bans[0][..3], ["#keep", "mallory!*@*", &irc_mask("alice")]);
    assert_eq!(
        bans[1][..3],
        ["#keep", "*!*@evil.example", &irc_mask("alice")]
    );
    alice.send("PART #keep").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 PART #keep")
        .await;

    // Empty, the room still bans.
    let mut mallory = server.irc("mallory").await;
    mallory.send("JOIN #keep").await;
    mallory
        .expect_line(&numeric(
            "474",
            "mallory",
            "#keep :Cannot join channel (+b)",
        ))
        .await;
    drop(mallory);
    server.shut_down().await;
    drop(alice);

    // And after a restart, with every entry as it was set; the lifted ban stays lifted.
    let server = TestServer::start_with(on_file(&directory)).await;
    let mut mallory = server.irc("mallory").await;
    mallory.send("JOIN #keep").await;
    mallory
        .expect_line(&numeric(
            "474",
            "mallory",
            "#keep :Cannot join channel (+b)",
        ))
        .await;
    let mut carol = server.irc("carol").await;
    carol.join("#keep").await;
    assert_eq!(ban_list(&mut carol, "#keep").await, bans);
    carol.expect_quiet().await;
    mallory.expect_quiet().await;
    server.shut_down().await;
}
