//! The session state machine: RFC 5321 §3.3 (mail transactions), §4.1.1 (command
//! semantics), §4.1.4 (command order), §4.3.2 (which reply for which sequence);
//! RFC 1869 (EHLO), RFC 3207 §4.2 (state after STARTTLS), RFC 4954 §4 (AUTH).
//!
//! Sans-IO: the connection hands it lines and the gateway's answers; it appends reply
//! bytes to its output and returns a [`Step`] saying what the connection must do next.
//! Gateway calls are explicit steps, so every decision here is testable without I/O.
//! The transaction commands (MAIL, RCPT, DATA) are in `session/mail.rs`.

use std::sync::Arc;

use partner::{FsError, Login, MailEnvelope, Peer, Receipt};

use crate::SmtpConfig;
use crate::auth::{self, Credentials, Exchange};
use crate::command::{self, Command, CommandError, Mechanism, Secret};
use crate::data::Violation;
use crate::reply::{self, Reply};

/// What the connection does after a line or an answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Read the next line.
    Continue,
    /// Send the output, then close the connection.
    Close,
    /// Send the output (`220`), drop everything already read, handshake TLS, then
    /// [`Session::tls_started`].
    StartTls,
    /// Ask `MailGateway::recipient`, then [`Session::recipient_checked`].
    CheckRecipient(String),
    /// Ask `MailGateway::authenticate`, then [`Session::authenticated`].
    Authenticate(Credentials),
    /// Call `MailGateway::begin_message`, then [`Session::data_started`].
    BeginMessage(Box<MailEnvelope>),
}

/// How the data of a message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataOutcome {
    /// `MessageUpload::commit` returned Ok.
    Queued(Receipt),
    /// The message broke a limit; nothing was committed.
    Violation(Violation),
    /// A write or the commit failed; nothing was committed.
    Failed(FsError),
}

#[derive(Debug)]
enum State {
    /// No transaction.
    Idle,
    /// The next line answers an AUTH challenge.
    Auth(Exchange),
    /// `MAIL` accepted: recipients are being collected.
    Mail(Transaction),
    /// `354` sent: the connection is receiving the data.
    Data(Transaction),
}

/// One mail transaction (RFC 5321 §3.3).
#[derive(Debug)]
struct Transaction {
    from: String,
    recipients: Vec<String>,
    /// The channel of the first accepted recipient; every other must share it.
    channel: Option<String>,
}

/// One SMTP session; see the module header.
#[derive(Debug)]
pub struct Session {
    config: Arc<SmtpConfig>,
    peer: Peer,
    /// Under TLS (after STARTTLS).
    tls: bool,
    /// The EHLO/HELO name; `None` until the client greets (again, after STARTTLS).
    helo: Option<String>,
    login: Option<Login>,
    state: State,
    /// Permanent refusals so far (see `SmtpConfig::max_errors`).
    errors: u32,
    /// Reply bytes not yet sent.
    out: Vec<u8>,
}

impl Session {
    /// A new session, its greeting already in the output.
    pub fn new(config: Arc<SmtpConfig>, peer: Peer) -> Session {
        let mut session = Session {
            config,
            peer,
            tls: false,
            helo: None,
            login: None,
            state: State::Idle,
            errors: 0,
            out: Vec::new(),
        };
        session.send(reply::greeting(&session.config.hostname));
        session
    }

