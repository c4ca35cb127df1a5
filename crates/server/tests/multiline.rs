//! Messages of several lines (IRCv3 `draft/multiline`, text `/paste`) over real sockets: one
//! message, one msgid, one history entry, shown to each client as it can take it — a batch to
//! IRC clients with the capability, separate lines to the others, indented continuation lines
//! to text users.

mod support;

use support::{Client, IrcClient, SERVER, TestServer, irc_mask, join_all, parse, untagged};

/// What a client that sends multiline messages asks for.
const SENDER: &[&str] = &[
    "batch",
    "draft/multiline",
    "echo-message",
    "labeled-response",
    "message-tags",
];
/// A client that receives multiline messages as batches.
const RECEIVER: &[&str] = &["batch", "draft/multiline", "message-tags"];

/// The tags of `line` as `key=value` strings, in order.
fn tags(line: &str) -> Vec<String> {
    parse(line)
        .tags
        .into_iter()
        .map(|tag| format!("{}={}", tag.key, tag.value))
        .collect()
}

/// Sends a multiline batch `reference` to `target`: each line with its concat flag.
async fn send_batch(
    client: &mut IrcClient,
    opening_tags: &str,
    reference: &str,
    target: &str,
    lines: &[(&str, bool)],
) {
    client
        .send(&format!(
            "{opening_tags}BATCH +{reference} draft/multiline {target}"
        ))
        .await;
    for (line, concat) in lines {
        let concat = if *concat {
            ";draft/multiline-concat"
        } else {
            ""
        };
        client
            .send(&format!(
                "@batch={reference}{concat} PRIVMSG {target} :{line}"
            ))
            .await;
    }
    client.send(&format!("BATCH -{reference}")).await;
}

/// The lines of the example message: `hello`, a blank line, `how is ` continued by
/// `everyone?`.
const EXAMPLE: &[(&str, bool)] = &[
    ("hello", false),
    ("", false),
    ("how is ", false),
    ("everyone?", true),
];

