//! AS2 for partners (RFC 4130), both directions. The **receiver**: a partner POSTs a
//! business document over HTTP/1.1, usually signed and encrypted with CMS (RFC 5652,
//! S/MIME RFC 5751), possibly compressed (RFC 5402); the receiver takes it apart,
//! hands the payload to a [`partner::As2Gateway`] and answers with a Message
//! Disposition Notification (MDN, RFC 3798 / RFC 4130 §7), signed when asked,
//! synchronously in the HTTP response or asynchronously by a POST to the partner.
//! The **sender** ([`send_message`]) builds such a message for a partner, POSTs it and
//! checks the MDN it gets back. This crate knows nothing of the spool, the config or
//! the inner.
//!
//! # Receiver pipeline
//!
//! ```text
//! POST /as2 ──▶ body ≤ max_message_bytes (413 above) into a scratch file, within request_timeout (408)
//!   │
//!   ├─ headers.rs  AS2-From, AS2-To, Message-ID ──────────── missing/invalid ─▶ 400, no MDN
//!   │              Disposition-Notification-To/-Options, Receipt-Delivery-Option
//!   ├─ gateway.partnership(peer, from, to) ─── UnknownPartner ─▶ MDN unknown-trading-partner (unsigned, sync)
//!   │                                        └ KeysNotLoaded ──▶ 503, no MDN (partner retries)
//!   ├─ cms::Keys::load (PEM → openssl) ────────────── unusable ─▶ 503, no MDN, error logged
//!   ├─ receive.rs (blocking thread pool, on scratch files), any order, ≤ 8 layers:
//!   │     application/pkcs7-mime enveloped-data ─ decrypt_stream (our key; BER streamed)
//!   │     multipart/signed (pkcs7-signature) ──── verify_stream (partner cert only, exact bytes)
//!   │     application/pkcs7-mime compressed-data  inflate_stream (zlib, bounded)
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
//! # Sender pipeline
//!
//! ```text
//! send_message(client, &As2Outbound, &OutboundMessage)
//!   ├─ headers::http_url(url) ───────────────────────── not http(s) ─▶ permanent
//!   ├─ blocking thread pool: cms::Keys::from_pem ───── unusable ─────▶ permanent
//!   │  compose.rs: payload entity (Content-Type, binary, filename)
//!   │     ─▶ [compress] application/pkcs7-mime compressed-data (compress::compress, DER + zlib)
//!   │     ─▶ [sign]     multipart/signed, detached CMS (cms::sign, digest = micalg)   MIC here
//!   │     ─▶ [encrypt]  application/pkcs7-mime enveloped-data (cms::encrypt, cipher)
//!   │     MIC: over the signed entity, else the entity encrypted or sent; names,
//!   │     Message-ID, content type checked ─────────────── invalid ─────▶ permanent
//!   ├─ POST (reqwest, partnership.timeout, no redirects): AS2-Version 1.2, AS2-From/-To
//!   │     (quoted), Message-ID, Subject, Date, MIME-Version, Disposition-Notification-To,
//!   │     -Options (signed receipt), Receipt-Delivery-Option (async), the outer entity's
//!   │     content headers ── connect / timeout / cut ─▶ transient
//!   │                     ├─ HTTP 5xx, 429, 408 ─────────────▶ transient (status)
//!   │                     └─ other non-2xx, a redirect ──────▶ permanent (status)
//!   └─ 2xx: no MDN asked, or asynchronous ─▶ Ok(Sent { mdn: None })
//!      synchronous: body ≤ MAX_MDN_BYTES, then receipt.rs:
//!        multipart/signed ─ cms::verify_multipart (partner cert only) ── bad ─▶ permanent
//!        multipart/report ─ message/disposition-notification fields:
//!          Original-Message-ID ≠ ours ─────────────────────────────────────▶ permanent
//!          Disposition not processed (processed/error, failed, …) ─────────▶ permanent (+ MDN)
//!          Received-Content-MIC: our algorithm, other digest ──────────────▶ permanent (+ MDN)
//!        ─▶ Ok(Sent { mdn: Some(MdnOutcome) })
//! verify_async_mdn(&As2Outbound, headers, body, &Sent): the same checks for an MDN
//! that arrives later (the endpoint receiving it is wired elsewhere).
//! ```
//!
//! **Classification.** [`SendError::transient`] means "retry later with the same
//! Message-ID" (the partner recognises a duplicate); everything else needs a person:
//! the partner refused the message, or its receipt does not prove delivery, or our own
//! configuration is broken. A permanent error after an MDN carries it
//! ([`SendError::mdn`]). [`send_with_retry`] does the retrying: the Message-ID is fixed
//! before the first attempt, the wait doubles up to a ceiling, a permanent failure
//! ends at once. The sender logs one `info` line per message sent; a failure
//! is the caller's to log (it knows the job and the retry plan).
//!
//! **Receipts we accept.** `processed` and `processed/warning` count as processed.
//! A signed MDN must be signed by the partner certificate. An unsigned MDN although a
//! signed one was asked for is accepted (we ask with `optional`, as RFC 4130 suggests)
//! but reported ([`MdnOutcome::signed`] `false`, a warning logged). A MIC in another
//! algorithm, or none (pyas2lib returns none for unsigned messages), leaves
//! [`MdnOutcome::mic_matched`] `false` with a warning; only a different digest in our
//! algorithm fails. A receiver picks its MIC algorithm from `signed-receipt-micalg`
//! (sent with signed receipts), else the `micalg` of a signed message, else its
//! default: with an unsigned message and an unsigned MDN, use SHA-256 to match ours.
//!
//! # Files
//!
//! | file | what |
//! | --- | --- |
//! | `headers.rs` | the AS2 request headers |
//! | `mime.rs` | entities, parameters, multipart parts with exact bytes, transfer encodings |
//! | `der.rs`, `compress.rs` | a bounded BER/DER reader and writer; RFC 5402 compression both ways |
//! | `cms.rs` | keys, decrypt, encrypt, verify, sign (openssl) |
//! | `ber_stream.rs`, `decrypt_stream.rs`, `inflate_stream.rs`, `verify_stream.rs` | streaming CMS over `Read`/`Write` in bounded memory: how the receiver takes messages apart |
//! | `mic.rs` | MIC algorithms ([`MicAlg`]) and the Received-Content-MIC |
//! | `receive.rs` | the layer peeling and the security policy (pure) |
//! | `mdn.rs` | the MDN: report, signature, HTTP headers (pure) |
//! | `exchange.rs` | one request: gateway calls, logging, the reply, the asynchronous MDN |
//! | `server.rs` | [`serve`]: accept loop (hyper HTTP/1.1), session limit, drain |
//! | `outbound.rs` | the sender's public types: [`As2Outbound`], [`OutboundMessage`], [`Sent`], [`MdnOutcome`], [`SendError`] |
//! | `compose.rs` | building an outbound message: layers, AS2 headers, MIC (pure) |
//! | `receipt.rs` | reading a partner's MDN: signature, Message-ID, disposition, MIC (pure) |
//! | `send.rs` | [`send_message`], [`send_with_retry`], [`verify_async_mdn`]: the POST, retries, the error classification |
//!
//! Everything but `exchange.rs`, `server.rs` and `send.rs` is pure and tested without
//! sockets. `tests/sender.rs` runs the sender against [`serve`]; `tests/sender_pyas2lib.rs`
//! against pyas2lib as the receiver.
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
//! - `tests/sender_pyas2lib.rs` sends to pyas2lib 1.4's `Message().parse` (a small
//!   HTTP server in `tests/py/pyas2lib_peer.py serve`): signed, encrypted, both,
//!   plain, compressed alone and inside signature and encryption, AES-128/192/256 and
//!   3DES, SHA-1/256/384/512; pyas2lib stores the payload byte for byte and its signed
//!   MDN verifies here with a matching MIC; a message signed with the wrong key gets
//!   its `processed/Error: authentication-failed`. The sender writes what pyas2lib
//!   verifies: every entity `Content-Transfer-Encoding: binary` with unfolded
//!   `Name: value` CRLF headers, which is exactly pyas2lib's canonical form.
//!
//! # Limits
//!
//! `max_message_bytes` (413 above; checked on `Content-Length` before reading),
//! `request_timeout` (whole body, 408 after), request headers within 30 s,
//! `max_sessions` connections at once (more get a bare 503 and are closed),
//! `async_mdn_timeout` per asynchronous MDN, `drain_grace` on shutdown.
//!
//! The sender: `As2Outbound::timeout` per POST (MDN included), MDNs up to
//! [`MAX_MDN_BYTES`], an error response's text up to 4 KiB read (200 characters
//! kept). A message is built in memory like a received one is taken apart (the
//! payload, the compressed, signed and encrypted entities), at most 2 GiB (openssl).

