//! The client's one link to the server, shared by pipe mode and the full-screen mode: it
//! connects, registers, negotiates capabilities, reconnects with backoff, rejoins, fills the
//! gaps from history, and follows every line said until the server answers it. Front ends
//! give it [`Command`]s and read [`Event`]s; they never see a socket, a retry or a label.
//!
//! - [`machine`]: the rules, as a pure state machine (typed inputs in, typed outputs out);
//! - [`registration`]: capability negotiation, SASL PLAIN and nick fallbacks, until `001`;
//! - [`said`]: the lines said, held and unanswered, and the rule for sending them again;
//! - [`answers`]: the server's `labeled-response` answers to them;
//! - [`resync`]: history marks, gap-filling requests and `msgid` deduplication;
//! - [`backoff`]: the delays between attempts;
//! - [`transport`]: the byte stream ([`Dial`], TCP today) and its framing into messages;
//! - this module: [`Link`], which drives the machine over a transport.
//!
//! Concurrency contract: a `Link` is owned by the one task running a front end, which calls
//! [`Link::next_event`] in its `select!` loop (it is cancel safe) and [`Link::command`]
//! between polls. Bytes for the server go out while `next_event` is being awaited.

pub mod answers;
pub mod backoff;
pub mod event;
pub mod machine;
pub mod registration;
pub mod resync;
pub mod said;
pub mod tls;
pub mod transport;

use std::collections::VecDeque;

use tokio::time::{Instant, sleep_until};

pub use event::{Command, Event, Incoming};
pub use machine::Reconnect;
pub use said::{LineId, Outcome, SaidLine};
pub use tls::{TlsDial, TlsOptions, Trust};
pub use transport::{ByteStream, Dial, Dialing, TcpDial};

use self::backoff::Backoff;
use self::machine::{Input, Machine, Output};
use self::transport::{Framed, Ready};
use crate::model::Model;
use crate::{ClientError, ConnectOptions, Wait};

/// A link to one server, over the streams its [`Dial`] opens.
pub struct Link {
    machine: Machine,
    dial: Box<dyn Dial>,
    transport: Transport,
    /// Events not yet taken by [`Link::next_event`], oldest first.
    events: VecDeque<Event>,
    /// The error that ended the link, returned (once) after the events before it.
    stopped: Option<ClientError>,
}

/// The stream, if any.
enum Transport {
    Closed,
    Dialing(Dialing),
    Open(Framed),
}

/// What woke the link.
enum Wake {
    Time,
    Dialed(Result<Box<dyn ByteStream>, ClientError>),
    Stream(Result<Ready, ClientError>),
}

impl Link {
    /// A link to `options.server` over TCP, or TLS over TCP; the first attempt starts at
    /// once.
    pub fn new(options: ConnectOptions, reconnect: Reconnect) -> Self {
        let dial: Box<dyn Dial> = match &options.tls {
            None => Box::new(TcpDial::new(&options.server)),
            Some(tls) => Box::new(TlsDial::new(&options.server, tls.clone())),
        };
        Self::with_dial(options, reconnect, dial)
    }

    /// A link over the streams `dial` opens.
    pub fn with_dial(options: ConnectOptions, reconnect: Reconnect, dial: Box<dyn Dial>) -> Self {
        let mut machine = Machine::new(options, reconnect, Backoff::new());
        let outputs = machine.start();
        let mut link = Self {
            machine,
            dial,
            transport: Transport::Closed,
            events: VecDeque::new(),
            stopped: None,
        };
        link.apply(outputs);
        link
    }

    /// Our nick and rooms, as the messages received so far tell.
    pub fn model(&self) -> &Model {
        self.machine.model()
    }

    /// Registered on the current connection.
    pub fn is_registered(&self) -> bool {
        self.machine.is_registered()
    }

    /// Registered, rejoined and caught up: commands go out as they come.
    pub fn is_ready(&self) -> bool {
        self.machine.is_ready()
    }

    pub fn ever_ready(&self) -> bool {
        self.machine.ever_ready()
    }

    /// Whether the server keeps history we may ask for (`draft/chathistory`, in batches).
    pub fn has_history(&self) -> bool {
        self.machine.has_history()
    }

