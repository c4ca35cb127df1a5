//! Message history against a real server over real sockets, with a real SQLite store: the
//! text protocol's replay on join and `/history`, IRC's `draft/chathistory` and replay on join,
//! history across protocols, privacy of private messages, the ordering of receipts and echoes
//! behind their commits, retention, and history surviving a restart.
//!
//! Replayed lines are compared byte for byte with the lines the same kind of client got when
//! the message was live: a replay carries the original time (and msgid), not a new one.

mod support;

use palaver_server::config::Overrides;
use support::{Client, IrcClient, TestServer, irc_mask, join_witnessed, parse, untagged, untimed};

/// Everything a history-reading IRC client asks for in these tests.
const HISTORY_CAPS: &[&str] = &[
    "batch",
    "draft/chathistory",
    "echo-message",
    "message-tags",
    "server-time",
    "standard-replies",
];

/// A TARGETS window that holds every message these tests send.
const ALL_TIME: &str = "timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z";

// ---------------------------------------------------------------------------------------------
// Helpers

/// A text user named `nick` who has left the lobby, so it is in no room and sees nothing of
/// later connections.
async fn text_user(server: &TestServer, nick: &str) -> Client {
    let mut client = Client::named(server.address, nick).await;
    client.send("/part #lobby").await;
    client.expect(&format!("-- {nick} left #lobby")).await;
    client
}

/// Joins `room` and reads the own join line; whatever follows is the caller's to check.
async fn text_join(client: &mut Client, room: &str) {
    client.send(&format!("/join {room}")).await;
    let joined = format!("-- {} joined {room}", client.nick);
    client.expect(&joined).await;
}

/// Says every text in `room` (the client's current room) in one write and returns the receipts
/// exactly as sent, after checking their content.
async fn say_all(client: &mut Client, room: &str, texts: &[&str]) -> Vec<String> {
    let mut bytes = Vec::new();
    for text in texts {
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
    }
    client.send_raw(&bytes).await;
    let mut receipts = Vec::new();
    for text in texts {
        let receipt = client.raw_line().await;
        assert_eq!(
            untimed(&receipt),
            format!("{room} <{}> {text}", client.nick),
            "{} expected its receipt",
            client.nick
        );
        receipts.push(receipt);
    }
    receipts
}

/// Reads a text replay: `-- history`, exactly `lines` (stamps included), `-- end of history`.
async fn expect_replay(client: &mut Client, lines: &[String]) {
    client.expect("-- history").await;
    for expected in lines {
        let line = client.raw_line().await;
        assert_eq!(
            &line, expected,
            "{} got an unexpected replayed line",
            client.nick
        );
    }
    client.expect("-- end of history").await;
}

/// `text` as the last parameter of an IRC line: with a ':' only where one is needed.
fn trailing(text: &str) -> String {
    if text.is_empty() || text.contains(' ') || text.starts_with(':') {
        format!(":{text}")
    } else {
        text.to_owned()
    }
}

/// Sends `COMMAND target :text` for every text in one write and reads the echoes (the client
/// has echo-message), checking them; returns the echo lines, tags included.
async fn send_all(
    client: &mut IrcClient,
    command: &str,
    target: &str,
    texts: &[&str],
) -> Vec<String> {
    let mut bytes = Vec::new();
    for text in texts {
        bytes.extend_from_slice(format!("{command} {target} :{text}\r\n").as_bytes());
    }
    client.send_raw(&bytes).await;
    let mut echoes = Vec::new();
    for text in texts {
        let echo = client.line().await;
        assert_eq!(
            untagged(&echo),
            format!(
                ":{} {command} {target} {}",
                irc_mask(&client.nick),
                trailing(text)
            ),
            "{} expected its echo",
            client.nick
        );
        echoes.push(echo);
    }
    echoes
}

/// [`send_all`] for `PRIVMSG`.
async fn privmsg_all(client: &mut IrcClient, target: &str, texts: &[&str]) -> Vec<String> {
    send_all(client, "PRIVMSG", target, texts).await
}

/// `live` (a line as sent live) as it appears inside history batch `reference`.
fn batched(reference: &str, live: &str) -> String {
    match live.strip_prefix('@') {
        Some(tagged) => format!("@batch={reference};{tagged}"),
        None => format!("@batch={reference} {live}"),
    }
}

/// The inverse of [`batched`]: panics unless `line` starts with the `batch=reference` tag.
fn unbatched(reference: &str, line: &str) -> String {
    let tag = format!("@batch={reference}");
    let rest = line
        .strip_prefix(&tag)
        .unwrap_or_else(|| panic!("{line:?} is not tagged batch={reference} first"));
    if let Some(tags) = rest.strip_prefix(';') {
        format!("@{tags}")
    } else if let Some(plain) = rest.strip_prefix(' ') {
        plain.to_owned()
    } else {
        panic!("{line:?} is not tagged batch={reference} first")
    }
}

/// Reads a `chathistory` batch for `target`: returns its reference and its lines with their
/// `batch` tag removed (which every one of them must carry first).
async fn history_batch(client: &mut IrcClient, target: &str) -> (String, Vec<String>) {
    let opening = client.line().await;
    let rest = opening
        .strip_prefix(":palaver.local BATCH +")
        .unwrap_or_else(|| panic!("{}: expected a history batch, got {opening:?}", client.nick));
    let (reference, kind) = rest
        .split_once(' ')
        .unwrap_or_else(|| panic!("batch type missing: {opening:?}"));
    assert_eq!(kind, format!("chathistory {target}"), "{opening:?}");
    let reference = reference.to_owned();
    let closing = format!(":palaver.local BATCH -{reference}");
    let mut lines = Vec::new();
    loop {
        let line = client.line().await;
        if line == closing {
            return (reference, lines);
        }
        lines.push(unbatched(&reference, &line));
    }
}

/// Sends `CHATHISTORY arguments` (a subcommand with a target) and returns the batch's lines
/// without their batch tag.
async fn chathistory(client: &mut IrcClient, arguments: &str) -> Vec<String> {
    client.send(&format!("CHATHISTORY {arguments}")).await;
    let target = arguments.split(' ').nth(1).expect("a target");
    history_batch(client, target).await.1
}

/// The value of tag `key` on `line`.
fn tag(line: &str, key: &str) -> String {
    parse(line)
        .tag(key)
        .unwrap_or_else(|| panic!("no {key} tag on {line:?}"))
        .to_owned()
}

/// A `msgid=` reference to the message `line` carries.
fn msgid_ref(line: &str) -> String {
    format!("msgid={}", tag(line, "msgid"))
}

/// A `timestamp=` reference to the time of the message `line` carries.
fn time_ref(line: &str) -> String {
    format!("timestamp={}", tag(line, "time"))
}

/// A database file in `directory`, and overrides that use it.
fn on_file(directory: &tempfile::TempDir) -> Overrides {
    let path = directory.path().join("history.db");
    Overrides {
        database: Some(path.to_string_lossy().into_owned()),
        ..Overrides::default()
    }
}

/// An IRC client with [`HISTORY_CAPS`] that has joined `room` (alone or unnoticed).
async fn history_client(server: &TestServer, nick: &str, room: &str) -> IrcClient {
    let mut client = server.irc_with_caps(nick, HISTORY_CAPS).await;
    client.join(room).await;
    client
}

