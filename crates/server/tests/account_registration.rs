//! IRCv3 `draft/account-registration` before connection registration completes
//! (`before-connect`): registering, the login it gives once connected, the nick it may name,
//! and turning it off (`[irc] register_before_connect`, or a server password).

mod support;

use palaver_server::config::Overrides;
use palaver_server::store::{Store, StoreConfig};
use support::{IrcClient, SERVER, TestServer, numeric};

/// Connects without registering, asks for `CAP LS 302` and returns the client and the value
/// `draft/account-registration` is offered with (`None` for none).
async fn offered_registration(server: &TestServer) -> (IrcClient, Option<String>) {
    let mut client = IrcClient::connect(server.irc_address).await;
    client.send("CAP LS 302").await;
    let ls = client.expect_command("CAP").await;
    let offered = ls.params.last().expect("capability list").clone();
    let value = offered
        .split(' ')
        .find(|cap| cap.starts_with("draft/account-registration"))
        .expect("draft/account-registration offered")
        .split_once('=')
        .map(|(_, value)| value.to_owned());
    client.send("CAP REQ draft/account-registration").await;
    client
        .expect_raw(&format!(":{SERVER} CAP * ACK draft/account-registration"))
        .await;
    (client, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_before_connecting_logs_in_once_connected() {
    let server = TestServer::start().await;
    let (mut early, value) = offered_registration(&server).await;
    assert_eq!(value.as_deref(), Some("before-connect"));
    // Before NICK there is no account to name.
    early.send("REGISTER * * early-password").await;
    early
        .expect_raw(&format!(
            ":{SERVER} FAIL REGISTER NEED_NICK * :Send NICK before registering an account"
        ))
        .await;
    early.send("NICK early").await;
    early.send("REGISTER * * early-password").await;
    early
        .expect_raw(&format!(
            ":{SERVER} 900 early early!*@127.0.0.1 early :You are now logged in as early"
        ))
        .await;
    early
        .expect_raw(&format!(
            ":{SERVER} REGISTER SUCCESS early :Account early registered"
        ))
        .await;
    early.nick = "early".into();
    early.send("USER early 0 * :Early Bird").await;
    early.send("CAP END").await;
    early.expect_command("001").await;
    early
        .skip_until(|m| m.command == "376" || m.command == "422")
        .await;
    // Logged in: no warning about using a registered nick, and WHOIS shows the account.
    early.send("WHOIS early").await;
    let logged_in_as = early.skip_until(|m| m.command == "330").await;
    assert_eq!(logged_in_as.params[1..3], ["early", "early"]);
    early.skip_until(|m| m.command == "318").await;
    early.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_before_connecting_cannot_take_a_nick_someone_holds() {
    let server = TestServer::start().await;
    let mut root = server.irc("root").await;
    let (mut grabber, _) = offered_registration(&server).await;
    grabber.send("NICK root").await;
    grabber
        .expect_raw(&numeric("433", "*", "root :Nickname is already in use"))
        .await;
    grabber.send("REGISTER * * grabber-password").await;
    grabber
        .expect_raw(&format!(
            ":{SERVER} FAIL REGISTER ACCOUNT_EXISTS root :That nick is in use by someone else"
        ))
        .await;
    grabber.send("REGISTER root * grabber-password").await;
    grabber
        .expect_raw(&format!(
            ":{SERVER} FAIL REGISTER ACCOUNT_EXISTS root :That nick is in use by someone else"
        ))
        .await;
    // Nothing was registered: root itself still may.
    root.send("REGISTER * * root-password").await;
    root.expect_command("900").await;
    root.expect_raw(&format!(
        ":{SERVER} REGISTER SUCCESS root :Account root registered"
    ))
    .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_before_connecting_can_be_turned_off() {
    let off = "[irc]\nregister_before_connect = false\n";
    let password = Overrides {
        irc_password: Some("sesame".into()),
        ..Overrides::default()
    };
    // Turned off, or ignored while a server password is set (registering before PASS would
    // use the server without its password).
    for (config, overrides) in [(off, Overrides::default()), ("", password)] {
        let server = TestServer::start_with_config(config, overrides).await;
        let (mut early, value) = offered_registration(&server).await;
        assert_eq!(value, None);
        early.send("NICK early").await;
        early.send("REGISTER * * early-password").await;
        early
            .expect_raw(&format!(
                ":{SERVER} FAIL REGISTER COMPLETE_CONNECTION_REQUIRED * :Finish connecting \
                 before registering an account"
            ))
            .await;
        early.expect_quiet().await;
        server.shut_down().await;
    }
}

/// `[accounts] require_email`: the capability says `email-required`, and every way of
/// registering (IRC `REGISTER`, NickServ, text `/register`) wants a plausible address, which
/// is kept with the account. Without the setting an address is optional but still checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_address_may_be_required_and_is_kept_with_the_account() {
    let directory = tempfile::tempdir().expect("temp dir");
    let path = directory.path().join("palaver.db").display().to_string();
    let overrides = Overrides {
        database: Some(path.clone()),
        ..Overrides::default()
    };
    let server =
        TestServer::start_with_config("[accounts]\nrequire_email = true\n", overrides).await;
    let required = "an email address is required to register (such as you@example.org)";

    let (mut early, value) = offered_registration(&server).await;
    assert_eq!(value.as_deref(), Some("before-connect,email-required"));
    early.send("NICK early").await;
    early.send("REGISTER * * early-password").await;
    early
        .expect_raw(&format!(
            ":{SERVER} FAIL REGISTER INVALID_EMAIL early :{required}"
        ))
        .await;
    early
        .send("REGISTER * early@localhost early-password")
        .await;
    early
        .expect_raw(&format!(
            ":{SERVER} FAIL REGISTER INVALID_EMAIL early :not an email address: early@localhost"
        ))
        .await;
    early
        .send("REGISTER * early@example.org early-password")
        .await;
    early.expect_command("900").await;
    early
        .expect_raw(&format!(
            ":{SERVER} REGISTER SUCCESS early :Account early registered"
        ))
        .await;

    let mut nina = server.irc("nina").await;
    nina.send("PRIVMSG NickServ :REGISTER nina-password").await;
    let refused = nina.expect_command("NOTICE").await;
    assert_eq!(
        refused.params[1],
        format!("Registration failed: {required}.")
    );
    nina.send("PRIVMSG NickServ :REGISTER nina-password nina@example.org")
        .await;
    nina.expect_command("900").await;

    let mut tom = server.client().await;
    tom.send("/nick tom").await;
    tom.expect("-- guest-1 is now known as tom").await;
    tom.send("/register tom-password").await;
    tom.expect(&format!("! {required}")).await;
    tom.send("/register tom-password tom@example.org").await;
    tom.expect("-- account tom registered; you are logged in")
        .await;
    server.shut_down().await;

    let store = Store::open(StoreConfig::new(path))
        .expect("reopen the database")
        .store;
    for (account, email) in [
        ("early", "early@example.org"),
        ("nina", "nina@example.org"),
        ("tom", "tom@example.org"),
    ] {
        let record = store
            .account(account)
            .await
            .expect("lookup")
            .expect(account);
        assert_eq!(record.email.as_deref(), Some(email));
    }
    store.shut_down().await.expect("shut down");

    // Optional by default: not offered as required, `*` is fine, a malformed one is not.
    let server = TestServer::start().await;
    let (mut early, value) = offered_registration(&server).await;
    assert_eq!(value.as_deref(), Some("before-connect"));
    early.send("NICK early").await;
    early.send("REGISTER * nobody early-password").await;
    early
        .expect_raw(&format!(
            ":{SERVER} FAIL REGISTER INVALID_EMAIL early :not an email address: nobody"
        ))
        .await;
    early.send("REGISTER * * early-password").await;
    early.expect_command("900").await;
    server.shut_down().await;
}
