//! IRCv3 capabilities against a real server over real sockets: what `CAP` offers and how every
//! capability changes the exact lines and tags a client gets, compared with a client without it
//! receiving the very same event.

mod support;

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use support::{ALL_CAPS, ALL_CAPS_302, IrcClient, TestServer, join_witnessed, parse, untagged};

/// The tags of `line` as `(key, value)` pairs, in order.
fn tags(line: &str) -> Vec<(String, String)> {
    parse(line)
        .tags
        .into_iter()
        .map(|tag| (tag.key, tag.value))
        .collect()
}

fn pair(key: &str, value: &str) -> (String, String) {
    (key.to_owned(), value.to_owned())
}

/// Checks a `time` tag value: ISO 8601 `YYYY-MM-DDTHH:MM:SS.mmmZ`, UTC, close to now.
fn assert_time(value: &str) {
    let bytes = value.as_bytes();
    let digits = [0..4, 5..7, 8..10, 11..13, 14..16, 17..19, 20..23];
    let shape = bytes.len() == 24
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && bytes[19] == b'.'
        && bytes[23] == b'Z'
        && digits
            .iter()
            .all(|range| bytes[range.clone()].iter().all(u8::is_ascii_digit));
    assert!(
        shape,
        "time tag not in YYYY-MM-DDTHH:MM:SS.mmmZ form: {value:?}"
    );
    let number = |range: std::ops::Range<usize>| -> i64 { value[range].parse().unwrap() };
    let (month, day) = (number(5..7), number(8..10));
    let (hour, minute, second) = (number(11..13), number(14..16), number(17..19));
    assert!(
        (1..=12).contains(&month) && (1..=31).contains(&day),
        "{value}"
    );
    assert!(hour < 24 && minute < 60 && second < 60, "{value}");
    let millis = days_from_civil(number(0..4), month, day) * 86_400_000
        + hour * 3_600_000
        + minute * 60_000
        + second * 1000
        + number(20..23);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (now - millis).abs() < 60_000,
        "time tag {value} is not the current time"
    );
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The next line of `client` must carry exactly one tag, a valid `time`, before `expected`.
/// Returns the whole line.
async fn expect_timed(client: &mut IrcClient, expected: &str) -> String {
    let line = client.line().await;
    let tags = tags(&line);
    assert_eq!(
        tags.len(),
        1,
        "{}: only a time tag expected: {line:?}",
        client.nick
    );
    assert_eq!(tags[0].0, "time", "{line:?}");
    assert_time(&tags[0].1);
    assert_eq!(
        untagged(&line),
        expected,
        "{} got an unexpected line",
        client.nick
    );
    line
}

/// The next line must be `expected` with exactly one tag, `msgid`; returns the id.
async fn expect_msgid(client: &mut IrcClient, expected: &str) -> String {
    let line = client.line().await;
    let tags = tags(&line);
    assert_eq!(
        tags.len(),
        1,
        "{}: only a msgid expected: {line:?}",
        client.nick
    );
    assert_eq!(tags[0].0, "msgid", "{line:?}");
    assert!(!tags[0].1.is_empty(), "{line:?}");
    assert_eq!(
        untagged(&line),
        expected,
        "{} got an unexpected line",
        client.nick
    );
    tags[0].1.clone()
}

/// Reads a labeled-response batch: the opening `BATCH +ref labeled-response` with `label`, the
/// replies (each tagged `batch=ref` and nothing else but `extra_tags`), and the closing
/// `BATCH -ref`. Returns the reference and the replies without their tags.
async fn expect_labeled_batch(
    client: &mut IrcClient,
    label: &str,
    replies: usize,
) -> (String, Vec<String>) {
    let start = client.line().await;
    assert_eq!(tags(&start), vec![pair("label", label)], "{start:?}");
    let opening = parse(&start);
    assert_eq!(
        opening.source.as_deref(),
        Some("palaver.local"),
        "{start:?}"
    );
    assert_eq!(opening.command, "BATCH", "{start:?}");
    assert_eq!(opening.params.len(), 2, "{start:?}");
    assert_eq!(opening.params[1], "labeled-response", "{start:?}");
    let reference = opening.params[0]
        .strip_prefix('+')
        .unwrap_or_else(|| panic!("batch start without +: {start:?}"))
        .to_owned();
    assert!(!reference.is_empty());
    let mut lines = Vec::new();
    for _ in 0..replies {
        let line = client.line().await;
        assert_eq!(
            tags(&line),
            vec![pair("batch", &reference)],
            "{}: reply outside the batch: {line:?}",
            client.nick
        );
        lines.push(untagged(&line).to_owned());
    }
    client
        .expect_raw(&format!(":palaver.local BATCH -{reference}"))
        .await;
    (reference, lines)
}

