//! The link driven over a byte stream that is not a socket (`tokio::io::duplex`), against a
//! scripted server: what a TLS stream or a WebSocket adapter will be to it.

use std::cell::RefCell;
use std::collections::VecDeque;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf};

use super::*;

/// Hands out the client ends of in-memory streams, one per connection attempt.
struct Duplexes(RefCell<VecDeque<DuplexStream>>);

impl Dial for Duplexes {
    fn dial(&self) -> Dialing {
        let stream = self.0.borrow_mut().pop_front();
        Box::pin(async move {
            match stream {
                Some(stream) => Ok(Box::new(stream) as Box<dyn ByteStream>),
                None => Err(ClientError::ConnectionLost),
            }
        })
    }
}

/// The server's end of one stream.
struct Server {
    lines: Lines<BufReader<ReadHalf<DuplexStream>>>,
    writer: tokio::io::WriteHalf<DuplexStream>,
}

impl Server {
    fn new(stream: DuplexStream) -> Self {
        let (reader, writer) = tokio::io::split(stream);
        Self {
            lines: BufReader::new(reader).lines(),
            writer,
        }
    }

    async fn expect(&mut self, expected: &str) {
        let line = self.lines.next_line().await.unwrap();
        assert_eq!(line.as_deref(), Some(expected));
    }

    async fn write(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    /// Registers `bot` with labels and echoes, and confirms its `JOIN #ops`.
    async fn register(&mut self) {
        for line in ["CAP LS 302", "NICK bot", "USER bot 0 * bot"] {
            self.expect(line).await;
        }
        self.write(":srv CAP * LS :echo-message batch labeled-response")
            .await;
        self.expect("CAP REQ :echo-message batch labeled-response")
            .await;
        self.write(":srv CAP bot ACK :echo-message batch labeled-response")
            .await;
        self.expect("CAP END").await;
        self.write(":srv 001 bot :Welcome").await;
        self.expect("JOIN #ops").await;
        self.write(":bot!b@h JOIN #ops").await;
    }
}

fn link_over(streams: Vec<DuplexStream>) -> Link {
    let options = ConnectOptions {
        tls: None,
        server: "in-memory".into(),
        nick: "bot".into(),
        password: None,
        channels: vec!["#ops".into()],
    };
    let dial = Duplexes(RefCell::new(streams.into()));
    Link::with_dial(options, Reconnect::OnceReady, Box::new(dial))
}

fn say(link: &mut Link, text: &str) {
    link.command(Command::Say {
        target: "#ops".into(),
        text: text.into(),
        action: false,
    });
}

/// Events until one that `done` accepts (returned), failing on an error.
async fn until(link: &mut Link, done: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let event = link.next_event().await.expect("the link goes on");
        let last = done(&event);
        events.push(event);
        if last {
            return events;
        }
    }
}

#[tokio::test]
async fn the_link_runs_over_any_byte_stream_and_reconnects_over_the_next() {
    let (first_client, first_server) = tokio::io::duplex(4096);
    let (second_client, second_server) = tokio::io::duplex(4096);
    let mut link = link_over(vec![first_client, second_client]);

    let server = async {
        let mut server = Server::new(first_server);
        server.register().await;
        server.expect("@label=l1 PRIVMSG #ops :hello there").await;
        server
            .write("@label=l1;msgid=m1 :bot!b@h PRIVMSG #ops :hello there")
            .await;
        server.expect("@label=l2 PRIVMSG #ops :not answered").await;
        // The connection drops before the answer: the line goes again on the next one.
        drop(server);
        let mut server = Server::new(second_server);
        server.register().await;
        server.expect("@label=l3 PRIVMSG #ops :not answered").await;
        server
            .write("@label=l3;msgid=m2 :bot!b@h PRIVMSG #ops :not answered")
            .await;
        server.expect("QUIT :all done").await;
        server.write("ERROR :Closing link").await;
    };
    let client = async {
        until(&mut link, |event| *event == Event::Ready).await;
        say(&mut link, "hello there");
        let events = until(&mut link, |event| matches!(event, Event::Settled { .. })).await;
        assert!(matches!(
            events.last(),
            Some(Event::Settled {
                outcome: Outcome::Delivered,
                ..
            })
        ));
        say(&mut link, "not answered");
        let events = until(&mut link, |event| {
            matches!(event, Event::Disconnected { .. })
        })
        .await;
        assert!(
            events
                .iter()
                .any(|event| matches!(event, Event::Pending(line) if line.body == "not answered"))
        );
        let events = until(&mut link, |event| matches!(event, Event::Settled { .. })).await;
        assert!(events.contains(&Event::Registered {
            nick: "bot".into(),
            reconnection: true
        }));
        assert_eq!(link.outstanding(), 0);
        link.command(Command::Quit(Some("all done".into())));
        until(&mut link, |event| *event == Event::Closed).await;
    };
    tokio::join!(server, client);
    assert!(link.model().is_in("#ops"));
}
