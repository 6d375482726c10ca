//! Transfers with partners' servers on the inner's request, shared by both roles:
//! the DMZ runs them for `via_dmz = true` jobs and sends, the inner itself for
//! `via_dmz = false`, with the same code.
//!
//! - [`seal`]: the credentials inside a request are sealed (AES-256-GCM) with a key
//!   the inner keeps in its data directory and pushes to the DMZ, which holds it in
//!   memory only; so a request at rest on the DMZ's disk has no plaintext secret.

#![forbid(unsafe_code)]

pub mod seal;
