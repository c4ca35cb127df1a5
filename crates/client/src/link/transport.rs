//! How the link reaches the server: any byte stream ([`ByteStream`]) a [`Dial`] opens. TCP
//! ([`TcpDial`]) is the one there is; a TLS stream or a WebSocket adapter is another `Dial`,
//! and neither the link nor the front ends change.
//!
//! [`Framed`] turns the stream into IRC messages and back: lines in (bounded, see
//! [`MAX_LINE_BYTES`]), messages out through a buffer written as the server takes it. Its
//! reading and writing are cancel safe, so the link can race them in a `select!`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::BytesMut;
use palaver_proto::framing::{Frame, LineDecoder};
use palaver_proto::irc::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::{ClientError, Wait};

/// How long to wait for the TCP connection to be established.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long queued bytes may wait for the server to take any of them.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest line we accept from the server: 512 bytes of message plus 8191 bytes of tags
/// (IRCv3 message-tags), without the CRLF.
pub const MAX_LINE_BYTES: usize = 512 + 8191;

/// A byte stream to the server.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin {}

impl<T: AsyncRead + AsyncWrite + Unpin> ByteStream for T {}

/// An attempt to open a stream.
pub type Dialing = Pin<Box<dyn Future<Output = Result<Box<dyn ByteStream>, ClientError>>>>;

/// Opens byte streams to the server, one per connection attempt.
pub trait Dial {
    /// Starts opening a stream. The future owns what it needs: it may outlive this call and
    /// is dropped, unfinished, when the attempt is abandoned.
    fn dial(&self) -> Dialing;
}

/// Plain TCP to `host:port`.
#[derive(Debug, Clone)]
pub struct TcpDial {
    server: String,
}

impl TcpDial {
    pub fn new(server: &str) -> Self {
        Self {
            server: server.to_owned(),
        }
    }
}

impl Dial for TcpDial {
    fn dial(&self) -> Dialing {
        let server = self.server.clone();
        Box::pin(async move {
            let stream = match timeout(CONNECT_TIMEOUT, TcpStream::connect(&server)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(source)) => return Err(ClientError::Connect { server, source }),
                Err(_) => return Err(ClientError::Timeout(Wait::Connecting)),
            };
            // Small interactive lines: do not let Nagle's algorithm hold them back.
            let _ = stream.set_nodelay(true);
            Ok(Box::new(stream) as Box<dyn ByteStream>)
        })
    }
}

/// An open stream as IRC messages.
pub struct Framed {
    reader: ReadHalf<Box<dyn ByteStream>>,
    writer: WriteHalf<Box<dyn ByteStream>>,
    decoder: LineDecoder,
    /// Bytes received and not yet decoded; bounded by the decoder's line limit.
    received: BytesMut,
    /// Bytes to send, oldest first.
    to_send: BytesMut,
    /// Written bytes may sit in the stream's own buffer (TLS) until flushed.
    needs_flush: bool,
    /// Since when `to_send` has waited without the server taking any of it.
    waiting_since: Option<Instant>,
}

/// What [`Framed::ready`] saw.
pub enum Ready {
    /// Bytes arrived: [`Framed::messages`] has what they complete.
    Received,
    /// The server closed the stream.
    Closed,
    /// The server took some bytes.
    Sent,
}

impl Framed {
    pub fn new(stream: Box<dyn ByteStream>) -> Self {
        let (reader, writer) = tokio::io::split(stream);
        Self {
            reader,
            writer,
            decoder: LineDecoder::new(MAX_LINE_BYTES),
            received: BytesMut::with_capacity(4096),
            to_send: BytesMut::new(),
            needs_flush: false,
            waiting_since: None,
        }
    }

    /// Queues `message` for sending.
    pub fn queue(&mut self, message: &Message) {
        let bytes = message.to_bytes();
        tracing::trace!(line = %String::from_utf8_lossy(&bytes).trim_end(), "sending");
        self.to_send.extend_from_slice(&bytes);
        self.waiting_since.get_or_insert_with(Instant::now);
    }

    /// When queued bytes have waited too long for the server ([`WRITE_TIMEOUT`]).
    pub fn write_deadline(&self) -> Option<Instant> {
        self.waiting_since.map(|since| since + WRITE_TIMEOUT)
    }

    /// Waits until bytes arrive or queued bytes are taken. Cancel safe: a cancelled call
    /// loses nothing.
    pub async fn ready(&mut self) -> Result<Ready, ClientError> {
        let flushing = self.to_send.is_empty();
        let sending = !flushing || self.needs_flush;
        tokio::select! {
            read = self.reader.read_buf(&mut self.received) => match read {
                Ok(0) => Ok(Ready::Closed),
                Ok(_) => Ok(Ready::Received),
                Err(error) => Err(ClientError::Io(error)),
            },
            written = write_some(&mut self.writer, &mut self.to_send), if sending => {
                written.map_err(ClientError::Io)?;
                self.needs_flush = !flushing;
                self.waiting_since = (!self.to_send.is_empty()).then(Instant::now);
                Ok(Ready::Sent)
            }
        }
    }

    /// The messages the bytes received so far complete. Lines that are too long, not UTF-8 or
    /// not IRC are skipped.
    pub fn messages(&mut self) -> Vec<Message> {
        let mut messages = Vec::new();
        while let Some(frame) = self.decoder.decode(&mut self.received) {
            let Frame::Line(line) = frame else {
                tracing::debug!("skipping an over-long line from the server");
                continue;
            };
            let Ok(text) = std::str::from_utf8(&line) else {
                tracing::debug!("skipping a line that is not UTF-8");
                continue;
            };
            if let Ok(message) = Message::parse(text) {
                tracing::trace!(line = text, "received");
                messages.push(message);
            }
        }
        messages
    }
}

/// Writes some of `to_send` (each call is one write, so it is cancel safe), or, when it is
/// all written, flushes.
async fn write_some(
    writer: &mut WriteHalf<Box<dyn ByteStream>>,
    to_send: &mut BytesMut,
) -> std::io::Result<()> {
    if to_send.is_empty() {
        return writer.flush().await;
    }
    match writer.write_buf(to_send).await? {
        0 => Err(std::io::ErrorKind::WriteZero.into()),
        _ => Ok(()),
    }
}
