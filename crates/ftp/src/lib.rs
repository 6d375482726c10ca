//! FTP and explicit FTPS (`AUTH TLS`) for partners: libunftp speaks the protocol, a
//! [`partner::Gateway`] decides who may log in and where the bytes go.
//!
//! Design notes:
//!
//! - **Own accept loop.** [`serve`] accepts the control connections itself and hands each to
//!   libunftp's `Server::service`, so it knows the partner's real remote address (for
//!   [`partner::Peer`]), stops accepting on shutdown and drains the open sessions. libunftp's
//!   `service` consumes its `Server`, so one small `Server` is built per connection; the
//!   expensive parts (the rustls config with its session cache, the gateway) are shared.
//! - **Login.** A per-connection authenticator asks the gateway
//!   ([`partner::Credential::Password`], protocol `Ftps` when the control connection is TLS at
//!   `PASS`). The resulting [`partner::Session`] travels to the storage backend inside the
//!   libunftp user type ([`FtpUser`]), so every file operation is asked of the gateway with the
//!   session that logged in. A channel with `tls_required` logging in over plain text is refused
//!   with 530.
//! - **Uploads are committed, never assumed.** `STOR` streams the data connection into
//!   [`partner::Upload::write`] in 256 KiB chunks and answers 226 only after
//!   [`partner::Upload::commit`] returned `Ok`. A read error (reset, TLS data channel truncated
//!   without `close_notify`) or a control connection that is already gone when the data ends
//!   drops the upload uncommitted. Restarts (`REST`, `APPE` onto an existing file) are refused.
//! - **Logs.** libunftp logs through slog; [`log`] forwards it to `tracing` (target
//!   `libunftp`, one level quieter than libunftp's own). Passwords are never logged.
//!
//! Known limits of libunftp 0.24 (reported upstream-worthy, worked around where possible):
//! the 530 text after a refused login is fixed ("Authentication failed"), so the "TLS
//! required, use AUTH TLS" explanation goes to the log; `ABOR` during `STOR` is answered
//! without stopping the transfer, so a data connection closed cleanly (FIN) after `ABOR`
//! looks like end-of-file, as in every stream-mode FTP server; `PASV` can only advertise
//! IPv4 (use `EPSV` on IPv6).

#![forbid(unsafe_code)]

mod auth;
pub mod log;
mod meta;
mod probe;
mod server;
mod storage;
mod upload;

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

pub use auth::FtpUser;
pub use partner::tls::TlsFiles;
pub use server::serve;

/// How the FTP server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpConfig {
    /// Ports offered for passive data connections (`PASV`, `EPSV`).
    pub passive_ports: RangeInclusive<u16>,
    /// Address advertised in `PASV` replies; `None`: the control connection's local address.
    /// Must be IPv4 (a `PASV` reply cannot carry IPv6).
    pub passive_address: Option<IpAddr>,
    /// Enables `AUTH TLS` (explicit FTPS). Without it, FTP only.
    pub tls: Option<TlsFiles>,
    /// Text of the 220 greeting.
    pub greeting: String,
    /// An idle control connection is closed after this long.
    pub idle_timeout: Duration,
    /// On shutdown, open sessions get this long to finish before their control connections
    /// are cut.
    pub shutdown_grace: Duration,
}

impl Default for FtpConfig {
    fn default() -> Self {
        FtpConfig {
            passive_ports: 50000..=50999,
            passive_address: None,
            tls: None,
            greeting: "portcullis FTP ready".into(),
            idle_timeout: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}
