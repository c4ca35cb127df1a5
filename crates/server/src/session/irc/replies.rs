//! The one place an IRC command's replies are collected and turned into bytes, so that
//! labels and batches (IRCv3 labeled-response, batch) are applied in exactly one place.
//!
//! Replies are written out as they are added and each is counted against the client's send
//! queue at once (`Outbox::reserve`), so a command that would answer with more than a client
//! may queue (`WHO *` on a big server, a few hundred `LIST`s read at once) stops at the limit
//! instead of building it all up first: the outbox closes as overflowed and the rest is
//! dropped.

use std::sync::Arc;

use bytes::Bytes;
use palaver_proto::irc::message::{Message, Tag};

use crate::outbox::Outbox;
use crate::session::reply_queue::ReplyBytes;

pub struct Replies {
    server_name: String,
    outbox: Arc<Outbox>,
    /// The current command's replies, already written out and reserved in the outbox.
    written: Vec<u8>,
    /// Bytes of `written` reserved in the outbox.
    reserved: usize,
    /// The current command's `label` tag, and whether the client accepts batches.
    label: Option<(String, bool)>,
    /// A labelled command's first reply, kept back until it is known whether others follow:
    /// alone it carries the label, followed by others it opens a batch.
    first: Option<Message>,
    /// How many replies the current command has so far.
    count: usize,
    /// The reference of the current command's `labeled-response` batch, once opened.
    batch: Option<String>,
    /// Numbers batch references; unique within the connection.
    batches_opened: u64,
}

impl Replies {
    pub fn new(server_name: String, outbox: Arc<Outbox>) -> Self {
        Self {
            server_name,
            outbox,
            written: Vec::new(),
            reserved: 0,
            label: None,
            first: None,
            count: 0,
            batch: None,
            batches_opened: 0,
        }
    }

    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// `:server CODE nick params…`
    pub fn numeric(&mut self, code: &str, nick: &str, params: &[&str]) {
        let mut all = Vec::with_capacity(params.len() + 1);
        all.push(nick.to_owned());
        all.extend(params.iter().map(|param| param.to_string()));
        self.server_message(code, all);
    }

    /// `:server COMMAND params…`
    pub fn server_message(&mut self, command: &str, params: Vec<String>) {
        let message = Message::new(command, params).with_source(self.server_name.clone());
        self.push(message);
    }

    /// A message without a source (`ERROR`).
    pub fn raw(&mut self, message: Message) {
        self.push(message);
    }

    pub fn push(&mut self, message: Message) {
        self.count += 1;
        let Some((label, batches_allowed)) = self.label.clone() else {
            return self.write(message);
        };
        match self.count {
            1 => self.first = Some(message),
            2 => {
                let first = self.first.take().expect("the first reply is kept back");
                if batches_allowed {
                    self.batches_opened += 1;
                    let reference = format!("L{}", self.batches_opened);
                    let start = Message::new(
                        "BATCH",
                        vec![format!("+{reference}"), "labeled-response".into()],
                    )
                    .with_source(self.server_name.clone())
                    .with_tag("label", label);
                    self.write(start);
                    self.batch = Some(reference);
                    self.write_in_batch(first);
                } else {
                    // Without batches, the first reply carries the label (labeled-response).
                    self.write(first.with_tag("label", label));
                }
                self.write_in_batch(message);
            }
            _ => self.write_in_batch(message),
        }
    }

    /// Labels the replies to the current command (labeled-response).
    pub fn set_label(&mut self, label: &str, batches_allowed: bool) {
        self.label = Some((label.to_owned(), batches_allowed));
    }

