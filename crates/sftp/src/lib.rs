//! SFTP for both roles.
//!
//! - [`keys`]: host and client keys kept in the data dir.
//! - [`partner_server`]: the DMZ's partner-facing SFTP server; every file operation
//!   goes through a [`partner::Gateway`], uploads stream into the spool and are
//!   committed before the CLOSE is answered.
//! - [`internal`]: the DMZ's internal SFTP server (port 8022), for the inner peer
//!   only: staged payloads read-only, a write area for outbound files.
//! - [`fetch`]: the inner's client for that server.
//! - `listen`, `ssh` and `pump` (private): the accept loop with drain, the russh
//!   settings, the SFTP-only SSH handler and the channel stream both servers share.

#![forbid(unsafe_code)]

pub mod fetch;
pub mod internal;
pub mod keys;
mod listen;
pub mod partner_server;
mod pump;
mod ssh;
