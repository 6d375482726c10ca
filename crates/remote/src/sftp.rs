//! SFTP sessions (russh + russh-sftp): one SSH connection, one SFTP channel.
//!
//! - Connect: TCP and SSH key exchange, the host key checked before anything of
//!   the login is sent (`host_key`), login with a key or a password (`auth`), the
//!   `sftp` subsystem; all within the connect timeout.
//! - Every SFTP request has the I/O timeout (russh-sftp's request timeout, and
//!   the per-chunk deadline of the copy).
//! - Uploads are opened with `CREATE | EXCLUDE` under their temporary name,
//!   synced (`fsync@openssh.com` where offered) and closed before the rename. SFTP
//!   v3 renames do not replace: an existing target is removed first.

mod auth;
mod host_key;
mod session;

use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use russh::client::{self, Handle};
use russh_sftp::client::SftpSession as Sftp;

use crate::endpoint::Endpoint;
use crate::error::RemoteError;
use host_key::{Expected, HostKeyCheck};

/// Reads kept in flight per downloaded file.
const READS_IN_FLIGHT: usize = 32;

/// A logged-in SFTP session.
pub(crate) struct SftpSession {
    ssh: Handle<HostKeyCheck>,
    sftp: Sftp,
    io: Duration,
}

/// Connects, checks the host key, logs in and starts SFTP within the endpoint's
/// connect timeout.
pub(crate) async fn connect(endpoint: &Endpoint) -> Result<SftpSession, RemoteError> {
    let expected = Expected::from_config(endpoint.host_key.as_deref(), endpoint.accept_any_host_key)?;
    let address = endpoint.address();
    let limit = endpoint.timeouts.connect;
    let session = tokio::time::timeout(limit, open(endpoint, expected))
        .await
        .map_err(|_| RemoteError::Timeout { what: format!("SFTP login at {address}"), after: limit })??;
    tracing::debug!(server = %address, user = %endpoint.user, "SFTP session open");
    Ok(session)
}

async fn open(endpoint: &Endpoint, expected: Expected) -> Result<SftpSession, RemoteError> {
    let address = endpoint.address();
    let refusal = Arc::new(Mutex::new(None));
    let check = HostKeyCheck { expected, address: address.clone(), refusal: refusal.clone() };
    let target = (endpoint.host.as_str(), endpoint.port);
    let mut ssh = client::connect(Arc::new(ssh_config()), target, check).await.map_err(|e| {
        match refusal.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(reason) => RemoteError::HostKey { address: address.clone(), reason },
            None => RemoteError::Connect { address: address.clone(), reason: e.to_string() },
        }
    })?;
    auth::login(&mut ssh, &endpoint.user, &endpoint.secret).await?;
    let broken =
        |e: &dyn std::fmt::Display| RemoteError::Broken { what: "starting SFTP".into(), reason: e.to_string() };
    let channel = ssh.channel_open_session().await.map_err(|e| broken(&e))?;
    channel.request_subsystem(true, "sftp").await.map_err(|e| broken(&e))?;
    let sftp = Sftp::new_with_config(channel.into_stream(), sftp_config(endpoint.timeouts.io))
        .await
        .map_err(|e| broken(&e))?;
    Ok(SftpSession { ssh, sftp, io: endpoint.timeouts.io })
}

fn ssh_config() -> client::Config {
    // AES-GCM is markedly faster than chacha20-poly1305 where AES-NI exists.
    let preferred = russh::Preferred {
        cipher: Cow::Borrowed(&[
            russh::cipher::AES_256_GCM,
            russh::cipher::AES_128_GCM,
            russh::cipher::CHACHA20_POLY1305,
            russh::cipher::AES_256_CTR,
        ]),
        ..russh::Preferred::default()
    };
    client::Config {
        window_size: 16 << 20,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 2,
        nodelay: true,
        preferred,
        ..client::Config::default()
    }
}

fn sftp_config(io: Duration) -> russh_sftp::client::Config {
    russh_sftp::client::Config {
        max_concurrent_reads: READS_IN_FLIGHT,
        request_timeout_secs: io.as_secs().max(1),
        ..russh_sftp::client::Config::default()
    }
}
