//! The one place an IRC command's replies are collected and turned into bytes, so that
//! labels and batches (IRCv3 labeled-response, batch) are applied in exactly one place.

use bytes::Bytes;
use palaver_proto::irc::message::{Message, Tag};

pub struct Replies {
    server_name: String,
    messages: Vec<Message>,
    /// The current command's `label` tag, and whether the client accepts batches.
    label: Option<(String, bool)>,
    /// Numbers batch references; unique within the connection.
    batches_opened: u64,
}

impl Replies {
    pub fn new(server_name: String) -> Self {
        Self {
            server_name,
            messages: Vec::new(),
            label: None,
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
        self.messages.push(message);
    }

    /// A message without a source (`ERROR`).
    pub fn raw(&mut self, message: Message) {
        self.messages.push(message);
    }

    pub fn push(&mut self, message: Message) {
        self.messages.push(message);
    }

    /// Labels the replies to the current command (labeled-response).
    pub fn set_label(&mut self, label: &str, batches_allowed: bool) {
        self.label = Some((label.to_owned(), batches_allowed));
    }

    /// The collected replies as wire bytes, labelled as the specification asks: no reply
    /// becomes an `ACK`, one reply carries the label, several go in a `labeled-response`
    /// batch (or, for a client without batches, the first carries the label). Resets the
    /// buffer for the next command.
    pub fn take(&mut self) -> Option<Bytes> {
        let mut messages = std::mem::take(&mut self.messages);
        if let Some((label, batches_allowed)) = self.label.take() {
            let label_tag = Tag {
                key: "label".into(),
                value: label,
            };
            match messages.len() {
                0 => {
                    let mut ack =
                        Message::new("ACK", Vec::new()).with_source(self.server_name.clone());
                    ack.tags.push(label_tag);
                    messages.push(ack);
                }
                1 => messages[0].tags.push(label_tag),
                _ if batches_allowed => {
                    self.batches_opened += 1;
                    let reference = format!("L{}", self.batches_opened);
                    for message in &mut messages {
                        message.tags.insert(
                            0,
                            Tag {
                                key: "batch".into(),
                                value: reference.clone(),
                            },
                        );
                    }
                    let mut start = Message::new(
                        "BATCH",
                        vec![format!("+{reference}"), "labeled-response".into()],
                    )
                    .with_source(self.server_name.clone());
                    start.tags.push(label_tag);
                    let end = Message::new("BATCH", vec![format!("-{reference}")])
                        .with_source(self.server_name.clone());
                    messages.insert(0, start);
                    messages.push(end);
                }
                _ => messages[0].tags.push(label_tag),
            }
        }
        if messages.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(messages.len() * 96);
        for message in &messages {
            message.write_to(&mut out);
        }
        Some(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Option<Bytes>) -> String {
        String::from_utf8(bytes.unwrap_or_default().to_vec()).unwrap()
    }

    #[test]
    fn labels_acks_and_batches() {
        let mut replies = Replies::new("srv".into());
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
        assert_eq!(replies.take(), None);
        replies.numeric("303", "nick", &["x"]);
        assert_eq!(text(replies.take()), ":srv 303 nick x\r\n");
    }
}
