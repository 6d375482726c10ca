//! One SMTP connection over a byte stream, plain or TLS: reading lines and data,
//! RFC 2920 PIPELINING (§3.1: replies to every command already received go out in one
//! write), RFC 3207 §4.2 STARTTLS (buffered input is dropped before the handshake),
//! RFC 5321 §4.5.3.2 timeouts, and the gateway calls the [`Session`] asks for.
//!
//! Memory per connection is bounded whatever the client sends: the input buffer holds
//! at most [`DATA_BUFFER`] bytes (a few KiB outside DATA), a message passes through in
//! pieces of about [`CHUNK`] bytes, and an over-long line is discarded as it arrives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use envelope::Protocol;
use partner::accept::Socket;
use partner::{FsError, MailGateway, MessageUpload, Peer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::SmtpConfig;
use crate::data::DataDecoder;
use crate::line::{Line, LineReader};
use crate::reply::{self, Reply};
use crate::session::{DataOutcome, Session, Step};

/// Input buffer outside DATA (grown when `max_line` needs more).
const COMMAND_BUFFER: usize = 4096;
/// Input buffer during DATA.
const DATA_BUFFER: usize = 64 * 1024;
/// Message bytes handed to `MessageUpload::write` at a time.
const CHUNK: usize = 256 * 1024;
/// Command lines longer than this are refused even if `max_line` allows more.
const MAX_COMMAND_LINE: usize = 1024 * 1024;
/// How long a closing connection may take to say goodbye (TLS `close_notify`, FIN).
const GOODBYE: Duration = Duration::from_secs(1);

/// What every connection of one server shares.
pub(crate) struct Shared {
    pub config: Arc<SmtpConfig>,
    pub gateway: Arc<dyn MailGateway>,
    pub tls: Option<TlsAcceptor>,
}

/// Serves one connection until it ends. Shutdown: `shutdown` closes an idle session at
/// once; a message being received or committed is left to finish (the server cuts the
/// whole future after its grace).
pub(crate) async fn run(stream: Socket, remote: SocketAddr, shared: Arc<Shared>, shutdown: CancellationToken) {
    tracing::debug!(message = "SMTP session", peer = %remote);
    let peer = Peer { remote, protocol: Protocol::Smtp };
    let mut session = Session::new(shared.config.clone(), peer);
    let deadline = Instant::now().checked_add(shared.config.session_timeout);
    let context = Context { shared: &shared, shutdown: &shutdown, deadline };
    let mut plain = Conn::new(stream, &shared.config);
    if plain.serve(&mut session, &context).await == Flow::StartTls
        && let Some(tls) = context.handshake(plain.stream).await
    {
        // `plain` is gone with whatever it had buffered after the STARTTLS line.
        session.tls_started();
        Conn::new(tls, &shared.config).serve(&mut session, &context).await;
    }
    tracing::debug!(message = "SMTP session ended", peer = %remote);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Closed,
    StartTls,
}

/// Why reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadEnd {
    /// End of stream or an I/O error: nobody to answer.
    Gone,
    Idle,
    SessionOver,
    Shutdown,
}

impl ReadEnd {
    fn farewell(self) -> Option<Reply> {
        match self {
            ReadEnd::Gone => None,
            ReadEnd::Idle => Some(reply::IDLE_TIMEOUT),
            ReadEnd::SessionOver => Some(reply::SESSION_TOO_LONG),
            ReadEnd::Shutdown => Some(reply::SHUTTING_DOWN),
        }
    }
}

struct Context<'a> {
    shared: &'a Shared,
    shutdown: &'a CancellationToken,
    /// End of `session_timeout`; `None` if too far away to represent.
    deadline: Option<Instant>,
}