// ---------------------------------------------------------------------------------------------
// Text protocol: replay on join

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_room_replays_its_history_with_the_original_lines() {
    let server = TestServer::start().await;
    let mut alice = text_user(&server, "alice").await;
    // A room without history: the join line and nothing else, not even an empty frame.
    text_join(&mut alice, "#rust").await;
    alice.expect_quiet().await;

    let mut receipts = say_all(&mut alice, "#rust", &["hi all", "is anyone here?"]).await;
    alice.send("/me waves").await;
    let action = alice.raw_line().await;
    assert_eq!(untimed(&action), "#rust * alice waves");
    receipts.push(action);

    let mut bob = text_user(&server, "bob").await;
    bob.send("/join #rust").await;
    bob.expect("-- bob joined #rust").await;
    // The very bytes alice got as receipts: the original time stamps, not the time of the join.
    expect_replay(&mut bob, &receipts).await;
    bob.expect_quiet().await;
    alice.expect("-- bob joined #rust").await;
    alice.expect_quiet().await;

    // The topic comes between the join line and the history.
    alice.send("/topic #rust all about rust").await;
    alice
        .expect("-- alice changed the topic of #rust to: all about rust")
        .await;
    bob.expect("-- alice changed the topic of #rust to: all about rust")
        .await;
    let mut carol = text_user(&server, "carol").await;
    carol.send("/join #rust").await;
    carol.expect("-- carol joined #rust").await;
    carol.expect("-- topic of #rust: all about rust").await;
    expect_replay(&mut carol, &receipts).await;
    carol.expect_quiet().await;

    // A room named in another case is the same room, with the same history.
    let mut dave = text_user(&server, "dave").await;
    dave.send("/join #RUST").await;
    dave.expect("-- dave joined #rust").await;
    dave.expect("-- topic of #rust: all about rust").await;
    expect_replay(&mut dave, &receipts).await;
    dave.expect_quiet().await;

    // Rejoining a room one is in just makes it current, without a replay.
    dave.send("/join #rust").await;
    dave.expect("-- now talking in #rust").await;
    dave.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_replays_only_the_last_20_messages_by_default() {
    let server = TestServer::start().await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#busy").await;
    let texts: Vec<String> = (1..=22).map(|n| format!("message {n}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let receipts = say_all(&mut alice, "#busy", &texts).await;

    let mut bob = text_user(&server, "bob").await;
    text_join(&mut bob, "#busy").await;
    expect_replay(&mut bob, &receipts[2..]).await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_on_join_sets_how_many_messages_a_join_replays() {
    let server =
        TestServer::start_with_config("[text]\nhistory_on_join = 3\n", Overrides::default()).await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#few").await;
    let receipts = say_all(&mut alice, "#few", &["one", "two", "three", "four", "five"]).await;

    let mut bob = text_user(&server, "bob").await;
    text_join(&mut bob, "#few").await;
    expect_replay(&mut bob, &receipts[2..]).await;
    bob.expect_quiet().await;

    // Fewer messages than the setting: all of them.
    let mut carol = text_user(&server, "carol").await;
    text_join(&mut carol, "#other").await;
    let other = say_all(&mut carol, "#other", &["only one"]).await;
    bob.send("/join #other").await;
    bob.expect("-- bob joined #other").await;
    expect_replay(&mut bob, &other).await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_on_join_0_disables_the_replay() {
    let server =
        TestServer::start_with_config("[text]\nhistory_on_join = 0\n", Overrides::default()).await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#quiet").await;
    let receipts = say_all(&mut alice, "#quiet", &["one", "two"]).await;

    let mut bob = text_user(&server, "bob").await;
    text_join(&mut bob, "#quiet").await;
    bob.expect_quiet().await;
    alice.expect("-- bob joined #quiet").await;

    // The history is still there for /history.
    bob.send("/history 5").await;
    expect_replay(&mut bob, &receipts).await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_messages_actions_and_notices_replay_in_text_form() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina").await;
    text_join(&mut tina, "#mixed").await;
    let mut ian = server.irc("ian").await;
    ian.join("#mixed").await;
    tina.expect("-- ian joined #mixed").await;

    ian.send("PRIVMSG #mixed :hello from irc").await;
    ian.send("PRIVMSG #mixed :\x01ACTION waves\x01").await;
    ian.send("NOTICE #mixed :heads up").await;
    let mut live = Vec::new();
    for expected in [
        "#mixed <ian> hello from irc",
        "#mixed * ian waves",
        "#mixed -ian- heads up",
    ] {
        let line = tina.raw_line().await;
        assert_eq!(untimed(&line), expected);
        live.push(line);
    }
    // A PONG after the messages means they are committed (replies wait for earlier commits).
    ian.expect_quiet().await;
    let mine = say_all(&mut tina, "#mixed", &["and one from text"]).await;
    ian.expect_raw(":tina!text@127.0.0.1 PRIVMSG #mixed :and one from text")
        .await;
    live.extend(mine);

    let mut tom = text_user(&server, "tom").await;
    text_join(&mut tom, "#mixed").await;
    expect_replay(&mut tom, &live).await;
    tom.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Text protocol: /history

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_command_shows_the_last_n_messages_of_the_current_room() {
    let server = TestServer::start().await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#log").await;
    let texts: Vec<String> = (1..=22).map(|n| format!("line {n}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let receipts = say_all(&mut alice, "#log", &texts).await;

    // Default 20.
    alice.send("/history").await;
    expect_replay(&mut alice, &receipts[2..]).await;
    alice.send("/history 1").await;
    expect_replay(&mut alice, &receipts[21..]).await;
    alice.send("/history 5").await;
    expect_replay(&mut alice, &receipts[17..]).await;
    // More than there is: all of it. The command name is case-insensitive.
    alice.send("/HISTORY 100").await;
    expect_replay(&mut alice, &receipts).await;
    alice.expect_quiet().await;

    // The current room decides: another room has its own history.
    text_join(&mut alice, "#other").await;
    let other = say_all(&mut alice, "#other", &["elsewhere"]).await;
    alice.send("/history").await;
    expect_replay(&mut alice, &other).await;
    alice.send("/join #log").await;
    alice.expect("-- now talking in #log").await;
    alice.send("/history 2").await;
    expect_replay(&mut alice, &receipts[20..]).await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_command_says_so_for_a_room_without_history() {
    let server = TestServer::start().await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#empty").await;
    alice.send("/history").await;
    alice.expect("-- #empty has no history").await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_command_shows_at_most_500_messages() {
    let server = TestServer::start().await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#huge").await;
    let texts: Vec<String> = (1..=505).map(|n| format!("n{n}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let receipts = say_all(&mut alice, "#huge", &texts).await;
    alice.send("/history 1000").await;
    expect_replay(&mut alice, &receipts[5..]).await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_command_errors() {
    let server = TestServer::start().await;
    let mut alice = text_user(&server, "alice").await;
    // text_user left the lobby: no room at all.
    alice.send("/history").await;
    alice.expect("! you are not in any room").await;
    alice.send("/history 3").await;
    alice.expect("! you are not in any room").await;

    text_join(&mut alice, "#r").await;
    for bad in [
        "/history 0",
        "/history -1",
        "/history lots",
        "/history 2 3",
        "/history 1.5",
    ] {
        alice.send(bad).await;
        alice.expect("! usage: /history [N]").await;
    }
    // After leaving the last room again.
    alice.send("/part").await;
    alice.expect("-- alice left #r").await;
    alice.send("/history").await;
    alice.expect("! you are not in any room").await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

/// With `config`, 22 messages, then a bare `/history`: per `docs/PROTOCOL.md` and `/help`
/// ("/history [N] … (default 20)") the last 20, whatever the replay on join is set to.
async fn bare_history_shows_20_with(config: &str) {
    let server = TestServer::start_with_config(config, Overrides::default()).await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#r").await;
    let texts: Vec<String> = (1..=22).map(|n| format!("m{n}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let receipts = say_all(&mut alice, "#r", &texts).await;
    alice.send("/history").await;
    expect_replay(&mut alice, &receipts[2..]).await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_command_defaults_to_20_when_the_replay_on_join_is_off() {
    bare_history_shows_20_with("[text]\nhistory_on_join = 0\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_command_defaults_to_20_when_the_replay_on_join_is_shorter() {
    bare_history_shows_20_with("[text]\nhistory_on_join = 3\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_keeps_the_nick_a_message_was_sent_under() {
    let server = TestServer::start().await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#r").await;
    let receipts = say_all(&mut alice, "#r", &["said as alice"]).await;
    alice.rename("alicia").await;
    let mut bob = text_user(&server, "bob").await;
    text_join(&mut bob, "#r").await;
    expect_replay(&mut bob, &receipts).await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Across protocols

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_message_is_in_irc_chathistory_with_its_live_tags() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina").await;
    text_join(&mut tina, "#x").await;
    let mut ian = history_client(&server, "ian", "#x").await;
    tina.expect("-- ian joined #x").await;

    say_all(&mut tina, "#x", &["hello from text"]).await;
    tina.send("/me nods").await;
    tina.expect("#x * tina nods").await;
    let live = [ian.line().await, ian.line().await];
    assert_eq!(
        untagged(&live[0]),
        ":tina!text@127.0.0.1 PRIVMSG #x :hello from text"
    );
    assert_eq!(
        untagged(&live[1]),
        ":tina!text@127.0.0.1 PRIVMSG #x :\x01ACTION nods\x01"
    );

    ian.send("CHATHISTORY LATEST #x * 10").await;
    ian.expect_raw(":palaver.local BATCH +H1 chathistory #x")
        .await;
    ian.expect_raw(&batched("H1", &live[0])).await;
    ian.expect_raw(&batched("H1", &live[1])).await;
    ian.expect_raw(":palaver.local BATCH -H1").await;
    ian.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_text_message_is_replayed_to_irc_split_like_a_live_one() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina").await;
    text_join(&mut tina, "#long").await;
    let mut ian = history_client(&server, "ian", "#long").await;
    tina.expect("-- ian joined #long").await;

    // 1500 bytes, with two-byte characters so that splits must respect boundaries.
    let text: String = "héllo wörld ".repeat(107);
    assert!(text.len() > 1400);
    say_all(&mut tina, "#long", &[&text]).await;
    let mut live = Vec::new();
    let mut joined = String::new();
    while joined.len() < text.len() {
        let line = ian.line().await;
        let message = parse(&line);
        assert_eq!(message.command, "PRIVMSG", "{line:?}");
        joined.push_str(&message.params[1]);
        live.push(line);
    }
    assert_eq!(joined, text);
    assert!(live.len() >= 3, "split into {} lines", live.len());
    let first_id = tag(&live[0], "msgid");
    for (index, line) in live.iter().enumerate().skip(1) {
        assert_eq!(tag(line, "msgid"), format!("{first_id}-{}", index + 1));
    }

    assert_eq!(chathistory(&mut ian, "LATEST #long * 10").await, live);
    // One stored message, however many lines it takes.
    assert_eq!(chathistory(&mut ian, "LATEST #long * 1").await, live);
    // The msgid of a later part (`id-2`) is a valid reference: it stands where the whole
    // message does, so a client that last saw it can fill the gap after it.
    say_all(&mut tina, "#long", &["after the long one"]).await;
    let next = ian.line().await;
    let after_part =
        chathistory(&mut ian, &format!("AFTER #long {} 10", msgid_ref(&live[1]))).await;
    assert_eq!(after_part, vec![next]);
    ian.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Private messages

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_messages_are_never_replayed_on_join() {
    let server = TestServer::start().await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#room").await;
    let mut bob = text_user(&server, "bob").await;
    text_join(&mut bob, "#room").await;
    alice.expect("-- bob joined #room").await;
    let mut ian = server.irc("ian").await;
    ian.join("#room").await;
    alice.expect("-- ian joined #room").await;
    bob.expect("-- ian joined #room").await;

    alice.send("/msg bob psst").await;
    alice.expect("-> *bob* psst").await;
    bob.expect("*alice* psst").await;
    ian.send("PRIVMSG alice :secret too").await;
    alice.expect("*ian* secret too").await;
    ian.send("NOTICE bob :private notice").await;
    bob.expect("*ian* -ian- private notice").await;
    ian.expect_quiet().await;
    let public = say_all(&mut alice, "#room", &["public"]).await;
    bob.expect("#room <alice> public").await;
    ian.expect_raw(":alice!text@127.0.0.1 PRIVMSG #room public")
        .await;

    let mut carol = text_user(&server, "carol").await;
    text_join(&mut carol, "#room").await;
    expect_replay(&mut carol, &public).await;
    carol.expect_quiet().await;
    // Nor by /history, not even to the parties themselves.
    bob.expect("-- carol joined #room").await;
    bob.send("/history").await;
    bob.expect("-- history").await;
    bob.expect("#room <alice> public").await;
    bob.expect("-- end of history").await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_conversation_is_in_chathistory_for_its_two_parties_only() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("Alice", HISTORY_CAPS).await;
    let mut bob = server.irc_with_caps("bob", HISTORY_CAPS).await;
    let mut carol = server.irc_with_caps("carol", HISTORY_CAPS).await;

    let mut conversation = Vec::new();
    for (from, to, text) in [
        ("alice", "bob", "hi bob"),
        ("bob", "Alice", "hi alice"),
        ("alice", "BOB", "bye now"),
    ] {
        let (sender, recipient) = if from == "alice" {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        sender.send(&format!("PRIVMSG {to} :{text}")).await;
        // The echo and the recipient's copy are the very same line, tags included, naming
        // the recipient by its own nick whatever case the sender wrote.
        let echo = sender.line().await;
        let received = recipient.line().await;
        assert_eq!(echo, received);
        assert_eq!(
            untagged(&received),
            format!(
                ":{} PRIVMSG {} :{text}",
                irc_mask(&sender.nick),
                recipient.nick
            )
        );
        conversation.push(received);
    }

    // Both parties, both directions, any case.
    assert_eq!(
        chathistory(&mut alice, "LATEST bob * 10").await,
        conversation
    );
    assert_eq!(
        chathistory(&mut alice, "LATEST BOB * 10").await,
        conversation
    );
    assert_eq!(
        chathistory(&mut bob, "LATEST alice * 10").await,
        conversation
    );
    assert_eq!(
        chathistory(&mut bob, "LATEST ALICE * 2").await,
        conversation[1..]
    );

    // A third party sees nothing of it, by either name.
    carol.send("CHATHISTORY LATEST alice * 10").await;
    carol
        .expect_raw(":palaver.local BATCH +H1 chathistory alice")
        .await;
    carol.expect_raw(":palaver.local BATCH -H1").await;
    carol.send("CHATHISTORY LATEST bob * 10").await;
    carol
        .expect_raw(":palaver.local BATCH +H2 chathistory bob")
        .await;
    carol.expect_raw(":palaver.local BATCH -H2").await;
    carol
        .send("CHATHISTORY BEFORE bob timestamp=2100-01-01T00:00:00.000Z 10")
        .await;
    carol
        .expect_raw(":palaver.local BATCH +H3 chathistory bob")
        .await;
    carol.expect_raw(":palaver.local BATCH -H3").await;
    carol
        .send(&format!("CHATHISTORY TARGETS {ALL_TIME} 10"))
        .await;
    carol
        .expect_raw(":palaver.local BATCH +H4 draft/chathistory-targets")
        .await;
    carol.expect_raw(":palaver.local BATCH -H4").await;
    carol.expect_quiet().await;

    // Nor does a text user joining anything get it.
    let mut tina = text_user(&server, "tina").await;
    text_join(&mut tina, "#lobby").await;
    tina.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_users_private_messages_are_in_the_irc_partys_chathistory() {
    let server = TestServer::start().await;
    let mut tina = text_user(&server, "tina").await;
    let mut ian = server.irc_with_caps("ian", HISTORY_CAPS).await;
    tina.send("/msg ian hello ian").await;
    tina.expect("-> *ian* hello ian").await;
    let first = ian.line().await;
    assert_eq!(
        untagged(&first),
        ":tina!text@127.0.0.1 PRIVMSG ian :hello ian"
    );
    let reply = privmsg_all(&mut ian, "tina", &["hello tina"]).await;
    tina.expect("*ian* hello tina").await;
    assert_eq!(
        chathistory(&mut ian, "LATEST tina * 10").await,
        vec![first, reply[0].clone()]
    );
    ian.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// draft/chathistory

/// Six messages in `#h` from alice, who has [`HISTORY_CAPS`]; returns alice and the echoes.
async fn six_messages(server: &TestServer) -> (IrcClient, Vec<String>) {
    let mut alice = history_client(server, "alice", "#h").await;
    let echoes = privmsg_all(
        &mut alice,
        "#h",
        &["m 1", "m 2", "m 3", "m 4", "m 5", "m 6"],
    )
    .await;
    (alice, echoes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chathistory_latest() {
    let server = TestServer::start().await;
    let (mut alice, m) = six_messages(&server).await;

    // Exact lines: a numbered batch per request, the batch tag first, then the original
    // time and msgid.
    alice.send("CHATHISTORY LATEST #h * 2").await;
    alice
        .expect_raw(":palaver.local BATCH +H1 chathistory #h")
        .await;
    alice
        .expect_raw(&format!(
            "@batch=H1;time={};msgid={} :alice!~alice@127.0.0.1 PRIVMSG #h :m 5",
            tag(&m[4], "time"),
            tag(&m[4], "msgid")
        ))
        .await;
    alice
        .expect_raw(&format!(
            "@batch=H1;time={};msgid={} :alice!~alice@127.0.0.1 PRIVMSG #h :m 6",
            tag(&m[5], "time"),
            tag(&m[5], "msgid")
        ))
        .await;
    alice.expect_raw(":palaver.local BATCH -H1").await;
    alice.send("CHATHISTORY LATEST #h * 10").await;
    let (reference, lines) = history_batch(&mut alice, "#h").await;
    assert_eq!(reference, "H2");
    assert_eq!(lines, m);

    // The target in any case is the same room; the batch names it as asked.
    assert_eq!(chathistory(&mut alice, "LATEST #H * 3").await, m[3..]);
    // The subcommand is case-insensitive.
    assert_eq!(chathistory(&mut alice, "latest #h * 1").await, m[5..]);

    // With a reference: only messages after it, the newest of those.
    assert_eq!(
        chathistory(&mut alice, &format!("LATEST #h {} 10", msgid_ref(&m[2]))).await,
        m[3..]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("LATEST #h {} 2", msgid_ref(&m[2]))).await,
        m[4..]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("LATEST #h {} 10", msgid_ref(&m[5]))).await,
        Vec::<String>::new()
    );
    // By time: the messages strictly later than the reference's time.
    let after_third: Vec<String> = m
        .iter()
        .filter(|line| tag(line, "time") > tag(&m[2], "time"))
        .cloned()
        .collect();
    assert_eq!(
        chathistory(&mut alice, &format!("LATEST #h {} 10", time_ref(&m[2]))).await,
        after_third
    );
    assert_eq!(
        chathistory(
            &mut alice,
            "LATEST #h timestamp=2000-01-01T00:00:00.000Z 10"
        )
        .await,
        m
    );
    assert_eq!(
        chathistory(&mut alice, "LATEST #h timestamp=2000-01-01T00:00:00Z 4").await,
        m[2..]
    );
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_labelled_chathistory_nests_its_batch_in_the_labeled_response_batch() {
    let server = TestServer::start().await;
    let (_alice, m) = six_messages(&server).await;
    let mut caps = HISTORY_CAPS.to_vec();
    caps.push("labeled-response");
    let mut bob = server.irc_with_caps("bob", &caps).await;
    bob.join("#h").await;

    // Every line is in exactly one batch: the messages in the history batch, whose opening
    // and closing lines are in the labeled-response batch.
    bob.send("@label=q1 CHATHISTORY LATEST #h * 2").await;
    bob.expect_raw("@label=q1 :palaver.local BATCH +L2 labeled-response")
        .await;
    bob.expect_raw("@batch=L2 :palaver.local BATCH +H1 chathistory #h")
        .await;
    for message in &m[4..] {
        bob.expect_raw(&batched("H1", message)).await;
    }
    bob.expect_raw("@batch=L2 :palaver.local BATCH -H1").await;
    bob.expect_raw(":palaver.local BATCH -L2").await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chathistory_before_and_after() {
    let server = TestServer::start().await;
    let (mut alice, m) = six_messages(&server).await;

    assert_eq!(
        chathistory(&mut alice, &format!("BEFORE #h {} 2", msgid_ref(&m[3]))).await,
        m[1..3]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("BEFORE #h {} 10", msgid_ref(&m[3]))).await,
        m[..3]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("BEFORE #h {} 10", msgid_ref(&m[0]))).await,
        Vec::<String>::new()
    );
    assert_eq!(
        chathistory(&mut alice, "BEFORE #h timestamp=2100-01-01T00:00:00.000Z 2").await,
        m[4..]
    );
    let before_fifth: Vec<String> = m
        .iter()
        .filter(|line| tag(line, "time") < tag(&m[4], "time"))
        .cloned()
        .collect();
    assert_eq!(
        chathistory(&mut alice, &format!("BEFORE #h {} 10", time_ref(&m[4]))).await,
        before_fifth
    );

    assert_eq!(
        chathistory(&mut alice, &format!("AFTER #h {} 2", msgid_ref(&m[1]))).await,
        m[2..4]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("AFTER #h {} 10", msgid_ref(&m[1]))).await,
        m[2..]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("AFTER #h {} 10", msgid_ref(&m[5]))).await,
        Vec::<String>::new()
    );
    assert_eq!(
        chathistory(&mut alice, "AFTER #h timestamp=2000-01-01T00:00:00.000Z 2").await,
        m[..2]
    );
    let after_second: Vec<String> = m
        .iter()
        .filter(|line| tag(line, "time") > tag(&m[1], "time"))
        .cloned()
        .collect();
    assert_eq!(
        chathistory(&mut alice, &format!("AFTER #h {} 10", time_ref(&m[1]))).await,
        after_second
    );
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chathistory_around_is_centred_on_the_reference() {
    let server = TestServer::start().await;
    let (mut alice, m) = six_messages(&server).await;

    // Half before, half from the message on (itself included).
    assert_eq!(
        chathistory(&mut alice, &format!("AROUND #h {} 4", msgid_ref(&m[3]))).await,
        m[1..5]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("AROUND #h {} 2", msgid_ref(&m[3]))).await,
        m[2..4]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("AROUND #h {} 3", msgid_ref(&m[3]))).await,
        m[2..5]
    );
    // Near either end the page fills up from the other side.
    assert_eq!(
        chathistory(&mut alice, &format!("AROUND #h {} 4", msgid_ref(&m[0]))).await,
        m[..4]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("AROUND #h {} 4", msgid_ref(&m[5]))).await,
        m[2..]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("AROUND #h {} 10", msgid_ref(&m[2]))).await,
        m
    );
    assert_eq!(
        chathistory(&mut alice, "AROUND #h timestamp=2100-01-01T00:00:00.000Z 4").await,
        m[2..]
    );
    assert_eq!(
        chathistory(&mut alice, "AROUND #h timestamp=2000-01-01T00:00:00.000Z 4").await,
        m[..4]
    );
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chathistory_between_goes_forwards_or_backwards() {
    let server = TestServer::start().await;
    let (mut alice, m) = six_messages(&server).await;
    let (first, last) = (msgid_ref(&m[0]), msgid_ref(&m[5]));

    // Strictly between, counted from the first reference.
    assert_eq!(
        chathistory(&mut alice, &format!("BETWEEN #h {first} {last} 10")).await,
        m[1..5]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("BETWEEN #h {first} {last} 2")).await,
        m[1..3]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("BETWEEN #h {last} {first} 2")).await,
        m[3..5]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("BETWEEN #h {last} {first} 10")).await,
        m[1..5]
    );
    let (early, late) = (
        "timestamp=2000-01-01T00:00:00.000Z",
        "timestamp=2100-01-01T00:00:00.000Z",
    );
    assert_eq!(
        chathistory(&mut alice, &format!("BETWEEN #h {early} {late} 3")).await,
        m[..3]
    );
    assert_eq!(
        chathistory(&mut alice, &format!("BETWEEN #h {late} {early} 3")).await,
        m[3..]
    );
    // A msgid and a timestamp mixed.
    assert_eq!(
        chathistory(
            &mut alice,
            &format!("BETWEEN #h {} {late} 10", msgid_ref(&m[3]))
        )
        .await,
        m[4..]
    );
    assert_eq!(
        chathistory(
            &mut alice,
            &format!("BETWEEN #h {late} {} 1", msgid_ref(&m[3]))
        )
        .await,
        m[5..]
    );
    assert_eq!(
        chathistory(
            &mut alice,
            &format!("BETWEEN #h {} {} 10", msgid_ref(&m[2]), msgid_ref(&m[3]))
        )
        .await,
        Vec::<String>::new()
    );
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chathistory_limits_are_capped_at_100() {
    let server = TestServer::start().await;
    let mut alice = history_client(&server, "alice", "#many").await;
    alice.expect_quiet().await;
    let texts: Vec<String> = (1..=105).map(|n| format!("number {n}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let m = privmsg_all(&mut alice, "#many", &texts).await;

    assert_eq!(chathistory(&mut alice, "LATEST #many * 500").await, m[5..]);
    assert_eq!(chathistory(&mut alice, "LATEST #many * 0").await, m[5..]);
    assert_eq!(chathistory(&mut alice, "LATEST #many * 100").await, m[5..]);
    assert_eq!(chathistory(&mut alice, "LATEST #many * 101").await, m[5..]);
    assert_eq!(
        chathistory(
            &mut alice,
            "AFTER #many timestamp=2000-01-01T00:00:00.000Z 1000"
        )
        .await,
        m[..100]
    );
    // The advertised maximum.
    let mut carol = IrcClient::connect(server.irc_address).await;
    carol.nick = "carol".into();
    carol.send("NICK carol").await;
    carol.send("USER carol 0 * :carol").await;
    // The tokens may be spread over several 005 lines.
    let mut tokens = Vec::new();
    let mut message = carol.skip_until(|message| message.command == "005").await;
    while message.command == "005" {
        tokens.extend(message.params[1..message.params.len() - 1].iter().cloned());
        message = carol.message().await;
    }
    assert!(
        tokens.iter().any(|token| token == "CHATHISTORY=100"),
        "{tokens:?}"
    );
    assert!(
        tokens
            .iter()
            .any(|token| token == "MSGREFTYPES=msgid,timestamp"),
        "{tokens:?}"
    );
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chathistory_targets_lists_rooms_and_conversations_with_times() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", HISTORY_CAPS).await;
    let mut bob = server.irc_with_caps("bob", HISTORY_CAPS).await;
    let mut carol = server.irc_with_caps("carol", HISTORY_CAPS).await;
    for room in ["#a", "#b", "#c"] {
        alice.join(room).await;
    }
    // #c has history but alice leaves it: not a target any more.
    privmsg_all(&mut alice, "#c", &["in c"]).await;
    alice.send("PART #c").await;
    alice.expect_line(":alice!~alice@127.0.0.1 PART #c").await;

    let a = privmsg_all(&mut alice, "#a", &["first in a", "latest in a"]).await;
    let b = privmsg_all(&mut alice, "#b", &["in b"]).await;
    let to_bob = privmsg_all(&mut alice, "bob", &["hi bob"]).await;
    bob.expect_raw(&to_bob[0]).await;
    let from_carol = privmsg_all(&mut carol, "alice", &["hi alice"]).await;
    alice.expect_raw(&from_carol[0]).await;

    let target = |name: &str, echo: &str| {
        format!(
            "@batch=H1 :palaver.local CHATHISTORY TARGETS {name} {}",
            tag(echo, "time")
        )
    };
    alice
        .send(&format!("CHATHISTORY TARGETS {ALL_TIME} 10"))
        .await;
    alice
        .expect_raw(":palaver.local BATCH +H1 draft/chathistory-targets")
        .await;
    alice.expect_raw(&target("#a", &a[1])).await;
    alice.expect_raw(&target("#b", &b[0])).await;
    alice.expect_raw(&target("bob", &to_bob[0])).await;
    alice.expect_raw(&target("carol", &from_carol[0])).await;
    alice.expect_raw(":palaver.local BATCH -H1").await;

    // The limit keeps the targets nearest the first timestamp.
    alice
        .send(&format!("CHATHISTORY TARGETS {ALL_TIME} 2"))
        .await;
    alice
        .expect_raw(":palaver.local BATCH +H2 draft/chathistory-targets")
        .await;
    alice
        .expect_raw(&target("#a", &a[1]).replace("H1", "H2"))
        .await;
    alice
        .expect_raw(&target("#b", &b[0]).replace("H1", "H2"))
        .await;
    alice.expect_raw(":palaver.local BATCH -H2").await;
    // A window with nothing in it.
    alice.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2001-01-01T00:00:00.000Z 10").await;
    alice
        .expect_raw(":palaver.local BATCH +H3 draft/chathistory-targets")
        .await;
    alice.expect_raw(":palaver.local BATCH -H3").await;
    alice.expect_quiet().await;

    // Each party of a conversation sees the other's nick.
    bob.send(&format!("CHATHISTORY TARGETS {ALL_TIME} 10"))
        .await;
    bob.expect_raw(":palaver.local BATCH +H1 draft/chathistory-targets")
        .await;
    bob.expect_raw(&target("alice", &to_bob[0])).await;
    bob.expect_raw(":palaver.local BATCH -H1").await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chathistory_errors() {
    let server = TestServer::start().await;
    let (mut alice, _) = six_messages(&server).await;
    let mut bob = history_client(&server, "bob", "#elsewhere").await;
    bob.expect_quiet().await;

    let fail = |rest: &str| format!(":palaver.local FAIL CHATHISTORY {rest}");
    let cases = [
        // A channel one is not in, existing or not; a name that is neither room nor nick.
        (
            "CHATHISTORY LATEST #elsewhere * 10",
            fail("INVALID_TARGET LATEST #elsewhere :Messages could not be retrieved"),
        ),
        (
            "CHATHISTORY LATEST #nowhere * 10",
            fail("INVALID_TARGET LATEST #nowhere :Messages could not be retrieved"),
        ),
        (
            "CHATHISTORY BEFORE #elsewhere timestamp=2100-01-01T00:00:00.000Z 10",
            fail("INVALID_TARGET BEFORE #elsewhere :Messages could not be retrieved"),
        ),
        (
            "CHATHISTORY LATEST 9lives * 10",
            fail("INVALID_TARGET LATEST 9lives :Messages could not be retrieved"),
        ),
        // Unknown subcommands, references and limits.
        (
            "CHATHISTORY NEWEST #h * 10",
            fail("INVALID_PARAMS NEWEST :Unknown subcommand"),
        ),
        (
            "CHATHISTORY LATEST #h yesterday 10",
            fail("INVALID_PARAMS LATEST :Invalid message reference"),
        ),
        (
            "CHATHISTORY LATEST #h msgid=xyz 10",
            fail("INVALID_PARAMS LATEST :Invalid message reference"),
        ),
        (
            "CHATHISTORY LATEST #h timestamp=2026-13-45T99:00:00.000Z 10",
            fail("INVALID_PARAMS LATEST :Invalid message reference"),
        ),
        (
            "CHATHISTORY LATEST #h timestamp=soon 10",
            fail("INVALID_PARAMS LATEST :Invalid message reference"),
        ),
        // Years beyond 9999 are refused, however large (no overflow on the way).
        (
            "CHATHISTORY LATEST #h timestamp=9223372036854775807-01-01T00:00:00Z 10",
            fail("INVALID_PARAMS LATEST :Invalid message reference"),
        ),
        (
            "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=10000-01-01T00:00:00Z 10",
            fail("INVALID_PARAMS TARGETS :Invalid timestamp"),
        ),
        (
            "CHATHISTORY BEFORE #h * 10",
            fail("INVALID_PARAMS BEFORE :Invalid message reference"),
        ),
        (
            "CHATHISTORY AFTER #h * 10",
            fail("INVALID_PARAMS AFTER :Invalid message reference"),
        ),
        (
            "CHATHISTORY AROUND #h * 10",
            fail("INVALID_PARAMS AROUND :Invalid message reference"),
        ),
        (
            "CHATHISTORY BETWEEN #h * timestamp=2100-01-01T00:00:00.000Z 10",
            fail("INVALID_PARAMS BETWEEN :Invalid message reference"),
        ),
        (
            "CHATHISTORY LATEST #h * ten",
            fail("INVALID_PARAMS LATEST :Invalid limit"),
        ),
        (
            "CHATHISTORY LATEST #h * -1",
            fail("INVALID_PARAMS LATEST :Invalid limit"),
        ),
        (
            "CHATHISTORY TARGETS * timestamp=2100-01-01T00:00:00.000Z 10",
            fail("INVALID_PARAMS TARGETS :Invalid timestamp"),
        ),
        (
            "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z msgid=1 10",
            fail("INVALID_PARAMS TARGETS :Invalid timestamp"),
        ),
        (
            "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z many",
            fail("INVALID_PARAMS TARGETS :Invalid limit"),
        ),
        // Too few parameters for the subcommand.
        (
            "CHATHISTORY LATEST #h *",
            fail("NEED_MORE_PARAMS LATEST :Missing parameters"),
        ),
        (
            "CHATHISTORY latest #h",
            fail("NEED_MORE_PARAMS LATEST :Missing parameters"),
        ),
        (
            "CHATHISTORY BETWEEN #h timestamp=2000-01-01T00:00:00.000Z 10",
            fail("NEED_MORE_PARAMS BETWEEN :Missing parameters"),
        ),
        (
            "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z 10",
            fail("NEED_MORE_PARAMS TARGETS :Missing parameters"),
        ),
        (
            "CHATHISTORY",
            ":palaver.local 461 alice CHATHISTORY :Not enough parameters".to_owned(),
        ),
    ];
    for (command, expected) in cases {
        alice.send(command).await;
        let line = alice.line().await;
        assert_eq!(line, expected, "reply to {command:?}");
    }
    alice.expect_quiet().await;

    // draft/chathistory defines its errors as `FAIL` replies: the same without
    // standard-replies.
    let mut plain = server
        .irc_with_caps("plain", &["draft/chathistory", "batch"])
        .await;
    plain.send("CHATHISTORY LATEST #h * 10").await;
    plain
        .expect_raw(
            ":palaver.local FAIL CHATHISTORY INVALID_TARGET LATEST #h :Messages could not be \
             retrieved",
        )
        .await;
    plain.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_batch_history_comes_as_plain_lines() {
    let server = TestServer::start().await;
    let (mut alice, m) = six_messages(&server).await;

    // Tags as the client's capabilities ask, but no BATCH lines.
    let mut bob = server
        .irc_with_caps("bob", &["draft/chathistory", "server-time", "message-tags"])
        .await;
    join_witnessed(&mut bob, "#h", &mut [&mut alice]).await;
    bob.send("CHATHISTORY LATEST #h * 2").await;
    bob.expect_raw(&m[4]).await;
    bob.expect_raw(&m[5]).await;
    bob.expect_quiet().await;

    // Nor any tags for a client that asked for none.
    let mut carol = server.irc_with_caps("carol", &["draft/chathistory"]).await;
    join_witnessed(&mut carol, "#h", &mut [&mut alice, &mut bob]).await;
    carol.send("CHATHISTORY LATEST #h * 2").await;
    carol.expect_raw(untagged(&m[4])).await;
    carol.expect_raw(untagged(&m[5])).await;
    carol.expect_quiet().await;

    // And an empty answer is nothing at all.
    carol
        .send(&format!("CHATHISTORY AFTER #h {} 10", msgid_ref(&m[5])))
        .await;
    carol.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_messages_keep_the_msgid_and_time_of_the_live_message() {
    let server = TestServer::start().await;
    let mut alice = history_client(&server, "alice", "#ids").await;
    // bob has only some of the tag capabilities; his live view and his replay match anyway.
    let mut bob = server
        .irc_with_caps("bob", &["batch", "draft/chathistory", "message-tags"])
        .await;
    join_witnessed(&mut bob, "#ids", &mut [&mut alice]).await;
    let echoes = privmsg_all(&mut alice, "#ids", &["first one", "second one"]).await;
    let live = vec![bob.line().await, bob.line().await];
    for (echo, seen) in echoes.iter().zip(&live) {
        assert_eq!(tag(echo, "msgid"), tag(seen, "msgid"));
        assert_eq!(parse(seen).tags.len(), 1, "only a msgid: {seen:?}");
    }
    let replay = chathistory(&mut bob, "LATEST #ids * 10").await;
    assert_eq!(replay, live);
    let replay = chathistory(&mut alice, "LATEST #ids * 10").await;
    assert_eq!(replay, echoes);
    bob.expect_quiet().await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagmsg_is_not_stored_but_notices_are() {
    let server = TestServer::start().await;
    let mut alice = history_client(&server, "alice", "#t").await;
    alice.send("@+typing=active TAGMSG #t").await;
    let typing = alice.line().await;
    assert_eq!(untagged(&typing), ":alice!~alice@127.0.0.1 TAGMSG #t");
    assert_eq!(tag(&typing, "+typing"), "active");
    let notice = send_all(&mut alice, "NOTICE", "#t", &["a notice"]).await;
    alice.send("@+typing=done TAGMSG #t").await;
    alice.line().await;
    let message = privmsg_all(&mut alice, "#t", &["a message"]).await;

    let history = chathistory(&mut alice, "LATEST #t * 10").await;
    assert_eq!(history, vec![notice[0].clone(), message[0].clone()]);
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_client_tags_replay_needs_are_stored() {
    // Replies, reactions and channel context are kept with the message; any other client tag
    // is relayed live only, and kept tags stop at 512 bytes (docs/SECURITY.md, Retention).
    let server = TestServer::start().await;
    let mut alice = history_client(&server, "alice", "#tags").await;
    let mut bob = history_client(&server, "bob", "#tags").await;
    alice.expect_line(":bob!~bob@127.0.0.1 JOIN #tags").await;
    let huge_reaction = "x".repeat(600);
    alice
        .send(&format!(
            "@+draft/reply=abc;+example.com/x=a\\sb;+typing=active;+draft/react={huge_reaction};\
             +draft/channel-context=#tags PRIVMSG #tags :tagged"
        ))
        .await;
    let echo = alice.line().await;
    assert_eq!(
        untagged(&echo),
        ":alice!~alice@127.0.0.1 PRIVMSG #tags tagged"
    );
    // Live, every tag travels.
    let live = bob.line().await;
    assert_eq!(live, echo);
    assert_eq!(tag(&live, "+example.com/x"), "a b");
    assert_eq!(tag(&live, "+draft/react"), huge_reaction);

    let replay = chathistory(&mut bob, "LATEST #tags * 10").await;
    assert_eq!(replay.len(), 1, "{replay:?}");
    assert_eq!(untagged(&replay[0]), untagged(&echo));
    let kept: Vec<_> = parse(&echo)
        .tags
        .into_iter()
        .filter(|tag| !["+example.com/x", "+typing", "+draft/react"].contains(&tag.key.as_str()))
        .collect();
    assert_eq!(parse(&replay[0]).tags, kept);
    assert_eq!(tag(&replay[0], "+draft/reply"), "abc");
    assert_eq!(tag(&replay[0], "+draft/channel-context"), "#tags");
    alice.expect_quiet().await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// IRC replay on join

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_on_join_sends_the_last_messages_after_names_to_clients_without_chathistory() {
    let server =
        TestServer::start_with_config("[irc]\nhistory_on_join = 2\n", Overrides::default()).await;
    let mut alice = server
        .irc_with_caps("alice", &["echo-message", "message-tags", "server-time"])
        .await;
    alice.join("#r").await;
    // No history yet: nothing after the NAMES.
    alice.expect_quiet().await;
    let m = privmsg_all(&mut alice, "#r", &["m 1", "m 2", "m 3"]).await;

    let mut bob = server.irc("bob").await;
    bob.send("JOIN #r").await;
    bob.expect_raw(":bob!~bob@127.0.0.1 JOIN #r").await;
    bob.expect_raw(":palaver.local 353 bob = #r :@alice bob")
        .await;
    bob.expect_raw(":palaver.local 366 bob #r :End of /NAMES list")
        .await;
    bob.expect_raw(untagged(&m[1])).await;
    bob.expect_raw(untagged(&m[2])).await;
    bob.expect_quiet().await;
    alice.expect_line(":bob!~bob@127.0.0.1 JOIN #r").await;

    // With draft/chathistory the client asks for itself: no replay.
    let mut carol = server
        .irc_with_caps(
            "carol",
            &["draft/chathistory", "batch", "server-time", "message-tags"],
        )
        .await;
    carol.send("JOIN #r").await;
    carol.expect_line(":carol!~carol@127.0.0.1 JOIN #r").await;
    carol
        .expect_raw(":palaver.local 353 carol = #r :@alice bob carol")
        .await;
    carol
        .expect_raw(":palaver.local 366 carol #r :End of /NAMES list")
        .await;
    carol.expect_quiet().await;
    alice.expect_line(":carol!~carol@127.0.0.1 JOIN #r").await;
    bob.expect_line(":carol!~carol@127.0.0.1 JOIN #r").await;

    // With batch (but not draft/chathistory) the replay comes in a chathistory batch, with
    // the original tags as the client's capabilities ask.
    let mut dave = server
        .irc_with_caps("dave", &["batch", "server-time", "message-tags"])
        .await;
    dave.send("JOIN #r").await;
    dave.expect_line(":dave!~dave@127.0.0.1 JOIN #r").await;
    dave.expect_raw(":palaver.local 353 dave = #r :@alice bob carol dave")
        .await;
    dave.expect_raw(":palaver.local 366 dave #r :End of /NAMES list")
        .await;
    dave.expect_raw(":palaver.local BATCH +H1 chathistory #r")
        .await;
    dave.expect_raw(&batched("H1", &m[1])).await;
    dave.expect_raw(&batched("H1", &m[2])).await;
    dave.expect_raw(":palaver.local BATCH -H1").await;
    dave.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_on_join_is_off_by_default() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["echo-message"]).await;
    alice.join("#r").await;
    privmsg_all(&mut alice, "#r", &["m 1"]).await;
    let mut bob = server.irc("bob").await;
    bob.join("#r").await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Receipts and echoes wait for the commit, and later replies wait for them

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echo_comes_before_the_reply_to_a_later_command_in_the_same_write() {
    let server = TestServer::start().await;
    let mut alice = server.irc_with_caps("alice", &["echo-message"]).await;
    alice.join("#x").await;
    alice.send_raw(b"PRIVMSG #x :a\r\nPING :after\r\n").await;
    alice
        .expect_raw(":alice!~alice@127.0.0.1 PRIVMSG #x a")
        .await;
    alice
        .expect_raw(":palaver.local PONG palaver.local after")
        .await;

    // Many pairs in one write: each echo before the PONG that followed it.
    let mut bytes = Vec::new();
    for n in 0..50 {
        bytes.extend_from_slice(format!("PRIVMSG #x :message {n}\r\nPING :p{n}\r\n").as_bytes());
    }
    alice.send_raw(&bytes).await;
    for n in 0..50 {
        alice
            .expect_raw(&format!(":alice!~alice@127.0.0.1 PRIVMSG #x :message {n}"))
            .await;
        alice
            .expect_raw(&format!(":palaver.local PONG palaver.local p{n}"))
            .await;
    }

    // A CHATHISTORY right behind a message sees it.
    let mut bob = history_client(&server, "bob", "#y").await;
    bob.send_raw(b"PRIVMSG #y :just now\r\nCHATHISTORY LATEST #y * 1\r\n")
        .await;
    let echo = bob.line().await;
    assert_eq!(untagged(&echo), ":bob!~bob@127.0.0.1 PRIVMSG #y :just now");
    assert_eq!(history_batch(&mut bob, "#y").await.1, vec![echo]);
    bob.expect_quiet().await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_labeled_message_gets_its_echo_with_the_label() {
    let server = TestServer::start().await;
    let mut alice = server
        .irc_with_caps("alice", &["echo-message", "labeled-response", "batch"])
        .await;
    alice.join("#x").await;
    let mut bob = server.irc("bob").await;
    join_witnessed(&mut bob, "#x", &mut [&mut alice]).await;

    alice.send("@label=l1 PRIVMSG #x :hi there").await;
    alice
        .expect_raw("@label=l1 :alice!~alice@127.0.0.1 PRIVMSG #x :hi there")
        .await;
    bob.expect_raw(":alice!~alice@127.0.0.1 PRIVMSG #x :hi there")
        .await;
    // Labeled commands in one write stay whole and in order.
    alice
        .send_raw(b"@label=l2 PRIVMSG #x :again\r\n@label=l3 PING :p\r\n")
        .await;
    alice
        .expect_raw("@label=l2 :alice!~alice@127.0.0.1 PRIVMSG #x again")
        .await;
    alice
        .expect_raw("@label=l3 :palaver.local PONG palaver.local p")
        .await;
    bob.expect_raw(":alice!~alice@127.0.0.1 PRIVMSG #x again")
        .await;
    alice.expect_quiet().await;
    bob.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_receipt_comes_before_the_reply_to_a_later_command_in_the_same_write() {
    let server = TestServer::start().await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#x").await;
    alice.send_raw(b"hello\n/rooms\n").await;
    alice.expect("#x <alice> hello").await;
    alice.expect("-- 1 room").await;
    alice.expect("-- #x (1)").await;

    let mut bytes = Vec::new();
    for n in 0..50 {
        bytes.extend_from_slice(format!("message {n}\n/who\n").as_bytes());
    }
    alice.send_raw(&bytes).await;
    for n in 0..50 {
        alice.expect(&format!("#x <alice> message {n}")).await;
        alice.expect("-- members of #x (1): @alice").await;
    }

    // /history right behind a message shows it, and a private message's receipt is ordered too.
    let mut bob = text_user(&server, "bob").await;
    alice
        .send_raw(b"just now\n/msg bob psst\n/history 1\n")
        .await;
    let receipt = alice.raw_line().await;
    assert_eq!(untimed(&receipt), "#x <alice> just now");
    alice.expect("-> *bob* psst").await;
    expect_replay(&mut alice, &[receipt]).await;
    alice.expect_quiet().await;
    bob.expect("*alice* psst").await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Room lifetimes: an unregistered room's history ends when its last member leaves

/// How the last member of a room leaves it.
#[derive(Debug, Clone, Copy)]
enum LastLeave {
    Part,
    /// An operator kicking itself out.
    Kick,
    Quit,
    /// The connection drops without a word.
    Lost,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_rooms_history_does_not_pass_to_whoever_creates_it_next() {
    let server =
        TestServer::start_with_config("[irc]\nhistory_on_join = 5\n", Overrides::default()).await;
    let mut alice = history_client(&server, "alice", "#vault").await;
    alice.send("MODE #vault +sik sesame").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 MODE #vault +sik sesame")
        .await;
    let old = privmsg_all(&mut alice, "#vault", &["the plan", "the code is 1234"]).await;
    alice.send("PART #vault").await;
    alice
        .expect_line(":alice!~alice@127.0.0.1 PART #vault")
        .await;

    // Anyone may now create #vault afresh and is its operator, but its past is not theirs.
    let mut mallory = server.irc_with_caps("mallory", HISTORY_CAPS).await;
    mallory.send("JOIN #vault").await;
    mallory
        .expect_line(":mallory!~mallory@127.0.0.1 JOIN #vault")
        .await;
    mallory
        .expect_line(&support::numeric("353", "mallory", "= #vault @mallory"))
        .await;
    mallory.skip_until(|m| m.command == "366").await;
    let (first, last) = (msgid_ref(&old[0]), msgid_ref(&old[1]));
    for query in [
        "LATEST #vault * 10".to_owned(),
        format!("LATEST #vault {first} 10"),
        "BEFORE #vault timestamp=2100-01-01T00:00:00.000Z 10".to_owned(),
        format!("BEFORE #vault {last} 10"),
        format!("AFTER #vault {first} 10"),
        "AFTER #vault timestamp=2000-01-01T00:00:00.000Z 10".to_owned(),
        format!("AROUND #vault {first} 10"),
        format!("BETWEEN #vault {ALL_TIME} 10"),
        format!("BETWEEN #vault {last} {first} 10"),
    ] {
        assert_eq!(
            chathistory(&mut mallory, &query).await,
            Vec::<String>::new(),
            "CHATHISTORY {query}"
        );
    }
    mallory
        .send(&format!("CHATHISTORY TARGETS {ALL_TIME} 10"))
        .await;
    let opening = mallory.line().await;
    assert!(opening.ends_with("draft/chathistory-targets"), "{opening}");
    let closing = mallory.line().await;
    assert!(
        closing.starts_with(":palaver.local BATCH -"),
        "TARGETS listed {closing:?}"
    );

    // Nor is it replayed on join to a client without draft/chathistory.
    let mut eve = server.irc("eve").await;
    eve.send("JOIN #vault").await;
    eve.expect_line(":eve!~eve@127.0.0.1 JOIN #vault").await;
    eve.expect_line(&support::numeric("353", "eve", "= #vault :@mallory eve"))
        .await;
    eve.expect_line(&support::numeric(
        "366",
        "eve",
        "#vault :End of /NAMES list",
    ))
    .await;
    eve.expect_quiet().await;
    mallory.expect_line(":eve!~eve@127.0.0.1 JOIN #vault").await;

    // What the new room says is its own.
    let mine = privmsg_all(&mut mallory, "#vault", &["my room now"]).await;
    eve.expect_line(":mallory!~mallory@127.0.0.1 PRIVMSG #vault :my room now")
        .await;
    assert_eq!(chathistory(&mut mallory, "LATEST #vault * 10").await, mine);
    mallory
        .send(&format!("CHATHISTORY TARGETS {ALL_TIME} 10"))
        .await;
    mallory.line().await;
    let listed = mallory.line().await;
    assert_eq!(
        untagged(&listed),
        format!(
            ":palaver.local CHATHISTORY TARGETS #vault {}",
            tag(&mine[0], "time")
        )
    );
    mallory.line().await;
    mallory.expect_quiet().await;
    alice.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rooms_history_ends_however_its_last_member_leaves() {
    let server = TestServer::start().await;
    // Sees the last member's QUIT once the server has taken it out of its rooms.
    let mut watcher = server.irc("watcher").await;
    watcher.join("#watch").await;
    // Owners who left their room by PART or KICK stay connected (in #watch) to the end.
    let mut still_connected = Vec::new();
    for (index, how) in [
        LastLeave::Part,
        LastLeave::Kick,
        LastLeave::Quit,
        LastLeave::Lost,
    ]
    .into_iter()
    .enumerate()
    {
        let room = format!("#gone{index}");
        let nick = format!("owner{index}");
        let mut owner = history_client(&server, &nick, &room).await;
        owner.join("#watch").await;
        watcher
            .expect_line(&format!(":{} JOIN #watch", irc_mask(&nick)))
            .await;
        privmsg_all(&mut owner, &room, &["said before leaving"]).await;
        match how {
            LastLeave::Part => {
                owner.send(&format!("PART {room}")).await;
                owner
                    .expect_line(&format!(":{} PART {room}", irc_mask(&nick)))
                    .await;
                still_connected.push(owner);
            }
            LastLeave::Kick => {
                owner.send(&format!("KICK {room} {nick} :myself")).await;
                owner
                    .expect_line(&format!(":{} KICK {room} {nick} myself", irc_mask(&nick)))
                    .await;
                still_connected.push(owner);
            }
            LastLeave::Quit => {
                owner.send("QUIT :bye").await;
                owner.expect_closed().await;
            }
            LastLeave::Lost => drop(owner),
        }
        if matches!(how, LastLeave::Quit | LastLeave::Lost) {
            let quit = watcher.skip_until(|m| m.command == "QUIT").await;
            assert_eq!(quit.source.as_deref(), Some(irc_mask(&nick).as_str()));
        }
        let mut next = history_client(&server, &format!("next{index}"), &room).await;
        assert_eq!(
            chathistory(&mut next, &format!("LATEST {room} * 10")).await,
            Vec::<String>::new(),
            "{how:?}"
        );
        next.expect_quiet().await;
    }
    server.shut_down().await;
    drop(still_connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_rooms_history_is_not_replayed_after_it_emptied() {
    let server = TestServer::start().await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#r").await;
    say_all(&mut alice, "#r", &["said in the first lifetime"]).await;
    alice.send("/part #r").await;
    alice.expect("-- alice left #r").await;

    let mut bob = text_user(&server, "bob").await;
    text_join(&mut bob, "#r").await;
    bob.expect_quiet().await;
    bob.send("/history").await;
    bob.expect("-- #r has no history").await;
    let now = say_all(&mut bob, "#r", &["said in the second"]).await;
    let mut carol = text_user(&server, "carol").await;
    text_join(&mut carol, "#r").await;
    expect_replay(&mut carol, &now).await;
    carol.send("/history").await;
    expect_replay(&mut carol, &now).await;
    carol.expect_quiet().await;

    // Quitting ends it too.
    let mut dave = text_user(&server, "dave").await;
    text_join(&mut dave, "#q").await;
    say_all(&mut dave, "#q", &["bye soon"]).await;
    dave.send("/quit").await;
    dave.expect("-- goodbye").await;
    dave.expect_closed().await;
    let mut erin = text_user(&server, "erin").await;
    text_join(&mut erin, "#q").await;
    erin.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_that_emptied_before_a_restart_comes_back_without_history() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let server = TestServer::start_with(on_file(&directory)).await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#brief").await;
    say_all(&mut alice, "#brief", &["gone with the room"]).await;
    alice.send("/part #brief").await;
    alice.expect("-- alice left #brief").await;
    let mut bob = text_user(&server, "bob").await;
    text_join(&mut bob, "#stays").await;
    let kept = say_all(&mut bob, "#stays", &["kept across the restart"]).await;
    // Bob is still in #stays when the server stops: that ends no lifetime.
    server.shut_down().await;
    drop((alice, bob));

    let server = TestServer::start_with(on_file(&directory)).await;
    let mut carol = text_user(&server, "carol").await;
    text_join(&mut carol, "#brief").await;
    carol.expect_quiet().await;
    text_join(&mut carol, "#stays").await;
    expect_replay(&mut carol, &kept).await;
    carol.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_room_keeps_its_history_but_registering_brings_back_no_earlier_lifetime() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let server = TestServer::start_with(on_file(&directory)).await;
    let mut alice = text_user(&server, "alice").await;
    alice.send("/register alice-password").await;
    alice
        .expect("-- account alice registered; you are logged in")
        .await;
    text_join(&mut alice, "#club").await;
    say_all(&mut alice, "#club", &["before the club existed"]).await;
    alice.send("/part #club").await;
    alice.expect("-- alice left #club").await;
    text_join(&mut alice, "#club").await;
    alice.expect_quiet().await;
    let club = say_all(&mut alice, "#club", &["the club's first words"]).await;
    alice.send("/register-room #club").await;
    alice.expect("-- #club is now registered to alice").await;
    alice.send("/part #club").await;
    alice.expect("-- alice left #club").await;

    // Empty, but registered: its lifetime goes on, from where it was registered.
    let mut bob = text_user(&server, "bob").await;
    text_join(&mut bob, "#club").await;
    expect_replay(&mut bob, &club).await;
    bob.expect_quiet().await;
    server.shut_down().await;
    drop((alice, bob));

    let server = TestServer::start_with(on_file(&directory)).await;
    let mut carol = text_user(&server, "carol").await;
    text_join(&mut carol, "#club").await;
    expect_replay(&mut carol, &club).await;
    carol.expect_quiet().await;
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Retention and restarts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_a_restart_on_the_same_database() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory
        .path()
        .join("history.db")
        .to_string_lossy()
        .into_owned();
    let overrides = || Overrides {
        database: Some(path.clone()),
        ..Overrides::default()
    };

    let server = TestServer::start_with(overrides()).await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#keep").await;
    let mut receipts = say_all(&mut alice, "#keep", &["before the restart"]).await;
    alice.send("/me persists").await;
    receipts.push(alice.raw_line().await);
    let mut ian = history_client(&server, "ian", "#keep").await;
    alice.expect("-- ian joined #keep").await;
    let irc_echo = privmsg_all(&mut ian, "#keep", &["from irc"]).await;
    receipts.push(alice.raw_line().await);
    assert_eq!(untimed(&receipts[2]), "#keep <ian> from irc");
    // A private message is read later as the account it was sent to (or from): ian has one.
    ian.send("REGISTER * * ian-password").await;
    ian.skip_until(|m| m.command == "REGISTER").await;
    alice.send("/msg ian private words").await;
    alice.expect("-> *ian* private words").await;
    let private = ian.line().await;
    // The server stops with its members still there: a shutdown ends no room's lifetime.
    server.shut_down().await;
    drop((alice, ian));

    let server = TestServer::start_with(overrides()).await;
    let mut bob = text_user(&server, "bob").await;
    text_join(&mut bob, "#keep").await;
    expect_replay(&mut bob, &receipts).await;
    // New messages come after the old ones.
    receipts.extend(say_all(&mut bob, "#keep", &["after the restart"]).await);
    let mut ian = server.irc_with_caps("ian", HISTORY_CAPS).await;
    ian.send("PRIVMSG NickServ :IDENTIFY ian-password").await;
    ian.skip_until(|m| m.command == "NOTICE" && m.params[1] == "You are now identified for ian.")
        .await;
    ian.join("#keep").await;
    bob.expect("-- ian joined #keep").await;
    let replay = chathistory(&mut ian, "LATEST #keep * 3").await;
    assert_eq!(replay.len(), 3, "{replay:?}");
    assert_eq!(
        untagged(&replay[0]),
        ":alice!text@127.0.0.1 PRIVMSG #keep :\x01ACTION persists\x01"
    );
    assert_eq!(replay[1], irc_echo[0]);
    assert_eq!(
        untagged(&replay[2]),
        ":bob!text@127.0.0.1 PRIVMSG #keep :after the restart"
    );
    assert_eq!(
        chathistory(&mut ian, "LATEST alice * 10").await,
        vec![private]
    );
    let mut carol = text_user(&server, "carol").await;
    text_join(&mut carol, "#keep").await;
    expect_replay(&mut carol, &receipts).await;
    carol.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_a_room_keeps_its_newest_10000_messages() {
    // Retention is on without any setting (docs/SECURITY.md, Retention): 90 days, and 10,000
    // messages per room and conversation, the limit this test can reach.
    let directory = tempfile::tempdir().expect("temporary directory");
    let server = TestServer::start_with(on_file(&directory)).await;
    let mut alice = server.irc("alice").await;
    alice.join("#flood").await;
    let lines: Vec<String> = (1..=10_005)
        .map(|n| format!("PRIVMSG #flood :message {n}\r\n"))
        .collect();
    for chunk in lines.chunks(1_000) {
        alice.send_raw(chunk.concat().as_bytes()).await;
    }
    alice.sync().await;
    let mut bob = history_client(&server, "bob", "#flood").await;
    let oldest = chathistory(&mut bob, &format!("BETWEEN #flood {ALL_TIME} 1")).await;
    assert_eq!(
        untagged(&oldest[0]),
        ":alice!~alice@127.0.0.1 PRIVMSG #flood :message 1"
    );
    // Retention runs when the store opens (and every minute after): restarting prunes now.
    server.shut_down().await;
    drop((alice, bob));

    let server = TestServer::start_with(on_file(&directory)).await;
    let mut bob = history_client(&server, "bob", "#flood").await;
    let oldest = chathistory(&mut bob, &format!("BETWEEN #flood {ALL_TIME} 2")).await;
    let texts: Vec<&str> = oldest.iter().map(|line| untagged(line)).collect();
    assert_eq!(
        texts,
        [
            ":alice!~alice@127.0.0.1 PRIVMSG #flood :message 6",
            ":alice!~alice@127.0.0.1 PRIVMSG #flood :message 7"
        ]
    );
    let newest = chathistory(&mut bob, "LATEST #flood * 1").await;
    assert_eq!(
        untagged(&newest[0]),
        ":alice!~alice@127.0.0.1 PRIVMSG #flood :message 10005"
    );
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_max_per_room_keeps_the_newest_messages() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory
        .path()
        .join("retention.db")
        .to_string_lossy()
        .into_owned();
    let config = "[store]\nhistory_max_per_room = 5\n";
    let overrides = || Overrides {
        database: Some(path.clone()),
        ..Overrides::default()
    };

    let server = TestServer::start_with_config(config, overrides()).await;
    let mut alice = text_user(&server, "alice").await;
    text_join(&mut alice, "#pruned").await;
    let texts: Vec<String> = (1..=8).map(|n| format!("message {n}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let receipts = say_all(&mut alice, "#pruned", &texts).await;
    text_join(&mut alice, "#small").await;
    let small = say_all(&mut alice, "#small", &["just one", "and two"]).await;
    server.shut_down().await;
    drop(alice);

    // Retention runs when the store opens (and every minute after): restarting prunes now.
    let server = TestServer::start_with_config(config, overrides()).await;
    let mut bob = text_user(&server, "bob").await;
    text_join(&mut bob, "#pruned").await;
    expect_replay(&mut bob, &receipts[3..]).await;
    bob.send("/history 100").await;
    expect_replay(&mut bob, &receipts[3..]).await;
    text_join(&mut bob, "#small").await;
    expect_replay(&mut bob, &small).await;
    bob.expect_quiet().await;
    server.shut_down().await;
}
