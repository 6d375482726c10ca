//! The contract between the partner-facing protocol servers (`sftp`, `ftp`, `smtp`,
//! `as2`) and the DMZ that runs them.
//!
//! A protocol server knows its wire protocol and nothing else: it asks a
//! [`Gateway`] who a login is, what a partner's virtual home contains and where
//! uploaded bytes go. The DMZ implements the gateway over the pushed channel
//! verifiers and the spool, so protocol crates never see the spool, the config or
//! the inner network, and never depend on each other.
//!
//! The virtual home every partner session sees:
//!
//! ```text
//! /               upload area: files put here (or in directories made here) are
//!                 committed to the spool and forwarded to the inner node
//! /outbox/        pickup area: files the inner published for this partner
//! ```
//!
//! Client paths are untrusted strings. [`VPath::resolve`] is the only way to turn
//! one into a path inside the home: it refuses NUL and control characters and
//! `..` that would climb above `/`; an absolute client path is taken relative to
//! the home, never to the host's file system (there is none behind it).
//!
//! An upload is a [`Upload`]: bytes stream into a spool staging file as they
//! arrive, and only [`Upload::commit`] returning `Ok` — the payload fsynced and its
//! envelope durably enqueued — lets the protocol say "success". Dropping an upload
//! uncommitted discards it: a partial upload is never forwarded.

#![forbid(unsafe_code)]

pub mod accept;
mod as2;
mod error;
mod gateway;
mod mail;
mod region;
pub mod tls;
mod vpath;

pub use as2::{As2Delivery, As2Gateway, As2LookupError, As2Outcome, As2Partnership};
pub use error::FsError;
pub use gateway::{Admission, Credential, Entry, EntryKind, Gateway, Login, Peer, Receipt, Session, Ticket, Upload};
pub use mail::{MailEnvelope, MailGateway, MessageUpload, RecipientError};
pub use region::{FileRegion, RegionReader};
pub use vpath::{OUTBOX, VPath};
