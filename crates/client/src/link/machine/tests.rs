//! The link's rules, exercised without sockets: IRC lines and other inputs in, the messages it
//! sends and the events it reports out.

use std::time::Duration;

use super::*;
use crate::link::backoff::{INITIAL_DELAY, MAX_DELAY, XorShift};

/// The capabilities palaver acknowledges to the client (with `sasl` left out: no password).
const CAPS: &str = "server-time echo-message message-tags batch draft/chathistory labeled-response";

/// A machine as `bot`, and the time it is.
struct Client {
    machine: Machine,
    now: Instant,
}

/// What one or more inputs produced.
#[derive(Debug, Default)]
struct Outputs(Vec<Output>);

impl Outputs {
    /// The lines sent, as on the wire (without CRLF).
    fn sent(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|output| match output {
                Output::Send(message) => Some(
                    String::from_utf8_lossy(&message.to_bytes())
                        .trim_end()
                        .to_owned(),
                ),
                _ => None,
            })
            .collect()
    }

    /// The `PRIVMSG`s sent.
    fn said(&self) -> Vec<String> {
        self.sent()
            .into_iter()
            .filter(|line| line.contains("PRIVMSG"))
            .collect()
    }

    fn events(&self) -> Vec<&Event> {
        self.0
            .iter()
            .filter_map(|output| match output {
                Output::Event(event) => Some(event),
                _ => None,
            })
            .collect()
    }

    /// What `pick` takes from each event.
    fn picked<'a, T>(&'a self, pick: impl Fn(&'a Event) -> Option<T>) -> Vec<T> {
        self.events().into_iter().filter_map(pick).collect()
    }

    /// The lines settled, as (body, outcome).
    fn settled(&self) -> Vec<(&str, &Outcome)> {
        self.picked(|event| match event {
            Event::Settled { line, outcome } => Some((line.body.as_str(), outcome)),
            _ => None,
        })
    }

    /// The lines reported pending, by body.
    fn pending(&self) -> Vec<&str> {
        self.picked(|event| match event {
            Event::Pending(line) => Some(line.body.as_str()),
            _ => None,
        })
    }

    /// The text lines shown for the messages passed on.
    fn shown(&self) -> Vec<&str> {
        self.picked(|event| match event {
            Event::Message(incoming) => incoming.line.as_ref().map(|line| line.text.as_str()),
            _ => None,
        })
    }

    fn has(&self, wanted: &Event) -> bool {
        self.events().contains(&wanted)
    }

    fn opens(&self) -> bool {
        self.0.iter().any(|output| matches!(output, Output::Open))
    }

    fn stopped(&self) -> Option<&ClientError> {
        self.0.iter().find_map(|output| match output {
            Output::Stop(error) => Some(error),
            _ => None,
        })
    }

    fn disconnected(&self) -> bool {
        self.events()
            .iter()
            .any(|event| matches!(event, Event::Disconnected { .. }))
    }
}

impl Client {
    /// `bot`, joining `rooms`, started: its first attempt is opening a stream.
    fn start(reconnect: Reconnect, rooms: &[&str]) -> Self {
        let options = ConnectOptions {
            tls: None,
            server: "127.0.0.1:6667".into(),
            nick: "bot".into(),
            password: None,
            channels: rooms.iter().map(|room| (*room).to_owned()).collect(),
        };
        let backoff = Backoff::with_jitter(INITIAL_DELAY, MAX_DELAY, XorShift::new(7));
        let mut machine = Machine::new(options, reconnect, backoff);
        let started = Outputs(machine.start());
        assert!(started.opens() && started.has(&Event::Connecting));
        Self {
            machine,
            now: Instant::now(),
        }
    }

    fn input(&mut self, input: Input) -> Outputs {
        Outputs(self.machine.handle(self.now, input))
    }

    fn receive(&mut self, line: &str) -> Outputs {
        let message = Message::parse(line).unwrap_or_else(|_| panic!("bad IRC: {line}"));
        self.input(Input::Received(message))
    }

    fn say(&mut self, target: &str, text: &str) -> Outputs {
        self.input(Input::Command(Command::Say {
            target: target.into(),
            text: text.into(),
            action: false,
        }))
    }

    fn lose(&mut self) -> Outputs {
        self.input(Input::Failed(ClientError::ConnectionLost))
    }

    /// Lets `duration` pass.
    fn wait(&mut self, duration: Duration) -> Outputs {
        self.now += duration;
        self.input(Input::Tick)
    }

