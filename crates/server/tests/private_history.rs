//! Who may read a private conversation, over real sockets: its two parties, each being the
//! account it was logged in to when a message was sent, or else its connection. Whoever holds
//! a nick later reads nothing of the conversations held under it.

mod support;

use support::{IrcClient, SERVER, TestServer, create_account, irc_sasl, nickserv_line};

/// What the history readers of these tests ask for: batches, and no tags to compare.
const CAPS: &[&str] = &["batch", "draft/chathistory"];

/// A TARGETS window that holds every message these tests send.
const ALL_TIME: &str = "timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z";

/// Sends `CHATHISTORY LATEST target * 50` and returns the batch's lines without their batch
/// tag.
async fn latest(client: &mut IrcClient, target: &str) -> Vec<String> {
    client
        .send(&format!("CHATHISTORY LATEST {target} * 50"))
        .await;
    let opening = client.line().await;
    let reference = opening
        .strip_prefix(&format!(":{SERVER} BATCH +"))
        .and_then(|rest| rest.strip_suffix(&format!(" chathistory {target}")))
        .unwrap_or_else(|| panic!("{}: expected a history batch, got {opening:?}", client.nick))
        .to_owned();
    batch_lines(client, &reference).await
}

/// Sends `CHATHISTORY TARGETS` over all time and returns the targets named.
async fn targets(client: &mut IrcClient) -> Vec<String> {
    client
        .send(&format!("CHATHISTORY TARGETS {ALL_TIME} 50"))
        .await;
    let opening = client.line().await;
    let reference = opening
        .strip_prefix(&format!(":{SERVER} BATCH +"))
        .and_then(|rest| rest.strip_suffix(" draft/chathistory-targets"))
        .unwrap_or_else(|| panic!("{}: expected a targets batch, got {opening:?}", client.nick))
        .to_owned();
    batch_lines(client, &reference)
        .await
        .iter()
        .map(|line| {
            let message = support::parse(line);
            assert_eq!(message.command, "CHATHISTORY", "{line:?}");
            message.params[1].clone()
        })
        .collect()
}

/// The lines of batch `reference` up to its end, each without its `batch` tag.
async fn batch_lines(client: &mut IrcClient, reference: &str) -> Vec<String> {
    let closing = format!(":{SERVER} BATCH -{reference}");
    let tag = format!("@batch={reference} ");
    let mut lines = Vec::new();
    loop {
        let line = client.line().await;
        if line == closing {
            return lines;
        }
        let untagged = line
            .strip_prefix(&tag)
            .unwrap_or_else(|| panic!("{line:?} is not in batch {reference}"));
        lines.push(untagged.to_owned());
    }
}

/// `from` sends `PRIVMSG to.nick :text`; `to` reads it. Returns the line as `to` got it.
async fn say(from: &mut IrcClient, to: &mut IrcClient, text: &str) -> String {
    from.send(&format!("PRIVMSG {} :{text}", to.nick)).await;
    let line = to.line().await;
    assert!(
        line.starts_with(&format!(":{}!", from.nick))
            && line.ends_with(&format!(" PRIVMSG {} :{text}", to.nick)),
        "{} got {line:?}",
        to.nick
    );
    line
}

/// Quits and waits for the connection to close.
async fn quit(mut client: IrcClient) {
    client.send("QUIT").await;
    client.expect_closed().await;
}

