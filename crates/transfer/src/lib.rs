//! Transfers with partners' servers on the inner's request, shared by both roles:
//! the DMZ runs them for `via_dmz = true` jobs and sends, the inner itself for
//! `via_dmz = false`, with the same code. This crate turns a request
//! ([`envelope::FetchRequest`], [`envelope::SendRequest`]) and its opened secret
//! into one attempt with the `remote`, `smtp` and `as2` clients; it knows nothing
//! of spools: fetched files go to a [`FetchSink`] the caller provides.
//!
//! # Fetch ([`fetch()`])
//! Connect (FTP, FTPS or SFTP only), list the directory, keep the plain files whose
//! name matches the pattern ([`remote::pattern_matches`]) and that the request has
//! not `seen` (by name; with [`envelope::AfterFetch::Leave`] by name *and* listed
//! size, so a file that grew is taken again), in name order. Each file is then:
//!
//! ```text
//! session.download ──▶ pipe (256 KiB, in memory) ──▶ Checked reader ──▶ sink.store
//!          │ result (bytes or error), then the writer is dropped          │ Ok(new | dup)
//!          └──────────────────────────────────────────────────────────────┴─▶ after-action
//! ```
//!
//! - **Streaming:** download and store run concurrently in one task, joined by a
//!   bounded pipe ([`tokio::io::duplex`]); at most the pipe's 256 KiB of a file is
//!   in memory, whatever its size.
//! - **No truncated commit:** the sink's reader ends cleanly only when the download
//!   returned `Ok` *and* the byte count equals the listed size (when the listing gave
//!   one). A failed or short download makes the reader fail instead of ending, so a
//!   sink that commits only after reading to a clean end never commits part of a
//!   file (`pipe.rs`). If the sink fails first, the download's next write fails and
//!   the session stops: nothing hangs on a full pipe. If the sink answers `Ok`
//!   without reading everything (a duplicate recognised by its id), the rest is
//!   drained so the download ends normally and the session stays usable.
//! - **After-actions only after a durable store:** delete or move the remote file
//!   only when `store` returned `Ok` (a new commit or a duplicate). A crash between
//!   the store and the after-action leaves the file on the server; the next run
//!   stores it again under the same [`fetched_id`] (derived from channel, job,
//!   remote, path and listed size), the sink recognises the duplicate, and the
//!   after-action happens then.
//! - The first failing file ends the run with its error; files stored before stay
//!   stored and are not in the result (the rerun reports them as duplicates).
//!
//! # Send ([`send()`])
//! One file to a partner, by the target's protocol: FTP/FTPS/SFTP upload (temporary
//! name, renamed when complete), HTTP(S) POST or PUT, SMTP (`mail.rs`: a `.eml` file
//! is the message itself, any other file becomes the attachment of a small MIME
//! message), AS2 (`as2_send.rs`: composed, POSTed, synchronous MDN and MIC
//! verified). Files and HTTP bodies are streamed from disk; SMTP and AS2 hold one
//! message in memory and refuse payloads above [`MAX_IN_MEMORY_BYTES`]. The
//! result is the partner's answer in words. `Pickup` is not a transfer and is
//! refused here.
//!
//! # Errors
//! [`TransferError::transient`] says whether the same request may succeed later
//! (connection refused, timeouts, FTP/SMTP 4xx, HTTP 5xx/429/408, a file that
//! changed while fetched); everything else is final (login, TLS, host key, FTP/SMTP
//! 5xx, other HTTP statuses, bad configuration). `detail` carries the reply, cut to
//! [`DETAIL_LIMIT`] bytes. There is no retry loop here: callers retry transient
//! failures, waiting [`retry::delay`]. Each step is bounded by the target's
//! `connect_timeout_ms` and `io_timeout_ms` (0 means the clients' defaults).
//!
//! # Secrets
//! - [`seal`]: the credentials inside a request are sealed (AES-256-GCM) with a key
//!   the inner keeps in its data directory and pushes to the DMZ, which holds it in
//!   memory only; so a request at rest on the DMZ's disk has no plaintext secret.
//! - An opened secret ([`Plain`]) is handed to the clients in their own redacting,
//!   zeroizing types and never appears in an error's `detail` or in `Debug`.
//!
//! Module map: `target` (request → client settings, error mapping), `fetch`,
//! `pipe` (the checked download pipe), `send`, `mail` (SMTP and its MIME message),
//! `as2_send`, `retry`, `seal`.

#![forbid(unsafe_code)]

pub mod error;
pub mod fetch;
pub mod retry;
pub mod seal;
pub mod send;

mod as2_send;
mod mail;
mod pipe;
mod target;

pub use error::TransferError;
pub use fetch::{FetchSink, FetchedFile, delivered_as, fetch, fetched_id};
pub use send::send;
pub use target::{DETAIL_LIMIT, MAX_IN_MEMORY_BYTES};

/// A credential opened from its seal (or read from the inner's own files for
/// `via_dmz = false`). Wiped from memory when dropped; `Debug` never shows it.
pub struct Plain {
    pub kind: envelope::SecretKind,
    pub bytes: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plain({:?}, <redacted>)", self.kind)
    }
}