    /// Whether the server keeps read markers for us (`draft/read-marker`).
    pub fn has_read_markers(&self) -> bool {
        self.machine.has_read_markers()
    }

    /// Commands held until the link is ready.
    pub fn held(&self) -> usize {
        self.machine.held()
    }

    /// Lines written and not answered yet.
    pub fn unanswered(&self) -> usize {
        self.machine.unanswered()
    }

    /// Everything given and not settled: held commands and unanswered lines.
    pub fn outstanding(&self) -> usize {
        self.held() + self.unanswered()
    }

    /// Takes a command; what it sends goes out while [`Link::next_event`] is awaited.
    pub fn command(&mut self, command: Command) {
        self.feed(Input::Command(command));
    }

    /// The next event. Fails once, with the error that ended the link (after the events that
    /// came before it); after that, and after [`Event::Closed`], it returns `Closed`. Cancel
    /// safe.
    pub async fn next_event(&mut self) -> Result<Event, ClientError> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            if let Some(error) = self.stopped.take() {
                return Err(error);
            }
            if self.machine.is_stopped() {
                return Ok(Event::Closed);
            }
            let wake = self.wait().await;
            self.on_wake(wake);
        }
    }

    /// Waits for the stream, the attempt to open one, or the next deadline.
    async fn wait(&mut self) -> Wake {
        let write_deadline = match &self.transport {
            Transport::Open(framed) => framed.write_deadline(),
            _ => None,
        };
        let deadline = match (self.machine.deadline(), write_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let sleep = async {
            match deadline {
                Some(deadline) => sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        match &mut self.transport {
            Transport::Closed => {
                sleep.await;
                Wake::Time
            }
            Transport::Dialing(dialing) => tokio::select! {
                dialed = dialing => Wake::Dialed(dialed),
                () = sleep => Wake::Time,
            },
            Transport::Open(framed) => tokio::select! {
                ready = framed.ready() => Wake::Stream(ready),
                () = sleep => Wake::Time,
            },
        }
    }

    fn on_wake(&mut self, wake: Wake) {
        match wake {
            Wake::Time => {
                let stalled = match &self.transport {
                    Transport::Open(framed) => framed
                        .write_deadline()
                        .is_some_and(|deadline| Instant::now() >= deadline),
                    _ => false,
                };
                if stalled {
                    self.transport = Transport::Closed;
                    self.feed(Input::Failed(ClientError::Timeout(Wait::Sending)));
                }
                self.feed(Input::Tick);
            }
            Wake::Dialed(Ok(stream)) => {
                self.transport = Transport::Open(Framed::new(stream));
                self.feed(Input::Opened);
            }
            Wake::Dialed(Err(error)) | Wake::Stream(Err(error)) => {
                self.transport = Transport::Closed;
                self.feed(Input::Failed(error));
            }
            Wake::Stream(Ok(Ready::Closed)) => {
                self.transport = Transport::Closed;
                self.feed(Input::Failed(ClientError::ConnectionLost));
            }
            Wake::Stream(Ok(Ready::Sent)) => {}
            Wake::Stream(Ok(Ready::Received)) => {
                let Transport::Open(framed) = &mut self.transport else {
                    return;
                };
                for message in framed.messages() {
                    self.feed(Input::Received(message));
                    // What follows a message that ended the connection is not for us.
                    if !matches!(self.transport, Transport::Open(_)) {
                        break;
                    }
                }
            }
        }
    }

    fn feed(&mut self, input: Input) {
        let outputs = self.machine.handle(Instant::now(), input);
        self.apply(outputs);
    }

    fn apply(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Open => self.transport = Transport::Dialing(self.dial.dial()),
                Output::Send(message) => match &mut self.transport {
                    Transport::Open(framed) => framed.queue(&message),
                    _ => tracing::debug!(command = %message.command, "no connection to send on"),
                },
                Output::Close => self.transport = Transport::Closed,
                Output::Event(event) => self.events.push_back(event),
                Output::Stop(error) => self.stopped = Some(error),
            }
        }
    }
}

#[cfg(test)]
mod tests;