impl Context<'_> {
    fn config(&self) -> &SmtpConfig {
        &self.shared.config
    }

    /// Waits until the session deadline (forever if there is none).
    async fn session_over(&self) {
        match self.deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    }

    /// The STARTTLS handshake; `None` (the connection is dropped quietly) on failure.
    async fn handshake(&self, stream: Socket) -> Option<tokio_rustls::server::TlsStream<Socket>> {
        let acceptor = self.shared.tls.as_ref()?;
        let result = tokio::select! {
            _ = self.shutdown.cancelled() => return None,
            () = self.session_over() => return None,
            result = tokio::time::timeout(self.config().idle_timeout, acceptor.accept(stream)) => result,
        };
        match result {
            Ok(Ok(tls)) => Some(tls),
            Ok(Err(error)) => {
                tracing::debug!(message = "STARTTLS handshake failed", %error);
                None
            }
            Err(_) => {
                tracing::debug!(message = "STARTTLS handshake timed out");
                None
            }
        }
    }
}

/// A stream with its input buffer.
struct Conn<S> {
    stream: S,
    /// Bytes read and not yet used, from `start`.
    input: Vec<u8>,
    start: usize,
    /// How much `input` may hold now.
    limit: usize,
    command_limit: usize,
    lines: LineReader,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn new(stream: S, config: &SmtpConfig) -> Conn<S> {
        let max_line = config.max_line.clamp(1, MAX_COMMAND_LINE);
        let command_limit = (max_line + 1).max(COMMAND_BUFFER);
        Conn {
            stream,
            input: Vec::new(),
            start: 0,
            limit: command_limit,
            command_limit,
            lines: LineReader::new(max_line),
        }
    }

    /// Runs commands until the session closes or asks for TLS.
    async fn serve(&mut self, session: &mut Session, context: &Context<'_>) -> Flow {
        loop {
            let step = match self.next_line(session, context) {
                Some(step) => step,
                None => {
                    // Every buffered command is answered: send the replies, then wait.
                    if !self.flush(session, context).await {
                        return Flow::Closed;
                    }
                    match self.read(context, true).await {
                        Ok(()) => continue,
                        Err(end) => return self.end(session, context, end).await,
                    }
                }
            };
            if let Some(flow) = self.execute(step, session, context).await {
                return flow;
            }
        }
    }

    /// The step for the next buffered line; `None` when there is no whole line yet.
    fn next_line(&mut self, session: &mut Session, context: &Context<'_>) -> Option<Step> {
        if context.shutdown.is_cancelled() {
            return Some(session.close(reply::SHUTTING_DOWN));
        }
        let (used, line) = self.lines.next(&self.input[self.start..]);
        let step = match line {
            Line::NeedMore => None,
            Line::Complete(line) => Some(session.on_line(line)),
            Line::TooLong => Some(session.on_line_too_long()),
            Line::Runaway => Some(session.close(reply::RUNAWAY_LINE)),
        };
        self.start += used;
        step
    }

    /// Carries out `step` and what follows from it; `Some` when the connection ends
    /// or turns to TLS.
    async fn execute(&mut self, mut step: Step, session: &mut Session, context: &Context<'_>) -> Option<Flow> {
        let gateway = &context.shared.gateway;
        loop {
            step = match step {
                Step::Continue => return None,
                Step::Close => {
                    self.flush(session, context).await;
                    self.goodbye().await;
                    return Some(Flow::Closed);
                }
                Step::StartTls => {
                    let sent = self.flush(session, context).await;
                    return Some(if sent { Flow::StartTls } else { Flow::Closed });
                }
                Step::CheckRecipient(address) => {
                    let channel = gateway.recipient(session.peer(), &address, session.login());
                    session.recipient_checked(address, channel)
                }
                Step::Authenticate(credentials) => {
                    let login = gateway.authenticate(session.peer(), &credentials.user, &credentials.password).await;
                    drop(credentials);
                    session.authenticated(login)
                }
                Step::BeginMessage(envelope) => match gateway.begin_message(*envelope).await {
                    Err(error) => session.data_started(Err(error)),
                    Ok(upload) => match self.message(upload, session, context).await {
                        Ok(step) => step,
                        Err(end) => return Some(self.end(session, context, end).await),
                    },
                },
            };
        }
    }

