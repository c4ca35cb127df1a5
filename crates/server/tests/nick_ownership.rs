//! Who may hold a registered nick, over real sockets: the grace period belongs to the
//! connection; the owner takes its nick back (NickServ `REGAIN`, `GHOST`, `RELEASE`, text
//! `/regain`, and simply by logging in); and a password change logs the account's other
//! sessions out.
//!
//! Guest numbers are exact: every text connection and every rename to a guest nick takes the
//! next `guest-N`, so each test counts them.

mod support;

use palaver_server::config::Overrides;
use support::{
    Client, IrcClient, SERVER, TestServer, create_account, irc_mask, irc_sasl, irc_sasl_pending,
    join_all, logged_in_line, nickserv_line, text_account,
};

/// The text warning on a registered nick, `seconds` of grace left.
fn text_warning(nick: &str, seconds: u64) -> String {
    let unit = if seconds == 1 { "second" } else { "seconds" };
    format!(
        "-- nick {nick} is registered; log in with /login {nick} PASSWORD within {seconds} \
         {unit} or you will be renamed"
    )
}

/// NickServ's warning on a registered nick, 60 seconds of grace.
fn irc_warning(nick: &str) -> String {
    nickserv_line(
        nick,
        "This nick is registered. Log in within 60 seconds (SASL, or /msg NickServ IDENTIFY \
         <password>) or you will be renamed.",
    )
}

/// NickServ's notice to someone moved off a nick its owner reclaimed.
fn irc_reclaimed(guest: &str) -> String {
    nickserv_line(
        guest,
        "You were renamed: your nick was reclaimed by its owner.",
    )
}

const TEXT_RECLAIMED: &str = "-- you were renamed: your nick was reclaimed by its owner";

/// Reads as many text lines as `expected` holds and checks they are those, in any order: a
/// session tells its client why it was renamed when it wakes up, which may be before or after
/// the next event someone else sends it.
async fn expect_text_unordered(client: &mut Client, expected: &[&str]) {
    let mut lines = Vec::new();
    for _ in expected {
        lines.push(client.line().await);
    }
    let mut expected: Vec<&str> = expected.to_vec();
    lines.sort();
    expected.sort_unstable();
    assert_eq!(lines, expected, "{}", client.nick);
}

/// [`expect_text_unordered`] for IRC lines (without tags).
async fn expect_irc_unordered(client: &mut IrcClient, expected: &[&str]) {
    let mut lines = Vec::new();
    for _ in expected {
        lines.push(support::untagged(&client.line().await).to_owned());
    }
    let mut expected: Vec<&str> = expected.to_vec();
    lines.sort();
    expected.sort_unstable();
    assert_eq!(lines, expected, "{}", client.nick);
}

// ---------------------------------------------------------------------------------------------
// The grace period belongs to the connection
// ---------------------------------------------------------------------------------------------

