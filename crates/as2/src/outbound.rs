//! The sender's public types: one partnership seen from our side ([`As2Outbound`]),
//! one message ([`OutboundMessage`]), and what came of sending it ([`Sent`],
//! [`MdnOutcome`], [`SendError`]).

use std::time::Duration;

use crate::mic::MicAlg;

/// One partnership seen from our side, for sending: who we are, who the partner
/// is, how messages to it are protected and which receipt we ask for.
#[derive(Clone)]
pub struct As2Outbound {
    /// Our AS2 name (`AS2-From`) and the partner's (`AS2-To`): 1 to 128 printable
    /// ASCII characters, quoted in the headers when they hold a space.
    pub our_id: String,
    pub partner_id: String,
    /// Our certificate and its private key (PEM, unencrypted): we sign with them.
    /// The key is never logged (`Debug` redacts it).
    pub our_cert_pem: String,
    pub our_key_pem: String,
    /// The partner's certificate (PEM): we encrypt to it, and its MDNs must be
    /// signed by it (trusted directly, no chain, like the receiver).
    pub partner_cert_pem: String,
    /// The partner's AS2 endpoint (`http` or `https`); redirects are not followed.
    pub url: String,
    /// `multipart/signed` with a detached CMS signature.
    pub sign: bool,
    /// CMS `EnvelopedData` to the partner certificate.
    pub encrypt: bool,
    /// CMS `CompressedData` (RFC 5402), before signing.
    pub compress: bool,
    /// The signature's digest, the `micalg`, and the MIC's algorithm.
    pub digest: MicAlg,
    /// The content cipher when encrypting.
    pub cipher: Cipher,
    /// Which receipt we ask for.
    pub mdn: MdnRequest,
    /// One POST may take this long, the synchronous MDN included.
    pub timeout: Duration,
}

impl std::fmt::Debug for As2Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("As2Outbound")
            .field("our_id", &self.our_id)
            .field("partner_id", &self.partner_id)
            .field("url", &self.url)
            .field("sign", &self.sign)
            .field("encrypt", &self.encrypt)
            .field("compress", &self.compress)
            .field("digest", &self.digest)
            .field("cipher", &self.cipher)
            .field("mdn", &self.mdn)
            .field("timeout", &self.timeout)
            .field("our_key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The content encryption algorithm (CBC; RC2/RC4 need OpenSSL 3's legacy provider
/// and are not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cipher {
    Aes128Cbc,
    Aes192Cbc,
    #[default]
    Aes256Cbc,
    /// 3DES (`des-ede3-cbc`), for old partners.
    TripleDesCbc,
}

impl Cipher {
    pub(crate) fn openssl(self) -> openssl::symm::Cipher {
        match self {
            Cipher::Aes128Cbc => openssl::symm::Cipher::aes_128_cbc(),
            Cipher::Aes192Cbc => openssl::symm::Cipher::aes_192_cbc(),
            Cipher::Aes256Cbc => openssl::symm::Cipher::aes_256_cbc(),
            Cipher::TripleDesCbc => openssl::symm::Cipher::des_ede3_cbc(),
        }
    }
}

/// The receipt asked for (RFC 4130 §7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MdnRequest {
    /// No MDN: a 2xx answer is all we learn.
    None,
    /// The MDN in the HTTP response; `signed` asks for a signed receipt
    /// (`Disposition-Notification-Options`).
    Sync { signed: bool },
    /// The partner POSTs the MDN to `url` later (`Receipt-Delivery-Option`); it is
    /// checked with [`crate::verify_async_mdn`].
    Async { url: String, signed: bool },
}

impl Default for MdnRequest {
    fn default() -> Self {
        MdnRequest::Sync { signed: true }
    }
}

/// One business document to send.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    pub payload: Vec<u8>,
    /// `Content-Disposition: attachment; filename=…` (RFC 2231-encoded when not
    /// printable ASCII).
    pub filename: Option<String>,
    /// The payload's MIME type, `application/octet-stream` by default; sent with
    /// `Content-Transfer-Encoding: binary`, so no product re-encodes its line ends.
    pub content_type: String,
    /// The Message-ID without angle brackets (a retry must reuse it, so that the
    /// partner recognises a duplicate); `None`: a fresh `<random>@<our_id>`.
    pub message_id: Option<String>,
}

impl OutboundMessage {
    /// `payload` as `application/octet-stream`, no filename, a fresh Message-ID.
    pub fn new(payload: Vec<u8>) -> Self {
        OutboundMessage {
            payload,
            filename: None,
            content_type: "application/octet-stream".to_owned(),
            message_id: None,
        }
    }
}

/// A message the partner accepted (HTTP 2xx, and an MDN saying `processed` with our
/// MIC when a synchronous MDN was asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The Message-ID sent, without angle brackets.
    pub message_id: String,
    /// Our MIC (RFC 4130 §7.3.1) as the MDN writes it: `base64, sha256`.
    pub mic: String,
    /// The synchronous MDN; `None` when none was asked for or it comes later.
    pub mdn: Option<MdnOutcome>,
}

/// What an MDN says, after its signature and MIC were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdnOutcome {
    /// The `Disposition` field as sent, e.g.
    /// `automatic-action/MDN-sent-automatically; processed`.
    pub disposition: String,
    /// `processed`, or `processed/warning` (not `processed/error`, not `failed`).
    pub processed: bool,
    /// The MDN returned our MIC: same algorithm, same digest. A MIC in another
    /// algorithm, or none (pyas2lib returns none for unsigned messages), leaves it
    /// `false` without failing; a different digest fails the send.
    pub mic_matched: bool,
    /// The MDN was signed (by the partner certificate: a bad signature fails).
    pub signed: bool,
    /// The error, warning or failure modifier, e.g. `authentication-failed`.
    pub detail: Option<String>,
}

/// Why a message was not (or not provably) accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SendError {
    /// Worth retrying later with the same Message-ID: connection errors, timeouts,
    /// HTTP 5xx, 429 and 408. Everything else is permanent: other HTTP statuses, an
    /// MDN that says `processed/error` or `failed`, an MDN that is malformed, for
    /// another message, badly signed or with another MIC, and our own unusable
    /// configuration (keys, names, URL).
    pub transient: bool,
    /// The HTTP status, when the partner answered.
    pub status: Option<u16>,
    /// For the log: what went wrong (never payload bytes or keys).
    pub reason: String,
    /// The MDN, when one was read.
    pub mdn: Option<MdnOutcome>,
}

impl SendError {
    pub(crate) fn permanent(reason: impl Into<String>) -> Self {
        SendError { transient: false, status: None, reason: reason.into(), mdn: None }
    }

    pub(crate) fn retryable(reason: impl Into<String>) -> Self {
        SendError { transient: true, status: None, reason: reason.into(), mdn: None }
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
}