/// The owner's conversation used to be read by whoever held its nick: a squatter on `alice`
/// got her private messages through `CHATHISTORY TARGETS` and `LATEST`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squatter_on_the_owners_nick_cannot_read_its_private_messages() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-password").await;
    let mut alice = irc_sasl(&server, "alice", "alice", "alice-password", CAPS).await;
    let mut bob = server.irc_with_caps("bob", CAPS).await;
    let conversation = vec![
        say(&mut alice, &mut bob, "meet me at noon").await,
        say(&mut bob, &mut alice, "the usual place?").await,
    ];
    quit(alice).await;

    let mut squatter = server.irc_with_caps("alice", CAPS).await;
    squatter
        .expect_raw(&nickserv_line(
            "alice",
            "This nick is registered. Log in within 60 seconds (SASL, or /msg NickServ \
             IDENTIFY <password>) or you will be renamed.",
        ))
        .await;
    assert_eq!(targets(&mut squatter).await, Vec::<String>::new());
    assert_eq!(latest(&mut squatter, "bob").await, Vec::<String>::new());
    quit(squatter).await;

    // The account reads it from any new session; bob, from the connection he used.
    let mut owner = irc_sasl(&server, "alice", "alice", "alice-password", CAPS).await;
    assert_eq!(targets(&mut owner).await, ["bob"]);
    assert_eq!(latest(&mut owner, "bob").await, conversation);
    assert_eq!(latest(&mut bob, "alice").await, conversation);
    server.shut_down().await;
}

/// A guest's conversation belongs to the connection it had: a later connection under the
/// same nick reads nothing of it, while its logged-in partner keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guests_conversation_stays_with_its_connection() {
    let server = TestServer::start().await;
    create_account(&server, "bob", "bob-password").await;
    let mut bob = irc_sasl(&server, "bob", "bob", "bob-password", CAPS).await;
    let mut gus = server.irc_with_caps("gus", CAPS).await;
    let conversation = vec![
        say(&mut gus, &mut bob, "hello bob").await,
        say(&mut bob, &mut gus, "hello gus").await,
    ];
    // While connected, the guest reads it.
    assert_eq!(latest(&mut gus, "bob").await, conversation);
    assert_eq!(targets(&mut gus).await, ["bob"]);
    quit(gus).await;
    quit(bob).await;

    let mut gus = server.irc_with_caps("gus", CAPS).await;
    assert_eq!(latest(&mut gus, "bob").await, Vec::<String>::new());
    assert_eq!(targets(&mut gus).await, Vec::<String>::new());
    let mut bob = irc_sasl(&server, "bob", "bob", "bob-password", CAPS).await;
    assert_eq!(latest(&mut bob, "gus").await, conversation);
    gus.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_is_named_by_the_other_sides_nick_at_the_time() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-password").await;
    let mut alice = irc_sasl(&server, "alice", "alice", "alice-password", CAPS).await;
    let mut bob = server.irc_with_caps("bob", CAPS).await;
    let as_bob = say(&mut bob, &mut alice, "from bob").await;
    bob.send("NICK bob2").await;
    bob.expect_raw(":bob!~bob@127.0.0.1 NICK bob2").await;
    bob.nick = "bob2".into();
    let as_bob2 = say(&mut bob, &mut alice, "from bob2").await;

    assert_eq!(targets(&mut alice).await, ["bob", "bob2"]);
    assert_eq!(
        latest(&mut alice, "bob").await,
        std::slice::from_ref(&as_bob)
    );
    assert_eq!(
        latest(&mut alice, "bob2").await,
        std::slice::from_ref(&as_bob2)
    );
    // Bob's side: both are his conversation with alice.
    assert_eq!(latest(&mut bob, "alice").await, [as_bob, as_bob2]);
    server.shut_down().await;
}

/// A guest that logs in reads what it said before (as this connection) and after (as the
/// account), and a later session of the account only the latter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reads_as_itself_and_as_its_account() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-password").await;
    let mut bob = server.irc_with_caps("bob", CAPS).await;
    let mut alice = server.irc_with_caps("alice", CAPS).await;
    alice.skip_until(|m| m.command == "NOTICE").await; // the nick warning
    let before = say(&mut alice, &mut bob, "before logging in").await;
    alice
        .send("PRIVMSG NickServ :IDENTIFY alice-password")
        .await;
    alice
        .skip_until(|m| {
            m.params.last().map(String::as_str) == Some("You are now identified for alice.")
        })
        .await;
    let after = say(&mut alice, &mut bob, "after logging in").await;

    assert_eq!(latest(&mut alice, "bob").await, [before, after.clone()]);
    let mut later = irc_sasl(&server, "later", "alice", "alice-password", CAPS).await;
    assert_eq!(latest(&mut later, "bob").await, [after]);
    server.shut_down().await;
}