    /// Sends `354`, receives the data and commits it.
    async fn message(
        &mut self,
        upload: Box<dyn MessageUpload>,
        session: &mut Session,
        context: &Context<'_>,
    ) -> Result<Step, ReadEnd> {
        let started = session.data_started(Ok(()));
        if started != Step::Continue {
            return Ok(started);
        }
        if !self.flush(session, context).await {
            return Err(ReadEnd::Gone);
        }
        self.limit = DATA_BUFFER;
        let outcome = self.receive(upload, context).await;
        self.limit = self.command_limit;
        self.input.shrink_to(self.command_limit);
        Ok(session.data_finished(outcome?))
    }

    /// Streams the data into `upload`; commits it only if it arrived whole, within the
    /// limits and written without error. An `Err` drops the upload uncommitted.
    async fn receive(
        &mut self,
        mut upload: Box<dyn MessageUpload>,
        context: &Context<'_>,
    ) -> Result<DataOutcome, ReadEnd> {
        let config = context.config();
        let mut decoder = DataDecoder::new(config.max_line, config.max_message_bytes);
        let mut chunk = Vec::with_capacity(CHUNK + DATA_BUFFER);
        let mut failed: Option<FsError> = None;
        loop {
            let progress = decoder.feed(&self.input[self.start..], &mut chunk);
            self.start += progress.consumed;
            if failed.is_some() || decoder.violation().is_some() {
                chunk.clear();
            } else if !chunk.is_empty() && (progress.done || chunk.len() >= CHUNK) {
                failed = upload.write(&chunk).await.err();
                chunk.clear();
            }
            if progress.done {
                break;
            }
            self.read(context, false).await?;
        }
        let decoded = match decoder.finish() {
            Err(violation) => return Ok(DataOutcome::Violation(violation)),
            Ok(decoded) => decoded,
        };
        if let Some(error) = failed {
            return Ok(DataOutcome::Failed(error));
        }
        Ok(match upload.commit(decoded.message_id).await {
            Ok(receipt) => DataOutcome::Queued(receipt),
            Err(error) => DataOutcome::Failed(error),
        })
    }

    /// Reads more input (at least one byte) within the idle and session timeouts; in
    /// command mode (`watch_shutdown`) a shutdown ends the wait too.
    async fn read(&mut self, context: &Context<'_>, watch_shutdown: bool) -> Result<(), ReadEnd> {
        if context.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Err(ReadEnd::SessionOver);
        }
        if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
        let room = self.limit.saturating_sub(self.input.len());
        if room == 0 {
            // Lines and data always use what is buffered, so this cannot happen; if it
            // did, reading on would grow the buffer without bound.
            return Err(ReadEnd::Gone);
        }
        self.input.reserve_exact(room);
        tokio::select! {
            biased;
            _ = context.shutdown.cancelled(), if watch_shutdown => Err(ReadEnd::Shutdown),
            () = context.session_over() => Err(ReadEnd::SessionOver),
            () = tokio::time::sleep(context.config().idle_timeout) => Err(ReadEnd::Idle),
            read = self.stream.read_buf(&mut self.input) => match read {
                Ok(n) if n > 0 => Ok(()),
                _ => Err(ReadEnd::Gone),
            },
        }
    }

    /// Sends the session's pending replies; false if the client is gone or stalls.
    async fn flush(&mut self, session: &mut Session, context: &Context<'_>) -> bool {
        if session.output().is_empty() {
            return true;
        }
        let write = async {
            self.stream.write_all(session.output()).await?;
            self.stream.flush().await
        };
        let sent = matches!(tokio::time::timeout(context.config().idle_timeout, write).await, Ok(Ok(())));
        session.clear_output();
        sent
    }

    /// Answers `end` if there is anyone to answer, and closes.
    async fn end(&mut self, session: &mut Session, context: &Context<'_>, end: ReadEnd) -> Flow {
        if let Some(farewell) = end.farewell() {
            session.close(farewell);
            if self.flush(session, context).await {
                self.goodbye().await;
            }
        }
        Flow::Closed
    }

    /// Shuts the write side down (TLS `close_notify`, FIN), briefly.
    async fn goodbye(&mut self) {
        let _ = tokio::time::timeout(GOODBYE, self.stream.shutdown()).await;
    }
}

#[cfg(test)]
mod tests;
