//! AS2 for partners: the DMZ's AS2 receiver (RFC 4130). A partner POSTs a business
//! document over HTTP/1.1, usually signed and encrypted with CMS (RFC 5652, S/MIME
//! RFC 5751), possibly compressed (RFC 5402); the receiver takes it apart, hands the
//! payload to a [`partner::As2Gateway`] and answers with a Message Disposition
//! Notification (MDN, RFC 3798 / RFC 4130 §7), signed when asked, synchronously in
//! the HTTP response or asynchronously by a POST to the partner. This crate knows
//! nothing of the spool, the config or the inner.
//!
//! # Pipeline
//!
//! ```text
//! POST /as2 ──▶ body ≤ max_message_bytes (413 above), read within request_timeout (408)
//!   │
//!   ├─ headers.rs  AS2-From, AS2-To, Message-ID ──────────── missing/invalid ─▶ 400, no MDN
//!   │              Disposition-Notification-To/-Options, Receipt-Delivery-Option
//!   ├─ gateway.partnership(peer, from, to) ─── UnknownPartner ─▶ MDN unknown-trading-partner (unsigned, sync)
//!   │                                        └ KeysNotLoaded ──▶ 503, no MDN (partner retries)
//!   ├─ cms::Keys::load (PEM → openssl) ────────────── unusable ─▶ 503, no MDN, error logged
//!   ├─ receive.rs (blocking thread pool), any order, ≤ 8 layers:
//!   │     application/pkcs7-mime enveloped-data ─ cms::decrypt (our key + cert)
//!   │     multipart/signed (pkcs7-signature) ──── cms::verify (partner cert only, exact bytes)
//!   │     application/pkcs7-mime compressed-data  compress::decompress (DER walk + zlib, bounded)
//!   │     anything else ───────────────────────── the payload: body decoded per CTE, filename
//!   │   then require_encrypted / require_signed, then the MIC (mic.rs)
//!   ├─ gateway.deliver(As2Delivery) ─── Accepted | Duplicate ─▶ MDN processed + Received-Content-MIC
//!   │                                 ├ InsufficientStorage | Unavailable ─▶ 503, no MDN
//!   │                                 └ any other error ─▶ MDN unexpected-processing-error
//!   └─ mdn.rs: multipart/report, signed (multipart/signed) if the partner asked for
//!      signed-receipt-protocol=pkcs7-signature; sent as the HTTP 200 response, or with
//!      Receipt-Delivery-Option: HTTP 200 with an empty body at once, then a POST of the
//!      MDN to that URL (http/https only, async_mdn_timeout, failures logged).
//!      No MDN requested: HTTP 200 with the disposition as text.
//! ```
//!
//! # Dispositions (RFC 4130 §7.5.3)
//!
//! Every MDN says `Disposition: automatic-action/MDN-sent-automatically; <status>`:
//!
//! | case | status |
//! | --- | --- |
//! | delivered (or a duplicate of a delivered message) | `processed` |
//! | our key cannot decrypt it (not for our certificate, corrupt) | `processed/error: decryption-failed` |
//! | signature bad, or signer is not the partner certificate | `processed/error: authentication-failed` |
//! | CompressedData or zlib stream bad, or inflates beyond the limit | `processed/error: decompression-failed` |
//! | unsigned / unencrypted although the partnership requires it | `processed/error: insufficient-message-security` |
//! | no partnership for (`AS2-From`, `AS2-To`) | `processed/error: unknown-trading-partner` |
//! | any other malformed structure; a permanent `deliver` error | `processed/error: unexpected-processing-error` |
//!
//! A duplicate (same `AS2-From` and `Message-ID`, the gateway answers
//! [`partner::As2Outcome::Duplicate`]) gets a plain `processed` with its MIC, not
//! `processed/warning: duplicate-document`: senders that treat a warning as a failure
//! would resend forever, and the first copy *was* processed.
//!
//! | file | what |
//! | --- | --- |
//! | `headers.rs` | the AS2 request headers |
//! | `mime.rs` | entities, parameters, multipart parts with exact bytes, transfer encodings |
//! | `der.rs`, `compress.rs` | a bounded BER/DER reader and writer; RFC 5402 decompression |
//! | `cms.rs` | keys, decrypt, verify, sign (openssl) |
//! | `mic.rs` | MIC algorithms and the Received-Content-MIC |
//! | `receive.rs` | the layer peeling and the security policy (pure) |
//! | `mdn.rs` | the MDN: report, signature, HTTP headers (pure) |
//! | `exchange.rs` | one request: gateway calls, logging, the reply, the asynchronous MDN |
//! | `server.rs` | [`serve`]: accept loop (hyper HTTP/1.1), session limit, drain |
//!
//! Everything above `exchange.rs` is pure and tested without sockets.
//!
//! # Rules
//!
//! - **Durability.** An MDN says `processed` only after [`partner::As2Gateway::deliver`]
//!   returned `Ok`; `deliver` runs in a task of its own, so a partner that hangs up
//!   cannot cancel a commit half-way. A transient `deliver` error is HTTP 503 without
//!   an MDN: the partner resends. Nothing is delivered in any failure case.
//! - **Trust.** Signatures are checked against the partnership's partner certificate
//!   only, trusted directly (no chain: partner certificates are often self-signed);
//!   the certificates a message carries are ignored.
//! - **Keys** come from the gateway with each partnership (the inner pushes them; the
//!   DMZ keeps the private key in memory only). They are parsed per message, never
//!   logged, never written anywhere; neither are payload bytes.
//! - **Memory.** For now the whole request body is held in memory, bounded by
//!   `max_message_bytes` (also capped at 2 GiB, openssl's buffer limit); peeling layers
//!   holds a few copies at once (encrypted, decrypted, payload), and decompression
//!   stops at `max_message_bytes`, so one message costs at most a small multiple of the
//!   limit, and `max_sessions` bounds the messages in flight. Streaming the body to a
//!   staging file (and CMS through openssl BIOs) is a later step.
//! - **Asynchronous MDNs** go to the URL the message names (http or https only, no
//!   redirects), and only for a known partnership: an unknown sender gets its MDN in
//!   the response. Still, the DMZ makes an outbound request to a URL of the partner's
//!   choosing (before its signature is checked, for a failure MDN); restricting it to
//!   a URL configured per partnership is a later step.
//! - **Logging.** One `info` line per accepted message (peer, channel, from, message
//!   id, size); a `warn` per refusal with its reason.
//!
//! # Interoperability
//!
//! - **MIC algorithm**: the first supported `signed-receipt-micalg` the partner asked
//!   for, else the `micalg` of its `multipart/signed`, else SHA-256; the MDN is signed
//!   with the same digest (`micalg=sha-256` style on the `multipart/signed`, `sha256`
//!   style in Received-Content-MIC). pyas2lib compares our MIC with the digest it
//!   signed with, so a partner must ask for the algorithm it signs with (its default).
//! - `tests/pyas2lib.rs` runs pyas2lib 1.4 against [`serve`]: signed, encrypted, both,
//!   plain, compressed (alone and inside signature + encryption), AES-128/192/256 and
//!   3DES, SHA-1/256/384/512, RSA-OAEP key transport, text content types, unsigned
//!   MDNs, asynchronous MDNs. pyas2lib's RSASSA-PSS signatures carry no parameters
//!   (meaning SHA-1, RFC 4055) although made with SHA-256, and are refused
//!   (`authentication-failed`). RC2/RC4 need OpenSSL 3's legacy provider: not
//!   supported (pyas2lib cannot make them here either).
//!
//! # Limits
//!
//! `max_message_bytes` (413 above; checked on `Content-Length` before reading),
//! `request_timeout` (whole body, 408 after), request headers within 30 s,
//! `max_sessions` connections at once (more get a bare 503 and are closed),
//! `async_mdn_timeout` per asynchronous MDN, `drain_grace` on shutdown.

