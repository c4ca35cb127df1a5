//! The one place an IRC command's replies are collected and turned into bytes, so that
//! labels and batches (IRCv3 labeled-response, batch) are applied in exactly one place: a
//! command's replies in a batch of their own go through [`Replies::batch`], and the
//! labeled-response batch around a labelled command's replies is opened, tagged and closed
//! with the same references and lines.
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

/// The batches this server opens (IRCv3 batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchType {
    /// A labelled command's replies, when there are several (IRCv3 labeled-response).
    LabeledResponse,
    /// A page of history (IRCv3 chathistory).
    Chathistory,
    /// The answer to `CHATHISTORY TARGETS`.
    ChathistoryTargets,
}

impl BatchType {
    /// The type as the `BATCH +reference` line names it.
    fn name(self) -> &'static str {
        match self {
            Self::LabeledResponse => "labeled-response",
            Self::Chathistory => "chathistory",
            Self::ChathistoryTargets => "draft/chathistory-targets",
        }
    }

    /// What this type's references start with, to tell them apart when reading a log.
    fn prefix(self) -> char {
        match self {
            Self::LabeledResponse => 'L',
            Self::Chathistory | Self::ChathistoryTargets => 'H',
        }
    }
}

pub struct Replies {
    server_name: String,
    outbox: Arc<Outbox>,
    /// Whether the client accepts batches (the `batch` capability).
    batches_accepted: bool,
    /// Numbers batch references; unique within the connection.
    batches_opened: u64,
    /// The current command's replies: `None` between commands, so that an idle session does
    /// not carry them.
    current: Option<Box<Current>>,
}

/// The replies of the command being handled, and how they are to be labelled.
#[derive(Default)]
struct Current {
    /// The replies, already written out and reserved in the outbox.
    written: Vec<u8>,
    /// Bytes of `written` reserved in the outbox.
    reserved: usize,
    /// The command's `label` tag, and whether its replies may go in a batch (as the client's
    /// capabilities were when the command arrived).
    label: Option<(String, bool)>,
    /// A labelled command's first reply, kept back until it is known whether others follow:
    /// alone it carries the label, followed by others it opens a batch.
    first: Option<Message>,
    /// How many replies the command has so far.
    count: usize,
    /// The reference of the command's `labeled-response` batch, once opened.
    labeled_batch: Option<String>,
    /// The reference of the batch [`Replies::batch`] is filling; its lines go inside it
    /// rather than directly inside the labeled-response batch.
    inner_batch: Option<String>,
}

impl Replies {
    pub fn new(server_name: String, outbox: Arc<Outbox>) -> Self {
        Self {
            server_name,
            outbox,
            batches_accepted: false,
            batches_opened: 0,
            current: None,
        }
    }

