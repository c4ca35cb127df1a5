//! Reading the server's answers to our labelled lines (IRCv3 labeled-response,
//! <https://ircv3.net/specs/extensions/labeled-response>): one reply carrying the `label`, an
//! `ACK` carrying it when there is nothing else to say, or several replies in a `BATCH` of type
//! `labeled-response` whose start carries it. Whichever shape it takes, the answer either
//! refuses the line (an error numeric or `FAIL` among its replies) or takes it.

use std::collections::HashMap;

use palaver_proto::irc::Message;

use super::said::Outcome;
use crate::model::refusal;

/// What a message means for the answers being followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The label whose answer is now complete, and how it went.
    pub answered: Option<(String, Outcome)>,
    /// The message is only the answer's framing (`ACK`, the batch's start or end): nothing to
    /// show.
    pub framing: bool,
}

/// The `labeled-response` batches open on one connection.
#[derive(Debug, Default)]
pub struct Answers {
    /// Batch reference → the label it answers, and the first refusal among its replies.
    open: HashMap<String, (String, Option<String>)>,
}

impl Answers {
    pub fn read(&mut self, message: &Message) -> Reading {
        let command = message.command.to_ascii_uppercase();
        let label = message.tag("label");
        let answered = |label: &str, refused: Option<String>| {
            Some((
                label.to_owned(),
                refused.map_or(Outcome::Delivered, Outcome::Refused),
            ))
        };
        match (command.as_str(), message.params.as_slice(), label) {
            ("ACK", _, Some(label)) => Reading {
                answered: answered(label, None),
                framing: true,
            },
            ("BATCH", [start, kind, ..], Some(label))
                if start.starts_with('+') && kind.eq_ignore_ascii_case("labeled-response") =>
            {
                self.open
                    .insert(start[1..].to_owned(), (label.to_owned(), None));
                Reading {
                    answered: None,
                    framing: true,
                }
            }
            ("BATCH", [end, ..], _)
                if end.starts_with('-') && self.open.contains_key(&end[1..]) =>
            {
                let (label, refused) = self.open.remove(&end[1..]).unwrap_or_default();
                Reading {
                    answered: answered(&label, refused),
                    framing: true,
                }
            }
            (_, _, Some(label)) => Reading {
                answered: answered(label, refusal(message).map(|r| r.reason.to_owned())),
                framing: false,
            },
            _ => {
                if let Some((_, refused)) = message
                    .tag("batch")
                    .and_then(|reference| self.open.get_mut(reference))
                    && refused.is_none()
                {
                    *refused = refusal(message).map(|r| r.reason.to_owned());
                }
                Reading {
                    answered: None,
                    framing: false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(answers: &mut Answers, line: &str) -> Reading {
        answers.read(&Message::parse(line).unwrap())
    }

    fn answered(label: &str, outcome: Outcome) -> Option<(String, Outcome)> {
        Some((label.to_owned(), outcome))
    }

    #[test]
    fn a_single_labelled_reply_answers_at_once() {
        let mut answers = Answers::default();
        let echo = read(&mut answers, "@label=l1;msgid=m1 :bot!b@h PRIVMSG #ops :hi");
        assert_eq!(echo.answered, answered("l1", Outcome::Delivered));
        assert!(!echo.framing, "the echo is shown");
        let refused = read(
            &mut answers,
            "@label=l2 :srv 404 bot #ops :Cannot send to channel",
        );
        assert_eq!(
            refused.answered,
            answered("l2", Outcome::Refused("Cannot send to channel".into()))
        );
        let ack = read(&mut answers, "@label=l3 :srv ACK");
        assert_eq!(ack.answered, answered("l3", Outcome::Delivered));
        assert!(ack.framing);
        assert_eq!(read(&mut answers, ":a!b@c PRIVMSG #ops :hi").answered, None);
    }

    #[test]
    fn a_batch_answers_at_its_end_refused_if_any_reply_refuses() {
        let mut answers = Answers::default();
        assert!(read(&mut answers, "@label=l1 :srv BATCH +L1 labeled-response").framing);
        let away = read(&mut answers, "@batch=L1 :srv 301 bot alice :lunch");
        assert_eq!(away.answered, None);
        read(&mut answers, "@batch=L1 :bot!b@h PRIVMSG alice :hi");
        let end = read(&mut answers, ":srv BATCH -L1");
        assert_eq!(end.answered, answered("l1", Outcome::Delivered));
        assert!(end.framing);

        read(&mut answers, "@label=l2 :srv BATCH +L2 labeled-response");
        read(&mut answers, "@batch=L2 :NickServ!s@h NOTICE bot :hello");
        read(&mut answers, "@batch=L2 :srv FAIL PRIVMSG NO :not today");
        let end = read(&mut answers, ":srv BATCH -L2");
        assert_eq!(
            end.answered,
            answered("l2", Outcome::Refused("not today".into()))
        );
        // Another batch's end is none of ours.
        assert_eq!(read(&mut answers, ":srv BATCH -H1").answered, None);
    }
}
