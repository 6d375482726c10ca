//! Clients that dial partners' servers: fetch files from and push files to a
//! partner's FTP, explicit FTPS or SFTP server, and push files to a partner's
//! HTTP(S) endpoint. Used by the DMZ (on the inner's request) and by the inner
//! itself; this crate knows nothing of jobs, spools or envelopes.
//!
//! - [`connect`] opens a logged-in [`Session`] for an [`Endpoint`]: `list` (the
//!   plain files of a directory), `download` and `upload` (streamed, never whole
//!   in memory), `delete`, `rename`, `close`.
//! - Uploads are never visible half-written under their final name: they are
//!   written to a temporary name in the same directory ([`temporary_name`]) and
//!   renamed when complete; a failed upload's temporary file is removed.
//! - [`http_send`] POSTs or PUTs a file; 2xx is success, the status and the
//!   start of the reply body are returned either way.
//! - [`RemoteError::is_transient`] tells a retry policy whether trying later may
//!   help; errors carry the server's reply text and never a secret.
//! - Identity checks come first: an SFTP host key other than the configured one
//!   ends the handshake before the login is sent (no key configured is refused
//!   too, unless `accept_any_host_key`); FTPS and HTTPS use the system trust
//!   store or pinned certificates ([`TlsTrust`]).
//! - Secrets: `Debug` never shows them, they are zeroized on drop, they are not
//!   logged (the FTP password bypasses suppaftp's own command tracing, see
//!   `ftp::password`).
//! - Timeouts ([`Timeouts`]): one for connecting and logging in, one for any
//!   single step after that (a reply, a chunk of a transfer): long transfers are
//!   fine, stalled ones fail.
//! - [`pattern_matches`]: the `*`, `?`, `[…]` file name patterns of fetch jobs.
//!
//! Module map: `endpoint` (what to dial), `error`, `session` (the trait and the
//! temporary names), `ftp/` (suppaftp, tokio, rustls), `sftp/` (russh,
//! russh-sftp), `http` (reqwest), `tls` (rustls trust), `pump` (chunked copy
//! with a stall deadline), `glob`.

#![forbid(unsafe_code)]

mod endpoint;
mod error;
mod ftp;
mod glob;
mod http;
mod pump;
mod session;
mod sftp;
mod tls;

pub use endpoint::{Endpoint, Protocol, Secret, Timeouts, TlsTrust};
pub use error::RemoteError;
pub use glob::pattern_matches;
pub use http::{EXCERPT_LIMIT, HttpAuth, HttpMethod, HttpReply, HttpSend, http_send};
pub use session::{RemoteEntry, Session, join, temporary_name};

/// Connects to `endpoint` and logs in.
pub async fn connect(endpoint: &Endpoint) -> Result<Box<dyn Session>, RemoteError> {
    match endpoint.protocol {
        Protocol::Ftp | Protocol::Ftps => Ok(Box::new(ftp::connect(endpoint).await?)),
        Protocol::Sftp => Ok(Box::new(sftp::connect(endpoint).await?)),
    }
}