// ---------------------------------------------------------------------------------------------
// Capability negotiation

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_ls_302_offers_every_capability_and_holds_registration_until_cap_end() {
    let server = TestServer::start().await;
    let mut client = IrcClient::connect(server.irc_address).await;
    client.nick = "alice".into();
    client.send("CAP LS 302").await;
    client
        .expect_raw(&format!(":palaver.local CAP * LS :{ALL_CAPS_302}"))
        .await;
    client.send("NICK alice").await;
    client.send("USER alice 0 * :alice real name").await;
    // Registration waits for CAP END: the next line is the PONG, not 001.
    client.expect_quiet().await;

    // cap-notify is implicitly enabled by 302.
    client.send("CAP LIST").await;
    client
        .expect_raw(":palaver.local CAP alice LIST cap-notify")
        .await;
    // A request with an unknown capability is refused whole.
    client.send("CAP REQ :server-time bogus").await;
    client
        .expect_raw(":palaver.local CAP alice NAK :server-time bogus")
        .await;
    client.send("CAP LIST").await;
    client
        .expect_raw(":palaver.local CAP alice LIST cap-notify")
        .await;
    // Names are case-sensitive.
    client.send("CAP REQ Server-Time").await;
    client
        .expect_raw(":palaver.local CAP alice NAK Server-Time")
        .await;
    client.send("CAP REQ :multi-prefix server-time").await;
    client
        .expect_raw(":palaver.local CAP alice ACK :multi-prefix server-time")
        .await;
    // Requesting an enabled one again is fine.
    client.send("CAP REQ server-time").await;
    client
        .expect_raw(":palaver.local CAP alice ACK server-time")
        .await;
    client.send("CAP LIST").await;
    client
        .expect_raw(":palaver.local CAP alice LIST :cap-notify multi-prefix server-time")
        .await;
    client.send("CAP FOO").await;
    client
        .expect_raw(":palaver.local 410 alice FOO :Invalid CAP command")
        .await;
    client.expect_quiet().await;

    client.send("CAP END").await;
    client
        .expect_raw(
            ":palaver.local 001 alice :Welcome to the palaver IRC Network alice!~alice@127.0.0.1",
        )
        .await;
    client
        .skip_until(|m| m.command == "376" || m.command == "422")
        .await;
    // CAP keeps working after registration; a late CAP END is ignored.
    client.send("CAP END").await;
    client.send("CAP LIST").await;
    client
        .expect_raw(":palaver.local CAP alice LIST :cap-notify multi-prefix server-time")
        .await;
    // Having negotiated 302 once, the client keeps seeing capability values.
    client.send("CAP LS").await;
    client
        .expect_raw(&format!(":palaver.local CAP alice LS :{ALL_CAPS_302}"))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_req_without_ls_also_holds_registration() {
    let server = TestServer::start().await;
    let mut client = IrcClient::connect(server.irc_address).await;
    client.nick = "bob".into();
    client.send("CAP REQ :echo-message").await;
    client
        .expect_raw(":palaver.local CAP * ACK echo-message")
        .await;
    client.send("NICK bob").await;
    client.send("USER bob 0 * :bob real name").await;
    client.expect_quiet().await;
    // Without 302, cap-notify is not implied.
    client.send("CAP LIST").await;
    client
        .expect_raw(":palaver.local CAP bob LIST echo-message")
        .await;
    client.send("CAP END").await;
    client.expect_command("001").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_notify_is_optional_without_302_and_implied_by_it() {
    let server = TestServer::start().await;
    let mut client = IrcClient::connect(server.irc_address).await;
    client.send("CAP LS").await;
    client
        .expect_raw(&format!(":palaver.local CAP * LS :{ALL_CAPS}"))
        .await;
    client.send("CAP LIST").await;
    client.expect_raw(":palaver.local CAP * LIST :").await;
    // A pre-302 client may enable and disable cap-notify explicitly.
    client.send("CAP REQ cap-notify").await;
    client
        .expect_raw(":palaver.local CAP * ACK cap-notify")
        .await;
    client.send("CAP LIST").await;
    client
        .expect_raw(":palaver.local CAP * LIST cap-notify")
        .await;
    client.send("CAP REQ -cap-notify").await;
    client
        .expect_raw(":palaver.local CAP * ACK -cap-notify")
        .await;
    client.send("CAP LIST").await;
    client.expect_raw(":palaver.local CAP * LIST :").await;
    // A later CAP LS 302 enables it.
    client.send("CAP LS 302").await;
    client
        .expect_raw(&format!(":palaver.local CAP * LS :{ALL_CAPS_302}"))
        .await;
    client.send("CAP LIST").await;
    client
        .expect_raw(":palaver.local CAP * LIST cap-notify")
        .await;
    // Requesting it explicitly is accepted without side effects.
    client.send("CAP REQ cap-notify").await;
    client
        .expect_raw(":palaver.local CAP * ACK cap-notify")
        .await;
    client.send("CAP LIST").await;
    client
        .expect_raw(":palaver.local CAP * LIST cap-notify")
        .await;
    server.shut_down().await;
}

/// Capability negotiation: "servers MUST NOT disable the `cap-notify` capability if the client
/// requests `CAP LS` with a version of 302 or newer".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_notify_stays_enabled_for_a_302_client() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["server-time"]).await;
    alice.send("CAP LIST").await;
    alice
        .expect_raw(":palaver.local CAP alice LIST :cap-notify server-time")
        .await;
    alice.send("CAP REQ -cap-notify").await;
    let reply = alice.expect_command("CAP").await;
    assert!(
        reply.params[1] == "ACK" || reply.params[1] == "NAK",
        "{reply:?}"
    );
    alice.send("CAP LIST").await;
    alice
        .expect_raw(":palaver.local CAP alice LIST :cap-notify server-time")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_changed_after_registration_change_what_arrives() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;

    bob.send("CAP REQ :server-time message-tags").await;
    bob.expect_raw(":palaver.local CAP bob ACK :server-time message-tags")
        .await;
    alice.send("PRIVMSG #x :after the upgrade").await;
    let line = bob.line().await;
    let keys: Vec<String> = tags(&line).into_iter().map(|(key, _)| key).collect();
    assert_eq!(keys, ["time", "msgid"], "{line:?}");
    assert_time(parse(&line).tag("time").unwrap());
    assert_eq!(
        untagged(&line),
        ":alice!~alice@127.0.0.1 PRIVMSG #x :after the upgrade"
    );

    bob.send("CAP REQ :-server-time -message-tags").await;
    bob.expect_raw(":palaver.local CAP bob ACK :-server-time -message-tags")
        .await;
    alice.send("PRIVMSG #x :and back again").await;
    bob.expect_raw(":alice!~alice@127.0.0.1 PRIVMSG #x :and back again")
        .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// server-time

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_time_tags_every_event_for_clients_with_the_cap_only() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["server-time"]).await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc_with_caps("carol", &["server-time"]).await;

    // The joiner's own JOIN is stamped; numerics are not events.
    alice.send("JOIN #x").await;
    expect_timed(&mut alice, ":alice!~alice@127.0.0.1 JOIN #x").await;
    alice
        .expect_raw(":palaver.local 353 alice = #x @alice")
        .await;
    alice
        .expect_raw(":palaver.local 366 alice #x :End of /NAMES list")
        .await;

    bob.send("JOIN #x").await;
    bob.expect_raw(":bob!~bob@127.0.0.1 JOIN #x").await;
    bob.skip_until(|m| m.command == "366").await;
    expect_timed(&mut alice, ":bob!~bob@127.0.0.1 JOIN #x").await;

    // One event: both stamped copies carry the same time (byte-identical lines), the
    // unstamped one has no tags at all.
    carol.send("JOIN #x").await;
    let own = expect_timed(&mut carol, ":carol!~carol@127.0.0.1 JOIN #x").await;
    carol.skip_until(|m| m.command == "366").await;
    assert_eq!(alice.line().await, own);
    bob.expect_raw(":carol!~carol@127.0.0.1 JOIN #x").await;

    alice.send("PRIVMSG #x :hello there").await;
    let stamped = expect_timed(
        &mut carol,
        ":alice!~alice@127.0.0.1 PRIVMSG #x :hello there",
    )
    .await;
    bob.expect_raw(":alice!~alice@127.0.0.1 PRIVMSG #x :hello there")
        .await;

    bob.send("PRIVMSG #x :from a plain client").await;
    let to_alice = expect_timed(
        &mut alice,
        ":bob!~bob@127.0.0.1 PRIVMSG #x :from a plain client",
    )
    .await;
    assert_eq!(carol.line().await, to_alice);
    assert_ne!(to_alice, stamped);

    alice.send("NOTICE #x :heads up").await;
    expect_timed(&mut carol, ":alice!~alice@127.0.0.1 NOTICE #x :heads up").await;
    bob.expect_raw(":alice!~alice@127.0.0.1 NOTICE #x :heads up")
        .await;

    bob.send("PRIVMSG carol :just for you").await;
    expect_timed(
        &mut carol,
        ":bob!~bob@127.0.0.1 PRIVMSG carol :just for you",
    )
    .await;

    // Events the actor sees too: its copy and the others' carry the same time.
    let events = [
        (
            "TOPIC #x :fresh topic",
            ":alice!~alice@127.0.0.1 TOPIC #x :fresh topic",
        ),
        ("MODE #x +v bob", ":alice!~alice@127.0.0.1 MODE #x +v bob"),
        ("NICK alicia", ":alice!~alice@127.0.0.1 NICK alicia"),
        (
            "PART #x :see you",
            ":alicia!~alice@127.0.0.1 PART #x :see you",
        ),
    ];
    for (command, expected) in events {
        alice.send(command).await;
        let own = expect_timed(&mut alice, expected).await;
        assert_eq!(carol.line().await, own, "{command}");
        bob.expect_raw(expected).await;
    }

    bob.send("QUIT :bye now").await;
    expect_timed(&mut carol, ":bob!~bob@127.0.0.1 QUIT :Quit: bye now").await;
    // Replies to commands are not events and carry no time.
    carol.send("PING :untimed").await;
    carol
        .expect_raw(":palaver.local PONG palaver.local untimed")
        .await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// message-tags

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgids_are_unique_per_message_and_the_same_for_every_recipient() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["message-tags"]).await;
    let mut bob = server.irc_with_caps("bob", &["message-tags"]).await;
    let mut carol = server.irc("carol").await;
    let mut dave = server.irc("dave").await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;
    join_witnessed(&mut carol, "#x", &mut [&mut alice, &mut bob]).await;
    join_witnessed(&mut dave, "#x", &mut [&mut alice, &mut bob, &mut carol]).await;

    let mut ids = HashSet::new();
    for text in ["first message", "second message", "third message"] {
        dave.send(&format!("PRIVMSG #x :{text}")).await;
        let expected = format!(":dave!~dave@127.0.0.1 PRIVMSG #x :{text}");
        let id = expect_msgid(&mut alice, &expected).await;
        assert_eq!(expect_msgid(&mut bob, &expected).await, id);
        carol.expect_raw(&expected).await;
        assert!(ids.insert(id), "msgid reused");
    }
    dave.send("NOTICE #x :a notice").await;
    let id = expect_msgid(&mut alice, ":dave!~dave@127.0.0.1 NOTICE #x :a notice").await;
    assert_eq!(
        expect_msgid(&mut bob, ":dave!~dave@127.0.0.1 NOTICE #x :a notice").await,
        id
    );
    carol
        .expect_raw(":dave!~dave@127.0.0.1 NOTICE #x :a notice")
        .await;
    assert!(ids.insert(id), "msgid reused");
    dave.send("PRIVMSG alice :in private").await;
    let id = expect_msgid(
        &mut alice,
        ":dave!~dave@127.0.0.1 PRIVMSG alice :in private",
    )
    .await;
    assert!(ids.insert(id), "msgid reused");

    // Membership events carry no msgid.
    dave.send("PART #x").await;
    alice.expect_raw(":dave!~dave@127.0.0.1 PART #x").await;
    bob.expect_raw(":dave!~dave@127.0.0.1 PART #x").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_only_tags_reach_message_tags_clients_and_other_tags_are_dropped() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["message-tags"]).await;
    let mut bob = server.irc_with_caps("bob", &["message-tags"]).await;
    let mut carol = server.irc("carol").await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;
    join_witnessed(&mut carol, "#x", &mut [&mut alice, &mut bob]).await;

    // Client-only tags are relayed after the server's tags, escaped values intact; `foo`
    // (no `+`) is not relayed; carol gets no tags at all.
    alice
        .send("@+typing=active;foo=bar;+example.com/note=a\\sb\\:c PRIVMSG #x :tagged hello")
        .await;
    let line = bob.line().await;
    let id = parse(&line).tag("msgid").unwrap_or("").to_owned();
    assert!(!id.is_empty(), "{line:?}");
    assert_eq!(
        line,
        format!(
            "@msgid={id};+typing=active;+example.com/note=a\\sb\\:c \
             :alice!~alice@127.0.0.1 PRIVMSG #x :tagged hello"
        )
    );
    assert_eq!(parse(&line).tag("+example.com/note"), Some("a b;c"));
    carol
        .expect_raw(":alice!~alice@127.0.0.1 PRIVMSG #x :tagged hello")
        .await;

    alice.send("@+typing=done NOTICE #x :tagged notice").await;
    let id = expect_tags_then(
        &mut bob,
        "+typing=done",
        ":alice!~alice@127.0.0.1 NOTICE #x :tagged notice",
    )
    .await;
    assert!(!id.is_empty());
    carol
        .expect_raw(":alice!~alice@127.0.0.1 NOTICE #x :tagged notice")
        .await;

    // TAGMSG goes only to message-tags clients.
    alice.send("@+typing=active TAGMSG #x").await;
    expect_tags_then(
        &mut bob,
        "+typing=active",
        ":alice!~alice@127.0.0.1 TAGMSG #x",
    )
    .await;
    alice.send("@foo=bar TAGMSG #x").await;
    expect_msgid(&mut bob, ":alice!~alice@127.0.0.1 TAGMSG #x").await;
    alice.send("@+typing=paused TAGMSG bob").await;
    expect_tags_then(
        &mut bob,
        "+typing=paused",
        ":alice!~alice@127.0.0.1 TAGMSG bob",
    )
    .await;
    alice.send("@+typing=paused TAGMSG carol").await;
    alice.sync().await;
    carol.expect_quiet().await;

    // A client without message-tags can still send them (the server design accepts it).
    carol.send("@+typing=active TAGMSG #x").await;
    expect_tags_then(
        &mut alice,
        "+typing=active",
        ":carol!~carol@127.0.0.1 TAGMSG #x",
    )
    .await;
    expect_tags_then(
        &mut bob,
        "+typing=active",
        ":carol!~carol@127.0.0.1 TAGMSG #x",
    )
    .await;
    carol.send("@+typing=done PRIVMSG #x :from carol").await;
    expect_tags_then(
        &mut alice,
        "+typing=done",
        ":carol!~carol@127.0.0.1 PRIVMSG #x :from carol",
    )
    .await;
    expect_tags_then(
        &mut bob,
        "+typing=done",
        ":carol!~carol@127.0.0.1 PRIVMSG #x :from carol",
    )
    .await;
    // Nothing came back to carol, who has neither message-tags nor echo-message.
    carol.expect_quiet().await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