#![forbid(unsafe_code)]

mod cms;
mod compress;
mod der;
mod exchange;
mod headers;
pub mod identity;
mod mdn;
mod mic;
mod mime;
mod receive;
mod server;

use std::time::Duration;

pub use server::serve;

/// The path partners POST to.
pub const AS2_PATH: &str = "/as2";

/// How the AS2 server runs.
#[derive(Debug, Clone)]
pub struct As2Config {
    /// Largest request body accepted (HTTP 413 above); also bounds decompression.
    pub max_message_bytes: u64,
    /// Connections served at once; more get HTTP 503 and are closed.
    pub max_sessions: usize,
    /// `Reporting-UA` of our MDNs, and the right side of their Message-IDs.
    pub reporting_ua: String,
    /// Receiving one request body may take this long (HTTP 408 after).
    pub request_timeout: Duration,
    /// One asynchronous MDN POST may take this long (connect included).
    pub async_mdn_timeout: Duration,
    /// On shutdown, how long requests in progress and asynchronous MDNs may take.
    pub drain_grace: Duration,
}

impl Default for As2Config {
    fn default() -> Self {
        As2Config {
            max_message_bytes: 64 * 1024 * 1024,
            max_sessions: 256,
            reporting_ua: "portcullis".into(),
            request_timeout: Duration::from_secs(10 * 60),
            async_mdn_timeout: Duration::from_secs(60),
            drain_grace: Duration::from_secs(30),
        }
    }
}