    /// The current command's replies as wire bytes, labelled as the specification asks: no
    /// reply becomes an `ACK`, one reply carries the label, several go in a
    /// `labeled-response` batch (or, for a client without batches, the first carries the
    /// label). Resets the buffer for the next command.
    pub fn take(&mut self) -> ReplyBytes {
        if let Some((label, _)) = self.label.take() {
            match self.count {
                0 => {
                    let ack = Message::new("ACK", Vec::new())
                        .with_source(self.server_name.clone())
                        .with_tag("label", label);
                    self.write(ack);
                }
                1 => {
                    let first = self.first.take().expect("the only reply is kept back");
                    self.write(first.with_tag("label", label));
                }
                _ => {
                    if let Some(reference) = self.batch.take() {
                        let end = Message::new("BATCH", vec![format!("-{reference}")])
                            .with_source(self.server_name.clone());
                        self.write(end);
                    }
                }
            }
        }
        self.count = 0;
        let written = std::mem::take(&mut self.written);
        let reserved = std::mem::take(&mut self.reserved);
        ReplyBytes {
            chunks: if written.is_empty() {
                Vec::new()
            } else {
                vec![Bytes::from(written)]
            },
            reserved,
        }
    }

    /// Writes `message`, inside the current labelled batch if one is open.
    fn write_in_batch(&mut self, mut message: Message) {
        if let Some(reference) = &self.batch {
            message.tags.insert(
                0,
                Tag {
                    key: "batch".into(),
                    value: reference.clone(),
                },
            );
        }
        self.write(message);
    }

    /// Appends `message`'s wire form if the client's send queue has room for it; otherwise
    /// the outbox has closed and the message is dropped with everything after it.
    fn write(&mut self, message: Message) {
        let start = self.written.len();
        message.write_to(&mut self.written);
        let size = self.written.len() - start;
        if self.outbox.reserve(size) {
            self.reserved += size;
        } else {
            self.written.truncate(start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(replies: ReplyBytes) -> String {
        String::from_utf8(replies.chunks.concat()).unwrap()
    }

    fn replies(limit: usize) -> Replies {
        Replies::new("srv".into(), Arc::new(Outbox::new(limit)))
    }

    #[test]
    fn labels_acks_and_batches() {
        let mut replies = replies(10_000);
        replies.set_label("a1", true);
        assert_eq!(text(replies.take()), "@label=a1 :srv ACK\r\n");

        replies.set_label("a2", true);
        replies.numeric("305", "nick", &["You are no longer marked as being away"]);
        assert_eq!(
            text(replies.take()),
            "@label=a2 :srv 305 nick :You are no longer marked as being away\r\n"
        );

        replies.set_label("a3", true);
        replies.numeric("303", "nick", &["a b"]);
        replies.numeric("303", "nick", &["c"]);
        assert_eq!(
            text(replies.take()),
            "@label=a3 :srv BATCH +L1 labeled-response\r\n@batch=L1 :srv 303 nick :a b\r\n@batch=L1 :srv 303 nick c\r\n:srv BATCH -L1\r\n"
        );

        // Unlabelled commands get plain replies, and nothing at all for no replies.
        assert!(replies.take().chunks.is_empty());
        replies.numeric("303", "nick", &["x"]);
        assert_eq!(text(replies.take()), ":srv 303 nick x\r\n");

        // Without batches, the first of several replies carries the label.
        replies.set_label("a4", false);
        replies.numeric("303", "nick", &["a"]);
        replies.numeric("303", "nick", &["b"]);
        assert_eq!(
            text(replies.take()),
            "@label=a4 :srv 303 nick a\r\n:srv 303 nick b\r\n"
        );
    }

    #[test]
    fn replies_are_reserved_as_written_and_stop_at_the_limit() {
        let outbox = Arc::new(Outbox::new(40));
        let mut replies = Replies::new("srv".into(), outbox.clone());
        replies.numeric("303", "nick", &["a"]); // 17 bytes
        replies.numeric("303", "nick", &["b"]);
        assert!(!outbox.is_closed());
        replies.numeric("303", "nick", &["c"]);
        assert!(
            outbox.is_closed(),
            "the third reply does not fit in 40 bytes"
        );
        let taken = replies.take();
        assert_eq!(taken.reserved, 34);
        assert_eq!(text(taken), ":srv 303 nick a\r\n:srv 303 nick b\r\n");
    }
}
