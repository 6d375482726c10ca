//! [`MailGateway`]: what an SMTP session may ask of the DMZ.
//!
//! Recipients decide the channel: the inner pushes, per channel, the addresses that
//! exist. One message (one MAIL transaction) belongs to exactly one channel; a
//! recipient of another channel is deferred by the SMTP server with `452 4.5.3` (RFC
//! 5321 §4.5.3.1.10: the client sends it in a later transaction), so a message is
//! committed atomically, once, for one channel.

use async_trait::async_trait;

use crate::{Admission, FsError, Login, Peer, Receipt, Ticket};

/// Why a recipient address is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecipientError {
    /// No channel lists this address (SMTP `550 5.1.1`).
    #[error("no such recipient")]
    Unknown,
    /// The address's channel requires SMTP AUTH as one of its logins (`530 5.7.0`).
    #[error("authentication required")]
    AuthRequired,
    /// The address's channel does not take mail from the client's address (`550 5.7.1`).
    #[error("not accepted from this address")]
    AddressRefused,
    /// The DMZ cannot take mail for it right now (`451 4.3.0`).
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
}

/// The SMTP envelope of one message, as the session collected it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailEnvelope {
    pub peer: Peer,
    /// The channel all recipients belong to.
    pub channel: String,
    /// The name the client gave in EHLO/HELO.
    pub helo: String,
    /// `MAIL FROM` reverse path without the angle brackets; empty for `<>`.
    pub from: String,
    /// `RCPT TO` forward paths without angle brackets, in the order given.
    pub recipients: Vec<String>,
    /// The AUTH login of the session, if it authenticated.
    pub login: Option<String>,
    /// Whether the session was under TLS (STARTTLS) when DATA started.
    pub tls: bool,
}

/// A message being received. Dropping it without [`MessageUpload::commit`] discards
/// the bytes: a message the client was not told `250` for is never forwarded.
#[async_trait]
pub trait MessageUpload: Send {
    /// Appends message bytes (after dot-unstuffing; streamed, not held whole).
    async fn write(&mut self, bytes: &[u8]) -> Result<(), FsError>;
    /// Bytes written so far.
    fn written(&self) -> u64;
    /// Makes the message durable with its envelope. Only `Ok` may be answered with
    /// `250`. `message_id` is the message's `Message-ID` header value, if it had one.
    async fn commit(self: Box<Self>, message_id: Option<String>) -> Result<Receipt, FsError>;
}

/// What the DMZ offers an SMTP session.
#[async_trait]
pub trait MailGateway: Send + Sync + 'static {
    /// Whether a connection from `peer` is served: asked right after accept,
    /// before any protocol byte is written. The gateway logs a refusal.
    fn admission(&self, _peer: Peer) -> Admission {
        Admission::Serve(Ticket::untracked())
    }

    /// Checks AUTH PLAIN / LOGIN credentials against the channel logins. `None`
    /// means refused (the gateway has already delayed the answer).
    async fn authenticate(&self, peer: Peer, user: &str, password: &str) -> Option<Login>;

    /// The channel that `address` (a forward path without angle brackets) belongs
    /// to. `login` is the session's AUTH login, if any.
    fn recipient(&self, peer: Peer, address: &str, login: Option<&Login>) -> Result<String, RecipientError>;

    /// Starts receiving a message. `InsufficientStorage` → `452 4.3.1`, `Unavailable`
    /// → `451 4.3.0`.
    async fn begin_message(&self, envelope: MailEnvelope) -> Result<Box<dyn MessageUpload>, FsError>;
}