    /// Waits for the retry, which opens a new stream.
    fn retry(&mut self) -> Outputs {
        let retry_at = self.machine.deadline().expect("a retry is due");
        let outputs = self.wait(retry_at - self.now);
        assert!(outputs.opens(), "{outputs:?}");
        outputs
    }

    /// The stream opens and registers with `caps` as `nick`; returns what `001` produced.
    fn register(&mut self, caps: &str, nick: &str) -> Outputs {
        let greeting = self.input(Input::Opened);
        assert_eq!(greeting.sent()[0], "CAP LS 302");
        self.receive(&format!(":srv CAP * LS :{caps}"));
        let ended = self.receive(&format!(":srv CAP {nick} ACK :{caps}"));
        assert_eq!(ended.sent(), ["CAP END"]);
        self.receive(&format!(":srv 001 {nick} :Welcome to palaver"))
    }
}

// ---------------------------------------------------------------------------------------------
// Registration, readiness and holding
// ---------------------------------------------------------------------------------------------

#[test]
fn lines_said_before_the_rooms_are_joined_are_held_then_sent_labelled() {
    let mut client = Client::start(Reconnect::OnceReady, &["#ops"]);
    let early = client.say("#ops", "early");
    assert_eq!(early.pending(), ["early"]);
    assert!(early.sent().is_empty());
    let held = Message::new("TOPIC", vec!["#ops".into(), "hi".into()]);
    client.input(Input::Command(Command::Send(held)));

    let registered = client.register(CAPS, "bot");
    assert_eq!(registered.sent(), ["JOIN #ops"]);
    assert!(registered.has(&Event::Registered {
        nick: "bot".into(),
        reconnection: false
    }));
    assert!(!client.machine.is_ready());

    let joined = client.receive(":bot!b@h JOIN #ops");
    assert!(joined.has(&Event::Ready));
    assert_eq!(
        joined.sent(),
        ["@label=l1 PRIVMSG #ops early", "TOPIC #ops hi"],
        "in the order given"
    );
    assert!(client.machine.is_ready() && client.machine.ever_ready());
    assert_eq!(client.machine.model().rooms()[0].name, "#ops");
}

#[test]
fn the_resync_gives_up_waiting_at_its_deadline() {
    let mut client = Client::start(Reconnect::OnceReady, &["#slow"]);
    client.register(CAPS, "bot");
    client.say("#slow", "anyway");
    let late = client.wait(RESYNC_TIMEOUT);
    assert!(late.has(&Event::Ready));
    assert_eq!(late.said(), ["@label=l1 PRIVMSG #slow anyway"]);
}

#[test]
fn pings_are_answered_and_pongs_reported() {
    let mut client = Client::start(Reconnect::OnceReady, &[]);
    let registered = client.register(CAPS, "bot");
    assert!(registered.has(&Event::Ready), "no room to wait for");
    assert_eq!(client.receive("PING :srv").sent(), ["PONG srv"]);
    let sent = client.input(Input::Command(Command::Ping("t1".into())));
    assert_eq!(sent.sent(), ["PING t1"]);
    let pong = client.receive(":srv PONG srv :t1");
    assert_eq!(pong.events(), [&Event::Pong("t1".into())]);
}

#[test]
fn long_text_is_split_into_lines_that_fit() {
    let mut client = Client::start(Reconnect::OnceReady, &[]);
    client.register(CAPS, "bot");
    let text = "y".repeat(900);
    let said = client.say("#ops", &text);
    let bodies: Vec<String> = said
        .said()
        .iter()
        .map(|line| Message::parse(line).unwrap().params[1].clone())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies.concat(), text);

    let action = Command::Say {
        target: "#ops".into(),
        text,
        action: true,
    };
    let split = action.messages();
    assert!(split.len() > 1);
    assert!(
        split
            .iter()
            .all(|m| m.params[1].starts_with("\u{1}ACTION ") && m.params[1].ends_with('\u{1}'))
    );
}

