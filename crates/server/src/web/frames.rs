//! IRC over WebSocket as a byte stream, so that the connection layer serves it like any other
//! transport (`transport.rs`).
//!
//! The IRCv3 WebSocket specification puts one IRC line in each frame, without its line ending.
//! Reading, each frame becomes a line ending in CRLF; a frame that itself holds a CR or LF
//! would become several lines the client never meant, so its line breaks are made CRs, which
//! the IRC session refuses as one invalid line (`FAIL * INVALID_MESSAGE`). Writing, the session's
//! CRLF-terminated lines are sent one per frame: text frames (invalid UTF-8 replaced with
//! U+FFFD) for `text.ircv3.net`, binary frames with the bytes as they are for
//! `binary.ircv3.net`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use axum::extract::ws::{Message, WebSocket};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, SinkExt, StreamExt};
use tokio::io::AsyncWrite;

use crate::transport::{Incoming, Transport};

/// Bytes the writer holds before it waits for the frames before them to be taken.
const HIGH_WATER: usize = 64 * 1024;

/// Which frames carry the lines, by the subprotocol the client chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameMode {
    /// `text.ircv3.net`, and clients that named no subprotocol.
    Text,
    /// `binary.ircv3.net`.
    Binary,
}

impl FrameMode {
    /// The subprotocols, in the name the handshake uses.
    pub const TEXT: &'static str = "text.ircv3.net";
    pub const BINARY: &'static str = "binary.ircv3.net";

    /// The first of the client's subprotocols (in its order of preference) that is one of
    /// ours; `None` if it named none of them.
    pub fn chosen<'a>(requested: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        requested
            .into_iter()
            .find_map(|protocol| match protocol.trim() {
                Self::TEXT => Some(FrameMode::Text),
                Self::BINARY => Some(FrameMode::Binary),
                _ => None,
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            FrameMode::Text => Self::TEXT,
            FrameMode::Binary => Self::BINARY,
        }
    }
}

/// An upgraded WebSocket carrying IRC.
pub struct WebSocketTransport {
    pub socket: WebSocket,
    pub mode: FrameMode,
}

impl Transport for WebSocketTransport {
    type Reader = FrameReader;
    type Writer = FrameWriter;

    fn into_halves(self) -> (FrameReader, FrameWriter) {
        let (frames_out, frames_in) = self.socket.split();
        let reader = FrameReader {
            frames: frames_in,
            line: None,
            ended: false,
        };
        let writer = FrameWriter {
            frames: frames_out,
            mode: self.mode,
            unsent: BytesMut::new(),
        };
        (reader, writer)
    }
}

/// The reading half: frames in, lines out.
pub struct FrameReader {
    frames: SplitStream<WebSocket>,
    /// The line of the last frame the wait took, until it is handed over.
    line: Option<Bytes>,
    /// The client closed the WebSocket (or the stream ended).
    ended: bool,
}

impl FrameReader {
    /// Takes one frame's line, if `frame` carries one; a close frame ends the stream.
    fn take(&mut self, frame: Message) {
        match frame {
            Message::Text(text) => self.line = Some(line_of(text.as_bytes())),
            Message::Binary(bytes) => self.line = Some(line_of(&bytes)),
            // Answered by the WebSocket layer itself.
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => self.ended = true,
        }
    }
}

impl Incoming for FrameReader {
    async fn ready(&mut self) -> io::Result<()> {
        while self.line.is_none() && !self.ended {
            // `next` is cancel-safe: dropped before it completes, it has taken no frame.
            match self.frames.next().await {
                Some(Ok(frame)) => self.take(frame),
                Some(Err(error)) => return Err(io::Error::other(error)),
                None => self.ended = true,
            }
        }
        Ok(())
    }

