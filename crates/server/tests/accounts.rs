//! Accounts against a real server over real sockets: the text commands `/register`, `/login`,
//! `/logout` and `/password`; IRC SASL PLAIN, `REGISTER` and NickServ; rate limiting of failed
//! logins; and how accounts show to others (`account-notify`, `account-tag`, `extended-join`,
//! and the account stored with each message for `CHATHISTORY`).
//!
//! Every password is hashed with argon2id (tens of milliseconds each), so each test keeps its
//! logins few. All clients connect from 127.0.0.1 (one from 127.0.0.2), and failed logins count
//! per address, so every test except the rate-limit ones stays below five failures.

mod support;

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use palaver_server::config::Overrides;
use support::{
    ALL_CAPS_302, Client, IrcClient, SERVER, TestServer, irc_mask, irc_sasl, join_all,
    logged_in_line, nickserv_line, sasl_plain, text_account,
};
use tokio::net::TcpSocket;

fn sasl_success_line(nick: &str) -> String {
    format!(":{SERVER} 903 {nick} :SASL authentication successful")
}

fn sasl_fail_line(nick: &str) -> String {
    format!(":{SERVER} 904 {nick} :SASL authentication failed")
}

const BAD_PASSWORD_TEXT: &str = "a password must be 8 to 1024 bytes and not contain spaces";

/// The warning a text user gets on a registered nick it is not logged in to.
fn text_nick_warning(nick: &str) -> String {
    format!(
        "-- nick {nick} is registered; log in with /login {nick} PASSWORD within 60 seconds or \
         you will be renamed"
    )
}

/// The same warning for IRC users, from NickServ.
fn irc_nick_warning(nick: &str) -> String {
    nickserv_line(
        nick,
        "This nick is registered. Log in within 60 seconds (SASL, or /msg NickServ IDENTIFY \
         <password>) or you will be renamed.",
    )
}

/// `/logout` while using the account's own nick: logged out, and warned about the nick.
async fn logout_on_own_nick(client: &mut Client) {
    client.send("/logout").await;
    client.expect("-- you are now logged out").await;
    let warning = text_nick_warning(&client.nick);
    client.expect(&warning).await;
}

/// Registers the account `nick` over the text protocol and disconnects, leaving the nick free.
async fn register_account(server: &TestServer, nick: &str, password: &str) {
    let mut client = text_account(server, nick, password).await;
    client.send("/quit").await;
    client.expect("-- goodbye").await;
    client.expect_closed().await;
}

/// Sends `AUTHENTICATE PLAIN`, expects `AUTHENTICATE +` and sends `payload` (one chunk).
async fn authenticate_plain(client: &mut IrcClient, payload: &str) {
    client.send("AUTHENTICATE PLAIN").await;
    client.expect_raw("AUTHENTICATE +").await;
    client.send(&format!("AUTHENTICATE {payload}")).await;
}

/// Checks a rate-limit refusal `{prefix}N{suffix}`: N is the whole seconds (rounded up) until
/// the oldest of the failures, the first of which began after `first_failure`, leaves the
/// 60-second window.
fn assert_wait(line: &str, prefix: &str, suffix: &str, first_failure: Instant) {
    let seconds = line
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .unwrap_or_else(|| panic!("{line:?} is not {prefix:?}N{suffix:?}"));
    let seconds: u64 = seconds
        .parse()
        .unwrap_or_else(|_| panic!("no number of seconds in {line:?}"));
    let elapsed = first_failure.elapsed().as_secs_f64();
    assert!(
        seconds <= 60 && seconds as f64 >= 60.0 - elapsed,
        "{line:?}: expected between {} and 60 seconds",
        60.0 - elapsed
    );
}

/// A text client connecting from `source` (another loopback address) to the text listener.
async fn text_client_from(server: &TestServer, source: &str) -> Client {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().unwrap())
        .expect("bind to a loopback source address");
    let stream = socket.connect(server.address).await.expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    Client::from_stream(stream).await
}

