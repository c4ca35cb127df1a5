//! The byte streams a connection runs over, split into the half its read loop owns and the
//! half its writer owns. Nothing above this module knows which stream it is: TCP, or any
//! other `AsyncRead + AsyncWrite` (a TLS stream, a WebSocket adapter, an in-memory pipe).
//!
//! Reading keeps idle connections cheap: a connection waits for input without a read buffer
//! ([`Incoming::ready`]) and allocates one only once bytes have arrived. TCP does this with the
//! socket's readiness; any other stream waits by reading into a few bytes held inline
//! ([`SplitReader`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tracing::warn;

/// TCP keepalive finds peers that vanished without a FIN or RST (a half-open connection):
/// after this much silence the kernel probes, and gives up after a few unanswered probes.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 5;

/// How many bytes a [`SplitReader`] waits with: enough for a typical chat line, small enough
/// to cost nothing next to the rest of a connection.
const PROBE_BYTES: usize = 64;

/// A connection's byte stream, as the two halves its read loop and its writer own.
pub trait Transport: Send + 'static {
    type Reader: Incoming;
    type Writer: AsyncWrite + Unpin + Send + 'static;

    fn into_halves(self) -> (Self::Reader, Self::Writer);
}

/// The reading half of a [`Transport`].
pub trait Incoming: Send + 'static {
    /// Waits until bytes, the end of the stream or an error can be read, holding no read
    /// buffer meanwhile. Cancel-safe: the read loop drops it when something else happens
    /// first, and nothing is lost.
    fn ready(&mut self) -> impl Future<Output = io::Result<()>> + Send;

    /// Appends what has arrived to `buffer`'s spare capacity without waiting: the count, `0`
    /// at the end of the stream, or [`io::ErrorKind::WouldBlock`] if nothing had after all.
    fn try_read_buf(&mut self, buffer: &mut BytesMut) -> io::Result<usize>;
}

/// Sets what every client TCP connection needs, before anything runs over it (a TLS
/// handshake included).
pub fn configure_tcp(stream: &TcpStream) {
    // Our outbox already coalesces lines into large writes; Nagle would only add latency.
    if let Err(error) = stream.set_nodelay(true) {
        warn!(%error, "could not set TCP_NODELAY");
    }
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    if let Err(error) = SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        warn!(%error, "could not enable TCP keepalive");
    }
}

/// Plain TCP: the socket's own readiness, so waiting costs no buffer at all.
impl Transport for TcpStream {
    type Reader = OwnedReadHalf;
    type Writer = OwnedWriteHalf;

    fn into_halves(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        self.into_split()
    }
}

impl Incoming for OwnedReadHalf {
    async fn ready(&mut self) -> io::Result<()> {
        self.readable().await
    }

    fn try_read_buf(&mut self, buffer: &mut BytesMut) -> io::Result<usize> {
        OwnedReadHalf::try_read_buf(self, buffer)
    }
}

/// Any other byte stream, split with [`tokio::io::split`].
pub struct Stream<T>(pub T);

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Transport for Stream<T> {
    type Reader = SplitReader<T>;
    type Writer = WriteHalf<T>;

    fn into_halves(self) -> (SplitReader<T>, WriteHalf<T>) {
        let (reader, writer) = tokio::io::split(self.0);
        let reader = SplitReader {
            reader,
            probe: [0; PROBE_BYTES],
            probed: None,
        };
        (reader, writer)
    }
}

/// The reading half of a [`Stream`]. A generic stream can only be waited on by reading, so
/// [`ready`](Incoming::ready) reads into a few bytes held inline, and
/// [`try_read_buf`](Incoming::try_read_buf) hands them over with whatever else has arrived.
pub struct SplitReader<T> {
    reader: ReadHalf<T>,
    probe: [u8; PROBE_BYTES],
    /// How many bytes of `probe` the last wait read (`Some(0)`: the stream ended), until
    /// they are handed over.
    probed: Option<usize>,
}

impl<T: AsyncRead + Send + 'static> Incoming for SplitReader<T> {
    async fn ready(&mut self) -> io::Result<()> {
        if self.probed.is_none() {
            // `read` is cancel-safe: dropped before it completes, it has read nothing.
            self.probed = Some(self.reader.read(&mut self.probe).await?);
        }
        Ok(())
    }

    fn try_read_buf(&mut self, buffer: &mut BytesMut) -> io::Result<usize> {
        let probed = match self.probed.take() {
            Some(0) => return Ok(0),
            Some(count) => {
                buffer.extend_from_slice(&self.probe[..count]);
                count
            }
            None => 0,
        };
        // What else has arrived, without waiting for more.
        match read_now(&mut self.reader, buffer) {
            Ok(0) if probed > 0 => {
                // The end of the stream comes after these bytes: the next wait finds it.
                Ok(probed)
            }
            Ok(count) => Ok(probed + count),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock && probed > 0 => Ok(probed),
            Err(error) => Err(error),
        }
    }
}

/// Polls `reader` once into `buffer`, never waiting: `WouldBlock` if nothing is ready.
fn read_now<R: AsyncRead + Unpin>(reader: &mut R, buffer: &mut BytesMut) -> io::Result<usize> {
    let mut context = Context::from_waker(Waker::noop());
    match tokio_util::io::poll_read_buf(Pin::new(reader), &mut context, buffer) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    fn split_pipe() -> (
        SplitReader<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
    ) {
        let (client, server) = tokio::io::duplex(1024);
        let (reader, _writer) = Stream(server).into_halves();
        (reader, client)
    }

    #[tokio::test]
    async fn a_split_reader_hands_over_everything_that_arrived() {
        let (mut reader, mut client) = split_pipe();
        let mut buffer = BytesMut::new();
        let wouldblock = reader.try_read_buf(&mut buffer).unwrap_err();
        assert_eq!(wouldblock.kind(), io::ErrorKind::WouldBlock, "nothing yet");

        let sent = vec![b'x'; PROBE_BYTES * 3];
        client.write_all(&sent).await.unwrap();
        reader.ready().await.unwrap();
        buffer.reserve(1024);
        assert_eq!(reader.try_read_buf(&mut buffer).unwrap(), sent.len());
        assert_eq!(buffer, sent);
    }

    #[tokio::test]
    async fn the_end_of_a_split_stream_comes_after_its_bytes() {
        let (mut reader, mut client) = split_pipe();
        client.write_all(b"last\n").await.unwrap();
        drop(client);
        let mut buffer = BytesMut::with_capacity(1024);
        reader.ready().await.unwrap();
        assert_eq!(reader.try_read_buf(&mut buffer).unwrap(), 5);
        reader.ready().await.unwrap();
        assert_eq!(reader.try_read_buf(&mut buffer).unwrap(), 0, "the end");
        assert_eq!(buffer, &b"last\n"[..]);
    }

    #[tokio::test]
    async fn waiting_on_a_split_stream_is_cancel_safe() {
        let (mut reader, mut client) = split_pipe();
        // Given up on before anything arrived, as the read loop does when a timer fires.
        tokio::select! {
            biased;
            () = std::future::ready(()) => {}
            _ = reader.ready() => panic!("nothing was sent"),
        }
        client.write_all(b"hello\n").await.unwrap();
        reader.ready().await.unwrap();
        let mut buffer = BytesMut::with_capacity(1024);
        assert_eq!(reader.try_read_buf(&mut buffer).unwrap(), 6);
        assert_eq!(buffer, &b"hello\n"[..]);
    }
}
