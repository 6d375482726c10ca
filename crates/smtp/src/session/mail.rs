//! The mail transaction: MAIL (RFC 5321 §4.1.1.2; SIZE, RFC 1870 §6), RCPT
//! (§4.1.1.3; too many recipients §4.5.3.1.10), DATA and its end (§4.1.1.4), with the
//! one-channel-per-transaction rule and the reply to the end of data.

use partner::{FsError, MailEnvelope, RecipientError};

use super::{DataOutcome, Session, State, Step, Transaction};
use crate::data::Violation;
use crate::reply;

impl Session {
    pub(super) fn mail(&mut self, from: String, size: Option<u64>) -> Step {
        let max = self.config.max_message_bytes;
        let refusal = match self.state {
            _ if self.helo.is_none() => Some(reply::NEED_HELO),
            State::Mail(_) => Some(reply::NESTED_MAIL),
            _ if size.is_some_and(|size| size > max) => Some(reply::too_big(max)),
            _ => None,
        };
        if let Some(refusal) = refusal {
            return self.answer(refusal);
        }
        self.state = State::Mail(Transaction { from, recipients: Vec::new(), channel: None });
        self.answer(reply::SENDER_OK)
    }

    pub(super) fn rcpt(&mut self, to: String) -> Step {
        let answer = match &self.state {
            _ if self.helo.is_none() => reply::NEED_HELO,
            State::Mail(tx) if tx.recipients.iter().any(|r| r.eq_ignore_ascii_case(&to)) => reply::RECIPIENT_OK,
            State::Mail(tx) if tx.recipients.len() >= self.config.max_recipients => reply::TOO_MANY_RECIPIENTS,
            State::Mail(_) => return Step::CheckRecipient(to),
            _ => reply::NEED_MAIL,
        };
        self.answer(answer)
    }

    /// The gateway's answer for a recipient of [`Step::CheckRecipient`].
    pub fn recipient_checked(&mut self, address: String, channel: Result<String, RecipientError>) -> Step {
        let State::Mail(tx) = &mut self.state else { return self.answer(reply::NEED_MAIL) };
        let answer = match channel {
            Ok(channel) if tx.channel.as_ref().is_some_and(|first| *first != channel) => reply::OTHER_CHANNEL,
            Ok(channel) => {
                tx.channel = Some(channel);
                tx.recipients.push(address);
                reply::RECIPIENT_OK
            }
            Err(RecipientError::Unknown) => reply::UNKNOWN_RECIPIENT,
            Err(RecipientError::AuthRequired) => reply::AUTH_REQUIRED,
            Err(RecipientError::AddressRefused) => reply::ADDRESS_REFUSED,
            Err(RecipientError::Unavailable(reason)) => {
                tracing::warn!(message = "SMTP recipient lookup unavailable", peer = %self.peer.remote, %reason);
                reply::TRY_LATER
            }
        };
        self.answer(answer)
    }

    pub(super) fn data(&mut self) -> Step {
        let (Some(helo), State::Mail(tx)) = (&self.helo, &self.state) else {
            let answer = if self.helo.is_none() { reply::NEED_HELO } else { reply::NEED_MAIL };
            return self.answer(answer);
        };
        let Some(channel) = tx.channel.clone().filter(|_| !tx.recipients.is_empty()) else {
            return self.answer(reply::NO_VALID_RECIPIENTS);
        };
        Step::BeginMessage(Box::new(MailEnvelope {
            peer: self.peer,
            channel,
            helo: helo.clone(),
            from: tx.from.clone(),
            recipients: tx.recipients.clone(),
            login: self.login.as_ref().map(|login| login.user.clone()),
            tls: self.tls,
        }))
    }

    /// The gateway's answer to [`Step::BeginMessage`]: `Ok` means the connection now
    /// receives the data and ends it with [`Session::data_finished`].
    pub fn data_started(&mut self, started: Result<(), FsError>) -> Step {
        let State::Mail(tx) = std::mem::replace(&mut self.state, State::Idle) else {
            return self.answer(reply::NEED_MAIL);
        };
        match started {
            Ok(()) => {
                self.state = State::Data(tx);
                self.answer(reply::START_DATA)
            }
            Err(error) => {
                tracing::warn!(message = "SMTP message refused at DATA", peer = %self.peer.remote, channel = ?tx.channel, %error);
                self.answer(reply::for_fs_error(&error))
            }
        }
    }

    /// The end of the data; the transaction is over whatever the outcome.
    pub fn data_finished(&mut self, outcome: DataOutcome) -> Step {
        let State::Data(tx) = std::mem::replace(&mut self.state, State::Idle) else {
            return self.answer(reply::NEED_MAIL);
        };
        let channel = tx.channel.as_deref().unwrap_or_default();
        let (peer, max_line) = (self.peer.remote, self.config.max_line);
        let answer = match outcome {
            DataOutcome::Queued(receipt) => {
                let (id, size, recipients) = (receipt.id, receipt.size, tx.recipients.len());
                tracing::info!(message = "SMTP message accepted", %peer, channel, size, %id, recipients);
                reply::queued(receipt.id)
            }
            DataOutcome::Violation(violation) => {
                tracing::warn!(message = "SMTP message refused", %peer, channel, reason = ?violation);
                match violation {
                    Violation::TooBig => reply::too_big(self.config.max_message_bytes),
                    Violation::LineTooLong => reply::line_too_long_in_message(max_line),
                }
            }
            DataOutcome::Failed(error) => {
                tracing::warn!(message = "SMTP message not stored", %peer, channel, %error);
                reply::for_fs_error(&error)
            }
        };
        // The size and line refusals are about the message, not a bad command.
        self.send(answer);
        Step::Continue
    }
}
