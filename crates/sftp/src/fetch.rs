//! The inner's SFTP client for the DMZ's internal SFTP server: payloads too large
//! to travel inline in an envelope are fetched from `/payloads/<envelope id>`, and
//! payloads of sends too large to travel inline are uploaded to
//! `/outbound/<envelope id>` ([`Fetcher::upload`]).
//!
//! Design notes:
//! - One SSH connection with one SFTP session, kept and reused across fetches (a
//!   handshake costs more than a small file). It is opened on first use, and again
//!   when it broke: a closed connection is noticed before use, and an error that
//!   may mean a dead connection (anything but an SFTP status answer, a size
//!   mismatch or a sink failure) drops it. When opening the file on a *reused*
//!   connection fails that way, the fetch reconnects once and tries again, so a
//!   DMZ restart costs no failed fetch.
//! - The host key is checked before login ([`HostKeyPolicy`]); a mismatch is an
//!   error and nothing else is sent.
//! - Timeouts: 10 s to connect, log in and start SFTP; a transfer with no progress
//!   for 60 s fails.
//! - The fetcher trusts nothing: more bytes than expected fail as soon as they
//!   arrive; fewer fail at the end. Hashing is the caller's business (its sink
//!   sees every byte in order).
//! - Throughput: russh-sftp's `File` pipelines reads (32 outstanding requests of
//!   the server's read size); the SSH window is 16 MiB and AES-GCM is preferred.

mod host_key;
mod session;

use meter::Meter;
use std::net::SocketAddr;
use std::sync::Arc;

pub use host_key::HostKeyPolicy;

use crate::keys::PrivateKey;
use session::Connection;

/// Where and how to fetch payloads.
#[derive(Clone)]
pub struct FetchConfig {
    pub addr: SocketAddr,
    pub user: String,
    /// The inner's client key (never logged).
    pub key: PrivateKey,
    pub host_key: HostKeyPolicy,
    /// The remote directory holding the payloads; `/payloads` on the DMZ.
    pub remote_dir: String,
    /// Counts the connection's socket bytes (peer traffic); counts nothing by default.
    pub traffic: Meter,
}

impl FetchConfig {
    /// A config reading from `/payloads`.
    pub fn new(addr: SocketAddr, user: impl Into<String>, key: PrivateKey, host_key: HostKeyPolicy) -> Self {
        FetchConfig { addr, user: user.into(), key, host_key, remote_dir: "/payloads".into(), traffic: Meter::none() }
    }
}

impl std::fmt::Debug for FetchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchConfig")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .field("host_key", &self.host_key)
            .field("remote_dir", &self.remote_dir)
            .finish_non_exhaustive()
    }
}

/// Where fetched bytes go, in order.
#[async_trait::async_trait]
pub trait FetchSink: Send {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

/// Why a fetch failed. Every failure leaves the payload with the DMZ.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid payload name {0:?}")]
    BadName(String),
    #[error("cannot reach the DMZ's SFTP at {addr}: {reason}")]
    Connect { addr: SocketAddr, reason: String },
    #[error("refusing the DMZ's SFTP at {addr}: {reason}")]
    HostKey { addr: SocketAddr, reason: String },
    #[error("the DMZ's SFTP refused login as {user}: {reason}")]
    Login { user: String, reason: String },
    #[error("{path}: {reason}")]
    Remote { path: String, reason: String },
    #[error("{path}: transfer broken: {reason}")]
    Broken { path: String, reason: String },
    #[error("{path}: no progress for {seconds} s")]
    Stalled { path: String, seconds: u64 },
    #[error("{path}: expected {expected} bytes, got {got}")]
    Size { path: String, expected: u64, got: u64 },
    #[error("cannot store fetched bytes: {0}")]
    Sink(std::io::Error),
}

impl FetchError {
    /// Whether the connection may be dead after this error.
    fn breaks_connection(&self) -> bool {
        matches!(self, FetchError::Connect { .. } | FetchError::Broken { .. } | FetchError::Stalled { .. })
    }
}