// ---------------------------------------------------------------------------------------------
// Text protocol
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_register_logs_in_and_refuses_a_second_registration_in_any_case() {
    let server = TestServer::start().await;
    let mut alice = text_account(&server, "alice", "hunter2hunter2").await;

    alice.send("/register another-password").await;
    alice.expect("! you are already logged in as alice").await;

    logout_on_own_nick(&mut alice).await;
    // The same nick in another case is the same account.
    alice.rename("ALICE").await;
    alice.send("/register another-password").await;
    alice.expect("! account ALICE is already registered").await;
    alice.rename("alice").await;
    alice.send("/register another-password").await;
    alice.expect("! account alice is already registered").await;

    // Still logged out: nothing was registered or logged in.
    alice.send("/logout").await;
    alice.expect("! you are not logged in").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_register_refuses_unacceptable_passwords() {
    let server = TestServer::start().await;
    let mut bob = Client::named(server.address, "bob").await;
    let error = format!("! {BAD_PASSWORD_TEXT}");

    // Too short (7 bytes), too long (1025 bytes), containing a tab.
    bob.send("/register 1234567").await;
    bob.expect(&error).await;
    bob.send(&format!("/register {}", "p".repeat(1025))).await;
    bob.expect(&error).await;
    bob.send("/register pass\tword-long").await;
    bob.expect(&error).await;
    // A space splits the line into words: the second is an email address.
    bob.send("/register long-enough words").await;
    bob.expect("! not an email address: words").await;
    bob.send("/register three words here").await;
    bob.expect("! usage: /register PASSWORD [EMAIL]").await;
    bob.send("/register").await;
    bob.expect("! usage: /register PASSWORD [EMAIL]").await;

    // None of those registered anything: 8 bytes is enough.
    bob.send("/register 12345678").await;
    bob.expect("-- account bob registered; you are logged in")
        .await;

    // Nick protection renames people to guest-N, so those nicks are not for registering.
    let mut guest = server.client().await;
    guest.send("/register guest-password").await;
    guest
        .expect("! invalid account name: guest- nicks cannot be registered")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_login_takes_the_nick_when_it_is_free() {
    let server = TestServer::start().await;
    let mut alice = text_account(&server, "alice", "alice-password").await;
    alice.send("/quit").await;
    alice.expect("-- goodbye").await;
    alice.expect_closed().await;

    // A guest logs in (account name in another case) and takes the free nick as registered.
    let mut guest = server.client().await;
    let guest_nick = guest.nick.clone();
    guest.send("/login ALICE alice-password").await;
    guest
        .expect(&format!("-- {guest_nick} is now known as alice"))
        .await;
    guest.expect("-- you are now logged in as alice").await;
    guest.nick = "alice".into();

    guest.send("/login alice alice-password").await;
    guest
        .expect("! you are already logged in as alice (/logout first)")
        .await;

    // A second session logs in to the same account: the nick is taken, so it keeps its own.
    let mut other = server.client().await;
    guest
        .expect(&format!("-- {} joined #lobby", other.nick))
        .await;
    other.send("/identify alice alice-password").await;
    other.expect("-- you are now logged in as alice").await;
    other.sync().await;
    guest.sync().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_login_gives_one_error_for_a_wrong_password_and_an_unknown_account() {
    let server = TestServer::start().await;
    let mut alice = text_account(&server, "alice", "alice-password").await;
    logout_on_own_nick(&mut alice).await;

    alice.send("/login alice wrong-password").await;
    alice.expect("! wrong account name or password").await;
    alice.send("/login nobody alice-password").await;
    alice.expect("! wrong account name or password").await;
    alice.send("/login 9lives alice-password").await;
    alice
        .expect("! invalid account name: a nick may not start with a digit or -")
        .await;
    alice.send("/login alice").await;
    alice.expect("! usage: /login NICK PASSWORD").await;

    // Two failures do not lock the account.
    alice.send("/login alice alice-password").await;
    alice.expect("-- you are now logged in as alice").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logout_password_and_their_errors_when_not_logged_in() {
    let server = TestServer::start().await;
    let mut carol = Client::named(server.address, "carol").await;
    carol.send("/logout").await;
    carol.expect("! you are not logged in").await;
    carol.send("/password old-password new-password").await;
    carol.expect("! you are not logged in").await;

    carol.send("/register carol-password").await;
    carol
        .expect("-- account carol registered; you are logged in")
        .await;
    logout_on_own_nick(&mut carol).await;
    carol.send("/logout").await;
    carol.expect("! you are not logged in").await;
    carol.send("/password carol-password new-password").await;
    carol.expect("! you are not logged in").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_password_change_replaces_the_old_password() {
    let server = TestServer::start().await;
    let mut dave = text_account(&server, "dave", "old-password").await;

    dave.send("/password wrong-password new-password").await;
    dave.expect("! wrong account name or password").await;
    dave.send("/password old-password short").await;
    dave.expect(&format!("! {BAD_PASSWORD_TEXT}")).await;
    dave.send("/password old-password").await;
    dave.expect("! usage: /password OLD NEW").await;
    dave.send("/password old-password new-password").await;
    dave.expect("-- password changed").await;

    logout_on_own_nick(&mut dave).await;
    dave.send("/login dave old-password").await;
    dave.expect("! wrong account name or password").await;
    dave.send("/login dave new-password").await;
    dave.expect("-- you are now logged in as dave").await;
    server.shut_down().await;
}

/// Anyone may guess at an account, but only their own address pays for it: five wrong
/// passwords from one address must not keep the owner, elsewhere, out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_from_one_address_do_not_lock_the_owner_out() {
    let server = TestServer::start().await;
    register_account(&server, "alice", "alice-password").await;

    let mut mallory = server.client().await;
    let first_failure = Instant::now();
    for _ in 0..5 {
        mallory.send("/login alice wrong-password").await;
        mallory.expect("! wrong account name or password").await;
    }
    // This address is done with alice for now: even the right password is refused.
    mallory.send("/login alice alice-password").await;
    let refusal = mallory.line().await;
    assert_wait(
        &refusal,
        "! too many failed logins; try again in ",
        " seconds",
        first_failure,
    );

    // The owner, from an address without failures, logs in (and takes her free nick).
    let mut owner = text_client_from(&server, "127.0.0.2").await;
    mallory
        .expect(&format!("-- {} joined #lobby", owner.nick))
        .await;
    let guest = owner.nick.clone();
    owner.send("/login alice alice-password").await;
    owner
        .expect(&format!("-- {guest} is now known as alice"))
        .await;
    owner.expect("-- you are now logged in as alice").await;
    mallory
        .expect(&format!("-- {guest} is now known as alice"))
        .await;
    mallory.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_refused_after_ten_failures_across_accounts() {
    let server = TestServer::start().await;
    register_account(&server, "bob", "bob-password").await;
    let mut sprayer = server.client().await;
    let first_failure = Instant::now();
    for number in 0..10 {
        sprayer
            .send(&format!("/login user{number} wrong-password"))
            .await;
        sprayer.expect("! wrong account name or password").await;
    }
    // No failure for bob from here, but the address has used up its own.
    sprayer.send("/login bob bob-password").await;
    let refusal = sprayer.line().await;
    assert_wait(
        &refusal,
        "! too many failed logins; try again in ",
        " seconds",
        first_failure,
    );
    // Bob, from elsewhere, is not affected.
    let mut bob = text_client_from(&server, "127.0.0.2").await;
    sprayer
        .expect(&format!("-- {} joined #lobby", bob.nick))
        .await;
    bob.send("/login bob bob-password").await;
    bob.skip_until("-- you are now logged in as bob").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_logins_over_irc_sasl_and_nickserv() {
    let server = TestServer::start().await;
    let mut bob = text_account(&server, "bob", "bob-password").await;
    logout_on_own_nick(&mut bob).await;

    let first_failure = Instant::now();
    for _ in 0..5 {
        bob.send("/login bob wrong-password").await;
        bob.expect("! wrong account name or password").await;
    }

    let mut ivan = server.irc("ivan").await;
    authenticate_plain(&mut ivan, &sasl_plain("bob", "bob-password")).await;
    let refusal = ivan.line().await;
    assert_wait(
        &refusal,
        &format!(":{SERVER} 904 ivan :SASL authentication failed: try again in "),
        " seconds",
        first_failure,
    );
    ivan.send("PRIVMSG NickServ :IDENTIFY bob bob-password")
        .await;
    let refusal = ivan.line().await;
    assert_wait(
        &refusal,
        &format!(
            ":NickServ!services@{SERVER} NOTICE ivan :Login failed: too many failed logins; \
             try again in "
        ),
        " seconds.",
        first_failure,
    );
    ivan.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// IRC SASL
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plain_during_registration_logs_in_to_an_account_registered_over_text() {
    let server = TestServer::start().await;
    let mut tina = text_account(&server, "tina", "tina-password").await;
    tina.send("/quit").await;
    tina.expect("-- goodbye").await;
    tina.expect_closed().await;

    let mut irc = IrcClient::connect(server.irc_address).await;
    irc.nick = "tina".into();
    irc.send("CAP LS 302").await;
    irc.expect_raw(&format!(":{SERVER} CAP * LS :{ALL_CAPS_302}"))
        .await;
    irc.send("NICK tina").await;
    irc.send("USER tina 0 * :tina real name").await;
    irc.send("CAP REQ :sasl").await;
    irc.expect_raw(&format!(":{SERVER} CAP tina ACK sasl"))
        .await;
    irc.send("AUTHENTICATE PLAIN").await;
    irc.expect_raw("AUTHENTICATE +").await;
    irc.send(&format!(
        "AUTHENTICATE {}",
        sasl_plain("tina", "tina-password")
    ))
    .await;
    // Before registration the mask has no user name yet.
    irc.expect_raw(&logged_in_line("tina", "tina!*@127.0.0.1", "tina"))
        .await;
    irc.expect_raw(&sasl_success_line("tina")).await;
    irc.expect_quiet().await;
    irc.send("CAP END").await;
    irc.expect_raw(&format!(
        ":{SERVER} 001 tina :Welcome to the palaver IRC Network tina!~tina@127.0.0.1"
    ))
    .await;
    irc.skip_until(|m| m.command == "376" || m.command == "422")
        .await;

    // Reauthentication (sasl-3.2): a failure keeps the login, a success moves to the new
    // account, with no 901 in between.
    authenticate_plain(&mut irc, &sasl_plain("tina", "wrong-password")).await;
    irc.expect_raw(&sasl_fail_line("tina")).await;
    irc.send("WHOIS tina").await;
    irc.skip_until(|m| m.command == "330" && m.params[2] == "tina")
        .await;
    irc.skip_until(|m| m.command == "318").await;
    let _other = text_account(&server, "other", "other-password").await;
    authenticate_plain(&mut irc, &sasl_plain("other", "other-password")).await;
    irc.expect_raw(&logged_in_line("tina", &irc_mask("tina"), "other"))
        .await;
    irc.expect_raw(&sasl_success_line("tina")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plain_after_registration_and_account_notify() {
    let server = TestServer::start().await;
    let mut bob = text_account(&server, "bob", "bob-password").await;
    bob.send("/quit").await;
    bob.expect("-- goodbye").await;
    bob.expect_closed().await;

    let mut watcher = server.irc_with_caps("wendy", &["account-notify"]).await;
    let mut plain_peer = server.irc("pete").await;
    let mut robert = server.irc("robert").await;
    join_all("#a", &mut [&mut watcher, &mut plain_peer, &mut robert]).await;

    // The authorization identity may repeat the account name.
    let payload = BASE64.encode("bob\0bob\0bob-password");
    authenticate_plain(&mut robert, &payload).await;
    robert
        .expect_raw(&logged_in_line("robert", &irc_mask("robert"), "bob"))
        .await;
    robert.expect_raw(&sasl_success_line("robert")).await;
    // No ACCOUNT line for oneself, nor for peers without account-notify.
    robert.expect_quiet().await;
    watcher
        .expect_raw(&format!(":{} ACCOUNT bob", irc_mask("robert")))
        .await;
    plain_peer.expect_quiet().await;
    watcher.expect_quiet().await;

    // Reauthenticating as another account tells account-notify peers of the new account.
    let _carl = text_account(&server, "carl", "carl-password").await;
    authenticate_plain(&mut robert, &sasl_plain("carl", "carl-password")).await;
    robert
        .expect_raw(&logged_in_line("robert", &irc_mask("robert"), "carl"))
        .await;
    robert.expect_raw(&sasl_success_line("robert")).await;
    watcher
        .expect_raw(&format!(":{} ACCOUNT carl", irc_mask("robert")))
        .await;
    plain_peer.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_failures_and_aborts() {
    let server = TestServer::start().await;
    let _carol = text_account(&server, "carol", "carol-password").await;
    let mut eve = server.irc("eve").await;

    // Wrong password and unknown account: the same 904.
    authenticate_plain(&mut eve, &sasl_plain("carol", "wrong-password")).await;
    eve.expect_raw(&sasl_fail_line("eve")).await;
    authenticate_plain(&mut eve, &sasl_plain("nobody", "carol-password")).await;
    eve.expect_raw(&sasl_fail_line("eve")).await;
    // Not base64, and an authorization identity other than the account.
    authenticate_plain(&mut eve, "not*base64!").await;
    eve.expect_raw(&sasl_fail_line("eve")).await;
    authenticate_plain(&mut eve, &BASE64.encode("dave\0carol\0carol-password")).await;
    eve.expect_raw(&sasl_fail_line("eve")).await;

    // Another mechanism: the list, then 904.
    eve.send("AUTHENTICATE EXTERNAL").await;
    eve.expect_raw(&format!(
        ":{SERVER} 908 eve PLAIN,SCRAM-SHA-256 :are available SASL mechanisms"
    ))
    .await;
    eve.expect_raw(&sasl_fail_line("eve")).await;

    // Aborted in the middle of the exchange.
    eve.send("AUTHENTICATE PLAIN").await;
    eve.expect_raw("AUTHENTICATE +").await;
    eve.send("AUTHENTICATE *").await;
    eve.expect_raw(&format!(":{SERVER} 906 eve :SASL authentication aborted"))
        .await;

    // More base64 than the longest valid exchange (two 30-byte names and a 1024-byte
    // password: 1448 bytes) in 400-byte chunks: nothing until the limit, then 904.
    eve.send("AUTHENTICATE PLAIN").await;
    eve.expect_raw("AUTHENTICATE +").await;
    let chunk = "A".repeat(400);
    for _ in 0..3 {
        eve.send(&format!("AUTHENTICATE {chunk}")).await;
    }
    eve.expect_quiet().await;
    eve.send(&format!("AUTHENTICATE {chunk}")).await;
    eve.expect_raw(&sasl_fail_line("eve")).await;

    // Each failure ended the exchange: a new one starts cleanly and succeeds.
    authenticate_plain(&mut eve, &sasl_plain("carol", "carol-password")).await;
    eve.expect_raw(&logged_in_line("eve", &irc_mask("eve"), "carol"))
        .await;
    eve.expect_raw(&sasl_success_line("eve")).await;
    // Nothing to abort: still 906, and the login stays.
    eve.send("AUTHENTICATE *").await;
    eve.expect_raw(&format!(":{SERVER} 906 eve :SASL authentication aborted"))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_payloads_in_several_chunks() {
    let server = TestServer::start().await;
    // A 300-byte password: `\0longpw\0` + 300 bytes is 308 bytes, 412 in base64.
    let long_password = "x".repeat(290) + "0123456789";
    let _long = text_account(&server, "longpw", &long_password).await;
    // `\0exact\0` + 293 bytes is 300 bytes, exactly 400 in base64: an empty `+` chunk ends it.
    let exact_password = "y".repeat(293);
    let _exact = text_account(&server, "exact", &exact_password).await;

    let mut first = server.irc("first").await;
    let payload = sasl_plain("longpw", &long_password);
    assert_eq!(payload.len(), 412);
    first.send("AUTHENTICATE PLAIN").await;
    first.expect_raw("AUTHENTICATE +").await;
    first
        .send(&format!("AUTHENTICATE {}", &payload[..400]))
        .await;
    first.expect_quiet().await;
    first
        .send(&format!("AUTHENTICATE {}", &payload[400..]))
        .await;
    first
        .expect_raw(&logged_in_line("first", &irc_mask("first"), "longpw"))
        .await;
    first.expect_raw(&sasl_success_line("first")).await;

    let mut second = server.irc("second").await;
    let payload = sasl_plain("exact", &exact_password);
    assert_eq!(payload.len(), 400);
    second.send("AUTHENTICATE PLAIN").await;
    second.expect_raw("AUTHENTICATE +").await;
    second.send(&format!("AUTHENTICATE {payload}")).await;
    second.expect_quiet().await;
    second.send("AUTHENTICATE +").await;
    second
        .expect_raw(&logged_in_line("second", &irc_mask("second"), "exact"))
        .await;
    second.expect_raw(&sasl_success_line("second")).await;
    server.shut_down().await;
}

/// The longest passwords travel whole: registered over the text protocol, used over SASL
/// in two full 400-byte chunks and an empty `+` one (IRCv3 sasl-3.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_passwords_register_over_text_and_log_in_over_sasl() {
    let server = TestServer::start().await;
    // `foo\0foo\0` + 592 bytes is 600 bytes, exactly 800 in base64.
    let password = "x".repeat(592);
    register_account(&server, "foo", &password).await;
    let mut client = server.irc("client").await;
    let payload = BASE64.encode(format!("foo\0foo\0{password}"));
    assert_eq!(payload.len(), 800);
    client.send("AUTHENTICATE PLAIN").await;
    client.expect_raw("AUTHENTICATE +").await;
    client
        .send(&format!("AUTHENTICATE {}", &payload[..400]))
        .await;
    client
        .send(&format!("AUTHENTICATE {}", &payload[400..]))
        .await;
    client.expect_quiet().await;
    client.send("AUTHENTICATE +").await;
    client
        .expect_raw(&logged_in_line("client", &irc_mask("client"), "foo"))
        .await;
    client.expect_raw(&sasl_success_line("client")).await;

    // The longest password is 1024 bytes, whatever the configuration.
    let longest = "y".repeat(1024);
    register_account(&server, "longest", &longest).await;
    let mut text = Client::named(server.address, "toolong").await;
    text.send(&format!("/register {longest}y")).await;
    text.expect(&format!("! {BAD_PASSWORD_TEXT}")).await;
    server.shut_down().await;
}

/// `[accounts] min_password_bytes` lowers (or raises) the shortest password; refusals name
/// the configured bounds, in both protocols.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shortest_password_is_configurable() {
    let server =
        TestServer::start_with_config("[accounts]\nmin_password_bytes = 3\n", Overrides::default())
            .await;
    let refusal = "a password must be 3 to 1024 bytes and not contain spaces";
    let mut bob = Client::named(server.address, "bob").await;
    bob.send("/register ab").await;
    bob.expect(&format!("! {refusal}")).await;
    bob.send("/register bar").await;
    bob.expect("-- account bob registered; you are logged in")
        .await;

    let mut carol = server.irc("carol").await;
    carol.send("REGISTER * * no").await;
    carol
        .expect_raw(&format!(
            ":{SERVER} FAIL REGISTER UNACCEPTABLE_PASSWORD carol :{refusal}"
        ))
        .await;
    carol.send("REGISTER * * pin").await;
    carol
        .expect_raw(&logged_in_line("carol", &irc_mask("carol"), "carol"))
        .await;
    carol
        .expect_raw(&format!(
            ":{SERVER} REGISTER SUCCESS carol :Account carol registered"
        ))
        .await;
    server.shut_down().await;
}

/// IRCv3 sasl-3.1 and modern.ircdocs.horse: 905 is for an `AUTHENTICATE` whose parameter is
/// longer than 400 bytes, whatever it holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_chunk_longer_than_400_bytes_is_too_long() {
    let server = TestServer::start().await;
    let password = "z".repeat(296);
    let _zed = text_account(&server, "zed", &password).await;
    let mut client = server.irc("client").await;
    // `\0zed\0` + 296 bytes = 301 bytes, 404 bytes of base64 in one parameter.
    let payload = sasl_plain("zed", &password);
    assert_eq!(payload.len(), 404);
    authenticate_plain(&mut client, &payload).await;
    client
        .expect_raw(&format!(":{SERVER} 905 client :SASL message too long"))
        .await;
    client.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// IRC REGISTER and NickServ
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_command_with_standard_replies() {
    let server = TestServer::start().await;
    let mut rita = server
        .irc_with_caps("rita", &["standard-replies", "draft/account-registration"])
        .await;

    rita.send("REGISTER * *").await;
    rita.expect_raw(&format!(
        ":{SERVER} FAIL REGISTER INVALID_PARAMS :Not enough parameters"
    ))
    .await;
    rita.send("REGISTER * * short").await;
    rita.expect_raw(&format!(
        ":{SERVER} FAIL REGISTER UNACCEPTABLE_PASSWORD rita :{BAD_PASSWORD_TEXT}"
    ))
    .await;
    rita.send("REGISTER * * :two words").await;
    rita.expect_raw(&format!(
        ":{SERVER} FAIL REGISTER UNACCEPTABLE_PASSWORD rita :{BAD_PASSWORD_TEXT}"
    ))
    .await;

    rita.send("REGISTER * rita@example.com rita-password").await;
    rita.expect_raw(&logged_in_line("rita", &irc_mask("rita"), "rita"))
        .await;
    rita.expect_raw(&format!(
        ":{SERVER} REGISTER SUCCESS rita :Account rita registered"
    ))
    .await;
    rita.send("REGISTER * * rita-password2").await;
    rita.expect_raw(&format!(
        ":{SERVER} FAIL REGISTER ALREADY_AUTHENTICATED rita :You are already logged in"
    ))
    .await;
    rita.send("QUIT").await;
    rita.expect_closed().await;

    // The account exists now: the next user of the nick cannot register it, in any case.
    let mut again = server.irc_with_caps("RITA", &["standard-replies"]).await;
    again.expect_raw(&irc_nick_warning("RITA")).await;
    again.send("REGISTER rita * rita-password").await;
    again
        .expect_raw(&format!(
            ":{SERVER} FAIL REGISTER ACCOUNT_EXISTS rita :account rita is already registered"
        ))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_command_for_another_name_is_refused() {
    let server = TestServer::start().await;
    let mut rita = server.irc_with_caps("rita", &["standard-replies"]).await;
    rita.send("REGISTER other * other-password").await;
    let fail = rita.message().await;
    assert_eq!(fail.command, "FAIL", "{fail:?}");
    // The IRCv3 draft's code for exactly this case.
    assert_eq!(
        fail.params[..3],
        ["REGISTER", "ACCOUNT_NAME_MUST_BE_NICK", "other"],
        "{fail:?}"
    );
    assert_eq!(
        fail.params[3], "You can only register your current nick",
        "{fail:?}"
    );
    // Nothing was registered.
    rita.send("REGISTER * * rita-password").await;
    rita.expect_raw(&logged_in_line("rita", &irc_mask("rita"), "rita"))
        .await;
    rita.expect_raw(&format!(
        ":{SERVER} REGISTER SUCCESS rita :Account rita registered"
    ))
    .await;
    server.shut_down().await;
}

/// `FAIL REGISTER` is defined by draft/account-registration itself, so it is sent without
/// `standard-replies` too (that capability is for replies no specification enables).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_command_fails_with_fail_even_without_standard_replies() {
    let server = TestServer::start().await;
    let mut sam = server.irc("sam").await;
    sam.send("REGISTER other * other-password").await;
    sam.expect_raw(&format!(
        ":{SERVER} FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK other :You can only register your \
         current nick"
    ))
    .await;
    sam.send("REGISTER * * short").await;
    sam.expect_raw(&format!(
        ":{SERVER} FAIL REGISTER UNACCEPTABLE_PASSWORD sam :{BAD_PASSWORD_TEXT}"
    ))
    .await;
    sam.send("REGISTER sam * sam-password").await;
    sam.expect_raw(&logged_in_line("sam", &irc_mask("sam"), "sam"))
        .await;
    sam.expect_raw(&format!(
        ":{SERVER} REGISTER SUCCESS sam :Account sam registered"
    ))
    .await;
    sam.send("REGISTER * * sam-password").await;
    sam.expect_raw(&format!(
        ":{SERVER} FAIL REGISTER ALREADY_AUTHENTICATED sam :You are already logged in"
    ))
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nickserv_register_identify_and_help() {
    let server = TestServer::start().await;
    let mut nina = server.irc("nina").await;

    nina.send("PRIVMSG NickServ :HELP").await;
    let help = nickserv_line(
        "nina",
        "Commands: REGISTER <password> [email], IDENTIFY [account] <password>, REGAIN <nick> \
         [password], GHOST <nick> [password], RELEASE <nick> [password], SET PASSWORD <old> \
         <new>, CERT ADD [fingerprint], CERT DEL <fingerprint>, CERT LIST.",
    );
    nina.expect_raw(&help).await;
    nina.send("PRIVMSG nickserv :what is this").await;
    nina.expect_raw(&help).await;
    nina.send("PRIVMSG NickServ :REGISTER short").await;
    nina.expect_raw(&nickserv_line(
        "nina",
        &format!("Registration failed: {BAD_PASSWORD_TEXT}."),
    ))
    .await;
    nina.send("PRIVMSG NickServ :REGISTER nina-password").await;
    nina.expect_raw(&logged_in_line("nina", &irc_mask("nina"), "nina"))
        .await;
    nina.expect_raw(&nickserv_line(
        "nina",
        "Account nina registered; you are logged in.",
    ))
    .await;
    nina.send("PRIVMSG NickServ :REGISTER nina-password").await;
    nina.expect_raw(&nickserv_line("nina", "You are already logged in."))
        .await;

    // IDENTIFY with an account name, from another nick.
    let mut olga = server.irc("olga").await;
    olga.send("PRIVMSG NickServ :IDENTIFY nina wrong-password")
        .await;
    olga.expect_raw(&nickserv_line(
        "olga",
        "Login failed: wrong account name or password.",
    ))
    .await;
    olga.send("PRIVMSG NickServ :identify nina nina-password")
        .await;
    olga.expect_raw(&logged_in_line("olga", &irc_mask("olga"), "nina"))
        .await;
    olga.expect_raw(&nickserv_line("olga", "You are now identified for nina."))
        .await;

    // IDENTIFY with only a password names the current nick.
    nina.send("QUIT").await;
    nina.expect_closed().await;
    let mut nina = server.irc("nina").await;
    nina.expect_raw(&irc_nick_warning("nina")).await;
    nina.send("PRIVMSG NickServ :IDENTIFY nina-password").await;
    nina.expect_raw(&logged_in_line("nina", &irc_mask("nina"), "nina"))
        .await;
    nina.expect_raw(&nickserv_line("nina", "You are now identified for nina."))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_to_nickserv_are_never_relayed_or_stored() {
    let server = TestServer::start().await;
    let mut nina = server
        .irc_with_caps("nina", &["echo-message", "draft/chathistory", "batch"])
        .await;
    let mut peer = server.irc("peer").await;
    join_all("#a", &mut [&mut nina, &mut peer]).await;
    let mut text_user = Client::named(server.address, "texter").await;

    // No echo even with echo-message; the other target of the same PRIVMSG gets its copy.
    nina.send("PRIVMSG NickServ,#a :REGISTER nina-password")
        .await;
    // The channel's echo is queued by the handler, the account's answers after it.
    nina.expect_raw(&format!(
        ":{} PRIVMSG #a :REGISTER nina-password",
        irc_mask("nina")
    ))
    .await;
    nina.expect_raw(&logged_in_line("nina", &irc_mask("nina"), "nina"))
        .await;
    nina.expect_raw(&nickserv_line(
        "nina",
        "Account nina registered; you are logged in.",
    ))
    .await;
    nina.expect_quiet().await;
    peer.expect_raw(&format!(
        ":{} PRIVMSG #a :REGISTER nina-password",
        irc_mask("nina")
    ))
    .await;
    peer.expect_quiet().await;
    text_user.expect_quiet().await;

    // Already logged in since REGISTER: IDENTIFY says so instead of logging in again.
    nina.send("PRIVMSG NickServ :IDENTIFY nina nina-password")
        .await;
    nina.expect_raw(&nickserv_line("nina", "You are already logged in as nina."))
        .await;
    nina.expect_quiet().await;

    // Nothing stored for the conversation with NickServ.
    nina.send("CHATHISTORY LATEST NickServ * 10").await;
    nina.expect_raw(&format!(":{SERVER} BATCH +H1 chathistory NickServ"))
        .await;
    nina.expect_raw(&format!(":{SERVER} BATCH -H1")).await;
    nina.send(
        "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z \
         timestamp=2200-01-01T00:00:00.000Z 10",
    )
    .await;
    nina.expect_raw(&format!(":{SERVER} BATCH +H2 draft/chathistory-targets"))
        .await;
    let target = nina.message().await;
    assert_eq!(target.command, "CHATHISTORY", "{target:?}");
    assert_eq!(target.params[..2], ["TARGETS", "#a"], "{target:?}");
    nina.expect_raw(&format!(":{SERVER} BATCH -H2")).await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Accounts across protocols and as others see them
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_registered_over_irc_logs_in_over_text() {
    let server = TestServer::start().await;
    let mut ray = server.irc("ray").await;
    ray.send("REGISTER * * ray-password").await;
    ray.expect_raw(&logged_in_line("ray", &irc_mask("ray"), "ray"))
        .await;
    ray.expect_raw(&format!(
        ":{SERVER} REGISTER SUCCESS ray :Account ray registered"
    ))
    .await;

    // The nick is in use on IRC: the text session logs in and keeps its nick.
    let mut first = server.client().await;
    first.send("/login ray wrong-password").await;
    first.expect("! wrong account name or password").await;
    first.send("/login ray ray-password").await;
    first.expect("-- you are now logged in as ray").await;
    first.send("/register another-password").await;
    first.expect("! you are already logged in as ray").await;

    ray.send("QUIT").await;
    ray.expect_closed().await;
    let mut second = server.client().await;
    let second_nick = second.nick.clone();
    first
        .expect(&format!("-- {second_nick} joined #lobby"))
        .await;
    second.send("/login RAY ray-password").await;
    second
        .expect(&format!("-- {second_nick} is now known as ray"))
        .await;
    second.expect("-- you are now logged in as ray").await;
    first
        .expect(&format!("-- {second_nick} is now known as ray"))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_notify_for_text_register_login_and_logout() {
    let server = TestServer::start().await;
    let mut tina = text_account(&server, "tina", "tina-password").await;
    tina.send("/quit").await;
    tina.expect("-- goodbye").await;
    tina.expect_closed().await;

    let mut watcher = server.irc_with_caps("wendy", &["account-notify"]).await;
    let mut plain_peer = server.irc("pete").await;
    join_all("#lobby", &mut [&mut watcher, &mut plain_peer]).await;

    // A text guest logs in: ACCOUNT under its old nick, then its rename.
    let mut guest = server.client().await;
    let guest_nick = guest.nick.clone();
    let guest_mask = format!("{guest_nick}!text@127.0.0.1");
    watcher
        .expect_raw(&format!(":{guest_mask} JOIN #lobby"))
        .await;
    plain_peer
        .expect_raw(&format!(":{guest_mask} JOIN #lobby"))
        .await;
    guest.send("/login tina tina-password").await;
    guest
        .expect(&format!("-- {guest_nick} is now known as tina"))
        .await;
    guest.expect("-- you are now logged in as tina").await;
    watcher
        .expect_raw(&format!(":{guest_mask} ACCOUNT tina"))
        .await;
    watcher
        .expect_raw(&format!(":{guest_mask} NICK tina"))
        .await;
    plain_peer
        .expect_raw(&format!(":{guest_mask} NICK tina"))
        .await;

    guest.nick = "tina".into();
    logout_on_own_nick(&mut guest).await;
    watcher.expect_raw(":tina!text@127.0.0.1 ACCOUNT *").await;

    // Registering over text logs in too.
    guest.rename("trudy").await;
    watcher.expect_raw(":tina!text@127.0.0.1 NICK trudy").await;
    plain_peer
        .expect_raw(":tina!text@127.0.0.1 NICK trudy")
        .await;
    guest.send("/register trudy-password").await;
    guest
        .expect("-- account trudy registered; you are logged in")
        .await;
    watcher
        .expect_raw(":trudy!text@127.0.0.1 ACCOUNT trudy")
        .await;
    watcher.expect_quiet().await;
    plain_peer.expect_quiet().await;
    guest.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_tag_marks_messages_and_joins_of_logged_in_users_for_cap_holders_only() {
    let server = TestServer::start().await;
    let _alice = text_account(&server, "alice", "alice-password").await;
    let mut bob = server.irc_with_caps("bob", &["account-tag"]).await;
    let mut carol = server.irc("carol").await;
    join_all("#a", &mut [&mut bob, &mut carol]).await;

    let mut alice = irc_sasl(&server, "alicia", "alice", "alice-password", &[]).await;
    alice.join("#a").await;
    bob.expect_raw(&format!("@account=alice :{} JOIN #a", irc_mask("alicia")))
        .await;
    carol
        .expect_raw(&format!(":{} JOIN #a", irc_mask("alicia")))
        .await;

    alice.send("PRIVMSG #a :hello there").await;
    bob.expect_raw(&format!(
        "@account=alice :{} PRIVMSG #a :hello there",
        irc_mask("alicia")
    ))
    .await;
    carol
        .expect_raw(&format!(":{} PRIVMSG #a :hello there", irc_mask("alicia")))
        .await;

    // Not logged in: no tag.
    carol.send("PRIVMSG #a :from carol").await;
    bob.expect_raw(&format!(":{} PRIVMSG #a :from carol", irc_mask("carol")))
        .await;
    alice
        .expect_raw(&format!(":{} PRIVMSG #a :from carol", irc_mask("carol")))
        .await;
    bob.expect_quiet().await;
    carol.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_join_shows_the_account() {
    let server = TestServer::start().await;
    register_account(&server, "alice", "alice-password").await;
    let mut eve = server.irc_with_caps("eve", &["extended-join"]).await;
    eve.send("JOIN #x").await;
    eve.expect_raw(&format!(":{} JOIN #x * :eve real name", irc_mask("eve")))
        .await;
    eve.skip_until(|m| m.command == "366").await;

    let mut alice = irc_sasl(
        &server,
        "alice",
        "alice",
        "alice-password",
        &["extended-join"],
    )
    .await;
    alice.send("JOIN #x").await;
    alice
        .expect_raw(&format!(
            ":{} JOIN #x alice :alice real name",
            irc_mask("alice")
        ))
        .await;
    alice.skip_until(|m| m.command == "366").await;
    eve.expect_raw(&format!(
        ":{} JOIN #x alice :alice real name",
        irc_mask("alice")
    ))
    .await;

    let mut carol = server.irc("carol").await;
    carol.join("#x").await;
    eve.expect_raw(&format!(
        ":{} JOIN #x * :carol real name",
        irc_mask("carol")
    ))
    .await;
    alice
        .expect_raw(&format!(
            ":{} JOIN #x * :carol real name",
            irc_mask("carol")
        ))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_keeps_the_senders_account() {
    let server = TestServer::start().await;
    let mut tina = text_account(&server, "tina", "tina-password").await;
    let mut alice = server.irc("alice").await;
    alice.send("REGISTER * * alice-password").await;
    alice
        .expect_raw(&logged_in_line("alice", &irc_mask("alice"), "alice"))
        .await;
    alice
        .expect_raw(&format!(
            ":{SERVER} REGISTER SUCCESS alice :Account alice registered"
        ))
        .await;
    let mut carol = server.irc("carol").await;
    join_all("#lobby", &mut [&mut alice, &mut carol]).await;
    tina.expect("-- alice joined #lobby").await;
    tina.expect("-- carol joined #lobby").await;

    alice.send("PRIVMSG #lobby :from alice").await;
    alice.sync().await;
    carol.send("PRIVMSG #lobby :from carol").await;
    carol.sync().await;
    tina.expect("#lobby <alice> from alice").await;
    tina.expect("#lobby <carol> from carol").await;
    tina.send("from tina").await;
    tina.expect("#lobby <tina> from tina").await;
    // Logged out now, but the message keeps the account it was sent with.
    logout_on_own_nick(&mut tina).await;

    let mut reader = server
        .irc_with_caps("reader", &["draft/chathistory", "batch", "account-tag"])
        .await;
    reader.join("#lobby").await;
    reader.send("CHATHISTORY LATEST #lobby * 10").await;
    reader
        .expect_raw(&format!(":{SERVER} BATCH +H1 chathistory #lobby"))
        .await;
    reader
        .expect_raw(&format!(
            "@batch=H1;account=alice :{} PRIVMSG #lobby :from alice",
            irc_mask("alice")
        ))
        .await;
    reader
        .expect_raw(&format!(
            "@batch=H1 :{} PRIVMSG #lobby :from carol",
            irc_mask("carol")
        ))
        .await;
    reader
        .expect_raw("@batch=H1;account=tina :tina!text@127.0.0.1 PRIVMSG #lobby :from tina")
        .await;
    reader.expect_raw(&format!(":{SERVER} BATCH -H1")).await;

    // Without account-tag, no account in history either.
    let mut plain_reader = server
        .irc_with_caps("plainrdr", &["draft/chathistory"])
        .await;
    plain_reader.join("#lobby").await;
    plain_reader.send("CHATHISTORY LATEST #lobby * 1").await;
    plain_reader
        .expect_raw(":tina!text@127.0.0.1 PRIVMSG #lobby :from tina")
        .await;
    plain_reader.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Registered-nick protection
// ---------------------------------------------------------------------------------------------

/// `guest-N`, the nick protection renames to; returns it after checking its shape.
fn assert_guest_nick(nick: &str) -> String {
    let number = nick
        .strip_prefix("guest-")
        .unwrap_or_else(|| panic!("{nick:?} is not a guest nick"));
    assert!(
        !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
        "{nick:?} is not a guest nick"
    );
    nick.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_nicks_are_taken_back_after_the_grace_period() {
    let server =
        TestServer::start_with_config("[accounts]\nnick_grace = \"2s\"\n", Overrides::default())
            .await;
    register_account(&server, "alice", "alice-password").await;
    register_account(&server, "bob", "bob-password").await;
    let warning = |nick: &str| {
        nickserv_line(
            nick,
            "This nick is registered. Log in within 2 seconds (SASL, or /msg NickServ IDENTIFY \
             <password>) or you will be renamed.",
        )
    };

    // Warned on registration; logging in in time keeps the nick.
    let mut keeper = server.irc("alice").await;
    keeper.expect_raw(&warning("alice")).await;
    keeper
        .send("PRIVMSG NickServ :IDENTIFY alice-password")
        .await;
    keeper
        .expect_raw(&logged_in_line("alice", &irc_mask("alice"), "alice"))
        .await;
    keeper
        .expect_raw(&nickserv_line("alice", "You are now identified for alice."))
        .await;

    // Not logging in: renamed once the grace period is over.
    let mut squatter = server.irc("bob").await;
    squatter.expect_raw(&warning("bob")).await;
    let renamed = squatter.message().await;
    assert_eq!(renamed.source.as_deref(), Some(irc_mask("bob").as_str()));
    assert_eq!(renamed.command, "NICK", "{renamed:?}");
    let guest = assert_guest_nick(&renamed.params[0]);
    squatter
        .expect_raw(&nickserv_line(
            &guest,
            "You were renamed: bob belongs to a registered account.",
        ))
        .await;
    // The keeper's deadline passed before the squatter's: it kept its nick.
    keeper.expect_quiet().await;

    // A text user logging out while on the account's nick is renamed too.
    let mut carol = text_account(&server, "carol", "carol-password").await;
    carol.send("/logout").await;
    carol.expect("-- you are now logged out").await;
    carol
        .expect(
            "-- nick carol is registered; log in with /login carol PASSWORD within 2 seconds or \
             you will be renamed",
        )
        .await;
    let renamed = carol.line().await;
    let guest = renamed
        .strip_prefix("-- carol is now known as ")
        .unwrap_or_else(|| panic!("expected a rename, got {renamed:?}"));
    assert_guest_nick(guest);
    carol
        .expect("-- you were renamed: carol belongs to a registered account")
        .await;
    server.shut_down().await;
}

/// Only the server speaks as NickServ (`NickServ!services@palaver.local`), so nobody may take
/// the nick: its holder could pose as services, and a text user's
/// `/msg NickServ IDENTIFY <password>` would reach it (and be stored as a private message).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_irc_user_cannot_take_the_nick_nickserv() {
    let server = TestServer::start().await;
    let mut squatter = IrcClient::connect(server.irc_address).await;
    squatter.send("NICK NickServ").await;
    squatter.send("USER squatter 0 * :squatter").await;
    let reply = squatter.message().await;
    assert!(
        reply.command == "432" || reply.command == "433",
        "NICK NickServ was accepted: {reply:?}"
    );
    assert_eq!(reply.params[1], "NickServ", "{reply:?}");
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_user_cannot_take_the_nick_nickserv() {
    let server = TestServer::start().await;
    let mut squatter = server.client().await;
    squatter.send("/nick nickserv").await;
    let reply = squatter.line().await;
    assert!(
        reply.starts_with("! ") && reply.contains("nickserv"),
        "/nick nickserv was accepted: {reply:?}"
    );
    server.shut_down().await;
}
