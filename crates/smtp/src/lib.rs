//! ESMTP for partners: the DMZ's mail receiver. A partner's MTA delivers a message by
//! SMTP (RFC 5321) with STARTTLS (RFC 3207), AUTH PLAIN/LOGIN (RFC 4954), SIZE (RFC
//! 1870), 8BITMIME (RFC 6152), PIPELINING (RFC 2920) and ENHANCEDSTATUSCODES (RFC
//! 2034); a [`partner::MailGateway`] decides which channel a recipient belongs to and
//! where the bytes go. This crate knows nothing of the spool, the config or the inner.
//! [`send`] is the other direction: the SMTP client (lettre) that delivers a message to
//! a partner's server, trusting the system's store or pinned certificates ([`SmtpTrust`]).
//!
//! # Session
//!
//! ```text
//!  connect ─▶ 220 greeting
//!     │
//!     ▼
//!  [no HELO] ──EHLO/HELO──▶ [ready] ──MAIL──▶ [mail] ──RCPT (1..max_recipients)──▶ [mail+rcpt]
//!     ▲                      │  ▲  ▲                                                   │
//!     │            AUTH ─────┘  │  └──── 250 / 4xx / 5xx after the data ◀── commit ◀─ DATA: begin_message,
//!     │        (334 … 235)      │                                                     354, data to CRLF.CRLF
//!     │                         └─ RSET, EHLO (drop the transaction)
//!     └── STARTTLS: 220, drop buffered input, TLS handshake, everything forgotten
//!  QUIT ─▶ 221, close      idle / session timeout, too many errors, shutdown ─▶ 421, close
//! ```
//!
//! | file | what |
//! | --- | --- |
//! | `session.rs`, `session/mail.rs` | the machine above, sans-IO: lines in, reply bytes and `Step`s out (ask the gateway, start TLS, receive a message, close) |
//! | `command.rs`, `address.rs` | one command line → `Command`; paths and their limits |
//! | `auth.rs` | PLAIN and LOGIN exchanges → credentials |
//! | `data.rs`, `header.rs` | the DATA stream: end, unstuffing, limits; the `Message-ID` |
//! | `line.rs`, `reply.rs` | command lines out of the input buffer; every reply text |
//! | `connection.rs` | one session over a plain or TLS stream: buffers, pipelining, timeouts, gateway calls |
//! | `server.rs` | [`serve`]: accept loop, session limit, drain |
//! | `send.rs` | [`send()`]: the outbound client (lettre), transient vs permanent failures |
//!
//! Everything above `connection.rs` is pure and tested without sockets.
//!
//! # Rules
//!
//! - **Durability.** `250` after the data is sent only after
//!   [`partner::MessageUpload::commit`] returned `Ok`. A message that broke a limit, whose
//!   write failed, or whose connection dropped or was cut before the end, is dropped
//!   uncommitted: never forwarded, never acknowledged.
//! - **One channel per transaction.** The first accepted recipient fixes the channel; a
//!   recipient of another channel gets `452 4.5.3` (RFC 5321 §4.5.3.1.10: the client
//!   retries it in a later transaction), so one message is committed once, for one
//!   channel. `begin_message` is called before `354`, so a full spool is a `452 4.3.1`
//!   to DATA, before the client sends any data.
//! - **STARTTLS injection (CVE-2011-0411 class).** Whatever the client sent after the
//!   `STARTTLS` line, in the same packet or before the handshake, is discarded; after the
//!   handshake the session starts over: no HELO, no AUTH, no transaction.
//! - **SMTP smuggling.** The data ends only at `CRLF . CRLF`; `LF . LF`, `LF . CRLF`,
//!   `CR . CR` are message text (see `data.rs`). Commands pipelined after the end are
//!   read as commands, which is what the client meant.
//! - **AUTH** is offered under TLS only (unless `auth_without_tls`); credentials and
//!   AUTH lines are never logged or echoed.
//!
//! # Limits
//!
//! `max_line` (command and text lines, CRLF included; an over-long command is refused
//! with `500 5.5.2` after its end arrives, one still without LF after 64 KiB ends the
//! session), `max_message_bytes` (advertised as SIZE, checked on `MAIL … SIZE=` and while
//! receiving), `max_recipients`, `max_errors` (permanent refusals before `421 4.7.0`),
//! `idle_timeout` per read, `session_timeout` per connection, `max_sessions` per server.
//! Memory per session stays bounded: a few KiB of input buffer in command mode, 64 KiB
//! input plus ~256 KiB of message in flight during DATA.

#![forbid(unsafe_code)]

mod address;
mod auth;
mod command;
mod connection;
mod data;
mod header;
mod line;
mod reply;
pub mod send;
mod server;
mod session;

use std::sync::Arc;
use std::time::Duration;

pub use send::{SendError, Sent, SmtpTarget, SmtpTls, SmtpTrust, send};
pub use server::serve;

/// How the SMTP server runs.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Name in the greeting and the first EHLO line.
    pub hostname: String,
    /// Enables STARTTLS; without it the server speaks plain text only.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Largest message accepted (octets after dot-unstuffing), advertised as SIZE.
    pub max_message_bytes: u64,
    /// Recipients per transaction; more get `452 4.5.3` (RFC 5321 §4.5.3.1.8: at least 100).
    pub max_recipients: usize,
    /// Longest command line and message text line, CRLF included (RFC 5321 §4.5.3.1.4
    /// and §4.5.3.1.6: 512 and 1000). Command lines are capped at 1 MiB whatever this says.
    pub max_line: usize,
    /// A read that waits longer ends the session with `421 4.4.2` (RFC 5321 §4.5.3.2
    /// suggests 5 minutes).
    pub idle_timeout: Duration,
    /// A session that lasts longer is ended with `421 4.4.2` at its next read.
    pub session_timeout: Duration,
    /// Connections served at once; more get `421 4.3.2` and are closed.
    pub max_sessions: usize,
    /// Permanent refusals (`5xx`) a session may earn before `421 4.7.0` ends it.
    pub max_errors: u32,
    /// Offers AUTH on a plain-text connection too (passwords in clear: tests, or a
    /// network that is protected otherwise).
    pub auth_without_tls: bool,
    /// On shutdown, how long a message being received or committed may take.
    pub drain_grace: Duration,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            hostname: "localhost".into(),
            tls: None,
            max_message_bytes: 64 * 1024 * 1024,
            max_recipients: 100,
            max_line: 1000,
            idle_timeout: Duration::from_secs(300),
            session_timeout: Duration::from_secs(30 * 60),
            max_sessions: 500,
            max_errors: 10,
            auth_without_tls: false,
            drain_grace: Duration::from_secs(30),
        }
    }
}