/// Fetches payloads over one kept SFTP connection. Share it behind an `Arc`;
/// concurrent fetches share the connection (SFTP multiplexes requests).
pub struct Fetcher {
    config: FetchConfig,
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
}

impl Fetcher {
    /// Connects lazily, on the first fetch.
    pub fn new(config: FetchConfig) -> Self {
        Fetcher { config, connection: tokio::sync::Mutex::new(None) }
    }

    /// Copies `<remote_dir>/<name>` into `sink`; returns its size, which is
    /// `expected_size` (anything else is an error).
    pub async fn fetch(&self, name: &str, expected_size: u64, sink: &mut dyn FetchSink) -> Result<u64, FetchError> {
        if !valid_name(name) {
            return Err(FetchError::BadName(name.to_owned()));
        }
        let path = format!("{}/{name}", self.config.remote_dir.trim_end_matches('/'));
        let (connection, reused) = self.connection().await?;
        let file = match connection.open_file(&path).await {
            Err(e) if reused && e.breaks_connection() => {
                tracing::debug!(error = %e, "kept SFTP connection is broken; reconnecting");
                self.forget(&connection).await;
                let (fresh, _) = self.connection().await?;
                self.outcome(&fresh, fresh.open_file(&path).await).await?
            }
            other => self.outcome(&connection, other).await?,
        };
        let copied = session::copy(file, &path, expected_size, sink).await;
        self.outcome(&connection, copied).await
    }

    /// Uploads `source` as `<outbound_dir>/<name>` (the DMZ's `/outbound`): written
    /// as `<name>.part`, closed (the server fsyncs on CLOSE), then renamed over any
    /// earlier copy, so the DMZ never finds half a file under `name`. Returns the
    /// bytes sent. `source` is read once: on a broken kept connection the caller
    /// retries with a fresh reader.
    pub async fn upload(
        &self,
        outbound_dir: &str,
        name: &str,
        source: &mut (dyn tokio::io::AsyncRead + Unpin + Send),
    ) -> Result<u64, FetchError> {
        if !valid_name(name) {
            return Err(FetchError::BadName(name.to_owned()));
        }
        let dir = outbound_dir.trim_end_matches('/');
        let (path, part) = (format!("{dir}/{name}"), format!("{dir}/{name}.part"));
        let (connection, _) = self.connection().await?;
        let file = self.outcome(&connection, connection.create_file(&part).await).await?;
        let sent = self.outcome(&connection, session::send(file, &part, source).await).await?;
        self.outcome(&connection, connection.remove_if_present(&path).await).await?;
        self.outcome(&connection, connection.rename(&part, &path).await).await?;
        Ok(sent)
    }

    /// The kept connection (and whether it was reused), or a new one.
    async fn connection(&self) -> Result<(Arc<Connection>, bool), FetchError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok((connection.clone(), true));
        }
        *slot = None;
        let connection = Arc::new(Connection::open(&self.config).await?);
        *slot = Some(connection.clone());
        Ok((connection, false))
    }

    /// Drops `connection` if it is still the kept one.
    async fn forget(&self, connection: &Arc<Connection>) {
        let mut slot = self.connection.lock().await;
        if slot.as_ref().is_some_and(|kept| Arc::ptr_eq(kept, connection)) {
            *slot = None;
        }
    }

    /// Passes `result` on, dropping the connection first if the error may mean it died.
    async fn outcome<T>(&self, connection: &Arc<Connection>, result: Result<T, FetchError>) -> Result<T, FetchError> {
        if let Err(error) = &result
            && error.breaks_connection()
        {
            self.forget(connection).await;
        }
        result
    }
}

/// A plain file name: no separators, not `.` or `..`, printable, bounded.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn only_plain_names_are_fetched() {
        assert!(valid_name("01J9Z3ABCDEF"));
        for bad in ["", ".", "..", "a/b", "../x", "a\\b", "a\nb"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