#[test]
fn multiline_messages_deletions_and_read_markers_leave_the_link_undisturbed() {
    let mut client = Client::start(Reconnect::OnceReady, &["#ops"]);
    client.register(CAPS, "bot");
    client.receive(":bot!b@h JOIN #ops");
    // A message of several lines, as a client without draft/multiline gets it.
    let lines = [
        "@msgid=m1 :a!b@c PRIVMSG #ops :first line",
        ":a!b@c PRIVMSG #ops :second line",
        // And as a batch, which the client never asks for but reads all the same.
        ":a!b@c BATCH +mm2 draft/multiline #ops",
        "@batch=mm2 :a!b@c PRIVMSG #ops :batched",
        "BATCH -mm2",
    ];
    let mut shown = Vec::new();
    for line in lines {
        let outputs = client.receive(line);
        assert!(outputs.sent().is_empty() && outputs.stopped().is_none());
        shown.extend(outputs.shown().into_iter().map(str::to_owned));
    }
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(shown[0].ends_with("<a> first line"), "{shown:?}");
    assert!(shown[1].ends_with("<a> second line"), "{shown:?}");
    assert!(shown[2].ends_with("<a> batched"), "{shown:?}");
    // Commands the link has no line for (a capability it does not ask for, a read marker the
    // full screen places itself) show nothing and change nothing.
    for line in [
        ":a!b@c REDACT #ops m1 :oops",
        ":srv MARKREAD #ops timestamp=2026-01-01T00:00:00.000Z",
    ] {
        let outputs = client.receive(line);
        assert!(
            outputs.shown().is_empty() && outputs.sent().is_empty(),
            "{line}"
        );
        assert!(
            outputs.stopped().is_none() && !outputs.disconnected(),
            "{line}"
        );
    }
    assert!(client.machine.is_ready());
}

// ---------------------------------------------------------------------------------------------
// Answers matched by label
// ---------------------------------------------------------------------------------------------

#[test]
fn a_refused_line_does_not_shift_the_matching() {
    let mut client = Client::start(Reconnect::OnceReady, &[]);
    client.register(CAPS, "bot");
    client.say("#ops", "one");
    client.say("#ops", "two");
    client.say("NickServ", "help");
    assert_eq!(client.machine.unanswered(), 3);

    let refused = client.receive("@label=l1 :srv 404 bot #ops :Cannot send to channel");
    assert_eq!(
        refused.settled(),
        [("one", &Outcome::Refused("Cannot send to channel".into()))]
    );
    assert_eq!(refused.shown(), Vec::<&str>::new(), "a refusal has no line");
    let echoed = client.receive("@label=l2;msgid=m2 :bot!b@h PRIVMSG #ops :two");
    assert_eq!(echoed.settled(), [("two", &Outcome::Delivered)]);
    // Services answer with notices (no echo), in a labeled-response batch.
    client.receive("@label=l3 :srv BATCH +L1 labeled-response");
    let notice = client.receive("@batch=L1 :NickServ!services@srv NOTICE bot :Commands: …");
    assert_eq!(notice.shown().len(), 1, "the answer is shown");
    let answered = client.receive(":srv BATCH -L1");
    assert_eq!(answered.settled(), [("help", &Outcome::Delivered)]);
    assert!(
        answered.events().len() == 1,
        "the batch's framing is not shown"
    );
    assert_eq!(client.machine.unanswered(), 0);

    // Nothing is left to send again after a lost connection.
    let lost = client.lose();
    assert!(lost.pending().is_empty());
}

#[test]
fn without_labels_a_line_counts_as_delivered_once_written_and_without_echo_shows_a_copy() {
    let mut client = Client::start(Reconnect::OnceReady, &[]);
    client.register("server-time", "bot");
    let said = client.say("#ops", "hi");
    assert_eq!(said.said(), ["PRIVMSG #ops hi"]);
    assert_eq!(said.settled(), [("hi", &Outcome::Delivered)]);
    let copy = said.shown();
    assert_eq!(copy.len(), 1);
    assert!(copy[0].ends_with("#ops <bot> hi"), "{copy:?}");
    assert_eq!(client.machine.unanswered(), 0);
}

// ---------------------------------------------------------------------------------------------
// Reconnecting
// ---------------------------------------------------------------------------------------------

