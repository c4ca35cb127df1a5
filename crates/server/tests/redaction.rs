//! Deleting messages (IRCv3 `draft/message-redaction`, text `/delete`) over real sockets: who
//! may delete what, who is told, and that a deleted message is gone from every history.

mod support;

use support::{
    Client, IrcClient, SERVER, TestServer, create_account, irc_mask, irc_sasl, join_all, parse,
};

/// An IRC client that is told of deletions and sees message ids.
const REDACTING: &[&str] = &[
    "message-tags",
    "echo-message",
    "draft/message-redaction",
    "batch",
    "draft/chathistory",
];

/// Sends `PRIVMSG target :text` and returns its msgid, read from the echo.
async fn say(client: &mut IrcClient, target: &str, text: &str) -> String {
    client.send(&format!("PRIVMSG {target} :{text}")).await;
    let echo = client.message().await;
    assert_eq!(echo.command, "PRIVMSG", "{echo:?}");
    echo.tag("msgid").expect("a msgid").to_owned()
}

/// The `HH:MM:SS` of a stamped text line.
fn clock(line: &str) -> &str {
    &line[1..9]
}

/// `line` must be a `REDACT` from `by` (`nick!user@host`) with these parameters (and a msgid
/// of its own).
fn assert_redact(line: &str, by: &str, params: &[&str]) {
    let message = parse(line);
    assert_eq!(message.command, "REDACT", "{line:?}");
    assert_eq!(message.source.as_deref(), Some(by));
    assert_eq!(message.params, params, "{line:?}");
    assert!(message.tag("msgid").is_some(), "{line:?}");
}

