//! Transfers with partners' servers on the inner's request, shared by both roles:
//! the DMZ runs them for `via_dmz = true` jobs and sends, the inner itself for
//! `via_dmz = false`, with the same code.
//!
//! - [`seal`]: the credentials inside a request are sealed (AES-256-GCM) with a key
//!   the inner keeps in its data directory and pushes to the DMZ, which holds it in
//!   memory only; so a request at rest on the DMZ's disk has no plaintext secret.

#![forbid(unsafe_code)]

pub mod seal;
pub mod error;
pub mod fetch;
pub mod send;
pub mod retry;

pub use error::TransferError;
pub use fetch::{FetchSink, FetchedFile, fetch, fetched_id};
pub use send::send;

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