/// The next line must be `@msgid=…;client_tags rest`; returns the msgid.
async fn expect_tags_then(client: &mut IrcClient, client_tags: &str, rest: &str) -> String {
    let line = client.line().await;
    let id = parse(&line).tag("msgid").unwrap_or("").to_owned();
    assert!(!id.is_empty(), "{}: no msgid in {line:?}", client.nick);
    assert_eq!(
        line,
        format!("@msgid={id};{client_tags} {rest}"),
        "{} got an unexpected line",
        client.nick
    );
    id
}

/// IRCv3 message-tags: "Clients MUST NOT send messages with tag data exceeding 4094 bytes"
/// and "Servers MUST reply with the `ERR_INPUTTOOLONG` (`417`) error numeric if a client sends a
/// message with more tag data than the allowed limit."
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tag_data_is_limited_to_4094_bytes() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["message-tags"]).await;
    let mut bob = server.irc_with_caps("bob", &["message-tags"]).await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;

    // Exactly 4094 bytes of tag data: accepted and relayed intact.
    let value = "v".repeat(4094 - "+a=".len());
    alice
        .send(&format!("@+a={value} PRIVMSG #x :it fits"))
        .await;
    expect_tags_then(
        &mut bob,
        &format!("+a={value}"),
        ":alice!~alice@127.0.0.1 PRIVMSG #x :it fits",
    )
    .await;
    // One byte more: rejected.
    alice
        .send(&format!("@+a={value}v PRIVMSG #x :does not fit"))
        .await;
    alice.send("PING :after").await;
    alice
        .expect_raw(":palaver.local 417 alice :Input line was too long")
        .await;
    alice
        .expect_raw(":palaver.local PONG palaver.local after")
        .await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// echo-message

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_message_returns_the_senders_message_with_the_recipients_msgid() {
    let server = TestServer::start().await;
    let mut alice = server
        .irc_with_caps("alice", &["echo-message", "message-tags"])
        .await;
    let mut bob = server.irc_with_caps("bob", &["message-tags"]).await;
    let mut carol = server.irc("carol").await;
    let mut dave = server.irc_with_caps("dave", &["echo-message"]).await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;
    join_witnessed(&mut carol, "#x", &mut [&mut alice, &mut bob]).await;
    join_witnessed(&mut dave, "#x", &mut [&mut alice, &mut bob, &mut carol]).await;

    for (command, expected) in [
        (
            "PRIVMSG #x :echo me",
            ":alice!~alice@127.0.0.1 PRIVMSG #x :echo me",
        ),
        (
            "NOTICE #x :echo notice",
            ":alice!~alice@127.0.0.1 NOTICE #x :echo notice",
        ),
        (
            "PRIVMSG #x :\x01ACTION waves\x01",
            ":alice!~alice@127.0.0.1 PRIVMSG #x :\x01ACTION waves\x01",
        ),
    ] {
        alice.send(command).await;
        let id = expect_msgid(&mut alice, expected).await;
        assert_eq!(expect_msgid(&mut bob, expected).await, id, "{command}");
        carol.expect_raw(expected).await;
        dave.expect_raw(expected).await;
    }

    alice.send("PRIVMSG bob :private echo").await;
    let expected = ":alice!~alice@127.0.0.1 PRIVMSG bob :private echo";
    let id = expect_msgid(&mut alice, expected).await;
    assert_eq!(expect_msgid(&mut bob, expected).await, id);

    // TAGMSG is echoed to a message-tags sender, client tags included.
    alice.send("@+typing=active TAGMSG #x").await;
    let id = expect_tags_then(
        &mut alice,
        "+typing=active",
        ":alice!~alice@127.0.0.1 TAGMSG #x",
    )
    .await;
    assert_eq!(
        expect_tags_then(
            &mut bob,
            "+typing=active",
            ":alice!~alice@127.0.0.1 TAGMSG #x"
        )
        .await,
        id
    );

    // Echo without message-tags: the plain line.
    dave.send("PRIVMSG #x :dave here").await;
    dave.expect_raw(":dave!~dave@127.0.0.1 PRIVMSG #x :dave here")
        .await;
    let id = expect_msgid(&mut alice, ":dave!~dave@127.0.0.1 PRIVMSG #x :dave here").await;
    assert_eq!(
        expect_msgid(&mut bob, ":dave!~dave@127.0.0.1 PRIVMSG #x :dave here").await,
        id
    );
    carol
        .expect_raw(":dave!~dave@127.0.0.1 PRIVMSG #x :dave here")
        .await;

    // Without echo-message the sender gets nothing back.
    carol.send("PRIVMSG #x :no echo for me").await;
    carol.expect_quiet().await;
    let expected = ":carol!~carol@127.0.0.1 PRIVMSG #x :no echo for me";
    let id = expect_msgid(&mut alice, expected).await;
    assert_eq!(expect_msgid(&mut bob, expected).await, id);
    dave.expect_raw(expected).await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// labeled-response and batch

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_mark_single_replies_acks_and_batches() {
    let server = TestServer::start().await;
    let mut lab = server
        .irc_with_caps("lab", &["labeled-response", "batch"])
        .await;
    let mut bob = server.irc("bob").await;

    // One reply carries the label.
    lab.send("@label=p1 PING :tok").await;
    lab.expect_raw("@label=p1 :palaver.local PONG palaver.local tok")
        .await;
    // No reply at all: a labeled ACK.
    lab.send("@label=x PONG :y").await;
    lab.expect_raw("@label=x :palaver.local ACK").await;

    // Several replies: one labeled-response batch, every reply inside it.
    lab.send("@label=abc JOIN #x").await;
    let (first, replies) = expect_labeled_batch(&mut lab, "abc", 3).await;
    assert_eq!(
        replies,
        [
            ":lab!~lab@127.0.0.1 JOIN #x",
            ":palaver.local 353 lab = #x @lab",
            ":palaver.local 366 lab #x :End of /NAMES list",
        ]
    );

    // Events caused by others are neither labeled nor batched.
    join_witnessed(&mut bob, "#x", &mut [&mut lab]).await;

    lab.send("@label=w1 WHOIS bob").await;
    let (second, replies) = expect_labeled_batch(&mut lab, "w1", 5).await;
    assert_ne!(first, second, "batch references are unique per connection");
    assert_eq!(
        replies[0],
        ":palaver.local 311 lab bob ~bob 127.0.0.1 * :bob real name"
    );
    assert_eq!(replies[1], ":palaver.local 319 lab bob #x");
    assert_eq!(
        replies[2],
        ":palaver.local 312 lab bob palaver.local palaver"
    );
    assert!(
        replies[3].starts_with(":palaver.local 317 lab bob ")
            && replies[3].ends_with(" :seconds idle, signon time"),
        "{:?}",
        replies[3]
    );
    assert_eq!(replies[4], ":palaver.local 318 lab bob :End of /WHOIS list");

    // Errors carry the label.
    lab.send("@label=e1 PRIVMSG nobody :hi").await;
    lab.expect_raw("@label=e1 :palaver.local 401 lab nobody :No such nick")
        .await;
    // A message without echo-message produces no reply: ACK; the recipient's copy is unlabeled.
    lab.send("@label=m1 PRIVMSG #x :labeled hi").await;
    lab.expect_raw("@label=m1 :palaver.local ACK").await;
    bob.expect_raw(":lab!~lab@127.0.0.1 PRIVMSG #x :labeled hi")
        .await;
    // The actor's own copy of an event is its one reply.
    lab.send("@label=t1 TOPIC #x :labeled topic").await;
    lab.expect_raw("@label=t1 :lab!~lab@127.0.0.1 TOPIC #x :labeled topic")
        .await;
    bob.expect_raw(":lab!~lab@127.0.0.1 TOPIC #x :labeled topic")
        .await;
    // Unlabeled commands get plain replies.
    lab.send("PING :plain").await;
    lab.expect_raw(":palaver.local PONG palaver.local plain")
        .await;

    // Without labeled-response the label is ignored.
    bob.send("@label=q PING :t").await;
    bob.expect_raw(":palaver.local PONG palaver.local t").await;
    bob.send("@label=q2 PONG :t").await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labeled_echo_message_is_the_labeled_reply() {
    let server = TestServer::start().await;
    let mut echo = server
        .irc_with_caps(
            "echo",
            &["labeled-response", "batch", "echo-message", "message-tags"],
        )
        .await;
    let mut bob = server.irc_with_caps("bob", &["message-tags"]).await;
    join_witnessed(&mut echo, "#x", &mut []).await;
    join_witnessed(&mut bob, "#x", &mut [&mut echo]).await;

    echo.send("@label=m2 PRIVMSG #x :echoed back").await;
    let own = echo.line().await;
    let expected = ":echo!~echo@127.0.0.1 PRIVMSG #x :echoed back";
    let id = expect_msgid(&mut bob, expected).await;
    let mut own_tags = tags(&own);
    own_tags.sort();
    assert_eq!(
        own_tags,
        vec![pair("label", "m2"), pair("msgid", &id)],
        "{own:?}"
    );
    assert_eq!(untagged(&own), expected);

    echo.send("@label=m3 PRIVMSG bob :direct hello").await;
    let own = echo.line().await;
    let expected = ":echo!~echo@127.0.0.1 PRIVMSG bob :direct hello";
    let id = expect_msgid(&mut bob, expected).await;
    let mut own_tags = tags(&own);
    own_tags.sort();
    assert_eq!(
        own_tags,
        vec![pair("label", "m3"), pair("msgid", &id)],
        "{own:?}"
    );
    assert_eq!(untagged(&own), expected);

    // To an away user: RPL_AWAY and the echo, so a batch.
    bob.send("AWAY :out to lunch").await;
    bob.expect_raw(":palaver.local 306 bob :You have been marked as being away")
        .await;
    echo.send("@label=m4 PRIVMSG bob :are you there").await;
    let start = echo.line().await;
    assert_eq!(tags(&start), vec![pair("label", "m4")], "{start:?}");
    let reference = parse(&start).params[0].trim_start_matches('+').to_owned();
    assert_eq!(
        untagged(&start),
        format!(":palaver.local BATCH +{reference} labeled-response")
    );
    echo.expect_raw(&format!(
        "@batch={reference} :palaver.local 301 echo bob :out to lunch"
    ))
    .await;
    let expected = ":echo!~echo@127.0.0.1 PRIVMSG bob :are you there";
    let id = expect_msgid(&mut bob, expected).await;
    echo.expect_raw(&format!("@batch={reference};msgid={id} {expected}"))
        .await;
    echo.expect_raw(&format!(":palaver.local BATCH -{reference}"))
        .await;
    server.shut_down().await;
}

/// labeled-response requires batch; a client that enabled only labeled-response gets the label
/// on the first of several replies and no batch (the server's choice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_without_batch_mark_the_first_reply() {
    let server = TestServer::start().await;
    let mut nob = server.irc_with_caps("nob", &["labeled-response"]).await;
    nob.send("@label=j JOIN #y").await;
    nob.expect_raw("@label=j :nob!~nob@127.0.0.1 JOIN #y").await;
    nob.expect_raw(":palaver.local 353 nob = #y @nob").await;
    nob.expect_raw(":palaver.local 366 nob #y :End of /NAMES list")
        .await;
    nob.send("@label=k PING :one").await;
    nob.expect_raw("@label=k :palaver.local PONG palaver.local one")
        .await;
    server.shut_down().await;
}

/// A private message to oneself is delivered like any other (RFC 2812 PRIVMSG); with
/// echo-message the sender gets both copies, and labeled-response labels only the echo
/// ("When a client sends a message to itself, the server MUST NOT include the label tag,
/// except for any acknowledgment sent with the echo-message mechanism").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_to_oneself_is_delivered_and_only_the_echo_is_labeled() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    alice.send("PRIVMSG alice :note to self").await;
    alice
        .expect_raw(":alice!~alice@127.0.0.1 PRIVMSG alice :note to self")
        .await;
    alice.expect_quiet().await;

    let mut lab = server
        .irc_with_caps("lab", &["labeled-response", "batch", "echo-message"])
        .await;
    lab.send("@label=s1 PRIVMSG lab :note to self").await;
    let mut lines = vec![lab.line().await, lab.line().await];
    lines.sort();
    assert_eq!(
        lines,
        [
            ":lab!~lab@127.0.0.1 PRIVMSG lab :note to self",
            "@label=s1 :lab!~lab@127.0.0.1 PRIVMSG lab :note to self",
        ]
    );
    lab.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// multi-prefix and userhost-in-names

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_prefix_shows_every_prefix_in_names_and_who() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc_with_caps("bob", &["multi-prefix"]).await;
    let mut carol = server.irc("carol").await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    alice.send("MODE #x +v alice").await;
    alice
        .expect_raw(":alice!~alice@127.0.0.1 MODE #x +v alice")
        .await;

    bob.send("JOIN #x").await;
    bob.expect_raw(":bob!~bob@127.0.0.1 JOIN #x").await;
    bob.expect_raw(":palaver.local 353 bob = #x :@+alice bob")
        .await;
    bob.expect_raw(":palaver.local 366 bob #x :End of /NAMES list")
        .await;
    carol.send("JOIN #x").await;
    carol.expect_raw(":carol!~carol@127.0.0.1 JOIN #x").await;
    carol
        .expect_raw(":palaver.local 353 carol = #x :@alice bob carol")
        .await;
    carol
        .expect_raw(":palaver.local 366 carol #x :End of /NAMES list")
        .await;
    alice.skip_until(|m| m.command == "JOIN").await;
    alice.skip_until(|m| m.command == "JOIN").await;
    bob.skip_until(|m| m.command == "JOIN").await;

    bob.send("WHO #x").await;
    bob.expect_raw(
        ":palaver.local 352 bob #x ~alice 127.0.0.1 palaver.local alice H@+ :0 alice real name",
    )
    .await;
    bob.expect_raw(":palaver.local 352 bob #x ~bob 127.0.0.1 palaver.local bob H :0 bob real name")
        .await;
    bob.expect_raw(
        ":palaver.local 352 bob #x ~carol 127.0.0.1 palaver.local carol H :0 carol real name",
    )
    .await;
    bob.expect_raw(":palaver.local 315 bob #x :End of WHO list")
        .await;
    carol.send("WHO #x").await;
    carol
        .expect_raw(
            ":palaver.local 352 carol #x ~alice 127.0.0.1 palaver.local alice H@ :0 alice real name",
        )
        .await;
    carol.skip_until(|m| m.command == "315").await;

    // Voice alone is `+` for everyone; op and voice collapse to `@` without the cap.
    alice.send("MODE #x +v bob").await;
    alice
        .expect_raw(":alice!~alice@127.0.0.1 MODE #x +v bob")
        .await;
    bob.skip_until(|m| m.command == "MODE").await;
    carol.skip_until(|m| m.command == "MODE").await;
    bob.send("NAMES #x").await;
    bob.expect_raw(":palaver.local 353 bob = #x :@+alice +bob carol")
        .await;
    bob.expect_raw(":palaver.local 366 bob #x :End of /NAMES list")
        .await;
    carol.send("NAMES #x").await;
    carol
        .expect_raw(":palaver.local 353 carol = #x :@alice +bob carol")
        .await;
    carol
        .expect_raw(":palaver.local 366 carol #x :End of /NAMES list")
        .await;

    alice.send("MODE #x -o alice").await;
    alice
        .expect_raw(":alice!~alice@127.0.0.1 MODE #x -o alice")
        .await;
    bob.skip_until(|m| m.command == "MODE").await;
    bob.send("NAMES #x").await;
    bob.expect_raw(":palaver.local 353 bob = #x :+alice +bob carol")
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userhost_in_names_lists_full_masks() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc_with_caps("carol", &["userhost-in-names"]).await;
    let mut dave = server
        .irc_with_caps("dave", &["userhost-in-names", "multi-prefix"])
        .await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;
    alice.send("MODE #x +v alice").await;
    alice
        .expect_raw(":alice!~alice@127.0.0.1 MODE #x +v alice")
        .await;
    bob.expect_raw(":alice!~alice@127.0.0.1 MODE #x +v alice")
        .await;

    carol.send("JOIN #x").await;
    carol.expect_command("JOIN").await;
    carol
        .expect_raw(
            ":palaver.local 353 carol = #x :@alice!~alice@127.0.0.1 bob!~bob@127.0.0.1 carol!~carol@127.0.0.1",
        )
        .await;
    carol
        .expect_raw(":palaver.local 366 carol #x :End of /NAMES list")
        .await;
    dave.send("NAMES #x").await;
    dave
        .expect_raw(
            ":palaver.local 353 dave = #x :@+alice!~alice@127.0.0.1 bob!~bob@127.0.0.1 carol!~carol@127.0.0.1",
        )
        .await;
    dave.expect_raw(":palaver.local 366 dave #x :End of /NAMES list")
        .await;
    // Without the cap: nicks only.
    bob.skip_until(|m| m.command == "JOIN").await;
    bob.send("NAMES #x").await;
    bob.expect_raw(":palaver.local 353 bob = #x :@alice bob carol")
        .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// away-notify

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn away_notify_tells_channel_peers_with_the_cap() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["away-notify"]).await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc("carol").await;
    let mut dave = server.irc_with_caps("dave", &["away-notify"]).await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;
    join_witnessed(&mut carol, "#x", &mut [&mut alice, &mut bob]).await;
    // alice shares two channels with bob, but hears of his away state once.
    join_witnessed(&mut alice, "#y", &mut []).await;
    join_witnessed(&mut bob, "#y", &mut [&mut alice]).await;
    // dave has the cap but shares no channel with bob.
    join_witnessed(&mut dave, "#z", &mut []).await;

    bob.send("AWAY :gone fishing").await;
    bob.expect_raw(":palaver.local 306 bob :You have been marked as being away")
        .await;
    alice
        .expect_raw(":bob!~bob@127.0.0.1 AWAY :gone fishing")
        .await;
    bob.send("AWAY").await;
    bob.expect_raw(":palaver.local 305 bob :You are no longer marked as being away")
        .await;
    alice.expect_raw(":bob!~bob@127.0.0.1 AWAY").await;
    bob.expect_quiet().await;
    alice.expect_quiet().await;
    carol.expect_quiet().await;
    dave.expect_quiet().await;

    // A cap holder's own away change is not echoed to it.
    alice.send("AWAY :brb").await;
    alice
        .expect_raw(":palaver.local 306 alice :You have been marked as being away")
        .await;
    alice.expect_quiet().await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