/// The texts of a `CHATHISTORY LATEST target * 10` page.
async fn history_texts(client: &mut IrcClient, target: &str) -> Vec<String> {
    client
        .send(&format!("CHATHISTORY LATEST {target} * 10"))
        .await;
    let start = client.expect_command("BATCH").await;
    let reference = start.params[0][1..].to_owned();
    let mut texts = Vec::new();
    loop {
        let message = client.message().await;
        if message.command == "BATCH" {
            assert_eq!(message.params, [format!("-{reference}")]);
            return texts;
        }
        texts.push(message.params[1].clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authors_delete_their_own_messages_and_operators_anyones() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", REDACTING).await;
    let mut bob = server.irc_with_caps("bob", REDACTING).await;
    let mut carol = server.irc_with_caps("carol", &["message-tags"]).await;
    join_all("#a", &mut [&mut alice, &mut bob, &mut carol]).await;
    let mut dave = Client::connect(server.address).await;
    dave.send("/join #a").await;
    dave.skip_until(&format!("-- {} joined #a", dave.nick))
        .await;
    for irc in [&mut alice, &mut bob, &mut carol] {
        irc.skip_until(|m| m.command == "JOIN").await;
    }

    let hi = say(&mut bob, "#a", "hi").await;
    let spam = say(&mut bob, "#a", "spam").await;
    for irc in [&mut alice, &mut carol] {
        irc.skip_until(|m| m.params.last().map(String::as_str) == Some("spam"))
            .await;
    }
    let kept = say(&mut alice, "#a", "kept").await;
    bob.skip_until(|m| m.params.last().map(String::as_str) == Some("kept"))
        .await;
    carol
        .skip_until(|m| m.params.last().map(String::as_str) == Some("kept"))
        .await;
    let hi_seen = dave.raw_line().await;
    let spam_seen = dave.raw_line().await;
    dave.expect("#a <alice> kept").await;

    // The author deletes its own message; those with the capability and text users are
    // told, the others are not.
    bob.send(&format!("REDACT #a {hi}")).await;
    assert_redact(&bob.line().await, &irc_mask("bob"), &["#a", &hi]);
    assert_redact(&alice.line().await, &irc_mask("bob"), &["#a", &hi]);
    dave.expect(&format!(
        "-- bob deleted their message of {} on #a",
        clock(&hi_seen)
    ))
    .await;

    // An operator deletes anyone's; anyone else only their own.
    alice.send(&format!("REDACT #a {spam} :spam, really")).await;
    assert_redact(
        &alice.line().await,
        &irc_mask("alice"),
        &["#a", &spam, "spam, really"],
    );
    assert_redact(
        &bob.line().await,
        &irc_mask("alice"),
        &["#a", &spam, "spam, really"],
    );
    dave.expect(&format!(
        "-- alice deleted bob's message of {} on #a (spam, really)",
        clock(&spam_seen)
    ))
    .await;
    bob.send(&format!("REDACT #a {kept}")).await;
    bob.expect_raw(&format!(
        ":{SERVER} FAIL REDACT REDACT_FORBIDDEN #a {kept} :You are not authorised to delete this \
         message"
    ))
    .await;
    for irc in [&mut alice, &mut bob, &mut carol] {
        irc.expect_quiet().await;
    }
    dave.expect_quiet().await;

    // Deleted messages are gone from every history.
    assert_eq!(history_texts(&mut alice, "#a").await, ["kept"]);
    dave.send("/history").await;
    dave.expect("-- history").await;
    dave.expect("#a <alice> kept").await;
    dave.expect("-- end of history").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_names_a_message_where_the_deleter_may_see_it() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", REDACTING).await;
    alice.join("#a").await;
    alice.join("#b").await;
    let in_b = say(&mut alice, "#b", "in b").await;
    let fail = |rest: &str| format!(":{SERVER} FAIL REDACT {rest}");

    // Not a channel one is in (or none at all), not a nick.
    alice.send(&format!("REDACT #nope {in_b}")).await;
    alice
        .expect_raw(&fail(
            "INVALID_TARGET #nope :You cannot delete messages from #nope",
        ))
        .await;
    alice.send(&format!("REDACT 9lives {in_b}")).await;
    alice
        .expect_raw(&fail(
            "INVALID_TARGET 9lives :You cannot delete messages from 9lives",
        ))
        .await;
    // A message of another channel, one that is no msgid, a TAGMSG (never stored).
    alice.send(&format!("REDACT #a {in_b}")).await;
    alice
        .expect_raw(&fail(&format!(
            "UNKNOWN_MSGID #a {in_b} :This message does not exist or is too old"
        )))
        .await;
    alice.send("REDACT #a not-hex").await;
    alice
        .expect_raw(&fail(
            "UNKNOWN_MSGID #a not-hex :This message does not exist or is too old",
        ))
        .await;
    alice.send("@+draft/react=x TAGMSG #a").await;
    let tagmsg = alice.expect_command("TAGMSG").await;
    let tagmsg = tagmsg.tag("msgid").expect("msgid").to_owned();
    alice.send(&format!("REDACT #a {tagmsg}")).await;
    alice
        .expect_raw(&fail(&format!(
            "UNKNOWN_MSGID #a {tagmsg} :This message does not exist or is too old"
        )))
        .await;
    // Someone who is not in #b: as if it were not there.
    let mut bob = server.irc_with_caps("bob", REDACTING).await;
    bob.send(&format!("REDACT #b {in_b}")).await;
    bob.expect_raw(&fail(
        "INVALID_TARGET #b :You cannot delete messages from #b",
    ))
    .await;
    // Deleted once, it is unknown.
    alice.send(&format!("REDACT #b {in_b}")).await;
    assert_redact(&alice.line().await, &irc_mask("alice"), &["#b", &in_b]);
    alice.send(&format!("REDACT #b {in_b}")).await;
    alice
        .expect_raw(&fail(&format!(
            "UNKNOWN_MSGID #b {in_b} :This message does not exist or is too old"
        )))
        .await;
    alice.send("REDACT #b").await;
    alice
        .expect_raw(&format!(
            ":{SERVER} 461 alice REDACT :Not enough parameters"
        ))
        .await;

    // A multiline message goes whole, and a labelled deletion's answer is its REDACT.
    alice
        .send("CAP REQ :draft/multiline labeled-response")
        .await;
    alice.expect_command("CAP").await;
    alice.send("BATCH +m draft/multiline #a").await;
    alice.send("@batch=m PRIVMSG #a :one").await;
    alice.send("@batch=m PRIVMSG #a :two").await;
    alice.send("BATCH -m").await;
    let opening = alice.expect_command("BATCH").await;
    let id = opening.tag("msgid").expect("msgid").to_owned();
    alice.skip_until(|m| m.params == [format!("-m{id}")]).await;
    alice.send(&format!("@label=r1 REDACT #a {id}")).await;
    let redact = alice.line().await;
    assert_eq!(parse(&redact).tag("label"), Some("r1"));
    assert_redact(&redact, &irc_mask("alice"), &["#a", &id]);
    alice.send("CAP REQ -draft/multiline").await;
    alice.expect_command("CAP").await;
    assert_eq!(history_texts(&mut alice, "#a").await, Vec::<String>::new());
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_message_is_deleted_by_its_sender_and_only_its_recipient_is_told() {
    let server = TestServer::start().await;
    create_account(&server, "alice", "alice-secret").await;
    create_account(&server, "bob", "bob-secret1").await;
    let mut alice = irc_sasl(&server, "alice", "alice", "alice-secret", REDACTING).await;
    let mut bob = irc_sasl(&server, "bob", "bob", "bob-secret1", REDACTING).await;
    let first = say(&mut alice, "bob", "first").await;
    let second = say(&mut alice, "bob", "second").await;
    bob.skip_until(|m| m.params.last().map(String::as_str) == Some("second"))
        .await;

    // The recipient may not delete it, nor may anyone else name it.
    bob.send(&format!("REDACT alice {first}")).await;
    bob.expect_raw(&format!(
        ":{SERVER} FAIL REDACT REDACT_FORBIDDEN alice {first} :You are not authorised to delete \
         this message"
    ))
    .await;
    let mut carol = server.irc_with_caps("carol", REDACTING).await;
    for target in ["alice", "bob"] {
        carol.send(&format!("REDACT {target} {first}")).await;
        carol
            .expect_raw(&format!(
                ":{SERVER} FAIL REDACT UNKNOWN_MSGID {target} {first} :This message does not \
                 exist or is too old"
            ))
            .await;
    }

    // Its sender may; the recipient is told.
    alice.send(&format!("REDACT bob {first}")).await;
    assert_redact(&alice.line().await, &irc_mask("alice"), &["bob", &first]);
    assert_redact(&bob.line().await, &irc_mask("alice"), &["bob", &first]);
    assert_eq!(history_texts(&mut bob, "alice").await, ["second"]);

    // Whoever holds the recipient's nick later is not.
    bob.send("QUIT").await;
    bob.expect_closed().await;
    let mut squatter = server.irc_with_caps("bob", REDACTING).await;
    // Past NickServ's warning about the registered nick.
    squatter.sync().await;
    alice.send(&format!("REDACT bob {second}")).await;
    assert_redact(&alice.line().await, &irc_mask("alice"), &["bob", &second]);
    squatter.expect_quiet().await;
    assert_eq!(history_texts(&mut alice, "bob").await, Vec::<String>::new());
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_user_deletes_its_newest_messages_one_by_one() {
    let server = TestServer::start().await;
    let mut watcher = server.irc_with_caps("watcher", REDACTING).await;
    watcher.join("#lobby").await;
    let mut alice = Client::connect(server.address).await;
    watcher.skip_until(|m| m.command == "JOIN").await;
    alice.send("/nick alice").await;
    alice
        .skip_until(&format!("-- {} is now known as alice", alice.nick))
        .await;
    alice.nick = "alice".into();
    watcher.skip_until(|m| m.command == "NICK").await;
    alice.send("/register alice-secret").await;
    alice
        .expect("-- account alice registered; you are logged in")
        .await;
    alice.send("one").await;
    let one = alice.raw_line().await;
    alice.send("/quit").await;
    alice.skip_until("-- goodbye").await;

    // A new connection, logged in to the account, deletes what the account said before.
    let mut alice = Client::connect(server.address).await;
    alice.send("/login alice alice-secret").await;
    alice.skip_until("-- you are now logged in as alice").await;
    alice.send("two").await;
    let two = alice.raw_line().await;
    let one_id = watcher
        .skip_until(|m| m.params.last().map(String::as_str) == Some("one"))
        .await
        .tag("msgid")
        .expect("msgid")
        .to_owned();
    let two_id = watcher
        .skip_until(|m| m.params.last().map(String::as_str) == Some("two"))
        .await
        .tag("msgid")
        .expect("msgid")
        .to_owned();

    alice.send("/delete").await;
    alice
        .expect(&format!(
            "-- alice deleted their message of {} on #lobby",
            clock(&two)
        ))
        .await;
    assert_redact(
        &watcher.line().await,
        "alice!text@127.0.0.1",
        &["#lobby", &two_id],
    );
    alice.send("/delete typo").await;
    alice
        .expect(&format!(
            "-- alice deleted their message of {} on #lobby (typo)",
            clock(&one)
        ))
        .await;
    let redact = watcher.line().await;
    assert_redact(
        &redact,
        "alice!text@127.0.0.1",
        &["#lobby", &one_id, "typo"],
    );
    alice.send("/delete").await;
    alice
        .expect("! you have no message in the history of #lobby to delete")
        .await;
    alice.send("/history").await;
    alice.expect("-- #lobby has no history").await;
    server.shut_down().await;
}