/// `NICK x`, `NICK owner` in a loop used to restart the grace period at every return, keeping
/// the nick forever. The squatter hops until it is renamed or refused; an idle IRC client's
/// keepalive `PING`, five seconds after it registered, ends the test if that never happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hopping_off_a_registered_nick_and_back_does_not_renew_the_grace_period() {
    let server = TestServer::start_with_config(
        "[accounts]\nnick_grace = \"1s\"\n[irc]\nping_interval = \"5s\"\n",
        Overrides::default(),
    )
    .await;
    create_account(&server, "alice", "alice-password").await; // guest-1
    let mut clock = server.irc("clock").await;
    let mut squatter = server.client().await; // guest-2
    squatter.rename("alice").await;
    squatter.expect(&text_warning("alice", 1)).await;

    let refused = "! nick alice is registered; log in first (/login alice PASSWORD)";
    let hopping = async {
        loop {
            squatter.send("/nick hop").await;
            let line = squatter.line().await;
            if line == "-- alice is now known as guest-3" {
                // Renamed at the end of the grace period while on the nick.
                squatter
                    .expect("-- you were renamed: alice belongs to a registered account")
                    .await;
                squatter.expect("-- guest-3 is now known as hop").await;
                squatter.nick = "hop".into();
                return;
            }
            assert_eq!(line, "-- alice is now known as hop");
            squatter.send("/nick alice").await;
            let line = squatter.line().await;
            if line == refused {
                // The grace period ended while it was away.
                return;
            }
            assert_eq!(line, "-- hop is now known as alice");
            // Warned again, with what is left of the one second (rounded up); or, if that
            // just ran out, renamed at once.
            let line = squatter.line().await;
            if line == "-- alice is now known as guest-3" {
                squatter
                    .expect("-- you were renamed: alice belongs to a registered account")
                    .await;
                squatter.nick = "guest-3".into();
                squatter.rename("hop").await;
                return;
            }
            assert_eq!(line, text_warning("alice", 1));
        }
    };
    tokio::select! {
        () = hopping => {}
        ping = clock.message() => panic!(
            "the squatter still hopped onto alice 5 s after its 1 s grace period began ({ping:?})"
        ),
    }
    // And it stays that way.
    squatter.nick = "hop".into();
    squatter.send("/nick alice").await;
    squatter.expect(refused).await;
    squatter.send("/nick ALICE").await;
    squatter
        .expect("! nick ALICE is registered; log in first (/login ALICE PASSWORD)")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_nick_to_a_registered_nick_is_refused_once_the_grace_period_is_over() {
    let server =
        TestServer::start_with_config("[accounts]\nnick_grace = \"1s\"\n", Overrides::default())
            .await;
    create_account(&server, "alice", "alice-password").await; // guest-1
    let mut squatter = server.irc("alice").await;
    squatter
        .expect_raw(&nickserv_line(
            "alice",
            "This nick is registered. Log in within 1 second (SASL, or /msg NickServ IDENTIFY \
             <password>) or you will be renamed.",
        ))
        .await;
    squatter
        .expect_raw(":alice!~alice@127.0.0.1 NICK guest-2")
        .await;
    squatter
        .expect_raw(&nickserv_line(
            "guest-2",
            "You were renamed: alice belongs to a registered account.",
        ))
        .await;
    squatter.send("NICK alice").await;
    squatter
        .expect_raw(&format!(
            ":{SERVER} 433 guest-2 alice :Nickname is reserved by a registered account; log in \
             first"
        ))
        .await;
    // Other nicks are fine, and logging in makes the account's nick available again.
    squatter.send("NICK sq").await;
    squatter
        .expect_raw(":guest-2!~alice@127.0.0.1 NICK sq")
        .await;
    squatter
        .send("PRIVMSG NickServ :IDENTIFY alice alice-password")
        .await;
    squatter
        .expect_raw(&logged_in_line(
            "sq",
            &irc_mask("sq").replace("~sq", "~alice"),
            "alice",
        ))
        .await;
    squatter
        .expect_raw(&nickserv_line("sq", "You are now identified for alice."))
        .await;
    squatter.send("NICK alice").await;
    squatter.expect_raw(":sq!~alice@127.0.0.1 NICK alice").await;
    squatter.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// The owner takes its nick back
// ---------------------------------------------------------------------------------------------

/// The owner, logged in by SASL, used to get `433` for its own nick and had no way to take it
/// back. Logging in now ends the squatter's claim at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_logging_in_with_sasl_takes_its_nick_back_from_a_squatter() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-password").await; // guest-1
    let mut squatter = server.irc("alice").await;
    squatter.expect_raw(&irc_warning("alice")).await;
    let mut watcher = server.irc("watcher").await;
    join_all("#x", &mut [&mut squatter, &mut watcher]).await;

    let mut owner = irc_sasl(&server, "owner", "alice", "alice-password", &[]).await;
    owner
        .expect_raw(&nickserv_line(
            "owner",
            "The nick alice was taken back from someone not logged in to your account.",
        ))
        .await;
    squatter
        .expect_raw(":alice!~alice@127.0.0.1 NICK guest-2")
        .await;
    squatter.expect_raw(&irc_reclaimed("guest-2")).await;
    watcher
        .expect_raw(":alice!~alice@127.0.0.1 NICK guest-2")
        .await;

    owner.send("NICK alice").await;
    owner.expect_raw(":owner!~owner@127.0.0.1 NICK alice").await;
    squatter.send("NICK alice").await;
    squatter
        .expect_raw(&format!(
            ":{SERVER} 433 guest-2 alice :Nickname is already in use"
        ))
        .await;
    for client in [&mut owner, &mut squatter, &mut watcher] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nickserv_regain_takes_the_nick_from_whoever_holds_it() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-password").await; // guest-1
    let mut owner = irc_sasl(&server, "owner", "alice", "alice-password", &[]).await;
    // Takes the nick after the owner logged in, so the login did not move it.
    let mut squatter = server.irc("alice").await;
    squatter.expect_raw(&irc_warning("alice")).await;
    let mut watcher = server.irc("watcher").await;
    join_all("#x", &mut [&mut owner, &mut squatter, &mut watcher]).await;

    owner.send("PRIVMSG NickServ :REGAIN alice").await;
    owner.expect_raw(":owner!~owner@127.0.0.1 NICK alice").await;
    owner
        .expect_raw(&nickserv_line("alice", "You have regained the nick alice."))
        .await;
    // What others did while the command ran comes after its replies.
    owner
        .expect_raw(":alice!~alice@127.0.0.1 NICK guest-2")
        .await;
    squatter
        .expect_raw(":alice!~alice@127.0.0.1 NICK guest-2")
        .await;
    expect_irc_unordered(
        &mut squatter,
        &[
            &irc_reclaimed("guest-2"),
            ":owner!~owner@127.0.0.1 NICK alice",
        ],
    )
    .await;
    // Peers see the squatter moved aside first, then the owner arrive.
    watcher
        .expect_raw(":alice!~alice@127.0.0.1 NICK guest-2")
        .await;
    watcher
        .expect_raw(":owner!~owner@127.0.0.1 NICK alice")
        .await;

    owner.send("PRIVMSG NickServ :REGAIN alice").await;
    owner
        .expect_raw(&nickserv_line("alice", "You already have the nick alice."))
        .await;
    owner.send("PRIVMSG NickServ :REGAIN watcher").await;
    owner
        .expect_raw(&nickserv_line(
            "alice",
            "Access denied: watcher is not your account's nick (alice).",
        ))
        .await;
    owner.send("PRIVMSG NickServ :REGAIN").await;
    owner
        .expect_raw(&nickserv_line("alice", "Syntax: REGAIN <nick> [password]"))
        .await;
    // Not logged in, and no password: nothing to go on.
    squatter.send("PRIVMSG NickServ :REGAIN alice").await;
    squatter
        .expect_raw(&nickserv_line(
            "guest-2",
            "You are not logged in: IDENTIFY first, or give the password after the nick.",
        ))
        .await;
    for client in [&mut owner, &mut squatter, &mut watcher] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nickserv_regain_with_the_password_logs_in_first() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-password").await; // guest-1
    let mut squatter = server.irc("alice").await;
    squatter.expect_raw(&irc_warning("alice")).await;
    let mut owner = server.irc("owner").await;

    owner
        .send("PRIVMSG NickServ :REGAIN alice wrong-password")
        .await;
    owner
        .expect_raw(&nickserv_line(
            "owner",
            "Login failed: wrong account name or password.",
        ))
        .await;
    squatter.expect_quiet().await;

    owner
        .send("PRIVMSG NickServ :REGAIN alice alice-password")
        .await;
    owner
        .expect_raw(&logged_in_line("owner", &irc_mask("owner"), "alice"))
        .await;
    owner
        .expect_raw(&nickserv_line("owner", "You are now identified for alice."))
        .await;
    owner
        .expect_raw(&nickserv_line(
            "owner",
            "The nick alice was taken back from someone not logged in to your account.",
        ))
        .await;
    owner.expect_raw(":owner!~owner@127.0.0.1 NICK alice").await;
    owner
        .expect_raw(&nickserv_line("alice", "You have regained the nick alice."))
        .await;
    squatter
        .expect_raw(":alice!~alice@127.0.0.1 NICK guest-2")
        .await;
    squatter.expect_raw(&irc_reclaimed("guest-2")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nickserv_ghost_disconnects_a_stale_session_of_the_account() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-password").await; // guest-1
    let mut stale = irc_sasl(&server, "alice", "alice", "alice-password", &[]).await;
    let mut watcher = server.irc("watcher").await;
    join_all("#x", &mut [&mut stale, &mut watcher]).await;
    // A second session of the account: its login leaves the first one alone.
    let mut fresh = irc_sasl(&server, "fresh", "alice", "alice-password", &[]).await;
    fresh.expect_quiet().await;

    fresh.send("PRIVMSG NickServ :GHOST alice").await;
    fresh
        .expect_raw(&nickserv_line(
            "fresh",
            "Your other session using alice has been disconnected.",
        ))
        .await;
    assert_eq!(
        stale.expect_closed().await,
        [
            ":alice!~alice@127.0.0.1 NICK guest-2".to_owned(),
            nickserv_line(
                "guest-2",
                "This session was ghosted by another session of your account.",
            ),
            "ERROR :Closing link: (~alice@127.0.0.1) [ghosted]".to_owned(),
        ]
    );
    watcher
        .expect_raw(":alice!~alice@127.0.0.1 NICK guest-2")
        .await;
    watcher
        .expect_raw(":guest-2!~alice@127.0.0.1 QUIT ghosted")
        .await;
    fresh.send("NICK alice").await;
    fresh.expect_raw(":fresh!~fresh@127.0.0.1 NICK alice").await;
    fresh.send("PRIVMSG NickServ :GHOST alice").await;
    fresh
        .expect_raw(&nickserv_line("alice", "You are using alice yourself."))
        .await;
    fresh.expect_quiet().await;
    watcher.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nickserv_ghost_and_release_rename_a_squatter_and_leave_the_owners_nick_alone() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-password").await; // guest-1
    let mut owner = irc_sasl(&server, "owner", "alice", "alice-password", &[]).await;

    let mut first = server.irc("alice").await;
    first.expect_raw(&irc_warning("alice")).await;
    owner.send("PRIVMSG NickServ :GHOST alice").await;
    owner
        .expect_raw(&nickserv_line(
            "owner",
            "alice is free: its user is now guest-2.",
        ))
        .await;
    first
        .expect_raw(":alice!~alice@127.0.0.1 NICK guest-2")
        .await;
    first.expect_raw(&irc_reclaimed("guest-2")).await;
    // Renamed, not disconnected: it is not the owner's.
    first.expect_quiet().await;

    let mut second = server.irc("alice").await;
    second.expect_raw(&irc_warning("alice")).await;
    owner.send("PRIVMSG NickServ :RELEASE alice").await;
    owner
        .expect_raw(&nickserv_line(
            "owner",
            "alice is free: its user is now guest-3.",
        ))
        .await;
    second
        .expect_raw(":alice!~alice@127.0.0.1 NICK guest-3")
        .await;
    second.expect_raw(&irc_reclaimed("guest-3")).await;

    owner.send("PRIVMSG NickServ :RELEASE alice").await;
    owner
        .expect_raw(&nickserv_line("owner", "alice is not in use."))
        .await;
    for client in [&mut owner, &mut first, &mut second] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_regain_takes_the_nick_back() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-password").await; // guest-1
    let mut owner = server.client().await; // guest-2
    owner.send("/regain").await;
    owner
        .expect("! you need to be logged in to an account")
        .await;
    owner.send("/login alice alice-password").await;
    owner.expect("-- guest-2 is now known as alice").await;
    owner.expect("-- you are now logged in as alice").await;
    owner.nick = "alice".into();
    owner.rename("owner").await;

    let mut squatter = server.client().await; // guest-3
    owner.expect("-- guest-3 joined #lobby").await;
    squatter.rename("alice").await;
    squatter.expect(&text_warning("alice", 60)).await;
    owner.expect("-- guest-3 is now known as alice").await;

    owner.send("/regain bob").await;
    owner
        .expect("! bob is not your account's nick (alice)")
        .await;
    owner.send("/regain ALICE").await;
    // The command's replies, then what others did meanwhile (both share #lobby).
    owner.expect("-- owner is now known as alice").await;
    owner.expect("-- you regained the nick alice").await;
    owner.expect("-- alice is now known as guest-4").await;
    squatter.expect("-- alice is now known as guest-4").await;
    expect_text_unordered(
        &mut squatter,
        &[TEXT_RECLAIMED, "-- owner is now known as alice"],
    )
    .await;
    owner.send("/regain").await;
    owner.expect("! you already have the nick alice").await;
    owner.expect_quiet().await;
    squatter.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_login_moves_a_squatter_off_the_nick_and_takes_it() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-password").await; // guest-1
    let mut squatter = server.client().await; // guest-2
    squatter.rename("alice").await;
    squatter.expect(&text_warning("alice", 60)).await;
    let mut owner = server.client().await; // guest-3
    squatter.expect("-- guest-3 joined #lobby").await;

    owner.send("/login alice alice-password").await;
    owner.expect("-- guest-3 is now known as alice").await;
    owner.expect("-- you are now logged in as alice").await;
    owner.expect("-- alice is now known as guest-4").await;
    squatter.expect("-- alice is now known as guest-4").await;
    expect_text_unordered(
        &mut squatter,
        &[TEXT_RECLAIMED, "-- guest-3 is now known as alice"],
    )
    .await;
    owner.expect_quiet().await;
    squatter.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// A password change logs the account's other sessions out
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_logs_out_the_accounts_other_sessions() {
    let server = TestServer::start().await;
    let mut on_nick = text_account(&server, "alice", "old-password").await; // guest-1
    let mut irc = irc_sasl(&server, "bee", "alice", "old-password", &[]).await;
    let mut watcher = server.irc_with_caps("watcher", &["account-notify"]).await;
    join_all("#x", &mut [&mut irc, &mut watcher]).await;
    let mut changer = server.client().await; // guest-2
    on_nick.expect("-- guest-2 joined #lobby").await;
    changer.send("/login alice old-password").await;
    changer.expect("-- you are now logged in as alice").await;

    changer.send("/password old-password new-password").await;
    changer
        .expect("-- password changed; your 2 other sessions were logged out")
        .await;

    on_nick
        .expect("-- you were logged out: your account's password was changed")
        .await;
    // Its right to the account's nick went with the login: renamed at once.
    on_nick.expect("-- alice is now known as guest-3").await;
    on_nick
        .expect("-- you were renamed: alice belongs to a registered account")
        .await;
    changer.expect("-- alice is now known as guest-3").await;
    irc.expect_raw(&format!(
        ":{SERVER} 901 bee {} :You are now logged out",
        irc_mask("bee")
    ))
    .await;
    irc.expect_raw(&nickserv_line(
        "bee",
        "You were logged out: your account's password was changed.",
    ))
    .await;
    watcher
        .expect_raw(&format!(":{} ACCOUNT *", irc_mask("bee")))
        .await;

    // Really logged out: the old password no longer logs in, the new one does.
    on_nick.send("/logout").await;
    on_nick.expect("! you are not logged in").await;
    irc.send("PRIVMSG NickServ :IDENTIFY alice old-password")
        .await;
    irc.expect_raw(&nickserv_line(
        "bee",
        "Login failed: wrong account name or password.",
    ))
    .await;
    irc.send("PRIVMSG NickServ :IDENTIFY alice new-password")
        .await;
    irc.expect_raw(&logged_in_line("bee", &irc_mask("bee"), "alice"))
        .await;
    irc.expect_raw(&nickserv_line("bee", "You are now identified for alice."))
        .await;
    watcher
        .expect_raw(&format!(":{} ACCOUNT alice", irc_mask("bee")))
        .await;
    // The session that changed it stays logged in.
    changer.send("/register another-password").await;
    changer.expect("! you are already logged in as alice").await;
    for client in [&mut irc, &mut watcher] {
        client.expect_quiet().await;
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nickserv_set_password_changes_it_and_logs_out_the_other_sessions() {
    let server = TestServer::start().await;
    let mut text = text_account(&server, "alice", "old-password").await; // guest-1
    text.rename("ally").await;
    let mut irc = irc_sasl(&server, "bee", "alice", "old-password", &[]).await;

    irc.send("PRIVMSG NickServ :SET PASSWORD new-password")
        .await;
    irc.expect_raw(&nickserv_line(
        "bee",
        "Syntax: SET PASSWORD <old password> <new password>",
    ))
    .await;
    irc.send("PRIVMSG NickServ :SET PASSWORD wrong-password new-password")
        .await;
    irc.expect_raw(&nickserv_line(
        "bee",
        "Password change failed: wrong account name or password.",
    ))
    .await;
    text.expect_quiet().await;

    irc.send("PRIVMSG NickServ :SET PASSWORD old-password new-password")
        .await;
    irc.expect_raw(&nickserv_line(
        "bee",
        "Password changed. Your other session was logged out.",
    ))
    .await;
    text.expect("-- you were logged out: your account's password was changed")
        .await;
    text.expect_quiet().await;
    text.send("/login alice new-password").await;
    text.expect("-- ally is now known as alice").await;
    text.expect("-- you are now logged in as alice").await;
    server.shut_down().await;
}

/// A SASL login made before registration completes is not yet a session the hub knows: it is
/// confirmed when registration completes, and cancelled if the password changed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sasl_login_waiting_for_registration_is_cancelled_by_a_password_change() {
    let server = TestServer::start().await;
    let mut changer = text_account(&server, "alice", "old-password").await; // guest-1
    let mut pending = irc_sasl_pending(&server, "early", "alice", "old-password", &[]).await;

    changer.send("/password old-password new-password").await;
    changer.expect("-- password changed").await;

    pending.send("CAP END").await;
    pending.expect_command("001").await;
    pending
        .skip_until(|m| m.command == "376" || m.command == "422")
        .await;
    pending
        .expect_raw(&format!(
            ":{SERVER} 901 early {} :You are now logged out",
            irc_mask("early")
        ))
        .await;
    pending
        .expect_raw(&nickserv_line(
            "early",
            "Your login to alice was cancelled: its password was just changed. Log in again.",
        ))
        .await;
    pending.send("WHOIS early").await;
    let whois = pending
        .skip_until(|m| m.command == "330" || m.command == "318")
        .await;
    assert_eq!(whois.command, "318", "still logged in: {whois:?}");
    pending.expect_quiet().await;
    server.shut_down().await;
}

/// A text connection ghosted by its account's other session says goodbye and closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ghosted_text_session_is_told_and_closed() {
    let server = TestServer::start().await;
    let mut stale: Client = text_account(&server, "alice", "alice-password").await; // guest-1
    let mut fresh: IrcClient = irc_sasl(&server, "fresh", "alice", "alice-password", &[]).await;
    fresh.send("PRIVMSG NickServ :GHOST alice").await;
    fresh
        .expect_raw(&nickserv_line(
            "fresh",
            "Your other session using alice has been disconnected.",
        ))
        .await;
    stale.expect("-- alice is now known as guest-2").await;
    stale
        .expect("-- another session of your account ghosted this one; goodbye")
        .await;
    stale.expect_closed().await;
    server.shut_down().await;
}