    /// The current command's replies so far, to add to.
    fn current(&mut self) -> &mut Current {
        self.current.get_or_insert_default()
    }

    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// Sets whether the client accepts batches (its `batch` capability); the session keeps
    /// this up to date.
    pub fn accept_batches(&mut self, accepted: bool) {
        self.batches_accepted = accepted;
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

    /// Sends `lines` in a batch of `kind` (`BATCH +reference kind params…` … `BATCH
    /// -reference`) when the client accepts batches, as plain replies otherwise. Each line is
    /// written out as it comes. Inside a labelled command's replies the batch is nested in the
    /// labeled-response batch.
    pub fn batch(
        &mut self,
        kind: BatchType,
        params: Vec<String>,
        lines: impl IntoIterator<Item = Message>,
    ) {
        if !self.batches_accepted {
            return lines.into_iter().for_each(|line| self.push(line));
        }
        let reference = self.next_reference(kind);
        self.push(self.batch_start(&reference, kind, params));
        self.current().inner_batch = Some(reference);
        for line in lines {
            self.push(line);
        }
        let reference = self
            .current()
            .inner_batch
            .take()
            .expect("the batch is open");
        self.push(self.batch_end(&reference));
    }

    /// Adds a batch the caller built whole (a multiline message's own copy: `BATCH +…`, its
    /// lines, `BATCH -…`) as the entire response to the current command. A labelled
    /// command's label then goes on the batch's opening line, which labeled-response allows
    /// for a batch whose type covers the whole response (and IRCv3 multiline asks for with
    /// echo-message); anything added after it goes unlabelled. If replies came before it,
    /// it is added as any other replies: nested in the labeled-response batch.
    pub fn push_whole_batch(&mut self, messages: Vec<Message>) {
        let whole = self.current.as_deref().is_some_and(|current| {
            current.count == 0 && current.label.as_ref().is_some_and(|(_, batches)| *batches)
        });
        if !whole {
            return messages.into_iter().for_each(|message| self.push(message));
        }
        let (label, _) = self.current().label.take().expect("checked above");
        for (index, message) in messages.into_iter().enumerate() {
            self.current().count += 1;
            if index == 0 {
                self.write(message.with_tag("label", label.clone()));
            } else {
                self.write(message);
            }
        }
    }

    /// Adds a reply to the current command, inside the batch being filled if there is one.
    /// A line already in a batch of its own (a line of a multiline message) stays in it: its
    /// batch's opening and closing lines are the ones nested.
    pub fn push(&mut self, mut message: Message) {
        // The first reply is never inside an inner batch: that batch's opening line comes
        // before it.
        let in_inner_batch = match &self.current().inner_batch {
            Some(reference) => {
                if message.tag("batch").is_none() {
                    tag_batch(&mut message, reference);
                }
                true
            }
            None => false,
        };
        let current = self.current();
        current.count += 1;
        let Some((label, batches_allowed)) = current.label.clone() else {
            return self.write(message);
        };
        match current.count {
            1 => current.first = Some(message),
            2 => {
                let first = current.first.take().expect("the first reply is kept back");
                if batches_allowed {
                    let reference = self.next_reference(BatchType::LabeledResponse);
                    let start = self
                        .batch_start(&reference, BatchType::LabeledResponse, Vec::new())
                        .with_tag("label", label);
                    self.write(start);
                    self.current().labeled_batch = Some(reference);
                    self.write_labeled(first, false);
                } else {
                    // Without batches, the first reply carries the label (labeled-response).
                    self.write(first.with_tag("label", label));
                }
                self.write_labeled(message, in_inner_batch);
            }
            _ => self.write_labeled(message, in_inner_batch),
        }
    }

    /// Labels the replies to the current command (labeled-response).
    pub fn set_label(&mut self, label: &str) {
        self.current().label = Some((label.to_owned(), self.batches_accepted));
    }

    /// Takes the current command's label back: its replies go unlabelled, and no `ACK` is
    /// sent for none (a multiline batch's opening line, whose label belongs to the reply to
    /// its closing line).
    pub fn take_label(&mut self) -> Option<String> {
        self.current.as_mut()?.label.take().map(|(label, _)| label)
    }

    /// The current command's replies as wire bytes, labelled as the specification asks: no
    /// reply becomes an `ACK`, one reply carries the label, several go in a
    /// `labeled-response` batch (or, for a client without batches, the first carries the
    /// label). Resets the buffer for the next command.
    pub fn take(&mut self) -> ReplyBytes {
        let Some(current) = self.current.as_deref_mut() else {
            return ReplyBytes {
                chunks: Vec::new(),
                reserved: 0,
            };
        };
        if let Some((label, _)) = current.label.take() {
            match current.count {
                0 => {
                    let ack = Message::new("ACK", Vec::new())
                        .with_source(self.server_name.clone())
                        .with_tag("label", label);
                    self.write(ack);
                }
                1 => {
                    let first = current.first.take().expect("the only reply is kept back");
                    self.write(first.with_tag("label", label));
                }
                _ => {
                    if let Some(reference) = current.labeled_batch.take() {
                        self.write(self.batch_end(&reference));
                    }
                }
            }
        }
        let current = self.current.take().expect("taken above");
        ReplyBytes {
            chunks: if current.written.is_empty() {
                Vec::new()
            } else {
                vec![Bytes::from(current.written)]
            },
            reserved: current.reserved,
        }
    }

    /// A new batch reference, unique within the connection.
    fn next_reference(&mut self, kind: BatchType) -> String {
        self.batches_opened += 1;
        format!("{}{}", kind.prefix(), self.batches_opened)
    }

    /// `:server BATCH +reference type params…`
    fn batch_start(&self, reference: &str, kind: BatchType, params: Vec<String>) -> Message {
        let mut all = vec![format!("+{reference}"), kind.name().to_owned()];
        all.extend(params);
        Message::new("BATCH", all).with_source(self.server_name.clone())
    }

    /// `:server BATCH -reference`
    fn batch_end(&self, reference: &str) -> Message {
        Message::new("BATCH", vec![format!("-{reference}")]).with_source(self.server_name.clone())
    }

    /// Writes `message`, inside the current labeled-response batch if one is open and the
    /// message is not already inside a batch of its own (whose opening line is in it).
    fn write_labeled(&mut self, mut message: Message, in_inner_batch: bool) {
        if !in_inner_batch
            && message.tag("batch").is_none()
            && let Some(reference) = &self.current().labeled_batch
        {
            tag_batch(&mut message, reference);
        }
        self.write(message);
    }

    /// Appends `message`'s wire form if the client's send queue has room for it; otherwise
    /// the outbox has closed and the message is dropped with everything after it.
    fn write(&mut self, message: Message) {
        let current = self.current.get_or_insert_default();
        let start = current.written.len();
        message.write_to(&mut current.written);
        let size = current.written.len() - start;
        if self.outbox.reserve(size) {
            current.reserved += size;
        } else {
            current.written.truncate(start);
        }
    }
}

/// Puts `message` in the batch `reference` (the `batch` tag comes first).
fn tag_batch(message: &mut Message, reference: &str) {
    message.tags.insert(
        0,
        Tag {
            key: "batch".into(),
            value: reference.to_owned(),
        },
    );
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
        replies.accept_batches(true);
        replies.set_label("a1");
        assert_eq!(text(replies.take()), "@label=a1 :srv ACK\r\n");

        replies.set_label("a2");
        replies.numeric("305", "nick", &["You are no longer marked as being away"]);
        assert_eq!(
            text(replies.take()),
            "@label=a2 :srv 305 nick :You are no longer marked as being away\r\n"
        );

        replies.set_label("a3");
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
        replies.accept_batches(false);
        replies.set_label("a4");
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

    fn line(number: usize) -> Message {
        Message::new("PRIVMSG", vec!["#r".into(), format!("m{number}")])
    }

    #[test]
    fn a_batch_opens_fills_and_closes_for_a_client_with_batches() {
        let mut replies = replies(10_000);
        replies.accept_batches(true);
        replies.batch(BatchType::Chathistory, vec!["#r".into()], (0..2).map(line));
        replies.batch(BatchType::ChathistoryTargets, Vec::new(), Vec::new());
        assert_eq!(
            text(replies.take()),
            ":srv BATCH +H1 chathistory #r\r\n\
             @batch=H1 PRIVMSG #r m0\r\n\
             @batch=H1 PRIVMSG #r m1\r\n\
             :srv BATCH -H1\r\n\
             :srv BATCH +H2 draft/chathistory-targets\r\n\
             :srv BATCH -H2\r\n"
        );
    }

    #[test]
    fn a_batch_is_plain_lines_for_a_client_without_batches() {
        let mut replies = replies(10_000);
        replies.batch(BatchType::Chathistory, vec!["#r".into()], (0..2).map(line));
        assert_eq!(text(replies.take()), "PRIVMSG #r m0\r\nPRIVMSG #r m1\r\n");
    }

    #[test]
    fn a_batch_in_a_labelled_reply_nests_in_the_labeled_response_batch() {
        let mut replies = replies(10_000);
        replies.accept_batches(true);
        replies.set_label("a1");
        replies.batch(BatchType::Chathistory, vec!["#r".into()], (0..2).map(line));
        // Each line is in exactly one batch: the inner batch's lines in it, its opening and
        // closing lines in the labeled-response batch.
        assert_eq!(
            text(replies.take()),
            "@label=a1 :srv BATCH +L2 labeled-response\r\n\
             @batch=L2 :srv BATCH +H1 chathistory #r\r\n\
             @batch=H1 PRIVMSG #r m0\r\n\
             @batch=H1 PRIVMSG #r m1\r\n\
             @batch=L2 :srv BATCH -H1\r\n\
             :srv BATCH -L2\r\n"
        );

        // Even an empty batch is two replies, so it is always wrapped.
        replies.set_label("a2");
        replies.batch(BatchType::ChathistoryTargets, Vec::new(), Vec::new());
        assert_eq!(
            text(replies.take()),
            "@label=a2 :srv BATCH +L4 labeled-response\r\n\
             @batch=L4 :srv BATCH +H3 draft/chathistory-targets\r\n\
             @batch=L4 :srv BATCH -H3\r\n\
             :srv BATCH -L4\r\n"
        );
    }

    /// A multiline message as its own copy: `BATCH +m1 …`, a line in it, `BATCH -m1`.
    fn multiline_copy() -> Vec<Message> {
        vec![
            Message::new(
                "BATCH",
                vec!["+m1".into(), "draft/multiline".into(), "#r".into()],
            ),
            Message::new("PRIVMSG", vec!["#r".into(), "a".into()]).with_tag("batch", "m1"),
            Message::new("BATCH", vec!["-m1".into()]),
        ]
    }

    #[test]
    fn a_batch_that_is_the_whole_response_carries_the_label() {
        let mut replies = replies(10_000);
        replies.accept_batches(true);
        replies.set_label("a1");
        replies.push_whole_batch(multiline_copy());
        assert_eq!(
            text(replies.take()),
            "@label=a1 BATCH +m1 draft/multiline #r\r\n\
             @batch=m1 PRIVMSG #r a\r\n\
             BATCH -m1\r\n"
        );
        // Unlabelled, it is just its lines.
        replies.push_whole_batch(multiline_copy());
        assert_eq!(
            text(replies.take()),
            "BATCH +m1 draft/multiline #r\r\n@batch=m1 PRIVMSG #r a\r\nBATCH -m1\r\n"
        );
    }

    #[test]
    fn a_batch_after_other_replies_nests_in_the_labeled_response_batch() {
        let mut replies = replies(10_000);
        replies.accept_batches(true);
        replies.set_label("a1");
        replies.numeric("301", "nick", &["bob", "away"]);
        replies.push_whole_batch(multiline_copy());
        assert_eq!(
            text(replies.take()),
            "@label=a1 :srv BATCH +L1 labeled-response\r\n\
             @batch=L1 :srv 301 nick bob away\r\n\
             @batch=L1 BATCH +m1 draft/multiline #r\r\n\
             @batch=m1 PRIVMSG #r a\r\n\
             @batch=L1 BATCH -m1\r\n\
             :srv BATCH -L1\r\n"
        );
    }

    #[test]
    fn a_batch_in_a_batch_keeps_its_own_lines() {
        let mut replies = replies(10_000);
        replies.accept_batches(true);
        replies.batch(BatchType::Chathistory, vec!["#r".into()], multiline_copy());
        assert_eq!(
            text(replies.take()),
            ":srv BATCH +H1 chathistory #r\r\n\
             @batch=H1 BATCH +m1 draft/multiline #r\r\n\
             @batch=m1 PRIVMSG #r a\r\n\
             @batch=H1 BATCH -m1\r\n\
             :srv BATCH -H1\r\n"
        );
    }

    #[test]
    fn a_batch_streams_its_lines_into_the_send_queue() {
        let outbox = Arc::new(Outbox::new(80));
        let mut replies = Replies::new("srv".into(), outbox.clone());
        replies.accept_batches(true);
        let watched = outbox.clone();
        let lines = (0..100).map(|number| {
            if number == 5 {
                assert!(
                    watched.is_closed(),
                    "earlier lines were reserved as they came"
                );
            }
            line(number)
        });
        replies.batch(BatchType::Chathistory, vec!["#r".into()], lines);
        assert_eq!(
            text(replies.take()),
            ":srv BATCH +H1 chathistory #r\r\n@batch=H1 PRIVMSG #r m0\r\n",
            "what fit in 80 bytes"
        );
    }
}