/// Reads a multiline batch from `sender` to `target` with the example's lines; returns the
/// opening line's tags (the message's) and the batch reference.
async fn expect_example_batch(
    client: &mut IrcClient,
    sender: &str,
    target: &str,
) -> (Vec<String>, String) {
    let source = irc_mask(sender);
    let start = client.line().await;
    let opening = parse(&start);
    assert_eq!(opening.command, "BATCH", "{start:?}");
    assert_eq!(opening.source.as_deref(), Some(source.as_str()));
    let reference = opening.params[0]
        .strip_prefix('+')
        .expect("opens")
        .to_owned();
    assert_eq!(opening.params[1..], ["draft/multiline", target]);
    for (text, concat) in EXAMPLE {
        let line = client.line().await;
        let mut expected_tags = vec![format!("batch={reference}")];
        if *concat {
            expected_tags.push("draft/multiline-concat=".into());
        }
        assert_eq!(tags(&line), expected_tags, "{line:?}");
        assert_eq!(
            parse(&line).params,
            [target, text],
            "{}: {line:?}",
            client.nick
        );
        assert_eq!(parse(&line).source.as_deref(), Some(source.as_str()));
    }
    client.expect_raw(&format!("BATCH -{reference}")).await;
    (tags(&start), reference)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multiline_message_reaches_each_client_as_it_can_take_it() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", SENDER).await;
    let mut bob = server.irc_with_caps("bob", RECEIVER).await;
    let mut carol = server.irc_with_caps("carol", &["message-tags"]).await;
    let mut plain = server.irc("plain").await;
    join_all("#a", &mut [&mut alice, &mut bob, &mut carol, &mut plain]).await;
    let mut dave = Client::connect(server.address).await;
    dave.send("/join #a").await;
    dave.skip_until(&format!("-- {} joined #a", dave.nick))
        .await;
    for irc in [&mut alice, &mut bob, &mut carol, &mut plain] {
        irc.expect_line(&format!(":{}!text@127.0.0.1 JOIN #a", dave.nick))
            .await;
    }

    send_batch(&mut alice, "@label=l1;+draft/reply=x ", "b1", "#a", EXAMPLE).await;

    // The sender's echo is the batch, the label on its opening line (the whole response).
    let (echo_tags, reference) = expect_example_batch(&mut alice, "alice", "#a").await;
    let msgid = echo_tags[0].strip_prefix("msgid=").expect("msgid first");
    assert_eq!(reference, format!("m{msgid}"));
    assert_eq!(
        echo_tags,
        [
            format!("msgid={msgid}"),
            "+draft/reply=x".into(),
            "label=l1".into()
        ]
    );
    // A client with the capability gets the same batch, the same msgid.
    let (bob_tags, _) = expect_example_batch(&mut bob, "alice", "#a").await;
    assert_eq!(
        bob_tags,
        [format!("msgid={msgid}"), "+draft/reply=x".into()]
    );
    // Without it, the lines come alone, the blank one left out, the msgid on the first only.
    let source = irc_mask("alice");
    carol
        .expect_raw(&format!(
            "@msgid={msgid};+draft/reply=x :{source} PRIVMSG #a hello"
        ))
        .await;
    carol
        .expect_raw(&format!("@+draft/reply=x :{source} PRIVMSG #a :how is "))
        .await;
    carol
        .expect_raw(&format!("@+draft/reply=x :{source} PRIVMSG #a everyone?"))
        .await;
    plain
        .expect_raw(&format!(":{source} PRIVMSG #a hello"))
        .await;
    plain
        .expect_raw(&format!(":{source} PRIVMSG #a :how is "))
        .await;
    plain
        .expect_raw(&format!(":{source} PRIVMSG #a everyone?"))
        .await;
    // A text user sees one message that keeps its lines.
    dave.expect("#a <alice> hello").await;
    assert_eq!(dave.raw_line().await, "           ");
    assert_eq!(dave.raw_line().await, "           how is everyone?");
    for irc in [&mut alice, &mut bob, &mut carol, &mut plain] {
        irc.expect_quiet().await;
    }
    dave.expect_quiet().await;

    // Without echo-message a labelled batch is acknowledged.
    let mut erin = server
        .irc_with_caps("erin", &["batch", "draft/multiline", "labeled-response"])
        .await;
    erin.join("#a").await;
    send_batch(
        &mut erin,
        "@label=l2 ",
        "x",
        "#a",
        &[("one", false), ("two", false)],
    )
    .await;
    erin.expect_raw(&format!("@label=l2 :{SERVER} ACK")).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multiline_private_message_is_one_message_too() {
    let server = TestServer::start().await;
    let mut alice = server
        .irc_with_caps("alice", &["batch", "draft/multiline", "echo-message"])
        .await;
    let mut bob = server.irc_with_caps("bob", RECEIVER).await;
    let mut carol = Client::named(server.address, "carol").await;
    send_batch(&mut alice, "", "p", "bob", EXAMPLE).await;
    expect_example_batch(&mut alice, "alice", "bob").await;
    let (tags, _) = expect_example_batch(&mut bob, "alice", "bob").await;
    assert!(tags[0].starts_with("msgid="), "{tags:?}");
    send_batch(
        &mut alice,
        "",
        "q",
        "carol",
        &[("one", false), ("two", false)],
    )
    .await;
    carol.expect("*alice* one").await;
    assert_eq!(carol.raw_line().await, "           two");
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_breaks_a_rule_fails_at_once_and_its_rest_is_dropped() {
    let server = TestServer::start().await;
    let mut alice = server
        .irc_with_caps("alice", &["batch", "draft/multiline", "echo-message"])
        .await;
    let mut bob = server.irc("bob").await;
    join_all("#a", &mut [&mut alice, &mut bob]).await;
    let fail = |rest: &str| format!(":{SERVER} FAIL BATCH {rest}");

    // One line too many, then bytes beyond the limit (each LF between lines counted).
    alice.send("BATCH +l draft/multiline #a").await;
    for _ in 0..33 {
        alice.send("@batch=l PRIVMSG #a hi").await;
    }
    alice
        .expect_raw(&fail(
            "MULTILINE_MAX_LINES 32 :a message may have at most 32 lines",
        ))
        .await;
    alice.send("@batch=l PRIVMSG #a dropped").await;
    alice.send("BATCH -l").await;
    alice.expect_quiet().await;
    alice.send("BATCH +b draft/multiline #a").await;
    for _ in 0..11 {
        alice
            .send(&format!("@batch=b PRIVMSG #a {}", "x".repeat(400)))
            .await;
    }
    alice
        .expect_raw(&fail(
            "MULTILINE_MAX_BYTES 4096 :a message may have at most 4096 bytes",
        ))
        .await;
    alice.send("BATCH -b").await;

    // A blank line may not continue another; nothing but blank lines is nothing to send.
    send_batch(&mut alice, "", "c", "#a", &[("hi", false), ("", true)]).await;
    alice
        .expect_raw(&fail(
            "MULTILINE_INVALID :a blank line cannot be joined to the previous one",
        ))
        .await;
    send_batch(&mut alice, "", "e", "#a", &[("", false), ("", false)]).await;
    alice
        .expect_raw(&fail("MULTILINE_INVALID :there is nothing to send"))
        .await;

    // A line for another batch, or to another target.
    alice.send("BATCH +t draft/multiline #a").await;
    alice.send("@batch=u PRIVMSG #a :hi").await;
    alice
        .expect_raw(&fail("MULTILINE_INVALID :Incorrect batch tag"))
        .await;
    alice.send("BATCH -t").await;
    send_batch(&mut alice, "", "v", "#a", &[("hi", false)]).await;
    alice
        .expect_line(&format!(":{} PRIVMSG #a hi", irc_mask("alice")))
        .await;
    alice.send("BATCH +w draft/multiline #a").await;
    alice.send("@batch=w PRIVMSG #b :hi").await;
    alice
        .expect_raw(&fail(
            "MULTILINE_INVALID_TARGET #a #b :Invalid multiline target",
        ))
        .await;
    alice.send("BATCH -w").await;

    // Another command fails the batch and is then handled as usual.
    alice.send("BATCH +x draft/multiline #a").await;
    alice.send("@batch=x PRIVMSG #a :hi").await;
    alice.send("PING :middle").await;
    alice
        .expect_raw(&fail(
            "MULTILINE_INVALID :Only the batch's PRIVMSG lines may be sent while it is open",
        ))
        .await;
    alice
        .expect_raw(&format!(":{SERVER} PONG {SERVER} middle"))
        .await;
    alice.send("@batch=x PRIVMSG #a :dropped").await;
    alice.send("BATCH -x").await;

    // What never opened.
    alice.send("BATCH -nothing").await;
    alice
        .expect_raw(&fail("MULTILINE_INVALID :No such batch is open"))
        .await;
    alice.send("@batch=nothing PRIVMSG #a :hi").await;
    alice
        .expect_raw(&fail("MULTILINE_INVALID :No such batch is open"))
        .await;
    alice.send("BATCH +y example/other #a").await;
    alice
        .expect_raw(&fail("MULTILINE_INVALID :Unknown batch type"))
        .await;
    alice.send("@batch=y PRIVMSG #a :dropped").await;
    alice.send("BATCH -y").await;
    alice.expect_quiet().await;

    // None of it reached the channel but the one good batch (a single line: a plain
    // message); and a good batch still works.
    bob.expect_line(&format!(":{} PRIVMSG #a hi", irc_mask("alice")))
        .await;
    bob.expect_quiet().await;
    send_batch(
        &mut alice,
        "",
        "z",
        "#a",
        &[("still", false), ("here", false)],
    )
    .await;
    bob.expect_line(&format!(":{} PRIVMSG #a still", irc_mask("alice")))
        .await;
    bob.expect_line(&format!(":{} PRIVMSG #a here", irc_mask("alice")))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multiline_message_is_one_history_entry() {
    let server = TestServer::start().await;
    let mut alice = server
        .irc_with_caps(
            "alice",
            &[
                "batch",
                "draft/multiline",
                "echo-message",
                "draft/chathistory",
            ],
        )
        .await;
    alice.join("#a").await;
    send_batch(&mut alice, "", "h", "#a", EXAMPLE).await;
    expect_example_batch(&mut alice, "alice", "#a").await;

    // With the capability, the history batch holds the message's own batch.
    alice.send("CHATHISTORY LATEST #a * 10").await;
    let start = alice.line().await;
    let history = parse(&start).params[0][1..].to_owned();
    assert_eq!(
        untagged(&start),
        format!(":{SERVER} BATCH +{history} chathistory #a")
    );
    let opening = alice.line().await;
    assert_eq!(tags(&opening)[0], format!("batch={history}"));
    assert_eq!(parse(&opening).params[1], "draft/multiline");
    for _ in EXAMPLE {
        let line = alice.line().await;
        assert!(tags(&line)[0].starts_with("batch=m"), "{line:?}");
    }
    let closing = alice.line().await;
    assert_eq!(tags(&closing), [format!("batch={history}")]);
    alice
        .expect_raw(&format!(":{SERVER} BATCH -{history}"))
        .await;

    // Without it, the lines; and a text user's history keeps them under the first.
    let mut bob = server.irc_with_caps("bob", &["draft/chathistory"]).await;
    bob.join("#a").await;
    bob.send("CHATHISTORY LATEST #a * 10").await;
    let source = irc_mask("alice");
    bob.expect_raw(&format!(":{source} PRIVMSG #a hello")).await;
    bob.expect_raw(&format!(":{source} PRIVMSG #a :how is "))
        .await;
    bob.expect_raw(&format!(":{source} PRIVMSG #a everyone?"))
        .await;
    let mut carol = Client::connect(server.address).await;
    carol.send("/join #a").await;
    carol.skip_until("-- history").await;
    carol.expect("#a <alice> hello").await;
    assert_eq!(carol.raw_line().await, "           ");
    assert_eq!(carol.raw_line().await, "           how is everyone?");
    carol.expect("-- end of history").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_user_pastes_several_lines_as_one_message() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = server.irc_with_caps("bob", RECEIVER).await;
    let mut carol = server.irc("carol").await;
    join_all("#lobby", &mut [&mut bob, &mut carol]).await;
    alice.skip_until("-- bob joined #lobby").await;
    alice.expect("-- carol joined #lobby").await;

    alice.send("/paste").await;
    alice
        .expect(
            "-- pasting to #lobby: each line you send now is a line of one message; /end sends \
             it, /cancel drops it",
        )
        .await;
    // Every line is taken as typed, a blank one or one starting with a slash included.
    for line in ["fn main() {", "    // /join is just text here", "", "}"] {
        alice.send(line).await;
    }
    alice.send("/end").await;
    alice.expect("#lobby <alice> fn main() {").await;
    for continued in ["    // /join is just text here", "", "}"] {
        assert_eq!(alice.raw_line().await, format!("           {continued}"));
    }
    let start = bob.line().await;
    assert_eq!(parse(&start).params[1..], ["draft/multiline", "#lobby"]);
    for text in ["fn main() {", "    // /join is just text here", "", "}"] {
        assert_eq!(parse(&bob.line().await).params, ["#lobby", text]);
    }
    assert_eq!(parse(&bob.line().await).command, "BATCH");
    let source = "alice!text@127.0.0.1";
    carol
        .expect_line(&format!(":{source} PRIVMSG #lobby :fn main() {{"))
        .await;
    carol
        .expect_line(&format!(
            ":{source} PRIVMSG #lobby :    // /join is just text here"
        ))
        .await;
    carol
        .expect_line(&format!(":{source} PRIVMSG #lobby }}"))
        .await;

    // One line is a plain message; /cancel drops a paste; a private paste.
    alice.send("/paste").await;
    alice.line().await;
    alice.send("just one").await;
    alice.send("/END").await;
    alice.expect("#lobby <alice> just one").await;
    for irc in [&mut bob, &mut carol] {
        irc.expect_line(&format!(":{source} PRIVMSG #lobby :just one"))
            .await;
    }
    alice.send("/paste").await;
    alice.line().await;
    alice.send("never mind").await;
    alice.send("/cancel").await;
    alice.expect("-- paste dropped").await;
    alice.send("/paste carol").await;
    alice.line().await;
    alice.send("psst").await;
    alice.send("again").await;
    alice.send("/end").await;
    alice.expect("-> *carol* psst").await;
    assert_eq!(alice.raw_line().await, "           again");
    carol
        .expect_line(&format!(":{source} PRIVMSG carol psst"))
        .await;
    carol
        .expect_line(&format!(":{source} PRIVMSG carol again"))
        .await;

    // Too long: the paste is refused at the line that breaks the limit, and sends nothing.
    alice.send("/paste").await;
    alice.line().await;
    for number in 0..33 {
        alice.send(&format!("line {number}")).await;
    }
    alice
        .expect(
            "! a message may have at most 32 lines: this paste will not be sent (/cancel to stop \
             pasting)",
        )
        .await;
    alice.send("/end").await;
    alice
        .expect("! nothing was sent: a message may have at most 32 lines")
        .await;
    alice.send("/paste").await;
    alice.line().await;
    alice.send("/end").await;
    alice
        .expect("! nothing was sent: there is nothing to send")
        .await;
    alice.send("/end").await;
    alice.expect("! you are not pasting (/paste starts)").await;
    alice.expect_quiet().await;
    bob.expect_quiet().await;
    carol.expect_quiet().await;
    server.shut_down().await;
}
