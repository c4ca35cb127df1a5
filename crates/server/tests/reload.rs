//! Reloading the configuration while the server runs (`reload.rs`; `palaver serve` does it on
//! SIGHUP): the per-address limits and the operator entries change at once, what a
//! connection takes when it starts (the MOTD, flood control) changes for connections made
//! after the reload, and connections already open go on undisturbed.

mod support;

use palaver_server::accounts::hash_password;
use palaver_server::config::{AddressList, OperatorEntry, Overrides};
use support::{IrcClient, TestServer, numeric};

#[tokio::test]
async fn limits_operators_and_the_motd_change_on_reload() {
    let server =
        TestServer::start_with_config("[limits]\nexempt_addresses = []\n", Overrides::default())
            .await;
    let mut before = server.client().await;

    let mut new = server.config.clone();
    new.address_limits.connections_per_address = 2;
    new.irc.motd = Some(vec!["reloaded message of the day".into()]);
    new.operators = vec![OperatorEntry {
        name: "root".into(),
        password_hash: hash_password("correct-horse").unwrap(),
    }];
    let reloaded = server.reloader.reload(new);
    assert_eq!(reloaded.needs_restart, Vec::<&str>::new());
    assert_eq!(reloaded.refused, Vec::<String>::new());
    assert_eq!(
        reloaded.applied,
        [
            "[limits] per-address limits",
            "[[oper]] entries (1)",
            "[irc] (for connections made from now on)",
        ]
    );

    // A new connection sees the new MOTD and may OPER with the new entry.
    let mut client = IrcClient::connect(server.irc_address).await;
    client.nick = "newcomer".into();
    client.send("NICK newcomer").await;
    client.send("USER newcomer 0 * :newcomer").await;
    client
        .skip_until(|m| m.command == "372")
        .await
        .params
        .last()
        .filter(|text| text.ends_with("reloaded message of the day"))
        .expect("the new MOTD");
    client.skip_until(|m| m.command == "376").await;
    client.send("OPER root correct-horse").await;
    client
        .expect_line(&numeric("381", "newcomer", ":You are now an IRC operator"))
        .await;

    // Two connections from this address now: a third is refused.
    let mut third = IrcClient::connect(server.irc_address).await;
    let told = third.expect_closed().await;
    assert!(told[0].contains("at most 2 at once"), "{told:?}");
    // The connection from before the reload goes on.
    before.sync().await;
    server.shut_down().await;
}

#[tokio::test]
async fn flood_settings_apply_to_connections_made_after_the_reload() {
    // The tests' harness exempts loopback from flood control; the reload takes that away.
    let server = TestServer::start().await;
    let mut before = server.irc("before").await;
    before.join("#room").await;

    let mut new = server.config.clone();
    new.flood.exempt = AddressList::default();
    new.flood.burst = 5;
    new.flood.rate = 1.0;
    new.flood.recvq_bytes = 20 * 1024;
    let reloaded = server.reloader.reload(new);
    assert_eq!(
        reloaded.applied,
        ["[flood] (for connections made from now on)"]
    );

    let flood = format!("PRIVMSG #room :{}\r\n", "x".repeat(400)).repeat(200);
    let mut after = server.irc("after").await;
    let _ = after.try_send_raw(flood.as_bytes()).await;
    let told = after.expect_closed().await;
    assert!(
        told.last()
            .is_some_and(|line| line.ends_with("[Excess Flood]")),
        "{told:?}"
    );
    // The connection from before keeps its exemption: the same flood is all handled.
    before.send_raw(flood.as_bytes()).await;
    before.sync().await;
    server.shut_down().await;
}