    /// Reply bytes to send.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    pub fn clear_output(&mut self) {
        self.out.clear();
    }

    pub fn login(&self) -> Option<&Login> {
        self.login.as_ref()
    }

    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// One command line, or an answer to an AUTH challenge.
    pub fn on_line(&mut self, line: &[u8]) -> Step {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Auth(exchange) => {
                return match std::str::from_utf8(line) {
                    Ok(line) => self.auth_next(auth::respond(exchange, line)),
                    Err(_) => self.answer(reply::AUTH_BAD_ENCODING),
                };
            }
            other => self.state = other,
        }
        match command::parse(line) {
            Ok(command) => self.command(command),
            Err(error) => self.answer(reply_for(error)),
        }
    }

    /// A line over `max_line` has been discarded.
    pub fn on_line_too_long(&mut self) -> Step {
        if let State::Auth(_) = self.state {
            self.state = State::Idle;
        }
        self.answer(reply::LINE_TOO_LONG)
    }

    /// Ends the session with `reply` (a `421`: timeout, shutdown, runaway line).
    pub fn close(&mut self, reply: Reply) -> Step {
        self.send(reply);
        Step::Close
    }

    fn command(&mut self, command: Command) -> Step {
        match command {
            Command::Ehlo(name) => self.hello(name, true),
            Command::Helo(name) => self.hello(name, false),
            Command::Mail { from, size } => self.mail(from, size),
            Command::Rcpt { to } => self.rcpt(to),
            Command::Data => self.data(),
            Command::Rset => {
                self.state = State::Idle;
                self.answer(reply::OK)
            }
            Command::Noop => self.answer(reply::OK),
            Command::Quit => self.close(reply::BYE),
            Command::Vrfy => self.answer(reply::CANNOT_VRFY),
            Command::Help => self.answer(reply::HELP),
            Command::StartTls => self.starttls(),
            Command::Auth { mechanism, initial } => self.auth(&mechanism, initial),
            Command::Unknown => self.answer(reply::UNKNOWN_COMMAND),
        }
    }

    /// EHLO/HELO (RFC 5321 §4.1.1.1): greets, and drops any open transaction.
    fn hello(&mut self, name: String, extended: bool) -> Step {
        self.helo = Some(name);
        self.state = State::Idle;
        if !extended {
            return self.answer(reply::helo(&self.config.hostname));
        }
        let size = format!("SIZE {}", self.config.max_message_bytes);
        let mut lines = vec![self.config.hostname.as_str(), &size, "8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES"];
        if self.config.tls.is_some() && !self.tls {
            lines.push("STARTTLS");
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN");
        }
        lines.push("HELP");
        reply::encode_lines(250, &lines, &mut self.out);
        Step::Continue
    }

    fn starttls(&mut self) -> Step {
        let answer = if self.config.tls.is_none() {
            reply::TLS_NOT_AVAILABLE
        } else if self.tls {
            reply::ALREADY_TLS
        } else if self.helo.is_none() {
            reply::NEED_HELO
        } else {
            self.send(reply::READY_FOR_TLS);
            return Step::StartTls;
        };
        self.answer(answer)
    }

    /// RFC 3207 §4.2: after the handshake the session starts over (EHLO again, no AUTH,
    /// no transaction); only the error count survives.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.helo = None;
        self.login = None;
        self.state = State::Idle;
    }

    fn auth_offered(&self) -> bool {
        self.tls || self.config.auth_without_tls
    }

    fn auth(&mut self, mechanism: &Mechanism, initial: Option<Secret>) -> Step {
        let refusal = match self.state {
            _ if self.helo.is_none() => reply::NEED_HELO,
            _ if !self.auth_offered() => reply::ENCRYPTION_REQUIRED,
            _ if self.login.is_some() => reply::ALREADY_AUTHENTICATED,
            State::Mail(_) => reply::AUTH_IN_TRANSACTION,
            _ => return self.auth_next(auth::start(mechanism, initial.as_ref().map(|s| s.0.as_str()))),
        };
        self.answer(refusal)
    }

    fn auth_next(&mut self, next: auth::Next) -> Step {
        match next {
            auth::Next::Challenge(challenge, exchange) => {
                self.state = State::Auth(exchange);
                self.answer(challenge)
            }
            auth::Next::Check(credentials) => Step::Authenticate(credentials),
            auth::Next::Refuse(refusal) => self.answer(refusal),
        }
    }

    /// The gateway's answer to [`Step::Authenticate`].
    pub fn authenticated(&mut self, login: Option<Login>) -> Step {
        let peer = self.peer.remote;
        match login {
            Some(login) => {
                tracing::info!(message = "SMTP login", %peer, channel = %login.channel);
                self.login = Some(login);
                self.answer(reply::AUTH_OK)
            }
            None => {
                tracing::warn!(message = "SMTP login refused", %peer);
                self.answer(reply::AUTH_FAILED)
            }
        }
    }

    /// Sends the reply to a command; a permanent refusal counts as a client error, and
    /// too many of them end the session.
    fn answer(&mut self, reply: Reply) -> Step {
        let permanent = reply.is_permanent();
        self.send(reply);
        if permanent {
            self.errors = self.errors.saturating_add(1);
            if self.errors >= self.config.max_errors {
                tracing::warn!(message = "SMTP client made too many errors", peer = %self.peer.remote);
                return self.close(reply::TOO_MANY_ERRORS);
            }
        }
        Step::Continue
    }

    fn send(&mut self, reply: Reply) {
        reply.encode(&mut self.out);
    }
}

fn reply_for(error: CommandError) -> Reply {
    match error {
        CommandError::Garbled => reply::SYNTAX,
        CommandError::Arguments => reply::ARGUMENTS,
        CommandError::Sender => reply::BAD_SENDER_SYNTAX,
        CommandError::Recipient => reply::BAD_RECIPIENT_SYNTAX,
        CommandError::Parameter => reply::UNSUPPORTED_PARAMETER,
    }
}

mod mail;
#[cfg(test)]
pub(crate) mod tests;