#[test]
fn after_a_reconnection_only_the_unanswered_lines_not_in_the_history_are_sent_again() {
    let mut client = Client::start(Reconnect::OnceReady, &["#ops"]);
    client.register(CAPS, "bot");
    client.receive(":bot!b@h JOIN #ops");
    // A line answered without an echo (services), then one whose echo came: neither may go
    // again. Matching echoes to lines in order would have taken the echo of `hello` for the
    // answer to the NickServ line, and sent `hello` twice.
    client.say("NickServ", "identify secret");
    client.say("#ops", "hello");
    client.receive("@label=l1 :NickServ!services@srv NOTICE bot :You are now identified.");
    let echo = "@label=l2;time=2026-01-01T00:00:01.000Z;msgid=m1 :bot!b@h PRIVMSG #ops :hello";
    assert_eq!(
        client.receive(echo).settled(),
        [("hello", &Outcome::Delivered)]
    );
    // Two lines whose answers the crash loses: one arrived, one did not.
    client.say("#ops", "arrived");
    client.say("#ops", "lost");

    let lost = client.lose();
    assert_eq!(lost.pending(), ["arrived", "lost"]);
    assert!(lost.disconnected());
    let typed = client.say("#ops", "typed while down");
    assert_eq!(typed.pending(), ["typed while down"]);

    client.retry();
    let registered = client.register(CAPS, "bot");
    assert!(registered.has(&Event::Registered {
        nick: "bot".into(),
        reconnection: true
    }));
    assert_eq!(registered.sent(), ["JOIN #ops"]);
    let rejoined = client.receive(":bot!b@h JOIN #ops");
    assert_eq!(rejoined.sent(), ["CHATHISTORY AFTER #ops msgid=m1 100"]);
    let Some(Event::Message(incoming)) = rejoined.events().last().copied() else {
        panic!("{rejoined:?}")
    };
    assert!(incoming.rejoin);

    client.receive(":srv BATCH +h1 chathistory #ops");
    let missed = client.receive(
        "@batch=h1;time=2026-01-01T00:00:02.000Z;msgid=m2 :alice!a@h PRIVMSG #ops :missed",
    );
    assert_eq!(missed.shown().len(), 1);
    let arrived = client
        .receive("@batch=h1;time=2026-01-01T00:00:03.000Z;msgid=m3 :bot!b@h PRIVMSG #ops :arrived");
    assert_eq!(arrived.settled(), [("arrived", &Outcome::DeliveredEarlier)]);
    // A message already shown is not shown again.
    let again = client
        .receive("@batch=h1;time=2026-01-01T00:00:01.000Z;msgid=m1 :bot!b@h PRIVMSG #ops :hello");
    assert!(again.events().is_empty());
    let filled = client.receive(":srv BATCH -h1");
    assert!(filled.has(&Event::Ready));
    assert_eq!(
        filled.said(),
        [
            "@label=l5 PRIVMSG #ops lost",
            "@label=l6 PRIVMSG #ops :typed while down"
        ],
        "each line once: the lost one, then what was typed meanwhile"
    );
    let answered = client.receive("@label=l5;msgid=m4 :bot!b@h PRIVMSG #ops :lost");
    assert_eq!(answered.settled(), [("lost", &Outcome::Delivered)]);
}

#[test]
fn an_away_message_is_set_again_after_a_reconnection_and_a_cleared_one_is_not() {
    let mut client = Client::start(Reconnect::OnceReady, &[]);
    client.register(CAPS, "bot");
    let away = |text: &[&str]| {
        let params = text.iter().map(|text| (*text).to_owned()).collect();
        Input::Command(Command::Send(Message::new("AWAY", params)))
    };
    assert_eq!(client.input(away(&["at lunch"])).sent(), ["AWAY :at lunch"]);
    client.lose();
    client.retry();
    assert_eq!(client.register(CAPS, "bot").sent(), ["AWAY :at lunch"]);
    client.input(away(&[]));
    client.lose();
    client.retry();
    assert!(client.register(CAPS, "bot").sent().is_empty());
}

#[test]
fn a_label_of_a_lost_connection_settles_nothing() {
    let mut client = Client::start(Reconnect::OnceReady, &[]);
    client.register(CAPS, "bot");
    client.say("#ops", "x");
    client.lose();
    client.retry();
    let registered = client.register(CAPS, "bot");
    assert_eq!(registered.said(), ["@label=l2 PRIVMSG #ops x"]);
    assert!(client.receive("@label=l1 :srv ACK").settled().is_empty());
    let echo = client.receive("@label=l2;msgid=m1 :bot!b@h PRIVMSG #ops :x");
    assert_eq!(echo.settled(), [("x", &Outcome::Delivered)]);
}

#[test]
fn a_refused_rejoin_drops_the_room_and_what_waits_for_it() {
    let mut client = Client::start(Reconnect::Always, &["#ops", "#dev"]);
    client.register(CAPS, "bot");
    client.receive(":bot!b@h JOIN #ops");
    client.receive(":bot!b@h JOIN #dev");
    client.say("#dev", "unanswered");
    client.lose();
    client.say("#dev", "held");
    client.say("#ops", "kept");

    client.retry();
    let registered = client.register(CAPS, "bot");
    assert_eq!(registered.sent(), ["JOIN #ops,#dev"]);
    client.receive(":bot!b@h JOIN #ops");
    let refused = client.receive(":srv 474 bot #dev :Cannot join channel (+b)");
    assert!(refused.has(&Event::JoinRefused {
        room: "#dev".into(),
        reason: "Cannot join channel (+b)".into()
    }));
    assert_eq!(
        refused.settled(),
        [
            ("unanswered", &Outcome::NotSent),
            ("held", &Outcome::NotSent)
        ]
    );
    assert!(refused.has(&Event::Ready));
    assert_eq!(refused.said(), ["@label=l2 PRIVMSG #ops kept"]);
    assert!(!client.machine.model().is_in("#dev"));
}

