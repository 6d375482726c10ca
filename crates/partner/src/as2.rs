//! [`As2Gateway`]: what the AS2 receiver may ask of the DMZ.
//!
//! A partnership is one (`AS2-From`, `AS2-To`) pair of a channel: the partner's
//! certificate (verifies its signatures) and our certificate and private key
//! (decrypt its messages, sign our MDNs). The inner pushes them; the DMZ keeps the
//! private key in memory only, so until the inner has pushed after a DMZ start,
//! lookups fail with [`As2LookupError::KeysNotLoaded`] (a transient refusal).

use std::sync::Arc;

use async_trait::async_trait;

use crate::{Admission, FileRegion, FsError, Peer, Receipt, Ticket};

/// One AS2 relationship. `Debug` never shows the private key.
#[derive(Clone)]
pub struct As2Partnership {
    /// The channel the messages belong to.
    pub channel: String,
    /// The partner's AS2 name (`AS2-From` of its messages).
    pub partner_id: String,
    /// Our AS2 name (`AS2-To` of its messages).
    pub our_id: String,
    /// The partner's certificate (PEM).
    pub partner_cert_pem: String,
    /// Our certificate (PEM) and its private key (PEM, unencrypted; memory only).
    pub our_cert_pem: String,
    pub our_key_pem: String,
    /// Refuse messages that are not signed / not encrypted.
    pub require_signed: bool,
    pub require_encrypted: bool,
}

impl std::fmt::Debug for As2Partnership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("As2Partnership")
            .field("channel", &self.channel)
            .field("partner_id", &self.partner_id)
            .field("our_id", &self.our_id)
            .field("our_key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Why no partnership was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum As2LookupError {
    /// No channel has this (`AS2-From`, `AS2-To`) pair: "unknown-trading-partner".
    #[error("unknown trading partner")]
    UnknownPartner,
    /// The pair exists but the inner has not pushed our private key since this DMZ
    /// started (it is never stored on the DMZ's disk): try again later (HTTP 503).
    #[error("keys not loaded yet")]
    KeysNotLoaded,
}

/// A payload the AS2 receiver took apart and checked, ready to be committed.
#[derive(Debug, Clone)]
pub struct As2Delivery {
    pub peer: Peer,
    pub channel: String,
    /// `AS2-From`, `AS2-To`, `Message-ID` (without angle brackets) of the message.
    pub from: String,
    pub to: String,
    pub message_id: String,
    /// From the payload's `Content-Disposition`, if any (untrusted: the DMZ checks it).
    pub filename: Option<String>,
    /// The payload, taken apart on disk (a scratch file the receiver drops after
    /// `deliver` returns).
    pub payload: FileRegion,
    /// The Received-Content-MIC as it goes into the MDN (`base64, algorithm`).
    pub mic: String,
    pub signed: bool,
    pub encrypted: bool,
    pub compressed: bool,
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum As2Outcome {
    /// Durable and on its way to the inner.
    Accepted(Receipt),
    /// The same (`AS2-From`, `Message-ID`) was accepted before: not delivered again.
    Duplicate,
}

/// What the DMZ offers the AS2 receiver.
#[async_trait]
pub trait As2Gateway: Send + Sync + 'static {
    /// Whether a connection from `peer` is served: asked right after accept,
    /// before any protocol byte is written. The gateway logs a refusal.
    fn admission(&self, _peer: Peer) -> Admission {
        Admission::Serve(Ticket::untracked())
    }

    /// The partnership for a message from `from` to `to`.
    fn partnership(&self, peer: Peer, from: &str, to: &str) -> Result<Arc<As2Partnership>, As2LookupError>;

    /// Commits a checked payload durably (only then may the MDN say "processed").
    /// `InsufficientStorage` / `Unavailable` are transient (HTTP 503, no MDN).
    async fn deliver(&self, delivery: As2Delivery) -> Result<As2Outcome, FsError>;
}