/// away-notify: clients are sent an AWAY message "when a user sharing a channel with them
/// sets, changes or removes their away state, as well as when a user joins and has an away
/// message set".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn away_notify_announces_a_user_who_joins_while_away() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["away-notify"]).await;
    let mut bob = server.irc("bob").await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    bob.send("AWAY :gone fishing").await;
    bob.expect_command("306").await;
    alice.expect_quiet().await;

    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;
    // The join is complete (bob has his 366), so the AWAY must come before this PING's PONG.
    alice.send("PING :after").await;
    alice
        .expect_raw(":bob!~bob@127.0.0.1 AWAY :gone fishing")
        .await;
    alice
        .expect_raw(":palaver.local PONG palaver.local after")
        .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// extended-join

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_join_adds_account_and_realname_for_cap_holders() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["extended-join"]).await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc_with_caps("carol", &["extended-join"]).await;

    alice.send("JOIN #x").await;
    alice
        .expect_raw(":alice!~alice@127.0.0.1 JOIN #x * :alice real name")
        .await;
    alice.skip_until(|m| m.command == "366").await;

    bob.send("JOIN #x").await;
    bob.expect_raw(":bob!~bob@127.0.0.1 JOIN #x").await;
    bob.skip_until(|m| m.command == "366").await;
    alice
        .expect_raw(":bob!~bob@127.0.0.1 JOIN #x * :bob real name")
        .await;

    // The same join, both ways.
    carol.send("JOIN #x").await;
    carol
        .expect_raw(":carol!~carol@127.0.0.1 JOIN #x * :carol real name")
        .await;
    alice
        .expect_raw(":carol!~carol@127.0.0.1 JOIN #x * :carol real name")
        .await;
    bob.expect_raw(":carol!~carol@127.0.0.1 JOIN #x").await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// setname

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setname_changes_the_realname_and_tells_cap_holders() {
    let server = TestServer::start().await;
    let mut alice = server
        .irc_with_caps("alice", &["setname", "standard-replies"])
        .await;
    let mut bob = server.irc_with_caps("bob", &["setname"]).await;
    let mut carol = server.irc("carol").await;
    let mut dave = server.irc_with_caps("dave", &["setname"]).await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;
    join_witnessed(&mut carol, "#x", &mut [&mut alice, &mut bob]).await;
    join_witnessed(&mut dave, "#elsewhere", &mut []).await;

    alice.send("SETNAME :New Name").await;
    alice
        .expect_raw(":alice!~alice@127.0.0.1 SETNAME :New Name")
        .await;
    bob.expect_raw(":alice!~alice@127.0.0.1 SETNAME :New Name")
        .await;
    alice.sync().await;
    carol.expect_quiet().await;
    dave.expect_quiet().await;

    carol.send("WHOIS alice").await;
    carol
        .expect_raw(":palaver.local 311 carol alice ~alice 127.0.0.1 * :New Name")
        .await;
    carol.skip_until(|m| m.command == "318").await;
    carol.send("WHO alice").await;
    carol
        .expect_raw(":palaver.local 352 carol * ~alice 127.0.0.1 palaver.local alice H :0 New Name")
        .await;
    carol.skip_until(|m| m.command == "315").await;

    // Without the cap the change still happens, silently for the sender.
    carol.send("SETNAME Carol").await;
    carol.expect_quiet().await;
    alice
        .expect_raw(":carol!~carol@127.0.0.1 SETNAME Carol")
        .await;
    bob.expect_raw(":carol!~carol@127.0.0.1 SETNAME Carol")
        .await;

    // The limit is 100 bytes.
    let longest = "é".repeat(50);
    alice.send(&format!("SETNAME :{longest}")).await;
    alice
        .expect_raw(&format!(":alice!~alice@127.0.0.1 SETNAME {longest}"))
        .await;
    bob.expect_raw(&format!(":alice!~alice@127.0.0.1 SETNAME {longest}"))
        .await;
    alice.send(&format!("SETNAME :{longest}x")).await;
    alice
        .expect_raw(":palaver.local FAIL SETNAME INVALID_REALNAME :Realname is not valid")
        .await;
    alice.send("SETNAME :").await;
    alice
        .expect_raw(":palaver.local FAIL SETNAME INVALID_REALNAME :Realname is not valid")
        .await;
    alice.send("SETNAME").await;
    alice
        .expect_raw(":palaver.local 461 alice SETNAME :Not enough parameters")
        .await;
    // IRCv3 setname defines the failure as a `FAIL`: the same without standard-replies.
    bob.send("SETNAME :").await;
    bob.expect_raw(":palaver.local FAIL SETNAME INVALID_REALNAME :Realname is not valid")
        .await;
    bob.expect_quiet().await;
    carol.send("WHOIS alice").await;
    carol
        .expect_raw(&format!(
            ":palaver.local 311 carol alice ~alice 127.0.0.1 * {longest}"
        ))
        .await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// invite-notify

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_notify_tells_channel_operators_with_the_cap() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["invite-notify"]).await;
    let mut bob = server.irc_with_caps("bob", &["invite-notify"]).await;
    let mut carol = server.irc("carol").await;
    let mut dave = server.irc_with_caps("dave", &["invite-notify"]).await;
    let mut erin = server.irc("erin").await;
    let mut frank = server.irc_with_caps("frank", &["invite-notify"]).await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;
    join_witnessed(&mut carol, "#x", &mut [&mut alice, &mut bob]).await;
    join_witnessed(&mut dave, "#x", &mut [&mut alice, &mut bob, &mut carol]).await;
    alice.send("MODE #x +oo carol dave").await;
    let mode = ":alice!~alice@127.0.0.1 MODE #x +oo carol dave";
    for client in [&mut alice, &mut bob, &mut carol, &mut dave] {
        client.expect_raw(mode).await;
    }

    // bob (no op) invites erin: erin and the operators with the cap (alice, dave) see it;
    // carol (op, no cap) does not, nor does bob beyond his 341.
    bob.send("INVITE erin #x").await;
    bob.expect_raw(":palaver.local 341 bob erin #x").await;
    erin.expect_raw(":bob!~bob@127.0.0.1 INVITE erin #x").await;
    alice.expect_raw(":bob!~bob@127.0.0.1 INVITE erin #x").await;
    dave.expect_raw(":bob!~bob@127.0.0.1 INVITE erin #x").await;
    carol.expect_quiet().await;
    bob.expect_quiet().await;

    // alice (op) invites frank: dave sees it; alice only gets her 341; bob, a member with
    // the cap but no operator, is not told (the server's choice).
    alice.send("INVITE frank #x").await;
    alice.expect_raw(":palaver.local 341 alice frank #x").await;
    frank
        .expect_raw(":alice!~alice@127.0.0.1 INVITE frank #x")
        .await;
    dave.expect_raw(":alice!~alice@127.0.0.1 INVITE frank #x")
        .await;
    alice.expect_quiet().await;
    bob.expect_quiet().await;
    carol.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// standard-replies

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_replies_turn_rejections_into_fail_lines() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["standard-replies"]).await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc("carol").await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;
    join_witnessed(&mut carol, "#x", &mut [&mut alice, &mut bob]).await;

    // IRCv3 utf8-only defines INVALID_UTF8 as a `FAIL`: bob gets it without the capability.
    alice.send_raw(b"PRIVMSG #x :caf\xc3\r\n").await;
    alice
        .expect_raw(
            ":palaver.local FAIL PRIVMSG INVALID_UTF8 :Message rejected: this server only \
             accepts UTF-8",
        )
        .await;
    bob.send_raw(b"PRIVMSG #x :\xff\xfe\r\n").await;
    bob.expect_raw(
        ":palaver.local FAIL PRIVMSG INVALID_UTF8 :Message rejected: this server only accepts \
         UTF-8",
    )
    .await;
    alice.send_raw(b"PRIVMSG #x :a\0b\r\n").await;
    alice
        .expect_raw(
            ":palaver.local FAIL * INVALID_MESSAGE :Message rejected: it contains a NUL, CR or LF character",
        )
        .await;
    // The connections stay usable, and nothing was delivered.
    alice.send("PRIVMSG #x :still here").await;
    carol
        .expect_raw(":alice!~alice@127.0.0.1 PRIVMSG #x :still here")
        .await;
    bob.expect_raw(":alice!~alice@127.0.0.1 PRIVMSG #x :still here")
        .await;
    carol.expect_quiet().await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// account-notify

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_notify_is_accepted_but_sends_nothing_without_accounts() {
    let server = TestServer::start().await;
    let mut alice = server
        .irc_with_caps("alice", &["account-notify", "extended-join"])
        .await;
    alice.send("CAP LIST").await;
    alice
        .expect_raw(":palaver.local CAP alice LIST :account-notify cap-notify extended-join")
        .await;
    let mut bob = server.irc("bob").await;
    join_witnessed(&mut alice, "#x", &mut []).await;
    bob.send("JOIN #x").await;
    bob.skip_until(|m| m.command == "366").await;
    // Not logged in: `*` as the account, and no ACCOUNT line after the join.
    alice
        .expect_raw(":bob!~bob@127.0.0.1 JOIN #x * :bob real name")
        .await;
    bob.send("NICK robert").await;
    bob.expect_raw(":bob!~bob@127.0.0.1 NICK robert").await;
    alice.expect_raw(":bob!~bob@127.0.0.1 NICK robert").await;
    bob.send("PRIVMSG #x :hello").await;
    alice
        .expect_raw(":robert!~bob@127.0.0.1 PRIVMSG #x hello")
        .await;
    alice.expect_quiet().await;
    server.shut_down().await;
}