#[test]
fn a_reconnection_tries_nick_variants_while_the_old_session_lingers() {
    let mut client = Client::start(Reconnect::OnceReady, &[]);
    client.register(CAPS, "bot");
    client.lose();
    client.retry();
    client.input(Input::Opened);
    let taken = client.receive(":srv 433 * bot :Nickname is already in use");
    assert_eq!(taken.sent(), ["NICK bot_"]);
    client.receive(":srv 001 bot_ :Welcome");
    assert_eq!(client.machine.model().nick(), "bot_");
}

#[test]
fn scripts_stop_on_failures_before_the_first_ready_and_on_refusals() {
    // The server cannot be reached at all: the answer, not a reason to wait.
    let mut client = Client::start(Reconnect::OnceReady, &[]);
    let failed = client.input(Input::Failed(ClientError::Timeout(Wait::Connecting)));
    assert!(matches!(
        failed.stopped(),
        Some(ClientError::Timeout(Wait::Connecting))
    ));
    assert!(client.machine.is_stopped());

    // Once ready, a lost connection is retried; a refused nick after that is final.
    let mut client = Client::start(Reconnect::OnceReady, &[]);
    client.register(CAPS, "bot");
    assert!(client.lose().disconnected());
    client.retry();
    client.input(Input::Opened);
    for nick in ["bot", "bot_", "bot__"] {
        client.receive(&format!(":srv 433 * {nick} :Nickname is already in use"));
    }
    let refused = client.receive(":srv 433 * bot___ :Nickname is already in use");
    assert!(matches!(refused.stopped(), Some(ClientError::NickInUse(_))));
}

#[test]
fn people_watching_see_retries_and_refusals_are_final_only_before_the_first_registration() {
    let mut client = Client::start(Reconnect::Always, &[]);
    let failed = client.input(Input::Failed(ClientError::ConnectionLost));
    assert!(failed.disconnected() && failed.stopped().is_none());
    client.retry();
    client.input(Input::Opened);
    // A taken nick is tried with `_` appended, as irssi does; only when every variant is
    // taken is the refusal final.
    let taken = client.receive(":srv 433 * bot :Nickname is already in use");
    assert_eq!(taken.sent(), ["NICK bot_"]);
    for nick in ["bot_", "bot__"] {
        client.receive(&format!(":srv 433 * {nick} :Nickname is already in use"));
    }
    let refused = client.receive(":srv 433 * bot___ :Nickname is already in use");
    assert!(matches!(refused.stopped(), Some(ClientError::NickInUse(_))));

    let mut client = Client::start(Reconnect::Always, &[]);
    client.register(CAPS, "bot");
    client.lose();
    client.retry();
    client.input(Input::Opened);
    let refused = client.receive(":srv 904 bot :SASL authentication failed");
    assert!(
        refused.disconnected(),
        "retried: the server may be fixed meanwhile"
    );
    assert!(refused.stopped().is_none());
}

#[test]
fn registration_times_out() {
    let mut client = Client::start(Reconnect::Always, &[]);
    client.input(Input::Opened);
    let late = client.wait(REGISTRATION_TIMEOUT);
    assert!(late.disconnected());
    assert!(late.events().iter().any(|event| matches!(
        event,
        Event::Disconnected { reason, .. } if reason == "timed out registering with the server"
    )));
}

// ---------------------------------------------------------------------------------------------
// Quitting
// ---------------------------------------------------------------------------------------------

#[test]
fn quitting_ends_with_the_servers_close() {
    let mut client = Client::start(Reconnect::OnceReady, &[]);
    client.register(CAPS, "bot");
    let quit = client.input(Input::Command(Command::Quit(Some("bye".into()))));
    assert_eq!(quit.sent(), ["QUIT bye"]);
    let closed = client.receive("ERROR :Closing link: (Quit: bye)");
    assert!(closed.has(&Event::Closed) && !closed.disconnected());
    assert!(client.machine.is_stopped());

    // With no connection there is nothing to wait for.
    let mut client = Client::start(Reconnect::Always, &[]);
    let quit = client.input(Input::Command(Command::Quit(None)));
    assert!(quit.has(&Event::Closed));
}
