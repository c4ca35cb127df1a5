//! SASL SCRAM-SHA-256 (RFC 5802, RFC 7677) over real sockets: a login before and after
//! connection registration, a wrong password, an unknown account and an aborted exchange.
//! (An account registered before SCRAM credentials were kept is a unit test in
//! `accounts/tests.rs`: it needs a database written by an older palaver.)

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use palaver_server::accounts::scram;
use support::{IrcClient, SERVER, TestServer, create_account, logged_in_line};

const CLIENT_FIRST_BARE: &str = "r=fyko+d2lbbFgONRv9qkxdawL";

/// Sends `text` base64-encoded in one `AUTHENTICATE`.
async fn send_sasl(client: &mut IrcClient, text: &str) {
    let encoded = BASE64.encode(text);
    client.send(&format!("AUTHENTICATE {encoded}")).await;
}

/// Reads an `AUTHENTICATE <base64>` challenge and decodes it.
async fn challenge(client: &mut IrcClient) -> String {
    let message = client.expect_command("AUTHENTICATE").await;
    let decoded = BASE64.decode(&message.params[0]).expect("base64 challenge");
    String::from_utf8(decoded).expect("UTF-8 challenge")
}

/// Runs `AUTHENTICATE SCRAM-SHA-256` up to the server's first message as `user`; returns the
/// client's first message without its header and the server's first message.
async fn start(client: &mut IrcClient, user: &str) -> (String, String) {
    client.send("AUTHENTICATE SCRAM-SHA-256").await;
    client.expect_raw("AUTHENTICATE +").await;
    let bare = format!("n={user},{CLIENT_FIRST_BARE}");
    send_sasl(client, &format!("n,,{bare}")).await;
    let server_first = challenge(client).await;
    (bare, server_first)
}

/// A whole SCRAM login as `user` with `password`, checking that the server proves it knows
/// the account's credentials, up to the `903`.
async fn scram_login(client: &mut IrcClient, mask: &str, user: &str, password: &str) {
    let (bare, server_first) = start(client, user).await;
    assert!(server_first.ends_with(",i=4096"), "{server_first}");
    let (client_final, expected_server_final) =
        scram::client_final(password, &bare, &server_first).expect("server-first");
    send_sasl(client, &client_final).await;
    assert_eq!(challenge(client).await, expected_server_final);
    client.send("AUTHENTICATE +").await;
    let nick = client.nick.clone();
    client.expect_raw(&logged_in_line(&nick, mask, user)).await;
    client
        .expect_raw(&format!(
            ":{SERVER} 903 {nick} :SASL authentication successful"
        ))
        .await;
}

fn sasl_failed(nick: &str) -> String {
    format!(":{SERVER} 904 {nick} :SASL authentication failed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha_256_logs_in_before_registration() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-password").await;
    let mut client = IrcClient::connect(server.irc_address).await;
    client.send("CAP LS 302").await;
    let ls = client.expect_command("CAP").await;
    assert!(
        ls.params[2]
            .split(' ')
            .any(|cap| cap == "sasl=PLAIN,SCRAM-SHA-256"),
        "{ls:?}"
    );
    client.send("CAP REQ sasl").await;
    client
        .expect_raw(&format!(":{SERVER} CAP * ACK sasl"))
        .await;
    client.send("NICK alice").await;
    client.send("USER alice 0 * :Alice").await;
    client.nick = "alice".into();
    scram_login(&mut client, "alice!*@127.0.0.1", "alice", "alice-password").await;
    client.send("CAP END").await;
    client.expect_command("001").await;
    client
        .skip_until(|m| m.command == "376" || m.command == "422")
        .await;
    // Logged in: NickServ does not warn about the registered nick.
    client.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha_256_after_registration_wrong_passwords_and_aborts() {
    let server = TestServer::start().await;
    create_account(&server, "bob", "bob-password").await;
    let mut client = server.irc_with_caps("carol", &["sasl"]).await;

    // A wrong password fails at the proof; so does an account that does not exist.
    for (user, password) in [("bob", "not-bobs-password"), ("nobody", "whatever")] {
        let (bare, server_first) = start(&mut client, user).await;
        let (client_final, _) = scram::client_final(password, &bare, &server_first).unwrap();
        send_sasl(&mut client, &client_final).await;
        client.expect_raw(&sasl_failed("carol")).await;
    }
    // Aborted after the server's first message.
    start(&mut client, "bob").await;
    client.send("AUTHENTICATE *").await;
    client
        .expect_raw(&format!(":{SERVER} 906 carol :SASL authentication aborted"))
        .await;
    // A client-first message asking for channel binding, which is not offered.
    client.send("AUTHENTICATE SCRAM-SHA-256").await;
    client.expect_raw("AUTHENTICATE +").await;
    send_sasl(&mut client, "p=tls-unique,,n=bob,r=abc").await;
    client.expect_raw(&sasl_failed("carol")).await;
    // The server's proof must be acknowledged with an empty message.
    let (bare, server_first) = start(&mut client, "bob").await;
    let (client_final, _) = scram::client_final("bob-password", &bare, &server_first).unwrap();
    send_sasl(&mut client, &client_final).await;
    challenge(&mut client).await;
    send_sasl(&mut client, "something").await;
    client.expect_raw(&sasl_failed("carol")).await;

    scram_login(
        &mut client,
        &support::irc_mask("carol"),
        "bob",
        "bob-password",
    )
    .await;
    client.expect_quiet().await;
    server.shut_down().await;
}