    fn try_read_buf(&mut self, buffer: &mut BytesMut) -> io::Result<usize> {
        let before = buffer.len();
        // The frames that have arrived, without waiting for more.
        let mut context = Context::from_waker(Waker::noop());
        loop {
            if let Some(line) = self.line.take() {
                buffer.extend_from_slice(&line);
            }
            if self.ended {
                break;
            }
            match self.frames.poll_next_unpin(&mut context) {
                Poll::Ready(Some(Ok(frame))) => self.take(frame),
                Poll::Ready(Some(Err(error))) if buffer.len() == before => {
                    return Err(io::Error::other(error));
                }
                // After the lines already read: the stream is over, which the next read says.
                Poll::Ready(Some(Err(_))) | Poll::Ready(None) => self.ended = true,
                Poll::Pending => break,
            }
        }
        match buffer.len() - before {
            0 if self.ended => Ok(0),
            0 => Err(io::ErrorKind::WouldBlock.into()),
            read => Ok(read),
        }
    }
}

/// One frame's payload as a line: its line breaks made CRs (see the module's comment), and
/// CRLF appended.
pub(crate) fn line_of(payload: &[u8]) -> Bytes {
    let mut line = BytesMut::with_capacity(payload.len() + 2);
    line.extend(
        payload
            .iter()
            .map(|&byte| if byte == b'\n' { b'\r' } else { byte }),
    );
    line.extend_from_slice(b"\r\n");
    line.freeze()
}

/// The writing half: lines in, frames out.
pub struct FrameWriter {
    frames: SplitSink<WebSocket, Message>,
    mode: FrameMode,
    /// Bytes written but not yet sent as frames: at most a partial line once
    /// [`poll_send_lines`](Self::poll_send_lines) has completed.
    unsent: BytesMut,
}

impl FrameWriter {
    /// Hands every complete line of `unsent` to the WebSocket as a frame.
    fn poll_send_lines(&mut self, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(end) = memchr::memchr(b'\n', &self.unsent) {
            ready!(self.frames.poll_ready_unpin(context)).map_err(io::Error::other)?;
            let mut line = self.unsent.split_to(end + 1);
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            let frame = match self.mode {
                FrameMode::Text => {
                    Message::Text(String::from_utf8_lossy(&line).into_owned().into())
                }
                FrameMode::Binary => Message::Binary(line.freeze()),
            };
            self.frames
                .start_send_unpin(frame)
                .map_err(io::Error::other)?;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for FrameWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(context, &[io::IoSlice::new(bytes)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        slices: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let writer = self.get_mut();
        if writer.unsent.len() >= HIGH_WATER {
            ready!(writer.poll_send_lines(context))?;
        }
        let mut taken = 0;
        for slice in slices {
            writer.unsent.extend_from_slice(slice);
            taken += slice.len();
        }
        // Sent now if the WebSocket takes them; else by the next write or the flush.
        if let Poll::Ready(Err(error)) = writer.poll_send_lines(context) {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(taken))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let writer = self.get_mut();
        ready!(writer.poll_send_lines(context))?;
        Pin::new(&mut writer.frames)
            .poll_flush(context)
            .map_err(io::Error::other)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let writer = self.get_mut();
        ready!(writer.poll_send_lines(context))?;
        // Sends the close frame.
        Pin::new(&mut writer.frames)
            .poll_close(context)
            .map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_s_first_known_subprotocol_is_chosen() {
        let chosen = |requested: &[&str]| FrameMode::chosen(requested.iter().copied());
        assert_eq!(chosen(&["binary.ircv3.net"]), Some(FrameMode::Binary));
        assert_eq!(
            chosen(&["text.ircv3.net", "binary.ircv3.net"]),
            Some(FrameMode::Text)
        );
        assert_eq!(
            chosen(&["chat", "binary.ircv3.net", "text.ircv3.net"]),
            Some(FrameMode::Binary)
        );
        assert_eq!(chosen(&["chat"]), None);
    }

    #[test]
    fn a_frame_is_one_line_and_its_own_line_breaks_are_refusable_crs() {
        assert_eq!(line_of(b"PING x"), &b"PING x\r\n"[..]);
        assert_eq!(line_of(b"PING x\r\nQUIT"), &b"PING x\r\rQUIT\r\n"[..]);
        assert_eq!(line_of(b""), &b"\r\n"[..]);
    }
}