#![forbid(unsafe_code)]

mod ber_stream;
mod cms;
mod compose;
mod compress;
mod decrypt_stream;
mod der;
mod exchange;
mod headers;
pub mod identity;
mod inflate_stream;
mod mdn;
mod mic;
mod mime;
mod mime_file;
mod outbound;
mod receipt;
mod receive;
mod scratch;
mod send;
mod server;
mod verify_stream;

use std::path::PathBuf;
use std::time::Duration;

pub use mic::MicAlg;
pub use outbound::{As2Outbound, Cipher, MdnOutcome, MdnRequest, OutboundMessage, SendError, Sent};
pub use send::{MAX_MDN_BYTES, Retry, client, send_message, send_with_retry, verify_async_mdn};
pub use server::serve;

/// The path partners POST to.
pub const AS2_PATH: &str = "/as2";

/// How the AS2 server runs.
#[derive(Debug, Clone)]
pub struct As2Config {
    /// Largest request body accepted (HTTP 413 above); also bounds decompression.
    /// Messages are taken apart in scratch files, not in memory.
    pub max_message_bytes: u64,
    /// Where the scratch files of messages being taken apart are created (unnamed:
    /// they vanish with the request, or with the process).
    pub scratch_dir: PathBuf,
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
            max_message_bytes: 4 << 30,
            scratch_dir: std::env::temp_dir(),
            max_sessions: 256,
            reporting_ua: "portcullis".into(),
            request_timeout: Duration::from_secs(10 * 60),
            async_mdn_timeout: Duration::from_secs(60),
            drain_grace: Duration::from_secs(30),
        }
    }
}
